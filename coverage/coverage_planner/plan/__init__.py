"""Planning on a coverage run: new sites, capacities, volunteers, accessibility, circuits and clinics.

Names are imported on first use, so reading a scenario (which needs only
`coverage_planner.plan.options`) does not load the solvers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_LAZY = {
    "AccessibilityOptions": "coverage_planner.plan.options",
    "CapacityOptions": "coverage_planner.plan.options",
    "CircuitOptions": "coverage_planner.plan.options",
    "ClinicOptions": "coverage_planner.plan.options",
    "EquityOptions": "coverage_planner.plan.options",
    "PriorityOptions": "coverage_planner.plan.options",
    "VolunteerOptions": "coverage_planner.plan.options",
    "ServicePlan": "coverage_planner.plan.service",
    "plan_service": "coverage_planner.plan.service",
    "Allocation": "coverage_planner.plan.capacity",
    "allocate_capacity": "coverage_planner.plan.capacity",
    "spread_volunteers": "coverage_planner.plan.capacity",
    "equity_summary": "coverage_planner.plan.accessibility",
    "gini": "coverage_planner.plan.accessibility",
    "priority_weights": "coverage_planner.plan.accessibility",
    "two_stage_fca": "coverage_planner.plan.accessibility",
    "CircuitPlan": "coverage_planner.plan.circuits",
    "ClinicPlan": "coverage_planner.plan.circuits",
    "plan_circuits": "coverage_planner.plan.circuits",
    "plan_clinics": "coverage_planner.plan.circuits",
    "build_candidates": "coverage_planner.plan.candidates",
    "Proposal": "coverage_planner.plan.proposal",
    "propose_sites": "coverage_planner.plan.proposal",
}

if TYPE_CHECKING:
    from coverage_planner.plan.accessibility import equity_summary, gini, priority_weights, two_stage_fca
    from coverage_planner.plan.candidates import build_candidates
    from coverage_planner.plan.capacity import Allocation, allocate_capacity, spread_volunteers
    from coverage_planner.plan.circuits import CircuitPlan, ClinicPlan, plan_circuits, plan_clinics
    from coverage_planner.plan.options import (
        AccessibilityOptions,
        CapacityOptions,
        CircuitOptions,
        ClinicOptions,
        EquityOptions,
        PriorityOptions,
        VolunteerOptions,
    )
    from coverage_planner.plan.proposal import Proposal, propose_sites
    from coverage_planner.plan.service import ServicePlan, plan_service


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coverage_planner.plan' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccessibilityOptions",
    "Allocation",
    "CapacityOptions",
    "CircuitOptions",
    "CircuitPlan",
    "ClinicOptions",
    "ClinicPlan",
    "EquityOptions",
    "PriorityOptions",
    "Proposal",
    "ServicePlan",
    "VolunteerOptions",
    "allocate_capacity",
    "build_candidates",
    "equity_summary",
    "gini",
    "plan_circuits",
    "plan_clinics",
    "plan_service",
    "priority_weights",
    "propose_sites",
    "spread_volunteers",
    "two_stage_fca",
]
