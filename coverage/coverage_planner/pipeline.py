"""Run a scenario file end to end: validate every input first, then compute."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage_planner import settings
from coverage_planner._cache.keys import cache_key
from coverage_planner._errors import InputError, InputErrors, NetworkError, ScenarioError
from coverage_planner._timing import StageTimer
from coverage_planner.access.crs_check import warn_if_gcj02
from coverage_planner.analysis import compute_coverage
from coverage_planner.config import OsmDemandConfig, PlacesConfig, Scenario
from coverage_planner.network.download import load_network
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs.manifest import build_manifest
from coverage_planner.places.cache import cached_read_places
from coverage_planner.places.geocode import OsmGeocoder
from coverage_planner.places.ledger import check_unique_names_per_community, normalise_compound_types
from coverage_planner.places.reading import check_within_area, read_places
from coverage_planner.places.sites_file import append_sites, check_new_sites, new_site_rows, wgs84_of
from coverage_planner.results import CoverageResult

if TYPE_CHECKING:
    from coverage_planner.outputs.service import ServiceTables
    from coverage_planner.plan.service import ServicePlan


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    network: WalkNetwork | None = None,
    use_cache: bool = True,
    progress: bool | None = None,
) -> CoverageResult:
    """Load a scenario's network and places, validate them, and compute coverage.

    All place files are checked (and every problem collected) before any
    computation; nothing is written here, so callers can write outputs only
    for a valid run.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A `Scenario` or the path of its TOML file.
    network : WalkNetwork, optional
        An already loaded network to reuse (skips loading).
    use_cache : bool, default True
        Reuse the parsed network, validated place files and per-site walk
        rows from the cache folder (``[network] cache_dir``, default
        `coverage_planner.settings.cache_dir`).
    progress : bool, optional
        Show progress bars (default: only on a terminal).

    Returns
    -------
    CoverageResult
        With its manifest (inputs, hashes, parameters, warnings) and timings.

    Raises
    ------
    ScenarioError
        When the scenario file is invalid, or (offline) as one short account
        of what needs internet instead of an error per place.
    InputErrors
        Every problem of the sites and demand files, together.
    NetworkError
        When the network cannot be loaded or downloaded.
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_toml(scenario)
    try:
        return _run(scenario, network, use_cache, progress)
    except (InputError, InputErrors, NetworkError) as exc:
        # Offline: one short account of what needs internet, not an error per place (see `check`).
        from coverage_planner.check import explain_run_failure

        short = explain_run_failure(scenario, exc)
        if short is None:
            raise
        raise short from exc


#: The planning steps a scenario can configure, in the order `plan_scenario` runs them.
PLAN_STEPS = ("capacity", "accessibility", "equity", "circuits", "clinics")


def plan_scenario(
    scenario: Scenario | str | Path,
    result: CoverageResult | None = None,
    *,
    steps: Sequence[str] | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    k: int | None = None,
    use_cache: bool = True,
    progress: bool | None = None,
) -> tuple[CoverageResult, ServicePlan]:
    """Run a scenario's service-planning sections (``[capacity]``, ``[circuits]`` …) on its coverage.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A `Scenario` or the path of its TOML file.
    result : CoverageResult, optional
        The scenario's coverage, when already computed (default: `run_scenario`).
        Its manifest gets a ``service_planning`` record of the options used.
    steps : sequence of str, optional
        Which of `PLAN_STEPS` to run (each only when the scenario configures
        it); default all.
    candidates : GeoDataFrame, optional
        Where the capacitated allocation may open new sites (with ``k``).
    k : int, optional
        Most candidates the allocation opens.
    use_cache : bool, default True
        As `run_scenario`.
    progress : bool, optional
        Show progress bars (default: only on a terminal).

    Returns
    -------
    result : CoverageResult
        The coverage planned on.
    plan : ServicePlan
        Its `~ServicePlan.tables` go to `write_run` as ``service=``.

    Raises
    ------
    ScenarioError
        For an unknown step.
    DataError, ProblemError
        When a planning step cannot be set up (a bad capacity cell, unknown ids …).
    InputErrors, NetworkError
        As `run_scenario` raises them.
    """
    from coverage_planner.plan.service import plan_service

    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_toml(scenario)
    chosen = PLAN_STEPS if steps is None else tuple(steps)
    unknown = sorted(set(chosen) - set(PLAN_STEPS))
    if unknown:
        raise ScenarioError(f"unknown planning step {unknown[0]!r}; choose from {', '.join(PLAN_STEPS)}")
    if result is None:
        result = run_scenario(scenario, use_cache=use_cache, progress=progress)
    options = {step: getattr(scenario, step) if step in chosen else None for step in PLAN_STEPS}
    travel = None
    circuits = options["circuits"]
    if circuits is not None and circuits.profile is not None and circuits.profile != scenario.walk.profile.name:
        # The circuits travel another way (e.g. by car): the same places on that profile's network.
        travel = run_scenario(scenario.with_walk(profile=circuits.profile), use_cache=use_cache, progress=progress)
    plan = plan_service(
        result, **options, priority=scenario.priority, circuit_result=travel, candidates=candidates, k=k
    )
    record = {step: asdict(value) for step, value in options.items() if value is not None}
    if scenario.priority is not None and ("clinics" in record):
        record["priority"] = asdict(scenario.priority)
    if record:
        result.manifest["service_planning"] = record
    return result, plan


