"""Interactive coverage maps (folium): walk-time bands, sites, demand coloured by walk minutes.

`save_map(..., offline=True)` writes one self-contained HTML page: Leaflet's
JavaScript and CSS are inlined from the folium-offline package installed
with this one, nothing is fetched at run time, and with no basemap
reachable the data still shows on a plain background.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element

from . import china
from ._io import write_text_atomic
from .isochrones import isochrone_bands, union_bands
from .results import CoverageResult

BASEMAPS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"),
    "cartodb": ("https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}.png", "© OpenStreetMap contributors © CARTO"),
    "gaode": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}", "© 高德地图 AutoNavi"),
    "none": (None, None),
}
LABELS = {
    "zh": {"near": "可达, 接近阈值", "covered": "步行可达 (≤ {t:g} 分钟)", "outside": "超出 {t:g} 分钟", "unreachable": "不可达 / 离网", "site": "现有站点",
           "proposed": "拟建站点", "placeholder": "占位 (位置未核实)", "band": "{b:g} 分钟步行范围", "union": "全部站点 {b:g} 分钟范围",
           "demand": "需求地点", "sites": "站点", "name": "名称", "type": "类型", "district": "区", "nearest": "最近站点",
           "walk_min": "步行分钟", "snap_m": "距道路 (米)", "status": "状态", "title": "步行覆盖", "footprints": "小区范围", "districts": "行政区"},
    "en": {"near": "within, close to the threshold", "covered": "within {t:g} min walk", "outside": "beyond {t:g} min", "unreachable": "unreachable / off network", "site": "existing site",
           "proposed": "proposed site", "placeholder": "placeholder (location not verified)", "band": "{b:g}-minute walk", "union": "all sites, {b:g} min",
           "demand": "demand places", "sites": "sites", "name": "name", "type": "type", "district": "district", "nearest": "nearest site",
           "walk_min": "walk minutes", "snap_m": "to the street (m)", "status": "status", "title": "Walking coverage", "footprints": "compounds", "districts": "districts"},
}
COLOURS = {"covered": "#1a9850", "near": "#fee08b", "outside": "#d73027", "unreachable": "#8c8c8c", "site": "#2166ac", "proposed": "#762a83"}
# Folium's page links these (and icon fonts the map does not use): inline only what it runs on.
NEEDED_ASSETS = ("leaflet@", "jquery", "bootstrap@5")
BAND_COLOURS = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0"]


def coverage_map(
    result: CoverageResult,
    *,
    bands_min: Sequence[float] | None = None,
    basemap: str = "osm",
    lang: str = "zh",
    proposed: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    buffer_m: float = 25.0,
) -> folium.Map:
    """Build the coverage map of a run.

    Parameters
    ----------
    result : the coverage run.
    bands_min : walk-time bands to draw (default 5, 10 and the threshold).
    basemap : "osm", "cartodb", "gaode" (GCJ-02 tiles: overlays are shifted to
        GCJ-02 for display) or "none" (plain background).
    lang : "zh" or "en".
    proposed : proposed sites (e.g. `Proposal.sites`), drawn with their own symbol;
        sites with ``status == "proposed"`` are drawn that way too.
    districts : district polygons to outline.
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"basemap must be one of {', '.join(BASEMAPS)}, not {basemap!r}")
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, not {lang!r}")
    text = LABELS[lang]
    bands = sorted({*(bands_min or (5, 10)), result.threshold_min}) if bands_min is None else sorted(bands_min)
    shift = basemap == "gaode"
    tiles, attribution = BASEMAPS[basemap]
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    if tiles:
        folium.TileLayer(tiles, attr=attribution, name=basemap, subdomains="1234" if basemap == "gaode" else "abc").add_to(m)

    per_site = isochrone_bands(result, bands, buffer_m=buffer_m)
    union = union_bands(per_site)
    for i, band in enumerate(reversed(bands)):
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        layer = folium.FeatureGroup(name=text["band"].format(b=band), show=band == result.threshold_min)
        _geojson(per_site[per_site["band_min"] == band], shift, lambda f, c=colour: {"color": c, "weight": 1, "fillOpacity": 0.15}, "band").add_to(layer)
        layer.add_to(m)
    union_layer = folium.FeatureGroup(name=text["union"].format(b=result.threshold_min), show=False)
    _geojson(union[union["band_min"] == result.threshold_min], shift, lambda f: {"color": "#08519c", "weight": 2, "fillOpacity": 0.1}, "union").add_to(union_layer)
    union_layer.add_to(m)

    if "footprint" in result.demand and result.demand["footprint"].notna().any():
        shapes = gpd.GeoDataFrame({"name": result.demand["demand_name"]}, geometry=result.demand["footprint"], crs=4326).dropna(subset=["geometry"])
        layer = folium.FeatureGroup(name=text["footprints"])
        _geojson(shapes, shift, lambda f: {"color": "#555", "weight": 1, "fillOpacity": 0.05}, "footprint").add_to(layer)
        layer.add_to(m)
    if districts is not None:
        layer = folium.FeatureGroup(name=text["districts"])
        _geojson(districts.to_crs(4326), shift, lambda f: {"color": "#333", "weight": 2, "fill": False, "dashArray": "6 4"}, "district").add_to(layer)
        layer.add_to(m)

    _demand_layer(result, shift, text).add_to(m)
    _site_layer(result, proposed, shift, text).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    west, south, east, north = result.demand.total_bounds if len(result.demand) else result.network.bounds
    m.fit_bounds(_shift_bounds([[south, west], [north, east]], shift))
    m.get_root().html.add_child(Element(_legend(result, text, bands)))
    return m


