"""Walk networks from road-line layers (shapefile, GeoPackage, GeoJSON) and OSMnx GeoPackages, on real data.

The independent check throughout: a NetworkX graph built straight from the
file's line coordinates (every vertex a node, rounded to 1e-7 degrees; every
segment an edge weighted by its great-circle length on the sphere of mean
radius 6,371,008.8 m, the same length definition our network uses), and
NetworkX Dijkstra between junction vertices, compared with the walk metres
`AccessMatrix.compute` gives on the loaded network.
"""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import raw_file

from coverage_planner._errors import NetworkError, ScenarioError
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.config import Scenario
from coverage_planner.network.download import load_network
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.network.lines import read_line_network
from coverage_planner.places.china import wgs84_to_gcj02

RADIUS_M = 6_371_008.8
# What OSM's walk rules drop among the classes these two files hold (motorways, cycleways without
# foot=*, construction sites, proposed roads, platforms), written out here rather than imported.
JINAN_DROPPED = {"motorway", "motorway_link"}
UTRECHT_DROPPED = {"motorway", "motorway_link", "cycleway", "construction", "proposed", "platform"}


def haversine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = (np.radians(c) for c in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * RADIUS_M * np.arcsin(np.sqrt(h))


def reference_graph(geoms) -> nx.Graph:
    """Every vertex a node (rounded lon/lat tuple), every segment an edge (great-circle metres)."""
    xy, line = shapely.get_coordinates(np.asarray(geoms), return_index=True)
    xy = np.round(xy, 7)
    same = (line[1:] == line[:-1]) & (xy[1:] != xy[:-1]).any(axis=1)
    a, b = xy[:-1][same], xy[1:][same]
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(map(tuple, a.tolist()), map(tuple, b.tolist()), haversine(a, b).tolist()))
    return graph


def junction_pairs(graph: nx.Graph, *, n_sites: int, per_site: int, near_deg: float, seed: int = 0):
    """Random junction vertices (degree ≠ 2) as sites, and for each some junctions nearby as places."""
    rng = np.random.default_rng(seed)
    junctions = np.array([n for n, d in graph.degree() if d != 2])
    sites = junctions[rng.choice(len(junctions), n_sites, replace=False)]
    places = []
    for site in sites:
        near = junctions[np.abs(junctions - site).max(axis=1) < near_deg]
        places.extend(near[rng.choice(len(near), min(per_site, len(near)), replace=False)].tolist())
    return sites, np.array(places)


def walk_metres(network: WalkNetwork, sites, places, cutoff: float) -> np.ndarray:
    matrix = AccessMatrix.compute(network, snap_points(network, sites), snap_points(network, places), cutoff)
    out = np.full(matrix.shape, np.inf)
    out[matrix.rows, matrix.cols] = matrix.metres
    return out


def reference_metres(graph: nx.Graph, sites, places, cutoff: float) -> np.ndarray:
    out = np.full((len(sites), len(places)), np.inf)
    for i, site in enumerate(sites):
        reach = nx.single_source_dijkstra_path_length(graph, tuple(site), cutoff=cutoff)
        out[i] = [reach.get(tuple(p), np.inf) for p in places]
    return out


def assert_same_walks(got: np.ndarray, ref: np.ndarray, cutoff: float, *, at_least: int = 300) -> None:
    inside = ref < cutoff - 1
    outside = ref > cutoff + 1
    assert inside.sum() >= at_least
    assert np.abs(got[inside] - ref[inside]).max() < 1.0
    assert np.isinf(got[outside]).all()


def lines_of(path, dropped: set[str]) -> gpd.GeoDataFrame:
    frame = pyogrio.read_dataframe(path)
    return frame[~frame["highway"].isin(dropped)]


@pytest.fixture(scope="module")
def jinan_path():
    return raw_file("jinan_osm_roads/edges.shp")


@pytest.fixture(scope="module")
def utrecht_path():
    return raw_file("utrecht_osm_segments.gpkg")


