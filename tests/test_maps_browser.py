"""The offline map in a real browser: headless Chromium, from file://, with networking off.

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

from coverage_planner import run_scenario
from coverage_planner.outputs.isochrones import isochrone_bands
from coverage_planner.outputs.maps import coverage_map, save_map

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
    assert "walk minutes" in text and "nearest site" in text and "to the street (m)" in text
    assert any(str(n) in text for n in result.demand["demand_name"])
    assert errors == []
