"""Location models (coverage_planner.plan.models): exact equals spopt, greedy is a bound, rules on existing sites, ties, limits, errors.

Instances are real: candidate sites and demand places on nodes of the main
component of the Monaco and Liechtenstein OSM extracts, with walk distances
from `AccessMatrix`; the first three sites are existing ones.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pytest
from conftest import raw_file
from scipy import sparse

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian, ProblemError

RADIUS_M = 600.0  # coverage threshold
LIMIT_M = 1200.0  # search limit of the matrix
N_EXISTING = 3
EXTRACTS = {"monaco": "monaco.osm.pbf", "liechtenstein": "liechtenstein-2013-08-03.osm.pbf"}


@cache
def network(name: str) -> WalkNetwork:
    return WalkNetwork.from_file(raw_file(EXTRACTS[name]))


@cache
def instance(
    name: str = "monaco", n_sites: int = 60, n_demand: int = 300, seed: int = 0
) -> tuple[AccessMatrix, np.ndarray]:
    """(matrix of sites × places within LIMIT_M, integer weights 1..5); sites and places on distinct real nodes."""
    net = network(name)
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(net.component == 0)
    sites = snap_points(net, net.node_lonlat[rng.choice(nodes, n_sites, replace=False)])
    places = snap_points(net, net.node_lonlat[rng.choice(nodes, n_demand, replace=False)])
    ids = {
        "site_ids": np.array([f"s{i}" for i in range(n_sites)]),
        "demand_ids": np.array([f"d{i}" for i in range(n_demand)]),
    }
    matrix = AccessMatrix.compute(net, sites, places, LIMIT_M, progress=False, **ids)
    return matrix, rng.integers(1, 6, n_demand).astype(float)


def problem(kind: str, matrix: AccessMatrix, weights, **params):
    """One model from the matrix, existing = first N_EXISTING sites."""
    cls = {"lscp": LSCP, "mclp": MCLP, "pmedian": PMedian, "pcenter": PCenter}[kind]
    if kind in ("lscp", "mclp"):
        params.setdefault("service_radius", RADIUS_M)
    return cls.from_access(matrix, n_existing=N_EXISTING, weights=weights, **params)


def dense_cost(matrix: AccessMatrix, fill: float) -> np.ndarray:
    """Demand × sites walk metres (spopt's layout), ``fill`` where out of reach."""
    cost = np.full(matrix.shape, fill)
    cost[matrix.rows, matrix.cols] = np.minimum(matrix.metres, fill)
    return cost.T


def spopt_solve(make):
    pytest.importorskip("spopt")
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make().solve(pulp.PULP_CBC_CMD(msg=False))
    return pulp.value(model.problem.objective)


def predefined(matrix: AccessMatrix) -> np.ndarray:
    return (np.arange(matrix.shape[0]) < N_EXISTING).astype(int)


# ------------------------------------------------------------- exact = spopt
@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("k", [4, 10])
def test_exact_mclp_objective_equals_spopt(name, k):
    from spopt.locate import MCLP as SpoptMCLP

    matrix, weights = instance(name)
    ours = problem("mclp", matrix, weights, k=k).solve()
    theirs = spopt_solve(
        lambda: SpoptMCLP.from_cost_matrix(
            dense_cost(matrix, 1e9), weights, RADIUS_M, k + N_EXISTING, predefined_facilities_arr=predefined(matrix)
        )
    )
    assert ours.status == "optimal" and ours.gap == 0
    assert ours.objective == pytest.approx(theirs)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_exact_lscp_objective_equals_spopt(name):
    from spopt.locate import LSCP as SpoptLSCP

    matrix, weights = instance(name)
    ours = problem("lscp", matrix, weights)
    solution = ours.solve()
    cost = dense_cost(matrix, 1e9)
    coverable = (cost <= RADIUS_M).any(axis=1)  # spopt cannot leave a place uncovered
    theirs = spopt_solve(
        lambda: SpoptLSCP.from_cost_matrix(cost[coverable], RADIUS_M, predefined_facilities_arr=predefined(matrix))
    )
    assert solution.objective + N_EXISTING == pytest.approx(theirs)  # spopt counts existing sites too


def test_exact_pmedian_objective_equals_spopt():
    from spopt.locate import PMedian as SpoptPMedian

    matrix, weights = instance("monaco", n_sites=40, n_demand=150)
    ours = problem("pmedian", matrix, weights, k=5)
    solution = ours.solve()
    theirs = spopt_solve(
        lambda: SpoptPMedian.from_cost_matrix(
            dense_cost(matrix, ours.penalty_m), weights, 5 + N_EXISTING, predefined_facilities_arr=predefined(matrix)
        )
    )
    assert solution.objective == pytest.approx(theirs, rel=1e-9)


def test_exact_pcenter_objective_equals_spopt():
    from spopt.locate import PCenter as SpoptPCenter

    matrix, weights = instance("monaco", n_sites=40, n_demand=150)
    ours = problem("pcenter", matrix, weights, k=10)
    solution = ours.solve()
    cost = dense_cost(matrix, ours.penalty_m)[ours.coverable]  # uncoverable places are reported, not counted
    theirs = spopt_solve(
        lambda: SpoptPCenter.from_cost_matrix(cost, 10 + N_EXISTING, predefined_facilities_arr=predefined(matrix))
    )
    assert solution.objective < ours.penalty_m, "instance too small to test p-center beyond the penalty"
    assert solution.objective == pytest.approx(theirs, abs=1e-3)


def test_from_cost_matrix_gives_the_same_answer_as_from_access():
    matrix, weights = instance()
    cost = dense_cost(matrix, np.inf)
    a = problem("mclp", matrix, weights, k=6).solve()
    b = MCLP.from_cost_matrix(cost, n_existing=N_EXISTING, weights=weights, service_radius=RADIUS_M, k=6).solve()
    c = problem("pmedian", matrix, weights, k=6).solve()
    d = PMedian.from_cost_matrix(cost, n_existing=N_EXISTING, weights=weights, k=6, search_limit_m=LIMIT_M).solve()
    assert (a.objective, list(a.chosen)) == (b.objective, list(b.chosen))
    assert c.objective == pytest.approx(d.objective) and list(c.chosen) == list(d.chosen)


# --------------------------------------------------------------- greedy bound
@pytest.mark.parametrize("k", [2, 6, 12])
def test_greedy_mclp_never_covers_more_than_exact(k):
    mclp = problem("mclp", *instance(), k=k)
    greedy, exact = mclp.solve("greedy"), mclp.solve("exact")
    assert greedy.objective <= exact.objective
    assert greedy.bound >= exact.objective  # greedy's (1 - 1/e) bound is a true bound


def test_greedy_lscp_never_uses_fewer_sites_than_exact():
    lscp = problem("lscp", *instance())
    assert lscp.solve("greedy").objective >= lscp.solve("exact").objective


@pytest.mark.parametrize("kind", ["pmedian", "pcenter"])
def test_greedy_distance_models_never_beat_exact(kind):
    model = problem(kind, *instance(), k=8)
    assert model.solve("greedy").objective >= model.solve("exact").objective - 1e-6


# ------------------------------------------------------------ coverage rules
def test_lscp_answer_covers_every_coverable_place_in_the_matrix():
    matrix, weights = instance("liechtenstein")
    solution = problem("lscp", matrix, weights).solve()
    within = matrix.metres <= RADIUS_M
    open_rows = np.concatenate([np.arange(N_EXISTING), solution.selected])
    coverable = np.zeros(matrix.shape[1], dtype=bool)
    coverable[matrix.cols[within]] = True
    covered = np.zeros(matrix.shape[1], dtype=bool)
    covered[matrix.cols[within & np.isin(matrix.rows, open_rows)]] = True
    assert covered.sum() > 0 and np.array_equal(covered, coverable)


def test_lscp_lists_uncoverable_places_by_id_instead_of_failing():
    matrix, weights = instance()
    # A place with no pair at all (as off-network places are): uncoverable, never infeasible.
    far = AccessMatrix(
        matrix.site_ids,
        np.append(matrix.demand_ids, "far away"),
        matrix.rows,
        matrix.cols,
        matrix.metres,
        matrix.cutoff_m,
    )
    lscp = problem("lscp", far, np.append(weights, 1.0))
    solution = lscp.solve()
    assert "far away" in set(lscp.uncoverable_ids) and solution.status == "optimal"
    assert solution.objective == problem("lscp", *instance()).solve().objective


def test_lscp_target_share_covers_the_share_with_fewer_sites():
    matrix, weights = instance()
    full = problem("lscp", matrix, weights)
    part = problem("lscp", matrix, weights, target_share=0.8)
    all_sites, some_sites = full.solve(), part.solve()
    reachable = weights[part.coverable].sum()
    assert part.covered_weight(some_sites.chosen) >= 0.8 * reachable - 1e-9
    assert some_sites.objective < all_sites.objective


@pytest.mark.parametrize("kind", ["lscp", "mclp", "pmedian", "pcenter"])
def test_existing_sites_stay_open_and_are_never_selected(kind):
    matrix, weights = instance()
    model = problem(kind, matrix, weights, **({} if kind == "lscp" else {"k": 6}))
    solution = model.solve()
    assert not np.isin(solution.selected, np.arange(N_EXISTING)).any()
    # The objective counts the existing sites: closing them would change it.
    if kind == "mclp":
        assert (
            solution.objective == model.covered_weight(solution.chosen) >= weights[model.covered_by_existing].sum() > 0
        )
    if kind == "pmedian":
        without = PMedian.from_access(matrix, weights=weights, k=6).evaluate(model.candidates[solution.chosen])
        assert solution.objective < without


def test_mclp_spends_no_site_on_places_existing_sites_cover():
    matrix, weights = instance()
    mclp = problem("mclp", matrix, weights, k=len(problem("lscp", matrix, weights).solve().chosen) + 5)
    solution = mclp.solve()
    assert solution.objective == pytest.approx(weights[mclp.coverable].sum())
    assert len(solution.chosen) < mclp.k  # sites that would add nothing are not proposed


# ------------------------------------------------------------------- ties
@pytest.mark.parametrize("kind", ["lscp", "mclp", "pmedian", "pcenter"])
def test_same_input_twice_gives_the_same_answer(kind):
    params = {} if kind == "lscp" else {"k": 7}
    first = problem(kind, *instance(), **params).solve()
    second = problem(kind, *instance(), **params).solve()
    assert list(first.chosen) == list(second.chosen) and first.objective == second.objective


@pytest.mark.parametrize("kind", ["lscp", "mclp", "pmedian", "pcenter"])
@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_duplicated_candidates_resolve_to_the_lower_position(kind, method):
    matrix, weights = instance("monaco", n_sites=30, n_demand=200)
    n = matrix.shape[0]
    # Sites: existing, candidates, then the same candidates again (identical walks).
    again = matrix.rows >= N_EXISTING
    doubled = AccessMatrix(
        np.append(matrix.site_ids, matrix.site_ids[N_EXISTING:]),
        matrix.demand_ids,
        np.concatenate([matrix.rows, matrix.rows[again] + n - N_EXISTING]),
        np.concatenate([matrix.cols, matrix.cols[again]]),
        np.concatenate([matrix.metres, matrix.metres[again]]),
        matrix.cutoff_m,
    )
    solution = problem(kind, doubled, weights, **({} if kind == "lscp" else {"k": 5})).solve(method)
    assert len(solution.chosen) and (solution.chosen < n - N_EXISTING).all()


def test_two_identical_candidates_pick_the_first():
    covers = sparse.csr_matrix(np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]], dtype=bool))
    for method in ("exact", "greedy"):
        assert list(MCLP(covers, None, 1, 1).solve(method).chosen) == [0]
        assert list(LSCP(covers, None, 1).solve(method).chosen) == [0]


