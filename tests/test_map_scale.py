"""Large maps and fast outputs: GeoJSON from arrays, demand on one canvas, bands cached by their walk, the workbook.

Correctness only (timing lives in benchmarks/bench_outputs.py), on the real
Beijing Haidian extract with its real amenities and buildings.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner._errors import CacheWarning
from coverage_planner.outputs import _map_points, isochrones, maps
from coverage_planner.outputs.isochrones import clear_band_cache, isochrone_bands
from coverage_planner.outputs.maps import coverage_map, demand_classes, save_map
from coverage_planner.pipeline import run_scenario

HOSTILE = '</script><img src=x onerror="window.__pwned=1">{{ 7*7 }}{% if 1 %}&amp;'


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("scale"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=10
    )
    return run_scenario(toml, progress=False)


@pytest.fixture
def canvas(monkeypatch):
    """Draw every demand layer on the canvas, whatever its size."""
    monkeypatch.setattr(maps, "CANVAS_MIN_PLACES", 1)


def canvas_data(page: str) -> dict:
    match = re.search(r"var data = (\{.*?\});\n", page)
    assert match, "no canvas data in the page"
    return json.loads(match.group(1))


def test_geojson_from_arrays_equals_geopandas(result):
    demand = result.demand.reset_index(drop=True)
    frame = gpd.GeoDataFrame(
        {
            "name": demand["demand_name"].astype(object).where(demand.index % 7 != 0, None),
            "walk_min": demand["walk_min"].round(1),
            "covered": demand["covered"].to_numpy(bool),
            "i": np.arange(len(demand)),
        },
        geometry=demand.geometry.to_numpy(),
        crs=4326,
    )
    frame.loc[3, "geometry"] = shapely.Point()  # an empty geometry is written as null
    polygons = isochrone_bands(result, (5,)).reset_index(drop=True)[["site_name", "geometry"]]
    for data in (frame, polygons):
        expected = json.loads(data.to_json(na="null"))
        got = _map_points.feature_collection(pd.DataFrame(data.drop(columns="geometry")), data.geometry.to_numpy())
        assert json.loads(json.dumps(got)) == expected


def test_canvas_map_carries_every_place_with_its_class_and_position(result, canvas, tmp_path):
    page = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html").read_text("utf-8")
    data = canvas_data(page)
    points = np.array(data["points"]).reshape(-1, 3)
    demand = result.demand.reset_index(drop=True)
    assert len(points) == len(demand)
    assert np.abs(points[:, 0] / 1e5 - demand.geometry.y.to_numpy()).max() < 1e-5
    assert np.abs(points[:, 1] / 1e5 - demand.geometry.x.to_numpy()).max() < 1e-5
    classes = demand_classes(result, maps.default_bands(float(result.threshold_min)))
    colours = np.array([data["styles"][k]["fillColor"] for k in points[:, 2]])
    assert (colours == classes["colour"].to_numpy()).all()
    minutes = next(f for f in data["fields"] if f["key"] == "walk_min")["values"]
    expected = demand["walk_min"].round(1)
    assert [None if v is None else round(v, 1) for v in minutes] == [None if math.isnan(v) else v for v in expected]
    assert f"{len(demand):,} demand places drawn as dots on one canvas layer" in page
    assert "path.cp-demand" not in page or page.count('"cp-demand') == 0  # no per-place SVG features


def test_canvas_popup_text_is_escaped_in_the_page(result, canvas, tmp_path):
    demand = result.demand.copy()
    demand["demand_name"] = HOSTILE
    hostile = dataclasses.replace(result, demand=demand)
    page = save_map(coverage_map(hostile, basemap="none", lang="en"), tmp_path / "map.html").read_text("utf-8")
    script = page[page.index("var data = ") :]
    assert "</script><img" not in page and "{{ 7*7 }}" not in script and "{%" not in script
    names = next(f for f in canvas_data(page)["fields"] if f["key"] == "name")
    assert set(names["table"]) == {maps.html_text(HOSTILE)}  # HTML-escaped text, shown by innerHTML


def test_canvas_popup_opens_on_click_and_shows_hostile_names_as_text(result, canvas, tmp_path):
    from test_maps_browser import CHROMIUM, offline_page

    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    demand = result.demand.copy()
    demand["demand_name"] = HOSTILE
    hostile = dataclasses.replace(result, demand=demand)
    path = save_map(coverage_map(hostile, basemap="none", lang="en"), tmp_path / "map.html")
    with offline_page(tmp_path) as (page, errors, blocked):
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_selector(".leaflet-overlay-pane canvas", state="attached", timeout=20_000)
        page.wait_for_timeout(300)
        # A marker on top at its own centre: ask Leaflet where it is and click there.
        x, y, i = page.evaluate(
            """() => {
                const map = Object.entries(window).find(([k, v]) => k.startsWith('map_') && v instanceof L.Map)[1];
                const box = map.getContainer().getBoundingClientRect();
                let found = null;
                map.eachLayer(l => {
                    if (found || !(l instanceof L.CircleMarker) || !l.feature) return;
                    const p = map.latLngToContainerPoint(l.getLatLng()), x = box.x + p.x, y = box.y + p.y;
                    if (p.x > 320 && p.y > 60 && p.x < box.width - 320 && p.y < box.height - 60 &&
                        document.elementFromPoint(x, y).tagName === 'CANVAS') found = [x, y, l.feature.properties._i];
                });
                return found;
            }"""
        )
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        text = popup.inner_text()
        pwned = page.evaluate("() => window.__pwned === 1")
        routes = page.locator("path.cp-route").count()  # the routes handler of the GeoJSON layer works on the canvas
    assert HOSTILE in text and "walk minutes" in text
    assert routes == (1 if np.isfinite(hostile.demand["walk_m"].iloc[i]) else 0)
    assert not pwned
    assert errors == [] and blocked == []


def test_a_band_cache_hit_gives_the_same_bands_and_a_damaged_entry_is_rebuilt(result, tmp_path):
    clear_band_cache()
    fresh = isochrone_bands(result, (5, 10))  # memory only
    clear_band_cache()
    first = isochrone_bands(result, (5, 10), cache_dir=tmp_path)
    files = sorted((tmp_path / "bands").glob("*.cparr"))
    assert len(files) == fresh["site_id"].nunique()
    clear_band_cache()
    from_disk = isochrone_bands(result, (5, 10), cache_dir=tmp_path)
    from_memory = isochrone_bands(result, (5, 10), cache_dir=tmp_path)
    for frame in (first, from_disk, from_memory):
        assert frame.drop(columns="geometry").equals(fresh.drop(columns="geometry"))
        assert shapely.equals_exact(frame.geometry.to_numpy(), fresh.geometry.to_numpy(), tolerance=0).all()
    # A damaged file: warned about, rebuilt to the same shapes, rewritten.
    clear_band_cache()
    data = bytearray(files[0].read_bytes())
    data[-5] ^= 0xFF
    files[0].write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="rebuilt"):
        again = isochrone_bands(result, (5, 10), cache_dir=tmp_path)
    assert shapely.equals_exact(again.geometry.to_numpy(), fresh.geometry.to_numpy(), tolerance=0).all()
    clear_band_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        isochrone_bands(result, (5, 10), cache_dir=tmp_path)  # the rewritten file reads clean


def test_only_sites_whose_walk_changed_are_rebuilt(result, monkeypatch):
    clear_band_cache()
    before = isochrone_bands(result, (5, 10))
    sites = result.sites.copy()
    moved = sites.index[0]
    sites.loc[moved, "geometry"] = shapely.Point(sites.geometry.x[moved] + 3e-4, sites.geometry.y[moved])
    built = []
    real = isochrones._build_bands
    monkeypatch.setattr(
        isochrones, "_build_bands", lambda net, lonlat, *a: built.append(len(lonlat)) or real(net, lonlat, *a)
    )
    after = isochrone_bands(dataclasses.replace(result, sites=sites), (5, 10))
    assert built == [1]  # the moved site only
    same = after["site_id"] != sites["id"].iloc[0]
    assert shapely.equals_exact(
        after.geometry[same].to_numpy(), before.geometry[before["site_id"] != sites["id"].iloc[0]].to_numpy(), 0
    ).all()
    assert not shapely.equals_exact(after.geometry[~same].to_numpy(), before.geometry[~same].to_numpy(), 0).all()


def test_every_workbook_cell_holds_its_table_value(result, tmp_path):
    from coverage_planner.outputs import report

    doc = report._Document(result, "en", None, None, None)
    sheets = doc.sheets()
    report._write_workbook(tmp_path / "t.xlsx", sheets)
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    for name, frame in sheets.items():
        rows = list(book[name].iter_rows(values_only=True))
        assert list(rows[0][: len(frame.columns)]) == [str(c) for c in frame.columns]
        for r, values in enumerate(frame.itertuples(index=False), start=1):
            got = rows[r] if r < len(rows) else ()
            for c, value in enumerate(values):
                cell = got[c] if c < len(got) else None
                if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                    assert cell is None
                elif isinstance(value, bool | np.bool_):
                    assert cell is bool(value)
                elif isinstance(value, int | float | np.integer | np.floating):
                    assert cell == pytest.approx(float(value), rel=1e-15)  # XlsxWriter writes 16 digits
                else:
                    assert cell == str(value)


# ------------------------------------------------ rendering and drawing shortcuts give the same bytes


def test_plain_macro_output_renders_as_branca_compiles_it():
    from branca.element import Element

    texts = [
        "a",
        "a\n",
        "a\n\n",
        "",
        "\n",
        "x { y } {",
        "{{ 7*7 }}",
        "a\r\nb\n",
        "a\rb",
        "{# c #}x",
        "}}",
        HOSTILE.replace("{% if 1 %}", "{% if 1 %}{% endif %}"),
    ]
    texts += ['{"type":"Feature","properties":{"a":{"b":1}}}\n', "  \n\t\n", "line\n" * 3]
    for text in texts:
        assert maps._rendered_text(text).render() == Element(text).render(), repr(text)
    with pytest.raises(Exception, match="tag name expected"):  # broken template syntax fails as in branca
        maps._rendered_text("}} {%")


def test_a_map_renders_to_the_same_bytes_as_through_branca_compiling_every_output(result, tmp_path, monkeypatch):
    from branca.element import Element

    fast = save_map(coverage_map(result, lang="en", routes="all"), tmp_path / "fast.html").read_bytes()
    compiled = []
    monkeypatch.setattr(maps, "_rendered_text", lambda text: compiled.append(len(text)) or Element(text))
    slow = save_map(coverage_map(result, lang="en", routes="all"), tmp_path / "slow.html").read_bytes()
    assert len(compiled) >= 8  # the streets, bands, demand, routes, legend … took branca's path
    assert fast == slow


def test_route_encoding_equals_json_of_each_route(result):
    routes = isochrones.walk_routes(result)
    assert len(routes) > 10
    for shift in (False, True):
        expected: list = [None] * len(result.demand)
        for place, line in zip(routes["place"], shapely.simplify(routes.geometry.to_numpy(), 1.5e-5)):
            xy = shapely.get_coordinates(line)
            lon, lat = maps._shift_xy(xy[:, 0], xy[:, 1], shift)
            ints = np.column_stack([np.round(lat * 1e5), np.round(lon * 1e5)]).astype(np.int64)
            ints[1:] = np.diff(ints, axis=0)
            expected[int(place)] = ints.ravel().tolist()
        assert maps._encode_routes(len(result.demand), routes, shift) == json.dumps(expected, separators=(",", ":"))
    assert maps._encode_routes(3, routes.iloc[:0], False) == "[null,null,null]"


def _street_geometry_through_geopandas(net, shift: bool) -> dict:
    """The streets as `_geojson` made them before: the multi-line in a GeoDataFrame, rounded, through `mapping`."""
    frame = gpd.GeoDataFrame(geometry=[maps._street_lines(net, 2.0)], crs=4326)
    layer = maps._geojson(frame, shift, lambda f: {})
    return layer.data["features"][0]["geometry"]


def test_cached_streets_equal_the_uncached_ones_and_follow_the_network(result):
    net = result.network
    for shift in (False, True):
        maps._STREETS.clear()
        fresh = maps._street_geometry(net, 2.0, shift)
        assert len(maps._STREETS) == 2  # the lines and the coordinates as drawn
        again = maps._street_geometry(net, 2.0, shift)
        assert len(maps._STREETS) == 2 and again == fresh
        assert json.dumps(fresh) == json.dumps(_street_geometry_through_geopandas(net, shift))
    # Same nodes, edges and lengths (so the same fingerprint), shapes moved about 20 m east: new streets.
    moved = dataclasses.replace(net, coords=net.coords + np.array([2.5e-4, 0.0]), coords_metric=None)
    assert moved.fingerprint == net.fingerprint
    shifted = maps._street_geometry(moved, 2.0, False)
    assert shifted["coordinates"] != maps._street_geometry(net, 2.0, False)["coordinates"]
    assert json.dumps(shifted) == json.dumps(_street_geometry_through_geopandas(moved, False))
    assert maps._street_geometry(net, 5.0, False) != maps._street_geometry(net, 2.0, False)  # tolerance is a key


def test_a_map_with_streets_kept_renders_the_same_bytes_as_a_fresh_one(result, tmp_path):
    maps._STREETS.clear()
    first = save_map(coverage_map(result, lang="zh", basemap="gaode"), tmp_path / "a.html").read_bytes()
    assert maps._STREETS
    again = save_map(coverage_map(result, lang="zh", basemap="gaode"), tmp_path / "b.html").read_bytes()
    assert first == again


def test_static_map_pieces_kept_equal_fresh_ones_and_follow_network_and_intervals(result):
    from coverage_planner.access.snapping import snap_points
    from coverage_planner.outputs import static_map
    from coverage_planner.outputs.isochrones import interval_lines, reached_intervals

    net = result.network
    lonlat = np.column_stack([result.sites.geometry.x, result.sites.geometry.y])
    intervals = reached_intervals(net, snap_points(net, lonlat, max_snap_m=np.inf), [400.0, 800.0])
    static_map._PIECES.clear()
    kept = static_map._interval_coordinates(net, intervals)
    assert static_map._interval_coordinates(net, intervals) is kept
    fresh = [shapely.get_coordinates(line) for line in interval_lines(net, intervals)]
    assert len(kept) == len(fresh) == len(intervals) > 0
    assert all(np.array_equal(a, b) for a, b in zip(kept, fresh))
    fewer = intervals.iloc[: len(intervals) // 2]
    assert len(static_map._interval_coordinates(net, fewer)) == len(fewer)
    shorter = intervals.assign(end_m=intervals["end_m"] * 0.5)
    assert static_map._interval_key(net, shorter) != static_map._interval_key(net, intervals)
    moved = dataclasses.replace(net, coords=net.coords + np.array([2.5e-4, 0.0]), coords_metric=None)
    moved_pieces = static_map._interval_coordinates(moved, intervals)
    assert not np.array_equal(moved_pieces[0], kept[0])
    assert np.array_equal(moved_pieces[0], shapely.get_coordinates(interval_lines(moved, intervals)[0]))


def test_a_printed_map_with_pieces_kept_is_byte_identical_to_a_fresh_one(result):
    from coverage_planner.outputs import static_map

    static_map._PIECES.clear()
    fresh = static_map.static_map_png(result, "en")
    assert static_map._PIECES
    assert static_map.static_map_png(result, "en") == fresh


def test_library_use_is_found_as_a_plain_pattern_search_finds_it():
    from coverage_planner.outputs import _offline_assets

    pages = [
        "",
        "jQuery(",
        "x $.ajax",
        'a "prefix":   "fa" b',
        'class="fas x',
        'class="fa ',
        'class="fab',
        "L.AwesomeMarkers",
    ]
    pages += ['"prefix": "fab"', "data-bs-toggle", "bootstrap.min", 'class="btn', "glyphicon", "$ (", "bootstrap"]
    for page in pages:
        for part, pattern, _ in _offline_assets._USED_WHEN:
            url = f"https://cdn.example/{part}/x.js"
            expected = pattern is None or re.search(pattern, page) is not None
            assert _offline_assets._used(url, page, {}) is expected, (page, pattern)


def test_saving_a_map_leaves_folium_classes_as_they_are(result, tmp_path):
    import folium
    from branca.element import MacroElement

    renders = {cls: cls.render for cls in (folium.Marker, folium.FeatureGroup, folium.GeoJson, MacroElement)}
    first = save_map(coverage_map(result, lang="en"), tmp_path / "a.html").read_bytes()
    assert save_map(coverage_map(result, lang="en"), tmp_path / "b.html").read_bytes() == first
    for cls, render in renders.items():
        assert cls.render is render
        assert maps._QuickRender not in cls.__mro__
    marker = folium.Marker([0.0, 0.0])
    assert type(marker) is folium.Marker


def test_the_cycle_collector_is_back_as_it_was_after_an_output_even_a_failed_one():
    import gc

    from coverage_planner.outputs import _gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), _gc.paused():
        assert not gc.isenabled()
        raise RuntimeError("output failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc.paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def _vertex_metres(net, edge: int) -> tuple[np.ndarray, np.ndarray]:
    xy = net.coords[net.coord_offsets[edge] : net.coord_offsets[edge + 1]]
    return xy, np.concatenate([[0.0], np.cumsum(isochrones.haversine_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]))])


def _piece_one_by_one(net, edge: int, start_m: float, end_m: float) -> np.ndarray:
    """An edge's piece from ``start_m`` to ``end_m`` metres from u, cut with ``numpy.interp`` on its own."""
    xy, run = _vertex_metres(net, edge)
    a, b = sorted((min(max(start_m, 0.0), run[-1]), min(max(end_m, 0.0), run[-1])))
    ends = [[np.interp(m, run, xy[:, 0]), np.interp(m, run, xy[:, 1])] for m in (a, b)]
    piece = np.vstack([ends[0], xy[(run > a) & (run < b)], ends[1]])
    return piece if start_m <= end_m else piece[::-1]


