"""A run folder is one unit: every file in it comes from the same run, listed with its hash in the manifest."""

from __future__ import annotations

import json

import pytest
from conftest import raw_file
from real_places import write_beijing_scenario
from typer.testing import CliRunner

from coverage_planner._cache.keys import file_sha256
from coverage_planner.cli import app
from coverage_planner.outputs import run_folder
from coverage_planner.outputs.run_folder import is_one_run, recorded_outputs, write_run
from coverage_planner.pipeline import run_scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )


@pytest.fixture(scope="module")
def result(scenario):
    return run_scenario(scenario, progress=False)


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_the_manifest_lists_every_output_with_its_sha256(result, tmp_path):
    written = write_run(result, tmp_path / "out", lang="en", basemap="none")
    outputs = manifest(tmp_path / "out")["outputs"]
    files = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert set(outputs) == files - {"manifest.json"}
    assert all(file_sha256(tmp_path / "out" / name) == digest for name, digest in outputs.items())
    assert written[-1].name == "manifest.json" and {"map.html", "report.html", "coverage.csv"} <= set(outputs)


def test_a_run_without_report_removes_the_earlier_report_and_keeps_other_files(scenario, tmp_path):
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(scenario), "--out", str(out), "-q", "--basemap", "none"]).exit_code == 0
    (out / "my_notes.txt").write_text("a planner's own file", encoding="utf-8")
    assert (out / "report.html").is_file()
    again = ["run", str(scenario), "--out", str(out), "-q", "--no-report", "--no-map", "--no-ledger"]
    assert runner.invoke(app, again).exit_code == 0
    assert not (out / "report.html").exists() and not (out / "map.html").exists()
    assert not list(out.glob("chart_*.png")) and not (out / "ledger_written_back.csv").exists()
    assert (out / "my_notes.txt").read_text(encoding="utf-8") == "a planner's own file"
    assert set(recorded_outputs(out)) == {"coverage.csv", "summary.csv", "coverage.gpkg"}
    assert is_one_run(out)


def test_a_proposal_folder_is_one_unit_with_a_run_before_and_after_it(result, tmp_path):
    """run → propose → run into one folder: each time only that command's files, all listed with their hashes."""
    import coverage_planner as cp

    out = tmp_path / "out"
    write_run(result, out, map=False, lang="en")
    (out / "my_notes.txt").write_text("a planner's own file", encoding="utf-8")
    pool = cp.build_candidates(result, grid_spacing=300)
    proposal = cp.propose_sites(result, pool, method="mclp", k=2)
    written = proposal.write(out, map=False, lang="en", pdf=False)
    assert written[-1].name == "manifest.json"
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert {"proposed_sites.csv", "proposal.json", "report.html"} <= files
    assert not files & {"coverage.csv", "summary.csv", "coverage.gpkg"}  # the earlier run's tables went
    assert set(recorded_outputs(out)) == files - {"manifest.json", "my_notes.txt"} and is_one_run(out)
    after = int(proposal.after.demand["covered"].sum())  # the manifest describes coverage with the proposed sites
    assert manifest(out)["results"]["covered_places"] == after > int(result.demand["covered"].sum())

    with (out / "proposed_sites.csv").open("a", encoding="utf-8") as edited:  # the planner edits it, for add-site
        edited.write("my-site,我的站点,116.35,40.0\n")
    write_run(result, out, map=False, report=False)
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert "proposal.json" not in files and "report.html" not in files  # stale outputs of the proposal went
    assert {"proposed_sites.csv", "my_notes.txt"} <= files  # an edited output and the planner's file stay
    assert set(recorded_outputs(out)) == {"coverage.csv", "summary.csv", "coverage.gpkg"} and is_one_run(out)


def test_a_result_with_sites_added_in_memory_writes_its_own_counts(result, tmp_path):
    """with_sites carries the earlier run's manifest; written, the manifest counts the coverage written."""
    import coverage_planner as cp

    pool = cp.build_candidates(result, grid_spacing=300)
    chosen = cp.propose_sites(result, pool, method="mclp", k=3).sites
    more = cp.with_sites(result, chosen[["id", "name", "geometry"]].assign(status="placeholder"))
    write_run(more, tmp_path / "more", map=False, report=False)
    written = manifest(tmp_path / "more")
    assert (
        written["results"]["covered_places"] == int(more.demand["covered"].sum()) > int(result.demand["covered"].sum())
    )
    assert written["placeholders"]["sites"] == int((more.sites["status"] == "placeholder").sum()) >= 3
    assert written["inputs"] == result.manifest["inputs"]  # the inputs are still the earlier run's files


def test_an_interrupted_run_leaves_the_earlier_run_whole(result, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_run(result, out, map=False, lang="en")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("coverage_planner.outputs.report.write_report", broken)
    with pytest.raises(KeyboardInterrupt):
        write_run(result, out, map=False, lang="en")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert is_one_run(out)


def test_a_changed_output_makes_the_folder_not_one_run(result, tmp_path):
    out = tmp_path / "out"
    write_run(result, out, map=False, report=False)
    assert is_one_run(out)
    (out / "coverage.csv").write_text("demand_id\n", encoding="utf-8")
    assert not is_one_run(out)


def test_leftover_staging_and_partial_files_are_cleaned_up(result, tmp_path):
    out = tmp_path / "out"
    (out / ".staging-abc123").mkdir(parents=True)
    (out / ".staging-abc123" / "coverage.csv").write_text("half", encoding="utf-8")
    (out / ".coverage.csv.x1y2.part.csv").write_text("half", encoding="utf-8")
    write_run(result, out, map=False, report=False)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert run_folder.remove_leftovers(out) == []


def test_the_same_inputs_give_the_same_manifest_bytes(result, tmp_path):
    write_run(result, tmp_path / "a", map=False, report=False)
    write_run(result, tmp_path / "b", map=False, report=False)
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_the_manifest_is_the_same_whichever_folder_the_run_starts_from(scenario, tmp_path, monkeypatch):
    args = ["run", str(scenario), "-q", "--no-report", "--no-map"]
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "a")]).exit_code == 0
    monkeypatch.chdir(scenario.parent)
    assert runner.invoke(app, [*args[:1], "scenario.toml", *args[2:], "--out", str(tmp_path / "b")]).exit_code == 0
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    assert manifest(tmp_path / "a")["inputs"]["demand"]["path"] == "demand.csv"
