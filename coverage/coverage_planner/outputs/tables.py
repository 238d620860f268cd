"""Write a run's tables: coverage.csv, summary.csv, coverage.gpkg and manifest.json.

Everything is first written into a staging folder beside the outputs and
only then moved into place, so a failed or interrupted run leaves the
output folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from coverage_planner.escape import csv_frame
from coverage_planner.outputs.manifest import build_manifest
from coverage_planner.results import CoverageResult

OUTPUT_FILES = ("coverage.csv", "summary.csv", "coverage.gpkg", "manifest.json")


def write_outputs(result: CoverageResult, out_dir: str | Path) -> list[Path]:
    """Write the run's tables and manifest into ``out_dir`` atomically.

    CSV files are UTF-8 with a byte-order mark so Excel shows Chinese names
    correctly; text cells a spreadsheet would run as a formula (``=…``,
    ``+…``, ``-…``, ``@…``) start with ``'`` (see
    `coverage_planner.escape.csv_cell`), numbers stay numbers.

    Returns
    -------
    list of the written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = dict(result.manifest) if result.manifest else build_manifest(result)
    manifest["outputs"] = list(OUTPUT_FILES)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        csv_frame(result.table()).to_csv(staging / "coverage.csv", index=False, encoding="utf-8-sig")
        csv_frame(result.summary()).to_csv(staging / "summary.csv", index=False, encoding="utf-8-sig")
        gpkg = staging / "coverage.gpkg"
        _for_gpkg(result.sites).to_file(gpkg, layer="sites", driver="GPKG")
        _for_gpkg(result.demand).to_file(gpkg, layer="demand", driver="GPKG")
        _for_gpkg(result.network_qa()).to_file(gpkg, layer="network_qa", driver="GPKG")
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