def test_edge_pieces_cut_for_all_routes_at_once_equal_pieces_cut_one_by_one(result):
    net = result.network
    rng = np.random.default_rng(3)
    edges = rng.integers(0, net.n_edges, 400)
    length = net.edge_length[edges]
    # Cut anywhere (beyond the ends too), at the ends, and exactly at an inner vertex.
    vertex = np.array([_vertex_metres(net, int(e))[1][len(_vertex_metres(net, int(e))[1]) // 2] for e in edges])
    starts = np.concatenate([rng.uniform(-5, length + 5), np.zeros(len(edges)), vertex, length])
    ends = np.concatenate([rng.uniform(0, length), length, length, vertex])
    all_edges = np.tile(edges, 4)
    tree = isochrones._Tree(net, result.site_snap, result.demand_snap, None, None)
    route, points = tree.along(np.arange(len(all_edges)), all_edges, starts, ends)
    assert (np.diff(net.coord_offsets)[edges] > 2).sum() > 20 and (starts > ends).any() and (starts < 0).any()
    for q, (e, a, b) in enumerate(zip(all_edges.tolist(), starts.tolist(), ends.tolist())):
        assert np.array_equal(points[route == q], _piece_one_by_one(net, e, a, b)), (e, a, b)  # bit for bit


def test_routes_worked_out_together_equal_each_place_routed_alone(result):
    together = isochrones.walk_routes(result)
    reached = np.flatnonzero(result.demand["walk_m"].notna().to_numpy())
    assert together["place"].tolist() == reached.tolist() and result.demand["nearest_site_id"].nunique() > 5
    sample = reached[:: max(1, len(reached) // 25)]
    for place in sample.tolist():
        alone = isochrones.walk_routes(result, [place])
        row = together[together["place"] == place]
        assert alone["route_m"].tolist() == row["route_m"].tolist()
        assert shapely.equals_exact(alone.geometry.iloc[0], row.geometry.iloc[0], 0.0)
    backwards = isochrones.walk_routes(result, sample[::-1])
    assert backwards["place"].tolist() == sample[::-1].tolist()  # in the order asked


def test_style_switch_and_streets_written_in_one_piece_equal_foliums_own_writing(result, tmp_path, monkeypatch):
    fast = save_map(coverage_map(result, lang="zh", basemap="gaode"), tmp_path / "fast.html").read_bytes()
    assert b"cp-style-cases" not in fast and b"cp-geometry" not in fast
    plain = maps._QuickRender._macro_text
    monkeypatch.setattr(maps._GroupedGeoJson, "_macro_text", plain)
    monkeypatch.setattr(maps._GeometryTextGeoJson, "_macro_text", plain)
    maps._STREET_TEXT.clear()
    slow = save_map(coverage_map(result, lang="zh", basemap="gaode"), tmp_path / "slow.html").read_bytes()
    assert fast == slow


def test_names_escaped_once_per_distinct_value_equal_escaping_each_value():
    from coverage_planner.escape import html_text

    def one_by_one(values: pd.Series) -> pd.Series:
        return values.map(lambda v: None if maps._missing(v) else html_text(v)).astype(object)

    cases = [
        pd.Series(["a", None, HOSTILE, np.nan, "a", pd.NA, "é", "e\u0301"], name="n", index=[5, 3, 1, 2, 7, 8, 9, 0]),
        pd.Series(["x", 1, None]),
        pd.Series([1.5, np.nan]),
    ]
    for dtype in ("str", "string", object):
        cases += [pd.Series(["a", None, "a", "<&>"], dtype=dtype), pd.Series([None, None], dtype=dtype)]
        cases += [pd.Series([], dtype=dtype), pd.Series(["b", "a"], dtype=dtype)]
    for values in cases:
        fast, slow = maps._escaped(values), one_by_one(values)
        assert fast.equals(slow) and fast.index.equals(slow.index) and fast.name == slow.name
        assert fast.dtype == slow.dtype and [type(v) for v in fast] == [type(v) for v in slow]
