"""The command line speaks the language of ``--lang``: Chinese by default, English on request."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario, write_osm_scenario
from typer.testing import CliRunner

from coverage_planner import run_scenario
from coverage_planner.cli import app
from coverage_planner.cli_text import TEXT
from coverage_planner.diff import ScenarioDiff

runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture()
def scenario(tmp_path):
    return write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)


def test_both_languages_have_the_same_messages_and_fields():
    import string

    def fields(template):
        return sorted(f for _, f, _, _ in string.Formatter().parse(template) if f)

    zh, en = TEXT["zh"], TEXT["en"]
    assert zh.keys() == en.keys()
    for key, template in en.items():
        if isinstance(template, dict):
            assert zh[key].keys() == template.keys(), key
        else:
            assert fields(zh[key]) == fields(template), key


def test_run_summary_and_wrote_line_follow_lang(scenario, tmp_path):
    result = run_scenario(scenario)
    share = f"{result.share_covered():.1%}"
    code, zh = cli("run", scenario, "--out", tmp_path / "zh", "--no-report", "--no-map", "--lang", "zh")
    assert code == 0, zh
    assert "步行 5 分钟覆盖" in zh and "公里/小时" in zh and "覆盖率" in zh and "全部" in zh
    assert f"已写入{tmp_path / 'zh'}" in "".join(zh.split()) and "coverage.csv" in zh  # wherever it wraps
    assert share in zh
    assert "Coverage within" not in zh and "Wrote" not in zh and "dimension" not in zh

    code, en = cli("run", scenario, "--out", tmp_path / "en", "--no-report", "--no-map", "--lang", "en")
    assert code == 0, en
    assert "Coverage within 5 min" in en and "km/h" in en and "dimension" in en and "share" in en
    assert "Wrote coverage.csv" in en and share in en
    assert "已写入" not in en and "覆盖率" not in en


def test_chinese_is_the_default(scenario, tmp_path):
    code, output = cli("run", scenario, "--out", tmp_path / "o", "--no-report", "--no-map")
    assert code == 0, output
    assert "已写入" in output and "Wrote" not in output


def test_an_unknown_lang_is_a_clear_error(scenario, tmp_path):
    code, output = cli("run", scenario, "--out", tmp_path / "o", "--lang", "fr")
    assert code == 2 and "--lang must be zh or en, not 'fr'" in output and "Traceback" not in output
    assert not (tmp_path / "o").exists()


def test_error_prefix_follows_lang_and_the_message_stays(tmp_path):
    missing = tmp_path / "missing.toml"
    code, zh = cli("run", missing, "--out", tmp_path / "o", "--lang", "zh")
    assert code == 2 and zh.startswith("错误: ") and "missing.toml" in zh
    code, en = cli("run", missing, "--out", tmp_path / "o", "--lang", "en")
    assert code == 2 and en.startswith("error: ") and "missing.toml" in en


def test_note_prefix_of_our_warnings_follows_lang(scenario, tmp_path):
    sites = pd.read_csv(scenario.parent / "sites.csv")
    sites.loc[1, "name"] = sites.loc[0, "name"]  # two sites of one name: a DuplicateNameWarning
    sites.to_csv(scenario.parent / "sites.csv", index=False)
    code, zh = cli("run", scenario, "--out", tmp_path / "zh", "-q", "--no-report", "--no-map", "--no-cache")
    assert code == 0, zh
    assert "提示: " in zh and sites.loc[0, "name"] in zh and "note: " not in zh
    code, en = cli(
        "run", scenario, "--out", tmp_path / "en", "-q", "--no-report", "--no-map", "--no-cache", "--lang", "en"
    )
    assert code == 0, en
    assert "note: " in en and "提示: " not in en


def test_add_site_and_diff_speak_the_lang(scenario, tmp_path):
    result = run_scenario(scenario)
    left = result.demand[~result.demand["covered"] & result.demand["walk_m"].notna()]
    # The nearest place left out (other tests walk from the farthest one; a new spot keeps "walked from 1" true there).
    near = left.sort_values("walk_m").iloc[0]
    assert cli("run", scenario, "--out", tmp_path / "a", "-q", "--lang", "en")[0] == 0
    code, zh = cli(
        "add-site", scenario, "--name", "试点站", "--lon", near.geometry.x, "--lat", near.geometry.y,
        "--out", tmp_path / "b", "--no-report", "--no-map", "--lang", "zh",
    )  # fmt: skip
    assert code == 0, zh
    zh = " ".join(zh.split())  # the terminal wraps long lines
    assert "已添加 试点站" in zh and "地点覆盖率" in zh and "新覆盖" in zh and "新增站点后" in zh
    newly = ScenarioDiff.from_run_dirs(tmp_path / "a", tmp_path / "b").newly_covered()
    assert (
        near["demand_id"] in set(newly["demand_id"]) and f"新覆盖 {len(newly)} 个: {newly['demand_name'].iloc[0]}" in zh
    )
    assert "Added" not in zh and "Covered places" not in zh

    code, en = cli("diff", tmp_path / "a", tmp_path / "b", "--lang", "en")
    assert code == 0, en
    assert "Coverage share: a → b" in en and "newly covered" in en and "Wrote diff_places.csv" in en
    assert "试点站" in en  # the changed places' nearest site, by name
    code, zh = cli("diff", tmp_path / "a", tmp_path / "b", "--lang", "zh", "--out", tmp_path / "d")
    assert code == 0, zh
    assert "覆盖率: a → b" in zh and "有变化的地点" in zh and "试点站" in zh and "已写入" in zh
    assert "Coverage share" not in zh


def test_check_takes_lang(scenario):
    code, output = cli("check", scenario, "--lang", "en")
    assert code == 0, output
    code, output = cli("check", scenario, "--lang", "xx")
    assert code == 2 and "--lang must be" in output


def test_propose_lines_follow_lang(tmp_path):
    toml = write_osm_scenario(tmp_path / "in", raw_file("monaco.osm.pbf"), n_sites=5, n_demand=200, threshold_min=5)
    common = ["propose", toml, "--k", "2", "--grid-spacing", "300", "--no-report", "--no-map", "--no-ledger"]
    code, zh = cli(*common, "--out", tmp_path / "zh", "--lang", "zh")
    assert code == 0, zh
    assert "精确解 (HiGHS)" in zh and "贪心解" in zh and "加权覆盖率" in zh and "个新站点" in zh
    assert "添加这些站点:coverage-planneradd-site" in "".join(zh.split())  # wherever the terminal wraps it
    assert "Exact (HiGHS)" not in zh and "Covered weight share" not in zh
    code, en = cli(*common, "--out", tmp_path / "en", "--lang", "en")
    assert code == 0, en
    assert "Exact (HiGHS)" in en and "Greedy" in en and "Covered weight share" in en and "2 new site(s)" in en
    assert "精确解" not in en
