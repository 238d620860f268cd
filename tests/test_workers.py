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
from coverage_planner.config import Scenario
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
        # The ledger is written back in the map's worker, beside the report.
        write_run(result, folders[n], lang="zh", basemap="none", ledger=Scenario.from_toml(scenario).demand.path)

    def hashes(folder):
        return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}

    one, side = hashes(folders[1]), hashes(folders[4])
    assert {"map.html", "report.pdf", "tables.xlsx", "map.png", "report.html", "ledger_written_back.csv"} <= set(one)
    assert side == one


# ------------------------------------------------ a chain of tasks in one worker, each answer taken when ready


def test_a_chains_first_answer_comes_while_the_worker_goes_on(processes, tmp_path):
    processes(4)
    go_on = tmp_path / "go-on"

    def first():
        return os.getpid(), b"x" * 1_000_000  # more than a pipe holds: the worker must not block on it

    def second():
        deadline = time.monotonic() + 20
        while not go_on.exists():  # waits for this process, which can only signal after taking the first answer
            assert time.monotonic() < deadline, "the first answer was not handed over before the second task"
            time.sleep(0.01)
        return os.getpid()

    with _workers.WorkerChain([first, second]) as chain:
        pid, payload = chain.next()
        assert pid != os.getpid() and len(payload) == 1_000_000
        go_on.touch()
        assert chain.next() == pid  # the same worker, one task after the other
        with pytest.raises(IndexError):
            chain.next()


def test_a_chain_runs_here_when_forking_is_not_safe(processes):
    processes(1)
    ran = []
    with _workers.WorkerChain([lambda: ran.append("a") or os.getpid(), lambda: ran.append("b") or os.getpid()]) as c:
        assert ran == []  # each task runs when its answer is asked for
        assert c.next() == os.getpid() and ran == ["a"]
        assert c.next() == os.getpid() and ran == ["a", "b"]


def test_a_chains_error_warning_and_death_come_back(processes, tmp_path):
    processes(4)

    def warns_then_fails():
        warnings.warn("careful", UserWarning, stacklevel=1)
        raise InputError(tmp_path / "x.csv", "not a number", row=3, field="lon")

    never = tmp_path / "never"
    with _workers.WorkerChain([warns_then_fails, never.touch]) as chain:
        with pytest.warns(UserWarning, match="careful"), pytest.raises(InputError, match="row 3") as caught:
            chain.next()
    assert caught.value.row == 3 and "raised in a worker process" in "".join(caught.value.__notes__)
    assert not never.exists()  # the worker stops at the first error
    with _workers.WorkerChain([lambda: os.kill(os.getpid(), signal.SIGKILL)]) as chain:
        with pytest.raises(WorkerError, match="signal 9"):
            chain.next()


def test_leaving_a_chain_early_stops_its_worker_and_cleans_up(processes, tmp_path):
    processes(4)
    started = tmp_path / "started"

    def slow():
        started.touch()
        time.sleep(60)

    chain = _workers.WorkerChain([lambda: 1, slow])
    folder = chain._folder
    assert chain.next() == 1
    deadline = time.monotonic() + 20
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    begun = time.monotonic()
    chain.close()
    assert time.monotonic() - begun < 10  # stopped, not waited for
    assert folder is not None and not os.path.exists(folder)
    chain.close()  # twice is fine
