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

from coverage_planner._errors import InputError
from coverage_planner._io import atomic_path
from coverage_planner.escape import restore_csv_frame
from coverage_planner.places import china
from coverage_planner.places._tabular import read_raw
from coverage_planner.places.reading import field_for_header, looks_like_header, read_places

NEW_SITE_FIELDS = (
    "id",
    "name",
    "lon",
    "lat",
    "crs",
    "type",
    "district",
    "subdistrict",
    "community",
    "address",
    "status",
)


def read_new_sites(path: str | Path) -> pd.DataFrame:
    """Rows of sites to add, from a CSV such as ``proposed_sites.csv`` written by `Proposal.write`.

    Parameters
    ----------
    path : str or Path
        A UTF-8 CSV with name, lon, lat and optionally id, type, district, status, crs.

    Returns
    -------
    DataFrame
        All cells as text, with the quote our CSV writers put before formula-like text removed.

    Raises
    ------
    InputError
        When the file is missing or is not a readable CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        rows = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read as a UTF-8 CSV ({exc})") from None
    return restore_csv_frame(rows).replace({"": None})


def new_site_rows(rows: pd.DataFrame, *, crs: str = "wgs84") -> pd.DataFrame:
    """Normalise new sites (columns named by English or Chinese aliases) to `NEW_SITE_FIELDS`.

    Coordinates stay as given; ``crs`` is the default for rows without one.
    """
    renamed = {c: field_for_header(c) or c for c in rows.columns}
    frame = rows.rename(columns=renamed)
    frame = frame[[c for c in NEW_SITE_FIELDS if c in frame.columns]].copy()
    for field in ("lon", "lat"):
        if field not in frame.columns:
            raise InputError(None, f"new sites need a {field} value", field=field)
        frame[field] = pd.to_numeric(frame[field], errors="coerce")
        bad = frame[field].isna()
        if bad.any():
            raise InputError(
                None, f"new site {int(np.flatnonzero(bad)[0]) + 1}: {field} is missing or not a number", field=field
            )
    if "name" not in frame.columns or frame["name"].isna().any():
        raise InputError(None, "every new site needs a name", field="name")
    frame["crs"] = (
        [china.normalize_crs(c) for c in frame["crs"].fillna(crs)]
        if "crs" in frame.columns
        else china.normalize_crs(crs)
    )
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
    for _, row in rows.iterrows():
        if row["id"] in ids:
            raise InputError(path, f"a site with id {row['id']!r} already exists", field="id")
        if row["name"] in names:
            raise InputError(
                path,
                f"a site named {row['name']!r} already exists (row {names[row['name']]}); give the new one another name",
                field="name",
            )
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
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(path, "sites can be added to CSV or XLSX files; edit GIS files in a GIS")
    before = read_places(path, "sites")
    table = read_raw(path, is_header=looks_like_header)
    fields = _header_fields(table.header)
    rows = rows.copy()
    # Proposed or placeholder sites must stay labelled: a file without a status column gets one.
    add_status = (
        "status" not in fields
        and "status" in rows.columns
        and not rows["status"].isna().all()
        and not rows["status"].eq("real").all()
    )
    for field in ("type", "district", "subdistrict", "community", "address"):
        if field in rows.columns and rows[field].notna().any() and field not in fields:
            raise InputError(
                path, f"the file has no column for '{field}'; add one or leave that value out", field=field
            )
    if "crs" not in fields:
        lonlat = wgs84_of(rows)
        rows["lon"], rows["lat"], rows["crs"] = lonlat[:, 0].round(7), lonlat[:, 1].round(7), "wgs84"

    backup = path.with_name(f"{path.name}.bak-{datetime.now():%Y%m%d-%H%M%S-%f}")
    shutil.copy2(path, backup)
    if add_status:
        _add_column(path, table.header, "状态" if _looks_chinese(table.header) else "status")
        table = read_raw(path, is_header=looks_like_header)
        fields = _header_fields(table.header)
    column_field = {i: f for f, i in fields.items()}
    cells = [
        [_cell(row.get(column_field[i])) if i in column_field else "" for i in range(len(table.header))]
        for _, row in rows.iterrows()
    ]
    (_append_csv if suffix in (".csv", ".txt") else _append_xlsx)(path, cells)
    after = read_places(path, "sites")
    if len(after) != len(before) + len(rows) or not after["id"].iloc[: len(before)].equals(before["id"]):
        shutil.copy2(backup, path)
        raise InputError(path, f"appending changed existing rows; the original was restored from {backup.name}")
    return backup


def _header_fields(header: list[str]) -> dict[str, int]:
    """Field name → column index for the file's recognised headers."""
    return {field: i for i, h in enumerate(header) if (field := field_for_header(h))}


def _looks_chinese(header: list[str]) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for cell in header for ch in cell)


def _add_column(path: Path, header: list[str], name: str) -> None:
    """Add an empty column ``name`` after the last header cell (header row found by its cells)."""
    wanted = [h.strip() for h in header]
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book.worksheets[0]
        for row in sheet.iter_rows():
            cells = [("" if c.value is None else str(c.value)).strip() for c in row][: len(wanted)]
            if cells == wanted:
                sheet.cell(row=row[0].row, column=len(wanted) + 1, value=name)
                break
        with atomic_path(path) as tmp:
            book.save(tmp)
        return
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "gb18030", raw.decode("gb18030")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first.count)
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    out, seen_header = [], False
    for line in lines:
        if not seen_header and [c.strip() for c in line][: len(wanted)] == wanted:
            line, seen_header = line[: len(wanted)] + [name], True
        elif seen_header:
            line = line + [""] * (len(wanted) + 1 - len(line))
        out.append(line)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(out)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue().encode(encoding))


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
