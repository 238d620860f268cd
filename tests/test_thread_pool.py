"""The walk pool's threads each keep to their own CPU when there is a thread for every CPU."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import shapely

from coverage_planner import settings
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.access.thread_pool import pinned_cpus, thread_pool, walk_pool

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only")

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def affinities(pool, threads: int) -> list[set[int]]:
    """The CPU set of each of ``threads`` pool threads, every one running at once (a barrier holds them)."""
    barrier = threading.Barrier(threads, timeout=30)

    def report() -> tuple[int, frozenset[int]]:
        barrier.wait()  # all threads busy together: each task is on its own thread
        return threading.get_ident(), frozenset(os.sched_getaffinity(0))

    seen = dict(pool.map(lambda _: report(), range(threads)))
    assert len(seen) == threads
    return list(seen.values())


@pytest.mark.skipif(len(CPUS) < 2, reason="needs a process that may use two CPUs")
def test_one_thread_per_cpu_each_keeps_to_its_own():
    pool = thread_pool(len(CPUS), name="test-pinned")
    try:
        got = affinities(pool, len(CPUS))
    finally:
        pool.shutdown()
    assert sorted(min(s) for s in got) == CPUS
    assert all(len(s) == 1 for s in got)


@pytest.mark.skipif(len(CPUS) < 2, reason="needs a process that may use two CPUs")
def test_more_threads_than_cpus_share_them_round_robin():
    pool = thread_pool(2 * len(CPUS), name="test-pinned")
    try:
        got = affinities(pool, 2 * len(CPUS))
    finally:
        pool.shutdown()
    assert all(len(s) == 1 for s in got)
    assert sorted(min(s) for s in got) == sorted(CPUS * 2)


def test_fewer_threads_than_cpus_are_left_to_the_scheduler():
    pool = thread_pool(1, name="test-unpinned")
    try:
        (got,) = affinities(pool, 1)
    finally:
        pool.shutdown()
    assert got == set(CPUS)
    assert pinned_cpus(1) == []
    assert os.sched_getaffinity(0) == set(CPUS)  # the calling thread is never touched


def test_the_walk_pool_follows_the_rule_and_the_walks_agree(monaco):
    """The pool AccessMatrix uses is pinned by the same rule, and chunked walks in it equal one chunk in this thread."""
    threads = settings.walk_threads()
    expected = pinned_cpus(threads)
    got = affinities(walk_pool(), threads)
    if expected:
        share = expected * (threads // len(expected)) + expected[: threads % len(expected)]
        assert sorted(min(s) for s in got) == sorted(share) and all(len(s) == 1 for s in got)
    else:
        assert all(s == set(CPUS) for s in got)
    rng = np.random.default_rng(3)
    edges = rng.integers(0, monaco.n_edges, 260)
    points = shapely.line_interpolate_point(monaco.edges_wgs84[edges], rng.uniform(0, 1, 260), normalized=True)
    snaps = snap_points(monaco, shapely.get_coordinates(points))
    sites, demand = snaps.take(np.arange(60)), snaps.take(np.arange(60, 260))
    pooled = AccessMatrix.compute(monaco, sites, demand, 1200.0, chunk_size=8, progress=False)
    single = AccessMatrix.compute(monaco, sites, demand, 1200.0, chunk_size=60, progress=False)
    a = sorted(zip(pooled.rows.tolist(), pooled.cols.tolist(), pooled.metres.tolist()))
    b = sorted(zip(single.rows.tolist(), single.cols.tolist(), single.metres.tolist()))
    assert a == b and len(a) > 100
