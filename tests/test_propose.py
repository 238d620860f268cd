"""Proposing new sites: exact MILP (HiGHS) against spopt, greedy against exact, existing sites kept."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from real_places import write_osm_scenario
from scipy import sparse
from typer.testing import CliRunner

from coverage_planner import snap_points
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.cli import app
from coverage_planner.plan.models import LSCP, MCLP, PMedian, ProposalError

THRESHOLD_M = 600.0


def instance(network, n_cand=80, n_demand=300, seed=0):
    """Candidates and demand on real nodes of the main component; the first 3 candidates are existing sites."""
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(network.component == 0)
    cand = snap_points(network, network.node_lonlat[rng.choice(nodes, n_cand, replace=False)])
    demand = snap_points(network, network.node_lonlat[rng.choice(nodes, n_demand, replace=False)])
    matrix = AccessMatrix.compute(network, cand, demand, 2 * THRESHOLD_M)
    weights = rng.integers(1, 6, n_demand).astype(float)
    return matrix, weights


def spopt_objective(kind, matrix, weights, n_existing, k=None):
    pytest.importorskip("spopt")
    import pulp
    from spopt.locate import LSCP as SpoptLSCP
    from spopt.locate import MCLP as SpoptMCLP

    cost = np.full(matrix.shape, 1e7)
    cost[matrix.rows, matrix.cols] = matrix.metres
    cost = cost.T  # spopt wants demand × facility
    predefined = np.zeros(matrix.shape[0], dtype=int)
    predefined[:n_existing] = 1
    solver = pulp.PULP_CBC_CMD(msg=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "mclp":
            model = SpoptMCLP.from_cost_matrix(
                cost, weights, THRESHOLD_M, k + n_existing, predefined_facilities_arr=predefined
            ).solve(solver)
        else:
            coverable = (cost <= THRESHOLD_M).any(axis=1)
            model = SpoptLSCP.from_cost_matrix(
                cost[coverable], THRESHOLD_M, predefined_facilities_arr=predefined
            ).solve(solver)
    return pulp.value(model.problem.objective)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("k", [3, 8])
def test_exact_mclp_objective_equals_spopt(name, k, request):
    matrix, weights = instance(request.getfixturevalue(name))
    ours = MCLP(matrix.covers(THRESHOLD_M), weights, 3, k).solve()
    assert ours.objective == pytest.approx(spopt_objective("mclp", matrix, weights, 3, k))
    assert ours.gap == pytest.approx(0.0, abs=1e-9) and ours.status == "optimal"


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_exact_lscp_uses_as_few_sites_as_spopt(name, request):
    matrix, weights = instance(request.getfixturevalue(name))
    ours = LSCP(matrix.covers(THRESHOLD_M), weights, 3).solve()
    # spopt counts every open facility, the 3 existing ones included.
    assert ours.objective + 3 == pytest.approx(spopt_objective("lscp", matrix, weights, 3))


def test_lscp_solution_covers_every_coverable_place(monaco):
    matrix, weights = instance(monaco)
    covers = matrix.covers(THRESHOLD_M)
    problem = LSCP(covers, weights, 3)
    chosen = problem.solve().chosen
    open_rows = np.concatenate([np.arange(3), 3 + chosen])
    covered = np.asarray(covers[open_rows].sum(axis=0)).ravel() > 0
    assert np.array_equal(covered, problem.coverable)
    assert len(problem.uncoverable) == int((~problem.coverable).sum())


@pytest.mark.parametrize("k", [2, 5, 10])
def test_greedy_never_beats_exact(monaco, k):
    matrix, weights = instance(monaco)
    covers = matrix.covers(THRESHOLD_M)
    mclp = MCLP(covers, weights, 3, k)
    assert mclp.solve("greedy").objective <= mclp.solve("exact").objective + 1e-9
    lscp = LSCP(covers, weights, 3)
    assert lscp.solve("greedy").objective >= lscp.solve("exact").objective
    median = PMedian(matrix.to_csr(), weights, 3, k)
    assert median.solve("greedy").objective >= median.solve("exact").objective - 1e-6


def test_existing_sites_stay_open_and_keep_their_coverage(liechtenstein):
    matrix, weights = instance(liechtenstein)
    covers = matrix.covers(THRESHOLD_M)
    median = PMedian(matrix.to_csr(), weights, 3, 4)
    solution = median.solve()
    from coverage_planner.plan.models import _median_cost

    assert solution.objective == pytest.approx(_median_cost(median, solution.chosen))
    mclp = MCLP(covers, weights, 3, 4)
    by_existing = float(weights[mclp.covered_by_existing].sum())
    assert mclp.solve().objective >= by_existing


def test_equal_candidates_resolve_to_the_lowest_index_every_time():
    # Two candidates cover exactly the same places: the lower index must win, in both methods.
    covers = sparse.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool))
    weights = np.array([1.0, 2.0, 2.0, 1.0])
    for _ in range(3):
        assert list(MCLP(covers, weights, 1, 1).solve().chosen) == [0]
        assert list(MCLP(covers, weights, 1, 1).solve("greedy").chosen) == [0]


def test_demand_weights_steer_the_choice():
    covers = sparse.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=bool))
    assert list(MCLP(covers, np.array([1.0, 1.0, 1.0]), 0, 1).solve().chosen) == [0]
    assert list(MCLP(covers, np.array([1.0, 1.0, 5.0]), 0, 1).solve().chosen) == [1]


def test_time_limit_returns_a_solution_with_its_gap(monaco):
    matrix, weights = instance(monaco, n_cand=150, n_demand=600)
    solution = PMedian(matrix.to_csr(), weights, 3, 10).solve(time_limit=0.5)
    assert len(solution.chosen) == 10 and solution.gap >= 0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c, w: MCLP(c, w, 3, 500), "only"),
        (lambda c, w: MCLP(c, w, 3, -1), "k must be"),
        (lambda c, w: LSCP(c, w, 3, target_share=1.5), "target_share"),
        (lambda c, w: MCLP(c[:3], w, 3, 1), "no candidate"),
    ],
)
def test_bad_requests_are_clear_errors(monaco, make, message):
    matrix, weights = instance(monaco)
    with pytest.raises(ProposalError, match=message):
        make(matrix.covers(THRESHOLD_M), weights)


def test_propose_then_add_site_reaches_the_promised_coverage(tmp_path):
    toml = write_osm_scenario(tmp_path / "in", raw_file("monaco.osm.pbf"), n_sites=5, n_demand=400, threshold_min=5)
    runner = CliRunner()
    result = runner.invoke(
        app, ["propose", str(toml), "--out", str(tmp_path / "p"), "--k", "4", "--grid-spacing", "250"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "p" / "proposal.json").read_text(encoding="utf-8"))
    proposed = pd.read_csv(tmp_path / "p" / "proposed_sites.csv", encoding="utf-8-sig")
    assert len(proposed) == 4 and set(proposed["status"]) == {"proposed"}
    assert summary["exact"]["objective"] >= summary["greedy"]["objective"]
    # The map stars the 4 proposed sites among the 5 existing ones; the report compares before and after.
    page = (tmp_path / "p" / "map.html").read_text(encoding="utf-8")
    assert page.count("cp-site cp-proposed") == 4 and page.count("cp-site cp-existing") == 5
    report = (tmp_path / "p" / "report.md").read_text(encoding="utf-8")
    assert f"**{summary['share_after']:.1%}**" in report  # the headline is the run with the proposed sites
    before, after = (re.escape(f"{summary[k]:.1%}") for k in ("share_before", "share_after"))
    assert re.search(rf"\|\s*{before}\s*\|\s*{after}\s*\|", report)
    added = runner.invoke(
        app,
        [
            "add-site",
            str(toml),
            "--from",
            str(tmp_path / "p" / "proposed_sites.csv"),
            "--out",
            str(tmp_path / "after"),
            "-q",
        ],
    )
    assert added.exit_code == 0, added.output
    after = json.loads((tmp_path / "after" / "manifest.json").read_text(encoding="utf-8"))
    assert after["results"]["share_weight"] == pytest.approx(summary["share_after"], abs=1e-6)
    assert "proposed" in set(pd.read_csv(toml.parent / "sites.csv")["status"].dropna())


def test_propose_sites_with_pcenter_returns_k_labelled_sites(monaco):
    import geopandas as gpd
    from real_places import osm_place_frames

    from coverage_planner import propose_sites
    from coverage_planner.plan.candidates import candidates_on_grid

    sites, demand = osm_place_frames(raw_file("monaco.osm.pbf"), n_sites=3, n_demand=200)
    to_gdf = lambda f: gpd.GeoDataFrame(f, geometry=gpd.points_from_xy(f.lon, f.lat), crs=4326)  # noqa: E731
    proposal = propose_sites(
        monaco, to_gdf(sites), to_gdf(demand), candidates_on_grid(monaco, 300), method="pcenter", k=3, threshold_min=10
    )
    assert len(proposal.sites) == 3 and set(proposal.sites["status"]) == {"proposed"}
    assert proposal.exact.objective <= proposal.greedy.objective + 1e-6
