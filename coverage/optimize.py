"""Where to open new sites: set cover, maximal coverage and p-median, existing sites kept.

Each problem is an object (as in spopt) whose docstring states the model;
it is built straight from the sparse walk-distance matrix as a SciPy sparse
constraint matrix and solved exactly by HiGHS (`scipy.optimize.milp`), or
by a greedy heuristic. Existing sites are fixed open and count toward
coverage. Results stay on the object: chosen candidates, objective, bound,
gap, solve time.

Ties between equally good answers go to the lowest candidate index: the
exact models add a tie-break term too small to change the optimum, and
the greedy steps pick the lowest index among equal gains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ._errors import CoverageError

METHODS = ("exact", "greedy")


class ProposalError(CoverageError, ValueError):
    """A site-planning request that cannot be answered as asked (k too large, empty candidates …)."""


@dataclass
class Solution:
    """What a solve found: chosen candidate indices (in choice order for greedy), objective, bound, gap."""

    method: str
    chosen: np.ndarray
    objective: float
    bound: float
    gap: float
    solve_time_s: float
    status: str
    extra: dict = field(default_factory=dict)


class _Problem:
    """Shared set-up: which candidates cover which demand places, weights, existing sites."""

    def __init__(self, covers: sparse.csr_matrix, weights: np.ndarray, n_existing: int) -> None:
        self.covers = sparse.csr_matrix(covers, dtype=bool)  # rows: existing sites, then candidates
        self.weights = np.asarray(weights, dtype=float)
        self.n_existing = int(n_existing)
        if self.covers.shape[1] != len(self.weights):
            raise ProposalError(f"{len(self.weights)} weights for {self.covers.shape[1]} demand places")
        if (self.weights < 0).any() or not np.isfinite(self.weights).all():
            raise ProposalError("weights must be finite and not negative")
        self.n_candidates = self.covers.shape[0] - self.n_existing
        if self.n_candidates <= 0:
            raise ProposalError("there are no candidate sites to choose from")
        self.solution: Solution | None = None

    @property
    def covered_by_existing(self) -> np.ndarray:
        return np.asarray(self.covers[: self.n_existing].sum(axis=0)).ravel() > 0

    @property
    def coverable(self) -> np.ndarray:
        return np.asarray(self.covers.sum(axis=0)).ravel() > 0

    def _candidate_covers(self) -> tuple[sparse.csc_matrix, np.ndarray]:
        """Demand × candidate incidence of places not already covered by existing sites."""
        open_demand = ~self.covered_by_existing
        return self.covers[self.n_existing :][:, open_demand].T.tocsc().astype(float), np.flatnonzero(open_demand)

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or k < 0:
            raise ProposalError(f"k must be a whole number ≥ 0, got {k!r}")
        if k > self.n_candidates:
            raise ProposalError(f"k = {k} but there are only {self.n_candidates} candidate sites")
        return int(k)


def _tie_break(n: int, scale: float) -> np.ndarray:
    """Tiny increasing costs by index, summing to far less than any real difference in the objective."""
    return scale * (np.arange(n) + 1) / (n * (n + 1))


def _solve_milp(c, constraints, integrality, bounds, time_limit):
    options = {"mip_rel_gap": 0.0, "presolve": True}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    start = time.perf_counter()
    result = milp(c, constraints=constraints, integrality=integrality, bounds=bounds, options=options)
    elapsed = time.perf_counter() - start
    if result.x is None:
        raise ProposalError(f"the solver found no solution ({result.message})")
    return result, elapsed


class MCLP(_Problem):
    """Maximal covering location: open k new sites to cover the most demand weight.

    maximise    Σ_j w_j y_j
    subject to  y_j ≤ Σ_{i ∈ N_j} x_i        for every demand place j not covered by an existing site
                Σ_{i ∈ C} x_i = k             (C: candidates)
                x_i ∈ {0, 1}, 0 ≤ y_j ≤ 1

    N_j are the candidates within the threshold of j. Places already covered
    by existing sites count in the objective as a constant. y needs no
    integrality: at an optimum with integral x it is integral anyway.
    """

    def __init__(self, covers, weights, n_existing: int, k: int) -> None:
        super().__init__(covers, weights, n_existing)
        self.k = self._check_k(k)

    def solve(self, method: str = "exact", *, time_limit: float | None = None) -> Solution:
        """Solve exactly (HiGHS) or greedily; the result is also kept in ``self.solution``."""
        base = float(self.weights[self.covered_by_existing].sum())
        if method == "greedy":
            self.solution = _greedy_cover(self, self.k, base)
            return self.solution
        _check_method(method)
        a, open_idx = self._candidate_covers()
        n_c, n_d = self.n_candidates, len(open_idx)
        w = self.weights[open_idx]
        scale = max(w[w > 0].min(), 1e-9) * 1e-3 if (w > 0).any() else 1e-9
        c = np.concatenate([_tie_break(n_c, scale), -w])
        link = sparse.hstack([-a, sparse.identity(n_d)], format="csr")  # y_j - Σ x_i ≤ 0
        count = sparse.csr_matrix(np.concatenate([np.ones(n_c), np.zeros(n_d)]))
        constraints = [LinearConstraint(link, -np.inf, 0), LinearConstraint(count, self.k, self.k)]
        integrality = np.concatenate([np.ones(n_c), np.zeros(n_d)])
        result, elapsed = _solve_milp(c, constraints, integrality, Bounds(0, 1), time_limit)
        x = np.round(result.x[:n_c]).astype(bool)
        chosen = np.flatnonzero(x)
        objective = base + _covered_weight(self, chosen)
        # HiGHS minimised (tie-break − covered weight): its dual bound bounds the covered weight from above.
        dual = getattr(result, "mip_dual_bound", None)
        bound = max(base - float(dual if dual is not None else result.fun), objective)
        self.solution = Solution("exact", chosen, objective, bound, _gap(objective, bound), elapsed, _status(result))
        return self.solution


class LSCP(_Problem):
    """Location set covering: the fewest new sites so every coverable demand place is covered.

    minimise    Σ_{i ∈ C} x_i
    subject to  Σ_{i ∈ N_j} x_i ≥ 1           for every coverable place j not covered by an existing site
                x_i ∈ {0, 1}

    Places no candidate or existing site can reach within the threshold are
    reported in ``uncoverable`` instead of making the model infeasible. With
    ``target_share`` (0–1], it becomes a partial cover: the fewest sites so
    the covered weight reaches that share of all weight.
    """

    def __init__(self, covers, weights, n_existing: int, target_share: float = 1.0) -> None:
        super().__init__(covers, weights, n_existing)
        if not 0 < target_share <= 1:
            raise ProposalError(f"target_share must be in (0, 1], got {target_share}")
        self.target_share = float(target_share)

    @property
    def uncoverable(self) -> np.ndarray:
        """Indices of demand places no site can reach within the threshold."""
        return np.flatnonzero(~self.coverable)

    def solve(self, method: str = "exact", *, time_limit: float | None = None) -> Solution:
        """Solve exactly (HiGHS) or greedily; the result is also kept in ``self.solution``."""
        total = float(self.weights.sum())
        base = float(self.weights[self.covered_by_existing].sum())
        reachable = float(self.weights[self.coverable].sum())
        target = min(self.target_share * total, reachable) if self.target_share < 1 else reachable
        if method == "greedy":
            self.solution = _greedy_cover(self, self.n_candidates, base, target=target)
            self.solution.objective = float(len(self.solution.chosen))
            return self.solution
        _check_method(method)
        a, open_idx = self._candidate_covers()
        n_c = self.n_candidates
        scale = 1e-3
        if self.target_share >= 1:
            rows = np.asarray(a.sum(axis=1)).ravel() > 0  # coverable open places
            constraints = [LinearConstraint(a[rows], 1, np.inf)]
            c, integrality, nvar = 1 + _tie_break(n_c, scale), np.ones(n_c), n_c
        else:
            n_d = len(open_idx)
            w = self.weights[open_idx]
            link = sparse.hstack([-a, sparse.identity(n_d)], format="csr")
            reach = sparse.csr_matrix(np.concatenate([np.zeros(n_c), w]))
            constraints = [LinearConstraint(link, -np.inf, 0), LinearConstraint(reach, target - base - 1e-9, np.inf)]
            c = np.concatenate([1 + _tie_break(n_c, scale), np.zeros(n_d)])
            integrality, nvar = np.concatenate([np.ones(n_c), np.zeros(n_d)]), n_c + n_d
        result, elapsed = _solve_milp(c, constraints, integrality, Bounds(np.zeros(nvar), np.ones(nvar)), time_limit)
        chosen = np.flatnonzero(np.round(result.x[:n_c]).astype(bool))
        objective = float(len(chosen))
        dual = getattr(result, "mip_dual_bound", None)
        bound = min(float(np.ceil((dual if dual is not None else result.fun) - 1e-6 - scale)), objective)
        self.solution = Solution("exact", chosen, objective, bound, _gap(objective, bound), elapsed, _status(result))
        return self.solution


class PMedian(_Problem):
    """p-median: open k new sites to minimise the weighted walk distance to the nearest open site.

    minimise    Σ_j w_j ( Σ_i d_ij z_ij + P u_j )
    subject to  Σ_i z_ij + u_j = 1            for every demand place j
                z_ij ≤ x_i                    for every pair within the search limit
                Σ_{i ∈ C} x_i = k,  x_i = 1 for existing sites
                x_i ∈ {0, 1}, z_ij, u_j ≥ 0

    d_ij are walk metres within the search limit; a place with no open site
    within it is "unserved" (u_j = 1) at the penalty P, twice the search
    limit by default: worse than any real walk, so the model serves every
    place it can.
    """

    def __init__(self, distances: sparse.csr_matrix, weights, n_existing: int, k: int, *, penalty_m: float | None = None) -> None:
        distances = sparse.csr_matrix(distances, dtype=float)
        super().__init__(distances.astype(bool), weights, n_existing)
        self.distances = distances
        self.k = self._check_k(k)
        self.penalty_m = float(penalty_m) if penalty_m is not None else 2.0 * (distances.data.max() if distances.nnz else 1.0)

    def solve(self, method: str = "exact", *, time_limit: float | None = None) -> Solution:
        """Solve exactly (HiGHS) or greedily; the result is also kept in ``self.solution``."""
        if method == "greedy":
            self.solution = _greedy_median(self)
            return self.solution
        _check_method(method)
        coo = self.distances.tocoo()
        pairs = len(coo.data)
        n_sites, n_d = self.covers.shape
        w = self.weights
        # variables: x (sites) | z (pairs) | u (demand)
        c = np.concatenate([np.zeros(n_sites), w[coo.col] * coo.data, w * self.penalty_m])
        c[self.n_existing : n_sites] += _tie_break(self.n_candidates, 1e-6)
        assign = sparse.hstack([
            sparse.csr_matrix((n_d, n_sites)),
            sparse.csr_matrix((np.ones(pairs), (coo.col, np.arange(pairs))), shape=(n_d, pairs)),
            sparse.identity(n_d),
        ], format="csr")
        link = sparse.hstack([
            sparse.csr_matrix((-np.ones(pairs), (np.arange(pairs), coo.row)), shape=(pairs, n_sites)),
            sparse.identity(pairs), sparse.csr_matrix((pairs, n_d)),
        ], format="csr")
        count = sparse.csr_matrix(np.concatenate([np.r_[np.zeros(self.n_existing), np.ones(self.n_candidates)], np.zeros(pairs + n_d)]))
        lower = np.zeros(n_sites + pairs + n_d)
        lower[: self.n_existing] = 1  # existing sites stay open
        constraints = [LinearConstraint(assign, 1, 1), LinearConstraint(link, -np.inf, 0), LinearConstraint(count, self.k, self.k)]
        integrality = np.concatenate([np.ones(n_sites), np.zeros(pairs + n_d)])
        result, elapsed = _solve_milp(c, constraints, integrality, Bounds(lower, np.ones_like(lower)), time_limit)
        chosen = np.flatnonzero(np.round(result.x[self.n_existing : n_sites]).astype(bool))
        objective = _median_cost(self, chosen)
        dual = getattr(result, "mip_dual_bound", None)
        bound = min(float(dual if dual is not None else result.fun), objective)
        self.solution = Solution("exact", chosen, objective, bound, _gap(objective, bound), elapsed, _status(result))
        return self.solution


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ProposalError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def _status(result) -> str:
    return "optimal" if result.status == 0 else ("time limit reached" if result.status == 1 else result.message)


def _gap(objective: float, bound: float) -> float:
    return abs(bound - objective) / max(abs(objective), 1e-9)


def _covered_weight(problem: _Problem, chosen: np.ndarray) -> float:
    """Weight of places covered by the chosen candidates but by no existing site."""
    newly = np.asarray(problem.covers[problem.n_existing + chosen].sum(axis=0)).ravel() > 0
    return float(problem.weights[newly & ~problem.covered_by_existing].sum())


def _greedy_cover(problem: _Problem, k: int, base: float, *, target: float | None = None) -> Solution:
    """Add the candidate with the largest newly covered weight (lowest index on ties) until k or the target."""
    start = time.perf_counter()
    cand = problem.covers[problem.n_existing :].tocsr()
    covered = problem.covered_by_existing.copy()
    chosen: list[int] = []
    gains: list[float] = []
    total = base
    while len(chosen) < k and (target is None or total < target - 1e-9):
        open_weight = np.where(covered, 0.0, problem.weights)
        gain = cand @ open_weight
        gain[chosen] = -1
        best = int(np.argmax(gain))  # argmax returns the first (lowest) index among ties
        if gain[best] <= 0:
            break
        chosen.append(best)
        gains.append(float(gain[best]))
        covered[cand[best].indices] = True
        total += gain[best]
    return Solution("greedy", np.array(chosen, dtype=np.int64), total, np.nan, np.nan, time.perf_counter() - start, "heuristic", {"gains": gains})


def _best_distances(problem: PMedian, open_rows: np.ndarray) -> np.ndarray:
    """Walk metres from each demand place to its nearest open site (the penalty where none is in reach)."""
    d = problem.distances[open_rows]
    if d.nnz == 0:
        return np.full(d.shape[1], problem.penalty_m)
    # Sparse min would count absent pairs as 0: take the max of (big − d) instead.
    big = problem.penalty_m + 1.0
    flipped = d.copy()
    flipped.data = big - flipped.data
    top = np.asarray(flipped.max(axis=0).todense()).ravel()
    return np.where(top > 0, np.minimum(big - top, problem.penalty_m), problem.penalty_m)


def _median_cost(problem: PMedian, chosen: np.ndarray) -> float:
    open_rows = np.concatenate([np.arange(problem.n_existing), problem.n_existing + np.asarray(chosen, dtype=np.int64)])
    return float((problem.weights * _best_distances(problem, open_rows)).sum())


def _greedy_median(problem: PMedian) -> Solution:
    """Add the candidate that lowers the weighted distance most (lowest index on ties), k times."""
    start = time.perf_counter()
    cand = problem.distances[problem.n_existing :].tocsr()
    rows = np.repeat(np.arange(cand.shape[0]), np.diff(cand.indptr))
    best = _best_distances(problem, np.arange(problem.n_existing))
    chosen: list[int] = []
    gains: list[float] = []
    for _ in range(problem.k):
        saving = problem.weights[cand.indices] * np.maximum(best[cand.indices] - cand.data, 0.0)
        gain = np.bincount(rows, weights=saving, minlength=cand.shape[0])
        gain[chosen] = -1.0
        pick = int(np.argmax(gain))  # first (lowest) index among ties
        chosen.append(pick)
        gains.append(float(gain[pick]))
        row = slice(cand.indptr[pick], cand.indptr[pick + 1])
        best[cand.indices[row]] = np.minimum(best[cand.indices[row]], cand.data[row])
    cost = float((problem.weights * best).sum())
    return Solution("greedy", np.array(chosen, dtype=np.int64), cost, np.nan, np.nan, time.perf_counter() - start, "heuristic", {"gains": gains})
