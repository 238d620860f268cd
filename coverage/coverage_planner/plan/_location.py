"""The shared base of the location models in `coverage_planner.plan.models`: data, validation, constructors, results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from coverage_planner._errors import CoverageError
from coverage_planner.access.matrix import AccessMatrix


class ProblemError(CoverageError, ValueError):
    """A location problem that cannot be posed as given (k, target share, weights or candidates)."""


#: The name `coverage_planner.plan.proposal` uses for the same error.
ProposalError = ProblemError


@dataclass(frozen=True)
class Solution:
    """One solve of a location problem.

    Parameters
    ----------
    method : {"exact", "greedy"}
        How it was solved.
    chosen : ndarray of int
        New sites as candidate positions (0 = first candidate), ascending.
    selected : ndarray of int
        The same sites as rows of the site × demand matrix.
    selected_ids : ndarray
        The same sites as ids.
    objective : float
        The model's objective for this answer, computed from the data (not the solver).
    bound : float
        Best proven bound on the optimum (NaN when the method gives none).
    gap : float
        ``|bound − objective| / |objective|``; 0 when proven optimal.
    status : {"optimal", "time_limit", "gap_limit", "heuristic"}
        "time_limit": best found, see gap; "gap_limit": HiGHS stopped within ``mip_gap``.
    solve_time_s : float
        Wall-clock seconds of the whole solve.
    build_time_s : float, default NaN
        Wall-clock seconds of building the MILP.
    tie_break : bool, default False
        Whether putting the answer in canonical form changed it (see `LocationProblem._canonical`).
    stage_times_s : dict of str to float, default empty
        Wall-clock seconds of an exact solve's stages: ``"reduce"`` (merging
        rows, dropping dominated columns and rows), ``"build"`` (the MILP's
        matrices), ``"highs"`` (inside HiGHS, LP relaxation and MILP),
        ``"tie_break"`` (the canonical form) and ``"other"`` (the rest:
        greedy fall-backs, objective, bookkeeping). Empty for greedy.
    """

    method: str
    chosen: np.ndarray
    selected: np.ndarray
    selected_ids: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float
    build_time_s: float = float("nan")
    tie_break: bool = False
    stage_times_s: dict[str, float] = field(default_factory=dict)


class LocationProblem:
    """Data, validation and result handling shared by LSCP, MCLP, PMedian and PCenter.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Sites × demand places. For the covering models a nonzero entry means
        "covers"; for the distance models every stored entry (explicit zeros
        too) is a walk in metres and absent pairs are out of reach.
    weights : array_like of float, optional
        One non-negative number per demand place (default 1).
    n_existing : int, default 0
        The first ``n_existing`` sites are existing ones.
    existing : array_like of bool or int, optional
        Instead of ``n_existing``: a bool mask or the indices of the existing sites.
    site_ids, demand_ids : array_like, optional
        Labels (default 0..n-1).

    Attributes
    ----------
    n_sites, n_demand : int
        The matrix's shape.
    existing : ndarray of bool
        Which sites are existing ones (always open).
    candidates : ndarray of int
        Rows of the candidate sites; a candidate's position is its index here.
    weights : ndarray of float
        Weight per demand place.
    solution : Solution or None
        The last solve's answer; ``chosen``, ``selected``, ``selected_ids``,
        ``objective``, ``bound``, ``gap``, ``status`` and ``solve_time_s``
        read from it (empty, NaN or "unsolved" before a solve).

    Raises
    ------
    ProblemError
        When the matrix is not sparse, there is no candidate, or the weights
        or existing sites do not fit the matrix.
    """

    name = "location problem"

    def __init__(
        self,
        matrix: sparse.sparray | sparse.spmatrix,
        weights: ArrayLike | None = None,
        n_existing: int = 0,
        *,
        existing: ArrayLike | None = None,
        site_ids: ArrayLike | None = None,
        demand_ids: ArrayLike | None = None,
    ) -> None:
        if not sparse.issparse(matrix):
            raise ProblemError(
                f"{self.name}: matrix must be a scipy.sparse sites × demand matrix; "
                "use from_cost_matrix for a dense demand × sites array"
            )
        coo = sparse.coo_matrix(matrix)
        self.n_sites, self.n_demand = coo.shape
        self.existing = _existing_mask(n_existing, existing, self.n_sites)
        self.candidates = np.flatnonzero(~self.existing)
        if len(self.candidates) == 0:
            raise ProblemError(
                f"{self.name}: no candidate sites (all {self.n_sites} sites are existing ones); give at least one candidate"
            )
        self.weights = _weights(weights, self.n_demand)
        self.site_ids = np.arange(self.n_sites) if site_ids is None else np.asarray(site_ids)
        self.demand_ids = np.arange(self.n_demand) if demand_ids is None else np.asarray(demand_ids)
        self._pos = np.full(self.n_sites, -1, dtype=np.int64)  # site row → candidate position
        self._pos[self.candidates] = np.arange(len(self.candidates))
        self.solution: Solution | None = None
        self._build_time = float("nan")
        self._stages: dict[str, float] = {}
        self._read(coo)

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_access(
        cls,
        matrix: AccessMatrix,
        *,
        n_existing: int = 0,
        existing: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        **params: Any,
    ) -> Self:
        """Build the problem from an `AccessMatrix` whose rows are existing + candidate sites.

        Ids are taken from the matrix; the covering models use the matrix's
        cutoff as service radius unless ``service_radius`` is given, the
        distance models use it as the search limit.

        Parameters
        ----------
        matrix : AccessMatrix
            Walks from existing and candidate sites to the demand places.
        n_existing : int, default 0
            The first ``n_existing`` rows are existing sites.
        existing : array_like of bool or int, optional
            Instead of ``n_existing``: a bool mask or the rows of the existing sites.
        weights : array_like of float, optional
            One non-negative number per demand place (default 1).
        **params
            The model's own parameters (``k``, ``target_share``,
            ``service_radius``, ``penalty_m``, ``search_limit_m``).

        Returns
        -------
        LocationProblem
            The problem, of the class it is called on.
        """
        sp, params = cls._sparse_from_access(matrix, dict(params))
        return cls(
            sp, weights, n_existing, existing=existing, site_ids=matrix.site_ids, demand_ids=matrix.demand_ids, **params
        )

    @classmethod
    def from_cost_matrix(
        cls,
        cost_matrix: ArrayLike,
        *,
        n_existing: int = 0,
        existing: ArrayLike | None = None,
        weights: ArrayLike | None = None,
        **params: Any,
    ) -> Self:
        """Build the problem from a dense demand × sites cost matrix, laid out as spopt lays it out.

        Parameters
        ----------
        cost_matrix : array_like of float, shape (n_demand, n_sites)
            Walk per pair; entries that are ``inf`` or NaN are out of reach.
        n_existing : int, default 0
            The first ``n_existing`` sites (columns) are existing ones.
        existing : array_like of bool or int, optional
            Instead of ``n_existing``: a bool mask or the columns of the existing sites.
        weights : array_like of float, optional
            One non-negative number per demand place (default 1).
        **params
            The model's own parameters; the covering models need ``service_radius``.

        Returns
        -------
        LocationProblem
            The problem, of the class it is called on.

        Raises
        ------
        ProblemError
            When ``cost_matrix`` is not 2-D, or a covering model has no usable ``service_radius``.
        """
        cost = np.asarray(cost_matrix, dtype=np.float64)
        if cost.ndim != 2:
            raise ProblemError(f"{cls.name}: cost_matrix must be 2-D (demand × sites), got shape {cost.shape}")
        sp, params = cls._sparse_from_cost(cost, dict(params))
        return cls(sp, weights, n_existing, existing=existing, **params)

    # ----------------------------------------------------------------- solving
    def solve(self, method: str = "exact", *, time_limit: float | None = None, mip_gap: float = 0.0) -> Solution:
        """Solve; the answer is returned and kept as ``.solution`` (read through the problem's attributes too).

        Parameters
        ----------
        method : {"exact", "greedy"}, default "exact"
            "exact": a MILP solved by HiGHS.
        time_limit : float, optional
            Seconds for HiGHS; the best answer found (never worse than
            greedy) is returned with its bound and gap.
        mip_gap : float, default 0.0
            Relative gap at which HiGHS may stop (0: prove optimality).

        Returns
        -------
        Solution
            The answer, in canonical form.

        Raises
        ------
        ProblemError
            When ``method`` or ``time_limit`` is not valid.
        """
        if method not in ("exact", "greedy"):
            raise ProblemError(f"method must be 'exact' or 'greedy', not {method!r}")
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
            raise ProblemError(f"time_limit must be a positive number of seconds, not {time_limit!r}")
        start = time.perf_counter()
        self._build_time, tie = float("nan"), False
        self._stages = {} if method == "greedy" else dict.fromkeys(("reduce", "build", "highs", "tie_break"), 0.0)
        if method == "greedy":
            chosen, gains = self._greedy_steps(None, None)
            bound, status = self._greedy_bound(gains), "heuristic"
        else:
            found, bound, status = self._exact(time_limit, mip_gap)
            started = time.perf_counter()
            chosen = self._canonical(found)
            self._clock("tie_break", started)
            tie = not np.array_equal(chosen, np.sort(np.asarray(found, dtype=np.int64)))
        chosen = np.sort(np.asarray(chosen, dtype=np.int64))
        objective = float(self.evaluate(chosen))
        bound = float(bound)
        gap = 0.0 if status == "optimal" else _gap(objective, bound)
        selected = self.candidates[chosen]
        self.solution = Solution(
            method,
            chosen,
            selected,
            self.site_ids[selected],
            objective,
            bound,
            gap,
            status,
            time.perf_counter() - start,
            self._build_time,
            tie,
            self._stage_summary(time.perf_counter() - start),
        )
        return self.solution

    def evaluate(self, chosen: ArrayLike) -> float:
        """The objective with existing sites and the candidates at positions ``chosen`` open.

        Parameters
        ----------
        chosen : array_like of int
            Candidate positions (0 = first candidate).

        Returns
        -------
        float
            The model's objective.
        """
        raise NotImplementedError

    def ranking(self, solution: Solution | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A solution's new sites (candidate positions) in the order greedy adds them, with each one's gain.

        Parameters
        ----------
        solution : Solution, optional
            Default: the last solve's.

        Returns
        -------
        order : ndarray of int
            The solution's candidate positions; sites without marginal gain
            come last, by position.
        gains : ndarray of float
            The model's greedy gain of each: covered weight for LSCP and
            MCLP, the drop in Σ weight × walk for PMedian and PCenter.

        Raises
        ------
        ProblemError
            When there is no solution to rank yet.
        """
        solution = solution or self.solution
        if solution is None:
            raise ProblemError(f"{self.name}: solve the problem before ranking its answer")
        allowed = np.zeros(len(self.candidates), dtype=bool)
        allowed[solution.chosen] = True
        order, gains = self._greedy_steps(len(solution.chosen), allowed, ranking=True)
        rest = np.setdiff1d(solution.chosen, order)  # sites without marginal gain, by position
        return np.concatenate([order, rest]).astype(np.int64), np.concatenate([gains, np.zeros(len(rest))])

    # --------------------------------------------- the current solution's view
    chosen = property(
        lambda self: self._sol("chosen", np.zeros(0, dtype=np.int64)), doc="`Solution.chosen` (empty before a solve)."
    )
    selected = property(
        lambda self: self._sol("selected", np.zeros(0, dtype=np.int64)),
        doc="`Solution.selected` (empty before a solve).",
    )
    selected_ids = property(
        lambda self: self._sol("selected_ids", self.site_ids[:0]), doc="`Solution.selected_ids` (empty before a solve)."
    )
    objective = property(
        lambda self: self._sol("objective", float("nan")), doc="`Solution.objective` (NaN before a solve)."
    )
    bound = property(lambda self: self._sol("bound", float("nan")), doc="`Solution.bound` (NaN before a solve).")
    gap = property(lambda self: self._sol("gap", float("nan")), doc="`Solution.gap` (NaN before a solve).")
    status = property(
        lambda self: self._sol("status", "unsolved"), doc='`Solution.status` ("unsolved" before a solve).'
    )
    solve_time_s = property(
        lambda self: self._sol("solve_time_s", float("nan")), doc="`Solution.solve_time_s` (NaN before a solve)."
    )

    def _sol(self, field: str, default):
        return default if self.solution is None else getattr(self.solution, field)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.n_sites} sites ({len(self.candidates)} candidates) × {self.n_demand} places: "
            f"{self.status}, objective={self.objective:.6g}, {len(self.chosen)} new>"
        )

    # ---------------------------------------------------------------- for models
    def _clock(self, stage: str, since: float) -> float:
        """Add the seconds since ``since`` to ``stage``; returns now, the next stage's start."""
        now = time.perf_counter()
        self._spent(stage, now - since)
        return now

    def _spent(self, stage: str, seconds: float) -> None:
        """Add ``seconds`` to ``stage`` of the running solve (nothing outside `solve`, or for "other")."""
        if stage in self._stages:
            self._stages[stage] += seconds

    def _stage_summary(self, total: float) -> dict[str, float]:
        if not self._stages:
            return {}
        out = dict(self._stages)
        out["other"] = max(total - sum(out.values()), 0.0)
        return out

    def _greedy_bound(self, gains) -> float:
        return float("nan")

    def _canonical(self, chosen) -> np.ndarray:
        """Put an answer in canonical form, so equally good answers come out the same.

        Passes over the new sites from the highest candidate position down:
        a site is dropped when that does not worsen the objective, otherwise
        moved to the lowest-position free candidate below it that keeps the
        objective; passes repeat until one changes nothing. Every change
        lowers the number of sites or the sum of positions, so it ends, and
        none worsens the objective (tolerance 1e-9 relative; p-center compares
        the worst walk, then the total weighted walk). Each test is one
        vectorised pass over the pairs (`_canon_value`, `_canon_values_with`).
        """
        S = np.sort(np.unique(np.asarray(chosen, dtype=np.int64)))
        best = np.atleast_1d(np.asarray(self._canon_value(S), dtype=float))
        if not np.isfinite(best).all():
            return S
        tol = 1e-9 * np.maximum(1.0, np.abs(best))
        changed = True
        while changed:
            changed = False
            for j in S[::-1].copy():
                rest = S[S != j]
                value = np.atleast_1d(np.asarray(self._canon_value(rest), dtype=float))
                if _lex_le(value[None, :], best, tol)[0]:
                    S, best, changed = rest, value, True
                    continue
                values = np.asarray(self._canon_values_with(rest), dtype=float).reshape(len(self.candidates), -1)
                free = np.ones(len(self.candidates), dtype=bool)
                free[S] = False
                ok = np.flatnonzero(free[:j] & _lex_le(values[:j], best, tol))
                if len(ok):
                    S, best, changed = np.sort(np.append(rest, ok[0])), values[ok[0]], True
        return S

    @staticmethod
    def _no_worse(values: np.ndarray, best: np.ndarray, tol: np.ndarray) -> np.ndarray:
        """Rows of ``values`` lexicographically no worse than ``best``, as `_canonical` compares them."""
        return _lex_le(values, best, tol)

    @staticmethod
    def _no_worse_one(value: list[float], best: list[float], tol: list[float]) -> bool:
        """`_no_worse` of one row given as Python floats (a hot loop's single test, without array overhead)."""
        ok = True
        for v, b, t in zip(reversed(value), reversed(best), reversed(tol)):  # from the last criterion up
            ok = v < b - t or (v <= b + t and ok)
        return ok

    def _canon_value(self, chosen):
        """The objective to minimise for the canonical form (inf when infeasible); a pair compares lexicographically."""
        return float(self.evaluate(chosen))

    def _canon_values_with(self, rest) -> np.ndarray:
        """`_canon_value` of ``rest`` plus each candidate in turn (one row per candidate position)."""
        raise NotImplementedError

    def _check_k(self, k) -> int:
        if k is None:
            raise ProblemError(f"{self.name}: k, the number of new sites, is required")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ProblemError(f"{self.name}: k must be a whole number ≥ 0 of new sites, got {k!r}")
        if k > len(self.candidates):
            raise ProblemError(
                f"{self.name}: k={k} new sites asked for, but there are only {len(self.candidates)} candidates"
            )
        return int(k)


