r"""The covering models: LSCP and MCLP (public through `coverage_planner.plan.models`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from coverage_planner.plan import _greedy, _milp
from coverage_planner.plan._location import LocationProblem, ProblemError


class _Covering(LocationProblem):
    """Shared parts of LSCP and MCLP: the 0/1 cover matrix and who is covered."""

    def __init__(
        self,
        matrix: sparse.sparray | sparse.spmatrix,
        weights: ArrayLike | None = None,
        n_existing: int = 0,
        *,
        service_radius: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.service_radius = None if service_radius is None else float(service_radius)
        super().__init__(matrix, weights, n_existing, **kwargs)

    @classmethod
    def _sparse_from_access(cls, matrix, params):
        radius = params.get("service_radius")
        params["service_radius"] = matrix.cutoff_m if radius is None else float(radius)
        return matrix.covers(params["service_radius"]), params

    @classmethod
    def _sparse_from_cost(cls, cost, params):
        radius = params.get("service_radius")
        if radius is None or not np.isfinite(radius) or radius < 0:
            raise ProblemError(
                f"{cls.name}: from_cost_matrix needs service_radius, a finite distance ≥ 0 (got {radius!r})"
            )
        with np.errstate(invalid="ignore"):
            cover = np.isfinite(cost) & (cost <= radius)
        return sparse.csr_matrix(cover.T), params

    def _read(self, coo: sparse.coo_matrix) -> None:
        hit = coo.data != 0
        rows, cols = coo.row[hit], coo.col[hit]
        by_existing = self.existing[rows]
        #: bool per place: an existing site covers it
        self.covered_by_existing = np.bincount(cols[by_existing], minlength=self.n_demand) > 0
        #: bool per place: some existing site or candidate covers it
        self.coverable = np.bincount(cols, minlength=self.n_demand) > 0
        #: places nothing covers (indices); reported, never an error
        self.uncoverable = np.flatnonzero(~self.coverable)
        p, d = self._pos[rows[~by_existing]], cols[~by_existing]
        cover = sparse.csr_matrix((np.ones(len(p)), (p, d)), shape=(len(self.candidates), self.n_demand))
        cover.sum_duplicates()
        cover.data[:] = 1.0
        self._cover = cover
        # The same cover as bare arrays; its transpose (place → candidates) is made once, on first use.
        self._cover_p = _milp.Pattern(cover.indptr, cover.indices, self.n_demand)
        self._need_rows: tuple[np.ndarray | None, _milp.Pattern | None] = (None, None)

    @property
    def uncoverable_ids(self) -> np.ndarray:
        """Ids of the places nothing covers."""
        return self.demand_ids[self.uncoverable]

    def covered(self, chosen: ArrayLike | None = None) -> np.ndarray:
        """Which places are covered once the candidates at positions ``chosen`` open.

        Parameters
        ----------
        chosen : array_like of int, optional
            Candidate positions; default: the solution's.

        Returns
        -------
        ndarray of bool
            One value per demand place, existing sites' coverage included.
        """
        chosen = self.chosen if chosen is None else np.asarray(chosen, dtype=np.int64)
        out = self.covered_by_existing.copy()
        out[_row_entries(self._cover, chosen)] = True
        return out

    def covered_weight(self, chosen: ArrayLike | None = None) -> float:
        """The weight covered once the candidates at positions ``chosen`` open.

        Parameters
        ----------
        chosen : array_like of int, optional
            Candidate positions; default: the solution's.

        Returns
        -------
        float
            Summed weight of the covered places, existing sites' coverage included.
        """
        return float(self.weights[self.covered(chosen)].sum())

    def _left(self) -> np.ndarray:
        """Weight per place not yet covered by existing sites."""
        return np.where(self.covered_by_existing, 0.0, self.weights)

    def _need(self) -> np.ndarray:
        """Places with weight left that some candidate covers."""
        # Coverable and not covered by an existing site: then a candidate covers it (no pass over the pairs).
        return np.flatnonzero(self.coverable & ~self.covered_by_existing & (self.weights > 0))

    def _distinct_rows(self, need: np.ndarray) -> tuple[_milp.Pattern, np.ndarray]:
        """The cover of ``need`` (rows) by candidates with identical rows merged (first kept), and each row's weight."""
        A = self._cover_p.T.take_rows(need)
        first, group = _milp.dedupe_rows(A)
        return A.take_rows(first), np.bincount(group, weights=self.weights[need], minlength=len(first))

    def _reduce(self, need: np.ndarray):
        """The cover of ``need`` (rows) by candidates (columns), identical rows merged, dominated candidates dropped.

        Returns the matrix (a `_milp.Pattern`), each row's summed weight and the kept candidate positions.
        """
        A, w = self._distinct_rows(need)
        self._need_rows = (need, A)  # the tie-break reads the same rows
        keep = np.flatnonzero(~_milp.dominated_columns(A))
        return A.take_cols(keep), w, keep


