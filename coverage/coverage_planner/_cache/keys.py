"""Cache keys: what an entry depends on, hashed."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from stat import S_ISREG


def cache_key(value: object, *, length: int = 24) -> str:
    """The name of a cache entry: a hash of everything the entry depends on.

    Parameters
    ----------
    value : object
        A string, or anything JSON can write (lists, dicts, numbers; other
        objects by their ``str``); dict keys are sorted, so the order they
        were built in does not matter.
    length : int, default 24
        Hex digits kept (24 = 96 bits: collisions are out of reach for a cache).

    Returns
    -------
    str
        The first ``length`` hex digits of the SHA-256 of ``value``.
    """
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def file_signature(path: str | Path) -> tuple[int, ...] | None:
    """What a file is and how it stands now: (device, inode, size, modification and change times).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    tuple of int or None
        None when there is no regular file there. The change time moves on
        every write, even when a tool puts the old modification time back, so
        an in-memory copy of a file's contents is trusted only while this
        stays the same.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if not S_ISREG(stat.st_mode):
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hex digits. Remembered while the file (device, inode) keeps its
        size, modification and change times, so a rerun does not read
        unchanged inputs twice.
    """
    # The file's identity and state as the key (no path resolution: a stat is all a rerun costs).
    identity = file_signature(path)
    if identity is None:  # not a regular file: reading it says why (missing, a folder …)
        return _sha256_of(path)
    digest = _HASHED.get(identity)
    if digest is None:
        digest = _sha256_of(path)
        _HASHED[identity] = digest
        while len(_HASHED) > _HASHED_SIZE:
            _HASHED.pop(next(iter(_HASHED)))
    return digest


_HASHED: dict[tuple[int, ...], str] = {}
_HASHED_SIZE = 256


def _sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
