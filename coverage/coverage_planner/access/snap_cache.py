"""Snaps cached on disk per place, so a rerun snaps only places it has not seen.

A place's snap depends only on its own coordinates, the network and the
snap limit, so caching point by point is exact: one cache file per network
fingerprint and limit holds every point snapped so far. After adding a site,
the demand places and the old sites come from here and only the new site
needs the edge index (whose construction dominates a small rerun).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from coverage_planner._cache.arrays import read_arrays, try_write_arrays, warn_cache
from coverage_planner._cache.keys import cache_key, file_signature
from coverage_planner.access.snapping import SNAP_FIELDS as _FIELDS
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import WalkNetwork

FORMAT_VERSION = 1


def cached_snap_points(
    network: WalkNetwork, lonlat: np.ndarray, *, max_snap_m: float, cache_dir: str | Path
) -> tuple[Snap, int]:
    """`snap_points` through a per-point disk cache.

    The result is identical to ``snap_points(network, lonlat, max_snap_m=...)``.
    An unreadable cache file is ignored and rewritten. What was last read or
    written is kept in memory while the file on disk stays the same (same
    inode, size, modification and change times), so a rerun in the same
    process neither reads nor re-sorts the file; a file changed on disk is
    read (and verified) again.

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
    known = _load(path)
    position = known.lookup(lonlat) if known is not None else np.full(len(lonlat), -1, dtype=np.int64)
    missing = np.flatnonzero(position < 0)
    n_snapped = 0
    if len(missing):
        # Snap each new coordinate once, even when several places share it (sorted by lon, lat).
        first = dict.fromkeys(_pairs(lonlat[missing]))
        new_xy = np.frombuffer(b"".join(first), dtype=float).reshape(-1, 2)
        new_xy = new_xy[np.lexsort((new_xy[:, 1], new_xy[:, 0]))]
        n_snapped = len(new_xy)
        fresh = snap_points(network, new_xy, max_snap_m=max_snap_m)
        known = _Known(new_xy, fresh) if known is None else known.extended(new_xy, fresh)
        _store(path, known)
        position[missing] = known.lookup(lonlat[missing])
    if known is None:  # no places at all
        return snap_points(network, lonlat, max_snap_m=max_snap_m), 0
    return known.snap.take(position), n_snapped


def _pairs(xy: np.ndarray) -> list[bytes]:
    """Each (lon, lat) row as its 16 bytes: compared exactly (-0.0 and 0.0, NaNs stay apart)."""
    # A 16-byte void view lists the rows' bytes in C (5x a Python loop of slices; the same bytes).
    return np.ascontiguousarray(np.asarray(xy, dtype=float).reshape(-1, 2)).view(_ROW).ravel().tolist()


_ROW = np.dtype((np.void, 16))


class _Known:
    """Every point snapped so far and its snap (read-only arrays), with a row per point's bytes."""

    def __init__(self, xy: np.ndarray, snap: Snap, row: dict[bytes, int] | None = None) -> None:
        self.xy = np.ascontiguousarray(xy, dtype=float)
        self.snap = snap
        if row is None:
            # A dict lookup per point beats sorting 16-byte keys and binary search on them (generic compares).
            pairs = _pairs(self.xy)
            row = dict(zip(reversed(pairs), range(len(pairs) - 1, -1, -1)))  # (the first row of a repeated point)
        self.row = row
        for array in (self.xy, *(getattr(snap, f) for f in _FIELDS)):
            array.setflags(write=False)  # shared by every rerun of this process: nobody may change them

    def extended(self, xy: np.ndarray, snap: Snap) -> _Known:
        """These points followed by ``xy`` (distinct points, none of them known yet) and their snaps."""
        row = self.row.copy()  # (a copy of the dict, not one built again from every point's bytes)
        start = len(self.xy)
        row.update(zip(_pairs(xy), range(start, start + len(xy))))
        return _Known(np.concatenate([self.xy, xy]), Snap.concat([self.snap, snap]), row)

    def lookup(self, lonlat: np.ndarray) -> np.ndarray:
        """Row of each point (exact coordinate match), -1 when absent."""
        get = self.row.get
        return np.array([get(pair, -1) for pair in _pairs(lonlat)], dtype=np.int64)


# What this process last read or wrote, per cache file, with the file's signature then.
_MEMO: OrderedDict[str, tuple[tuple[int, ...], _Known]] = OrderedDict()
_MEMO_SIZE = 4


def _load(path: Path) -> _Known | None:
    """The cache file's points and snaps: from memory while the file is unchanged, else read and verified."""
    signature = file_signature(path)
    name = os.path.abspath(path)
    if signature is None:
        _MEMO.pop(name, None)
        return None
    hit = _MEMO.get(name)
    if hit is not None and hit[0] == signature:
        _MEMO.move_to_end(name)
        return hit[1]
    _MEMO.pop(name, None)
    try:
        _, data = read_arrays(path)
        snap = Snap(*(data[f] for f in _FIELDS))
        xy = data["lonlat"]
        if xy.ndim != 2 or xy.shape[1:] != (2,) or any(len(getattr(snap, f)) != len(xy) for f in _FIELDS):
            raise ValueError("snaps and points differ in length")
        known = _Known(xy, snap)
    except Exception as exc:  # noqa: BLE001 - a damaged cache is only a slower run
        warn_cache(path, f"failed verification ({exc}) and was rebuilt (places snapped again)")
        return None
    _remember(name, signature, known)
    return known


def _store(path: Path, known: _Known) -> None:
    """Write the cache file, and remember it as written (forgotten when it could not be written)."""
    name = os.path.abspath(path)
    _MEMO.pop(name, None)
    if try_write_arrays(path, {"lonlat": known.xy, **{f: getattr(known.snap, f) for f in _FIELDS}}):
        signature = file_signature(path)
        if signature is not None:
            _remember(name, signature, known)


def _remember(name: str, signature: tuple[int, ...], known: _Known) -> None:
    _MEMO[name] = (signature, known)
    _MEMO.move_to_end(name)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


__all__ = ["cached_snap_points"]
