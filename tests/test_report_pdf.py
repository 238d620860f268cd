"""report.pdf on real data: pages rendered with poppler, its text, determinism, and a proposal a director can read."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import raw_file
from PIL import Image
from report_scenario import write_rich_beijing

import coverage_planner as cp
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs.pdf import PdfError, html_to_pdf
from coverage_planner.outputs.report import write_report
from coverage_planner.outputs.static_map import readable_name


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    toml = write_rich_beijing(tmp_path_factory.mktemp("rich"), raw_file("beijing_haidian_cau_map.osm"))
    return cp.run_scenario(toml)


@pytest.fixture(scope="module")
def proposal(rich):
    return cp.propose_sites(rich, cp.build_candidates(rich, grid_spacing=150), method="mclp", k=3)


def _pages(pdf, tmp_path) -> list[Image.Image]:
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("page-*.png"))]


def _text(pdf, page: int | None = None, *, layout: bool = True) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    command = ["pdftotext", *(["-layout"] if layout else []), *pages, str(pdf), "-"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _page_count(pdf) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _ink(page: Image.Image) -> float:
    """Share of pixels that are not paper."""
    return float((np.asarray(page) < 200).mean())


@pytest.mark.parametrize(
    ("lang", "headings"),
    [
        (
            "zh",
            ["覆盖地图", "各区域覆盖情况", "按街道", "按社区类别", "各站点服务情况", "未覆盖的地点", "数据来源与参数"],
        ),
        ("en", ["Coverage map", "Coverage by area", "By subdistrict", "What each site serves", "Places left outside"]),
    ],
)
def test_the_pdf_has_pages_with_ink_and_states_the_headline(rich, tmp_path, lang, headings):
    written = write_report(rich, tmp_path, lang=lang, weight_label="重点服务对象")
    pdf = tmp_path / "report.pdf"
    assert pdf in written and pdf.read_bytes().startswith(b"%PDF")
    pages = _pages(pdf, tmp_path)
    assert len(pages) == _page_count(pdf) > 1
    assert all(_ink(p) > 0.005 for p in pages), [round(_ink(p), 4) for p in pages]  # a line or two is ~0.002
    for number in range(1, len(pages) + 1):  # each page has content besides its footer
        lines = [line for line in _text(pdf, number).splitlines() if line.strip()]
        assert len(lines) >= 3, (number, lines)
    # The first page carries the headline and the map: much more ink than a text page.
    assert _ink(pages[0]) > 0.05
    text = _text(pdf)
    assert f"{rich.share_covered() * 100:.1f}%" in text
    assert f"{rich.share_covered(weighted=True) * 100:.1f}%" in text
    for heading in headings:
        assert heading in text, heading
    if lang == "zh":
        assert "按重点服务对象加权的覆盖率" in text and "占位" in text
    else:
        assert "weighted by" in text and "重点服务对象 gained" not in text and "placeholder" in text


def test_the_same_run_gives_the_same_pdf_in_any_folder(rich, tmp_path):
    write_report(rich, tmp_path / "a", lang="zh", map_file="map.html")
    write_report(rich, tmp_path / "elsewhere" / "b", lang="zh", map_file="map.html")
    assert (tmp_path / "a" / "report.pdf").read_bytes() == (tmp_path / "elsewhere" / "b" / "report.pdf").read_bytes()


def test_the_pdf_is_the_same_from_a_fresh_process(rich, tmp_path):
    """No creation date or random id: another interpreter lays out the same HTML into the same bytes."""
    write_report(rich, tmp_path, lang="en")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    script = (
        "import sys; from pathlib import Path; from coverage_planner.outputs.pdf import html_to_pdf; "
        "html_to_pdf(Path(sys.argv[1]).read_text(encoding='utf-8'), sys.argv[2])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "report.html"), str(tmp_path / "again.pdf")], check=True
    )
    html_to_pdf(html, tmp_path / "here.pdf")
    assert (tmp_path / "again.pdf").read_bytes() == (tmp_path / "here.pdf").read_bytes()
    assert (tmp_path / "here.pdf").read_bytes() == (tmp_path / "report.pdf").read_bytes()


def test_a_proposal_names_its_sites_and_what_each_newly_covers(rich, proposal, tmp_path):
    after = proposal.after
    diff = ScenarioDiff.from_results(proposal.before, after, labels=("now", "with proposed sites"))
    write_report(after, tmp_path, lang="zh", diff=diff, proposal=proposal, weight_label="重点服务对象")
    import pandas as pd

    sheet = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="proposal")
    assert len(sheet) == len(proposal.sites)
    from openpyxl import load_workbook

    cells = load_workbook(tmp_path / "tables.xlsx")["proposal"]
    kinds = {cells.cell(1, c).value: cells.cell(2, c).data_type for c in range(1, cells.max_column + 1)}
    assert kinds["序号"] == kinds["新覆盖地点数"] == kinds["新增重点服务对象"] == "n"  # numbers, not text
    # Grid candidates are called by the street they stand by, never only "grid node 123".
    assert all(readable_name(n.split(" · ")[0]) and "路" in n for n in sheet["拟建站点"])
    # Independently: walk each proposed site's covers in rank order; a place goes to the first site reaching it.
    covers = after.matrix.covers(after.threshold_m)
    row = {sid: i for i, sid in enumerate(after.matrix.site_ids)}
    covered = proposal.before.demand["covered"].to_numpy(bool).copy()
    weights = after.demand["weight"].to_numpy(float)
    for site, count, gained in zip(proposal.sites.itertuples(), sheet["新覆盖地点数"], sheet["新增重点服务对象"]):
        cols = covers[row[site.id]].indices
        new = cols[~covered[cols]]
        covered[new] = True
        assert count == len(new)
        assert float(str(gained).replace(",", "")) == pytest.approx(weights[new].sum())
        assert weights[new].sum() == pytest.approx(site.added_weight)
    text = _text(tmp_path / "report.pdf")
    assert "拟建站点方案" in text and "每 150 米网格的路网节点" in text
    assert f"全部重点服务对象的 {proposal.coverable_share:.1%}" in text  # the ceiling, as a share of all weight
    assert (
        f"{proposal.share_before / proposal.coverable_share:.1%} → {proposal.share_after / proposal.coverable_share:.1%}"
        in text
    )
    reading = _text(tmp_path / "report.pdf", layout=False)  # cell by cell, not laid out in columns
    section = re.sub(r"\s+", "", reading.split("拟建站点方案")[1].split("无法覆盖的地点")[0])
    for name in sheet["拟建站点"]:  # the street-based names are what the PDF shows
        assert re.sub(r"\s+", "", name.split(" · ")[0]) in section, name


def test_a_target_share_is_said_to_be_of_all_weight(rich, tmp_path):
    pool = cp.build_candidates(rich, grid_spacing=150)
    target = 0.6
    lscp = cp.propose_sites(rich, pool, method="lscp", target_share=target)
    write_report(lscp.after, tmp_path, lang="zh", proposal=lscp, pdf=False, weight_label="重点服务对象")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"目标: 覆盖全部重点服务对象的 {target:.1%}" in html
    assert ("已达到目标" in html) == (lscp.share_after >= target - 1e-9)


def test_without_weasyprint_the_pdf_step_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import now fails as with missing Pango
    with pytest.raises(PdfError, match="libpango"):
        html_to_pdf("<html><body>x</body></html>", tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