# ------------------------------------------------------------- time limit
def test_time_limit_returns_the_best_found_with_its_gap():
    matrix, weights = instance("monaco", n_sites=250, n_demand=1000)  # about 5 s to prove optimal
    model = problem("pmedian", matrix, weights, k=10)
    solution = model.solve(time_limit=0.2)
    greedy = model.solve("greedy")
    assert solution.status == "time_limit" and len(solution.chosen) == 10
    assert solution.bound <= solution.objective <= greedy.objective
    assert 0 < solution.gap < 1 and solution.solve_time_s < 5


# ---------------------------------------------------------------- weights
def test_demand_weights_steer_the_choice():
    matrix, _ = instance()
    flat = problem("mclp", matrix, None, k=1)
    first = flat.solve().chosen[0]
    # All weight on one place the first choice leaves uncovered but another candidate covers.
    reach = flat._cover.toarray().astype(bool)
    place = np.flatnonzero(~reach[first] & reach.any(axis=0) & ~flat.covered_by_existing)[0]
    heavy = np.ones(matrix.shape[1])
    heavy[place] = 1000.0
    steered = problem("mclp", matrix, heavy, k=1).solve()
    assert steered.chosen[0] != first and reach[steered.chosen[0], place]
    assert steered.objective >= 1000.0


