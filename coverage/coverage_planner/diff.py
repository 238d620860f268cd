"""Compare two coverage runs: which places became covered, which walks changed, shares before and after."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coverage_planner._errors import InputError
from coverage_planner._io import atomic_path
from coverage_planner.escape import csv_frame, restore_csv_frame
from coverage_planner.results import SUMMARY_DIMENSIONS, CoverageResult

CHANGE_ORDER = ["newly covered", "no longer covered", "faster", "slower", "unchanged", "added", "removed"]


@dataclass
class ScenarioDiff:
    """Per-place and per-group differences between a run ``before`` and a run ``after``.

    Build one with `from_tables`, `from_results` or `from_run_dirs`.

    Parameters
    ----------
    places : DataFrame
        One row per demand place in either run: walk minutes and coverage
        before and after, the nearest site's id and name before and after
        (``nearest_site_id_before``, ``nearest_site_name_before``, …), and
        ``change`` (one of `CHANGE_ORDER`).
    summary : DataFrame
        Coverage share before and after, overall and by each grouping
        column both runs carry.
    labels : tuple of (str, str), default ("before", "after")
        Names of the two runs, for printing.
    """

    places: pd.DataFrame
    summary: pd.DataFrame
    labels: tuple[str, str] = ("before", "after")

    @classmethod
    def from_tables(
        cls,
        before: pd.DataFrame,
        after: pd.DataFrame,
        *,
        labels: tuple[str, str] = ("before", "after"),
        tolerance_min: float = 0.05,
    ) -> ScenarioDiff:
        """Compare two coverage tables (as in coverage.csv).

        Parameters
        ----------
        before, after : DataFrame
            Coverage tables with ``demand_id``, ``demand_name``,
            ``nearest_site_id``, ``walk_min`` and ``covered``, and usually
            ``nearest_site_name`` (left empty when a table lacks it); places
            are matched by ``demand_id``.
        labels : tuple of (str, str), default ("before", "after")
            Names of the two runs, for printing.
        tolerance_min : float, default 0.05
            Walk changes under this many minutes count as unchanged.

        Returns
        -------
        ScenarioDiff
            The differences.
        """
        keep = ["demand_id", "demand_name", "nearest_site_id", "nearest_site_name", "walk_min", "covered"]
        # An older coverage.csv may lack the site's name: the comparison still works, the names stay empty.
        before, after = (
            t if "nearest_site_name" in t.columns else t.assign(nearest_site_name=pd.NA) for t in (before, after)
        )
        dims = [
            c
            for c in SUMMARY_DIMENSIONS
            if c in before.columns and c in after.columns and (before[c].notna().any() or after[c].notna().any())
        ]
        a = before[keep + dims].rename(columns={c: f"{c}_before" for c in keep[2:]})
        b = after[keep + dims].rename(columns={c: f"{c}_after" for c in keep[2:]})
        b = b.drop(columns=[c for c in dims if c in b.columns])
        merged = a.merge(b, on="demand_id", how="outer", suffixes=("", "_b"), indicator=True, sort=False)
        merged["demand_name"] = merged["demand_name"].fillna(merged.pop("demand_name_b"))
        for side in ("before", "after"):
            merged[f"covered_{side}"] = merged[f"covered_{side}"].fillna(False).astype(bool)
        delta = merged["walk_min_after"] - merged["walk_min_before"]
        merged["change_min"] = delta.round(2)
        change = np.select(
            [
                merged["_merge"] == "right_only",
                merged["_merge"] == "left_only",
                ~merged["covered_before"] & merged["covered_after"],
                merged["covered_before"] & ~merged["covered_after"],
                (delta < -tolerance_min) | (merged["walk_min_before"].isna() & merged["walk_min_after"].notna()),
                (delta > tolerance_min) | (merged["walk_min_before"].notna() & merged["walk_min_after"].isna()),
            ],
            ["added", "removed", "newly covered", "no longer covered", "faster", "slower"],
            default="unchanged",
        )
        merged["change"] = pd.Categorical(change, categories=CHANGE_ORDER, ordered=True)
        merged = (
            merged.drop(columns="_merge").sort_values(["change", "demand_id"], kind="stable").reset_index(drop=True)
        )
        return cls(places=merged, summary=_summary(merged, dims), labels=labels)

    @classmethod
    def from_results(cls, before: CoverageResult, after: CoverageResult, **kwargs: Any) -> ScenarioDiff:
        """Compare two `CoverageResult` objects.

        Parameters
        ----------
        before, after : CoverageResult
            The two runs.
        **kwargs
            ``labels`` and ``tolerance_min``, as for `from_tables`.

        Returns
        -------
        ScenarioDiff
            The differences.
        """
        return cls.from_tables(before.table(), after.table(), **kwargs)

    @classmethod
    def from_run_dirs(cls, before_dir: str | Path, after_dir: str | Path, **kwargs: Any) -> ScenarioDiff:
        """Compare two output folders written by ``coverage-planner run``.

        Parameters
        ----------
        before_dir, after_dir : str or Path
            The two output folders.
        **kwargs
            ``labels`` (default: the folders' names) and ``tolerance_min``, as for `from_tables`.

        Returns
        -------
        ScenarioDiff
            The differences.

        Raises
        ------
        InputError
            When a folder has no readable coverage.csv (see `read_coverage_table`).
        """
        tables = [read_coverage_table(Path(d)) for d in (before_dir, after_dir)]
        kwargs.setdefault("labels", (Path(before_dir).name, Path(after_dir).name))
        return cls.from_tables(*tables, **kwargs)

    def counts(self) -> pd.Series:
        """How many places fall in each kind of change.

        Returns
        -------
        Series of int
            Indexed by `CHANGE_ORDER`, zeros included.
        """
        return self.places["change"].value_counts().reindex(CHANGE_ORDER, fill_value=0)

    def newly_covered(self) -> pd.DataFrame:
        """The places covered after but not before.

        Returns
        -------
        DataFrame
            Rows of `places`.
        """
        return self.places[self.places["change"] == "newly covered"]

    def no_longer_covered(self) -> pd.DataFrame:
        """The places covered before but not after.

        Returns
        -------
        DataFrame
            Rows of `places`.
        """
        return self.places[self.places["change"] == "no longer covered"]

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write diff_places.csv and diff_summary.csv (UTF-8 with BOM), atomically.

        Text cells a spreadsheet would run as a formula start with ``'``
        (`coverage_planner.escape.csv_cell`); numbers stay numbers.

        Parameters
        ----------
        out_dir : str or Path
            The folder to write into (created when missing).

        Returns
        -------
        list of Path
            The two files written.
        """
        out_dir = Path(out_dir)
        written = []
        for name, frame in (("diff_places.csv", self.places), ("diff_summary.csv", self.summary)):
            with atomic_path(out_dir / name) as tmp:
                csv_frame(frame).to_csv(tmp, index=False, encoding="utf-8-sig")
            written.append(out_dir / name)
        return written


def _summary(merged: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    rows = []
    groups = [("all", pd.Series("all", index=merged.index))] + [
        (d, merged[d].fillna("(none)").astype(str)) for d in dims
    ]
    for dimension, labels in groups:
        for group, frame in merged.groupby(labels, sort=True):
            before = frame["covered_before"]
            rows.append(
                {
                    "dimension": dimension,
                    "group": group,
                    "places": len(frame),
                    "covered_before": int(before.sum()),
                    "covered_after": int(frame["covered_after"].sum()),
                    "share_before": before.mean(),
                    "share_after": frame["covered_after"].mean(),
                }
            )
    table = pd.DataFrame(rows)
    table["share_change"] = table["share_after"] - table["share_before"]
    return table


def read_coverage_table(run_dir: str | Path) -> pd.DataFrame:
    """The coverage.csv of an output folder of ``coverage-planner run``, checked.

    Text the writer quoted against formula injection comes back as it was.

    Parameters
    ----------
    run_dir : str or Path
        The output folder.

    Returns
    -------
    DataFrame
        The table, ``covered`` as bool and the ids and names as text.

    Raises
    ------
    InputError
        When coverage.csv is missing, unreadable or lacks a required column.
    """
    run_dir = Path(run_dir)
    path = run_dir / "coverage.csv"
    if not path.is_file():
        raise InputError(path, "no coverage.csv here: is this an output folder of `coverage-planner run`?")
    try:
        # Names and ids as text: "001" stays "001", and a name that looks like a number stays a name.
        text = dict.fromkeys(("demand_id", "demand_name", "nearest_site_id", "nearest_site_name"), str)
        table = pd.read_csv(path, encoding="utf-8-sig", dtype=text)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"cannot be read as a coverage table ({exc})") from None
    table = restore_csv_frame(table)
    missing = [c for c in ("demand_id", "demand_name", "walk_min", "covered") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; was it written by `coverage-planner run`?")
    table["covered"] = table["covered"].astype(str).str.lower().eq("true")
    return table