class LSCP(_Covering):
    r"""Location set covering: the fewest new sites so that every coverable place is covered.

    .. math::
        \min \sum_{j \in J} x_j \quad\text{s.t.}\quad
        \sum_{j \in N_i \cap J} x_j \ge 1 \;\; \forall i \in I^\ast,\qquad x_j \in \{0, 1\}

    :math:`J` are the candidates, :math:`N_i` the sites covering place i and
    :math:`I^\ast` the places with positive weight that no existing site
    covers but some candidate does. Existing sites are open and their places
    need no new site. Places nothing covers are listed in ``uncoverable``
    (they never make the problem infeasible).

    With ``target_share`` s < 1 the model is the partial cover
    :math:`\min \sum_j x_j` s.t. :math:`\sum_i w_i y_i \ge s\,W - W_E`,
    :math:`y_i \le \sum_{j \in N_i \cap J} x_j`, :math:`0 \le y_i \le 1`, where
    W is the weight of the coverable places (the share is of what can be
    covered at all, so s = 1 is the classic model above and any s is
    feasible) and :math:`W_E` the weight existing sites cover.

    ``objective`` is the number of new sites (spopt's LSCP objective also
    counts existing sites).

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Sites × demand places; a nonzero entry means "covers". Existing sites
        first (see ``n_existing``).
    weights : array_like of float, optional
        One non-negative number per demand place (default 1).
    n_existing : int, default 0
        The first ``n_existing`` sites are existing ones.
    target_share : float, optional
        Share s in (0, 1] of the coverable weight to cover; None (or 1) is the classic model.
    **kwargs
        ``existing``, ``site_ids`` and ``demand_ids`` as for `LocationProblem`;
        ``service_radius`` (metres), kept as ``.service_radius`` (`from_access`
        and `from_cost_matrix` build the cover matrix from it).

    Attributes
    ----------
    covered_by_existing : ndarray of bool
        Per place: an existing site covers it.
    coverable : ndarray of bool
        Per place: some existing site or candidate covers it.
    uncoverable : ndarray of int
        Places nothing covers (indices); reported, never an error.
    uncoverable_ids : ndarray
        Their ids.
    weight_to_add : float or None
        Weight new sites must add (None: classic, cover every coverable place).

    Raises
    ------
    ProblemError
        When ``target_share`` is not in (0, 1], or as for `LocationProblem`.
    """

    name = "LSCP"

    def __init__(
        self,
        matrix: sparse.sparray | sparse.spmatrix,
        weights: ArrayLike | None = None,
        n_existing: int = 0,
        target_share: float | None = None,
        **kwargs: Any,
    ) -> None:
        if target_share is not None and not (isinstance(target_share, (int, float)) and 0 < target_share <= 1):
            raise ProblemError(f"LSCP: target_share must be a share in (0, 1], got {target_share!r}")
        super().__init__(matrix, weights, n_existing, **kwargs)
        self.target_share = 1.0 if target_share is None else float(target_share)
        reach = self.weights[self.coverable].sum()
        have = self.weights[self.covered_by_existing].sum()
        #: weight new sites must add (None: classic, cover every coverable place)
        self.weight_to_add = None if self.target_share == 1.0 else max(self.target_share * reach - have, 0.0)

    def evaluate(self, chosen: ArrayLike) -> float:
        """The number of new sites in ``chosen``.

        Parameters
        ----------
        chosen : array_like of int
            Candidate positions (0 = first candidate).

        Returns
        -------
        float
            Distinct positions in ``chosen``.
        """
        return float(len(np.unique(np.asarray(chosen, dtype=np.int64))))

    def _greedy_steps(self, k, allowed, *, ranking=False):
        if ranking or self.weight_to_add is not None:
            target = None if ranking else self.weight_to_add * (1 - 1e-12)
            return _greedy.greedy_cover(self._cover, self._left(), k=k, target=target, allowed=allowed)
        return _greedy.greedy_cover(self._cover, (self._left() > 0).astype(float), k=k, allowed=allowed)

    def _exact(self, time_limit, mip_gap):
        start = time.perf_counter()
        need = self._need()
        if len(need) == 0 or self.weight_to_add == 0:
            return np.zeros(0, dtype=np.int64), 0.0, "optimal"
        A, w, keep = self._reduce(need)
        mark = self._clock("reduce", start)
        if self.weight_to_add is None:
            self._build_time = time.perf_counter() - start
            chosen, bound, status = min_cover(A, keep, time_limit=time_limit, mip_gap=mip_gap, stages=self._stages)
        else:
            n_x, n_y = len(keep), A.shape[0]
            M = _uncovered_rows(A, n_x + np.arange(n_y), w)
            program = _milp.Program(
                np.concatenate([np.ones(n_x), np.zeros(n_y)]),
                M,
                np.append(np.full(n_y, -np.inf), self.weight_to_add * (1 - 1e-12)),
                np.append(np.zeros(n_y), np.inf),
                np.arange(n_x + n_y) < n_x,
            )
            self._build_time = time.perf_counter() - start
            self._clock("build", mark)
            sol = _milp.solve(program, time_limit=time_limit, mip_gap=mip_gap)
            self._spent("highs", sol.seconds)
            chosen = None if sol.x is None else keep[sol.x[:n_x] > 0.5]
            bound, status = (np.ceil(sol.bound - 1e-6) if np.isfinite(sol.bound) else 0.0), sol.status
        if chosen is None or status != "optimal":  # greedy only when HiGHS proved nothing better
            greedy_chosen, _ = self._greedy_steps(None, None)
            if chosen is None or len(greedy_chosen) < len(chosen):
                return greedy_chosen, bound, "time_limit" if chosen is None else status
        return chosen, bound, status

    def _canonical(self, chosen) -> np.ndarray:
        if self.weight_to_add is None:
            need, rows = self._need_rows
            if rows is None or not np.array_equal(need, self._need()):
                need = self._need()
                rows = self._distinct_rows(need)[0]
            return _canonical_cover(rows, chosen)
        return self._canonical_share(chosen)

    def _canonical_share(self, chosen) -> np.ndarray:
        """`LocationProblem._canonical` for the partial cover, deciding only likely drops and moves in full.

        As `MCLP._canonical`: estimates kept since the last change (weight
        only the site covers, every candidate's gain) rule out what cannot
        pass by a margin far above rounding; the rest is decided by the
        expressions of `_canon_value` and `_canon_values_with` themselves.
        """
        S = np.unique(np.asarray(chosen, dtype=np.int64))
        if not np.isfinite(self._canon_value(S)):
            return S
        margin = 1e-9 * max(1.0, float(self.weights.sum()))  # ≫ rounding in the estimates
        cover, weights = self._cover, self.weights
        csc = self._cover_p.T  # cover by column
        need = self.weight_to_add * (1 - 1e-12)
        have = float(self.weights[self.covered_by_existing].sum())
        open_ = np.zeros(len(self.candidates), dtype=bool)
        open_[S] = True

        def state():
            # As `covered` and `_left_after`, from one count of the open sites' places.
            count = np.bincount(_row_entries(cover, np.flatnonzero(open_)), minlength=self.n_demand)
            covered = self.covered_by_existing | (count > 0)
            left = np.where(covered | ~self.coverable, 0.0, weights)
            return float(weights[covered].sum()) - have, count, cover @ left

        def screen():
            # Twice the margin: the estimates here sum in another order.
            return _screened(
                cover,
                csc,
                weights,
                open_,
                count,
                self.covered_by_existing,
                gain,
                move_needs=lambda lost: (need - (added - lost)) * (1 - 1e-12) - 2 * margin,
                may_drop=lambda lost: added - lost >= need - 2 * margin,
            )

        added, count, gain = state()
        maybe = screen()
        changed = True
        while changed:
            changed = False
            for j in np.flatnonzero(open_)[::-1]:
                if not maybe[j]:  # neither the drop nor any move can pass (see screen)
                    continue
                mine = cover.indices[cover.indptr[j] : cover.indptr[j + 1]]
                alone = mine[(count[mine] == 1) & ~self.covered_by_existing[mine]]
                lost = float(weights[alone].sum())
                rest = np.flatnonzero(open_ & (np.arange(len(open_)) != j))
                if added - lost >= need - margin and self._short(rest) <= 0:
                    open_[j], changed = False, True
                    added, count, gain = state()
                    maybe = screen()
                    continue
                extra = np.bincount(
                    _row_entries(csc, alone),
                    weights=np.repeat(weights[alone], np.diff(csc.indptr)[alone]),
                    minlength=len(open_),
                )
                short = need - (added - lost)
                likely = np.flatnonzero(~open_[:j] & (gain[:j] + extra[:j] >= short * (1 - 1e-12) - margin))
                if len(likely) == 0:
                    continue
                ok = likely[cover[likely] @ self._left_after(rest) >= self._short(rest) * (1 - 1e-12)]
                if len(ok):
                    open_[j], open_[ok[0]], changed = False, True, True
                    added, count, gain = state()
                    maybe = screen()
        return np.flatnonzero(open_)

    def _canon_value(self, chosen) -> float:
        return len(chosen) if self._short(chosen) <= 0 else np.inf

    def _canon_values_with(self, rest) -> np.ndarray:
        left = self._left_after(rest)
        if self.weight_to_add is None:
            gain = self._cover @ (left > 0)
            ok = gain >= (left > 0).sum()
        else:
            ok = self._cover @ left >= self._short(rest) * (1 - 1e-12)
        return np.where(ok, len(rest) + 1.0, np.inf)

    def _left_after(self, chosen) -> np.ndarray:
        """Weight (positive-weight places that need covering) still uncovered with ``chosen`` open."""
        left = np.where(self.covered(chosen), 0.0, self.weights)
        left[~self.coverable] = 0.0
        return left

    def _short(self, chosen) -> float:
        """What ``chosen`` still misses: uncovered places (classic) or weight below the target."""
        left = self._left_after(chosen)
        if self.weight_to_add is None:
            return float((left > 0).sum())
        added = self.weights[self.covered(chosen)].sum() - self.weights[self.covered_by_existing].sum()
        return float(self.weight_to_add * (1 - 1e-12) - added)


