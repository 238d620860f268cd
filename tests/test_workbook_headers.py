"""tables.xlsx headers a planner reads: plain English in an en report, Chinese in a zh one, for every sheet.

Real runs on the Beijing extract (coverage, a proposal with its before/after
diff) and on Monaco (every service-planning sheet; a drive run). The
workbooks are opened with openpyxl; the en and zh workbooks of one run are
compared column by column, so a column renamed in one language only, or a
number format lost in the renaming, shows.
"""

from __future__ import annotations

import re

import numpy as np
import openpyxl
import pytest
from conftest import raw_file
from cost_reference import frame, places_near_edges
from real_places import write_beijing_scenario
from service_scenario import every_service_table, monaco_service_places

import coverage_planner as cp
from coverage_planner.diff import ScenarioDiff
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs._report_text import TEXT
from coverage_planner.outputs.report import _EXCEL_HEADERS, write_report
from coverage_planner.pipeline import run_scenario

SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Headers in a zh workbook that are proper names, not words to translate.
ZH_PROPER = {"Gini"}


def _words(tree) -> set[str]:
    """Every string of a (nested) text table."""
    if isinstance(tree, dict):
        return set().union(*(_words(v) for v in tree.values())) if tree else set()
    if isinstance(tree, list | tuple):
        return set().union(*(_words(v) for v in tree)) if tree else set()
    return {tree} if isinstance(tree, str) else set()


def _english_allowed() -> set[str]:
    """The English mapping's headers, and the report's own English words as headers (capitalised)."""
    mapped = {en for _, en in _EXCEL_HEADERS.values()}
    report = {w[0].upper() + w[1:] for w in _words(TEXT["en"]) if w and "{" not in w}
    report |= {w.replace("{w}", "places").capitalize() for w in _words(TEXT["en"]) if w.startswith("{w} ")}
    return mapped | report


def _headers(path) -> dict[str, list]:
    book = openpyxl.load_workbook(path)
    return {ws.title: [c.value for c in ws[1]] for ws in book.worksheets}


def _column_formats(path) -> dict[str, list[set[str]]]:
    """Per sheet, per column position: the number formats of its numeric cells."""
    book = openpyxl.load_workbook(path)
    out = {}
    for ws in book.worksheets:
        rows = list(ws.iter_rows(min_row=2))
        width = ws.max_column
        out[ws.title] = [
            {r[c].number_format for r in rows if c < len(r) and r[c].data_type == "n" and r[c].value is not None}
            for c in range(width)
        ]
    return out


def _check_english(headers: dict[str, list], own_columns: set[str], allowed: set[str]) -> None:
    within = re.compile(r"^Within \d+(?:\.\d+)? min$")
    before_after = re.compile(r"^(.+?) (?:before|after)( \(.*\))?$")
    for sheet, heads in headers.items():
        assert len(heads) == len(set(heads)), (sheet, heads)  # no two columns with one header
        for h in heads:
            if h in own_columns:  # a column of the planner's own file keeps the name it has there
                continue
            assert not SNAKE.match(h), (sheet, h)
            assert h[0].isupper() or h[0].isdigit(), (sheet, h)
            m = before_after.match(h)
            ok = h in allowed or within.match(h) or (m and (m.group(1) + (m.group(2) or "")) in allowed)
            assert ok, (sheet, h)


def _check_chinese(headers: dict[str, list], own_columns: set[str]) -> None:
    for sheet, heads in headers.items():
        assert len(heads) == len(set(heads)), (sheet, heads)
        for h in heads:
            assert CJK.search(h) or h in ZH_PROPER or h in own_columns, (sheet, h)


def _check_same_columns(en_path, zh_path) -> None:
    """The same sheets, the same columns in the same order: numbers equal, booleans TRUE/FALSE ↔ 是/否."""
    en, zh = openpyxl.load_workbook(en_path), openpyxl.load_workbook(zh_path)
    assert en.sheetnames == zh.sheetnames
    for name in en.sheetnames:
        a, b = list(en[name].iter_rows()), list(zh[name].iter_rows())
        assert len(a) == len(b) and len(a[0]) == len(b[0]), name
        for ra, rb in zip(a[1:], b[1:]):
            for ca, cb in zip(ra, rb):
                if ca.data_type == "b":
                    assert cb.value == ("是" if ca.value else "否"), (name, a[0][ca.column - 1].value)
                elif ca.data_type == "n":
                    assert cb.data_type == "n" and cb.value == ca.value, (name, a[0][ca.column - 1].value)


# ------------------------------------------------------------------ coverage, proposal, diff (Beijing)


