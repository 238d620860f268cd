"""QGIS layer styles stored inside a GeoPackage (the ``layer_styles`` table), so QGIS opens the layers styled.

QGIS looks, when it opens a GeoPackage layer, for a row of ``layer_styles``
with ``f_table_schema = ''``, the layer's table name and geometry column,
and takes its ``styleQML`` (the default one first). The table is written
through GDAL as an attribute table, as QGIS itself creates it. The QML
documents are built with ElementTree, so names from the data (site names
as category labels) are XML-escaped.

Each symbol layer carries its properties twice, as ``<Option>`` (QGIS 3.26
and later) and as ``<prop>`` (earlier 3.x), so both read them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: The time written into ``update_time``: fixed, so the same run gives the same file.
STYLE_TIME = "2000-01-01T00:00:00Z"
#: Geometry column name GDAL gives GeoPackage layers (QGIS matches styles on it).
GEOMETRY_COLUMN = "geom"
_QGIS_VERSION = "3.22.0"


@dataclass(frozen=True)
class Symbol:
    """One simple symbol: a point marker, a line or a polygon fill.

    Parameters
    ----------
    kind : {"marker", "line", "fill"}
        What the symbol draws.
    colour : str
        ``#rrggbb``.
    opacity : float, default 1.0
        Of the fill or marker colour (outlines stay opaque).
    outline : str, optional
        Outline colour ``#rrggbb``; None for none.
    width : float, default 0.3
        Line or outline width, millimetres.
    size : float, default 2.4
        Marker size, millimetres.
    shape : str, default "circle"
        Marker shape name in QGIS (``circle``, ``square``, ``star`` …).
    dashed : bool, default False
        Dashed line or outline.
    """

    kind: str
    colour: str
    opacity: float = 1.0
    outline: str | None = None
    width: float = 0.3
    size: float = 2.4
    shape: str = "circle"
    dashed: bool = False


def rgba(colour: str, opacity: float = 1.0) -> str:
    """``#rrggbb`` and an opacity as QGIS's ``r,g,b,a`` (0–255).

    Parameters
    ----------
    colour : str
        ``#rrggbb``.
    opacity : float, default 1.0
        0 (transparent) to 1 (opaque).

    Returns
    -------
    str
        E.g. ``"255,0,0,128"``.
    """
    value = colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * opacity)}"


def single_symbol_qml(symbol: Symbol, *, label_field: str | None = None) -> str:
    """QML of a layer drawn with one symbol, optionally labelled by a field.

    Parameters
    ----------
    symbol : Symbol
        How every feature is drawn.
    label_field : str, optional
        Field whose value labels each feature.

    Returns
    -------
    str
        The QML document.
    """
    root = _root(label_field)
    renderer = ET.SubElement(root, "renderer-v2", _renderer_attrs("singleSymbol"))
    symbols = ET.SubElement(renderer, "symbols")
    _symbol(symbols, "0", symbol)
    _finish(root, label_field)
    return _text(root)


def categorized_qml(
    field: str, categories: Sequence[tuple[str, str, Symbol]], *, label_field: str | None = None
) -> str:
    """QML of a layer coloured by the text value of one field.

    Parameters
    ----------
    field : str
        The field.
    categories : sequence of (str, str, Symbol)
        (value, legend label, symbol) per category; labels are XML-escaped.
    label_field : str, optional
        Field whose value labels each feature.

    Returns
    -------
    str
        The QML document.
    """
    root = _root(label_field)
    renderer = ET.SubElement(root, "renderer-v2", {**_renderer_attrs("categorizedSymbol"), "attr": field})
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, symbol) in enumerate(categories):
        ET.SubElement(cats, "category", {"render": "true", "symbol": str(i), "value": str(value), "label": label})
        _symbol(symbols, str(i), symbol)
    _finish(root, label_field)
    return _text(root)


def rule_qml(rules: Sequence[tuple[str, str, Symbol]], *, label_field: str | None = None) -> str:
    """QML of a rule-based layer: each feature drawn by every rule whose filter expression holds.

    Parameters
    ----------
    rules : sequence of (str, str, Symbol)
        (QGIS filter expression, legend label, symbol) per rule. An empty
        filter is ``ELSE`` (features no other rule matched).
    label_field : str, optional
        Field whose value labels each feature.

    Returns
    -------
    str
        The QML document.
    """
    root = _root(label_field)
    renderer = ET.SubElement(root, "renderer-v2", _renderer_attrs("RuleRenderer"))
    top = ET.SubElement(renderer, "rules", {"key": "{root}"})
    symbols = ET.SubElement(renderer, "symbols")
    for i, (expression, label, symbol) in enumerate(rules):
        attrs = {"key": f"{{rule-{i}}}", "symbol": str(i), "label": label, "filter": expression or "ELSE"}
        ET.SubElement(top, "rule", attrs)
        _symbol(symbols, str(i), symbol)
    _finish(root, label_field)
    return _text(root)


def write_layer_styles(path: str | Path, styles: Mapping[str, tuple[str, str]]) -> None:
    """Add a ``layer_styles`` table to a GeoPackage, one default style per layer.

    Parameters
    ----------
    path : str or Path
        An existing GeoPackage that holds the layers.
    styles : mapping
        Layer name → (QML, description).
    """
    import pyogrio

    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": layer,
            "f_geometry_column": GEOMETRY_COLUMN,
            "styleName": layer,
            "styleQML": qml,
            "styleSLD": "",
            "useAsDefault": True,
            "description": description,
            "owner": "",
            "ui": "",
            "update_time": pd.Timestamp(STYLE_TIME),
        }
        for layer, (qml, description) in styles.items()
    ]
    pyogrio.write_dataframe(pd.DataFrame(rows), path, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})


def _root(label_field: str | None) -> ET.Element:
    attrs = {
        "version": _QGIS_VERSION,
        "styleCategories": "Symbology|Labeling",
        "labelsEnabled": "1" if label_field else "0",
        "hasScaleBasedVisibilityFlag": "0",
    }
    return ET.Element("qgis", attrs)


def _renderer_attrs(kind: str) -> dict[str, str]:
    return {"type": kind, "forceraster": "0", "symbollevels": "0", "enableorderby": "0"}


def _symbol(parent: ET.Element, name: str, symbol: Symbol) -> None:
    element = ET.SubElement(
        parent, "symbol", {"name": name, "type": symbol.kind, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"}
    )
    outline = rgba(symbol.outline) if symbol.outline else "0,0,0,0"
    dash = "dash" if symbol.dashed else "solid"
    if symbol.kind == "marker":
        cls, props = (
            "SimpleMarker",
            {
                "name": symbol.shape,
                "color": rgba(symbol.colour, symbol.opacity),
                "outline_color": outline,
                "outline_style": "solid" if symbol.outline else "no",
                "outline_width": f"{symbol.width:g}",
                "outline_width_unit": "MM",
                "size": f"{symbol.size:g}",
                "size_unit": "MM",
            },
        )
    elif symbol.kind == "line":
        cls, props = (
            "SimpleLine",
            {
                "line_color": rgba(symbol.colour, symbol.opacity),
                "line_width": f"{symbol.width:g}",
                "line_width_unit": "MM",
                "line_style": dash,
                "capstyle": "round",
                "joinstyle": "round",
            },
        )
    else:
        cls, props = (
            "SimpleFill",
            {
                "color": rgba(symbol.colour, symbol.opacity),
                "style": "solid",
                "outline_color": outline,
                "outline_style": dash if symbol.outline else "no",
                "outline_width": f"{symbol.width:g}",
                "outline_width_unit": "MM",
            },
        )
    layer = ET.SubElement(element, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in props.items():
        ET.SubElement(options, "Option", {"name": key, "type": "QString", "value": value})
    for key, value in props.items():
        ET.SubElement(layer, "prop", {"k": key, "v": value})


def _finish(root: ET.Element, label_field: str | None) -> None:
    if label_field:
        labeling = ET.SubElement(root, "labeling", {"type": "simple"})
        settings = ET.SubElement(labeling, "settings", {"calloutType": "simple"})
        style = ET.SubElement(
            settings,
            "text-style",
            {
                "fieldName": label_field,
                "isExpression": "0",
                "fontFamily": "Noto Sans CJK SC",
                "fontSize": "9",
                "fontSizeUnit": "Point",
                "textColor": "33,33,33,255",
                "textOpacity": "1",
            },
        )
        ET.SubElement(
            style,
            "text-buffer",
            {
                "bufferDraw": "1",
                "bufferSize": "0.8",
                "bufferSizeUnits": "MM",
                "bufferColor": "255,255,255,255",
                "bufferOpacity": "1",
            },
        )
        ET.SubElement(settings, "placement", {"placement": "0", "dist": "1.5", "distUnits": "MM"})
        ET.SubElement(settings, "rendering", {"obstacle": "1", "scaleVisibility": "0"})
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "blendMode").text = "0"


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


__all__ = [
    "GEOMETRY_COLUMN",
    "STYLE_TIME",
    "Symbol",
    "categorized_qml",
    "rgba",
    "rule_qml",
    "single_symbol_qml",
    "write_layer_styles",
]
