"""Service planning as one step: allocation, volunteers, accessibility, equity, circuits and clinics from options.

`plan_service` runs whichever planning steps it is given options for (see
`coverage_planner.plan.options`, read from a scenario by
`coverage_planner.config`) on one coverage run, and returns a `ServicePlan`
whose `~ServicePlan.tables` the run folder, map and report show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coverage_planner.outputs.run_folder import write_service_tables
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.plan.accessibility import equity_summary, priority_weights, two_stage_fca
from coverage_planner.plan.candidates import build_candidates
from coverage_planner.plan.capacity import Allocation, allocate_capacity, demand_loads, spread_volunteers
from coverage_planner.plan.circuits import CircuitPlan, ClinicPlan, plan_circuits, plan_clinics
from coverage_planner.plan.options import (
    AccessibilityOptions,
    CapacityOptions,
    CircuitOptions,
    ClinicOptions,
    EquityOptions,
    PriorityOptions,
)
from coverage_planner.results import CoverageResult


@dataclass
class ServicePlan:
    """What service planning found for one coverage run; every part is optional.

    Parameters
    ----------
    allocation : Allocation, optional
        Capacitated allocation of places to sites.
    volunteers : DataFrame, optional
        The volunteer pool spread over the sites (`spread_volunteers`).
    volunteers_total : int, optional
        The pool spread.
    accessibility : DataFrame, optional
        `two_stage_fca` per place, with the ``method`` used.
    equity : DataFrame, optional
        `equity_summary`.
    circuits : CircuitPlan, optional
        Circuit-mediation routes.
    clinics : ClinicPlan, optional
        Chosen clinic venues.
    """

    allocation: Allocation | None = None
    volunteers: pd.DataFrame | None = None
    volunteers_total: int | None = None
    accessibility: pd.DataFrame | None = None
    equity: pd.DataFrame | None = None
    circuits: CircuitPlan | None = None
    clinics: ClinicPlan | None = None

    def is_empty(self) -> bool:
        """Whether no planning step ran.

        Returns
        -------
        bool
        """
        return self.tables().is_empty()

    def tables(self) -> ServiceTables:
        """The plan as the tables the writers show.

        Returns
        -------
        ServiceTables
        """
        tables = ServiceTables(
            volunteers=self.volunteers,
            volunteers_total=self.volunteers_total if self.volunteers is not None else None,
            accessibility=self.accessibility,
            equity=self.equity,
        )
        if self.allocation is not None:
            tables.site_loads = self.allocation.by_site
            tables.assignment = self.allocation.assignment
            tables.links = self.allocation.links()
            tables.allocation_summary = self.allocation.summary()
        if self.circuits is not None:
            c = self.circuits
            tables.circuit_routes, tables.circuit_schedule = c.routes, c.schedule
            tables.circuit_unscheduled, tables.circuit_legs = c.unscheduled, c.legs
            tables.circuit_summary = c.summary()
        if self.clinics is not None:
            tables.clinics, tables.clinics_reached = self.clinics.venues, self.clinics.reached
            tables.clinics_summary = self.clinics.summary()
        return tables

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the plan's CSV tables (UTF-8 with BOM, formula-safe) into ``out_dir``.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created when missing).

        Returns
        -------
        list of Path
            The files written (see `coverage_planner.outputs.run_folder.SERVICE_FILES`).
        """
        return write_service_tables(self.tables(), out_dir)


