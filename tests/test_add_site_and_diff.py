"""Adding sites to a scenario (backed up, validated, incremental) and comparing runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario
from typer.testing import CliRunner

from coverage_planner import run_scenario
from coverage_planner.cli import app
from coverage_planner.diff import ScenarioDiff
from coverage_planner.places.china import wgs84_to_gcj02

runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture()
def scenario(tmp_path):
    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)
    sites = pd.read_csv(toml.parent / "sites.csv")
    sites["status"] = "real"
    sites.to_csv(toml.parent / "sites.csv", index=False)
    return toml


@pytest.fixture()
def left_out_place(scenario):
    """A real building beyond 5 minutes of every site: where a what-if site would help most."""
    result = run_scenario(scenario)
    table = result.demand[~result.demand["covered"] & result.demand["walk_m"].notna()]
    row = table.sort_values("walk_m", ascending=False).iloc[0]
    return row["demand_id"], row.geometry.x, row.geometry.y


def test_add_site_appends_keeps_a_backup_and_walks_only_from_the_new_site(scenario, left_out_place, tmp_path):
    place_id, lon, lat = left_out_place
    sites_csv = scenario.parent / "sites.csv"
    original = sites_csv.read_bytes()
    code, output = cli(
        "add-site",
        scenario,
        "--name",
        "What-if studio (test)",
        "--lon",
        lon,
        "--lat",
        lat,
        "--status",
        "proposed",
        "--out",
        tmp_path / "after",
        "-q",
    )
    assert code == 0, output
    backups = list(scenario.parent.glob("sites.csv.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    new = pd.read_csv(sites_csv)
    assert len(new) == len(pd.read_csv(backups[0])) + 1
    assert new.iloc[-1]["name"] == "What-if studio (test)" and new.iloc[-1]["status"] == "proposed"
    assert "Walked from 1 new site(s)" in output
    after = pd.read_csv(tmp_path / "after" / "coverage.csv", encoding="utf-8-sig", dtype={"demand_id": str})
    assert after.set_index("demand_id").loc[place_id, "covered"]


def test_diff_lists_the_newly_covered_place(scenario, left_out_place, tmp_path):
    place_id, lon, lat = left_out_place
    assert cli("run", scenario, "--out", tmp_path / "a", "-q")[0] == 0
    assert (
        cli(
            "add-site",
            scenario,
            "--name",
            "What-if studio (test)",
            "--lon",
            lon,
            "--lat",
            lat,
            "--status",
            "proposed",
            "--out",
            tmp_path / "b",
            "-q",
        )[0]
        == 0
    )
    code, output = cli("diff", tmp_path / "a", tmp_path / "b")
    assert code == 0, output and "newly covered" in output
    diff = ScenarioDiff.from_run_dirs(tmp_path / "a", tmp_path / "b")
    assert place_id in set(diff.newly_covered()["demand_id"])
    assert diff.no_longer_covered().empty
    overall = diff.summary[diff.summary["dimension"] == "all"].iloc[0]
    assert overall["covered_after"] - overall["covered_before"] == len(diff.newly_covered())
    # The comparison goes beside the runs, never into a run folder (which stays one run's).
    target = tmp_path / "diff_a_b"
    assert (target / "diff_places.csv").is_file() and (target / "diff_summary.csv").is_file()
    assert not (tmp_path / "b" / "diff_places.csv").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "北京京城皮肤病医院", "--lon", "116.35", "--lat", "40.0"], "already exists"),
        (["--id", "n1734208818", "--name", "new", "--lon", "116.35", "--lat", "40.0"], "already exists"),
        (["--name", "far away", "--lon", "111.67", "--lat", "40.82"], "outside the walking network"),
        (["--name", "no lat", "--lon", "116.35"], "--lat"),
    ],
)
def test_bad_new_site_leaves_the_sites_file_untouched(scenario, args, message):
    sites_csv = scenario.parent / "sites.csv"
    original = sites_csv.read_bytes()
    code, output = cli("add-site", scenario, *args)
    assert code == 2 and message in output and "Traceback" not in output
    assert sites_csv.read_bytes() == original
    assert not list(scenario.parent.glob("sites.csv.bak-*"))


def test_gcj02_coordinates_are_stored_as_wgs84_when_the_file_has_no_crs_column(scenario, left_out_place):
    _, lon, lat = left_out_place
    glon, glat = wgs84_to_gcj02(lon, lat)
    code, output = cli(
        "add-site",
        scenario,
        "--name",
        "picked on Gaode (test)",
        "--lon",
        glon,
        "--lat",
        glat,
        "--crs",
        "gcj02",
        "--status",
        "proposed",
        "-q",
    )
    assert code == 0, output
    row = pd.read_csv(scenario.parent / "sites.csv").iloc[-1]
    assert abs(row["lon"] - lon) * 85_000 < 1.0 and abs(row["lat"] - lat) * 111_000 < 1.0


def test_sites_from_a_proposals_file_with_chinese_headers_are_all_added(scenario, left_out_place, tmp_path):
    _, lon, lat = left_out_place
    proposals = tmp_path / "proposed_sites.csv"
    pd.DataFrame(
        {
            "名称": ["拟建 A (test)", "拟建 B (test)"],
            "经度": [lon, lon + 0.001],
            "纬度": [lat, lat],
            "状态": ["proposed"] * 2,
        }
    ).to_csv(proposals, index=False, encoding="utf-8-sig")
    code, output = cli("add-site", scenario, "--from", proposals, "-q")
    assert code == 0, output
    names = pd.read_csv(scenario.parent / "sites.csv")["name"].tolist()
    assert names[-2:] == ["拟建 A (test)", "拟建 B (test)"]


def test_a_site_is_added_to_an_xlsx_sites_file(scenario, left_out_place):
    _, lon, lat = left_out_place
    xlsx = scenario.parent / "sites.xlsx"
    pd.read_csv(scenario.parent / "sites.csv").to_excel(xlsx, index=False)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace('"sites.csv"', '"sites.xlsx"'), encoding="utf-8")
    code, output = cli(
        "add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "--status", "proposed", "-q"
    )
    assert code == 0, output
    sheet = pd.read_excel(xlsx)
    assert (
        sheet.iloc[-1]["name"] == "What-if (test)" and len(sheet) == len(pd.read_csv(scenario.parent / "sites.csv")) + 1
    )


def test_identical_runs_differ_in_nothing(scenario, tmp_path):
    result = run_scenario(scenario)
    diff = ScenarioDiff.from_results(result, result)
    assert set(diff.places["change"]) == {"unchanged"}
    assert np.allclose(diff.summary["share_change"], 0)


def test_diff_of_a_folder_without_outputs_is_a_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code, output = cli("diff", tmp_path / "a", tmp_path / "b")
    assert code == 2 and "coverage.csv" in output
