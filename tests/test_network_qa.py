"""Network QA on real data: lines that cross without a shared vertex, per component, and as a GeoPackage layer.

The independent check: shapely on the raw lines of the file (road-line
layers: Jinan, Utrecht) or on the raw ways of an OSM extract (Monaco,
Beijing), pairs of lines that intersect at a point that is not a vertex of
both (for OSM ways: not a node both ways share), compared with what
`WalkNetwork.unnoded_crossings` finds on the loaded network and with the
per-component counts of `CoverageResult.network_qa`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import raw_file

import coverage_planner as cp
from coverage_planner.network._osm_reader import is_walkable
from coverage_planner.network.lines import read_line_network
from coverage_planner.outputs.tables import GPKG_LAYERS, write_gpkg

# The classes OSM's walk rules drop among those the two files hold (as in test_road_lines.py).
JINAN_DROPPED = {"motorway", "motorway_link"}
UTRECHT_DROPPED = {"motorway", "motorway_link", "cycleway", "construction", "proposed", "platform"}
NO = {"", "no", "0", "false"}


def rounded_lines(geoms: np.ndarray) -> np.ndarray:
    """Lines on the 1e-7 degree grid the loaders use (about 1 cm, OSM's precision)."""
    xy, line = shapely.get_coordinates(geoms, return_index=True)
    return shapely.linestrings(np.round(xy, 7), indices=line)


def reference_crossings(geoms: np.ndarray, vertices: list[set]) -> dict[tuple, set[int]]:
    """Point → lines meeting there where the point is not a vertex of both (pairs of distinct lines)."""
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    i, j = i[i < j], j[i < j]
    points, which = shapely.get_coordinates(shapely.intersection(geoms[i], geoms[j]), return_index=True)
    found: dict[tuple, set[int]] = {}
    for p, k in zip(map(tuple, np.round(points, 7).tolist()), which.tolist()):
        a, b = int(i[k]), int(j[k])
        if not (p in vertices[a] and p in vertices[b]):
            found.setdefault(p, set()).update((a, b))
    return found


def layer_reference(path, dropped: set[str]) -> tuple[pd.Index, dict[tuple, set[int]]]:
    """Crossings of a road-line file, by layer row."""
    frame = pyogrio.read_dataframe(path)
    frame = frame[~frame["highway"].isin(dropped)]
    geoms = rounded_lines(frame.geometry.to_numpy())
    real = shapely.length(geoms) > 0  # a line whose points all round together is no road (the loader drops it)
    rows, geoms = frame.index[real], geoms[real]
    vertices = [set(map(tuple, shapely.get_coordinates(g).tolist())) for g in geoms]
    found = reference_crossings(geoms, vertices)
    return rows, {p: {int(rows[k]) for k in lines} for p, lines in found.items()}


def points_of(crossings: gpd.GeoDataFrame) -> list[tuple]:
    return list(zip(crossings["lon"].round(7).tolist(), crossings["lat"].round(7).tolist()))


@pytest.fixture(scope="module")
def jinan():
    return read_line_network(raw_file("jinan_osm_roads/edges.shp"), class_column="highway")


@pytest.fixture(scope="module")
def jinan_crossings():
    return layer_reference(raw_file("jinan_osm_roads/edges.shp"), JINAN_DROPPED)[1]


def test_jinan_crossings_are_the_points_shapely_finds_on_the_raw_lines(jinan, jinan_crossings):
    crossings = jinan.unnoded_crossings()
    assert len(crossings) > 1000  # a city GIS layer noded at shared vertices only: many
    assert sorted(points_of(crossings)) == sorted(jinan_crossings)
    # Each point names two of the lines shapely finds there (ways are layer rows in a file without ids).
    for p, a, b in zip(points_of(crossings), crossings["way_a"], crossings["way_b"]):
        assert {int(a), int(b)} <= jinan_crossings[p]
    assert (crossings["marked"] == "").all()  # the file has no bridge/tunnel/layer columns
    assert jinan.source.details["unnoded_crossings"] == len(crossings)  # the manifest says the same
    frame = pyogrio.read_dataframe(raw_file("jinan_osm_roads/edges.shp"))
    assert (crossings["highway_a"].to_numpy() == frame["highway"].to_numpy()[crossings["way_a"]]).all()


def test_utrecht_crossings_are_the_points_shapely_finds_on_the_raw_segments():
    path = raw_file("utrecht_osm_segments.gpkg")
    network = read_line_network(path, class_column="highway")
    crossings = network.unnoded_crossings()
    rows, reference = layer_reference(path, UTRECHT_DROPPED)
    assert len(crossings) > 100
    assert sorted(points_of(crossings)) == sorted(reference)
    ways = pyogrio.read_dataframe(path, columns=["osm_way_id"])["osm_way_id"].to_numpy()
    for p, a, b, n in zip(points_of(crossings), crossings["way_a"], crossings["way_b"], crossings["lines"]):
        assert {int(a), int(b)} <= {int(ways[r]) for r in reference[p]}
        assert 2 <= n <= len(reference[p])  # lines drawn twice are one edge in the network


def test_network_qa_counts_crossings_and_dangling_ends_per_component(jinan, jinan_crossings, tmp_path):
    rng = np.random.default_rng(3)
    nodes = jinan.node_lonlat[rng.choice(jinan.n_nodes, 60, replace=False)]
    frame = gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(len(nodes))], "name": [f"p{i}" for i in range(len(nodes))]},
        geometry=shapely.points(nodes),
        crs=4326,
    )
    result = cp.compute_coverage(jinan, frame.iloc[:10], frame.iloc[10:], threshold_min=10, progress=False)
    qa = result.network_qa()
    # Reference: the component of each raw line (its edges'), and each shapely point counted for every
    # component among the lines through it.
    component_of_row = dict(zip(jinan.edge_way_id.tolist(), jinan.component[jinan.edge_u].tolist()))
    expected = pd.Series(
        # (a line drawn twice has edges only once: its twin stands for it)
        [c for lines in jinan_crossings.values() for c in {component_of_row[r] for r in lines if r in component_of_row}]
    ).value_counts()
    got = qa.set_index("component")["unnoded_crossings"]
    assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    assert (qa["bridge_tunnel_crossings"] == 0).all()
    assert qa.loc[qa["component"] > 0, "unnoded_crossings"].sum() > 0  # pieces cut off by missing nodes
    # Dangling ends per component, by NetworkX on the network's own edges.
    graph = nx.Graph(zip(jinan.edge_u.tolist(), jinan.edge_v.tolist()))
    dangling = sorted(sum(1 for n in part if graph.degree(n) == 1) for part in nx.connected_components(graph))
    assert sorted(qa["dangling_ends"]) == dangling
    # The report says it in one line, with the pointer to the layer a planner opens in QGIS.
    from coverage_planner.outputs.report import write_report

    write_report(result, tmp_path, lang="zh", pdf=False)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if "路网检查" in line)
    assert f"线相交但无共享节点 {len(jinan_crossings):,} 处" in row and "network\\_crossings" in row
    assert f"断头 {sum(dangling):,} 个" in row and f"{nx.number_connected_components(graph)} 个连通片段" in row


