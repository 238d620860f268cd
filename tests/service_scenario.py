"""Every service-planning table of one run (capacity, volunteers, access, equity, circuits, clinics), for output tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from conftest import raw_file
from real_places import osm_place_frames

import coverage_planner as cp
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.results import CoverageResult


def points(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """A lon/lat table as WGS84 points."""
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)


def monaco_service_places() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """6 real Monaco amenities with a capacity of 30, 120 real buildings with a seeded weight and 社区类别."""
    sites, demand = osm_place_frames(raw_file("monaco.osm.pbf"), n_sites=6, n_demand=120, seed=4)
    sites, demand = points(sites), points(demand)
    sites["capacity"] = 30.0
    rng = np.random.default_rng(1)
    demand["weight"] = rng.integers(1, 8, len(demand)).astype(float)
    demand["community_class"] = rng.choice(["创新型", "发展型", "强基型"], len(demand))
    return sites, demand


def every_service_table(
    result: CoverageResult, *, volunteers: int, clinics: int, budget_min: float = 120.0
) -> ServiceTables:
    """All parts of `ServiceTables` for ``result`` (sites with ``capacity``, places with ``weight`` and ``community_class``)."""
    alloc = cp.allocate_capacity(result, capacity="capacity", load="weight")
    plan = cp.plan_circuits(result, budget_min=budget_min, stay_min=15, time_limit_s=1, max_routes=2)
    chosen = cp.plan_clinics(result, cp.build_candidates(result, grid_spacing=300), k=clinics)
    where = chosen.proposal.sites[["id", "geometry"]].rename(columns={"id": "venue_id"})
    return ServiceTables(
        site_loads=alloc.by_site,
        assignment=alloc.assignment,
        links=alloc.links(),
        allocation_summary=alloc.summary(),
        volunteers=cp.spread_volunteers(alloc, total=volunteers),
        volunteers_total=volunteers,
        accessibility=cp.two_stage_fca(result, supply="capacity", demand="weight"),
        equity=cp.equity_summary(result, group="community_class"),
        circuit_routes=plan.routes,
        circuit_schedule=plan.schedule,
        circuit_unscheduled=plan.unscheduled,
        circuit_legs=plan.legs,
        circuit_summary=plan.summary(),
        clinics=gpd.GeoDataFrame(chosen.venues.merge(where, on="venue_id"), geometry="geometry", crs=4326),
        clinics_reached=chosen.reached,
        clinics_summary=chosen.summary(),
    )
