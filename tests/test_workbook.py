"""tables.xlsx as a planner opens it in Excel: headers in the report's language, 是/否, numbers as numbers, formats."""

from __future__ import annotations

import openpyxl
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner.outputs.report import write_report
from coverage_planner.pipeline import run_scenario


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    return run_scenario(toml, progress=False)


def sheet_rows(path, name):
    sheet = openpyxl.load_workbook(path)[name]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return header, rows[1:]


def test_a_chinese_workbook_has_chinese_headers_yes_no_and_numbers(result, tmp_path):
    write_report(result, tmp_path, lang="zh", pdf=False)
    header, rows = sheet_rows(tmp_path / "tables.xlsx", "coverage")
    assert {"名称", "最近站点", "步行距离(米)", "步行时间(分钟)", "是否覆盖"} <= set(header)
    covered = header.index("是否覆盖")
    assert {r[covered].value for r in rows} <= {"是", "否"}
    expected = result.table()["covered"].map({True: "是", False: "否"}).tolist()
    assert [r[covered].value for r in rows] == expected
    minutes = header.index("步行时间(分钟)")
    assert all(r[minutes].data_type == "n" and r[minutes].number_format == "0.0" for r in rows if r[minutes].value)
    header, rows = sheet_rows(tmp_path / "tables.xlsx", "summary")
    share = header.index("覆盖率")
    assert rows[0][share].number_format == "0.0%" and rows[0][share].value == pytest.approx(result.share_covered())
    assert rows[0][header.index("分组")].value == "全部"
    header, rows = sheet_rows(tmp_path / "tables.xlsx", "left_out")
    walk = [r[4] for r in rows]
    assert walk and all(c.value is None or c.data_type == "n" for c in walk)


def test_an_english_workbook_has_plain_headers_and_real_booleans(result, tmp_path):
    write_report(result, tmp_path, lang="en", pdf=False)
    header, rows = sheet_rows(tmp_path / "tables.xlsx", "coverage")
    assert {"Name", "Walk time (min)", "Covered"} <= set(header)
    assert not {"demand_name", "walk_min", "covered"} & set(header)
    assert {rows[i][header.index("Covered")].data_type for i in range(len(rows))} == {"b"}
    expected = result.table()["covered"].tolist()
    assert [r[header.index("Covered")].value for r in rows] == expected
