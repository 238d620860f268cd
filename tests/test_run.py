"""`coverage-planner run` end to end on a real extract: outputs, determinism, bad input."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario
from reference import networkx_walk_distances
from typer.testing import CliRunner

from coverage_planner import Scenario, compute_coverage, read_places, run_scenario
from coverage_planner.cli import app
from coverage_planner.outputs.tables import GPKG_LAYERS

runner = CliRunner()
OUTPUTS = {"coverage.csv", "summary.csv", "coverage.gpkg", "manifest.json"}


@pytest.fixture()
def scenario(tmp_path):
    return write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)


def run_cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_run_writes_the_four_outputs_with_the_agreed_columns(scenario, tmp_path):
    code, output = run_cli("run", scenario, "--out", tmp_path / "out", "--quiet")
    assert code == 0, output
    out = tmp_path / "out"
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    table = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    assert {"demand_id", "demand_name", "nearest_site_id", "walk_m", "walk_min", "covered"} <= set(table.columns)
    assert len(table) == len(pd.read_csv(scenario.parent / "demand.csv"))
    assert set(pyogrio.list_layers(out / "coverage.gpkg")[:, 0]) == set(GPKG_LAYERS)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["network"]["sha256"] and manifest["inputs"]["demand"]["sha256"]
    assert manifest["parameters"]["threshold_min"] == 5


def test_walk_times_and_nearest_sites_match_networkx(scenario, beijing):
    result = run_scenario(scenario)
    ref = networkx_walk_distances(beijing, _snap(beijing, result.sites), _snap(beijing, result.demand))
    best = ref.min(axis=0)
    limit = result.matrix.cutoff_m
    ours = result.demand["walk_m"].to_numpy(float)
    within = best <= limit
    assert np.array_equal(np.isfinite(ours), within)
    assert np.max(np.abs(ours[within] - best[within])) < 1.0
    assert np.array_equal(result.demand["covered"].to_numpy(bool), best <= result.threshold_m)


def _snap(network, frame):
    from coverage_planner import snap_points

    return snap_points(network, np.column_stack([frame.geometry.x, frame.geometry.y]))


def test_uncovered_places_have_no_walk_time_when_nothing_is_in_reach(scenario, tmp_path):
    code, _ = run_cli("run", scenario, "--out", tmp_path / "out", "--quiet")
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "coverage.csv", encoding="utf-8-sig")
    unreachable = table[table["walk_m"].isna()]
    assert len(unreachable) > 0
    assert not unreachable["covered"].any()
    assert unreachable["nearest_site_id"].isna().all()


def test_same_inputs_give_byte_identical_outputs(scenario, tmp_path):
    for name in ("a", "b"):
        code, output = run_cli("run", scenario, "--out", tmp_path / name, "--quiet")
        assert code == 0, output
    for name in ("coverage.csv", "summary.csv", "manifest.json", "tables.xlsx", "report.md", "report.html", "map.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_summary_shares_match_the_table(scenario):
    result = run_scenario(scenario)
    summary = result.summary()
    overall = summary[summary["dimension"] == "all"].iloc[0]
    assert overall["places"] == len(result.demand)
    assert overall["share"] == pytest.approx(result.demand["covered"].mean())
    by_type = summary[summary["dimension"] == "type"]
    assert by_type["places"].sum() == len(result.demand)


def test_bad_demand_row_is_named_and_nothing_is_written(scenario, tmp_path):
    demand = pd.read_csv(scenario.parent / "demand.csv", dtype=str)
    demand.loc[3, "lat"] = "forty"
    demand.to_csv(scenario.parent / "demand.csv", index=False)
    out = tmp_path / "out"
    code, output = run_cli("run", scenario, "--out", out)
    assert code == 2
    assert "demand.csv" in output and "row 5" in output and "lat" in output
    assert "Traceback" not in output
    assert not out.exists() or not any(out.iterdir())


def test_place_outside_the_network_area_is_named(scenario, tmp_path):
    sites = pd.read_csv(scenario.parent / "sites.csv")
    sites.loc[0, ["lon", "lat"]] = [111.67, 40.82]  # Hohhot: far outside the Beijing extract
    sites.to_csv(scenario.parent / "sites.csv", index=False)
    code, output = run_cli("run", scenario, "--out", tmp_path / "out")
    assert code == 2 and "sites.csv" in output and "row 2" in output


def test_swapped_lon_lat_is_detected(scenario, tmp_path):
    demand = pd.read_csv(scenario.parent / "demand.csv")
    demand.loc[0, ["lon", "lat"]] = demand.loc[0, ["lat", "lon"]].to_numpy()
    demand.to_csv(scenario.parent / "demand.csv", index=False)
    code, output = run_cli("run", scenario, "--out", tmp_path / "out")
    assert code == 2 and "swapped" in output and "row 2" in output


def test_malformed_toml_names_the_file_and_line(scenario, tmp_path):
    scenario.write_text('name = "x"\n[network\npath = "a"\n', encoding="utf-8")
    code, output = run_cli("run", scenario, "--out", tmp_path / "out")
    assert code == 2 and "scenario.toml" in output and "line 2" in output


def test_missing_network_file_is_named(scenario, tmp_path):
    text = scenario.read_text(encoding="utf-8").replace("beijing_haidian_cau_map.osm", "missing.osm")
    scenario.write_text(text, encoding="utf-8")
    code, output = run_cli("run", scenario, "--out", tmp_path / "out")
    assert code == 2 and "missing.osm" in output and "network.path" in output


def test_unknown_scenario_key_is_named(scenario, tmp_path):
    scenario.write_text(scenario.read_text(encoding="utf-8") + "treshold = 3\n", encoding="utf-8")
    code, output = run_cli("run", scenario, "--out", tmp_path / "out")
    assert code == 2 and "walk.treshold" in output


def test_interrupted_write_leaves_previous_outputs_untouched(scenario, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("run", scenario, "--out", out, "--quiet")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def fail(*args, **kwargs):
        raise KeyboardInterrupt("simulated interruption while writing the GeoPackage")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", fail)
    with pytest.raises(KeyboardInterrupt):
        from coverage_planner import write_outputs

        write_outputs(run_scenario(scenario), out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # no staging folder left, no file replaced


def test_notebook_api_gives_the_same_result_as_the_cli(scenario, beijing, tmp_path):
    sites = read_places(scenario.parent / "sites.csv", "sites")
    demand = read_places(scenario.parent / "demand.csv", "demand")
    api = compute_coverage(beijing, sites, demand, threshold_min=5)
    assert run_cli("run", scenario, "--out", tmp_path / "out", "--quiet")[0] == 0
    cli = pd.read_csv(tmp_path / "out" / "coverage.csv", encoding="utf-8-sig")
    assert api.table()["walk_m"].equals(cli["walk_m"])
    assert list(api.table()["covered"]) == list(cli["covered"])


def test_place_beyond_the_snap_limit_is_flagged_off_network_and_never_covered(scenario, tmp_path):
    demand = pd.read_csv(scenario.parent / "demand.csv")
    # About 400 m east of the extract's easternmost street: inside the area check's margin, beyond 250 m.
    demand.loc[0, ["lon", "lat"]] = [116.3658 + 0.0047, 40.005]
    demand.to_csv(scenario.parent / "demand.csv", index=False)
    assert run_cli("run", scenario, "--out", tmp_path / "out", "-q", "--no-report")[0] == 0
    table = pd.read_csv(tmp_path / "out" / "coverage.csv", encoding="utf-8-sig")
    row = table.iloc[0]
    assert bool(row["off_network"]) and not bool(row["covered"]) and row["snap_m"] > 250
    assert table["off_network"].sum() == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["results"]["off_network_places"] == 1


def test_network_qa_layer_reports_components_and_length_share(scenario, tmp_path):
    assert run_cli("run", scenario, "--out", tmp_path / "out", "-q", "--no-report")[0] == 0
    qa = gpd.read_file(tmp_path / "out" / "coverage.gpkg", layer="network_qa")
    assert qa["length_share"].sum() == pytest.approx(1.0)
    assert qa["length_share"].iloc[0] == qa["length_share"].max()
    assert qa["demand_snapped"].sum() == len(pd.read_csv(scenario.parent / "demand.csv"))
    assert {"demand_median_snap_m", "demand_max_snap_m"} <= set(qa.columns)


def test_a_scenarios_walking_costs_and_drive_profile_reach_the_computation(tmp_path):
    from real_places import write_osm_scenario

    monaco = raw_file("monaco.osm.pbf")
    toml = write_osm_scenario(tmp_path / "in", monaco, n_sites=5, n_demand=200, threshold_min=6)
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("[walk]\n", '[walk]\nprofile = "elderly"\n') + "\n[walk.costs]\nsteps_factor = 5.0\n",
        encoding="utf-8",
    )
    costly = run_scenario(toml, progress=False)  # 6 min at the elderly pace
    assert costly.walk_profile.costs.steps_factor == 5.0 and costly.profile_name == "elderly"
    plain_toml = toml.with_name("plain.toml")
    plain_toml.write_text(text.replace("[walk]\n", '[walk]\nprofile = "elderly"\n'), encoding="utf-8")
    plain = run_scenario(plain_toml, progress=False)
    assert plain.walk_profile.costs.steps_factor != 5.0
    # Steps costing more can only make walks longer in time, never shorter.
    assert (costly.demand["walk_min"].fillna(1e9) >= plain.demand["walk_min"].fillna(1e9) - 1e-9).all()
    assert (costly.demand["walk_min"] > plain.demand["walk_min"] + 1e-9).any()
    drive = run_scenario(Scenario.from_toml(toml).with_walk(profile="drive"), progress=False)
    assert drive.profile_name == "drive" and drive.walk_profile.mode == "drive"
