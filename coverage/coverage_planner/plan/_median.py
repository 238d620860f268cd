r"""The distance models: p-median and p-center (public through `coverage_planner.plan.models`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from coverage_planner.plan import _greedy, _milp
from coverage_planner.plan._covering import MCLP, min_cover
from coverage_planner.plan._location import LocationProblem, ProblemError


class _Distance(LocationProblem):
    """Shared parts of PMedian and PCenter: walk metres per pair, the search limit and the penalty."""

    def __init__(
        self,
        matrix: sparse.sparray | sparse.spmatrix,
        weights: ArrayLike | None = None,
        n_existing: int = 0,
        k: int | None = None,
        *,
        penalty_m: float | None = None,
        search_limit_m: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._limit_arg, self._penalty_arg = search_limit_m, penalty_m
        super().__init__(matrix, weights, n_existing, **kwargs)
        self.k = self._check_k(k)

    @classmethod
    def _sparse_from_access(cls, matrix, params):
        params.setdefault("search_limit_m", matrix.cutoff_m)
        return matrix.to_csr(), params

    @classmethod
    def _sparse_from_cost(cls, cost, params):
        demand, site = np.nonzero(np.isfinite(cost))
        return sparse.csr_matrix((cost[demand, site], (site, demand)), shape=cost.shape[::-1]), params

    def _read(self, coo: sparse.coo_matrix) -> None:
        metres = coo.data.astype(np.float64)
        if len(metres) and (metres.min() < 0 or not np.isfinite(metres).all()):
            raise ProblemError(f"{self.name}: walk distances must be finite and ≥ 0")
        limit = self._limit_arg if self._limit_arg is not None else (metres.max() if len(metres) else 0.0)
        #: pairs farther apart than this are out of reach
        self.search_limit_m = float(limit)
        penalty = self._penalty_arg if self._penalty_arg is not None else 2 * self.search_limit_m
        if not (np.isfinite(penalty) and penalty > 0):
            raise ProblemError(f"{self.name}: penalty_m must be a positive distance, got {penalty!r}")
        #: walk a place counts as when no open site is within reach
        self.penalty_m = float(penalty)
        keep = metres < self.penalty_m  # a pair at or beyond the penalty never helps
        rows, cols, metres = coo.row[keep], coo.col[keep], metres[keep]
        ex = self.existing[rows]
        near = np.full(self.n_demand, self.penalty_m)
        np.minimum.at(near, cols[ex], metres[ex])
        #: each place's walk with only the existing sites open (penalty when none in reach)
        self.walk_existing = near
        #: bool per place: some site or candidate within reach
        self.coverable = np.bincount(cols, minlength=self.n_demand) > 0
        self.uncoverable = np.flatnonzero(~self.coverable)
        # Candidate pairs that would shorten a walk.
        c = ~ex & (metres < near[cols])
        self._p, self._d, self._m = self._pos[rows[c]], cols[c], metres[c]
        key = self._p * self.n_demand + self._d
        if len(key) > 1 and not (key[1:] >= key[:-1]).all():  # CSR input comes sorted already
            order = np.lexsort((self._d, self._p))
            self._p, self._d, self._m = self._p[order], self._d[order], self._m[order]
        #: the pairs of candidate position j are ``_start[j]:_start[j + 1]`` (pairs are sorted by position)
        self._start = np.searchsorted(self._p, np.arange(len(self.candidates) + 1))

    def walks(self, chosen: ArrayLike | None = None) -> np.ndarray:
        """Each place's walk with existing sites and ``chosen`` candidates open.

        Parameters
        ----------
        chosen : array_like of int, optional
            Candidate positions; default: the solution's.

        Returns
        -------
        ndarray of float
            Metres per demand place; ``penalty_m`` where no open site is within reach.
        """
        chosen = self.chosen if chosen is None else np.asarray(chosen, dtype=np.int64)
        out = self.walk_existing.copy()
        mine = self._pairs_of(chosen)
        np.minimum.at(out, self._d[mine], self._m[mine])
        return out

    def _pairs_of(self, positions: np.ndarray) -> np.ndarray:
        """Indices of the pairs of candidate ``positions``; in pair order when the positions ascend."""
        positions = np.asarray(positions, dtype=np.int64).ravel()
        start, stop = self._start[positions], self._start[positions + 1]
        lengths = stop - start
        offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.repeat(start, lengths) + offset


class PMedian(_Distance):
    r"""p-median: k new sites minimising the total weighted walk.

    .. math::
        \min \sum_i w_i \Big(\sum_{j} d_{ij} z_{ij} + P\,u_i\Big) \quad\text{s.t.}\quad
        \sum_j z_{ij} + u_i = 1,\;\; z_{ij} \le x_j,\;\; \sum_{j \in J} x_j \le k,\;\;
        x_j = 1\; (j \in E),\;\; x_j \in \{0,1\},\; z, u \ge 0

    Pairs exist only within the search limit. **Penalty**: a place with no
    open site within reach counts as walking ``penalty_m`` P, by default
    twice the search limit (an `AccessMatrix`'s cutoff, or the longest pair
    given), so leaving a place unserved always costs more than serving it at
    the edge of the search. The model is built on the pairs that beat each
    place's nearest existing site. ``objective`` is Σ weight × walk in
    metre-weights (divide by the walking speed for time).

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Sites × demand places; every stored entry (explicit zeros too) is a
        walk in metres, absent pairs are out of reach. Existing sites first
        (see ``n_existing``).
    weights : array_like of float, optional
        One non-negative number per demand place (default 1).
    n_existing : int, default 0
        The first ``n_existing`` sites are existing ones.
    k : int
        At most this many new sites (required).
    penalty_m : float, optional
        The walk P of a place with no open site within reach; default twice
        the search limit.
    search_limit_m : float, optional
        Pairs farther apart are out of reach; default: the longest pair given
        (`from_access`: the matrix's cutoff).
    **kwargs
        ``existing``, ``site_ids`` and ``demand_ids`` as for `LocationProblem`.

    Attributes
    ----------
    search_limit_m, penalty_m : float
        As used.
    walk_existing : ndarray of float
        Each place's walk with only the existing sites open (penalty when none in reach).
    coverable : ndarray of bool
        Per place: some site or candidate within reach.
    uncoverable : ndarray of int
        Places nothing reaches (indices); reported, never an error.

    Raises
    ------
    ProblemError
        When ``k`` is missing, not a whole number ≥ 0 or more than the
        candidates, a walk is negative or not finite, ``penalty_m`` is not
        positive, or as for `LocationProblem`.
    """

    name = "p-median"

    def evaluate(self, chosen: ArrayLike) -> float:
        """The total weighted walk with existing sites and ``chosen`` open.

        Parameters
        ----------
        chosen : array_like of int
            Candidate positions (0 = first candidate).

        Returns
        -------
        float
            Σ weight × walk, in metre-weights.
        """
        return float(self.weights @ self.walks(chosen))

    def _greedy_steps(self, k, allowed, *, ranking=False):
        return _greedy.greedy_median(
            self._p,
            self._d,
            self._m,
            self.walk_existing,
            self.weights,
            len(self.candidates),
            k=self.k if k is None else k,
            allowed=allowed,
        )

    def _exact(self, time_limit, mip_gap):
        start = time.perf_counter()
        use = self.weights[self._d] > 0
        p, d, m = self._p[use], self._d[use], self._m[use]
        if self.k == 0 or len(p) == 0:
            return np.zeros(0, dtype=np.int64), self.evaluate([]), "optimal"
        keep, xi = np.unique(p, return_inverse=True)
        places, ui = np.unique(d, return_inverse=True)
        n_x, n_z, n_u = len(keep), len(p), len(places)
        w, e = self.weights[places], self.walk_existing[places]
        constant = self.weights @ self.walk_existing - w @ e
        z = np.arange(n_z)
        # rows: n_u assignment equalities, n_z links z ≤ x, one cardinality row
        r = np.concatenate([ui, np.arange(n_u), n_u + z, n_u + z, np.full(n_x, n_u + n_z)])
        c = np.concatenate([n_x + z, n_x + n_z + np.arange(n_u), n_x + z, xi, np.arange(n_x)])
        v = np.concatenate([np.ones(n_z + n_u), np.ones(n_z), -np.ones(n_z), np.ones(n_x)])
        A = sparse.csr_matrix((v, (r, c)), shape=(n_u + n_z + 1, n_x + n_z + n_u))
        lo = np.concatenate([np.ones(n_u), np.full(n_z, -np.inf), [-np.inf]])
        hi = np.concatenate([np.ones(n_u), np.zeros(n_z), [self.k]])
        cost = np.concatenate([np.zeros(n_x), self.weights[d] * m, w * e])
        program = _milp.Program(cost, A, lo, hi, np.arange(n_x + n_z + n_u) < n_x)
        self._build_time = time.perf_counter() - start
        self._clock("build", start)
        sol = _milp.solve(program, time_limit=time_limit, mip_gap=mip_gap)
        self._spent("highs", sol.seconds)
        everything = self.weights @ np.minimum(self.walk_existing, _nearest(self._d, self._m, self.n_demand))
        bound = max(constant + sol.bound, everything) if np.isfinite(sol.bound) else everything
        if sol.x is None or sol.status != "optimal":  # greedy only when HiGHS proved nothing better
            greedy_chosen, _ = self._greedy_steps(None, None)
            if sol.x is None or constant + sol.value > self.evaluate(greedy_chosen) + 1e-9:
                return greedy_chosen, bound, "time_limit" if sol.x is None else sol.status
        return keep[sol.x[:n_x] > 0.5], bound, sol.status

    def _canon_value(self, chosen) -> float:
        return self.evaluate(chosen) if len(chosen) <= self.k else np.inf

    def _canon_values_with(self, rest) -> np.ndarray:
        walks = self.walks(rest)
        gain = np.bincount(
            self._p,
            weights=self.weights[self._d] * np.maximum(walks[self._d] - self._m, 0.0),
            minlength=len(self.candidates),
        )
        return self.weights @ walks - gain


class PCenter(_Distance):
    r"""p-center: k new sites minimising the worst walk.

    .. math::
        \min D \quad\text{s.t.}\quad D \ge \min\big(P,\ \min_{j\ \text{open}} d_{ij}\big)\;\;\forall i \in I^\circ,\;\;
        \sum_{j \in J} x_j \le k,\;\; x_j = 1\; (j \in E)

    over :math:`I^\circ`, the places with positive weight that some site or
    candidate reaches within the search limit (the others are listed in
    ``uncoverable``; weights otherwise play no part). Solved exactly by
    bisection over the distinct walk lengths: at radius r the question "can
    k new sites bring every place within r?" is a set-cover MILP (an LSCP),
    answered first by a packing bound (more than k places no two of which
    share a candidate: no, without HiGHS), then by greedy and by the
    cover's LP bound when they suffice.
    The sites k leaves over once the optimal worst walk is reached are added
    where they cut the total weighted walk most (the answer's canonical form
    compares the worst walk, then the total). When k sites cannot reach
    every such place at all, the worst walk is the penalty P whatever is
    chosen; the sites are then chosen as an MCLP within the search limit
    (most weight brought within reach). Without a time limit or gap that
    case is recognised first, by one cover test at the longest walk, before
    greedy and bisection (which could only confirm it).

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Sites × demand places; every stored entry (explicit zeros too) is a
        walk in metres, absent pairs are out of reach. Existing sites first
        (see ``n_existing``).
    weights : array_like of float, optional
        One non-negative number per demand place (default 1).
    n_existing : int, default 0
        The first ``n_existing`` sites are existing ones.
    k : int
        At most this many new sites (required).
    penalty_m : float, optional
        The walk P of a place with no open site within reach; default twice
        the search limit.
    search_limit_m : float, optional
        Pairs farther apart are out of reach; default: the longest pair given
        (`from_access`: the matrix's cutoff).
    **kwargs
        ``existing``, ``site_ids`` and ``demand_ids`` as for `LocationProblem`.

    Attributes
    ----------
    search_limit_m, penalty_m : float
        As used.
    walk_existing : ndarray of float
        Each place's walk with only the existing sites open (penalty when none in reach).
    coverable : ndarray of bool
        Per place: some site or candidate within reach.
    uncoverable : ndarray of int
        Places nothing reaches (indices); reported, never an error.

    Raises
    ------
    ProblemError
        When ``k`` is missing, not a whole number ≥ 0 or more than the
        candidates, a walk is negative or not finite, ``penalty_m`` is not
        positive, or as for `LocationProblem`.
    """

    name = "p-center"

    def _read(self, coo):
        super()._read(coo)
        self._places = self.coverable & (self.weights > 0)
        self._none_reach_all = False  # set by `_exact` when no k sites can reach every place

    def evaluate(self, chosen: ArrayLike) -> float:
        """The worst walk with existing sites and ``chosen`` open.

        Parameters
        ----------
        chosen : array_like of int
            Candidate positions (0 = first candidate).

        Returns
        -------
        float
            Metres, over the places with positive weight that some site or
            candidate reaches (0 when there are none).
        """
        walks = self.walks(chosen)[self._places]
        return float(walks.max(initial=0.0))

    def _greedy_steps(self, k, allowed, *, ranking=False):
        use = self._places[self._d]
        start = np.where(self._places, self.walk_existing, 0.0)
        step = _greedy.greedy_median if ranking else _greedy.greedy_center
        return step(
            self._p[use],
            self._d[use],
            self._m[use],
            start,
            self.weights,
            len(self.candidates),
            k=self.k if k is None else k,
            allowed=allowed,
        )

    def _exact(self, time_limit, mip_gap):
        start = time.perf_counter()
        self._none_reach_all = False
        everything = np.minimum(self.walk_existing, _nearest(self._d, self._m, self.n_demand))[self._places]
        lower = float(everything.max(initial=0.0))
        reach = self._m[self._m >= lower]
        if self.k > 0 and time_limit is None and mip_gap == 0 and len(reach):
            # When k sites cannot bring everyone within the longest walk ≥ lower, greedy's worst walk is the
            # penalty and so is every bisection step's answer: go straight to the penalty case, skipping them.
            if self._cover_within(float(reach.max()), None, 0.0) is False:
                self._none_reach_all = True  # proven: every set of ≤ k sites leaves a place at the penalty
                return self._penalty_case(bound=self.penalty_m, proven=True, time_limit=None, start=start)
        greedy_chosen, _ = self._greedy_steps(None, None)
        best, upper = greedy_chosen, self.evaluate(greedy_chosen)
        radii = np.unique(self._m[(self._m >= lower) & (self._m < upper)])
        lo, hi, proven = 0, len(radii), True  # answer is radii[hi] (or upper when hi == len)
        if self.k == 0 or upper <= lower:
            return best, lower, "optimal"
        while lo < hi:
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            if left is not None and left <= 0:
                proven = False
                break
            mid = (lo + hi) // 2
            found = self._cover_within(radii[mid], left, mip_gap)
            if found is None:  # unknown in time: look higher, but the bound stays unproven
                proven, lo = False, mid + 1
            elif found is False:
                lo = mid + 1
            else:
                best, hi = found, mid
        radius = radii[hi] if hi < len(radii) else upper
        bound = radius if proven else (radii[lo - 1] if 0 < lo <= len(radii) else lower)
        if radius >= self.penalty_m:
            return self._penalty_case(bound=bound, proven=proven, time_limit=time_limit, start=start)
        return self._fill(best), bound, "optimal" if proven else "time_limit"

    def _penalty_case(self, *, bound: float, proven: bool, time_limit: float | None, start: float):
        """Nothing reaches everyone: bring the most weight within reach (an MCLP within the search limit)."""
        mclp = MCLP(self._reach_matrix(), np.where(self._places, self.weights, 0.0), existing=self.existing, k=self.k)
        sol = mclp.solve(
            time_limit=None if time_limit is None else max(time_limit - (time.perf_counter() - start), 1e-3)
        )
        for stage, seconds in sol.stage_times_s.items():
            self._spent(stage, seconds)
        return sol.chosen, min(bound, self.penalty_m), "optimal" if proven else "time_limit"

    def _fill(self, chosen) -> np.ndarray:
        """Add the sites k leaves over where they cut the total weighted walk most (the worst walk cannot grow)."""
        chosen = np.asarray(chosen, dtype=np.int64)
        allowed = np.ones(len(self.candidates), dtype=bool)
        allowed[chosen] = False
        more, _ = _greedy.greedy_median(
            self._p,
            self._d,
            self._m,
            self.walks(chosen),
            self.weights,
            len(self.candidates),
            k=self.k - len(chosen),
            allowed=allowed,
        )
        return np.concatenate([chosen, more])

    def _canon_value(self, chosen):
        if len(chosen) > self.k:
            return np.array([np.inf, np.inf])
        walks = self.walks(chosen)
        return np.array([walks[self._places].max(initial=0.0), self.weights @ walks])

    def _canon_values_with(self, rest) -> np.ndarray:
        use = self._places[self._d]
        walks = self.walks(rest)
        worst = _greedy.worst_after(
            self._p[use], self._d[use], self._m[use], np.where(self._places, walks, 0.0), len(self.candidates)
        )
        gain = np.bincount(
            self._p,
            weights=self.weights[self._d] * np.maximum(walks[self._d] - self._m, 0.0),
            minlength=len(self.candidates),
        )
        return np.column_stack([worst, self.weights @ walks - gain])

    def _canonical(self, chosen) -> np.ndarray:
        """`LocationProblem._canonical`, evaluating in full only the candidates that could pass.

        The same passes, tests and order. For a move, a candidate is evaluated
        (by the expressions of `_canon_values_with`, on its own pairs, which
        give the same numbers) only when it passes necessary conditions:
        it reaches every place whose walk would exceed the worst walk, and
        either brings all the worst places strictly lower or could gain
        enough walk (an upper bound from the gains kept since the last change).
        """
        S = np.sort(np.unique(np.asarray(chosen, dtype=np.int64)))
        best = np.asarray(self._canon_value(S), dtype=float)
        if not np.isfinite(best).all():
            return S
        tol = 1e-9 * np.maximum(1.0, np.abs(best))
        n, w, places = len(self.candidates), self.weights, self._places
        p, d, m = self._p, self._d, self._m
        use = places[d]
        # A stable sort of small ints as uint16 is a radix sort, the same order several times faster.
        by_place = np.argsort(d.astype(np.uint16) if self.n_demand <= 65535 else d, kind="stable")
        start = np.searchsorted(d[by_place], np.arange(self.n_demand + 1))
        margin = tol[1] + 1e-9 * max(1.0, float(w.sum()) * self.penalty_m)  # ≫ rounding in the estimates

        def pairs_at(at: np.ndarray) -> np.ndarray:
            lengths = start[at + 1] - start[at]
            offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            return by_place[np.repeat(start[at], lengths) + offset]

        def reach_all(at: np.ndarray, limit: float, strict: bool) -> np.ndarray:
            pair = pairs_at(at)
            near = m[pair] < limit if strict else m[pair] <= limit
            return np.bincount(p[pair[near]], minlength=n) >= len(at)

        def state(S):
            walks = self.walks(S)
            return walks, np.bincount(p, weights=w[d] * np.maximum(walks[d] - m, 0.0), minlength=n)

        def update(walks_new, walks_old, gain_old):
            # The gains change only on the pairs of places whose walk changed (a screening estimate: its
            # rounding differs from `state`'s, far below `margin`); walks are minima, exact in any order.
            pair = pairs_at(np.flatnonzero(walks_new != walks_old))
            dp, mp = d[pair], m[pair]
            delta = w[dp] * (np.maximum(walks_new[dp] - mp, 0.0) - np.maximum(walks_old[dp] - mp, 0.0))
            return walks_new, gain_old + np.bincount(p[pair], weights=delta, minlength=n)

        # Each place's walk once its nearest open site closes, when that site alone is nearest: the walks
        # without site j are then S's walks with j's places set to these (minima, so the same numbers as
        # `walks`). Made again after every change; not when a site lists a place twice (None: then `walks`).
        unique_pairs = len(p) < 2 or bool((np.diff(p * self.n_demand + d) > 0).all())

        def nearest_alone(S, walks_S):
            if not unique_pairs:
                return None, None
            mine = self._pairs_of(S)
            dd, mm = d[mine], m[mine]
            first = mm == walks_S[dd]  # pairs beat the existing sites, so these are open sites at the walk
            n_first = np.bincount(dd[first], minlength=self.n_demand)
            second = self.walk_existing.copy()
            np.minimum.at(second, dd[~first], mm[~first])
            owner = np.full(self.n_demand, -1, dtype=np.int64)
            alone = first & (n_first[dd] == 1)
            owner[dd[alone]] = p[mine][alone]
            return owner, second

        def walks_without(j, S, walks_S):
            if owner is None:
                return self.walks(S[S != j])
            out = walks_S.copy()
            own = np.flatnonzero(owner == j)
            out[own] = second[own]
            return out

        walks_S, gain_S = state(S)
        owner, second = nearest_alone(S, walks_S)
        changed = True
        while changed:
            changed = False
            for j in S[::-1].copy():
                rest = S[S != j]
                walks = walks_without(j, S, walks_S)
                if len(rest) > self.k:
                    value = np.array([np.inf, np.inf])
                else:
                    value = np.array([walks[places].max(initial=0.0), w @ walks])
                bests, tols = best.tolist(), tol.tolist()
                if self._no_worse_one(value.tolist(), bests, tols):
                    S, best, changed = rest, value, True
                    walks_S, gain_S = update(walks, walks_S, gain_S)
                    owner, second = nearest_alone(S, walks_S)
                    continue
                (b0, b1), (t0, _) = bests, tols
                likely = np.ones(n, dtype=bool)
                likely[S] = False
                likely[j:] = False
                high = np.flatnonzero(places & (walks > b0 + t0))
                if len(high):
                    likely &= reach_all(high, b0 + t0, strict=False)
                # When no k sites reach everyone, every candidate set here leaves a place at the penalty:
                # the worst walk is the penalty, and no candidate can bring all the worst places lower.
                penalty_only = self._none_reach_all and len(S) <= self.k
                if penalty_only:
                    lower = np.zeros(n, dtype=bool)
                else:
                    worst = np.flatnonzero(places & (walks >= b0 - t0))
                    lower = reach_all(worst, b0 - t0, strict=True)
                moved = np.flatnonzero(walks != walks_S)
                pair = pairs_at(moved)
                bound = gain_S + np.bincount(p[pair], weights=w[d[pair]] * (walks - walks_S)[d[pair]], minlength=n)
                likely = np.flatnonzero(likely & (lower | (bound >= w @ walks - b1 - margin)))
                if len(likely) == 0:
                    continue
                mine = self._pairs_of(likely)  # their pairs, in order: the same sums as over all pairs
                sel = mine[use[mine]]
                if penalty_only:
                    worst_after = np.full(n, self.penalty_m)
                else:
                    worst_after = _greedy.worst_after(p[sel], d[sel], m[sel], np.where(places, walks, 0.0), n)
                gain = np.bincount(p[mine], weights=w[d[mine]] * np.maximum(walks[d[mine]] - m[mine], 0.0), minlength=n)
                values = np.column_stack([worst_after, w @ walks - gain])[likely]
                ok = np.flatnonzero(self._no_worse(values, best, tol))
                if len(ok):
                    c = likely[ok[0]]
                    S, best, changed = np.sort(np.append(rest, c)), values[ok[0]], True
                    walks_new = walks.copy()  # = self.walks(S): rest's walks, then c's pairs
                    mine = self._pairs_of(np.array([c]))
                    np.minimum.at(walks_new, d[mine], m[mine])
                    walks_S, gain_S = update(walks_new, walks_S, gain_S)
                    owner, second = nearest_alone(S, walks_S)
        return S

    def _cover_within(self, radius, time_limit, mip_gap):
        """Fewest candidates bringing every place within ``radius``: their positions, False if more than k, None if unknown."""
        need = self._places & (self.walk_existing > radius)
        ok = (self._m <= radius) & need[self._d]
        places = np.flatnonzero(need)
        if len(places) == 0:
            return np.zeros(0, dtype=np.int64)
        if np.bincount(self._d[ok], minlength=self.n_demand)[places].min() == 0:
            return False
        row = np.full(self.n_demand, -1)
        row[places] = np.arange(len(places))
        A = sparse.csr_matrix(
            (np.ones(int(ok.sum())), (row[self._d[ok]], self._p[ok])), shape=(len(places), len(self.candidates))
        )
        if len(places) > self.k and _milp.packing_exceeds(A, self.k):
            return False  # more than k places no two of which share a candidate: proven without a MILP
        chosen, _ = _greedy.greedy_cover(sparse.csr_matrix(A.T), np.ones(len(places)))
        if len(chosen) <= self.k:
            return chosen
        started = time.perf_counter()
        keep = np.flatnonzero(~_milp.dominated_columns(A))
        self._clock("reduce", started)
        chosen, bound, status = min_cover(A[:, keep], keep, time_limit=time_limit, mip_gap=mip_gap, stages=self._stages)
        if bound > self.k:
            return False
        if chosen is None or status != "optimal":
            return None if chosen is None or len(chosen) > self.k else chosen
        return chosen if len(chosen) <= self.k else False

    def _reach_matrix(self) -> sparse.csr_matrix:
        """Sites × places within reach; places existing sites reach are marked on one existing row."""
        rows, cols = self.candidates[self._p], self._d
        reached = np.flatnonzero(self.walk_existing < self.penalty_m)
        if len(reached):
            rows = np.concatenate([rows, np.full(len(reached), np.flatnonzero(self.existing)[0])])
            cols = np.concatenate([cols, reached])
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.n_sites, self.n_demand))


def _nearest(d: np.ndarray, m: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, d, m)
    return out
