"""The planner's own ledger written back: the same sheet, headers and rows, with the run's answers appended.

A compound ledger (小区台账, XLSX or CSV) goes in; `write_ledger` writes a
copy into the run folder with columns added to the right: 最近工作室,
步行距离(米), 步行时间(分钟), 是否覆盖 (是/否), 未覆盖原因, and with a
proposal 新增覆盖. The input file is never modified. Rows are matched
through the sheet row each place was read from (``source_row``) and checked
against its id, so a ledger that is not the run's input is refused.

XLSX: the original workbook is loaded whole (other sheets, formatting,
formulas and merged cells stay); numbers are numbers with number formats,
text is stored as text (never as a formula, even when it starts with
``=``), and a summary sheet gives the shares as percentages. Images and
charts are not kept (openpyxl drops them). CSV: UTF-8 with a byte-order
mark; every text cell a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@`` first), the planner's own and the new ones, is neutralised with
`coverage_planner.escape.csv_cell` (plain numbers such as ``-5`` stay as they
are), and reading the file back with `read_places` gives the text as typed.
Writing back a ledger written back before fills the same columns again
instead of adding more.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coverage_planner._errors import DataError, InputError
from coverage_planner._io import atomic_path
from coverage_planner.escape import csv_cell, restore_csv_cell
from coverage_planner.places.reading import field_for_header, looks_like_header
from coverage_planner.results import SUMMARY_COLUMNS, CoverageResult

#: Headers of the added columns, by language.
LEDGER_HEADERS: dict[str, dict[str, str]] = {
    "zh": {
        "nearest": "最近工作室",
        "walk_m": "步行距离(米)",
        "walk_min": "步行时间(分钟)",
        "covered": "是否覆盖",
        "reason": "未覆盖原因",
        "new": "新增覆盖",
    },
    "en": {
        "nearest": "nearest site",
        "walk_m": "walk distance (m)",
        "walk_min": "walk time (min)",
        "covered": "covered",
        "reason": "why not covered",
        "new": "newly covered",
    },
}
_TEXT = {
    "zh": {
        "yes": "是",
        "no": "否",
        "beyond": "步行 {m:.1f} 分钟，超过 {t:g} 分钟",
        "off_network": "距最近道路 {d:.0f} 米，超过接入上限 {limit:.0f} 米 (不在路网上)",
        "cut_off": "所在路网片段 (第 {c} 块) 与所有工作室都不连通",
        "search": "{s:g} 分钟 ({m:.0f} 米) 搜索范围内没有工作室",
        "placeholder": "位置为占位，未核实",
        "sep": "；",
        "sheet": "覆盖汇总",
        "summary": [
            "维度",
            "分组",
            "地点数",
            "覆盖地点数",
            "覆盖率",
            "权重",
            "覆盖权重",
            "权重覆盖率",
            "步行时间中位数(分钟)",
            "占位地点数",
        ],
        "dimensions": {
            "all": "全部",
            "district": "区",
            "subdistrict": "街道",
            "community": "社区",
            "type": "类型",
            "community_class": "社区类别",
        },
        "everything": "全部",
    },
    "en": {
        "yes": "yes",
        "no": "no",
        "beyond": "{m:.1f} min walk, beyond {t:g} min",
        "off_network": "{d:.0f} m from the nearest street, beyond the {limit:.0f} m limit (off the network)",
        "cut_off": "on a piece of the network (component {c}) cut off from every site",
        "search": "no site within the {s:g}-minute ({m:.0f} m) search limit",
        "placeholder": "placeholder location, not verified",
        "sep": "; ",
        "sheet": "coverage summary",
        "summary": [
            "dimension",
            "group",
            "places",
            "covered places",
            "share covered",
            "weight",
            "covered weight",
            "weight share",
            "median walk (min)",
            "placeholder places",
        ],
        "dimensions": {},
        "everything": "all",
    },
}
_NUMBER_FORMATS = {"walk_m": "#,##0", "walk_min": "0.0"}
_WIDTHS = {"nearest": 22, "walk_m": 13, "walk_min": 14, "covered": 10, "reason": 40, "new": 10}
#: A number a spreadsheet reads as a number ("-5", "+3.5e2"): left as it is, not quoted as a formula would be.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HEADER_SEARCH_ROWS = 5  # as the place reader: the header is among the first five non-blank rows


def ledger_columns(result: CoverageResult, *, lang: str = "zh", proposal: Any = None) -> pd.DataFrame:
    """The columns written back, one row per demand place (in ``result.demand`` order).

    Parameters
    ----------
    result : CoverageResult
        The run.
    lang : {"zh", "en"}, default "zh"
        Headers and text.
    proposal : Proposal or CoverageResult, optional
        A proposal (its ``after`` run) or a later run of the same places;
        adds 新增覆盖: covered then, not now.

    Returns
    -------
    pandas.DataFrame
        Columns named by `LEDGER_HEADERS`: nearest site name (text), walk
        metres (whole, a number; missing when no site is reached), walk
        minutes (one decimal; both rounded half up), 是/否, the reason a place is not covered
        (empty when covered; a placeholder location is always noted), and
        新增覆盖 with a proposal.
    """
    if lang not in LEDGER_HEADERS:
        raise DataError(f"lang must be one of {', '.join(LEDGER_HEADERS)}, not {lang!r}")
    heads, text = LEDGER_HEADERS[lang], _TEXT[lang]
    demand = result.demand.reset_index(drop=True)
    covered = demand["covered"].to_numpy(bool)
    walk_m = demand["walk_m"].to_numpy(float)
    out = pd.DataFrame(
        {
            heads["nearest"]: [None if _missing(v) else str(v) for v in demand["nearest_site_name"]],
            heads["walk_m"]: [_half_up(v, 0) for v in walk_m],
            heads["walk_min"]: [_half_up(v, 1) for v in demand["walk_min"].to_numpy(float)],
            heads["covered"]: np.where(covered, text["yes"], text["no"]),
            heads["reason"]: uncovered_reasons(result, lang=lang),
        }
    )
    if proposal is not None:
        after = getattr(proposal, "after", proposal)
        later = dict(zip(after.demand["demand_id"].astype(str), after.demand["covered"].astype(bool)))
        ids = demand["demand_id"].astype(str)
        if missing := [i for i in ids if i not in later]:
            raise DataError(f"the proposal's run lacks {len(missing)} of the run's places (first: {missing[0]!r})")
        out[heads["new"]] = np.where(~covered & ids.map(later).to_numpy(bool), text["yes"], text["no"])
    return out


def uncovered_reasons(result: CoverageResult, *, lang: str = "zh") -> list[str]:
    """Why each demand place is not covered, in words; empty for covered places.

    Off the network (its distance to the nearest street beyond the snap
    limit); on a piece of network no site is on (its component); no site
    within the search limit; or beyond the threshold (with its minutes). A
    placeholder location is noted too, covered or not.

    Parameters
    ----------
    result : CoverageResult
        The run.
    lang : {"zh", "en"}, default "zh"
        Language of the reasons.

    Returns
    -------
    list of str
        One per place, in ``result.demand`` order.
    """
    text = _TEXT[lang]
    demand = result.demand.reset_index(drop=True)
    site_components = set(result.sites.loc[result.sites["component"] >= 0, "component"].astype(int))
    search_m = float(result.matrix.cutoff_m)
    status = demand["status"].astype(str) if "status" in demand else pd.Series("real", index=demand.index)
    reasons = []
    for row, placeholder in zip(demand.itertuples(index=False), status == "placeholder"):
        parts = []
        if bool(row.covered):
            pass
        elif bool(row.off_network):
            parts.append(text["off_network"].format(d=float(row.snap_m), limit=float(result.max_snap_m)))
        elif _missing(row.walk_m) and int(row.component) not in site_components:
            parts.append(text["cut_off"].format(c=int(row.component)))
        elif _missing(row.walk_m):
            parts.append(text["search"].format(s=search_m / result.metres_per_minute, m=search_m))
        else:
            parts.append(text["beyond"].format(m=float(row.walk_min), t=float(result.threshold_min)))
        if placeholder:
            parts.append(text["placeholder"])
        reasons.append(text["sep"].join(parts))
    return reasons


def write_ledger(
    result: CoverageResult,
    ledger_path: str | Path,
    out_path: str | Path,
    *,
    lang: str = "zh",
    proposal: Any = None,
    sheet: str | int | None = None,
) -> Path:
    """Write the ledger back with the run's answers appended to each of its rows.

    Parameters
    ----------
    result : CoverageResult
        A run whose demand places were read from ``ledger_path``.
    ledger_path : str or Path
        The planner's ledger (XLSX/XLSM or CSV), only read.
    out_path : str or Path
        Where to write the copy (e.g. ``ledger_written_back.xlsx`` in the run
        folder), with the ledger's suffix; never the ledger itself.
    lang : {"zh", "en"}, default "zh"
        Headers and text of the added columns (`LEDGER_HEADERS`).
    proposal : Proposal or CoverageResult, optional
        Adds 新增覆盖 (see `ledger_columns`).
    sheet : str or int, optional
        The ledger's sheet the places were read from; default the sheet
        whose header has longitude and latitude columns (else the first).

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    DataError
        ``out_path`` is the ledger, has another suffix, or the ledger's rows
        are not the run's places (a row missing from the run, or another id).
    InputError
        The ledger cannot be read.
    """
    ledger_path, out_path = Path(ledger_path), Path(out_path)
    suffix = ledger_path.suffix.lower()
    if out_path.exists() and out_path.resolve() == ledger_path.resolve():
        raise DataError(f"{out_path}: the ledger is never overwritten; write it back into the run folder")
    if out_path.suffix.lower() != suffix:
        raise DataError(f"{out_path}: the written-back ledger keeps the ledger's file type ({suffix})")
    if not ledger_path.is_file():
        raise InputError(ledger_path, "file not found")
    values = ledger_columns(result, lang=lang, proposal=proposal)
    keys = [k for k in LEDGER_HEADERS[lang] if LEDGER_HEADERS[lang][k] in values.columns]
    if suffix in (".xlsx", ".xlsm"):
        _write_xlsx(result, ledger_path, out_path, values, keys, lang, sheet)
    elif suffix in (".csv", ".txt", ".tsv"):
        _write_csv(result, ledger_path, out_path, values, keys, LEDGER_HEADERS[lang])
    else:
        raise DataError(f"{ledger_path}: only XLSX and CSV ledgers are written back, not {suffix or 'no suffix'}")
    return out_path


# ---------------------------------------------------------------- matching rows


def _match_rows(
    result: CoverageResult, path: Path, grid: list[tuple[int, list[Any]]]
) -> tuple[int, list[str], dict[int, int]]:
    """(header row, header texts, sheet row → position in result.demand) for the ledger's grid."""
    filled = [(n, cells) for n, cells in grid if not all(_blank(c) for c in cells)]
    if not filled:
        raise InputError(path, "the ledger is empty")
    head_at = next((k for k, (_, c) in enumerate(filled[:_HEADER_SEARCH_ROWS]) if looks_like_header(_texts(c))), 0)
    header_row, header = filled[head_at][0], _texts(filled[head_at][1])
    id_col = next((j for j, h in enumerate(header) if h and field_for_header(h) == "id"), None)
    demand = result.demand.reset_index(drop=True)
    position = {(int(r), str(i)): k for k, (r, i) in enumerate(zip(demand["source_row"], demand["demand_id"]))}
    found: dict[int, int] = {}
    wrong = []
    for n, cells in filled[head_at + 1 :]:
        expected = _cell_text(cells[id_col]) if id_col is not None and id_col < len(cells) else f"demand-{n}"
        k = position.get((n, str(expected)))
        if k is None:
            wrong.append(f"row {n} (id {expected!r})")
        else:
            found[n] = k
    if wrong:
        raise DataError(
            f"{path}: {len(wrong)} ledger row(s) are not places of this run, e.g. {', '.join(wrong[:3])}; "
            "write back the ledger the run read, from that run"
        )
    return header_row, header, found


