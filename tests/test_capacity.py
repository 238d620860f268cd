"""Capacitated allocation, capacitated p-median and spreading the volunteer pool (coverage_planner.plan.capacity).

Checked on a real Monaco extract: assignments against the walk matrix and
the capacities, the exact objectives against independent formulations
(spopt's capacitated p-median, and a plain MILP in PuLP/CBC), the pool
split against brute force.
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
from coverage_planner.plan.capacity import allocate_capacity, site_capacities, spread_volunteers

# PuLP 3.3 announces its 4.0 API on every variable; the reference models use the current one.
pytestmark = pytest.mark.filterwarnings("ignore:.*PuLP 4.0:DeprecationWarning")


def _gdf(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)


@pytest.fixture(scope="module")
def capacity_result(monaco):
    sites, demand = osm_place_frames(raw_file("monaco.osm.pbf"), n_sites=40, n_demand=220, seed=7)
    rng = np.random.default_rng(5)
    demand["weight"] = rng.integers(1, 10, len(demand)).astype(float)
    sites["capacity"] = rng.integers(4, 25, len(sites)).astype(float)
    return cp.compute_coverage(monaco, _gdf(sites), _gdf(demand), threshold_min=10)


@pytest.fixture(scope="module")
def pool(capacity_result):
    grid = cp.build_candidates(capacity_result, grid_spacing=600)
    # Every fourth candidate has its own capacity; the others take the default.
    grid["capacity"] = [float(10 + i % 7) if i % 4 == 0 else np.nan for i in range(len(grid))]
    return grid


def _pairs(result, candidates=None):
    """Dense walk metres sites (then candidates) × places from the matrices, inf where absent."""
    m = result.matrix
    dense = np.full(m.shape, np.inf)
    dense[m.rows, m.cols] = m.metres
    if candidates is None:
        return dense
    snap = cp.snap_points(result.network, np.column_stack([candidates.geometry.x, candidates.geometry.y]))
    walks = cp.AccessMatrix.compute(result.network, snap, result.demand_snap, m.cutoff_m)
    extra = np.full(walks.shape, np.inf)
    extra[walks.rows, walks.cols] = walks.metres
    return np.vstack([dense, extra])


# ------------------------------------------------------------ feasibility
@pytest.mark.parametrize("method", ["max_coverage", "pmedian"])
def test_assignments_stay_within_capacity_and_reach_checked_against_the_matrix(capacity_result, method):
    allocation = allocate_capacity(capacity_result, method=method)
    dense = _pairs(capacity_result)
    caps = capacity_result.sites["capacity"].to_numpy(float)
    row_of = {sid: i for i, sid in enumerate(capacity_result.sites["id"].astype(str))}
    loads = capacity_result.demand["weight"].to_numpy(float)
    for solution in (allocation.exact, allocation.greedy):
        used = np.zeros(len(caps))
        for place, site_id in enumerate(solution.site_ids):
            if site_id is None:
                continue
            j = row_of[site_id]
            assert dense[j, place] <= allocation.reach_m  # assigned only within reach
            used[j] += loads[place]
        assert (used <= caps + 1e-9).all()
    # The table shows the walk of the assigned pair, in metres and minutes.
    table = allocation.assignment[allocation.assignment["assigned"]]
    for place, row in table.iterrows():
        assert row["walk_m"] == pytest.approx(dense[row_of[row["site_id"]], place], abs=0.051)
        assert row["walk_min"] == pytest.approx(row["walk_m"] / capacity_result.metres_per_minute, abs=0.01)
    # Capacities bind on this instance: some reachable load is left for want of room.
    assert allocation.summary()["unserved_capacity_load"] > 0


def test_by_site_table_adds_up(capacity_result):
    allocation = allocate_capacity(capacity_result)
    a, by_site = allocation.assignment, allocation.by_site.set_index("site_id")
    served = a[a["assigned"]]
    assert by_site["places"].sum() == len(served)
    assert np.allclose(
        by_site["load"].to_numpy(), served.groupby("site_id")["load"].sum().reindex(by_site.index, fill_value=0)
    )
    assert np.allclose(by_site["spare"], by_site["capacity"] - by_site["load"])
    assert not by_site["over"].any()
    # The uncapacitated baseline: every covered place to its nearest site, some of which are then over.
    d = capacity_result.demand
    nearest = d[d["covered"]].groupby("nearest_site_id")["weight"].sum()
    assert np.allclose(by_site["nearest_load"], nearest.reindex(by_site.index, fill_value=0))
    assert (by_site["nearest_load"] > by_site["capacity"]).any()
    s = allocation.summary()
    assert s["assigned_load"] + s["unserved_capacity_load"] + s["unreachable_load"] == pytest.approx(s["total_load"])


# ------------------------------------------------------ exact = independent
def _pulp_max_coverage(dense, loads, caps, reach, n_existing, k):
    """The capacitated max-coverage model written out in PuLP (dense variables), solved by CBC."""
    import pulp

    n_sites, n_places = dense.shape
    prob = pulp.LpProblem("capacitated_mclp", pulp.LpMaximize)
    z = {
        (j, i): pulp.LpVariable(f"z_{j}_{i}", cat="Binary")
        for j in range(n_sites)
        for i in range(n_places)
        if dense[j, i] <= reach
    }
    x = {j: pulp.LpVariable(f"x_{j}", cat="Binary") for j in range(n_existing, n_sites)}
    prob += pulp.lpSum(loads[i] * v for (j, i), v in z.items())
    for i in range(n_places):
        mine = [v for (j, ii), v in z.items() if ii == i]
        if mine:
            prob += pulp.lpSum(mine) <= 1
    for j in range(n_sites):
        mine = [(i, v) for (jj, i), v in z.items() if jj == j]
        if mine:
            prob += pulp.lpSum(loads[i] * v for i, v in mine) <= caps[j] * (x[j] if j in x else 1)
    if x:
        prob += pulp.lpSum(x.values()) <= k
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    return pulp.value(prob.objective)


@pytest.mark.parametrize("k", [0, 2])
def test_max_coverage_objective_equals_a_plain_milp(capacity_result, pool, k):
    pytest.importorskip("pulp")
    candidates = pool if k else None
    allocation = allocate_capacity(capacity_result, candidates=candidates, k=k or None, default_capacity=12)
    dense = _pairs(capacity_result, pool if k else None)
    caps = capacity_result.sites["capacity"].to_numpy(float)
    if k:
        caps = np.concatenate([caps, pool["capacity"].fillna(12).to_numpy(float)])
    loads = capacity_result.demand["weight"].to_numpy(float)
    theirs = _pulp_max_coverage(dense, loads, caps, capacity_result.threshold_m, len(capacity_result.sites), k)
    assert allocation.exact.status == "optimal" and allocation.exact.gap == 0
    assert allocation.exact.objective == pytest.approx(theirs)
    assert allocation.summary()["assigned_load"] == pytest.approx(theirs)
    assert allocation.greedy.objective <= allocation.exact.objective + 1e-9
    if k:
        opened = allocation.by_site[allocation.by_site["status"] == "proposed"]
        assert 1 <= len(opened) <= k
        # Each opened candidate carries its own capacity, or the default where it had none.
        own = pool.set_index("id")["capacity"].fillna(12)
        assert np.allclose(opened["capacity"], own.loc[opened["site_id"]].to_numpy())


def test_capacitated_pmedian_objective_equals_spopt(capacity_result):
    pytest.importorskip("spopt")
    import pulp
    from spopt.locate import PMedian as SpoptPMedian

    # Reach = the threshold keeps spopt's dense model small enough for CBC; capacities still bind.
    reach = capacity_result.threshold_m
    allocation = allocate_capacity(capacity_result, method="pmedian", reach_m=reach)
    assert allocation.summary()["unserved_capacity_load"] > 0
    full = capacity_result.matrix
    m = full.take_sites(np.arange(full.shape[0]))
    keep = m.metres <= reach
    m.rows, m.cols, m.metres = m.rows[keep], m.cols[keep], m.metres[keep]
    penalty = allocation.penalty_m
    loads = capacity_result.demand["weight"].to_numpy(float)
    caps = capacity_result.sites["capacity"].to_numpy(float)
    # spopt must assign everyone: an extra always-open "unserved" facility at the penalty walk absorbs the rest.
    places = np.flatnonzero(np.bincount(m.cols, minlength=m.shape[1]) > 0)
    sites = np.unique(m.rows)
    cost = np.full((len(places), len(sites) + 1), 10 * penalty)
    p_at, s_at = {p: i for i, p in enumerate(places)}, {s: i for i, s in enumerate(sites)}
    for r, c, metres in zip(m.rows, m.cols, m.metres):
        cost[p_at[c], s_at[r]] = metres
    cost[:, -1] = penalty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SpoptPMedian.from_cost_matrix(
            cost,
            loads[places],
            p_facilities=len(sites) + 1,
            predefined_facilities_arr=np.arange(len(sites) + 1),
            facility_capacities=np.r_[caps[sites], loads.sum()],
        ).solve(pulp.PULP_CBC_CMD(msg=False))
    unreached = np.setdiff1d(np.arange(m.shape[1]), places)
    theirs = pulp.value(model.problem.objective) + penalty * loads[unreached].sum()
    assert allocation.exact.objective == pytest.approx(theirs, rel=1e-9)
    assert allocation.greedy.objective >= allocation.exact.objective - 1e-6
    # The gap of greedy is measured against HiGHS's proven bound.
    g = allocation.greedy
    assert g.gap == pytest.approx(abs(g.bound - g.objective) / g.objective)


def test_pmedian_with_candidates_opens_at_most_k_and_beats_no_new_site(capacity_result, pool):
    without = allocate_capacity(capacity_result, method="pmedian")
    withk = allocate_capacity(capacity_result, method="pmedian", candidates=pool, k=2, default_capacity=12)
    assert withk.exact.objective <= without.exact.objective + 1e-6
    assert len(withk.exact.opened) <= 2
    assert set(withk.summary()["opened"]) <= set(pool["id"])


# ------------------------------------------------------------ other views
def test_by_group_and_links(capacity_result):
    grade = np.where(np.arange(len(capacity_result.demand)) % 3 == 0, "强基型", "发展型")
    result = replace(capacity_result, demand=capacity_result.demand.assign(community_class=grade))
    allocation = allocate_capacity(result)
    groups = allocation.by_group().set_index("group")
    a = allocation.assignment
    assert list(a["community_class"]) == list(grade)
    assert groups.loc["all", "assigned_load"] == pytest.approx(a.loc[a["assigned"], "load"].sum())
    strong = a[grade == "强基型"]
    assert groups.loc["强基型", "assigned_load"] == pytest.approx(strong.loc[strong["assigned"], "load"].sum())
    assert groups.loc["强基型", "places"] + groups.loc["发展型", "places"] == len(a)
    links = allocation.links()
    assert len(links) == int(a["assigned"].sum()) and links.geom_type.eq("LineString").all()
    # Each link joins the place to its assigned site.
    first = links.iloc[0]
    place = result.demand.set_index("demand_id").geometry.loc[first["demand_id"]]
    site = result.sites.set_index("id").geometry.loc[first["site_id"]]
    assert first.geometry.coords[0] == pytest.approx(place.coords[0]) and first.geometry.coords[-1] == pytest.approx(
        site.coords[0]
    )


def test_capacity_read_from_a_chinese_header_and_blank_cells(capacity_result):
    sites = capacity_result.sites[["id", "name"]].assign(容量=["12", "", *["8"] * (len(capacity_result.sites) - 2)])
    values = site_capacities(sites, default=5)
    assert values[:3].tolist() == [12.0, 5.0, 8.0]


# ------------------------------------------------------------------ errors
def test_bad_requests_give_clear_errors(capacity_result, pool):
    r = capacity_result
    no_caps = r.sites.drop(columns="capacity")
    with pytest.raises(cp.DataError, match="no capacity column"):
        site_capacities(no_caps)
    bad = r.sites.assign(capacity=np.r_[-1.0, r.sites["capacity"].to_numpy()[1:]])
    with pytest.raises(cp.DataError, match=f"site '{r.sites['id'].iloc[0]}'.*negative"):
        site_capacities(bad)
    with pytest.raises(cp.DataError, match="not a number"):
        site_capacities(r.sites.assign(capacity=["ten"] + [1] * (len(r.sites) - 1)))
    with pytest.raises(cp.DataError, match="blank"):
        site_capacities(r.sites.assign(capacity=[None] + [1] * (len(r.sites) - 1)))
    with pytest.raises(cp.DataError, match="no load column 'key_targets'"):
        allocate_capacity(r, load="key_targets")
    with pytest.raises(cp.ProblemError, match="method"):
        allocate_capacity(r, method="fastest")
    with pytest.raises(cp.ProblemError, match="without k"):
        allocate_capacity(r, candidates=pool)
    with pytest.raises(cp.ProblemError, match="reach_m"):
        allocate_capacity(r, reach_m=r.matrix.cutoff_m * 2)
    with pytest.raises(cp.ProblemError, match="penalty_m"):
        allocate_capacity(r, method="pmedian", penalty_m=10)


# ------------------------------------------------------- the volunteer pool
def _ratio(load, volunteers):
    return 0.0 if load == 0 else (np.inf if volunteers == 0 else load / volunteers)


def _leximax_brute(loads, total, minimum):
    """Every split of ``total`` with the minimums; the one whose sorted ratios (worst first) are smallest."""
    best = None
    n = len(loads)
    for cut in itertools.combinations(range(total - minimum * n + n - 1), n - 1):
        parts = np.diff(np.r_[-1, cut, total - minimum * n + n - 1]) - 1 + minimum
        ratios = sorted((_ratio(loads[s], parts[s]) for s in range(n)), reverse=True)
        key = tuple(np.round(ratios, 12))
        if best is None or key < best:
            best = key
    return best


@pytest.mark.parametrize("seed", range(8))
def test_spread_volunteers_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    loads = rng.integers(0, 40, n).astype(float)
    loads[rng.random(n) < 0.2] = 0.0  # sites without load too
    total, minimum = int(rng.integers(n, 13)), int(rng.integers(0, 2))
    table = pd.DataFrame({"site_id": [f"s{i}" for i in range(n)], "load": loads})
    out = spread_volunteers(table, total, minimum=minimum)
    assert out["volunteers"].sum() == total and (out["volunteers"] >= minimum).all()
    ours = tuple(np.round(sorted(out["load_per_volunteer"], reverse=True), 12))
    assert ours == _leximax_brute(loads, total, minimum)


def test_spread_the_pool_of_561_over_an_allocation(capacity_result):
    allocation = allocate_capacity(capacity_result)
    out = spread_volunteers(allocation, 561, minimum=2, target=1.0)
    assert out["volunteers"].sum() == 561 and (out["volunteers"] >= 2).all()
    assert list(out["site_id"]) == list(allocation.by_site["site_id"])
    assert np.allclose(out["change"], out["volunteers"] - allocation.by_site["capacity"])
    assert (out["needed_for_target"] == np.maximum(2, np.ceil(out["load"]))).all()
    # Moving one volunteer between any two sites never lowers the worst load per volunteer.
    worst = out["load_per_volunteer"].max()
    v, L = out["volunteers"].to_numpy(), out["load"].to_numpy()
    for a, b in itertools.permutations(range(len(v)), 2):
        if v[a] > 2:
            w = v.copy()
            w[a] -= 1
            w[b] += 1
            assert (L / w).max() >= worst - 1e-12
    with pytest.raises(cp.ProblemError, match="minimum"):
        spread_volunteers(allocation, 10, minimum=1)
