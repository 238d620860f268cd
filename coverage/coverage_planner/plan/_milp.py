"""Mixed-integer programs for the location models, solved by HiGHS through its own Python package, `highspy`.

Internal to `coverage_planner.plan.models`. Two things live here:

* `solve`: one MILP, tried first as its LP relaxation (covering models on
  street networks often have an integral LP optimum, which is then optimal),
  then as a MILP with HiGHS presolve off: the reductions that matter here
  (`dedupe_rows`, `dominated_columns`, `superset_rows`) are done beforehand,
  by hashing rows and by subset tests on rows packed as bits, tried only for
  rows sharing a rarest column (`contained_pairs`), which is much faster than
  HiGHS's general presolve on these 0/1 matrices. The program goes to
  highspy as the CSR arrays it already is (one ``passModel`` call), HiGHS
  quiet, on one thread, with a fixed seed; highspy is imported on the first
  solve, not with this module.
* the reductions themselves, on scipy matrices or on `Pattern` (bare CSR
  arrays, which the covering models slice and transpose without scipy's checks).
* `packing_exceeds`, a lower bound that settles "can k columns cover
  every row?" without a MILP when more than k rows share no column
  (p-center's cover tests).

All programs are minimisations: callers negate a maximisation.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: A reduction is skipped when Σ (entries per column)², the size of a Gram product, exceeds this
#: (the reductions no longer build one, but the limit is kept so that answers stay as they were).
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
    highs = _Solver(program)

    def left() -> float | None:
        return None if time_limit is None else max(time_limit - (time.perf_counter() - start), 1e-3)

    lp = highs.run(np.zeros(len(program.c), dtype=np.int32), left(), None)
    if lp.status == _INFEASIBLE:
        return MilpResult(None, np.inf, np.inf, "infeasible", time.perf_counter() - start)
    if lp.status == _OPTIMAL:
        frac = np.abs(lp.x - np.round(lp.x))[program.integer]
        if not len(frac) or frac.max() < 1e-9:
            x = np.where(program.integer, np.round(lp.x), lp.x)
            return MilpResult(x, float(program.c @ x), lp.fun, "optimal", time.perf_counter() - start)
        lp_bound = lp.fun
    else:
        lp_bound = -np.inf
    if time_limit is not None and time.perf_counter() - start >= time_limit:
        return MilpResult(None, np.inf, lp_bound, "time_limit", time.perf_counter() - start)
    res = highs.run(program.integer.astype(np.int32), left(), mip_gap)
    seconds = time.perf_counter() - start
    if res.status == _INFEASIBLE:
        return MilpResult(None, np.inf, np.inf, "infeasible", seconds)
    bound = res.dual_bound
    bound = max(lp_bound, bound) if bound is not None and np.isfinite(bound) else lp_bound
    if res.x is None:
        return MilpResult(None, np.inf, bound, "time_limit", seconds)
    x = np.where(program.integer, np.round(res.x), res.x)
    value = float(program.c @ x)
    if res.status != _OPTIMAL:
        status = "time_limit"
    elif mip_gap > 0 and value - bound > 1e-9 * max(1.0, abs(value)):
        status = "gap_limit"  # stopped within the requested gap, not proven optimal
    else:
        status = "optimal"
    return MilpResult(x, value, value if status == "optimal" else min(bound, value), status, seconds)


# How a HiGHS run ended, in the three cases `solve` tells apart.
_OPTIMAL, _INFEASIBLE, _OTHER = 0, 2, 1


@dataclass
class _Run:
    """One HiGHS run: how it ended, the point and its value when usable, the MILP's dual bound."""

    status: int  # _OPTIMAL, _INFEASIBLE or _OTHER
    x: np.ndarray | None = None
    fun: float = np.nan
    dual_bound: float | None = None


