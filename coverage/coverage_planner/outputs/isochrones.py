"""Walk-time bands around sites, drawn from the network edges a walk reaches (for display only).

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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from coverage_planner.access.matrix import graph_with_site_sources
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.results import CoverageResult

DEFAULT_BANDS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0)
_INTERVAL_COLUMNS = ["site", "limit_m", "edge", "start_m", "end_m"]


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
    network : the walking network.
    snap : where each site joins the network; unsnapped sites (edge -1) reach nothing.
    limits_m : walk limits in metres (one set of rows per limit).
    spent_m : metres each site has used before its snap point (its access
        leg, when legs count); they come off every limit. Default none.
    chunk_size : sites per Dijkstra batch (memory is chunk × nodes floats).

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
) -> gpd.GeoDataFrame:
    """One polygon per site and band: the streets a walk of at most that many minutes reaches, buffered.

    For display only: coverage is decided on the graph, never by these
    polygons. Walks start at the site, cross its access leg (when the run
    counted legs, ``result.matrix.include_access_legs``) and follow the
    network at the run's walking speed. Sites that did not snap to the
    network get no band.

    Parameters
    ----------
    result : the coverage run (its network, sites and walking speed).
    bands_min : walk minutes of the bands.
    buffer_m : half-width of the walkable strip drawn around each reached street.
    simplify_m : tolerance of the outline simplification (display; 0 keeps every vertex).
    rings : cumulative bands (default: the 10-minute band contains the
        5-minute one) or rings (the 10-minute band is only what lies beyond the
        5-minute one; ``band_from_min`` gives the inner edge).
    access_legs : count the site's access leg against the walk (default: as the run did).

    Returns
    -------
    geopandas.GeoDataFrame
        site_id, site_name, band_min, band_from_min and geometry (Polygon or
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
    spent = snap.leg_m if legs else np.zeros(len(ok))
    limits = [b * result.metres_per_minute for b in bands]
    intervals = reached_intervals(net, snap, limits, spent_m=spent)
    site_xy = shapely.points(*net.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    snap_xy = shapely.points(*net.to_metric.transform(snap.point_lonlat[:, 0], snap.point_lonlat[:, 1]))
    by_site = dict(tuple(intervals.groupby(["site", "limit_m"])))
    strips = _StripCache(net, buffer_m)
    records = []
    for k in range(len(ok)):
        previous, done = None, set()
        for band, limit in zip(bands, limits):
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
            records.append(
                (sites["id"].iloc[ok[k]], sites["name"].iloc[ok[k]], band, _inner(bands, band) if rings else 0.0, ring)
            )
            previous = shape
    frame = gpd.GeoDataFrame(
        pd.DataFrame(records, columns=["site_id", "site_name", "band_min", "band_from_min", "geometry"]),
        geometry="geometry",
        crs=net.crs,
    )
    if simplify_m > 0:
        frame["geometry"] = shapely.simplify(frame.geometry.to_numpy(), simplify_m, preserve_topology=True)
    return _valid(frame.to_crs(4326))


def interval_lines(network: WalkNetwork, intervals: pd.DataFrame) -> np.ndarray:
    """Geometry of reached stretches (rows of `reached_intervals`) as LineStrings in the network's metric CRS.

    A stretch's great-circle metres along the edge become fractions of the
    metric line's length (the two differ by the projection's scale).
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
    """
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
    return _valid(frame.to_crs(4326))


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
    """Reached stretches (edge, start, end) of one site within ``budget`` network metres."""
    length = network.edge_length[edges]
    from_u = np.where(np.isfinite(du), budget - du, -1.0)  # metres left on arriving at u
    from_v = np.where(np.isfinite(dv), budget - dv, -1.0)
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
        spans = [(max(0.0, pos - budget), min(own_len, pos + budget))]
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


__all__ = ["DEFAULT_BANDS_MIN", "interval_lines", "isochrone_bands", "reached_intervals", "union_bands"]
