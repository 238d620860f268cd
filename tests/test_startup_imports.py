"""Which libraries each command imports: help and a no-op rerun load nothing they do not use.

Every command runs in a fresh interpreter under ``python -X importtime``; the
module names it prints (forked output workers included) are every module the
command imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from conftest import raw_file

from coverage_planner.cli import app

# The console script does exactly this (see [project.scripts]); -c keeps the test off PATH.
ENTRY = "import sys; from coverage_planner.cli import app; sys.argv[0] = 'coverage-planner'; sys.exit(app())"
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)

NOT_FOR_HELP = (
    "folium",
    "matplotlib",
    "networkx",
    "osmnx",
    "dask",
    "distributed",
    "weasyprint",
    "xlsxwriter",
    "highspy",
    "scipy.optimize",
)
# tqdm too: a rerun from the caches walks and parses nothing, so it draws no progress bar.
NOT_FOR_TABLES_RERUN = ("folium", "matplotlib", "weasyprint", "networkx", "osmnx", "dask", "highspy", "tqdm")


def imported_by(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    """Every module `coverage-planner ARGS` imports, in a fresh interpreter; the command must succeed."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    modules = set(_IMPORTED.findall(done.stderr))
    assert "coverage_planner.cli" in modules  # the parse saw the imports at all
    return modules


def subcommands() -> list[str]:
    return list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_cli_has_the_subcommands_these_tests_walk_through():
    assert {"run", "propose", "map", "report", "batch", "fetch-network"} <= set(subcommands())


@pytest.mark.parametrize("command", [[], *([name] for name in subcommands())], ids=lambda c: " ".join(c) or "top")
def test_help_imports_no_map_chart_report_graph_cluster_or_solver_library(command):
    modules = imported_by([*command, "--help"])
    assert sorted(m for m in NOT_FOR_HELP if m in modules) == []


@pytest.fixture(scope="module")
def monaco_scenario(tmp_path_factory):
    """A small real scenario (5 Monaco amenities, 200 buildings) and a cache folder of its own, empty."""
    from real_places import write_osm_scenario

    folder = tmp_path_factory.mktemp("startup")
    toml = write_osm_scenario(folder / "in", raw_file("monaco.osm.pbf"), n_sites=5, n_demand=200, threshold_min=8)
    return toml, {"COVERAGE_PLANNER_CACHE": str(folder / "cache")}


def test_a_tables_only_rerun_from_the_caches_imports_no_map_report_graph_cluster_or_solver_library(
    monaco_scenario, tmp_path
):
    toml, env = monaco_scenario
    command = ["run", str(toml), "--out", str(tmp_path / "run"), "--no-map", "--no-report", "--no-pdf", "--lang", "en"]
    first = imported_by(command, env)
    rerun = imported_by(command, env)
    # The first run parsed the network and walked (progress bars); the rerun read both back.
    assert "tqdm" in first
    assert sorted(m for m in NOT_FOR_TABLES_RERUN if m in rerun) == []
    assert (tmp_path / "run" / "coverage.csv").is_file() and not (tmp_path / "run" / "map.html").exists()


def test_propose_solves_with_highspy_without_importing_scipy_optimize(monaco_scenario, tmp_path):
    toml, env = monaco_scenario
    out = tmp_path / "proposal"
    command = ["propose", str(toml), "--out", str(out), "--grid-spacing", "300", "--k", "2"]
    modules = imported_by([*command, "--no-map", "--no-report", "--no-ledger", "--lang", "en"], env)
    assert "highspy" in modules
    assert "scipy.optimize" not in modules
    assert Path(out / "proposed_sites.csv").is_file()
