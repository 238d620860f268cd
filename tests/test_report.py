"""The HTML/Markdown report, its charts and its Excel tables."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner import run_scenario
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs.report import write_report


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    return run_scenario(toml)


def test_report_states_the_share_the_table_gives(result, tmp_path):
    write_report(result, tmp_path, lang="en")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    share = result.demand["covered"].mean() * 100
    assert f"{share:.1f}%" in html
    assert f"({int(result.demand['covered'].sum())}/{len(result.demand)} places" in html


def test_report_lists_every_place_left_outside(result, tmp_path):
    write_report(result, tmp_path, lang="zh")
    sheet = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="left_out")
    assert len(sheet) == int((~result.demand["covered"]).sum())
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"未覆盖的地点 ({len(sheet)})" in html


def test_report_carries_the_manifest(result, tmp_path):
    write_report(result, tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert result.manifest["network"]["sha256"] in text
    assert result.manifest["network"]["sha256"] in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_charts_are_png_and_the_same_each_time(result, tmp_path):
    write_report(result, tmp_path / "a")
    write_report(result, tmp_path / "b")
    first = (tmp_path / "a" / "chart_1.png").read_bytes()
    assert first.startswith(b"\x89PNG")
    assert first == (tmp_path / "b" / "chart_1.png").read_bytes()


def test_placeholder_places_are_flagged_in_the_report(result, tmp_path):
    flagged = result.demand.copy()
    flagged.loc[flagged.index[:3], "status"] = "placeholder"
    original = result.demand
    result.demand = flagged
    try:
        write_report(result, tmp_path, lang="en")
    finally:
        result.demand = original
    assert "3 place(s) are placeholders" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_before_and_after_are_shown_when_a_diff_is_given(result, tmp_path):
    write_report(result, tmp_path, lang="en", diff=ScenarioDiff.from_results(result, result))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Before and after adding sites" in html and "newly covered: 0" in html
    assert "diff_summary" in pd.ExcelFile(tmp_path / "tables.xlsx").sheet_names


def test_unknown_language_is_rejected(result, tmp_path):
    with pytest.raises(ValueError, match="lang"):
        write_report(result, tmp_path, lang="fr")
