"""The workbook writer (`outputs.xlsx`) against XlsxWriter, cell by cell, on a real run's tables and on hostile text.

Both workbooks are read back with openpyxl: every cell's value, type and
number format must agree. XlsxWriter is the reference (the writer the report
used before), called here one cell at a time.
"""

from __future__ import annotations

import math
import re
import zipfile
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner.outputs import report
from coverage_planner.outputs.xlsx import MAX_CELL_CHARS, write_workbook
from coverage_planner.pipeline import run_scenario

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "=1+1",
    "+1",
    "-2",
    "@SUM(A1)",
    "</t></si><si><t>injected",
    "<script>alert(1)</script> & 'quotes' \"double\"",
    "[bold]red[/bold] ../../etc/passwd",
    " leading and trailing spaces ",
    "tab\there, new\nline, return\rhere",
    "bell\x07 nul\x00 escape\x1b",
    "_x0041_ looks like an Excel escape",
    "光明路街道 回民区 新建商品房小区",
    "emoji 🏠 and a non-character \ufffe",
    "x" * (MAX_CELL_CHARS + 10),
    "0012",
    "1e5",
    "TRUE",
]


def xlsxwriter_reference(path, sheets, number_formats):
    """The same tables, one XlsxWriter call per cell: strings stay strings, NaN and None stay empty."""
    book = xlsxwriter.Workbook(
        str(path), {"strings_to_urls": False, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    styles = {code: book.add_format({"num_format": code}) for f in number_formats.values() for code in f.values()}
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name)
        formats = number_formats.get(name, {})
        for col, column in enumerate(frame.columns):
            sheet.write_string(0, col, str(column))
            style = styles.get(formats.get(column))
            for row, value in enumerate(frame[column].tolist(), start=1):
                if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
                    continue
                if isinstance(value, bool | np.bool_):
                    sheet.write_boolean(row, col, bool(value))
                elif isinstance(value, int | float | np.integer | np.floating):
                    sheet.write_number(row, col, float(value), style)
                else:
                    sheet.write_string(row, col, str(value))
    book.close()


def stored_strings(path) -> list[str]:
    """The shared strings as Excel reads them: ``_xHHHH_`` is the character HHHH (openpyxl undoes only some)."""
    with zipfile.ZipFile(path) as book:
        root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
    texts = ["".join(t.text or "" for t in si.iter(f"{{{MAIN}}}t")) for si in root]
    return [re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), t) for t in texts]


def cell_string_numbers(path, column: str) -> list[int]:
    """The shared-string numbers of one column of the first sheet, top to bottom."""
    with zipfile.ZipFile(path) as book:
        root = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    found = [c for c in root.iter(f"{{{MAIN}}}c") if re.fullmatch(f"{column}[0-9]+", c.get("r"))]
    assert all(c.get("t") == "s" for c in found)
    return [int(c.find(f"{{{MAIN}}}v").text) for c in found]


def cells(path):
    book = openpyxl.load_workbook(path)
    return {
        name: [[(c.value, c.data_type, c.number_format) for c in row] for row in book[name].iter_rows()]
        for name in book.sheetnames
    }


def assert_same_as_reference(tmp_path, sheets, number_formats):
    write_workbook(tmp_path / "ours.xlsx", sheets, number_formats=number_formats)
    xlsxwriter_reference(tmp_path / "reference.xlsx", sheets, number_formats)
    ours, reference = cells(tmp_path / "ours.xlsx"), cells(tmp_path / "reference.xlsx")
    assert list(ours) == list(reference) == list(sheets)
    for name in sheets:
        assert len(ours[name]) == len(reference[name]) == len(sheets[name]) + 1, name
        for r, (a, b) in enumerate(zip(ours[name], reference[name])):
            assert a == b, (name, r)
    return ours


