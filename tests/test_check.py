"""`coverage-planner check`: a scenario validated without computing or touching the network.

The counts are checked against the files read independently (the csv
module), the cache findings against what the download functions really
serve offline (through the local replay servers), and "no network" is
simulated by pointing osmnx at a closed port, so nothing leaves the machine.
"""

from __future__ import annotations

import csv
import shutil
import socket
from pathlib import Path

import pytest
from conftest import raw_file
from real_places import write_beijing_scenario
from test_osm_demand import extract, go_offline, servers, write_osm_demand_scenario  # noqa: F401 - fixtures
from typer.testing import CliRunner

from coverage_planner import ScenarioError, run_scenario
from coverage_planner.check import INTERNET, MISSING, NOTE, OK, check_scenario, explain_run_failure
from coverage_planner.cli import app
from coverage_planner.config import Scenario
from coverage_planner.network.download import download_cache_file, download_network

HOHHOT = Path(__file__).resolve().parents[1] / "data" / "hohhot"
runner = CliRunner()


def levels(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.topic, []).append(f.level)
    return found


def closed_port_osmnx(monkeypatch) -> None:
    """No internet, as osmnx sees it: its servers are a closed local port and its HTTP cache is off."""
    import osmnx as ox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(ox.settings, "overpass_url", f"{dead}/api")
    monkeypatch.setattr(ox.settings, "nominatim_url", f"{dead}/nominatim/")
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "requests_timeout", 2)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)


@pytest.fixture()
def hohhot(tmp_path, monkeypatch) -> Path:
    """The shipped Hohhot scenario, copied (its geocode cache must not land in the repo), with an empty cache."""
    folder = tmp_path / "hohhot"
    shutil.copytree(HOHHOT, folder)
    (folder / "geocode_cache.json").unlink(missing_ok=True)
    monkeypatch.setenv("COVERAGE_PLANNER_CACHE", str(tmp_path / "cache"))
    return folder / "scenario.toml"


def hohhot_rows() -> dict[str, list[dict[str, str]]]:
    return {
        name: list(csv.DictReader((HOHHOT / name).open(encoding="utf-8-sig")))
        for name in ("studios.csv", "communities.csv")
    }


def test_hohhot_offline_says_what_needs_internet_and_counts_the_placeholders(hohhot):
    report = check_scenario(hohhot)
    rows = hohhot_rows()
    n_rows = sum(len(r) for r in rows.values())
    lacking = [r for rs in rows.values() for r in rs if r["地址查询"] and not r["经度"] and not r["纬度"]]
    assert (report.sites, report.demand) == (len(rows["studios.csv"]), len(rows["communities.csv"]))
    assert report.placeholders == sum(r["状态"] == "占位" for rs in rows.values() for r in rs) == n_rows
    assert report.without_coordinates == len(lacking) == n_rows
    assert report.geocode_online and report.geocode_queries == len({" ".join(r["地址查询"].split()) for r in lacking})
    assert levels(report) == {
        "network": [INTERNET],
        "places": [NOTE],
        "residential areas": [INTERNET],
        "geocoding": [INTERNET],
        "walk": [OK],
    }
    assert report.runnable and not report.runnable_offline
    text = str(report)
    assert "fetch-network --from" in text and "[osm_demand]" in text
    assert len(text.splitlines()) <= 15  # a few lines, not a wall


def test_the_cli_exits_1_offline_and_0_when_told_the_machine_is_online(hohhot):
    offline = runner.invoke(app, ["check", str(hohhot)])
    assert offline.exit_code == 1, offline.output
    assert "needs internet" in offline.output and "Not runnable offline" in offline.output
    online = runner.invoke(app, ["check", str(hohhot), "--online"])
    assert online.exit_code == 0, online.output


