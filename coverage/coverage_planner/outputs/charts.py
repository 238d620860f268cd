"""Report charts (PNG, matplotlib): walk-time histogram and coverage share by group.

Every label is in the report's language. Chinese text is drawn with a CJK
font file found and registered by `coverage_planner.outputs.fonts`; when a
label or name has a character no installed font holds, the chart is not
drawn with empty boxes: `FontMissingError` says which characters and how to
get a font.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import AbstractContextManager

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from coverage_planner.outputs import _gc
from coverage_planner.outputs.fonts import chart_families
from coverage_planner.outputs.png import encode_png
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
    with picture_style(lang, labels.values()):
        edges = np.arange(0.0, math.ceil(upper) + 1.0, 1.0 if upper <= 40 else math.ceil(upper / 40))
        counts, _ = np.histogram(minutes, bins=edges)
        fig = plt.figure(figsize=(6.4, 3.4), dpi=CHART_DPI)
        widest_count = "8" * len(f"{int(counts.max(initial=0) * 1.05) + 1}")  # the longest y tick label
        ax = _axes_within(
            fig,
            left_texts=[widest_count],
            left_size="ytick",
            y_label=(labels["y"], "axes_label"),
            below=[("0", "xtick"), (labels["x"], "axes_label")] + ([(labels["note"], 7.5)] if labels["note"] else []),
            above=[(labels["title"], "title")],
        )
        left, right = edges[:-1], edges[1:]
        inside = left < threshold
        # One collection of bars rather than a patch per bin (a patch costs about 0.5 ms to make and draw).
        bars = [((a, 0), (b, 0), (b, c), (a, c)) for a, b, c in zip(left.tolist(), right.tolist(), counts.tolist())]
        colours = np.where(inside, COVERED, BEYOND).tolist()
        ax.add_collection(PolyCollection(bars, facecolors=colours, edgecolors="none", linewidths=0))
        line = ax.axvline(threshold, color=THRESHOLD, linewidth=1.5, linestyle="--", label=labels["line"])
        handles = [line] + [
            Patch(facecolor=colour, label=labels[key])
            for key, colour, present in (("within", COVERED, inside.any()), ("beyond", BEYOND, (~inside).any()))
            if present
        ]
        ax.set_xlim(0, edges[-1])
        ax.set_ylim(0, max(float(counts.max(initial=0)) * 1.05, 1.0))
        ax.set_xlabel(labels["x"])
        ax.set_ylabel(labels["y"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(labels["title"], y=1.0)  # a fixed place: finding one clear of the ticks lays them all out
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(handles=handles, frameon=False, fontsize=8)
        if labels["note"]:
            fig.text(0.01, 0.01, labels["note"], fontsize=7.5, color="#555555")
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
    with picture_style(lang, [title, text["share"], *groups, *bar_labels]):
        fig = plt.figure(figsize=(6.4, 0.3 * len(table) + 1.2), dpi=CHART_DPI)
        ax = _axes_within(
            fig,
            left_texts=groups,
            left_size=8,
            below=[("100%", "xtick"), (text["share"], "axes_label")],
            above=[(title, 10)],
        )
        y = np.arange(len(table))
        shares = table["share"].to_numpy(float) * 100
        # Bars as one collection and names as plain text, not 50 patches and 25 ticks: a third of the chart's time.
        half = 0.35
        covered = [((0, yi - half), (s, yi - half), (s, yi + half), (0, yi + half)) for yi, s in zip(y, shares)]
        rest = [((s, yi - half), (100, yi - half), (100, yi + half), (s, yi + half)) for yi, s in zip(y, shares)]
        colours = [COVERED] * len(y) + ["#e8e8e8"] * len(y)  # the uncovered rest, to 100 %
        ax.add_collection(PolyCollection(covered + rest, facecolors=colours, edgecolors="none", linewidths=0))
        ax.set_ylim(-0.7, len(y) - 0.3)
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
        names = ax.get_yaxis_transform()  # x in axes units, y in data units
        for yi, group in zip(y, groups):
            ax.text(-0.012, yi, group, transform=names, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel(text["share"])
        ax.set_title(title, fontsize=10, y=1.0)
        ax.spines[["top", "right"]].set_visible(False)
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
    # Drawn as `picture_style` measured the texts: hinting is read when glyphs are drawn, not when texts are made.
    with _gc.paused(), plt.rc_context({"text.hinting": UNHINTED}):
        if dpi is not None:
            fig.set_dpi(dpi)
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())
        # An opaque picture is saved without its alpha channel: a quarter less to pack, and no alpha mask for
        # the PDF renderer to split off.
        data = encode_png(pixels[..., :3] if (pixels[..., 3] == 255).all() else pixels, fig.dpi)
    plt.close(fig)
    return data


#: matplotlib's ``text.hinting`` for every picture (see `picture_style`).
UNHINTED = "no_hinting"


def picture_style(lang: str, texts: Iterable[str]) -> AbstractContextManager:
    """Matplotlib settings for one chart or printed map that draws ``texts`` in ``lang``.

    Fonts that hold every glyph (`chart_families`); a "$" in a place name is text, not the start
    of a formula (which can also fail to parse); and glyphs unhinted. Hinting bends outlines to a
    screen's pixel grid, which pictures printed at 150–200 dpi do not need, and matplotlib's
    default (FreeType's auto-hinter, at 8 × the horizontal resolution) was a fifth of the drawing
    time of a chart full of names.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of the picture.
    texts : iterable of str
        Every string it will draw (empty ones are skipped).

    Returns
    -------
    contextlib.AbstractContextManager
        ``matplotlib.pyplot.rc_context`` of those settings.

    Raises
    ------
    FontMissingError
        When some character is in none of the installed fonts.
    """
    return plt.rc_context(
        {
            "font.family": chart_families(lang, [t for t in texts if t]),
            "axes.unicode_minus": False,
            "text.parse_math": False,
            "text.usetex": False,
            "text.hinting": UNHINTED,
        }
    )


def _axes_within(fig: Figure, *, left_texts, left_size, y_label=None, below=(), above=()):
    """Axes leaving room for the texts around them, sized from those texts alone.

    ``left_texts`` at ``left_size`` stand left of the axes (the widest sets the margin), then
    ``y_label`` turned a quarter; ``below`` and ``above`` are (text, size) stacked under and over
    it. A size is points or an rc name ("ytick", "xtick", "axes_label", "title"). What tight_layout
    decides, without laying out every tick an extra time.
    """
    renderer = fig.canvas.get_renderer()
    named = {
        "ytick": plt.rcParams["ytick.labelsize"],
        "xtick": plt.rcParams["xtick.labelsize"],
        "axes_label": plt.rcParams["axes.labelsize"],
        "title": plt.rcParams["axes.titlesize"],
    }
    lines: dict[object, float] = {}

    def width(text: str, size) -> float:
        return renderer.get_text_width_height_descent(text or " ", FontProperties(size=named.get(size, size)), False)[0]

    def height(size) -> float:
        size = named.get(size, size)  # points, or a name such as "medium"
        if size not in lines:  # a line is as high as "lp", as matplotlib sizes one
            lines[size] = renderer.get_text_width_height_descent("lp", FontProperties(size=size), False)[1]
        return lines[size]

    pad = 0.07 * fig.dpi  # between stacked texts and at the figure's edge, in pixels
    width_px, height_px = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    x0 = max((width(t, left_size) for t in left_texts), default=0.0) + 2 * pad
    if y_label is not None:
        x0 += height(y_label[1]) + pad
    y0 = sum(height(size) + pad for _, size in below) + pad
    y1 = height_px - sum(height(size) + pad for _, size in above) - pad
    x1 = width_px - 0.3 * fig.dpi  # half the last x tick label sticks out past the axes
    return fig.add_axes((x0 / width_px, y0 / height_px, (x1 - x0) / width_px, (y1 - y0) / height_px))


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
