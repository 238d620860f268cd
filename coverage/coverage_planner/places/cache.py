"""Validated place files cached on disk, keyed by the file's sha256 and the read options.

Reading and validating a ledger row by row is the slowest step of a rerun
once the network and walk rows are cached; an unchanged file is served from
here instead. The cache is this tool's own output, written atomically as an
array file (`coverage_planner._cache.arrays`: plain arrays, never pickle, so a cache file
cannot run code), and anything unreadable is simply read from the source again.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage_planner._cache.arrays import read_arrays, warn_cache, write_arrays
from coverage_planner._cache.keys import cache_key, file_sha256, file_signature
from coverage_planner._meta import package_version
from coverage_planner.places.reading import COLUMN_ALIASES, read_places, warn_duplicate_site_names


def cached_read_places(
    path: str | Path,
    kind: str,
    cache_dir: str | Path,
    *,
    keep_columns: Sequence[str] = (),
    weight_column: str | None = None,
    default_crs: str = "wgs84",
    sheet: str | int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    geocoder=None,
) -> gpd.GeoDataFrame:
    """`read_places`, served from ``cache_dir`` when the file, options and geocode answers are unchanged.

    The key holds every reading option (a different sheet, layer or encoding
    is another entry) and the version of the encoding detector, whose
    answer for a file that is not UTF-8 is part of the result.

    Parameters
    ----------
    path : str or Path
        The place file.
    kind : str
        As for `read_places`.
    cache_dir : str or Path
        The cache folder; entries go to its ``places`` folder.
    keep_columns, weight_column, default_crs, sheet, layer, encoding, geocoder
        As for `read_places`.

    Returns
    -------
    geopandas.GeoDataFrame
        Equal to what `read_places` returns for the same file and options.
    """
    path = Path(path)
    if not path.is_file():
        return read_places(path, kind)  # raises the usual clear error
    geocode_file = getattr(geocoder, "cache_file", None)
    geocodes = file_sha256(geocode_file) if geocode_file is not None and Path(geocode_file).is_file() else None
    options = [list(keep_columns), weight_column, default_crs, sheet, layer, encoding]
    # The schema is in the key: a column newly read as a field must not come back from an older entry.
    # (The JSON of the list [sha256, kind, *options, geocodes, version, detector version, COLUMN_ALIASES].)
    key = _key_json([file_sha256(path), kind, *options, geocodes, package_version(), _detector_version()])
    cached = Path(cache_dir) / "places" / f"{cache_key(key)}.arrays"
    memo_key = (os.path.abspath(cached), key)  # (no symlink resolution needed: the file's stat is checked)
    if cached.is_file():
        try:
            frame = _remembered(memo_key, cached)
        except Exception as exc:  # noqa: BLE001 - a damaged cache file is re-read from the source
            warn_cache(cached, f"failed verification ({exc}) and was rebuilt (place file read again)")
        else:
            frame.attrs["source_path"] = str(path.resolve())
            if kind == "sites":
                warn_duplicate_site_names(frame, path)  # as read_places does: a cached file warns too
            return frame
    frame = read_places(
        path,
        kind,
        keep_columns=keep_columns,
        weight_column=weight_column,
        default_crs=default_crs,
        sheet=sheet,
        layer=layer,
        encoding=encoding,
        geocoder=geocoder,
    )
    try:
        exact = _frame_to_file(frame, cached)
    except OSError as exc:
        warn_cache(cached, f"cannot be written ({type(exc).__name__}: {exc}); the next run reads the file again")
    else:
        if exact:  # decoding the file would give this frame back: a rerun in this process need not decode it
            _remember(memo_key, cached, _copy(frame))
    return frame


# Frames decoded in this process, by cache file and key: a rerun in the same process (add-site,
# propose) skips decoding the unchanged file again. The file's stat is checked (inode, size,
# modification and change times), so a cache file replaced, edited or removed behind our back is
# read (and verified) again.
_MEMO: OrderedDict[tuple[str, str], tuple[tuple[int, ...], gpd.GeoDataFrame]] = OrderedDict()
_MEMO_SIZE = 8


def _remembered(memo_key: tuple[str, str], cached: Path) -> gpd.GeoDataFrame:
    """The frame in ``cached``, decoded once per process while the file is unchanged; always a copy."""
    signature = file_signature(cached)
    hit = _MEMO.get(memo_key)
    if hit is None or signature is None or hit[0] != signature:
        hit = _remember(memo_key, cached, _frame_from_file(cached))
    else:
        _MEMO.move_to_end(memo_key)
    return _copy(hit[1])


def _remember(
    memo_key: tuple[str, str], cached: Path, frame: gpd.GeoDataFrame
) -> tuple[tuple[int, ...], gpd.GeoDataFrame]:
    hit = (file_signature(cached), frame)
    if hit[0] is None:  # no file to vouch for the copy: keep nothing
        _MEMO.pop(memo_key, None)
        return hit
    _MEMO[memo_key] = hit
    _MEMO.move_to_end(memo_key)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return hit


def _copy(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # Deep copy of the columns; geometries are immutable, so sharing them is safe.
    out = frame.copy(deep=True)
    out.attrs = {}
    return out


def _key_json(head: list) -> str:
    """``json.dumps([*head, COLUMN_ALIASES], ensure_ascii=False)``, with the aliases' JSON made once."""
    listed = json.dumps(head, ensure_ascii=False)[1:-1]
    return f"[{listed}, {_aliases_json()}]" if listed else f"[{_aliases_json()}]"


