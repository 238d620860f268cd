"""The osmnx download path, offline: a local server replays Overpass answers built from a real OSM extract.

The server answers every Overpass query with the walkable ways (and their
nodes) of the Beijing extract, in Overpass JSON; osmnx is pointed at it
through its settings. The downloaded network is compared with the same
extract read from the file, then served from the GraphML cache with the
server gone.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import numpy as np
import osmium
import pytest
from conftest import raw_file
from replay import JsonReplay, serving

from coverage_planner import NetworkError
from coverage_planner.network._osm_reader import is_walkable
from coverage_planner.network.download import download_network

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