def test_run_offline_ends_with_the_short_account_not_an_error_per_place(hohhot, monkeypatch, tmp_path):
    closed_port_osmnx(monkeypatch)
    with pytest.raises(ScenarioError) as caught:
        run_scenario(hohhot, progress=False)
    message = str(caught.value)
    assert "could not be reached" in message and "fetch-network --from" in message
    assert message.count("地址查询") <= 3 and "ConnectionError" not in message
    assert len(message.splitlines()) <= 16
    # Nothing was cached by the failed attempt: the next check says the same.
    assert not (hohhot.parent / "geocode_cache.json").exists()
    result = runner.invoke(app, ["run", str(hohhot), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot run here now" in result.output
    assert not (tmp_path / "out" / "coverage.csv").exists()


def test_geocoding_off_with_places_lacking_coordinates_is_missing_and_run_says_so_without_the_network(
    hohhot, monkeypatch
):
    toml = hohhot.read_text(encoding="utf-8").replace("online = true", "online = false")
    hohhot.write_text(toml, encoding="utf-8")
    report = check_scenario(hohhot)
    assert levels(report)["geocoding"] == [MISSING] and not report.runnable
    assert report.geocode_queries == 0 and report.without_coordinates == report.sites + report.demand
    closed_port_osmnx(monkeypatch)
    with pytest.raises(ScenarioError, match="have no coordinates and geocoding is off"):
        run_scenario(hohhot, progress=False)


def test_a_scenario_with_only_a_network_names_both_missing_sections(tmp_path):
    toml = tmp_path / "only-network.toml"
    toml.write_text('[network]\nplace = "回民区, 呼和浩特市"\n', encoding="utf-8")
    result = runner.invoke(app, ["check", str(toml)])
    assert result.exit_code == 1
    assert "no [sites] and [demand] sections" in result.output
    assert '[sites] path = "sites.csv"' in result.output and '[demand] path = "demand.csv"' in result.output


def test_every_missing_file_is_named_at_once(tmp_path):
    toml = tmp_path / "scenario.toml"
    toml.write_text(
        '[network]\npath = "district.osm.pbf"\n[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n',
        encoding="utf-8",
    )
    report = check_scenario(toml)
    assert [(f.topic, f.level) for f in report.findings] == [
        ("network", MISSING),
        ("sites", MISSING),
        ("demand", MISSING),
    ]
    assert "fetch-network --from" in report.findings[0].hint


def test_a_local_extract_with_real_places_is_ready_and_run_agrees(tmp_path):
    osm = raw_file("beijing_haidian_cau_map.osm")
    toml = write_beijing_scenario(tmp_path / "beijing", osm)
    report = check_scenario(toml)
    assert report.runnable_offline, str(report)
    assert levels(report) == {"network": [OK], "places": [OK], "geocoding": [OK], "walk": [OK]}
    sites = list(csv.DictReader((toml.parent / "sites.csv").open(encoding="utf-8")))
    demand = list(csv.DictReader((toml.parent / "demand.csv").open(encoding="utf-8")))
    assert (report.sites, report.demand, report.placeholders) == (len(sites), len(demand), 0)
    assert runner.invoke(app, ["check", str(toml)]).exit_code == 0
    result = run_scenario(toml, progress=False)  # what check promised
    assert len(result.demand) == len(demand)


def test_places_outside_the_extract_are_found_before_loading_it(tmp_path):
    osm = raw_file("beijing_haidian_cau_map.osm")
    toml = write_beijing_scenario(tmp_path / "beijing", osm)
    path = toml.parent / "demand.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0]["lon"] = str(float(rows[0]["lon"]) + 0.2)  # 17 km east of the extract
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = check_scenario(toml)
    assert not report.runnable
    outside = [f for f in report.findings if f.topic == "places" and f.level == MISSING]
    assert len(outside) == 1 and "1 place(s) lie outside" in outside[0].message
    assert "demand.csv, row 2" in outside[0].hint


def test_bad_rows_are_listed_briefly(tmp_path):
    osm = raw_file("beijing_haidian_cau_map.osm")
    toml = write_beijing_scenario(tmp_path / "beijing", osm)
    path = toml.parent / "sites.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    for row in rows[:5]:
        row["lon"], row["lat"] = "east", "north"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = check_scenario(toml)
    bad = [f for f in report.findings if f.topic == "sites"]
    assert [f.level for f in bad] == [MISSING]
    assert bad[0].message.startswith("10 problem(s)")  # 5 rows × (lon, lat)
    assert bad[0].hint.count("\n") == 3 and bad[0].hint.endswith("… and 7 more")


def test_a_downloaded_network_counts_as_cached_exactly_when_download_network_serves_it_offline(
    tmp_path, monkeypatch, beijing
):
    bbox = (116.3440, 39.9977, 116.3597, 40.0089)
    folder = tmp_path / "s"
    write_beijing_scenario(folder, raw_file("beijing_haidian_cau_map.osm"))
    toml = folder / "scenario.toml"
    text = toml.read_text(encoding="utf-8")
    start = text.index("[network]")
    end = text.index("[", start + 1)
    cache = tmp_path / "cache"
    network = f'[network]\nbbox = {list(bbox)}\ncache_dir = "{cache.as_posix()}"\n'
    toml.write_text(text[:start] + network + text[end:], encoding="utf-8")
    closed_port_osmnx(monkeypatch)
    report = check_scenario(toml)
    assert levels(report)["network"] == [INTERNET] and not report.runnable_offline
    with pytest.raises(ScenarioError, match="OpenStreetMap could not be reached"):
        run_scenario(toml, progress=False)
    # A network saved where download_network keeps this query: now served offline, and check agrees.
    beijing.to_graphml(download_cache_file(bbox=bbox, cache_dir=cache))
    assert download_network(bbox=bbox, cache_dir=cache).source.kind == "osmnx-download (cached)"
    report = check_scenario(toml)
    assert levels(report)["network"] == [OK] and report.runnable_offline


def test_osm_demand_counts_as_cached_exactly_when_residential_areas_are_served_offline(request, tmp_path, monkeypatch):
    state = request.getfixturevalue("servers")  # replayed Nominatim and Overpass answers built from the extract
    toml = write_osm_demand_scenario(tmp_path / "scenario", state["cache_dir"])
    assert levels(check_scenario(toml))["residential areas"] == [INTERNET]
    first = run_scenario(toml, progress=False)
    state["stop"]()
    go_offline(monkeypatch)
    report = check_scenario(toml)
    assert levels(report)["residential areas"] == [OK] and report.runnable_offline
    assert run_scenario(toml, progress=False).table().equals(first.table())  # as promised, offline


def test_explain_leaves_other_errors_alone(tmp_path):
    from coverage_planner import InputError, NetworkError

    toml = write_beijing_scenario(tmp_path / "b", raw_file("beijing_haidian_cau_map.osm"))
    scenario = Scenario.from_toml(toml)
    assert explain_run_failure(scenario, NetworkError("the file is broken")) is None
    assert explain_run_failure(scenario, InputError(toml.parent / "sites.csv", "bad", row=2, field="lon")) is None


# --- fetch-network: a bbox that cannot be right --------------------------------------------------


def node_extent(path: Path) -> tuple[float, float, float, float]:
    import osmium

    lons, lats = [], []
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        if node.location.valid():
            lons.append(node.location.lon)
            lats.append(node.location.lat)
    return min(lons), min(lats), max(lons), max(lats)


def stated_bounds(message: str) -> tuple[float, ...]:
    import re

    found = re.search(r"covers ([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+) \(west,south,east,north\)", message)
    assert found, message
    return tuple(float(v) for v in found.groups())


def test_fetch_network_refuses_latitude_and_longitude_swapped_with_the_fix(tmp_path, monkeypatch):
    out = tmp_path / "hohhot.osm.pbf"
    swapped = "40.78,111.60,40.85,111.70"
    clip = runner.invoke(
        app, ["fetch-network", "--from", str(raw_file("monaco.osm.pbf")), "--bbox", swapped, "--out", str(out)]
    )
    assert clip.exit_code == 2
    assert "must be latitudes, within ±90" in clip.output and "did you mean 111.6,40.78,111.7,40.85?" in clip.output
    assert not out.exists()
    closed_port_osmnx(monkeypatch)  # the download path refuses it before anything is sent
    download = runner.invoke(app, ["fetch-network", "--bbox", swapped, "--out", str(tmp_path / "net.graphml")])
    assert download.exit_code == 2 and "did you mean 111.6,40.78,111.7,40.85?" in download.output


def test_fetch_network_fails_when_the_bbox_matches_nothing_naming_the_files_bounds(tmp_path):
    monaco = raw_file("monaco.osm.pbf")
    out = tmp_path / "clip.osm.pbf"
    result = runner.invoke(
        app, ["fetch-network", "--from", str(monaco), "--bbox", "43.72,7.40,43.75,7.44", "--out", str(out)]
    )
    assert result.exit_code == 1 and not out.exists()
    west, south, east, north = stated_bounds(result.output)
    lo_lon, lo_lat, hi_lon, hi_lat = node_extent(monaco)
    assert west <= lo_lon + 1e-3 and south <= lo_lat + 1e-3 and east >= hi_lon - 1e-3 and north >= hi_lat - 1e-3
    assert "did you mean 7.4,43.72,7.44,43.75?" in result.output
    fixed = runner.invoke(
        app, ["fetch-network", "--from", str(monaco), "--bbox", "7.40,43.72,7.44,43.75", "--out", str(out)]
    )
    assert fixed.exit_code == 0 and out.is_file() and "Kept" in fixed.output
    # A clipped file declares no extent in its header: the bounds come from its own nodes.
    again = runner.invoke(
        app, ["fetch-network", "--from", str(out), "--bbox", "10,10,11,11", "--out", str(tmp_path / "x.osm.pbf")]
    )
    assert again.exit_code == 1
    west, south, east, north = stated_bounds(again.output)
    lo_lon, lo_lat, hi_lon, hi_lat = node_extent(out)
    assert lo_lon - 1e-6 <= west <= east <= hi_lon + 1e-6 and lo_lat - 1e-6 <= south <= north <= hi_lat + 1e-6


def test_a_missing_network_file_does_not_stop_the_other_checks(hohhot):
    text = hohhot.read_text(encoding="utf-8")
    start = text.index("place = [")
    end = text.index("]", start) + 1
    hohhot.write_text(text[:start] + 'path = "hohhot.osm.pbf"' + text[end:], encoding="utf-8")
    report = check_scenario(hohhot)
    assert levels(report) == {
        "network": [MISSING],
        "places": [NOTE],
        "residential areas": [INTERNET],
        "geocoding": [INTERNET],
        "walk": [OK],
    }
    assert "fetch-network --from BIG.osm.pbf" in report.findings[0].hint
    assert report.without_coordinates == report.sites + report.demand == sum(len(r) for r in hohhot_rows().values())
