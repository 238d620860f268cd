"""Rows with only an address query get a stand-in location from the geocoder, marked placeholder."""

from __future__ import annotations

import json

import pytest
from conftest import raw_file
from real_places import beijing_place_frames

from coverage_planner import InputErrors, read_places
from coverage_planner.places.geocode import OsmGeocoder


@pytest.fixture(scope="module")
def osm_names():
    """A geocoder stand-in answering with real OSM features of the Beijing extract, by name."""
    sites, demand = beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))
    both = [*sites.itertuples(), *demand.itertuples()]
    return {row.name: (row.lon, row.lat) for row in both if not row.name.startswith(("way ", "pharmacy", "bank "))}


def write(tmp_path, text):
    path = tmp_path / "places.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_row_with_only_a_query_is_geocoded_and_becomes_a_placeholder(tmp_path, osm_names):
    path = write(tmp_path, "名称,地址查询,经度,纬度\n医院,北京京城皮肤病医院,,\n银行,,116.3471,40.0003\n")
    places = read_places(path, "sites", geocoder=osm_names.get)
    assert places["status"].tolist() == ["placeholder", "real"]
    assert places.geometry.x.iloc[0] == pytest.approx(osm_names["北京京城皮肤病医院"][0])
    assert "not the real address" in places["location_source"].iloc[0]
    assert places["location_source"].iloc[1] is None


def test_unknown_query_is_an_error_naming_row_and_field(tmp_path, osm_names):
    path = write(tmp_path, "名称,地址查询,经度,纬度\n甲,没有这个地方,,\n")
    with pytest.raises(InputErrors, match="row 2, field '地址查询'.*does not know '没有这个地方'"):
        read_places(path, "sites", geocoder=osm_names.get)


def test_offline_query_not_in_the_cache_says_so(tmp_path):
    path = write(tmp_path, "名称,地址查询,经度,纬度\n甲,回民区人民政府,,\n")
    geocoder = OsmGeocoder(tmp_path / "geocode_cache.json", online=False)
    with pytest.raises(InputErrors, match="not in the geocode cache"):
        read_places(path, "sites", geocoder=geocoder)


def test_cached_answers_are_used_offline_and_not_asked_again(tmp_path):
    cache = tmp_path / "geocode_cache.json"
    cache.write_text(json.dumps({"回民区人民政府": {"found": True, "lon": 111.66, "lat": 40.81}}), encoding="utf-8")
    geocoder = OsmGeocoder(cache, online=False)
    places = read_places(write(tmp_path, "名称,地址查询,经度,纬度\n甲,回民区人民政府,,\n"), "sites", geocoder=geocoder)
    assert (places.geometry.x.iloc[0], places.geometry.y.iloc[0]) == (111.66, 40.81)
    assert geocoder.asked_online == 0 and places["status"].iloc[0] == "placeholder"


def test_cached_not_found_answer_stays_not_found(tmp_path):
    cache = tmp_path / "geocode_cache.json"
    cache.write_text(json.dumps({"无名之地": {"found": False}}), encoding="utf-8")
    assert OsmGeocoder(cache, online=False)("无名之地") is None


def test_row_with_coordinates_is_never_geocoded(tmp_path):
    def refuse(query):
        raise AssertionError(f"asked to geocode {query!r}")

    places = read_places(write(tmp_path, "名称,地址查询,经度,纬度\n甲,某地,116.35,40.0\n"), "sites", geocoder=refuse)
    assert places["status"].iloc[0] == "real"
