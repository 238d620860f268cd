"""Residential areas from OSM as demand, offline: a local server replays Overpass and Nominatim.

Overpass: the server reads the tag filters of each query osmnx sends and
answers with the matching nodes, ways and multipolygon relations of the
real Beijing extract, plus the ways' nodes and the relations' member ways
(as Overpass's ``(._;>;)`` does). It ignores the ``poly:`` filter; osmnx
keeps only features intersecting the query polygon itself.

Nominatim: the extract holds no complete administrative boundary (its one
社区 boundary relation lacks a member way), so the answers are stand-ins,
labelled as such: two "districts" that are the west and east halves of the
extract's <bounds>, and a "subdistrict" that is the real OSM outline of the
中国农业大学东校区 campus (way 55816439) taken from the extract.

The expected areas are computed independently: libosmium's area assembler
(pyosmium) builds the polygons from the file, shapely measures them in UTM.
"""

from __future__ import annotations

import json
import re
import socket
import types
import warnings
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import osmium
import pandas as pd
import pytest
import shapely
from conftest import raw_file
from replay import JsonReplay, serving
from shapely.geometry import mapping

from coverage_planner import NetworkError
from coverage_planner.places.osm_demand import OsmDemandWarning, residential_areas, write_demand
from coverage_planner.places.reading import read_places

EXTRACT = "beijing_haidian_cau_map.osm"
WEST, SOUTH, EAST, NORTH = 116.34403, 39.99767, 116.35974, 40.00888  # the extract's <bounds>
MID = (WEST + EAST) / 2
# Stand-in districts: halves of the extract's bounds, not real boundaries.
DISTRICTS = {
    "西半区, 样例市": ("西半区", shapely.box(WEST, SOUTH, MID, NORTH)),
    "东半区, 样例市": ("东半区", shapely.box(MID, SOUTH, EAST, NORTH)),
}
CAMPUS_WAY = 55816439  # stand-in subdistrict: a real campus outline from the extract
SUBDISTRICT = "农大东校区街道, 样例市"
NO_BOUNDARY = "光明路街道, 回民区, 呼和浩特市"
UTM_50N = "EPSG:32650"


# --- the extract, read independently ---------------------------------------------------------


@pytest.fixture(scope="module")
def extract():
    path = str(raw_file(EXTRACT))
    nodes = {
        n.id: (n.location.lon, n.location.lat, dict(n.tags))
        for n in osmium.FileProcessor(path, osmium.osm.NODE)
        if n.location.valid()
    }
    ways = {w.id: ([n.ref for n in w.nodes], dict(w.tags)) for w in osmium.FileProcessor(path, osmium.osm.WAY)}
    relations = {
        r.id: ([(m.type, m.ref, m.role) for m in r.members], dict(r.tags))
        for r in osmium.FileProcessor(path, osmium.osm.RELATION)
    }
    return {"path": path, "node": nodes, "way": ways, "relation": relations}


def expected_areas(extract, matches, query_area):
    """Polygons assembled by libosmium whose tags pass ``matches``, that intersect the query area."""
    wkb = osmium.geom.WKBFactory()
    found = {}
    for area in osmium.FileProcessor(extract["path"]).with_areas():
        if not area.is_area() or not matches(dict(area.tags)):
            continue
        geom = shapely.from_wkb(wkb.create_multipolygon(area))
        if geom.intersects(query_area):
            tags = dict(area.tags)
            osm_id = f"{'way' if area.from_way() else 'relation'}/{area.orig_id()}"
            found[osm_id] = {"name": tags.get("name:zh") or tags.get("name"), "geometry": geom}
    return found


def utm_area(geom) -> float:
    import geopandas as gpd

    return float(gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(UTM_50N).area.iloc[0])


def campus(extract):
    refs, _ = extract["way"][CAMPUS_WAY]
    return shapely.Polygon([extract["node"][r][:2] for r in refs])


# --- the replay server -----------------------------------------------------------------------


