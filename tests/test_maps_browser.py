"""The offline map in a real browser: headless Chromium, from file://, with networking off.

Also measured here: page size and opening time for 2,000 (Monaco) and 5,000
(Andorra) places with streets and routes.

Skipped only when Chromium is not installed (Debian package ``chromium``).
Playwright drives the system Chromium (``executable_path``); it never
downloads a browser of its own.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner import compute_coverage, run_scenario
from coverage_planner.outputs.isochrones import isochrone_bands, walk_routes
from coverage_planner.outputs.maps import TIANDITU_KEY_VARIABLE, coverage_map, save_map

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """Real amenities (sites) and buildings (demand) of the Beijing Haidian extract, 10-minute threshold."""
    return run_scenario(
        write_beijing_scenario(
            tmp_path_factory.mktemp("browser"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=10
        )
    )


@contextmanager
def offline_page(tmp_path: Path):
    """A page in a fresh Chromium profile that can load file:// only; yields (page, errors, blocked URLs)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    blocked: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            offline=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            context.route("**/*", only_local)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            yield page, errors, blocked
        finally:
            context.close()


def _open(page, path: Path) -> None:
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_selector("path.cp-demand", state="attached", timeout=20_000)
    page.wait_for_timeout(300)  # let Leaflet finish its first render


def _count(page, selector: str) -> int:
    return page.locator(selector).count()


def test_offline_map_draws_every_place_band_and_site_without_errors(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html", offline=True)
    bands = isochrone_bands(result, (5, 10))
    with offline_page(tmp_path) as (page, errors, blocked):
        _open(page, path)
        assert _count(page, ".leaflet-container") == 1
        assert page.evaluate("() => typeof L === 'object' && L.version") == "1.9.3"
        assert _count(page, "path.cp-demand") == len(result.demand)
        assert _count(page, ".cp-site") == len(result.sites)
        assert _count(page, "path.cp-band") == int((bands["band_min"] == 10).sum())  # the threshold band shows first
        assert page.locator("#cp-legend").is_visible()
        page.screenshot(path=str(tmp_path / "map.png"))
        # A planner turns every layer on in the layer control.
        for box in page.locator(".leaflet-control-layers-overlays input[type=checkbox]").all():
            if not box.is_checked():
                box.check()
        assert _count(page, "path.cp-band") == len(bands)
        assert _count(page, "path.cp-union") == 2
        assert _count(page, "path.cp-demand") == len(result.demand)
    assert errors == []
    assert blocked == []  # nothing but the file itself was requested

    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "map.png").convert("RGB")).astype(int)
    assert shot.std() > 10, "the screenshot is blank"
    r, g, b = shot[..., 0], shot[..., 1], shot[..., 2]
    assert ((g > r + 40) & (g > b + 10)).sum() > 200, "no green (covered) markers painted"
    assert ((r > g + 80) & (r > b + 80)).sum() > 50, "no red (not covered) markers painted"


def test_with_no_basemap_reachable_the_data_still_show(result, tmp_path):
    path = save_map(coverage_map(result, basemap="osm", lang="zh"), tmp_path / "map.html", offline=True)
    with offline_page(tmp_path) as (page, errors, blocked):
        _open(page, path)
        assert _count(page, "path.cp-demand") == len(result.demand)
        assert _count(page, ".cp-site") == len(result.sites)
    assert blocked and all(
        "tile.openstreetmap.org" in url for url in blocked
    )  # only the tiles were wanted from the web
    # Failed tile loads are reported as network errors, never as script errors.
    assert [e for e in errors if not ("Failed to load resource" in e or "ERR_INTERNET_DISCONNECTED" in e)] == []


