"""Coverage maps: layers, one marker per place, colours, popups, legend, placeholders, GCJ-02, Tianditu, streets,
per-site band colours, labels, title, metric scale, walking routes (checked against NetworkX), offline HTML, size.

The map in a real browser is in test_maps_browser.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import raw_file
from real_places import write_beijing_scenario
from reference import networkx_walk_distances

from coverage_planner import compute_coverage, read_places, run_scenario, snap_points
from coverage_planner._errors import DataError
from coverage_planner._geo import haversine_m, polyline_lengths_m
from coverage_planner.outputs._offline_assets import OfflineAssetError, asset, external_references
from coverage_planner.outputs.isochrones import isochrone_bands, site_colours, walk_routes
from coverage_planner.outputs.maps import (
    OUTSIDE,
    TIANDITU_KEY_VARIABLE,
    UNREACHED,
    coverage_map,
    default_bands,
    demand_classes,
    save_map,
)
from coverage_planner.places.china import wgs84_to_gcj02

BEIJING = "beijing_haidian_cau_map.osm"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Real amenities (sites) and buildings (demand) of the Beijing Haidian extract, 10-minute threshold."""
    return run_scenario(write_beijing_scenario(tmp_path_factory.mktemp("maps"), raw_file(BEIJING), threshold_min=10))


@pytest.fixture(scope="module")
def english(result):
    return coverage_map(result, basemap="none", lang="en")


def overlays(m: folium.Map) -> dict[str, folium.FeatureGroup]:
    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}


def features(group: folium.FeatureGroup) -> list[dict]:
    return [f for c in group._children.values() if isinstance(c, folium.GeoJson) for f in c.data["features"]]


def markers(group: folium.FeatureGroup) -> list[folium.Marker]:
    return [c for c in group._children.values() if isinstance(c, folium.Marker)]


def test_default_bands_are_5_10_15_minutes_up_to_the_threshold():
    assert default_bands(15) == [5, 10, 15]
    assert default_bands(10) == [5, 10]
    assert default_bands(12) == [5, 10, 12]


def test_map_has_a_layer_per_band_for_each_site_and_for_all_sites_and_a_layer_control(english, result):
    names = set(overlays(english))
    assert {
        "5-minute walk (each site)",
        "10-minute walk (each site)",
        "5-minute walk (all sites)",
        "10-minute walk (all sites)",
        "demand places",
        "existing sites",
    } <= names
    assert any(isinstance(c, folium.LayerControl) for c in english._children.values())
    bands = isochrone_bands(result, (5, 10))
    assert len(features(overlays(english)["10-minute walk (each site)"])) == (bands["band_min"] == 10).sum()
    assert len(features(overlays(english)["10-minute walk (all sites)"])) == 1


def test_one_demand_marker_per_place_carrying_its_walk_minutes(english, result):
    drawn = features(overlays(english)["demand places"])
    assert len(drawn) == len(result.demand)
    minutes = [f["properties"]["walk_min"] for f in drawn]
    expected = result.demand["walk_min"].round(1)
    assert [m is None for m in minutes] == expected.isna().tolist()
    assert np.allclose([m for m in minutes if m is not None], expected.dropna())


def test_one_site_marker_per_site(english, result):
    assert len(markers(overlays(english)["existing sites"])) == len(result.sites)
    assert "proposed sites" not in overlays(english)


def test_covered_and_not_covered_places_have_distinct_colours(result):
    classes = demand_classes(result, [5, 10])
    covered = result.demand["covered"].to_numpy()
    assert covered.any() and (~covered).any()
    assert not set(classes["colour"][covered]) & set(classes["colour"][~covered])
    unreached = result.demand["walk_min"].isna().to_numpy()
    assert (classes["colour"][unreached] == UNREACHED).all() and (
        classes["colour"][~covered & ~unreached] == OUTSIDE
    ).all()
    # Covered places are graded: nearer places darker.
    five = result.demand["walk_min"] <= 5
    assert (
        classes["colour"][five.to_numpy()].nunique() == 1
        and classes["colour"][covered & ~five.to_numpy()].nunique() == 1
    )