def test_weights_scale_the_mclp_objective():
    matrix, weights = instance()
    once, thrice = problem("mclp", matrix, weights, k=5).solve(), problem("mclp", matrix, 3 * weights, k=5).solve()
    assert thrice.objective == pytest.approx(3 * once.objective) and list(thrice.chosen) == list(once.chosen)


# ---------------------------------------------------------------- ranking
def test_ranking_orders_new_sites_by_falling_marginal_gain():
    model = problem("mclp", *instance(), k=8)
    solution = model.solve()
    order, gains = model.ranking()
    assert sorted(order) == sorted(solution.chosen)
    assert np.all(np.diff(gains) <= 1e-9) and gains.sum() == pytest.approx(
        solution.objective - model.weights[model.covered_by_existing].sum()
    )


# --------------------------------------------------------------- penalties
def test_pmedian_charges_the_penalty_for_places_out_of_reach():
    matrix, weights = instance()
    model = problem("pmedian", matrix, weights, k=3, penalty_m=5000.0)
    walks = model.walks(model.solve().chosen)
    unreached = ~model.coverable
    assert unreached.any() and np.all(walks[unreached] == 5000.0) and np.all(walks[~unreached] <= 5000.0)


def test_pcenter_worst_walk_is_the_penalty_when_k_sites_cannot_reach_everyone():
    model = problem("pcenter", *instance(), k=1)
    solution = model.solve()
    assert solution.objective == model.penalty_m and len(solution.chosen) == 1


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda m, w: problem("mclp", m, w, k=58), "only 57 candidates"),
        (lambda m, w: problem("pmedian", m, w, k=-1), "k must be"),
        (lambda m, w: problem("pcenter", m, w, k=2.5), "k must be"),
        (lambda m, w: problem("mclp", m, w), "k, the number of new sites"),
        (lambda m, w: problem("lscp", m, w, target_share=0.0), "target_share"),
        (lambda m, w: problem("lscp", m, w, target_share=1.2), "target_share"),
        (lambda m, w: MCLP.from_access(m, n_existing=m.shape[0], weights=w, k=1), "no candidate sites"),
        (lambda m, w: problem("mclp", m, -w, k=1), "weights must be finite and ≥ 0"),
        (lambda m, w: problem("mclp", m, w[:-1], k=1), "one value per demand place"),
        (lambda m, w: MCLP.from_cost_matrix(np.ones((3, 4)), k=1), "needs service_radius"),
        (lambda m, w: problem("mclp", m, w, k=1).solve("fastest"), "method must be"),
        (lambda m, w: problem("mclp", m, w, k=1).solve(time_limit=0), "time_limit"),
    ],
)
def test_bad_requests_are_clear_errors(make, message):
    with pytest.raises(ProblemError, match=message):
        make(*instance())


# ------------------------------------------------------ reductions and tie-break
# The reductions (merged rows, dominated columns and rows) and the canonical
# tie-break are checked against direct computations: pairwise subset tests,
# MILPs built here on the full, unreduced data, brute force over every set
# of k candidates, and the generic tie-break of `LocationProblem`.
from itertools import combinations  # noqa: E402

