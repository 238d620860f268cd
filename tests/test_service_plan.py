"""Service planning from a scenario file, the pipeline and the CLI (issue 15), on real Monaco features.

The planning API itself (plan/capacity.py, accessibility.py, circuits.py) is
tested in test_capacity.py, test_accessibility.py and test_circuits.py; here
the question is whether the scenario keys, `plan_scenario`, the run folder
and the commands carry it through unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from real_places import osm_place_frames
from typer.testing import CliRunner

import coverage_planner as cp
from coverage_planner.cli import app
from coverage_planner.config import Scenario
from coverage_planner.outputs.run_folder import SERVICE_FILES, is_one_run
from coverage_planner.pipeline import plan_scenario, run_scenario
from coverage_planner.plan.service import priority_weights_of

runner = CliRunner()

SECTIONS = """
[capacity]
column = "容量"
default = 2
load = "重点服务对象"

[capacity.volunteers]
total = 40

[accessibility]
method = "gaussian"

[equity]
group = "社区类别"
weights = { "全部" = "weight", "独居" = "living_alone" }

[plan.priority]
"强基型" = 2.0

[circuits]
budget_min = 120
stay_min = 10

[clinics]
venues = "venues.csv"
k = 2
"""


def _write(folder: Path, osm: Path, sites: pd.DataFrame, demand: pd.DataFrame, sections: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sites.to_csv(folder / "sites.csv", index=False)
    demand.to_csv(folder / "demand.csv", index=False)
    toml = folder / "scenario.toml"
    toml.write_text(
        f'name = "Monaco service"\n\n[network]\npath = "{osm.as_posix()}"\ncache_dir = "../cache"\n\n'
        '[sites]\npath = "sites.csv"\n\n[demand]\npath = "demand.csv"\n\n'
        f"[walk]\nthreshold_min = 6\n{sections}",
        encoding="utf-8",
    )
    return toml


@pytest.fixture(scope="module")
def frames():
    from conftest import raw_file

    osm = raw_file("monaco.osm.pbf")
    sites, demand = osm_place_frames(osm, n_sites=14, n_demand=90)
    venues, _ = osm_place_frames(osm, n_sites=40, n_demand=1, seed=7)
    venues = venues[~venues["id"].isin(sites["id"])].head(15).reset_index(drop=True)
    sites = sites.assign(容量=[(i % 3) + 1 if i % 5 else "" for i in range(len(sites))])
    n = len(demand)
    demand = demand.assign(
        重点服务对象=np.arange(n) % 4,
        社区类别=np.where(np.arange(n) % 3 == 0, "强基型", "发展型"),
        living_alone=np.arange(n) % 2,
    )
    return osm, sites, demand, venues


@pytest.fixture(scope="module")
def scenario(frames, tmp_path_factory):
    osm, sites, demand, venues = frames
    folder = tmp_path_factory.mktemp("service") / "scenario"
    toml = _write(folder, osm, sites, demand, SECTIONS)
    venues.to_csv(folder / "venues.csv", index=False)
    return toml


@pytest.fixture(scope="module")
def planned(scenario):
    result, plan = plan_scenario(scenario, progress=False)
    covered = result.demand["covered"].to_numpy(bool)
    assert 0 < covered.sum() < len(covered), "the fixture needs places both inside and outside the threshold"
    return result, plan


# ------------------------------------------------------------------ scenario keys
def test_the_planning_sections_are_read_into_options_with_columns_by_their_field_names(scenario):
    s = Scenario.from_toml(scenario)
    assert s.capacity.column == "capacity" and s.capacity.load == "key_targets"  # 容量, 重点服务对象
    assert s.capacity.default == 2.0 and s.capacity.method == "max_coverage"
    assert s.capacity.volunteers.total == 40 and s.capacity.volunteers.minimum == 1
    assert s.accessibility.method == "gaussian" and s.accessibility.supply == "capacity"
    assert s.equity.group == "community_class"
    assert s.equity.weights == (("全部", "weight"), ("独居", "living_alone"))
    assert s.priority.factors == (("强基型", 2.0),) and s.priority.column == "community_class"
    assert s.circuits.budget_min == 120 and s.circuits.places is None and s.circuits.sessions == ("08:30", "14:00")
    assert s.clinics.k == 2 and s.clinics.venues == (scenario.parent / "venues.csv").resolve()
    # A column no place field names is read along; fields are read anyway.
    assert s.demand.keep_columns == ("living_alone",) and s.sites.keep_columns == ()


def test_a_scenario_without_planning_sections_has_none(scenario):
    text = scenario.read_text(encoding="utf-8").split("[capacity]")[0]
    path = scenario.with_name("plain.toml")
    path.write_text(text, encoding="utf-8")
    s = Scenario.from_toml(path)
    assert (s.capacity, s.accessibility, s.equity, s.priority, s.circuits, s.clinics) == (None,) * 6


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("[capacity]\ncolour = 1", "capacity.colour"),
        ('[capacity]\nmethod = "fastest"', "capacity.method"),
        ("[capacity]\ndefault = -1", "capacity.default"),
        ("[capacity.volunteers]\ntotal = 1.5", "capacity.volunteers.total"),
        ("[capacity.volunteers]\nleaders = 3", "capacity.volunteers.leaders"),
        ('[accessibility]\nmethod = "3sfca"', "accessibility.method"),
        ("[accessibility]\ncatchment_min = 0", "accessibility.catchment_min"),
        ("[equity]\nweights = 3", "equity.weights"),
        ("[plan]\nweights = 3", "plan.weights"),
        ('[plan.priority]\n"强基型" = "two"', "plan.priority.强基型"),
        ("[circuits]\nbudget_min = 10\nstay_min = 20", "circuits.budget_min"),
        ('[circuits]\nsessions = ["8h"]', "circuits.sessions"),
        ('[circuits]\nprofile = "rocket"', "circuits.profile"),
        ('[circuits]\nplaces = "some"', "circuits.places"),
        ('[clinics]\nvenues = "venues.csv"', "clinics.k"),
        ('[clinics]\nvenues = "no_such_file.csv"\nk = 2', "clinics.venues"),
        ('[clinics]\nvenues = "amenity="\nk = 2', "clinics.venues"),
        ('[clinics]\nvenues = "venues.csv"\nk = 0', "clinics.k"),
    ],
)
def test_a_bad_planning_key_is_refused_naming_file_and_key(scenario, snippet, key):
    text = scenario.read_text(encoding="utf-8").split("[capacity]")[0] + snippet + "\n"
    path = scenario.with_name("bad.toml")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(cp.ScenarioError) as info:
        Scenario.from_toml(path)
    assert f"key '{key}'" in str(info.value) and str(path) in str(info.value)


def test_a_priority_table_without_factors_is_refused(scenario):
    path = scenario.with_name("bad.toml")
    path.write_text(
        scenario.read_text(encoding="utf-8").split("[capacity]")[0] + '[plan.priority]\ncolumn = "社区类别"\n',
        encoding="utf-8",
    )
    with pytest.raises(cp.ScenarioError, match=r"\[plan.priority\] gives no factor"):
        Scenario.from_toml(path)


# ------------------------------------------------------------------ the capacity column
def test_capacity_is_a_place_field_read_as_a_number(frames, tmp_path):
    _, sites, _, _ = frames
    path = tmp_path / "sites.csv"
    sites.to_csv(path, index=False)
    read = cp.read_places(path, "sites")
    expected = pd.to_numeric(sites["容量"].replace("", np.nan)).to_numpy(float)
    np.testing.assert_array_equal(read["capacity"].to_numpy(float), expected)
    assert "容量" not in read.columns


def test_a_capacity_cell_that_is_no_number_is_an_input_error_naming_file_row_and_field(frames, tmp_path):
    _, sites, _, _ = frames
    bad = sites.copy()
    bad.loc[2, "容量"] = "abc"
    path = tmp_path / "sites.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(cp.InputErrors) as info:
        cp.read_places(path, "sites")
    (error,) = info.value.errors
    assert error.row == 4 and error.field == "容量" and Path(error.path) == path and "abc" in str(error)


# ------------------------------------------------------------------ pipeline and run folder
def test_plan_scenario_runs_every_section_as_the_api_does(planned, scenario):
    result, plan = planned
    s = Scenario.from_toml(scenario)
    allocation = cp.allocate_capacity(result, capacity="capacity", load="key_targets", default_capacity=2.0)
    pd.testing.assert_frame_equal(plan.allocation.by_site, allocation.by_site)
    pd.testing.assert_frame_equal(plan.allocation.assignment, allocation.assignment)
    pd.testing.assert_frame_equal(plan.volunteers, cp.spread_volunteers(allocation, 40))
    assert plan.volunteers["volunteers"].sum() == 40
    fca = cp.two_stage_fca(result, supply="capacity", demand="weight", method="gaussian", default_supply=2.0)
    pd.testing.assert_frame_equal(plan.accessibility.drop(columns="method"), fca)
    equity = cp.equity_summary(result, group="community_class", weight={"全部": "weight", "独居": "living_alone"})
    pd.testing.assert_frame_equal(plan.equity, equity)
    outside = list(result.demand.loc[~result.demand["covered"], "demand_id"])
    circuits = cp.plan_circuits(result, places=outside, budget_min=120.0, stay_min=10.0)
    # The routing search is time-limited: which places are visited or left out is fixed, the order may vary.
    visits = [p.routes.loc[p.routes["kind"] == "visit", "place_id"] for p in (plan.circuits, circuits)]
    assert sorted(visits[0]) == sorted(visits[1]) and len(visits[0]) > 0
    assert sorted(plan.circuits.unscheduled["place_id"]) == sorted(circuits.unscheduled["place_id"])
    assert plan.circuits.budget_min == 120.0 and plan.circuits.stay_min == 10.0
    venues = cp.build_candidates(result, file=s.clinics.venues)
    weights = cp.priority_weights(result.demand, "community_class", {"强基型": 2.0})
    clinics = cp.plan_clinics(result, venues, k=2, load=weights)
    pd.testing.assert_frame_equal(plan.clinics.venues, clinics.venues)


def test_allocations_never_exceed_the_capacities_in_the_sites_file(planned, scenario):
    result, plan = planned
    raw = pd.read_csv(scenario.parent / "sites.csv", dtype={"id": str})
    capacity = dict(zip(raw["id"], pd.to_numeric(raw["容量"]).fillna(2.0), strict=True))
    load = pd.read_csv(scenario.parent / "demand.csv", dtype={"id": str}).set_index("id")["重点服务对象"]
    a = plan.allocation.assignment
    got = a[a["assigned"]]
    per_site = load.loc[got["demand_id"]].groupby(got["site_id"].to_numpy()).sum()
    assert len(per_site) > 0
    for site, used in per_site.items():
        assert used <= capacity[site] + 1e-9
    # Each assigned walk is the matrix's walk of that pair, within the threshold.
    m = result.matrix
    walk = {(m.site_ids[j], m.demand_ids[i]): d for j, i, d in zip(m.rows, m.cols, m.metres, strict=True)}
    for row in got.itertuples(index=False):
        assert walk[(row.site_id, row.demand_id)] == pytest.approx(row.walk_m, abs=0.5)  # the table rounds
        assert row.walk_m <= result.threshold_m + 1e-9
    # Capacity binds here: some load is left although a site is in reach.
    assert plan.allocation.summary()["unserved_capacity_load"] > 0


def test_write_run_puts_the_service_csvs_in_the_one_run_folder(planned, tmp_path):
    result, plan = planned
    tables = plan.tables()
    out = tmp_path / "run"
    cp.write_run(result, out, map=False, report=False, service=tables)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for part, name in SERVICE_FILES.items():
        frame = getattr(tables, part)
        if frame is None or frame.empty and part == "circuit_unscheduled":
            assert not (out / name).exists()
            continue
        assert name in manifest["outputs"], name
        assert (out / name).read_bytes().startswith(b"\xef\xbb\xbf")
        back = pd.read_csv(out / name, encoding="utf-8-sig")
        assert len(back) == len(frame) and list(back.columns) == list(frame.columns.drop("geometry", errors="ignore"))
    loads = pd.read_csv(out / "site_loads.csv", encoding="utf-8-sig", dtype={"site_id": str})
    np.testing.assert_allclose(loads["load"], plan.allocation.by_site["load"])
    assert manifest["service_planning"]["capacity"]["volunteers"]["total"] == 40
    assert is_one_run(out)
    # Without service tables nothing of it is written.
    plain = tmp_path / "plain"
    cp.write_run(result, plain, map=False, report=False)
    assert not any((plain / name).exists() for name in SERVICE_FILES.values())


def test_service_csv_text_is_formula_safe(planned, tmp_path):
    result, plan = planned
    tables = plan.tables()
    tables.site_loads = tables.site_loads.assign(site_name="=HYPERLINK(1)")
    plan_dir = tmp_path / "csv"
    from coverage_planner.outputs.run_folder import write_service_tables

    write_service_tables(tables, plan_dir)
    names = pd.read_csv(plan_dir / "site_loads.csv", encoding="utf-8-sig")["site_name"]
    assert not names.str.startswith("=").any()


# ------------------------------------------------------------------ priority in proposals
def test_propose_with_priority_changes_the_choice_where_it_must(frames, tmp_path):
    osm, sites, demand, _ = frames
    demand = demand.drop(columns=["社区类别", "living_alone"])
    base = _write(tmp_path / "plain", osm, sites, demand, "")
    result = run_scenario(base, progress=False)
    pool = cp.build_candidates(result, grid_spacing=150)
    every = cp.with_sites(result, pool)
    covers = every.matrix.covers(result.threshold_m).toarray().astype(bool)
    n_old = len(result.sites)
    fresh = covers[n_old:] & ~covers[:n_old].any(axis=0)  # what each candidate adds
    w = result.demand["weight"].to_numpy(float)
    gain = fresh @ w
    best = gain == gain.max()  # the plain choice (one of them, when tied)
    # A candidate b adding places no best one does: make those 强基型, with a factor that must make b win.
    only = fresh & ~fresh[best].any(axis=0)
    b = int(np.argmax(only @ w))
    assert (only[b] @ w) > 0 and not best[b]
    factor = 1.0 + (gain.max() - gain[b]) / (only[b] @ w) + 1.0
    grade = np.where(only[b], "强基型", "发展型")
    weighted = demand.assign(社区类别=pd.Series(grade, index=result.demand["demand_id"]).loc[demand["id"]].to_numpy())
    section = f'\n[plan.priority]\n"强基型" = {float(factor)!r}\n'
    toml = _write(tmp_path / "priority", osm, sites, weighted, section)
    s = Scenario.from_toml(toml)
    pres = run_scenario(s, progress=False)
    pw = priority_weights_of(pres, s.priority)
    np.testing.assert_allclose(pw, w * np.where(only[b], factor, 1.0))
    brute = fresh @ pw  # brute force over every single candidate
    assert not best[brute == brute.max()].any()
    plain = cp.propose_sites(result, pool, method="mclp", k=1)
    ranked = cp.propose_sites(pres, pool, method="mclp", k=1, weights=pw)
    index = {cid: i for i, cid in enumerate(pool["id"])}
    assert best[index[plain.sites["id"].iloc[0]]]
    assert brute[index[ranked.sites["id"].iloc[0]]] == pytest.approx(brute.max())
    # The command honours [plan.priority] the same way.
    out = tmp_path / "proposed"
    run = runner.invoke(
        app, ["propose", str(toml), "--out", str(out), "--k", "1", "--grid-spacing", "150", "--no-map", "--no-report"]
    )
    assert run.exit_code == 0, run.output
    chosen = pd.read_csv(out / "proposed_sites.csv", encoding="utf-8-sig")["id"].iloc[0]
    assert brute[index[chosen]] == pytest.approx(brute.max())


# ------------------------------------------------------------------ commands
def _listed(output: str, out: Path) -> list[str]:
    """The files a command says it wrote (its last line names them), checked against the folder."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [name for name in manifest["outputs"] if name in " ".join(output.split())]


