"""Two-step floating catchment, equity summaries, Gini and priorities (coverage_planner.plan.accessibility).

2SFCA and its Gaussian and enhanced variants are checked against PySAL
``access`` on the same network walks; Gini against the pairwise definition;
the equity table against direct computations on the result.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from real_places import osm_place_frames

import coverage_planner as cp
from coverage_planner.plan.accessibility import (
    equity_summary,
    gini,
    priority_weights,
    supply_demand_ratios,
    two_stage_fca,
    weighted_quantile,
)


def _gdf(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)


@pytest.fixture(scope="module")
def result(monaco):
    sites, demand = osm_place_frames(raw_file("monaco.osm.pbf"), n_sites=40, n_demand=300, seed=11)
    rng = np.random.default_rng(2)
    demand["weight"] = rng.integers(1, 30, len(demand)).astype(float)
    demand["key_targets"] = rng.integers(0, 4, len(demand)).astype(float)
    demand["community_class"] = rng.choice(["创新型", "发展型", "强基型"], len(demand))
    sites["capacity"] = rng.integers(1, 15, len(sites)).astype(float)
    return cp.compute_coverage(monaco, _gdf(sites), _gdf(demand), threshold_min=10)


def _pysal(result, weight_fn, enhanced=False):
    """PySAL access on the result's own walks (minutes), supply = capacity, demand = weight."""
    access = pytest.importorskip("access")
    m = result.matrix
    mpm = result.metres_per_minute
    cost = pd.DataFrame({"origin": m.demand_ids[m.cols], "dest": m.site_ids[m.rows], "cost": m.metres / mpm})
    demand = pd.DataFrame({"pop": result.demand["weight"].to_numpy()}, index=result.demand["demand_id"].to_numpy())
    demand.index.name = "geoid"
    supply = pd.DataFrame({"cap": result.sites["capacity"].to_numpy()}, index=result.sites["id"].to_numpy())
    supply.index.name = "geoid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = access.Access(
            demand_df=demand,
            demand_index=True,
            demand_value="pop",
            supply_df=supply,
            supply_index=True,
            supply_value="cap",
            cost_df=cost,
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )
        run = model.enhanced_two_stage_fca if enhanced else model.two_stage_fca
        out = run(name="x", max_cost=result.threshold_min, weight_fn=weight_fn)
    return out["x_cap"].reindex(result.demand["demand_id"]).fillna(0.0).to_numpy()


def test_2sfca_equals_pysal_access(result):
    ours = two_stage_fca(result)
    theirs = _pysal(result, None)
    assert (theirs > 0).sum() > 20  # a real catchment structure, not all zero
    assert np.allclose(ours["access"], theirs, rtol=1e-12, atol=1e-15)
    region = result.sites["capacity"].sum() / result.demand["weight"].sum()
    assert np.allclose(ours["access_index"], ours["access"] / region)
    # Step 1 per site: supply over the demand within its catchment.
    ratios = supply_demand_ratios(result)
    m = result.matrix
    inside = m.metres <= result.threshold_m
    seen = np.bincount(m.rows[inside], weights=result.demand["weight"].to_numpy()[m.cols[inside]], minlength=m.shape[0])
    assert np.allclose(ratios["demand_in_catchment"], seen)


def test_gaussian_2sfca_equals_pysal_with_the_same_weight(result):
    t0 = result.threshold_min

    def dai_gaussian(t):  # Dai (2010): 1 at the site, 0 at the catchment's edge
        return (np.exp(-0.5 * (t / t0) ** 2) - np.exp(-0.5)) / (1 - np.exp(-0.5))

    ours = two_stage_fca(result, method="gaussian")
    assert np.allclose(ours["access"], _pysal(result, dai_gaussian), rtol=1e-10, atol=1e-15)


def test_e2sfca_equals_pysal_with_three_zones(result):
    access = pytest.importorskip("access")
    t0 = result.threshold_min
    steps = access.weights.step_fn({t0 / 3: 1.0, 2 * t0 / 3: 0.68, t0: 0.22})
    ours = two_stage_fca(result, method="e2sfca")
    assert np.allclose(ours["access"], _pysal(result, steps, enhanced=True), rtol=1e-10, atol=1e-15)
    # Custom zones in minutes reach the same answer.
    custom = two_stage_fca(result, method="e2sfca", zones_min=[(t0 / 3, 1.0), (2 * t0 / 3, 0.68), (t0, 0.22)])
    assert np.allclose(custom["access"], ours["access"])