def overpass_answer(extract, query: str) -> list[dict]:
    """Elements matching the query's tag filters, with what they are made of."""
    import re

    wanted = re.findall(r"\((node|way|relation)\['([^']+)'(?:='([^']+)')?\]\(poly:", query)
    kinds = {"node": set(), "way": set(), "relation": set()}
    for kind, key, value in wanted:
        for osm_id, record in extract[kind].items():
            tags = record[-1]
            if key in tags and (not value or tags[key] == value):
                kinds[kind].add(osm_id)
    for rel in list(kinds["relation"]):
        for member_type, ref, _ in extract["relation"][rel][0]:
            if member_type == "w" and ref in extract["way"]:
                kinds["way"].add(ref)
            elif member_type == "n" and ref in extract["node"]:
                kinds["node"].add(ref)
    for way in kinds["way"]:
        kinds["node"].update(r for r in extract["way"][way][0] if r in extract["node"])
    elements = []
    for n in sorted(kinds["node"]):
        lon, lat, tags = extract["node"][n]
        elements.append({"type": "node", "id": n, "lat": lat, "lon": lon, **({"tags": tags} if tags else {})})
    for w in sorted(kinds["way"]):
        refs, tags = extract["way"][w]
        elements.append({"type": "way", "id": w, "nodes": refs, "tags": tags})
    types_ = {"n": "node", "w": "way", "r": "relation"}
    for r in sorted(kinds["relation"]):
        members, tags = extract["relation"][r]
        elements.append(
            {
                "type": "relation",
                "id": r,
                "tags": tags,
                "members": [{"type": types_[t], "ref": ref, "role": role} for t, ref, role in members],
            }
        )
    return elements


