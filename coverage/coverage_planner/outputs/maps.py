"""Interactive coverage maps (folium): walk-time bands, sites, demand places coloured by walk minutes.

`coverage_map` draws a `CoverageResult` for planners: walk-time bands of each
site and of all sites together (`coverage_planner.outputs.isochrones`, display only), the
sites (existing and proposed), every demand place coloured by its walk
minutes, compound outlines and districts when known, a legend and a layer
control. Placeholder data (``status == "placeholder"``) is drawn dashed and
hollow and counted in the legend. `save_map` writes one HTML file; with
``offline=True`` it needs nothing from the web (`coverage_planner.outputs._offline_assets`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element

from coverage_planner._io import atomic_path
from coverage_planner.outputs._offline_assets import inline_assets
from coverage_planner.escape import html_in_js_template, html_text
from coverage_planner.outputs.isochrones import DEFAULT_BANDS_MIN, isochrone_bands, union_bands
from coverage_planner.places import china
from coverage_planner.results import CoverageResult

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
    "none": None,
}
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "步行 {t:g} 分钟覆盖",
        "speed": "步速 {v:g} 公里/小时",
        "demand": "需求地点",
        "sites": "现有站点",
        "proposed": "拟建站点",
        "band": "{b:g} 分钟步行范围 (各站点)",
        "union": "{b:g} 分钟步行范围 (全部站点)",
        "footprints": "小区范围",
        "districts": "行政区",
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
        "snap_m": "距道路 (米)",
        "status": "状态",
        "covers": "覆盖需求点",
        "places": "需求地点 (步行时间)",
        "bands": "步行范围",
        "note": "范围图仅示意：是否覆盖按路网步行距离计算。",
    },
    "en": {
        "title": "{t:g}-minute walking coverage",
        "speed": "walking at {v:g} km/h",
        "demand": "demand places",
        "sites": "existing sites",
        "proposed": "proposed sites",
        "band": "{b:g}-minute walk (each site)",
        "union": "{b:g}-minute walk (all sites)",
        "footprints": "compounds",
        "districts": "districts",
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
        "snap_m": "to the street (m)",
        "status": "status",
        "covers": "places covered",
        "places": "demand places (walk time)",
        "bands": "walk-time bands",
        "note": "Bands are for display: coverage is computed on the street network.",
    },
}
COVERED_COLOURS = ["#006837", "#31a354", "#78c679", "#c2e699"]  # darkest = nearest
OUTSIDE, UNREACHED, SITE, PROPOSED = "#d7301f", "#969696", "#2166ac", "#7b3294"
BAND_COLOURS = ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef"]
_CSS = """<style>
div.leaflet-container { background: #f3f1ec; font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif; }
.cp-legend { position: absolute; bottom: 40px; left: 10px; font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif; z-index: 1000; background: rgba(255,255,255,.94); padding: 8px 10px;
  border: 1px solid #999; border-radius: 4px; font-size: 12px; line-height: 1.55; max-width: 290px; }
.cp-legend .sw { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 50%; }
.cp-legend summary { cursor: pointer; } .cp-legend .note { color: #555; margin-top: 4px; } .cp-legend .warn { color: #b35806; font-weight: bold; }
.cp-icon { font-size: 22px; line-height: 22px; text-align: center; text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
.cp-placeholder-site { opacity: .6; outline: 2px dashed #333; }
</style>"""


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
) -> folium.Map:
    """Build the interactive map of a coverage run.

    Parameters
    ----------
    result : the coverage run.
    bands_min : walk-time bands to draw; default 5, 10 and 15 minutes up to the
        run's threshold, plus the threshold itself.
    basemap : ``"osm"``, ``"cartodb"``, ``"gaode"`` or ``"none"`` (plain
        background). Gaode's tiles are in GCJ-02, so with it every overlay is
        shifted to GCJ-02 for display (the data stay WGS-84).
    lang : ``"zh"`` or ``"en"`` labels.
    proposed : proposed sites (e.g. ``Proposal.sites``), drawn with their own
        symbol. Sites of the result with ``status`` or ``kind`` equal to
        ``"proposed"``, or whose id is in ``proposed``, are drawn that way too.
        Bands are drawn for the run's own sites only.
    districts : district polygons to outline (a ``name`` column labels them).
    buffer_m, simplify_m : half-width of the band strips and outline
        simplification, metres (see `coverage_planner.outputs.isochrones.isochrone_bands`).

    Returns
    -------
    folium.Map
        Layers: one per band for the sites' own bands (the threshold band
        shown), one per band for all sites together (hidden), compounds,
        districts, demand places, existing and proposed sites; a legend and
        a layer control; the view fits the data.
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"basemap must be one of {', '.join(BASEMAPS)}, not {basemap!r}")
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, not {lang!r}")
    text = LABELS[lang]
    threshold = float(result.threshold_min)
    bands = default_bands(threshold) if bands_min is None else sorted({float(b) for b in bands_min})
    shift = basemap == "gaode"
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)  # SVG: one element per drawn shape
    if BASEMAPS[basemap]:
        url, attribution, subdomains, name = BASEMAPS[basemap]
        folium.TileLayer(url, attr=attribution, name=name, subdomains=subdomains, max_zoom=19).add_to(m)
    m.get_root().header.add_child(Element(_CSS), name="cp_css")

    per_site = isochrone_bands(result, bands, buffer_m=buffer_m, simplify_m=simplify_m)
    per_site = per_site[~per_site.geometry.is_empty]
    shown = threshold if threshold in bands else bands[-1]
    for i, band in reversed(list(enumerate(bands))):  # largest first, so smaller bands draw on top
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        rows = per_site[per_site["band_min"] == band].assign(site=lambda f: _escaped(f["site_name"]))
        layer = folium.FeatureGroup(name=html_text(text["band"].format(b=band)), show=band == shown)
        style = {"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.08, "className": "cp-band"}
        _geojson(rows[["site", "geometry"]], shift, lambda f, s=style: s, tooltip=["site"]).add_to(layer)
        layer.add_to(m)
    union = union_bands(per_site) if len(per_site) else per_site
    for i, band in reversed(list(enumerate(bands))):
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        layer = folium.FeatureGroup(name=html_text(text["union"].format(b=band)), show=False)
        style = {"color": colour, "weight": 2, "fillColor": colour, "fillOpacity": 0.18, "className": "cp-union"}
        _geojson(union[union["band_min"] == band][["geometry"]], shift, lambda f, s=style: s).add_to(layer)
        layer.add_to(m)

    classes = demand_classes(result, bands)
    if "footprint" in result.demand and result.demand["footprint"].notna().any():
        _footprint_layer(result, classes, shift, text).add_to(m)
    if districts is not None and len(districts):
        _district_layer(districts, shift, text).add_to(m)
    _demand_layer(result, classes, shift, text).add_to(m)
    for layer in _site_layers(result, proposed, shift, text):
        layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    points = pd.concat([result.demand.geometry, result.sites.geometry], ignore_index=True)
    west, south, east, north = points.total_bounds if len(points) else result.network.bounds
    (west, east), (south, north) = _shift_xy(np.array([west, east]), np.array([south, north]), shift)
    m.fit_bounds(np.round([[south, west], [north, east]], 5).tolist())
    m.get_root().html.add_child(Element(_legend(result, classes, bands, text)), name="cp_legend")
    return m


def save_map(m: folium.Map, path: str | Path, *, offline: bool = True) -> Path:
    """Write the map as one HTML file, atomically.

    With ``offline`` (the default) Leaflet's and folium's JavaScript and CSS
    are inlined from the installed ``folium-offline`` package, so the page
    opens with no internet (basemap tiles then stay blank and the data show
    on a plain background). Without it the page links them from their CDNs.
    """
    _number_elements(m.get_root())
    page = m.get_root().render()
    if offline:
        page = inline_assets(page)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def _number_elements(root) -> None:
    """Give every folium element a sequential id instead of a random one, so the same map renders to the same bytes.

    Elements hang off their parents' children and off attributes (a popup's
    ``html``, a figure's ``header``), walked in a fixed order.
    """
    from branca.element import Element

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


def default_bands(threshold_min: float) -> list[float]:
    """5, 10 and 15 minutes where below the threshold, and the threshold itself."""
    return sorted({b for b in DEFAULT_BANDS_MIN if b < threshold_min} | {float(threshold_min)})


def demand_classes(result: CoverageResult, bands: Sequence[float]) -> pd.DataFrame:
    """Legend class of every demand place: ``key`` (``within:i`` for the i-th band, ``outside``, ``unreached``) and ``colour``.

    Covered places are graded green by the bands up to the threshold (the
    threshold is always a limit), places beyond it red, and places with no
    site within the search limit, or off the network, grey.
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


def _demand_layer(result: CoverageResult, classes: pd.DataFrame, shift: bool, text: dict) -> folium.FeatureGroup:
    demand = result.demand
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
    props["snap_m"] = demand["snap_m"].round(0)
    props["status"] = _escaped(status.map({"placeholder": text["placeholder"], "real": text["real"]}).fillna(status))
    frame = gpd.GeoDataFrame(
        {**props, "_colour": classes["colour"], "_key": classes["key"], "_ph": status == "placeholder"},
        geometry=demand.geometry,
        crs=4326,
    )
    shown = [
        k for k in ("name", "type", "district", "community", "nearest", "walk_min", "snap_m", "status") if k in props
    ]
    layer = folium.FeatureGroup(name=html_text(text["demand"]))
    _geojson(
        frame,
        shift,
        _demand_style,
        marker=folium.CircleMarker(radius=5),
        popup=folium.GeoJsonPopup(fields=shown, aliases=[html_text(text[k]) for k in shown]),
        tooltip=["name"] if "name" in props else None,
    ).add_to(layer)
    return layer


def _demand_style(feature: dict) -> dict[str, Any]:
    p = feature["properties"]
    style = {"fill": True, "fillColor": p["_colour"], "fillOpacity": 0.9, "color": "#ffffff", "weight": 1, "radius": 5}
    if p["_key"] == "outside":  # not covered: larger, with a dark ring, so it reads apart from green at a glance
        style.update(color="#67000d", weight=2, radius=6)
    if p["_ph"]:  # placeholder: hollow and dashed
        style.update(color=p["_colour"], weight=2, fillOpacity=0.15, dashArray="3 3")
    style["className"] = f"cp-demand cp-{p['_key'].split(':')[0]}" + (" cp-placeholder" if p["_ph"] else "")
    return style


def _footprint_layer(result: CoverageResult, classes: pd.DataFrame, shift: bool, text: dict) -> folium.FeatureGroup:
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

    _geojson(shapes, shift, style, tooltip=["name"]).add_to(layer)
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
    result: CoverageResult, proposed: gpd.GeoDataFrame | None, shift: bool, text: dict
) -> list[folium.FeatureGroup]:
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
            _site_marker(row, x, y, text).add_to(layers[bool(row["_new"])])
    return [layers[False]] + ([layers[True]] if len(layers[True]._children) else [])


def _site_marker(row: dict, lon: float, lat: float, text: dict) -> folium.Marker:
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
    return folium.Marker(
        [round(lat, 5), round(lon, 5)],
        icon=icon,
        tooltip=html_in_js_template(name),
        popup=folium.Popup("<br>".join(lines), max_width=300),
    )


def _legend(result: CoverageResult, classes: pd.DataFrame, bands: Sequence[float], text: dict) -> str:
    # Only this module's own labels and numbers go into the legend, never text from the data.
    threshold, limits = float(result.threshold_min), classes.attrs["limits"]
    counts = classes["key"].value_counts()
    search_min = result.matrix.cutoff_m / result.metres_per_minute
    entries = []
    for i, b in enumerate(limits):
        label = text["within"].format(b=b) if i == 0 else text["between"].format(a=limits[i - 1], b=b)
        colour = classes.loc[classes["key"] == f"within:{i}", "colour"]
        entries.append(
            (
                colour.iloc[0] if len(colour) else COVERED_COLOURS[min(i, len(COVERED_COLOURS) - 1)],
                label,
                counts.get(f"within:{i}", 0),
                "",
            )
        )
    entries.append(
        (OUTSIDE, text["outside"].format(t=threshold), counts.get("outside", 0), "border:2px solid #67000d;")
    )
    entries.append((UNREACHED, text["unreached"].format(s=search_min), counts.get("unreached", 0), ""))
    rows = [
        f'<div><span class="sw" style="background:{c};{extra}"></span>{label}: {n}</div>'
        for c, label, n, extra in entries
    ]
    rows.append(f'<div style="margin-top:4px"><b>{text["bands"]}</b></div>')
    for i, b in enumerate(bands):
        c = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        rows.append(
            f'<div><span class="sw" style="background:{c};opacity:.5;border-radius:2px"></span>{text["band"].format(b=b)}</div>'
        )
    rows.append(
        f'<div><span style="color:{SITE};font-size:15px">■</span> {text["sites"]} &nbsp; <span style="color:{PROPOSED};font-size:15px">★</span> {text["proposed"]}</div>'
    )
    n_places, n_sites = (
        int((_status(result.demand) == "placeholder").sum()),
        int((_status(result.sites) == "placeholder").sum()),
    )
    warn = ' class="warn"' if n_places + n_sites else ""
    detail = f" ({text['demand']} {n_places}, {text['sites']} {n_sites})" if n_places + n_sites else ""
    rows.append(
        f'<div{warn}><span class="sw" style="border:2px dashed #333;background:transparent"></span>{text["placeholder"]}: {n_places + n_sites}{detail}</div>'
    )
    head = f"<b>{text['title'].format(t=threshold)}</b> · {text['speed'].format(v=result.speed_kmh)}"
    # A <details> the planner can fold away when it hides a popup.
    return (
        f'<details id="cp-legend" class="cp-legend" open><summary>{head}</summary><div style="margin-top:4px"><b>{text["places"]}</b></div>'
        f'{"".join(rows)}<div class="note">{text["note"]}</div></details>'
    )


def _geojson(
    frame: gpd.GeoDataFrame, shift: bool, style, *, marker=None, popup=None, tooltip: list[str] | None = None
) -> folium.GeoJson:
    """A GeoJSON layer with coordinates rounded to 1e-5° (~1 m) and shifted to GCJ-02 when asked."""
    if not len(frame):  # folium cannot style or label an empty layer; keep the layer, drop the extras
        return folium.GeoJson({"type": "FeatureCollection", "features": []})
    geoms = frame.geometry.to_numpy()
    if shift:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(china.wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    data = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms, crs=4326).reset_index(drop=True)
    return folium.GeoJson(
        json.loads(data.to_json(na="null")),
        style_function=style,
        marker=marker,
        popup=popup,
        tooltip=folium.GeoJsonTooltip(fields=tooltip, labels=False) if tooltip else None,
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
    return values.map(lambda v: None if _missing(v) else html_text(v)).astype(object)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


__all__ = ["BASEMAPS", "LABELS", "coverage_map", "default_bands", "demand_classes", "save_map"]