@pytest.fixture(scope="module")
def beijing(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    return run_scenario(toml, progress=False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_real_runs_tables_read_back_as_xlsxwriter_writes_them(beijing, tmp_path, lang):
    sheets = report._Document(beijing, lang, None, None, None).sheets()
    number_formats = {
        name: {
            c: report._EXCEL_FORMAT_OF[k] for c, k in f.attrs.get("kinds", {}).items() if k in report._EXCEL_FORMAT_OF
        }
        for name, f in sheets.items()
    }
    assert sum(len(f) * len(f.columns) for f in sheets.values()) > 1000  # a real run's worth of cells
    ours = assert_same_as_reference(tmp_path, sheets, number_formats)
    kinds = {t for rows in ours.values() for row in rows for _, t, _ in row}
    # text, numbers and yes/no (是/否 as text in Chinese); never a formula
    assert {"s", "n"} | ({"b"} if lang == "en" else set()) == kinds
    formats = {f for rows in ours.values() for row in rows for _, _, f in row}
    assert {"0.0", "0.0%"} <= formats


def test_hostile_text_stays_text_and_reads_back_exactly(tmp_path):
    frame = pd.DataFrame(
        {
            "name": pd.array(HOSTILE, dtype="string"),
            "mixed": pd.Series([*HOSTILE[:-3], 3, True, None], dtype=object),
            "</c><c>": np.arange(len(HOSTILE), dtype=float),
        }
    )
    ours = assert_same_as_reference(tmp_path, {"hostile": frame, "also": frame.iloc[:0]}, {})
    stored = stored_strings(tmp_path / "ours.xlsx")
    names = [stored[i] for i in cell_string_numbers(tmp_path / "ours.xlsx", "A")[1:]]
    assert names == [h[:MAX_CELL_CHARS] for h in HOSTILE]  # every character back, the long one cut as Excel would
    with zipfile.ZipFile(tmp_path / "ours.xlsx") as book:  # Excel trims a string's spaces unless told not to
        assert '<t xml:space="preserve"> leading and trailing spaces </t>' in book.read("xl/sharedStrings.xml").decode()
    assert ours["hostile"][0][2][0] == "</c><c>"
    assert all(t in "sbn" for row in ours["hostile"] for _, t, _ in row)
    assert len(ours["also"]) == 1  # a table with no rows: its header only


def test_numbers_missing_values_and_infinities(tmp_path):
    frame = pd.DataFrame(
        {
            "walk_min": [1.25, np.nan, np.inf, -np.inf, 15.0, 1e20, -0.0],
            "count": pd.array([1, None, 3, 4, 5, 2**53, 0], dtype="Int64"),
            "covered": [True, False, True, True, False, False, True],
            "share": [0.5, 0.123456789012345678, 1.0, 0.0, np.nan, 1 / 3, 2.0],
        }
    )
    formats = {"t": {"walk_min": "0.0", "count": "#,##0", "share": "0.0%"}}
    ours = assert_same_as_reference(tmp_path, {"t": frame}, formats)
    walk = [row[0] for row in ours["t"][1:]]
    assert [v for v, _, _ in walk] == [1.25, None, None, None, 15, 1e20, 0]  # Excel has no infinity: left empty
    assert walk[0][2] == "0.0" and ours["t"][1][3][2] == "0.0%"
    assert ours["t"][2][3][0] == pytest.approx(0.123456789012345678, rel=1e-15)


def test_the_header_is_bold_frozen_and_filtered_and_columns_fit_their_text(tmp_path):
    frame = pd.DataFrame({"社区名称": ["光明路街道光明路社区居委会"] * 3, "id": ["a", "b", "c"], "n": [1.0, 2.0, 3.0]})
    write_workbook(tmp_path / "t.xlsx", {"coverage": frame})
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["coverage"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:C4"
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    widths = {c: sheet.column_dimensions[c].width for c in "ABC"}
    assert widths["A"] >= 2 * len("光明路街道光明路社区居委会")  # CJK text takes two columns a character
    assert widths["B"] < widths["A"]


def test_the_same_tables_give_the_same_bytes_and_a_valid_package(tmp_path):
    frame = pd.DataFrame({"name": HOSTILE, "n": np.arange(len(HOSTILE))})
    write_workbook(tmp_path / "a.xlsx", {"s": frame})
    write_workbook(tmp_path / "b.xlsx", {"s": frame})
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.xlsx") as book:
        assert book.testzip() is None
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= set(book.namelist())


@pytest.mark.parametrize("name", ["", "x" * 32, "a/b", "what?", "[1]", "'quoted"])
def test_a_sheet_name_excel_refuses_is_an_error(tmp_path, name):
    with pytest.raises(ValueError, match="sheet name"):
        write_workbook(tmp_path / "t.xlsx", {name: pd.DataFrame({"a": [1]})})
    assert not (tmp_path / "t.xlsx").exists()