def nominatim_result(name: str, geom, osm_type: str, osm_id: int, display: str) -> dict:
    west, south, east, north = geom.bounds
    point = geom.representative_point()
    return {
        "place_id": osm_id,
        "licence": "stand-in for tests",
        "osm_type": osm_type,
        "osm_id": osm_id,
        "lat": str(point.y),
        "lon": str(point.x),
        "class": "boundary",
        "type": "administrative",
        "place_rank": 14,
        "importance": 0.5,
        "addresstype": "suburb",
        "name": name,
        "display_name": display,
        "boundingbox": [str(south), str(north), str(west), str(east)],
        "geojson": mapping(geom),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def servers(extract, monkeypatch, tmp_path):
    import osmnx as ox

    answers = {
        q: [nominatim_result(name, geom, "relation", -(k + 1), f"{q} (stand-in: half of the extract's bounds)")]
        for k, (q, (name, geom)) in enumerate(DISTRICTS.items())
    }
    answers[SUBDISTRICT] = [
        nominatim_result("农大东校区街道", campus(extract), "way", CAMPUS_WAY, "stand-in: campus outline")
    ]
    # What Nominatim gives for a subdistrict OSM knows only as a point.
    answers[NO_BOUNDARY] = [
        {
            **nominatim_result("光明路街道", shapely.Point(111.63, 40.81), "node", 1, NO_BOUNDARY),
            "class": "place",
            "type": "suburb",
        }
    ]
    state = {"overpass": [], "nominatim": [], "fail": False}

    class Replay(JsonReplay):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path.endswith("/search"):
                q = parse_qs(url.query)["q"][0]
                state["nominatim"].append(q)
                self.answer(json.dumps(answers.get(q, [])).encode())
            else:  # Overpass /status
                self.answer(b"Connected as: 1\nCurrent time: 2026-11-28T00:00:00Z\n2 slots available now.\n")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            query = parse_qs(body)["data"][0]
            state["overpass"].append(query)
            if state["fail"]:
                self.answer(b"{}", status=500)
            else:
                self.answer(json.dumps({"version": 0.6, "elements": overpass_answer(extract, query)}).encode())

    with serving(Replay) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.setattr(ox.settings, "overpass_url", f"{base}/api")
        monkeypatch.setattr(ox.settings, "nominatim_url", f"{base}/nominatim/")
        monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
        monkeypatch.setattr(ox.settings, "requests_timeout", 5)
        # osmnx's own HTTP cache stays on (as for users), in the test's folder: refresh must get past it.
        monkeypatch.setattr(ox.settings, "use_cache", True)
        monkeypatch.setattr(ox.settings, "cache_folder", str(tmp_path / "osmnx-http"))
        # Nominatim's one-second courtesy pause is for the public server, not this one.
        monkeypatch.setattr(ox._nominatim, "time", types.SimpleNamespace(sleep=lambda s: None), raising=False)
        state["cache_dir"] = tmp_path / "cache"
        state["stop"] = server.shutdown
        yield state


def go_offline(monkeypatch):
    """Point osmnx at a closed port with its HTTP cache off: any network use now fails."""
    import osmnx as ox

    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(ox.settings, "overpass_url", f"{dead}/api")
    monkeypatch.setattr(ox.settings, "nominatim_url", f"{dead}/nominatim/")
    monkeypatch.setattr(ox.settings, "use_cache", False)


def is_residential(tags):
    return tags.get("landuse") == "residential"


# --- tests -----------------------------------------------------------------------------------


def test_areas_match_the_polygons_assembled_from_the_extract(servers, extract):
    areas = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    query_area = shapely.union_all([g for _, g in DISTRICTS.values()])
    expected = expected_areas(extract, is_residential, query_area)
    assert len(expected) == 10  # the incomplete multipolygon relation is assembled by neither
    assert list(areas["id"]) == sorted(expected, key=lambda i: (i.split("/")[0], int(i.split("/")[1])))
    assert list(areas["id"]) == [f"{t}/{i}" for t, i in zip(areas["osm_type"], areas["osm_id"])]
    for row in areas.itertuples():
        want = expected[row.id]
        assert row.name == (want["name"] or f"未命名居住区 {row.id}")
        assert row.named == bool(want["name"])
        assert row.area_m2 == pytest.approx(utm_area(want["geometry"]), rel=2e-3)
        assert shapely.equals_exact(shapely.normalize(row.geometry), shapely.normalize(want["geometry"].geoms[0]), 1e-7)
    assert set(areas["status"]) == {"real"} and set(areas["source"]) == {"OpenStreetMap"}
    assert areas.crs.to_epsg() == 4326 and set(areas.geom_type) <= {"Polygon", "MultiPolygon"}
    assert "未命名居住区 way/609225889" in set(areas["name"])


def test_each_area_belongs_to_the_district_holding_most_of_it(servers, extract):
    areas = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    expected = expected_areas(extract, is_residential, shapely.box(WEST, SOUTH, EAST, NORTH))
    for row in areas.itertuples():
        geom = expected[row.id]["geometry"]
        shares = {name: utm_area(geom.intersection(box)) for name, box in DISTRICTS.values()}
        assert row.district == max(shares, key=shares.get)
    assert set(areas["district"]) == {"西半区", "东半区"}


def test_areas_mostly_inside_the_subdistrict_boundary_are_labelled(servers, extract):
    areas = residential_areas(list(DISTRICTS), subdistrict=SUBDISTRICT, cache_dir=servers["cache_dir"])
    outline = campus(extract)
    expected = expected_areas(extract, is_residential, shapely.box(WEST, SOUTH, EAST, NORTH))
    inside = {
        i for i, a in expected.items() if utm_area(a["geometry"].intersection(outline)) >= 0.5 * utm_area(a["geometry"])
    }
    assert inside  # the stand-in boundary holds some areas, not all
    assert set(areas.loc[areas["subdistrict"] == "农大东校区街道", "id"]) == inside
    assert areas.loc[~areas["id"].isin(inside), "subdistrict"].isna().all()


def test_a_subdistrict_without_an_osm_boundary_warns_and_leaves_the_column_empty(servers):
    with pytest.warns(OsmDemandWarning, match="no boundary polygon for subdistrict '光明路街道"):
        areas = residential_areas(list(DISTRICTS), subdistrict=NO_BOUNDARY, cache_dir=servers["cache_dir"])
    assert len(areas) == 10 and areas["subdistrict"].isna().all()
    assert NO_BOUNDARY in servers["nominatim"]
    with pytest.warns(OsmDemandWarning):  # and again when served from the cache
        residential_areas(list(DISTRICTS), subdistrict=NO_BOUNDARY, cache_dir=servers["cache_dir"])


def test_the_second_call_is_served_from_the_cache_without_the_network(servers, monkeypatch):
    first = residential_areas(list(DISTRICTS), subdistrict=SUBDISTRICT, cache_dir=servers["cache_dir"])
    asked = len(servers["overpass"]), len(servers["nominatim"])
    servers["stop"]()
    go_offline(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cached subdistrict boundary is found: no warning
        again = residential_areas(list(DISTRICTS), subdistrict=SUBDISTRICT, cache_dir=servers["cache_dir"])
    assert (len(servers["overpass"]), len(servers["nominatim"])) == asked
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert again.geometry.geom_equals_exact(first.geometry, 1e-9).all()


def test_the_cache_records_the_query_and_download_date(servers):
    areas = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    record = areas.attrs["osm_query"]
    cache = Path(record["cache"])
    assert cache.parent == servers["cache_dir"] / "osm-demand" and cache.suffix == ".gpkg"
    on_disk = json.loads(cache.with_suffix(".json").read_text(encoding="utf-8"))
    assert on_disk["downloaded"] == date.today().isoformat() == record["downloaded"]
    assert on_disk["query"]["places"] == list(DISTRICTS) and on_disk["query"]["tags"] == {"landuse": "residential"}
    assert [b["osm_id"] for b in on_disk["boundaries"]] == [-1, -2]
    assert "OpenStreetMap" in on_disk["licence"] and on_disk["sha256"]


def test_refresh_downloads_again_past_the_http_cache(servers):
    residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    asked = len(servers["overpass"])
    residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    assert len(servers["overpass"]) == asked
    residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"], refresh=True)
    assert len(servers["overpass"]) > asked


def test_offline_without_a_cache_is_a_clear_network_error(servers, monkeypatch):
    go_offline(monkeypatch)
    with pytest.raises(NetworkError, match="could not download residential areas for 西半区.*nothing is cached"):
        residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])