@pytest.fixture(scope="module")
def utrecht(utrecht_path):
    return read_line_network(utrecht_path, class_column="highway")


@pytest.fixture(scope="module")
def jinan(jinan_path):
    return read_line_network(jinan_path, class_column="highway")


@pytest.fixture(scope="module")
def jinan_reference(jinan_path):
    return reference_graph(lines_of(jinan_path, JINAN_DROPPED).geometry.to_numpy())


@pytest.fixture(scope="module")
def jinan_pairs(jinan_reference):
    return junction_pairs(jinan_reference, n_sites=30, per_site=12, near_deg=0.01)


# ------------------------------------------------------------- walk metres
def test_jinan_walk_metres_equal_networkx_on_the_same_lines(jinan, jinan_reference, jinan_pairs):
    sites, places = jinan_pairs
    got = walk_metres(jinan, sites, places, 3000)
    assert_same_walks(got, reference_metres(jinan_reference, sites, places, 3000), 3000)
    details = jinan.source.details
    assert details["crs_basis"].startswith("assumed WGS-84")  # the shapefile has no .prj
    assert jinan.source.kind == "line-layer" and details["noding"] == "vertices"


def test_utrecht_walk_metres_equal_networkx_on_the_same_segments(utrecht, utrecht_path):
    network = utrecht
    graph = reference_graph(lines_of(utrecht_path, UTRECHT_DROPPED).geometry.to_numpy())
    sites, places = junction_pairs(graph, n_sites=30, per_site=12, near_deg=0.006, seed=1)
    got = walk_metres(network, sites, places, 2000)
    assert_same_walks(got, reference_metres(graph, sites, places, 2000), 2000)
    # The reference's dead ends are the QA report's dangling ends.
    assert network.quality_report()["dangling_ends"].sum() == sum(1 for _, d in graph.degree() if d == 1)
    assert network.source.details["way_id"] == "osm_way_id"
    assert set(network.edge_way_id) <= set(pyogrio.read_dataframe(utrecht_path)["osm_way_id"])


# ------------------------------------------------------------ class filter
def test_class_filter_drops_motorways_and_keeps_the_rest(jinan, jinan_path, utrecht, utrecht_path):
    raw = pyogrio.read_dataframe(jinan_path)
    counts = raw["highway"].value_counts()
    assert jinan.source.details["classes_dropped"] == {c: int(counts[c]) for c in JINAN_DROPPED}
    assert not JINAN_DROPPED & set(jinan.edge_highway)
    assert set(jinan.edge_highway) == set(counts.index) - JINAN_DROPPED
    # Total length: every distinct segment of the kept lines once (two-way roads are drawn twice here).
    kept = raw[~raw["highway"].isin(JINAN_DROPPED)].geometry.to_numpy()
    assert jinan.edge_length.sum() == pytest.approx(distinct_segment_metres(kept), rel=1e-9)

    counts = pyogrio.read_dataframe(utrecht_path, columns=["highway"])["highway"].value_counts()
    network = utrecht
    assert network.source.details["classes_dropped"] == {c: int(counts[c]) for c in UTRECHT_DROPPED}
    assert {"footway", "pedestrian", "steps", "path"} <= set(network.edge_highway)
    kept = lines_of(utrecht_path, UTRECHT_DROPPED).geometry.to_numpy()
    assert network.edge_length.sum() == pytest.approx(distinct_segment_metres(kept), rel=1e-9)


def distinct_segment_metres(geoms) -> float:
    xy, line = shapely.get_coordinates(geoms, return_index=True)
    xy = np.round(xy, 7)
    same = (line[1:] == line[:-1]) & (xy[1:] != xy[:-1]).any(axis=1)
    ends = np.sort(np.stack([xy[:-1][same], xy[1:][same]], axis=1).view(complex)[..., 0], axis=1)
    ends = np.unique(ends, axis=0)
    a = np.column_stack([ends[:, 0].real, ends[:, 0].imag])
    b = np.column_stack([ends[:, 1].real, ends[:, 1].imag])
    return float(haversine(a, b).sum())