def test_popups_show_name_type_nearest_site_walk_minutes_and_snap_distance(english):
    layer = overlays(english)["demand places"]
    popup = next(
        c for g in layer._children.values() for c in g._children.values() if isinstance(c, folium.GeoJsonPopup)
    )
    assert popup.aliases == [
        "name",
        "type",
        "nearest site",
        "walk minutes",
        "walk distance (m)",
        "straight line (m)",
        "to the street (m)",
        "status",
    ]
    first = features(layer)[0]["properties"]
    assert {"name", "type", "nearest", "walk_min", "walk_m", "crow_m", "snap_m", "status"} <= set(first)


def test_popups_show_district_and_community_when_the_places_have_them(result):
    original = result.demand
    result.demand = original.assign(district="海淀区", community="test community (label only)")
    try:
        m = coverage_map(result, basemap="none", lang="zh")
    finally:
        result.demand = original
    popup = next(
        c
        for g in overlays(m)["需求地点"]._children.values()
        for c in g._children.values()
        if isinstance(c, folium.GeoJsonPopup)
    )
    assert popup.aliases == [
        "名称",
        "类型",
        "区",
        "社区",
        "最近站点",
        "步行分钟",
        "步行距离 (米)",
        "直线距离 (米)",
        "距道路 (米)",
        "状态",
    ]


def test_legend_counts_places_in_each_class(english, result):
    html = english.get_root().render()
    legend = html[html.index('<details id="cp-legend"') :]
    legend = legend[: legend.index("</details>", legend.index('class="note"'))]  # past the folded site colours
    covered = int(result.demand["covered"].sum())
    within5 = int((result.demand["walk_min"] <= 5).sum())
    assert f"≤ 5 min (covered): {within5}" in legend
    assert f"5–10 min (covered): {covered - within5}" in legend
    beyond = int((~result.demand["covered"] & result.demand["walk_min"].notna()).sum())
    assert f"> 10 min (not covered): {beyond}" in legend
    assert f"no site within 20 min / off the network: {int(result.demand['walk_min'].isna().sum())}" in legend
    assert "coverage is computed on the street network" in legend


def test_placeholder_places_and_sites_are_dashed_and_labelled(result):
    demand, sites = result.demand, result.sites
    # Flag a few real places and one site as placeholders, as a ledger without verified locations would.
    result.demand = demand.assign(status=np.where(np.arange(len(demand)) < 4, "placeholder", "real"))
    result.sites = sites.assign(status=np.where(np.arange(len(sites)) < 1, "placeholder", "real"))
    try:
        m = coverage_map(result, basemap="none", lang="zh")
        html = m.get_root().render()
    finally:
        result.demand, result.sites = demand, sites
    drawn = features(overlays(m)["需求地点"])
    flagged = [f for f in drawn if f["properties"]["status"] == "占位 (位置未核实)"]
    assert len(flagged) == 4
    group = next(c for c in overlays(m)["需求地点"]._children.values() if isinstance(c, folium.GeoJson))
    styles = [group.style_function(f) for f in flagged]
    assert all(s["dashArray"] and s["fillOpacity"] < 0.5 and "cp-placeholder" in s["className"] for s in styles)
    assert "占位 (位置未核实): 5 (需求地点 4, 现有站点 1)" in html
    assert html.count(" cp-placeholder-site") == 1  # the one placeholder site's marker
    assert html.count(json.dumps("占位 (位置未核实)")[1:-1]) == 4  # each flagged place's popup (escaped in the GeoJSON)


def test_proposed_sites_get_their_own_symbol_and_layer(result):
    # Two real buildings of the extract as proposed locations, plus one run site marked proposed by id.
    proposed = result.demand.iloc[:2][["demand_id", "demand_name", "geometry"]].rename(
        columns={"demand_id": "id", "demand_name": "name"}
    )
    proposed = pd.concat([proposed, result.sites.iloc[:1][["id", "name", "geometry"]]], ignore_index=True)
    m = coverage_map(result, basemap="none", lang="en", proposed=gpd.GeoDataFrame(proposed, crs=4326))
    groups = overlays(m)
    assert len(markers(groups["proposed sites"])) == 3
    assert len(markers(groups["existing sites"])) == len(result.sites) - 1
    html = m.get_root().render()
    assert html.count("cp-site cp-proposed") == 3 and "★" in html


