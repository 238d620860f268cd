"""Settings a user may change for a whole session, in the manner of ``osmnx.settings``.

Read at call time, so ``coverage_planner.settings.cache_folder = "/data/cache"``
in a notebook applies to everything that follows::

    import coverage_planner as cp
    cp.settings.cache_folder = "/srv/coverage-cache"
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder for parsed networks, validated place files, snaps, walk rows and
#: downloads. None: ``$COVERAGE_PLANNER_CACHE``, else ``~/.cache/coverage-planner``.
cache_folder: str | Path | None = None

#: Places farther than this from every walkable way are off the network (metres).
DEFAULT_MAX_SNAP_M: float = 250.0

#: Threads the walk kernel uses at most (it also never uses more than the CPUs).
max_walk_threads: int = 4

#: Processes that write a run's outputs (map, workbook, printed map, charts, PDF) side by
#: side; 1 writes them one after another in this process, as does a machine with one CPU.
#: None: ``$COVERAGE_PLANNER_OUTPUT_PROCESSES``, else 4.
max_output_processes: int | None = None


def cache_dir() -> Path:
    """The cache folder in force.

    Returns
    -------
    Path
        `cache_folder` when set, else ``$COVERAGE_PLANNER_CACHE``, else
        ``~/.cache/coverage-planner``.
    """
    if cache_folder is not None:
        return Path(cache_folder)
    env = os.environ.get("COVERAGE_PLANNER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "coverage-planner"


def walk_threads() -> int:
    """How many threads the walk kernel may use now.

    Returns
    -------
    int
        At least 1, at most `max_walk_threads` and the machine's CPU count.
    """
    return max(1, min(int(max_walk_threads), os.cpu_count() or 1))


def output_processes() -> int:
    """How many processes may write a run's outputs side by side now.

    Returns
    -------
    int
        `max_output_processes` (or ``$COVERAGE_PLANNER_OUTPUT_PROCESSES``,
        default 4), at least 1; 1 when this process may run on one CPU only.
    """
    wanted = max_output_processes
    if wanted is None:
        env = os.environ.get("COVERAGE_PLANNER_OUTPUT_PROCESSES", "").strip()
        wanted = int(env) if env.isdigit() else 4
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # More processes than CPUs is fine (they share the CPUs); with one CPU they would only take turns.
    return max(1, int(wanted) if cpus > 1 else 1)