class _Solver:
    """One HiGHS instance (highspy) for one program: its arrays made once, then run as LP and as MILP.

    The matrix goes in row-wise as the CSR arrays it already is; HiGHS turns
    it column-wise itself (answers measured identical to passing CSC, without
    a scipy conversion). Options are set once: quiet, presolve off (the
    reductions that matter were made beforehand, faster: see the module
    docstring), one thread and a fixed seed, so the same program gets the
    same answer on every machine.
    """

    def __init__(self, program: Program) -> None:
        import highspy  # here, not at import: loading HiGHS is only worth it once a model is solved

        self._hs = highspy
        n = len(program.c)
        A = program.A if sparse.issparse(program.A) and program.A.format == "csr" else sparse.csr_matrix(program.A)
        if A.shape != (len(program.row_lo), n):
            raise ValueError(f"constraint matrix is {A.shape}, expected {(len(program.row_lo), n)}")
        self._model = (
            n,
            A.shape[0],
            A.nnz,
            int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.ascontiguousarray(program.c, dtype=np.float64),
            np.zeros(n),
            np.ascontiguousarray(np.broadcast_to(np.asarray(program.upper, dtype=np.float64), (n,))),
            np.ascontiguousarray(program.row_lo, dtype=np.float64),
            np.ascontiguousarray(program.row_hi, dtype=np.float64),
            np.asarray(A.indptr, dtype=np.int32),
            np.asarray(A.indices, dtype=np.int32),
            np.asarray(A.data, dtype=np.float64),
        )
        # The bare solver: highspy.Highs adds callbacks not used here, and prints a licence banner when it
        # is created, before output can be turned off (a test checks that nothing is printed).
        self._h = highspy._Highs()
        for name, value in (("output_flag", False), ("presolve", "off"), ("threads", 1), ("random_seed", 0)):
            self._h.setOptionValue(name, value)

    def run(self, integrality: np.ndarray, time_limit: float | None, mip_gap: float | None) -> _Run:
        """Solve the program with ``integrality`` (all zero: the LP relaxation) from scratch.

        Parameters
        ----------
        integrality : ndarray of int32
            1 for a whole variable, 0 for a continuous one.
        time_limit : float or None
            Seconds for this run; None for no limit.
        mip_gap : float or None
            Relative gap at which HiGHS may stop; None leaves HiGHS's default (the LP does not use it).

        Returns
        -------
        _Run
        """
        hs, h = self._hs, self._h
        h.setOptionValue("time_limit", np.inf if time_limit is None else float(time_limit))
        if mip_gap is not None:
            h.setOptionValue("mip_rel_gap", float(mip_gap))
        # Passing the model again clears the previous run's basis and solution: each run starts afresh.
        if h.passModel(*self._model, integrality) == hs.HighsStatus.kError:
            return _Run(_INFEASIBLE)  # a model HiGHS cannot load (SciPy reported it as infeasible too)
        if h.run() == hs.HighsStatus.kError:
            return _Run(_INFEASIBLE if h.getModelStatus() == hs.HighsModelStatus.kModelError else _OTHER)
        status = h.getModelStatus()
        if status in (hs.HighsModelStatus.kInfeasible, hs.HighsModelStatus.kModelError):
            return _Run(_INFEASIBLE)
        is_mip = bool(integrality.any())
        value = h.getInfoValue("objective_function_value")[1]
        if status == hs.HighsModelStatus.kOptimal:
            code = _OPTIMAL
        elif is_mip and value != hs.kHighsInf and status in _stopped(hs):
            code = _OTHER  # stopped early, with an incumbent
        else:
            return _Run(_OTHER)
        x = np.array(h.getSolution().col_value)
        bound = float(h.getInfoValue("mip_dual_bound")[1]) if is_mip else None
        return _Run(code, x, float(value), bound)


def _stopped(hs) -> tuple:
    """The model statuses of a MILP stopped by a limit (it may hold an incumbent)."""
    return (hs.HighsModelStatus.kTimeLimit, hs.HighsModelStatus.kIterationLimit, hs.HighsModelStatus.kSolutionLimit)


