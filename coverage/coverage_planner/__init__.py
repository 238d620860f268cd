"""coverage-planner: who can walk to a public service within N minutes, on the real street network.

The public API, for notebooks and scripts::

    import coverage as cp
    net = cp.load_network("district.osm.pbf")
    sites = cp.read_places("studios.csv", "sites")
    demand = cp.read_places("compounds.csv", "demand")
    result = cp.compute_coverage(net, sites, demand, threshold_min=15)
    result.table(); result.summary()
    cp.write_outputs(result, "runs/today")
"""

from coverage_planner._errors import CoverageError, InputError, InputErrors, NetworkError, ScenarioError
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.analysis import compute_coverage
from coverage_planner.config import Scenario
from coverage_planner.demo import write_demo_inputs
from coverage_planner.network.download import download_network, load_network
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs.maps import coverage_map, save_map
from coverage_planner.outputs.tables import write_outputs
from coverage_planner.pipeline import run_scenario
from coverage_planner.places.reading import check_within_area, read_places
from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian, ProblemError
from coverage_planner.plan.proposal import Proposal, propose_sites
from coverage_planner.profiles import GB50180_PRESETS, PROFILES, WalkProfile, get_profile
from coverage_planner.results import CoverageResult

__all__ = [
    "AccessMatrix",
    "CoverageError",
    "LSCP",
    "MCLP",
    "PCenter",
    "PMedian",
    "ProblemError",
    "Proposal",
    "propose_sites",
    "CoverageResult",
    "GB50180_PRESETS",
    "InputError",
    "InputErrors",
    "NetworkError",
    "PROFILES",
    "Scenario",
    "ScenarioError",
    "Snap",
    "WalkNetwork",
    "WalkProfile",
    "check_within_area",
    "compute_coverage",
    "coverage_map",
    "save_map",
    "download_network",
    "get_profile",
    "load_network",
    "read_places",
    "run_scenario",
    "snap_points",
    "write_demo_inputs",
    "write_outputs",
]
