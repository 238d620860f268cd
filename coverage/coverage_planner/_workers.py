"""Run independent pieces of work side by side in forked worker processes.

A run's outputs (map, workbook, printed map, PDF) do not depend on each
other, and each is pure-Python work that holds the GIL, so threads would
take turns; forked processes share the run's tables copy-on-write and
write their files in parallel. Forking is only safe where this module knows
every thread: the main thread, the walk kernel's idle pool and tqdm's monitor. Anywhere else
(a notebook's kernel threads, a Dask worker, Windows or macOS) the work runs
one piece after another in this process, with the same results.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from coverage_planner import settings
from coverage_planner._errors import CoverageError

#: Threads safe to fork beside: the walk kernel's pool (access.thread_pool, named "walks"), idle between calls, and
#: tqdm's monitor, asleep between checks (no output draws a progress bar, so no worker takes its lock).
KNOWN_THREAD_PREFIXES = ("walks", "tqdm_monitor")


class WorkerError(CoverageError):
    """A worker process ended without an answer (killed, or its error could not be sent back)."""


def fork_is_safe() -> bool:
    """Whether this process may fork workers now.

    Returns
    -------
    bool
        True on Linux, when `settings.output_processes` allows more than one
        process and every running Python thread is the main thread or an
        idle walk-kernel pool thread.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "fork") or settings.output_processes() < 2:
        return False
    main = threading.main_thread()
    return threading.current_thread() is main and all(
        t is main or t.name.startswith(KNOWN_THREAD_PREFIXES) for t in threading.enumerate()
    )


