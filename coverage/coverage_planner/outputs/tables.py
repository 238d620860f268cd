"""Write a run's tables: coverage.csv, summary.csv, coverage.gpkg and manifest.json.

Everything is first written into a staging folder beside the outputs and
only then moved into place, so a failed or interrupted run leaves the
output folder as it was.

coverage.gpkg opens styled in QGIS: besides sites, demand and network QA it
holds the walk-time bands (per site and their union, per band) and a
``layer_styles`` table (`coverage_planner.outputs.gpkg_styles`). It is
byte-identical across reruns: GDAL's own timestamps are pinned through its
``OGR_CURRENT_DATE`` option while it writes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage_planner._errors import DataError
from coverage_planner.escape import csv_frame
from coverage_planner.outputs import gpkg_styles as qml
from coverage_planner.outputs.isochrones import default_bands, isochrone_bands, site_colours, union_bands
from coverage_planner.outputs.manifest import manifest_of
from coverage_planner.results import CoverageResult

OUTPUT_FILES = ("coverage.csv", "summary.csv", "coverage.gpkg", "manifest.json")
#: Layers of coverage.gpkg, in the order they are written (``layer_styles`` is the QGIS style table).
GPKG_LAYERS = ("sites", "demand", "network_qa", "network_crossings", "bands_by_site", "bands_union", "layer_styles")
#: GDAL writes this as the date of every layer (gpkg_contents.last_change) instead of the clock's.
GPKG_DATE = "2000-01-01T00:00:00.000Z"

_LABELS = {
    "zh": {
        "within": "≤ {b:g} 分钟 (覆盖)",
        "between": "{a:g}–{b:g} 分钟 (覆盖)",
        "outside": "> {t:g} 分钟 (未覆盖)",
        "unreached": "无可达站点 / 不在路网上",
        "site": "站点",
        "band": "{b:g} 分钟步行范围 (全部站点)",
        "main": "主路网",
        "island": "孤立路网片段",
        "sites": "站点 (按名称标注)",
        "demand": "需求地点, 按步行分钟着色",
        "bands_by_site": "各站点步行范围, 每站一色",
        "bands_union": "全部站点合并的步行范围",
        "network_qa": "路网连通片段",
        "network_crossings": "无共享节点的道路交叉点 (桥梁/隧道或未打断的路网错误)",
        "crossing_unexplained": "交叉无节点 (需检查)",
        "crossing_offgrade": "桥梁 / 隧道 / 不同层",
    },
    "en": {
        "within": "≤ {b:g} min (covered)",
        "between": "{a:g}–{b:g} min (covered)",
        "outside": "> {t:g} min (not covered)",
        "unreached": "no site reached / off the network",
        "site": "site",
        "band": "{b:g}-minute walk (all sites)",
        "main": "main network",
        "island": "network piece cut off",
        "sites": "sites, labelled by name",
        "demand": "demand places coloured by walk minutes",
        "bands_by_site": "walk-time bands of each site, one colour per site",
        "bands_union": "walk-time bands of all sites together",
        "network_qa": "connected pieces of the network",
        "network_crossings": "roads crossing without a shared node (bridges/tunnels, or noding errors)",
        "crossing_unexplained": "crossing without a node (check)",
        "crossing_offgrade": "bridge / tunnel / other layer",
    },
}
_GREENS = ["#006837", "#31a354", "#78c679", "#c2e699"]
_BLUES = ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef"]


def write_outputs(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    bands_min: Sequence[float] | None = None,
) -> list[Path]:
    """Write the run's tables and manifest into ``out_dir`` atomically.

    CSV files are UTF-8 with a byte-order mark so Excel shows Chinese names
    correctly; text cells a spreadsheet would run as a formula (``=…``,
    ``+…``, ``-…``, ``@…``) start with ``'`` (see
    `coverage_planner.escape.csv_cell`), numbers stay numbers. coverage.csv
    has the WGS-84 ``lon``/``lat`` of each place after the contract columns.

    Parameters
    ----------
    result : CoverageResult
        The run.
    out_dir : str or Path
        Folder to write into (created when missing).
    lang : {"zh", "en"}, default "zh"
        Language of the QGIS legend labels stored in coverage.gpkg.
    bands_min : sequence of float, optional
        Walk-time bands of the GeoPackage's band layers; default 5, 10 and 15
        minutes below the threshold, and the threshold.

    Returns
    -------
    list of Path
        The written paths.
    """
    if lang not in _LABELS:
        raise DataError(f"lang must be one of {', '.join(_LABELS)}, not {lang!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = manifest_of(result)
    manifest["outputs"] = list(OUTPUT_FILES)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        csv_frame(coverage_table(result)).to_csv(staging / "coverage.csv", index=False, encoding="utf-8-sig")
        csv_frame(result.summary()).to_csv(staging / "summary.csv", index=False, encoding="utf-8-sig")
        write_gpkg(result, staging / "coverage.gpkg", lang=lang, bands_min=bands_min)
        (staging / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
        written = []
        for name in OUTPUT_FILES:
            os.replace(staging / name, out_dir / name)
            written.append(out_dir / name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def coverage_table(result: CoverageResult) -> pd.DataFrame:
    """`CoverageResult.table` with each place's WGS-84 ``lon`` and ``lat`` (6 decimals, ~0.1 m) added.

    The columns go right after the contract columns (before any extra
    column the places carried); a place file's own ``lon``/``lat`` column
    of the same name is left as it is.

    Parameters
    ----------
    result : CoverageResult
        The run.

    Returns
    -------
    pandas.DataFrame
        The rows of coverage.csv.
    """
    table = result.table()
    if "lon" in table or "lat" in table:
        return table
    at = list(table.columns).index("status") + 1 if "status" in table else len(table.columns)
    points = result.demand.geometry.reset_index(drop=True)
    table.insert(at, "lon", np.round(points.x.to_numpy(float), 6))
    table.insert(at + 1, "lat", np.round(points.y.to_numpy(float), 6))
    return table


def write_gpkg(
    result: CoverageResult, path: str | Path, *, lang: str = "zh", bands_min: Sequence[float] | None = None
) -> Path:
    """Write coverage.gpkg: sites, demand, network QA, walk-time bands and their QGIS styles.

    Layers (`GPKG_LAYERS`): ``bands_by_site`` (site_id, site_name, minutes;
    one polygon per site and band, cumulative: the 10-minute band contains
    the 5-minute one) and ``bands_union`` (minutes; all sites together),
    largest bands first so smaller ones draw on top; ``layer_styles`` holds
    the QGIS style of every layer. Same result, same bytes.

    Parameters
    ----------
    result : CoverageResult
        The run.
    path : str or Path
        The file to create (replaced when it exists).
    lang : {"zh", "en"}, default "zh"
        Language of the style's legend labels.
    bands_min : sequence of float, optional
        Walk-time bands (default: see `write_outputs`).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    text = _LABELS[lang]
    threshold = float(result.threshold_min)
    bands = default_bands(threshold) if bands_min is None else sorted({float(b) for b in bands_min})
    per_site = isochrone_bands(result, bands)
    per_site = per_site[~per_site.geometry.is_empty]
    union = (
        union_bands(per_site, cache_dir=result.cache_dir)
        if len(per_site)
        else per_site.drop(columns=["site_id", "site_name"])
    )
    colours = site_colours(per_site)
    by_site = gpd.GeoDataFrame(
        {
            "site_id": per_site["site_id"].astype(str).to_numpy(),
            "site_name": per_site["site_name"].astype(str).to_numpy(),
            "minutes": per_site["band_min"].to_numpy(float),
        },
        geometry=per_site.geometry.to_numpy(),
        crs=4326,
    )
    by_site = by_site.iloc[np.argsort(-by_site["minutes"].to_numpy(), kind="stable")]
    all_sites = gpd.GeoDataFrame({"minutes": union["band_min"].to_numpy(float)}, geometry=union.geometry, crs=4326)
    all_sites = all_sites.iloc[::-1]
    with gdal_date(GPKG_DATE):
        _for_gpkg(result.sites).to_file(path, layer="sites", driver="GPKG")
        _for_gpkg(result.demand).to_file(path, layer="demand", driver="GPKG")
        _for_gpkg(result.network_qa()).to_file(path, layer="network_qa", driver="GPKG")
        crossings = _for_gpkg(result.network.unnoded_crossings(result.cache_dir))
        crossings.to_file(path, layer="network_crossings", driver="GPKG", geometry_type="Point")
        by_site.to_file(path, layer="bands_by_site", driver="GPKG", geometry_type="MultiPolygon", promote_to_multi=True)
        all_sites.to_file(path, layer="bands_union", driver="GPKG", geometry_type="MultiPolygon", promote_to_multi=True)
        qml.write_layer_styles(path, _styles(result, bands, colours, by_site, text))
    return path