def _existing_mask(n_existing, existing, n: int) -> np.ndarray:
    if existing is not None:
        if n_existing:
            raise ProblemError("give either n_existing or existing, not both")
        arr = np.asarray(existing)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ProblemError(f"existing must be a bool mask with one value per site ({n}), got shape {arr.shape}")
            return arr.copy()
        idx = arr.astype(np.int64).ravel()
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise ProblemError(f"existing site indices must lie in 0..{n - 1}")
        out = np.zeros(n, dtype=bool)
        out[idx] = True
        return out
    if isinstance(n_existing, bool) or not isinstance(n_existing, (int, np.integer)) or not 0 <= n_existing <= n:
        raise ProblemError(f"n_existing must be a whole number in 0..{n} (the number of sites), got {n_existing!r}")
    return np.arange(n) < n_existing


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,):
        raise ProblemError(f"weights must have one value per demand place ({n}), got {w.shape[0]}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ProblemError(f"weights must be finite and ≥ 0; demand place {i} has {w[i]!r}")
    return w


def _lex_le(values: np.ndarray, best: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Rows of ``values`` lexicographically no worse than ``best`` (within ``tol`` per column)."""
    ok = np.ones(len(values), dtype=bool)
    for col in range(values.shape[1] - 1, -1, -1):  # build from the last criterion up
        ok = (values[:, col] < best[col] - tol[col]) | ((values[:, col] <= best[col] + tol[col]) & ok)
    return ok


def _gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan")
    diff = abs(bound - objective)
    return 0.0 if diff <= 1e-9 * max(1.0, abs(objective)) else diff / max(abs(objective), 1e-12)
