"""Write everything a run produces into one folder: tables, map and report."""

from __future__ import annotations

from pathlib import Path

from coverage_planner._timing import StageTimer
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs.tables import write_outputs
from coverage_planner.results import CoverageResult


def write_run(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    map: bool = True,
    report: bool = True,
    lang: str = "zh",
    basemap: str = "osm",
    diff: ScenarioDiff | None = None,
    timer: StageTimer | None = None,
) -> list[Path]:
    """Write a run's tables, and optionally its map and report, into ``out_dir``.

    Parameters
    ----------
    result : CoverageResult
        The run.
    out_dir : str or Path
        Folder to write into (created when missing).
    map : bool, default True
        Write ``map.html`` (offline, self-contained).
    report : bool, default True
        Write ``report.html``/``report.md``, charts and ``tables.xlsx``.
    lang : {"zh", "en"}, default "zh"
        Language of map and report.
    basemap : str, default "osm"
        Basemap of the map (see `coverage_map`).
    diff : ScenarioDiff, optional
        A comparison with an earlier run, shown in the report.
    timer : StageTimer, optional
        Records the time of each stage when given.

    Returns
    -------
    list of Path
        The files written.
    """
    timer = timer or StageTimer()
    out_dir = Path(out_dir)
    with timer.stage("write tables"):
        written = write_outputs(result, out_dir)
    if map:
        from coverage_planner.outputs.maps import coverage_map, save_map

        with timer.stage("write map"):
            written.append(save_map(coverage_map(result, lang=lang, basemap=basemap), out_dir / "map.html"))
    if report:
        from coverage_planner.outputs.report import write_report

        with timer.stage("write report"):
            written += write_report(result, out_dir, lang=lang, diff=diff, map_file="map.html" if map else None)
    return [Path(p) for p in written]


__all__ = ["write_run"]