@lru_cache(maxsize=1)
def _aliases_json() -> str:
    # Fixed at import, as reading's own lookup table built from it is.
    return json.dumps(COLUMN_ALIASES, ensure_ascii=False)


@lru_cache(maxsize=1)
def _detector_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("charset-normalizer")
    except PackageNotFoundError:
        return "none"


# Values an object column may hold, by type code (None is 0).
_NONE, _TEXT, _FLOAT, _INT, _BOOL = range(5)
_VALUE_KINDS = {
    type(None): _NONE,
    str: _TEXT,
    float: _FLOAT,
    int: _INT,
    bool: _BOOL,
    np.float64: _FLOAT,
    np.int64: _INT,
    np.bool_: _BOOL,
}
_PYTHON_TYPES = {type(None), str, float, int, bool}
_TEXT_TYPES = {type(None), str}  # (a text column's kind codes are its values' "is not None": _NONE 0, _TEXT 1)


def _frame_to_file(frame: gpd.GeoDataFrame, path: Path) -> bool:
    """Store a places frame column by column: numbers as they are, geometries as WKB, object columns
    as a type code per value plus text, float and integer arrays (so None, "3" and 3.0 stay apart).

    A frame holding a value of any other type is simply not cached. Returns whether
    `_frame_from_file` gives back exactly this frame (False when nothing was written, or when
    an object column holds NumPy scalars, which come back as Python numbers).
    """
    arrays: dict[str, np.ndarray] = {}
    columns = []
    exact = True
    plain = frame.copy(deep=False)
    plain.attrs = {}  # (each column taken from a frame with attrs gets a deep copy of them)
    for i, name in enumerate(frame.columns):
        values = plain[name]
        key = f"c{i}"
        if isinstance(values.dtype, gpd.array.GeometryDtype):
            wkb = shapely.to_wkb(np.asarray(values.array), hex=False)
            present = ~pd.isna(wkb)
            blobs = [b if ok else b"" for b, ok in zip(wkb, present)]
            arrays[key] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
            arrays[key + "_len"] = np.array([len(b) for b in blobs], dtype=np.int64)
            arrays[key + "_present"] = present
            columns.append({"name": name, "kind": "geometry", "crs": values.crs.to_string() if values.crs else None})
        elif values.dtype.kind in "biuf":
            arrays[key] = values.to_numpy()
            columns.append({"name": name, "kind": "number"})
        elif values.dtype == object:
            listed = values.tolist()
            types = set(map(type, listed))
            if not types <= _VALUE_KINDS.keys():  # a value of some other type: do not cache this file
                return False
            exact = exact and types <= _PYTHON_TYPES
            if types <= _TEXT_TYPES:  # the usual text column: no numbers to list
                arrays[key + "_kind"] = np.array([v is not None for v in listed], dtype=np.uint8)  # _TEXT or _NONE
                arrays[key + "_text"] = np.array(["" if v is None else v for v in listed], dtype=str)
                arrays[key + "_float"] = np.zeros(len(listed), dtype=np.float64)
                arrays[key + "_int"] = np.zeros(len(listed), dtype=np.int64)
            else:
                kinds = [_VALUE_KINDS[type(v)] for v in listed]
                arrays[key + "_kind"] = np.array(kinds, dtype=np.uint8)
                arrays[key + "_text"] = np.array([v if k == _TEXT else "" for v, k in zip(listed, kinds)], dtype=str)
                arrays[key + "_float"] = np.array(
                    [v if k == _FLOAT else 0.0 for v, k in zip(listed, kinds)], dtype=np.float64
                )
                arrays[key + "_int"] = np.array(
                    [v if k in (_INT, _BOOL) else 0 for v, k in zip(listed, kinds)], dtype=np.int64
                )
            columns.append({"name": name, "kind": "object"})
        else:
            return False
    write_arrays(path, arrays, {"columns": columns, "geometry": frame.geometry.name, "rows": len(frame)})
    return exact


def _frame_from_file(path: Path) -> gpd.GeoDataFrame:
    meta, arrays = read_arrays(path)
    data: dict[str, object] = {}
    for i, column in enumerate(meta["columns"]):
        key = f"c{i}"
        if column["kind"] == "geometry":
            ends = np.cumsum(arrays[key + "_len"])
            raw = arrays[key].tobytes()
            blobs = [
                raw[e - n : e] if ok else None for e, n, ok in zip(ends, arrays[key + "_len"], arrays[key + "_present"])
            ]
            data[column["name"]] = gpd.GeoSeries(shapely.from_wkb(np.array(blobs, dtype=object)), crs=column["crs"])
        elif column["kind"] == "number":
            data[column["name"]] = arrays[key]
        else:
            kinds = arrays[key + "_kind"]
            values = np.full(len(kinds), None, dtype=object)
            # astype(object) gives Python str, float, int and bool objects, vectorised.
            for code, source, dtype in (
                (_TEXT, "_text", None),
                (_FLOAT, "_float", None),
                (_INT, "_int", None),
                (_BOOL, "_int", bool),
            ):
                where = kinds == code
                if where.any():
                    picked = arrays[key + source][where]
                    values[where] = (picked.astype(dtype) if dtype else picked).astype(object)
            data[column["name"]] = pd.Series(values, dtype=object)  # object, as read_places gives (not inferred str)
    frame = gpd.GeoDataFrame(data, geometry=meta["geometry"])
    if len(frame) != meta["rows"]:
        raise ValueError(f"{path}: {len(frame)} rows, expected {meta['rows']}")
    return frame
