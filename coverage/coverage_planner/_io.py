"""Atomic file output: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on success.

    An interrupted or failing writer leaves the target untouched (or absent),
    never half-written.

    Parameters
    ----------
    target : str or Path
        The file to write; its folder is created when missing.

    Yields
    ------
    Path
        A path that does not exist yet, with the target's suffixes (writers
        read the format from them).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part" + "".join(target.suffixes[-2:]), dir=target.parent
    )
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    # The temporary name keeps the target's suffixes (".osm.gz"), which writers read the format from.
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write text (UTF-8) to target atomically.

    Parameters
    ----------
    target : str or Path
        The file to write.
    text : str
        Its content.

    Returns
    -------
    Path
        ``target``.
    """
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
