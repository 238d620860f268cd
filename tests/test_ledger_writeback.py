"""The planner's ledger written back: the Beijing extract's real buildings and residential areas as a formatted
XLSX ledger (title row, a blank row, a second sheet) and as a GB18030 CSV, run, and written back with the run's
answers; headers, order, values (against result.table()), types, formats and the untouched rest are checked.
"""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import ROUND_HALF_UP, Decimal

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import raw_file
from openpyxl.styles import Font, PatternFill
from real_places import beijing_place_frames

from coverage_planner import compute_coverage, read_places, with_sites
from coverage_planner._errors import DataError
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs.ledger import LEDGER_HEADERS, write_ledger

HEAD = ["编号", "名称", "经度", "纬度", "类型", "状态", "备注"]
ZH = list(LEDGER_HEADERS["zh"].values())


@pytest.fixture(scope="module")
def frames():
    return beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))


@pytest.fixture(scope="module")
def network():
    return WalkNetwork.from_file(raw_file("beijing_haidian_cau_map.osm"))


def _rows(demand: pd.DataFrame) -> list[list]:
    """Ledger rows of the real places; three are marked placeholders, and notes include formula-like text."""
    notes = ["=1+1 (not a formula)", "-5 号楼", "@note", None]
    return [
        [r.id, r.name, r.lon, r.lat, r.type, "占位" if i < 3 else "真实", notes[i % len(notes)]]
        for i, r in enumerate(demand.itertuples(index=False))
    ]


@pytest.fixture(scope="module")
def ledger(frames, tmp_path_factory):
    """A formatted XLSX ledger: a title row, a bold filled header, a blank row mid-table, a second sheet."""
    _, demand = frames
    folder = tmp_path_factory.mktemp("ledger")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "小区台账"
    ws.append(["光明路街道小区台账 (测试用: 北京海淀 OSM 真实建筑)"])
    ws.append(HEAD)
    for cell in ws[2]:
        cell.font = Font(bold=True, color="1F4E78")
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    rows = _rows(demand)
    for i, row in enumerate(rows):
        ws.append(row)
        if i == 40:
            ws.append([])  # a blank row the reader skips
    for row in ws.iter_rows(min_row=3, min_col=3, max_col=4):
        for cell in row:
            cell.number_format = "0.000000"
    for row in ws.iter_rows(min_row=3, min_col=7, max_col=7):  # notes stay text, even '=1+1'
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    ws.column_dimensions["B"].width = 30
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:G{ws.max_row}"
    notes = book.create_sheet("说明")
    notes["A1"] = "本表由街道维护"
    notes["A1"].font = Font(italic=True)
    notes["B2"] = "=1+2"
    notes.merge_cells("A4:C4")
    notes["A4"] = "合并单元格"
    book.save(folder / "ledger.xlsx")
    return folder / "ledger.xlsx"


def _sites(frames, folder):
    """The extract's real amenities as sites; some names start like a spreadsheet formula."""
    sites, _ = frames
    sites = sites.assign(name=[f"={n}" if i % 2 else n for i, n in enumerate(sites["name"])])
    sites.to_csv(folder / "sites.csv", index=False)
    return read_places(folder / "sites.csv", "sites")