@pytest.fixture(scope="module")
def monaco_ways():
    """Walkable ways of the Monaco extract: line (on the 1e-7 grid), node ids at each vertex, tags."""
    ways = []
    for way in osmium.FileProcessor(str(raw_file("monaco.osm.pbf"))).with_locations():
        if not way.is_way() or not is_walkable(dict(way.tags)):
            continue
        nodes = [n for n in way.nodes if n.location.valid()]
        xy = np.round([(n.location.lon, n.location.lat) for n in nodes], 7)
        if len(nodes) >= 2 and (xy != xy[0]).any():
            node_at: dict[tuple, set[int]] = {}  # a way may hold two nodes at one spot
            for at, node in zip(map(tuple, xy.tolist()), nodes):
                node_at.setdefault(at, set()).add(node.ref)
            ways.append((way.id, shapely.LineString(xy), node_at, dict(way.tags)))
    return ways


def osm_label(a: dict, b: dict) -> str:
    """Why two ways may cross without a node: a bridge, a tunnel or different layers ('' when nothing explains it)."""
    for tag in ("bridge", "tunnel"):
        if a.get(tag, "").lower() not in NO or b.get(tag, "").lower() not in NO:
            return tag
    layer = [int(float(t.get("layer", 0) or 0)) for t in (a, b)]
    return "layer" if layer[0] != layer[1] else ""