def test_allocate_writes_tables_map_and_report(scenario, tmp_path):
    out = tmp_path / "allocate"
    run = runner.invoke(app, ["allocate", str(scenario), "--out", str(out), "--total", "30", "--lang", "en"])
    assert run.exit_code == 0, run.output
    for name in ("site_loads.csv", "assignment.csv", "volunteers.csv", "map.html", "report.html", "report.pdf"):
        assert (out / name).is_file(), name
    assert "site_loads.csv" in _listed(run.output, out)
    volunteers = pd.read_csv(out / "volunteers.csv", encoding="utf-8-sig")
    assert volunteers["volunteers"].sum() == 30
    assert not (out / "circuit_routes.csv").exists()  # one planning step only
    assert is_one_run(out)


def test_allocate_with_candidates_opens_at_most_k(scenario, frames, tmp_path):
    _, _, _, venues = frames
    candidates = tmp_path / "candidates.csv"
    venues.assign(容量=3).to_csv(candidates, index=False)
    out = tmp_path / "allocate_k"
    run = runner.invoke(
        app,
        ["allocate", str(scenario), "--out", str(out), "--candidates", str(candidates), "--k", "2", "--no-map"]
        + ["--no-report", "--method", "pmedian"],
    )
    assert run.exit_code == 0, run.output
    loads = pd.read_csv(out / "site_loads.csv", encoding="utf-8-sig")
    assert (loads["status"] == "proposed").sum() <= 2
    assert (loads["load"] <= loads["capacity"] + 1e-9).all()


