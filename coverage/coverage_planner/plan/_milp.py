"""Mixed-integer programs for the location models, solved by HiGHS through `scipy.optimize.milp`.

Internal to `coverage_planner.plan.models`. Two things live here:

* `solve`: one MILP, tried first as its LP relaxation (covering models on
  street networks often have an integral LP optimum, which is then optimal),
  then as a MILP with HiGHS presolve off: the reductions that matter here
  (`dedupe_rows`, `dominated_columns`, `superset_rows`) are done beforehand
  with sparse algebra, which is much faster than HiGHS's general presolve on
  these 0/1 matrices.
* the reductions themselves.

All programs are minimisations: callers negate a maximisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

#: Largest number of nonzeros in a Gram product (``B.T @ B``) we let a reduction build.
MAX_GRAM_WORK = 30_000_000


@dataclass
class Program:
    """``min c·x`` s.t. ``row_lo ≤ A x ≤ row_hi``, ``0 ≤ x ≤ upper``, ``x[integer]`` whole.

    Parameters
    ----------
    c : ndarray of float
        Cost per variable.
    A : scipy.sparse.csr_matrix
        Constraint rows × variables.
    row_lo, row_hi : ndarray of float
        Bounds per constraint row (``-inf`` / ``inf`` for none).
    integer : ndarray of bool
        Which variables must be whole.
    upper : ndarray of float or float, default 1.0
        Upper bound per variable.
    """

    c: np.ndarray
    A: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    integer: np.ndarray  # bool mask
    upper: np.ndarray | float = 1.0


@dataclass
class MilpResult:
    """What HiGHS found.

    Parameters
    ----------
    x : ndarray of float or None
        The incumbent; None when no feasible point was found in time.
    value : float
        ``c·x`` of the incumbent (inf without one).
    bound : float
        Proven lower bound on ``c·x`` (-inf when none).
    status : {"optimal", "time_limit", "gap_limit", "infeasible"}
        How the solve ended; "gap_limit" stopped within ``mip_gap``.
    seconds : float
        Wall-clock time of the solve.
    """

    x: np.ndarray | None
    value: float  # c·x of the incumbent (inf without one)
    bound: float  # proven lower bound on c·x (-inf when none)
    status: str  # "optimal", "time_limit", "infeasible"
    seconds: float


def solve(program: Program, *, time_limit: float | None = None, mip_gap: float = 0.0) -> MilpResult:
    """Solve ``program``: its LP relaxation first, then, if that is fractional, the MILP.

    Parameters
    ----------
    program : Program
        The minimisation.
    time_limit : float, optional
        Seconds for both solves together; None for no limit.
    mip_gap : float, default 0.0
        Relative gap at which HiGHS may stop (0: prove optimality).

    Returns
    -------
    MilpResult
        The incumbent, its value, the proven bound and the status.
    """
    start = time.perf_counter()
    kwargs = {
        "constraints": [LinearConstraint(program.A, program.row_lo, program.row_hi)] if program.A.shape[0] else [],
        "bounds": Bounds(0.0, program.upper),
    }

    def left() -> float | None:
        return None if time_limit is None else max(time_limit - (time.perf_counter() - start), 1e-3)

    def opts() -> dict:
        out = {"presolve": False}
        if time_limit is not None:
            out["time_limit"] = left()
        return out

    lp = milp(program.c, integrality=np.zeros(len(program.c)), options=opts(), **kwargs)
    if lp.status == 2:
        return MilpResult(None, np.inf, np.inf, "infeasible", time.perf_counter() - start)
    if lp.status == 0:
        frac = np.abs(lp.x - np.round(lp.x))[program.integer]
        if not len(frac) or frac.max() < 1e-9:
            x = np.where(program.integer, np.round(lp.x), lp.x)
            return MilpResult(x, float(program.c @ x), float(lp.fun), "optimal", time.perf_counter() - start)
        lp_bound = float(lp.fun)
    else:
        lp_bound = -np.inf
    if time_limit is not None and time.perf_counter() - start >= time_limit:
        return MilpResult(None, np.inf, lp_bound, "time_limit", time.perf_counter() - start)
    res = milp(
        program.c, integrality=program.integer.astype(np.uint8), options={**opts(), "mip_rel_gap": mip_gap}, **kwargs
    )
    seconds = time.perf_counter() - start
    if res.status == 2:
        return MilpResult(None, np.inf, np.inf, "infeasible", seconds)
    bound = getattr(res, "mip_dual_bound", None)
    bound = max(lp_bound, float(bound)) if bound is not None and np.isfinite(bound) else lp_bound
    if res.x is None:
        return MilpResult(None, np.inf, bound, "time_limit", seconds)
    x = np.where(program.integer, np.round(res.x), res.x)
    value = float(program.c @ x)
    if res.status != 0:
        status = "time_limit"
    elif mip_gap > 0 and value - bound > 1e-9 * max(1.0, abs(value)):
        status = "gap_limit"  # stopped within the requested gap, not proven optimal
    else:
        status = "optimal"
    return MilpResult(x, value, value if status == "optimal" else min(bound, value), status, seconds)


# ------------------------------------------------------------------ reductions
def dedupe_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a 0/1 CSR matrix.

    Rows are compared through two independent 64-bit hashes of their column
    sets (a clash is about 2⁻¹²⁸ likely); the hash values are seeded, so the
    grouping is deterministic.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        A 0/1 matrix.

    Returns
    -------
    first : ndarray of int
        The index of each distinct row's first occurrence (ascending).
    group : ndarray of int
        For every row the number of its group (a position in ``first``).
    """
    n_rows, n_cols = matrix.shape
    rng = np.random.default_rng(20240603)
    keys = rng.integers(0, 2**63 - 1, size=(2, n_cols), dtype=np.int64).astype(np.uint64)
    rows = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
    h = [np.zeros(n_rows, dtype=np.uint64) for _ in range(2)]
    for i in range(2):
        np.add.at(h[i], rows, keys[i][matrix.indices])  # wraps modulo 2**64
    table = np.column_stack([np.diff(matrix.indptr).astype(np.uint64), h[0], h[1]])
    _, first, group = np.unique(table, axis=0, return_index=True, return_inverse=True)
    # Number groups by first occurrence, so the output does not depend on hash order.
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[group.ravel()]


