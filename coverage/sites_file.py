"""Append new sites to a scenario's sites file: validated first, backed up, never losing rows.

This is the one place where the tool edits an input file, on purpose and
only through `append_sites`: the old file is copied beside it first, the new
one is written to a temporary name and renamed, then read back and checked.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import china
from ._errors import InputError
from ._io import atomic_path
from ._tabular import read_raw
from .places import _ALIAS_TO_FIELD, _looks_like_header, _norm, read_places

NEW_SITE_FIELDS = ("id", "name", "lon", "lat", "crs", "type", "district", "subdistrict", "community", "address", "status")


def new_site_rows(rows: pd.DataFrame, *, crs: str = "wgs84") -> pd.DataFrame:
    """Normalise new sites (columns named by English or Chinese aliases) to `NEW_SITE_FIELDS`.

    Coordinates stay as given; ``crs`` is the default for rows without one.
    """
    renamed = {c: _ALIAS_TO_FIELD.get(_norm(c), c) for c in rows.columns}
    frame = rows.rename(columns=renamed)
    frame = frame[[c for c in NEW_SITE_FIELDS if c in frame.columns]].copy()
    for field in ("lon", "lat"):
        if field not in frame.columns:
            raise InputError(None, f"new sites need a {field} value", field=field)
        frame[field] = pd.to_numeric(frame[field], errors="coerce")
        bad = frame[field].isna()
        if bad.any():
            raise InputError(None, f"new site {int(np.flatnonzero(bad)[0]) + 1}: {field} is missing or not a number", field=field)
    if "name" not in frame.columns or frame["name"].isna().any():
        raise InputError(None, "every new site needs a name", field="name")
    frame["crs"] = [china.normalize_crs(c) for c in frame["crs"].fillna(crs)] if "crs" in frame.columns else china.normalize_crs(crs)
    return frame.reset_index(drop=True)


def wgs84_of(rows: pd.DataFrame) -> np.ndarray:
    """(n, 2) WGS-84 lon/lat of normalised new site rows."""
    lon, lat = china.to_wgs84(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float), rows["crs"].to_numpy(str))
    return np.column_stack([lon, lat])


def check_new_sites(path: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Refuse new sites whose id or name is already in the file; fill ids when the file has an id column.

    Returns the rows with ids filled in.
    """
    existing = read_places(path, "sites")
    rows = rows.copy()
    ids = set(existing["id"])
    if "id" not in rows.columns:
        rows["id"] = None
    counter = len(existing)
    for i in rows.index[rows["id"].isna()]:
        counter += 1
        while f"site-{counter}" in ids:
            counter += 1
        rows.loc[i, "id"] = f"site-{counter}"
    rows["id"] = rows["id"].astype(str)
    names = dict(zip(existing["name"], existing["source_row"]))
    for i, row in rows.iterrows():
        if row["id"] in ids:
            raise InputError(path, f"a site with id {row['id']!r} already exists", field="id")
        if row["name"] in names:
            raise InputError(path, f"a site named {row['name']!r} already exists (row {names[row['name']]}); give the new one another name", field="name")
        ids.add(row["id"])
        names[row["name"]] = "new"
    return rows


def append_sites(path: str | Path, rows: pd.DataFrame) -> Path:
    """Append checked new site rows to a CSV or XLSX sites file; return the backup's path.

    Columns are matched to the file's own headers (English or Chinese). When
    the file has no coordinate-system column, GCJ-02/BD-09 coordinates are
    converted to WGS-84 before writing. The file is read back afterwards; if
    any old row went missing the backup is restored and an error raised.
    """
    path = Path(path)
    before = read_places(path, "sites")
    table = read_raw(path, is_header=_looks_like_header)
    fields = {_ALIAS_TO_FIELD.get(_norm(h)): i for i, h in enumerate(table.header) if _ALIAS_TO_FIELD.get(_norm(h))}
    rows = rows.copy()
    if "crs" not in fields:
        lonlat = wgs84_of(rows)
        rows["lon"], rows["lat"], rows["crs"] = lonlat[:, 0].round(7), lonlat[:, 1].round(7), "wgs84"
    for field in ("type", "district", "subdistrict", "community", "address", "status"):
        given = field in rows.columns and rows[field].notna().any()
        if given and field not in fields and not (field == "status" and rows[field].eq("real").all()):
            raise InputError(path, f"the file has no column for '{field}'; add one or leave that value out", field=field)
    column_field = {i: f for f, i in fields.items()}
    cells = [
        [_cell(row.get(column_field[i])) if i in column_field else "" for i in range(len(table.header))]
        for _, row in rows.iterrows()
    ]

    backup = path.with_name(f"{path.name}.bak-{datetime.now():%Y%m%d-%H%M%S-%f}")
    shutil.copy2(path, backup)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        _append_csv(path, cells)
    elif suffix in (".xlsx", ".xlsm"):
        _append_xlsx(path, cells)
    else:
        raise InputError(path, "sites can be added to CSV or XLSX files; edit GIS files in a GIS", field=None)
    after = read_places(path, "sites")
    if len(after) != len(before) + len(rows) or not after["id"].iloc[: len(before)].equals(before["id"]):
        shutil.copy2(backup, path)
        raise InputError(path, f"appending changed existing rows; the original was restored from {backup.name}")
    return backup


def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value


def _append_csv(path: Path, cells: list[list]) -> None:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(path, "cannot tell the text encoding; save it as UTF-8 CSV")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first.count)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(cells)
    joiner = "" if text.endswith(("\n", "\r")) or not text else ("\r\n" if "\r\n" in text else "\n")
    # Write back in the file's own encoding, with a byte-order mark only if it had one.
    if encoding == "utf-8-sig" and not raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"
    with atomic_path(path) as tmp:
        tmp.write_bytes((text + joiner + buffer.getvalue()).encode(encoding))


def _append_xlsx(path: Path, cells: list[list]) -> None:
    import openpyxl

    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    for row in cells:
        sheet.append([None if c == "" else c for c in row])
    with atomic_path(path) as tmp:
        book.save(tmp)
