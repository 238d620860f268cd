"""Report charts (PNG, matplotlib): walk-time histogram and coverage share by group.

Every label is in the report's language. Chinese text is drawn with a CJK
font file found and registered by `coverage_planner.outputs.fonts`; when a
label or name has a character no installed font holds, the chart is not
drawn with empty boxes: `FontMissingError` says which characters and how to
get a font.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from coverage_planner.outputs import _gc
from coverage_planner.outputs.fonts import chart_families
from coverage_planner.results import CoverageResult

#: Resolution of chart PNGs: sharp on an A4 page at full text width.
CHART_DPI = 150
#: Groups shown in a share chart; beyond this the lowest shares are shown (the tables list all).
MAX_BARS = 25
LABELS = {
    "zh": {
        "hist_title": "到最近站点的步行时间",
        "minutes": "步行时间 (分钟)",
        "hist_title_drive": "到最近站点的驾车时间",
        "minutes_drive": "驾车时间 (分钟)",
        "places": "地点数",
        "threshold": "{m:g} 分钟阈值",
        "within": "≤ {m:g} 分钟 (覆盖)",
        "beyond": "> {m:g} 分钟 (未覆盖)",
        "unreachable": "另有 {n} 个地点在 {s:g} 分钟内无站点或不在路网上",
        "share_title": "各{dim}覆盖率",
        "share_lowest": "各{dim}覆盖率 (覆盖率最低的 {n} 个, 共 {total} 个)",
        "share": "覆盖率 (%)",
        "none": "(未填)",
        "dims": {
            "type": "类型",
            "district": "区",
            "community": "社区",
            "subdistrict": "街道",
            "community_class": "社区类别",
        },
    },
    "en": {
        "hist_title": "Walk time to the nearest site",
        "minutes": "walk time (minutes)",
        "hist_title_drive": "Drive time to the nearest site",
        "minutes_drive": "drive time (minutes)",
        "places": "places",
        "threshold": "{m:g}-minute threshold",
        "within": "≤ {m:g} min (covered)",
        "beyond": "> {m:g} min (not covered)",
        "unreachable": "{n} more place(s) have no site within {s:g} min or are off the network",
        "share_title": "Coverage by {dim}",
        "share_lowest": "Coverage by {dim} (the {n} lowest of {total})",
        "share": "share covered (%)",
        "none": "(blank)",
        "dims": {
            "type": "type",
            "district": "district",
            "community": "community",
            "subdistrict": "subdistrict",
            "community_class": "community class",
        },
    },
}
COVERED, BEYOND, THRESHOLD = "#1a9850", "#d73027", "#404040"


def histogram_figure(result: CoverageResult, lang: str = "zh") -> Figure:
    """The walk-time histogram as a matplotlib figure (one-minute bins, covered bins green).

    Parameters
    ----------
    result : CoverageResult
        The run.
    lang : {"zh", "en"}
        Language of every label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    text = LABELS[lang]
    threshold = float(result.threshold_min)
    minutes = result.demand["walk_min"].dropna().to_numpy(float)
    unreachable = int(result.demand["walk_min"].isna().sum())
    search_min = result.matrix.cutoff_m / result.metres_per_minute
    upper = max(search_min, threshold, float(minutes.max(initial=0.0)))
    drive = "_drive" if result.travel_mode == "drive" else ""
    labels = {
        "title": text[f"hist_title{drive}"],
        "x": text[f"minutes{drive}"],
        "y": text["places"],
        "within": text["within"].format(m=threshold),
        "beyond": text["beyond"].format(m=threshold),
        "line": text["threshold"].format(m=threshold),
        "note": text["unreachable"].format(n=unreachable, s=search_min) if unreachable else "",
    }
    with _style(lang, labels.values()):
        fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=CHART_DPI)
        edges = np.arange(0.0, math.ceil(upper) + 1.0, 1.0 if upper <= 40 else math.ceil(upper / 40))
        counts, _ = np.histogram(minutes, bins=edges)
        left = edges[:-1]
        inside = left < threshold
        width = np.diff(edges)
        ax.bar(left[inside], counts[inside], width[inside], align="edge", color=COVERED, label=labels["within"])
        ax.bar(left[~inside], counts[~inside], width[~inside], align="edge", color=BEYOND, label=labels["beyond"])
        ax.axvline(threshold, color=THRESHOLD, linewidth=1.5, linestyle="--", label=labels["line"])
        ax.set_xlim(0, edges[-1])
        ax.set_xlabel(labels["x"])
        ax.set_ylabel(labels["y"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(labels["title"])
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize=8)
        if labels["note"]:
            fig.text(0.01, 0.01, labels["note"], fontsize=7.5, color="#555555")
        fig.tight_layout(rect=(0, 0.04 if labels["note"] else 0, 1, 1))  # lays out (and creates) every tick here
        return fig


def share_figure(result: CoverageResult, dimension: str, lang: str = "zh") -> Figure | None:
    """Horizontal bars of the covered share per group of ``dimension``, on a 0–100 % axis.

    Parameters
    ----------
    result : CoverageResult
        The run.
    dimension : str
        A grouping column (``type``, ``district``, ``subdistrict``, ``community``, ``community_class``).
    lang : {"zh", "en"}
        Language of every label.

    Returns
    -------
    matplotlib.figure.Figure or None
        None when the demand has no such column. At most `MAX_BARS` groups,
        the lowest shares, when there are more.
    """
    text = LABELS[lang]
    table = result.summary()
    table = table[table["dimension"] == dimension]
    if table.empty:
        return None
    total = len(table)
    table = table.sort_values(["share", "group"], ascending=[True, False]).head(MAX_BARS).iloc[::-1]
    dim = text["dims"].get(dimension, dimension)
    title = (
        text["share_lowest"].format(dim=dim, n=MAX_BARS, total=total)
        if total > MAX_BARS
        else text["share_title"].format(dim=dim)
    )
    groups = [text["none"] if g == "(none)" else _short(str(g)) for g in table["group"]]
    bar_labels = [f"{s:.0%} ({c}/{n})" for s, c, n in zip(table["share"], table["covered"], table["places"])]
    with _style(lang, [title, text["share"], *groups, *bar_labels]):
        fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(table) + 1.2), dpi=CHART_DPI)
        y = np.arange(len(table))
        shares = table["share"].to_numpy(float) * 100
        ax.barh(y, shares, color=COVERED, height=0.7)
        ax.barh(y, 100 - shares, left=shares, color="#e8e8e8", height=0.7)  # the uncovered rest, to 100 %
        for yi, share, label in zip(y, shares, bar_labels):
            inside = share >= 60  # long bars carry their label inside, short ones just right of the bar
            ax.text(
                share - 1.5 if inside else share + 1.5,
                yi,
                label,
                va="center",
                ha="right" if inside else "left",
                fontsize=7.5,
                color="white" if inside else "#222222",
            )
        ax.set_yticks(y, groups, fontsize=8)
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel(text["share"])
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig


