"""Append new sites to a scenario's sites file: validated first, backed up, never losing rows.

This is the one place where the tool edits an input file, on purpose and
only through `append_sites`: the old file is copied beside it first, the new
one is written to a temporary name and renamed, then read back and checked.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import shutil
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from coverage_planner._errors import CoverageWarning, InputError, InputErrors
from coverage_planner._io import atomic_path
from coverage_planner.escape import csv_cell, restore_csv_frame
from coverage_planner.places import china
from coverage_planner.places._tabular import (
    RawTable,
    cell_text,
    column_letter,
    csv_delimiter,
    csv_encoding,
    formula_cells,
    is_blank,
    read_raw,
)
from coverage_planner.places.reading import (
    STATUS_ALIASES,
    DuplicateNameWarning,
    field_for_header,
    looks_like_header,
    read_places,
)

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

    Parameters
    ----------
    rows : DataFrame
        New sites with name, lon, lat and optionally id, crs, type, district, status …
    crs : str, default "wgs84"
        Coordinate system of rows without a crs value.

    Returns
    -------
    DataFrame
        Columns among `NEW_SITE_FIELDS`, coordinates as floats, crs normalised.

    Raises
    ------
    InputError
        A missing or non-numeric coordinate, or a site without a name.
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
    """WGS-84 longitude and latitude of normalised new site rows.

    Parameters
    ----------
    rows : DataFrame
        Rows from `new_site_rows`.

    Returns
    -------
    ndarray of float, shape (n, 2)
    """
    lon, lat = china.to_wgs84(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float), rows["crs"].to_numpy(str))
    return np.column_stack([lon, lat])


def check_new_sites(path: str | Path, rows: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Refuse new sites whose id or name is already in the file; fill ids when the file has an id column.

    Parameters
    ----------
    path : str or Path
        The sites file.
    rows : DataFrame
        New site rows from `new_site_rows`.
    **options
        Reading options of the scenario's ``[sites]``, as `read_places` takes them
        (``keep_columns``, ``weight_column``, ``default_crs``, ``sheet``, ``layer``,
        ``encoding``, ``geocoder``).

    Returns
    -------
    DataFrame
        The rows with ids filled in.
    """
    existing = _read_quietly(path, options)
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


def append_sites(path: str | Path, rows: pd.DataFrame, **options: Any) -> Path:
    """Append checked new site rows to a CSV or XLSX sites file; return the backup's path.

    Columns are matched to the file's own headers (English or Chinese). When
    the file has no coordinate-system column, GCJ-02/BD-09 coordinates are
    converted to WGS-84 before writing. Text is written as text: formula-like
    names are neutralised in CSV (`coverage_planner.escape.csv_cell`, undone
    on reading) and stored as strings in XLSX. A workbook holding formulas, or
    whose sheet is hidden, is not edited (saving it from Python would drop
    the values Excel saved for its formulas). Temporary files an interrupted
    earlier edit left beside the file are removed first.

    After the edit the file is read again exactly as ``run`` reads it; when
    anything differs beyond the appended rows (an old row changed or went
    missing, a new row reads otherwise than given, or the file no longer
    reads at all) the backup is put back and an `InputError` says why.

    Parameters
    ----------
    path : str or Path
        The sites file (.csv, .txt, .xlsx or .xlsm).
    rows : DataFrame
        Checked rows from `check_new_sites`.
    **options
        Reading options of the scenario's ``[sites]`` (see `check_new_sites`).

    Returns
    -------
    Path
        The backup of the file as it was.

    Raises
    ------
    InputError
        The file cannot take the rows, or the edit was undone.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(path, "sites can be added to CSV or XLSX files; edit GIS files in a GIS")
    remove_leftovers(path)
    before = _read_quietly(path, options)
    table = _raw(path, options)
    if suffix in (".xlsx", ".xlsm"):
        _check_workbook_editable(path, table.sheet)
    fields = _header_fields(table.header_cells)
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
    with atomic_path(backup) as tmp:
        shutil.copy2(path, tmp)
    try:
        if add_status:
            _add_column(path, table, "状态" if _looks_chinese(table.header) else "status", options.get("encoding"))
            table = _raw(path, options)
            fields = _header_fields(table.header_cells)
        column_field = {i: f for f, i in fields.items()}
        # One cell per column of the file, empty columns included (the reader drops those).
        cells = [
            [_cell(row.get(column_field[i])) if i in column_field else "" for i in range(len(table.header_cells))]
            for _, row in rows.iterrows()
        ]
        if suffix in (".csv", ".txt"):
            _append_csv(path, cells, options.get("encoding"))
        else:
            _append_xlsx(path, table.sheet, cells)
    except BaseException:
        _restore(backup, path)  # an edit that failed half-way is undone, whatever stopped it
        raise
    problem = _difference(path, before, rows, fields, options)
    if problem is not None:
        _restore(backup, path)
        raise InputError(path, f"{problem}; the edit was undone: the original was restored from {backup.name}")
    return backup


def remove_leftovers(path: str | Path) -> list[Path]:
    """Remove the temporary files an interrupted edit of ``path`` left beside it.

    Writes go to ``.NAME.<random>.part…`` beside the file and are renamed
    onto it when complete (`coverage_planner._io.atomic_path`); a process
    killed in between leaves such a file behind. Two edits of one file at the
    same time are not supported, so any such file is a leftover.

    Parameters
    ----------
    path : str or Path
        The edited file.

    Returns
    -------
    list of Path
        The files removed (a warning names them).
    """
    path = Path(path)
    pattern = f".{glob.escape(path.name)}.*.part*"
    removed = [p for p in sorted(path.parent.glob(pattern)) if p.is_file()]
    for leftover in removed:
        leftover.unlink(missing_ok=True)
    if removed:
        warnings.warn(
            f"removed {len(removed)} temporary file(s) an interrupted edit of {path.name} left: "
            + ", ".join(p.name for p in removed),
            CoverageWarning,
            stacklevel=2,
        )
    return removed


def _restore(backup: Path, path: Path) -> None:
    """Put the backup back in one rename, so the file is never half-restored."""
    with atomic_path(path) as tmp:
        shutil.copy2(backup, tmp)


def _read_quietly(path: str | Path, options: dict[str, Any]) -> pd.DataFrame:
    """`read_places` with the scenario's options; shared names were already warned about by the run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateNameWarning)
        return read_places(path, "sites", **options)