class MCLP(_Covering):
    r"""Maximal covering location: k new sites maximising the covered weight.

    .. math::
        \max \sum_{i \in I} w_i y_i \quad\text{s.t.}\quad
        y_i \le \sum_{j \in N_i} x_j,\;\; \sum_{j \in J} x_j \le k,\;\;
        x_j = 1 \; (j \in E),\;\; x_j \in \{0,1\},\; 0 \le y_i \le 1

    ``objective`` is the total covered weight, existing sites' coverage
    included (as spopt reports it). Fewer than k sites are chosen when more
    would add nothing (spopt's ``= k`` reaches the same objective).

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Sites × demand places; a nonzero entry means "covers". Existing sites
        first (see ``n_existing``).
    weights : array_like of float, optional
        One non-negative number per demand place (default 1).
    n_existing : int, default 0
        The first ``n_existing`` sites are existing ones.
    k : int
        At most this many new sites (required).
    **kwargs
        ``existing``, ``site_ids`` and ``demand_ids`` as for `LocationProblem`;
        ``service_radius`` (metres), kept as ``.service_radius`` (`from_access`
        and `from_cost_matrix` build the cover matrix from it).

    Attributes
    ----------
    covered_by_existing : ndarray of bool
        Per place: an existing site covers it.
    coverable : ndarray of bool
        Per place: some existing site or candidate covers it.
    uncoverable : ndarray of int
        Places nothing covers (indices); reported, never an error.
    uncoverable_ids : ndarray
        Their ids.

    Raises
    ------
    ProblemError
        When ``k`` is missing, not a whole number ≥ 0 or more than the
        candidates, or as for `LocationProblem`.
    """

    name = "MCLP"

    def __init__(
        self,
        matrix: sparse.sparray | sparse.spmatrix,
        weights: ArrayLike | None = None,
        n_existing: int = 0,
        k: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(matrix, weights, n_existing, **kwargs)
        self.k = self._check_k(k)

    def evaluate(self, chosen: ArrayLike) -> float:
        """The covered weight with ``chosen`` open, existing sites' coverage included.

        Parameters
        ----------
        chosen : array_like of int
            Candidate positions (0 = first candidate).

        Returns
        -------
        float
            As `covered_weight`.
        """
        return self.covered_weight(chosen)

    def _greedy_steps(self, k, allowed, *, ranking=False):
        return _greedy.greedy_cover(self._cover, self._left(), k=self.k if k is None else k, allowed=allowed)

    def _greedy_bound(self, gains) -> float:
        # Greedy gains at least (1 - 1/e) of the best possible gain (coverage is submodular).
        have, reach = self.weights[self.covered_by_existing].sum(), self.weights[self.coverable].sum()
        return float(min(reach, have + np.sum(gains) / (1 - np.exp(-1))))

    def _exact(self, time_limit, mip_gap):
        start = time.perf_counter()
        have = self.weights[self.covered_by_existing].sum()
        need = self._need()
        if len(need) == 0 or self.k == 0:
            return np.zeros(0, dtype=np.int64), have, "optimal"
        A, w, keep = self._reduce(need)
        mark = self._clock("reduce", start)
        n_x, n_y = len(keep), A.shape[0]
        M = _uncovered_rows(A, np.arange(n_x), np.ones(n_x))
        program = _milp.Program(
            np.concatenate([np.zeros(n_x), -w]),
            M,
            np.full(n_y + 1, -np.inf),
            np.append(np.zeros(n_y), self.k),
            np.arange(n_x + n_y) < n_x,
        )
        self._build_time = time.perf_counter() - start
        self._clock("build", mark)
        sol = _milp.solve(program, time_limit=time_limit, mip_gap=mip_gap)
        self._spent("highs", sol.seconds)
        bound = have - sol.bound if np.isfinite(sol.bound) else have + w.sum()
        if sol.x is None or sol.status != "optimal":  # greedy only when HiGHS proved nothing better
            greedy_chosen, gains = self._greedy_steps(None, None)
            if sol.x is None or -sol.value < np.sum(gains) - 1e-9:
                return greedy_chosen, bound, "time_limit" if sol.x is None else sol.status
        return keep[sol.x[:n_x] > 0.5], bound, sol.status

    def _canon_value(self, chosen) -> float:
        return -self.covered_weight(chosen) if len(chosen) <= self.k else np.inf

    def _canonical(self, chosen) -> np.ndarray:
        """`LocationProblem._canonical` with the gains kept up to date and only likely moves evaluated in full.

        The same passes and tests, in the same order: a cheap estimate (weight
        only the site covers, gain of every candidate kept since the last
        change) rules out what cannot pass with a margin far above rounding,
        and what can is decided by the very expressions of `_canon_value` and
        `_canon_values_with`, so the outcome is the same to the last bit.
        """
        S = np.unique(np.asarray(chosen, dtype=np.int64))
        best = float(self._canon_value(S))
        if not np.isfinite(best):
            return S
        tol = 1e-9 * max(1.0, abs(best))
        margin = tol + 1e-9 * max(1.0, float(self.weights.sum()))  # ≫ rounding in the estimates
        cover = self._cover
        csc = self._cover_p.T  # cover by column
        weights = self.weights
        open_ = np.zeros(len(self.candidates), dtype=bool)
        open_[S] = True

        def state():
            count = np.bincount(_row_entries(cover, np.flatnonzero(open_)), minlength=self.n_demand)
            covered = self.covered_by_existing | (count > 0)  # as `covered`, from the same count
            return covered, count, cover @ np.where(covered, 0.0, weights)

        def screen():
            # Twice the margin: the estimates here sum in another order.
            return _screened(
                cover,
                csc,
                weights,
                open_,
                count,
                self.covered_by_existing,
                gain,
                move_needs=lambda lost: -best - (float(weights[covered].sum()) - lost) - 2 * margin,
                may_drop=lambda lost: lost <= 2 * margin,
            )

        covered, count, gain = state()
        maybe = screen()
        changed = True
        while changed:
            changed = False
            for j in np.flatnonzero(open_)[::-1]:
                if not maybe[j]:  # neither the drop nor any move can pass (see screen)
                    continue
                mine = cover.indices[cover.indptr[j] : cover.indptr[j + 1]]
                alone = mine[(count[mine] == 1) & ~self.covered_by_existing[mine]]
                lost = float(weights[alone].sum())
                rest = np.flatnonzero(open_ & (np.arange(len(open_)) != j))
                if lost <= margin:
                    value = float(self._canon_value(rest))
                    if value <= best + tol:
                        open_[j], best, changed = False, value, True
                        covered, count, gain = state()
                        maybe = screen()
                        continue
                # Estimated gain of each lower closed candidate once j closes; -(covered − lost + gain) ≤ best + tol?
                extra = np.bincount(
                    _row_entries(csc, alone),
                    weights=np.repeat(weights[alone], np.diff(csc.indptr)[alone]),
                    minlength=len(open_),
                )
                have = float(weights[covered].sum()) - lost
                likely = np.flatnonzero(~open_[:j] & (gain[:j] + extra[:j] >= -best - have - margin))
                if len(likely) == 0:
                    continue
                now = self.covered(rest)
                exact = -(weights[now].sum() + cover[likely] @ np.where(now, 0.0, weights))
                ok = likely[exact <= best + tol]
                if len(ok):
                    open_[j], open_[ok[0]], changed = False, True, True
                    best = float(exact[np.searchsorted(likely, ok[0])])
                    covered, count, gain = state()
                    maybe = screen()
        return np.flatnonzero(open_)

    def _canon_values_with(self, rest) -> np.ndarray:
        covered = self.covered(rest)
        gain = self._cover @ np.where(covered, 0.0, self.weights)
        return -(self.weights[covered].sum() + gain) if len(rest) < self.k else np.full(len(self.candidates), np.inf)


#: `_alone_gains` builds its open sites × candidates table only up to this many cells.
MAX_SCREEN_CELLS = 1_000_000


def _alone_gains(cover, by_place, weights, open_, count, covered_by_existing):
    """For every open site at once: the weight only it covers, and what each candidate would cover of that weight.

    Returns the open sites, ``lost`` (one float each) and ``extra`` (sites ×
    candidates; None when that table would exceed `MAX_SCREEN_CELLS`). The
    sums are those the tie-breaks form site by site, in another order, so
    they may differ from them in the last bits.
    """
    sites = np.flatnonzero(open_)
    n_cand = len(open_)
    places = _row_entries(cover, sites)
    owner = np.repeat(np.arange(len(sites)), np.diff(cover.indptr)[sites])
    alone = (count[places] == 1) & ~covered_by_existing[places]
    places, owner = places[alone], owner[alone]
    lost = np.bincount(owner, weights=weights[places], minlength=len(sites))
    if len(sites) * n_cand > MAX_SCREEN_CELLS:
        return sites, lost, None
    deg = np.diff(by_place.indptr)[places]
    cand = _row_entries(by_place, places)
    extra = np.bincount(
        np.repeat(owner, deg) * n_cand + cand, weights=np.repeat(weights[places], deg), minlength=len(sites) * n_cand
    )
    return sites, lost, extra.reshape(len(sites), n_cand)


def _screened(cover, by_place, weights, open_, count, covered_by_existing, gain, *, move_needs, may_drop) -> np.ndarray:
    """Open sites whose drop or some move may pass a tie-break's test (from `_alone_gains`; all when too large).

    ``move_needs(lost)`` is, per open site, the least a free lower candidate
    must cover (its ``gain`` plus the site's lone weight it takes over) for a
    move to pass; ``may_drop(lost)`` whether dropping the site may pass.
    """
    sites, lost, extra = _alone_gains(cover, by_place, weights, open_, count, covered_by_existing)
    if extra is None:
        return np.ones(len(open_), dtype=bool)
    free = ~open_ & (np.arange(len(open_)) < sites[:, None])
    hit = (free & (gain + extra >= move_needs(lost)[:, None])).any(axis=1)
    out = np.zeros(len(open_), dtype=bool)
    out[sites] = hit | may_drop(lost)
    return out


def _canonical_cover(rows: _milp.Pattern, chosen) -> np.ndarray:
    """`LocationProblem._canonical` for the classic LSCP, with coverage counts kept up to date.

    ``rows`` is the 0/1 matrix of the places to cover × candidates; identical
    rows may be merged, as places with the same candidates are counted,
    depended on and moved alike (and `_cover_moves` asks a good candidate to
    cover all of a site's places, whichever of them it starts from). The
    same passes, in the same order, with the same outcome: site j is
    dropped when no place depends on it alone, otherwise moved
    to the lowest free candidate below j covering every place that does.
    What each open site would do is worked out for all of them at once
    (`_cover_moves`), and after a change again only for the sites whose own
    places or target it touched, instead of one pass over all pairs per site.
    """
    S = np.unique(np.asarray(chosen, dtype=np.int64))
    rows = _milp.Pattern.of(rows)  # places to cover × candidates
    C = rows.T  # candidates × places
    n_cand, n_need = C.shape
    count = np.bincount(_row_entries(C, S), minlength=n_need)
    if n_need == 0 or (count == 0).any():  # not a cover: the canonical value is inf, as is
        return S
    csc = rows  # C by column
    keys = np.repeat(np.arange(n_cand, dtype=np.int64), np.diff(C.indptr)) * n_need + C.indices  # ascending
    open_ = np.zeros(n_cand, dtype=bool)
    open_[S] = True
    changed = True
    while changed:
        changed = False
        snapshot = np.flatnonzero(open_)[::-1]
        move = _cover_moves(C, csc, keys, open_, count, snapshot)
        for j in snapshot:
            if move[j] == -2:  # nothing to do for j
                continue
            mine = C.indices[C.indptr[j] : C.indptr[j + 1]]
            c = move[j]
            theirs = C.indices[C.indptr[c] : C.indptr[c + 1]] if c >= 0 else mine[:0]
            touched = np.union1d(mine, theirs)
            was_alone = count[touched] == 1
            open_[j], changed = False, True
            count[mine] -= 1
            if c >= 0:
                open_[c] = True
                count[theirs] += 1
            # Only sites that gained or lost a place of their own, or whose target c now is, can act differently.
            flipped = touched[was_alone != (count[touched] == 1)]
            owners = _row_entries(csc, flipped)
            redo = np.union1d(owners[open_[owners]], np.flatnonzero(move == c) if c >= 0 else owners[:0])
            redo = redo[redo < j]
            if len(redo):
                move[redo] = _cover_moves(C, csc, keys, open_, count, redo)[redo]
    return np.flatnonzero(open_)


def _cover_moves(C, csc, keys, open_, count, sites) -> np.ndarray:
    """For each of ``sites``: -1 drop it, c ≥ 0 move it to candidate c, -2 keep it (an array over all candidates).

    A site is dropped when no place depends on it alone (count 1); otherwise
    it moves to the lowest-numbered closed candidate below it that covers
    every such place, if any. ``keys`` are C's entries as ``row × n_cols + col``, ascending.
    """
    move = np.full(len(open_), -2, dtype=np.int64)
    if len(sites) == 0:
        return move
    sites = np.sort(sites)
    lengths = np.diff(C.indptr)[sites]
    owner = np.repeat(sites, lengths)
    places = _row_entries(C, sites)
    alone = count[places] == 1
    owner, places = owner[alone], places[alone]  # (site, place only it covers), by site
    n_alone = np.bincount(owner, minlength=len(open_))
    move[sites[n_alone[sites] == 0]] = -1
    busy = np.flatnonzero(n_alone > 0)
    if len(busy) == 0:
        return move
    # Each busy site's dependent place with the fewest candidates; try those candidates.
    by_place = np.diff(csc.indptr)
    key = by_place[places] * (len(by_place) + 1) + places
    first = np.searchsorted(owner, busy)
    u = np.minimum.reduceat(key, first) % (len(by_place) + 1)
    n = by_place[u]
    site = np.repeat(busy, n)
    cand = _row_entries(csc, u)  # the candidates of each u, ascending
    ok = (cand < site) & ~open_[cand]
    site, cand = site[ok], cand[ok]
    if len(site) == 0:
        return move
    # Does cand cover every place its site alone covers? Expand the pairs over those places.
    start = first[np.searchsorted(busy, site)]
    m = n_alone[site]
    offset = np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)
    p = places[np.repeat(start, m) + offset]
    q = np.repeat(cand, m).astype(np.int64) * C.shape[1] + p
    hit = keys[np.minimum(np.searchsorted(keys, q), len(keys) - 1)] == q
    missing = np.bincount(np.repeat(np.arange(len(site)), m), weights=~hit, minlength=len(site))
    good = missing == 0
    # The lowest good candidate per site (candidates come ascending within a site).
    site, cand = site[good], cand[good]
    lead = np.flatnonzero(np.diff(site, prepend=-1))
    move[site[lead]] = cand[lead]
    return move