def test_compound_footprints_are_drawn_when_the_places_have_them(result, tmp_path):
    # Real building outlines of the extract, read as a demand file.
    shapes = gpd.read_file(raw_file(BEIJING), layer="multipolygons")
    shapes = shapes[shapes["building"].notna() & shapes["osm_way_id"].notna()][
        ["osm_way_id", "name", "building", "geometry"]
    ]
    shapes = shapes.rename(columns={"osm_way_id": "id", "building": "type"}).head(60)
    shapes.to_file(tmp_path / "buildings.geojson")
    demand = read_places(tmp_path / "buildings.geojson", "demand")
    run = compute_coverage(result.network, result.sites, demand, threshold_min=10)
    m = coverage_map(run, basemap="none", lang="en")
    drawn = features(overlays(m)["compounds"])
    assert len(drawn) == len(demand) and all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in drawn)


def test_districts_are_outlined_when_given(result):
    west, south, east, north = result.network.bounds
    # A test outline around the extract, not a real district boundary.
    outline = gpd.GeoDataFrame({"name": ["test outline"]}, geometry=[shapely.box(west, south, east, north)], crs=4326)
    m = coverage_map(result, basemap="none", lang="en", districts=outline)
    drawn = features(overlays(m)["districts"])
    assert len(drawn) == 1 and drawn[0]["properties"]["name"] == "test outline"


def test_a_run_whose_only_site_is_off_the_network_still_maps(result):
    west, south, _, _ = result.network.bounds
    # Placeholder site, not a real place: beyond the snap limit, so it reaches nothing and gets no band.
    site = gpd.GeoDataFrame(
        {"id": ["far"], "name": ["placeholder"], "status": ["placeholder"]},
        geometry=gpd.points_from_xy([west - 0.05], [south - 0.03]),
        crs=4326,
    )
    run = compute_coverage(result.network, site, result.demand[["id", "name", "geometry"]].head(30), threshold_min=10)
    m = coverage_map(run, basemap="none", lang="en")
    assert features(overlays(m)["10-minute walk (each site)"]) == []
    assert len(features(overlays(m)["demand places"])) == 30
    assert "no site within 20 min / off the network: 30" in m.get_root().render()


def test_labels_follow_the_language(result, english):
    chinese = coverage_map(result, basemap="none", lang="zh").get_root().render()
    assert "需求地点" in chinese and "10 分钟步行范围 (各站点)" in chinese
    assert "需求地点" not in english.get_root().render()
    with pytest.raises(ValueError, match="lang"):
        coverage_map(result, lang="fr")
    with pytest.raises(ValueError, match="basemap"):
        coverage_map(result, basemap="google")


def test_gaode_basemap_shifts_every_overlay_to_gcj02_and_the_others_do_not(result):
    lon, lat = result.demand.geometry.x.iloc[0], result.demand.geometry.y.iloc[0]
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    maps = {b: coverage_map(result, basemap=b, lang="en") for b in ("osm", "cartodb", "gaode", "none")}
    for basemap, m in maps.items():
        first = features(overlays(m)["demand places"])[0]["geometry"]["coordinates"]
        expected = (glon, glat) if basemap == "gaode" else (lon, lat)
        assert first == pytest.approx([round(expected[0], 5), round(expected[1], 5)], abs=1.1e-5), basemap
    # Bands and site markers move by the same few hundred metres.
    plain = shapely.geometry.shape(features(overlays(maps["osm"])["10-minute walk (all sites)"])[0]["geometry"])
    shifted = shapely.geometry.shape(features(overlays(maps["gaode"])["10-minute walk (all sites)"])[0]["geometry"])
    dx, dy = shifted.centroid.x - plain.centroid.x, shifted.centroid.y - plain.centroid.y
    assert dx == pytest.approx(glon - lon, abs=2e-5) and dy == pytest.approx(glat - lat, abs=2e-5)
    site = markers(overlays(maps["gaode"])["existing sites"])[0].location
    assert site[1] == pytest.approx(
        float(wgs84_to_gcj02(result.sites.geometry.x.iloc[0], result.sites.geometry.y.iloc[0])[0]), abs=1e-5
    )
    assert "autonavi" in maps["gaode"].get_root().render() and "autonavi" not in maps["osm"].get_root().render()


def test_coordinates_are_rounded_to_about_a_metre(english):
    html = english.get_root().render()
    numbers = re.findall(r"\[(\d+\.\d+), (\d+\.\d+)\]", html)
    assert numbers and max(len(x.split(".")[1]) for pair in numbers for x in pair) <= 5