def test_osm_crossings_are_bridges_tunnels_and_layers_labelled_from_their_tags(monaco, monaco_ways):
    geoms = np.array([w[1] for w in monaco_ways])
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    i, j = i[i < j], j[i < j]
    points, which = shapely.get_coordinates(shapely.intersection(geoms[i], geoms[j]), return_index=True)
    # On OSM a vertex is a node: a point counts unless one node both ways share lies there.
    reference: dict[tuple, set[str]] = {}
    for p, k in zip(map(tuple, np.round(points, 7).tolist()), which.tolist()):
        (_, _, nodes_a, tags_a), (_, _, nodes_b, tags_b) = monaco_ways[i[k]], monaco_ways[j[k]]
        if not nodes_a.get(p, set()) & nodes_b.get(p, set()):
            reference.setdefault(p, set()).add(osm_label(tags_a, tags_b))
    crossings = monaco.unnoded_crossings()
    assert sorted(points_of(crossings)) == sorted(reference)
    labels = dict(zip(points_of(crossings), crossings["marked"]))
    for p, kinds in reference.items():
        assert labels[p] == "" if "" in kinds else labels[p] in kinds
    counts = crossings["marked"].value_counts()
    assert counts["bridge"] > 20 and counts["tunnel"] > 20 and counts["layer"] > 10
    assert set(crossings["way_a"]) | set(crossings["way_b"]) <= {w[0] for w in monaco_ways}


def test_the_geopackage_holds_the_crossings_as_points_with_a_style(monaco, tmp_path):
    rng = np.random.default_rng(0)
    nodes = monaco.node_lonlat[rng.choice(monaco.n_nodes, 40, replace=False)]
    frame = gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(40)], "name": "x"}, geometry=shapely.points(nodes), crs=4326
    )
    result = cp.compute_coverage(monaco, frame.iloc[:5], frame.iloc[5:], threshold_min=10, progress=False)
    path = write_gpkg(result, tmp_path / "coverage.gpkg", lang="en")
    assert [str(n) for n in pyogrio.list_layers(path)[:, 0]] == list(GPKG_LAYERS)
    layer = pyogrio.read_dataframe(path, layer="network_crossings")
    want = monaco.unnoded_crossings()
    assert len(layer) == len(want) > 100
    assert set(shapely.get_type_id(layer.geometry.to_numpy())) == {shapely.GeometryType.POINT}
    assert {"way_a", "highway_a", "way_b", "highway_b", "marked"} <= set(layer.columns)
    assert (layer["marked"].fillna("") == want["marked"]).all()
    assert np.allclose(shapely.get_coordinates(layer.geometry.to_numpy()), want[["lon", "lat"]].to_numpy())
    qa = pyogrio.read_dataframe(path, layer="network_qa")
    assert qa["unnoded_crossings"].sum() >= len(want) and qa["bridge_tunnel_crossings"].sum() > 0
    styles = pyogrio.read_dataframe(path, layer="layer_styles")
    style = ET.fromstring(styles.loc[styles["f_table_name"] == "network_crossings", "styleQML"].iloc[0])
    rules = [rule.get("filter") for rule in style.iter("rule")]
    assert rules == ["coalesce(\"marked\", '') = ''", "ELSE"]


