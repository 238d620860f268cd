"""Coverage maps: layers, markers, placeholders, offline HTML, GCJ-02 shift, size — and a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import raw_file
from real_places import write_beijing_scenario
from reference import networkx_walk_distances

from coverage_planner import compute_coverage, run_scenario, snap_points
from coverage_planner.outputs.isochrones import isochrone_bands
from coverage_planner.outputs.maps import coverage_map, save_map
from coverage_planner.places.china import wgs84_to_gcj02

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    return run_scenario(toml)


def test_bands_contain_the_places_within_them_and_nest(result):
    bands = isochrone_bands(result, (3, 5), buffer_m=25, simplify_m=3, access_legs=False)
    for _site_id, frame in bands.to_crs(result.network.crs).groupby("site_id"):
        small, large = frame.sort_values("band_min").geometry.to_numpy()
        # 3 min inside 5 min, up to the 3 m the outlines were simplified by.
        assert shapely.area(shapely.difference(small, shapely.buffer(large, 3.5))) < 1.0
    # Every place within 5 min of some site (by the graph) lies inside that site's band, up to the buffer.
    net = result.network
    site_snap = snap_points(net, np.column_stack([result.sites.geometry.x, result.sites.geometry.y]))
    demand_snap = snap_points(net, np.column_stack([result.demand.geometry.x, result.demand.geometry.y]))
    walk = networkx_walk_distances(net, site_snap, demand_snap, include_access_legs=False)
    five = bands[bands["band_min"] == 5].set_index("site_id").to_crs(net.crs)
    points = result.demand.to_crs(net.crs).geometry.to_numpy()
    snapped = shapely.points(*net.to_metric.transform(demand_snap.point_lonlat[:, 0], demand_snap.point_lonlat[:, 1]))
    for i, site_id in enumerate(result.sites["id"]):
        inside = walk[i] <= 5 * result.metres_per_minute - 1.0
        assert shapely.contains(five.loc[site_id, "geometry"], snapped[inside]).all()
    assert len(points) == len(snapped)


def test_map_has_one_marker_per_place_and_labelled_layers(result):
    html = coverage_map(result, lang="en", basemap="none").get_root().render()
    assert html.count('"_colour"') == len(result.demand)  # one demand feature per place
    assert html.count("cp-site cp-") == len(result.sites)
    assert "demand places" in html and "5-minute walk" in html and "cp-legend" in html


def test_placeholders_are_marked_on_the_map_and_in_the_legend(result):
    flagged = result.demand.copy()
    flagged.loc[flagged.index[:4], "status"] = "placeholder"
    original, result.demand = result.demand, flagged
    try:
        html = coverage_map(result, lang="zh", basemap="none").get_root().render()
    finally:
        result.demand = original
    assert "占位 (位置未核实): 4" in html  # the legend
    assert html.count(json.dumps("占位 (位置未核实)")[1:-1]) == 4  # each flagged place's popup (escaped in the GeoJSON)


def test_offline_html_links_nothing_on_the_web(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none"), tmp_path / "map.html", offline=True)
    html = path.read_text(encoding="utf-8")
    assert not re.findall(r'<script[^>]+src="https?://', html)
    assert not re.findall(r'<link[^>]+href="https?://', html)
    assert "L.map(" in html or "L.map" in html


def test_gaode_basemap_shifts_overlays_to_gcj02_and_others_do_not(result):
    lon, lat = result.demand.geometry.x.iloc[0], result.demand.geometry.y.iloc[0]
    glon, _ = wgs84_to_gcj02(lon, lat)
    plain = coverage_map(result, basemap="osm").get_root().render()
    gaode = coverage_map(result, basemap="gaode").get_root().render()
    assert f"{round(lon, 5)}" in plain and f"{round(float(glon), 5)}" not in plain
    assert f"{round(float(glon), 5)}" in gaode


def test_map_for_2000_places_and_20_sites_stays_under_5_mb(monaco, tmp_path):
    # Synthetic layout (labelled as such): 2000 points near real Monaco streets, 20 of them as sites.
    import geopandas as gpd

    rng = np.random.default_rng(0)
    edges = rng.integers(0, monaco.n_edges, 2020)
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(monaco.edges_wgs84[edges], rng.uniform(0, 1, 2020), normalized=True)
    )
    frame = gpd.GeoDataFrame(
        {"name": [f"synthetic {i}" for i in range(2020)], "status": "placeholder"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=4326,
    )
    result = compute_coverage(monaco, frame.iloc[:20], frame.iloc[20:], threshold_min=10)
    path = save_map(coverage_map(result, basemap="none"), tmp_path / "map.html")
    size = path.stat().st_size
    assert size < 5 * 1024 * 1024, f"{size / 1e6:.1f} MB"


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
)
def test_offline_map_renders_in_headless_chromium_without_errors(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html")
    probe = tmp_path / "probe.html"
    # Count what Leaflet drew, once the page has run, into the page title (read back with --dump-dom).
    html = path.read_text(encoding="utf-8").replace(
        "</body>",
        "<script>window.addEventListener('load',()=>setTimeout(()=>{"
        "const m=window[Object.keys(window).find(k=>k.startsWith('map_'))];let circles=0,polygons=0;"
        "m.eachLayer(l=>{if(l instanceof L.CircleMarker)circles++;else if(l instanceof L.Polygon)polygons++;});"
        "document.title='PROBE '+JSON.stringify({container:document.querySelectorAll('.leaflet-container').length,"
        "circles:circles,polygons:polygons,sites:document.querySelectorAll('.cp-site').length})},500));</script></body>",
    )
    probe.write_text(html, encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=8000",
        "--window-size=1200,800",
    ]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not errors, errors[:3]
    counts = json.loads(re.search(r"<title>PROBE (\{.*?\})</title>", dom.stdout).group(1))
    assert counts["container"] == 1
    assert counts["sites"] == len(result.sites)
    assert counts["circles"] == len(result.demand)
    assert counts["polygons"] == len(result.sites)  # the threshold band of each site is shown; other bands start hidden
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", probe.as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10, "the screenshot is blank"


def test_map_command_outlines_districts_from_a_file(result, tmp_path):
    import geopandas as gpd
    from typer.testing import CliRunner

    from coverage_planner.cli import app

    west, south, east, north = result.network.bounds
    # A test outline around the extract (not a real district boundary).
    gpd.GeoDataFrame({"name": ["test outline"]}, geometry=[shapely.box(west, south, east, north)], crs=4326).to_file(
        tmp_path / "d.geojson"
    )
    scenario = Path(result.manifest["scenario"]["path"])
    out = CliRunner().invoke(
        app,
        [
            "map",
            str(scenario),
            "--out",
            str(tmp_path / "m"),
            "--districts",
            str(tmp_path / "d.geojson"),
            "--lang",
            "en",
        ],
    )
    assert out.exit_code == 0, out.output
    html = (tmp_path / "m" / "map.html").read_text(encoding="utf-8")
    assert "districts" in html and f"{round(west, 5)}" in html
