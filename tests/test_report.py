"""The report's HTML/Markdown, its charts, its map figure, its words in each language and its Excel tables."""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import raw_file
from fontTools.ttLib import TTCollection, TTFont
from matplotlib import font_manager
from matplotlib.text import Text
from real_places import write_beijing_scenario
from report_scenario import PLACEHOLDER_PLACES, PLACEHOLDER_SITE, write_rich_beijing

from coverage_planner import run_scenario
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs import fonts
from coverage_planner.outputs.charts import figure_png, histogram_figure, share_figure
from coverage_planner.outputs.report import write_report
from coverage_planner.outputs.static_map import static_map_figure

DIMENSIONS = ("district", "subdistrict", "community", "type", "community_class")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    toml = write_beijing_scenario(
        tmp_path_factory.mktemp("in"), raw_file("beijing_haidian_cau_map.osm"), threshold_min=5
    )
    return run_scenario(toml)


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """Groups, a 重点服务对象 weight, placeholders and the elderly profile."""
    toml = write_rich_beijing(
        tmp_path_factory.mktemp("rich"), raw_file("beijing_haidian_cau_map.osm"), profile="elderly"
    )
    return run_scenario(toml)


class _Cells(HTMLParser):
    """Text of every table cell, and the page's text outside <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._style = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("td", "th"):
            self._cell = []
        self._style |= tag == "style"

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if tag == "style":
            self._style = False

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if not self._style:
            self.text.append(data)


def _parse(path: Path) -> _Cells:
    parser = _Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_states_the_share_the_table_gives(result, tmp_path):
    write_report(result, tmp_path, lang="en", pdf=False)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    share = result.demand["covered"].mean() * 100
    assert f"{share:.1f}%" in html
    assert f"{int(result.demand['covered'].sum())} of {len(result.demand)} places" in html


def test_report_lists_every_place_left_outside_with_its_reason(result, tmp_path):
    write_report(result, tmp_path, lang="zh", pdf=False)
    sheet = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="left_out")
    assert len(sheet) == int((~result.demand["covered"]).sum())
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"未覆盖的地点 ({len(sheet)})" in html
    # Each reason from the run's own columns: off the network, a piece of network with no site,
    # no site within the search limit, or a walk beyond the threshold.
    demand = result.demand.set_index("demand_id")
    site_parts = set(result.sites.loc[result.sites["component"] >= 0, "component"])
    assert sorted(sheet["编号"]) == sorted(demand.index[~demand["covered"]])
    for place_id, reason in zip(sheet["编号"], sheet["原因"]):
        place = demand.loc[place_id]
        if place["off_network"]:
            assert "离最近的可步行道路" in reason
        elif place["component"] not in site_parts:
            assert f"路网片段 (编号 {place['component']})" in reason
        elif pd.isna(place["walk_min"]):
            assert "无站点可达" in reason
        else:
            assert reason == f"步行 {place['walk_min']:.1f} 分钟, 超过 5 分钟"
    assert {"超过 5 分钟", "所在路网片段与站点不相连"} <= set(_parse(tmp_path / "report.html").cells)


def test_report_md_carries_the_manifest_and_the_html_a_readable_record(result, tmp_path):
    write_report(result, tmp_path, pdf=False)
    digest = result.manifest["network"]["sha256"]
    assert digest in (tmp_path / "report.md").read_text(encoding="utf-8")
    page = _parse(tmp_path / "report.html")
    text = " ".join(page.text)
    assert "{" not in text and '"sha256"' not in text  # no JSON pasted into the document
    cells = page.cells
    assert "OSM 数据日期" in cells and any(c.startswith(result.manifest["network"]["snapshot"][:10]) for c in cells)
    assert any(digest[:12] in c and "beijing_haidian_cau_map.osm" in c for c in cells)
    assert "成人, 4.5 公里/小时" in cells and "5 分钟 = 375 米" in cells


def test_charts_map_and_tables_are_the_same_each_time(result, tmp_path):
    write_report(result, tmp_path / "a", pdf=False)
    write_report(result, tmp_path / "b", pdf=False)
    for name in ("chart_1.png", "map.png", "report.html", "report.md", "tables.xlsx"):
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "map.png").read_bytes().startswith(b"\x89PNG")


def test_the_report_shows_its_own_map_and_links_the_interactive_one(result, tmp_path):
    write_report(result, tmp_path, lang="en", map_file="map.html", pdf=False)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<iframe" not in html
    assert html.count('src="data:image/png;base64,') >= 2  # map and charts travel inside the file
    assert '<a href="map.html">' in html
    write_report(result, tmp_path / "alone", lang="en", pdf=False)
    alone = (tmp_path / "alone" / "report.html").read_text(encoding="utf-8")
    assert "map.html" not in alone and "Coverage map" in alone


def test_the_map_caption_keeps_the_figure_number_apart_from_the_minutes(result, tmp_path):
    # "图 1  5 分钟" printed as "图 1 5 分钟" in the PDF, which reads as 15 minutes.
    assert float(result.threshold_min) == 5.0
    for lang, caption in (("zh", "图 1：5 分钟步行覆盖"), ("en", "Figure 1: 5-minute walking coverage")):
        write_report(result, tmp_path / lang, lang=lang, pdf=False)
        assert caption in (tmp_path / lang / "report.html").read_text(encoding="utf-8")
        assert caption in (tmp_path / lang / "report.md").read_text(encoding="utf-8")


def test_placeholders_are_marked_in_every_table_and_on_the_map(rich, tmp_path):
    write_report(rich, tmp_path, lang="zh", pdf=False)
    page = _parse(tmp_path / "report.html")
    assert any("1 个站点和 3 个地点为占位" in t for t in page.text)
    shown = 0
    for name in (*PLACEHOLDER_PLACES, PLACEHOLDER_SITE):
        mentions = [c for c in page.cells if name in c]
        shown += bool(mentions)
        # Wherever a placeholder's name stands in a cell, "(占位)" follows it.
        assert all(c.count(name) == c.count(f"{name} (占位)") for c in mentions), (name, mentions)
    assert shown >= 2  # the site and some places appear in a table (long lists are cut at a row limit)
    sheet = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="left_out")
    left = rich.demand[~rich.demand["covered"] & rich.demand["demand_name"].isin(PLACEHOLDER_PLACES)]
    assert set(left["demand_name"] + " (占位)") <= set(sheet["名称"])
    labels = [t.get_text() for t in static_map_figure(rich, "zh").findobj(Text)]
    assert f"{PLACEHOLDER_SITE} (占位)" in labels
    assert any("为占位" in label for label in labels)  # the warning line under the map's title


def test_the_weight_is_named_and_equal_weights_are_said_to_be_equal(rich, result, tmp_path):
    write_report(rich, tmp_path / "named", lang="zh", pdf=False, weight_label="重点服务对象")
    html = (tmp_path / "named" / "report.html").read_text(encoding="utf-8")
    weights = rich.demand["weight"]
    covered = weights[rich.demand["covered"]].sum()
    assert "按重点服务对象加权的覆盖率" in html
    assert f"{covered:,.0f} / {weights.sum():,.0f} (重点服务对象)" in html
    assert "按权重" not in html
    # Without the argument, the name comes from the manifest's record of the demand file.
    rich.manifest["inputs"]["demand"]["weight_column"] = "重点服务对象"
    try:
        write_report(rich, tmp_path / "recorded", lang="zh", pdf=False)
    finally:
        del rich.manifest["inputs"]["demand"]["weight_column"]
    assert "按重点服务对象加权" in (tmp_path / "recorded" / "report.html").read_text(encoding="utf-8")
    write_report(result, tmp_path / "equal", lang="zh", pdf=False)
    equal = (tmp_path / "equal" / "report.html").read_text(encoding="utf-8")
    assert "每个地点权重相同" in equal and "加权的覆盖率" not in equal


def test_a_chinese_report_has_no_english_leftovers(rich, tmp_path):
    diff = ScenarioDiff.from_results(rich, rich)
    write_report(rich, tmp_path, lang="zh", diff=diff, pdf=False, weight_label="重点服务对象")
    page = _parse(tmp_path / "report.html")
    data = {str(v) for c in ("demand_name", "type", "nearest_site_name") for v in rich.demand[c].dropna()}
    data |= {str(v) for v in rich.sites["name"]}
    ours = [t for t in page.text if t.strip() and not any(d in t for d in data)]
    words = " ".join(ours)
    for leftover in (
        r"\belderly\b",
        r"\breal\b",
        r"\ball\b",
        r"\bsubdistrict\b",
        r"\bnan\b",
        r"\bNone\b",
        r"\bweight\b",
    ):
        assert not re.search(leftover, words), (leftover, re.search(rf".{{0,40}}{leftover}.{{0,40}}", words))
    assert "老年人, 3.6 公里/小时" in page.cells
    assert "全部" in page.cells and "街道" in page.cells  # the comparison's dimensions, in Chinese
    assert "(none)" not in words


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_and_the_map_draw_each_glyph_from_a_font_that_has_it(rich, lang):
    figures = [histogram_figure(rich, lang), static_map_figure(rich, lang)]
    figures += [f for f in (share_figure(rich, d, lang) for d in DIMENSIONS) if f is not None]
    assert len(figures) == 2 + len(DIMENSIONS)
    checked = 0
    for fig in figures:
        for artist in fig.findobj(Text):
            text = artist.get_text()
            if not text.strip():
                continue
            cmaps = []
            for family in artist.get_fontfamily():
                path = font_manager.findfont(
                    font_manager.FontProperties(family=family, weight=artist.get_fontweight()),
                    fallback_to_default=False,
                )
                with TTFont(path, fontNumber=path.face_index, lazy=True) as face:  # fontTools: not the code's reader
                    cmaps.append(set(face.getBestCmap() or {}))
            missing = {ch for ch in text if not ch.isspace() and not any(ord(ch) in c for c in cmaps)}
            assert not missing, (text, artist.get_fontfamily(), missing)
            checked += 1
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="Glyph .* missing")
            assert figure_png(fig).startswith(b"\x89PNG")
    assert checked > 50
    zh_titles = [t.get_text() for t in figures[0].findobj(Text)]
    assert ("到最近站点的步行时间" in zh_titles) == (lang == "zh")


def test_a_fonts_code_points_are_read_as_fonttools_reads_them():
    cjk = fonts.find_cjk_font()
    assert cjk is not None  # CI installs fonts-noto-cjk
    dejavu = Path(font_manager.findfont("DejaVu Sans"))
    with TTCollection(str(cjk.path), lazy=True) as collection:
        faces = [(cjk.path, i) for i in range(len(collection.fonts))]
    assert len(faces) > 1 and fonts._face_count(cjk.path) == len(faces)
    for path, face in [*faces, (dejavu, 0)]:
        with TTFont(str(path), fontNumber=face, lazy=True) as font:
            expected = frozenset(font.getBestCmap())
        assert fonts.font_cmap(path, face) == expected, (path, face)
    assert fonts.font_cmap(Path(__file__), 0) == frozenset()  # not a font: no glyphs, no error


def test_a_cjk_faces_family_is_the_name_fonttools_reads_and_matplotlib_finds():
    cjk = fonts.find_cjk_font()
    assert cjk is not None  # CI installs fonts-noto-cjk
    with TTCollection(str(cjk.path), lazy=True) as collection:
        for index, face in enumerate(collection.fonts):
            names = face["name"]
            expected = (names.getName(16, 3, 1, 0x409) or names.getName(1, 3, 1, 0x409)).toUnicode()
            assert fonts._family(cjk.path, index) == expected
    found = font_manager.findfont(font_manager.FontProperties(family=cjk.family), fallback_to_default=False)
    assert Path(found).resolve() == cjk.path and getattr(found, "face_index", 0) == cjk.index


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_text_lies_inside_its_figure_and_clear_of_the_plot(rich, lang):
    # The margins are sized from the texts (no tight_layout): each text must fit the picture, and the group
    # names, tick labels and axis labels must stay outside the plotting area.
    figures = [histogram_figure(rich, lang)] + [f for f in (share_figure(rich, d, lang) for d in DIMENSIONS) if f]
    for fig in figures:
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        page = fig.bbox
        ax = fig.axes[0]
        plot = ax.get_window_extent(renderer)
        for artist in fig.findobj(Text):
            if not artist.get_visible() or not artist.get_text().strip():
                continue
            box = artist.get_window_extent(renderer)
            assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5, (artist.get_text(), box, page)
            assert page.y0 - 0.5 <= box.y0 and box.y1 <= page.y1 + 0.5, (artist.get_text(), box, page)
        names = [a for a in ax.texts if a.get_transform() is ax.get_yaxis_transform()]
        assert names or fig is figures[0]  # the share charts name their groups left of the bars
        ticks = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_visible() and t.get_text()]
        for artist in names + ticks + [ax.xaxis.label, ax.yaxis.label, ax.title]:
            if not artist.get_text():
                continue
            assert not artist.get_window_extent(renderer).overlaps(plot), (artist.get_text(), plot)


def test_share_axis_stops_at_100_percent(rich):
    fig = share_figure(rich, "community", "zh")
    assert fig.axes[0].get_xlim() == (0.0, 100.0)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "100%"
    assert "各社区覆盖率" in [t.get_text() for t in fig.findobj(Text)]


def test_without_a_cjk_font_chinese_fails_loudly_instead_of_drawing_boxes(rich, tmp_path, monkeypatch):
    monkeypatch.setenv(fonts.FONT_ENV, font_manager.findfont("DejaVu Sans"))  # a font without Chinese
    fonts.reset_font_cache()
    try:
        with pytest.raises(fonts.FontMissingError, match="COVERAGE_CJK_FONT"):
            write_report(rich, tmp_path, lang="zh", pdf=False)
        with pytest.raises(fonts.FontMissingError):
            histogram_figure(rich, "zh")
    finally:
        monkeypatch.delenv(fonts.FONT_ENV)
        fonts.reset_font_cache()
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(fonts.FontMissingError, match="ᠬ"):  # Mongolian script: in no installed font
        fonts.chart_families("en", ["ᠬᠥᠬᠡᠬᠣᠲᠠ"])


def test_a_cjk_font_file_matplotlib_has_never_seen_is_found_and_used(rich, tmp_path, monkeypatch):
    import shutil

    source = fonts.find_cjk_font()
    assert source is not None  # CI installs fonts-noto-cjk
    copy = tmp_path / f"new-font{source.path.suffix}"
    shutil.copyfile(source.path, copy)
    monkeypatch.setenv(fonts.FONT_ENV, str(copy))
    fonts.reset_font_cache()
    try:
        font = fonts.register_cjk_font()
        assert font is not None and font.path == copy.resolve()
        assert any(Path(e.fname) == copy.resolve() for e in font_manager.fontManager.ttflist)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="Glyph .* missing")
            assert figure_png(histogram_figure(rich, "zh")).startswith(b"\x89PNG")
    finally:
        monkeypatch.delenv(fonts.FONT_ENV)
        fonts.reset_font_cache()


def test_before_and_after_are_shown_when_a_diff_is_given(result, tmp_path):
    write_report(result, tmp_path, lang="en", diff=ScenarioDiff.from_results(result, result), pdf=False)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Before and after adding sites" in html and "0 place(s) newly covered" in html
    assert "diff_summary" in pd.ExcelFile(tmp_path / "tables.xlsx").sheet_names


def test_the_workbook_holds_the_per_site_tables(rich, tmp_path):
    write_report(rich, tmp_path, lang="zh", pdf=False)
    book = pd.ExcelFile(tmp_path / "tables.xlsx")
    assert {"coverage", "summary", "by_site", "site_places", "left_out"} <= set(book.sheet_names)
    by_site = pd.read_excel(book, "by_site")  # a zh report: Chinese headers
    assert list(by_site["站点编号"].astype(str)) == list(rich.sites["id"])
    assert by_site["服务地点数(覆盖内)"].sum() == int(rich.demand["covered"].sum())


def test_unknown_language_is_rejected(result, tmp_path):
    with pytest.raises(ValueError, match="lang"):
        write_report(result, tmp_path, lang="fr")


def test_a_shortened_name_list_counts_the_names_it_leaves_out(result, tmp_path):
    """ "… and N more" after the listed names: listed + N is the site's count of places served (zh gives the total)."""
    write_report(result, tmp_path / "en", lang="en", pdf=False)
    lines = (tmp_path / "en" / "report.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## What each site serves"))
    header = next(line for line in lines[start:] if line.startswith("| site"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    served, names = columns.index("places served"), len(columns) - 1
    checked = 0
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        shortened = re.search(r" and (\d+) more$", cells[names])
        if shortened:
            listed = len(re.findall(r"\(\d+\.\d\)", cells[names]))
            assert listed + int(shortened.group(1)) == int(cells[served])
            checked += 1
    assert checked >= 1, "no site serves more places than the list shows: the check checked nothing"
    write_report(result, tmp_path / "zh", lang="zh", pdf=False)
    zh = (tmp_path / "zh" / "report.md").read_text(encoding="utf-8")
    totals = [int(n) for n in re.findall(r" 等 (\d+) 个", zh)]
    assert totals and all(n > 8 for n in totals)  # the zh phrase counts them all


@pytest.mark.parametrize("pdf", [False, True])
def test_work_beside_the_pdf_runs_once_comes_first_and_changes_no_report_file(result, tmp_path, pdf):
    """`beside_pdf` (the interactive map, from write_map_and_report) runs with the report's workers, in any order."""
    plain = write_report(result, tmp_path / "plain", lang="en", pdf=pdf)
    calls = tmp_path / "calls.txt"

    def beside() -> list[Path]:
        with calls.open("a", encoding="utf-8") as log:  # a worker's own process: count the calls on disk
            log.write("called\n")
        extra = tmp_path / "with" / "extra.txt"
        extra.write_text("written beside the report", encoding="utf-8")
        return [extra]

    written = write_report(result, tmp_path / "with", lang="en", pdf=pdf, beside_pdf=beside)
    assert calls.read_text(encoding="utf-8") == "called\n"
    assert written[0] == tmp_path / "with" / "extra.txt" and written[0].is_file()
    assert [p.name for p in written[1:]] == [p.name for p in plain]
    for name in ("report.md", "report.html", "tables.xlsx", "map.png") + (("report.pdf",) if pdf else ()):
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name
