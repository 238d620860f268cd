"""The run manifest: what went in, with hashes, and the rules applied.

Deliberately without a wall-clock timestamp: the same inputs give a
byte-identical manifest, so runs can be compared and cached.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage_planner._cache.keys import file_sha256
from coverage_planner._meta import OSM_ATTRIBUTION, package_version

if TYPE_CHECKING:
    from coverage_planner.results import CoverageResult


def describe_input(path: str | Path, rows: int | None = None, *, base: str | Path | None = None) -> dict[str, Any]:
    """Path, sha256 and size of one input file.

    Parameters
    ----------
    path : str or Path
        The file.
    rows : int, optional
        Rows read from it, recorded when given.
    base : str or Path, optional
        Record the path relative to this folder (the scenario's), so the
        manifest does not depend on where the run was started.

    Returns
    -------
    dict of str to Any
        ``{"path", "sha256", "bytes"}``, and ``"rows"`` when given.
    """
    path = Path(path)
    info: dict[str, Any] = {
        "path": relative_path(path, base),
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
    }
    if rows is not None:
        info["rows"] = rows
    return info


def build_manifest(result: CoverageResult, *, scenario: Any = None) -> dict[str, Any]:
    """Assemble the manifest of a `CoverageResult` (and the scenario it came from, if any).

    Parameters
    ----------
    result : CoverageResult
        The computed coverage; its sites' and demand's ``source_path`` attrs name the input files.
    scenario : Scenario, optional
        The scenario the run came from; its ``name`` and ``path`` (hashed) are recorded.

    Returns
    -------
    dict of str to Any
        JSON-able; the same inputs give the same manifest.
    """
    net = result.network
    base = Path(scenario.path).resolve().parent if scenario is not None and scenario.path else None
    inputs: dict[str, Any] = {}
    for role, frame in (("sites", result.sites), ("demand", result.demand)):
        source = frame.attrs.get("source_path")
        inputs[role] = (
            describe_input(source, len(frame), base=base)
            if source
            else {"path": None, "rows": len(frame), "note": "GeoDataFrame passed in memory"}
        )
        weight_column = getattr(getattr(scenario, role, None), "weight_column", None) or frame.attrs.get(
            "weight_column"
        )
        if weight_column:
            inputs[role]["weight_column"] = weight_column
    source = net.source.to_dict()
    if source.get("path"):
        source["path"] = relative_path(source["path"], base)
    manifest: dict[str, Any] = {
        "tool": {"name": "coverage-planner", "version": package_version(), "python": platform.python_version()},
        "scenario": None,
        "inputs": inputs,
        "network": {
            **source,
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "walkable_km": round(float(net.edge_length.sum()) / 1000, 3),
            "components": int(net.component.max()) + 1,
            "metric_crs": net.crs.to_string(),
        },
        "parameters": {
            "profile": result.profile_name,
            "speed_kmh": result.speed_kmh,
            "threshold_min": round(result.threshold_min, 4),
            "threshold_m": round(result.threshold_m, 3),
            "preset": result.preset,
            "search_limit_m": round(result.matrix.cutoff_m, 3),
            "access_legs": result.matrix.include_access_legs,
            "max_snap_m": result.max_snap_m,
        },
        "placeholders": {
            role: int((frame["status"] == "placeholder").sum()) if "status" in frame else 0
            for role, frame in (("sites", result.sites), ("demand", result.demand))
        },
        "results": {
            "demand_places": len(result.demand),
            "covered_places": int(result.demand["covered"].sum()),
            "share_places": round(result.share_covered(), 6),
            "share_weight": round(result.share_covered(weighted=True), 6),
            "off_network_places": int(result.demand["off_network"].sum()),
            "median_snap_m": round(float(result.demand["snap_m"].median()), 1) if len(result.demand) else None,
            "places_off_main_component": int((result.demand["component"] > 0).sum()),
        },
        "attribution": OSM_ATTRIBUTION,
    }
    if scenario is not None:
        manifest["scenario"] = {
            "name": scenario.name,
            **(describe_input(scenario.path, base=base) if scenario.path else {"path": None}),
        }
    return manifest


def relative_path(path: str | Path, base: str | Path | None) -> str:
    """``path`` as recorded in a manifest: relative to ``base`` (POSIX separators) when given, else as given.

    Parameters
    ----------
    path : str or Path
        A file.
    base : str or Path, optional
        The scenario's folder.

    Returns
    -------
    str
    """
    if base is None:
        return str(path)
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