def test_clicking_a_place_opens_its_popup_with_name_and_walk_minutes(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html", offline=True)
    with offline_page(tmp_path) as (page, errors, _):
        _open(page, path)
        # A place whose marker is on top at its own centre (not under another marker, the legend or the layer control).
        x, y = page.evaluate(
            """() => {
                for (const el of document.querySelectorAll('path.cp-demand')) {
                    const r = el.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
                    if (r.width > 0 && document.elementFromPoint(x, y) === el) return [x, y];
                }
            }"""
        )
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        text = popup.inner_text()
        # Each row's label on one line ("walk distance (m)" was broken before "(m)"; 最近站点 after 最近站).
        label_lines = page.evaluate(
            """() => [...document.querySelectorAll('.leaflet-popup-content th')].map(th => {
                const range = document.createRange(); range.selectNodeContents(th);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            })"""
        )
    assert "walk minutes" in text and "nearest site" in text and "to the street (m)" in text
    assert label_lines and set(label_lines) == {1}, label_lines
    assert any(str(n) in text for n in result.demand["demand_name"])
    assert errors == []


def test_a_popup_near_the_top_opens_clear_of_the_title(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html", offline=True)
    with offline_page(tmp_path) as (page, errors, _):
        _open(page, path)
        # The topmost place whose marker is on top at its centre: its popup would open above the page's edge.
        x, y = page.evaluate(
            """() => {
                let best = null;
                for (const el of document.querySelectorAll('path.cp-demand')) {
                    const r = el.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
                    if (r.width > 0 && document.elementFromPoint(x, y) === el && (!best || y < best[1])) best = [x, y];
                }
                return best;
            }"""
        )
        page.mouse.click(x, y)
        page.locator(".leaflet-popup-content").wait_for(timeout=5_000)
        page.wait_for_timeout(800)  # the map pans the popup into view
        popup = page.evaluate("() => document.querySelector('.leaflet-popup').getBoundingClientRect().top")
        title = page.evaluate("() => document.querySelector('.cp-title').getBoundingClientRect().bottom")
    assert popup >= title, (popup, title)
    assert errors == []


def _visible_rows(page) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#cp-legend .cp-row')]"
        ".filter(r => r.offsetParent !== null).map(r => r.textContent.trim())"
    )


def _toggle(page, name: str, on: bool) -> None:
    label = page.locator(".leaflet-control-layers-overlays label", has_text=name)
    if label.locator("input").is_checked() != on:
        label.click()
    assert label.locator("input").is_checked() == on


def test_legend_lists_only_the_layers_on_the_map(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html")
    with offline_page(tmp_path) as (page, errors, _):
        _open(page, path)
        rows = _visible_rows(page)
        assert "10-minute walk (each site)" in rows and "5-minute walk (each site)" not in rows
        assert not any("(all sites)" in r for r in rows)
        assert any(r.startswith("≤ 5 min (covered)") for r in rows)
        _toggle(page, "demand places", False)
        _toggle(page, "5-minute walk (all sites)", True)
        rows = _visible_rows(page)
        assert not any(r.startswith(("≤ 5 min (covered)", "> 10 min")) for r in rows)
        assert "5-minute walk (all sites)" in rows and "10-minute walk (all sites)" not in rows
        _toggle(page, "streets (walk network)", False)
        assert "streets (walk network)" not in _visible_rows(page)
    assert errors == []


def test_streets_title_and_a_metric_scale_show_offline(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="zh"), tmp_path / "map.html")
    with offline_page(tmp_path) as (page, errors, blocked):
        _open(page, path)
        assert _count(page, "path.cp-street") == 1
        assert page.evaluate("() => getComputedStyle(document.querySelector('path.cp-street')).pointerEvents") == "none"
        assert page.title() == "Beijing test · 步行 10 分钟覆盖 · 步速 4.5 公里/小时"
        assert page.locator(".cp-title").is_visible()
        scales = page.locator(".leaflet-control-scale-line").all_inner_texts()
        assert len(scales) == 1 and scales[0].endswith((" m", " km"))
        page.screenshot(path=str(tmp_path / "map.png"))
    assert errors == [] and blocked == []
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "map.png").convert("RGB")).astype(int)
    grey = (np.abs(shot[..., 0] - 180) < 12) & (np.abs(shot[..., 1] - 180) < 12) & (np.abs(shot[..., 2] - 180) < 12)
    assert grey.sum() > 2000, "no streets painted"


