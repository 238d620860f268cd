"""coverage.gpkg for QGIS: walk-time band layers (valid, and holding what the walk reached, by NetworkX), QGIS styles
in ``layer_styles`` (rules checked by SQLite on the file itself, and by QGIS when installed), the same bytes on a rerun,
and coverage.csv's lon/lat.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner import run_scenario, snap_points
from coverage_planner.outputs.gpkg_styles import rgba
from coverage_planner.outputs.isochrones import isochrone_bands, site_colours
from coverage_planner.outputs.maps import demand_classes
from coverage_planner.outputs.tables import GPKG_DATE, GPKG_LAYERS, write_gpkg, write_outputs

QGIS_PYTHON = shutil.which("python3", path="/usr/bin")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Real amenities (sites) and buildings (demand) of the Beijing Haidian extract, 10-minute threshold."""
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("gpkg"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=10
    )
    return run_scenario(toml)


@pytest.fixture(scope="module")
def out(result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("out")
    write_outputs(result, folder, lang="en")
    return folder


def _layer(out, name):
    return pyogrio.read_dataframe(out / "coverage.gpkg", layer=name)


def test_the_geopackage_has_band_layers_beside_sites_demand_and_network_qa(out, result):
    assert [str(n) for n in pyogrio.list_layers(out / "coverage.gpkg")[:, 0]] == list(GPKG_LAYERS)
    by_site, union = _layer(out, "bands_by_site"), _layer(out, "bands_union")
    assert list(by_site.columns) == ["site_id", "site_name", "minutes", "geometry"]
    assert list(union.columns) == ["minutes", "geometry"]
    snapped = result.sites.loc[result.sites["snap_edge"] >= 0, "id"]
    assert sorted(by_site["site_id"]) == sorted(list(snapped) * 2)  # one polygon per site and band
    assert sorted(by_site["minutes"].unique()) == [5.0, 10.0] and sorted(union["minutes"]) == [5.0, 10.0]
    assert by_site["minutes"].is_monotonic_decreasing  # large bands first: small ones draw on top
    for frame in (by_site, union):
        geoms = frame.geometry.to_numpy()
        assert shapely.is_valid(geoms).all() and (shapely.area(geoms) > 0).all()
        assert set(shapely.get_type_id(geoms)) == {shapely.GeometryType.MULTIPOLYGON}
        assert frame.crs.to_epsg() == 4326
    names = dict(zip(result.sites["id"], result.sites["name"]))
    assert all(names[s] == n for s, n in zip(by_site["site_id"], by_site["site_name"]))


def _networkx_node_metres(network, snap, k, cutoff):
    """Walk metres from site k's snap point to every node, by NetworkX on the network's own OSM graph."""
    g = nx.Graph()
    for a, b, length in network.graph.edges(data="length"):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > length):
            g.add_edge(a, b, weight=length)
    ids = network.node_ids
    e = int(snap.edge[k])
    u, v = int(ids[network.edge_u[e]]), int(ids[network.edge_v[e]])
    g.add_edge("site", u, weight=float(snap.from_u_m[k]))
    to_v = float(snap.to_v_m[k])
    g.add_edge("site", v, weight=min(to_v, g["site"][v]["weight"]) if g.has_edge("site", v) else to_v)
    found = nx.single_source_dijkstra_path_length(g, "site", cutoff=cutoff, weight="weight")
    return np.array([found.get(int(n), np.inf) for n in ids])


def test_each_band_contains_the_network_points_the_walk_reached_and_little_else(out, result):
    net = result.network
    by_site = _layer(out, "bands_by_site").to_crs(net.crs)
    union = _layer(out, "bands_union").to_crs(net.crs).set_index("minutes")
    sites = result.sites.reset_index(drop=True)
    snap = snap_points(net, np.column_stack([sites.geometry.x, sites.geometry.y]), max_snap_m=np.inf)
    nodes = shapely.points(*net.to_metric.transform(net.node_lonlat[:, 0], net.node_lonlat[:, 1]))
    mid = shapely.line_interpolate_point(net.edges_metric, 0.5, normalized=True)
    length = net.edge_length
    checked = 0
    for k, site in enumerate(sites["id"]):
        if sites["snap_edge"][k] < 0:
            continue
        metres = _networkx_node_metres(net, snap, k, 10 * result.metres_per_minute)
        du, dv = metres[net.edge_u], metres[net.edge_v]
        for minutes in (5.0, 10.0):
            budget = minutes * result.metres_per_minute - float(snap.leg_m[k])  # the run counted access legs
            band = by_site.loc[(by_site["site_id"] == site) & (by_site["minutes"] == minutes), "geometry"].iloc[0]
            reached = nodes[metres <= budget - 0.5]
            half = mid[np.minimum(du, dv) + length / 2 <= budget - 0.5]  # edge midpoints the walk passed
            assert shapely.contains(band, reached).all() and shapely.contains(band, half).all()
            assert shapely.contains(union.loc[minutes, "geometry"], reached).all()
            checked += len(reached) + len(half)
            # Nothing far beyond: the band lies within the strip round every edge touched within budget.
            touched = net.edges_metric[(du <= budget) | (dv <= budget) | (np.arange(net.n_edges) == snap.edge[k])]
            ends = np.array([[sites.geometry.x[k], sites.geometry.y[k]], snap.point_lonlat[k]])
            leg = shapely.linestrings(np.column_stack(net.to_metric.transform(ends[:, 0], ends[:, 1])))
            strip = shapely.buffer(shapely.union_all([*touched, leg]), 25 + 3 + 1)  # streets and the site's leg
            assert shapely.area(shapely.difference(band, strip)) < 0.001 * shapely.area(band)
    assert checked > 1000