def test_a_failing_overpass_server_is_a_clear_network_error(servers):
    servers["fail"] = True
    with pytest.raises(NetworkError, match=r"could not download residential areas for bbox"):
        residential_areas(bbox=(WEST, SOUTH, EAST, NORTH), cache_dir=servers["cache_dir"])


def test_an_unknown_place_is_a_clear_error(servers):
    with pytest.raises(NetworkError, match="found no boundary polygon for '不存在区, 样例市'"):
        residential_areas(["西半区, 样例市", "不存在区, 样例市"], cache_dir=servers["cache_dir"])
    assert servers["overpass"] == []


def test_no_residential_area_is_a_clear_error(servers):
    with pytest.raises(NetworkError, match="no features tagged"):
        residential_areas(bbox=(WEST, SOUTH, EAST, NORTH), tags={"landuse": "vineyard"}, cache_dir=servers["cache_dir"])
    with pytest.raises(NetworkError, match="no residential area of at least"):
        residential_areas(bbox=(WEST, SOUTH, EAST, NORTH), cache_dir=servers["cache_dir"], min_area_m2=1e7)


def test_by_bbox_the_areas_are_the_same_and_carry_no_district(servers):
    areas = residential_areas(bbox=(WEST, SOUTH, EAST, NORTH), cache_dir=servers["cache_dir"])
    assert len(areas) == 10 and areas["district"].isna().all()


def test_buildings_inside_compounds_are_dropped_as_parts_of_them(servers, extract):
    tags = {"landuse": "residential", "building": ["residential", "apartments"]}
    areas = residential_areas(bbox=(WEST, SOUTH, EAST, NORTH), tags=tags, cache_dir=servers["cache_dir"])
    box = shapely.box(WEST, SOUTH, EAST, NORTH)
    compounds = expected_areas(extract, is_residential, box)
    buildings = expected_areas(extract, lambda t: t.get("building") in ("residential", "apartments"), box)
    buildings = {i: b for i, b in buildings.items() if utm_area(b["geometry"]) >= 500}

    def inside_a_compound(geom):
        return any(utm_area(geom.intersection(c["geometry"])) >= 0.9 * utm_area(geom) for c in compounds.values())

    outside = {i for i, b in buildings.items() if not inside_a_compound(b["geometry"])}
    assert len(outside) < len(buildings)  # the extract has both kinds
    assert set(areas["id"]) == set(compounds) | outside
    dropped = areas.attrs["dropped"]
    assert {d["id"] for d in dropped} == set(buildings) - outside
    assert {d["kept"] for d in dropped} <= set(compounds)


