"""A printable coverage map (matplotlib): no tiles, the walk network itself is the street background.

Drawn in the network's metric CRS (its UTM zone), so the scale bar is true
metres and grid north is up (within a degree or two of true north inside a
zone). The figure has a title, the walk-time bands of all sites together
(`coverage_planner.outputs.isochrones`, display only), every demand place
coloured by whether it is covered, existing sites ■ and proposed sites ★,
labels for the sites and for named compounds (placed so they do not
overlap), a metre scale bar, a north arrow, a legend and the data credit.
Placeholder sites and places (``status = placeholder``) are drawn hollow and
labelled as such: the map never presents an unverified location as a real one.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.collections import LineCollection, PatchCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Bbox

from coverage_planner.access.snapping import snap_points
from coverage_planner.outputs import _gc
from coverage_planner.outputs._labels import ROUTE_COLOURS, readable_name
from coverage_planner.outputs.charts import figure_png, picture_style
from coverage_planner.outputs.isochrones import DEFAULT_BANDS_MIN, interval_coordinates, reached_intervals
from coverage_planner.results import CoverageResult

#: Resolution of the map PNG embedded in the report (A4 text width, print quality).
MAP_DPI = 200
#: Most compound/community labels drawn (sites are always labelled when they fit).
MAX_PLACE_LABELS = 30
COVERED, BEYOND, UNREACHED = "#1a9850", "#d73027", "#7f7f7f"
SITE, PROPOSED, PLACEHOLDER = "#2166ac", "#7b3294", "#e08214"
BAND_COLOURS = ("#9ecae1", "#c6dbef", "#deebf7", "#eef5fb")  # smallest band darkest (opaque, under everything)
MAIN_ROADS = {"motorway", "trunk", "primary", "secondary", "tertiary"}
MINOR_WAYS = {"footway", "path", "steps", "pedestrian", "cycleway", "track", "bridleway", "corridor"}
TEXT = {
    "zh": {
        "title": "{name}步行 {t:g} 分钟覆盖图",
        "title_drive": "{name}驾车 {t:g} 分钟覆盖图",
        "title_costs": "{name}步行 {t:g} 分钟覆盖图 (台阶与主干道过街计时)",
        "subtitle": "覆盖 {share:.1%} 的地点 ({covered}/{total}) · 现有站点 {sites} 个{proposed} · 步速 {v:g} 公里/小时",
        "proposed_count": " · 拟建站点 {n} 个",
        "sites": "现有站点",
        "proposed": "拟建站点",
        "covered": "覆盖的地点 (≤ {t:g} 分钟)",
        "beyond": "未覆盖的地点 (> {t:g} 分钟)",
        "unreached": "无站点可达 / 不在路网上",
        "placeholder": "占位 (位置未核实)",
        "placeholder_tag": " (占位)",
        "band": "全部站点 {b:g} 分钟步行范围",
        "streets": "步行路网",
        "north": "北",
        "metres": "米",
        "km": "公里",
        "warning": "注意: {n} 个站点/地点为占位, 位置未核实, 仅供示意",
        "credit": "街道: OpenStreetMap{snapshot} · © OpenStreetMap 贡献者 (ODbL) · 投影 {crs} · 步行范围仅示意, 覆盖按路网步行距离计算",
        "snapshot": " (数据日期 {d})",
    },
    "en": {
        "title": "{name}{t:g}-minute walking coverage",
        "title_drive": "{name}{t:g}-minute driving coverage",
        "title_costs": "{name}{t:g}-minute walking coverage (steps and main-road crossings timed)",
        "subtitle": "{share:.1%} of places covered ({covered}/{total}) · {sites} existing site(s){proposed} · walking at {v:g} km/h",
        "proposed_count": " · {n} proposed",
        "sites": "existing sites",
        "proposed": "proposed sites",
        "covered": "covered places (≤ {t:g} min)",
        "beyond": "places not covered (> {t:g} min)",
        "unreached": "no site reachable / off the network",
        "placeholder": "placeholder (location not verified)",
        "placeholder_tag": " (placeholder)",
        "band": "{b:g}-minute walk from any site",
        "streets": "walk network",
        "north": "N",
        "metres": "m",
        "km": "km",
        "warning": "Note: {n} site(s)/place(s) are placeholders: locations not verified, for illustration only",
        "credit": "Streets: OpenStreetMap{snapshot} · © OpenStreetMap contributors (ODbL) · projection {crs} · bands for display only; coverage is computed on the street network",
        "snapshot": " (data of {d})",
    },
}
#: A drive run's words instead of the walking ones (merged over `TEXT`).
TEXT_DRIVE = {
    "zh": {
        "subtitle": "覆盖 {share:.1%} 的地点 ({covered}/{total}) · 现有站点 {sites} 个{proposed} · 驾车, 按限速或道路等级车速",
        "band": "全部站点 {b:g} 分钟驾车范围",
        "streets": "车行路网",
        "credit": "道路: OpenStreetMap{snapshot} · © OpenStreetMap 贡献者 (ODbL) · 投影 {crs} · 驾车范围仅示意, 覆盖按路网驾车时间计算",
    },
    "en": {
        "subtitle": "{share:.1%} of places covered ({covered}/{total}) · {sites} existing site(s){proposed} · driving, speeds from maxspeed or road class",
        "band": "{b:g}-minute drive from any site",
        "streets": "drive network",
        "credit": "Roads: OpenStreetMap{snapshot} · © OpenStreetMap contributors (ODbL) · projection {crs} · bands for display only; coverage is computed on the road network",
    },
}


def static_map_figure(
    result: CoverageResult,
    lang: str = "zh",
    *,
    name: str | None = None,
    bands_min: Sequence[float] | None = None,
    max_place_labels: int = MAX_PLACE_LABELS,
    width_in: float = 7.0,
    site_names: Mapping[str, str] | None = None,
) -> Figure:
    """The coverage map as a matplotlib figure, ready to print.

    Parameters
    ----------
    result : CoverageResult
        The run; sites with ``status = proposed`` are drawn as ★ (numbered by ``rank`` when present).
    lang : {"zh", "en"}
        Language of every label.
    name : str, optional
        Scenario name for the title (default: the manifest's).
    bands_min : sequence of float, optional
        Walk-time bands to shade (default: 5/10/15 minutes up to the threshold, and the threshold).
    max_place_labels : int
        Most demand places labelled (placeholders, then uncovered, then covered; heaviest first).
    width_in : float
        Figure width in inches (the height follows the area's shape).
    site_names : mapping of str to str, optional
        Labels to use instead of some sites' names, by site id (e.g. readable
        names for generated candidates).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    FontMissingError
        When a label has characters no installed font holds.
    """
    text = {**TEXT[lang], **TEXT_DRIVE[lang]} if _title_key(result) == "title_drive" else TEXT[lang]
    net = result.network
    to_metric = net.to_metric
    threshold = float(result.threshold_min)
    sites = result.sites.reset_index(drop=True)
    demand = result.demand.reset_index(drop=True)
    sx, sy = (np.asarray(v) for v in to_metric.transform(sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()))
    dx, dy = (np.asarray(v) for v in to_metric.transform(demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()))
    site_status = _status(sites)
    place_status = _status(demand)
    proposed = site_status == "proposed"
    placeholders = int((site_status == "placeholder").sum() + (place_status == "placeholder").sum())
    if name is None:
        name = (result.manifest.get("scenario") or {}).get("name") or ""
    snapshot = (result.manifest.get("network") or {}).get("snapshot") or net.source.snapshot
    labels = {
        "title": text[_title_key(result)].format(name=f"{name} — " if name else "", t=threshold),
        "subtitle": text["subtitle"].format(
            share=result.share_covered() if len(demand) else 0.0,
            covered=int(demand["covered"].sum()),
            total=len(demand),
            sites=int((~proposed).sum()),
            proposed=text["proposed_count"].format(n=int(proposed.sum())) if proposed.any() else "",
            v=result.speed_kmh,
        ),
        "credit": text["credit"].format(
            snapshot=text["snapshot"].format(d=str(snapshot)[:10]) if snapshot else "", crs=net.crs.to_string()
        ),
        "warning": text["warning"].format(n=placeholders) if placeholders else "",
    }
    bands = _bands(threshold, bands_min)
    legend_text = [text[k] for k in ("sites", "proposed", "unreached", "placeholder", "streets")]
    legend_text += [text["covered"].format(t=threshold), text["beyond"].format(t=threshold)]
    legend_text += [text["band"].format(b=b) for b in bands]
    site_labels = _site_labels(sites, site_status, text, site_names or {})
    place_rows = _place_label_rows(demand, place_status, max_place_labels)
    place_labels = [
        str(demand["demand_name"].iloc[i]) + (text["placeholder_tag"] if place_status[i] == "placeholder" else "")
        for i in place_rows
    ]
    all_text = [*labels.values(), *legend_text, *site_labels, *place_labels, text["north"], text["metres"], text["km"]]
    with picture_style(lang, all_text):
        x0, x1, y0, y1 = _extent(np.concatenate([sx, dx]), np.concatenate([sy, dy]), net)
        aspect = min(max((y1 - y0) / (x1 - x0), 0.6), 1.2)
        x0, x1, y0, y1 = _fit(x0, x1, y0, y1, aspect)
        credit = _wrap(labels["credit"], 140)
        head, foot = 0.75 + (0.2 if placeholders else 0.0), 0.25 + 0.1 * credit.count("\n")
        map_h = width_in * 0.96 * aspect
        fig = plt.figure(figsize=(width_in, map_h + head + foot), dpi=MAP_DPI)
        total_h = map_h + head + foot
        ax = _map_axes(fig, (0.02, foot / total_h, 0.96, map_h / total_h), (x0, x1, y0, y1))

        _draw_streets(ax, net, (x0, x1, y0, y1))
        # A strip 50 m wide on the ground (25 m each side of the street, as the interactive map's bands), at least 1.5 pt.
        strip_pt = max(50.0 / (x1 - x0) * width_in * 0.96 * 72, 1.5)
        band_handles = _draw_bands(ax, result, bands, text, strip_pt)
        _draw_footprints(ax, demand, place_status, to_metric)
        _draw_places(ax, dx, dy, demand, place_status)
        _draw_sites(ax, sx, sy, site_status)

        # Furniture first: labels are then placed around the scale bar, north arrow and legend.
        corner = _emptier_corner(np.concatenate([sx, dx]), np.concatenate([sy, dy]), (x0, x1, y0, y1))
        furniture = [*_scale_bar(ax, x0, x1, y0, y1, text, corner), *_north_arrow(ax, text["north"])]
        handles = _legend_handles(text, threshold, site_status, place_status, demand) + band_handles
        furniture.append(
            ax.legend(
                handles=handles,
                loc="lower right",
                fontsize=6.5,
                frameon=True,
                framealpha=0.92,
                edgecolor="#bbbbbb",
                borderpad=0.6,
            )
        )
        halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        candidates = [
            (sx[i], sy[i], label, 7.5, "bold", PROPOSED if proposed[i] else SITE)
            for i, label in enumerate(site_labels)
            if label
        ]
        candidates += [
            (dx[i], dy[i], label, 6.5, "normal", "#333333" if demand["covered"].iloc[i] else "#8b1a10")
            for i, label in zip(place_rows, place_labels)
        ]
        renderer = fig.canvas.get_renderer()
        _place_labels(ax, renderer, candidates, halo, [a.get_window_extent(renderer) for a in furniture])
        top = 1 - 0.08 / total_h
        fig.text(0.02, top, labels["title"], fontsize=12, fontweight="bold", va="top")
        fig.text(0.02, top - 0.32 / total_h, labels["subtitle"], fontsize=8, va="top", color="#333333")
        if labels["warning"]:
            fig.text(
                0.02, top - 0.54 / total_h, labels["warning"], fontsize=8, va="top", color="#b35806", fontweight="bold"
            )
        fig.text(0.02, 0.06 / total_h, credit, fontsize=5.5, va="bottom", color="#555555", linespacing=1.3)
        return fig


@_gc.paused()  # many small arrays and tuples: no cycles to collect meanwhile
def static_map_png(result: CoverageResult, lang: str = "zh", **options: Any) -> bytes:
    """PNG of `static_map_figure` (fixed metadata: the same result gives the same bytes).

    Parameters
    ----------
    result : CoverageResult
        The run.
    lang : {"zh", "en"}, default "zh"
        Language of every label.
    **options
        Passed to `static_map_figure`.

    Returns
    -------
    bytes
        PNG data.

    Raises
    ------
    FontMissingError
        When a label has characters no installed font holds.
    """
    return figure_png(static_map_figure(result, lang, **options))


def route_map_figure(
    result: CoverageResult,
    legs: pd.DataFrame,
    stops: pd.DataFrame,
    lang: str = "zh",
    *,
    colour: str = "#d95f02",
    width_in: float = 6.7,
    aspect: float = 0.62,
) -> Figure:
    """One circuit route on its streets, for the route's printed page: legs, numbered stops, the studio ■.

    Parameters
    ----------
    result : CoverageResult
        Gives the network (streets, metric CRS) and where the places and sites are.
    legs : GeoDataFrame
        The route's legs (`CircuitPlan.legs` rows of one route), WGS-84 lines.
    stops : DataFrame
        The route's stops (`CircuitPlan.routes` rows of one route): ``stop, kind, place_id, depot_id``.
    lang : {"zh", "en"}
        Language of the north arrow and scale bar.
    colour : str
        Colour of the route.
    width_in, aspect : float
        Figure width in inches and height / width.

    Returns
    -------
    matplotlib.figure.Figure
    """
    text = TEXT[lang]
    net = result.network
    to_metric = net.to_metric
    lines = list(legs.geometry) if len(legs) else []
    where = {str(i): (g.x, g.y) for i, g in zip(result.demand["demand_id"], result.demand.geometry)}
    where.update({str(i): (g.x, g.y) for i, g in zip(result.sites["id"], result.sites.geometry)})
    ends = {int(leg): line for leg, line in zip(legs["leg"], lines)} if len(legs) else {}
    stops = stops.sort_values("stop")
    points = []  # (x, y, label or None for the studio)
    for stop in stops.to_dict("records"):
        key = str(stop["depot_id"] if stop["kind"] != "visit" else stop["place_id"])
        xy = where.get(key)
        line = ends.get(int(stop["stop"]))
        if xy is None and line is not None and not line.is_empty:
            xy = shapely.get_coordinates(line)[-1]
        if xy is not None:
            x, y = to_metric.transform(float(xy[0]), float(xy[1]))
            points.append((x, y, int(stop["stop"]) if stop["kind"] == "visit" else None))
    segments = []
    for line in lines:
        xy = shapely.get_coordinates(line)
        if len(xy) >= 2:
            mx, my = to_metric.transform(xy[:, 0], xy[:, 1])
            segments.append(np.column_stack([mx, my]))
    xs = np.concatenate([seg[:, 0] for seg in segments] + [np.array([p[0] for p in points], float)])
    ys = np.concatenate([seg[:, 1] for seg in segments] + [np.array([p[1] for p in points], float)])
    if not len(xs):
        xs, ys = np.array(net.metric_coords[:1, 0]), np.array(net.metric_coords[:1, 1])
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    pad = max(0.12 * max(x1 - x0, y1 - y0), 60.0)
    x0, x1, y0, y1 = _fit(x0 - pad, x1 + pad, y0 - pad, y1 + pad, aspect)
    with picture_style(lang, [text["north"], text["metres"], text["km"]]):
        fig = plt.figure(figsize=(width_in, width_in * aspect), dpi=MAP_DPI)
        ax = _map_axes(fig, (0.005, 0.005, 0.99, 0.99), (x0, x1, y0, y1))
        _draw_streets(ax, net, (x0, x1, y0, y1))
        if segments:
            ax.add_collection(LineCollection(segments, colors="white", linewidths=4.2, zorder=3, capstyle="round"))
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=2.4, zorder=4, capstyle="round"))
        for x, y, label in points:
            if label is None:
                ax.plot([x], [y], marker="s", markersize=10, color=SITE, markeredgecolor="white", zorder=6)
            else:
                ax.plot([x], [y], marker="o", markersize=13, color=colour, markeredgecolor="white", zorder=7)
                ax.text(
                    x, y, str(label), ha="center", va="center", fontsize=7, color="white", fontweight="bold", zorder=8
                )
        _scale_bar(ax, x0, x1, y0, y1, text, "lower")
        _north_arrow(ax, text["north"])
        return fig


def route_map_png(
    result: CoverageResult, legs: pd.DataFrame, stops: pd.DataFrame, lang: str = "zh", **options: Any
) -> bytes:
    """PNG of `route_map_figure` (fixed metadata: the same route gives the same bytes).

    Parameters
    ----------
    result : CoverageResult
        The run.
    legs, stops : DataFrame
        The route's legs and stops (see `route_map_figure`).
    lang : {"zh", "en"}, default "zh"
        Language of the labels.
    **options
        Passed to `route_map_figure`.

    Returns
    -------
    bytes
        PNG data.
    """
    return figure_png(route_map_figure(result, legs, stops, lang, **options))


def _status(frame: pd.DataFrame) -> np.ndarray:
    if "status" not in frame:
        return np.full(len(frame), "real", dtype=object)
    return frame["status"].fillna("real").astype(str).to_numpy(object)


def _bands(threshold: float, bands_min: Sequence[float] | None) -> list[float]:
    if bands_min is not None:
        return sorted({float(b) for b in bands_min})
    return sorted({b for b in DEFAULT_BANDS_MIN if b < threshold} | {threshold})


def _extent(x: np.ndarray, y: np.ndarray, net) -> tuple[float, float, float, float]:
    """The places' box, padded; the network's box when there are no places."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        mx, my = net.metric_coords[:, 0], net.metric_coords[:, 1]
        x, y, ok = mx, my, np.ones(len(mx), dtype=bool)
    x0, x1, y0, y1 = x[ok].min(), x[ok].max(), y[ok].min(), y[ok].max()
    pad = max(0.08 * max(x1 - x0, y1 - y0), 150.0)
    return x0 - pad, x1 + pad, y0 - pad, y1 + pad


def _fit(x0: float, x1: float, y0: float, y1: float, aspect: float) -> tuple[float, float, float, float]:
    """Grow the box to height/width = ``aspect`` around its centre."""
    w, h = x1 - x0, y1 - y0
    if h / w < aspect:
        grow = (w * aspect - h) / 2
        return x0, x1, y0 - grow, y1 + grow
    grow = (h / aspect - w) / 2
    return x0 - grow, x1 + grow, y0, y1


def _draw_streets(ax, net, box) -> None:
    x0, x1, y0, y1 = box
    coords, offsets = net.metric_coords, net.coord_offsets
    starts = offsets[:-1]
    xmin = np.minimum.reduceat(coords[:, 0], starts)
    xmax = np.maximum.reduceat(coords[:, 0], starts)
    ymin = np.minimum.reduceat(coords[:, 1], starts)
    ymax = np.maximum.reduceat(coords[:, 1], starts)
    inside = (xmax >= x0) & (xmin <= x1) & (ymax >= y0) & (ymin <= y1)
    highway = np.asarray([str(h).split(";")[0].removesuffix("_link") for h in net.edge_highway], dtype=object)
    for kind, colour, width in (("minor", "#d4d4d4", 0.35), ("local", "#b5b5b5", 0.55), ("main", "#8c8c8c", 1.0)):
        if kind == "main":
            keep = np.isin(highway, list(MAIN_ROADS))
        elif kind == "minor":
            keep = np.isin(highway, list(MINOR_WAYS))
        else:
            keep = ~np.isin(highway, list(MAIN_ROADS | MINOR_WAYS))
        edges = np.flatnonzero(inside & keep)
        if len(edges):
            segments = [coords[offsets[e] : offsets[e + 1]] for e in edges]
            ax.add_collection(polylines(ax, segments, colour, width, zorder=1), autolim=False)


def _draw_bands(ax, result: CoverageResult, bands: list[float], text: dict, strip_pt: float) -> list:
    """Shade the streets every band reaches from any site, as strips ``strip_pt`` wide (largest band lightest).

    The same reach as `isochrone_bands` (`reached_intervals`: Dijkstra from each
    site's snap point, the edge where time runs out cut there, the access leg
    counted when the run counted legs), drawn as wide opaque lines instead of
    buffered polygons: on paper it looks the same and costs a small fraction.
    """
    net, sites = result.network, result.sites.reset_index(drop=True)
    ok = np.flatnonzero(sites["snap_edge"].to_numpy() >= 0) if "snap_edge" in sites else np.arange(len(sites))
    if not len(ok) or not bands:
        return []
    lonlat = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])[ok]
    snap = snap_points(net, lonlat, max_snap_m=np.inf)  # the run already decided which sites are on the network
    legs = result.matrix.include_access_legs
    spent = snap.leg_m if legs else np.zeros(len(ok))
    limits = [b * result.metres_per_minute for b in bands]
    intervals = merged_stretches(reached_intervals(net, snap, limits, spent_m=spent))
    lines = _interval_coordinates(net, intervals)
    site_xy = np.column_stack(net.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    snap_xy = np.column_stack(net.to_metric.transform(snap.point_lonlat[:, 0], snap.point_lonlat[:, 1]))
    handles = []
    for rank in range(len(bands) - 1, -1, -1):  # largest first, smaller ones drawn over it
        colour = BAND_COLOURS[min(rank, len(BAND_COLOURS) - 1)]
        keep = intervals["limit_m"].to_numpy() == limits[rank]
        segments = [lines[i] for i in np.flatnonzero(keep).tolist()]
        if legs:  # from the site to its street, as far as the time allows
            share = np.clip(limits[rank] / np.maximum(snap.leg_m, 1e-9), 0.0, 1.0)
            segments += [np.vstack([a, a + f * (b - a)]) for a, b, f in zip(site_xy, snap_xy, share)]
        ax.add_collection(polylines(ax, segments, colour, strip_pt, zorder=0.5), autolim=False)
        handles.append(Patch(facecolor=colour, label=text["band"].format(b=bands[rank])))
    return handles[::-1]


#: Polylines per compound path: few enough paths that matplotlib builds no object per street, small enough
#: that Agg rasterises each quickly (one path of everything took it ten times longer).
POLYLINES_PER_PATH = 100


def polylines(ax, segments: Sequence[np.ndarray], colour: str, width_pt: float, *, zorder: float) -> PathCollection:
    """Open polylines of one colour and width, in data coordinates, as a few compound paths (round caps and joins).

    Drawn like a `LineCollection` of the same segments (same strokes; where two of one colour overlap,
    one stroke covers both), but a `LineCollection` makes and checks a `Path` per segment: 13,000 of
    them a map, about a fifth of its drawing time.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes whose data coordinates the vertices are in.
    segments : sequence of ndarray
        Each an (n, 2) array of vertices, n ≥ 2 (shorter ones are skipped).
    colour : str
        Stroke colour (opaque).
    width_pt : float
        Stroke width in points.
    zorder : float
        Drawing order.

    Returns
    -------
    matplotlib.collections.PathCollection
        To add with ``ax.add_collection(..., autolim=False)``: the map's extent is set, not fitted.
    """
    parts = [s for s in segments if len(s) >= 2]
    paths = []
    for start in range(0, len(parts), POLYLINES_PER_PATH):
        chunk = parts[start : start + POLYLINES_PER_PATH]
        vertices = np.concatenate(chunk)
        codes = np.full(len(vertices), MplPath.LINETO, dtype=MplPath.code_type)
        codes[np.cumsum([0] + [len(s) for s in chunk[:-1]])] = MplPath.MOVETO
        paths.append(MplPath(vertices, codes))
    collection = PathCollection(
        paths, facecolors="none", edgecolors=colour, linewidths=width_pt, transform=ax.transData, zorder=zorder
    )
    collection.set_capstyle("round")
    collection.set_joinstyle("round")
    return collection


def merged_stretches(intervals: pd.DataFrame) -> pd.DataFrame:
    """Per limit, the stretches of each edge that any site reaches, overlapping ones merged into one.

    Every site's band is one opaque colour, so a street reached from three sites looks the same
    drawn once: in Andorra's valleys 13,440 stretches become about 5,000 pieces to draw.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Rows of `reached_intervals` (``limit_m``, ``edge``, ``start_m``, ``end_m``).

    Returns
    -------
    pandas.DataFrame
        ``limit_m``, ``edge``, ``start_m``, ``end_m``: stretches of one edge and limit never
        overlap or touch; ordered by limit, edge and start.
    """
    columns = ["limit_m", "edge", "start_m", "end_m"]
    if not len(intervals):
        return intervals.reindex(columns=columns)
    limit, edge = intervals["limit_m"].to_numpy(float), intervals["edge"].to_numpy(np.int64)
    start, end = intervals["start_m"].to_numpy(float), intervals["end_m"].to_numpy(float)
    order = np.lexsort((start, edge, limit))
    limit, edge, start, end = limit[order], edge[order], start[order], end[order]
    key = np.concatenate([[0], np.cumsum((np.diff(limit) != 0) | (np.diff(edge) != 0))])
    # Each (limit, edge) gets its own range of one running maximum: offset by more than any edge is long.
    offset = key * (float(np.max(end)) + 1.0)
    reach = np.maximum.accumulate(end + offset)
    first = np.concatenate([[True], (key[1:] != key[:-1]) | (start[1:] + offset[1:] > reach[:-1])])
    at = np.flatnonzero(first)
    return pd.DataFrame(
        {
            "limit_m": limit[at],
            "edge": edge[at],
            "start_m": start[at],
            "end_m": np.maximum.reduceat(end + offset, at) - offset[at],
        }
    )


# Coordinates of the reached street pieces of recent maps, by `_interval_key` (the report redraws the same run).
_PIECES: OrderedDict[str, list[np.ndarray]] = OrderedDict()
_PIECES_KEPT = 8


def _interval_key(net, intervals: pd.DataFrame) -> str:
    """What `interval_lines` depends on: the network's arrays and shapes, and every interval."""
    digest = hashlib.sha256(f"{net.fingerprint}|{net.crs}|{list(intervals.columns)}".encode())
    hashed = pd.util.hash_pandas_object(intervals, index=True).to_numpy()
    for array in (net.metric_coords, net.coord_offsets, net.edge_length, hashed):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _interval_coordinates(net, intervals: pd.DataFrame) -> list[np.ndarray]:
    """Metric coordinates of each interval's piece of street (`interval_lines`), kept for the same network and intervals."""
    if not len(intervals):
        return []
    key = _interval_key(net, intervals)
    if key in _PIECES:
        _PIECES.move_to_end(key)
        return _PIECES[key]
    pieces = interval_coordinates(net, intervals)  # read-only: shared by later figures
    _PIECES[key] = pieces
    while len(_PIECES) > _PIECES_KEPT:
        _PIECES.popitem(last=False)
    return pieces


def _path(polygon: shapely.Polygon) -> MplPath:
    """A matplotlib path of a polygon with its holes."""
    rings = [np.asarray(polygon.exterior.coords)] + [np.asarray(r.coords) for r in polygon.interiors]
    vertices = np.concatenate(rings)
    codes = np.concatenate(
        [[MplPath.MOVETO] + [MplPath.LINETO] * (len(r) - 2) + [MplPath.CLOSEPOLY] for r in rings]
    ).astype(MplPath.code_type)
    return MplPath(vertices, codes)


def _draw_footprints(ax, demand: pd.DataFrame, status: np.ndarray, to_metric) -> None:
    if "footprint" not in demand:
        return
    shapes = demand["footprint"].to_numpy(object)
    rows = [i for i, g in enumerate(shapes) if isinstance(g, shapely.Geometry) and not g.is_empty]
    if not rows:
        return
    patches, colours, styles = [], [], []
    for i in rows:
        shape = shapely.transform(shapes[i], lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
        for poly in shapely.get_parts(shape):
            if isinstance(poly, shapely.Polygon):
                patches.append(PathPatch(_path(poly)))
                colours.append(COVERED if demand["covered"].iloc[i] else BEYOND)
                styles.append("--" if status[i] == "placeholder" else "-")
    ax.add_collection(
        PatchCollection(patches, facecolor="none", edgecolors=colours, linewidths=0.6, linestyles=styles, zorder=2)
    )


def _draw_places(ax, x: np.ndarray, y: np.ndarray, demand: pd.DataFrame, status: np.ndarray) -> None:
    n = len(demand)
    size = 14 if n <= 300 else 7 if n <= 2000 else 3
    covered = demand["covered"].to_numpy(bool)
    reached = demand["walk_min"].notna().to_numpy()
    hollow = status == "placeholder"
    for keep, colour, marker in (
        (covered, COVERED, "o"),
        (~covered & reached, BEYOND, "o"),
        (~reached, UNREACHED, "x"),
    ):
        solid = keep & ~hollow
        ax.scatter(
            x[solid], y[solid], s=size, c=colour, marker=marker, linewidths=0.3 if marker == "o" else 0.8, zorder=3
        )
        if (keep & hollow).any():
            ax.scatter(
                x[keep & hollow], y[keep & hollow], s=size * 2.2, facecolors="none", edgecolors=colour,
                marker="o", linewidths=0.9, linestyle="--", zorder=3,
            )  # fmt: skip


def _draw_sites(ax, x: np.ndarray, y: np.ndarray, status: np.ndarray) -> None:
    existing, proposed, hollow = status != "proposed", status == "proposed", status == "placeholder"
    ax.scatter(
        x[existing & ~hollow],
        y[existing & ~hollow],
        s=46,
        marker="s",
        c=SITE,
        edgecolors="white",
        linewidths=0.8,
        zorder=5,
    )
    ax.scatter(
        x[existing & hollow], y[existing & hollow], s=52, marker="s", facecolors="white", edgecolors=PLACEHOLDER,
        linewidths=1.4, linestyle="--", zorder=5,
    )  # fmt: skip
    ax.scatter(x[proposed], y[proposed], s=150, marker="*", c=PROPOSED, edgecolors="white", linewidths=0.6, zorder=6)


def _site_labels(sites: pd.DataFrame, status: np.ndarray, text: dict, names: Mapping[str, str]) -> list[str]:
    out = []
    ranks = sites["rank"].to_numpy() if "rank" in sites else np.full(len(sites), np.nan)
    for i, (site_id, name) in enumerate(zip(sites["id"].astype(str), sites["name"].astype(str))):
        label = names.get(site_id, name)
        if status[i] == "proposed" and pd.notna(ranks[i]):
            label = f"★{int(ranks[i])} {label}"
        if status[i] == "placeholder":
            label += text["placeholder_tag"]
        out.append(label)
    return out


def _place_label_rows(demand: pd.DataFrame, status: np.ndarray, limit: int) -> list[int]:
    """Demand rows worth a label: readable names, once each; placeholders, then uncovered, then covered, heaviest first."""
    if limit <= 0 or not len(demand):
        return []
    names = demand["demand_name"]
    good = names.map(readable_name).to_numpy(bool)
    order = pd.DataFrame(
        {
            "placeholder": status != "placeholder",
            "covered": demand["covered"].to_numpy(bool),
            "weight": -demand["weight"].to_numpy(float),
            "walk": -demand["walk_min"].fillna(np.inf).to_numpy(float),
            "row": np.arange(len(demand)),
        }
    )[good].sort_values(["placeholder", "covered", "weight", "walk", "row"])
    rows, seen = [], set()
    for row in order["row"]:
        name = names.iloc[row]
        if name not in seen:
            seen.add(name)
            rows.append(int(row))
        if len(rows) >= limit:
            break
    return rows


def _place_labels(ax, renderer, candidates, halo, obstacles) -> None:
    """Add labels in priority order where they overlap no label or obstacle already placed (four positions tried)."""
    box = ax.get_window_extent(renderer)
    taken = list(obstacles)
    offsets = ((4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"), (-4, -3, "right", "top"))
    to_pixels = ax.figure.dpi / 72.0
    for x, y, label, size, weight, colour in candidates:
        dx, dy, ha, va = offsets[0]
        artist = ax.annotate(
            label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=size,
            fontweight=weight, color=colour, path_effects=halo, zorder=7, annotation_clip=True,
        )  # fmt: skip
        # Measured once: the other three positions are the same box moved (laying the text out is the cost).
        first = artist.get_window_extent(renderer)
        anchor_x, anchor_y = first.x0 - dx * to_pixels, first.y0 - dy * to_pixels
        for dx, dy, ha, va in offsets:
            left = anchor_x + dx * to_pixels - (first.width if ha == "right" else 0.0)
            bottom = anchor_y + dy * to_pixels - (first.height if va == "top" else 0.0)
            extent = Bbox.from_bounds(left, bottom, first.width, first.height).expanded(1.04, 1.1)
            fits = box.contains(extent.x0, extent.y0) and box.contains(extent.x1, extent.y1)
            if fits and not any(extent.overlaps(other) for other in taken):
                taken.append(extent)
                artist.xyann = (dx, dy)
                artist.set_horizontalalignment(ha)
                artist.set_verticalalignment(va)
                break
        else:
            artist.remove()


def _scale_bar(ax, x0: float, x1: float, y0: float, y1: float, text: dict, corner: str = "lower") -> list:
    """A two-tone bar of a round length (about a fifth of the width) in the lower or upper left corner."""
    length = nice_length((x1 - x0) / 5)
    left = x0 + 0.04 * (x1 - x0)
    base = y0 + (0.045 if corner == "lower" else 0.925) * (y1 - y0)
    height = 0.012 * (y1 - y0)
    background = ax.add_patch(
        Rectangle(
            (left - 0.015 * (x1 - x0), base - 0.03 * (y1 - y0)),
            length + 0.05 * (x1 - x0),
            0.085 * (y1 - y0),
            facecolor="white",
            edgecolor="none",
            alpha=0.85,
            zorder=8,
        )
    )
    for k in range(4):
        ax.add_patch(
            Rectangle(
                (left + k * length / 4, base),
                length / 4,
                height,
                facecolor="#222222" if k % 2 == 0 else "white",
                edgecolor="#222222",
                linewidth=0.6,
                zorder=9,
            )
        )

    km = length >= 1000
    for at in (0, length / 2, length):
        value = f"{at / 1000:g}" if km else f"{at:g}"
        label = f"{value} {text['km'] if km else text['metres']}" if at == length else value
        ax.text(left + at, base + height * 1.6, label, ha="center", va="bottom", fontsize=6.5, zorder=9)
    return [background]


def _emptier_corner(x: np.ndarray, y: np.ndarray, box) -> str:
    """``"lower"`` or ``"upper"``: the left corner with fewer sites and places in it (for the scale bar)."""
    x0, x1, y0, y1 = box
    left = x < x0 + 0.3 * (x1 - x0)
    lower = int((left & (y < y0 + 0.12 * (y1 - y0))).sum())
    upper = int((left & (y > y0 + 0.88 * (y1 - y0))).sum())
    return "upper" if upper < lower else "lower"


def _wrap(text: str, width: int) -> str:
    """Break a " · "-separated line into lines of at most ``width`` characters (at the separators)."""
    lines, line = [], ""
    for part in text.split(" · "):
        candidate = f"{line} · {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line)
            line = part
        else:
            line = candidate
    return "\n".join([*lines, line])


def _north_arrow(ax, label: str) -> list:
    arrow = ax.annotate(
        "",
        xy=(0.955, 0.95),
        xytext=(0.955, 0.87),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7", "color": "#222222", "linewidth": 1.4},
        zorder=9,
    )
    north = ax.text(
        0.955, 0.955, label, transform=ax.transAxes, ha="center", va="bottom", fontsize=9, fontweight="bold", zorder=9
    )
    return [arrow, north]


def _legend_handles(text: dict, threshold: float, site_status, place_status, demand: pd.DataFrame) -> list:
    def marker(label, **kw):
        return Line2D([], [], linestyle="none", label=label, **kw)

    handles = [Line2D([], [], color="#b5b5b5", linewidth=1.0, label=text["streets"])]
    if (site_status != "proposed").any():
        handles.append(marker(text["sites"], marker="s", markersize=6, markerfacecolor=SITE, markeredgecolor="white"))
    if (site_status == "proposed").any():
        handles.append(
            marker(text["proposed"], marker="*", markersize=10, markerfacecolor=PROPOSED, markeredgecolor="white")
        )
    handles.append(
        marker(
            text["covered"].format(t=threshold),
            marker="o",
            markersize=4,
            markerfacecolor=COVERED,
            markeredgecolor=COVERED,
        )
    )
    if (~demand["covered"] & demand["walk_min"].notna()).any():
        handles.append(
            marker(
                text["beyond"].format(t=threshold),
                marker="o",
                markersize=4,
                markerfacecolor=BEYOND,
                markeredgecolor=BEYOND,
            )
        )
    if demand["walk_min"].isna().any():
        handles.append(marker(text["unreached"], marker="x", markersize=4, markeredgecolor=UNREACHED))
    if (site_status == "placeholder").any() or (place_status == "placeholder").any():
        handles.append(
            marker(text["placeholder"], marker="s", markersize=6, markerfacecolor="white", markeredgecolor=PLACEHOLDER, markeredgewidth=1.3)
        )  # fmt: skip
    return handles


def nice_length(span_m: float) -> float:
    """A round length (1, 2, 2.5 or 5 × 10^k metres) no longer than ``span_m``.

    Parameters
    ----------
    span_m : float
        The longest length allowed, metres (e.g. a fifth of the map's width, for the scale bar).

    Returns
    -------
    float
        At least 1 m.
    """
    exponent = math.floor(math.log10(max(span_m, 1.0)))
    return max(s * 10**exponent for s in (1, 2, 2.5, 5) if s * 10**exponent <= max(span_m, 1.0))


def _map_axes(fig, rect: tuple[float, float, float, float], extent: tuple[float, float, float, float]):
    """A map's axes: metric extent at equal scale, no ticks, a pale ground and a thin frame."""
    x0, x1, y0, y1 = extent
    ax = fig.add_axes(rect)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fbfaf7")
    for spine in ax.spines.values():
        spine.set_edgecolor("#888888")
        spine.set_linewidth(0.6)
    return ax


def _title_key(result) -> str:
    """Which title fits the run: walking, walking with costs, or driving."""
    if result.travel_mode == "drive":
        return "title_drive"
    return "title" if (result.cost_model or {}).get("plain", True) else "title_costs"


__all__ = [
    "MAP_DPI",
    "MAX_PLACE_LABELS",
    "ROUTE_COLOURS",
    "readable_name",
    "route_map_figure",
    "route_map_png",
    "static_map_figure",
    "static_map_png",
]