def test_unknown_classes_stay_walkable_and_are_counted(jinan, jinan_path, tmp_path):
    frame = pyogrio.read_dataframe(jinan_path)
    renamed = frame["highway"].replace({"living_street": "支路", "unclassified": ""})
    frame["highway"] = renamed
    with pytest.warns(UserWarning, match="crs"):
        pyogrio.write_dataframe(frame, tmp_path / "renamed.shp")
    network = read_line_network(tmp_path / "renamed.shp", class_column="HIGHWAY")  # DBF names fold case
    unknown = network.source.details["unknown_classes"]
    assert unknown == {"支路": int((renamed == "支路").sum()), "(empty)": int((renamed == "").sum())}
    assert network.edge_length.sum() == pytest.approx(jinan.edge_length.sum(), rel=1e-12)


# ------------------------------------------------------- coordinate systems
def test_gcj02_copy_gives_the_same_walk_metres(jinan, jinan_path, jinan_pairs, tmp_path):
    frame = pyogrio.read_dataframe(jinan_path)
    frame["geometry"] = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.column_stack(wgs84_to_gcj02(*xy.T)))
    with pytest.warns(UserWarning, match="crs"):  # no CRS, no .prj, like the original
        pyogrio.write_dataframe(frame, tmp_path / "jinan_gcj02.shp")
    shifted = read_line_network(tmp_path / "jinan_gcj02.shp", class_column="highway", coordinate_system="gcj02")
    assert (shifted.n_nodes, shifted.n_edges) == (jinan.n_nodes, jinan.n_edges)
    sites, places = jinan_pairs
    assert_same_walks(walk_metres(shifted, sites, places, 3000), walk_metres(jinan, sites, places, 3000), 3000)
    # Read as WGS-84, the same file sits hundreds of metres off: the conversion is what lines it up.
    unconverted = read_line_network(tmp_path / "jinan_gcj02.shp", class_column="highway")
    offset = np.abs(np.subtract(unconverted.bounds, jinan.bounds))
    assert offset.max() > 0.003 and np.abs(np.subtract(shifted.bounds, jinan.bounds)).max() < 1e-6
    assert np.median(snap_points(shifted, sites).leg_m) < 0.01


def test_missing_crs_on_projected_coordinates_is_a_clear_error(jinan, jinan_path, jinan_pairs, tmp_path):
    projected = pyogrio.read_dataframe(jinan_path).set_crs(4326).to_crs(32650)
    frame = gpd.GeoDataFrame(projected.drop(columns="geometry"), geometry=projected.geometry.to_numpy())
    with pytest.warns(UserWarning, match="crs"):  # written without a .prj on purpose
        pyogrio.write_dataframe(frame, tmp_path / "utm_no_prj.shp")
    assert not (tmp_path / "utm_no_prj.prj").exists()
    with pytest.raises(NetworkError, match=r"utm_no_prj\.shp.*declares no coordinate reference system.*crs"):
        read_line_network(tmp_path / "utm_no_prj.shp")
    with pytest.raises(NetworkError, match="coordinate_system"):
        read_line_network(tmp_path / "utm_no_prj.shp", crs="gcj02")
    given = read_line_network(tmp_path / "utm_no_prj.shp", class_column="highway", crs="EPSG:32650")
    assert given.source.details["crs"] == "EPSG:32650"
    sites, places = jinan_pairs
    assert_same_walks(walk_metres(given, sites, places, 3000), walk_metres(jinan, sites, places, 3000), 3000)