# ------------------------------------------------------------------ reductions
def dedupe_rows(matrix: sparse.csr_matrix | Pattern) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a 0/1 CSR matrix.

    Rows are compared through two independent 64-bit hashes of their column
    sets (a clash is about 2⁻¹²⁸ likely); the hash values are seeded, so the
    grouping is deterministic.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix or Pattern
        A 0/1 matrix (CSR with sorted, distinct column indices).

    Returns
    -------
    first : ndarray of int
        The index of each distinct row's first occurrence (ascending).
    group : ndarray of int
        For every row the number of its group (a position in ``first``).
    """
    n_rows, n_cols = matrix.shape
    keys = _row_keys(n_cols)
    size = np.diff(matrix.indptr)
    full = np.flatnonzero(size > 0)
    h = [np.zeros(n_rows, dtype=np.uint64) for _ in range(2)]
    if len(full):
        for i in range(2):  # per-row sums of the column keys, modulo 2**64
            h[i][full] = np.add.reduceat(keys[i][matrix.indices], matrix.indptr[full])
    # Sort rows by (size, hashes); within equal rows the stable sort keeps the first occurrence first.
    order = np.lexsort((h[1], h[0], size))
    a, b, c = size[order], h[0][order], h[1][order]
    lead = np.ones(n_rows, dtype=bool)
    lead[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (c[1:] != c[:-1])
    sorted_group = np.cumsum(lead) - 1
    first = order[lead]
    # Number groups by first occurrence, so the output does not depend on hash order.
    rank_order = np.argsort(first, kind="stable")
    rank = np.empty_like(rank_order)
    rank[rank_order] = np.arange(len(rank_order))
    group = np.empty(n_rows, dtype=np.int64)
    group[order] = rank[sorted_group]
    return first[rank_order], group


@functools.lru_cache(maxsize=8)
def _row_keys(n_cols: int) -> np.ndarray:
    """`dedupe_rows`'s two seeded 64-bit keys per column (made once per width: drawing them costs more than hashing)."""
    rng = np.random.default_rng(20240603)
    keys = rng.integers(0, 2**63 - 1, size=(2, n_cols), dtype=np.int64).astype(np.uint64)
    keys.flags.writeable = False
    return keys


def dominated_columns(matrix: sparse.csr_matrix | Pattern) -> np.ndarray:
    """Columns of a 0/1 matrix whose rows lie within another column's rows.

    Column j is dominated by j' when rows(j) ⊆ rows(j') and either the
    inclusion is strict or j' < j (of identical columns the first is kept);
    empty columns are dominated.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix or Pattern
        A 0/1 matrix.

    Returns
    -------
    ndarray of bool
        One value per column; when the matrix is too dense to reduce (see
        `MAX_GRAM_WORK`) only the empty columns are marked.
    """
    A = Pattern.of(matrix)
    B = A.T  # columns as rows
    size = np.diff(B.indptr)
    dominated = size == 0
    if (np.diff(A.indptr).astype(np.int64) ** 2).sum() > MAX_GRAM_WORK:
        return dominated
    sub, sup = _contained(B, A)
    hit = (size[sup] > size[sub]) | (sup < sub)
    dominated[sub[hit]] = True
    return dominated


def superset_rows(matrix: sparse.csr_matrix | Pattern) -> np.ndarray:
    """Rows of a 0/1 matrix that contain another row's columns (covering that row covers them).

    Row i is redundant when cols(i') ⊆ cols(i) for some other, non-empty row
    i' (strictly, or i' < i for identical rows).

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix or Pattern
        A 0/1 matrix.

    Returns
    -------
    ndarray of bool
        One value per row; all False when the matrix is too dense to reduce
        (see `MAX_GRAM_WORK`).
    """
    A = Pattern.of(matrix)
    size = np.diff(A.indptr)
    out = np.zeros(A.shape[0], dtype=bool)
    AT = A.T
    if (np.diff(AT.indptr).astype(np.int64) ** 2).sum() > MAX_GRAM_WORK:
        return out
    sub, sup = _contained(A, AT)
    out[sup[(size[sup] > size[sub]) | (sub < sup)]] = True
    return out