def test_catchment_and_inputs_are_checked(result):
    with pytest.raises(cp.DataError, match="search limit"):
        two_stage_fca(result, catchment_m=result.matrix.cutoff_m + 1)
    with pytest.raises(cp.DataError, match="method"):
        two_stage_fca(result, method="3sfca")
    with pytest.raises(cp.DataError, match="no capacity column 'beds'"):
        two_stage_fca(result, supply="beds")
    with pytest.raises(cp.DataError, match="ascending"):
        two_stage_fca(result, method="e2sfca", zones_min=[(5, 1.0), (3, 0.5)])
    # One supply for every site works without a column.
    same = two_stage_fca(result, supply=1.0)
    assert same["access"].max() > 0


# -------------------------------------------------------------------- gini
def _gini_pairs(x, w):
    total = sum(wi * wj * abs(xi - xj) for (xi, wi), (xj, wj) in itertools.product(zip(x, w), repeat=2))
    return total / (2 * sum(w) ** 2 * (np.dot(w, x) / sum(w)))


@pytest.mark.parametrize("seed", range(5))
def test_gini_equals_the_pairwise_definition(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 20, 40).astype(float)  # ties on purpose
    w = rng.random(40)
    assert gini(x, w) == pytest.approx(_gini_pairs(x, w), rel=1e-12)
    assert gini(x) == pytest.approx(_gini_pairs(x, np.ones(40)), rel=1e-12)


def test_gini_extremes_and_errors():
    assert gini([3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    assert np.isnan(gini([0, 0]))
    with pytest.raises(cp.DataError):
        gini([1, -2])
    with pytest.raises(cp.DataError):
        gini([1, 2], [1])


def test_weighted_quantile_with_unit_weights_is_the_inverted_cdf():
    x = np.random.default_rng(0).random(101)
    for q in (0.1, 0.5, 0.9):
        assert weighted_quantile(x, np.ones_like(x), q) == pytest.approx(np.quantile(x, q, method="inverted_cdf"))


# ------------------------------------------------------------------ equity
def test_equity_summary_by_grade_and_weighting(result):
    table = equity_summary(result, group="community_class", weight={"all": "weight", "key": "key_targets"})
    assert set(table["weighting"]) == {"all", "key"}
    assert set(table["group"]) == {"all", "创新型", "发展型", "强基型"}
    d = result.demand
    _, metres = result.matrix.nearest()
    minutes = np.where(np.isfinite(metres), metres, result.matrix.cutoff_m) / result.metres_per_minute
    for _, row in table.iterrows():
        mask = np.ones(len(d), bool) if row["group"] == "all" else (d["community_class"] == row["group"]).to_numpy()
        w = d["weight" if row["weighting"] == "all" else "key_targets"].to_numpy(float)[mask]
        covered = d["covered"].to_numpy(bool)[mask]
        assert row["places"] == mask.sum()
        assert row["covered_share"] == pytest.approx(w[covered].sum() / w.sum())
        assert row["mean_walk_min"] == pytest.approx(np.dot(w, minutes[mask]) / w.sum())
        assert row["gini_walk"] == pytest.approx(_gini_pairs(minutes[mask], w), rel=1e-9)
        assert row["beyond_search_share"] == pytest.approx(w[~np.isfinite(metres[mask])].sum() / w.sum())
    # The walk minutes agree with the coverage table where a site is in reach.
    reach = np.isfinite(metres)
    assert np.allclose(minutes[reach], d["walk_min"].to_numpy(float)[reach], atol=0.006)


def test_equity_summary_of_other_walks(result):
    walks = np.full(len(result.demand), 100.0)
    table = equity_summary(result, walk_m=walks)
    assert table["gini_walk"].iloc[0] == 0.0 and table["covered_share"].iloc[0] == 1.0
    with pytest.raises(cp.DataError, match="no column 'grade'"):
        equity_summary(result, group="grade")


# --------------------------------------------------------------- priority
def test_priority_weights_raise_the_chosen_grade(result):
    w = priority_weights(result.demand, factors={"强基型": 2.0})
    strong = (result.demand["community_class"] == "强基型").to_numpy()
    base = result.demand["weight"].to_numpy(float)
    assert np.allclose(w[strong], 2 * base[strong]) and np.allclose(w[~strong], base[~strong])
    # Usable as proposal weights: the MCLP then values 强基型 places double.
    pool = cp.build_candidates(result, grid_spacing=500)
    weighted = replace(result, demand=result.demand.assign(weight=w))
    proposal = cp.propose_sites(weighted, pool, method="mclp", k=2)
    after = proposal.after.demand
    assert proposal.exact.objective == pytest.approx(float(w[after["covered"].to_numpy(bool)].sum()))
    with pytest.warns(UserWarning, match="强基"):
        priority_weights(result.demand, factors={"强基": 2.0})
    with pytest.raises(cp.DataError, match="≥ 0"):
        priority_weights(result.demand, factors={"强基型": -1.0})
    with pytest.raises(cp.DataError, match="no column"):
        priority_weights(result.demand.drop(columns="community_class"))
