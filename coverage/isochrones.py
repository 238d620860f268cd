"""Walk-time bands around sites, drawn from the network edges a walk reaches (for display only).

Coverage is never decided with these polygons: it is decided on the graph
(`coverage.access`). A band is the set of edge pieces within B metres of a
site, the last edge on each path cut where the time runs out, buffered
into a walkable strip — not a convex hull, so rivers, railways and blocks
without a way through stay outside.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from .access import _graph_with_site_sources
from .results import CoverageResult
from .snapping import snap_points


def isochrone_bands(
    result: CoverageResult,
    bands_min: Sequence[float] = (5, 10, 15),
    *,
    buffer_m: float = 25.0,
    simplify_m: float = 3.0,
) -> gpd.GeoDataFrame:
    """One polygon per site and band: where a walk of at most that many minutes reaches.

    Bands are cumulative (the 10-minute band contains the 5-minute one).
    Walks start at the site's snap point on its edge (access legs are not
    drawn). Returns site_id, site_name, band_min and geometry in WGS-84.
    """
    net = result.network
    sites = result.sites
    lonlat = np.column_stack([sites.geometry.x, sites.geometry.y])
    snap = snap_points(net, lonlat, max_snap_m=np.inf)
    metres = [float(b) * result.metres_per_minute for b in sorted(bands_min)]
    graph = _graph_with_site_sources(net, snap)
    dist = dijkstra(graph, directed=True, indices=net.n_nodes + np.arange(len(sites)), limit=max(metres))[:, : net.n_nodes]
    lines = net.edges_metric
    length = net.edge_length
    rows = []
    for k in range(len(sites)):
        du, dv = dist[k, net.edge_u], dist[k, net.edge_v]
        for band, limit in zip(sorted(bands_min), metres):
            pieces = _reached_pieces(lines, length, du, dv, limit)
            own = int(snap.edge[k])
            pos = float(snap.from_u_m[k])
            pieces.append(substring(lines[own], max(0.0, pos - limit) / length[own], min(length[own], pos + limit) / length[own], normalized=True))
            shape = shapely.buffer(shapely.multilinestrings([p for p in pieces if p.length > 0] or [lines[own]]), buffer_m)
            rows.append((sites["id"].iloc[k], sites["name"].iloc[k], float(band), shape.simplify(simplify_m)))
    frame = gpd.GeoDataFrame(
        {"site_id": [r[0] for r in rows], "site_name": [r[1] for r in rows], "band_min": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs=net.crs,
    )
    return frame.to_crs(4326)


def union_bands(bands: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The union of all sites' polygons, one row per band."""
    merged = bands.to_crs(bands.estimate_utm_crs()).dissolve(by="band_min").reset_index()[["band_min", "geometry"]]
    return merged.to_crs(4326)


def _reached_pieces(lines: np.ndarray, length: np.ndarray, du: np.ndarray, dv: np.ndarray, limit: float) -> list:
    """Edge pieces within ``limit`` metres: whole edges, or the stretch from each reached end."""
    reach_u = np.where(np.isfinite(du), limit - du, -1.0)
    reach_v = np.where(np.isfinite(dv), limit - dv, -1.0)
    whole = (np.maximum(reach_u, 0) + np.maximum(reach_v, 0) >= length) & ((reach_u >= 0) | (reach_v >= 0))
    pieces = list(lines[whole])
    for e in np.flatnonzero(~whole & (reach_u > 0)):
        pieces.append(substring(lines[e], 0.0, reach_u[e] / length[e], normalized=True))
    for e in np.flatnonzero(~whole & (reach_v > 0)):
        pieces.append(substring(lines[e], 1.0 - reach_v[e] / length[e], 1.0, normalized=True))
    return pieces
