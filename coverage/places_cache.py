"""Validated place files cached on disk, keyed by the file's sha256 and the read options.

Reading and validating a ledger row by row is the slowest step of a rerun
once the network and walk rows are cached; an unchanged file is served from
here instead. The cache is this tool's own output, written atomically, and
anything unreadable is simply read from the source again.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd

from ._io import atomic_path
from .manifest import package_version
from .network import file_sha256
from .places import read_places


def cached_read_places(
    path: str | Path,
    kind: str,
    cache_dir: str | Path,
    *,
    keep_columns: Sequence[str] = (),
    weight_column: str | None = None,
    default_crs: str = "wgs84",
    geocoder=None,
) -> gpd.GeoDataFrame:
    """`read_places`, served from ``cache_dir`` when the file, options and geocode answers are unchanged."""
    path = Path(path)
    if not path.is_file():
        return read_places(path, kind)  # raises the usual clear error
    geocode_file = getattr(geocoder, "cache_file", None)
    geocodes = file_sha256(geocode_file) if geocode_file is not None and Path(geocode_file).is_file() else None
    key = json.dumps(
        [file_sha256(path), kind, list(keep_columns), weight_column, default_crs, geocodes, package_version()],
        ensure_ascii=False,
    )
    cached = Path(cache_dir) / "places" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.pickle"
    if cached.is_file():
        try:
            with open(cached, "rb") as fh:
                frame = pickle.load(fh)
            frame.attrs["source_path"] = str(path.resolve())
            return frame
        except Exception:  # noqa: BLE001 - a damaged cache file is re-read from the source
            pass
    frame = read_places(
        path, kind, keep_columns=keep_columns, weight_column=weight_column, default_crs=default_crs, geocoder=geocoder
    )
    with atomic_path(cached) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return frame
