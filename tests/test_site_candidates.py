"""Candidate sites from OSM features and from a grid of network nodes, de-duplicated."""

from __future__ import annotations

import numpy as np
import osmium
import pytest
from conftest import raw_file

from coverage_planner.plan.candidates import candidates_from_osm, candidates_on_grid, merge_candidates


def test_osm_candidates_are_exactly_the_tagged_features_inside_the_network(monaco):
    tags = {"amenity": ("library", "townhall", "community_centre")}
    found = candidates_from_osm(raw_file("monaco.osm.pbf"), monaco, tags)
    west, south, east, north = monaco.bounds
    expected = set()
    for obj in osmium.FileProcessor(str(raw_file("monaco.osm.pbf")), osmium.osm.NODE):
        if (
            dict(obj.tags).get("amenity") in tags["amenity"]
            and west <= obj.location.lon <= east
            and south <= obj.location.lat <= north
        ):
            expected.add(f"osm-n{obj.id}")
    assert expected and expected <= set(found["id"])
    assert set(found["status"]) == {"real"} and found["type"].str.startswith("amenity=").all()


def test_grid_keeps_the_node_nearest_each_cell_centre(liechtenstein):
    spacing = 300.0
    grid = candidates_on_grid(liechtenstein, spacing)
    x, y = liechtenstein.to_metric.transform(liechtenstein.node_lonlat[:, 0], liechtenstein.node_lonlat[:, 1])
    main = liechtenstein.component == 0
    cells = {(int(a // spacing), int(b // spacing)) for a, b in zip(x[main], y[main])}
    assert len(grid) == len(cells)
    assert set(grid["status"]) == {"generated"}
    # Brute force for a few cells: the kept node is the one closest to the cell centre.
    ids = {int(i.removeprefix("grid-")) for i in grid["id"]}
    for cell in sorted(cells)[:20]:
        inside = np.flatnonzero(main & (np.floor(x / spacing) == cell[0]) & (np.floor(y / spacing) == cell[1]))
        off = np.hypot(x[inside] - (cell[0] + 0.5) * spacing, y[inside] - (cell[1] + 0.5) * spacing)
        assert int(liechtenstein.node_ids[inside[np.argmin(off)]]) in ids


def test_merged_candidates_keep_their_distance_and_prefer_features(monaco):
    features = candidates_from_osm(raw_file("monaco.osm.pbf"), monaco)
    grid = candidates_on_grid(monaco, 150)
    merged = merge_candidates([features, grid], monaco, min_separation_m=80)
    x, y = monaco.to_metric.transform(merged.geometry.x.to_numpy(), merged.geometry.y.to_numpy())
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 80
    assert set(features["id"]) <= set(merged["id"])  # features come first, so none is dropped for a grid point
    assert merged["id"].is_unique


def test_candidates_near_an_existing_site_are_dropped(monaco):
    grid = candidates_on_grid(monaco, 200)
    existing = grid.iloc[:5]
    merged = merge_candidates([grid], monaco, existing=existing, min_separation_m=50)
    assert not set(existing["id"]) & set(merged["id"])


def test_grid_spacing_must_be_positive(monaco):
    with pytest.raises(ValueError, match="positive"):
        candidates_on_grid(monaco, 0)