def service_tables(
    scenario: Scenario | str | Path,
    result: CoverageResult,
    *,
    use_cache: bool = True,
    progress: bool | None = False,
) -> ServiceTables | None:
    """The tables of a scenario's planning sections, for `write_run`'s ``service=``; None when it has none.

    Parameters
    ----------
    scenario : Scenario, str or Path
        A `Scenario` or the path of its TOML file.
    result : CoverageResult
        The scenario's coverage.
    use_cache : bool, default True
        As `run_scenario`.
    progress : bool, optional
        Show progress bars.

    Returns
    -------
    ServiceTables or None
        What `run` and `batch` write beside the coverage tables.
    """
    scenario = scenario if isinstance(scenario, Scenario) else Scenario.from_toml(scenario)
    if all(getattr(scenario, step) is None for step in PLAN_STEPS):
        return None
    _, plan = plan_scenario(scenario, result, use_cache=use_cache, progress=progress)
    return plan.tables()


def _run(scenario: Scenario, network: WalkNetwork | None, use_cache: bool, progress: bool | None) -> CoverageResult:
    cache_dir = scenario.network.cache_dir or settings.cache_dir()
    timer = StageTimer()
    with timer.stage("read places"):
        places = _read_scenario_places(scenario, cache_dir if use_cache else None)
    osm_record = None
    if scenario.osm_demand is not None:
        with timer.stage("residential areas from OSM"):
            # A download cache, not a result cache: kept even with use_cache=False.
            osm_places, osm_record = osm_residential_demand(scenario.osm_demand, cache_dir)
            places["demand"] = _join_demand(
                places["demand"], osm_places, scenario.demand.path, osm_record["demand_file"]
            )
    with timer.stage("load network"):
        if network is None:
            cfg = scenario.network
            network = load_network(
                cfg.path,
                place=cfg.place,
                bbox=cfg.bbox,
                cache_dir=cache_dir,
                use_cache=use_cache,
                allow_private=cfg.allow_private,
                layer=cfg.layer,
                crs=cfg.crs,
                coordinate_system=cfg.coordinate_system,
                class_column=cfg.class_column,
                noding=cfg.noding,
                mode=scenario.walk.profile.mode,
            )
    roles = (("sites", scenario.sites), ("demand", scenario.demand))
    with timer.stage("check places against the network"):
        errors: list[InputError] = []
        bounds = network.bounds  # computed from every node on each access
        for role, config in roles:
            try:
                check_within_area(places[role], bounds, path=config.path)
            except InputErrors as exc:
                errors.extend(exc.errors)
        if errors:
            raise InputErrors(errors)
        checks = [warn_if_gcj02(network, _point_lonlat(places[role]), str(config.path)) for role, config in roles]
    walk = scenario.walk
    start = time.perf_counter()
    result = compute_coverage(
        network,
        places["sites"],
        places["demand"],
        threshold_m=walk.threshold_m,
        profile=walk.profile,  # the object: it carries [walk.costs]
        search_limit_m=walk.search_limit_m,
        max_snap_m=walk.max_snap_m,
        access_legs=walk.access_legs,
        preset=walk.preset,
        route_details=walk.route_details,
        progress=progress,
        cache_dir=cache_dir if use_cache else None,
    )
    inner = dict(result.timings)
    inner["assemble tables"] = time.perf_counter() - start - sum(inner.values())
    with timer.stage("manifest"):
        result.manifest = build_manifest(result, scenario=scenario)
        result.manifest["warnings"] = [message for message in checks if message]
        if osm_record is not None:
            result.manifest["osm_demand"] = osm_record
    result.timings = {**timer.seconds, **inner}
    return result


def _point_lonlat(places: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) lon/lat of validated places (points), from the geometry array without a GeoSeries per axis."""
    points = np.asarray(places.geometry.array)
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)])


def _read_scenario_places(scenario: Scenario, cache_dir: Path | None) -> dict[str, gpd.GeoDataFrame]:
    """Sites and demand of a scenario, validated; every problem in both files raised together."""
    geocoder = OsmGeocoder(scenario.geocode.cache_file, online=scenario.geocode.online)
    places: dict[str, gpd.GeoDataFrame] = {}
    errors: list[InputError] = []
    for role, config in (("sites", scenario.sites), ("demand", scenario.demand)):
        options = _read_options(config, geocoder)
        try:
            if cache_dir is not None:
                places[role] = cached_read_places(config.path, role, cache_dir, **options)
            else:
                places[role] = read_places(config.path, role, **options)
            if config.compound_ledger:
                places[role] = normalise_compound_types(places[role], config.path)
                check_unique_names_per_community(places[role], config.path)
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return places


def _read_options(config: PlacesConfig, geocoder: OsmGeocoder) -> dict:
    """How a scenario's place section is read: the same for `run_scenario` and the checks of `add_sites`."""
    return dict(
        keep_columns=config.keep_columns,
        weight_column=config.weight_column,
        default_crs=config.default_crs,
        sheet=config.sheet,
        layer=config.layer,
        encoding=config.encoding,
        geocoder=geocoder,
    )