def save_map(m: folium.Map, path: str | Path, *, offline: bool = True) -> Path:
    """Write the map as one HTML file (atomically); ``offline`` inlines Leaflet instead of linking to the web."""
    html = m.get_root().render()
    if offline:
        html = inline_assets(html)
    return write_text_atomic(path, html)


def inline_assets(html: str) -> str:
    """Inline Leaflet's JS/CSS from the installed folium-offline package; drop the web links the map does not need."""
    from offlinefolium.elements import _res as assets  # folium-offline ships folium's assets as strings

    def script(match: re.Match) -> str:
        url = match.group(1)
        return f"<script>{assets[url]}</script>" if url in assets and any(k in url for k in NEEDED_ASSETS) else ""

    def style(match: re.Match) -> str:
        url = match.group(1)
        return f"<style>{assets[url]}</style>" if url in assets and any(k in url for k in NEEDED_ASSETS) else ""

    html = re.sub(r'<script src="(https?://[^"]+)"></script>', script, html)
    return re.sub(r'<link rel="stylesheet" href="(https?://[^"]+)"/?>', style, html)


def _demand_layer(result: CoverageResult, shift: bool, text: dict) -> folium.FeatureGroup:
    demand = result.demand
    threshold = result.threshold_min
    minutes = demand["walk_min"].to_numpy(float)
    covered = demand["covered"].to_numpy(bool)
    colour = np.where(covered, np.where(minutes > 0.8 * threshold, COLOURS["near"], COLOURS["covered"]),
                      np.where(np.isnan(minutes), COLOURS["unreachable"], COLOURS["outside"]))
    placeholder = (demand["status"] == "placeholder").to_numpy() if "status" in demand else np.zeros(len(demand), bool)
    frame = gpd.GeoDataFrame(
        {
            text["name"]: demand["demand_name"].astype(str),
            text["type"]: demand.get("type"),
            text["district"]: demand.get("district"),
            text["nearest"]: demand["nearest_site_name"],
            text["walk_min"]: np.round(minutes, 1),
            text["snap_m"]: demand["snap_m"],
            text["status"]: np.where(placeholder, text["placeholder"], demand.get("status", "real")),
            "_colour": colour,
            "_placeholder": placeholder,
        },
        geometry=demand.geometry, crs=4326,
    )
    fields = [text[k] for k in ("name", "type", "district", "nearest", "walk_min", "snap_m", "status")]
    layer = folium.FeatureGroup(name=text["demand"])
    folium.GeoJson(
        _rounded(frame, shift),
        name="demand",
        marker=folium.CircleMarker(radius=5, weight=1),
        style_function=lambda f: {
            "fill": True, "radius": 5, "fillColor": f["properties"]["_colour"], "color": "#333" if not f["properties"]["_placeholder"] else f["properties"]["_colour"],
            "fillOpacity": 0.15 if f["properties"]["_placeholder"] else 0.85, "dashArray": "3 3" if f["properties"]["_placeholder"] else None,
        },
        popup=folium.GeoJsonPopup(fields=fields),
    ).add_to(layer)
    return layer


