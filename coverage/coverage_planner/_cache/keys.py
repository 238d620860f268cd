"""Cache keys: what an entry depends on, hashed."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path


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


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hex digits. Remembered while the file's size and modification time
        stay the same, so a rerun does not read unchanged inputs twice.
    """
    stat = os.stat(path)
    return _sha256_of(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime_ns are part of the key: an edited file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
