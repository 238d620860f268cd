"""Hostile text in place files: maps, reports, CSV, Excel and batch folders show it literally and never run it.

Sites, demand places, candidates and districts of the real Beijing Haidian
extract get names, types, districts, communities and ids that are script,
template-literal, HTML-attribute, Markdown, mathtext and spreadsheet-formula
payloads. The map and report are opened in headless Chromium (file:// only),
every marker and feature is hovered and clicked, and no dialog, no page
error and no injected element may appear, while every string shows as text.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely
from conftest import raw_file
from real_places import beijing_place_frames

from coverage_planner import run_scenario
from coverage_planner.batch import BatchTask, plan_batch, run_task
from coverage_planner.diff import ScenarioDiff, read_coverage_table
from coverage_planner.escape import csv_cell, restore_csv_cell, safe_folder_name
from coverage_planner.outputs.charts import share_by_group
from coverage_planner.outputs.maps import coverage_map, save_map
from coverage_planner.outputs.report import write_report
from coverage_planner.outputs.tables import write_outputs

HOSTILE = [
    "</script><script>alert(1)</script>",
    "x`+alert(1)+`",
    "${alert(document.URL)}",
    "<img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+2",
    "@SUM(A1)",
    "[bold]x[/]",
    "$x^2$",
    r"$\notacommand$",
    r"\`+alert(1)+\`",
    "{{ 7*7 }}",
    "{{ lipsum.__globals__.os.getcwd() }}",
    "{% if 1 %}",
    "{# not a comment #}",
    "-5 号楼",
    "a | b * _c_ # d",
    "=cmd|' /C calc'!A0",
    "&lt;b&gt; & <!-- x",
]
#: First characters a spreadsheet reads as the start of a formula (OWASP), checked independently of the writer.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMERIC = {
    "coverage.csv": ["walk_min", "walk_m", "snap_m", "weight"],
    "summary.csv": ["places", "covered", "share", "weight_share"],
    "diff_places.csv": ["walk_min_before", "walk_min_after", "change_min"],
    "diff_summary.csv": ["places", "covered_before", "covered_after", "share_before", "share_after", "share_change"],
}


def _pick(i: int, shift: int) -> str:
    return HOSTILE[(i + shift) % len(HOSTILE)]


def _toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly."""
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text) + '"'


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The hostile scenario, run; its tables, map, report and diff written into one folder."""
    osm = raw_file("beijing_haidian_cau_map.osm")
    folder = tmp_path_factory.mktemp("hostile")
    sites, demand = beijing_place_frames(osm)
    sites = sites.assign(
        id=[f"{_pick(i, 1)} s{i}" for i in range(len(sites))],
        name=[_pick(i, 0) for i in range(len(sites))],
        type=[_pick(i, 3) for i in range(len(sites))],
        district=[_pick(i, 5) for i in range(len(sites))],
        community=[_pick(i, 7) for i in range(len(sites))],
    )
    # GeoJSON, not CSV: the CSV reader sniffs its dialect from the header line alone and then misreads '""'.
    gpd.GeoDataFrame(
        sites.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326
    ).to_file(folder / "sites.geojson", driver="GeoJSON")
    # Demand as compound outlines (small squares round the real centroids), so footprints are drawn too.
    squares = shapely.box(demand["lon"] - 6e-5, demand["lat"] - 6e-5, demand["lon"] + 6e-5, demand["lat"] + 6e-5)
    gpd.GeoDataFrame(
        {
            "id": [f"{_pick(i, 2)} d{i}" for i in range(len(demand))],
            "name": [_pick(i, 0) for i in range(len(demand))],
            "type": [_pick(i % 7, 9) for i in range(len(demand))],
            "district": [_pick(i % 5, 6) for i in range(len(demand))],
            "community": [_pick(i % 9, 0) for i in range(len(demand))],
        },
        geometry=squares,
        crs=4326,
    ).to_file(folder / "demand.geojson", driver="GeoJSON")
    name = " ".join(HOSTILE[:7])
    (folder / "scenario.toml").write_text(
        f'name = {_toml_string(name)}\n\n[network]\npath = "{osm.as_posix()}"\n\n'
        '[sites]\npath = "sites.geojson"\n\n[demand]\npath = "demand.geojson"\n\n[walk]\nthreshold_min = 5\n',
        encoding="utf-8",
    )
    result = run_scenario(folder / "scenario.toml")

    # Candidates as `candidates_from_osm` returns them, named from OSM `name` tags an editor could set.
    spots = result.demand.geometry.iloc[::60]
    candidates = gpd.GeoDataFrame(
        {
            "id": [f"osm-{_pick(i, 9)}" for i in range(len(spots))],
            "name": [_pick(i, 10) for i in range(len(spots))],
            "type": [_pick(i, 11) for i in range(len(spots))],
            "status": "real",
        },
        geometry=spots.to_numpy(),
        crs=4326,
    )
    west, south, east, north = result.demand.total_bounds
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    quadrants = [(west, south, mid_x, mid_y), (mid_x, south, east, mid_y), (west, mid_y, mid_x, north)]
    quadrants.append((mid_x, mid_y, east, north))
    districts = gpd.GeoDataFrame(
        {"name": [_pick(i, 12) for i in range(4)]}, geometry=[shapely.box(*q) for q in quadrants], crs=4326
    )

    out = folder / "out"
    write_outputs(result, out)
    save_map(
        coverage_map(result, basemap="none", lang="en", proposed=candidates, districts=districts), out / "map.html"
    )
    diff = ScenarioDiff.from_run_dirs(out, out)
    diff.write(out)
    write_report(result, out, lang="zh", diff=diff, map_file="map.html")
    texts = {
        "sites": {v for c in ("name", "type", "district") for v in result.sites[c]},
        "demand": {v for c in ("demand_name", "type", "district", "community") for v in result.demand[c]},
        "candidates": set(candidates["name"]) | set(candidates["type"]),
        "districts": set(districts["name"]),
    }
    names = {"sites": set(result.sites["name"]), "candidates": set(candidates["name"])}
    return {"result": result, "out": out, "name": name, "texts": texts, "names": names, "candidates": candidates}


# --- the page in a browser ----------------------------------------------------------------------------------------

_OPEN_EVERYTHING = """async () => {
    const map = Object.values(window).find(v => v instanceof L.Map);
    const leaves = [];
    map.eachLayer(l => {
        if (!(l instanceof L.FeatureGroup) && !(l instanceof L.DivOverlay) && (l.getLatLng || l.getBounds)) leaves.push(l);
    });
    const kind = l => l instanceof L.Marker ? 'marker' : l instanceof L.CircleMarker ? 'place' : 'shape';
    const texts = {marker: {tooltip: [], popup: []}, place: {tooltip: [], popup: []}, shape: {tooltip: [], popup: []}};
    let injected = 0;
    const read = (selector, into) => document.querySelectorAll(selector).forEach(el => {
        into.push(el.textContent);
        injected += el.querySelectorAll('img, script, iframe, [onerror], [onmouseover], [onload]').length;
    });
    for (const layer of leaves) {
        const at = layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter();
        layer.fire('mouseover', {latlng: at}, true);  // what a hover does: the tooltip is built and shown
        read('.leaflet-tooltip', texts[kind(layer)].tooltip);
        layer.fire('mouseout', {latlng: at}, true);
        layer.fire('click', {latlng: at}, true);  // the popup is built and shown
        read('.leaflet-popup-content', texts[kind(layer)].popup);
        map.closePopup();
    }
    await new Promise(done => setTimeout(done, 500));  // time for an injected image to fail and fire onerror
    return {leaves: leaves.length, texts, injected};
}"""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _browser_page(tmp_path):
    pytest.importorskip("playwright")
    from test_maps_browser import CHROMIUM, offline_page

    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium')")
    return offline_page(tmp_path)


def _watch_dialogs(page) -> list[str]:
    dialogs: list[str] = []

    def seen(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    return dialogs


def _wait_drawn(page, places, dialogs: list[str], errors: list[str]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        places.first.wait_for(state="attached", timeout=20_000)
    except PlaywrightTimeout:
        pytest.fail(f"the map was never drawn; dialogs: {dialogs}; errors: {errors}")


def test_map_runs_no_injected_script_and_shows_every_text_literally(run, tmp_path):
    with _browser_page(tmp_path) as (page, errors, blocked):
        dialogs = _watch_dialogs(page)
        page.goto((run["out"] / "map.html").as_uri(), wait_until="load")
        _wait_drawn(page, page.locator("path.cp-demand"), dialogs, errors)
        for box in page.locator(".leaflet-control-layers-overlays input[type=checkbox]").all():
            if not box.is_checked():
                box.check()
        # Real pointer events on the site markers that are on top at their centre.
        for marker in page.locator(".cp-site").all()[:8]:
            box = marker.bounding_box()
            if box:
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_timeout(50)
        seen = page.evaluate(_OPEN_EVERYTHING)
        # The page's own text, without the tooltips and popups the pointer left open.
        page.evaluate("() => document.querySelectorAll('.leaflet-tooltip, .leaflet-popup').forEach(e => e.remove())")
        body = page.evaluate("() => document.body.innerText")
    result = run["result"]
    assert seen["leaves"] >= len(result.demand) * 2 + len(result.sites) + len(run["candidates"]) + 4
    assert dialogs == []
    assert errors == []
    assert blocked == []
    assert seen["injected"] == 0
    texts = seen["texts"]
    # Each text where it belongs: sites and candidates in the markers' tooltips and popups, places in their
    # popups, districts in the outlines' tooltips.
    where = {
        ("sites", "name"): texts["marker"]["tooltip"],
        ("sites", "all"): texts["marker"]["popup"],
        ("candidates", "name"): texts["marker"]["tooltip"],
        ("candidates", "all"): texts["marker"]["popup"],
        ("demand", "all"): texts["place"]["popup"],
        ("districts", "all"): texts["shape"]["tooltip"],
    }
    for (role, part), found in where.items():
        shown = {_squash(t) for t in found}
        for text in run["texts"][role] if part == "all" else run["names"][role]:
            assert any(_squash(text) in t for t in shown), f"{role} {part}: {text!r} is not shown literally"
    assert "alert(" not in body  # no script text spilled onto the page outside the popups


def test_report_runs_no_injected_script_and_shows_names_literally(run, tmp_path):
    with _browser_page(tmp_path) as (page, errors, blocked):
        dialogs = _watch_dialogs(page)
        page.goto((run["out"] / "report.html").as_uri(), wait_until="load")
        page.wait_for_timeout(500)
        title = page.locator("h1").inner_text()
        tables = page.evaluate("() => [...document.querySelectorAll('td')].map(td => td.textContent)")
        # The report's own figures are embedded PNGs; any other image, a script or a frame would be injected.
        injected = page.evaluate(
            "() => document.querySelectorAll("
            "'body img:not([src^=\"data:image/png;base64,\"]), body script, body iframe').length"
        )
    assert dialogs == [] and errors == [] and blocked == []
    assert injected == 0
    assert run["name"] in title
    cells = {_squash(c) for c in tables}
    groups = run["result"].summary()
    groups = groups.loc[groups["dimension"] != "all", "group"]
    assert {_squash(g) for g in groups} <= cells
    left_out = run["result"].left_out()["demand_name"]
    assert len(left_out) and {_squash(n) for n in left_out} <= cells


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag, attrs) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1


def _tags(html: str) -> dict[str, int]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_hostile_names_add_no_element_to_the_map_page(run, tmp_path):
    """Without a browser: the page parses into the same elements as with plain names."""
    result = run["result"]
    plain = dataclasses.replace(
        result,
        sites=result.sites.assign(name=[f"site {i}" for i in range(len(result.sites))], type="t", district="d"),
        demand=result.demand.assign(
            demand_name=[f"place {i}" for i in range(len(result.demand))],
            nearest_site_name="site",
            type="t",
            district="d",
            community="c",
        ),
    )
    plain_page = save_map(coverage_map(plain, basemap="none", lang="en"), tmp_path / "plain.html").read_text("utf-8")
    hostile_page = save_map(coverage_map(result, basemap="none", lang="en"), tmp_path / "map.html").read_text("utf-8")
    assert _tags(hostile_page) == _tags(plain_page)


def test_the_same_hostile_map_renders_to_the_same_bytes(run, tmp_path):
    result = run["result"]
    pages = [
        save_map(coverage_map(result, basemap="none", lang="en", proposed=run["candidates"]), tmp_path / f"{i}.html")
        for i in range(2)
    ]
    assert pages[0].read_bytes() == pages[1].read_bytes()


# --- CSV and Excel -------------------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", list(NUMERIC))
def test_csv_text_that_starts_like_a_formula_is_quoted_and_numbers_stay_numbers(run, name):
    result = run["result"]
    frames = {
        "coverage.csv": result.table(),
        "summary.csv": result.summary(),
        "diff_places.csv": ScenarioDiff.from_results(result, result).places,
        "diff_summary.csv": ScenarioDiff.from_results(result, result).summary,
    }
    expected = frames[name]
    rows = _read_csv(run["out"] / name)
    assert len(rows) == len(expected)
    quoted = 0
    for column in expected.columns:
        values = expected[column].tolist()
        if column in NUMERIC[name]:  # numbers, negative ones too, are written as numbers
            written = np.array([float(r[column]) if r[column] else np.nan for r in rows])
            np.testing.assert_allclose(written, np.asarray(values, float), rtol=1e-9, equal_nan=True)
            continue
        for row, value in zip(rows, values):
            if isinstance(value, str):
                risky = value.lstrip("'").startswith(FORMULA_START)
                assert row[column] == ("'" + value if risky else value), (column, value)
                assert not row[column].startswith(FORMULA_START)
                quoted += risky
    assert quoted > 0  # the scenario does put formula-like text in this file


def test_a_run_read_back_gives_its_names_and_ids_as_they_were(run):
    table = read_coverage_table(run["out"])
    original = run["result"].table()
    for column in ("demand_id", "demand_name", "nearest_site_id", "nearest_site_name", "type", "district"):
        assert table[column].fillna("").astype(str).tolist() == original[column].fillna("").astype(str).tolist()


def test_tables_xlsx_holds_text_as_text_never_a_formula(run):
    book = openpyxl.load_workbook(run["out"] / "tables.xlsx")
    assert {"coverage", "summary", "left_out", "diff_places", "diff_summary"} <= set(book.sheetnames)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    coverage = book["coverage"]
    header = [c.value for c in coverage[1]]  # a zh report: Chinese headers
    names = [row[header.index("名称")].value for row in coverage.iter_rows(min_row=2)]
    assert names == run["result"].table()["demand_name"].tolist()  # as text, not quoted and not evaluated


def test_csv_cell_round_trips_and_never_starts_a_formula():
    samples = [*HOSTILE, "'=x", "''+1", "' -1", "'plain", " =1", "\u3000=1", "\t=1", "\r=1", "", "plain", "号楼"]
    for text in samples:
        cell = csv_cell(text)
        assert not cell.startswith(FORMULA_START)
        assert restore_csv_cell(cell) == text
    assert csv_cell(-1.5) == -1.5 and csv_cell(None) is None


# --- Markdown and charts -------------------------------------------------------------------------------------------


def test_markdown_report_shows_names_literally_in_its_tables(run):
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse((run["out"] / "report.md").read_text(encoding="utf-8"))
    assert not [t for t in tokens if t.type == "html_block"]
    rows, row, heading = [], None, []
    for i, token in enumerate(tokens):
        assert not any(child.type == "html_inline" for child in token.children or [])
        if token.type == "heading_open" and token.tag == "h1":
            heading.append("".join(child.content for child in tokens[i + 1].children))
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            assert {child.type for child in token.children} <= {"text"}, token.content
            row.append("".join(child.content for child in token.children))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    assert heading and heading[0].endswith(run["name"])
    cells = {c for r in rows for c in r}  # a "|" or line break that split a row would leave a cell mangled
    groups = run["result"].summary()
    groups = groups.loc[groups["dimension"] != "all", "group"]
    assert set(groups) <= cells
    assert set(run["result"].left_out()["demand_name"]) <= cells
    manifest = (run["out"] / "report.md").read_text(encoding="utf-8").split("json\n", 1)[1].rsplit("\n`", 1)[0]
    assert json.loads(manifest)["scenario"]["name"] == run["name"]


def test_a_dollar_sign_in_a_group_is_drawn_as_text_not_parsed_as_math(run):
    result = run["result"]
    assert r"$\notacommand$" in set(result.demand["type"])  # mathtext cannot parse it
    for lang in ("en", "zh"):
        assert share_by_group(result, "type", lang).startswith(b"\x89PNG")


# --- batch output folders ------------------------------------------------------------------------------------------

AWKWARD_STEMS = [
    "..",
    ".",
    "...",
    ".hidden",
    "..\\..\\evil",
    "a\\b",
    "CON",
    "nul.txt",
    "  ",
    "\u200b",
    "呼和浩特 赛罕区",
    "x" * 300,
    "Scenario",
    "scenario",
    "-rf",
]


def test_batch_folders_stay_inside_out_whatever_the_file_is_called(tmp_path):
    paths = [tmp_path / "in" / f"{stem}.toml" for stem in AWKWARD_STEMS]
    paths += [tmp_path / "in" / "a" / "scenario.toml", tmp_path / "in" / "b" / "scenario.toml"]
    paths += [tmp_path / "in" / "b_scenario.toml", paths[0], tmp_path / "in" / "c" / "b" / "scenario.toml"]
    out = tmp_path / "out"
    tasks = plan_batch(paths, out)
    folders = [Path(t.out_dir) for t in tasks]
    for folder in folders:
        assert folder.parent == out.resolve()  # one level inside --out, never above it
        assert folder.name not in ("", ".", "..") and not folder.name.startswith((".", "-"))
        assert len(folder.name.encode("utf-8")) <= 255
    assert len({f.name.casefold() for f in folders}) == len(folders)  # distinct, also on a case-insensitive disk
    assert folders[AWKWARD_STEMS.index("呼和浩特 赛罕区")].name == "呼和浩特_赛罕区"
    assert plan_batch(paths, out) == tasks  # the same list always gives the same folders
    assert safe_folder_name("..") == "scenario" and safe_folder_name("CON") == "CON_"
    assert safe_folder_name("nul.txt") == "nul_.txt" and safe_folder_name("../../etc/passwd") == "etc_passwd"


def test_a_scenario_file_called_dots_writes_inside_out(tmp_path):
    from real_places import write_beijing_scenario

    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)
    dots = toml.with_name("...toml")
    toml.rename(dots)
    out = tmp_path / "batch" / "out"
    out.mkdir(parents=True)
    (task,) = plan_batch([dots], out)
    outcome = run_task(task)
    assert outcome["status"] == "ok", outcome["error"]
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == ["out"]  # nothing beside --out
    assert (Path(task.out_dir) / "coverage.csv").is_file()
    assert Path(task.out_dir).parent == out.resolve()


def test_a_link_in_place_of_a_scenario_folder_is_not_followed(tmp_path):
    from real_places import write_beijing_scenario

    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (task,) = plan_batch([toml], out)
    Path(task.out_dir).symlink_to(elsewhere, target_is_directory=True)
    outcome = run_task(BatchTask(task.scenario, task.out_dir))
    assert outcome["status"] == "failed" and "is a link to" in outcome["error"]
    assert list(elsewhere.iterdir()) == []