def dominated_columns(matrix: sparse.csr_matrix) -> np.ndarray:
    """Columns of a 0/1 matrix whose rows lie within another column's rows.

    Column j is dominated by j' when rows(j) ⊆ rows(j') and either the
    inclusion is strict or j' < j (of identical columns the first is kept);
    empty columns are dominated.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        A 0/1 matrix.

    Returns
    -------
    ndarray of bool
        One value per column; when the product would be too large to build
        (see `MAX_GRAM_WORK`) only the empty columns are marked.
    """
    B = sparse.csc_matrix(matrix, dtype=np.int32)
    B.data[:] = 1
    size = np.diff(B.indptr)
    per_row = np.diff(sparse.csr_matrix(B).indptr).astype(np.int64)
    dominated = size == 0
    if (per_row**2).sum() > MAX_GRAM_WORK:
        return dominated
    gram = (B.T @ B).tocoo()
    i, j, overlap = gram.row, gram.col, gram.data
    hit = (i != j) & (overlap == size[i]) & ((size[j] > size[i]) | (j < i))
    dominated[i[hit]] = True
    return dominated


def superset_rows(matrix: sparse.csr_matrix) -> np.ndarray:
    """Rows of a 0/1 matrix that contain another row's columns (covering that row covers them).

    Row i is redundant when cols(i') ⊆ cols(i) for some other row i' (strictly,
    or i' < i for identical rows).

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
        A 0/1 matrix.

    Returns
    -------
    ndarray of bool
        One value per row; all False when the product would be too large
        (see `MAX_GRAM_WORK`).
    """
    A = sparse.csr_matrix(matrix, dtype=np.int32)
    A.data[:] = 1
    size = np.diff(A.indptr)
    per_col = np.diff(sparse.csc_matrix(A).indptr).astype(np.int64)
    if (per_col**2).sum() > MAX_GRAM_WORK:
        return np.zeros(A.shape[0], dtype=bool)
    gram = (A @ A.T).tocoo()
    i, j, overlap = gram.row, gram.col, gram.data
    # cols(j) ⊆ cols(i): row i is implied by row j.
    hit = (i != j) & (overlap == size[j]) & ((size[i] > size[j]) | (j < i))
    out = np.zeros(A.shape[0], dtype=bool)
    out[i[hit]] = True
    return out
