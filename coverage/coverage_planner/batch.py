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
from typing import TYPE_CHECKING

import pandas as pd

from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import CoverageError, ScenarioError
from coverage_planner._meta import package_version
from coverage_planner.config import Scenario
from coverage_planner.escape import safe_folder_name, short_hash
from coverage_planner.outputs.run_folder import is_one_run, output_request, recorded_request

if TYPE_CHECKING:
    import distributed


@dataclass(frozen=True)
class BatchTask:
    """One scenario to run and where its outputs go.

    Parameters
    ----------
    scenario : str
        The scenario TOML file, resolved.
    out_dir : str
        Its own output folder.
    report : bool, default False
        Also write the map and report.
    lang : {"zh", "en"}, default "zh"
        Language of the report.
    """

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
    lang : {"zh", "en"}, default "zh"
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
    """Run one scenario (in a worker or here); never raises: failures come back as a status.

    A scenario whose manifest still matches its inputs and tool version is skipped.

    Parameters
    ----------
    task : BatchTask
        The scenario and its output folder.

    Returns
    -------
    dict
        ``scenario``, ``out_dir``, ``status`` (ok, skipped, failed), ``error``,
        ``covered_share``, ``seconds`` and ``worker_peak_rss_mb``.
    """
    start = time.perf_counter()
    outcome = {"scenario": task.scenario, "out_dir": task.out_dir, "status": "ok", "error": "", "covered_share": None}
    try:
        out_dir = Path(task.out_dir)
        if out_dir.is_symlink():  # a link put there would send the outputs outside the batch's folder
            raise ScenarioError(f"{task.scenario}: the output folder {out_dir} is a link to {out_dir.resolve()}")
        if _up_to_date(task):
            outcome["status"] = "skipped"
        else:
            from coverage_planner.config import Scenario
            from coverage_planner.outputs.run_folder import write_run
            from coverage_planner.pipeline import run_scenario, service_tables

            scenario = Scenario.from_toml(task.scenario)
            result = run_scenario(scenario, progress=False)
            service = service_tables(scenario, result)  # [capacity], [circuits] … as `run` does
            write_run(result, task.out_dir, map=task.report, report=task.report, lang=task.lang, service=service)
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
    client: distributed.Client | None = None,
    n_workers: int = 2,
    report: bool = False,
    lang: str = "zh",
) -> pd.DataFrame:
    """Run scenarios on a Dask cluster: a client's, an existing one at ``scheduler``, or a new LocalCluster.

    Parameters
    ----------
    scenarios : list of str or Path
        Scenario TOML files.
    out_dir : str or Path
        Each scenario's outputs go to ``out_dir / <scenario name>``.
    scheduler : str, optional
        Address of a running ``dask scheduler``. ``tls://HOST:8786`` uses the
        certificates of Dask's own security configuration
        (``distributed.comm.tls.*``); plain ``tcp://`` is unauthenticated and
        carries pickles, so it belongs only on a trusted network.
    client : distributed.Client, optional
        A client to use as is (it is not closed); for notebooks and tests that
        keep one cluster for many batches.
    n_workers : int, default 2
        Worker processes of the LocalCluster started when neither ``client``
        nor ``scheduler`` is given (one thread each).
    report : bool, default False
        Also write each scenario's map and report.
    lang : {"zh", "en"}, default "zh"
        Language of the reports.

    Returns
    -------
    DataFrame
        One row per scenario: status (ok, skipped, failed), error,
        covered_share, seconds, worker_peak_rss_mb (the worker's peak memory
        so far: a worker runs several scenarios one after another), out_dir.

    Raises
    ------
    ScenarioError
        For a ``tls://`` scheduler when Dask's configuration names no certificates.
    """
    from dask.distributed import Client, LocalCluster

    tasks = plan_batch(scenarios, out_dir, report=report, lang=lang)
    if client is not None:
        return _gather(client, tasks)
    cluster = None
    kwargs = {}
    if scheduler is not None and scheduler.startswith("tls://"):
        kwargs["security"] = _tls_security()
    if scheduler is None:
        # Processes, not threads: each scenario holds its own network and GIL-bound pandas work.
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler or cluster, **kwargs) as own:
            return _gather(own, tasks)
    finally:
        if cluster is not None:
            cluster.close()


def _gather(client, tasks: list[BatchTask]) -> pd.DataFrame:
    outcomes = client.gather(client.map(run_task, tasks, pure=False))
    return pd.DataFrame(
        outcomes, columns=["scenario", "status", "error", "covered_share", "seconds", "worker_peak_rss_mb", "out_dir"]
    )


def _tls_security():
    """Dask's security settings from its configuration; a tls:// address with no certificates is refused."""
    from distributed.security import Security

    security = Security()
    if not (security.tls_client_cert or security.tls_ca_file):
        raise ScenarioError(
            "a tls:// scheduler needs certificates: set distributed.comm.tls.ca-file and "
            "distributed.comm.tls.client.cert/key in Dask's configuration (e.g. ~/.config/dask/distributed.yaml)"
        )
    return security


def _up_to_date(task: BatchTask) -> bool:
    """True when the task's manifest records exactly the current inputs, tool version and output request."""
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
    # Written as this task asks (language, map and report), or rerun: the same inputs in zh are not the en run.
    asked = output_request(lang=task.lang, map=task.report, report=task.report, pdf=True, basemap="osm")
    if recorded_request(task.out_dir) != asked:
        return False
    # Every output the manifest lists must be there, unchanged: a mixed or interrupted folder is rerun.
    return is_one_run(task.out_dir)