def _uncovered_rows(A: _milp.Pattern, last_cols: np.ndarray, last_values: np.ndarray) -> sparse.csr_matrix:
    """``[[-A, I], [last]]`` as CSR: row i is ``y_i − Σ_{j ∈ row i} x_j`` (≤ 0), then one row of ``last_values`` at ``last_cols``.

    Equal to ``sparse.vstack([sparse.hstack([-A, I]), last])`` entry for entry, without its conversions.
    """
    n_y, n_x = A.shape
    counts = np.diff(A.indptr) + 1
    indptr = np.zeros(n_y + 2, dtype=np.int64)
    np.cumsum(counts, out=indptr[1 : n_y + 1])
    indptr[-1] = indptr[n_y] + len(last_cols)
    unit = indptr[1 : n_y + 1] - 1  # each row's y entry comes after its x entries
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1])
    is_x = np.ones(len(indices), dtype=bool)
    is_x[unit] = False
    is_x[indptr[n_y] :] = False
    indices[is_x], data[is_x] = A.indices, -1.0
    indices[unit], data[unit] = n_x + np.arange(n_y), 1.0
    indices[indptr[n_y] :], data[indptr[n_y] :] = last_cols, last_values
    return sparse.csr_matrix((data, indices, indptr), shape=(n_y + 1, n_x + n_y))


