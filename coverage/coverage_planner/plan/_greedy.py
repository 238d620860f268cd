"""Greedy heuristics for the location models (internal to `coverage_planner.plan.models`).

Each adds one candidate at a time, the one with the largest gain; gains
within a relative 1e-9 of the best count as equal and the lowest candidate
position wins, so the result never depends on floating-point summation order.
The same functions rank an exact solution's sites (greedy restricted to them).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def _pick(gains: np.ndarray, allowed: np.ndarray) -> int:
    """Position of the best allowed gain, lowest position among (near-)ties; -1 if none allowed."""
    if not allowed.any():
        return -1
    g = np.where(allowed, gains, -np.inf)
    best = g.max()
    return int(np.flatnonzero(g >= best - 1e-9 * max(1.0, abs(best)))[0])


def greedy_cover(
    cover: sparse.csr_matrix,
    weight: np.ndarray,
    *,
    k: int | None = None,
    target: float | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add candidates (rows of the 0/1 ``cover``) by covered weight until ``k``, ``target`` or no gain.

    Parameters
    ----------
    cover : scipy.sparse.csr_matrix
        Candidates × demand places, 1 where the candidate covers the place.
    weight : ndarray of float
        The weight still to cover per demand column (0 where already covered).
    k : int, optional
        At most this many candidates; None for no limit.
    target : float, optional
        Stop once this much weight is added; None for no target.
    allowed : ndarray of bool, optional
        Which candidates may be chosen (default: all).

    Returns
    -------
    chosen : ndarray of int
        The chosen rows, in the order added.
    gains : ndarray of float
        Each one's added weight.
    """
    cover = sparse.csr_matrix(cover, dtype=np.float64)
    left = np.asarray(weight, dtype=np.float64).copy()
    allowed = np.ones(cover.shape[0], dtype=bool) if allowed is None else allowed.copy()
    chosen, gains = [], []
    got = 0.0
    while (k is None or len(chosen) < k) and (target is None or got < target):
        g = cover @ left
        j = _pick(g, allowed)
        if j < 0 or g[j] <= 0:
            break
        chosen.append(j)
        gains.append(g[j])
        got += g[j]
        allowed[j] = False
        left[cover.indices[cover.indptr[j] : cover.indptr[j + 1]]] = 0.0
    return np.array(chosen, dtype=np.int64), np.array(gains)


def greedy_median(
    rows: np.ndarray,
    cols: np.ndarray,
    metres: np.ndarray,
    current: np.ndarray,
    weight: np.ndarray,
    n_candidates: int,
    *,
    k: int,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add candidates by the drop in weighted walk (p-median).

    Parameters
    ----------
    rows, cols, metres : ndarray
        Candidate × demand pairs: candidate position, demand place, walk in metres.
    current : ndarray of float
        Each place's walk before any candidate opens (its nearest existing
        site, or the penalty).
    weight : ndarray of float
        Weight per demand place.
    n_candidates : int
        Number of candidates.
    k : int
        At most this many candidates; fewer when more would not lower the walk.
    allowed : ndarray of bool, optional
        Which candidates may be chosen (default: all).

    Returns
    -------
    chosen : ndarray of int
        The chosen rows, in the order added.
    gains : ndarray of float
        Each one's drop in Σ weight × walk.
    """
    cur = np.asarray(current, dtype=np.float64).copy()
    allowed = np.ones(n_candidates, dtype=bool) if allowed is None else allowed.copy()
    chosen, gains = [], []
    rows, cols, metres = _alive(rows, cols, metres, cur)
    while len(chosen) < k:
        saving = weight[cols] * np.maximum(cur[cols] - metres, 0.0)
        g = np.bincount(rows, weights=saving, minlength=n_candidates)
        j = _pick(g, allowed)
        if j < 0 or g[j] <= 0:
            break
        chosen.append(j)
        gains.append(g[j])
        allowed[j] = False
        mine = rows == j
        np.minimum.at(cur, cols[mine], metres[mine])
        rows, cols, metres = _alive(rows, cols, metres, cur)
    return np.array(chosen, dtype=np.int64), np.array(gains)


def greedy_center(
    rows: np.ndarray,
    cols: np.ndarray,
    metres: np.ndarray,
    current: np.ndarray,
    weight: np.ndarray,
    n_candidates: int,
    *,
    k: int,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add candidates by the drop in the worst walk (p-center); near-ties go to the larger weighted-walk drop.

    Only places in ``current`` that are finite count (the others are not
    reachable from any site).

    Parameters
    ----------
    rows, cols, metres : ndarray
        Candidate × demand pairs: candidate position, demand place, walk in metres.
    current : ndarray of float
        Each place's walk before any candidate opens.
    weight : ndarray of float
        Weight per demand place (for the tie-break).
    n_candidates : int
        Number of candidates.
    k : int
        At most this many candidates; fewer when more would not lower the worst walk.
    allowed : ndarray of bool, optional
        Which candidates may be chosen (default: all).

    Returns
    -------
    chosen : ndarray of int
        The chosen rows, in the order added.
    gains : ndarray of float
        Each one's drop in the worst walk.
    """
    cur = np.asarray(current, dtype=np.float64).copy()
    allowed = np.ones(n_candidates, dtype=bool) if allowed is None else allowed.copy()
    chosen, gains = [], []
    rows, cols, metres = _alive(rows, cols, metres, cur)
    while len(chosen) < k:
        worst = cur.max(initial=0.0)
        new_worst = worst_after(rows, cols, metres, cur, n_candidates)
        saving = np.bincount(rows, weights=weight[cols] * np.maximum(cur[cols] - metres, 0.0), minlength=n_candidates)
        # Order by worst walk first, then by weighted saving (scaled below one metre of worst walk).
        score = (worst - new_worst) + saving / (1.0 + saving.max(initial=0.0)) * 1e-3
        j = _pick(score, allowed)
        if j < 0 or score[j] <= 0:
            break
        chosen.append(j)
        gains.append(worst - new_worst[j])
        allowed[j] = False
        mine = rows == j
        np.minimum.at(cur, cols[mine], metres[mine])
        rows, cols, metres = _alive(rows, cols, metres, cur)
    return np.array(chosen, dtype=np.int64), np.array(gains)


