"""The run manifest: what went in, with hashes, and the rules applied.

Deliberately without a wall-clock timestamp: the same inputs give a
byte-identical manifest, so runs can be compared and cached.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
    return _described(Path(path), rows, None if base is None else Path(base).resolve())


def _described(
    path: Path, rows: int | None, resolved_base: Path | None, resolved: Path | None = None
) -> dict[str, Any]:
    # ``resolved_base`` already resolved: each input costs one resolution of its own path, not three
    # (none when the caller has ``resolved`` it already).
    if resolved_base is not None and resolved is None:
        resolved = path.resolve()
    info: dict[str, Any] = {
        "path": str(path) if resolved_base is None else _relative_to(resolved, resolved_base, path),
        "sha256": file_sha256(path),  # remembered per size and mtime: an unchanged input is not read again
        "bytes": os.stat(path).st_size,
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
    scenario_file = Path(scenario.path).resolve() if scenario is not None and scenario.path else None
    base = scenario_file.parent if scenario_file is not None else None
    inputs: dict[str, Any] = {}
    for role, frame in (("sites", result.sites), ("demand", result.demand)):
        source = frame.attrs.get("source_path")
        inputs[role] = (
            _described(Path(source), len(frame), base)
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
        source["path"] = (
            str(source["path"]) if base is None else _relative_to(Path(source["path"]).resolve(), base, source["path"])
        )
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
        "placeholders": None,  # (both filled by `describing`; here they hold their place in the key order)
        "results": None,
        "attribution": OSM_ATTRIBUTION,
    }
    manifest = describing(manifest, result)
    if scenario is not None:
        manifest["scenario"] = {
            "name": scenario.name,
            **(_described(Path(scenario.path), None, base, scenario_file) if scenario.path else {"path": None}),
        }
    return manifest


def manifest_of(result: CoverageResult) -> dict[str, Any]:
    """The manifest to write with ``result``: the one it carries, counting its own coverage, or a new one.

    Parameters
    ----------
    result : CoverageResult
        The result being written.

    Returns
    -------
    dict
        ``describing(result.manifest, result)``, or `build_manifest` when the result carries none.
    """
    return describing(result.manifest, result) if result.manifest else build_manifest(result)


def describing(manifest: dict[str, Any], result: CoverageResult) -> dict[str, Any]:
    """``manifest`` with its account of the result (placeholder counts, results) taken from ``result`` itself.

    A result made from another (`with_sites`, a proposal's coverage after)
    carries the earlier run's manifest: its inputs and parameters still hold,
    but its counts and shares are the earlier coverage's.

    Parameters
    ----------
    manifest : dict
        A manifest (`build_manifest`), not modified.
    result : CoverageResult
        The result it is written with.

    Returns
    -------
    dict
        A copy with ``placeholders`` and ``results`` of ``result``.
    """
    return {
        **manifest,
        "placeholders": {
            role: _placeholders(frame) for role, frame in (("sites", result.sites), ("demand", result.demand))
        },
        "results": _results(result),
    }


def _placeholders(frame: Any) -> int:
    if "status" not in frame.columns:
        return 0
    return int(np.count_nonzero(frame["status"].to_numpy(object) == "placeholder"))


def _results(result: CoverageResult) -> dict[str, Any]:
    # Plain arrays: this runs on every rerun, and column-wise pandas reductions cost more than the sums.
    demand = result.demand
    covered = demand["covered"].to_numpy(bool)
    snap_m = demand["snap_m"].to_numpy(float)
    present = snap_m[~np.isnan(snap_m)]  # the median skips missing values, as pandas' does
    return {
        "demand_places": len(demand),
        "covered_places": int(np.count_nonzero(covered)),
        "share_places": round(result.share_covered(), 6),
        "share_weight": round(result.share_covered(weighted=True), 6),
        "off_network_places": int(np.count_nonzero(demand["off_network"].to_numpy(bool))),
        "median_snap_m": (
            round(float(np.median(present)) if len(present) else float("nan"), 1) if len(demand) else None
        ),
        "places_off_main_component": int(np.count_nonzero(demand["component"].to_numpy() > 0)),
    }


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
    return _relative_to(Path(path).resolve(), Path(base).resolve(), path)


def _relative_to(resolved: Path, resolved_base: Path, given: str | Path) -> str:
    try:
        return Path(os.path.relpath(resolved, resolved_base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(given)
