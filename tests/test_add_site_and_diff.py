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
        "--lang",
        "en",
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
    code, output = cli("diff", tmp_path / "a", tmp_path / "b", "--lang", "en")
    assert code == 0, output
    assert "newly covered" in output
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


# ---------------------------------------------------------------- add-site: every edit verified, never silently wrong


def _use_sites_file(scenario, name, extra=""):
    text = scenario.read_text(encoding="utf-8").replace('path = "sites.csv"', f'path = "{name}"{extra}')
    scenario.write_text(text, encoding="utf-8")


def _excel_saved_ledger(path, sites):
    """Sites as Excel saves them when coordinates are formulas: each formula with its value (xlsxwriter does so)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("站点")
    for j, head in enumerate(sites.columns):
        ws.write(0, j, head)
    for i, row in enumerate(sites.itertuples(index=False), 1):
        for j, (head, value) in enumerate(zip(sites.columns, row)):
            if head in ("lon", "lat"):
                ws.write_formula(i, j, f"=ROUND({value},7)", None, round(value, 7))
            else:
                ws.write(i, j, value)
    book.close()


def test_add_site_refuses_an_excel_ledger_with_formulas_and_leaves_it_untouched(scenario, left_out_place):
    _, lon, lat = left_out_place
    xlsx = scenario.parent / "sites.xlsx"
    _excel_saved_ledger(xlsx, pd.read_csv(scenario.parent / "sites.csv"))
    _use_sites_file(scenario, "sites.xlsx")
    assert len(run_scenario(scenario).sites) == len(pd.read_csv(scenario.parent / "sites.csv"))  # it reads
    original = xlsx.read_bytes()
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 2 and "formula" in output and "Paste Special" in output and "Traceback" not in output
    assert xlsx.read_bytes() == original and not list(scenario.parent.glob("sites.xlsx.bak-*"))


def test_an_edit_that_breaks_the_ledger_is_undone_from_the_backup(scenario, left_out_place, monkeypatch):
    """The issue's case: re-saving through openpyxl drops Excel's saved formula values; the re-read catches it."""
    from coverage_planner.places import sites_file

    _, lon, lat = left_out_place
    xlsx = scenario.parent / "sites.xlsx"
    _excel_saved_ledger(xlsx, pd.read_csv(scenario.parent / "sites.csv"))
    _use_sites_file(scenario, "sites.xlsx")
    original = xlsx.read_bytes()
    monkeypatch.setattr(sites_file, "_check_workbook_editable", lambda path, title: None)  # let the edit happen
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 2 and "holds formulas with no saved values" in output and "the edit was undone" in output
    assert xlsx.read_bytes() == original  # restored
    (backup,) = scenario.parent.glob("sites.xlsx.bak-*")
    assert backup.read_bytes() == original and backup.name in output


def test_an_edit_that_changes_an_old_row_is_undone_and_says_which(scenario, left_out_place, monkeypatch):
    from coverage_planner.places import sites_file

    _, lon, lat = left_out_place
    sites_csv = scenario.parent / "sites.csv"
    original = sites_csv.read_bytes()
    honest = sites_file._append_csv
    old_name = pd.read_csv(sites_csv)["name"].iloc[2]

    def faulty(path, cells, encoding):  # appends, and garbles an old name on the way (as a bad re-encoding would)
        honest(path, cells, encoding)
        path.write_bytes(path.read_bytes().replace(old_name.encode(), b"???", 1))

    monkeypatch.setattr(sites_file, "_append_csv", faulty)
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 2 and f"row 4 reads name = '???', not {old_name!r}" in output and "restored" in output
    assert sites_csv.read_bytes() == original


def test_add_site_never_writes_to_a_hidden_sheet(scenario, left_out_place):
    import openpyxl

    _, lon, lat = left_out_place
    xlsx = scenario.parent / "sites.xlsx"
    sites = pd.read_csv(scenario.parent / "sites.csv")
    with pd.ExcelWriter(xlsx) as writer:
        sites.to_excel(writer, sheet_name="说明", index=False)
        sites.to_excel(writer, sheet_name="站点", index=False)
    book = openpyxl.load_workbook(xlsx)
    book["站点"].sheet_state = "hidden"
    book.save(xlsx)
    _use_sites_file(scenario, "sites.xlsx", '\nsheet = "站点"')
    original = xlsx.read_bytes()
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 2 and "hidden" in output and xlsx.read_bytes() == original


def test_add_site_appends_to_the_declared_sheet_only(scenario, left_out_place):
    _, lon, lat = left_out_place
    xlsx = scenario.parent / "sites.xlsx"
    sites = pd.read_csv(scenario.parent / "sites.csv")
    with pd.ExcelWriter(xlsx) as writer:
        sites.head(3).to_excel(writer, sheet_name="旧", index=False)
        sites.to_excel(writer, sheet_name="站点", index=False)
    _use_sites_file(scenario, "sites.xlsx", '\nsheet = "站点"')
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 0, output
    assert len(pd.read_excel(xlsx, sheet_name="旧")) == 3
    target = pd.read_excel(xlsx, sheet_name="站点")
    assert len(target) == len(sites) + 1 and target["name"].iloc[-1] == "What-if (test)"


def test_formula_like_names_are_added_as_text_to_csv_and_xlsx(scenario, left_out_place):
    import openpyxl

    from coverage_planner import read_places

    _, lon, lat = left_out_place
    name = '=HYPERLINK("http://example.invalid","站点")'
    sites_csv = scenario.parent / "sites.csv"
    code, output = cli("add-site", scenario, "--name", name, "--lon", lon, "--lat", lat, "-q")
    assert code == 0, output
    assert "'=HYPERLINK" in sites_csv.read_text(encoding="utf-8")  # inert in a spreadsheet
    assert read_places(sites_csv, "sites")["name"].iloc[-1] == name  # and read back as it was given

    xlsx = scenario.parent / "sites.xlsx"
    pd.read_csv(sites_csv).iloc[:-1].to_excel(xlsx, index=False)
    _use_sites_file(scenario, "sites.xlsx")
    code, output = cli("add-site", scenario, "--name", name, "--lon", lon, "--lat", lat + 1e-4, "-q")
    assert code == 0, output
    sheet = openpyxl.load_workbook(xlsx).active
    cell = next(c for c in sheet[sheet.max_row] if c.value == name)
    assert cell.data_type == "s"  # text, not a live formula


def test_add_site_keeps_a_gbk_sites_file_gbk_byte_for_byte(scenario, left_out_place):
    from coverage_planner import read_places

    _, lon, lat = left_out_place
    sites_csv = scenario.parent / "sites.csv"
    sites = pd.read_csv(sites_csv)
    sites_csv.write_bytes(sites.to_csv(index=False).encode("gbk"))
    original = sites_csv.read_bytes()
    code, output = cli("add-site", scenario, "--name", "海淀法律服务站（试）", "--lon", lon, "--lat", lat, "-q")
    assert code == 0, output
    data = sites_csv.read_bytes()
    assert data.startswith(original) and "海淀法律服务站（试）".encode("gbk") in data[len(original) :]
    assert read_places(sites_csv, "sites")["name"].tolist() == [*sites["name"], "海淀法律服务站（试）"]


def test_leftovers_of_an_interrupted_edit_are_removed(scenario, left_out_place):
    from coverage_planner._io import atomic_path

    _, lon, lat = left_out_place
    sites_csv = scenario.parent / "sites.csv"
    # A writer killed before its rename: the context is entered, the temporary file written, never finished.
    interrupted = atomic_path(sites_csv)
    part = interrupted.__enter__()
    part.write_bytes(sites_csv.read_bytes()[:50])
    assert part.exists() and part.parent == sites_csv.parent
    code, output = cli("add-site", scenario, "--name", "What-if (test)", "--lon", lon, "--lat", lat, "-q")
    assert code == 0, output
    assert not part.exists() and part.name in output  # removed, and said so
    assert not list(scenario.parent.glob(".sites.csv.*"))


# ---------------------------------------------------------------- diff: places and their nearest sites by name


def test_diff_places_carry_the_nearest_site_names_and_the_terminal_shows_them(scenario, left_out_place, tmp_path):
    place_id, lon, lat = left_out_place
    hostile = "[b]站[/b]"  # rich markup in a name must print as it is
    assert cli("run", scenario, "--out", tmp_path / "a", "-q")[0] == 0
    code, output = cli(
        "add-site", scenario, "--name", hostile, "--lon", lon, "--lat", lat, "--out", tmp_path / "b", "-q"
    )
    assert code == 0, output
    code, output = cli("diff", tmp_path / "a", tmp_path / "b", "--lang", "en")
    assert code == 0, output
    assert hostile in output  # the changed places' new nearest site, by name, literally
    places = pd.read_csv(tmp_path / "diff_a_b" / "diff_places.csv", encoding="utf-8-sig", dtype=str)
    sites = pd.read_csv(scenario.parent / "sites.csv", dtype=str)  # after the edit: old sites and the new one
    name_of = dict(zip(sites["id"], sites["name"]))
    new_id = sites["id"].iloc[-1]
    assert name_of[new_id] == hostile
    for side in ("before", "after"):
        ids, names = places[f"nearest_site_id_{side}"], places[f"nearest_site_name_{side}"]
        assert ids.notna().sum() > 0 and (ids.isna() == names.isna()).all()
        assert [name_of[i] for i in ids.dropna()] == names.dropna().tolist()
    assert new_id not in set(places["nearest_site_id_before"].dropna())
    row = places.set_index("demand_id").loc[place_id]
    assert row["nearest_site_id_after"] == new_id and row["nearest_site_name_after"] == hostile


def test_diff_of_an_older_coverage_table_without_site_names_still_works(scenario, tmp_path):
    assert cli("run", scenario, "--out", tmp_path / "a", "-q")[0] == 0
    assert cli("run", scenario, "--out", tmp_path / "b", "-q")[0] == 0
    table = pd.read_csv(tmp_path / "a" / "coverage.csv", encoding="utf-8-sig")
    table.drop(columns="nearest_site_name").to_csv(tmp_path / "a" / "coverage.csv", index=False, encoding="utf-8-sig")
    diff = ScenarioDiff.from_run_dirs(tmp_path / "a", tmp_path / "b")
    assert diff.places["nearest_site_name_before"].isna().all()
    assert diff.places["nearest_site_name_after"].notna().sum() == diff.places["nearest_site_id_after"].notna().sum()
    assert set(diff.places["change"]) == {"unchanged"}
