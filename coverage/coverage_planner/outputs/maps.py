"""Interactive coverage maps (folium): streets, walk-time bands, sites, demand places coloured by walk minutes, routes.

`coverage_map` draws a `CoverageResult` for planners so that it reads even
offline, with no basemap tiles: the walk network's streets as a light
background, walk-time bands of each site (one colour per site, named in
its tooltip) and of all sites together (`coverage_planner.outputs.isochrones`,
display only), the sites (existing and proposed), every demand place
coloured by its walk minutes, compound outlines and districts when known.
Clicking a place draws its walking route to its nearest site, and a layer
shows the routes of every place left outside, so a planner sees why a
compound 400 m away in a straight line is 18 minutes away. The page has a
title, a metric scale bar, a layer control and a legend that lists only the
layers shown. Placeholder data (``status == "placeholder"``) is drawn
dashed and hollow and counted in the legend. `save_map` writes one HTML
file; with ``offline=True`` it needs nothing from the web
(`coverage_planner.outputs._offline_assets`).

Basemaps: OpenStreetMap, CARTO, Gaode (GCJ-02: every overlay is shifted for
display) and Tianditu (天地图, CGCS2000, taken as WGS-84; its key comes from
the ``TIANDITU_KEY`` environment variable and is written into the page).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template
from jinja2.utils import htmlsafe_json_dumps

from coverage_planner._errors import DataError
from coverage_planner._io import atomic_path
from coverage_planner.escape import html_in_js_template, html_text
from coverage_planner.outputs import _gc
from coverage_planner.outputs._map_points import (
    CANVAS_MIN_PLACES,
    CANVAS_NOTE,
    CanvasPoints,
    GroupedStyleGeoJson,
    feature_collection,
)
from coverage_planner.outputs._offline_assets import inline_assets
from coverage_planner.outputs.isochrones import (
    default_bands,
    isochrone_bands,
    site_colours,
    union_bands,
    walk_routes,
)
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.places import china
from coverage_planner.results import CoverageResult

#: Environment variable holding the Tianditu key (a browser key of the Tianditu developer console).
TIANDITU_KEY_VARIABLE = "TIANDITU_KEY"
_TIANDITU = "https://t{s}.tianditu.gov.cn/DataServer?T={layer}_w&x={x}&y={y}&l={z}&tk={key}"
#: Tile URL, attribution, subdomains and layer name of each basemap; Gaode's tiles are in GCJ-02.
BASEMAPS: dict[str, tuple[str, str, str, str] | None] = {
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "&copy; OpenStreetMap contributors",
        "abc",
        "OpenStreetMap",
    ),
    "cartodb": (
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}.png",
        "&copy; OpenStreetMap contributors &copy; CARTO",
        "abcd",
        "CARTO",
    ),
    "gaode": (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "&copy; 高德地图 AutoNavi",
        "1234",
        "高德地图 Gaode (GCJ-02)",
    ),
    "tianditu": (
        _TIANDITU,
        "&copy; 天地图 Tianditu (国家地理信息公共服务平台)",
        "01234567",
        "天地图 Tianditu",
    ),
    "none": None,
}
#: Which routes `coverage_map` draws: every routed place, only those left outside, or none.
ROUTES = ("all", "outside", "none")
_PROFILE_NAMES = {
    "zh": {"adult": "成人", "elderly": "老年人", "frail": "体弱老人", "wheelchair": "轮椅使用者"},
    "en": {
        "adult": "adult",
        "elderly": "older pedestrians",
        "frail": "frail older pedestrians",
        "wheelchair": "wheelchair users",
    },
}
LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "步行 {t:g} 分钟覆盖",
        "speed": "步速 {v:g} 公里/小时",
        "speed_profile": "{profile}步速 {v:g} 公里/小时",
        "costs_timed": "，台阶与主干道过街计时",
        "title_drive": "驾车 {t:g} 分钟覆盖",
        "drive": "按限速或道路等级车速，单行道按方向",
        "demand": "需求地点",
        "sites": "现有站点",
        "proposed": "拟建站点",
        "band": "{b:g} 分钟步行范围 (各站点)",
        "union": "{b:g} 分钟步行范围 (全部站点)",
        "footprints": "小区范围",
        "districts": "行政区",
        "streets": "街道 (步行路网)",
        "routes": "未覆盖地点的步行路线",
        "route": "所点地点的步行路线",
        "within": "≤ {b:g} 分钟 (覆盖)",
        "between": "{a:g}–{b:g} 分钟 (覆盖)",
        "outside": "> {t:g} 分钟 (未覆盖)",
        "unreached": "{s:g} 分钟内无站点 / 不在路网上",
        "placeholder": "占位 (位置未核实)",
        "real": "真实",
        "name": "名称",
        "type": "类型",
        "district": "区",
        "community": "社区",
        "nearest": "最近站点",
        "walk_min": "步行分钟",
        "walk_m": "步行距离 (米)",
        "crow_m": "直线距离 (米)",
        "snap_m": "距道路 (米)",
        "status": "状态",
        "covers": "覆盖需求点",
        "places": "需求地点 (步行时间)",
        "bands": "步行范围",
        "site_colours": "各站点颜色",
        "minutes": "分钟",
        "click": "点击地点可显示到最近站点的步行路线。",
        "note": "范围图仅示意：是否覆盖按路网步行距离计算。",
        "assigned": "服务分配 (地点 → 所分配站点)",
        "site": "站点",
        "load": "服务量",
        "travel_min": "分钟",
        "circuits": "巡回调解路线",
        "circuit": "巡回调解路线 {route} · {depot} · 第 {day} 天{session}",
        "session": {1: "上午", 2: "下午"},
        "session_n": "第 {n} 场",
        "stop": "第 {n} 站",
        "arrival": "到达",
        "leave": "离开",
        "stay": "停留 {m:g} 分钟",
        "route_total": "全程 {m:.0f} 分钟",
        "clinics": "法律门诊场所",
        "clinic": "法律门诊",
        "places_reached": "可达地点",
        "load_reached": "可达服务量",
    },
    "en": {
        "title": "{t:g}-minute walking coverage",
        "speed": "walking at {v:g} km/h",
        "speed_profile": "{profile} walking at {v:g} km/h",
        "costs_timed": ", steps and main-road crossings timed",
        "title_drive": "{t:g}-minute driving coverage",
        "drive": "speeds from maxspeed or road class, one-way streets respected",
        "demand": "demand places",
        "sites": "existing sites",
        "proposed": "proposed sites",
        "band": "{b:g}-minute walk (each site)",
        "union": "{b:g}-minute walk (all sites)",
        "footprints": "compounds",
        "districts": "districts",
        "streets": "streets (walk network)",
        "routes": "routes of places left out",
        "route": "walking route of the place clicked",
        "within": "≤ {b:g} min (covered)",
        "between": "{a:g}–{b:g} min (covered)",
        "outside": "> {t:g} min (not covered)",
        "unreached": "no site within {s:g} min / off the network",
        "placeholder": "placeholder (location not verified)",
        "real": "real",
        "name": "name",
        "type": "type",
        "district": "district",
        "community": "community",
        "nearest": "nearest site",
        "walk_min": "walk minutes",
        "walk_m": "walk distance (m)",
        "crow_m": "straight line (m)",
        "snap_m": "to the street (m)",
        "status": "status",
        "covers": "places covered",
        "places": "demand places (walk time)",
        "bands": "walk-time bands",
        "site_colours": "colour of each site",
        "minutes": "min",
        "click": "Click a place to see its walking route to the nearest site.",
        "note": "Bands are for display: coverage is computed on the street network.",
        "assigned": "assigned site (place → site)",
        "site": "site",
        "load": "load",
        "travel_min": "min",
        "circuits": "circuit mediation routes",
        "circuit": "circuit route {route} · {depot} · day {day} {session}",
        "session": {1: "morning", 2: "afternoon"},
        "session_n": "session {n}",
        "stop": "stop {n}",
        "arrival": "arrives",
        "leave": "leaves",
        "stay": "stays {m:g} min",
        "route_total": "{m:.0f} min in all",
        "clinics": "legal clinic venues",
        "clinic": "legal clinic",
        "places_reached": "places reached",
        "load_reached": "load reached",
    },
}
#: What a drive run says instead of the walking labels (merged over `LABELS`).
DRIVE_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "band": "{b:g} 分钟驾车范围 (各站点)",
        "union": "{b:g} 分钟驾车范围 (全部站点)",
        "streets": "道路 (车行路网)",
        "routes": "未覆盖地点的驾车路线",
        "route": "所点地点的驾车路线",
        "walk_min": "驾车分钟",
        "walk_m": "驾车距离 (米)",
        "places": "需求地点 (驾车时间)",
        "bands": "驾车范围",
        "click": "点击地点可显示到最近站点的驾车路线。",
        "note": "范围图仅示意：是否覆盖按路网驾车时间计算。",
    },
    "en": {
        "band": "{b:g}-minute drive (each site)",
        "union": "{b:g}-minute drive (all sites)",
        "streets": "roads (drive network)",
        "routes": "driving routes of places left out",
        "route": "driving route of the place clicked",
        "walk_min": "drive minutes",
        "walk_m": "drive distance (m)",
        "places": "demand places (drive time)",
        "bands": "drive-time bands",
        "click": "Click a place to see its driving route to the nearest site.",
        "note": "Bands are for display: coverage is computed on the road network.",
    },
}
COVERED_COLOURS = ["#006837", "#31a354", "#78c679", "#c2e699"]  # darkest = nearest
OUTSIDE, UNREACHED, SITE, PROPOSED = "#d7301f", "#969696", "#2166ac", "#7b3294"
BAND_COLOURS = ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef"]
STREET, ROUTE = "#b4b4b4", "#253494"
#: One colour per circuit route, in turn (dark enough to read over the streets and bands).
CIRCUIT_COLOURS = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#e6ab02", "#1f78b4", "#b2182b"]
CLINIC = "#c51b7d"
_FONTS = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif'
_CSS = f"""<style>
div.leaflet-container {{ background: #f3f1ec; font-family: {_FONTS}; }}
.cp-legend {{ position: absolute; bottom: 40px; left: 10px; font-family: {_FONTS}; z-index: 1000;
  background: rgba(255,255,255,.94); padding: 8px 10px; border: 1px solid #999; border-radius: 4px; font-size: 12px;
  line-height: 1.55; max-width: 300px; max-height: 70vh; overflow-y: auto; }}
.cp-legend .sw {{ display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px;
  border-radius: 50%; }}
.cp-legend .ln {{ display: inline-block; width: 16px; height: 0; margin-right: 4px; vertical-align: 3px; }}
.cp-legend summary {{ cursor: pointer; }} .cp-legend .note {{ color: #555; margin-top: 4px; }}
.cp-legend .warn {{ color: #b35806; font-weight: bold; }}
.cp-title {{ position: absolute; top: 10px; left: 50%; transform: translateX(-50%); z-index: 650;
  background: rgba(255,255,255,.92); padding: 4px 12px; border: 1px solid #999; border-radius: 4px;
  font: bold 15px {_FONTS}; pointer-events: none; }}
.cp-icon {{ font-size: 22px; line-height: 22px; text-align: center; text-shadow: 0 0 2px #fff, 0 0 2px #fff; }}
.cp-placeholder-site {{ opacity: .6; outline: 2px dashed #333; }}
.cp-street {{ pointer-events: none; }}
.leaflet-tooltip.cp-label {{ background: rgba(255,255,255,.8); border: 0; box-shadow: none; padding: 0 3px;
  font-size: 11px; color: #222; }}
.leaflet-tooltip.cp-label:before {{ display: none; }}
.leaflet-tooltip.cp-label-site {{ font-weight: bold; color: {SITE}; font-size: 12px; }}
.cp-far .leaflet-tooltip.cp-label-place {{ display: none; }}
.leaflet-popup-content th {{ white-space: nowrap; }}
</style>"""
_LABEL_ZOOM = 16  # compounds' labels show from this zoom on (sites' always)
_OPEN_CONTROL_LAYERS = 6  # service layers beyond which the layer control opens on hover only
# Only in maps with service planning: the stops' numbered discs, and a layer list that scrolls when routes are many.
_SERVICE_CSS = """<style>
.cp-stop { width: 20px; height: 20px; border-radius: 50%; color: #fff; font: bold 11px/20px Arial, sans-serif;
  text-align: center; border: 2px solid #fff; box-shadow: 0 0 2px rgba(0,0,0,.6); box-sizing: border-box; }
.cp-clinic { font-size: 20px; line-height: 20px; text-align: center; text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
.leaflet-control-layers-list { max-height: 60vh; overflow-y: auto; }
</style>"""


def map_heading(result: CoverageResult, lang: str = "zh") -> str:
    """The map's title: minutes, travel mode and the profile (its speed, and whether steps and crossings are timed).

    Parameters
    ----------
    result : CoverageResult
        The run (its threshold, profile and `CoverageResult.cost_model`).
    lang : str, default "zh"
        ``zh`` or ``en``.

    Returns
    -------
    str
        Plain text, e.g. ``步行 15 分钟 · 老年人步速 3.6 公里/小时，台阶与主干道过街计时``.
    """
    text = LABELS[lang]
    threshold = float(result.threshold_min)
    model = result.cost_model or {}
    if result.travel_mode == "drive":
        return f"{text['title_drive'].format(t=threshold)} · {text['drive']}"
    names = _PROFILE_NAMES[lang]
    plain_adult = model.get("plain", True) and result.profile_name == "adult"
    if not model or result.profile_name not in names or plain_adult:
        return f"{text['title'].format(t=threshold)} · {text['speed'].format(v=result.speed_kmh)}"
    rule = text["speed_profile"].format(profile=names[result.profile_name], v=result.speed_kmh)
    return f"{text['title'].format(t=threshold)} · {rule}{'' if model.get('plain', True) else text['costs_timed']}"


def _labels(result: CoverageResult, lang: str) -> dict:
    """The labels in ``lang``, with the driving words for a drive run."""
    if result.travel_mode == "drive":
        return {**LABELS[lang], **DRIVE_LABELS[lang]}
    return LABELS[lang]


@_gc.paused()  # hundreds of thousands of small dicts and lists: no cycles to collect meanwhile
def coverage_map(
    result: CoverageResult,
    *,
    bands_min: Sequence[float] | None = None,
    basemap: str = "osm",
    lang: str = "zh",
    proposed: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    buffer_m: float = 25.0,
    simplify_m: float = 3.0,
    labels: bool = False,
    streets: bool = True,
    routes: str = "all",
    max_routes: int = 3000,
    title: str | None = None,
    service: ServiceTables | None = None,
    cache_dir: str | Path | None = None,
) -> folium.Map:
    """Build the interactive map of a coverage run.

    Parameters
    ----------
    result : CoverageResult
        The coverage run.
    bands_min : sequence of float, optional
        Walk-time bands to draw; default 5, 10 and 15 minutes up to the
        run's threshold, plus the threshold itself.
    basemap : {"osm", "cartodb", "gaode", "tianditu", "none"}, default "osm"
        Background tiles (``"none"``: a plain background). Gaode's tiles are
        in GCJ-02, so with it every overlay is shifted to GCJ-02 for display
        (the data stay WGS-84). Tianditu needs a key in the ``TIANDITU_KEY``
        environment variable; the key is written into the page.
    lang : {"zh", "en"}, default "zh"
        Labels.
    proposed : geopandas.GeoDataFrame, optional
        Proposed sites (e.g. ``Proposal.sites``), drawn with their own
        symbol. Sites of the result with ``status`` or ``kind`` equal to
        ``"proposed"``, or whose id is in ``proposed``, are drawn that way too.
        Bands are drawn for the run's own sites only.
    districts : geopandas.GeoDataFrame, optional
        District polygons to outline (a ``name`` column labels them).
    buffer_m, simplify_m : float
        Half-width of the band strips and outline simplification, metres (see
        `coverage_planner.outputs.isochrones.isochrone_bands`).
    labels : bool, default False
        Permanent name labels on the sites, and on the places from zoom 16 on.
    streets : bool, default True
        Draw the walk network as a light background layer (simplified).
    routes : {"all", "outside", "none"}, default "all"
        Which places' walking routes the page carries (drawn when a place is
        clicked): all that reach a site, only those left outside, or none.
        The routes of places left outside also form a layer (hidden at first).
    max_routes : int, default 3000
        At most this many routes, places left outside first, then the
        covered ones farthest first (keeps the page small).
    title : str, optional
        Title shown on the map and as the page title; default the rule
        (minutes and walking speed). The page title also names the scenario.
    service : ServiceTables, optional
        Service planning to draw: each place linked to its assigned site
        (``links``, coloured like the site's bands), one layer per circuit
        route (``circuit_legs`` along the network, numbered stops with their
        times from ``circuit_routes``) and the clinic venues (``clinics``,
        when they carry points or ``lon``/``lat``). None or empty: the map
        is exactly the one without it.
    cache_dir : str or Path, optional
        Keep each site's bands there too, so a later map of an unchanged site
        reuses them (see `coverage_planner.outputs.isochrones.isochrone_bands`;
        they are kept in memory for this process either way). Default: the
        result's cache folder (``result.cache_dir``).

    Returns
    -------
    folium.Map
        Layers: streets, one per band for the sites' own bands (the threshold
        band shown, a colour per site), one per band for all sites together
        (hidden), compounds, districts, demand places, routes of the places
        left outside (hidden), existing and proposed sites; a legend, a
        metric scale and a layer control; the view fits the data.

    Raises
    ------
    DataError
        Unknown ``basemap``, ``lang`` or ``routes``, or Tianditu without a key.
    """
    if basemap not in BASEMAPS:
        raise DataError(f"basemap must be one of {', '.join(BASEMAPS)}, not {basemap!r}")
    if lang not in LABELS:
        raise DataError(f"lang must be one of {', '.join(LABELS)}, not {lang!r}")
    if routes not in ROUTES:
        raise DataError(f"routes must be one of {', '.join(ROUTES)}, not {routes!r}")
    text = _labels(result, lang)
    threshold = float(result.threshold_min)
    bands = default_bands(threshold) if bands_min is None else sorted({float(b) for b in bands_min})
    shift = basemap == "gaode"
    heading = title if title is not None else map_heading(result, lang)
    scenario = (result.manifest.get("scenario") or {}).get("name") if result.manifest else None
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False)  # SVG: one element per drawn shape
    m.get_root().title = html_text(f"{scenario} · {heading}" if scenario and title is None else heading)
    for layer in _basemap_layers(basemap):  # first: a missing Tianditu key fails before any work
        layer.add_to(m)
    m.get_root().header.add_child(Element(_CSS), name="cp_css")
    legend = _Legend(text)

    if streets:
        layer = _streets_layer(result, shift, text)
        layer.add_to(m)
        legend.add(f'<span class="ln" style="border-top:2px solid {STREET}"></span>{text["streets"]}', [layer])
    per_site = isochrone_bands(result, bands, buffer_m=buffer_m, simplify_m=simplify_m, cache_dir=cache_dir)
    per_site = per_site[~per_site.geometry.is_empty]
    colours = site_colours(per_site)
    shown = threshold if threshold in bands else bands[-1]
    band_layers, union_layers = {}, {}
    for band in reversed(bands):  # largest first, so smaller bands draw on top
        rows = per_site[per_site["band_min"] == band]
        frame = gpd.GeoDataFrame(
            {
                "site": _escaped(rows["site_name"]).to_numpy(),
                "minutes": f"{band:g} {text['minutes']}",
                "_c": rows["site_id"].map(colours).to_numpy(),
            },
            geometry=rows.geometry.to_numpy(),
            crs=4326,
        )
        layer = folium.FeatureGroup(name=html_text(text["band"].format(b=band)), show=band == shown)
        _geojson(frame, shift, _band_style, tooltip=["site", "minutes"]).add_to(layer)
        layer.add_to(m)
        band_layers[band] = layer
    union = (
        union_bands(per_site, cache_dir=result.cache_dir if cache_dir is None else cache_dir)
        if len(per_site)
        else per_site
    )
    for i, band in reversed(list(enumerate(bands))):
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        layer = folium.FeatureGroup(name=html_text(text["union"].format(b=band)), show=False)
        style = {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": 0.18, "className": "cp-union"}
        _geojson(union[union["band_min"] == band][["geometry"]], shift, lambda f, s=style: s).add_to(layer)
        layer.add_to(m)
        union_layers[band] = layer

    classes = demand_classes(result, bands)
    if "footprint" in result.demand and result.demand["footprint"].notna().any():
        layer = _footprint_layer(result, classes, shift, text, labels)
        layer.add_to(m)
        legend.add(
            f'<span class="sw" style="border:1px solid #555;border-radius:2px"></span>{text["footprints"]}', [layer]
        )
    if districts is not None and len(districts):
        layer = _district_layer(districts, shift, text)
        layer.add_to(m)
        legend.add(f'<span class="ln" style="border-top:2px dashed #333"></span>{text["districts"]}', [layer])
    route_frame = _routes_for_map(result, routes, max_routes)
    demand_layer, demand_geojson = _demand_layer(result, classes, shift, text, labels, route_frame)
    demand_layer.add_to(m)
    outside_layer = None
    if len(route_frame):
        outside_layer = folium.FeatureGroup(name=html_text(text["routes"]), show=False)
        outside_layer.add_to(m)
    planned = None
    if service is not None and not service.is_empty():
        planned = _service_layers(result, service, shift, text, colours)
        for layer in planned.layers:
            layer.add_to(m)
        m.get_root().header.add_child(Element(_SERVICE_CSS), name="cp_service_css")
    site_layers = _site_layers(result, proposed, shift, text, labels)
    for layer in site_layers.values():
        layer.add_to(m)
    if len(route_frame):
        _Routes(demand_geojson, outside_layer, route_frame, result, shift).add_to(m)
    if labels:
        _LabelZoom().add_to(m)
    # Many route layers would hide the map behind the list: it then opens on hover.
    folium.LayerControl(collapsed=planned is not None and len(planned.layers) > _OPEN_CONTROL_LAYERS).add_to(m)
    _MetricScale().add_to(m)
    points = pd.concat([result.demand.geometry, result.sites.geometry], ignore_index=True)
    west, south, east, north = points.total_bounds if len(points) else result.network.bounds
    (west, east), (south, north) = _shift_xy(np.array([west, east]), np.array([south, north]), shift)
    m.fit_bounds(np.round([[south, west], [north, east]], 5).tolist())
    _fill_legend(legend, result, classes, bands, text, demand_layer, band_layers, union_layers, per_site, colours)
    if isinstance(demand_geojson, CanvasPoints):  # say how the places are drawn, under their classes
        legend.add(f'<span class="note">{CANVAS_NOTE[lang].format(n=demand_geojson.count)}</span>', [demand_layer])
    legend.add_sites(site_layers, text)
    if outside_layer is not None:
        legend.add(f'<span class="ln" style="border-top:3px solid {ROUTE}"></span>{text["routes"]}', [outside_layer])
    if planned is not None:
        for row, layers in planned.rows:
            legend.add(row, layers)
    legend.add_placeholders(result, text)
    legend.head = f"<b>{html_text(heading)}</b>"
    legend.footer = (f'<div class="note">{text["click"]}</div>' if len(route_frame) else "") + (
        f'<div class="note">{text["note"]}</div>'
    )
    legend.add_to(m)
    # The title sits above the map's panes: popups pan clear of it instead of opening under it.
    title = f'<div class="cp-title">{html_text(heading)}</div><script>{_POPUPS_CLEAR_OF_TITLE}</script>'
    m.get_root().html.add_child(Element(title), name="cp_title")
    return m


#: Leaflet's default top-left pan padding for every popup (options are looked up through the prototype).
_POPUPS_CLEAR_OF_TITLE = "L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(5, 64);"


def tianditu_key() -> str:
    """The Tianditu key from the ``TIANDITU_KEY`` environment variable.

    Returns
    -------
    str

    Raises
    ------
    DataError
        When the variable is unset, empty, or not a key (letters and digits).
    """
    key = os.environ.get(TIANDITU_KEY_VARIABLE, "").strip()
    if not key:
        raise DataError(
            f"basemap 'tianditu' needs a Tianditu key: set the environment variable {TIANDITU_KEY_VARIABLE} "
            "to a browser key from the Tianditu developer console (or choose another basemap)"
        )
    if not re.fullmatch(r"[0-9A-Za-z]{8,64}", key):
        raise DataError(f"{TIANDITU_KEY_VARIABLE} is not a Tianditu key (letters and digits only)")
    return key


def save_map(m: folium.Map, path: str | Path, *, offline: bool = True) -> Path:
    """Write the map as one HTML file, atomically.

    With ``offline`` (the default) Leaflet's and folium's JavaScript and CSS
    are inlined from the installed ``folium-offline`` package, so the page
    opens with no internet (basemap tiles then stay blank and the data show
    on the streets drawn from the walk network). Without it the page links
    them from their CDNs.

    Parameters
    ----------
    m : folium.Map
        A map from `coverage_map`.
    path : str or Path
        The HTML file to write.
    offline : bool, default True
        Inline the web assets.

    Returns
    -------
    Path
    """
    root = m.get_root()
    with _gc.paused():
        elements = _number_elements(root)
        # Rendering adds children (the page's scripts, folium's add-to calls) and swaps classes; both
        # are undone after, so saving the same map again writes the same bytes.
        kept = [(element, type(element), element._children.copy()) for element in elements]
        try:
            for element in elements:
                _render_quickly(element)
            page = root.render()
        finally:
            for element, cls, children in kept:
                element.__class__ = cls
                element._children = children
        if offline:
            page = inline_assets(page)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def _number_elements(root) -> list[Element]:
    """Give every folium element a sequential id instead of a random one, so the same map renders to the same bytes.

    Elements hang off their parents' children and off attributes (a popup's
    ``html``, a figure's ``header``, the legend's layers), walked in a fixed order.
    """
    stack, seen, elements = [root], set(), []
    while stack:
        element = stack.pop(0)
        if id(element) in seen:
            continue
        element._id = f"{len(seen):032x}"
        seen.add(id(element))
        elements.append(element)
        stack.extend(getattr(element, "_children", {}).values())
        stack.extend(v for k, v in sorted(vars(element).items()) if k != "_parent" and isinstance(v, Element))
    # Templates name children by the key they were added under: re-key with the new names.
    for element in elements:
        children = getattr(element, "_children", None)
        if children:
            element._children = type(children)((child.get_name(), child) for child in children.values())
    return elements


# folium classes with `_QuickRender` spliced in before MacroElement, made once per class.
_QUICK_CLASSES: dict[type, type] = {}


def _render_quickly(element: Element) -> None:
    """Render this map's instance of a folium macro element through `_QuickRender` (folium's classes stay as they are).

    The instance gets a subclass of its own class whose MRO puts
    `_QuickRender` just before ``MacroElement``: the class's own ``render``
    still runs first and reaches `_QuickRender` where it called branca's.
    """
    cls = type(element)
    if not isinstance(element, MacroElement) or isinstance(element, _QuickRender):
        return
    if cls not in _QUICK_CLASSES:
        _QUICK_CLASSES[cls] = type(cls.__name__, (cls, _QuickRender), {"__module__": cls.__module__})
    element.__class__ = _QUICK_CLASSES[cls]


def demand_classes(result: CoverageResult, bands: Sequence[float]) -> pd.DataFrame:
    """Legend class of every demand place: ``key`` (``within:i`` for the i-th band, ``outside``, ``unreached``) and ``colour``.

    Covered places are graded green by the bands up to the threshold (the
    threshold is always a limit), places beyond it red, and places with no
    site within the search limit, or off the network, grey.

    Parameters
    ----------
    result : CoverageResult
        The run.
    bands : sequence of float
        Band minutes.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``result.demand``; ``attrs["limits"]`` holds the grades' upper limits.
    """
    threshold = float(result.threshold_min)
    limits = sorted({b for b in bands if b < threshold} | {threshold})
    minutes = result.demand["walk_min"].to_numpy(float)
    covered = result.demand["covered"].to_numpy(bool)
    grade = np.searchsorted(np.array(limits), np.nan_to_num(minutes, nan=np.inf), side="left")
    grade = np.minimum(grade, len(limits) - 1)  # rounding can leave a covered place a hair above its limit
    palette = (COVERED_COLOURS + COVERED_COLOURS[-1:] * len(limits))[: len(limits)]  # darkest for the nearest
    key = np.where(
        covered, np.char.add("within:", grade.astype(str)), np.where(np.isnan(minutes), "unreached", "outside")
    )
    colour = np.where(covered, np.array(palette)[grade], np.where(np.isnan(minutes), UNREACHED, OUTSIDE))
    frame = pd.DataFrame({"key": key, "colour": colour}, index=result.demand.index)
    frame.attrs["limits"] = limits
    return frame


# ---------------------------------------------------------------- layers


def _basemap_layers(basemap: str) -> list[folium.TileLayer]:
    spec = BASEMAPS[basemap]
    if spec is None:
        return []
    url, attribution, subdomains, name = spec
    if basemap != "tianditu":
        return [folium.TileLayer(url, attr=attribution, name=name, subdomains=subdomains, max_zoom=19)]
    key = tianditu_key()
    # Tianditu serves streets (vec) and their Chinese labels (cva) as two tile sets.
    return [
        folium.TileLayer(
            url.format(s="{s}", layer=kind, x="{x}", y="{y}", z="{z}", key=key),
            attr=attribution,
            name=label,
            subdomains=subdomains,
            max_zoom=18,
            overlay=kind == "cva",
            control=kind == "vec",
        )
        for kind, label in (("vec", name), ("cva", "天地图注记"))
    ]


def _streets_layer(result: CoverageResult, shift: bool, text: dict, simplify_m: float = 2.0) -> folium.FeatureGroup:
    """The walk network as one light, non-interactive multi-line: edges merged into lines, simplified."""
    geometry = _street_geometry(result.network, simplify_m, shift)
    data = {
        "type": "FeatureCollection",
        "features": [{"id": "0", "type": "Feature", "properties": {}, "geometry": geometry}],
    }
    layer = folium.FeatureGroup(name=html_text(text["streets"]))
    style = {"color": STREET, "weight": 1.5, "opacity": 0.9, "className": "cp-street"}
    _GeometryTextGeoJson(
        data,
        _street_geometry_text(result.network, simplify_m, shift, geometry),
        style_function=lambda f: style,
        marker=None,
        popup=None,
        tooltip=None,
        on_each_feature=None,
        interactive=False,
    ).add_to(layer)
    return layer


# Street multi-lines of recently drawn networks, and their coordinates as drawn (rounded, shifted or not),
# by `_street_key` (the same network is drawn on every map of a run).
_STREETS: OrderedDict[str, Any] = OrderedDict()
_STREETS_KEPT = 6
# The JSON text of the street geometry as drawn (about 20 bytes a vertex), by the same keys.
_STREET_TEXT: OrderedDict[str, str] = OrderedDict()


def _street_geometry_text(net, simplify_m: float, shift: bool, geometry: dict[str, Any] | None) -> str | None:
    """``geometry`` (`_street_geometry` of these arguments) as the page writes it, encoded once per network."""
    if geometry is None:
        return None
    key = _street_key(net, simplify_m) + ("|gcj02" if shift else "|wgs84")
    if key in _STREET_TEXT:
        _STREET_TEXT.move_to_end(key)
        return _STREET_TEXT[key]
    _STREET_TEXT[key] = _tojson(geometry)
    while len(_STREET_TEXT) > _STREETS_KEPT:
        _STREET_TEXT.popitem(last=False)
    return _STREET_TEXT[key]


def _street_key(net, simplify_m: float) -> str:
    """What the street lines depend on: the routing arrays, the edge shapes, the CRS and the tolerance."""
    digest = hashlib.sha256()
    for array in (net.coords, net.coord_offsets):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(f"{net.fingerprint}|{net.crs}|{float(simplify_m)!r}".encode())
    return digest.hexdigest()


def _street_lines(net, simplify_m: float) -> shapely.MultiLineString:
    """The network's edges merged into lines and simplified in metres, as one lon/lat multi-line (kept per network)."""
    key = _street_key(net, simplify_m)
    if key in _STREETS:
        _STREETS.move_to_end(key)
        return _STREETS[key]
    merged = shapely.line_merge(shapely.multilinestrings(net.edges_metric))
    merged = shapely.simplify(merged, simplify_m, preserve_topology=False)
    lines = shapely.get_parts(merged)
    lines = lines[shapely.length(lines) > 0]
    x, y = net.to_metric.transform(
        *shapely.get_coordinates(lines).T, direction="INVERSE"
    )  # back to lon/lat, in the same order
    lonlat = np.column_stack([x, y])
    counts = shapely.get_num_coordinates(lines)
    wgs = shapely.linestrings(lonlat, indices=np.repeat(np.arange(len(lines)), counts))
    return _keep_streets(key, shapely.multilinestrings(wgs))


def _street_geometry(net, simplify_m: float, shift: bool) -> dict[str, Any] | None:
    """GeoJSON geometry of `_street_lines` as `_geojson` writes it (1e-5° rounding, GCJ-02 when shifted), kept per network.

    Built from the coordinate array instead of ``shapely.geometry.mapping``;
    the numbers are the same floats, lists in place of tuples.
    """
    key = _street_key(net, simplify_m) + ("|gcj02" if shift else "|wgs84")
    if key in _STREETS:
        _STREETS.move_to_end(key)
        kept = _STREETS[key]
    else:
        lines = _street_lines(net, simplify_m)
        kept = None
        if not lines.is_empty:
            if shift:
                lines = shapely.transform(lines, lambda xy: np.column_stack(china.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
            lines = shapely.transform(lines, lambda xy: np.round(xy, 5))
            parts = shapely.get_parts(lines)
            kept = (shapely.get_coordinates(parts), np.cumsum(shapely.get_num_coordinates(parts)))
        _keep_streets(key, kept)
    if kept is None:
        return None
    xy, ends = kept[0].tolist(), kept[1].tolist()  # kept as arrays (compact); lists are cheap to make
    coordinates = [xy[a:b] for a, b in zip([0, *ends[:-1]], ends)]
    return {"type": "MultiLineString", "coordinates": coordinates}


def _keep_streets(key: str, value: Any) -> Any:
    _STREETS[key] = value
    while len(_STREETS) > _STREETS_KEPT:
        _STREETS.popitem(last=False)
    return value


def _band_style(feature: dict) -> dict[str, Any]:
    colour = feature["properties"]["_c"]
    return {"color": colour, "weight": 1.5, "fillColor": colour, "fillOpacity": 0.1, "className": "cp-band"}


def _routes_for_map(result: CoverageResult, routes: str, max_routes: int) -> gpd.GeoDataFrame:
    """The routes the page carries: places left outside first, then covered ones farthest first."""
    if routes == "none" or max_routes <= 0:
        return walk_routes(result, [])
    demand = result.demand.reset_index(drop=True)
    reached = np.flatnonzero(demand["walk_m"].notna().to_numpy())
    outside = reached[~demand["covered"].to_numpy(bool)[reached]]
    order = outside[np.argsort(-demand["walk_m"].to_numpy(float)[outside], kind="stable")]
    if routes == "all":
        inside = reached[demand["covered"].to_numpy(bool)[reached]]
        order = np.concatenate([order, inside[np.argsort(-demand["walk_m"].to_numpy(float)[inside], kind="stable")]])
    return walk_routes(result, np.sort(order[:max_routes]))


def _demand_layer(
    result: CoverageResult,
    classes: pd.DataFrame,
    shift: bool,
    text: dict,
    labels: bool,
    routes: gpd.GeoDataFrame,
) -> tuple[folium.FeatureGroup, folium.GeoJson | CanvasPoints]:
    demand = result.demand.reset_index(drop=True)
    status = _status(demand)
    fields = {
        "name": "demand_name",
        "type": "type",
        "district": "district",
        "community": "community",
        "nearest": "nearest_site_name",
    }
    props = {k: _escaped(demand[c]) for k, c in fields.items() if c in demand and demand[c].notna().any()}
    props["walk_min"] = demand["walk_min"].round(1)
    props["walk_m"] = demand["walk_m"].round(0)
    crow = pd.Series(np.nan, index=demand.index)
    crow.iloc[routes["place"].to_numpy(np.int64)] = routes["crow_m"].round(0).to_numpy()
    if crow.notna().any():
        props["crow_m"] = crow
    props["snap_m"] = demand["snap_m"].round(0)
    props["status"] = _escaped(status.map({"placeholder": text["placeholder"], "real": text["real"]}).fillna(status))
    frame = gpd.GeoDataFrame(
        {
            **props,
            "_colour": classes["colour"].to_numpy(),
            "_key": classes["key"].to_numpy(),
            "_ph": (status == "placeholder").to_numpy(),
            "_i": np.arange(len(demand)),
        },
        geometry=demand.geometry.to_numpy(),
        crs=4326,
    )
    order = ("name", "type", "district", "community", "nearest", "walk_min", "walk_m", "crow_m", "snap_m", "status")
    shown = [k for k in order if k in props]
    layer = folium.FeatureGroup(name=html_text(text["demand"]))
    if len(demand) >= CANVAS_MIN_PLACES:  # one SVG element per place would take minutes to open
        points = _canvas_points(frame, shown, shift, text)
        points.add_to(layer)
        return layer, points
    label_js = None
    if labels and "name" in props:
        label_js = folium.JsCode(
            "function(feature, layer) { if (feature.properties.name) { layer.bindTooltip(feature.properties.name, "
            "{permanent: true, direction: 'right', offset: [6, 0], interactive: false, "
            "className: 'cp-label cp-label-place'}); } }"
        )
    geojson = _geojson(
        frame,
        shift,
        _demand_style,
        marker=folium.CircleMarker(radius=5),
        popup=folium.GeoJsonPopup(fields=shown, aliases=[html_text(text[k]) for k in shown]),
        tooltip=["name"] if "name" in props and not labels else None,
        on_each_feature=label_js,
        style_keys=("_colour", "_key", "_ph"),
    )
    geojson.add_to(layer)
    return layer, geojson


def _canvas_points(frame: gpd.GeoDataFrame, shown: list[str], shift: bool, text: dict) -> CanvasPoints:
    """The demand places as one canvas layer: the styles of `_demand_style`, the popup rows of the GeoJSON layer."""
    lon, lat = _shift_xy(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy(), shift)
    keys = pd.Series(list(zip(frame["_colour"], frame["_key"], frame["_ph"].astype(bool))))
    index, combos = pd.factorize(keys)  # distinct styles in order of first use: same bytes per run
    styles = [_demand_style({"properties": {"_colour": c, "_key": k, "_ph": p}}) for c, k, p in combos]
    fields = []
    for key in shown:
        values = frame[key]
        if values.dtype.kind == "f":
            values = values.astype(object).where(values.notna(), None)
        fields.append((key, html_text(text[key]), values.tolist()))
    return _Canvas(lat, lon, styles, index, fields)


def _demand_style(feature: dict) -> dict[str, Any]:
    p = feature["properties"]
    style = {"fill": True, "fillColor": p["_colour"], "fillOpacity": 0.9, "color": "#ffffff", "weight": 1, "radius": 5}
    if p["_key"] == "outside":  # not covered: larger, with a dark ring, so it reads apart from green at a glance
        style.update(color="#67000d", weight=2, radius=6)
    if p["_ph"]:  # placeholder: hollow and dashed
        style.update(color=p["_colour"], weight=2, fillOpacity=0.15, dashArray="3 3")
    style["className"] = f"cp-demand cp-{p['_key'].split(':')[0]}" + (" cp-placeholder" if p["_ph"] else "")
    return style


def _footprint_layer(
    result: CoverageResult, classes: pd.DataFrame, shift: bool, text: dict, labels: bool
) -> folium.FeatureGroup:
    demand = result.demand
    has = demand["footprint"].notna() & ~gpd.GeoSeries(demand["footprint"]).is_empty
    shapes = gpd.GeoDataFrame(
        {"name": _escaped(demand.loc[has, "demand_name"]), "_fill": classes.loc[has, "colour"]},
        geometry=gpd.GeoSeries(demand.loc[has, "footprint"], crs=4326),
        crs=4326,
    )
    shapes["geometry"] = shapes.to_crs(result.network.crs).simplify(1.0).to_crs(4326)
    layer = folium.FeatureGroup(name=html_text(text["footprints"]))

    def style(feature: dict) -> dict[str, Any]:
        return {
            "color": "#555555",
            "weight": 1,
            "fillColor": feature["properties"]["_fill"],
            "fillOpacity": 0.25,
            "className": "cp-footprint",
        }

    _geojson(shapes, shift, style, tooltip=None if labels else ["name"]).add_to(layer)
    return layer


def _district_layer(districts: gpd.GeoDataFrame, shift: bool, text: dict) -> folium.FeatureGroup:
    frame = districts.to_crs(4326)
    named = "name" in frame and frame["name"].notna().any()
    frame = gpd.GeoDataFrame({"name": _escaped(frame["name"])} if named else {}, geometry=frame.geometry, crs=4326)
    layer = folium.FeatureGroup(name=html_text(text["districts"]))
    style = {"color": "#333333", "weight": 2, "fill": False, "dashArray": "8 5", "className": "cp-district"}
    _geojson(frame, shift, lambda f: style, tooltip=["name"] if named else None).add_to(layer)
    return layer


def _site_layers(
    result: CoverageResult, proposed: gpd.GeoDataFrame | None, shift: bool, text: dict, labels: bool
) -> dict[bool, folium.FeatureGroup]:
    sites = result.sites
    extra = proposed.to_crs(4326) if proposed is not None and len(proposed) else None
    extra_ids = set(extra["id"].astype(str)) if extra is not None and "id" in extra else set()
    kind = sites.get("kind", pd.Series("", index=sites.index)).astype(str).str.lower()
    is_new = (_status(sites) == "proposed") | (kind == "proposed") | sites["id"].astype(str).isin(extra_ids)
    frames = [sites.assign(_new=is_new.to_numpy())]
    if extra is not None:  # proposed sites that are not (yet) part of the run
        outside_run = (
            ~extra["id"].astype(str).isin(set(sites["id"].astype(str))) if "id" in extra else np.ones(len(extra), bool)
        )
        frames.append(extra[outside_run].assign(_new=True))
    layers = {
        False: folium.FeatureGroup(name=html_text(text["sites"])),
        True: folium.FeatureGroup(name=html_text(text["proposed"])),
    }
    for frame in frames:
        lon, lat = _shift_xy(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy(), shift)
        for row, x, y in zip(frame.to_dict("records"), lon, lat):
            _site_marker(row, x, y, text, labels).add_to(layers[bool(row["_new"])])
    return {k: v for k, v in layers.items() if not k or len(v._children)}


def _site_marker(row: dict, lon: float, lat: float, text: dict, labels: bool) -> folium.Marker:
    kind = "proposed" if row["_new"] else "existing"
    placeholder = row.get("status") == "placeholder"
    name = next((v for v in (row.get("name"), row.get("id")) if not _missing(v)), "")
    # folium puts tooltip and popup text into JavaScript template literals: escape for HTML and for those.
    lines = [
        f"<b>{html_in_js_template(name)}</b>",
        html_in_js_template(text["proposed" if row["_new"] else "sites"]),
    ]
    for key, column in (("type", "type"), ("district", "district"), ("covers", "demand_covered"), ("snap_m", "snap_m")):
        value = row.get(column)
        if not _missing(value) and value != "":
            shown = round(value) if isinstance(value, float) else value
            lines.append(f"{html_in_js_template(text[key])}: {html_in_js_template(shown)}")
    if placeholder:
        lines.append(f"<b style='color:#b35806'>{html_in_js_template(text['placeholder'])}</b>")
    symbol, colour = ("★", PROPOSED) if row["_new"] else ("■", SITE)
    icon = folium.DivIcon(
        html=f'<div class="cp-site cp-{kind}{" cp-placeholder-site" if placeholder else ""}"><div class="cp-icon" style="color:{colour}">{symbol}</div></div>',
        icon_size=(22, 22),
        icon_anchor=(11, 11),
    )
    tooltip = (
        folium.Tooltip(
            html_in_js_template(name),
            permanent=True,
            direction="right",
            offset=(10, 0),
            class_name="cp-label cp-label-site",
        )
        if labels
        else html_in_js_template(name)
    )
    return folium.Marker(
        [round(lat, 5), round(lon, 5)],
        icon=icon,
        tooltip=tooltip,
        popup=folium.Popup("<br>".join(lines), max_width=300),
    )


# ---------------------------------------------------------------- service planning


class _Planned:
    """Layers of service planning, in drawing order, and their legend rows."""

    def __init__(self) -> None:
        self.layers: list[folium.FeatureGroup] = []
        self.rows: list[tuple[str, list]] = []


def _service_layers(result: CoverageResult, service: ServiceTables, shift: bool, text: dict, colours: dict) -> _Planned:
    """Links place → assigned site, one layer per circuit route with its numbered stops, clinic venues."""
    out = _Planned()
    site_names = dict(zip(result.sites["id"].astype(str), result.sites["name"]))
    place_names = dict(zip(result.demand["demand_id"].astype(str), result.demand["demand_name"]))
    if service.links is not None and len(service.links):
        layer = _links_layer(service, shift, text, colours, site_names, place_names)
        out.layers.append(layer)
        out.rows.append((f'<span class="ln" style="border-top:1.5px solid {SITE}"></span>{text["assigned"]}', [layer]))
    routes = service.circuit_routes
    if routes is not None and len(routes):
        layers = _circuit_layers(result, service, shift, text)
        out.layers += [layer for layer, _, _ in layers]
        items = [
            (f'<span class="ln" style="border-top:4px solid {colour}"></span>{html_text(name)}', layer)
            for layer, colour, name in layers
        ]
        title = f"<b>{text['circuits']}</b> ({len(items)})"
        out.rows.append((_LegendGroup(title, items, open_=len(items) <= 4), [layer for layer, _, _ in layers]))
    clinics = _clinic_points(service.clinics)
    if clinics is not None:
        layer = folium.FeatureGroup(name=html_text(text["clinics"]))
        lon, lat = _shift_xy(clinics.geometry.x.to_numpy(), clinics.geometry.y.to_numpy(), shift)
        for row, x, y in zip(clinics.drop(columns=clinics.geometry.name).to_dict("records"), lon, lat):
            name = next((v for v in (row.get("venue_name"), row.get("venue_id")) if not _missing(v)), "")
            lines = [f"<b>{html_in_js_template(name)}</b>", html_in_js_template(text["clinic"])]
            for key in ("places_reached", "load_reached"):
                if not _missing(row.get(key)):
                    value = row[key]
                    shown = round(value, 1) if isinstance(value, float) else value
                    lines.append(f"{html_in_js_template(text[key])}: {html_in_js_template(shown)}")
            folium.Marker(
                [round(y, 5), round(x, 5)],
                icon=folium.DivIcon(
                    html=f'<div class="cp-clinic" style="color:{CLINIC}">✚</div>',
                    icon_size=(20, 20),
                    icon_anchor=(10, 10),
                ),
                tooltip=html_in_js_template(name),
                popup=folium.Popup("<br>".join(lines), max_width=300),
            ).add_to(layer)
        out.layers.append(layer)
        out.rows.append((f'<span style="color:{CLINIC};font-size:15px">✚</span> {text["clinics"]}', [layer]))
    return out


class _LegendGroup:
    """Legend rows folded under one summary; each row still shows only while its layer is on the map.

    Turned into HTML when the legend renders, after `save_map` numbered the
    layers (their ids name them in ``data-cp-layers``).
    """

    def __init__(self, title: str, items: list[tuple[str, folium.FeatureGroup]], open_: bool) -> None:
        self.title, self.items, self.open = title, items, open_

    def __str__(self) -> str:
        rows = "".join(f'<div class="cp-row" data-cp-layers="{layer._id}">{row}</div>' for row, layer in self.items)
        return f"<details{' open' if self.open else ''}><summary>{self.title}</summary>{rows}</details>"


def _links_layer(
    service: ServiceTables, shift: bool, text: dict, colours: dict, site_names: dict, place_names: dict
) -> folium.FeatureGroup:
    links = service.links.to_crs(4326).reset_index(drop=True)
    assignment = service.assignment
    if assignment is not None and len(assignment):  # the allocation's own names win over the run's
        place_names = {**place_names, **dict(zip(assignment["demand_id"].astype(str), assignment["demand_name"]))}
        named = assignment.dropna(subset=["site_id"])
        site_names = {**site_names, **dict(zip(named["site_id"].astype(str), named["site_name"]))}
    place = links["demand_id"].astype(str)
    site = links["site_id"].astype(str)

    def tip(p: str, s: str, load: Any, minutes: Any) -> str:
        rows = [
            f"<b>{html_text(_name_or_id(place_names.get(p), p))}</b>",
            f"{html_text(text['site'])}: {html_text(_name_or_id(site_names.get(s), s))}",
        ]
        if not _missing(load):
            rows.append(f"{html_text(text['load'])}: {html_text(f'{float(load):g}')}")
        if not _missing(minutes):
            rows.append(f"{html_text(text['walk_min'])}: {float(minutes):.1f}")
        return "<br>".join(rows)

    frame = gpd.GeoDataFrame(
        {
            "tip": [
                tip(p, s, load, minutes)
                for p, s, load, minutes in zip(
                    place, site, links.get("load", [None] * len(links)), links.get("walk_min", [None] * len(links))
                )
            ],
            "_c": site.map(lambda s: colours.get(s, SITE)).to_numpy(),
        },
        geometry=links.geometry.to_numpy(),
        crs=4326,
    )
    layer = folium.FeatureGroup(name=html_text(text["assigned"]))
    _geojson(frame, shift, _link_style, tooltip=["tip"]).add_to(layer)
    return layer


def _link_style(feature: dict) -> dict[str, Any]:
    return {"color": feature["properties"]["_c"], "weight": 1.5, "opacity": 0.85, "className": "cp-link"}


def _circuit_layers(
    result: CoverageResult, service: ServiceTables, shift: bool, text: dict
) -> list[tuple[folium.FeatureGroup, str, str]]:
    """One layer per route: its legs along the network, a numbered disc at each visit (popup: order and times)."""
    routes = service.circuit_routes
    legs = service.circuit_legs.to_crs(4326) if service.circuit_legs is not None else None
    where = {str(i): (p.x, p.y) for i, p in zip(result.demand["demand_id"], result.demand.geometry)}
    out = []
    for i, (route, stops) in enumerate(routes.sort_values(["route", "stop"]).groupby("route", sort=True)):
        colour = CIRCUIT_COLOURS[i % len(CIRCUIT_COLOURS)]
        first = stops.iloc[0]
        session = int(first["session"]) if "session" in stops and not _missing(first["session"]) else None
        label = text["session"].get(session, text["session_n"].format(n=session)) if session is not None else ""
        day = int(first["day"]) if "day" in stops and not _missing(first["day"]) else ""
        depot = _name_or_id(first.get("depot_name"), first.get("depot_id"))
        name = text["circuit"].format(route=int(route), depot=depot, day=day, session=label)
        total = float(stops["arrival_min"].iloc[-1]) if "arrival_min" in stops else None
        layer = folium.FeatureGroup(name=html_text(name))
        mine = legs[legs["route"] == route] if legs is not None else None
        if mine is not None and len(mine):
            summary = html_text(name) + (
                f"<br>{html_text(first.get('leave_clock', ''))}–{html_text(stops['arrival_clock'].iloc[-1])}"
                if "arrival_clock" in stops
                else ""
            )
            if total is not None:
                summary += f" · {html_text(text['route_total'].format(m=total))}"
            frame = gpd.GeoDataFrame({"tip": [summary] * len(mine)}, geometry=mine.geometry.to_numpy(), crs=4326)
            style = {"color": colour, "weight": 4, "opacity": 0.85, "className": "cp-circuit"}
            _geojson(frame, shift, lambda f, s=style: s, tooltip=["tip"]).add_to(layer)
            ends = {int(leg): line for leg, line in zip(mine["leg"], mine.geometry)}
        else:
            ends = {}
        for stop in stops[stops["kind"] == "visit"].to_dict("records"):
            pid = str(stop["place_id"])
            xy = where.get(pid)
            if xy is None and int(stop["stop"]) in ends and not ends[int(stop["stop"])].is_empty:
                xy = shapely.get_coordinates(ends[int(stop["stop"])])[-1]
            if xy is None:
                continue
            _stop_marker(stop, xy, colour, shift, text, name).add_to(layer)
        out.append((layer, colour, name))
    return out


def _stop_marker(stop: dict, xy, colour: str, shift: bool, text: dict, route: str) -> folium.Marker:
    n = int(stop["stop"])
    place = _name_or_id(stop.get("place_name"), stop.get("place_id"))
    lines = [
        f"<b>{html_in_js_template(text['stop'].format(n=n))} · {html_in_js_template(place)}</b>",
        html_in_js_template(route),
    ]
    arrival, leave = stop.get("arrival_clock"), stop.get("leave_clock")
    if not _missing(arrival):
        lines.append(
            f"{html_in_js_template(text['arrival'])} {html_in_js_template(arrival)} · "
            f"{html_in_js_template(text['leave'])} {html_in_js_template(leave)}"
        )
    if not _missing(stop.get("arrival_min")) and not _missing(stop.get("leave_min")):
        stay = round(float(stop["leave_min"]) - float(stop["arrival_min"]), 1)
        lines.append(html_in_js_template(text["stay"].format(m=stay)))
    lon, lat = _shift_xy(np.array([xy[0]]), np.array([xy[1]]), shift)
    return folium.Marker(
        [round(float(lat[0]), 5), round(float(lon[0]), 5)],
        icon=folium.DivIcon(
            html=f'<div class="cp-stop" style="background:{colour}">{n}</div>', icon_size=(20, 20), icon_anchor=(10, 10)
        ),
        tooltip=html_in_js_template(f"{text['stop'].format(n=n)} · {place}"),
        popup=folium.Popup("<br>".join(lines), max_width=300),
    )


def _clinic_points(clinics: pd.DataFrame | None) -> gpd.GeoDataFrame | None:
    """The clinic venues as WGS-84 points, when they carry a geometry or lon/lat (else None)."""
    if clinics is None or not len(clinics):
        return None
    if isinstance(clinics, gpd.GeoDataFrame) and clinics.geometry.name in clinics:
        points = clinics.to_crs(4326) if clinics.crs is not None else clinics
        return points[~points.geometry.is_empty & points.geometry.notna()]
    if {"lon", "lat"} <= set(clinics.columns):
        return gpd.GeoDataFrame(clinics, geometry=gpd.points_from_xy(clinics["lon"], clinics["lat"]), crs=4326)
    return None


def _name_or_id(name: Any, ident: Any) -> str:
    return str(ident if _missing(name) or str(name).strip() == "" else name)


# ---------------------------------------------------------------- rendering without recompiling output


_JINJA_SYNTAX = re.compile(r"\{[{%#]|\r")


def _rendered_text(text: str) -> Element:
    """An element that renders to ``text`` as branca's ``Element(text)`` does, compiling ``text`` only when it must.

    branca compiles every macro's output as a new template (megabytes of
    GeoJSON lexed once more). Text with no ``{{``, ``{%``, ``{#`` and no
    carriage return renders as itself minus one trailing newline (Jinja's
    default ``keep_trailing_newline=False``); anything else takes branca's path.
    """
    if _JINJA_SYNTAX.search(text):
        return Element(text)
    return _PlainText(text[:-1] if text.endswith("\n") else text)


class _PlainText(Element):
    """Text put into the page as is."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "Element"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The text.

        Parameters
        ----------
        **kwargs
            Ignored (folium passes its render arguments down).

        Returns
        -------
        str
        """
        return self.text


class _QuickRender(MacroElement):
    """``MacroElement.render`` with its header, html and script put into the figure through `_rendered_text`."""

    def render(self, **kwargs: Any) -> None:
        """Add this element's macros to the figure, then render its children, in branca's order.

        Parameters
        ----------
        **kwargs
            Passed on to the macros and the children.
        """
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a map element renders only inside a figure")
        macros = self._template.module.__dict__
        for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
            macro = macros.get(part)
            if macro is not None:
                target.add_child(_rendered_text(self._macro_text(macro, kwargs)), name=self.get_name())
        for element in self._children.values():
            _render_quickly(element)  # children added while rendering too (a marker's icon setter)
            element.render(**kwargs)

    def _macro_text(self, macro: Any, kwargs: dict) -> str:
        """The text of one of this element's macros."""
        return macro(self, kwargs)


class _GeoJson(folium.GeoJson, _QuickRender):
    """``folium.GeoJson`` rendered through `_QuickRender`."""


class _GroupedGeoJson(GroupedStyleGeoJson, _QuickRender):
    """`GroupedStyleGeoJson` rendered through `_QuickRender`, its style switch written in one piece.

    folium's template writes ``case <id|tojson>: `` once per feature (a JSON
    encoding each); here each style's run of cases is written at once and put
    where the template wrote the cases of a stand-in id, so the text is the same.
    """

    def _macro_text(self, macro: Any, kwargs: dict) -> str:
        style_map = getattr(self, "style_map", None)
        if not style_map:
            return macro(self, kwargs)
        cases, stand_in = {}, {}
        for k, (style, ids) in enumerate(style_map.items()):
            if style == "default":
                stand_in[style] = ids
                continue
            token = f"cp-style-cases-{self.get_name()}-{k}"
            cases[f'case "{token}": '] = "".join(f"case {_id_json(i)}: " for i in ids)
            stand_in[style] = [token]
        self.style_map = stand_in
        try:
            text = macro(self, kwargs)
        finally:
            self.style_map = style_map
        for stand, run in cases.items():  # the switch comes before the data: the first match is it
            text = text.replace(stand, run, 1)
        return text


class _GeometryTextGeoJson(_GeoJson):
    """A one-feature `_GeoJson` layer whose geometry's JSON text is given: written as is instead of encoded.

    ``data`` keeps the geometry (the map can be read as any folium map); the
    page gets ``geometry_text``, which must be what ``tojson`` makes of it.
    """

    def __init__(self, data: dict, geometry_text: str | None, **kwargs: Any):
        super().__init__(data, **kwargs)
        self.geometry_text = geometry_text

    def _macro_text(self, macro: Any, kwargs: dict) -> str:
        if self.geometry_text is None:
            return macro(self, kwargs)
        data = self.data
        (feature,) = data["features"]
        token = f"cp-geometry-{self.get_name()}"
        self.data = {**data, "features": [{**feature, "geometry": token}]}
        try:
            text = macro(self, kwargs)
        finally:
            self.data = data
        return text.replace(f'"{token}"', self.geometry_text, 1)  # the token is written once, in the data


def _id_json(value: Any) -> str:
    """What Jinja's ``tojson`` writes for a feature id (plain digits without a call)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return f'"{value}"'
    return _tojson(value)


def _tojson(value: Any) -> str:
    """What the ``tojson`` filter of folium's templates writes for ``value``."""
    policies = folium.GeoJson._template.environment.policies
    dumps = policies["json.dumps_function"] or json.dumps
    return str(htmlsafe_json_dumps(value, dumps=dumps, **policies["json.dumps_kwargs"]))


class _Canvas(CanvasPoints, _QuickRender):
    """`CanvasPoints` rendered through `_QuickRender`."""


# ---------------------------------------------------------------- legend, scale, routes


class _Legend(_QuickRender):
    """The legend: rows tied to layers are shown only while one of their layers is on the map.

    Rows are built from this module's labels, numbers and escaped site names
    (`html_text`); layer names are filled in when the page renders (after
    `save_map` numbered the elements).
    """

    _template = Template(
        """
{% macro html(this, kwargs) %}
<details id="cp-legend" class="cp-legend" open><summary>{{ this.head }}</summary>
{%- for row, layers in this.rows %}
<div class="cp-row"{% if layers %} data-cp-layers="{{ layers | map(attribute='_id') | map('string') | join(' ') }}"{% endif %}>{{ row }}</div>
{%- endfor %}
{{ this.footer }}</details>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    var layers = { {%- for layer in this.layers %}{{ layer._id | string | tojson }}: {{ layer.get_name() }}{{ "," if not loop.last }}{% endfor -%} };
    function update() {
        document.querySelectorAll('#cp-legend [data-cp-layers]').forEach(function (row) {
            var on = row.getAttribute('data-cp-layers').split(' ').some(function (k) { return map.hasLayer(layers[k]); });
            row.style.display = on ? '' : 'none';
        });
    }
    map.on('overlayadd overlayremove layeradd layerremove', update);
    update();
})();
{% endmacro %}
"""
    )

    def __init__(self, text: dict):
        super().__init__()
        self._name = "CoverageLegend"
        self.rows: list[tuple[str, list]] = []
        self.layers: list = []
        self.head, self.footer, self.text = "", "", text

    def add(self, row: str | _LegendGroup, layers: Sequence | None = None) -> None:
        layers = list(layers or [])
        self.rows.append((row, layers))
        self.layers += [layer for layer in layers if layer not in self.layers]

    def add_sites(self, site_layers: dict, text: dict) -> None:
        symbols = {False: (SITE, "■", "sites"), True: (PROPOSED, "★", "proposed")}
        for new, layer in site_layers.items():
            colour, symbol, key = symbols[new]
            self.add(f'<span style="color:{colour};font-size:15px">{symbol}</span> {text[key]}', [layer])

    def add_placeholders(self, result: CoverageResult, text: dict) -> None:
        n_places = int((_status(result.demand) == "placeholder").sum())
        n_sites = int((_status(result.sites) == "placeholder").sum())
        warn = ' class="warn"' if n_places + n_sites else ""
        detail = f" ({text['demand']} {n_places}, {text['sites']} {n_sites})" if n_places + n_sites else ""
        self.add(
            f'<span{warn}><span class="sw" style="border:2px dashed #333;background:transparent"></span>'
            f"{text['placeholder']}: {n_places + n_sites}{detail}</span>"
        )


def _fill_legend(
    legend: _Legend,
    result: CoverageResult,
    classes: pd.DataFrame,
    bands: Sequence[float],
    text: dict,
    demand_layer: folium.FeatureGroup,
    band_layers: dict,
    union_layers: dict,
    per_site: gpd.GeoDataFrame,
    colours: dict,
) -> None:
    threshold, limits = float(result.threshold_min), classes.attrs["limits"]
    counts = classes["key"].value_counts()
    search_min = result.matrix.cutoff_m / result.metres_per_minute
    legend.add(f"<b>{text['places']}</b>", [demand_layer])
    for i, b in enumerate(limits):
        label = text["within"].format(b=b) if i == 0 else text["between"].format(a=limits[i - 1], b=b)
        colour = classes.loc[classes["key"] == f"within:{i}", "colour"]
        swatch = colour.iloc[0] if len(colour) else COVERED_COLOURS[min(i, len(COVERED_COLOURS) - 1)]
        legend.add(
            f'<span class="sw" style="background:{swatch}"></span>{label}: {counts.get(f"within:{i}", 0)}',
            [demand_layer],
        )
    legend.add(
        f'<span class="sw" style="background:{OUTSIDE};border:2px solid #67000d;"></span>'
        f"{text['outside'].format(t=threshold)}: {counts.get('outside', 0)}",
        [demand_layer],
    )
    legend.add(
        f'<span class="sw" style="background:{UNREACHED}"></span>'
        f"{text['unreached'].format(s=search_min)}: {counts.get('unreached', 0)}",
        [demand_layer],
    )
    legend.add(f"<b>{text['bands']}</b>", [*band_layers.values(), *union_layers.values()])
    for band in bands:
        legend.add(
            '<span class="sw" style="background:#bbb;opacity:.6;border-radius:2px"></span>'
            f"{text['band'].format(b=band)}",
            [band_layers[band]],
        )
    if colours:
        names = dict(zip(per_site["site_id"], per_site["site_name"]))
        items = "".join(
            f'<div><span class="sw" style="background:{colour};opacity:.7;border-radius:2px"></span>'
            f"{html_text(names.get(site, site))}</div>"
            for site, colour in colours.items()
        )
        legend.add(f"<details><summary>{text['site_colours']}</summary>{items}</details>", list(band_layers.values()))
    for i, band in enumerate(bands):
        c = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        legend.add(
            f'<span class="sw" style="background:{c};opacity:.5;border-radius:2px"></span>'
            f"{text['union'].format(b=band)}",
            [union_layers[band]],
        )


class _MetricScale(_QuickRender):
    """A scale bar in metres and kilometres only."""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "MetricScale"


class _LabelZoom(_QuickRender):
    """Hides the places' permanent labels below zoom 16, where they would pile up."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    function update() { map.getContainer().classList.toggle('cp-far', map.getZoom() < {{ this.zoom }}); }
    map.on('zoomend', update);
    update();
})();
{% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "LabelZoom"
        self.zoom = _LABEL_ZOOM


class _Routes(_QuickRender):
    """Walking routes as compact integer arrays: drawn for a clicked place, and for all places left outside on demand.

    Each route is ``[lat0, lon0, dlat1, dlon1, …]`` in 1e-5 degrees (about a
    metre), deltas after the first point, indexed by the place's ``_i``. Only
    numbers go into the script.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    var places = {{ this.places.get_name() }};
    var outside = {{ this.outside.get_name() }};
    var routes = {{ this.routes }};
    var left = {{ this.left }};
    function line(i) {
        var r = routes[i], lat = r[0], lon = r[1], pts = [[lat / 1e5, lon / 1e5]];
        for (var k = 2; k < r.length; k += 2) { lat += r[k]; lon += r[k + 1]; pts.push([lat / 1e5, lon / 1e5]); }
        return pts;
    }
    var shown = L.layerGroup().addTo(map);
    places.on('click', function (e) {
        shown.clearLayers();
        var i = e.layer && e.layer.feature ? e.layer.feature.properties._i : null;
        if (i === null || !routes[i]) { return; }
        var pts = line(i);
        L.polyline(pts, {color: '#ffffff', weight: 7, opacity: 0.9, interactive: false, className: 'cp-route-casing'}).addTo(shown);
        L.polyline(pts, {color: '{{ this.colour }}', weight: 4, opacity: 0.95, dashArray: '8 6', interactive: false, className: 'cp-route'}).addTo(shown);
    });
    map.on('popupclose', function () { shown.clearLayers(); });
    outside.on('add', function () {
        if (outside.getLayers().length) { return; }
        left.forEach(function (i) {
            L.polyline(line(i), {color: '{{ this.colour }}', weight: 2.5, opacity: 0.8, interactive: false, className: 'cp-route-out'}).addTo(outside);
        });
    });
})();
{% endmacro %}"""
    )

    def __init__(
        self,
        places: folium.GeoJson,
        outside: folium.FeatureGroup,
        routes: gpd.GeoDataFrame,
        result: CoverageResult,
        shift: bool,
    ):
        super().__init__()
        self._name = "WalkRoutes"
        self.places, self.outside, self.colour = places, outside, ROUTE
        self.routes = _encode_routes(len(result.demand), routes, shift)
        covered = result.demand["covered"].to_numpy(bool)
        self.left = json.dumps([int(p) for p in routes["place"] if not covered[int(p)]], separators=(",", ":"))


@_gc.paused()  # many small arrays and tuples: no cycles to collect meanwhile
def _encode_routes(n: int, routes: gpd.GeoDataFrame, shift: bool) -> str:
    """JSON list of ``n`` entries: a route's ``[lat0, lon0, dlat1, dlon1, …]`` (1e-5°) at its place, else null.

    All routes are simplified, shifted, rounded and differenced as one
    array; the text is what ``json.dumps(lists, separators=(",", ":"))`` writes.
    """
    encoded: list[str] = ["null"] * n
    # ~1.5 m: drops vertices along straight runs. Plain Douglas-Peucker (about 10× faster than keeping
    # topology): a drawn route may cross itself where its street does, and its ends are always kept.
    lines = shapely.simplify(routes.geometry.to_numpy(), 1.5e-5, preserve_topology=False)
    counts = shapely.get_num_coordinates(lines)
    xy = shapely.get_coordinates(lines)
    lon, lat = _shift_xy(xy[:, 0], xy[:, 1], shift)
    ints = np.column_stack([np.round(lat * 1e5), np.round(lon * 1e5)]).astype(np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    deltas = ints.copy()
    deltas[1:] -= ints[:-1]
    firsts = starts[counts > 0]
    deltas[firsts] = ints[firsts]  # each route starts from its own first point
    numbers = deltas.ravel().tolist()
    for place, a, b in zip(routes["place"].to_numpy(np.int64).tolist(), (2 * starts).tolist(), (2 * ends).tolist()):
        encoded[place] = "[" + ",".join(map(str, numbers[a:b])) + "]"
    return "[" + ",".join(encoded) + "]"


# ---------------------------------------------------------------- helpers


def _geojson(
    frame: gpd.GeoDataFrame,
    shift: bool,
    style,
    *,
    marker=None,
    popup=None,
    tooltip: list[str] | None = None,
    on_each_feature=None,
    style_keys: tuple[str, ...] | None = None,
    **options: Any,
) -> folium.GeoJson:
    """A GeoJSON layer with coordinates rounded to 1e-5° (~1 m) and shifted to GCJ-02 when asked.

    With ``style_keys`` (the properties ``style`` reads) the style is worked out once per combination.
    """
    if not len(frame):  # folium cannot style or label an empty layer; keep the layer, drop the extras
        return folium.GeoJson({"type": "FeatureCollection", "features": []})
    geoms = frame.geometry.to_numpy()
    if shift:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(china.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    extra = {} if style_keys is None else {"style_keys": style_keys}
    return (_GeoJson if style_keys is None else _GroupedGeoJson)(
        feature_collection(pd.DataFrame(frame.drop(columns=frame.geometry.name)), geoms),
        **extra,
        style_function=style,
        marker=marker,
        popup=popup,
        tooltip=folium.GeoJsonTooltip(fields=tooltip, labels=False) if tooltip else None,
        on_each_feature=on_each_feature,
        **options,
    )


def _shift_xy(lon: np.ndarray, lat: np.ndarray, shift: bool) -> tuple[np.ndarray, np.ndarray]:
    if not shift:
        return np.asarray(lon, float), np.asarray(lat, float)
    x, y = china.wgs84_to_gcj02(lon, lat)
    return np.asarray(x, float), np.asarray(y, float)


def _status(frame: pd.DataFrame) -> pd.Series:
    return frame["status"].astype(str) if "status" in frame else pd.Series("real", index=frame.index)


def _escaped(values: pd.Series) -> pd.Series:
    """Text for GeoJSON tooltips and popups, which folium puts into innerHTML; missing stays missing.

    The GeoJSON goes into the page through ``tojson`` (``<``, ``>``, ``&``
    and ``'`` escaped); `html_text` also escapes braces, as folium renders
    its script once more as a Jinja2 template.
    """
    text_dtype = isinstance(values.dtype, pd.StringDtype)
    codes, names = None, ()
    if (values.dtype == object or text_dtype) and pd.api.types.infer_dtype(values, skipna=True) == "string":
        codes, names = pd.factorize(values, use_na_sentinel=True)
    if len(names):  # text and gaps only: escape each distinct name once; gaps come out as ``map`` leaves them
        gap = values.dtype.na_value if text_dtype else np.nan
        table = np.array([gap, *(html_text(v) for v in names)], dtype=object)
        return pd.Series(table[codes + 1], index=values.index, dtype=object, name=values.name)
    return values.map(lambda v: None if _missing(v) else html_text(v)).astype(object)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


__all__ = [
    "BASEMAPS",
    "LABELS",
    "ROUTES",
    "TIANDITU_KEY_VARIABLE",
    "coverage_map",
    "default_bands",
    "demand_classes",
    "map_heading",
    "save_map",
    "tianditu_key",
]