def _styles(out) -> pd.DataFrame:
    return pyogrio.read_dataframe(out / "coverage.gpkg", layer="layer_styles", read_geometry=False)


def test_every_layer_has_a_default_qgis_style_matched_the_way_qgis_looks_it_up(out):
    styles = _styles(out)
    with sqlite3.connect(out / "coverage.gpkg") as db:
        geometry_columns = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
    assert sorted(styles["f_table_name"]) == sorted(set(GPKG_LAYERS) - {"layer_styles"})
    for row in styles.itertuples():
        assert row.f_table_schema == "" and row.useAsDefault
        assert row.f_geometry_column == geometry_columns[row.f_table_name]
        root = ET.fromstring(row.styleQML)
        assert root.tag == "qgis" and root.find("renderer-v2") is not None
        for symbol in root.iter("symbol"):
            layer = symbol.find("layer")
            options = {o.get("name"): o.get("value") for o in layer.find("Option").findall("Option")}
            assert options == {p.get("k"): p.get("v") for p in layer.findall("prop")}  # both QGIS formats agree
    sites = ET.fromstring(styles.set_index("f_table_name").loc["sites", "styleQML"])
    assert sites.get("labelsEnabled") == "1" and sites.find(".//text-style").get("fieldName") == "name"


def _rules(out, layer):
    root = ET.fromstring(_styles(out).set_index("f_table_name").loc[layer, "styleQML"])
    symbols = {s.get("name"): s for s in root.iter("symbol")}
    colour = {n: s.find("layer").find("Option").find("Option[@name='color']") for n, s in symbols.items()}
    return [(r.get("filter"), r.get("label"), colour[r.get("symbol")].get("value")) for r in root.iter("rule")]


def test_demand_rules_sort_every_place_into_one_class_with_the_maps_colour(out, result):
    """The rule filters run as SQL on the GeoPackage itself (QGIS's simple expressions are valid SQLite)."""
    rules = _rules(out, "demand")
    classes = demand_classes(result, [5, 10]).set_index(result.demand["demand_id"])
    with sqlite3.connect(out / "coverage.gpkg") as db:
        matched = {
            label: [r[0] for r in db.execute(f"SELECT demand_id FROM demand WHERE {expression}")]
            for expression, label, _ in rules
        }
        total = db.execute("SELECT count(*) FROM demand").fetchone()[0]
    everyone = [i for ids in matched.values() for i in ids]
    assert len(everyone) == len(set(everyone)) == total == len(result.demand)
    for _expression, label, colour in rules:
        assert matched[label], label
        assert {rgba(c, 1.0) for c in classes.loc[matched[label], "colour"]} == {colour}, label
    assert [label for _, label, _ in rules] == [
        "≤ 5 min (covered)",
        "5–10 min (covered)",
        "> 10 min (not covered)",
        "no site reached / off the network",
    ]


def test_band_styles_give_each_site_the_maps_colour_and_each_union_band_a_rule(out, result):
    root = ET.fromstring(_styles(out).set_index("f_table_name").loc["bands_by_site", "styleQML"])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "site_id"
    colours = site_colours(isochrone_bands(result, [5, 10]))
    symbols = {s.get("name"): s for s in root.iter("symbol")}
    names = dict(zip(result.sites["id"], result.sites["name"]))
    for category in renderer.iter("category"):
        fill = symbols[category.get("symbol")].find("layer").find("Option").find("Option[@name='color']")
        assert fill.get("value") == rgba(colours[category.get("value")], 0.12)
        assert category.get("label") == names[category.get("value")]
    assert sorted(c.get("value") for c in renderer.iter("category")) == sorted(colours)
    with sqlite3.connect(out / "coverage.gpkg") as db:
        for expression, _label, _colour in _rules(out, "bands_union"):
            assert db.execute(f"SELECT count(*) FROM bands_union WHERE {expression}").fetchone()[0] == 1