def _raw(path: Path, options: dict[str, Any]) -> RawTable:
    sheet = options.get("sheet") if options.get("sheet") is not None else options.get("layer")
    return read_raw(path, sheet=sheet, encoding=options.get("encoding"), is_header=looks_like_header)


def _check_workbook_editable(path: Path, title: str | None) -> None:
    """Refuse to re-save a workbook whose sheet is hidden or that holds formulas."""
    import openpyxl

    book = openpyxl.load_workbook(path)
    try:
        sheet = book[title] if title in book.sheetnames else book.worksheets[0]
        if sheet.sheet_state != "visible":
            raise InputError(
                path,
                f"the sheet {sheet.title!r} is hidden; add-site never writes to a hidden sheet. "
                "Unhide it in Excel, or add the site there",
                field="sheet",
            )
        for ws in book.worksheets:
            if formulas := formula_cells(ws):
                (r, c), text = next(iter(formulas.items()))
                raise InputError(
                    path,
                    f"the workbook holds {len(formulas)} formula cell(s) (sheet {ws.title!r}, e.g. "
                    f"{column_letter(c - 1)}{r}: {text!r}). Saving it again from Python would drop the values "
                    "Excel saved for them, so add-site does not edit it: add the site in Excel, or first replace "
                    "the formulas by their values (Copy, then Paste Special > Values) and save",
                )
    finally:
        book.close()


