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

from ._errors import CoverageError, InputError, InputErrors, NetworkError, ScenarioError
from .access import AccessMatrix
from .analysis import compute_coverage
from .config import Scenario
from .demo import write_demo_inputs
from .download import download_network, load_network
from .maps import coverage_map, save_map
from .network import WalkNetwork
from .optimize import LSCP, MCLP, PCenter, PMedian, ProblemError
from .outputs import write_outputs
from .pipeline import run_scenario
from .places import check_within_area, read_places
from .proposal import Proposal, propose_sites
from .profiles import GB50180_PRESETS, PROFILES, WalkProfile, get_profile
from .results import CoverageResult
from .snapping import Snap, snap_points

__all__ = [
    "AccessMatrix", "CoverageError", "LSCP", "MCLP", "PCenter", "PMedian", "ProblemError", "Proposal", "propose_sites", "CoverageResult", "GB50180_PRESETS", "InputError", "InputErrors",
    "NetworkError", "PROFILES", "Scenario", "ScenarioError", "Snap", "WalkNetwork", "WalkProfile",
    "check_within_area", "compute_coverage", "coverage_map", "save_map", "download_network", "get_profile", "load_network",
    "read_places", "run_scenario", "snap_points", "write_demo_inputs", "write_outputs",
]
