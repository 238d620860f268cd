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