@pytest.fixture(scope="module")
def beijing(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    result = run_scenario(toml, progress=False)
    candidates = cp.build_candidates(result, grid_spacing=250)
    proposal = cp.propose_sites(result, candidates, method="mclp", k=2)
    diff = ScenarioDiff.from_results(proposal.before, proposal.after)
    out = tmp_path_factory.mktemp("beijing")
    for lang in ("en", "zh"):
        write_report(proposal.after, out / lang, lang=lang, pdf=False, diff=diff, proposal=proposal)
    return proposal.after, out


def test_an_english_workbook_has_plain_english_headers_on_every_sheet(beijing):
    _, out = beijing
    headers = _headers(out / "en" / "tables.xlsx")
    assert {"coverage", "summary", "by_site", "site_places", "left_out", "diff_places", "diff_summary", "proposal"} <= set(headers)  # fmt: skip
    _check_english(headers, set(), _english_allowed())
    assert {"Place ID", "Name", "Nearest site", "Walk time (min)", "Covered", "Distance to network (m)"} <= set(headers["coverage"])  # fmt: skip
    assert {"Walk time before (min)", "Covered after", "Change"} <= set(headers["diff_places"])
    assert {"Rank", "Proposed site"} <= set(headers["proposal"])


def test_a_chinese_workbook_has_chinese_headers_on_every_sheet(beijing):
    _, out = beijing
    headers = _headers(out / "zh" / "tables.xlsx")
    _check_chinese(headers, set())
    assert {"之前步行时间(分钟)", "之后覆盖", "覆盖率变化"} <= set(headers["diff_places"]) | set(
        headers["diff_summary"]
    )


def test_both_languages_hold_the_same_columns_and_the_same_number_formats(beijing):
    result, out = beijing
    en, zh = out / "en" / "tables.xlsx", out / "zh" / "tables.xlsx"
    _check_same_columns(en, zh)
    assert _column_formats(en) == _column_formats(zh)
    book = openpyxl.load_workbook(en)
    sheet = book["coverage"]
    head = [c.value for c in sheet[1]]
    minutes = [r[head.index("Walk time (min)")] for r in sheet.iter_rows(min_row=2)]
    assert [c.value for c in minutes if c.value is not None] == pytest.approx(
        [m for m in result.table()["walk_min"] if not np.isnan(m)]
    )
    assert {c.number_format for c in minutes if c.value is not None} == {"0.0"}
    covered = [r[head.index("Covered")] for r in sheet.iter_rows(min_row=2)]
    assert {c.data_type for c in covered} == {"b"}  # English keeps Excel's TRUE/FALSE
    summary = book["summary"]
    head = [c.value for c in summary[1]]
    assert summary.cell(2, head.index("Share covered") + 1).number_format == "0.0%"
    assert summary.cell(2, head.index("Group") + 1).value == "all"
    left = book["left_out"]
    head = [c.value for c in left[1]]
    walk = [r[head.index("Walk minutes")] for r in left.iter_rows(min_row=2)]
    assert {c.number_format for c in walk if c.value is not None} == {"0.0"}


def test_covered_reads_as_a_yes_or_no_per_place_and_as_a_count_per_group(beijing):
    result, out = beijing
    for lang, per_place, per_group in (("zh", "是否覆盖", "覆盖地点数"), ("en", "Covered", "Places covered")):
        book = openpyxl.load_workbook(out / lang / "tables.xlsx")
        coverage, summary = book["coverage"], book["summary"]
        head = [c.value for c in coverage[1]]
        assert per_place in head and per_group not in head
        head = [c.value for c in summary[1]]
        assert per_group in head and per_place not in head, (lang, head)
        total = summary.cell(2, head.index(per_group) + 1).value  # the "all" row
        assert total == int(result.demand["covered"].sum())


# ------------------------------------------------------------------ service planning and a drive run (Monaco)


@pytest.fixture(scope="module")
def service_books(monaco, tmp_path_factory):
    sites, demand = monaco_service_places()
    result = cp.compute_coverage(monaco, sites, demand, threshold_min=5, progress=False)
    service = every_service_table(result, volunteers=60, clinics=2)
    out = tmp_path_factory.mktemp("service")
    for lang in ("en", "zh"):
        write_report(result, out / lang, lang=lang, pdf=False, service=service)
    return out


def test_every_service_sheet_has_english_headers_in_an_english_workbook(service_books):
    headers = _headers(service_books / "en" / "tables.xlsx")
    assert {"site_loads", "assignment", "volunteers", "accessibility", "equity", "circuit_schedule", "circuit_stops", "circuit_legs", "clinics", "clinics_reached"} <= set(headers)  # fmt: skip
    _check_english(headers, set(), _english_allowed())
    assert {"Site ID", "Load", "Capacity", "Spare capacity"} <= set(headers["site_loads"])
    _check_chinese(_headers(service_books / "zh" / "tables.xlsx"), set())


def test_service_sheets_keep_their_columns_and_formats_in_both_languages(service_books):
    en, zh = service_books / "en" / "tables.xlsx", service_books / "zh" / "tables.xlsx"
    _check_same_columns(en, zh)
    formats = _column_formats(en)
    assert formats == _column_formats(zh)
    head = _headers(en)["circuit_stops"]
    assert formats["circuit_stops"][head.index("Leg (min)")] == {"0.0"}
    assert formats["circuit_stops"][head.index("Leg (m)")] == {"#,##0"}


def test_a_drive_runs_english_headers_say_drive_never_walk(tmp_path):
    network = WalkNetwork.from_osm_file(raw_file("monaco.osm.pbf"), mode="drive")
    rng = np.random.default_rng(5)
    sites, demand = frame(places_near_edges(network, 3, rng), "s"), frame(places_near_edges(network, 80, rng), "d")
    driving = cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=2, progress=False)
    write_report(driving, tmp_path, lang="en", pdf=False)
    heads = [h for hs in _headers(tmp_path / "tables.xlsx").values() for h in hs]
    assert not [h for h in heads if re.search(r"\bwalk", h, re.I)]
    assert {"Drive time (min)", "Drive distance (m)", "Median drive (min)"} <= set(heads)
