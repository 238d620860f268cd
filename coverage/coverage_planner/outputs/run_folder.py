"""Write everything a run produces into one folder: tables, map and report, as one unit.

Every file is first written into a staging folder beside the run folder, then
moved in; what an earlier run wrote and this one did not is removed, and
``manifest.json`` goes last, listing every output with its sha256. A reader
(or `batch`'s up-to-date check) that finds a file whose hash differs from the
manifest's knows the folder is not one run's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coverage_planner._cache.keys import file_sha256
from coverage_planner._io import write_text_atomic
from coverage_planner._timing import StageTimer
from coverage_planner._workers import side_by_side
from coverage_planner.diff import ScenarioDiff
from coverage_planner.outputs.service import ServiceTables
from coverage_planner.outputs.tables import write_outputs
from coverage_planner.results import CoverageResult

MANIFEST = "manifest.json"
_STAGING_PREFIX = ".staging-"
#: The manifest's record of what was asked for: the same inputs written in another language are another run.
REQUEST_KEY = "written_with"


def output_request(
    *, lang: str, map: bool, report: bool, pdf: bool, basemap: str, ledger: str | Path | None = None
) -> dict[str, Any]:
    """What a run folder was written with, as its manifest records it under `REQUEST_KEY`.

    Parameters
    ----------
    lang : {"zh", "en"}
        Language of tables, map and report.
    map, report, pdf : bool
        Which outputs were asked for (``pdf`` counts only with the report).
    basemap : str
        The map's basemap.
    ledger : str or Path, optional
        The ledger written back; only its file name is kept (the folder may move).

    Returns
    -------
    dict
        ``lang``, ``map``, ``report``, ``pdf``, ``basemap`` and ``ledger``.
    """
    return {
        "lang": lang,
        "map": bool(map),
        "report": bool(report),
        "pdf": bool(report and pdf),
        "basemap": basemap if map else None,
        "ledger": Path(ledger).name if ledger is not None else None,
    }


def recorded_request(out_dir: str | Path) -> dict[str, Any] | None:
    """The output request the folder's manifest records (`output_request`), or None without one.

    Parameters
    ----------
    out_dir : str or Path
        A run folder.

    Returns
    -------
    dict or None
    """
    request = _read_manifest(out_dir).get(REQUEST_KEY)
    return request if isinstance(request, dict) else None


def _read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The folder's manifest, or an empty dict when it is missing or not a JSON object."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def write_run(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    map: bool = True,
    report: bool = True,
    lang: str = "zh",
    basemap: str = "osm",
    diff: ScenarioDiff | None = None,
    pdf: bool = True,
    ledger: str | Path | None = None,
    ledger_sheet: str | None = None,
    proposal: Any = None,
    map_options: dict[str, Any] | None = None,
    timer: StageTimer | None = None,
    service: ServiceTables | None = None,
) -> list[Path]:
    """Write a run's tables, and optionally its map, report and written-back ledger, into ``out_dir`` as one unit.

    Parameters
    ----------
    result : CoverageResult
        The run.
    out_dir : str or Path
        Folder to write into (created when missing). Files of an earlier run
        that this run does not write again are removed; other files are left alone.
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
    pdf : bool, default True
        With the report, also ``report.pdf``.
    ledger : str or Path, optional
        The planner's ledger (XLSX or CSV) the demand was read from: written
        back as ``ledger_written_back.<suffix>`` with each place's answer
        appended (`coverage_planner.outputs.ledger.write_ledger`); the ledger
        itself is only read.
    ledger_sheet : str, optional
        The ledger's sheet the places came from.
    proposal : Proposal, optional
        Adds 新增覆盖 to the written-back ledger.
    map_options : dict, optional
        More keyword arguments of `coverage_map` (``labels``, ``routes``, ``bands_min`` …).
    timer : StageTimer, optional
        Records the time of each stage when given.
    service : ServiceTables, optional
        Service planning (`coverage_planner.plan.service.ServicePlan.tables`):
        its CSVs (`SERVICE_FILES`) are written with the run and it is shown on
        the map and in the report. None or empty: nothing changes.

    Returns
    -------
    list of Path
        The files written, ``manifest.json`` last.
    """
    timer = timer or StageTimer()
    out_dir = Path(out_dir)
    with staged(out_dir) as staging:
        with timer.stage("write tables"), _fixed_gpkg_timestamp():
            write_outputs(result, staging, lang=lang)
        shown = {} if service is None or service.is_empty() else {"service": service}
        if shown:
            with timer.stage("write service tables"):
                write_service_tables(service, staging)
        write_back = None
        if ledger is not None:

            def write_back() -> list[Path]:
                from coverage_planner.outputs.ledger import write_ledger

                target = staging / f"ledger_written_back{Path(ledger).suffix.lower()}"
                write_ledger(result, ledger, target, lang=lang, proposal=proposal, sheet=ledger_sheet)
                return [target]

        if map or report:
            parts = [n for n, on in (("map", map), ("report", report), ("ledger", write_back)) if on]
            with timer.stage("write " + " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)):
                write_map_and_report(
                    result,
                    staging,
                    map=map,
                    report=report,
                    lang=lang,
                    basemap=basemap,
                    map_options={**(map_options or {}), **shown},
                    diff=diff,
                    pdf=pdf,
                    beside=write_back,
                    **shown,
                )
        elif write_back is not None:
            with timer.stage("write the ledger back"):
                write_back()
        request = output_request(lang=lang, map=map, report=report, pdf=pdf, basemap=basemap, ledger=ledger)
        return move_in(staging, out_dir, request=request)


@contextmanager
def staged(out_dir: str | Path) -> Iterator[Path]:
    """A staging folder inside ``out_dir`` for one run's files, removed when the block ends.

    Write every file of the run into it, then `move_in`: an error before that
    leaves ``out_dir`` as it was. Staging folders and partial files an
    interrupted run left are removed first.

    Parameters
    ----------
    out_dir : str or Path
        The run folder (created when missing).

    Yields
    ------
    Path
        The staging folder.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_map_and_report(
    result: CoverageResult,
    out_dir: str | Path,
    *,
    map: bool = True,
    report: bool = True,
    lang: str = "zh",
    basemap: str = "osm",
    map_options: dict[str, Any] | None = None,
    beside: Callable[[], list[Path]] | None = None,
    **report_options: Any,
) -> list[Path]:
    """Write ``map.html`` and the report into ``out_dir``: the map in a worker while the report is laid out here.

    Parameters
    ----------
    result : CoverageResult
        The run.
    out_dir : str or Path
        Folder to write into.
    map, report : bool, default True
        Which of the two to write.
    lang : {"zh", "en"}, default "zh"
        Language of both.
    basemap : str, default "osm"
        Basemap of the map (see `coverage_map`).
    map_options : dict, optional
        More keyword arguments of `coverage_map`.
    beside : callable, optional
        More work that needs neither (writing the ledger back): run after the map, in its worker,
        so it is not waited for before the report starts. Returns the files it wrote.
    **report_options
        More keyword arguments of `write_report` (``diff``, ``pdf``, ``proposal``, ``service`` …).

    Returns
    -------
    list of Path
        The files written: the map's and ``beside``'s first, then the report's.
    """
    out_dir = Path(out_dir)

    def write_map() -> list[Path]:
        from coverage_planner.outputs.maps import coverage_map, save_map  # folium loads in the worker

        return [save_map(coverage_map(result, lang=lang, basemap=basemap, **(map_options or {})), out_dir / "map.html")]

    def report_files() -> list[Path]:
        from coverage_planner.outputs.report import write_report

        map_file = "map.html" if map else None
        return write_report(result, out_dir, lang=lang, map_file=map_file, **report_options)

    def map_and_more() -> list[Path]:
        return (write_map() if map else []) + (beside() if beside is not None else [])

    if map and report and report_options.get("pdf", True):
        # The map needs nothing of the report, and the PDF needs the report's pictures: drawn while the PDF is
        # laid out rather than beside the pictures, it leaves no CPU idle during the layout.
        from coverage_planner.outputs.report import write_report

        return write_report(result, out_dir, lang=lang, map_file="map.html", beside_pdf=map_and_more, **report_options)
    tasks = [task for task, wanted in ((map_and_more, map or beside is not None), (report_files, report)) if wanted]
    return [path for files in side_by_side(tasks) for path in files]