from scipy.optimize import Bounds, LinearConstraint, milp  # noqa: E402

from coverage_planner.plan import _greedy, _milp  # noqa: E402
from coverage_planner.plan._location import LocationProblem  # noqa: E402


def pairwise_contained(A: sparse.csr_matrix) -> set[tuple[int, int]]:
    """(sub, sup) with ∅ ≠ cols(sub) ⊆ cols(sup), sub ≠ sup, by testing every pair of rows as Python sets."""
    rows = [
        set(A.indices[A.indptr[i] : A.indptr[i + 1]][A.data[A.indptr[i] : A.indptr[i + 1]] != 0])
        for i in range(A.shape[0])
    ]
    return {(a, b) for a in range(len(rows)) for b in range(len(rows)) if a != b and rows[a] and rows[a] <= rows[b]}


def random_01(rng, n_rows, n_cols, density) -> sparse.csr_matrix:
    A = sparse.random(n_rows, n_cols, density=density, format="csr", random_state=int(rng.integers(2**31)))
    A.data[:] = 1.0
    copies = A[rng.integers(0, n_rows, max(1, n_rows // 5))]  # identical rows
    return sparse.csr_matrix(sparse.vstack([A, copies])[rng.permutation(n_rows + copies.shape[0])])


def check_reductions(A: sparse.csr_matrix) -> None:
    size, pairs = np.diff(A.indptr), pairwise_contained(A)
    sub, sup = _milp.contained_pairs(A)
    assert set(zip(sub.tolist(), sup.tolist(), strict=True)) == pairs
    superset = np.zeros(A.shape[0], dtype=bool)
    for a, b in pairs:
        superset[b] |= size[b] > size[a] or a < b  # of identical rows the first stays
    assert np.array_equal(_milp.superset_rows(A), superset)
    T = sparse.csr_matrix(A.T)
    col_size, dominated = np.diff(T.indptr), np.diff(T.indptr) == 0
    for a, b in pairwise_contained(T):
        dominated[a] |= col_size[b] > col_size[a] or b < a
    assert np.array_equal(_milp.dominated_columns(A), dominated)
    first, group = _milp.dedupe_rows(A)
    keys = [tuple(A.indices[A.indptr[i] : A.indptr[i + 1]]) for i in range(A.shape[0])]
    seen: dict[tuple, int] = {}
    for key in keys:
        seen.setdefault(key, len(seen))
    assert [seen[key] for key in keys] == list(group)
    assert [keys.index(key) for key in seen] == list(first)


@pytest.mark.parametrize("seed", range(6))
def test_reductions_agree_with_a_pairwise_check_on_random_sparse_matrices(seed):
    rng = np.random.default_rng(seed)
    for _ in range(15):
        check_reductions(random_01(rng, int(rng.integers(1, 70)), int(rng.integers(1, 140)), rng.uniform(0.01, 0.5)))


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_reductions_agree_with_a_pairwise_check_on_real_cover_matrices(name):
    matrix, weights = instance(name, n_sites=80, n_demand=400)
    for radius in (300.0, RADIUS_M):
        lscp = problem("lscp", matrix, weights, service_radius=radius)
        cover = sparse.csr_matrix(lscp._cover.T)[lscp._need()]  # places × candidates, as the model reduces it
        assert cover.nnz and _milp.superset_rows(cover).any()
        check_reductions(cover)


def full_cover_optimum(model, kind: str) -> float:
    """LSCP / MCLP optimum from a MILP on the whole unreduced cover matrix (every place, every candidate)."""
    cover = model._cover.toarray().T  # places × candidates
    left = np.where(model.covered_by_existing, 0.0, model.weights)
    n_p, n_c = cover.shape
    if kind == "lscp":
        rows = (left > 0) & cover.any(axis=1)
        res = milp(
            np.ones(n_c),
            constraints=LinearConstraint(cover[rows], 1, np.inf),
            integrality=np.ones(n_c),
            bounds=Bounds(0, 1),
        )
        return float(res.fun)
    # max Σ left_i y_i, y_i ≤ Σ_j cover_ij x_j, Σ x ≤ k
    A = np.block([[-cover, np.eye(n_p)], [np.ones((1, n_c)), np.zeros((1, n_p))]])
    hi = np.append(np.zeros(n_p), model.k)
    res = milp(
        np.concatenate([np.zeros(n_c), -left]),
        constraints=LinearConstraint(A, -np.inf, hi),
        integrality=np.concatenate([np.ones(n_c), np.zeros(n_p)]),
        bounds=Bounds(0, 1),
    )
    return float(model.weights[model.covered_by_existing].sum() - res.fun)


def full_distance_optimum(matrix: AccessMatrix, weights, kind: str, k: int, penalty: float) -> float:
    """p-median / p-center optimum from an assignment MILP on every pair (no pair left out) plus the penalty."""
    cost = dense_cost(matrix, np.inf)
    place, site = np.nonzero(np.isfinite(cost))
    n_s, n_p, n_z = cost.shape[1], cost.shape[0], len(place)
    # variables: x (sites), z (pairs), u (unserved), D (p-center's worst walk)
    n = n_s + n_z + n_p + 1
    rows, cols, vals, lo, hi = [], [], [], [], []

    def row(cs, vs, low, high):
        rows.extend([len(lo)] * len(cs))
        cols.extend(cs)
        vals.extend(vs)
        lo.append(low)
        hi.append(high)

    for i in range(n_p):  # each place assigned once, or unserved
        zs = np.flatnonzero(place == i)
        row(list(n_s + zs) + [n_s + n_z + i], [1.0] * (len(zs) + 1), 1.0, 1.0)
        if kind == "pcenter" and weights[i] > 0 and (cost[i] <= LIMIT_M).any():
            row(list(n_s + zs) + [n_s + n_z + i, n - 1], list(cost[i, site[zs]]) + [penalty, -1.0], -np.inf, 0.0)
    for z in range(n_z):  # z ≤ x
        row([n_s + z, int(site[z])], [1.0, -1.0], -np.inf, 0.0)
    row(list(range(N_EXISTING, n_s)), [1.0] * (n_s - N_EXISTING), -np.inf, k)
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(len(lo), n))
    lower = np.zeros(n)
    lower[:N_EXISTING] = 1.0  # existing sites are open
    upper = np.ones(n)
    upper[-1] = np.inf
    if kind == "pmedian":
        c = np.concatenate([np.zeros(n_s), weights[place] * cost[place, site], weights * penalty, [0.0]])
    else:
        c = np.zeros(n)
        c[-1] = 1.0
    integrality = np.zeros(n)
    integrality[:n_s] = 1
    res = milp(c, constraints=LinearConstraint(A, lo, hi), integrality=integrality, bounds=Bounds(lower, upper))
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("kind", ["lscp", "mclp"])
def test_reduced_covering_models_reach_the_optimum_of_the_unreduced_milp(name, kind):
    matrix, weights = instance(name)
    for radius in (300.0, RADIUS_M):
        model = problem(kind, matrix, weights, service_radius=radius, **({"k": 6} if kind == "mclp" else {}))
        solution = model.solve()
        assert solution.status == "optimal"
        assert solution.objective == pytest.approx(full_cover_optimum(model, kind), rel=1e-9)
        assert solution.objective == model.evaluate(solution.chosen)


@pytest.mark.parametrize(
    "name, kind, k",
    [
        ("monaco", "pmedian", 4),
        ("liechtenstein", "pmedian", 4),
        ("monaco", "pcenter", 4),  # k sites cannot reach everyone: the penalty, then the most weight within reach
        ("monaco", "pcenter", 10),
        ("liechtenstein", "pcenter", 14),
    ],
)
def test_reduced_distance_models_reach_the_optimum_of_the_unreduced_milp(name, kind, k):
    matrix, weights = instance(name, n_sites=25, n_demand=120, seed=3)
    model = problem(kind, matrix, weights, k=k)
    solution = model.solve()
    expected = full_distance_optimum(matrix, weights, kind, k, model.penalty_m)
    assert solution.status == "optimal"
    assert solution.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("kind, k", [("lscp", None), ("mclp", 3), ("pmedian", 3), ("pcenter", 3), ("pcenter", 8)])
def test_exact_answers_equal_brute_force_over_every_set_of_candidates(kind, k):
    matrix, weights = instance("liechtenstein", n_sites=14, n_demand=150, seed=4)
    model = problem(kind, matrix, weights, **({} if kind == "lscp" else {"k": k}))
    solution = model.solve()
    n = len(model.candidates)
    cost = dense_cost(matrix, np.inf)
    cover = cost <= RADIUS_M
    best = None
    for size in range(n + 1 if kind == "lscp" else k + 1):
        for chosen in combinations(range(n), size):
            open_ = np.concatenate([np.arange(N_EXISTING), model.candidates[list(chosen)]]).astype(int)
            if kind in ("lscp", "mclp"):
                hit = cover[:, open_].any(axis=1)
                if kind == "lscp":
                    value = size if hit[cover.any(axis=1) & (weights > 0)].all() else np.inf
                else:
                    value = -weights[hit].sum()
            else:
                walk = np.minimum(cost[:, open_].min(axis=1), model.penalty_m)
                value = weights @ walk if kind == "pmedian" else walk[model.coverable & (weights > 0)].max()
            best = value if best is None else min(best, value)
        if kind == "lscp" and np.isfinite(best):
            break
    assert solution.objective == pytest.approx(abs(best) if kind == "mclp" else best, rel=1e-9)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("radius", [300.0, RADIUS_M, LIMIT_M])
@pytest.mark.parametrize("kind", ["lscp", "share", "mclp"])
def test_covering_tie_breaks_equal_the_generic_canonical_form_and_keep_the_optimum(name, radius, kind):
    matrix, weights = instance(name)
    params = {"lscp": {}, "share": {"target_share": 0.85}, "mclp": {"k": 8}}[kind]
    model = problem("mclp" if kind == "mclp" else "lscp", matrix, weights, service_radius=radius, **params)
    optimum = model.solve().objective
    rng = np.random.default_rng(7)
    found, _, _ = model._exact(None, 0.0)
    greedy = model._greedy_steps(None, None)[0]
    if kind == "mclp":  # any k sites, and the answer with two sites swapped for random ones
        extra = [rng.choice(len(model.candidates), 8, replace=False) for _ in range(3)]
        extra.append(np.concatenate([found[:-2], rng.choice(len(model.candidates), 2)]))
    else:  # covers with spare sites
        extra = [np.union1d(greedy, rng.choice(len(model.candidates), 15, replace=False)) for _ in range(4)]
    for start in [found, greedy, *extra]:
        fast = model._canonical(start)
        assert list(fast) == list(LocationProblem._canonical(model, start))  # the rule spelled out pair by pair
        assert model._canon_value(fast) <= model._canon_value(np.unique(start)) + 1e-9 * max(1.0, optimum)
    assert model.evaluate(model._canonical(found)) == pytest.approx(optimum, rel=1e-12)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("k", [4, 12, 30])  # k = 4: the penalty; 30: within reach of every place
def test_pcenter_tie_break_equals_the_generic_canonical_form(name, k):
    matrix, weights = instance(name, n_sites=60, n_demand=300)
    weights = np.where(np.arange(len(weights)) % 7 == 0, 0.0, weights)  # some places that do not count
    model = problem("pcenter", matrix, weights, k=k)
    rng = np.random.default_rng(k)
    found, _, _ = model._exact(None, 0.0)
    starts = [found, model._greedy_steps(None, None)[0], rng.choice(len(model.candidates), k, replace=False)]
    starts.append(np.concatenate([found[:-2], rng.choice(len(model.candidates), 2)]))
    for start in starts:
        fast = model._canonical(start)
        assert list(fast) == list(LocationProblem._canonical(model, start))
    assert model.evaluate(model._canonical(found)) == model.evaluate(found)


@pytest.mark.parametrize("kind, k", [("lscp", None), ("mclp", 5), ("pmedian", 5), ("pcenter", 5), ("pcenter", 15)])
def test_tie_break_keeps_the_primary_objective_of_the_milp_answer(kind, k):
    matrix, weights = instance("monaco", n_sites=40, n_demand=200)
    model = problem(kind, matrix, weights, **({} if kind == "lscp" else {"k": k}))
    found, _, status = model._exact(None, 0.0)
    solution = model.solve()
    assert status == solution.status == "optimal"
    assert solution.objective == pytest.approx(model.evaluate(found), rel=1e-9)


def test_stage_times_add_up_to_the_solve():
    solution = problem("lscp", *instance()).solve()
    stages = solution.stage_times_s
    assert set(stages) == {"reduce", "build", "highs", "tie_break", "other"}
    assert all(v >= 0 for v in stages.values()) and stages["highs"] > 0
    assert sum(stages.values()) == pytest.approx(solution.solve_time_s, rel=0.05, abs=1e-3)
    assert problem("lscp", *instance()).solve("greedy").stage_times_s == {}


# ------------------------------------------------ p-center shortcuts and greedy compaction
@pytest.mark.parametrize("name, k", [("monaco", 2), ("monaco", 12), ("liechtenstein", 3), ("liechtenstein", 30)])
def test_pcenter_answer_equals_the_full_bisection(name, k):
    """The penalty shortcut (one cover test at the longest walk, no greedy, no bisection) changes nothing.

    A time limit switches the shortcut off, so the same model solved with a
    huge one goes through greedy, every bisection step and the general
    tie-break; answer, bound and status must be the same.
    """
    matrix, weights = instance(name, n_sites=60, n_demand=300, seed=5)
    fast = problem("pcenter", matrix, weights, k=k).solve()
    full = problem("pcenter", matrix, weights, k=k).solve(time_limit=1e6)
    assert fast.status == full.status == "optimal"
    assert fast.objective == full.objective and fast.bound == full.bound
    assert np.array_equal(fast.chosen, full.chosen)


def test_pcenter_penalty_case_is_met_by_the_shortcut():
    # Monaco, 2 sites: no 2 new sites reach every place (checked by brute force over all pairs).
    matrix, weights = instance("monaco", n_sites=60, n_demand=300, seed=5)
    model = problem("pcenter", matrix, weights, k=2)
    assert model.solve().objective == model.penalty_m
    best = min(
        model.evaluate([a, b]) for a in range(len(model.candidates)) for b in range(a + 1, len(model.candidates))
    )
    assert best == model.penalty_m


def _greedy_reference(rows, cols, metres, current, weight, n, k, center):
    """Greedy p-median / p-center over all pairs every step, as the models describe it (no pair dropped)."""
    cur, allowed, chosen = current.copy(), np.ones(n, dtype=bool), []
    for _ in range(k):
        saving = np.bincount(rows, weights=weight[cols] * np.maximum(cur[cols] - metres, 0.0), minlength=n)
        if center:
            worst = cur.max(initial=0.0)
            after = np.empty(n)
            for j in range(n):  # the worst walk once j alone opens
                walks = cur.copy()
                np.minimum.at(walks, cols[rows == j], metres[rows == j])
                after[j] = walks.max(initial=0.0)
            score = (worst - after) + saving / (1.0 + saving.max(initial=0.0)) * 1e-3
        else:
            score = saving
        g = np.where(allowed, score, -np.inf)
        if not allowed.any() or g.max() <= 0:
            break
        j = int(np.flatnonzero(g >= g.max() - 1e-9 * max(1.0, abs(g.max())))[0])
        chosen.append(j)
        allowed[j] = False
        mine = rows == j
        np.minimum.at(cur, cols[mine], metres[mine])
    return np.array(chosen, dtype=np.int64)


@pytest.mark.parametrize("center", [False, True])
def test_greedy_that_drops_dead_pairs_picks_as_greedy_over_all_pairs(center):
    matrix, weights = instance("liechtenstein", n_sites=40, n_demand=200, seed=6)
    model = problem("pcenter", matrix, weights, k=6)
    current = np.where(model.coverable, model.walk_existing, 0.0)
    args = (model._p, model._d, model._m, current, weights, len(model.candidates))
    step = _greedy.greedy_center if center else _greedy.greedy_median
    got, _ = step(*args, k=6)
    assert len(got) == 6
    assert np.array_equal(got, _greedy_reference(*args, 6, center))


# The covering models work on bare CSR arrays (`_milp.Pattern`), merge identical
# rows before the classic LSCP tie-break and screen the MCLP / partial-cover
# tie-breaks for all open sites at once; each shortcut against the plain way.
def pattern_equals(P: _milp.Pattern, A) -> bool:
    A = sparse.csr_matrix(A)
    A.sort_indices()
    return P.shape == A.shape and np.array_equal(P.indptr, A.indptr) and np.array_equal(P.indices, A.indices)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_pattern_slices_and_transposes_equal_scipy_on_real_covers(name):
    matrix, weights = instance(name, n_sites=80, n_demand=400)
    rng = np.random.default_rng(3)
    for radius in (300.0, LIMIT_M):
        cover = problem("lscp", matrix, weights, service_radius=radius)._cover
        for A in (cover, sparse.csr_matrix(sparse.hstack([cover] * 60))):  # the second transposes through scipy
            P = _milp.Pattern.of(A)
            assert pattern_equals(P.T, A.T) and P.T.T is P
            rows = rng.integers(0, A.shape[0], 50)
            cols = np.flatnonzero(rng.random(A.shape[1]) < 0.4)
            assert pattern_equals(P.take_rows(rows), A[rows]) and pattern_equals(P.take_cols(cols), A[:, cols])
            assert pattern_equals(P.take_cols(cols).T, A[:, cols].T)  # made from P.T's rows
            assert (P.to_csr() != (A != 0)).nnz == 0
        rows = sparse.csr_matrix(cover.T)
        for kind in ("superset", "dominated"):  # a Pattern gives the same reductions as the scipy matrix
            f = _milp.superset_rows if kind == "superset" else _milp.dominated_columns
            assert np.array_equal(f(_milp.Pattern.of(rows)), f(rows))


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_coverage_program_rows_equal_the_stacked_matrices(name):
    from coverage_planner.plan._covering import _uncovered_rows

    matrix, weights = instance(name, n_sites=80, n_demand=400)
    model = problem("mclp", matrix, weights, k=5)
    A, w, keep = model._reduce(model._need())
    n_x, n_y = len(keep), A.shape[0]
    S = A.to_csr()
    for cols, values, last in [
        (np.arange(n_x), np.ones(n_x), np.concatenate([np.ones(n_x), np.zeros(n_y)])),
        (n_x + np.arange(n_y), w, np.concatenate([np.zeros(n_x), w])),
    ]:
        want = sparse.vstack([sparse.hstack([-S, sparse.identity(n_y)]), sparse.csr_matrix(last[None, :])]).tocsr()
        got = _uncovered_rows(A, cols, values)
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data)


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
def test_lscp_tie_break_on_merged_rows_equals_it_on_every_place(name):
    from coverage_planner.plan._covering import _canonical_cover

    matrix, weights = instance(name)
    model = problem("lscp", matrix, weights, service_radius=RADIUS_M)
    model.solve()
    need, merged = model._need_rows
    every = sparse.csr_matrix(model._cover.T)[need]  # places × candidates, identical rows kept
    assert merged.shape[0] < every.shape[0]  # there are identical rows to merge
    rng = np.random.default_rng(11)
    greedy = model._greedy_steps(None, None)[0]
    for start in [model.chosen, greedy, *(np.union1d(greedy, rng.choice(len(model.candidates), 12)) for _ in range(4))]:
        assert list(_canonical_cover(merged, start)) == list(_canonical_cover(every, start))


@pytest.mark.parametrize("name", ["monaco", "liechtenstein"])
@pytest.mark.parametrize("kind", ["share", "mclp"])
def test_screened_tie_breaks_equal_the_unscreened_ones(name, kind, monkeypatch):
    from coverage_planner.plan import _covering

    matrix, weights = instance(name)
    params = {"target_share": 0.85} if kind == "share" else {"k": 8}
    model = problem("mclp" if kind == "mclp" else "lscp", matrix, weights, **params)
    model.solve()
    rng = np.random.default_rng(5)
    starts = [model.chosen, model._greedy_steps(None, None)[0]]
    if kind == "mclp":
        starts += [rng.choice(len(model.candidates), 8, replace=False) for _ in range(4)]
    else:
        starts += [np.union1d(starts[1], rng.choice(len(model.candidates), 15)) for _ in range(4)]
    screened = [list(model._canonical(s)) for s in starts]
    monkeypatch.setattr(_covering, "MAX_SCREEN_CELLS", 0)  # no table: every site is examined
    assert [list(model._canonical(s)) for s in starts] == screened
    assert any(list(s) != c for s, c in zip(starts, screened, strict=True))  # the tie-break did change something


# ------------------------------------------------------------- the HiGHS call
# `_milp.solve` hands programs to HiGHS through highspy. Its answers are checked
# against `scipy.optimize.milp` (SciPy's own, separately built HiGHS) and against
# the constraints themselves; its statuses on programs whose answer is known.
def random_program(rng, n_rows: int, n_cols: int) -> _milp.Program:
    """A covering MILP with a budget row, some continuous columns and some upper bounds above 1."""
    A = sparse.random(n_rows, n_cols, density=0.2, format="csr", random_state=int(rng.integers(2**31)))
    A.data[:] = 1.0
    A = sparse.vstack([A, sparse.csr_matrix(rng.integers(1, 4, (1, n_cols)).astype(float))]).tocsr()
    row_lo = np.append(np.where(np.diff(A.indptr)[:-1] > 0, 1.0, -np.inf), -np.inf)
    row_hi = np.append(np.full(n_rows, np.inf), float(rng.integers(n_cols, 2 * n_cols)))
    integer = rng.random(n_cols) < 0.7
    upper = np.where(rng.random(n_cols) < 0.2, 2.0, 1.0)
    return _milp.Program(rng.integers(1, 9, n_cols).astype(float), A, row_lo, row_hi, integer, upper)


def scipy_optimum(program: _milp.Program):
    res = milp(
        program.c,
        constraints=LinearConstraint(program.A, program.row_lo, program.row_hi),
        integrality=program.integer.astype(int),
        bounds=Bounds(0, program.upper),
        options={"mip_rel_gap": 0.0},
    )
    return res


@pytest.mark.parametrize("seed", range(6))
def test_milp_solve_reaches_scipys_optimum_with_a_feasible_point(seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        program = random_program(rng, int(rng.integers(5, 40)), int(rng.integers(5, 30)))
        ours, theirs = _milp.solve(program), scipy_optimum(program)
        if theirs.status == 2:
            assert ours.status == "infeasible" and ours.x is None
            continue
        assert theirs.status == 0 and ours.status == "optimal"
        assert ours.value == pytest.approx(theirs.fun, rel=1e-9, abs=1e-9)
        assert ours.bound == pytest.approx(ours.value, rel=1e-9, abs=1e-9)
        x = ours.x
        assert np.all(x >= -1e-9) and np.all(x <= program.upper + 1e-9)
        assert np.array_equal(x[program.integer], np.round(x[program.integer]))
        ax = program.A @ x
        assert np.all(ax >= program.row_lo - 1e-7) and np.all(ax <= program.row_hi + 1e-7)
        assert ours.value == pytest.approx(float(program.c @ x))


def vertex_cover_of_a_cycle(n: int) -> _milp.Program:
    """Cover every edge of an n-cycle: the LP optimum is n/2 (all halves), the MILP's is ⌈n/2⌉."""
    rows = np.repeat(np.arange(n), 2)
    cols = np.ravel(np.column_stack([np.arange(n), (np.arange(n) + 1) % n]))
    A = sparse.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n))
    return _milp.Program(np.ones(n), A, np.ones(n), np.full(n, np.inf), np.ones(n, dtype=bool))