def _row_entries(matrix: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Column indices of the entries in ``rows`` of a CSR matrix (concatenated)."""
    start, stop = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = stop - start
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return matrix.indices[np.repeat(start, lengths) + offsets]


def min_cover(
    A: sparse.csr_matrix,
    positions: np.ndarray,
    *,
    time_limit: float | None = None,
    mip_gap: float = 0.0,
    stages: dict[str, float] | None = None,
) -> tuple[np.ndarray | None, float, str]:
    """Fewest columns of the 0/1 matrix ``A`` covering every row (each row must have an entry).

    Rows containing another row are dropped first (covering the smaller
    covers them).

    Parameters
    ----------
    A : scipy.sparse.csr_matrix or _milp.Pattern
        Places × columns, 1 where the column covers the place.
    positions : ndarray of int
        The candidate position of each column.
    time_limit : float, optional
        Seconds for HiGHS; None for no limit.
    mip_gap : float, default 0.0
        Relative gap at which HiGHS may stop (0: prove optimality).
    stages : dict of str to float, optional
        Seconds are added to its ``"reduce"``, ``"build"`` and ``"highs"`` entries.

    Returns
    -------
    chosen : ndarray of int or None
        The chosen ``positions``; None when no cover was found in time.
    bound : float
        Proven lower bound on the count.
    status : str
        As `_milp.MilpResult.status`.
    """
    start = time.perf_counter()
    if isinstance(A, _milp.Pattern):
        A = A.take_rows(np.flatnonzero(~_milp.superset_rows(A))).to_csr()
    else:
        A = sparse.csr_matrix(A)
        A = A[~_milp.superset_rows(A)]
    reduced = time.perf_counter()
    n = A.shape[1]
    program = _milp.Program(np.ones(n), A, np.ones(A.shape[0]), np.full(A.shape[0], np.inf), np.ones(n, dtype=bool))
    built = time.perf_counter()
    sol = _milp.solve(program, time_limit=time_limit, mip_gap=mip_gap)
    if stages is not None:
        for stage, seconds in (("reduce", reduced - start), ("build", built - reduced), ("highs", sol.seconds)):
            stages[stage] = stages.get(stage, 0.0) + seconds
    bound = np.ceil(sol.bound - 1e-6) if np.isfinite(sol.bound) else 0.0
    chosen = None if sol.x is None else np.asarray(positions)[sol.x > 0.5]
    return chosen, bound, sol.status