#: The service-planning CSVs of a run folder, by the `ServiceTables` part each holds.
SERVICE_FILES: dict[str, str] = {
    "site_loads": "site_loads.csv",
    "assignment": "assignment.csv",
    "volunteers": "volunteers.csv",
    "accessibility": "accessibility.csv",
    "equity": "equity.csv",
    "circuit_schedule": "circuit_schedule.csv",
    "circuit_routes": "circuit_routes.csv",
    "circuit_unscheduled": "circuit_unscheduled.csv",
    "clinics": "clinics.csv",
    "clinics_reached": "clinics_reached.csv",
}


def write_service_tables(service: ServiceTables, out_dir: str | Path) -> list[Path]:
    """Write the set parts of ``service`` as CSVs (UTF-8 with BOM for Excel, text cells formula-safe).

    Parameters
    ----------
    service : ServiceTables
        The tables; parts that are None are skipped (an empty circuit
        ``unscheduled`` table too).
    out_dir : str or Path
        Folder to write into (created when missing).

    Returns
    -------
    list of Path
        The files written, in `SERVICE_FILES` order.
    """
    from coverage_planner.escape import csv_frame

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for part, name in SERVICE_FILES.items():
        frame = getattr(service, part)
        if frame is None or (part == "circuit_unscheduled" and frame.empty):
            continue
        frame = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
        text = "\ufeff" + csv_frame(frame).to_csv(index=False)
        written.append(Path(write_text_atomic(folder / name, text)))
    return written