def test_milp_solve_goes_on_to_the_milp_when_the_lp_is_fractional():
    sol = _milp.solve(vertex_cover_of_a_cycle(7))
    assert sol.status == "optimal" and sol.value == 4.0 and sol.bound == 4.0
    assert set(np.unique(sol.x)) <= {0.0, 1.0} and sol.x.sum() == 4.0
    even = _milp.solve(vertex_cover_of_a_cycle(8))  # integral LP optimum: no MILP needed, bound from the LP
    assert even.status == "optimal" and even.value == 4.0 and even.bound == pytest.approx(4.0)


def test_milp_solve_reports_infeasible_programs():
    one = sparse.csr_matrix(np.array([[1.0, 1.0]]))
    lp_infeasible = _milp.Program(np.ones(2), one, np.array([3.0]), np.array([np.inf]), np.ones(2, dtype=bool))
    # 2x = 1: the LP has x = 1/2, no whole x does.
    only_half = _milp.Program(
        np.ones(1), sparse.csr_matrix(np.array([[2.0]])), np.array([1.0]), np.array([1.0]), np.ones(1, dtype=bool)
    )
    for program in (lp_infeasible, only_half):
        sol = _milp.solve(program)
        assert (sol.status, sol.x, sol.value, sol.bound) == ("infeasible", None, np.inf, np.inf)


