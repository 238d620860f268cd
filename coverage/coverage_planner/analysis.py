"""One call from places and a network to a coverage result.

With a profile that has costs (``elderly``, ``frail``, ``wheelchair``,
``drive``) the walks run on the profile's view of the network
(`WalkNetwork.for_profile`): ``walk_min`` is the cost of the cheapest route
in minutes, ``walk_m`` that route's length in metres, and the route columns
(`ROUTE_COLUMNS`) say what it crosses.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage_planner._errors import DataError
from coverage_planner._geo import place_lonlat
from coverage_planner._timing import StageTimer
from coverage_planner.access.matrix import AccessMatrix, route_details
from coverage_planner.access.matrix_cache import cached_access_matrix
from coverage_planner.access.snap_cache import cached_snap_points
from coverage_planner.access.snapping import DEFAULT_MAX_SNAP_M, Snap, snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.profiles import WalkProfile, get_profile
from coverage_planner.results import CoverageResult

# The dtype ``astype(str)`` gives (pandas' text dtype).
_STR = pd.Series(["x"]).astype(str).dtype

#: Columns `compute_coverage` adds to the sites (the rest are the sites as read).
SITE_RESULT_COLUMNS = ("snap_m", "off_network", "component", "snap_edge", "demand_covered")
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
#: Columns added to the demand places when routes are read back (walking profiles with costs, or
#: ``route_details=True``): steps (flights) and their metres, main-road crossings and how many had signals,
#: and the minutes the costs add to the plain walk of the same route. ``walk_m`` is then the route's own
#: length (for ``drive`` too, which adds none of these columns).
ROUTE_COLUMNS = ("route_steps", "route_steps_m", "route_crossings", "route_signal_crossings", "cost_extra_min")


def compute_coverage(
    network: WalkNetwork,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    threshold_min: float = 15.0,
    speed_kmh: float | None = None,
    profile: str | WalkProfile | None = None,
    threshold_m: float | None = None,
    search_limit_m: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    access_legs: bool = True,
    preset: str | None = None,
    manifest: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
    route_details: bool | None = None,
) -> CoverageResult:
    """Compute network walk distance and time from every demand place to its nearest site.

    Places are snapped to their nearest walkable edge; walks are searched up to
    ``search_limit_m`` (default twice the threshold) so places left outside
    still get a walk time; a place is covered when its walk is within the
    threshold.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    sites, demand : geopandas.GeoDataFrame
        Points in WGS-84 with ``id`` and ``name`` columns (as `read_places`
        returns; other point GeoDataFrames work too).
    threshold_min : float, default 15.0
        Walk time that counts as covered.
    speed_kmh : float, optional
        Walking speed, given directly; with a named profile it keeps that
        profile's costs.
    profile : str or WalkProfile, optional
        The walker, by name or as a `WalkProfile`: ``adult`` 4.5 km/h, no
        costs; ``elderly`` 3.6 km/h with steps, crossing and surface costs;
        ``frail`` 2.9 km/h and ``wheelchair`` without steps; ``drive`` on a
        network read with ``mode="drive"`` (see `coverage_planner.profiles`
        for the values and sources). Default: ``adult``, or, when
        ``network`` is a profile's view (an earlier result's network), that
        profile.
    threshold_m : float, optional
        Threshold as a distance instead of minutes: the metres a walker at
        the profile's speed covers on a clear path, i.e.
        ``threshold_m / metres_per_minute`` minutes, compared with the cost of
        each route (the same as a distance when the profile has no costs).
    search_limit_m : float, optional
        How far to search (in the same equivalent metres); pairs beyond it
        are absent. Default: twice the threshold.
    max_snap_m : float, default `DEFAULT_MAX_SNAP_M`
        Places farther than this from any walkable way are off-network
        (flagged ``off_network``; they reach nothing and are never covered).
    access_legs : bool, default True
        Count the straight legs from each place to its edge.
    preset : str, optional
        Name of the GB 50180 preset the threshold came from, for reports.
    manifest : dict, optional
        Provenance to carry on the result.
    cache_dir : str or Path, optional
        Keep snaps per place and walk rows per site here, so a rerun after
        adding a site snaps and walks only from the new one (see
        `coverage_planner.access.snap_cache`, `coverage_planner.access.matrix_cache`).
    progress : bool, optional
        Show a progress bar for the walk search (default: only on a terminal).
    route_details : bool, optional
        Read each place's route back (`ROUTE_COLUMNS`; ``walk_m`` its length).
        Default: when the profile has costs (then walk metres and minutes
        differ by more than the speed); a plain profile's walk_m is its cost.

    Returns
    -------
    CoverageResult
        On a profile with costs, ``result.network`` is the profile's view of
        ``network`` and ``result.cost_model`` describes the costs.

    Raises
    ------
    NetworkError
        When the profile does not fit the network (``drive`` on a walking network, or the other way).
    ScenarioError
        For an unknown profile name or a speed out of range.
    DataError
        When two sites, or two demand places, share an id.
    """
    if profile is None:
        profile = network.profile or "adult"
    walk = get_profile(profile, speed_kmh)
    network = network.for_profile(walk)
    metres_per_min = walk.metres_per_minute
    threshold_m = float(threshold_m) if threshold_m is not None else threshold_min * metres_per_min
    search_limit_m = max(float(search_limit_m or 2 * threshold_m), threshold_m)

    timer = StageTimer()
    sites = prepare_places(sites, "sites")
    demand = prepare_places(demand, "demand")
    with timer.stage("snap places to edges"):
        if cache_dir is None:
            site_snap = snap_points(network, place_lonlat(sites), max_snap_m=max_snap_m)
            demand_snap = snap_points(network, place_lonlat(demand), max_snap_m=max_snap_m)
        else:
            # One cache lookup for both (one file read and at most one write).
            both, places_snapped = cached_snap_points(
                network,
                np.concatenate([place_lonlat(sites), place_lonlat(demand)]),
                max_snap_m=max_snap_m,
                cache_dir=cache_dir,
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
    return _assemble(
        network,
        sites,
        demand,
        site_snap,
        demand_snap,
        matrix,
        threshold_m=threshold_m,
        speed_kmh=walk.speed_kmh,
        profile_name=walk.name,
        preset=preset,
        manifest=dict(manifest or {}),
        cache_stats=cache_stats,
        timings=timer.seconds,
        max_snap_m=float(max_snap_m),
        walk_profile=walk,
        routes=not walk.is_plain if route_details is None else bool(route_details),
        timer=timer,
        cache_dir=None if cache_dir is None else Path(cache_dir),
    )


def with_sites(
    result: CoverageResult,
    new_sites: gpd.GeoDataFrame,
    *,
    walks: AccessMatrix | None = None,
    snap: Snap | None = None,
    manifest: dict[str, Any] | None = None,
    progress: bool | None = False,
) -> CoverageResult:
    """The same run with more sites open, walking only from the new ones.

    The network, demand places, their snaps, the coverage rule (threshold,
    speed, profile and its costs, search limit, snap limit, access legs) and
    the existing sites' walks all come from ``result``; only the new sites
    are snapped and walked from (unless their walks are given).

    Parameters
    ----------
    result : CoverageResult
        The run to extend.
    new_sites : GeoDataFrame
        Sites to add (points or polygons, any CRS); ``id`` and ``name`` as in
        `compute_coverage`. Their ids must differ from the existing sites'.
    walks : AccessMatrix, optional
        Walks from the new sites to ``result``'s demand places, already computed
        with the same cutoff and access-leg rule (as `propose_sites` has them).
    snap : Snap, optional
        Where the new sites join the network, when already known.
    manifest : dict, optional
        Provenance for the new result (default: ``result``'s).
    progress : bool or None, default False
        Show a progress bar for the walks.

    Returns
    -------
    CoverageResult
        Sites are ``result``'s followed by the new ones.

    Raises
    ------
    DataError
        When a new site's id is already used.
    """
    new = prepare_places(new_sites, "sites")
    clash = sorted(set(new["id"]) & set(result.sites["id"].astype(str)))
    if clash:
        raise DataError(f"new sites: id {clash[0]!r} is already used by an existing site")
    network = result.network
    site_snap, demand_snap = result.site_snap, result.demand_snap
    if site_snap is None or demand_snap is None:
        raise DataError("this result carries no snaps; build it with compute_coverage or run_scenario")
    if snap is None:
        snap = snap_points(network, place_lonlat(new), max_snap_m=result.max_snap_m)
    if walks is None:
        walks = AccessMatrix.compute(
            network,
            snap,
            demand_snap,
            result.matrix.cutoff_m,
            include_access_legs=result.matrix.include_access_legs,
            site_ids=new["id"].to_numpy(),
            demand_ids=result.matrix.demand_ids,
            progress=progress,
        )
    old_sites = result.sites.drop(columns=[c for c in SITE_RESULT_COLUMNS if c in result.sites.columns])
    sites = pd.concat([old_sites, new], ignore_index=True)
    if not _is_wgs84_points_frame(sites):  # (concat of two such frames already is one)
        sites = gpd.GeoDataFrame(sites, geometry="geometry", crs="EPSG:4326")
    routes = "route_steps" in result.demand.columns or network.costs is not None
    walk_profile = result.walk_profile
    demand = _refillable(result.demand, routes and (walk_profile is None or walk_profile.mode == "walk"))
    refill = demand is not None
    if demand is None:
        added = DEMAND_RESULT_COLUMNS + ROUTE_COLUMNS
        demand = result.demand.drop(columns=[c for c in added if c in result.demand.columns])
    return _assemble(
        network,
        sites,
        demand,
        Snap.concat([site_snap, snap]),
        demand_snap,
        AccessMatrix.stack(result.matrix, walks),
        threshold_m=result.threshold_m,
        speed_kmh=result.speed_kmh,
        profile_name=result.profile_name,
        preset=result.preset,
        manifest=dict(result.manifest if manifest is None else manifest),
        cache_stats=None,
        timings={},
        max_snap_m=result.max_snap_m,
        walk_profile=walk_profile,
        routes=routes,
        refill=refill,
        cache_dir=result.cache_dir,
    )


def _is_wgs84_points_frame(frame: pd.DataFrame) -> bool:
    if not isinstance(frame, gpd.GeoDataFrame) or "geometry" not in frame.columns:
        return False
    try:
        return frame.geometry.name == "geometry" and frame.crs is not None and frame.crs.equals("EPSG:4326")
    except AttributeError:  # no active geometry column
        return False


def _refillable(demand: gpd.GeoDataFrame, route_columns: bool) -> gpd.GeoDataFrame | None:
    """A shallow copy of a result's demand whose result columns `_assemble` can overwrite in place, or None.

    Only when the columns are laid out as `_assemble` writes them (``demand_id``, ``demand_name``, the
    places' own columns, then the result columns in order), so that overwriting gives the same frame as
    dropping them and adding them again; otherwise (a frame edited since) they are dropped.
    """
    columns = list(demand.columns)
    tail = list(DEMAND_RESULT_COLUMNS[2:])
    if "route_steps" in columns:
        if not route_columns:
            return None
        tail += ROUTE_COLUMNS
    if columns[:2] != list(DEMAND_RESULT_COLUMNS[:2]) or columns[-len(tail) :] != tail:
        return None
    middle = set(columns[2 : -len(tail)])
    if middle & {*DEMAND_RESULT_COLUMNS, *ROUTE_COLUMNS}:
        return None
    return demand.copy(deep=False)  # copy-on-write: the result's own frame is never changed


def _assemble(
    network: WalkNetwork,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    site_snap: Snap,
    demand_snap: Snap,
    matrix: AccessMatrix,
    *,
    threshold_m: float,
    speed_kmh: float,
    walk_profile: WalkProfile | None = None,
    routes: bool = False,
    timer: StageTimer | None = None,
    refill: bool = False,
    **rest: Any,
) -> CoverageResult:
    """Nearest site, walk metres and minutes and covered per place, from the walk matrix.

    ``sites`` and ``demand`` are the caller's own new frames: their columns are set in place. With
    ``refill``, ``demand`` already carries the result columns (a result's, see `_refillable`).
    The matrix holds costs (equivalent metres, = metres on a plain network):
    minutes are cost / metres per minute. With ``routes`` each place's route
    to its nearest site is read back, and walk_m is that route's length.
    """
    metres_per_min = speed_kmh * 1000.0 / 60.0
    nearest, metres = matrix.nearest()
    has_site = nearest >= 0
    details = None
    if routes:
        with timer.stage("read routes back") if timer is not None else contextlib.nullcontext():
            details = route_details(
                network,
                site_snap,
                demand_snap,
                nearest,
                matrix.cutoff_m,
                include_access_legs=matrix.include_access_legs,
            )
    site_id = np.where(has_site, sites["id"].to_numpy(object)[np.maximum(nearest, 0)], None)
    site_name = np.where(has_site, sites["name"].to_numpy(object)[np.maximum(nearest, 0)], None)

    # Both frames are the callers' own new frames (prepare_places, concat, drop): filled in place, not copied.
    demand_out = demand
    if refill:  # ``demand`` already has every result column (see `_refillable`): overwritten in place
        _put(demand_out, {"demand_id": demand["id"], "demand_name": demand["name"]})
    else:
        demand_out.insert(0, "demand_id", demand["id"])
        demand_out.insert(1, "demand_name", demand["name"])
    covered = has_site & (metres <= threshold_m)
    # Without costs the cost is the distance; with them, the chosen route's own length.
    length = metres if network.costs is None or details is None else np.where(has_site, details.length_m, np.nan)
    columns: dict[str, np.ndarray] = {
        "nearest_site_id": site_id,
        "nearest_site_name": site_name,
        "walk_m": np.round(length, 1),
        "walk_min": np.round(metres / metres_per_min, 2),
        "covered": covered,
        **_snap_columns(demand_snap),
    }
    if details is not None and (walk_profile is None or walk_profile.mode == "walk"):
        extra = (metres - length) / metres_per_min
        columns.update(
            route_steps=np.where(has_site, details.steps, 0),
            route_steps_m=np.round(np.where(has_site, details.steps_m, 0.0), 1),
            route_crossings=np.where(has_site, details.crossings, 0),
            route_signal_crossings=np.where(has_site, details.signal_crossings, 0),
            cost_extra_min=np.round(np.where(has_site, extra, np.nan), 2),
        )
    _put(demand_out, columns)
    sites_out = sites
    _put(sites_out, {**_snap_columns(site_snap), "demand_covered": np.bincount(nearest[covered], minlength=len(sites))})
    return CoverageResult(
        sites=sites_out,
        demand=demand_out,
        matrix=matrix,
        network=network,
        threshold_m=threshold_m,
        threshold_min=threshold_m / metres_per_min,
        speed_kmh=speed_kmh,
        site_snap=site_snap,
        demand_snap=demand_snap,
        walk_profile=walk_profile,
        cost_model=cost_model(walk_profile, network) if walk_profile is not None else None,
        **rest,
    )


def cost_model(profile: WalkProfile, network: WalkNetwork) -> dict[str, Any]:
    """What a run's travel costs were, for the manifest and report.

    Parameters
    ----------
    profile : WalkProfile
        The profile used.
    network : WalkNetwork
        The network the walks ran on (the profile's view when it has costs).

    Returns
    -------
    dict
        ``profile``, ``mode`` (walk or drive), ``speed_kmh``, ``note``,
        ``plain`` (no costs: cost = distance), ``costs`` (every value of the
        profile's `WalkCosts` / `DriveCosts`) and ``found`` (what the costs
        met on this network: steps metres, main-road crossing nodes with and
        without signals, edges left out, one-way edges …; empty when plain).
    """
    return {
        "profile": profile.name,
        "mode": profile.mode,
        "speed_kmh": profile.speed_kmh,
        "note": profile.note,
        "plain": profile.is_plain,
        "costs": profile.costs.to_dict(),
        "found": dict(network.costs.summary) if network.costs is not None else {},
    }


def prepare_places(frame: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """A copy of ``frame`` in WGS-84 with the columns the engine needs.

    Parameters
    ----------
    frame : GeoDataFrame
        Places as `read_places` returns them, or any GeoDataFrame of points or polygons.
    kind : str
        ``"sites"``, ``"demand"`` or ``"candidates"``: names generated ids (``sites-1`` …) and errors.

    Returns
    -------
    GeoDataFrame
        With string ``id`` (generated when absent), ``name`` (default: the id),
        ``weight`` (default 1) and ``status`` (default ``real``); the caller's
        frame is never changed.

    Raises
    ------
    DataError
        When two places share an id.
    """
    crs = frame.crs
    frame = frame.to_crs(4326) if crs is not None and not crs.equals("EPSG:4326") else frame
    frame = frame.reset_index(drop=True)  # a new frame: the caller's is never changed
    if "id" not in frame.columns:
        frame["id"] = [f"{kind}-{i + 1}" for i in range(len(frame))]
    ids = frame["id"]
    if ids.dtype != _STR:  # (already text on a result's own places: no second conversion)
        ids = frame["id"] = ids.astype(str)
    if not ids.is_unique:
        dup = ids[ids.duplicated()].iloc[0]
        raise DataError(f"{kind}: duplicate id {dup!r}; every place needs its own id")
    if "name" not in frame.columns:
        frame["name"] = frame["id"]
    if "weight" not in frame.columns:
        frame["weight"] = 1.0
    if "status" not in frame.columns:
        frame["status"] = "real"
    return frame


def _snap_columns(snap: Snap) -> dict[str, np.ndarray]:
    return {
        "snap_m": np.round(snap.leg_m, 1),
        "off_network": ~snap.snapped,
        "component": snap.component,
        "snap_edge": snap.edge,
    }


def _put(frame: gpd.GeoDataFrame, columns: dict[str, Any]) -> None:
    """Set columns in order, as ``frame[name] = values`` does (new ones appended, existing ones replaced in place).

    ``insert`` for the new ones: the same column, without `__setitem__`'s checks per column.
    """
    for name, values in columns.items():
        if name in frame.columns:
            frame[name] = values
        else:
            frame.insert(len(frame.columns), name, values)


__all__ = [
    "DEMAND_RESULT_COLUMNS",
    "ROUTE_COLUMNS",
    "SITE_RESULT_COLUMNS",
    "compute_coverage",
    "cost_model",
    "prepare_places",
    "with_sites",
]