# ------------------------------------------------------------------- noding
def test_crossings_noding_equals_networkx_on_geos_noded_lines(jinan_path, jinan, jinan_pairs):
    crossed = read_line_network(jinan_path, class_column="highway", noding="crossings")
    noded = shapely.get_parts(shapely.node(shapely.multilinestrings(lines_of(jinan_path, JINAN_DROPPED).geometry)))
    graph = reference_graph(noded)
    sites, places = jinan_pairs
    assert_same_walks(walk_metres(crossed, sites, places, 3000), reference_metres(graph, sites, places, 3000), 3000)
    # Every crossing the vertex noding reported became a node, and nothing else did.
    assert 100 < crossed.n_nodes - jinan.n_nodes <= jinan.source.details["unnoded_crossings"]
    assert crossed.source.details["crossings_noded"] == jinan.source.details["unnoded_crossings"]


def test_unnoded_crossings_counted_as_brute_force_finds_them(jinan_path, tmp_path):
    frame = pyogrio.read_dataframe(jinan_path, bbox=(117.00, 36.65, 117.02, 36.665))
    frame = frame[~frame["highway"].isin(JINAN_DROPPED)].reset_index(drop=True)
    with pytest.warns(UserWarning, match="crs"):  # written without a .prj on purpose
        pyogrio.write_dataframe(frame, tmp_path / "part.shp")
    found = read_line_network(tmp_path / "part.shp", class_column="highway").source.details["unnoded_crossings"]
    vertices = [set(map(tuple, np.round(shapely.get_coordinates(g), 7).tolist())) for g in frame.geometry]
    i, j = np.triu_indices(len(frame), k=1)
    meet = shapely.intersection(frame.geometry.to_numpy()[i], frame.geometry.to_numpy()[j])
    points, which = shapely.get_coordinates(meet, return_index=True)
    bad = {
        p
        for p, k in zip(map(tuple, np.round(points, 7).tolist()), which)
        if not (p in vertices[i[k]] and p in vertices[j[k]])
    }
    assert found == len(bad) > 10


def test_bridges_and_tunnels_stay_unnoded(tmp_path):
    # An X of two real-sized streets; the east-west one is a bridge.
    lines = gpd.GeoDataFrame(
        {"highway": ["residential", "primary"], "bridge": [None, "yes"]},
        geometry=[
            shapely.LineString([(116.35, 40.000), (116.35, 40.002)]),
            shapely.LineString([(116.349, 40.001), (116.351, 40.001)]),
        ],
        crs=4326,
    )
    ends = np.array([[116.35, 40.000], [116.351, 40.001]])
    for bridge, reachable in ((True, False), (False, True)):
        frame = lines if bridge else lines.drop(columns="bridge")
        frame.to_file(tmp_path / "x.geojson", driver="GeoJSON")
        network = read_line_network(tmp_path / "x.geojson", noding="crossings")
        metres = walk_metres(network, ends[:1], ends[1:], 5000)[0, 0]
        expected = haversine(ends[:1], np.array([[116.35, 40.001]])) + haversine(np.array([[116.35, 40.001]]), ends[1:])
        assert np.isfinite(metres) == reachable
        if reachable:
            assert metres == pytest.approx(float(expected[0]), abs=0.01)


def test_real_bridges_cross_roads_without_a_node(tmp_path):
    import osmnx as ox

    graph = ox.graph_from_xml(raw_file("beijing_haidian_cau_map.osm"), simplify=True, retain_all=True)
    edges = ox.graph_to_gdfs(graph, nodes=False).reset_index()[["highway", "bridge", "tunnel", "geometry"]]
    marked = (edges["bridge"].notna() & (edges["bridge"] != "no")) | (
        edges["tunnel"].notna() & (edges["tunnel"] != "no")
    )
    edges = edges.astype({"highway": str})
    edges.to_file(tmp_path / "lines.gpkg", layer="roads", driver="GPKG")  # a plain layer: no u/v/key
    network = read_line_network(tmp_path / "lines.gpkg", noding="crossings")
    bridges, others = edges.geometry[marked].to_numpy(), edges.geometry[~marked].to_numpy()
    a, b = shapely.STRtree(others).query(bridges, predicate="crosses")
    crossing = shapely.get_coordinates(shapely.intersection(bridges[a], others[b]))
    assert len(crossing) > 0  # the extract has bridges over roads...
    nodes = set(map(tuple, np.round(network.node_lonlat, 7).tolist()))
    vertices = set(map(tuple, np.round(shapely.get_coordinates(edges.geometry), 7).tolist()))
    # ...and none of those crossings became a node (unless both lines share a vertex there anyway).
    assert not {p for p in map(tuple, np.round(crossing, 7).tolist()) if p not in vertices} & nodes
    assert network.source.details["bridge_tunnel_lines"] == int(marked.sum())