def test_map_fits_the_places_and_sites(english, result):
    bounds = next(c for c in english._children.values() if type(c).__name__ == "FitBounds").bounds
    (south, west), (north, east) = bounds
    x0, y0, x1, y1 = pd.concat([result.demand.geometry, result.sites.geometry]).total_bounds
    assert (west, south, east, north) == pytest.approx((x0, y0, x1, y1))


def test_offline_html_loads_nothing_from_the_web(english, tmp_path):
    path = save_map(english, tmp_path / "map.html", offline=True)
    html = path.read_text(encoding="utf-8")
    assert not re.findall(r"<script[^>]+src=\"(?:https?:)?//", html)
    assert not re.findall(r"<link[^>]+href=\"(?:https?:)?//", html)
    assert external_references(html) == []
    assert "Leaflet 1.9.3" in html or "leaflet@1.9.3" in html  # Leaflet itself, inlined
    assert "bootstrap.min.css" not in html  # unused libraries are left out, not inlined
    online = save_map(english, tmp_path / "online.html", offline=False).read_text(encoding="utf-8")
    assert any("leaflet" in url for url in external_references(online))
    assert not list(tmp_path.glob(".*.part*"))  # the atomic write leaves no temporary file


def test_saving_a_map_again_writes_the_same_page(result, tmp_path):
    """A notebook saves one map object twice (and once online between): every offline copy is the same one page."""
    m = coverage_map(result, basemap="none", lang="en")
    first = save_map(m, tmp_path / "first.html").read_bytes()
    save_map(m, tmp_path / "online.html", offline=False)
    again = save_map(m, tmp_path / "again.html").read_bytes()
    assert again == first
    assert first.count(b"L.map(") == 1 and first.count(b".addTo(") == again.count(b".addTo(")
    # The classes swapped in for rendering are gone: each element's class is the one its module defines.
    assert all(getattr(sys.modules[type(e).__module__], type(e).__name__, None) is type(e) for e in _tree(m))


def _tree(m: folium.Map) -> list:
    elements, stack = [], [m]
    while stack:
        element = stack.pop()
        elements.append(element)
        stack.extend(element._children.values())
    return elements


def test_a_missing_offline_asset_is_an_error_and_the_old_file_stays(english, tmp_path, monkeypatch):
    from coverage_planner.outputs import _offline_assets

    target = tmp_path / "map.html"
    target.write_text("previous map", encoding="utf-8")
    monkeypatch.setattr(_offline_assets, "_shipped", dict)  # a package that ships nothing
    with pytest.raises(OfflineAssetError, match="folium-offline"):
        save_map(english, target, offline=True)
    assert target.read_text(encoding="utf-8") == "previous map"


def test_an_asset_of_another_version_of_the_same_library_is_accepted():
    assert asset("https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js") == asset(
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
    )


