"""Many scenarios on a Dask LocalCluster: same outputs as one process, failures isolated, reruns skipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario, write_osm_scenario

from coverage_planner import ScenarioError, run_scenario, write_outputs
from coverage_planner.batch import plan_batch, run_batch
from coverage_planner.outputs.run_folder import (
    is_one_run,
    output_request,
    recorded_request,
    write_service_tables,
)
from coverage_planner.pipeline import service_tables


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    good = [
        write_beijing_scenario(root / "beijing", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5),
        write_osm_scenario(root / "monaco", raw_file("monaco.osm.pbf")),
        write_osm_scenario(root / "liechtenstein", raw_file("liechtenstein-2013-08-03.osm.pbf")),
    ]
    with good[1].open("a", encoding="utf-8") as toml:  # a planning section: batch must run it as `run` does
        toml.write("\n[capacity]\ndefault = 3\n\n[capacity.volunteers]\ntotal = 30\n")
    bad = write_beijing_scenario(root / "broken", raw_file("beijing_haidian_cau_map.osm"))
    demand = pd.read_csv(bad.parent / "demand.csv", dtype=str)
    demand.loc[2, "lon"] = "not a number"
    demand.to_csv(bad.parent / "demand.csv", index=False)
    return good, bad


@pytest.fixture(scope="module")
def client():
    """One two-worker cluster for the whole module (starting one costs seconds)."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def first_run(scenarios, tmp_path_factory, client):
    good, bad = scenarios
    out = tmp_path_factory.mktemp("out")
    return out, run_batch([*good, bad], out, client=client)


def test_every_good_scenario_matches_a_single_process_run(scenarios, first_run, tmp_path):
    good, _ = scenarios
    out, outcomes = first_run
    assert list(outcomes["status"][:3]) == ["ok", "ok", "ok"]
    # Each worker reports its own peak memory (a Python process with the stack loaded is well over 50 MB).
    assert (outcomes["worker_peak_rss_mb"][:3] > 50).all()
    for task, scenario in zip(plan_batch(good, out), good):
        write_outputs(run_scenario(scenario), tmp_path / "single")
        for name in ("coverage.csv", "summary.csv"):
            assert (tmp_path / "single" / name).read_bytes() == (out / task.out_dir.split("/")[-1] / name).read_bytes()


def test_planning_sections_are_run_and_written_as_a_single_process_run_does(scenarios, first_run, tmp_path):
    good, _ = scenarios
    out, _ = first_run
    monaco = out / plan_batch(good, out)[1].out_dir.split("/")[-1]
    single = write_service_tables(service_tables(good[1], run_scenario(good[1])), tmp_path / "single")
    assert sorted(p.name for p in single) == ["assignment.csv", "site_loads.csv", "volunteers.csv"]
    for path in single:
        assert (monaco / path.name).read_bytes() == path.read_bytes(), path.name
    assert pd.read_csv(monaco / "volunteers.csv", encoding="utf-8-sig")["volunteers"].sum() == 30
    assert is_one_run(monaco)


def test_a_scenario_with_bad_input_fails_alone_with_its_error(first_run):
    _, outcomes = first_run
    failed = outcomes[outcomes["status"] == "failed"]
    assert len(failed) == 1
    assert "demand.csv" in failed["error"].iloc[0] and "row 4" in failed["error"].iloc[0]


def test_rerun_skips_scenarios_whose_inputs_did_not_change(scenarios, first_run, client):
    good, bad = scenarios
    out, _ = first_run
    demand = pd.read_csv(good[1].parent / "demand.csv")
    demand.iloc[:-1].to_csv(good[1].parent / "demand.csv", index=False)  # edit one scenario's input
    outcomes = run_batch([*good, bad], out, client=client)
    assert list(outcomes["status"]) == ["skipped", "ok", "skipped", "failed"]


def test_a_folder_whose_outputs_no_longer_match_its_manifest_is_run_again(scenarios, first_run, client):
    good, _ = scenarios
    out, _ = first_run
    folder = Path(plan_batch(good, out)[2].out_dir)
    summary = folder / "summary.csv"
    summary.write_bytes(summary.read_bytes() + b"\n")  # e.g. a table left from another run
    outcomes = run_batch(good, out, client=client)
    assert list(outcomes["status"]) == ["skipped", "skipped", "ok"]
    assert is_one_run(folder)


def test_a_rerun_asking_for_another_language_or_the_report_is_run_again(scenarios, first_run, client):
    good, _ = scenarios
    out, _ = first_run
    folder = Path(plan_batch(good, out)[0].out_dir)
    outcomes = run_batch(good[:1], out, client=client, lang="en")  # same inputs, English tables
    assert list(outcomes["status"]) == ["ok"] and recorded_request(folder)["lang"] == "en"
    assert list(run_batch(good[:1], out, client=client, lang="en")["status"]) == ["skipped"]
    outcomes = run_batch(good[:1], out, client=client, lang="en", report=True)
    assert list(outcomes["status"]) == ["ok"] and (folder / "report.html").is_file()
    assert recorded_request(folder) == output_request(lang="en", map=True, report=True, pdf=True, basemap="osm")
    assert list(run_batch(good[:1], out, client=client, lang="zh")["status"]) == ["ok"]
    assert recorded_request(folder)["lang"] == "zh" and not (folder / "report.html").exists() and is_one_run(folder)


def test_a_tls_scheduler_without_certificates_is_refused_before_connecting(tmp_path):
    with pytest.raises(ScenarioError, match="certificates"):
        run_batch([], tmp_path, scheduler="tls://127.0.0.1:1")


def test_output_folders_are_named_after_the_scenarios_and_never_collide(tmp_path):
    tasks = plan_batch(
        [tmp_path / "a" / "scenario.toml", tmp_path / "b" / "scenario.toml", tmp_path / "hohhot.toml"], tmp_path / "out"
    )
    names = [t.out_dir.split("/")[-1] for t in tasks]
    assert names == ["scenario", "b_scenario", "hohhot"]
