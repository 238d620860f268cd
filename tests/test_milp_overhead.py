"""The shortcuts around HiGHS (issue 14) against the full paths they stand for, on real extracts.

* `_milp.packing_exceeds` (more than k places with pairwise disjoint
  candidates: no k sites cover them) against HiGHS's minimum cover;
* p-center's cover test with that shortcut against the test without it, at
  every radius its bisection can ask about;
* p-center's tie-break (gains kept up to date between changes) against the
  generic tie-break of `LocationProblem`, which evaluates every test in full;
* the distance models' pairs read from CSR input (already sorted, no sort)
  against the same pairs given in shuffled order.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import raw_file
from scipy import sparse

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan import _milp
from coverage_planner.plan._covering import min_cover
from coverage_planner.plan._location import LocationProblem
from coverage_planner.plan.models import PCenter

EXTRACTS = {"monaco": "monaco.osm.pbf", "andorra": "andorra.osm.pbf"}
CUTOFF_M = {"monaco": 1200.0, "andorra": 1250.0}


@cache
def instance(name: str, n_sites: int, n_demand: int, seed: int = 7) -> AccessMatrix:
    """Sites and places on distinct random nodes of the main component, walks within the cutoff."""
    net = WalkNetwork.from_file(raw_file(EXTRACTS[name]))
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(net.component == 0)
    sites = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_sites, replace=False))])
    places = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_demand, replace=False))])
    return AccessMatrix.compute(net, sites, places, CUTOFF_M[name], progress=False)


# (extract, sites, places, existing, k): Andorra's k sites cannot reach every place (the penalty case),
# Monaco's can (the bisection runs).
CASES = [("andorra", 220, 1500, 10, 12), ("monaco", 150, 600, 3, 40)]


def cover_at(problem: PCenter, radius: float) -> sparse.csr_matrix:
    """As `PCenter._cover_within` builds it: places not within ``radius`` of an existing site × candidates."""
    need = problem._places & (problem.walk_existing > radius)
    ok = (problem._m <= radius) & need[problem._d]
    places = np.flatnonzero(need)
    row = np.full(problem.n_demand, -1)
    row[places] = np.arange(len(places))
    return sparse.csr_matrix(
        (np.ones(int(ok.sum())), (row[problem._d[ok]], problem._p[ok])), shape=(len(places), len(problem.candidates))
    )


def radii(problem: PCenter, n: int = 12) -> np.ndarray:
    """Distinct walk lengths the bisection can ask about: ``n`` spread over all, and the ``n`` longest."""
    values = np.unique(problem._m)
    return np.union1d(values[np.linspace(0, len(values) - 1, n).astype(int)], values[-n:])


@pytest.mark.parametrize("name, n_sites, n_demand, n_existing, k", CASES)
def test_disjoint_places_never_outnumber_the_minimum_cover(name, n_sites, n_demand, n_existing, k):
    # c sites covering every place leave room for at most c places with pairwise disjoint candidates:
    # packing_exceeds(A, c) must be False at HiGHS's minimum c, and True is a proof only below it.
    problem = PCenter.from_access(instance(name, n_sites, n_demand), n_existing=n_existing, k=k)
    decided = 0
    for radius in radii(problem):
        A = cover_at(problem, radius)
        A = A[np.diff(A.indptr) > 0]  # places no candidate reaches: no cover at all, tested apart
        if A.shape[0] == 0:
            continue
        keep = np.flatnonzero(~_milp.dominated_columns(A))
        chosen, _, status = min_cover(A[:, keep], keep)
        assert status == "optimal"
        c = len(chosen)
        assert not _milp.packing_exceeds(A, c), f"{name} r={radius}: more than {c} disjoint places"
        decided += sum(_milp.packing_exceeds(A, limit) for limit in range(max(c - 3, 0), c))
    assert decided > 0  # the shortcut decides some tests


@pytest.mark.parametrize("name, n_sites, n_demand, n_existing, k", CASES)
def test_pcenter_cover_test_gives_the_same_answer_without_the_shortcut(
    monkeypatch, name, n_sites, n_demand, n_existing, k
):
    problem = PCenter.from_access(instance(name, n_sites, n_demand), n_existing=n_existing, k=k)
    rs = radii(problem)
    fast = [problem._cover_within(r, None, 0.0) for r in rs]
    monkeypatch.setattr(_milp, "packing_exceeds", lambda matrix, k: False)  # the full path: greedy, then HiGHS
    full = [problem._cover_within(r, None, 0.0) for r in rs]
    for r, a, b in zip(rs, fast, full, strict=True):
        assert (a is False) == (b is False), f"{name} r={r}: {a!r} vs {b!r}"
        if a is not False:
            assert np.array_equal(a, b)
    assert any(a is False for a in fast)  # the shortcut's answer was compared
    assert name == "andorra" or any(a is not False for a in fast)  # Monaco: covers found too


@pytest.mark.parametrize("name, n_sites, n_demand, n_existing, k", CASES)
def test_pcenter_tie_break_equals_the_generic_one(name, n_sites, n_demand, n_existing, k):
    matrix = instance(name, n_sites, n_demand)
    weights = np.random.default_rng(3).integers(1, 6, matrix.shape[1]).astype(float)
    problem = PCenter.from_access(matrix, n_existing=n_existing, k=k, weights=weights)
    solution = problem.solve("exact")
    assert solution.status == "optimal"
    rng = np.random.default_rng(11)
    starts = [solution.chosen] + [np.sort(rng.choice(len(problem.candidates), k, replace=False)) for _ in range(4)]
    for start in starts:
        mine = problem._canonical(start)
        generic = LocationProblem._canonical(problem, start)
        assert np.array_equal(mine, generic), f"{name}: from {start.tolist()}"
    assert np.array_equal(problem._canonical(solution.chosen), solution.chosen)


def test_distance_pairs_are_the_same_from_shuffled_input():
    csr = instance("monaco", 150, 600).to_csr()
    coo = csr.tocoo()
    order = np.random.default_rng(5).permutation(coo.nnz)
    shuffled = sparse.coo_matrix((coo.data[order], (coo.row[order], coo.col[order])), shape=coo.shape)
    a = PCenter(csr, n_existing=3, k=6)
    b = PCenter(shuffled, n_existing=3, k=6)
    for field in ("_p", "_d", "_m", "_start"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert (np.diff(a._p * a.n_demand + a._d) > 0).all()
    sa, sb = a.solve("exact"), b.solve("exact")
    assert sa.objective == sb.objective and np.array_equal(sa.chosen, sb.chosen)


def test_pcenter_tie_break_with_pairs_listed_twice_equals_the_generic_one():
    # A site listing a place twice (COO input keeps both): the tie-break must not take the twin for another site.
    coo = instance("andorra", 220, 1500).to_csr().tocoo()
    twin = np.random.default_rng(2).choice(coo.nnz, coo.nnz // 5, replace=False)
    longer = coo.data[twin] + np.where(np.arange(len(twin)) % 2 == 0, 0.0, 50.0)  # same walk, or a longer one
    doubled = sparse.coo_matrix(
        (
            np.concatenate([coo.data, longer]),
            (np.concatenate([coo.row, coo.row[twin]]), np.concatenate([coo.col, coo.col[twin]])),
        ),
        shape=coo.shape,
    )
    problem = PCenter(doubled, n_existing=10, k=12, search_limit_m=CUTOFF_M["andorra"])
    solution = problem.solve("exact")
    rng = np.random.default_rng(4)
    for start in [solution.chosen] + [
        np.sort(rng.choice(len(problem.candidates), 12, replace=False)) for _ in range(3)
    ]:
        assert np.array_equal(problem._canonical(start), LocationProblem._canonical(problem, start))


def test_pcenter_tie_break_with_twin_candidates_equals_the_generic_one():
    # Twin candidates (the same walks) open together: places with two nearest sites, neither alone.
    csr = instance("andorra", 220, 1500).to_csr()
    twins = np.arange(10, 40)
    matrix = sparse.vstack([csr, csr[twins]]).tocsr()
    problem = PCenter(matrix, n_existing=10, k=12, search_limit_m=CUTOFF_M["andorra"])
    copies = np.arange(len(twins)) + 210  # positions of the appended rows (220 - 10 existing sites before them)
    rng = np.random.default_rng(6)
    for _ in range(4):
        pick = rng.choice(len(twins), 4, replace=False)
        start = np.sort(np.concatenate([twins[pick] - 10, copies[pick], rng.choice(200, 4, replace=False)]))
        assert np.array_equal(problem._canonical(start), LocationProblem._canonical(problem, start))
