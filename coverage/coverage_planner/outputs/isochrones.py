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
            geoms = _from_wkb_arrays(arrays)
        except (ValueError, KeyError, OSError, shapely.errors.GEOSException) as exc:
            warn_cache(path, f"is damaged or stale ({exc}); its bands are rebuilt")
            return None
        self._remember(key, geoms)
        return geoms

    def put(self, key: str, geoms: np.ndarray) -> None:
        self._remember(key, geoms)
        if self.folder is not None:
            _write_geometries(self.folder / f"{key}.cparr", geoms, {}, key)

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
    metric line's length (the two differ by the projection's scale). The
    pieces are those of `shapely.ops.substring` (a stretch of no length is
    the Point where it lies), cut for all rows at once by `interval_coordinates`.

    Parameters
    ----------
    network : WalkNetwork
        The network the intervals were found on.
    intervals : pandas.DataFrame
        Rows of `reached_intervals` (``edge``, ``start_m``, ``end_m``).

    Returns
    -------
    ndarray of shapely.LineString or shapely.Point
        One geometry per row, in row order.
    """
    pieces = interval_coordinates(network, intervals)
    counts = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    out = np.empty(len(pieces), dtype=object)
    lines = counts >= 2
    if lines.any():
        flat = np.concatenate([p for p, ok in zip(pieces, lines.tolist()) if ok])
        out[lines] = shapely.linestrings(flat, indices=np.repeat(np.arange(int(lines.sum())), counts[lines]))
    points = np.flatnonzero(~lines)
    if len(points):
        out[points] = shapely.points(np.concatenate([pieces[i] for i in points.tolist()]))
    return out


def interval_coordinates(network: WalkNetwork, intervals: pd.DataFrame) -> list[np.ndarray]:
    """Metric vertices of each reached stretch (rows of `reached_intervals`), as `shapely.ops.substring` cuts them.

    A stretch from ``start_m`` to ``end_m`` (great-circle metres along its edge)
    is cut at the same fractions of the edge's metric line: the point where it
    starts, the edge's vertices strictly between, the point where it ends. A
    stretch over the whole edge is the edge's own vertices; one of no length is
    the single vertex where it lies. All rows are cut at once (array passes
    over the network's vertices), where one `substring` call per row cost
    0.3 s for the 5,000 stretches of a printed map.

    Parameters
    ----------
    network : WalkNetwork
        The network the intervals were found on.
    intervals : pandas.DataFrame
        Rows of `reached_intervals` (``edge``, ``start_m``, ``end_m``).

    Returns
    -------
    list of ndarray
        One ``(k, 2)`` array per row, in row order (read-only views of one array).
    """
    edge = intervals["edge"].to_numpy(np.int64)
    if not len(edge):
        return []
    coords, offsets = network.metric_coords, network.coord_offsets
    first, last = offsets[edge], offsets[edge + 1] - 1  # each row's edge: its first and last vertex
    # Distance of every vertex from its edge's first vertex, as one running sum: between the last vertex of
    # an edge and the first of the next the step is 0, so each edge's part is its own running sum plus a base.
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[offsets[1:-1] - 1] = 0.0
    along = np.concatenate([[0.0], np.cumsum(step)])
    base, metric_length = along[first], along[last] - along[first]
    great_circle = network.edge_length[edge]
    start, end = intervals["start_m"].to_numpy(float), intervals["end_m"].to_numpy(float)
    whole = (start <= 0) & (end >= great_circle)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.clip(np.where(great_circle > 0, start / great_circle, 0.0), 0.0, 1.0) * metric_length
        b = np.clip(np.where(great_circle > 0, end / great_circle, 0.0), 0.0, 1.0) * metric_length
    a, b = np.minimum(a, b), np.maximum(a, b)

    def point_at(distance: np.ndarray) -> np.ndarray:
        # On the segment whose start lies at or before ``distance`` (a vertex exactly there: that vertex).
        k = np.clip(np.searchsorted(along, base + distance, side="right") - 1, first, np.maximum(last - 1, first))
        span = along[k + 1] - along[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(span > 0, (base + distance - along[k]) / span, 0.0)
        t = np.clip(t, 0.0, 1.0)[:, None]
        return coords[k] + t * (coords[np.minimum(k + 1, last)] - coords[k])

    begin, finish = point_at(a), point_at(b)
    # Vertices strictly between the cut points (substring's rule); the last vertex never is.
    inner_from = np.maximum(np.searchsorted(along, base + a, side="right"), first + 1)
    inner_to = np.minimum(np.searchsorted(along, base + b, side="left"), last)
    inner_from = np.where(whole, first + 1, inner_from)
    inner_to = np.where(whole, last, inner_to)
    inner = np.maximum(inner_to - inner_from, 0)
    begin[whole], finish[whole] = coords[first[whole]], coords[last[whole]]
    single = ~whole & (a == b)
    counts = np.where(single, 1, inner + 2)
    # One index array into [vertices, start points, end points], piece after piece.
    n, rows = len(coords), len(edge)
    ends = np.cumsum(counts)
    starts = ends - counts
    index = np.empty(int(ends[-1]), dtype=np.int64)
    index[starts] = n + np.arange(rows)
    has_end = np.flatnonzero(~single)
    index[ends[has_end] - 1] = n + rows + has_end
    within = np.arange(int(inner.sum())) - np.repeat(np.cumsum(inner) - inner, inner)  # 0, 1, … in each piece
    index[np.repeat(starts + 1, inner) + within] = np.repeat(inner_from, inner) + within
    flat = np.concatenate([coords, begin, finish])[index]
    flat.flags.writeable = False
    return np.split(flat, ends[:-1])


def union_bands(bands: gpd.GeoDataFrame, cache_dir: str | Path | None = None) -> gpd.GeoDataFrame:
    """The union of all sites' bands: one row per band (band_min, band_from_min, geometry), WGS-84.

    Works on the output of `isochrone_bands`, cumulative or rings: the union
    of a band covers every place some site reaches within that many minutes,
    and rings stay rings (each minus the union of the smaller bands).

    Parameters
    ----------
    bands : geopandas.GeoDataFrame
        Bands of `isochrone_bands`.
    cache_dir : str or Path, optional
        Also keep the union in ``cache_dir/bands`` (the sites' own bands are kept there), keyed by
        every input band, and take it from there when the same bands come again: a map of a scenario
        whose bands are all cached no longer unites them again in each process (0.4-0.6 s for 17 sites).

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
    stored = None if cache_dir is None else Path(cache_dir) / "bands" / f"union-{key}.cparr"
    kept = _read_union(stored, key) if stored is not None and stored.exists() else None
    if kept is not None:
        _remember_union(key, kept)
        return kept
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
    _remember_union(key, frame)
    if stored is not None:
        _write_union(stored, key, frame)
    return frame


def _remember_union(key: str, frame: gpd.GeoDataFrame) -> None:
    _UNIONS[key] = frame.copy()
    while len(_UNIONS) > 16:
        _UNIONS.popitem(last=False)


def _write_union(path: Path, key: str, frame: gpd.GeoDataFrame) -> None:
    columns = {c: frame[c].to_numpy(float) for c in ("band_min", "band_from_min")}
    _write_geometries(path, frame.geometry.to_numpy(), columns, key)


def _write_geometries(path: Path, geoms: np.ndarray, columns: dict[str, np.ndarray], key: str) -> None:
    """Keep ``geoms`` (as WKB) and ``columns`` in the cache file ``path``, marked with ``key``."""
    blobs = shapely.to_wkb(np.asarray(geoms, dtype=object))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    arrays = {"wkb": np.frombuffer(b"".join(blobs), dtype=np.uint8), "offsets": offsets, **columns}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    try_write_arrays(path, arrays, {"key": key})


def _from_wkb_arrays(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The geometries `_write_geometries` kept (invalid WKB raises)."""
    blob, offsets = arrays["wkb"].tobytes(), arrays["offsets"]
    return shapely.from_wkb([blob[a:b] for a, b in zip(offsets[:-1], offsets[1:])], on_invalid="raise")


def _read_union(path: Path, key: str) -> gpd.GeoDataFrame | None:
    """The union kept in ``path`` for ``key``, or None (with a warning) when the file is not that."""
    try:
        meta, arrays = read_arrays(path)
        offsets = arrays["offsets"]
        if meta.get("key") != key or not len(arrays["band_min"]) == len(arrays["band_from_min"]) == len(offsets) - 1:
            raise ValueError("was written for other bands")
        geoms = _from_wkb_arrays(arrays)
    except (ValueError, KeyError, OSError, shapely.errors.GEOSException) as exc:
        warn_cache(path, f"is damaged or stale ({exc}); the union is built again")
        return None
    return gpd.GeoDataFrame(
        {"band_min": arrays["band_min"], "band_from_min": arrays["band_from_min"]}, geometry=geoms, crs="EPSG:4326"
    )


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
    tree = _Tree(net, site_snap, demand_snap, site_xy, place_xy)
    demand_ids, site_ids = demand["demand_id"].to_numpy(), sites["id"].to_numpy()
    rows: list[tuple] = []
    todo = np.flatnonzero(ok)
    needed = np.unique(site_index[todo])
    limit = float(result.matrix.cutoff_m) + 1.0
    for start in range(0, len(needed), 32):  # predecessors are chunk × nodes ints
        chunk = needed[start : start + 32]
        dist, pred = dijkstra(graph, directed=True, indices=net.n_nodes + chunk, limit=limit, return_predecessors=True)
        mine = todo[np.isin(site_index[todo], chunk)]
        s, j = site_index[mine], wanted[mine]
        routed, lines, network_m = tree.routes(s, j, np.searchsorted(chunk, s), dist, pred)
        s, j = s[routed].tolist(), j[routed].tolist()
        extra = (site_snap.leg_m[s] + demand_snap.leg_m[j]).tolist() if legs else [0.0] * len(s)
        rows += zip(j, demand_ids[j], site_ids[s], (m + x for m, x in zip(network_m.tolist(), extra)), lines)
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


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, a + n) for a, n in zip(starts, counts)])`` without the loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts) + np.arange(total)


class _Tree:
    """Routes of many places at once from the Dijkstra trees of their sites, as one array pass per step.

    Every number is worked out with the same floating-point operations, in
    the same order, as when each place is routed on its own: the chosen end of the
    place's edge (ties to u, then v, then the site's own edge), the path
    back through the predecessors, the edge pieces cut at the snap points
    (``numpy.interp``'s rule), and on a profile's view the real metres
    summed edge by edge.
    """

    def __init__(self, net: WalkNetwork, site_snap: Snap, demand_snap: Snap, site_xy, place_xy):
        self.net, self.site_snap, self.demand_snap = net, site_snap, demand_snap
        self.site_xy, self.place_xy = site_xy, place_xy
        self.pair_edge = _PairEdges(net)
        self.run_at = np.zeros(len(net.coords))  # metres along each edge's shape from its u end, at each vertex
        self.known = np.zeros(0, dtype=np.int64)  # the edges whose vertices ``run_at`` holds

    def routes(
        self, s: np.ndarray, j: np.ndarray, row: np.ndarray, dist: np.ndarray, pred: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which of the (site ``s``, place ``j``) pairs get a route, their LineStrings (place → site) and network metres.

        ``row`` is each pair's row in ``dist``/``pred``.
        """
        net, ss, ds = self.net, self.site_snap, self.demand_snap
        e, se = ds.edge[j].astype(np.int64), ss.edge[s].astype(np.int64)
        u, v = net.edge_u[e].astype(np.int64), net.edge_v[e].astype(np.int64)
        fu, tv = ds.from_u_m[j].astype(float), ds.to_v_m[j].astype(float)
        sfu, stv = ss.from_u_m[s].astype(float), ss.to_v_m[s].astype(float)
        same_edge = e == se
        c, inf = net.costs, np.inf
        with np.errstate(invalid="ignore"):
            if c is None:
                options = [dist[row, u] + fu, dist[row, v] + tv, np.where(same_edge, np.abs(sfu - fu), inf)]
            else:  # ``dist`` is cost: arrive on the place's edge paying its end and factor, where its direction allows
                allowed = np.where(fu >= sfu, c.forward[e], c.backward[e])
                options = [
                    np.where(c.forward[e], dist[row, u] + fu * c.scale[e] + c.end_u[e], inf),
                    np.where(c.backward[e], dist[row, v] + tv * c.scale[e] + c.end_v[e], inf),
                    np.where(same_edge & allowed, np.abs(sfu - fu) * c.scale[e], inf),
                ]
        options = np.stack(options)
        how = np.argmin(options, axis=0)  # the first of equal options, as min() takes it
        metres = options[how, np.arange(len(how))]
        routed = np.isfinite(metres)
        same = routed & (how == 2)
        metres = np.where(same, np.abs(sfu - fu), metres)
        # The path back from the place's edge end to the site's source node, one predecessor step for all at once.
        walked = np.flatnonzero(routed & ~same)
        source = net.n_nodes + s
        level_route, level_node = [walked], [np.where(how[walked] == 0, u[walked], v[walked])]
        who, node = level_route[0], level_node[0]
        while len(who):
            back = pred[row[who], node].astype(np.int64)
            done = back == source[who]
            lost = (back < 0) & ~done  # no path back (cannot happen for a finite distance)
            routed[who[lost]] = False
            go = ~done & ~lost
            who, node = who[go], back[go]
            level_route.append(who)
            level_node.append(node)
        flat_route = np.concatenate(level_route)
        flat_level = np.concatenate([np.full(len(w), k) for k, w in enumerate(level_route)])
        flat_node = np.concatenate(level_node)
        keep = routed[flat_route]
        flat_route, flat_level, flat_node = flat_route[keep], flat_level[keep], flat_node[keep]
        walked = walked[routed[walked]]
        order = np.lexsort((-flat_level, flat_route))  # by route, first node after the site first
        path_route, path_node = flat_route[order], flat_node[order]
        n_nodes = np.bincount(path_route, minlength=len(s))[walked]
        path_start = np.cumsum(n_nodes) - n_nodes
        first = path_node[path_start]
        w_se = se[walked]
        to_u = (first == net.edge_u[w_se]) & ((first != net.edge_v[w_se]) | (sfu[walked] <= stv[walked]))
        # Arcs between consecutive path nodes, and the edges behind them.
        is_arc = np.ones(len(path_node), dtype=bool)
        is_arc[path_start] = False  # an arc ends at every node but a route's first
        arc_end = np.flatnonzero(is_arc)
        arc_route = path_route[arc_end]
        arc_edge = self.pair_edge(path_node[arc_end - 1], path_node[arc_end]) if len(arc_end) else arc_end
        arc_edge = np.asarray(arc_edge, dtype=np.int64)
        if c is not None:  # on a profile's view the search found the cheapest path; report its metres
            w_how_u = how[walked] == 0
            base = np.where(to_u, sfu[walked], stv[walked]) + np.where(w_how_u, fu[walked], tv[walked])
            metres[walked] = _sequential_sums(base, arc_route, walked, net.edge_length[arc_edge].astype(float))
        # Coordinates site → place: site, its snap point, the piece of its edge, the path's edges, the piece of the
        # place's edge, the place's snap point, the place; each part given as (route, points) in that order.
        parts_route, parts_xy = [], []

        def add(route_ids: np.ndarray, xy: np.ndarray) -> None:
            parts_route.append(route_ids)
            parts_xy.append(xy)

        good = np.flatnonzero(routed)
        add(good, self.site_xy[s[good]])
        add(good, ss.point_lonlat[s[good]])
        w_len_se = net.edge_length[w_se].astype(float)
        w_len_e = net.edge_length[e[walked]].astype(float)
        along_route = np.concatenate([good[same[good]], walked])
        along_edge = np.concatenate([e[good[same[good]]], w_se])
        along_from = np.concatenate([sfu[good[same[good]]], sfu[walked]])
        along_to = np.concatenate([fu[good[same[good]]], np.where(to_u, 0.0, w_len_se)])
        add(*self.along(along_route, along_edge, along_from, along_to))
        offsets = net.coord_offsets.astype(np.int64)
        counts = offsets[arc_edge + 1] - offsets[arc_edge]
        reverse = net.edge_u[arc_edge] != path_node[arc_end - 1]
        step = np.repeat(np.where(reverse, -1, 1), counts)
        first_vertex = np.where(reverse, offsets[arc_edge + 1] - 1, offsets[arc_edge])
        within = _ranges(np.zeros(len(counts), dtype=np.int64), counts)
        add(np.repeat(arc_route, counts), net.coords[np.repeat(first_vertex, counts) + step * within])
        w_how_u = how[walked] == 0
        add(*self.along(walked, e[walked], np.where(w_how_u, 0.0, w_len_e), fu[walked]))
        add(good, ds.point_lonlat[j[good]])
        add(good, self.place_xy[j[good]])
        route_of = np.concatenate(parts_route)
        xy = np.concatenate(parts_xy)
        order = np.argsort(route_of, kind="stable")  # each route's parts in the order added
        route_of, xy = route_of[order], xy[order]
        total = np.bincount(route_of, minlength=len(s))
        ends = np.cumsum(total)
        starts = ends - total
        flip = starts[route_of] + ends[route_of] - 1 - np.arange(len(route_of))  # place → site
        xy = xy[flip]
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
        keep[starts[good]] = True  # a route's first point always stays
        xy, route_of = xy[keep], route_of[keep]
        kept = np.bincount(route_of, minlength=len(s))
        single = np.flatnonzero(kept == 1)  # one point left: a line from it to itself
        if len(single):
            ends = np.cumsum(kept)
            xy = np.insert(xy, ends[single], xy[ends[single] - 1], axis=0)
            route_of = np.insert(route_of, ends[single], single)
        lines = shapely.linestrings(xy, indices=np.searchsorted(good, route_of)) if len(good) else np.zeros(0, object)
        return routed, list(lines), metres[routed]

    def along(
        self, route: np.ndarray, edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points of each edge from ``start_m`` to ``end_m`` great-circle metres from its u end (either direction).

        Measured in metres along the shape, not as fractions of it in degrees
        (a degree of longitude is shorter than one of latitude). Returns the
        route of each point and the points, edge piece after edge piece.
        """
        net = self.net
        offsets = net.coord_offsets.astype(np.int64)
        counts = offsets[edge + 1] - offsets[edge]
        vertex = _ranges(offsets[edge], counts)
        run = self._runs(edge, vertex, counts)
        xy = net.coords[vertex]
        last = np.cumsum(counts) - 1
        length = run[last]
        a = np.minimum(np.maximum(start_m, 0.0), length)
        b = np.minimum(np.maximum(end_m, 0.0), length)
        a, b = np.minimum(a, b), np.maximum(a, b)
        query = np.repeat(np.arange(len(edge)), counts)
        inner = (run > a[query]) & (run < b[query])
        cut_a = _interp(a, run, xy, counts, query)
        cut_b = _interp(b, run, xy, counts, query)
        n_inner = np.bincount(query[inner], minlength=len(edge))
        size = n_inner + 2
        piece_start = np.cumsum(size) - size
        points = np.empty((int(size.sum()), 2))
        points[piece_start] = cut_a
        points[piece_start + size - 1] = cut_b
        slots = np.ones(len(points), dtype=bool)
        slots[piece_start] = slots[piece_start + size - 1] = False
        points[slots] = xy[inner]
        backwards = np.flatnonzero(start_m > end_m)
        if len(backwards):
            index = np.arange(len(points))
            in_piece = np.repeat(np.arange(len(edge)), size)
            flip = np.isin(in_piece, backwards)
            index[flip] = (2 * piece_start[in_piece] + size[in_piece] - 1 - index)[flip]
            points = points[index]
        return np.repeat(route, size), points

    def _runs(self, edge: np.ndarray, vertex: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Cumulative great-circle metres at each vertex of each edge from its first vertex (kept per call).

        The same numbers as ``concatenate([[0], cumsum(haversine_m(steps))])`` edge by edge: the steps are
        worked out elementwise, and each edge's sum runs one addition at a time, all edges a vertex at once.
        """
        new = np.setdiff1d(edge, self.known)
        if len(new):
            offsets = self.net.coord_offsets.astype(np.int64)
            n = offsets[new + 1] - offsets[new]
            longest_first = np.argsort(-n, kind="stable")
            new, n = new[longest_first], n[longest_first]
            first = offsets[new]
            at = _ranges(first, n)
            xy = self.net.coords
            previous = np.maximum(at - 1, 0)
            steps = haversine_m(xy[previous, 0], xy[previous, 1], xy[at, 0], xy[at, 1])
            self.run_at[first] = 0.0
            start = np.cumsum(n) - n  # where each edge's vertices begin in ``at``
            for k in range(1, int(n[0])):  # edges still this long: a prefix, as the longest come first
                active = int(np.searchsorted(-n, -k, side="left"))
                here = start[:active] + k
                self.run_at[at[here]] = self.run_at[at[here - 1]] + steps[here]
            self.known = np.union1d(self.known, new)
        return self.run_at[vertex]


def _interp(x: np.ndarray, run: np.ndarray, xy: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``numpy.interp(x[q], run_q, xy_q[:, k])`` for every query q and both columns, x within each run's range.

    The same rule as NumPy's: the interval is the last vertex at or before
    ``x``; at a vertex (or the last one) its value, else slope times offset
    plus value, from the other end if that gives NaN.
    """
    starts = np.cumsum(counts) - counts
    at_or_before = np.bincount(query, weights=run <= x[query], minlength=len(x)).astype(np.int64)
    i = starts + at_or_before - 1
    last = i == starts + counts - 1
    nxt = np.where(last, i, i + 1)
    x0, x1 = run[i], run[nxt]
    y0, y1 = xy[i], xy[nxt]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (y1 - y0) / (x1 - x0)[:, None]
        value = slope * (x - x0)[:, None] + y0
        nan = np.isnan(value)
        if nan.any():
            other = slope * (x - x1)[:, None] + y1
            value = np.where(nan, other, value)
            value = np.where(np.isnan(value) & (y0 == y1), y0, value)
    exact = (last | (x0 == x))[:, None]
    return np.where(exact, y0, value)


def _sequential_sums(base: np.ndarray, route: np.ndarray, routes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each of ``routes``: its ``base`` plus its ``values`` (grouped by ``route``, in order) added one at a time."""
    total = base.astype(float).copy()
    position = np.searchsorted(routes, route)
    counts = np.bincount(position, minlength=len(routes))
    rank = np.arange(len(route)) - np.repeat(np.cumsum(counts) - counts, counts)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max()) + 2 if len(rank) else 1))
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # one addition per route and step, in path order
        at = by_rank[a:b]
        total[position[at]] += values[at]
    return total


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
