"""Proposing new sites from a coverage result: the API (`propose_sites`, `Proposal`) and `coverage-planner propose`.

The location models themselves (exact against spopt, greedy against exact,
ties, limits) are tested in test_location_models.py.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from real_places import osm_place_frames, write_osm_scenario
from typer.testing import CliRunner

import coverage_planner as cp
from coverage_planner.cli import app


def frames(path, n_sites, n_demand, seed=0):
    sites, demand = osm_place_frames(path, n_sites=n_sites, n_demand=n_demand, seed=seed)

    def to_gdf(f):
        return gpd.GeoDataFrame(f, geometry=gpd.points_from_xy(f.lon, f.lat), crs=4326)

    return to_gdf(sites), to_gdf(demand)


@pytest.fixture(scope="module")
def monaco_result(monaco):
    sites, demand = frames(raw_file("monaco.osm.pbf"), 4, 400)
    demand["weight"] = np.random.default_rng(1).integers(1, 6, len(demand)).astype(float)
    return cp.compute_coverage(monaco, sites, demand, threshold_min=6, profile="elderly")


@pytest.mark.parametrize("method, k", [("mclp", 4), ("pmedian", 3), ("pcenter", 2), ("lscp", None)])
def test_after_equals_coverage_computed_afresh_with_the_proposed_sites(monaco_result, method, k):
    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    proposal = cp.propose_sites(monaco_result, pool, method=method, k=k)
    added = proposal.sites.drop(columns=["rank", "added_weight"])
    before_sites = monaco_result.sites[["id", "name", "weight", "status", "geometry"]]
    afresh = cp.compute_coverage(
        monaco_result.network,
        gpd.GeoDataFrame(pd.concat([before_sites, added], ignore_index=True), crs=4326),
        monaco_result.demand[["id", "name", "weight", "geometry"]],
        threshold_m=monaco_result.threshold_m,
        speed_kmh=monaco_result.speed_kmh,
        search_limit_m=monaco_result.matrix.cutoff_m,
    )
    ours, ref = proposal.after.demand, afresh.demand
    assert np.array_equal(ours["covered"].to_numpy(bool), ref["covered"].to_numpy(bool))
    assert np.allclose(ours["walk_m"].to_numpy(float), ref["walk_m"].to_numpy(float), equal_nan=True)
    assert list(ours["nearest_site_id"].fillna("")) == list(ref["nearest_site_id"].fillna(""))
    assert proposal.share_after == pytest.approx(afresh.share_covered(weighted=True))


def test_proposal_keeps_the_results_rule_and_walks_only_from_candidates(monaco_result):
    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    proposal = cp.propose_sites(monaco_result, pool, method="mclp", k=3)
    after = proposal.after
    assert (after.threshold_m, after.speed_kmh, after.profile_name) == (
        monaco_result.threshold_m,
        monaco_result.speed_kmh,
        "elderly",
    )
    assert after.matrix.cutoff_m == monaco_result.matrix.cutoff_m and after.max_snap_m == monaco_result.max_snap_m
    # The existing sites' walks are the result's own rows, untouched.
    old = after.matrix.take_sites(np.arange(len(monaco_result.sites)))
    assert np.array_equal(old.rows, monaco_result.matrix.rows) and np.array_equal(
        old.metres, monaco_result.matrix.metres
    )
    assert list(after.sites["status"].tail(3)) == ["proposed"] * 3


def test_mclp_objective_is_the_weight_covered_after(monaco_result):
    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    proposal = cp.propose_sites(monaco_result, pool, method="mclp", k=4)
    demand = proposal.after.demand
    covered_weight = float(demand.loc[demand["covered"], "weight"].sum())
    assert proposal.exact.objective == pytest.approx(covered_weight)
    assert proposal.sites["added_weight"].sum() == pytest.approx(
        covered_weight - float(monaco_result.demand.loc[monaco_result.demand["covered"], "weight"].sum())
    )


def test_unreachable_target_share_says_what_is_coverable(monaco_result):
    pool = cp.build_candidates(monaco_result, grid_spacing=400)
    full = cp.propose_sites(monaco_result, pool, method="lscp")
    assert full.coverable_share < 1.0  # this sample has places no candidate reaches
    with pytest.raises(cp.ProposalError, match="at most"):
        cp.propose_sites(monaco_result, pool, method="lscp", target_share=min(1.0, full.coverable_share + 0.01))


def test_build_candidates_needs_a_source_and_labels_each(monaco_result):
    with pytest.raises(cp.DataError, match="source"):
        cp.build_candidates(monaco_result)
    pool = cp.build_candidates(monaco_result, tags={"amenity": ("cafe", "restaurant")}, grid_spacing=400)
    assert set(pool["source"].str.split().str[0]) == {"OSM", "network"}


def test_proposal_write_gives_csv_json_map_and_report(monaco_result, tmp_path):
    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    proposal = cp.propose_sites(monaco_result, pool, method="mclp", k=2)
    written = {p.name for p in proposal.write(tmp_path / "p", lang="en")}
    assert {"proposed_sites.csv", "proposal.json", "map.html", "report.html"} <= written
    back = pd.read_csv(tmp_path / "p" / "proposed_sites.csv", encoding="utf-8-sig")
    assert list(back["id"]) == list(proposal.sites["id"])
    assert "2 new site(s)" in repr(proposal) and "<b>Proposal</b>" in proposal._repr_html_()


def test_a_proposal_written_twice_is_the_same_bytes_side_by_side_or_one_by_one(monaco_result, tmp_path, monkeypatch):
    from coverage_planner import _workers, settings
    from coverage_planner._cache.keys import file_sha256

    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    proposal = cp.propose_sites(monaco_result, pool, method="mclp", k=2)
    hashes = []
    for n in (4, 1):  # map, workbook, printed map and charts in workers; then all in this process
        monkeypatch.setattr(settings, "max_output_processes", n)
        assert _workers.fork_is_safe() == (n > 1)
        folder = tmp_path / f"p{n}"
        proposal.write(folder, lang="zh", pdf=True)
        hashes.append({p.name: file_sha256(p) for p in sorted(folder.iterdir())})
    assert {"proposal.json", "map.html", "report.pdf", "tables.xlsx"} <= set(hashes[0])
    assert hashes[0] == hashes[1]  # proposal.json keeps no solve times
    assert "solve_time_s" in proposal.summary()["exact"]


def test_propose_then_add_site_reaches_the_promised_coverage(tmp_path):
    toml = write_osm_scenario(tmp_path / "in", raw_file("monaco.osm.pbf"), n_sites=5, n_demand=400, threshold_min=5)
    runner = CliRunner()
    result = runner.invoke(
        app, ["propose", str(toml), "--out", str(tmp_path / "p"), "--k", "4", "--grid-spacing", "250"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "p" / "proposal.json").read_text(encoding="utf-8"))
    proposed = pd.read_csv(tmp_path / "p" / "proposed_sites.csv", encoding="utf-8-sig")
    assert len(proposed) == 4 and set(proposed["status"]) == {"proposed"}
    assert summary["exact"]["objective"] >= summary["greedy"]["objective"]
    # The map stars the 4 proposed sites among the 5 existing ones; the report compares before and after.
    page = (tmp_path / "p" / "map.html").read_text(encoding="utf-8")
    assert page.count("cp-site cp-proposed") == 4 and page.count("cp-site cp-existing") == 5
    report = (tmp_path / "p" / "report.md").read_text(encoding="utf-8")
    assert f"**{summary['share_after']:.1%}**" in report  # the headline is the run with the proposed sites
    before, after = (re.escape(f"{summary[k]:.1%}") for k in ("share_before", "share_after"))
    assert re.search(rf"\|\s*{before}\s*\|\s*{after}\s*\|", report)
    added = runner.invoke(
        app,
        [
            "add-site",
            str(toml),
            "--from",
            str(tmp_path / "p" / "proposed_sites.csv"),
            "--out",
            str(tmp_path / "after"),
            "-q",
        ],
    )
    assert added.exit_code == 0, added.output
    after = json.loads((tmp_path / "after" / "manifest.json").read_text(encoding="utf-8"))
    assert after["results"]["share_weight"] == pytest.approx(summary["share_after"], abs=1e-6)
    assert "proposed" in set(pd.read_csv(toml.parent / "sites.csv")["status"].dropna())


def test_propose_without_candidate_options_says_what_to_give(tmp_path):
    toml = write_osm_scenario(tmp_path / "in", raw_file("monaco.osm.pbf"), n_sites=3, n_demand=50, threshold_min=5)
    result = CliRunner().invoke(app, ["propose", str(toml), "--out", str(tmp_path / "p"), "--k", "2"])
    assert result.exit_code == 2 and "--grid-spacing" in result.output


def test_proposed_sites_csv_neutralises_formulas_and_add_site_reads_the_names_back(monaco_result, tmp_path):
    from coverage_planner.places.sites_file import read_new_sites

    pool = cp.build_candidates(monaco_result, grid_spacing=300)
    pool["name"] = [f'=HYPERLINK("http://x","{i}")' if i % 2 else f"-{i} 号楼" for i in range(len(pool))]
    proposal = cp.propose_sites(monaco_result, pool, method="mclp", k=3)
    proposal.write(tmp_path, map=False, report=False)
    import csv

    with open(tmp_path / "proposed_sites.csv", encoding="utf-8-sig", newline="") as fh:
        names = [row["name"] for row in csv.DictReader(fh)]
    assert names and all(n.startswith("'") for n in names)
    assert list(read_new_sites(tmp_path / "proposed_sites.csv")["name"]) == list(proposal.sites["name"])


def test_proposed_sites_are_given_in_wgs84_and_in_gcj02_inside_china(beijing, monaco_result, tmp_path):
    from real_places import beijing_place_frames

    from coverage_planner.places import china

    sites, demand = beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))

    def to_gdf(f):
        return gpd.GeoDataFrame(f, geometry=gpd.points_from_xy(f.lon, f.lat), crs=4326)

    result = cp.compute_coverage(beijing, to_gdf(sites.head(3)), to_gdf(demand), threshold_min=5)
    proposal = cp.propose_sites(result, cp.build_candidates(result, grid_spacing=200), method="mclp", k=2)
    where = proposal.coordinates()
    back_lon, back_lat = china.gcj02_to_wgs84(where["lon_gcj02"].to_numpy(), where["lat_gcj02"].to_numpy())
    assert np.allclose(back_lon, where["lon"], atol=1e-6) and np.allclose(back_lat, where["lat"], atol=1e-6)
    assert (np.abs(where["lon_gcj02"] - where["lon"]) > 1e-3).all()  # Beijing: the offset is about 500 m
    summary = json.loads(json.dumps(proposal.summary(), default=str))
    assert [s["id"] for s in summary["sites"]] == list(proposal.sites["id"])
    abroad = cp.propose_sites(monaco_result, cp.build_candidates(monaco_result, grid_spacing=300), method="mclp", k=1)
    outside = abroad.coordinates()
    assert (outside["lon_gcj02"] == outside["lon"]).all()