def test_hostile_site_names_stay_text_in_the_styles(result, tmp_path):
    name = "</category><x a='\"'>& {{ 7*7 }}"
    hostile = dataclasses.replace(
        result, sites=result.sites.assign(name=[f"{name} {i}" for i in range(len(result.sites))])
    )
    path = write_gpkg(hostile, tmp_path / "coverage.gpkg")
    qml = _styles(tmp_path).set_index("f_table_name").loc["bands_by_site", "styleQML"]
    labels = [c.get("label") for c in ET.fromstring(qml).iter("category")]
    assert labels and all(label.startswith(name) for label in labels)
    assert path.is_file()


def test_the_geopackage_is_byte_identical_across_reruns(result, tmp_path):
    first = write_gpkg(result, tmp_path / "a.gpkg").read_bytes()
    time.sleep(1.1)  # a clock-based timestamp would now differ
    second = write_gpkg(result, tmp_path / "b.gpkg").read_bytes()
    assert first == second
    with sqlite3.connect(tmp_path / "a.gpkg") as db:
        dates = {d for (d,) in db.execute("SELECT last_change FROM gpkg_contents")}
    assert dates == {GPKG_DATE}
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None  # the pin is undone afterwards


def test_coverage_csv_gives_each_place_its_wgs84_lon_lat(out, result):
    table = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    columns = list(table.columns)
    assert columns[columns.index("status") + 1 : columns.index("status") + 3] == ["lon", "lat"]
    assert np.allclose(table["lon"], result.demand.geometry.x, atol=5e-7)
    assert np.allclose(table["lat"], result.demand.geometry.y, atol=5e-7)
    assert table["lon"].dtype == float and table["lat"].dtype == float


_QGIS_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsVectorLayer, QgsFeatureRequest
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in sys.argv[2:]:
    layer = QgsVectorLayer(f"{sys.argv[1]}|layername={name}", name, "ogr")
    r = layer.renderer()
    info = {"valid": layer.isValid(), "renderer": r.type(), "labels": layer.labelsEnabled()}
    if r.type() == "RuleRenderer":
        info["counts"] = {
            x.label(): sum(1 for _ in layer.getFeatures(QgsFeatureRequest().setFilterExpression(x.filterExpression())))
            for x in r.rootRule().children() if not x.isElse()
        }
    if r.type() == "categorizedSymbol":
        info["categories"] = {c.value(): c.symbol().color().name() for c in r.categories()}
    out[name] = info
print("RESULT " + json.dumps(out))
app.exitQgis()
"""


def _has_qgis() -> bool:
    if QGIS_PYTHON is None:
        return False
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.skipif(not _has_qgis(), reason="QGIS is not installed (Debian packages 'python3-qgis qgis-providers')")
def test_qgis_opens_every_layer_styled(out, result, tmp_path):
    script = tmp_path / "qgis_check.py"
    script.write_text(_QGIS_SCRIPT, encoding="utf-8")
    layers = ["sites", "demand", "network_qa", "network_crossings", "bands_by_site", "bands_union"]
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run(
        [QGIS_PYTHON, str(script), str(out / "coverage.gpkg"), *layers],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, done.stderr[-2000:]
    seen = json.loads(line[len("RESULT ") :])
    assert all(seen[name]["valid"] for name in layers)
    assert {name: seen[name]["renderer"] for name in layers} == {
        "sites": "singleSymbol",
        "demand": "RuleRenderer",
        "network_qa": "RuleRenderer",
        "network_crossings": "RuleRenderer",
        "bands_by_site": "categorizedSymbol",
        "bands_union": "RuleRenderer",
    }
    assert seen["sites"]["labels"] is True
    covered = result.demand["covered"].to_numpy()
    walk = result.demand["walk_min"].to_numpy()
    assert seen["demand"]["counts"] == {
        "≤ 5 min (covered)": int((covered & (walk <= 5)).sum()),
        "5–10 min (covered)": int((covered & (walk > 5)).sum()),
        "> 10 min (not covered)": int((~covered & ~np.isnan(walk)).sum()),
        "no site reached / off the network": int(np.isnan(walk).sum()),
    }
    colours = site_colours(isochrone_bands(result, [5, 10]))
    assert seen["bands_by_site"]["categories"] == colours
