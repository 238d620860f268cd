"""The online geocoding path, offline: a local server replays Nominatim answers built from real OSM data.

The answers are the real named features of the Beijing extract (name → the
OSM node's position), served in Nominatim's JSON shape on 127.0.0.1; osmnx is
pointed at it through its settings. No request leaves this machine.
"""

from __future__ import annotations

import json
import warnings
from urllib.parse import parse_qs, urlparse

import osmium
import pytest
from conftest import raw_file
from replay import JsonReplay, serving

from coverage_planner import InputErrors, read_places
from coverage_planner.places.geocode import GeocodeNotice, OsmGeocoder


@pytest.fixture(scope="module")
def named_nodes():
    found = {}
    for node in osmium.FileProcessor(str(raw_file("beijing_haidian_cau_map.osm")), osmium.osm.NODE):
        name = dict(node.tags).get("name")
        if name and node.location.valid():
            found.setdefault(name, (node.id, node.location.lon, node.location.lat))
    return found


@pytest.fixture()
def nominatim(named_nodes, monkeypatch):
    import osmnx as ox

    asked = []

    class Replay(JsonReplay):
        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query).get("q", [""])[0]
            asked.append(query)
            hit = named_nodes.get(query.split(",")[0].strip())
            body = (
                []
                if hit is None or not url.path.endswith("/search")
                else [
                    {
                        "osm_type": "node",
                        "osm_id": hit[0],
                        "lat": f"{hit[2]:.7f}",
                        "lon": f"{hit[1]:.7f}",
                        "display_name": query,
                    }
                ]
            )
            self.answer(json.dumps(body).encode())

    with serving(Replay) as server:
        monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{server.server_port}/")
        monkeypatch.setattr(ox.settings, "use_cache", False)
        yield asked


def test_first_run_asks_the_geocoder_and_caches_found_and_not_found(nominatim, named_nodes, tmp_path):
    name = "北京京城皮肤病医院"
    path = tmp_path / "sites.csv"
    path.write_text(f'名称,地址查询,经度,纬度\n医院,"{name}, 海淀区, 北京",,\n', encoding="utf-8")
    cache = tmp_path / "geocode_cache.json"
    places = read_places(path, "sites", geocoder=OsmGeocoder(cache, online=True))
    _, lon, lat = named_nodes[name]
    assert places.geometry.x[0] == pytest.approx(lon, abs=1e-7) and places.geometry.y[0] == pytest.approx(lat, abs=1e-7)
    assert places["status"][0] == "placeholder"
    assert json.loads(cache.read_text(encoding="utf-8"))[f"{name}, 海淀区, 北京"]["found"] is True
    assert nominatim == [f"{name}, 海淀区, 北京"]


def test_second_run_is_served_from_the_cache_without_asking(nominatim, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("名称,地址查询,经度,纬度\n医院,北京京城皮肤病医院,,\n", encoding="utf-8")
    cache = tmp_path / "geocode_cache.json"
    read_places(path, "sites", geocoder=OsmGeocoder(cache, online=True))
    asked_before = len(nominatim)
    again = OsmGeocoder(cache, online=False)
    read_places(path, "sites", geocoder=again)
    assert len(nominatim) == asked_before and again.asked_online == 0


def test_a_name_the_geocoder_does_not_know_is_cached_as_not_found(nominatim, tmp_path):
    geocoder = OsmGeocoder(tmp_path / "geocode_cache.json", online=True)
    assert geocoder("没有这个小区, 新城区, 呼和浩特市") is None
    assert OsmGeocoder(tmp_path / "geocode_cache.json", online=False)("没有这个小区, 新城区, 呼和浩特市") is None


def test_nothing_is_sent_unless_geocoding_is_turned_on(nominatim, tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("名称,地址查询,经度,纬度\n医院,光明路 12号 3单元,,\n", encoding="utf-8")
    with pytest.raises(InputErrors, match="online lookups are off"):
        read_places(path, "sites", geocoder=OsmGeocoder(tmp_path / "geocode_cache.json"))
    assert nominatim == []


def test_the_first_query_sent_says_once_what_goes_where(nominatim, tmp_path):
    geocoder = OsmGeocoder(tmp_path / "geocode_cache.json", online=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        geocoder("北京京城皮肤病医院")
        geocoder("没有这个小区, 新城区, 呼和浩特市")
    notices = [w for w in caught if issubclass(w.category, GeocodeNotice)]
    assert len(notices) == 1 and "nominatim.openstreetmap.org" in str(notices[0].message)
    assert len(nominatim) == 2


def test_a_scenario_geocodes_offline_unless_it_says_online(tmp_path):
    from coverage_planner.config import Scenario

    for name in ("x.osm", "s.csv", "d.csv"):
        (tmp_path / name).write_text("", encoding="utf-8")
    base = {"network": {"path": "x.osm"}, "sites": {"path": "s.csv"}, "demand": {"path": "d.csv"}}
    assert Scenario.from_dict(base, base_dir=tmp_path).geocode.online is False
    assert Scenario.from_dict({**base, "geocode": {"online": True}}, base_dir=tmp_path).geocode.online is True