def _half_up(value: float, digits: int) -> float:
    """``value`` rounded half up at ``digits`` decimals, as written (9.05 → 9.1; NumPy's half-even gives 9.0)."""
    if _missing(value):
        return math.nan
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _texts(cells: Sequence[Any]) -> list[str]:
    return ["" if _blank(c) else str(c).strip() for c in cells]


def _cell_text(value: Any) -> str | None:
    """A cell as the place reader reads an id: stripped text, whole floats without '.0'."""
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _blank(value: Any) -> bool:
    return _missing(value) or (isinstance(value, str) and not value.strip())


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------- XLSX


def _write_xlsx(
    result: CoverageResult,
    ledger: Path,
    out: Path,
    values: pd.DataFrame,
    keys: list[str],
    lang: str,
    sheet: str | int | None,
) -> None:
    import openpyxl

    try:
        cached = openpyxl.load_workbook(ledger, data_only=True)  # the values the reader saw
        book = openpyxl.load_workbook(ledger, keep_vba=ledger.suffix.lower() == ".xlsm")  # formulas kept
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many unrelated types; re-raised as InputError
        raise InputError(ledger, f"cannot read as an Excel workbook ({type(exc).__name__}: {exc})") from None
    title = _pick_sheet(cached, ledger, sheet, result)
    grid = [(i, list(row)) for i, row in enumerate(cached[title].iter_rows(values_only=True), 1)]
    _spread_merged_header(cached[title], grid)
    header_row, header, rows = _match_rows(result, ledger, grid)
    ws = book[title]
    heads = LEDGER_HEADERS[lang]
    last = max((j for _, cells in grid for j, c in enumerate(cells, 1) if not _blank(c)), default=0)
    columns = {}
    for key in keys:  # a column written back before is filled again
        existing = [j for j, h in enumerate(header, 1) if h == heads[key]]
        columns[key] = existing[0] if existing else (last := last + 1)
    model_col = _last_header_column(header)
    model = ws.cell(header_row, model_col)
    for key, j in columns.items():
        cell = ws.cell(header_row, j)
        _copy_style(model, cell)
        _set_text(cell, heads[key])
        letter = cell.column_letter
        if (ws.column_dimensions[letter].width or 0) < _WIDTHS[key]:
            ws.column_dimensions[letter].width = _WIDTHS[key]
    answers = {key: values[heads[key]].to_numpy() for key in columns}  # one array per column, not a lookup per cell
    for n, k in rows.items():
        style_from = ws.cell(n, model_col)
        for key, j in columns.items():
            cell = ws.cell(n, j)
            _copy_style(style_from, cell)
            value = answers[key][k]
            if key in _NUMBER_FORMATS:
                cell.value = None if _missing(value) else (int(value) if key == "walk_m" else float(value))
                cell.number_format = _NUMBER_FORMATS[key]
            elif _missing(value) or value == "":
                cell.value = None
            else:
                _set_text(cell, str(value))
    if ws.auto_filter.ref:  # the filter spans the new columns too
        from openpyxl.utils import get_column_letter, range_boundaries

        c0, r0, c1, r1 = range_boundaries(ws.auto_filter.ref)
        ws.auto_filter.ref = f"{get_column_letter(c0)}{r0}:{get_column_letter(max(c1, *columns.values()))}{r1}"
    _summary_sheet(book, result, lang)
    with atomic_path(out) as tmp:
        book.save(tmp)