# ------------------------------------------------------- OSMnx GeoPackages
@pytest.fixture(scope="module")
def osmnx_beijing():
    import osmnx as ox

    return ox.graph_from_xml(raw_file("beijing_haidian_cau_map.osm"), simplify=True, retain_all=True)


def test_osmnx_geopackage_loads_with_its_topology(osmnx_beijing, tmp_path):
    import osmnx as ox

    ox.save_graph_geopackage(osmnx_beijing, tmp_path / "ox.gpkg")
    network = load_network(tmp_path / "ox.gpkg")
    assert network.source.kind == "osmnx-geopackage"
    with_edges = {n for e in osmnx_beijing.edges() for n in e}
    assert set(network.node_ids.tolist()) == with_edges
    # OSMnx's own edge lengths, an independent measure, against our walk metres between its nodes.
    reference = nx.Graph()
    for u, v, data in osmnx_beijing.edges(data=True):
        if u != v and (not reference.has_edge(u, v) or data["length"] < reference[u][v]["weight"]):
            reference.add_edge(u, v, weight=data["length"])
    rng = np.random.default_rng(3)
    ids = np.array(sorted(with_edges))
    xy = {n: (d["x"], d["y"]) for n, d in osmnx_beijing.nodes(data=True)}
    # Only nodes that snap onto one of their own edges: a node may also lie on an unnoded crossing edge.
    at = {n: i for i, n in enumerate(network.node_ids.tolist())}
    snap = snap_points(network, [xy[n] for n in ids])
    own = (network.edge_u[snap.edge] == [at[n] for n in ids]) | (network.edge_v[snap.edge] == [at[n] for n in ids])
    assert own.mean() > 0.9
    ids = ids[own]
    sites, places = rng.choice(ids, 20, replace=False), rng.choice(ids, 40, replace=False)
    got = walk_metres(network, [xy[n] for n in sites], [xy[n] for n in places], 4000)
    ref = np.full(got.shape, np.inf)
    for i, s in enumerate(sites):
        reach = nx.single_source_dijkstra_path_length(reference, s, cutoff=4000)
        ref[i] = [reach.get(p, np.inf) for p in places]
    assert_same_walks(got, ref, 4000, at_least=200)
    # The directed form (both directions of each street) is the same network.
    ox.save_graph_geopackage(osmnx_beijing, tmp_path / "ox_directed.gpkg", directed=True)
    directed = load_network(tmp_path / "ox_directed.gpkg")
    assert (directed.n_nodes, directed.n_edges) == (network.n_nodes, network.n_edges)
    assert directed.edge_length.sum() == pytest.approx(network.edge_length.sum(), rel=1e-12)


def test_osmnx_geopackage_class_filter_and_projected_crs(osmnx_beijing, tmp_path):
    import osmnx as ox

    ox.save_graph_geopackage(ox.project_graph(osmnx_beijing), tmp_path / "projected.gpkg")
    plain = load_network(tmp_path / "projected.gpkg")
    ox.save_graph_geopackage(osmnx_beijing, tmp_path / "ox.gpkg")
    lonlat = load_network(tmp_path / "ox.gpkg")
    assert plain.source.details["crs"] != "EPSG:4326"
    assert plain.edge_length.sum() == pytest.approx(lonlat.edge_length.sum(), rel=1e-6)
    walk = load_network(tmp_path / "ox.gpkg", class_column="highway")
    highways = pyogrio.read_dataframe(tmp_path / "ox.gpkg", layer="edges", columns=["highway"])["highway"]
    assert not {"motorway", "motorway_link", "cycleway"} & set(walk.edge_highway)
    dropped = walk.source.details["classes_dropped"]
    assert {c: dropped[c] for c in ("motorway", "cycleway")} == {
        c: int((highways == c).sum()) for c in ("motorway", "cycleway")
    }


