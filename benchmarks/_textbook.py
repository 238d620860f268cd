"""The textbook covering MILPs handed straight to HiGHS: the baseline "HiGHS on the whole model".

No reductions, no tie-break, HiGHS's own presolve on (its default): what a
user who writes the model from the walk matrix and calls highspy gets. Used by
``bench_optimize.py`` as a second denominator beside the time inside our own
``run()`` calls, and as an independent check of the objective.

* LSCP: minimise the number of sites, every coverable place within the
  radius of at least one, existing sites fixed open.
* MCLP: maximise the places within the radius of an open site, ``k`` new
  sites besides the existing ones (fixed open); y ≤ Σ x over the place's
  sites, y continuous in [0, 1] (integral once x is).
"""

from __future__ import annotations

import time

import highspy
import numpy as np
from scipy import sparse


def _solve(
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integral: np.ndarray,
    A: sparse.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
) -> tuple[float, float, float]:
    """(objective, seconds for the whole call, seconds inside run()) of one minimisation."""
    start = time.perf_counter()
    h = highspy._Highs()  # (highspy.Highs prints a banner before output can be turned off)
    for name, value in (("output_flag", False), ("threads", 1), ("random_seed", 0)):
        h.setOptionValue(name, value)
    n = len(cost)
    h.passModel(
        n,
        A.shape[0],
        A.nnz,
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(lower, dtype=np.float64),
        np.ascontiguousarray(upper, dtype=np.float64),
        np.ascontiguousarray(row_lo, dtype=np.float64),
        np.ascontiguousarray(row_hi, dtype=np.float64),
        A.indptr.astype(np.int32),
        A.indices.astype(np.int32),
        A.data.astype(np.float64),
        integral.astype(np.int32),
    )
    ran = time.perf_counter()
    h.run()
    inside = time.perf_counter() - ran
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"textbook model not solved to optimality: {h.modelStatusToString(h.getModelStatus())}")
    value = float(h.getInfoValue("objective_function_value")[1])
    return value, time.perf_counter() - start, inside


def _place_by_site(covers: sparse.csr_matrix) -> sparse.csr_matrix:
    """Coverable places × sites, 0/1, from the sites × places boolean matrix."""
    A = sparse.csr_matrix(covers.T, dtype=np.float64)
    A.sum_duplicates()
    A.data[:] = 1.0
    return A[np.diff(A.indptr) > 0]


def lscp(covers: sparse.csr_matrix, n_existing: int) -> tuple[float, float, float]:
    """The textbook LSCP: (sites opened in all, existing included; seconds total; seconds in run())."""
    A = _place_by_site(covers)
    n = A.shape[1]
    lower = (np.arange(n) < n_existing).astype(float)
    rows = A.shape[0]
    return _solve(np.ones(n), lower, np.ones(n), np.ones(n), A, np.ones(rows), np.full(rows, np.inf))


def mclp(covers: sparse.csr_matrix, n_existing: int, k: int) -> tuple[float, float, float]:
    """The textbook MCLP with unit weights: (places covered; seconds total; seconds in run())."""
    A = _place_by_site(covers)
    places, n = A.shape
    # Rows: y_i - Σ_j a_ij x_j ≤ 0 for each place, then Σ of the new sites' x = k.
    link = sparse.hstack([-A, sparse.identity(places, format="csr")], format="csr")
    count = sparse.csr_matrix(np.concatenate([(np.arange(n) >= n_existing).astype(float), np.zeros(places)]))
    matrix = sparse.vstack([link, count], format="csr")
    cost = np.concatenate([np.zeros(n), -np.ones(places)])
    lower = np.concatenate([(np.arange(n) < n_existing).astype(float), np.zeros(places)])
    integral = np.concatenate([np.ones(n), np.zeros(places)])
    k_new = min(k, n - n_existing)
    row_lo = np.concatenate([np.full(places, -np.inf), [k_new]])
    row_hi = np.concatenate([np.zeros(places), [k_new]])
    value, total, inside = _solve(cost, lower, np.ones(n + places), integral, matrix, row_lo, row_hi)
    return -value, total, inside