def osm_residential_demand(config: OsmDemandConfig, cache_dir: Path) -> tuple[gpd.GeoDataFrame, dict]:
    """Residential areas from OSM as validated demand places, and the record of their download.

    The areas (downloaded once, then cached by `coverage_planner.places.osm_demand`) are
    written as a GeoPackage next to that cache and read back through
    `read_places` (via the places cache), so they get exactly the checks a
    planner's file gets.

    Parameters
    ----------
    config : OsmDemandConfig
        The scenario's ``[osm_demand]`` section.
    cache_dir : Path
        The cache folder (a download cache: used even when a run skips the result caches).

    Returns
    -------
    demand : geopandas.GeoDataFrame
        The areas as demand places, ``type`` filled with ``config.type_label``
        where the area has none.
    record : dict
        The download's record for the manifest, with ``areas``, ``type`` and
        ``demand_file``.

    Raises
    ------
    NetworkError
        When the areas are not cached and cannot be downloaded.
    InputErrors
        When the written areas fail the place checks.
    """
    from coverage_planner.places.osm_demand import residential_areas, write_demand

    areas = residential_areas(
        list(config.places) or None,
        bbox=config.bbox,
        subdistrict=config.subdistrict,
        cache_dir=cache_dir,
        min_area_m2=config.min_area_m2,
    )
    record = {k: v for k, v in areas.attrs.get("osm_query", {}).items() if k != "cache_path"}
    key = cache_key([record, config.min_area_m2, config.type_label])
    path = Path(cache_dir) / "osm-demand" / f"demand-{key}.gpkg"
    if not path.is_file():
        write_demand(areas, path)
    frame = cached_read_places(path, "demand", cache_dir)
    frame["type"] = (
        frame["type"].where(frame["type"].notna(), config.type_label) if "type" in frame else config.type_label
    )
    return frame, {**record, "areas": len(frame), "type": config.type_label, "demand_file": str(path)}


def _join_demand(listed: gpd.GeoDataFrame, osm: gpd.GeoDataFrame, listed_path: Path, osm_path: str) -> gpd.GeoDataFrame:
    """The scenario's demand file followed by the OSM areas; an id in both is an error naming both files."""
    clash = sorted(set(listed["id"].astype(str)) & set(osm["id"].astype(str)))
    if clash:
        raise InputError(
            listed_path,
            f"id {clash[0]!r} is also the id of an OSM residential area ({osm_path}); rename it",
            field="id",
        )
    return gpd.GeoDataFrame(pd.concat([listed, osm], ignore_index=True), geometry="geometry", crs="EPSG:4326")


def add_sites(
    scenario: Scenario | str | Path,
    new_sites: pd.DataFrame,
    *,
    crs: str = "wgs84",
    source: str | Path | None = None,
    progress: bool | None = None,
) -> tuple[CoverageResult, CoverageResult, Path]:
    """Append sites to a scenario's sites file (keeping a backup) and rerun it.

    Everything is checked before the file is touched: coordinates, the
    coordinate system, duplicate ids or names, and that each new site lies in
    the network's area. The rerun walks only from the new sites (the other
    rows come from the cache).

    Parameters
    ----------
    scenario : Scenario, str or Path
        The scenario, or its TOML path.
    new_sites : pandas.DataFrame
        Rows with name, lon, lat and optionally id, type, district, status,
        crs (English or Chinese headers).
    crs : str, default "wgs84"
        Coordinate system of rows without a crs value (wgs84, gcj02, bd09).
    source : str or Path, optional
        Where the rows came from (a proposals CSV), named in messages.
    progress : bool, optional
        Show progress bars (default: only on a terminal).

    Returns
    -------
    before, after : CoverageResult
        The run without and with the new sites.
    backup_path : Path
        The backup of the sites file as it was.

    Raises
    ------
    InputError
        A bad new row, or an id or name already in the file (nothing is written then).
    InputErrors
        New sites outside the network's area (nothing is written then), or
        as `run_scenario` raises them.
    ScenarioError, NetworkError
        As `run_scenario` raises them.
    """
    if not isinstance(scenario, Scenario):
        scenario = Scenario.from_toml(scenario)
    sites_path = scenario.sites.path
    options = _read_options(scenario.sites, OsmGeocoder(scenario.geocode.cache_file, online=scenario.geocode.online))
    rows = check_new_sites(sites_path, new_site_rows(new_sites, crs=crs), **options)
    before = run_scenario(scenario, progress=progress)
    lonlat = wgs84_of(rows)
    candidates = gpd.GeoDataFrame(
        {"source_row": np.arange(len(rows)) + (2 if source else 1)},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
        crs="EPSG:4326",
    )
    check_within_area(candidates, before.network.bounds, path=source or "new site")
    backup = append_sites(sites_path, rows, **options)  # re-read with the run's options: undone on any difference
    after = run_scenario(scenario, network=before.network, progress=progress)
    return before, after, backup
