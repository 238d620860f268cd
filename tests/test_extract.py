"""Clipping large OSM files to an area, streaming, checked by an independent count."""

from __future__ import annotations

import osmium
import pytest
import shapely
from conftest import raw_file

from coverage_planner import NetworkError, WalkNetwork
from coverage_planner.network.extract import clip_osm

AREAS = {
    "monaco.osm.pbf": (7.415, 43.725, 7.435, 43.745),
    "liechtenstein-2013-08-03.osm.pbf": (9.50, 47.10, 9.56, 47.16),
}


def expected_contents(path, box, polygon=None):
    """Ways with a node in the area and tagged nodes in it, counted in a plain pass."""
    west, south, east, north = box

    def inside(loc):
        ok = loc.valid() and west <= loc.lon <= east and south <= loc.lat <= north
        return ok and (polygon is None or polygon.contains(shapely.Point(loc.lon, loc.lat)))

    ways, nodes = set(), set()
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_node() and len(obj.tags) and inside(obj.location):
            nodes.add(obj.id)
        elif obj.is_way() and len(obj.tags) and any(inside(n.location) for n in obj.nodes):
            ways.add(obj.id)
    return ways, nodes


def contents(path):
    ways, tagged, located = set(), set(), True
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_way():
            ways.add(obj.id)
            located &= all(n.location.valid() for n in obj.nodes)
        elif obj.is_node() and len(obj.tags):
            tagged.add(obj.id)
    return ways, tagged, located


@pytest.mark.parametrize("name", sorted(AREAS))
def test_clip_keeps_exactly_the_ways_reaching_into_the_box_with_all_their_nodes(name, tmp_path):
    source = raw_file(name)
    out = tmp_path / "clip.osm.pbf"
    stats = clip_osm(source, out, bbox=AREAS[name])
    ways, tagged, located = contents(out)
    want_ways, want_nodes = expected_contents(source, AREAS[name])
    assert ways == want_ways and stats.ways == len(want_ways)
    assert want_nodes <= tagged and stats.tagged_nodes == len(want_nodes)
    assert located, "every way must come with all of its nodes"


def test_clip_by_polygon_keeps_less_than_its_bounding_box(tmp_path):
    source = raw_file("monaco.osm.pbf")
    west, south, east, north = AREAS["monaco.osm.pbf"]
    triangle = shapely.Polygon([(west, south), (east, south), (west, north)])
    stats = clip_osm(source, tmp_path / "tri.osm.pbf", polygon=triangle)
    want_ways, want_nodes = expected_contents(source, triangle.bounds, triangle)
    assert stats.ways == len(want_ways) and stats.tagged_nodes == len(want_nodes)
    assert stats.ways < clip_osm(source, tmp_path / "box.osm.pbf", bbox=triangle.bounds).ways


def test_clipped_file_builds_the_same_walk_network_inside_the_box(tmp_path, liechtenstein):
    out = tmp_path / "clip.osm.pbf"
    clip_osm(
        raw_file("liechtenstein-2013-08-03.osm.pbf"),
        out,
        bbox=AREAS["liechtenstein-2013-08-03.osm.pbf"],
        walkable_only=True,
    )
    clipped = WalkNetwork.from_file(out)
    west, south, east, north = AREAS["liechtenstein-2013-08-03.osm.pbf"]
    full_ways = set(liechtenstein.edge_way_id.tolist())
    assert set(clipped.edge_way_id.tolist()) <= full_ways
    lon, lat = liechtenstein.node_lonlat.T
    inside_ids = set(liechtenstein.node_ids[(lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)].tolist())
    assert inside_ids <= set(clipped.node_ids.tolist())


def test_clip_refuses_an_empty_box(tmp_path):
    with pytest.raises(NetworkError, match="empty"):
        clip_osm(raw_file("monaco.osm.pbf"), tmp_path / "x.osm.pbf", bbox=(7.5, 43.7, 7.4, 43.8))