def test_map_for_2000_places_and_20_sites_stays_under_5_mb(monaco, tmp_path):
    # Synthetic layout (labelled placeholder): 2020 points scattered near real Monaco streets; 20 are sites.
    rng = np.random.default_rng(0)
    edges = rng.integers(0, monaco.n_edges, 2020)
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(monaco.edges_wgs84[edges], rng.uniform(0, 1, 2020), normalized=True)
    )
    xy += rng.normal(0, 2e-4, xy.shape)  # ~20 m off the street, like building centroids
    frame = gpd.GeoDataFrame(
        {"name": [f"synthetic {i}" for i in range(2020)], "type": "synthetic", "status": "placeholder"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=4326,
    )
    run = compute_coverage(monaco, frame.iloc[:20], frame.iloc[20:], threshold_min=15)
    m = coverage_map(run, basemap="osm")
    assert len(features(overlays(m)["需求地点"])) == 2000
    size = save_map(m, tmp_path / "map.html").stat().st_size
    assert size < 5 * 1024 * 1024, f"{size / 1e6:.2f} MB"


# --- from the former test_coverage_map.py ----------------------------------------------------------------------


def test_bands_contain_the_places_within_them_and_nest(tmp_path_factory):
    toml = write_beijing_scenario(tmp_path_factory.mktemp("in"), raw_file(BEIJING), threshold_min=5)
    result = run_scenario(toml)
    bands = isochrone_bands(result, (3, 5), buffer_m=25, simplify_m=3, access_legs=False)
    for _site_id, frame in bands.to_crs(result.network.crs).groupby("site_id"):
        small, large = frame.sort_values("band_min").geometry.to_numpy()
        # 3 min inside 5 min, up to the 3 m the outlines were simplified by.
        assert shapely.area(shapely.difference(small, shapely.buffer(large, 3.5))) < 1.0
    # Every place within 5 min of some site (by NetworkX on the same graph) lies inside that site's band.
    net = result.network
    site_snap = snap_points(net, np.column_stack([result.sites.geometry.x, result.sites.geometry.y]))
    demand_snap = snap_points(net, np.column_stack([result.demand.geometry.x, result.demand.geometry.y]))
    walk = networkx_walk_distances(net, site_snap, demand_snap, include_access_legs=False)
    five = bands[bands["band_min"] == 5].set_index("site_id").to_crs(net.crs)
    snapped = shapely.points(*net.to_metric.transform(demand_snap.point_lonlat[:, 0], demand_snap.point_lonlat[:, 1]))
    checked = 0
    for i, site_id in enumerate(result.sites["id"]):
        inside = walk[i] <= 5 * result.metres_per_minute - 1.0
        assert shapely.contains(five.loc[site_id, "geometry"], snapped[inside]).all()
        checked += int(inside.sum())
    assert checked > 50


def test_map_command_outlines_districts_from_a_file(result, tmp_path):
    from typer.testing import CliRunner

    from coverage_planner.cli import app

    west, south, east, north = result.network.bounds
    # A test outline around the extract (not a real district boundary).
    gpd.GeoDataFrame({"name": ["test outline"]}, geometry=[shapely.box(west, south, east, north)], crs=4326).to_file(
        tmp_path / "d.geojson"
    )
    # The manifest records paths relative to the scenario's folder; the sites file lies beside the scenario.
    scenario = Path(result.sites.attrs["source_path"]).parent / result.manifest["scenario"]["path"]
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


# --- streets, site colours, labels, title, scale -----------------------------------------------------------------


def test_streets_of_the_walk_network_are_one_light_non_interactive_layer(english, result):
    drawn = features(overlays(english)["streets (walk network)"])
    assert len(drawn) == 1 and drawn[0]["geometry"]["type"] == "MultiLineString"
    lines = drawn[0]["geometry"]["coordinates"]
    metres = sum(polyline_lengths_m(np.array(c), np.array([0, len(c)]))[0] for c in lines)
    net = result.network
    # Each street once (parallel ways stay), simplified by 2 m: within 2 % of the network's walkable length.
    assert metres == pytest.approx(float(net.edge_length[net.edge_u != net.edge_v].sum()), rel=0.02)
    assert sum(len(c) for c in lines) < len(net.coords)  # simplified, and shared ends merged
    layer = next(c for c in overlays(english)["streets (walk network)"]._children.values())
    assert layer.options["interactive"] is False
    assert layer.style_function(drawn[0])["className"] == "cp-street"
    plain = coverage_map(result, basemap="none", lang="en", streets=False)
    assert "streets (walk network)" not in overlays(plain)


def test_each_sites_band_has_its_own_colour_and_its_name(english, result):
    bands = isochrone_bands(result, (5, 10))
    colours = site_colours(bands)
    drawn = features(overlays(english)["10-minute walk (each site)"])
    names = dict(zip(result.sites["id"], result.sites["name"]))
    ten = bands[bands["band_min"] == 10].reset_index(drop=True)
    assert [f["properties"]["site"] for f in drawn] == [names[s] for s in ten["site_id"]]
    assert [f["properties"]["_c"] for f in drawn] == [colours[s] for s in ten["site_id"]]
    assert {f["properties"]["minutes"] for f in drawn} == {"10 min"}
    # Sites whose bands overlap get different colours (the palette has more colours than any site has neighbours here).
    geoms = ten.geometry.to_numpy()
    pairs = [(a, b) for a in range(len(ten)) for b in range(a + 1, len(ten)) if shapely.intersects(geoms[a], geoms[b])]
    assert pairs and all(colours[ten["site_id"][a]] != colours[ten["site_id"][b]] for a, b in pairs)
    assert len(set(colours.values())) > 5
    html = english.get_root().render()
    assert "colour of each site" in html and all(f">{names[s]}</div>" in html for s in ten["site_id"])


def test_labels_are_permanent_for_sites_and_places_when_asked(result):
    plain = coverage_map(result, basemap="none", lang="en")
    labelled = coverage_map(result, basemap="none", lang="en", labels=True)
    tips = [c for m in markers(overlays(labelled)["existing sites"]) for c in m._children.values()]
    tips = [t for t in tips if isinstance(t, folium.Tooltip)]
    assert len(tips) == len(result.sites) and all(t.options["permanent"] for t in tips)
    assert not any(
        isinstance(t, folium.Tooltip) and t.options.get("permanent")
        for m in markers(overlays(plain)["existing sites"])
        for t in m._children.values()
    )
    html = labelled.get_root().render()
    assert "cp-label-place" in html and "permanent: true" in html and "cp-far" in html
    assert "cp-label-place" not in plain.get_root().render().split("</style>", 1)[1]


def test_page_has_a_title_and_a_metric_only_scale(result, english):
    html = english.get_root().render()
    title = re.search(r"<title>(.*?)</title>", html).group(1)
    assert title == "Beijing test · 10-minute walking coverage · walking at 4.5 km/h"
    assert '<div class="cp-title">10-minute walking coverage · walking at 4.5 km/h</div>' in html
    assert "L.control.scale({metric: true, imperial: false" in html and "L.control.scale()" not in html
    own = coverage_map(result, basemap="none", lang="en", title="</title><script>alert(1)</script> {{ 7*7 }}")
    page = own.get_root().render()
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &#123;&#123; 7*7 &#125;&#125;</title>" in page
    assert "<script>alert(1)" not in page and "49" not in re.search(r"<title>(.*?)</title>", page).group(1)


def test_legend_rows_name_the_layers_they_belong_to(english, tmp_path):
    html = save_map(english, tmp_path / "map.html", offline=False).read_text(encoding="utf-8")
    groups = {c.layer_name: c for c in english._children.values() if isinstance(c, folium.FeatureGroup)}
    rows = re.findall(r'<div class="cp-row" data-cp-layers="([^"]*)">(.*?)</div>\n', html)
    by_text = {re.sub(r"<[^>]+>", "", text): ids.split() for ids, text in rows}
    assert by_text["5-minute walk (each site)"] == [str(groups["5-minute walk (each site)"]._id)]
    assert by_text["10-minute walk (all sites)"] == [str(groups["10-minute walk (all sites)"]._id)]
    assert by_text["streets (walk network)"] == [str(groups["streets (walk network)"]._id)]
    assert any(
        t.startswith("≤ 5 min (covered)") and ids == [str(groups["demand places"]._id)] for t, ids in by_text.items()
    )
    assert "map.hasLayer(layers[k])" in html


# --- basemaps ----------------------------------------------------------------------------------------------------


def test_tianditu_needs_its_key_from_the_environment(result, monkeypatch):
    monkeypatch.delenv(TIANDITU_KEY_VARIABLE, raising=False)
    with pytest.raises(DataError, match=TIANDITU_KEY_VARIABLE):
        coverage_map(result, basemap="tianditu")
    monkeypatch.setenv(TIANDITU_KEY_VARIABLE, "abc'+alert(1)+'")
    with pytest.raises(DataError, match="not a Tianditu key"):
        coverage_map(result, basemap="tianditu")


def test_tianditu_tiles_carry_the_key_and_overlays_stay_wgs84(result, monkeypatch):
    key = "0123456789abcdef0123456789abcdef"  # a made-up key of the right shape; nothing is fetched
    monkeypatch.setenv(TIANDITU_KEY_VARIABLE, key)
    m = coverage_map(result, basemap="tianditu", lang="en")
    tiles = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert [t.tiles for t in tiles] == [
        f"https://t{{s}}.tianditu.gov.cn/DataServer?T={kind}_w&x={{x}}&y={{y}}&l={{z}}&tk={key}"
        for kind in ("vec", "cva")
    ]
    assert tiles[0].options["subdomains"] == "01234567"
    lon, lat = result.demand.geometry.x.iloc[0], result.demand.geometry.y.iloc[0]
    first = features(overlays(m)["demand places"])[0]["geometry"]["coordinates"]
    assert first == pytest.approx([round(lon, 5), round(lat, 5)], abs=1.1e-5)  # CGCS2000 ≈ WGS-84: no shift


# --- walking routes ----------------------------------------------------------------------------------------------


def test_walk_routes_follow_the_network_for_the_run_walk_distance(result):
    routes = walk_routes(result)
    demand = result.demand.reset_index(drop=True)
    reached = demand["walk_m"].notna()
    assert routes["place"].tolist() == np.flatnonzero(reached).tolist()
    # The network part plus the legs is the walk the run measured, and NetworkX finds the same shortest walk.
    assert np.abs(routes["route_m"] - routes["walk_m"]).max() < 0.06  # walk_m is rounded to 0.1 m
    net = result.network
    site_snap = snap_points(net, np.column_stack([result.sites.geometry.x, result.sites.geometry.y]))
    demand_snap = snap_points(net, np.column_stack([demand.geometry.x, demand.geometry.y]))
    walk = networkx_walk_distances(net, site_snap, demand_snap, include_access_legs=True)
    site_at = {s: i for i, s in enumerate(result.sites["id"])}
    expected = walk[routes["nearest_site_id"].map(site_at).to_numpy(), routes["place"].to_numpy()]
    assert np.allclose(routes["route_m"], expected, atol=1e-6)
    # The line is as long as that walk (great-circle metres), starts at the place and ends at its site.
    for row in routes.itertuples():
        xy = shapely.get_coordinates(row.geometry)
        assert polyline_lengths_m(xy, np.array([0, len(xy)]))[0] == pytest.approx(row.route_m, abs=1.0)
        assert xy[0] == pytest.approx([demand.geometry.x[row.place], demand.geometry.y[row.place]])
        site = result.sites.geometry.iloc[site_at[row.nearest_site_id]]
        assert xy[-1] == pytest.approx([site.x, site.y])
    straight = haversine_m(demand.geometry.x[routes["place"]], demand.geometry.y[routes["place"]], 0, 0)
    assert len(straight) == len(routes) and (routes["crow_m"] <= routes["route_m"] + 1e-6).all()


def test_the_page_carries_each_route_and_the_left_out_ones_in_order(result, english):
    routes = walk_routes(result)
    html = english.get_root().render()
    data = json.loads(re.search(r"var routes = (\[.*?\]);\n", html).group(1))
    left = json.loads(re.search(r"var left = (\[.*?\]);\n", html).group(1))
    assert [i for i, r in enumerate(data) if r] == routes["place"].tolist()
    for place, line in zip(routes["place"], routes.geometry):
        ints = np.cumsum(np.array(data[place]).reshape(-1, 2), axis=0) / 1e5  # lat, lon
        xy = shapely.get_coordinates(line)
        # Simplified by ~1.5 m and rounded to ~1 m: every drawn point lies on the route, and its ends are kept.
        assert ints[0] == pytest.approx(xy[0, ::-1], abs=1.1e-5) and ints[-1] == pytest.approx(xy[-1, ::-1], abs=1.1e-5)
        assert shapely.distance(line, shapely.points(ints[:, 1], ints[:, 0])).max() < 3e-5
    covered = result.demand["covered"].to_numpy()
    assert left == [p for p in routes["place"] if not covered[p]] and left
    capped = coverage_map(result, basemap="none", lang="en", routes="outside", max_routes=5).get_root().render()
    few = json.loads(re.search(r"var routes = (\[.*?\]);\n", capped).group(1))
    drawn = [i for i, r in enumerate(few) if r]
    walk = result.demand["walk_m"].to_numpy()
    farthest = np.argsort(-np.where(covered | np.isnan(walk), -1, walk), kind="stable")[:5]
    assert drawn == sorted(farthest.tolist())
    gaode = coverage_map(result, basemap="gaode", lang="en").get_root().render()
    shifted = json.loads(re.search(r"var routes = (\[.*?\]);\n", gaode).group(1))
    place = int(routes["place"].iloc[0])
    glon, glat = (float(v) for v in wgs84_to_gcj02(result.demand.geometry.x[place], result.demand.geometry.y[place]))
    assert np.array(shifted[place][:2]) / 1e5 == pytest.approx([glat, glon], abs=1.1e-5)  # routes move with Gaode
    none = coverage_map(result, basemap="none", lang="en", routes="none")
    assert "routes of places left out" not in overlays(none)
    assert "var routes" not in none.get_root().render()
    with pytest.raises(DataError, match="routes"):
        coverage_map(result, routes="some")


def test_the_same_map_renders_to_the_same_bytes(result, tmp_path):
    pages = [
        save_map(coverage_map(result, basemap="none", lang="zh", labels=True), tmp_path / f"{i}.html").read_bytes()
        for i in range(2)
    ]
    assert pages[0] == pages[1]