@pytest.mark.parametrize("suffix", [".gpkg", ".csv", ".geojson"])
def test_written_demand_is_read_back_by_read_places(servers, tmp_path, suffix):
    areas = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    path = write_demand(areas, tmp_path / f"osm_demand{suffix}", extra_columns=("area_m2", "source"))
    demand = read_places(path, "demand", keep_columns=("area_m2", "source"))
    assert list(demand["id"]) == list(areas["id"])
    assert list(demand["name"]) == list(areas["name"])
    assert list(demand["district"]) == list(areas["district"])
    assert set(demand["status"]) == {"real"} and (demand["weight"] == 1.0).all()
    assert [float(a) for a in demand["area_m2"]] == pytest.approx(list(areas["area_m2"]))
    assert shapely.contains(areas.geometry.values, demand.geometry.values).all()
    assert ("footprint" in demand) == (suffix != ".csv")


def test_written_demand_without_extras_needs_no_keep_columns(servers, tmp_path):
    areas = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])
    demand = read_places(write_demand(areas, tmp_path / "d.csv"), "demand")
    assert len(demand) == len(areas)


def raw_layer(rows):
    """Rows in the layout of the cached 'areas' layer."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        [
            {"osm_type": t, "osm_id": i, "name": n, "name_zh": None, "osm_tags": json.dumps(tags), "geometry": g}
            for t, i, n, tags, g in rows
        ],
        geometry="geometry",
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(("grow", "zone_kept"), [(1.05, False), (3.0, True)])
def test_an_unnamed_zone_is_dropped_only_when_its_named_compounds_fill_it(extract, grow, zone_kept):
    # Two real compounds from the extract; the unnamed zone around them is constructed (their
    # envelope, scaled), since the extract has no such zone.
    import geopandas as gpd

    from coverage_planner.places.osm_demand import _areas_from_raw

    compounds = {
        w: shapely.Polygon([extract["node"][r][:2] for r in extract["way"][w][0]]) for w in (594891968, 595108678)
    }
    zone = shapely.affinity.scale(shapely.union_all(list(compounds.values())).envelope, grow, grow)
    raw = raw_layer(
        [("way", w, extract["way"][w][1]["name"], {"landuse": "residential"}, g) for w, g in compounds.items()]
        + [("way", 1, None, {"landuse": "residential"}, zone)]
    )
    no_boundaries = gpd.GeoDataFrame({"role": [], "name": []}, geometry=[], crs="EPSG:4326")
    areas, dropped = _areas_from_raw(raw, no_boundaries, 500)
    assert {"way/594891968", "way/595108678"} <= set(areas["id"])
    assert ("way/1" in set(areas["id"])) == zone_kept
    assert [d["id"] for d in dropped] == ([] if zone_kept else ["way/1"])


def test_an_area_mapped_twice_is_kept_once_under_its_name(extract):
    # A real compound outline, entered a second time as an unnamed relation (constructed).
    import geopandas as gpd

    from coverage_planner.places.osm_demand import _areas_from_raw

    outline = shapely.Polygon([extract["node"][r][:2] for r in extract["way"][594891968][0]])
    raw = raw_layer(
        [
            ("relation", 7, None, {"landuse": "residential"}, outline),
            ("way", 594891968, "富润家园", {"landuse": "residential"}, outline),
        ]
    )
    no_boundaries = gpd.GeoDataFrame({"role": [], "name": []}, geometry=[], crs="EPSG:4326")
    areas, dropped = _areas_from_raw(raw, no_boundaries, 500)
    assert list(areas["id"]) == ["way/594891968"] and list(areas["name"]) == ["富润家园"]
    assert dropped == [
        {
            "id": "relation/7",
            "name": "未命名居住区 relation/7",
            "reason": "the same area mapped twice",
            "kept": "way/594891968",
        }
    ]


# --- in a scenario run ------------------------------------------------------------------------


def write_osm_demand_scenario(folder: Path, cache_dir: Path) -> Path:
    """Real amenities of the extract as sites, two listed places as demand, plus [osm_demand] for both stand-in districts."""
    from real_places import beijing_place_frames

    folder.mkdir(parents=True, exist_ok=True)
    sites, demand = beijing_place_frames(raw_file(EXTRACT))
    sites.to_csv(folder / "sites.csv", index=False)
    demand.head(2).to_csv(folder / "demand.csv", index=False)
    places = ", ".join(json.dumps(q, ensure_ascii=False) for q in DISTRICTS)
    toml = folder / "scenario.toml"
    toml.write_text(
        f'name = "osm demand"\n[network]\npath = "{raw_file(EXTRACT).as_posix()}"\ncache_dir = "{cache_dir.as_posix()}"\n'
        f'[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 5\n'
        f'[osm_demand]\nplaces = [{places}]\nsubdistrict = "{SUBDISTRICT}"\n',
        encoding="utf-8",
    )
    return toml


def test_a_scenario_adds_the_osm_residential_areas_to_its_demand(servers, tmp_path, monkeypatch):
    from coverage_planner import run_scenario

    toml = write_osm_demand_scenario(tmp_path / "scenario", servers["cache_dir"])
    result = run_scenario(toml, progress=False)
    expected = residential_areas(list(DISTRICTS), subdistrict=SUBDISTRICT, cache_dir=servers["cache_dir"])
    osm = result.demand[result.demand["demand_id"].str.startswith(("way/", "relation/"))]
    assert len(result.demand) == 2 + len(expected)
    assert list(osm["demand_id"]) == list(expected["id"]) and list(osm["demand_name"]) == list(expected["name"])
    assert set(osm["type"]) == {"OSM 居住区"} and list(osm["district"]) == list(expected["district"])
    assert osm["walk_m"].notna().any()  # they are snapped and walked to like any place
    record = result.manifest["osm_demand"]
    assert record["areas"] == len(expected) and record["query"] and record["downloaded"]
    # The second run is offline, from the cache, with the same table.
    servers["stop"]()
    go_offline(monkeypatch)
    again = run_scenario(toml, progress=False)
    assert again.table().equals(result.table())


def test_a_listed_place_with_an_osm_area_id_is_a_clear_error(servers, tmp_path):
    from coverage_planner import InputError, run_scenario

    toml = write_osm_demand_scenario(tmp_path / "scenario", servers["cache_dir"])
    first_area = residential_areas(list(DISTRICTS), cache_dir=servers["cache_dir"])["id"].iloc[0]
    demand = toml.parent / "demand.csv"
    frame = pd.read_csv(demand)
    frame.loc[0, "id"] = first_area
    frame.to_csv(demand, index=False)
    with pytest.raises(InputError, match=f"{first_area}.*OSM residential area"):
        run_scenario(toml, progress=False)


@pytest.mark.parametrize(
    "section, message",
    [
        ('places = ["A"]\nbbox = [1, 2, 3, 4]', "exactly one of places or bbox"),
        ('subdistrict = "X"', "exactly one of places or bbox"),
        ("bbox = [3, 2, 1, 4]", "osm_demand.bbox"),
        ('places = ["A"]\nmin_area_m2 = "big"', "osm_demand.min_area_m2"),
        ('places = ["A"]\ncolour = "red"', "osm_demand.colour"),
    ],
)
def test_a_bad_osm_demand_section_names_the_key(tmp_path, section, message):
    from coverage_planner import ScenarioError
    from coverage_planner.config import Scenario

    for name in ("sites.csv", "demand.csv"):
        (tmp_path / name).write_text("id,name,lon,lat\n1,a,116.35,40.0\n", encoding="utf-8")
    toml = tmp_path / "s.toml"
    toml.write_text(
        f'[network]\nplace = "x"\n[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[osm_demand]\n{section}\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=re.escape(message)):
        Scenario.from_toml(toml)


def test_fetch_demand_writes_a_file_run_can_read(servers, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from coverage_planner.cli import app

    monkeypatch.setenv("COVERAGE_PLANNER_CACHE", str(servers["cache_dir"]))
    out = tmp_path / "areas.gpkg"
    args = ["fetch-demand", "--out", str(out), "--subdistrict", SUBDISTRICT]
    for place in DISTRICTS:
        args += ["--place", place]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    expected = residential_areas(list(DISTRICTS), subdistrict=SUBDISTRICT, cache_dir=servers["cache_dir"])
    back = read_places(out, "demand", keep_columns=["area_m2", "source"])
    assert list(back["id"]) == list(expected["id"]) and f"{len(expected)} residential areas" in done.output
    assert back["area_m2"].astype(float).round(3).tolist() == expected["area_m2"].round(3).tolist()