def _difference(
    path: Path, before: pd.DataFrame, rows: pd.DataFrame, fields: dict[str, int], options: dict[str, Any]
) -> str | None:
    """What differs between the file as read after the edit and before it plus the new rows; None if nothing."""
    try:
        after = _read_quietly(path, options)
    except (InputError, InputErrors) as exc:
        first = exc.errors[0] if isinstance(exc, InputErrors) else exc
        more = f" (and {len(exc.errors) - 1} more problem(s))" if isinstance(exc, InputErrors) else ""
        return f"after the edit the file no longer reads as before: {first.detail}{more}"
    n = len(before)
    if len(after) != n + len(rows):
        return f"after the edit the file has {len(after)} sites, not {n} + {len(rows)}"
    if list(after.columns) != list(before.columns):
        return f"after the edit the file reads with columns {list(after.columns)}, not {list(before.columns)}"
    for column in before.columns:
        old, new = before[column].tolist(), after[column].iloc[:n].tolist()
        for i, (a, b) in enumerate(zip(old, new)):
            if not _same(a, b):
                return f"after the edit, row {before['source_row'].iloc[i]} reads {column} = {b!r}, not {a!r}"
    lonlat = wgs84_of(rows)
    status_of = {a.casefold(): value for value, names in STATUS_ALIASES.items() for a in names}
    for k, (_, row) in enumerate(rows.iterrows()):
        got = after.iloc[n + k]
        expected = {
            "name": cell_text(row["name"]),
            "status": status_of.get((cell_text(row.get("status")) or "real").casefold()),
            **{f: cell_text(row.get(f)) for f in ("type", "district", "subdistrict", "community", "address")},
        }
        if "id" in fields:
            expected["id"] = cell_text(row["id"])
        for field, value in expected.items():
            if got[field] != value:
                return f"the new site {row['name']!r} reads back with {field} = {got[field]!r}, not {value!r}"
        point = got.geometry
        if abs(point.x - lonlat[k, 0]) > 1e-6 or abs(point.y - lonlat[k, 1]) > 1e-6:
            return (
                f"the new site {row['name']!r} reads back at ({point.x:.7f}, {point.y:.7f}), "
                f"not ({lonlat[k, 0]:.7f}, {lonlat[k, 1]:.7f})"
            )
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        return isinstance(a, shapely.Geometry) and isinstance(b, shapely.Geometry) and a.equals_exact(b, 0.0)
    if is_blank(a) and is_blank(b):
        return True
    return type(a) is type(b) and a == b


def _header_fields(header: list[str]) -> dict[str, int]:
    """Field name → column index for the file's recognised headers."""
    return {field: i for i, h in enumerate(header) if (field := field_for_header(h))}


def _looks_chinese(header: list[str]) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for cell in header for ch in cell)


def _add_column(path: Path, table: RawTable, name: str, encoding: str | None) -> None:
    """Add an empty column ``name`` after the header row's last cell."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        book = _load_for_editing(path)
        sheet = book[table.sheet] if table.sheet in book.sheetnames else book.worksheets[0]
        sheet.cell(row=table.header_row, column=len(table.header_cells) + 1, value=name).data_type = "s"
        with atomic_path(path) as tmp:
            book.save(tmp)
        return
    data = path.read_bytes()
    codec = csv_encoding(path, encoding)
    text = data.decode(codec)
    delimiter = csv_delimiter(text)
    width = len(table.header_cells)
    out = []
    for number, line in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1):
        if number == table.header_row:
            line = [*line, *[""] * (width - len(line)), csv_cell(name)]
        elif number > table.header_row and any(cell.strip() for cell in line):
            line = [*line, *[""] * (width + 1 - len(line))]
        out.append(line)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=_newline(text)).writerows(out)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue().encode(codec))


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value


def _append_csv(path: Path, cells: list[list], encoding: str | None) -> None:
    """Append rows as bytes in the file's own encoding, leaving its existing bytes as they are."""
    data = path.read_bytes()
    codec = csv_encoding(path, encoding)
    text = data.decode(codec)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=csv_delimiter(text), lineterminator=_newline(text))
    writer.writerows([[csv_cell(c) for c in row] for row in cells])  # "=…" stays text, restored on reading
    joiner = "" if text.endswith(("\n", "\r")) or not text else _newline(text)
    # No second byte-order mark in the middle of the file.
    if codec == "utf-16":
        codec = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
    elif codec == "utf-8-sig":
        codec = "utf-8"
    try:
        added = (joiner + buffer.getvalue()).encode(codec)
    except UnicodeEncodeError as exc:
        raise InputError(
            path,
            f"{exc.object[exc.start : exc.end]!r} in a new site cannot be written in this file's encoding "
            f"({codec}); save the file as UTF-8 CSV and add the site again",
        ) from None
    with atomic_path(path) as tmp:
        tmp.write_bytes(data + added)


def _append_xlsx(path: Path, title: str | None, cells: list[list]) -> None:
    """Append rows to the sheet that was read, text cells stored as text (never as formulas)."""
    book = _load_for_editing(path)
    sheet = book[title] if title in book.sheetnames else book.worksheets[0]
    for row in cells:
        sheet.append([None if c == "" else c for c in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl stores text starting with "=" as a formula otherwise
    with atomic_path(path) as tmp:
        book.save(tmp)


def _load_for_editing(path: Path) -> Any:
    """The workbook as openpyxl edits it; a macro workbook (.xlsm) keeps its macros when saved again."""
    import openpyxl

    return openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")