def _site_layer(result: CoverageResult, proposed: gpd.GeoDataFrame | None, shift: bool, text: dict) -> folium.FeatureGroup:
    layer = folium.FeatureGroup(name=text["sites"])
    frames = [result.sites.assign(map_kind=np.where(result.sites.get("status") == "proposed", "proposed", "site"))]
    if proposed is not None and len(proposed):
        frames.append(proposed.to_crs(4326).assign(map_kind="proposed"))
    for frame in frames:
        for row in frame.itertuples():
            lon, lat = _shift_point(row.geometry.x, row.geometry.y, shift)
            status = getattr(row, "status", "real")
            label = text["placeholder"] if status == "placeholder" else text[row.map_kind]
            html = f"<b>{row.name}</b><br>{label}" + (f"<br>{text['district']}: {row.district}" if getattr(row, "district", None) else "")
            symbol = "★" if row.map_kind == "proposed" else "■"
            style = "opacity:0.55;border:2px dashed #333;" if status == "placeholder" else ""
            icon = folium.DivIcon(html=f'<div class="cp-site cp-{row.map_kind}" style="font-size:20px;color:{COLOURS[row.map_kind]};{style}">{symbol}</div>')
            folium.Marker([lat, lon], icon=icon, tooltip=str(row.name), popup=folium.Popup(html, max_width=300)).add_to(layer)
    return layer


def _legend(result: CoverageResult, text: dict, bands: Sequence[float]) -> str:
    t = result.threshold_min
    items = [
        (COLOURS["covered"], text["covered"].format(t=t)), (COLOURS["near"], text["near"]), (COLOURS["outside"], text["outside"].format(t=t)),
        (COLOURS["unreachable"], text["unreachable"]), (COLOURS["site"], "■ " + text["site"]), (COLOURS["proposed"], "★ " + text["proposed"]),
    ]
    rows = "".join(f'<div><span style="display:inline-block;width:12px;height:12px;background:{c};margin-right:6px"></span>{label}</div>' for c, label in items)
    placeholders = int((result.demand.get("status") == "placeholder").sum()) + int((result.sites.get("status") == "placeholder").sum())
    rows += f'<div><span style="display:inline-block;width:10px;height:10px;border:2px dashed #333;margin-right:6px"></span>{text["placeholder"]}: {placeholders}</div>'
    return (
        '<div id="cp-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;padding:8px 10px;'
        f'border:1px solid #999;font-size:12px;line-height:1.6"><b>{text["title"]}</b>{rows}</div>'
    )


def _geojson(frame: gpd.GeoDataFrame, shift: bool, style, name: str) -> folium.GeoJson:
    return folium.GeoJson(_rounded(frame, shift), name=name, style_function=style)


def _rounded(frame: gpd.GeoDataFrame, shift: bool) -> str:
    """GeoJSON text with coordinates rounded to ~1 m (5 decimals), shifted to GCJ-02 when asked."""
    geoms = frame.geometry.to_numpy()
    if shift:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(china.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    geoms = shapely.set_precision(geoms, 1e-5)
    out = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms, crs=4326)
    return out.to_json(drop_id=True, na="null")


def _shift_point(lon: float, lat: float, shift: bool) -> tuple[float, float]:
    if not shift:
        return lon, lat
    x, y = china.wgs84_to_gcj02(lon, lat)
    return float(x), float(y)


def _shift_bounds(bounds, shift: bool):
    if not shift:
        return bounds
    (s, w), (n, e) = bounds
    w, s = _shift_point(w, s, True)
    e, n = _shift_point(e, n, True)
    return [[s, w], [n, e]]
