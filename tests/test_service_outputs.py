"""Service planning in the map, the report and tables.xlsx; and a drive run's outputs say drive, never walk.

The service tables come from the real planning API on Monaco (capacitated
allocation, the volunteer spread, 2SFCA, equity, circuit routes, clinic
venues); what the writers show is checked against those tables, not
against fixed numbers. Without service tables every file is byte-identical
to the one written without the argument.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import raw_file
from cost_reference import frame, places_near_edges
from markupsafe import escape
from openpyxl import load_workbook
from service_scenario import every_service_table, monaco_service_places

import coverage_planner as cp
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.outputs.maps import coverage_map, map_heading, save_map
from coverage_planner.outputs.report import write_report
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.outputs.static_map import static_map_figure

HOSTILE = '</script><script>window.__pwned=1</script>{{ 7*7 }}=HYPERLINK("x")'


@pytest.fixture(scope="module")
def result(monaco):
    sites, demand = monaco_service_places()
    # One hostile site name and one hostile place name that a route visits (set below).
    sites.loc[sites.index[0], "name"] = HOSTILE
    return cp.compute_coverage(monaco, sites, demand, threshold_min=5)


@pytest.fixture(scope="module")
def service(result):
    service = every_service_table(result, volunteers=561, clinics=3)
    # A place a route visits carries a hostile name in the routes table (as a planner's file could).
    routes = service.circuit_routes.copy()
    visit = routes.index[routes["kind"] == "visit"][0]
    routes.loc[visit, "place_name"] = HOSTILE
    service.circuit_routes = routes
    assert len(service.circuit_schedule) >= 3 and len(service.links) >= 3
    return service


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _geojson_layers(html: str) -> list[dict]:
    """Every GeoJSON feature collection folium wrote into the page (``geo_json_…_add({...})``)."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(html, m.end())[0] for m in re.finditer(r"geo_json_[0-9a-f]+_add\((?=\{)", html)]


def _div_icons(html: str) -> list[str]:
    """The HTML of every DivIcon, in drawing order."""
    return [json.loads(m.group(1)) for m in re.finditer(r'L\.divIcon\(\{\s*"html": ("(?:[^"\\]|\\.)*")', html)]


# ------------------------------------------------------------------ without service: the same bytes


def test_without_service_every_output_is_byte_identical(result, tmp_path):
    for lang in ("zh", "en"):
        plain = save_map(coverage_map(result, lang=lang, basemap="none"), tmp_path / f"a_{lang}.html").read_bytes()
        none = save_map(
            coverage_map(result, lang=lang, basemap="none", service=None), tmp_path / f"b_{lang}.html"
        ).read_bytes()
        empty = save_map(
            coverage_map(result, lang=lang, basemap="none", service=ServiceTables()), tmp_path / f"c_{lang}.html"
        ).read_bytes()
        assert plain == none == empty
    write_report(result, tmp_path / "plain", lang="zh")
    write_report(result, tmp_path / "empty", lang="zh", service=ServiceTables())
    plain, empty = _digests(tmp_path / "plain"), _digests(tmp_path / "empty")
    assert {"report.html", "report.md", "report.pdf", "tables.xlsx"} <= set(plain)
    assert plain == empty


# ------------------------------------------------------------------ the map


@pytest.fixture(scope="module")
def service_map(result, service, tmp_path_factory):
    folder = tmp_path_factory.mktemp("service_map")
    return save_map(coverage_map(result, lang="zh", basemap="none", service=service), folder / "map.html")


def test_links_layer_has_one_line_per_assigned_place_coloured_like_its_site(service_map, service):
    html = service_map.read_text(encoding="utf-8")
    features = [f for layer in _geojson_layers(html) for f in layer["features"]]
    drawn = [f for f in features if {"tip", "_c"} <= set(f["properties"]) and f["geometry"]["type"] == "LineString"]
    assert len(drawn) == len(service.links) == int(service.assignment["site_id"].notna().sum())
    # The line's ends are the place and its site (to 1e-5°).
    ends = {(round(x, 5), round(y, 5)) for f in drawn for x, y in (f["geometry"]["coordinates"][0],)}
    expected = {(round(line.coords[0][0], 5), round(line.coords[0][1], 5)) for line in service.links.geometry}
    assert ends == expected
    assert "服务分配 (地点 → 所分配站点)" in html


def test_route_layers_number_their_stops_in_the_order_of_the_routes_table(service_map, service):
    html = service_map.read_text(encoding="utf-8")
    discs = [
        int(m.group(1))
        for h in _div_icons(html)
        if (m := re.fullmatch(r'<div class="cp-stop" style="background:#[0-9a-f]{6}">(\d+)</div>', h))
    ]
    routes = service.circuit_routes.sort_values(["route", "stop"])
    visits = routes[routes["kind"] == "visit"]
    assert discs == visits["stop"].astype(int).tolist()
    for _, stops in visits.groupby("route"):
        assert stops["stop"].tolist() == list(range(1, len(stops) + 1))
    names = re.findall(r"巡回调解路线 (\d+) · ", html)
    assert sorted({int(n) for n in names}) == sorted(service.circuit_schedule["route"].astype(int).tolist())


def test_printed_route_maps_use_the_interactive_maps_route_colours():
    from coverage_planner.outputs.maps import CIRCUIT_COLOURS
    from coverage_planner.outputs.static_map import ROUTE_COLOURS

    assert tuple(CIRCUIT_COLOURS) == ROUTE_COLOURS


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    return exe


def test_map_with_routes_in_a_browser_runs_no_injected_script_and_shows_names_literally(service_map, service, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(service_map.as_uri(), wait_until="load")
            page.wait_for_selector("path.cp-demand", state="attached", timeout=20_000)
            page.wait_for_timeout(300)
            assert page.evaluate("() => window.__pwned === undefined")
            visits = service.circuit_routes[service.circuit_routes["kind"] == "visit"]
            assert page.locator(".cp-stop").count() == len(visits)
            assert page.locator("path.cp-link").count() == len(service.links)
            assert page.locator("path.cp-circuit").count() == len(service.circuit_legs)
            # The stop with the hostile name: its popup shows the name as text, times and the stay.
            hostile = visits[visits["place_name"] == HOSTILE].iloc[0]
            layer_of = sorted(service.circuit_routes["route"].unique()).index(hostile["route"])
            stop = page.locator(".leaflet-marker-pane .cp-stop", has_text=re.compile(rf"^{int(hostile['stop'])}$"))
            stop.nth(_nth_stop(visits, hostile, layer_of)).click(force=True)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for(timeout=5_000)
            text = popup.inner_text()
            assert HOSTILE in text and hostile["arrival_clock"] in text and hostile["leave_clock"] in text
            assert "停留 15 分钟" in text
            # The legend: route rows go with their layers.
            page.locator(".leaflet-control-layers").hover()
            label = page.locator(".leaflet-control-layers-overlays label", has_text="巡回调解路线 1 ·")
            label.click()
            assert not label.locator("input").is_checked()
            rows = page.evaluate(
                "() => [...document.querySelectorAll('#cp-legend [data-cp-layers]')]"
                ".filter(r => getComputedStyle(r).display !== 'none').map(r => r.textContent)"
            )
            assert not any(r.startswith("巡回调解路线 1 ·") for r in rows)
            assert any(r.startswith("巡回调解路线 2 ·") for r in rows)
            page.screenshot(path=str(tmp_path / "map.png"))
            assert page.evaluate("() => window.__pwned === undefined")
        finally:
            browser.close()
    assert errors == []


def _nth_stop(visits, hostile, layer_of: int) -> int:
    """Which of the discs numbered like the hostile stop is it, in drawing order."""
    same = visits[visits["stop"] == hostile["stop"]].sort_values("route")
    return list(same["route"]).index(hostile["route"])


# ------------------------------------------------------------------ the report


@pytest.fixture(scope="module")
def service_report(result, service, tmp_path_factory):
    folder = tmp_path_factory.mktemp("service_report")
    write_report(result, folder, lang="zh", service=service)
    return folder


def test_report_has_one_page_break_section_per_route_with_its_stops_in_order(service_report, service):
    html = (service_report / "report.html").read_text(encoding="utf-8")
    assert "section.route-page { break-before: page; page-break-before: always; }" in html
    pages = re.findall(r'<section class="route-page">(.*?)</section>', html, flags=re.S)
    schedule = service.circuit_schedule
    assert len(pages) == len(schedule)
    routes = service.circuit_routes
    for page, row in zip(pages, schedule.to_dict("records")):
        assert f"巡回调解路线 {row['route']}:" in page
        stops = routes[(routes["route"] == row["route"]) & (routes["kind"] == "visit")].sort_values("stop")
        cells = re.findall(r"<tr><td class=\"n\">(\d+)</td><td class=\"wide\">(.*?)</td>", page)
        assert [int(n) for n, _ in cells] == stops["stop"].tolist()
        for (_, cell), stop in zip(cells, stops.to_dict("records")):
            assert cell == str(escape(stop["place_name"]))
            assert stop["arrival_clock"] in page and stop["leave_clock"] in page
        assert f"全程 {row['total_min']:.0f} 分钟, 预算 120 分钟" in page
    # Hostile text is escaped, never markup.
    assert HOSTILE not in html and "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in html
    md = (service_report / "report.md").read_text(encoding="utf-8")
    assert md.count("### 巡回调解路线 ") == len(schedule)
    # Each page has its route's map; the Markdown links the same drawing as a file.
    assert all('<figure class="route-map"><img' in page for page in pages)
    files = sorted(p.name for p in service_report.glob("route_*.png"))
    assert files == sorted(f"route_{r}.png" for r in schedule["route"])
    assert all(f"](route_{r}.png)" in md for r in schedule["route"])
    assert "<script>window.__pwned" not in md


def test_report_tables_equal_the_service_tables(service_report, service):
    html = (service_report / "report.html").read_text(encoding="utf-8")
    for row in service.site_loads.to_dict("records"):
        assert f"{row['load_per_capacity'] * 100:.1f}%" in html
    total = int(service.volunteers["volunteers"].sum())
    assert total == 561 and "共 561 名志愿者分配到" in html
    gini = service.equity.loc[service.equity["group"] == "all", "gini_walk"].iloc[0]
    assert f"Gini 系数: {gini:.3f}" in html
    assert "按社区类别的分配" in html and "强基型" in html
    for name in ("服务规划", "各站点服务量与容量", "可达性 (两步移动搜索法)", "公平性", "法律门诊", "日程"):
        assert f">{name}</h" in html


def test_pdf_has_a_page_per_route(service_report, service):
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed (Debian package 'poppler-utils')")
    pages = []
    n = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(service_report / "report.pdf")], capture_output=True, text=True, check=True).stdout).group(1))  # fmt: skip
    for i in range(1, n + 1):
        out = subprocess.run(
            [pdftotext, "-f", str(i), "-l", str(i), str(service_report / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        )
        pages.append(out.stdout)
    starts = [p for p in pages if p.lstrip().startswith("巡回调解路线 ")]
    assert len(starts) == len(service.circuit_schedule)
    for page, route in zip(starts, service.circuit_schedule["route"]):
        assert page.lstrip().startswith(f"巡回调解路线 {route}:")
        assert "走访人" in page


def test_workbook_has_the_service_sheets_with_numbers_as_numbers(service_report, service):
    book = load_workbook(service_report / "tables.xlsx")
    for name in ("site_loads", "assignment", "volunteers", "accessibility", "equity", "circuit_schedule", "circuit_stops", "clinics"):  # fmt: skip
        assert name in book.sheetnames
    sheet = book["site_loads"]
    head = [c.value for c in sheet[1]]
    assert "服务量" in head and "容量" in head and "站点编号" in head
    load = [r[head.index("服务量")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, int | float) for v in load)
    assert load == pytest.approx(service.site_loads["load"].tolist())
    stops = book["circuit_stops"]
    head = [c.value for c in stops[1]]
    rows = list(stops.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(service.circuit_routes)
    assert [r[head.index("顺序")] for r in rows] == service.circuit_routes["stop"].tolist()
    assert all(isinstance(r[head.index("本段时间(分钟)")], int | float) for r in rows)
    # Hostile text stays text (no formula) in the workbook.
    assert any(r[head.index("地点")] == HOSTILE for r in rows)
    assert all(c.data_type != "f" for row in stops.iter_rows() for c in row)
    vol = book["volunteers"]
    head = [c.value for c in vol[1]]
    assert sum(r[head.index("志愿者")] for r in vol.iter_rows(min_row=2, values_only=True)) == 561
    # Each place's reason in Chinese, one per allocation outcome.
    given = book["assignment"]
    head = [c.value for c in given[1]]
    reasons = {r[head.index("原因")] for r in given.iter_rows(min_row=2, values_only=True)}
    words = {
        "assigned": "已分配",
        "no site within reach": "可达范围内无站点",
        "capacity full": "容量已满",
        "no load": "无服务量",
    }
    assert reasons == {words[r] for r in service.assignment["reason"]}


# ------------------------------------------------------------------ a drive run says drive


@pytest.fixture(scope="module")
def driving():
    network = WalkNetwork.from_osm_file(raw_file("monaco.osm.pbf"), mode="drive")
    rng = np.random.default_rng(5)
    sites, demand = frame(places_near_edges(network, 3, rng), "s"), frame(places_near_edges(network, 150, rng), "d")
    return cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=2, progress=False)


_WALK_EN = re.compile(r"\bwalk(?:ing|s|ed|able)?\b", re.I)


def _visible_report_text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    html = re.sub(r'src="data:[^"]*"', "", html)
    return re.sub(r"<[^>]+>", " ", html)


def test_a_drive_run_never_says_walk_in_map_report_or_printed_map(driving, tmp_path):
    assert driving.profile_name == "drive"
    for lang in ("zh", "en"):
        page = save_map(coverage_map(driving, lang=lang, basemap="none"), tmp_path / f"map_{lang}.html")
        html = page.read_text(encoding="utf-8")
        # Our words only: the page's labels, popups' aliases, legend and title (the inlined Leaflet is not ours).
        ours = html[html.index("<body>") :] if "<body>" in html else html
        assert "步行" not in ours and "步速" not in ours
        assert not _WALK_EN.findall(ours), _WALK_EN.findall(ours)[:5]
        assert ("驾车" if lang == "zh" else "driv") in ours
        assert "步行" not in map_heading(driving, lang) and not _WALK_EN.search(map_heading(driving, lang))

        folder = tmp_path / f"report_{lang}"
        write_report(driving, folder, lang=lang, pdf=False)
        visible = _visible_report_text((folder / "report.html").read_text(encoding="utf-8"))
        assert "步行" not in visible and "步速" not in visible
        assert not _WALK_EN.findall(visible), _WALK_EN.findall(visible)[:5]
        md = (folder / "report.md").read_text(encoding="utf-8")
        md = md[: md.index("```json")]  # the manifest's JSON keys are machine names
        assert "步行" not in md and not _WALK_EN.findall(md)
        if lang == "zh":
            book = load_workbook(folder / "tables.xlsx")
            heads = [c.value for s in book.worksheets for c in s[1]]
            assert not any("步行" in str(h) for h in heads) and any("驾车" in str(h) for h in heads)

        figure = static_map_figure(driving, lang)
        words = " ".join(t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")))
        assert "步行" not in words and "步速" not in words and not _WALK_EN.findall(words)
        assert ("驾车" if lang == "zh" else "driv") in words


def test_the_route_maps_drawn_in_a_worker_give_the_same_report(result, service, tmp_path, monkeypatch):
    from coverage_planner import _workers, settings

    digests = []
    for n in (4, 1):  # route maps, printed map and charts in a worker; then everything in this process
        monkeypatch.setattr(settings, "max_output_processes", n)
        assert _workers.fork_is_safe() == (n > 1)
        write_report(result, tmp_path / str(n), lang="zh", service=service, pdf=True)
        digests.append(_digests(tmp_path / str(n)))
    routes = [name for name in digests[0] if name.startswith("route_")]
    assert len(routes) == len(service.circuit_schedule) and "report.pdf" in digests[0]
    assert digests[0] == digests[1]