def test_osmnx_edges_without_geometry_are_straight_between_their_nodes(osmnx_beijing, tmp_path):
    import osmnx as ox

    ox.save_graph_geopackage(osmnx_beijing, tmp_path / "ox.gpkg")
    nodes = pyogrio.read_dataframe(tmp_path / "ox.gpkg", layer="nodes")
    edges = pyogrio.read_dataframe(tmp_path / "ox.gpkg", layer="edges")
    straight = (shapely.get_num_coordinates(edges.geometry.to_numpy()) == 2) & (edges["u"] != edges["v"])
    edges.loc[straight, "geometry"] = None  # OSMnx leaves straight edges without a shape in memory
    pyogrio.write_dataframe(nodes, tmp_path / "bare.gpkg", layer="nodes")
    pyogrio.write_dataframe(edges, tmp_path / "bare.gpkg", layer="edges")
    full, bare = load_network(tmp_path / "ox.gpkg"), load_network(tmp_path / "bare.gpkg")
    assert bare.source.details["edges_without_geometry"] == int(straight.sum()) > 100
    assert bare.n_edges == full.n_edges
    assert bare.edge_length.sum() == pytest.approx(full.edge_length.sum(), rel=1e-12)


def test_our_network_saved_as_osmnx_geopackage_round_trips(jinan, tmp_path):
    import osmnx as ox

    path = jinan.to_geopackage(tmp_path / "jinan.gpkg")
    assert set(pyogrio.list_layers(path)[:, 0]) == {"nodes", "edges"}
    back = load_network(path)
    assert back.fingerprint == jinan.fingerprint
    nodes = gpd.read_file(path, layer="nodes").set_index("osmid")
    edges = gpd.read_file(path, layer="edges").set_index(["u", "v", "key"])
    graph = ox.graph_from_gdfs(nodes, edges)
    assert WalkNetwork.from_graph(graph).fingerprint == jinan.fingerprint
    assert sum(d["length"] for _, _, d in graph.edges(data=True)) == pytest.approx(jinan.edge_length.sum())


