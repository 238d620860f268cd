"""One call from places and a network to a coverage result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from coverage_planner._geo import place_points
from coverage_planner._timing import StageTimer
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.matrix_cache import cached_access_matrix
from coverage_planner.access.snap_cache import cached_snap_points
from coverage_planner.access.snapping import DEFAULT_MAX_SNAP_M, Snap, snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.profiles import get_profile
from coverage_planner.results import CoverageResult

#: Columns `compute_coverage` adds to the demand places (the rest are the places as read).
DEMAND_RESULT_COLUMNS = (
    "demand_id",
    "demand_name",
    "nearest_site_id",
    "nearest_site_name",
    "walk_m",
    "walk_min",
    "covered",
    "snap_m",
    "off_network",
    "component",
    "snap_edge",
)


def compute_coverage(
    network: WalkNetwork,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    threshold_min: float = 15.0,
    speed_kmh: float | None = None,
    profile: str = "adult",
    threshold_m: float | None = None,
    search_limit_m: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    access_legs: bool = True,
    preset: str | None = None,
    manifest: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
) -> CoverageResult:
    """Compute network walk distance and time from every demand place to its nearest site.

    Places are snapped to their nearest walkable edge; walks are searched up to
    ``search_limit_m`` (default twice the threshold) so places left outside
    still get a walk time; a place is covered when its walk is within the
    threshold.

    Parameters
    ----------
    network : the walking network.
    sites, demand : GeoDataFrames of points in WGS-84 with ``id`` and ``name``
        columns (as `read_places` returns; other point GeoDataFrames work too).
    threshold_min : walk time that counts as covered.
    speed_kmh, profile : walking speed, given directly or by profile name
        (``adult`` 4.5 km/h, ``elderly`` 3.6 km/h).
    threshold_m : threshold as a distance instead of minutes.
    search_limit_m : how far to search; pairs beyond it are absent.
    max_snap_m : places farther than this from any walkable way are off-network
        (flagged ``off_network``; they reach nothing and are never covered).
    access_legs : count the straight legs from each place to its edge.
    preset : name of the GB 50180 preset the threshold came from, for reports.
    manifest : provenance to carry on the result.
    cache_dir : keep snaps per place and walk rows per site here, so a rerun
        after adding a site snaps and walks only from the new one (see
        `coverage_planner.access.snap_cache`, `coverage_planner.access.matrix_cache`).

    Returns
    -------
    CoverageResult
    """
    walk = get_profile(profile, speed_kmh)
    metres_per_min = walk.metres_per_minute
    threshold_m = float(threshold_m) if threshold_m is not None else threshold_min * metres_per_min
    threshold_min = threshold_m / metres_per_min
    search_limit_m = max(float(search_limit_m or 2 * threshold_m), threshold_m)

    timer = StageTimer()
    sites = _as_places(sites, "sites")
    demand = _as_places(demand, "demand")
    with timer.stage("snap places to edges"):
        if cache_dir is None:
            site_snap = snap_points(network, _lonlat(sites), max_snap_m=max_snap_m)
            demand_snap = snap_points(network, _lonlat(demand), max_snap_m=max_snap_m)
        else:
            # One cache lookup for both (one file read and at most one write).
            both, places_snapped = cached_snap_points(
                network, np.concatenate([_lonlat(sites), _lonlat(demand)]), max_snap_m=max_snap_m, cache_dir=cache_dir
            )
            site_snap, demand_snap = both.take(np.arange(len(sites))), both.take(np.arange(len(sites), len(both)))
    ids = dict(site_ids=sites["id"].to_numpy(), demand_ids=demand["id"].to_numpy())
    cache_stats = None
    with timer.stage("walk distances"):
        if cache_dir is None:
            matrix = AccessMatrix.compute(
                network,
                site_snap,
                demand_snap,
                search_limit_m,
                include_access_legs=access_legs,
                progress=progress,
                **ids,
            )
        else:
            matrix, cache_stats = cached_access_matrix(
                network,
                site_snap,
                demand_snap,
                search_limit_m,
                cache_dir,
                include_access_legs=access_legs,
                progress=progress,
                **ids,
            )
            cache_stats["places_snapped"] = places_snapped
    nearest, metres = matrix.nearest()
    has_site = nearest >= 0
    site_id = np.where(has_site, sites["id"].to_numpy(object)[np.maximum(nearest, 0)], None)
    site_name = np.where(has_site, sites["name"].to_numpy(object)[np.maximum(nearest, 0)], None)

    demand_out = demand.copy()
    demand_out.insert(0, "demand_id", demand["id"])
    demand_out.insert(1, "demand_name", demand["name"])
    demand_out["nearest_site_id"] = site_id
    demand_out["nearest_site_name"] = site_name
    demand_out["walk_m"] = np.round(metres, 1)
    demand_out["walk_min"] = np.round(metres / metres_per_min, 2)
    demand_out["covered"] = has_site & (metres <= threshold_m)
    demand_out = _with_snap(demand_out, demand_snap)
    sites_out = _with_snap(sites.copy(), site_snap)
    sites_out["demand_covered"] = np.bincount(nearest[demand_out["covered"].to_numpy()], minlength=len(sites))
    return CoverageResult(
        sites=sites_out,
        demand=demand_out,
        matrix=matrix,
        network=network,
        threshold_m=threshold_m,
        threshold_min=threshold_min,
        speed_kmh=walk.speed_kmh,
        profile_name=walk.name,
        preset=preset,
        manifest=dict(manifest or {}),
        cache_stats=cache_stats,
        timings=timer.seconds,
        max_snap_m=float(max_snap_m),
    )


def _as_places(frame: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """Fill the columns the engine needs when a plain GeoDataFrame is passed in."""
    frame = frame.to_crs(4326) if frame.crs is not None and not frame.crs.equals("EPSG:4326") else frame
    frame = frame.reset_index(drop=True)  # a new frame: the caller's is never changed
    if "id" not in frame.columns:
        frame["id"] = [f"{kind}-{i + 1}" for i in range(len(frame))]
    frame["id"] = frame["id"].astype(str)
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise ValueError(f"{kind}: duplicate id {dup!r}; every place needs its own id")
    if "name" not in frame.columns:
        frame["name"] = frame["id"]
    if "weight" not in frame.columns:
        frame["weight"] = 1.0
    if "status" not in frame.columns:
        frame["status"] = "real"
    return frame


def _lonlat(frame: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) lon/lat of each place: the point, or a point on the surface of a polygon."""
    points = place_points(frame.geometry.array)
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)])


def _with_snap(frame: gpd.GeoDataFrame, snap: Snap) -> gpd.GeoDataFrame:
    frame["snap_m"] = np.round(snap.leg_m, 1)
    frame["off_network"] = ~snap.snapped
    frame["component"] = snap.component
    frame["snap_edge"] = snap.edge
    return frame


__all__ = ["compute_coverage"]
