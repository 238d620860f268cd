"""The osmnx download path, offline: a local server replays Overpass answers built from a real OSM extract.

The server answers every Overpass query with the walkable ways (and their
nodes) of the Beijing extract, in Overpass JSON; osmnx is pointed at it
through its settings. The downloaded network is compared with the same
extract read from the file, then served from the GraphML cache with the
server gone. A second server answers like Overpass from every way and node
of the extract, tags included: a walk or drive download then carries the
tags, costs and one-way streets of the same file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from urllib.parse import unquote_plus

import numpy as np
import osmium
import pandas as pd
import pytest
from conftest import raw_file
from replay import JsonReplay, serving

from coverage_planner import NetworkError
from coverage_planner.network._osm_reader import is_drivable, is_walkable
from coverage_planner.network.download import download_network, load_network
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.profiles import get_profile

BBOX = (116.3440, 39.9977, 116.3597, 40.0089)  # the extract's <bounds>


@pytest.fixture(scope="module")
def overpass_elements():
    nodes, ways, needed = {}, [], set()
    path = str(raw_file("beijing_haidian_cau_map.osm"))
    for way in osmium.FileProcessor(path, osmium.osm.WAY):
        tags = dict(way.tags)
        if is_walkable(tags):
            refs = [n.ref for n in way.nodes]
            ways.append({"type": "way", "id": way.id, "nodes": refs, "tags": tags})
            needed.update(refs)
    for node in osmium.FileProcessor(path, osmium.osm.NODE):
        if node.id in needed and node.location.valid():
            nodes[node.id] = {"type": "node", "id": node.id, "lat": node.location.lat, "lon": node.location.lon}
    return [*nodes.values(), *ways]


@pytest.fixture()
def overpass(overpass_elements, monkeypatch, tmp_path):
    import osmnx as ox

    state = {"queries": [], "fail": False}

    class Replay(JsonReplay):
        def do_GET(self):
            self.answer(b"Connected as: 1\nCurrent time: 2026-11-28T00:00:00Z\n2 slots available now.\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            state["queries"].append(unquote_plus(self.rfile.read(length).decode()))
            if state["fail"]:
                self.answer(b"{}", status=500)
            else:
                self.answer(json.dumps({"version": 0.6, "elements": overpass_elements}).encode())

    with serving(Replay) as server:
        monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{server.server_port}/api")
        monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
        monkeypatch.setattr(ox.settings, "use_cache", False)
        monkeypatch.setattr(ox.settings, "requests_timeout", 5)
        yield state


def test_download_by_bbox_builds_the_same_two_way_network_as_the_file(overpass, beijing, tmp_path):
    net = download_network(bbox=BBOX, cache_dir=tmp_path)
    assert net.source.kind == "osmnx-download"
    # Every walkable way of the extract that reaches into the box is there, walkable both ways.
    downloaded = set(net.edge_way_id.tolist())
    assert downloaded <= set(beijing.edge_way_id.tolist())
    assert len(downloaded) > 0.8 * len(set(beijing.edge_way_id.tolist()))
    assert (net.csr != net.csr.T).nnz == 0
    # The walk filter went to Overpass: motorways and foot=no are excluded server-side.
    query = overpass["queries"][0]
    assert "motorway" in query and '"foot"!~' in query


def test_second_download_is_served_from_the_cache_without_the_server(overpass, tmp_path):
    first = download_network(bbox=BBOX, cache_dir=tmp_path)
    overpass["fail"] = True
    again = download_network(bbox=BBOX, cache_dir=tmp_path)
    assert again.source.kind == "osmnx-download (cached)"
    assert again.n_edges == first.n_edges
    assert np.allclose(np.sort(again.edge_length), np.sort(first.edge_length), atol=0.01)


def test_refresh_downloads_again_past_osmnx_http_cache(overpass, tmp_path, monkeypatch):
    import osmnx as ox

    # osmnx's HTTP cache on, as users have it: a refresh must still reach the server.
    monkeypatch.setattr(ox.settings, "use_cache", True)
    monkeypatch.setattr(ox.settings, "cache_folder", str(tmp_path / "osmnx-http"))
    download_network(bbox=BBOX, cache_dir=tmp_path)
    asked = len(overpass["queries"])
    download_network(bbox=BBOX, cache_dir=tmp_path, refresh=True)
    assert len(overpass["queries"]) > asked
    assert ox.settings.use_cache  # restored afterwards


def test_a_failing_server_is_a_clear_network_error(overpass, tmp_path):
    overpass["fail"] = True
    with pytest.raises(NetworkError, match="could not download the walking network for bbox"):
        download_network(bbox=BBOX, cache_dir=tmp_path)


# ------------------------------------------------- tags, costs and drive downloads
@pytest.fixture(scope="module")
def extract_elements():
    """Every way and located node of the Beijing extract, with their tags, as Overpass JSON elements."""
    path = str(raw_file("beijing_haidian_cau_map.osm"))
    ways = [
        {"type": "way", "id": w.id, "nodes": [n.ref for n in w.nodes], "tags": dict(w.tags)}
        for w in osmium.FileProcessor(path, osmium.osm.WAY)
    ]
    nodes = {}
    for n in osmium.FileProcessor(path, osmium.osm.NODE):
        if n.location.valid():
            nodes[n.id] = {"type": "node", "id": n.id, "lat": n.location.lat, "lon": n.location.lon}
            if len(n.tags):
                nodes[n.id]["tags"] = dict(n.tags)
    return nodes, ways


def overpass_answer(query: str, nodes: dict, ways: list) -> list:
    """What Overpass answers: the ways the query's highway filter selects, with their tagged nodes.

    A drive query names its road classes in a ``"highway"~"^(…)$"`` regex, read from the
    query itself; a walk query is answered with the ways OSM's walk rules keep.
    """
    classes = re.search(r'\["highway"~"\^\(([^)]*)\)\$"\]', query)
    if classes:
        roads = set(classes.group(1).split("|"))
        chosen = [w for w in ways if w["tags"].get("highway") in roads and w["tags"].get("area") != "yes"]
    else:
        chosen = [w for w in ways if "highway" in w["tags"] and is_walkable(w["tags"])]
    needed = {ref for w in chosen for ref in w["nodes"]}
    return [nodes[i] for i in sorted(needed) if i in nodes] + chosen


@pytest.fixture()
def tagged_overpass(extract_elements, monkeypatch):
    """The server; ``state["ways"]`` may be replaced by a test (ways served), ``state["queries"]`` records."""
    import osmnx as ox

    nodes, ways = extract_elements
    state = {"queries": [], "ways": ways}

    class Replay(JsonReplay):
        def do_GET(self):
            self.answer(b"Connected as: 1\nCurrent time: 2026-11-28T00:00:00Z\n2 slots available now.\n")

        def do_POST(self):
            query = unquote_plus(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            state["queries"].append(query)
            elements = overpass_answer(query, nodes, state["ways"])
            self.answer(json.dumps({"version": 0.6, "elements": elements}).encode())

    with serving(Replay) as server:
        monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{server.server_port}/api")
        monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
        monkeypatch.setattr(ox.settings, "use_cache", False)
        monkeypatch.setattr(ox.settings, "requests_timeout", 5)
        yield state


def edges_by_way_and_ends(network):
    ids = network.node_ids
    return {
        (int(network.edge_way_id[e]), int(ids[network.edge_u[e]]), int(ids[network.edge_v[e]])): e
        for e in range(network.n_edges)
    }


def cost_per_way(network, costs):
    """Equivalent metres of each way driven or walked end to end (edge costs summed, signal delays included)."""
    total = network.edge_length * costs.scale + costs.end_u + costs.end_v
    ends = costs.end_u + costs.end_v
    frame = pd.DataFrame({"way": network.edge_way_id, "cost": total, "length": network.edge_length, "ends": ends})
    return frame.groupby("way").sum()


@pytest.mark.parametrize(("mode", "profile"), [("walk", "elderly"), ("drive", "drive")])
def test_a_download_carries_the_tags_and_costs_of_the_same_file(tagged_overpass, tmp_path, mode, profile):
    import osmnx as ox

    before = (list(ox.settings.useful_tags_way), list(ox.settings.useful_tags_node), ox.settings.all_oneway)
    net = download_network(bbox=BBOX, cache_dir=tmp_path, mode=mode)
    assert (list(ox.settings.useful_tags_way), list(ox.settings.useful_tags_node), ox.settings.all_oneway) == before
    assert net.mode == mode
    file = WalkNetwork.from_osm_file(raw_file("beijing_haidian_cau_map.osm"), mode=mode)
    # The cost model's tags arrived: every edge both networks have carries the file's values.
    ours, theirs = edges_by_way_and_ends(net), edges_by_way_and_ends(file)
    common = sorted(set(ours) & set(theirs))
    assert len(common) > 0.75 * file.n_edges
    a, b = np.array([ours[k] for k in common]), np.array([theirs[k] for k in common])
    for tag in ("surface", "crossing", "oneway", "maxspeed", "bridge", "layer"):
        assert (net.edge_tag(tag)[a] == file.edge_tag(tag)[b]).all(), tag
    assert sum((net.edge_tag(t)[a] != "").sum() for t in ("surface", "oneway", "maxspeed")) > 20
    # ...and give the same costs: per edge, and per way end to end (signal delays included).
    p = get_profile(profile)
    if mode == "drive":  # delays at signals (0 by default), so that their placement is checked too
        p = dataclasses.replace(p, costs=dataclasses.replace(p.costs, signal_delay_s=20.0))
    got, want = net.for_profile(p).costs, file.for_profile(p).costs
    for field in ("scale", "end_u", "end_v", "forward", "backward"):
        assert np.allclose(getattr(got, field)[a], getattr(want, field)[b]), field
    per_way, file_way = cost_per_way(net, got), cost_per_way(file, want)
    whole = per_way.index.intersection(file_way.index)
    whole = whole[np.isclose(per_way.loc[whole, "length"], file_way.loc[whole, "length"], atol=0.01)]
    assert len(whole) > 0.7 * len(file_way)
    assert np.allclose(per_way.loc[whole, "cost"], file_way.loc[whole, "cost"], atol=0.01)
    assert per_way.loc[whole, "ends"].sum() > 0  # crossing waits (walk) or signal delays (drive) among them


def test_a_drive_download_keeps_the_roads_a_file_keeps_and_is_cached_apart(tagged_overpass, tmp_path):
    # Three real streets closed to cars (motor_vehicle=no): Overpass still sends them (the class fits)...
    ways = [dict(w, tags=dict(w["tags"])) for w in tagged_overpass["ways"]]
    streets = [w for w in ways if w["tags"].get("highway") == "residential" and is_drivable(w["tags"])]
    closed = {w["id"] for w in streets[:3]}
    for w in streets[:3]:
        w["tags"]["motor_vehicle"] = "no"
    tagged_overpass["ways"] = ways
    net = download_network(bbox=BBOX, cache_dir=tmp_path, mode="drive")
    file = WalkNetwork.from_osm_file(raw_file("beijing_haidian_cau_map.osm"), mode="drive")
    assert '"highway"~"^(' in tagged_overpass["queries"][0]  # road classes chosen server-side
    got = set(net.edge_way_id.tolist())
    # ...and they are left out, as a file's reader leaves such ways out; the other roads are there.
    drivable = {w["id"] for w in ways if "highway" in w["tags"] and is_drivable(w["tags"])}
    assert len(closed) == 3 and not got & closed
    assert got <= drivable and got <= set(file.edge_way_id.tolist())
    assert len(got) > 0.8 * len(set(file.edge_way_id.tolist()) - closed)
    # One-way streets run one way; the walk download of the same box is two-way everywhere.
    costs = net.for_profile(get_profile("drive")).costs
    assert (costs.forward != costs.backward).sum() > 20
    walk = download_network(bbox=BBOX, cache_dir=tmp_path)
    assert walk.mode == "walk" and walk.source.kind == "osmnx-download"
    assert (walk.csr != walk.csr.T).nnz == 0
    # The cache serves the drive network again, still one-way, without asking the server.
    asked = len(tagged_overpass["queries"])
    again = download_network(bbox=BBOX, cache_dir=tmp_path, mode="drive")
    assert len(tagged_overpass["queries"]) == asked
    assert again.source.kind == "osmnx-download (cached)" and again.mode == "drive"
    back = again.for_profile(get_profile("drive")).costs
    assert (back.forward != back.backward).sum() == (costs.forward != costs.backward).sum()
    assert np.isclose(back.scale @ again.edge_length, costs.scale @ net.edge_length)


def test_load_network_downloads_a_drive_network_and_refuses_line_layers(tagged_overpass, tmp_path):
    net = load_network(bbox=BBOX, cache_dir=tmp_path, mode="drive")
    assert net.mode == "drive" and net.source.kind == "osmnx-download"
    with pytest.raises(NetworkError, match="drive profile needs OSM data"):
        load_network(raw_file("jinan_osm_roads/edges.shp"), mode="drive")
