"""Map data built from arrays: GeoJSON feature collections, and large point sets drawn on one canvas.

`feature_collection` gives the same dictionary as GeoPandas'
``json.loads(frame.to_json(na="null"))`` without going through JSON text
or per-row pandas access (several times faster on city-size tables).

`CanvasPoints` draws tens of thousands of demand places as Leaflet circle
markers on one canvas, from a compact JSON array (integer coordinates, a
style index, and per-field value tables), with one click handler that
builds the popup of the place clicked. SVG with one element per place
(the GeoJSON layer) takes minutes to open in a browser at 100,000 places.
"""

from __future__ import annotations

import json
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.utilities import get_obj_in_upper_tree
from jinja2 import Template

#: From this many demand places on, the map draws them on one canvas instead of one SVG element each.
CANVAS_MIN_PLACES = 20_000
#: The legend's note on a canvas-drawn demand layer, by language.
CANVAS_NOTE = {
    "zh": "共 {n:,} 个需求地点，以圆点绘于一个画布图层（无悬停名称）；点击圆点查看详情。完整表格见 GeoPackage。",
    "en": (
        "{n:,} demand places drawn as dots on one canvas layer (no hover names); "
        "click a dot for its details. The full table is in the GeoPackage."
    ),
}


def feature_collection(properties: pd.DataFrame, geometries: np.ndarray) -> dict[str, Any]:
    """A GeoJSON FeatureCollection as a dictionary, feature ids ``"0"``, ``"1"``, … in row order.

    Parameters
    ----------
    properties : pandas.DataFrame
        One column per feature property, rows aligned with ``geometries``;
        missing values (NaN, None, NA) become ``None``.
    geometries : ndarray of shapely.Geometry
        One geometry per row; empty or missing ones become ``None``.

    Returns
    -------
    dict
        Equal to ``json.loads(GeoDataFrame(properties, geometry=geometries).to_json(na="null"))``
        up to tuples in place of lists.
    """
    names = [str(c) for c in properties.columns]
    columns = [_plain_values(properties[c]) for c in properties.columns]
    shapes = _geometry_dicts(np.asarray(geometries, dtype=object))
    rows = zip(*columns) if columns else ((),) * len(shapes)
    features = [
        {"id": str(i), "type": "Feature", "properties": dict(zip(names, row)), "geometry": shape}
        for i, (row, shape) in enumerate(zip(rows, shapes))
    ]
    return {"type": "FeatureCollection", "features": features}


class GroupedStyleGeoJson(folium.GeoJson):
    """A GeoJSON layer whose style depends only on a few properties: the style function runs once per combination.

    folium calls the style function and writes its JSON for every feature
    when the page renders; this layer does it once per distinct value of
    ``style_keys`` and builds the same style table (features by id, the
    same default entry), so the page is byte for byte the same.

    Parameters
    ----------
    data : dict
        A FeatureCollection whose features all have ids.
    style_keys : sequence of str
        The properties the style function reads.
    **kwargs
        As for ``folium.GeoJson`` (``style_function`` required).
    """

    def __init__(self, data: dict, *, style_keys: tuple[str, ...], **kwargs: Any):
        super().__init__(data, **kwargs)
        self.style_keys = tuple(style_keys)

    def render(self, **kwargs: Any) -> None:
        """Build the style table by combination, then render as ``folium.GeoJson`` does.

        Parameters
        ----------
        **kwargs
            Passed on to folium's rendering.
        """
        features = self.data["features"]
        if not (self.style and features and self.feature_identifier == "feature.id") or self.highlight:
            super().render(**kwargs)
            return
        self.parent_map = get_obj_in_upper_tree(self, folium.Map)
        keys: dict[tuple, str] = {}
        mapping: dict[str, list] = {}
        for feature in features:
            combo = tuple(feature["properties"][k] for k in self.style_keys)
            if combo not in keys:
                text = json.dumps(self.style_function(feature), sort_keys=True)
                keys[combo] = text.replace('"{{', "{{").replace('}}"', "}}")
            mapping.setdefault(keys[combo], []).append(feature["id"])
        default = max(mapping, key=mapping.get)  # the entry folium makes the default (its rule, kept exactly)
        mapping["default"] = default
        del mapping[default]
        self.style_map = mapping
        super(folium.GeoJson, self).render(**kwargs)  # skip folium's per-feature pass, keep the rest


def _plain_values(values: pd.Series) -> list[Any]:
    """Python scalars of a column, missing ones as None (as GeoPandas writes them with ``na="null"``)."""
    missing = pd.isna(values).to_numpy()
    out = values.astype(object).tolist() if values.dtype == object else values.to_numpy().tolist()
    if missing.any():
        for i in np.flatnonzero(missing):
            out[i] = None
    return out