def plan_service(
    result: CoverageResult,
    *,
    capacity: CapacityOptions | None = None,
    accessibility: AccessibilityOptions | None = None,
    equity: EquityOptions | None = None,
    priority: PriorityOptions | None = None,
    circuits: CircuitOptions | None = None,
    clinics: ClinicOptions | None = None,
    circuit_result: CoverageResult | None = None,
    candidates=None,
    k: int | None = None,
    time_limit: float | None = None,
) -> ServicePlan:
    """Run the planning steps given options for, on one coverage run.

    Parameters
    ----------
    result : CoverageResult
        The coverage run (`run_scenario`, `compute_coverage`).
    capacity : CapacityOptions, optional
        Capacitated allocation; with ``volunteers``, the pool spread over the
        allocated loads.
    accessibility : AccessibilityOptions, optional
        The floating-catchment index per place.
    equity : EquityOptions, optional
        Coverage and walk times per group and weighting.
    priority : PriorityOptions, optional
        Raises the weight of the categories it names for the clinics' choice.
        (Not for the capacitated allocation: there a place's load both earns
        and uses capacity, so a factor on it changes no preference, only the
        units of the capacities.)
    circuits : CircuitOptions, optional
        Circuit-mediation routes.
    clinics : ClinicOptions, optional
        Clinic venues.
    circuit_result : CoverageResult, optional
        The same places on the network and profile the circuits travel
        (``circuits.profile``); default ``result``. Which places are
        uncovered always comes from ``result``.
    candidates : GeoDataFrame, optional
        Where new sites could open in the allocation (needs ``k``).
    k : int, optional
        Most candidates the allocation may open.
    time_limit : float, optional
        Seconds for each exact solve.

    Returns
    -------
    ServicePlan

    Raises
    ------
    DataError
        For a missing or bad capacity, load, supply or weight column, or
        unknown place or site ids.
    ProblemError
        For an allocation, circuit or clinic problem that cannot be set up.
    """
    plan = ServicePlan()
    mpm = result.metres_per_minute
    if capacity is not None:
        reach = None if capacity.reach_min is None else min(capacity.reach_min * mpm, result.matrix.cutoff_m)
        plan.allocation = allocate_capacity(
            result,
            capacity=capacity.column,
            load=capacity.load,
            rate=capacity.rate,
            method=capacity.method,
            reach_m=reach,
            candidates=candidates,
            k=k,
            default_capacity=capacity.default,
            time_limit=time_limit,
        )
        vol = capacity.volunteers
        if vol is not None:
            plan.volunteers = spread_volunteers(plan.allocation, vol.total, minimum=vol.minimum, target=vol.target)
            plan.volunteers_total = vol.total
    if accessibility is not None:
        catchment = None if accessibility.catchment_min is None else accessibility.catchment_min * mpm
        frame = two_stage_fca(
            result,
            supply=accessibility.supply,
            demand=accessibility.demand,
            method=accessibility.method,
            catchment_m=catchment,
            # A blank capacity is the [capacity] default here too.
            default_supply=capacity.default
            if capacity is not None and accessibility.supply == capacity.column
            else None,
        )
        frame["method"] = accessibility.method
        plan.accessibility = frame
    if equity is not None:
        plan.equity = equity_summary(result, group=equity.group, weight=dict(equity.weights))
    if circuits is not None:
        plan.circuits = _circuits(result, circuits, circuit_result)
    if clinics is not None:
        venues = build_candidates(
            result,
            file=clinics.venues,
            tags=None if clinics.tags is None else dict(clinics.tags),
        )
        plan.clinics = plan_clinics(result, venues, k=clinics.k, load=_weights(result, priority), time_limit=time_limit)
    return plan


def _weights(result: CoverageResult, priority: PriorityOptions | None, base: str | float = "weight") -> np.ndarray:
    """Each place's weight, raised by the priority factors when given."""
    if priority is None:
        return demand_loads(result.demand, base)
    return priority_weights(result.demand, priority.column, dict(priority.factors), weight=base)


def priority_weights_of(result: CoverageResult, priority: PriorityOptions | None) -> np.ndarray:
    """Each demand place's weight with ``[plan.priority]`` applied (the plain weight without it).

    Parameters
    ----------
    result : CoverageResult
        The run.
    priority : PriorityOptions, optional
        Factors per category value.

    Returns
    -------
    ndarray of float
    """
    return _weights(result, priority)


def _circuits(result: CoverageResult, options: CircuitOptions, travel: CoverageResult | None) -> CircuitPlan:
    travel = result if travel is None else travel
    places = options.places
    if places is None:
        # Uncovered on the walking rule of the run, even when the circuits drive.
        places = tuple(result.demand.loc[~result.demand["covered"].to_numpy(bool), "demand_id"].astype(str))
    return plan_circuits(
        travel,
        places=list(places),
        depots=None if options.depots is None else list(options.depots),
        budget_min=options.budget_min,
        stay_min=options.stay_min,
        sessions=options.sessions,
    )


__all__ = ["ServicePlan", "plan_service", "priority_weights_of"]
