"""Service-planning tables the map, report and run folder show beside coverage.

Planning (`coverage_planner.plan`) sits above the writers, so what it found
reaches them as plain tables in one container: who serves whom within the
capacities, how the volunteer pool is spread, the accessibility index, the
equity summary, circuit-mediation routes and clinic days. Every part is
optional; an empty container changes nothing in any output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import geopandas as gpd
import pandas as pd

__all__ = ["ServiceTables"]


@dataclass
class ServiceTables:
    """What service planning adds to a run's outputs.

    Parameters
    ----------
    site_loads : DataFrame, optional
        One row per site (`Allocation.by_site`): ``site_id, site_name, status,
        places, load, capacity, load_per_capacity, spare, over,
        nearest_places, nearest_load, mean_walk_min``.
    assignment : DataFrame, optional
        One row per demand place (`Allocation.assignment`): ``demand_id,
        demand_name, load, site_id, site_name, walk_m, walk_min, assigned,
        reason, nearest_site_id, moved``.
    links : GeoDataFrame, optional
        Place → assigned site lines (`Allocation.links`): ``demand_id,
        site_id, load, walk_min``, WGS-84.
    allocation_summary : dict, optional
        `Allocation.summary`.
    volunteers : DataFrame, optional
        `spread_volunteers`: ``site_id, site_name, load, volunteers,
        load_per_volunteer`` (+ ``current, change``, ``needed_for_target,
        meets_target``).
    volunteers_total : int, optional
        The pool that was spread (e.g. 561).
    accessibility : DataFrame, optional
        One row per demand place: ``demand_id, demand_name, access`` (2SFCA
        score) and ``method``.
    equity : DataFrame, optional
        `equity_summary`: coverage and walk-time distribution per group, with Gini.
    circuit_routes, circuit_schedule, circuit_unscheduled : DataFrame, optional
        `CircuitPlan.routes`, ``.schedule``, ``.unscheduled``.
    circuit_legs : GeoDataFrame, optional
        `CircuitPlan.legs`: each leg drawn along the network, WGS-84.
    circuit_summary : dict, optional
        `CircuitPlan.summary`.
    clinics : DataFrame, optional
        `ClinicPlan.venues`: ``rank, venue_id, venue_name, places_reached,
        load_reached, place_ids, lon, lat``.
    clinics_reached : DataFrame, optional
        `ClinicPlan.reached`: ``demand_id, demand_name, load, already_covered,
        venue_id, walk_min``.
    clinics_summary : dict, optional
        `ClinicPlan.summary`.
    """

    site_loads: pd.DataFrame | None = None
    assignment: pd.DataFrame | None = None
    links: gpd.GeoDataFrame | None = None
    allocation_summary: dict | None = field(default=None, repr=False)
    volunteers: pd.DataFrame | None = None
    volunteers_total: int | None = None
    accessibility: pd.DataFrame | None = None
    equity: pd.DataFrame | None = None
    circuit_routes: pd.DataFrame | None = None
    circuit_schedule: pd.DataFrame | None = None
    circuit_unscheduled: pd.DataFrame | None = None
    circuit_legs: gpd.GeoDataFrame | None = None
    circuit_summary: dict | None = field(default=None, repr=False)
    clinics: pd.DataFrame | None = None
    clinics_reached: pd.DataFrame | None = None
    clinics_summary: dict | None = field(default=None, repr=False)

    def is_empty(self) -> bool:
        """Whether no part is set.

        Returns
        -------
        bool
        """
        return all(getattr(self, f.name) is None for f in fields(self))