def test_a_network_whose_lines_all_meet_at_nodes_has_no_crossings(tmp_path):
    lines = gpd.GeoDataFrame(
        {"highway": ["residential", "residential"]},
        geometry=[
            shapely.LineString([(116.35, 40.000), (116.35, 40.001), (116.35, 40.002)]),
            shapely.LineString([(116.349, 40.001), (116.35, 40.001), (116.351, 40.001)]),
        ],
        crs=4326,
    )
    lines.to_file(tmp_path / "x.geojson", driver="GeoJSON")
    noded = read_line_network(tmp_path / "x.geojson")
    assert len(noded.unnoded_crossings()) == 0
    # The QA columns say 0 and the GeoPackage gets an empty point layer.
    places = gpd.GeoDataFrame(
        {"id": ["a", "b"], "name": ["a", "b"]},
        geometry=shapely.points([(116.35, 40.0005), (116.3505, 40.001)]),
        crs=4326,
    )
    result = cp.compute_coverage(noded, places.iloc[:1], places.iloc[1:], threshold_min=10, progress=False)
    assert result.network_qa()["unnoded_crossings"].tolist() == [0]
    path = write_gpkg(result, tmp_path / "coverage.gpkg")
    assert pyogrio.read_info(path, layer="network_crossings")["geometry_type"] == "Point"
    assert len(pyogrio.read_dataframe(path, layer="network_crossings")) == 0
    # The same X without the shared vertex: one crossing, at the middle.
    lines.geometry = [shapely.LineString([(116.35, 40.000), (116.35, 40.002)]), lines.geometry.iloc[1]]
    lines.to_file(tmp_path / "y.geojson", driver="GeoJSON")
    crossing = read_line_network(tmp_path / "y.geojson").unnoded_crossings()
    assert points_of(crossing) == [(116.35, 40.001)] and crossing["lines"].tolist() == [2]


def test_a_line_layers_bridge_column_labels_its_crossings_and_reads_no_cost_tags(tmp_path):
    # Two real-sized streets crossing; the east-west one is a bridge, and a third street crosses both unnoded.
    lines = gpd.GeoDataFrame(
        {"highway": ["residential", "primary", "service"], "bridge": [None, "yes", "no"]},
        geometry=[
            shapely.LineString([(116.35, 40.000), (116.35, 40.002)]),
            shapely.LineString([(116.349, 40.001), (116.351, 40.001)]),
            shapely.LineString([(116.349, 40.0015), (116.351, 40.0015)]),
        ],
        crs=4326,
    )
    lines.to_file(tmp_path / "x.geojson", driver="GeoJSON")
    network = read_line_network(tmp_path / "x.geojson", class_column="highway")
    crossings = network.unnoded_crossings()
    assert dict(zip(points_of(crossings), crossings["marked"])) == {(116.35, 40.001): "bridge", (116.35, 40.0015): ""}
    assert network.source.details["unnoded_crossings"] == 1  # the loader leaves bridges out of its count
    elderly = network.for_profile(cp.get_profile("elderly"))
    assert elderly.costs.summary["tags_read"] is False  # a bridge column is no surface, lit or sidewalk tag


def test_crossings_kept_in_the_cache_folder_come_back_equal_and_follow_the_tags(tmp_path, monkeypatch):
    import dataclasses

    from geopandas.testing import assert_geodataframe_equal

    from coverage_planner._errors import CacheWarning
    from coverage_planner.network import graph

    path = raw_file("monaco.osm.pbf")
    found = graph.WalkNetwork.from_file(path).unnoded_crossings(tmp_path)
    (stored,) = (tmp_path / "networks").glob("crossings-*.arrays")
    assert len(found) > 0 and (found["marked"] != "").any()

    fresh = graph.WalkNetwork.from_file(path)  # a new network object: nothing kept in memory
    with monkeypatch.context() as patched:
        patched.setattr(graph, "_unnoded_crossings", lambda net: pytest.fail("searched again"))
        kept = fresh.unnoded_crossings(tmp_path)
    assert_geodataframe_equal(kept, found)
    assert kept.dtypes.to_dict() == found.dtypes.to_dict()

    # No bridge, tunnel or layer tags: another key, so the points are searched again and labelled anew.
    blank = np.full(fresh.n_edges, "", dtype=object)
    untagged = dataclasses.replace(
        fresh, edge_tags={**fresh.edge_tags, "bridge": blank, "tunnel": blank, "layer": blank}
    )
    relabelled = untagged.unnoded_crossings(tmp_path)
    assert len(list((tmp_path / "networks").glob("crossings-*.arrays"))) == 2
    assert (relabelled["marked"] == "").all() and len(relabelled) == len(found)

    stored.write_bytes(stored.read_bytes()[:-30])
    with pytest.warns(CacheWarning, match="crossings are searched again"):
        again = graph.WalkNetwork.from_file(path).unnoded_crossings(tmp_path)
    assert_geodataframe_equal(again, found)