# ------------------------------------------------------- scenario settings
def test_scenario_network_keys_reach_the_loader(jinan_path, jinan_reference, jinan_pairs, tmp_path):
    sites, places = jinan_pairs
    pd.DataFrame(
        {"id": [f"s{i}" for i in range(10)], "name": "site", "lon": sites[:10, 0], "lat": sites[:10, 1]}
    ).to_csv(tmp_path / "sites.csv", index=False)
    pd.DataFrame(
        {"id": [f"d{i}" for i in range(len(places))], "name": "place", "lon": places[:, 0], "lat": places[:, 1]}
    ).to_csv(tmp_path / "demand.csv", index=False)
    network = (
        f'[network]\npath = "{jinan_path.as_posix()}"\nlayer = "edges"\nclass_column = "highway"\n'
        'crs = "EPSG:4326"\ncoordinate_system = "WGS-84"\nnoding = "vertices"\n'
    )
    (tmp_path / "s.toml").write_text(
        network + '[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_m = 3000\n',
        encoding="utf-8",
    )
    from coverage_planner.pipeline import run_scenario

    result = run_scenario(tmp_path / "s.toml", use_cache=False, progress=False)
    details = result.network.source.details
    assert details["class_column"] == "highway" and details["crs_basis"].startswith("[network] crs")
    # Nearest-site walk metres against NetworkX from all ten sites at once.
    reach = nx.multi_source_dijkstra_path_length(jinan_reference, [tuple(s) for s in sites[:10]], cutoff=3000)
    ref = np.array([reach.get(tuple(p), np.inf) for p in places])
    got = result.demand["walk_m"].to_numpy(dtype=float)
    inside = ref < 2999
    assert inside.sum() > 50 and np.abs(got[inside] - ref[inside]).max() < 1.0
    manifest = json.dumps(result.network.source.to_dict(), ensure_ascii=False)
    assert "unnoded_crossings" in manifest


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('noding = "everywhere"', "network.noding"),
        ('coordinate_system = "mars-ish"', "network.coordinate_system"),
        ('crs = "not a crs"', "network.crs"),
        ("class_column = 3", "network.class_column"),
    ],
)
def test_scenario_network_keys_are_checked(jinan_path, tmp_path, extra, message):
    data = f'[network]\npath = "{jinan_path.as_posix()}"\n{extra}\n[sites]\npath = "a"\n[demand]\npath = "a"\n'
    (tmp_path / "a").write_text("id,lon,lat\n", encoding="utf-8")
    (tmp_path / "s.toml").write_text(data, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_toml(tmp_path / "s.toml")


def test_line_keys_on_an_osm_file_are_refused(tmp_path):
    osm = raw_file("beijing_haidian_cau_map.osm")
    (tmp_path / "a").write_text("id,lon,lat\n", encoding="utf-8")
    (tmp_path / "s.toml").write_text(
        f'[network]\npath = "{osm.as_posix()}"\nclass_column = "highway"\n[sites]\npath = "a"\n[demand]\npath = "a"\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="network.class_column.*road-line layer"):
        Scenario.from_toml(tmp_path / "s.toml")
    with pytest.raises(NetworkError, match="road-line layers"):
        load_network(osm, noding="crossings")


def test_unreadable_or_wrong_layers_name_the_file(jinan_path, tmp_path):
    (tmp_path / "junk.geojson").write_text("not json", encoding="utf-8")
    with pytest.raises(NetworkError, match="junk.geojson"):
        read_line_network(tmp_path / "junk.geojson")
    (tmp_path / "roads.shp").write_text("x", encoding="utf-8")
    with pytest.raises(NetworkError, match=r"roads\.shp: not a readable line layer"):
        WalkNetwork.from_file(tmp_path / "roads.shp")
    with pytest.raises(NetworkError, match="no column 'roadclass'.*highway"):
        read_line_network(jinan_path, class_column="roadclass")
    points = gpd.GeoDataFrame(geometry=[shapely.Point(116.3, 40.0)], crs=4326)
    points.to_file(tmp_path / "points.gpkg", layer="pts", driver="GPKG")
    with pytest.raises(NetworkError, match="points.gpkg.*no line geometries"):
        read_line_network(tmp_path / "points.gpkg")
    with pytest.raises(NetworkError, match="no layer 'roads'"):
        read_line_network(tmp_path / "points.gpkg", layer="roads")


def test_osm_quality_report_counts_dangling_ends(beijing):
    degree = nx.MultiGraph(list(zip(beijing.edge_u.tolist(), beijing.edge_v.tolist()))).degree()
    qa = beijing.quality_report()
    assert qa["dangling_ends"].sum() == sum(1 for _, d in degree if d == 1) > 0


def test_the_report_says_which_costs_a_class_only_layer_could_apply(jinan, jinan_path):
    from coverage_planner.analysis import cost_model
    from coverage_planner.outputs.report import cost_paragraph
    from coverage_planner.profiles import get_profile

    elderly = get_profile("elderly")
    with_classes = cost_model(elderly, jinan.for_profile(elderly))
    assert with_classes["found"]["crossing_nodes"] > 0  # classes alone price main-road crossings
    assert "只有按道路等级的成本生效" in cost_paragraph(with_classes, "zh")
    assert "only the costs by road class apply" in cost_paragraph(with_classes, "en")
    bare = read_line_network(jinan_path)  # no class column: nothing to price
    without = cost_model(elderly, bare.for_profile(elderly))
    assert "成本未生效" in cost_paragraph(without, "zh") and "只有按道路等级" not in cost_paragraph(without, "zh")