def _geometry_dicts(geoms: np.ndarray) -> list[Any]:
    """``shapely.geometry.mapping`` of each geometry (None when empty or missing); points straight from their coordinates."""
    out: list[Any] = [None] * len(geoms)
    present = np.array([g is not None for g in geoms], dtype=bool)
    if not present.any():
        return out
    kinds = np.full(len(geoms), -1)
    kinds[present] = shapely.get_type_id(geoms[present])
    empty = np.zeros(len(geoms), dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    points = np.flatnonzero((kinds == 0) & ~empty)
    if len(points):
        xy = shapely.get_coordinates(geoms[points]).tolist()
        for i, (x, y) in zip(points.tolist(), xy):
            out[i] = {"type": "Point", "coordinates": (x, y)}
    for i in np.flatnonzero(present & ~empty & (kinds != 0)).tolist():
        out[i] = shapely.geometry.mapping(geoms[i])
    return out


def _safe_json(value: Any) -> str:
    """JSON for a ``<script>`` that folium renders once more as a Jinja2 template.

    ``<``, ``>`` and ``&`` (only ever inside strings) are written as
    ``\\u003c`` … so no text closes the script, and braces inside strings as
    ``\\u007b``/``\\u007d`` so no text reads as a template tag (outside
    strings a brace is always followed by a quote or a closing brace).
    """
    text = _encode(value)
    for char, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, code)
    return text


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        if not any(isinstance(v, str | dict | list | tuple) for v in value):  # numbers and nulls: one call
            return json.dumps(list(value), separators=(",", ":"), allow_nan=False)
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


class CanvasPoints(MacroElement):
    """Demand places as circle markers on one Leaflet canvas, with one popup handler for them all.

    Add it to the demand layer's ``FeatureGroup``. The page carries, per
    place, ``[lat, lon, style]`` in 1e-5 degrees and, per popup field, a
    column of values (text fields as indexes into a table of distinct
    values, already HTML-escaped). Each marker carries
    ``feature.properties._i`` (its place index), so handlers written for the
    GeoJSON layer (routes on click) work unchanged.

    Parameters
    ----------
    lat, lon : ndarray of float
        Display coordinates, degrees.
    styles : list of dict
        Distinct Leaflet path options (``radius``, ``color``, ``className`` …).
    style_index : ndarray of int
        Index into ``styles`` of each place.
    fields : list of (str, str, list)
        Popup rows in order: (key, escaped label, values), values one per
        place: escaped text, a number or None (row left out).
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = (function () {
    var data = {{ this.data }};
    var renderer = L.canvas({padding: 0.5});
    var group = L.featureGroup();
    var styles = data.styles, pts = data.points, n = pts.length / 3;
    for (var i = 0; i < n; i++) {
        var o = Object.assign({renderer: renderer, bubblingMouseEvents: true}, styles[pts[3 * i + 2]]);
        var m = L.circleMarker([pts[3 * i] / 1e5, pts[3 * i + 1] / 1e5], o);
        m.feature = {properties: {_i: i}};
        group.addLayer(m);
    }
    function cell(f, i) {
        var v = f.values[i];
        if (v === null) { return null; }
        return f.table ? f.table[v] : String(v);
    }
    group.on('click', function (e) {
        var i = e.layer.feature.properties._i, rows = [];
        data.fields.forEach(function (f) {
            var v = cell(f, i);
            if (v !== null) { rows.push('<tr><th>' + f.label + '</th><td>' + v + '</td></tr>'); }
        });
        L.popup({maxWidth: 300}).setLatLng(e.layer.getLatLng())
            .setContent('<table class="cp-canvas-popup">' + rows.join('') + '</table>').openOn(e.target._map);
    });
    group.addTo({{ this._parent.get_name() }});
    return group;
})();
{% endmacro %}"""
    )

    def __init__(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        styles: list[dict[str, Any]],
        style_index: np.ndarray,
        fields: list[tuple[str, str, list[Any]]],
    ):
        super().__init__()
        self._name = "CanvasPoints"
        ints = np.column_stack(
            [np.round(np.asarray(lat, float) * 1e5), np.round(np.asarray(lon, float) * 1e5), style_index]
        )
        self.count = len(ints)
        columns = []
        for key, label, values in fields:
            values = [None if isinstance(v, float) and not np.isfinite(v) else v for v in values]
            texts = [v for v in values if isinstance(v, str)]
            if texts and len(texts) == sum(v is not None for v in values):
                table = sorted(set(texts))
                position = {v: k for k, v in enumerate(table)}
                columns.append(
                    {"key": key, "label": label, "table": table, "values": [position.get(v) for v in values]}
                )
            else:
                columns.append({"key": key, "label": label, "values": values})
        self.data = _safe_json({"styles": styles, "points": ints.astype(np.int64).ravel().tolist(), "fields": columns})