def _alive(rows: np.ndarray, cols: np.ndarray, metres: np.ndarray, cur: np.ndarray):
    """The pairs that still shorten a walk; the others add exactly 0 to every saving and never improve a place.

    Walks only shrink, so a pair once dead stays dead; dropping them keeps
    every sum bit for bit (only +0.0 terms go) and the pair order.
    """
    alive = metres < cur[cols]
    if alive.all():
        return rows, cols, metres
    return rows[alive], cols[alive], metres[alive]


#: Worst places `worst_after` checks in a table before sorting a candidate's places.
_TOP_PLACES = 64


def worst_after(
    rows: np.ndarray, cols: np.ndarray, metres: np.ndarray, cur: np.ndarray, n_candidates: int
) -> np.ndarray:
    """For each candidate: the worst walk if it alone opened now.

    Parameters
    ----------
    rows, cols, metres : ndarray
        The candidates' walks as (candidate, place, metres) triples.
    cur : ndarray of float
        Each place's walk with the sites open so far.
    n_candidates : int
        Number of candidates.

    Returns
    -------
    ndarray of float
        Per candidate, the largest walk over all places once it opens.
    """
    n = len(cur)
    by_walk = np.argsort(-cur, kind="stable")  # places, worst first
    position = np.empty(n, dtype=np.int64)
    position[by_walk] = np.arange(n)
    # Worst walk among places a candidate does not improve: the first place in
    # `by_walk` it does not reach more closely.
    improves = metres < cur[cols]
    r, p = rows[improves], position[cols[improves]]
    # Almost every candidate misses one of the few worst places: look those up in a small table first.
    top = min(n, _TOP_PLACES)
    near = p < top
    hit = np.zeros((n_candidates, top + 1), dtype=bool)  # a last column of False stops argmin
    hit[r[near], p[near]] = True
    first_missing = np.argmin(hit, axis=1).astype(np.int64)
    rest = first_missing == top
    if top < n and rest.any():  # improves all of the worst places: sort its positions
        mine = rest[r]
        r, p = r[mine], p[mine]
        order = np.lexsort((p, r))
        r, p = r[order], p[order]
        start = np.searchsorted(r, np.arange(n_candidates))
        within = np.arange(len(r)) - start[r]
        # First position t where the candidate's sorted positions stop being 0, 1, 2, …
        gap = np.where(p != within, within, np.iinfo(np.int64).max)
        missing = np.full(n_candidates, np.iinfo(np.int64).max)
        np.minimum.at(missing, r, gap)
        missing = np.minimum(missing, np.bincount(r, minlength=n_candidates))
        first_missing[rest] = missing[rest]
    untouched = np.where(first_missing < n, cur[by_walk[np.minimum(first_missing, n - 1)]], 0.0)
    improved = np.zeros(n_candidates)
    np.maximum.at(improved, rows[improves], metres[improves])
    return np.maximum(untouched, improved)
