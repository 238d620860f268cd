"""The planner's report: one HTML page (and Markdown) with shares, tables, charts, map and manifest.

Charts are embedded as PNG data so the page opens offline; the map is
embedded from ``map.html`` beside it when one was written. Tables also go
to ``tables.xlsx`` for planners who work in Excel.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from coverage_planner._io import atomic_path, write_text_atomic
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs.charts import share_by_group, walk_time_histogram
from coverage_planner.escape import markdown_table, markdown_text
from coverage_planner.results import CoverageResult

TEXT = {
    "zh": {
        "title": "步行覆盖报告",
        "headline": "{t:g} 分钟步行可达 ({m:.0f} 米, {v:g} 公里/小时, {p})",
        "places": "地点",
        "covered": "覆盖",
        "share": "覆盖率",
        "weight": "权重",
        "weighted": "按权重",
        "by": {
            "district": "区",
            "subdistrict": "街道",
            "community": "社区",
            "type": "类型",
            "community_class": "社区类别",
        },
        "left_out": "未覆盖的地点",
        "walk_min": "步行分钟",
        "unreachable": "不可达",
        "nearest": "最近站点",
        "charts": "图表",
        "map": "地图",
        "diff": "新增站点前后对比",
        "before": "之前",
        "after": "之后",
        "manifest": "运行清单 (输入文件哈希、参数、版本)",
        "group": "分组",
        "name": "名称",
        "placeholder": "注意: {n} 个地点为占位 (位置未核实), 结果仅供参考。",
        "preset": "标准",
        "newly": "新覆盖",
        "lost": "不再覆盖",
    },
    "en": {
        "title": "Walking coverage report",
        "headline": "Within {t:g} minutes' walk ({m:.0f} m at {v:g} km/h, {p})",
        "places": "places",
        "covered": "covered",
        "share": "share",
        "weight": "weight",
        "weighted": "by weight",
        "by": {
            "district": "district",
            "subdistrict": "subdistrict",
            "community": "community",
            "type": "type",
            "community_class": "community class",
        },
        "left_out": "Places left outside",
        "walk_min": "walk minutes",
        "unreachable": "unreachable",
        "nearest": "nearest site",
        "charts": "Charts",
        "map": "Map",
        "diff": "Before and after adding sites",
        "before": "before",
        "after": "after",
        "manifest": "Run manifest (input hashes, parameters, version)",
        "group": "group",
        "name": "name",
        "placeholder": "Note: {n} place(s) are placeholders (location not verified); read results with care.",
        "preset": "preset",
        "newly": "newly covered",
        "lost": "no longer covered",
    },
}

_TEMPLATE = jinja2.Environment(autoescape=True, loader=jinja2.BaseLoader()).from_string("""<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ t.title }} — {{ name }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}.big{font-size:2em;font-weight:bold}.warn{background:#fff3cd;padding:.6em;border:1px solid #e0c068}
iframe{width:100%;height:600px;border:1px solid #ccc}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.8em}
</style></head><body>
<h1>{{ t.title }} — {{ name }}</h1>
<p>{{ headline }}</p>
{% if placeholders %}<p class="warn">{{ t.placeholder.format(n=placeholders) }}</p>{% endif %}
<p class="big">{{ "%.1f"|format(share * 100) }}% <small>({{ covered }}/{{ total }} {{ t.places }}; {{ t.weighted }} {{ "%.1f"|format(weighted * 100) }}%)</small></p>
{% for title, table in group_tables %}<h2>{{ title }}</h2>{{ table|safe }}{% endfor %}
<h2>{{ t.charts }}</h2>{% for png in charts %}<img alt="chart" src="data:image/png;base64,{{ png }}">{% endfor %}
{% if map_file %}<h2>{{ t.map }}</h2><iframe src="{{ map_file }}" title="map"></iframe>{% endif %}
{% if diff_table %}<h2>{{ t.diff }}</h2><p>{{ diff_counts }}</p>{{ diff_table|safe }}{% endif %}
<h2>{{ t.left_out }} ({{ left_out_count }})</h2>{{ left_out|safe }}
<h2>{{ t.manifest }}</h2><pre>{{ manifest }}</pre>
</body></html>
""")


def write_report(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    diff: ScenarioDiff | None = None,
    map_file: str | None = None,
) -> list[Path]:
    """Write report.html, report.md, tables.xlsx and the chart PNGs into ``out_dir``.

    Parameters
    ----------
    result : the coverage run.
    out_dir : output folder (created).
    lang : "zh" or "en".
    diff : a before/after comparison to include.
    map_file : name of a map HTML file in ``out_dir`` to embed (e.g. "map.html").

    Returns
    -------
    list of written paths.
    """
    if lang not in TEXT:
        raise ValueError(f"lang must be one of {', '.join(TEXT)}, not {lang!r}")
    t = TEXT[lang]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    charts = [walk_time_histogram(result, lang)]
    for dimension in ("type", "district", "community"):
        png = share_by_group(result, dimension, lang)
        if png is not None:
            charts.append(png)
    for i, png in enumerate(charts):
        with atomic_path(out_dir / f"chart_{i + 1}.png") as tmp:
            tmp.write_bytes(png)
        written.append(out_dir / f"chart_{i + 1}.png")

    summary = result.summary()
    group_tables = [
        (f"{t['share']}: {t['by'][dim]}", _html(_group_table(summary, dim, t)))
        for dim in t["by"]
        if (summary["dimension"] == dim).any()
    ]
    left_out = _left_out_table(result, t)
    context = dict(
        lang=lang,
        t=t,
        name=result.manifest.get("scenario", {}).get("name") if result.manifest.get("scenario") else "",
        headline=_headline(result, t),
        placeholders=_placeholders(result),
        share=result.share_covered(),
        weighted=result.share_covered(weighted=True),
        covered=int(result.demand["covered"].sum()),
        total=len(result.demand),
        group_tables=group_tables,
        charts=[base64.b64encode(p).decode() for p in charts],
        map_file=map_file,
        left_out=_html(left_out),
        left_out_count=len(left_out),
        diff_table=_html(_diff_table(diff, t)) if diff is not None else None,
        diff_counts=_diff_counts(diff, t) if diff is not None else None,
        manifest=json.dumps(result.manifest, ensure_ascii=False, indent=2, default=str),
    )
    written.append(write_text_atomic(out_dir / "report.html", _TEMPLATE.render(**context)))
    written.append(write_text_atomic(out_dir / "report.md", _markdown(context, summary, left_out, diff, t)))
    with atomic_path(out_dir / "tables.xlsx") as tmp:
        sheets = {"coverage": result.table(), "summary": summary, "left_out": left_out}
        if diff is not None:
            sheets.update(diff_places=diff.places, diff_summary=diff.summary)
        _write_workbook(tmp, sheets)
    written.append(out_dir / "tables.xlsx")
    return written


def _write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """One sheet per table, cell by cell with XlsxWriter.

    Several times faster than pandas' ``to_excel`` on city-size tables (it
    formats every cell through Python objects); a fixed creation date keeps
    the workbook byte-identical across identical runs.
    """
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path), {"strings_to_urls": False, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    book.set_properties({"created": datetime.datetime(2000, 1, 1)})
    try:
        for name, frame in sheets.items():
            sheet = book.add_worksheet(name)
            for col, column in enumerate(frame.columns):  # write_string: text stays text, never a formula
                sheet.write_string(0, col, str(column))
            for col, column in enumerate(frame.columns):
                for row, value in enumerate(frame[column].tolist(), start=1):
                    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                        continue
                    if isinstance(value, (bool, np.bool_)):
                        sheet.write_boolean(row, col, bool(value))
                    elif isinstance(value, (int, float, np.integer, np.floating)):
                        sheet.write_number(row, col, float(value))
                    else:
                        sheet.write_string(row, col, str(value))
    finally:
        book.close()


def _headline(result: CoverageResult, t: dict) -> str:
    basis = result.profile_name if not result.preset else f"{t['preset']} {result.preset}"
    return t["headline"].format(t=result.threshold_min, m=result.threshold_m, v=result.speed_kmh, p=basis)


def _placeholders(result: CoverageResult) -> int:
    return sum(
        int((frame["status"] == "placeholder").sum()) for frame in (result.sites, result.demand) if "status" in frame
    )


def _group_table(summary: pd.DataFrame, dimension: str, t: dict) -> pd.DataFrame:
    table = summary[summary["dimension"] == dimension]
    return pd.DataFrame(
        {
            t["by"][dimension]: table["group"],
            t["places"]: table["places"],
            t["covered"]: table["covered"],
            t["share"]: (table["share"] * 100).round(1).astype(str) + "%",
            f"{t['share']} ({t['weighted']})": (table["weight_share"] * 100).round(1).astype(str) + "%",
        }
    )


def _left_out_table(result: CoverageResult, t: dict) -> pd.DataFrame:
    table = result.left_out()
    extra = [c for c in ("type", "district", "community", "status") if c in table and table[c].notna().any()]
    out = pd.DataFrame({t["name"]: table["demand_name"], t["nearest"]: table["nearest_site_name"]})
    out[t["walk_min"]] = table["walk_min"].map(lambda m: t["unreachable"] if pd.isna(m) else f"{m:.1f}")
    for column in extra:
        out[t["by"].get(column, column)] = table[column]
    return out.reset_index(drop=True)


def _diff_table(diff: ScenarioDiff, t: dict) -> pd.DataFrame:
    table = diff.summary
    return pd.DataFrame(
        {
            t["group"]: table["dimension"] + ": " + table["group"].astype(str),
            t["places"]: table["places"],
            t["before"]: (table["share_before"] * 100).round(1).astype(str) + "%",
            t["after"]: (table["share_after"] * 100).round(1).astype(str) + "%",
        }
    )


def _diff_counts(diff: ScenarioDiff, t: dict) -> str:
    return f"{t['newly']}: {len(diff.newly_covered())}; {t['lost']}: {len(diff.no_longer_covered())}"


def _html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="", escape=True)


def _markdown(context: dict, summary: pd.DataFrame, left_out: pd.DataFrame, diff: ScenarioDiff | None, t: dict) -> str:
    lines = [f"# {t['title']} — {markdown_text(context['name'] or '')}", "", markdown_text(context["headline"]), ""]
    if context["placeholders"]:
        lines += [f"> {t['placeholder'].format(n=context['placeholders'])}", ""]
    lines += [f"**{context['share'] * 100:.1f}%** ({context['covered']}/{context['total']} {t['places']})", ""]
    for dim in t["by"]:
        if (summary["dimension"] == dim).any():
            lines += [
                f"## {t['share']}: {t['by'][dim]}",
                "",
                markdown_table(_group_table(summary, dim, t)),
                "",
            ]
    if diff is not None:
        lines += [f"## {t['diff']}", "", _diff_counts(diff, t), "", markdown_table(_diff_table(diff, t)), ""]
    lines += [
        f"## {t['left_out']} ({len(left_out)})",
        "",
        markdown_table(left_out) if len(left_out) else "-",
        "",
    ]
    # A fence longer than any run of backticks in the manifest (names are in it), so it cannot be closed early.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", context["manifest"])), default=0))
    lines += [f"## {t['manifest']}", "", f"{fence}json", context["manifest"], fence, ""]
    return "\n".join(lines)
