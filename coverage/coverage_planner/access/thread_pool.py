"""The walk kernel's worker threads: one pool per process, each thread on its own CPU when they cover them all.

On a small virtual machine the scheduler often wakes a second worker on the
CPU that is already running the first (most likely because an idle virtual CPU
can look "preempted" to the guest kernel, which passes it over), and the two take turns on one
CPU for the whole of a short call: two threads measured 1.0× one on calls of
3–13 ms. A thread fixed to each CPU cannot be put there. Fixing threads is only
done when the pool has a thread for every CPU this process may use; on a larger
machine the scheduler's choice among many CPUs is left alone.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

from coverage_planner import settings

_POOL: tuple[int, ThreadPoolExecutor] | None = None


def walk_pool() -> ThreadPoolExecutor:
    """The process's pool for walk chunks, with `coverage_planner.settings.walk_threads` threads.

    One pool per process: starting threads on every call costs about a
    millisecond. It is keyed by process id: a forked child (multiprocessing,
    a forking server) inherits the pool object but not its threads, and would
    wait forever.

    Returns
    -------
    concurrent.futures.ThreadPoolExecutor
        Its threads pinned as `thread_pool` pins them.
    """
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), thread_pool(settings.walk_threads(), name="walks"))
    return _POOL[1]


def thread_pool(threads: int, *, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads each keep to one CPU when there are at least as many threads as CPUs.

    Parameters
    ----------
    threads : int
        Most threads in the pool.
    name : str
        Prefix of the threads' names.

    Returns
    -------
    concurrent.futures.ThreadPoolExecutor
        Thread *i* (in the order the pool starts them) runs only on the
        *i*-th CPU of `pinned_cpus`, round robin; unpinned when that is empty.
    """
    cpus = pinned_cpus(threads)
    if not cpus:
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    order = itertools.count()  # (next() on a count is atomic: threads start one at a time anyway)
    return ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix=name, initializer=_keep_to_cpu, initargs=(cpus, order)
    )


def pinned_cpus(threads: int) -> list[int]:
    """The CPUs a pool of ``threads`` threads is spread over, one thread each; empty when it is not pinned.

    Parameters
    ----------
    threads : int
        Threads in the pool.

    Returns
    -------
    list of int
        This process's CPUs in order when it may use more than one and the
        pool has a thread for each; otherwise empty (no affinity support,
        one CPU, or more CPUs than threads).
    """
    if not hasattr(os, "sched_setaffinity"):
        return []
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if 1 < len(cpus) <= threads else []


def _keep_to_cpu(cpus: list[int], order: itertools.count) -> None:
    try:
        os.sched_setaffinity(0, {cpus[next(order) % len(cpus)]})  # 0: this thread only, on Linux
    except OSError:  # a CPU taken away since (cgroup change): the thread simply runs anywhere
        pass
