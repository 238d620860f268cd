"""Outputs written side by side in forked workers: same answers, same files and same errors as one after another."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import pytest
from conftest import raw_file
from real_places import write_beijing_scenario

from coverage_planner import _workers, settings
from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import InputError
from coverage_planner._workers import WorkerError, fork_is_safe, side_by_side
from coverage_planner.outputs.run_folder import write_run
from coverage_planner.pipeline import run_scenario


@pytest.fixture
def processes(monkeypatch):
    def use(n: int) -> None:
        monkeypatch.setattr(settings, "max_output_processes", n)

    return use


def test_tasks_run_in_other_processes_and_answer_in_order(processes):
    processes(4)
    assert fork_is_safe(), [t.name for t in threading.enumerate()]
    answers = side_by_side([lambda i=i: (i, os.getpid()) for i in range(4)])
    assert [i for i, _ in answers] == [0, 1, 2, 3]
    pids = [pid for _, pid in answers]
    assert pids[-1] == os.getpid() and len(set(pids)) == 4  # three workers, the last task here


def test_the_process_cap_runs_the_rest_here(processes):
    processes(2)
    pids = side_by_side([os.getpid] * 3)
    assert pids[0] != os.getpid() and pids[1:] == [os.getpid()] * 2
    processes(1)
    assert side_by_side([os.getpid] * 3) == [os.getpid()] * 3


def test_an_unknown_thread_means_no_fork(processes):
    processes(4)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="someone-elses")
    thread.start()
    try:
        assert not fork_is_safe()
        assert side_by_side([os.getpid, os.getpid]) == [os.getpid()] * 2
    finally:
        stop.set()
        thread.join()
    assert fork_is_safe()


def test_a_workers_error_comes_back_with_its_type_fields_and_traceback(processes, tmp_path):
    processes(4)

    def bad_row():
        raise InputError(tmp_path / "sites.csv", "not a number", row=7, field="capacity")

    with pytest.raises(InputError) as caught:
        side_by_side([bad_row, lambda: None])
    exc = caught.value
    assert (exc.row, exc.field, exc.path) == (7, "capacity", tmp_path / "sites.csv")
    assert "sites.csv" in str(exc) and "row 7" in str(exc)
    assert any("bad_row" in note and "worker process" in note for note in exc.__notes__)


def test_the_first_error_in_task_order_wins_and_every_worker_finishes(processes, tmp_path):
    processes(4)
    done = tmp_path / "done"

    def slow_then_write():
        time.sleep(0.3)
        done.write_text("finished", encoding="utf-8")

    def fails(message):
        def task():
            raise ValueError(message)

        return task

    with pytest.raises(ValueError, match="first"):
        side_by_side([slow_then_write, fails("first"), fails("second")])
    assert done.read_text(encoding="utf-8") == "finished"  # waited for, not left writing into a removed folder


def test_a_workers_warnings_are_given_here_as_if_it_ran_here(processes, tmp_path):
    from coverage_planner._errors import CacheWarning

    processes(4)

    def warns():
        warnings.warn(CacheWarning(f"{tmp_path / 'bands'} is damaged; its bands are rebuilt"), stacklevel=1)
        return os.getpid()

    with pytest.warns(CacheWarning, match="bands are rebuilt") as record:
        pids = side_by_side([warns, os.getpid])
    assert pids[0] != os.getpid() and len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # the filters in force apply inside the worker too
        with pytest.raises(CacheWarning, match="bands are rebuilt"):
            side_by_side([warns, os.getpid])


def test_a_worker_that_dies_is_an_error_not_a_hang(processes):
    processes(4)
    with pytest.raises(WorkerError, match="signal 9"):
        side_by_side([lambda: os.kill(os.getpid(), signal.SIGKILL), lambda: None])


def test_an_unpicklable_answer_is_reported(processes):
    processes(4)
    with pytest.raises(TypeError, match="pickle"):
        side_by_side([lambda: threading.Lock(), lambda: None])


def test_the_run_folder_is_the_same_bytes_side_by_side_and_one_by_one(processes, tmp_path):
    scenario = write_beijing_scenario(tmp_path / "in", raw_file("beijing_haidian_cau_map.osm"), threshold_min=5)
    result = run_scenario(scenario, progress=False)
    folders = {}
    for n in (1, 4):
        processes(n)
        forked = _workers.fork_is_safe()
        assert forked == (n > 1)
        folders[n] = tmp_path / f"out-{n}"
        write_run(result, folders[n], lang="zh", basemap="none")

    def hashes(folder):
        return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}

    one, side = hashes(folders[1]), hashes(folders[4])
    assert {"map.html", "report.pdf", "tables.xlsx", "map.png", "report.html"} <= set(one)
    assert side == one
