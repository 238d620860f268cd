"""Walk-time bands around sites and walking routes to them, drawn from the network a walk follows (for display only).

Coverage is never decided with these polygons: it is decided on the graph
(`coverage_planner.access.matrix`), and a band only pictures it. A band is built in three
steps, all in the network's metric CRS:

1. a Dijkstra from each site's snap point (SciPy csgraph, bounded by the
   largest band) gives the walk metres to every node it reaches;
2. each edge is kept whole when the walk covers it, and the edge where time
   runs out is cut there: from each reached end, as far as the remaining
   metres go (both ends partially reached give two pieces); the site's own
   edge is walked both ways from the snap point;
3. the pieces are buffered by ``buffer_m`` into a walkable strip and
   simplified for display. It is not a convex hull: blocks without a way
   through, rivers and railways stay outside.

Lengths along an edge are great-circle metres (the network's
``edge_length``), mapped onto the metric line as fractions of its length.
On a profile's view (`WalkNetwork.for_profile`) the Dijkstra runs on cost
(equivalent metres) and the reach along an edge is converted back to
metres with the edge's factor and end waits, in the directions it may be
travelled, so a band shows what the costed run counts as reached.

`walk_routes` gives the street path from a place to its nearest site (a
Dijkstra with predecessors from each site), so a map can show why a place
400 m away in a straight line is 18 minutes away. `site_colours` gives every
site a colour that differs from the sites its bands touch.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from coverage_planner._cache.arrays import read_arrays, try_write_arrays, warn_cache
from coverage_planner._cache.keys import cache_key
from coverage_planner._geo import haversine_m
from coverage_planner.access.matrix import graph_with_site_sources
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs import _gc
from coverage_planner.results import CoverageResult

DEFAULT_BANDS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0)
#: Qualitative colours for sites' bands (ColorBrewer Dark2 and Set1, without yellow and grey), dark enough on white.
SITE_PALETTE: tuple[str, ...] = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#a6761d",
    "#377eb8",
    "#e41a1c",
    "#984ea3",
    "#ff7f00",
    "#4daf4a",
    "#a65628",
)
_INTERVAL_COLUMNS = ["site", "limit_m", "edge", "start_m", "end_m"]
# Bands of recently drawn sites by `_BandStore.key` (a few hundred kB per city site).
_BANDS: OrderedDict[str, np.ndarray] = OrderedDict()
_BANDS_KEPT = 2048
_UNIONS: OrderedDict[str, gpd.GeoDataFrame] = OrderedDict()  # by a digest of the bands united


def default_bands(threshold_min: float) -> list[float]:
    """5, 10 and 15 minutes where below the threshold, and the threshold itself.

    Parameters
    ----------
    threshold_min : float
        The run's threshold, minutes.

    Returns
    -------
    list of float
        Ascending band minutes, the threshold last.
    """
    return sorted({b for b in DEFAULT_BANDS_MIN if b < threshold_min} | {float(threshold_min)})


def reached_intervals(
    network: WalkNetwork,
    snap: Snap,
    limits_m: Sequence[float],
    *,
    spent_m: np.ndarray | None = None,
    chunk_size: int = 64,
) -> pd.DataFrame:
    """The stretches of edges each site reaches within each limit, in metres along the edge.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    snap : Snap
        Where each site joins the network; unsnapped sites (edge -1) reach nothing.
    limits_m : sequence of float
        Walk limits in metres (one set of rows per limit); on a profile's
        view, in its cost (equivalent metres: minutes × metres a minute).
    spent_m : ndarray of float, optional
        Metres each site has used before its snap point (its access leg,
        when legs count); they come off every limit. Default none.
    chunk_size : int, default 64
        Sites per Dijkstra batch (memory is chunk × nodes floats).

    Returns
    -------
    pandas.DataFrame
        One row per reached stretch: ``site`` (index into ``snap``),
        ``limit_m``, ``edge``, ``start_m`` and ``end_m`` measured from the
        edge's u end in great-circle metres. A wholly reached edge is one row
        from 0 to its length; the edge where time runs out has one row per
        reached end; stretches of one edge never overlap.
    """
    limits = np.sort(np.asarray(limits_m, dtype=float))
    spent = np.zeros(len(snap)) if spent_m is None else np.nan_to_num(np.asarray(spent_m, dtype=float))
    rows: list[tuple[np.ndarray, ...]] = []
    for k, dist in _node_distances(network, snap, limits.max(initial=0.0) - spent.min(initial=0.0), chunk_size):
        du, dv = dist[network.edge_u], dist[network.edge_v]
        near = np.flatnonzero(np.isfinite(du) | np.isfinite(dv))  # edges the largest walk touches
        for limit in limits:
            edge, start, end = _site_intervals(network, snap, k, near, du[near], dv[near], limit - spent[k])
            rows.append((np.full(len(edge), k), np.full(len(edge), limit), edge, start, end))
    if not rows:
        return pd.DataFrame({c: np.zeros(0, dtype=int if c in ("site", "edge") else float) for c in _INTERVAL_COLUMNS})
    return pd.DataFrame({c: np.concatenate([r[i] for r in rows]) for i, c in enumerate(_INTERVAL_COLUMNS)})


def isochrone_bands(
    result: CoverageResult,
    bands_min: Sequence[float] = DEFAULT_BANDS_MIN,
    *,
    buffer_m: float = 25.0,
    simplify_m: float = 3.0,
    rings: bool = False,
    access_legs: bool | None = None,
    cache_dir: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """One polygon per site and band: the streets a walk of at most that many minutes reaches, buffered.

    For display only: coverage is decided on the graph, never by these
    polygons. Walks start at the site, cross its access leg (when the run
    counted legs, ``result.matrix.include_access_legs``) and follow the
    network at the run's walking speed. Sites that did not snap to the
    network get no band.

    Parameters
    ----------
    result : CoverageResult
        The coverage run (its network, sites and walking speed).
    bands_min : sequence of float, default `DEFAULT_BANDS_MIN`
        Walk minutes of the bands.
    buffer_m : float, default 25.0
        Half-width of the walkable strip drawn around each reached street.
    simplify_m : float, default 3.0
        Tolerance of the outline simplification (display; 0 keeps every vertex).
    rings : bool, default False
        Cumulative bands (default: the 10-minute band contains the 5-minute
        one) or rings (the 10-minute band is only what lies beyond the
        5-minute one; ``band_from_min`` gives the inner edge).
    access_legs : bool, optional
        Count the site's access leg against the walk (default: as the run did).
    cache_dir : str or Path, optional
        Also keep each site's bands in ``cache_dir/bands`` (checked before
        use, rebuilt when damaged); default the result's own cache folder
        (``result.cache_dir``, None for a run without caches). In any case they are kept in memory for
        this process: a site whose network, point, snap and band options are
        unchanged is not walked again.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns site_id, site_name, band_min, band_from_min and geometry (Polygon or
        MultiPolygon) in WGS-84, sites in result order, bands ascending.
    """
    net = result.network
    bands = sorted({float(b) for b in bands_min})
    sites = result.sites.reset_index(drop=True)
    ok = np.flatnonzero(sites["snap_edge"].to_numpy() >= 0) if "snap_edge" in sites else np.arange(len(sites))
    if not len(ok) or not bands:
        empty = pd.DataFrame({"site_id": [], "site_name": [], "band_min": [], "band_from_min": []})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    lonlat = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])[ok]
    snap = snap_points(net, lonlat, max_snap_m=np.inf)  # the run already decided which sites are on the network
    legs = result.matrix.include_access_legs if access_legs is None else access_legs
    limits = [b * result.metres_per_minute for b in bands]
    options = [bands, limits, bool(legs), float(buffer_m), float(simplify_m), bool(rings)]
    store = _BandStore(net, result.cache_dir if cache_dir is None else cache_dir)
    keys = [store.key(lonlat[k], snap.take(np.array([k])), options) for k in range(len(ok))]
    shapes = [store.get(key, len(bands)) for key in keys]
    todo = np.array([k for k, found in enumerate(shapes) if found is None], dtype=np.int64)
    if len(todo):  # only sites whose walk changed are walked and buffered again
        built = _build_bands(net, lonlat[todo], snap.take(todo), bands, limits, legs, buffer_m, simplify_m, rings)
        for k, geoms in zip(todo.tolist(), built):
            shapes[k] = geoms
            store.put(keys[k], geoms)
    records = [
        (sites["id"].iloc[ok[k]], sites["name"].iloc[ok[k]], band, _inner(bands, band) if rings else 0.0, geom)
        for k in range(len(ok))
        for band, geom in zip(bands, shapes[k])
    ]
    return gpd.GeoDataFrame(
        pd.DataFrame(records, columns=["site_id", "site_name", "band_min", "band_from_min", "geometry"]),
        geometry="geometry",
        crs=4326,
    )


def _build_bands(
    net: WalkNetwork,
    lonlat: np.ndarray,
    snap: Snap,
    bands: list[float],
    limits: list[float],
    legs: bool,
    buffer_m: float,
    simplify_m: float,
    rings: bool,
) -> list[np.ndarray]:
    """Each site's band outlines (WGS-84, simplified, valid), one array of ``len(bands)`` geometries per site."""
    spent = snap.leg_m if legs else np.zeros(len(snap))
    intervals = reached_intervals(net, snap, limits, spent_m=spent)
    site_xy = shapely.points(*net.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    snap_xy = shapely.points(*net.to_metric.transform(snap.point_lonlat[:, 0], snap.point_lonlat[:, 1]))
    by_site = dict(tuple(intervals.groupby(["site", "limit_m"])))
    strips = _StripCache(net, buffer_m)
    geoms = []
    for k in range(len(snap)):
        previous, done = None, set()
        for limit in limits:
            part = by_site.get((k, limit))
            # Bands grow outwards: edges already whole in the smaller band add nothing to its shape.
            pieces = ([previous] if previous is not None else []) + (
                [strips.of(part, done)] if part is not None else []
            )
            if legs and snap.leg_m[k] > 0:  # the walk from the site to its street, as far as time allows
                leg = shapely.linestrings(
                    np.vstack([shapely.get_coordinates(site_xy[k]), shapely.get_coordinates(snap_xy[k])])
                )
                pieces.append(
                    shapely.buffer(
                        substring(leg, 0.0, min(1.0, limit / snap.leg_m[k]), normalized=True), buffer_m, quad_segs=4
                    )
                )
            shape = shapely.union_all(pieces) if pieces else shapely.Polygon()
            # Snap-rounding to 1 cm drops the zero-width slivers left where both outlines run together.
            ring = shape if not rings or previous is None else shapely.difference(shape, previous, grid_size=0.01)
            geoms.append(ring)
            previous = shape
    frame = gpd.GeoDataFrame(geometry=np.array(geoms, dtype=object), crs=net.crs)
    if simplify_m > 0:
        frame["geometry"] = shapely.simplify(frame.geometry.to_numpy(), simplify_m, preserve_topology=True)
    out = _valid(frame.to_crs(4326)).geometry.to_numpy()
    return [out[i : i + len(bands)] for i in range(0, len(out), len(bands))]


class _BandStore:
    """Each site's bands, by what they depend on: in memory for this process, and in the cache folder when given.

    The key hashes the network's fingerprint and CRS, the site's point and
    snap (edge, position, leg) and the band options, so a site whose walk
    is unchanged is found again and any change misses. A file is trusted
    only when its checksum, writer version and key match and its shapes
    parse; otherwise it is rebuilt and rewritten.
    """

    def __init__(self, network: WalkNetwork, cache_dir: str | Path | None):
        self.network = network
        self.folder = None if cache_dir is None else Path(cache_dir) / "bands"

    def key(self, lonlat: np.ndarray, snap: Snap, options: list) -> str:
        point = [float(v) for v in lonlat]
        walk = [int(snap.edge[0]), float(snap.from_u_m[0]), float(snap.to_v_m[0]), float(snap.leg_m[0])]
        net = [self.network.fingerprint, str(self.network.crs)]
        return cache_key(["bands-1", net, point, walk, options])

    def get(self, key: str, n: int) -> np.ndarray | None:
        if key in _BANDS:
            _BANDS.move_to_end(key)
            return _BANDS[key]
        if self.folder is None or not (self.folder / f"{key}.cparr").exists():
            return None
        path = self.folder / f"{key}.cparr"
        try:
            meta, arrays = read_arrays(path)
            if meta.get("key") != key or len(arrays["offsets"]) != n + 1:
                raise ValueError("was written for other bands")
            blob, offsets = arrays["wkb"].tobytes(), arrays["offsets"]
            geoms = shapely.from_wkb([blob[a:b] for a, b in zip(offsets[:-1], offsets[1:])], on_invalid="raise")
        except (ValueError, KeyError, OSError, shapely.errors.GEOSException) as exc:
            warn_cache(path, f"is damaged or stale ({exc}); its bands are rebuilt")
            return None
        self._remember(key, geoms)
        return geoms

    def put(self, key: str, geoms: np.ndarray) -> None:
        self._remember(key, geoms)
        if self.folder is None:
            return
        blobs = [shapely.to_wkb(g) for g in geoms]
        offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
        wkb = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        try_write_arrays(self.folder / f"{key}.cparr", {"wkb": wkb, "offsets": offsets}, {"key": key})

    @staticmethod
    def _remember(key: str, geoms: np.ndarray) -> None:
        _BANDS[key] = geoms
        while len(_BANDS) > _BANDS_KEPT:
            _BANDS.popitem(last=False)


def clear_band_cache() -> None:
    """Forget the bands and their unions kept in memory (the cache folder is left as it is).

    Returns
    -------
    None
    """
    _BANDS.clear()
    _UNIONS.clear()


def interval_lines(network: WalkNetwork, intervals: pd.DataFrame) -> np.ndarray:
    """Geometry of reached stretches (rows of `reached_intervals`) as LineStrings in the network's metric CRS.

    A stretch's great-circle metres along the edge become fractions of the
    metric line's length (the two differ by the projection's scale).

    Parameters
    ----------
    network : WalkNetwork
        The network the intervals were found on.
    intervals : pandas.DataFrame
        Rows of `reached_intervals` (``edge``, ``start_m``, ``end_m``).

    Returns
    -------
    ndarray of shapely.LineString
        One line per row, in row order.
    """
    lines = network.edges_metric
    edge = intervals["edge"].to_numpy()
    length = network.edge_length[edge]
    start, end = intervals["start_m"].to_numpy(), intervals["end_m"].to_numpy()
    out = np.empty(len(edge), dtype=object)
    for i, (e, a, b, n) in enumerate(zip(edge, start, end, length)):
        whole = a <= 0 and b >= n
        out[i] = lines[e] if whole else substring(lines[e], a / n, b / n, normalized=True)
    return out


def union_bands(bands: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The union of all sites' bands: one row per band (band_min, band_from_min, geometry), WGS-84.

    Works on the output of `isochrone_bands`, cumulative or rings: the union
    of a band covers every place some site reaches within that many minutes,
    and rings stay rings (each minus the union of the smaller bands).

    Parameters
    ----------
    bands : geopandas.GeoDataFrame
        Bands of `isochrone_bands`.

    Returns
    -------
    geopandas.GeoDataFrame
        Bands ascending.
    """
    digest = hashlib.sha256(str(bands.crs).encode())  # the same bands (e.g. all cached) give the same union
    for array in (bands["band_min"].to_numpy(float), bands["band_from_min"].to_numpy(float)):
        digest.update(array.tobytes())
    for blob in shapely.to_wkb(bands.geometry.to_numpy()):
        digest.update(len(blob).to_bytes(8, "little") + blob)
    key = digest.hexdigest()
    if key in _UNIONS:
        _UNIONS.move_to_end(key)
        return _UNIONS[key].copy()
    metric = bands.to_crs(bands.estimate_utm_crs()) if len(bands) else bands
    rows, previous = [], None
    for band in sorted(metric["band_min"].unique()):
        # Everything within `band` minutes, whichever way the input was cut.
        upto = shapely.union_all(metric.geometry[metric["band_min"] <= band].to_numpy())
        inner = float(metric.loc[metric["band_min"] == band, "band_from_min"].max())
        rows.append(
            (
                band,
                inner,
                upto if inner == 0 or previous is None else shapely.difference(upto, previous, grid_size=0.01),
            )
        )
        previous = upto
    frame = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["band_min", "band_from_min", "geometry"]), geometry="geometry", crs=metric.crs
    )
    frame = _valid(frame.to_crs(4326))
    _UNIONS[key] = frame.copy()
    while len(_UNIONS) > 16:
        _UNIONS.popitem(last=False)
    return frame


def _valid(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Repair outlines that reprojection left self-touching, keeping them polygons (for union and GeoJSON)."""
    geoms = frame.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
        geoms[bad] = [
            shapely.union_all(shapely.get_parts(g)[shapely.get_dimensions(shapely.get_parts(g)) == 2]) for g in fixed
        ]
        frame = frame.set_geometry(geoms, crs=frame.crs)
    return frame


def _node_distances(
    network: WalkNetwork, snap: Snap, limit_m: float, chunk_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(site index, walk metres to every node) for each snapped site, inf beyond ``limit_m``."""
    graph = graph_with_site_sources(network, snap)
    sources = np.flatnonzero(snap.snapped)
    for i in range(0, len(sources), chunk_size):
        chunk = sources[i : i + chunk_size]
        dist = dijkstra(graph, directed=True, indices=network.n_nodes + chunk, limit=max(limit_m, 0.0))
        for row, k in enumerate(chunk):
            yield int(k), dist[row, : network.n_nodes]


def _site_intervals(
    network: WalkNetwork, snap: Snap, k: int, edges: np.ndarray, du: np.ndarray, dv: np.ndarray, budget: float
):
    """Reached stretches (edge, start, end) of one site within ``budget`` (network metres, or cost on a profile's view).

    On a profile's view ``du``/``dv`` are costs: from u the walk pays the
    edge's ``end_u`` and then ``scale`` a metre, so it reaches
    ``(budget − du − end_u) / scale`` metres along, and only where the edge
    may be travelled u → v (likewise from v).
    """
    length = network.edge_length[edges]
    costs = network.costs
    if costs is None:
        from_u = np.where(np.isfinite(du), budget - du, -1.0)  # metres left on arriving at u
        from_v = np.where(np.isfinite(dv), budget - dv, -1.0)
    else:
        scale = costs.scale[edges]
        ok_u = np.isfinite(du) & costs.forward[edges]
        ok_v = np.isfinite(dv) & costs.backward[edges]
        # Budget left after paying the end's wait, as metres along the edge; negative: not entered.
        from_u = np.where(ok_u, (budget - np.where(ok_u, du, 0.0) - costs.end_u[edges]) / scale, -1.0)
        from_v = np.where(ok_v, (budget - np.where(ok_v, dv, 0.0) - costs.end_v[edges]) / scale, -1.0)
    own = int(snap.edge[k])
    rest = edges != own
    whole = rest & (np.maximum(from_u, 0) + np.maximum(from_v, 0) >= length) & ((from_u >= 0) | (from_v >= 0))
    cut_u = rest & ~whole & (from_u > 0)
    cut_v = rest & ~whole & (from_v > 0)
    edge = [edges[whole], edges[cut_u], edges[cut_v]]
    start = [np.zeros(whole.sum()), np.zeros(cut_u.sum()), length[cut_v] - from_v[cut_v]]
    end = [length[whole], from_u[cut_u], length[cut_v]]
    if budget >= 0:  # the site's own edge: both ways from the snap point, and from each end
        own_len = float(network.edge_length[own])
        at = np.flatnonzero(edges == own)
        left = float(from_u[at[0]]) if len(at) else -1.0
        right = float(from_v[at[0]]) if len(at) else -1.0
        pos = float(snap.from_u_m[k])
        if costs is None:
            back = ahead = budget
        else:  # along its own edge the site pays only the metres (ends are paid on reaching them)
            back = budget / costs.scale[own] if costs.backward[own] else 0.0
            ahead = budget / costs.scale[own] if costs.forward[own] else 0.0
        spans = [(max(0.0, pos - back), min(own_len, pos + ahead))]
        spans += [(0.0, min(left, own_len))] if left > 0 else []
        spans += [(max(0.0, own_len - right), own_len)] if right > 0 else []
        for a, b in _merge(spans):
            edge.append(np.array([own])), start.append(np.array([a])), end.append(np.array([b]))
    return np.concatenate(edge).astype(np.int64), np.concatenate(start), np.concatenate(end)


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of closed intervals, sorted."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


class _StripCache:
    """Buffered strips of reached stretches; a whole edge is buffered once and reused by every site and band."""

    def __init__(self, network: WalkNetwork, buffer_m: float):
        self.network, self.buffer_m = network, buffer_m
        self.whole: dict[int, shapely.Geometry] = {}

    def of(self, part: pd.DataFrame, done: set[int]) -> shapely.Geometry:
        """The union of the strips around the stretches in ``part`` (metric CRS), skipping whole edges in ``done``.

        The edges ``part`` reaches whole are added to ``done``.
        """
        lines = self.network.edges_metric
        part = part[~part["edge"].isin(done)]
        edge = part["edge"].to_numpy()
        length = self.network.edge_length[edge]
        start, end = part["start_m"].to_numpy(), part["end_m"].to_numpy()
        whole = (start <= 0) & (end >= length)
        done.update(edge[whole].tolist())
        new = [e for e in np.unique(edge[whole]) if e not in self.whole]
        self.whole.update(zip(new, shapely.buffer(lines[new], self.buffer_m, quad_segs=4)))
        cut = interval_lines(self.network, part[~whole])
        strips = [self.whole[e] for e in edge[whole]] + list(shapely.buffer(cut, self.buffer_m, quad_segs=4))
        # A cascaded union of small strips is several times faster than buffering one multi-line.
        return shapely.union_all(strips)


def _inner(bands: list[float], band: float) -> float:
    smaller = [b for b in bands if b < band]
    return smaller[-1] if smaller else 0.0


def site_colours(bands: gpd.GeoDataFrame, palette: Sequence[str] = SITE_PALETTE) -> dict[object, str]:
    """A colour for each site of `isochrone_bands`, unlike the colours of the sites whose bands touch its own.

    Sites are coloured in order (greedy graph colouring on the overlap of
    their largest bands): each takes the first palette colour no earlier
    overlapping site has; when all are taken, the one fewest of them use.
    The same bands give the same colours.

    Parameters
    ----------
    bands : geopandas.GeoDataFrame
        Output of `isochrone_bands` (site_id, band_min, geometry).
    palette : sequence of str
        Colours to choose from.

    Returns
    -------
    dict
        Colour by site_id, for every site with a band.
    """
    if not len(bands):
        return {}
    largest = bands.sort_values("band_min", kind="stable").groupby("site_id", sort=False).tail(1)
    order = {sid: i for i, sid in enumerate(dict.fromkeys(bands["site_id"]))}
    largest = largest.assign(_o=largest["site_id"].map(order)).sort_values("_o")
    ids, geoms = largest["site_id"].tolist(), largest.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    touching: dict[int, set[int]] = {}
    for a, b in zip(left.tolist(), right.tolist()):
        if a != b:
            touching.setdefault(a, set()).add(b)
    chosen: list[int] = []
    for i in range(len(ids)):
        used = [chosen[j] for j in touching.get(i, ()) if j < i]
        free = [c for c in range(len(palette)) if c not in used]
        chosen.append(free[0] if free else min(range(len(palette)), key=lambda c: (used.count(c), c)))
    return {sid: palette[c] for sid, c in zip(ids, chosen)}


@_gc.paused()  # many small arrays and tuples: no cycles to collect meanwhile
def walk_routes(result: CoverageResult, places: Sequence[int] | np.ndarray | None = None) -> gpd.GeoDataFrame:
    """The walking route from each place to its nearest site, along the streets the run walked.

    The route starts at the place, crosses its access leg to the street,
    follows the shortest network path (a SciPy Dijkstra with predecessors
    from the site, bounded by the run's search limit) and ends at the site.
    Its network part has the length the run measured, so ``route_m``
    matches ``walk_m`` (legs drawn always, counted as the run counted them).
    On a profile's view the path is the cheapest by cost, one-way streets
    respected, and ``route_m`` is its real length, as ``walk_m`` is.

    Parameters
    ----------
    result : CoverageResult
        The run.
    places : sequence of int, optional
        Positions (0-based rows of ``result.demand``) to route; default all.
        Places with no site within the search limit, or off the network, get no route.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per routed place, in the order asked: ``place`` (row
        position), demand_id, nearest_site_id, walk_m (from the run),
        route_m (network metres plus the legs the run counted),
        crow_m (straight line, place to site), geometry (LineString, WGS-84,
        place to site).
    """
    net, demand, sites = result.network, result.demand.reset_index(drop=True), result.sites.reset_index(drop=True)
    wanted = np.arange(len(demand)) if places is None else np.asarray(places, dtype=np.int64)
    site_of = {str(s): i for i, s in enumerate(sites["id"])}
    nearest = demand["nearest_site_id"].to_numpy(object)[wanted]
    site_index = np.array([site_of.get(str(s), -1) if pd.notna(s) else -1 for s in nearest], dtype=np.int64)
    site_snap = _snap_of(result.site_snap, sites, net, result.max_snap_m)
    demand_snap = _snap_of(result.demand_snap, demand, net, result.max_snap_m)
    walk = demand["walk_m"].to_numpy(float)
    ok = (site_index >= 0) & np.isfinite(walk[wanted]) & (demand_snap.edge[wanted] >= 0)
    legs = bool(result.matrix.include_access_legs)
    site_xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    place_xy = np.column_stack([demand.geometry.x, demand.geometry.y])
    graph = graph_with_site_sources(net, site_snap)
    pair_edge = _PairEdges(net)
    runs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # metres along each edge's shape, measured once per call
    demand_ids, site_ids = demand["demand_id"].to_numpy(), sites["id"].to_numpy()
    rows: list[tuple] = []
    todo = np.flatnonzero(ok)
    needed = np.unique(site_index[todo])
    limit = float(result.matrix.cutoff_m) + 1.0
    for start in range(0, len(needed), 32):  # predecessors are chunk × nodes ints
        chunk = needed[start : start + 32]
        dist, pred = dijkstra(graph, directed=True, indices=net.n_nodes + chunk, limit=limit, return_predecessors=True)
        row_of = {int(s): r for r, s in enumerate(chunk)}
        for t in todo[np.isin(site_index[todo], chunk)]:
            s, j = int(site_index[t]), int(wanted[t])
            line, network_m = _route(
                net,
                site_snap,
                demand_snap,
                s,
                j,
                site_xy[s],
                place_xy[j],
                dist[row_of[s]],
                pred[row_of[s]],
                pair_edge,
                runs,
            )
            if line is None:
                continue
            extra = float(site_snap.leg_m[s] + demand_snap.leg_m[j]) if legs else 0.0
            rows.append((j, demand_ids[j], site_ids[s], network_m + extra, line))
    frame = pd.DataFrame(rows, columns=["place", "demand_id", "nearest_site_id", "route_m", "geometry"])
    order = {int(p): i for i, p in enumerate(wanted)}
    frame = frame.assign(_o=frame["place"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
    frame.insert(3, "walk_m", walk[frame["place"].to_numpy(np.int64)])
    s_idx = frame["nearest_site_id"].map(site_of).to_numpy(np.int64) if len(frame) else np.zeros(0, np.int64)
    p_idx = frame["place"].to_numpy(np.int64)
    frame.insert(5, "crow_m", haversine_m(place_xy[p_idx, 0], place_xy[p_idx, 1], site_xy[s_idx, 0], site_xy[s_idx, 1]))
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry="geometry", crs=4326)


def _snap_of(snap: Snap | None, places: gpd.GeoDataFrame, network: WalkNetwork, max_snap_m: float) -> Snap:
    """The run's snap of ``places``, or the same snap recomputed when the run did not keep it."""
    if snap is not None and len(snap) == len(places):
        return snap
    lonlat = np.column_stack([places.geometry.x.to_numpy(), places.geometry.y.to_numpy()])
    return snap_points(network, lonlat, max_snap_m=max_snap_m)


class _PairEdges:
    """The edge behind the arc a → b the search used (the cheapest of parallel edges, in its allowed direction)."""

    def __init__(self, network: WalkNetwork):
        indptr, cols, _, edges = network.routing_arcs  # rows ascending, then columns: the keys come sorted
        rows = np.repeat(np.arange(network.n_nodes, dtype=np.int64), np.diff(indptr))
        self.n = np.int64(network.n_nodes)
        self.keys, self.edges = rows * self.n + cols.astype(np.int64), edges

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.edges[np.searchsorted(self.keys, a.astype(np.int64) * self.n + b)]


def _route(
    net: WalkNetwork,
    site_snap: Snap,
    demand_snap: Snap,
    s: int,
    j: int,
    site_xy: np.ndarray,
    place_xy: np.ndarray,
    dist: np.ndarray,
    pred: np.ndarray,
    pair_edge: _PairEdges,
    runs: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[shapely.LineString | None, float]:
    """Route of place ``j`` from site ``s`` (LineString place → site) and its network metres."""
    e, se = int(demand_snap.edge[j]), int(site_snap.edge[s])
    u, v = int(net.edge_u[e]), int(net.edge_v[e])
    fu, tv = float(demand_snap.from_u_m[j]), float(demand_snap.to_v_m[j])
    c = net.costs
    if c is None:
        options = [(dist[u] + fu, "u"), (dist[v] + tv, "v")]
        if e == se:
            options.append((abs(float(site_snap.from_u_m[s]) - fu), "same"))
    else:  # ``dist`` is cost: arrive on the place's edge paying its end and factor, where its direction allows
        inf = np.inf
        options = [
            (dist[u] + fu * c.scale[e] + c.end_u[e] if c.forward[e] else inf, "u"),
            (dist[v] + tv * c.scale[e] + c.end_v[e] if c.backward[e] else inf, "v"),
        ]
        if e == se:
            pos = float(site_snap.from_u_m[s])
            allowed = c.forward[e] if fu >= pos else c.backward[e]
            options.append((abs(pos - fu) * c.scale[e] if allowed else inf, "same"))
    metres, how = min(options, key=lambda o: o[0])
    if not np.isfinite(metres):
        return None, np.inf
    parts: list[np.ndarray] = [site_xy[None, :], site_snap.point_lonlat[s][None, :]]
    if how == "same":
        parts.append(_along(net, e, float(site_snap.from_u_m[s]), fu, runs))
        metres = abs(float(site_snap.from_u_m[s]) - fu)
    else:
        source = net.n_nodes + s
        nodes = [u if how == "u" else v]
        while (back := int(pred[nodes[-1]])) != source:
            if back < 0:  # no path back (cannot happen for a finite distance)
                return None, np.inf
            nodes.append(back)
        nodes = np.array(nodes[::-1])  # first node after the site, …, the place's edge end
        first = int(nodes[0])
        to_u = first == net.edge_u[se] and (first != net.edge_v[se] or site_snap.from_u_m[s] <= site_snap.to_v_m[s])
        length_se = float(net.edge_length[se])
        parts.append(_along(net, se, float(site_snap.from_u_m[s]), 0.0 if to_u else length_se, runs))
        path_m = float(site_snap.from_u_m[s] if to_u else site_snap.to_v_m[s]) + (fu if how == "u" else tv)
        if len(nodes) > 1:
            for a, edge in zip(nodes[:-1], pair_edge(nodes[:-1], nodes[1:])):
                path_m += float(net.edge_length[edge])
                xy = net.coords[net.coord_offsets[edge] : net.coord_offsets[edge + 1]]
                parts.append(xy if net.edge_u[edge] == a else xy[::-1])
        parts.append(_along(net, e, 0.0 if how == "u" else float(net.edge_length[e]), fu, runs))
        if c is not None:  # on a profile's view the search found the cheapest path; report its metres
            metres = path_m
    parts += [demand_snap.point_lonlat[j][None, :], place_xy[None, :]]
    xy = np.vstack(parts)[::-1]  # place → site
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    xy = xy[keep]
    if len(xy) == 1:
        xy = np.vstack([xy, xy])
    return shapely.linestrings(xy), float(metres)


def _along(
    net: WalkNetwork, edge: int, start_m: float, end_m: float, runs: dict[int, tuple] | None = None
) -> np.ndarray:
    """Coordinates of an edge from ``start_m`` to ``end_m`` great-circle metres from its u end (either direction).

    Measured in metres along the shape, not as fractions of it in degrees
    (a degree of longitude is shorter than one of latitude).
    """
    if runs is not None and edge in runs:
        xy, run = runs[edge]
    else:
        xy = net.coords[net.coord_offsets[edge] : net.coord_offsets[edge + 1]]
        run = np.concatenate([[0.0], np.cumsum(haversine_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]))])
        if runs is not None:
            runs[edge] = (xy, run)
    a, b = sorted((min(max(start_m, 0.0), run[-1]), min(max(end_m, 0.0), run[-1])))
    inner = xy[(run > a) & (run < b)]
    piece = np.empty((len(inner) + 2, 2))  # the two cut points around the vertices between them
    piece[[0, -1], 0] = np.interp([a, b], run, xy[:, 0])
    piece[[0, -1], 1] = np.interp([a, b], run, xy[:, 1])
    piece[1:-1] = inner
    return piece if start_m <= end_m else piece[::-1]


__all__ = [
    "DEFAULT_BANDS_MIN",
    "SITE_PALETTE",
    "default_bands",
    "interval_lines",
    "isochrone_bands",
    "reached_intervals",
    "site_colours",
    "union_bands",
    "walk_routes",
]