def test_clicking_a_place_left_outside_draws_its_route_and_the_route_layer_draws_them_all(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html")
    routes = walk_routes(result)
    left_out = int((~result.demand["covered"].to_numpy()[routes["place"].to_numpy()]).sum())
    with offline_page(tmp_path) as (page, errors, _):
        _open(page, path)
        assert _count(page, "path.cp-route") == 0
        x, y = page.evaluate(
            """() => {
                for (const el of document.querySelectorAll('path.cp-outside')) {
                    const r = el.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
                    if (r.width > 0 && document.elementFromPoint(x, y) === el) return [x, y];
                }
            }"""
        )
        page.mouse.click(x, y)
        page.locator(".leaflet-popup-content").wait_for(timeout=5_000)
        assert _count(page, "path.cp-route") == 1
        text = page.locator(".leaflet-popup-content").inner_text()
        assert "straight line (m)" in text and "walk distance (m)" in text
        page.evaluate("() => Object.values(window).find(v => v instanceof L.Map).closePopup()")
        assert _count(page, "path.cp-route") == 0
        _toggle(page, "routes of places left out", True)
        assert _count(page, "path.cp-route-out") == left_out > 0
    assert errors == []


def test_labels_name_sites_always_and_places_when_zoomed_in(result, tmp_path):
    path = save_map(coverage_map(result, basemap="none", lang="en", labels=True), tmp_path / "map.html")
    with offline_page(tmp_path) as (page, errors, _):
        _open(page, path)
        page.evaluate("() => Object.values(window).find(v => v instanceof L.Map).setZoom(15)")
        page.wait_for_timeout(500)
        assert _count(page, ".cp-label-site") == len(result.sites)
        assert page.locator(".cp-label-site").first.is_visible()
        assert _count(page, ".cp-label-place") == len(result.demand)
        assert not page.locator(".cp-label-place").first.is_visible()
        page.evaluate("() => Object.values(window).find(v => v instanceof L.Map).setZoom(17)")
        page.wait_for_timeout(500)
        assert page.locator(".cp-label-place").first.is_visible()
    assert errors == []


def test_tianditu_is_the_only_thing_the_page_wants_from_the_web(result, tmp_path, monkeypatch):
    monkeypatch.setenv(TIANDITU_KEY_VARIABLE, "0123456789abcdef0123456789abcdef")  # made up: nothing is fetched
    path = save_map(coverage_map(result, basemap="tianditu", lang="zh"), tmp_path / "map.html")
    with offline_page(tmp_path) as (page, errors, blocked):
        _open(page, path)
        assert _count(page, "path.cp-demand") == len(result.demand)
    assert blocked and all(".tianditu.gov.cn/DataServer?T=" in url for url in blocked)
    assert {url.split("T=")[1][:5] for url in blocked} == {"vec_w", "cva_w"}
    assert [e for e in errors if not ("Failed to load resource" in e or "ERR_INTERNET_DISCONNECTED" in e)] == []


@pytest.mark.parametrize(
    ("extract", "places", "threshold"), [("monaco.osm.pbf", 2000, 10), ("andorra.osm.pbf", 5000, 15)]
)
def test_a_large_map_opens_in_seconds(extract, places, threshold, tmp_path):
    """Synthetic placeholder places (labelled as such) scattered near the extract's real streets; 20 are sites."""
    import geopandas as gpd
    import shapely

    from coverage_planner.network.graph import WalkNetwork

    net = WalkNetwork.from_file(raw_file(extract))
    rng = np.random.default_rng(0)
    edges = rng.integers(0, net.n_edges, places + 20)
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(net.edges_wgs84[edges], rng.uniform(0, 1, places + 20), normalized=True)
    )
    xy += rng.normal(0, 2e-4, xy.shape)
    frame = gpd.GeoDataFrame(
        {"name": [f"synthetic {i}" for i in range(places + 20)], "status": "placeholder"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=4326,
    )
    run = compute_coverage(net, frame.iloc[:20], frame.iloc[20:], threshold_min=threshold)
    path = save_map(coverage_map(run, basemap="none"), tmp_path / "map.html")
    size_mb = path.stat().st_size / 1e6
    with offline_page(tmp_path) as (page, errors, _):
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(
            f"() => document.querySelectorAll('path.cp-demand').length === {places}", timeout=60_000, polling=100
        )
        # From navigation start to every place drawn, as the browser timed it.
        seconds = page.evaluate("() => performance.now() / 1000")
    print(f"{extract}: {places} places, {size_mb:.2f} MB, drawn after {seconds:.2f} s")
    assert errors == []
    assert size_mb < 8, f"{size_mb:.2f} MB"
    assert seconds < 15, f"{seconds:.1f} s"
