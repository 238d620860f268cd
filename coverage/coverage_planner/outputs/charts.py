"""Report charts (PNG, matplotlib): walk-time histogram and coverage share by group.

Chinese labels need a CJK font; the first one matplotlib can find is used
(Noto/Source Han, SimHei, Microsoft YaHei, PingFang, WenQuanYi). Without
one, charts fall back to English labels rather than printing empty boxes.
"""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import MaxNLocator

from coverage_planner.results import CoverageResult

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans SC",
)
LABELS = {
    "zh": {
        "hist_title": "步行时间分布",
        "minutes": "到最近站点的步行时间 (分钟)",
        "places": "地点数",
        "threshold": "{m:g} 分钟阈值",
        "share_title": "按{dim}的覆盖率",
        "share": "覆盖率",
        "unreachable": "不可达",
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
        "minutes": "walk minutes to the nearest site",
        "places": "places",
        "threshold": "{m:g}-minute threshold",
        "share_title": "Coverage by {dim}",
        "share": "share covered",
        "unreachable": "unreachable",
        "dims": {
            "type": "type",
            "district": "district",
            "community": "community",
            "subdistrict": "subdistrict",
            "community_class": "community class",
        },
    },
}


def cjk_font() -> str | None:
    """Name of an installed font family that has Chinese glyphs, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


def chart_language(lang: str) -> str:
    """The language charts can really be drawn in: Chinese only with a CJK font."""
    return "zh" if lang == "zh" and cjk_font() else "en"


def walk_time_histogram(result: CoverageResult, lang: str = "zh") -> bytes:
    """PNG: histogram of walk minutes, the threshold marked, unreachable places counted aside."""
    lang = chart_language(lang)
    text = LABELS[lang]
    minutes = result.demand["walk_min"].dropna().to_numpy(float)
    unreachable = int(result.demand["walk_min"].isna().sum())
    with _style(lang):
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
        upper = max(result.matrix.cutoff_m / result.metres_per_minute, result.threshold_min)
        ax.hist(minutes, bins=30, range=(0, upper), color="#3b7dd8", edgecolor="white")
        ax.axvline(
            result.threshold_min, color="#d83b3b", linewidth=2, label=text["threshold"].format(m=result.threshold_min)
        )
        ax.set_xlabel(text["minutes"])
        ax.set_ylabel(text["places"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(text["hist_title"] + (f" ({text['unreachable']}: {unreachable})" if unreachable else ""))
        ax.legend()
        return _png(fig)


def share_by_group(result: CoverageResult, dimension: str, lang: str = "zh") -> bytes | None:
    """PNG: horizontal bars of the covered share per group of ``dimension`` (None if absent)."""
    lang = chart_language(lang)
    table = result.summary()
    table = table[table["dimension"] == dimension]
    if table.empty:
        return None
    table = table.sort_values("share")
    with _style(lang):
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(table) + 1.4), dpi=110)
        bars = ax.barh(table["group"].astype(str), table["share"] * 100, color="#2e9e5b")
        ax.bar_label(
            bars,
            labels=[f"{s:.0%} ({c}/{n})" for s, c, n in zip(table["share"], table["covered"], table["places"])],
            padding=3,
            fontsize=8,
        )
        ax.set_xlim(0, 135)  # room for the labels right of full bars
        ax.set_xlabel(LABELS[lang]["share"] + " (%)")
        ax.set_title(LABELS[lang]["share_title"].format(dim=LABELS[lang]["dims"][dimension]))
        return _png(fig)


def _style(lang: str):
    font = cjk_font() if lang == "zh" else None
    # parse_math off: a "$" in a place name is text, not the start of a formula (which can also fail to parse).
    return plt.rc_context(
        {
            "font.family": [font] if font else ["DejaVu Sans"],
            "axes.unicode_minus": False,
            "text.parse_math": False,
            "text.usetex": False,
        }
    )


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Without a CJK font, Chinese place names in the data cannot be drawn; the caller already chose English labels.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        # Fixed metadata: the same result gives the same bytes.
        fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
