"""Building the walking network from real OSM files."""

from __future__ import annotations

import networkx as nx
import numpy as np
import osmium
import pytest
from conftest import raw_file

from coverage_planner import NetworkError, WalkNetwork
from coverage_planner.network._osm_reader import is_walkable


def _ways_with(path, predicate):
    ids = set()
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        tags = dict(way.tags)
        if len(way.nodes) >= 2 and predicate(tags):  # a one-node way is no edge
            ids.add(way.id)
    return ids


def test_oneway_streets_do_not_restrict_walking(monaco):
    oneway = _ways_with(raw_file("monaco.osm.pbf"), lambda t: t.get("oneway") == "yes" and is_walkable(t))
    assert len(oneway) > 50
    edges = np.flatnonzero(np.isin(monaco.edge_way_id, list(oneway)) & (monaco.edge_u != monaco.edge_v))
    u, v = monaco.edge_u[edges], monaco.edge_v[edges]
    forward = np.asarray(monaco.csr[u, v]).ravel()
    backward = np.asarray(monaco.csr[v, u]).ravel()
    assert np.all(forward > 0) and np.array_equal(forward, backward)


def test_ways_that_forbid_walking_are_dropped(monaco):
    path = raw_file("monaco.osm.pbf")
    forbidden = _ways_with(path, lambda t: "highway" in t and not is_walkable(t))
    kept = set(monaco.edge_way_id.tolist())
    assert forbidden, "the extract should contain motorways or foot=no ways"
    assert not (forbidden & kept)
    assert "motorway" not in set(monaco.edge_highway)


@pytest.mark.parametrize(
    "tags, walkable",
    [
        ({"highway": "residential", "oneway": "yes"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "primary", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "track", "access": "no"}, False),
        ({"highway": "track", "access": "no", "foot": "yes"}, True),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "footway", "area": "yes"}, False),
        ({"building": "yes"}, False),
    ],
)
def test_walk_filter_follows_foot_and_access_tags(tags, walkable):
    assert is_walkable(tags) is walkable


def test_private_ways_are_kept_only_when_asked(monaco):
    path = raw_file("monaco.osm.pbf")
    private = _ways_with(path, lambda t: is_walkable(t, allow_private=True) and not is_walkable(t))
    assert private
    strict = monaco
    lenient = WalkNetwork.from_file(path, allow_private=True)
    assert not set(strict.edge_way_id.tolist()) & private
    assert private <= set(lenient.edge_way_id.tolist())


def test_xml_and_pbf_of_the_same_data_give_the_same_network(tmp_path, liechtenstein):
    xml = tmp_path / "liechtenstein.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(raw_file("liechtenstein-2013-08-03.osm.pbf"))):
            writer.add(obj)
    from_xml = WalkNetwork.from_file(xml)
    assert np.array_equal(from_xml.node_ids, liechtenstein.node_ids)
    assert np.array_equal(from_xml.edge_u, liechtenstein.edge_u)
    assert np.allclose(from_xml.edge_length, liechtenstein.edge_length, atol=1e-6)


def test_graphml_round_trip_keeps_nodes_edges_and_lengths(tmp_path, beijing):
    path = beijing.to_graphml(tmp_path / "beijing.graphml")
    back = WalkNetwork.from_graphml(path)
    assert np.array_equal(back.node_ids, beijing.node_ids)
    assert back.n_edges == beijing.n_edges
    assert np.allclose(np.sort(back.edge_length), np.sort(beijing.edge_length), atol=0.01)
    assert back.source.snapshot == beijing.source.snapshot


def test_osmnx_graph_with_one_way_edges_becomes_two_way():
    import osmnx as ox

    graph = ox.graph_from_xml(raw_file("beijing_haidian_cau_map.osm"), simplify=True, retain_all=True)
    net = WalkNetwork.from_graph(graph)
    # Every directed edge of osmnx's graph is walkable both ways in ours.
    ids = {osmid: i for i, osmid in enumerate(net.node_ids.tolist())}
    for a, b in list(graph.edges())[:300]:
        if a != b:
            assert net.csr[ids[a], ids[b]] > 0 and net.csr[ids[b], ids[a]] > 0
    expected = nx.Graph(graph).number_of_edges()
    assert net.n_edges >= expected


def test_disconnected_pieces_are_kept_and_reported(monaco):
    qa = monaco.quality_report()
    assert len(qa) > 1
    assert qa["nodes"].sum() == monaco.n_nodes and qa["edges"].sum() == monaco.n_edges
    assert qa["nodes"].iloc[0] == qa["nodes"].max()


def test_edge_lengths_match_great_circle_lengths_of_shapes(beijing):
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    sample = np.arange(0, beijing.n_edges, 25)
    ellipsoidal = np.array([geod.line_length(*beijing.edge_coords[e].T) for e in sample])
    # Spherical vs ellipsoidal lengths differ by well under 0.5 %.
    assert np.allclose(beijing.edge_length[sample], ellipsoidal, rtol=5e-3)


def test_missing_network_file_names_the_file(tmp_path):
    with pytest.raises(NetworkError, match="nope.osm.pbf"):
        WalkNetwork.from_file(tmp_path / "nope.osm.pbf")


def test_unreadable_network_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"this is not protobuf")
    with pytest.raises(NetworkError, match="broken.osm.pbf"):
        WalkNetwork.from_file(bad)


def test_unknown_network_suffix_is_rejected(tmp_path):
    odd = tmp_path / "roads.dwg"
    odd.write_text("x")
    with pytest.raises(NetworkError, match="unknown network file type"):
        WalkNetwork.from_file(odd)