@pytest.fixture(scope="module")
def run(frames, ledger, network):
    demand = read_places(ledger, "demand", keep_columns=["备注"])
    return compute_coverage(network, _sites(frames, ledger.parent), demand, threshold_min=10)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _half_up(value: float, step: str) -> Decimal:
    """As a planner rounds the number coverage.csv shows: 9.05 → 9.1, 678.5 → 679."""
    return Decimal(str(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP)


def _expected(run) -> dict[str, dict]:
    """What the added columns should say, from result.table() and the sites' network pieces."""
    table = run.table().set_index("demand_id")
    site_pieces = set(run.sites.loc[run.sites["component"] >= 0, "component"])
    rows = {}
    for ident, r in table.iterrows():
        if r["covered"]:
            reason = ""
        elif r["off_network"]:
            reason = "不在路网上"
        elif np.isnan(r["walk_m"]) and r["component"] not in site_pieces:
            reason = f"第 {r['component']} 块"
        elif np.isnan(r["walk_m"]):
            reason = "搜索范围内没有工作室"
        else:
            reason = f"步行 {r['walk_min']:.1f} 分钟，超过 10 分钟"
        rows[ident] = {
            "nearest": r["nearest_site_name"] if isinstance(r["nearest_site_name"], str) else None,
            "walk_m": None if np.isnan(r["walk_m"]) else int(_half_up(r["walk_m"], "1")),
            "walk_min": None if np.isnan(r["walk_min"]) else float(_half_up(r["walk_min"], "0.1")),
            "covered": "是" if r["covered"] else "否",
            "reason": reason,
            "placeholder": r["status"] == "placeholder",
        }
    return rows


def test_xlsx_ledger_gets_the_answers_appended_to_the_same_sheet_rows_and_headers(run, ledger, tmp_path):
    before = _digest(ledger)
    out = write_ledger(run, ledger, tmp_path / "ledger_written_back.xlsx")
    assert _digest(ledger) == before  # the input is never modified
    original, written = openpyxl.load_workbook(ledger), openpyxl.load_workbook(out)
    assert written.sheetnames == ["小区台账", "说明", "覆盖汇总"]
    ws, old = written["小区台账"], original["小区台账"]
    assert [c.value for c in ws[2]] == HEAD + ZH[:5]
    assert ws.max_row == old.max_row
    # Every original cell is as it was, value, type and format.
    for old_row, new_row in zip(old.iter_rows(), ws.iter_rows()):
        for a, b in zip(old_row, new_row[: len(HEAD)]):
            assert (a.value, a.data_type, a.number_format) == (b.value, b.data_type, b.number_format)
    expected = _expected(run)
    seen = 0
    for row in ws.iter_rows(min_row=3):
        ident = row[0].value
        if ident is None:
            assert all(c.value is None for c in row)  # the blank row stays blank
            continue
        e = expected[ident]
        nearest, walk_m, walk_min, covered, reason = row[7:12]
        assert nearest.value == e["nearest"] and (nearest.value is None or nearest.data_type == "s")
        assert walk_m.value == e["walk_m"] and walk_min.value == e["walk_min"]
        if e["walk_m"] is not None:
            assert walk_m.data_type == "n" and walk_m.number_format == "#,##0"
            assert walk_min.data_type == "n" and walk_min.number_format == "0.0"
        assert covered.value == e["covered"]
        text = reason.value or ""
        assert e["reason"] in text and (text == "") == (e["reason"] == "" and not e["placeholder"])
        assert ("位置为占位" in text) == e["placeholder"]
        seen += 1
    assert seen == len(run.demand) == len(expected)
    assert sum(e["covered"] == "否" for e in expected.values()) > 10
    assert any("块" in e["reason"] for e in expected.values())
    # The header style carries over, the filter spans the new columns, the other sheet is untouched.
    assert ws.cell(2, 8).font.b and ws.cell(2, 8).fill.fgColor.rgb == "00DDEBF7"
    assert ws.auto_filter.ref == f"A2:L{ws.max_row}" and ws.freeze_panes == "A3"
    assert ws.column_dimensions["B"].width == 30 and ws.column_dimensions["L"].width >= 40
    notes = written["说明"]
    assert notes["A1"].value == "本表由街道维护" and notes["A1"].font.i
    assert notes["B2"].value == "=1+2" and notes["B2"].data_type == "f"
    assert [str(r) for r in notes.merged_cells.ranges] == ["A4:C4"]


def test_names_that_look_like_formulas_are_stored_as_text(run, ledger, tmp_path):
    out = write_ledger(run, ledger, tmp_path / "back.xlsx")
    ws = openpyxl.load_workbook(out)["小区台账"]
    names = [row[7] for row in ws.iter_rows(min_row=3) if isinstance(row[7].value, str)]
    formula_like = [c for c in names if c.value.startswith("=")]
    assert formula_like and all(c.data_type == "s" for c in formula_like)
    assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_the_summary_sheet_gives_shares_as_percentages(run, ledger, tmp_path):
    ws = openpyxl.load_workbook(write_ledger(run, ledger, tmp_path / "back.xlsx"))["覆盖汇总"]
    head = [c.value for c in ws[1]]
    assert head[:5] == ["维度", "分组", "地点数", "覆盖地点数", "覆盖率"]
    share = ws.cell(2, head.index("覆盖率") + 1)
    assert share.number_format == "0.0%" and share.value == pytest.approx(run.share_covered())
    assert ws.cell(2, 1).value == "全部" and ws.cell(2, 3).value == len(run.demand)
    assert isinstance(ws.cell(2, 3).value, int)


def test_writing_back_a_written_back_ledger_fills_the_same_columns(run, ledger, tmp_path):
    once = write_ledger(run, ledger, tmp_path / "once.xlsx")
    twice = write_ledger(run, once, tmp_path / "twice.xlsx")
    a, b = openpyxl.load_workbook(once), openpyxl.load_workbook(twice)
    assert a.sheetnames == b.sheetnames
    rows_a = list(a["小区台账"].iter_rows(values_only=True))
    rows_b = list(b["小区台账"].iter_rows(values_only=True))
    assert rows_a == rows_b


def test_english_headers_and_a_proposal_column(run, ledger, frames, tmp_path):
    _, demand = frames
    # Two real places the run left outside become new sites (as a proposal would open them).
    outside = run.demand[~run.demand["covered"] & run.demand["walk_m"].notna()].iloc[:2]
    new = gpd.GeoDataFrame(
        {"id": ["new-1", "new-2"], "name": ["new site 1", "new site 2"]}, geometry=outside.geometry.to_numpy(), crs=4326
    )
    after = with_sites(run, new)
    out = write_ledger(run, ledger, tmp_path / "en.xlsx", lang="en", proposal=after)
    ws = openpyxl.load_workbook(out)["小区台账"]
    assert [c.value for c in ws[2]][len(HEAD) :] == list(LEDGER_HEADERS["en"].values())
    later = dict(zip(after.demand["demand_id"], after.demand["covered"]))
    now = dict(zip(run.demand["demand_id"], run.demand["covered"]))
    newly = {r[0]: r[12] for r in ws.iter_rows(min_row=3, values_only=True) if r[0] is not None}
    assert newly == {i: "yes" if later[i] and not now[i] else "no" for i in newly}
    assert list(newly.values()).count("yes") >= 2
    assert "coverage summary" in openpyxl.load_workbook(out).sheetnames


def test_csv_ledger_written_back_as_utf8_with_bom_and_neutralised_text(frames, network, tmp_path):
    _, demand = frames
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerow(["台账 (测试用)"])
    writer.writerow(HEAD)
    rows = _rows(demand)
    rows[3][6] = "-3.5"  # a plain negative number: a spreadsheet reads it as one, so it stays as it is
    rows[5][1] = "+86 471 王府井"  # a name a spreadsheet would run (+…) from the planner's own file
    writer.writerows(rows)
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(lines.getvalue().encode("gb18030"))  # as Chinese Excel saves CSV
    places = read_places(ledger, "demand", keep_columns=["备注"])
    run = compute_coverage(network, _sites(frames, tmp_path), places, threshold_min=10)
    out = write_ledger(run, ledger, tmp_path / "ledger_written_back.csv")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    written = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    original = list(csv.reader(io.StringIO(ledger.read_bytes().decode("gb18030"))))
    assert len(written) == len(original)
    assert written[1] == HEAD + ZH[:5]
    expected = _expected(run)
    for old, new in zip(original[2:], written[2:]):
        # The planner's cells as they were, but text a spreadsheet would run as a formula gets a leading quote.
        assert new[: len(old)] == [_quoted_if_formula(c) for c in old]
        e = expected[new[0]]
        name = e["nearest"] or ""
        assert new[7] == ("'" + name if name.startswith("=") else name)
        assert new[8] == ("" if e["walk_m"] is None else str(e["walk_m"]))
        assert new[9] == ("" if e["walk_min"] is None else f"{e['walk_min']:.1f}")
        assert new[10] == e["covered"] and e["reason"] in new[11]
    assert any(r[7].startswith("'=") for r in written[2:])
    notes = [r[6] for r in written[2:]]
    assert {"'=1+1 (not a formula)", "'-5 号楼", "'@note", "-3.5"} <= set(notes)
    assert written[7][1] == "'+86 471 王府井"
    frame = pd.read_csv(out, encoding="utf-8-sig", skiprows=1)
    assert frame["步行距离(米)"].dtype.kind in "fi" and frame["步行时间(分钟)"].dtype.kind == "f"
    # Read back, the written-back ledger gives the places and notes as the planner typed them.
    again = read_places(out, "demand", keep_columns=["备注", *ZH[:5]])
    pd.testing.assert_frame_equal(
        again[["id", "name", "备注"]].reset_index(drop=True), places[["id", "name", "备注"]].reset_index(drop=True)
    )
    # Written back a second time (from the written-back file), the same bytes: quotes are not stacked.
    twice = write_ledger(
        compute_coverage(network, _sites(frames, tmp_path), again, threshold_min=10), out, tmp_path / "twice.csv"
    )
    assert twice.read_bytes() == data


def _quoted_if_formula(cell: str) -> str:
    """OWASP's rule, written out independently: a leading '=', '+', '-' or '@' makes a formula unless it is a number."""
    try:
        float(cell)
        return cell
    except ValueError:
        return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def test_a_ledger_the_run_did_not_read_is_refused_and_the_ledger_never_overwritten(run, ledger, tmp_path):
    with pytest.raises(DataError, match="never overwritten"):
        write_ledger(run, ledger, ledger)
    with pytest.raises(DataError, match="file type"):
        write_ledger(run, ledger, tmp_path / "back.csv")
    other = openpyxl.load_workbook(ledger)
    other["小区台账"]["A5"] = "not-a-place-of-this-run"
    other.save(tmp_path / "other.xlsx")
    with pytest.raises(DataError, match=r"row 5 \(id 'not-a-place-of-this-run'\)"):
        write_ledger(run, tmp_path / "other.xlsx", tmp_path / "back.xlsx")
    assert not (tmp_path / "back.xlsx").exists()