def test_circuits_and_clinics_commands_write_what_they_say(scenario, tmp_path):
    out = tmp_path / "circuits"
    run = runner.invoke(
        app, ["circuits", str(scenario), "--out", str(out), "--budget-min", "90", "--stay-min", "5", "--no-report"]
    )
    assert run.exit_code == 0, run.output
    schedule = pd.read_csv(out / "circuit_schedule.csv", encoding="utf-8-sig")
    assert (schedule["total_min"] <= 90 + 1e-9).all() and len(schedule) > 0
    assert {"circuit_routes.csv", "circuit_schedule.csv"} <= set(_listed(run.output, out))
    assert (out / "map.html").is_file()
    out = tmp_path / "clinics"
    venues = scenario.parent / "venues.csv"
    run = runner.invoke(
        app, ["clinics", str(scenario), "--out", str(out), "--venues", str(venues), "--k", "1", "--no-pdf"]
    )
    assert run.exit_code == 0, run.output
    clinics = pd.read_csv(out / "clinics.csv", encoding="utf-8-sig")
    assert len(clinics) == 1 and "clinics.csv" in _listed(run.output, out)


def test_a_bad_capacity_cell_is_a_clear_error_not_a_traceback(frames, tmp_path):
    osm, sites, demand, _ = frames
    bad = sites.copy()
    bad.loc[3, "容量"] = "abc"
    toml = _write(tmp_path / "bad", osm, bad, demand, SECTIONS.split("[clinics]")[0])
    run = runner.invoke(app, ["allocate", str(toml), "--out", str(tmp_path / "out"), "--lang", "en"])
    assert run.exit_code == 2
    assert "Traceback" not in run.output and "abc" in run.output and "row 5" in run.output
    assert "容量" in run.output and "sites.csv" in run.output


def test_commands_refuse_half_given_options(scenario, tmp_path):
    run = runner.invoke(app, ["allocate", str(scenario), "--out", str(tmp_path / "a"), "--k", "2"])
    assert run.exit_code == 2 and "--candidates" in run.output
    run = runner.invoke(app, ["circuits", str(scenario), "--out", str(tmp_path / "c"), "--profile", "rocket"])
    assert run.exit_code == 2 and "Traceback" not in run.output


def test_run_writes_the_configured_planning_tables_with_the_coverage(scenario, tmp_path):
    out = tmp_path / "run"
    run = runner.invoke(
        app, ["run", str(scenario), "--out", str(out), "--no-map", "--no-report", "--no-ledger", "--quiet"]
    )
    assert run.exit_code == 0, run.output
    outputs = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    for name in ("site_loads.csv", "volunteers.csv", "accessibility.csv", "equity.csv", "circuit_schedule.csv"):
        assert name in outputs, name
    assert "clinics.csv" in outputs and "coverage.csv" in outputs
