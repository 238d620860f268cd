"""Candidate sites (coverage_planner.plan.candidates): OSM features, grid nodes, merging; checked on the Monaco extract."""

from __future__ import annotations

from functools import cache

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely
from conftest import raw_file

from coverage_planner import DataError
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.places.reading import read_places
from coverage_planner.plan.candidates import (
    DEFAULT_TAGS,
    candidates_from_osm,
    candidates_on_grid,
    merge_candidates,
)
from coverage_planner.plan.models import MCLP


@cache
def monaco_path():
    return raw_file("monaco.osm.pbf")


@cache
def monaco() -> WalkNetwork:
    return WalkNetwork.from_file(monaco_path())


@cache
def osm_features() -> gpd.GeoDataFrame:
    return candidates_from_osm(monaco_path(), monaco())


@cache
def tagged_objects() -> dict[str, tuple[str | None, np.ndarray]]:
    """Independent scan: OSM id → (name, lon/lat of the node or of the way's vertices) for the default tags."""
    found = {}
    for obj in osmium.FileProcessor(str(monaco_path()), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        tags = dict(obj.tags)
        if any(tags.get(key) in values for key, values in DEFAULT_TAGS.items()):
            if obj.is_node():
                found[f"n{obj.id}"] = (tags.get("name"), np.array([[obj.location.lon, obj.location.lat]]))
            else:
                found[f"w{obj.id}"] = (
                    tags.get("name"),
                    np.array([[n.location.lon, n.location.lat] for n in obj.nodes]),
                )
    return found


def metric_xy(network: WalkNetwork, frame: gpd.GeoDataFrame) -> np.ndarray:
    return np.column_stack(network.to_metric.transform(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()))


# ---------------------------------------------------------------- OSM features
def test_osm_candidates_are_the_tagged_nodes_and_ways_inside_the_network_area():
    west, south, east, north = monaco().bounds
    expected = {
        ref
        for ref, (_, xy) in tagged_objects().items()
        if west <= xy[:, 0].mean() <= east and south <= xy[:, 1].mean() <= north
    }
    got = {i.removeprefix("osm-") for i in osm_features()["id"]}
    assert got == expected and any(r.startswith("w") for r in got) and any(r.startswith("n") for r in got)


def test_osm_candidates_keep_their_osm_names():
    names = {i.removeprefix("osm-"): n for i, n in zip(osm_features()["id"], osm_features()["name"])}
    for ref, (name, _) in tagged_objects().items():
        if ref in names and name:
            assert names[ref] == name
    assert (osm_features()["status"] == "real").all()


def test_osm_way_candidates_stand_inside_the_feature_they_come_from():
    ways = osm_features()[osm_features()["id"].str.startswith("osm-w")]
    assert len(ways)
    for ref, point in zip(ways["id"], ways.geometry):
        outline = tagged_objects()[ref.removeprefix("osm-")][1]
        shape = (
            shapely.Polygon(outline)
            if len(outline) >= 4 and (outline[0] == outline[-1]).all()
            else shapely.LineString(outline)
        )
        assert shape.buffer(1e-6).contains(point), f"{ref} is placed outside its own outline"


# -------------------------------------------------------------------- grid
def test_grid_takes_the_node_nearest_each_cell_centre():
    net, spacing = monaco(), 200.0
    grid = candidates_on_grid(net, spacing)
    x, y = net.to_metric.transform(net.node_lonlat[:, 0], net.node_lonlat[:, 1])
    main = np.flatnonzero(net.component == 0)
    cell = np.floor(np.column_stack([x[main], y[main]]) / spacing).astype(np.int64)
    expected = set()
    for c in np.unique(cell, axis=0):
        inside = main[(cell == c).all(axis=1)]
        off = np.hypot(x[inside] - (c[0] + 0.5) * spacing, y[inside] - (c[1] + 0.5) * spacing)
        expected.add(f"grid-{net.node_ids[inside[np.argmin(off)]]}")
    assert set(grid["id"]) == expected and len(grid) == len(expected)


def test_grid_is_the_same_every_time():
    a, b = candidates_on_grid(monaco(), 150.0), candidates_on_grid(monaco(), 150.0)
    assert list(a["id"]) == list(b["id"]) and a.geometry.geom_equals(b.geometry).all()


def test_grid_candidates_are_labelled_generated_and_named_by_node():
    grid = candidates_on_grid(monaco(), 300.0)
    assert (grid["status"] == "generated").all()
    assert all(name == f"grid node {i.removeprefix('grid-')}" for i, name in zip(grid["id"], grid["name"]))


def test_finer_grid_gives_more_candidates():
    assert len(candidates_on_grid(monaco(), 100.0)) > len(candidates_on_grid(monaco(), 400.0)) > 0


# ------------------------------------------------------------------- merge
def test_merge_drops_candidates_near_an_existing_site():
    net = monaco()
    existing = osm_features().iloc[:2]
    merged = merge_candidates(
        [osm_features(), candidates_on_grid(net, 200.0)], net, existing=existing, min_separation_m=60.0
    )
    assert not set(existing["id"]) & set(merged["id"])
    near = metric_xy(net, merged)[:, None, :] - metric_xy(net, existing)[None, :, :]
    assert np.hypot(near[..., 0], near[..., 1]).min() >= 60.0


# --------------------------------------------------------------- from a file
def test_a_candidate_file_reads_with_generated_ids(tmp_path):
    path = tmp_path / "candidates.csv"
    path.write_text("name,lon,lat\nLibrary,7.4207,43.7349\nHall,7.4222,43.7302\n", encoding="utf-8")
    frame = read_places(path, "candidates")
    assert list(frame["id"]) == ["candidates-2", "candidates-3"] and list(frame["name"]) == ["Library", "Hall"]


# ------------------------------------------------------------- end to end
def test_merged_candidates_feed_a_location_problem():
    net = monaco()
    pool = merge_candidates([osm_features(), candidates_on_grid(net, 250.0)], net)
    rng = np.random.default_rng(3)
    demand = net.node_lonlat[rng.choice(np.flatnonzero(net.component == 0), 300, replace=False)]
    xy = np.column_stack([pool.geometry.x, pool.geometry.y])
    matrix = AccessMatrix.compute(
        net, snap_points(net, xy), snap_points(net, demand), 500.0, site_ids=pool["id"].to_numpy(), progress=False
    )
    solution = MCLP.from_access(matrix, k=5).solve()
    assert len(solution.selected_ids) == 5 and set(solution.selected_ids) <= set(pool["id"])


def test_merged_candidates_keep_their_distance_and_prefer_features():
    grid = candidates_on_grid(monaco(), 150)
    merged = merge_candidates([osm_features(), grid], monaco(), min_separation_m=80)
    xy = metric_xy(monaco(), merged)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 80
    assert set(osm_features()["id"]) <= set(merged["id"])  # features come first: none is dropped for a grid point
    assert merged["id"].is_unique


def test_grid_spacing_must_be_positive():
    with pytest.raises(DataError, match="positive"):
        candidates_on_grid(monaco(), 0)
