"""Read place files into one raw, untyped table shape (internal).

:func:`read_raw` turns a CSV, XLSX, GeoJSON or GeoPackage file into a
:class:`RawTable`: header cells, data rows and the sheet row number of each,
plus geometries for vector files. It only reads and locates; giving the cells
meaning and validating them is ``places.py``'s job. Every failure becomes an
:class:`~coverage_planner._errors.InputError` naming the file, never a library
traceback.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from coverage_planner._errors import InputError

__all__ = [
    "SUFFIXES",
    "RawTable",
    "cell_number",
    "cell_text",
    "close_match_hint",
    "column_letter",
    "header_listing",
    "is_blank",
    "read_raw",
]

#: File suffixes read by each reader.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt", ".tsv"),
    "xlsx": (".xlsx", ".xlsm"),
    "vector": (".geojson", ".json", ".gpkg", ".shp"),
}

# The header is looked for in this many leading non-blank rows, so a title
# row or two above it (common in Excel exports) is skipped.
HEADER_SEARCH_ROWS = 5

# Encodings tried for CSV in order: UTF-8 (with or without BOM), then
# GB18030, the superset of GBK that Chinese Excel writes. Excel's "Unicode
# text" export is UTF-16 with a BOM, recognised by that BOM.
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")

# "1,200" as Excel writes a formatted number into CSV.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


@dataclass
class RawTable:
    """Cells of a place file as read, before any interpretation.

    Attributes
    ----------
    header : list of str
        Header cells, stripped; ``""`` where a header cell is empty.
    rows : list of list
        Data rows, each padded to ``len(header)``; blank rows are dropped.
    row_numbers : list of int
        Row of each data row as the user sees it: the sheet row for CSV and
        XLSX (header on row 1 unless title rows sit above it), the 1-based
        feature number for vector files.
    geometries : geopandas.GeoSeries or None
        One geometry per data row, in EPSG:4326, for vector files.
    geographic : bool
        Whether the file stored longitude/latitude (GCJ-02 and BD-09 only
        make sense then).
    """

    header: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]
    geometries: gpd.GeoSeries | None = None
    geographic: bool = True


def is_blank(value: Any) -> bool:
    """Tell whether a cell is empty: None, NaN or only whitespace."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, str):
        return not value.strip()
    return False


def cell_text(value: Any) -> str | None:
    """Cell as stripped text; whole floats lose their '.0' (Excel ids)."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_number(value: Any) -> float:
    """Cell as a finite float; raises ValueError with a user-facing message."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number, str)):
        raise ValueError(f"{value!r} is not a number")
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def close_match_hint(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, compared case-insensitively, or ''."""
    folded = {c.strip().casefold(): c for c in candidates if c}
    match = difflib.get_close_matches(name.strip().casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean {folded[match[0]]!r}?)" if match else ""


def header_listing(header: Sequence[str]) -> str:
    """Non-empty header cells, quoted and comma-separated, for messages."""
    return ", ".join(repr(h) for h in header if h) or "none"


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 -> 'A', 26 -> 'AA')."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def read_raw(
    path: Path,
    *,
    sheet: str | int | None = None,
    is_header: Callable[[Sequence[str]], bool] = lambda cells: False,
) -> RawTable:
    """Read a place file into a :class:`RawTable`.

    Parameters
    ----------
    path : pathlib.Path
        An existing file; its suffix picks the reader.
    sheet : str or int, optional
        XLSX sheet, or GeoPackage layer, by name or 0-based position;
        the first one by default.
    is_header : callable
        Tells whether a row of stripped cells is the header (used to skip
        title rows); when no row among the first few passes, the first
        non-blank row is the header.

    Returns
    -------
    RawTable

    Raises
    ------
    InputError
        Unsupported suffix, unreadable or corrupt file, unknown sheet, or a
        file with no rows at all.
    """
    suffix = path.suffix.lower()
    if suffix in SUFFIXES["csv"]:
        return _from_grid(path, _csv_rows(path), is_header)
    if suffix in SUFFIXES["xlsx"]:
        return _from_grid(path, _xlsx_rows(path, sheet), is_header)
    if suffix in SUFFIXES["vector"]:
        return _read_vector(path, sheet)
    if suffix == ".xls":
        raise InputError(path, "old Excel .xls files are not read; save it as .xlsx or .csv")
    accepted = ", ".join(s for group in SUFFIXES.values() for s in group)
    raise InputError(path, f"unsupported file type {suffix or '(none)'!r}; use one of {accepted}")


def _csv_rows(path: Path) -> list[tuple[int, list[Any]]]:
    """Decode a CSV and return (sheet row, cells) for every record."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    for encoding in ("utf-16",) if utf16 else _CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(path, "the file is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 CSV")
    if "\x00" in text:
        raise InputError(path, "the file is binary, not CSV text")
    first_line = text.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        # A record spanning lines (quoted newline) is still one spreadsheet row.
        return [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text), dialect), 1)]
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV: {exc}") from None


