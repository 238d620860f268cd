"""A small binary container for named NumPy arrays: one JSON header, then the raw bytes.

Why not .npz: reading an .npz parses one header per array and checks a zip
CRC per member, which costs more than reading a small city's network itself
(≈5 ms against ≈1 ms here). Why not pickle: a cache file must never be able
to run code. Only plain dtypes (numbers, bools, fixed-width strings) are
allowed, so ``np.frombuffer`` reads every array straight from the file.

Every file carries a CRC-32 of its header and data and the version of the
package that wrote it: a file with flipped bytes, edited metadata or from
another version fails `read_arrays` (ValueError) and is rebuilt by its caller,
never trusted. CRC-32 (zlib, in C) rather than a cryptographic hash: it
guards against damage, not against an attacker who can write the cache folder.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from coverage_planner._errors import CacheWarning
from coverage_planner._meta import package_version

MAGIC = b"CPARRAYS2\n"
_PREFIX = len(MAGIC) + 8 + 4  # magic, header length, CRC-32 of header + data
_ALIGN = 64


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> Path:
    """Write named arrays and their metadata to one file, atomically.

    Parameters
    ----------
    path : str or Path
        The file to write; replaced whole or left untouched (for a moment
        between the two it is absent, which a cache reader takes as a miss).
    arrays : dict of str to ndarray
        Arrays of plain dtypes (numbers, bools, fixed-width strings).
    meta : dict of str to Any, optional
        JSON-able metadata stored in the header.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        When an array has an object dtype.
    """
    entries, blobs, offset = {}, [], 0
    for name, array in arrays.items():
        array = np.asarray(array)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        if array.dtype.hasobject:
            raise TypeError(f"{name}: object arrays cannot be stored")
        data = array.tobytes(order="C")
        entries[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset, "nbytes": len(data)}
        padding = -len(data) % _ALIGN
        blobs.append(data + b"\0" * padding)
        offset += len(data) + padding
    header = json.dumps(
        {"meta": meta or {}, "arrays": entries, "writer": package_version()}, ensure_ascii=True
    ).encode()
    header += b" " * (-(_PREFIX + len(header)) % _ALIGN)
    crc = zlib.crc32(header)
    for blob in blobs:
        crc = zlib.crc32(blob, crc)
    path = Path(path)
    _replace_file(path, [MAGIC + struct.pack("<QI", len(header), crc) + header, *blobs])
    return path


_SERIAL = itertools.count()


def _replace_file(path: Path, chunks: list[bytes]) -> None:
    """Write ``chunks`` to a new file beside ``path``, then move it onto ``path``: never half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_SERIAL)}-{os.urandom(4).hex()}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # the folder is created on the first write only (mkdir costs a system call)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        with open(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        # Removed first: ext4 renaming onto an existing file writes the new one's blocks out at once
        # (auto_da_alloc), 0.3-2 ms per cache write. A reader in between finds no entry: a slower run.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:  # (a folder, or open elsewhere on Windows): os.replace decides
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def try_write_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> bool:
    """`write_arrays` for a cache: a file that cannot be written is only a slower next run.

    Parameters
    ----------
    path : str or Path
        The cache file.
    arrays : dict of str to ndarray
        As for `write_arrays`.
    meta : dict of str to Any, optional
        As for `write_arrays`.

    Returns
    -------
    bool
        Whether the file was written; when not, one `CacheWarning` says why.
    """
    try:
        write_arrays(path, arrays, meta)
    except OSError as exc:
        warn_cache(path, f"cannot be written ({type(exc).__name__}: {exc}); the next run recomputes it")
        return False
    return True


def warn_cache(path: str | Path, what: str) -> None:
    """Warn in one line that a cache entry was not used (and so was rebuilt).

    Parameters
    ----------
    path : str or Path
        The cache entry.
    what : str
        What is wrong with it, completing "cache <path> ...".
    """
    warnings.warn(f"cache {path} {what}", CacheWarning, stacklevel=3)


def read_arrays(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by `write_arrays`.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    meta : dict of str to Any
        The metadata given to `write_arrays`.
    arrays : dict of str to ndarray
        The arrays, writable, by name.

    Raises
    ------
    ValueError
        When the file is damaged (bad magic, truncated, CRC mismatch) or was
        written by another version of the package.
    OSError
        When it cannot be read at all (missing, a directory, no permission).
    """
    # Read into a bytearray (writable arrays, like np.load's); readinto avoids a second copy.
    with open(path, "rb") as fh:
        raw = bytearray(os.fstat(fh.fileno()).st_size)
        if fh.readinto(raw) != len(raw):
            raise ValueError(f"{path}: file changed while reading")
    if not raw.startswith(MAGIC) or len(raw) < _PREFIX:
        raise ValueError(f"{path}: not an array file of this version")
    size, crc = struct.unpack("<QI", raw[len(MAGIC) : _PREFIX])
    if zlib.crc32(memoryview(raw)[_PREFIX:]) != crc:
        raise ValueError(f"{path}: checksum mismatch (damaged)")
    try:
        header = json.loads(raw[_PREFIX : _PREFIX + size])
        if header.get("writer") != package_version():
            raise ValueError(f"written by version {header.get('writer')}, not {package_version()}")
        base = _PREFIX + size
        arrays = {}
        for name, entry in header["arrays"].items():
            begin = base + entry["offset"]
            if begin + entry["nbytes"] > len(raw):
                raise ValueError("truncated")
            dtype = np.dtype(entry["dtype"])
            if dtype.hasobject:
                raise ValueError("object dtype")
            arrays[name] = np.frombuffer(
                raw, dtype=dtype, count=entry["nbytes"] // max(dtype.itemsize, 1), offset=begin
            ).reshape(entry["shape"])
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: damaged array file ({exc})") from exc
    return header["meta"], arrays


__all__ = ["read_arrays", "try_write_arrays", "warn_cache", "write_arrays"]