def contained_pairs(matrix: sparse.csr_matrix | Pattern) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of distinct rows (sub, sup) of a 0/1 matrix with ∅ ≠ cols(sub) ⊆ cols(sup).

    A superset of row ``sub`` must contain its rarest column, so only the
    rows of that column are tried, and each is tested on the rows' column
    sets packed as 64-bit words (``sub & ~sup == 0``). The work is about
    Σ over rows of (rows sharing its rarest column) × words per row, instead
    of the Σ over columns of (rows per column)² a Gram product ``A Aᵀ`` costs.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix or Pattern
        A 0/1 matrix (nonzeros count as 1).

    Returns
    -------
    sub, sup : ndarray of int
        The pairs, ordered by ``sub``, then ``sup``.
    """
    A = Pattern.of(matrix)
    return _contained(A, A.T)


def _contained(A: Pattern, AT: Pattern) -> tuple[np.ndarray, np.ndarray]:
    """`contained_pairs` of ``A``, given its transpose ``AT`` too."""
    n_rows, n_cols = A.shape
    if A.nnz == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    size = np.diff(A.indptr)
    entry_row = np.repeat(np.arange(n_rows, dtype=np.int64), size)
    col_count = np.diff(AT.indptr).astype(np.int64)
    rows = np.flatnonzero(size > 0)
    # Each non-empty row's rarest column (ties: the lower column).
    rare = np.minimum.reduceat(col_count[A.indices] * n_cols + A.indices, A.indptr[rows]) % n_cols
    length = col_count[rare]
    sub = np.repeat(rows, length)
    offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    sup = AT.indices[np.repeat(AT.indptr[rare], length) + offset].astype(np.int64)
    keep = (sup != sub) & (size[sup] >= size[sub])
    sub, sup = sub[keep], sup[keep]
    # Column sets as bit words: row r, column c is bit c % 64 of word c // 64.
    n_words = (n_cols + 63) // 64
    flat = entry_row * n_words + (A.indices >> 6)
    starts = np.flatnonzero(np.diff(flat, prepend=-1))  # CSR order: equal words are adjacent
    words = np.zeros(n_rows * n_words, dtype=np.uint64)
    bit = np.left_shift(np.uint64(1), (A.indices & 63).astype(np.uint64))
    words[flat[starts]] = np.bitwise_or.reduceat(bit, starts)
    words = words.reshape(n_rows, n_words).T.copy()  # one contiguous array per word
    # Word by word, keeping only the pairs that have passed so far: most fail early.
    for w in range(n_words):
        ok = (words[w][sub] & ~words[w][sup]) == 0
        sub, sup = sub[ok], sup[ok]
    return sub, sup


def packing_exceeds(matrix: sparse.csr_matrix | Pattern, k: int) -> bool:
    """Whether more than ``k`` rows of a 0/1 matrix have pairwise disjoint columns.

    Then no ``k`` columns cover every row (each of those rows needs a column
    of its own), which settles a cover test without a MILP. The rows are
    picked greedily in rounds, fewest columns first: a row is taken when it
    comes first in every one of its columns among the rows left, then the
    rows sharing a column with a taken one leave; it stops once more than
    ``k`` are taken. A False answer proves nothing.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix or Pattern
        A 0/1 matrix (every row should have an entry; empty rows are ignored).
    k : int
        The number of columns allowed.

    Returns
    -------
    bool
        True when more than ``k`` pairwise disjoint rows were found.
    """
    A = Pattern.of(matrix)
    n_rows, n_cols = A.shape
    size = np.diff(A.indptr)
    rows = np.flatnonzero(size > 0)
    prio = np.empty(n_rows, dtype=np.int64)  # distinct priorities: fewest columns first, then row order
    prio[rows[np.argsort(size[rows], kind="stable")]] = np.arange(len(rows))
    entry_row = np.repeat(np.arange(n_rows), size)
    cols, owner = A.indices.astype(np.int64), entry_row
    used = np.zeros(n_cols, dtype=bool)
    taken = 0
    while len(cols):
        first = np.full(n_cols, n_rows, dtype=np.int64)
        np.minimum.at(first, cols, prio[owner])
        lead = np.flatnonzero(np.diff(owner, prepend=-1))  # entries stay grouped by row, rows ascending
        win = np.minimum.reduceat(first[cols], lead) == prio[owner[lead]]
        taken += int(win.sum())
        if taken > k:
            return True
        mine = np.repeat(win, np.diff(np.append(lead, len(cols))))
        used[cols[mine]] = True
        out = np.zeros(n_rows, dtype=bool)
        out[owner[used[cols]]] = True  # rows touching a taken row's column leave
        stay = ~out[owner]
        cols, owner = cols[stay], owner[stay]
    return False


class Pattern:
    """A 0/1 matrix as bare CSR arrays (column indices ascending within each row, no duplicates).

    The reductions and tie-breaks slice and transpose small matrices many
    times per solve; doing it on the arrays avoids scipy.sparse's per-call
    checks, which cost more than the work on matrices of a few hundred rows.

    Parameters
    ----------
    indptr : ndarray of int
        Row starts (length rows + 1).
    indices : ndarray of int
        Column of each entry.
    n_cols : int
        Number of columns.
    """

    __slots__ = ("indptr", "indices", "shape", "_t")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int) -> None:
        self.indptr = indptr
        self.indices = indices
        self.shape = (len(indptr) - 1, int(n_cols))
        self._t: Pattern | None = None

    @classmethod
    def of(cls, matrix: sparse.spmatrix | Pattern) -> Pattern:
        """``matrix`` itself when it is a Pattern, else the nonzero pattern of a scipy.sparse matrix.

        Parameters
        ----------
        matrix : scipy.sparse matrix or Pattern
            A 0/1 matrix (nonzeros count as 1).

        Returns
        -------
        Pattern
        """
        if isinstance(matrix, Pattern):
            return matrix
        A = _pattern(matrix)
        return cls(A.indptr, A.indices, A.shape[1])

    @property
    def nnz(self) -> int:
        """Number of entries.

        Returns
        -------
        int
        """
        return len(self.indices)

    @property
    def T(self) -> Pattern:
        """The transpose (computed once; entries of a column come in row order, so it is sorted too).

        Returns
        -------
        Pattern
        """
        if self._t is None:
            n_rows, n_cols = self.shape
            if self.nnz > 20_000:  # a sort costs more than scipy's conversion and its checks
                csr = sparse.csr_matrix((np.ones(self.nnz, dtype=np.int8), self.indices, self.indptr), shape=self.shape)
                csc = csr.tocsc()
                self._t = Pattern(csc.indptr, csc.indices, n_rows)
            else:
                order = np.argsort(self.indices, kind="stable")
                rows = np.repeat(np.arange(n_rows, dtype=self.indices.dtype), np.diff(self.indptr))
                indptr = np.zeros(n_cols + 1, dtype=self.indptr.dtype)
                np.cumsum(np.bincount(self.indices, minlength=n_cols), out=indptr[1:])
                self._t = Pattern(indptr, rows[order], n_rows)
            self._t._t = self
        return self._t

    def take_rows(self, rows: np.ndarray) -> Pattern:
        """The rows ``rows`` (in that order).

        Parameters
        ----------
        rows : ndarray of int
            Row positions.

        Returns
        -------
        Pattern
        """
        start = self.indptr[rows]
        length = self.indptr[rows + 1] - start
        indptr = np.zeros(len(rows) + 1, dtype=self.indptr.dtype)
        np.cumsum(length, out=indptr[1:])
        offset = np.arange(indptr[-1]) - np.repeat(indptr[:-1], length)
        return Pattern(indptr, self.indices[np.repeat(start, length) + offset], self.shape[1])

    def take_cols(self, cols: np.ndarray) -> Pattern:
        """The columns ``cols`` (ascending), renumbered 0.. in that order.

        Parameters
        ----------
        cols : ndarray of int
            Column positions, ascending.

        Returns
        -------
        Pattern
        """
        new = np.full(self.shape[1], -1, dtype=np.int64)
        new[cols] = np.arange(len(cols))
        mapped = new[self.indices]
        hit = mapped >= 0
        kept = np.zeros(self.nnz + 1, dtype=self.indptr.dtype)
        np.cumsum(hit, out=kept[1:])
        out = Pattern(kept[self.indptr], mapped[hit].astype(self.indices.dtype), len(cols))
        if self._t is not None:  # the transpose's rows ``cols``, already sorted
            out._t = self._t.take_rows(cols)
            out._t._t = out
        return out

    def to_csr(self, value: float = 1.0) -> sparse.csr_matrix:
        """As a scipy.sparse CSR matrix with every entry ``value``.

        Parameters
        ----------
        value : float, default 1.0
            The value of every entry.

        Returns
        -------
        scipy.sparse.csr_matrix
        """
        return sparse.csr_matrix((np.full(self.nnz, value), self.indices, self.indptr), shape=self.shape)


def _pattern(matrix) -> sparse.csr_matrix:
    """The nonzero pattern of ``matrix`` as a canonical int32 CSR matrix of ones."""
    A = sparse.csr_matrix(matrix, dtype=np.int32, copy=True)
    A.eliminate_zeros()
    A.sum_duplicates()
    A.sort_indices()
    A.data[:] = 1
    return A