def _pick_sheet(book: Any, path: Path, sheet: str | int | None, result: CoverageResult) -> str:
    names = book.sheetnames
    if sheet is None:
        sheet = result.demand.attrs.get("sheet")
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    if isinstance(sheet, str) and sheet in names:
        return sheet
    if sheet is not None:
        raise InputError(path, f"no sheet {sheet!r}; the workbook has {names}", field="sheet")
    for ws in book.worksheets:
        if ws.sheet_state != "visible":
            continue
        top = [list(r) for r in ws.iter_rows(max_row=_HEADER_SEARCH_ROWS + 5, values_only=True)]
        top = [r for r in top if not all(_blank(c) for c in r)][:_HEADER_SEARCH_ROWS]
        if any(looks_like_header(_texts(r)) for r in top):
            return ws.title
    return names[0]


def _spread_merged_header(ws: Any, grid: list[tuple[int, list[Any]]]) -> None:
    """Give the cells of merged ranges near the top their range's value, as the place reader does."""
    for merged in ws.merged_cells.ranges:
        if merged.min_row > _HEADER_SEARCH_ROWS + 1 or merged.min_row > len(grid):
            continue
        value = grid[merged.min_row - 1][1][merged.min_col - 1]
        for r in range(merged.min_row, min(merged.max_row, len(grid)) + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                if c - 1 < len(grid[r - 1][1]):
                    grid[r - 1][1][c - 1] = value


def _last_header_column(header: list[str]) -> int:
    return max((j for j, h in enumerate(header, 1) if h), default=1)


def _copy_style(source: Any, target: Any) -> None:
    if source.has_style:
        target.font = copy.copy(source.font)
        target.fill = copy.copy(source.fill)
        target.border = copy.copy(source.border)
        target.alignment = copy.copy(source.alignment)
        target.protection = copy.copy(source.protection)


def _set_text(cell: Any, text: str) -> None:
    """Store ``text`` as text: openpyxl would make ``=…`` a formula."""
    cell.value = text
    cell.data_type = "s"


def _summary_sheet(book: Any, result: CoverageResult, lang: str) -> None:
    text = _TEXT[lang]
    name = text["sheet"]
    if name in book.sheetnames:
        old = book[name]
        if old.cell(1, 1).value == text["summary"][0]:  # ours, from an earlier write-back
            book.remove(old)
        else:
            name = f"{name} 2"
            if name in book.sheetnames:
                book.remove(book[name])
    ws = book.create_sheet(name)
    from openpyxl.styles import Font

    for j, head in enumerate(text["summary"], 1):
        _set_text(ws.cell(1, j), head)
        ws.cell(1, j).font = Font(bold=True)
    summary = result.summary()[list(SUMMARY_COLUMNS)]
    formats = {"share": "0.0%", "weight_share": "0.0%", "median_walk_min": "0.0", "weight": "#,##0.##"}
    formats["covered_weight"] = formats["weight"]
    for i, row in enumerate(summary.itertuples(index=False), 2):
        for j, (column, value) in enumerate(zip(SUMMARY_COLUMNS, row), 1):
            cell = ws.cell(i, j)
            if column == "dimension":
                _set_text(cell, text["dimensions"].get(str(value), str(value)))
            elif column == "group":
                _set_text(cell, text["everything"] if row[0] == "all" else str(value))
            elif _missing(value):
                cell.value = None
            else:
                cell.value = float(value) if column in formats else int(value)
                cell.number_format = formats.get(column, "0")
    for j, width in enumerate([12, 24, 9, 11, 9, 10, 11, 11, 18, 11], 1):
        ws.column_dimensions[ws.cell(1, j).column_letter].width = width


# ---------------------------------------------------------------- CSV


def _write_csv(
    result: CoverageResult, ledger: Path, out: Path, values: pd.DataFrame, keys: list[str], heads: dict[str, str]
) -> None:
    text = _decode(ledger)
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(ledger, f"malformed CSV: {exc}") from None
    grid = [(i, list(r)) for i, r in enumerate(records, 1)]
    header_row, header, rows = _match_rows(result, ledger, grid)
    width = max(len(r) for r in records)
    last = max((j for r in records for j, c in enumerate(r, 1) if not _blank(c)), default=0)
    columns = {}
    for key in keys:
        existing = [j for j, h in enumerate(header, 1) if h == heads[key]]
        columns[key] = existing[0] if existing else (last := last + 1)
    width = max(width, *columns.values())
    answers = {key: values[heads[key]].to_numpy() for key in columns}  # one array per column, not a lookup per cell
    out_rows = []
    for n, record in enumerate(records, 1):
        record = [_neutralised(cell) for cell in record] + [""] * (width - len(record))
        if n == header_row:
            for key, j in columns.items():
                record[j - 1] = csv_cell(heads[key])
        elif n in rows:
            for key, j in columns.items():
                record[j - 1] = _csv_value(key, answers[key][rows[n]])
        out_rows.append(record)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(out_rows)
    with atomic_path(out) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8-sig")


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None
    encodings = ("utf-16",) if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "the file is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 CSV")


def _neutralised(cell: str) -> str:
    """The planner's cell safe to open in a spreadsheet: formula-like text quoted, numbers as they are.

    Undoing an earlier quote first keeps a ledger written back twice the same, and
    reading the file back (places.reading) gives the text the planner typed.
    """
    if _PLAIN_NUMBER.fullmatch(cell):
        return cell
    return str(csv_cell(restore_csv_cell(cell)))


def _csv_value(key: str, value: Any) -> str:
    if _missing(value) or value == "":
        return ""
    if key == "walk_m":
        return str(int(value))
    if key == "walk_min":
        return f"{float(value):.1f}"
    return str(csv_cell(str(value)))


__all__ = ["LEDGER_HEADERS", "ledger_columns", "uncovered_reasons", "write_ledger"]