@contextmanager
def gdal_date(value: str) -> Iterator[None]:
    """Make GDAL write ``value`` wherever a GeoPackage records the current time, then restore the setting.

    Parameters
    ----------
    value : str
        ISO 8601 date-time, e.g. ``2000-01-01T00:00:00.000Z``.
    """
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": value})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def _styles(
    result: CoverageResult,
    bands: list[float],
    colours: dict[object, str],
    by_site: gpd.GeoDataFrame,
    text: dict[str, str],
) -> dict[str, tuple[str, str]]:
    threshold = float(result.threshold_min)
    limits = sorted({b for b in bands if b < threshold} | {threshold})
    rules = []
    for i, b in enumerate(limits):
        colour = _GREENS[min(i, len(_GREENS) - 1)]
        lower = f' AND "walk_min" > {limits[i - 1]:g}' if i else ""
        upper = f' AND "walk_min" <= {b:g}' if i < len(limits) - 1 else ""
        label = text["within"].format(b=b) if i == 0 else text["between"].format(a=limits[i - 1], b=b)
        rules.append((f'"covered"{lower}{upper}', label, qml.Symbol("marker", colour, outline="#ffffff", width=0.2)))
    rules.append(
        (
            'NOT "covered" AND "walk_min" IS NOT NULL',
            text["outside"].format(t=threshold),
            qml.Symbol("marker", "#d7301f", outline="#67000d", width=0.4, size=2.8),
        )
    )
    rules.append(('"walk_min" IS NULL', text["unreached"], qml.Symbol("marker", "#969696", outline="#ffffff")))
    names = dict(zip(by_site["site_id"], by_site["site_name"]))
    categories = [
        (str(site), str(names.get(str(site), site)), qml.Symbol("fill", colour, 0.12, outline=colour, width=0.4))
        for site, colour in colours.items()
    ]
    union_rules = [
        (
            f'"minutes" = {b:g}',
            text["band"].format(b=b),
            qml.Symbol(
                "fill", _BLUES[min(i, len(_BLUES) - 1)], 0.18, outline=_BLUES[min(i, len(_BLUES) - 1)], width=0.5
            ),
        )
        for i, b in enumerate(bands)
    ]
    qa_rules = [
        ('"component" = 0', text["main"], qml.Symbol("line", "#9e9e9e", width=0.3)),
        ("", text["island"], qml.Symbol("line", "#e66101", width=0.8)),
    ]
    crossing_rules = [
        (
            "coalesce(\"marked\", '') = ''",
            text["crossing_unexplained"],
            qml.Symbol("marker", "#d7191c", outline="#ffffff", size=2.6),
        ),
        ("", text["crossing_offgrade"], qml.Symbol("marker", "#969696", outline="#ffffff", size=1.8)),
    ]
    return {
        "sites": (
            qml.single_symbol_qml(
                qml.Symbol("marker", "#2166ac", outline="#ffffff", size=3.4, shape="square"), label_field="name"
            ),
            text["sites"],
        ),
        "demand": (qml.rule_qml(rules), text["demand"]),
        "network_qa": (qml.rule_qml(qa_rules), text["network_qa"]),
        "network_crossings": (qml.rule_qml(crossing_rules), text["network_crossings"]),
        "bands_by_site": (qml.categorized_qml("site_id", categories), text["bands_by_site"]),
        "bands_union": (qml.rule_qml(union_rules), text["bands_union"]),
    }


def _for_gpkg(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop extra geometry columns and make object columns plain text (GPKG is typed)."""
    frame = frame.copy()
    extra_geoms = [
        c for c in frame.columns if c != frame.geometry.name and isinstance(frame[c].dtype, gpd.array.GeometryDtype)
    ]
    frame = frame.drop(columns=extra_geoms)
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].dtype == object:
            frame[column] = frame[column].map(
                lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
            )
    return frame


__all__ = ["GPKG_DATE", "GPKG_LAYERS", "OUTPUT_FILES", "coverage_table", "gdal_date", "write_gpkg", "write_outputs"]
