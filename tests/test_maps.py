"""Coverage maps: layers, one marker per place, colours, popups, legend, placeholders, GCJ-02, offline HTML, size."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner import compute_coverage, read_places, run_scenario
from coverage_planner.outputs._offline_assets import OfflineAssetError, asset, external_references
from coverage_planner.outputs.isochrones import isochrone_bands
from coverage_planner.outputs.maps import OUTSIDE, UNREACHED, coverage_map, default_bands, demand_classes, save_map
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
    assert popup.aliases == ["name", "type", "nearest site", "walk minutes", "to the street (m)", "status"]
    first = features(layer)[0]["properties"]
    assert {"name", "type", "nearest", "walk_min", "snap_m", "status"} <= set(first)


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
    assert popup.aliases == ["名称", "类型", "区", "社区", "最近站点", "步行分钟", "距道路 (米)", "状态"]


def test_legend_counts_places_in_each_class(english, result):
    html = english.get_root().render()
    legend = re.search(r'<details id="cp-legend".*?</details>', html, re.DOTALL).group(0)
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