def test_milp_solve_with_a_gap_stops_within_it_and_keeps_a_true_bound():
    rng = np.random.default_rng(3)
    statuses = []
    for _ in range(4):
        program = random_program(rng, 60, 45)
        exact = _milp.solve(program)
        loose = _milp.solve(program, mip_gap=0.25)
        assert exact.status == "optimal" and loose.status in ("optimal", "gap_limit")
        assert loose.bound <= exact.value + 1e-9 <= loose.value + 2e-9
        assert loose.value - loose.bound <= 0.25 * abs(loose.value) + 1e-9
        statuses.append(loose.status)
    assert "gap_limit" in statuses  # these programs leave a gap at the first incumbent: the status is exercised


def test_milp_solve_prints_nothing(capfd):
    _milp.solve(vertex_cover_of_a_cycle(9))
    _milp.solve(random_program(np.random.default_rng(1), 40, 30), mip_gap=0.1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_propose_path_does_not_import_scipy_optimize():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "import coverage_planner.plan.proposal, coverage_planner.plan.models\n"
        "from coverage_planner.plan.models import MCLP\n"
        "from scipy import sparse\n"
        "before = 'highspy' in sys.modules\n"
        "covers = sparse.csr_matrix(np.eye(6)[[0, 1, 2, 3, 4, 5, 0]] + np.eye(6)[[1, 2, 3, 4, 5, 0, 3]])\n"
        "MCLP(covers, np.ones(6), 0, 2).solve()\n"
        "print(before, 'highspy' in sys.modules, 'scipy.optimize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]