def side_by_side(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``tasks`` at the same time, all but the last in forked processes, and return their answers in order.

    Each task must write only its own files and return something picklable;
    warnings a worker's task gives are given again here.
    At most `settings.output_processes` processes work at once: the first
    tasks go to workers, the rest run here in order. Where forking is not
    safe (`fork_is_safe`), the tasks run one after another here. Either way the answers, the files and the first error (in
    task order) are the same.

    Parameters
    ----------
    tasks : sequence of callable
        Functions of no arguments.

    Returns
    -------
    list
        Each task's return value.

    Raises
    ------
    Exception
        The first failing task's exception, rebuilt with its type, message
        and attributes, and a note with the worker's traceback.
    WorkerError
        When a worker process died without an answer.
    """
    tasks = list(tasks)
    if len(tasks) < 2 or not fork_is_safe():
        return [task() for task in tasks]
    # Objects alive now are never freed by the workers: keeping them out of the collector's
    # generations stops a collection in a worker from touching (and so copying) every page.
    gc.freeze()
    forked = min(len(tasks), settings.output_processes()) - 1
    workers: list[tuple[int, int]] = []
    try:
        for task in tasks[:forked]:
            workers.append(_start(task))
        gc.unfreeze()
        here: list[tuple[str, Any]] = []
        for task in tasks[forked:]:
            try:
                here.append(("ok", task()))
            except Exception as exc:  # noqa: BLE001 - reported after the workers, in task order
                here.append(("error", exc))
                break
        answers = [_finish(pid, fd) for pid, fd in workers] + here
        workers = []
    finally:
        gc.unfreeze()
        for pid, fd in workers:  # interrupted: stop the workers before their folder goes away
            _stop(pid, fd)
    for kind, value in answers:
        if kind == "error":
            raise value
    return [value for _, value in answers]


def _fork_with_pipe() -> tuple[int, int]:
    """Fork with a pipe from the child: (pid, its read end) here, (0, the write end) in the child."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    os.close(read_fd)
    return 0, write_fd


def _start(task: Callable[[], Any]) -> tuple[int, int]:
    pid, fd = _fork_with_pipe()
    if pid:
        return pid, fd
    # The worker: run, send the answer and its warnings down the pipe, and leave without the parent's
    # exit handlers.
    write_fd = fd
    status = 1
    try:
        kind, payload = _run_packed(task)
        status = 0 if kind == "ok" else 1
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(status)


def _run_packed(task: Callable[[], Any]) -> tuple[str, bytes]:
    """Run ``task`` and pickle ("ok" or "error", its answer or packed error, its warnings).

    Warnings are recorded (the filters in force still apply) and raised again by the parent, so a
    caller sees them as if the task had run there.
    """
    with warnings.catch_warnings(record=True) as caught:
        try:
            answer = ("ok", task())
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            answer = ("error", _packed_error(exc))
    try:
        return answer[0], pickle.dumps((*answer, _packed_warnings(caught)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an answer that cannot be sent is an error of the task
        return "error", pickle.dumps(("error", _packed_error(exc), _packed_warnings(caught)))


class WorkerChain:
    """Tasks run one after another in one forked worker; each answer can be taken as soon as it is ready.

    This process can go on with a worker's first answer while the worker goes on with the next
    task (the report: the printed map for the PDF's layout here, while the worker draws the
    interactive map). Answers are taken in order with `next`. Where forking is not safe
    (`fork_is_safe`), each task runs here when its answer is asked for, with the same results.
    Use it as a context manager: leaving the block stops a worker whose answers were not all taken.

    Parameters
    ----------
    tasks : sequence of callable
        Functions of no arguments, each writing only its own files and returning something picklable.
    """

    def __init__(self, tasks: Sequence[Callable[[], Any]]) -> None:
        self._tasks = list(tasks)
        self._taken = 0
        self._worker: tuple[int, int] | None = None
        self._folder: str | None = None
        if self._tasks and fork_is_safe():
            # Answers go to files, with a byte on the pipe for each: a pipe holds 64 KiB, and a worker
            # blocked on writing its first answer could not go on with the next task.
            self._folder = tempfile.mkdtemp(prefix="coverage-planner-worker-")
            gc.freeze()  # as in side_by_side: the worker's collections copy no pages
            try:
                self._worker = _start_chain(self._tasks, self._folder)
            finally:
                gc.unfreeze()

    def __enter__(self) -> WorkerChain:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def next(self) -> Any:
        """The next task's answer, waiting for the worker to finish it.

        Returns
        -------
        object
            What the task returned.

        Raises
        ------
        Exception
            The task's exception, rebuilt as in `side_by_side` (the worker stops at it).
        WorkerError
            When the worker process died without this answer.
        """
        if self._taken >= len(self._tasks):
            raise IndexError("every answer of this worker was taken")
        index = self._taken
        self._taken += 1
        if self._worker is None:
            return self._tasks[index]()
        pid, fd = self._worker
        if not os.read(fd, 1):  # the worker's pipe closed before this answer: it died
            self._worker = None
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            raise _died(status)
        with open(os.path.join(self._folder, f"{index}.pickle"), "rb") as stored:
            kind, value, caught = pickle.load(stored)
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno)
        if kind == "error":
            raise _unpacked_error(value)
        return value

    def close(self) -> None:
        """Wait for a worker whose answers were all taken; stop one that is still working. Idempotent."""
        if self._worker is not None:
            pid, fd = self._worker
            self._worker = None
            if self._taken < len(self._tasks):
                _stop(pid, fd)
            else:
                os.close(fd)
                os.waitpid(pid, 0)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _start_chain(tasks: Sequence[Callable[[], Any]], folder: str) -> tuple[int, int]:
    pid, fd = _fork_with_pipe()
    if pid:
        return pid, fd
    write_fd = fd
    status = 1
    try:
        for index, task in enumerate(tasks):
            kind, payload = _run_packed(task)
            part = os.path.join(folder, f"{index}.part")
            with open(part, "wb") as stored:
                stored.write(payload)
            os.replace(part, os.path.join(folder, f"{index}.pickle"))
            os.write(write_fd, b"\x01")
            if kind == "error":
                break
        else:
            status = 0
    finally:
        os._exit(status)


def _finish(pid: int, fd: int) -> tuple[str, Any]:
    with os.fdopen(fd, "rb") as pipe:
        payload = pipe.read()  # read before waiting: a full pipe would block the worker
    _, status = os.waitpid(pid, 0)
    if not payload:
        return "error", _died(status)
    kind, value, caught = pickle.loads(payload)
    for message, category, filename, lineno in caught:
        warnings.warn_explicit(message, category, filename, lineno)
    return (kind, _unpacked_error(value)) if kind == "error" else (kind, value)


def _died(status: int) -> WorkerError:
    code = os.waitstatus_to_exitcode(status)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return WorkerError(f"a worker process writing outputs {how} without an answer")


def _stop(pid: int, fd: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    os.close(fd)


def _packed_error(exc: BaseException) -> tuple[type, tuple, dict, str]:
    """The exception as (type, args, attributes, traceback): rebuilt without calling ``__init__``."""
    trace = "".join(traceback.format_exception(exc))
    packed = (type(exc), exc.args, dict(vars(exc)), trace)
    try:
        pickle.dumps(packed)
    except Exception:  # noqa: BLE001 - an unpicklable argument or attribute: keep the words
        packed = (WorkerError, (f"{type(exc).__name__}: {exc}",), {}, trace)
    return packed


def _packed_warnings(caught: list[warnings.WarningMessage]) -> list[tuple[Warning | str, type, str, int]]:
    out = []
    for w in caught:
        try:
            pickle.dumps(w.message)
            message = w.message
        except Exception:  # noqa: BLE001 - a warning that will not pickle keeps its words
            message = str(w.message)
        out.append((message, w.category, w.filename, w.lineno))
    return out


def _unpacked_error(packed: tuple[type, tuple, dict, str]) -> BaseException:
    cls, args, state, trace = packed
    exc = cls.__new__(cls, *args)
    exc.args = args
    vars(exc).update(state)
    exc.add_note(f"raised in a worker process:\n{trace}")
    return exc


__all__ = ["KNOWN_THREAD_PREFIXES", "WorkerChain", "WorkerError", "fork_is_safe", "side_by_side"]
