"""coverage-planner: who can walk to a public service within N minutes, on the real street network.

The public API, for notebooks and scripts::

    import coverage_planner as cp

    net = cp.load_network("district.osm.pbf")
    sites = cp.read_places("studios.csv", "sites")
    demand = cp.read_places("compounds.csv", "demand")
    result = cp.compute_coverage(net, sites, demand, threshold_min=15, profile="elderly")
    result.table(); result.summary(); result.left_out()

    pool = cp.build_candidates(result, grid_spacing=200)
    proposal = cp.propose_sites(result, pool, method="mclp", k=3)
    proposal.after.summary()
    proposal.write("runs/proposal")
    cp.write_run(result, "runs/today")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from coverage_planner import settings
from coverage_planner._errors import (
    CoverageError,
    DataError,
    InputError,
    InputErrors,
    NetworkError,
    ScenarioError,
)

# Public names and the module that defines each, imported on first use: `import coverage_planner`
# stays fast, and a command that needs no map never imports folium or matplotlib.
_LAZY = {
    "AccessMatrix": "coverage_planner.access.matrix",
    "Snap": "coverage_planner.access.snapping",
    "snap_points": "coverage_planner.access.snapping",
    "compute_coverage": "coverage_planner.analysis",
    "with_sites": "coverage_planner.analysis",
    "Scenario": "coverage_planner.config",
    "write_demo_inputs": "coverage_planner.demo",
    "ScenarioDiff": "coverage_planner.diff",
    "download_network": "coverage_planner.network.download",
    "load_network": "coverage_planner.network.download",
    "WalkNetwork": "coverage_planner.network.graph",
    "coverage_map": "coverage_planner.outputs.maps",
    "save_map": "coverage_planner.outputs.maps",
    "write_report": "coverage_planner.outputs.report",
    "write_run": "coverage_planner.outputs.run_folder",
    "write_outputs": "coverage_planner.outputs.tables",
    "run_scenario": "coverage_planner.pipeline",
    "check_within_area": "coverage_planner.places.reading",
    "read_places": "coverage_planner.places.reading",
    "build_candidates": "coverage_planner.plan.candidates",
    "LSCP": "coverage_planner.plan.models",
    "MCLP": "coverage_planner.plan.models",
    "PCenter": "coverage_planner.plan.models",
    "PMedian": "coverage_planner.plan.models",
    "ProblemError": "coverage_planner.plan.models",
    "ProposalError": "coverage_planner.plan.models",
    "Proposal": "coverage_planner.plan.proposal",
    "propose_sites": "coverage_planner.plan.proposal",
    "GB50180_PRESETS": "coverage_planner.profiles",
    "PROFILES": "coverage_planner.profiles",
    "WalkProfile": "coverage_planner.profiles",
    "get_profile": "coverage_planner.profiles",
    "CoverageResult": "coverage_planner.results",
    "check_scenario": "coverage_planner.check",
    "write_ledger": "coverage_planner.outputs.ledger",
    "allocate_capacity": "coverage_planner.plan.capacity",
    "spread_volunteers": "coverage_planner.plan.capacity",
    "two_stage_fca": "coverage_planner.plan.accessibility",
    "equity_summary": "coverage_planner.plan.accessibility",
    "gini": "coverage_planner.plan.accessibility",
    "priority_weights": "coverage_planner.plan.accessibility",
    "plan_circuits": "coverage_planner.plan.circuits",
    "plan_clinics": "coverage_planner.plan.circuits",
    "ServicePlan": "coverage_planner.plan.service",
    "plan_service": "coverage_planner.plan.service",
    "plan_scenario": "coverage_planner.pipeline",
}

if TYPE_CHECKING:
    from coverage_planner.access.matrix import AccessMatrix
    from coverage_planner.access.snapping import Snap, snap_points
    from coverage_planner.analysis import compute_coverage, with_sites
    from coverage_planner.check import check_scenario
    from coverage_planner.config import Scenario
    from coverage_planner.demo import write_demo_inputs
    from coverage_planner.diff import ScenarioDiff
    from coverage_planner.network.download import download_network, load_network
    from coverage_planner.network.graph import WalkNetwork
    from coverage_planner.outputs.ledger import write_ledger
    from coverage_planner.outputs.maps import coverage_map, save_map
    from coverage_planner.outputs.report import write_report
    from coverage_planner.outputs.run_folder import write_run
    from coverage_planner.outputs.tables import write_outputs
    from coverage_planner.pipeline import plan_scenario, run_scenario
    from coverage_planner.places.reading import check_within_area, read_places
    from coverage_planner.plan.accessibility import equity_summary, gini, priority_weights, two_stage_fca
    from coverage_planner.plan.candidates import build_candidates
    from coverage_planner.plan.capacity import allocate_capacity, spread_volunteers
    from coverage_planner.plan.circuits import plan_circuits, plan_clinics
    from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian, ProblemError, ProposalError
    from coverage_planner.plan.proposal import Proposal, propose_sites
    from coverage_planner.plan.service import ServicePlan, plan_service
    from coverage_planner.profiles import GB50180_PRESETS, PROFILES, WalkProfile, get_profile
    from coverage_planner.results import CoverageResult


def __getattr__(name: str):
    if name == "__version__":
        value = _installed_version()
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'coverage_planner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def _installed_version() -> str:
    # Looked up on first use: importlib.metadata costs tens of ms that `coverage-planner --help` never needs.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("coverage-planner")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"


__all__ = [
    "AccessMatrix",
    "CoverageError",
    "CoverageResult",
    "DataError",
    "GB50180_PRESETS",
    "InputError",
    "InputErrors",
    "LSCP",
    "MCLP",
    "NetworkError",
    "PCenter",
    "PMedian",
    "PROFILES",
    "ProblemError",
    "Proposal",
    "ProposalError",
    "Scenario",
    "ScenarioDiff",
    "ScenarioError",
    "ServicePlan",
    "Snap",
    "WalkNetwork",
    "WalkProfile",
    "__version__",
    "allocate_capacity",
    "build_candidates",
    "check_scenario",
    "check_within_area",
    "compute_coverage",
    "coverage_map",
    "download_network",
    "equity_summary",
    "get_profile",
    "gini",
    "load_network",
    "plan_circuits",
    "plan_clinics",
    "plan_scenario",
    "plan_service",
    "priority_weights",
    "propose_sites",
    "read_places",
    "run_scenario",
    "save_map",
    "settings",
    "snap_points",
    "spread_volunteers",
    "two_stage_fca",
    "with_sites",
    "write_demo_inputs",
    "write_ledger",
    "write_outputs",
    "write_report",
    "write_run",
]