@contextmanager
def _fixed_gpkg_timestamp() -> Iterator[None]:
    """GDAL stamps GeoPackages with the current time; a fixed one makes reruns byte-identical."""
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def remove_leftovers(out_dir: str | Path) -> list[Path]:
    """Remove staging folders and partial files an interrupted run left in ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        A run folder.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed = []
    for path in Path(out_dir).glob(".*"):
        if path.name.startswith(_STAGING_PREFIX) or ".part" in path.name:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def recorded_outputs(out_dir: str | Path) -> dict[str, str] | None:
    """The outputs a run folder's manifest lists, name → sha256 (None when there is no readable list).

    Parameters
    ----------
    out_dir : str or Path
        A run folder.

    Returns
    -------
    dict or None
    """
    outputs = _read_manifest(out_dir).get("outputs")
    return dict(outputs) if isinstance(outputs, dict) else None


def is_one_run(out_dir: str | Path) -> bool:
    """Whether every output the manifest lists is there with the recorded sha256.

    Parameters
    ----------
    out_dir : str or Path
        A run folder.

    Returns
    -------
    bool
        False when the manifest is missing, lists no outputs, or any file is
        missing or differs (an interrupted or mixed folder).
    """
    outputs = recorded_outputs(out_dir)
    if not outputs:
        return False
    folder = Path(out_dir)
    return all((folder / name).is_file() and file_sha256(folder / name) == digest for name, digest in outputs.items())


def move_in(
    staging: str | Path,
    out_dir: str | Path,
    manifest: dict[str, Any] | None = None,
    *,
    request: dict[str, Any] | None = None,
) -> list[Path]:
    """Move the staged files into ``out_dir`` as one run: the earlier run's other outputs go, the manifest comes last.

    An output the folder's earlier manifest listed and this run did not write
    is removed when it is still as that run wrote it (same sha256); a file
    changed since (a planner's edit) or never listed stays.

    Parameters
    ----------
    staging : str or Path
        The staging folder (`staged`) holding every file of the run.
    out_dir : str or Path
        The run folder.
    manifest : dict, optional
        The run's manifest; default the ``manifest.json`` staged with the
        tables (`write_outputs`). Its ``outputs`` become every file's sha256.
    request : dict, optional
        What the run was asked for (`output_request`), recorded under `REQUEST_KEY`.

    Returns
    -------
    list of Path
        The files moved in, ``manifest.json`` last.
    """
    staging, out_dir = Path(staging), Path(out_dir)
    previous = recorded_outputs(out_dir) or {}
    names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file() and p.name != MANIFEST)
    hashes = {name: file_sha256(staging / name) for name in names}
    if manifest is None:
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
    manifest = {k: v for k, v in manifest.items() if k != "outputs"}
    if request is not None:
        manifest[REQUEST_KEY] = request
    manifest["outputs"] = hashes  # the file list last
    written = []
    for name in names:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, out_dir / name)
        written.append(out_dir / name)
    root = out_dir.resolve()
    for name, digest in previous.items():
        stale = (out_dir / name).resolve()
        # Only files the earlier manifest listed, only inside this folder, and only as that run wrote them.
        if name in hashes or name == MANIFEST or not stale.is_relative_to(root) or not stale.is_file():
            continue
        if file_sha256(stale) == digest:
            stale.unlink()
    text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n"
    written.append(Path(write_text_atomic(out_dir / MANIFEST, text)))
    return written


__all__ = [
    "REQUEST_KEY",
    "SERVICE_FILES",
    "is_one_run",
    "move_in",
    "output_request",
    "recorded_outputs",
    "recorded_request",
    "remove_leftovers",
    "staged",
    "write_map_and_report",
    "write_run",
    "write_service_tables",
]
