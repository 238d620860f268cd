"""GCJ-02 points declared as WGS-84 are caught by how they snap to the network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import raw_file
from real_places import beijing_place_frames, write_beijing_scenario
from typer.testing import CliRunner

from coverage_planner import snap_points
from coverage_planner.access.crs_check import CoordinateWarning, check_gcj02
from coverage_planner.cli import app
from coverage_planner.places.china import wgs84_to_gcj02


@pytest.fixture(scope="module")
def gates(beijing):
    """Street-side points of real Beijing buildings (where a planner would pick a compound gate)."""
    _, demand = beijing_place_frames(raw_file("beijing_haidian_cau_map.osm"))
    return snap_points(beijing, demand[["lon", "lat"]].to_numpy()).point_lonlat


def test_true_wgs84_points_are_not_flagged(beijing, gates):
    assert not check_gcj02(beijing, gates).looks_like_gcj02


def test_gcj02_points_declared_wgs84_are_flagged(beijing, gates):
    shifted = np.column_stack(wgs84_to_gcj02(gates[:, 0], gates[:, 1]))
    result = check_gcj02(beijing, shifted)
    assert result.looks_like_gcj02
    assert result.median_snap_if_gcj02_m < 1.0 < result.median_snap_m


def test_points_outside_china_are_not_checked(monaco):
    assert check_gcj02(monaco, monaco.node_lonlat[:50]) is None


def test_run_warns_and_records_the_warning_in_the_manifest(beijing, gates, tmp_path):
    toml = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"))
    demand = pd.read_csv(toml.parent / "demand.csv")
    demand["lon"], demand["lat"] = wgs84_to_gcj02(gates[:, 0], gates[:, 1])  # as picked on Gaode
    demand.to_csv(toml.parent / "demand.csv", index=False)
    with pytest.warns(CoordinateWarning, match="GCJ-02"):
        result = CliRunner().invoke(app, ["run", str(toml), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert "probably GCJ-02" in (tmp_path / "out" / "manifest.json").read_text(encoding="utf-8")
