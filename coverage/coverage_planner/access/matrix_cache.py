"""Walk-distance rows cached on disk per site, so adding a site walks only from the new one.

A cache file holds, for one network + demand set + search limit, the row of
walk metres of every site computed so far, keyed by where the site joins the
network (so renaming a site keeps its row, moving it computes a new one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from coverage_planner._cache.arrays import read_arrays, try_write_arrays, warn_cache
from coverage_planner._cache.keys import cache_key
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import Snap
from coverage_planner.network.graph import WalkNetwork

FORMAT_VERSION = 3


def cached_access_matrix(
    network: WalkNetwork,
    site_snap: Snap,
    demand_snap: Snap,
    cutoff_m: float,
    cache_dir: str | Path,
    *,
    site_ids: ArrayLike | None = None,
    demand_ids: ArrayLike | None = None,
    include_access_legs: bool = True,
    progress: bool | None = None,
) -> tuple[AccessMatrix, dict[str, Any]]:
    """`AccessMatrix.compute`, walking only from sites the cache has not seen.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    site_snap : Snap
        Where each site joins the network; a site's cached row is found by
        this, so renaming a site keeps its row and moving it walks anew.
    demand_snap : Snap
        Where each demand place joins the network.
    cutoff_m : float
        Search limit in metres (walk time × speed).
    cache_dir : str or Path
        The cache folder; rows live in its ``matrices`` subfolder.
    site_ids, demand_ids : array_like, optional
        Labels kept on the matrix (default 0..n-1).
    include_access_legs : bool, default True
        Add the straight legs from each place to its edge.
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Returns
    -------
    matrix : AccessMatrix
        Identical to a full computation.
    stats : dict of str to Any
        ``{"cache_file", "sites_reused", "sites_computed", "rebuilt"}``; an
        unreadable cache file is rebuilt, and ``rebuilt`` says so.
    """
    family = json.dumps(
        [
            FORMAT_VERSION,
            network.fingerprint,
            demand_snap.fingerprints().tolist(),
            round(float(cutoff_m), 6),
            include_access_legs,
        ]
    )
    path = Path(cache_dir) / "matrices" / f"walks-{cache_key(family)}.arrays"
    known, rebuilt = _read(path)
    keys = site_snap.fingerprints()
    missing = np.array([i for i, k in enumerate(keys) if k not in known], dtype=np.int64)
    fresh = AccessMatrix.compute(
        network,
        site_snap.take(missing),
        demand_snap,
        cutoff_m,
        include_access_legs=include_access_legs,
        progress=progress,
    )
    # fresh.rows is sorted, so each new site's row is one slice.
    bounds = np.searchsorted(fresh.rows, np.arange(len(missing) + 1))
    for local, site in enumerate(missing):
        known[keys[site]] = (
            fresh.cols[bounds[local] : bounds[local + 1]],
            fresh.metres[bounds[local] : bounds[local + 1]],
        )
    rows = (
        np.concatenate([np.full(len(known[k][0]), i, dtype=np.int64) for i, k in enumerate(keys)])
        if len(keys)
        else np.zeros(0, np.int64)
    )
    cols = np.concatenate([known[k][0] for k in keys]).astype(np.int64) if len(keys) else np.zeros(0, np.int64)
    metres = np.concatenate([known[k][1] for k in keys]) if len(keys) else np.zeros(0)
    if len(missing) or rebuilt:
        _write(path, known)
    n_sites, n_demand = len(site_snap), len(demand_snap)
    matrix = AccessMatrix(
        np.arange(n_sites) if site_ids is None else np.asarray(site_ids),
        np.arange(n_demand) if demand_ids is None else np.asarray(demand_ids),
        rows,
        cols,
        metres,
        float(cutoff_m),
        include_access_legs,
    )
    stats = {
        "cache_file": str(path),
        "sites_reused": n_sites - len(missing),
        "sites_computed": len(missing),
        "rebuilt": rebuilt,
    }
    return matrix, stats


def _read(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], bool]:
    if not path.is_file():
        return {}, False
    try:
        _, data = read_arrays(path)
        bounds = np.cumsum(data["counts"])[:-1]
        cols = np.split(data["cols"], bounds)
        metres = np.split(data["metres"], bounds)
        return {str(k): (c, m) for k, c, m in zip(data["keys"], cols, metres)}, False
    except Exception as exc:  # noqa: BLE001 - any damage means: recompute everything
        warn_cache(path, f"failed verification ({exc}) and was rebuilt (walked from every site again)")
        return {}, True


def _write(path: Path, known: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    keys = sorted(known)
    try_write_arrays(
        path,
        {
            "keys": np.array(keys, dtype="U64"),
            "counts": np.array([len(known[k][0]) for k in keys], dtype=np.int64),
            "cols": np.concatenate([known[k][0] for k in keys]).astype(np.int64) if keys else np.zeros(0, np.int64),
            "metres": np.concatenate([known[k][1] for k in keys]) if keys else np.zeros(0),
        },
    )
