"""Interleaved timing for the benchmarks: medians with their spread, the machine's load, Markdown tables.

Methods are timed round-robin (one run of each per round, the order rotated
every round), so a change in machine load during the run hits every method
alike instead of whichever ran last. The headline is the median of the runs
with its min–max; best-of is kept as a separately labelled extra. The 1-, 5-
and 15-minute load averages are recorded before and after, so a reader can
tell a quiet machine's figures from a loaded one's.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Wall times of one method's runs (seconds), in the order they ran."""

    runs_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def min_s(self) -> float:
        return min(self.runs_s)

    @property
    def max_s(self) -> float:
        return max(self.runs_s)

    @property
    def best_s(self) -> float:
        """Best-of (the minimum): a labelled extra, not the headline."""
        return min(self.runs_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median_s,
            "min_s": self.min_s,
            "max_s": self.max_s,
            "best_of_s": self.best_s,
            "runs_s": list(self.runs_s),
        }


def loadavg() -> list[float] | None:
    """1-, 5- and 15-minute load averages (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


@dataclass
class Load:
    """Load averages around a measurement, and the CPUs the machine has."""

    before: list[float] | None
    after: list[float] | None = None
    cpus: int | None = field(default_factory=os.cpu_count)

    def finish(self) -> Load:
        self.after = loadavg()
        return self

    def text(self) -> str:
        fmt = lambda v: "n/a" if v is None else " / ".join(f"{x:.2f}" for x in v)
        return f"load average (1/5/15 min) before {fmt(self.before)}, after {fmt(self.after)}; {self.cpus} CPUs"

    def to_dict(self) -> dict[str, Any]:
        return {"loadavg_before": self.before, "loadavg_after": self.after, "cpus": self.cpus}


def interleaved(
    methods: dict[str, Callable[[], Any]], repeat: int, *, warmup: bool = True
) -> tuple[dict[str, Timing], dict[str, Any], Load]:
    """Time every method ``repeat`` times, round-robin, the order rotated each round.

    Parameters
    ----------
    methods : dict of str to callable
        Name → a call with no arguments; its last result is returned.
    repeat : int
        Timed runs per method (at least 1).
    warmup : bool, default True
        Run each method once, untimed, first (first-call costs: thread pools, caches, page faults).

    Returns
    -------
    (dict of str to Timing, dict of str to object, Load)
        The runs of each method, each method's last result, and the load around the timed rounds.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    names = list(methods)
    results: dict[str, Any] = {}
    if warmup:
        for name in names:
            results[name] = methods[name]()
    timings = {name: Timing() for name in names}
    load = Load(loadavg())
    for r in range(repeat):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            results[name] = methods[name]()
            timings[name].runs_s.append(time.perf_counter() - t0)
    return timings, results, load.finish()


def fmt_bytes(n: float | None) -> str:
    """Bytes in GB, MB or kB (decimal units), or B below 1 kB."""
    if n is None:
        return "—"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def fmt_s(seconds: float | None) -> str:
    """Seconds as µs below 1 ms, ms below 10 s, else s."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    return f"{seconds * 1e3:,.1f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def spread(t: Timing | None) -> str:
    """``median (min–max)``."""
    if t is None or not t.runs_s:
        return "—"
    return f"{fmt_s(t.median_s)} ({fmt_s(t.min_s)}–{fmt_s(t.max_s)})"


def ratio(a: Timing | None, b: Timing | None, *, of: str = "median_s") -> float | None:
    """a / b on the median (or another statistic); None when either is missing."""
    if a is None or b is None or not a.runs_s or not b.runs_s:
        return None
    return getattr(a, of) / getattr(b, of)


def ratio_spread(a: Timing | None, b: Timing | None) -> str:
    """Median ratio a / b with the range min(a)/max(b)–max(a)/min(b)."""
    q = ratio(a, b)
    if q is None:
        return "—"
    lo, hi = a.min_s / b.max_s, a.max_s / b.min_s  # type: ignore[union-attr]
    return f"{q:,.2f}× ({lo:,.2f}–{hi:,.2f})"


def _cell(value: object) -> str:
    # Cells are the benchmarks' own labels and numbers; keep a pipe or newline from breaking the row.
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub pipe table; ``align`` is one letter per column (``l``/``r``), default first left, rest right."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