def walk_time_histogram(result: CoverageResult, lang: str = "zh") -> bytes:
    """PNG of `histogram_figure`.

    Parameters
    ----------
    result : CoverageResult
        The run.
    lang : {"zh", "en"}, default "zh"
        Language of every label.

    Returns
    -------
    bytes
        PNG data (the same result gives the same bytes).

    Raises
    ------
    FontMissingError
        When no installed font holds every character of the labels.
    """
    return figure_png(histogram_figure(result, lang))


def share_by_group(result: CoverageResult, dimension: str, lang: str = "zh") -> bytes | None:
    """PNG of `share_figure`, or None when the demand has no ``dimension`` column.

    Parameters
    ----------
    result : CoverageResult
        The run.
    dimension : str
        A grouping column (``type``, ``district``, ``subdistrict``, ``community``, ``community_class``).
    lang : {"zh", "en"}, default "zh"
        Language of every label.

    Returns
    -------
    bytes or None
        PNG data (the same result gives the same bytes).

    Raises
    ------
    FontMissingError
        When no installed font holds every character of the labels and group names.
    """
    fig = share_figure(result, dimension, lang)
    return None if fig is None else figure_png(fig)


def figure_png(fig: Figure, dpi: float | None = None) -> bytes:
    """Render and close a laid-out figure as PNG with fixed metadata (the same figure gives the same bytes).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; closed afterwards, so it cannot be drawn again.
    dpi : float, optional
        Defaults to the figure's own.

    Returns
    -------
    bytes
        PNG data.
    """
    buffer = io.BytesIO()
    with _gc.paused():
        # zlib level 3, not PIL's 6: as small for flat-coloured maps and charts, a third less time (30 ms a map).
        fig.savefig(
            buffer, format="png", dpi=dpi or fig.dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 3}
        )
    plt.close(fig)
    return buffer.getvalue()


def _style(lang: str, texts):
    """rc settings for one chart: fonts that hold every glyph of ``texts`` (or FontMissingError)."""
    # parse_math off: a "$" in a place name is text, not the start of a formula (which can also fail to parse).
    return plt.rc_context(
        {
            "font.family": chart_families(lang, [t for t in texts if t]),
            "axes.unicode_minus": False,
            "text.parse_math": False,
            "text.usetex": False,
        }
    )


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


__all__ = [
    "CHART_DPI",
    "LABELS",
    "MAX_BARS",
    "figure_png",
    "histogram_figure",
    "share_by_group",
    "share_figure",
    "walk_time_histogram",
]