def _xlsx_rows(path: Path, sheet: str | int | None) -> list[tuple[int, list[Any]]]:
    """Return (sheet row, cells) for every row of one worksheet."""
    import openpyxl  # only XLSX files need it

    try:
        # Not read-only: merged header cells are only visible in the full model (ledgers are small).
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        names = book.sheetnames
        if sheet is None:
            ws = book.worksheets[0]
        elif isinstance(sheet, int) and 0 <= sheet < len(names):
            ws = book.worksheets[sheet]
        elif isinstance(sheet, str) and sheet in names:
            ws = book[sheet]
        else:
            raise InputError(path, f"no sheet {sheet!r}; the workbook has {names}", field="sheet")
        try:
            rows = [(i, list(row)) for i, row in enumerate(ws.iter_rows(values_only=True), 1)]
            _spread_merged_header_cells(ws, rows)
            return rows
        except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
            raise InputError(path, f"cannot read sheet {ws.title!r} ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()


def _spread_merged_header_cells(ws: Any, rows: list[tuple[int, list[Any]]]) -> None:
    """Give every cell of a merged range near the top its range's value.

    A two-level header (名称 merged over two rows beside 坐标 over 经度 | 纬度)
    then reads as one header row: 名称, 经度, 纬度.
    """
    for merged in ws.merged_cells.ranges:
        if merged.min_row > HEADER_SEARCH_ROWS + 1:
            continue
        value = rows[merged.min_row - 1][1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if r - 1 < len(rows) and c - 1 < len(rows[r - 1][1]):
                    rows[r - 1][1][c - 1] = value


def _from_grid(
    path: Path,
    grid: list[tuple[int, list[Any]]],
    is_header: Callable[[Sequence[str]], bool],
) -> RawTable:
    """Find the header row in a grid of cells and split off the data rows."""
    filled = [(n, cells) for n, cells in grid if not all(is_blank(c) for c in cells)]
    if not filled:
        raise InputError(path, "the file is empty (no header, no rows)")
    head_at = next(
        (k for k, (_, cells) in enumerate(filled[:HEADER_SEARCH_ROWS]) if is_header(_texts(cells))),
        0,
    )
    header = _texts(filled[head_at][1])
    body = filled[head_at + 1 :]
    width = max([len(header), *(len(cells) for _, cells in body)])
    header += [""] * (width - len(header))
    rows = [list(cells) + [None] * (width - len(cells)) for _, cells in body]
    # Excel often reports formatted but empty columns: drop those silently.
    keep = [j for j in range(width) if header[j] or any(not is_blank(r[j]) for r in rows)]
    return RawTable(
        header=[header[j] for j in keep],
        rows=[[r[j] for j in keep] for r in rows],
        row_numbers=[n for n, _ in body],
    )


def _texts(cells: Sequence[Any]) -> list[str]:
    return ["" if is_blank(c) else str(c).strip() for c in cells]


def _read_vector(path: Path, layer: str | int | None) -> RawTable:
    """Read GeoJSON/GPKG/Shapefile attributes and geometries, in EPSG:4326."""
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as a GIS vector file ({type(exc).__name__}: {exc})") from None
    if layer is None:
        layer = 0  # the first layer, as for the first sheet of a workbook
    elif not ((isinstance(layer, int) and 0 <= layer < len(layers)) or layer in layers):
        raise InputError(path, f"no layer {layer!r}; the file has {layers}", field="sheet")
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
        raise InputError(path, f"cannot read as a GIS vector file ({type(exc).__name__}: {exc})") from None
    if len(frame) == 0:
        raise InputError(path, "the file has no features")
    geographic = True
    if frame.crs is not None:
        geographic = bool(frame.crs.is_geographic)
        if not frame.crs.equals("EPSG:4326"):
            try:
                frame = frame.to_crs("EPSG:4326")
            except Exception as exc:  # noqa: BLE001 - the readers raise many unrelated types; re-raised as InputError
                raise InputError(path, f"cannot reproject from {frame.crs.name} to WGS-84: {exc}") from None
    attributes = frame.drop(columns=frame.geometry.name)
    rows = [[None if is_blank(v) else v for v in record] for record in attributes.itertuples(index=False, name=None)]
    return RawTable(
        header=[str(c).strip() for c in attributes.columns],
        rows=rows,
        row_numbers=list(range(1, len(frame) + 1)),
        geometries=frame.geometry.reset_index(drop=True),
        geographic=geographic,
    )
