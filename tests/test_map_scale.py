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
