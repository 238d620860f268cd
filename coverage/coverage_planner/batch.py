"""Many scenarios at once on Dask: cities, districts, what-if site sets.

Each task gets only file paths, reads its own inputs and writes its own
outputs (atomically, as `run` does), so workers share nothing but the
filesystem. A failing scenario is reported with its error and the others go
on; a scenario whose outputs' manifest still matches its inputs (same file
hashes, same tool version) is skipped on a rerun.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from coverage_planner._errors import CoverageError, ScenarioError
from coverage_planner.config import Scenario
from coverage_planner.network.graph import file_sha256
from coverage_planner.escape import safe_folder_name, short_hash
from coverage_planner.outputs.manifest import package_version


@dataclass(frozen=True)
class BatchTask:
    """One scenario to run and where its outputs go."""

    scenario: str
    out_dir: str
    report: bool = False
    lang: str = "zh"


def plan_batch(
    scenarios: list[str | Path], out_dir: str | Path, *, report: bool = False, lang: str = "zh"
) -> list[BatchTask]:
    """One task per scenario file, each with its own output folder inside ``out_dir``, named after the file.

    Parameters
    ----------
    scenarios : list of str or Path
        Scenario TOML files.
    out_dir : str or Path
        The batch's output folder.
    report : bool, default False
        Also write each scenario's report.
    lang : str, default "zh"
        Language of the reports.

    Returns
    -------
    list of BatchTask
        In the order given. Folder names keep letters of any script, digits,
        ``_``, ``-`` and inner dots (`coverage_planner.escape.safe_folder_name`),
        so no name climbs out of ``out_dir`` (a file called ``...toml`` goes to
        ``scenario``). Two scenarios never share a folder, also not on a
        case-insensitive file system: the second ``scenario.toml`` is named
        after its folder too (``b_scenario``), and a name still taken gets
        the first 8 hex digits of the SHA-256 of the file's resolved path
        (and ``-2``, ``-3`` … for the same file listed again).
    """
    root = Path(out_dir).resolve()
    tasks, used = [], set()
    for path in scenarios:
        path = Path(path)
        resolved = path.resolve()
        name = safe_folder_name(path.stem)
        if name.casefold() in used:  # two scenario.toml files in different folders
            name = safe_folder_name(f"{resolved.parent.name}_{name}")
        if name.casefold() in used:  # a name taken by yet another scenario, or the same file twice
            base = f"{safe_folder_name(name, max_length=70)}-{short_hash(str(resolved))}"
            name, n = base, 1
            while name.casefold() in used:
                n += 1
                name = f"{base}-{n}"
        used.add(name.casefold())
        tasks.append(BatchTask(str(resolved), str(root / name), report, lang))
    return tasks


def run_task(task: BatchTask) -> dict:
    """Run one scenario (in a worker or here); never raises: failures come back as a status."""
    start = time.perf_counter()
    outcome = {"scenario": task.scenario, "out_dir": task.out_dir, "status": "ok", "error": "", "covered_share": None}
    try:
        out_dir = Path(task.out_dir)
        if out_dir.is_symlink():  # a link put there would send the outputs outside the batch's folder
            raise ScenarioError(f"{task.scenario}: the output folder {out_dir} is a link to {out_dir.resolve()}")
        if _up_to_date(task):
            outcome["status"] = "skipped"
        else:
            from coverage_planner.outputs.tables import write_outputs
            from coverage_planner.pipeline import run_scenario

            result = run_scenario(task.scenario, progress=False)
            write_outputs(result, task.out_dir)
            if task.report:
                from coverage_planner.outputs.report import write_report

                write_report(result, task.out_dir, lang=task.lang)
            outcome["covered_share"] = round(result.share_covered(), 6)
    except CoverageError as exc:
        outcome.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not stop the batch
        outcome.update(status="failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    outcome["seconds"] = round(time.perf_counter() - start, 3)
    outcome["worker_peak_rss_mb"] = _peak_rss_mb()
    return outcome


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (a worker's, when run on Dask), in MB."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB elsewhere


def run_batch(
    scenarios: list[str | Path],
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    report: bool = False,
    lang: str = "zh",
) -> pd.DataFrame:
    """Run scenarios on a Dask cluster: an existing one at ``scheduler``, or a LocalCluster.

    Parameters
    ----------
    scenarios : scenario TOML files.
    out_dir : each scenario's outputs go to ``out_dir / <scenario name>``.
    scheduler : address of a running ``dask scheduler`` (e.g. "tcp://10.0.0.5:8786");
        None starts a LocalCluster of ``n_workers`` processes, one thread each.
    report : also write each scenario's report.

    Returns
    -------
    DataFrame with one row per scenario: status (ok, skipped, failed), error,
    covered_share, seconds, worker_peak_rss_mb (the worker's peak memory so
    far: a worker runs several scenarios one after another), out_dir.
    """
    from dask.distributed import Client, LocalCluster

    tasks = plan_batch(scenarios, out_dir, report=report, lang=lang)
    cluster = None
    if scheduler is None:
        # Processes, not threads: each scenario holds its own network and GIL-bound pandas work.
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            futures = client.map(run_task, tasks, pure=False)
            outcomes = client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
    return pd.DataFrame(
        outcomes, columns=["scenario", "status", "error", "covered_share", "seconds", "worker_peak_rss_mb", "out_dir"]
    )


def _up_to_date(task: BatchTask) -> bool:
    """True when the task's manifest records exactly the current inputs and tool version."""
    manifest_path = Path(task.out_dir) / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        scenario = Scenario.from_toml(task.scenario)
    except (OSError, ValueError, CoverageError):
        return False
    if manifest.get("tool", {}).get("version") != package_version():
        return False
    recorded = {
        "scenario": manifest.get("scenario", {}).get("sha256"),
        "sites": manifest.get("inputs", {}).get("sites", {}).get("sha256"),
        "demand": manifest.get("inputs", {}).get("demand", {}).get("sha256"),
        "network": manifest.get("network", {}).get("sha256"),
    }
    for role, path in scenario.input_files().items():
        if not path.is_file() or recorded.get(role) != file_sha256(path):
            return False
    if task.report and not (Path(task.out_dir) / "report.html").is_file():
        return False
    return True
