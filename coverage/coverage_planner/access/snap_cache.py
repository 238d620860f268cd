"""Snaps cached on disk per place, so a rerun snaps only places it has not seen.

A place's snap depends only on its own coordinates, the network and the
snap limit, so caching point by point is exact: one cache file per network
fingerprint and limit holds every point snapped so far. After adding a site,
the demand places and the old sites come from here and only the new site
needs the edge index (whose construction dominates a small rerun).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coverage_planner._cache.arrays import read_arrays, try_write_arrays, warn_cache
from coverage_planner._cache.keys import cache_key
from coverage_planner.access.snapping import SNAP_FIELDS as _FIELDS
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import WalkNetwork

FORMAT_VERSION = 1


def cached_snap_points(
    network: WalkNetwork, lonlat: np.ndarray, *, max_snap_m: float, cache_dir: str | Path
) -> tuple[Snap, int]:
    """`snap_points` through a per-point disk cache.

    The result is identical to ``snap_points(network, lonlat, max_snap_m=...)``.
    An unreadable cache file is ignored and rewritten.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    lonlat : ndarray of float, shape (n, 2)
        Longitude, latitude per place.
    max_snap_m : float
        As for `snap_points`.
    cache_dir : str or Path
        The cache folder; snaps live in its ``snaps`` subfolder.

    Returns
    -------
    snap : Snap
        Where each place joins the network.
    n_snapped : int
        How many distinct coordinates were not in the cache and were snapped now.
    """
    lonlat = np.ascontiguousarray(np.asarray(lonlat, dtype=float).reshape(-1, 2))
    key = cache_key(f"{FORMAT_VERSION}|{network.fingerprint}|{float(max_snap_m)!r}")
    path = Path(cache_dir) / "snaps" / f"snaps-{key}.arrays"
    known_xy, known = _read(path)
    position = _lookup(known_xy, lonlat)
    missing = np.flatnonzero(position < 0)
    n_snapped = 0
    if len(missing):
        # Snap each new coordinate once, even when several places share it.
        new_xy = np.unique(lonlat[missing], axis=0)
        n_snapped = len(new_xy)
        fresh = snap_points(network, new_xy, max_snap_m=max_snap_m)
        known_xy = np.concatenate([known_xy, new_xy]) if known is not None else new_xy
        known = (
            fresh if known is None else Snap(*(np.concatenate([getattr(known, f), getattr(fresh, f)]) for f in _FIELDS))
        )
        _write(path, known_xy, known)
        position = _lookup(known_xy, lonlat)
    if known is None:  # no places at all
        return snap_points(network, lonlat, max_snap_m=max_snap_m), 0
    return known.take(position), n_snapped


def _lookup(known_xy: np.ndarray, lonlat: np.ndarray) -> np.ndarray:
    """Row of each point in ``known_xy`` (exact coordinate match), -1 when absent."""
    if len(known_xy) == 0 or len(lonlat) == 0:
        return np.full(len(lonlat), -1, dtype=np.int64)
    # Each (lon, lat) pair as one 16-byte value: sorted once, then found by binary search.
    as_one = np.dtype((np.void, 16))
    known = np.ascontiguousarray(known_xy, dtype=float).view(as_one).ravel()
    wanted = np.ascontiguousarray(lonlat, dtype=float).view(as_one).ravel()
    order = np.argsort(known, kind="stable")
    pos = np.minimum(np.searchsorted(known[order], wanted), len(known) - 1)
    return np.where(known[order][pos] == wanted, order[pos], -1).astype(np.int64)


def _read(path: Path) -> tuple[np.ndarray, Snap | None]:
    empty = np.zeros((0, 2))
    if not path.is_file():
        return empty, None
    try:
        _, data = read_arrays(path)
        snap = Snap(*(data[f] for f in _FIELDS))
        xy = data["lonlat"]
        if len(xy) != len(snap) or xy.shape[1:] != (2,):
            raise ValueError("snaps and points differ in length")
        return xy, snap
    except Exception as exc:  # noqa: BLE001 - a damaged cache is only a slower run
        warn_cache(path, f"failed verification ({exc}) and was rebuilt (places snapped again)")
        return empty, None


def _write(path: Path, lonlat: np.ndarray, snap: Snap) -> None:
    try_write_arrays(path, {"lonlat": lonlat, **{f: getattr(snap, f) for f in _FIELDS}})


__all__ = ["cached_snap_points"]
