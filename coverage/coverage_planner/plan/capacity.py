r"""Who serves whom when sites have a capacity: capacitated allocation, capacitated p-median, spreading a volunteer pool.

A site may carry a **capacity** (``capacity`` / ``容量``: volunteers, or
cases a year) and every demand place a **load** (``weight``,
``key_targets`` / ``重点服务对象``, ``households``, or an expected case
count = column × rate). Then:

* `allocate_capacity` assigns each place whole to one site within reach so
  that no site takes more load than its capacity, either maximising the
  load served (``method="max_coverage"``, ArcGIS's "maximize capacitated
  coverage") or minimising the load-weighted walk with a penalty for load
  left unserved (``method="pmedian"``, the capacitated p-median). Existing
  sites are fixed with their capacities; with ``candidates`` and ``k`` up to
  k new sites open too, each with its own capacity or one default. Solved
  exactly by HiGHS (a MILP built from the sparse walk matrix, through
  `highspy`) and by a greedy; both answers are kept with HiGHS's
  bound and the gap.
* `spread_volunteers` splits a pool of N volunteers among the sites so that
  the load per volunteer is as even as possible.

Both start from a `CoverageResult`, like `propose_sites`.
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from coverage_planner._errors import DataError
from coverage_planner._geo import place_lonlat
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.analysis import prepare_places
from coverage_planner.plan import _milp
from coverage_planner.plan.models import ProblemError
from coverage_planner.results import CoverageResult

#: Allocation models `allocate_capacity` knows.
ALLOCATION_METHODS = ("max_coverage", "pmedian")
#: Header names read as a site's capacity, first found wins.
CAPACITY_COLUMNS = ("capacity", "容量")

# Relative slack when checking a load against a capacity (loads may be fractional).
_TOL = 1e-9


@contextmanager
def _quiet_stdout():
    """Silence C-level stdout around a solve: HiGHS as bundled with SciPy printed a debug line per incumbent.

    With highspy and ``output_flag`` off nothing is printed (checked on this
    module's tests); the guard stays in case a HiGHS build prints again.

    Only file descriptor 1 (where C code writes, whatever ``sys.stdout`` is)
    is redirected, for the length of one solve; without it nothing changes.
    """
    fd = 1
    try:
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        saved = os.dup(fd)
    except OSError:
        os.close(devnull)
        yield
        return
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _solve(program: _milp.Program, time_limit: float | None) -> _milp.MilpResult:
    with _quiet_stdout():
        return _milp.solve(program, time_limit=time_limit)


# ------------------------------------------------------------------ inputs
def site_capacities(
    sites: pd.DataFrame,
    capacity: str | float | Sequence[float] | np.ndarray = "capacity",
    *,
    default: float | None = None,
    what: str = "sites",
) -> np.ndarray:
    """One capacity per site, checked.

    Parameters
    ----------
    sites : DataFrame
        The sites (``id``; ``source_row`` names the file row in messages when present).
    capacity : str, number or array, default "capacity"
        A column name (``"capacity"`` also finds ``容量``), one number for
        every site, or one number per site. ``inf`` means no limit.
    default : float, optional
        Capacity of sites whose value is blank (or of every site when the
        column is missing).
    what : str, default "sites"
        What the places are, for messages.

    Returns
    -------
    ndarray of float
        Capacities ≥ 0 (``inf`` where unlimited).

    Raises
    ------
    DataError
        When the column is missing (and no default), or a value is blank
        (and no default), not a number, negative or NaN.
    """
    n = len(sites)
    if default is not None and not (_is_number(default) and float(default) >= 0):
        raise DataError(f"{what}: the default capacity must be a number ≥ 0, not {default!r}")
    if isinstance(capacity, str):
        names = (capacity,) + (CAPACITY_COLUMNS[1:] if capacity == CAPACITY_COLUMNS[0] else ())
        column = next((c for c in names if c in sites.columns), None)
        if column is None:
            if default is not None:
                return np.full(n, float(default))
            raise DataError(
                f"{what}: no capacity column {capacity!r}"
                + (" (or 容量)" if capacity == CAPACITY_COLUMNS[0] else "")
                + "; add one to the sites file, or give a default capacity"
            )
        return _numbers(sites, sites[column], column, what, default=default, allow_inf=True)
    if _is_number(capacity):
        value = float(capacity)
        if value < 0 or np.isnan(value):
            raise DataError(f"{what}: capacity must be ≥ 0, not {capacity!r}")
        return np.full(n, value)
    values = np.asarray(capacity, dtype=float).ravel()
    if values.shape != (n,):
        raise DataError(f"{what}: {len(values)} capacities given for {n} sites")
    return _numbers(sites, pd.Series(values), "capacity", what, default=default, allow_inf=True)


def demand_loads(
    demand: pd.DataFrame, load: str | float | Sequence[float] | np.ndarray = "weight", *, rate: float = 1.0
) -> np.ndarray:
    """One load per demand place (a column, a number or an array), times ``rate``.

    Parameters
    ----------
    demand : DataFrame
        The demand places (``demand_id`` or ``id``).
    load : str, number or array, default "weight"
        Column name (e.g. ``"key_targets"``, ``"households"``), one number for
        every place, or one per place.
    rate : float, default 1
        Multiplier, e.g. expected cases a year per household.

    Returns
    -------
    ndarray of float
        Loads ≥ 0.

    Raises
    ------
    DataError
        When the column is missing, or a load is blank, not a number, negative or infinite.
    """
    if not (_is_number(rate) and np.isfinite(rate) and rate >= 0):
        raise DataError(f"demand: the load rate must be a finite number ≥ 0, not {rate!r}")
    n = len(demand)
    if isinstance(load, str):
        if load not in demand.columns:
            raise DataError(f"demand: no load column {load!r}; columns are {', '.join(map(str, demand.columns))}")
        values = _numbers(demand, demand[load], load, "demand", default=None, allow_inf=False)
    elif _is_number(load):
        values = np.full(n, float(load))
        if not np.isfinite(load) or load < 0:
            raise DataError(f"demand: load must be a finite number ≥ 0, not {load!r}")
    else:
        arr = np.asarray(load, dtype=float).ravel()
        if arr.shape != (n,):
            raise DataError(f"demand: {len(arr)} loads given for {n} places")
        values = _numbers(demand, pd.Series(arr), "load", "demand", default=None, allow_inf=False)
    return values * float(rate)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _numbers(frame, column: pd.Series, name: str, what: str, *, default, allow_inf: bool) -> np.ndarray:
    """Numbers of a column, with the first bad one named by place id and file row."""
    raw = column.reset_index(drop=True)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    blank = raw.isna().to_numpy() | raw.astype(str).str.strip().isin(["", "nan", "None"]).to_numpy()
    if default is not None:
        values = np.where(blank, float(default), values)
    problems = [
        (blank & np.isnan(values), "is blank" + ("" if default is not None else "; give a value or a default")),
        (~blank & np.isnan(values), "is not a number"),
        (values < 0, "is negative"),
    ]
    if not allow_inf:
        problems.append((np.isinf(values), "is infinite"))
    for mask, message in problems:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise DataError(f"{what}: {_place_label(frame, i, what)}: {name} {raw.iloc[i]!r} {message}")
    return values


def _place_label(frame: pd.DataFrame, i: int, what: str = "demand") -> str:
    noun = {"sites": "site", "candidates": "candidate"}.get(what.split()[0], "place")
    ids = frame["demand_id"] if "demand_id" in frame.columns else frame.get("id")
    label = f"{noun} {ids.iloc[i]!r}" if ids is not None else f"{noun} {i}"
    if "source_row" in frame.columns and pd.notna(frame["source_row"].iloc[i]):
        label += f" (row {int(frame['source_row'].iloc[i])})"
    return label


# ----------------------------------------------------------------- results
@dataclass(frozen=True)
class AllocationSolution:
    """One solve of a capacitated allocation.

    Parameters
    ----------
    method : str
        ``"exact"`` or ``"greedy"``.
    site : ndarray of int
        Per demand place, its site as a row of the existing sites followed by
        every candidate (-1: not assigned).
    opened : ndarray of int
        Candidate positions opened (0 = first candidate), ascending.
    objective : float
        ``max_coverage``: the load served. ``pmedian``: Σ load × walk metres,
        a place not served counting as the penalty walk.
    bound : float
        HiGHS's proven bound on the optimum (NaN when none was found); the
        greedy answer is measured against the same bound.
    gap : float
        ``|bound − objective| / |objective|``, 0 when proven optimal.
    status : str
        ``"optimal"``, ``"time_limit"``, ``"heuristic"``.
    solve_time_s : float
        Wall-clock seconds.
    site_ids : ndarray of object, optional
        The same as site ids (None: not assigned); filled by `allocate_capacity`.
    """

    method: str
    site: np.ndarray
    opened: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float
    site_ids: np.ndarray | None = None

    def to_dict(self) -> dict:
        """Objective, bound, gap, status and time as plain numbers.

        Returns
        -------
        dict
            ``objective, bound, gap, status, solve_time_s, opened``; NaN as None.
        """

        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else float(x)

        return {
            "objective": float(self.objective),
            "bound": num(self.bound),
            "gap": num(self.gap),
            "status": self.status,
            "solve_time_s": round(self.solve_time_s, 4),
            "opened": len(self.opened),
        }


@dataclass
class Allocation:
    """Which site serves which place, within the capacities.

    Parameters
    ----------
    method : str
        ``"max_coverage"`` or ``"pmedian"``.
    assignment : DataFrame
        One row per demand place: ``demand_id, demand_name, load, site_id,
        site_name, walk_m, walk_min, assigned, reason`` (``assigned``,
        ``no site within reach``, ``capacity full``, ``no load``: a place
        without load is linked to its nearest open site in reach but uses no
        capacity), ``nearest_site_id`` (nearest site of the result, any
        capacity) and ``moved`` (assigned elsewhere than that), plus the
        demand's ``community_class`` when it has one.
    by_site : DataFrame
        One row per open site: ``site_id, site_name, status`` (``existing``
        / ``proposed``), ``places, load, capacity, load_per_capacity, spare``
        (capacity − load; negative would be over), ``over`` (always False
        here), ``nearest_places, nearest_load`` (what the site would take if
        every place within the threshold went to its nearest site, ignoring
        capacities: the uncapacitated baseline, which may be over) and
        ``mean_walk_min`` (load-weighted, of its assigned places).
    sites : GeoDataFrame
        Existing sites then the opened candidates, with ``capacity``.
    exact, greedy : AllocationSolution
        The two solves; ``assignment`` and ``by_site`` show the better one.
    result : CoverageResult
        The coverage run allocated on.
    reach_m : float
        Longest walk allowed between a place and its site.
    penalty_m : float
        (pmedian) the walk counted for load left unserved.
    k : int, optional
        Most candidates to open, as given to `allocate_capacity`.
    candidates : GeoDataFrame, optional
        The candidate pool (empty without candidates).
    """

    method: str
    assignment: pd.DataFrame
    by_site: pd.DataFrame
    sites: gpd.GeoDataFrame
    exact: AllocationSolution
    greedy: AllocationSolution
    result: CoverageResult = field(repr=False)
    reach_m: float
    penalty_m: float
    k: int | None = None
    candidates: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame, repr=False)

    @property
    def best(self) -> AllocationSolution:
        """The solution the tables show: exact, unless greedy did better under a time limit."""
        return _better(self.method, self.exact, self.greedy)

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<Allocation {self.method}: {s['assigned_load']:.6g} of {s['total_load']:.6g} load served "
            f"({s['assigned_share']:.1%}) by {s['sites']} site(s), exact gap {self.exact.gap:.2%}>"
        )

    def summary(self) -> dict:
        """Sizes, loads served and left, and both solves.

        Returns
        -------
        dict
            ``method, reach_m, places, sites, candidates, opened, total_load,
            total_capacity, assigned_load, assigned_share, unserved_capacity_load``
            (in reach of a site but no room), ``unreachable_load``,
            ``mean_walk_min`` (load-weighted, assigned places), ``exact``, ``greedy``.
        """
        a = self.assignment
        total = float(a["load"].sum())
        served = float(a.loc[a["assigned"], "load"].sum())
        walked = a[a["assigned"] & (a["load"] > 0)]
        return {
            "method": self.method,
            "reach_m": self.reach_m,
            "penalty_m": self.penalty_m if self.method == "pmedian" else None,
            "places": len(a),
            "sites": len(self.by_site),
            "candidates": len(self.candidates),
            "k": self.k,
            "opened": [str(x) for x in self.by_site.loc[self.by_site["status"] == "proposed", "site_id"]],
            "total_load": total,
            "total_capacity": _finite_or_none(float(self.by_site["capacity"].sum())),
            "assigned_load": served,
            "assigned_share": served / total if total > 0 else float("nan"),
            "unserved_capacity_load": float(a.loc[a["reason"] == "capacity full", "load"].sum()),
            "unreachable_load": float(a.loc[a["reason"] == "no site within reach", "load"].sum()),
            "mean_walk_min": float(np.average(walked["walk_min"], weights=walked["load"])) if len(walked) else None,
            "exact": self.exact.to_dict(),
            "greedy": self.greedy.to_dict(),
        }

    def by_group(self, column: str = "community_class") -> pd.DataFrame:
        """Load served per group of places (e.g. by community grade 社区类别).

        Parameters
        ----------
        column : str, default "community_class"
            A column of the result's demand.

        Returns
        -------
        DataFrame
            ``group, places, load, assigned_places, assigned_load, share,
            mean_walk_min``, one row per group (blank as ``(none)``) and a
            first row ``all``.

        Raises
        ------
        DataError
            When the demand has no such column.
        """
        demand = self.result.demand
        if column not in demand.columns:
            raise DataError(f"demand has no column {column!r} to group by")
        a = self.assignment.assign(group=demand[column].fillna("(none)").astype(str).to_numpy())
        frames = [a.assign(group="all"), a]
        rows = []
        for frame in frames:
            for name, g in frame.groupby("group", sort=True):
                got = g[g["assigned"]]
                walked = got[got["load"] > 0]
                rows.append(
                    {
                        "group": name,
                        "places": len(g),
                        "load": float(g["load"].sum()),
                        "assigned_places": len(got),
                        "assigned_load": float(got["load"].sum()),
                        "share": float(got["load"].sum() / g["load"].sum()) if g["load"].sum() > 0 else float("nan"),
                        "mean_walk_min": float(np.average(walked["walk_min"], weights=walked["load"]))
                        if len(walked)
                        else float("nan"),
                    }
                )
        return pd.DataFrame(rows)

    def links(self) -> gpd.GeoDataFrame:
        """A straight line from each assigned place to its site, for the map.

        Returns
        -------
        GeoDataFrame
            ``demand_id, site_id, load, walk_min`` with LineString geometry (WGS-84).
        """
        a = self.assignment[self.assignment["assigned"]]
        place_xy = place_lonlat(self.result.demand)[a.index.to_numpy()]
        row_of = {sid: i for i, sid in enumerate(self.sites["id"].astype(str))}
        site_xy = place_lonlat(self.sites)[[row_of[s] for s in a["site_id"].astype(str)]]
        lines = shapely.linestrings(np.stack([place_xy, site_xy], axis=1))
        return gpd.GeoDataFrame(
            a[["demand_id", "site_id", "load", "walk_min"]].reset_index(drop=True), geometry=lines, crs="EPSG:4326"
        )


# -------------------------------------------------------------- the models
class CapacitatedAllocation:
    r"""The single-source capacitated assignment behind `allocate_capacity`.

    Sites :math:`j` (existing :math:`E`, candidates :math:`J`) with
    capacities :math:`C_j`, places :math:`i` with loads :math:`l_i`, pairs
    :math:`(i, j)` with walk :math:`d_{ij} \le R` (the reach). Variables:
    :math:`z_{ij} \in \{0,1\}` (place i is served by j), :math:`x_j \in
    \{0,1\}` (candidate j opens).

    .. math::
        \sum_j z_{ij} \le 1 \;\;\forall i,\qquad
        \sum_i l_i z_{ij} \le C_j x_j \;\;\forall j,\qquad
        z_{ij} \le x_j,\qquad \sum_{j \in J} x_j \le k,\qquad x_j = 1\; (j \in E)

    ``max_coverage`` maximises the load served :math:`\sum_{ij} l_i z_{ij}`,
    then, with the load served held at its optimum, minimises the
    load-weighted walk :math:`\sum_{ij} l_i d_{ij} z_{ij}` (a second HiGHS
    solve, as ArcGIS breaks ties by impedance). ``pmedian`` minimises
    :math:`\sum_i l_i \big(\sum_j d_{ij} z_{ij} + P\,(1 - \sum_j z_{ij})\big)`,
    the walk with a penalty P for load left unserved (P larger than any
    walk in reach, so serving a place always beats leaving it).

    Places without load use no capacity and change no objective: they are
    left out of the model and linked to their nearest open site in reach
    afterwards. A pair whose load exceeds the site's capacity is dropped.
    The exact model goes to HiGHS as is (its LP relaxation first); the greedy
    fills sites pair by pair (two orders, the better kept), then improves
    by moving places between sites and by ejection (a place moves to make
    room for one unserved); with candidates it opens, k times, the one whose
    capacity absorbs the most load (or walk) saving. The greedy answer is
    measured against HiGHS's bound.

    Parameters
    ----------
    rows, cols, metres : ndarray
        The pairs within reach: site row, place index, walk metres.
    load : ndarray
        Per place.
    capacity : ndarray
        Per site (``inf``: unlimited).
    candidate : ndarray of bool
        Per site: a candidate (may open) rather than an existing site.
    k : int
        Most candidates to open.
    method : {"max_coverage", "pmedian"}
    penalty_m : float
        P, for pmedian.
    """

    def __init__(self, rows, cols, metres, load, capacity, candidate, k, method, penalty_m) -> None:
        self.method = method
        self.load = np.asarray(load, dtype=float)
        self.capacity = np.asarray(capacity, dtype=float)
        self.candidate = np.asarray(candidate, dtype=bool)
        self.k = int(k)
        self.penalty_m = float(penalty_m)
        self.n_sites, self.n_places = len(self.capacity), len(self.load)
        rows, cols, metres = (np.asarray(a) for a in (rows, cols, metres))
        fits = self.load[cols] <= self.capacity[rows] * (1 + _TOL)
        use = fits & (self.load[cols] > 0)
        order = np.lexsort((rows[use], metres[use], cols[use]))
        self.rows, self.cols, self.metres = rows[use][order], cols[use][order], metres[use][order].astype(float)
        self._all = (rows, cols, metres.astype(float))
        #: every pair within reach (site row, place, metres), before loads and capacities
        self.pairs_in_reach = self._all
        self.cand_pos = np.cumsum(self.candidate) - 1  # site row → candidate position
        if method == "max_coverage":
            self.cost = -self.load[self.cols]
        else:
            self.cost = self.load[self.cols] * (self.metres - self.penalty_m)

    # ----------------------------------------------------------- evaluation
    def evaluate(self, site: np.ndarray) -> float:
        """The objective of an assignment.

        Parameters
        ----------
        site : ndarray of int
            Site row per place, -1 when unassigned.

        Returns
        -------
        float
            Load served (max_coverage) or Σ load × walk with the penalty for unserved load (pmedian).
        """
        got = site >= 0
        if self.method == "max_coverage":
            return float(self.load[got].sum())
        walk = np.full(self.n_places, self.penalty_m)
        walk[got] = self.walks(site)[got]
        return float(self.load @ walk)

    def walks(self, site: np.ndarray) -> np.ndarray:
        """Walk metres of each place to its site (NaN when unassigned).

        Parameters
        ----------
        site : ndarray of int
            Site row per place, -1 when unassigned.

        Returns
        -------
        ndarray of float
        """
        if not hasattr(self, "_walk_table"):
            rows, cols, metres = self._all
            # +1 so a 0 m walk is a stored entry, told apart from "no pair"
            self._walk_table = sparse.csr_matrix((metres + 1.0, (cols, rows)), shape=(self.n_places, self.n_sites))
        table = self._walk_table
        out = np.full(self.n_places, np.nan)
        got = np.flatnonzero(site >= 0)
        if got.size:  # scipy returns a sparse result, not an array, for an empty index
            out[got] = np.asarray(table[got, site[got]]).ravel() - 1.0
        return out

    def _to_objective(self, cost: float) -> float:
        return -cost if self.method == "max_coverage" else cost + self.penalty_m * float(self.load.sum())

    def _from_objective(self, value: float) -> float:
        return -value if self.method == "max_coverage" else value - self.penalty_m * float(self.load.sum())

    # ---------------------------------------------------------------- exact
    def solve_exact(self, time_limit: float | None = None) -> AllocationSolution:
        """HiGHS on the MILP above.

        Parameters
        ----------
        time_limit : float, optional
            Seconds for HiGHS (both stages of max_coverage together).

        Returns
        -------
        AllocationSolution
            The best answer found, HiGHS's bound and the gap.
        """
        start = time.perf_counter()
        n_z = len(self.rows)
        if n_z == 0:
            site = np.full(self.n_places, -1)
            obj = self.evaluate(site)
            return AllocationSolution("exact", site, np.zeros(0, np.int64), obj, obj, 0.0, "optimal", 0.0)
        program, cands = self._program()
        sol = _solve(program, time_limit)
        status = sol.status
        if sol.x is None:
            site = np.full(self.n_places, -1)
            bound = self._to_objective(sol.bound) if np.isfinite(sol.bound) else np.nan
            return self._finish("exact", site, np.zeros(0, np.int64), bound, "time_limit", start)
        x = sol.x
        bound_cost = sol.bound
        if self.method == "max_coverage" and status == "optimal":
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            if left is None or left > 0:
                x2 = self._shortest_walks(program, -sol.value, left)
                if x2 is not None:
                    x = x2
        site, opened = self._decode(x, cands)
        bound = self._to_objective(bound_cost) if np.isfinite(bound_cost) else np.nan
        return self._finish("exact", site, opened, bound, status, start)

    def _program(self) -> tuple[_milp.Program, np.ndarray]:
        n_z = len(self.rows)
        cands = np.unique(self.rows[self.candidate[self.rows]])  # candidate rows with a usable pair
        x_of = np.full(self.n_sites, -1)
        x_of[cands] = n_z + np.arange(len(cands))
        n_x = len(cands)
        z = np.arange(n_z)
        places, place_row = np.unique(self.cols, return_inverse=True)
        r, c, v, lo, hi = [place_row], [z], [np.ones(n_z)], [np.full(len(places), -np.inf)], [np.ones(len(places))]
        n_rows = len(places)
        # capacity rows, only for finite capacities
        capped = np.isfinite(self.capacity[self.rows])
        cap_sites, cap_row = np.unique(self.rows[capped], return_inverse=True)
        r.append(n_rows + cap_row)
        c.append(z[capped])
        v.append(self.load[self.cols[capped]])
        is_cand = self.candidate[cap_sites]
        r.append(n_rows + np.flatnonzero(is_cand))
        c.append(x_of[cap_sites[is_cand]])
        v.append(-self.capacity[cap_sites[is_cand]])
        lo.append(np.full(len(cap_sites), -np.inf))
        hi.append(np.where(is_cand, 0.0, self.capacity[cap_sites]))
        n_rows += len(cap_sites)
        # links z ≤ x for candidate pairs
        linked = np.flatnonzero(self.candidate[self.rows])
        r += [n_rows + np.arange(len(linked)), n_rows + np.arange(len(linked))]
        c += [linked, x_of[self.rows[linked]]]
        v += [np.ones(len(linked)), -np.ones(len(linked))]
        lo.append(np.full(len(linked), -np.inf))
        hi.append(np.zeros(len(linked)))
        n_rows += len(linked)
        if n_x:
            r.append(np.full(n_x, n_rows))
            c.append(n_z + np.arange(n_x))
            v.append(np.ones(n_x))
            lo.append([-np.inf])
            hi.append([float(self.k)])
            n_rows += 1
        A = sparse.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n_rows, n_z + n_x))
        program = _milp.Program(
            np.concatenate([self.cost, np.zeros(n_x)]),
            A,
            np.concatenate([np.asarray(a, dtype=float) for a in lo]),
            np.concatenate([np.asarray(a, dtype=float) for a in hi]),
            np.ones(n_z + n_x, dtype=bool),
        )
        return program, cands

    def _shortest_walks(self, program: _milp.Program, served: float, time_limit: float | None):
        """Second stage of max_coverage: the least load-weighted walk serving ``served`` load."""
        n = len(program.c)
        served_row = sparse.csr_matrix(np.concatenate([self.load[self.cols], np.zeros(n - len(self.cols))])[None, :])
        second = _milp.Program(
            np.concatenate([self.load[self.cols] * self.metres, np.zeros(n - len(self.cols))]),
            sparse.vstack([program.A, served_row]).tocsr(),
            np.append(program.row_lo, served * (1 - _TOL)),
            np.append(program.row_hi, np.inf),
            program.integer,
        )
        sol = _solve(second, None if time_limit is None else max(time_limit, 1e-3))
        return sol.x

    def _decode(self, x: np.ndarray, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_z = len(self.rows)
        on = x[:n_z] > 0.5
        site = np.full(self.n_places, -1)
        site[self.cols[on]] = self.rows[on]
        opened_rows = cands[x[n_z:] > 0.5]
        return self._within_capacity(site), np.sort(self.cand_pos[opened_rows])

    def _within_capacity(self, site: np.ndarray) -> np.ndarray:
        """Guard against solver tolerance: unassign the smallest loads of any site over capacity."""
        site = site.copy()
        used = np.bincount(site[site >= 0], weights=self.load[site >= 0], minlength=self.n_sites)
        for j in np.flatnonzero(used > self.capacity * (1 + _TOL) + 1e-12):
            mine = np.flatnonzero(site == j)
            for i in mine[np.argsort(self.load[mine], kind="stable")]:
                if used[j] <= self.capacity[j] * (1 + _TOL):
                    break
                site[i] = -1
                used[j] -= self.load[i]
        return site

    def _finish(self, method, site, opened, bound, status, start) -> AllocationSolution:
        objective = self.evaluate(site)
        gap = 0.0 if status == "optimal" else _gap(objective, bound)
        return AllocationSolution(
            method, site, opened, objective, float(bound), gap, status, time.perf_counter() - start
        )

    # --------------------------------------------------------------- greedy
    def solve_greedy(self, bound: float = np.nan) -> AllocationSolution:
        """The greedy described above.

        Parameters
        ----------
        bound : float, optional
            A proven bound on the optimum (HiGHS's) to measure the gap against.

        Returns
        -------
        AllocationSolution
        """
        start = time.perf_counter()
        is_open = ~self.candidate
        opened: list[int] = []
        site = self._assign(is_open)
        for _ in range(self.k):
            pick = self._best_candidate(site, is_open)
            if pick < 0:
                break
            is_open = is_open.copy()
            is_open[pick] = True
            opened.append(int(self.cand_pos[pick]))
            site = self._assign(is_open)
        return self._finish("greedy", site, np.sort(np.array(opened, dtype=np.int64)), bound, "heuristic", start)

    def _pair_index(self) -> dict[tuple[int, int], int]:
        """(site row, place) → pair position, built once."""
        if not hasattr(self, "_index"):
            self._index = {(int(j), int(i)): p for p, (j, i) in enumerate(zip(self.rows, self.cols))}
        return self._index

    def _best_candidate(self, site: np.ndarray, is_open: np.ndarray) -> int:
        """The closed candidate whose capacity absorbs the largest saving, -1 if none saves."""
        index = self._pair_index()
        current = np.zeros(self.n_places)
        for i in np.flatnonzero(site >= 0):
            current[i] = self.cost[index[(int(site[i]), int(i))]]
        saving = current[self.cols] - self.cost  # > 0: the pair beats the place's current state
        by_site = np.argsort(self.rows, kind="stable")
        bounds = np.searchsorted(self.rows[by_site], np.arange(self.n_sites + 1))
        best, best_gain = -1, 0.0
        for j in np.flatnonzero(self.candidate & ~is_open):
            mine = by_site[bounds[j] : bounds[j + 1]]
            mine = mine[saving[mine] > 0]
            room, gain = self.capacity[j], 0.0
            for p in mine[np.argsort(-saving[mine] / self.load[self.cols[mine]], kind="stable")]:
                need = self.load[self.cols[p]]
                if need <= room * (1 + _TOL):
                    room -= need
                    gain += saving[p]
            if gain > best_gain * (1 + 1e-12):
                best, best_gain = int(j), gain
        return best

    def _assign(self, is_open: np.ndarray) -> np.ndarray:
        """Greedy assignment to the open sites: two fill orders, improved, the better kept."""
        ok = is_open[self.rows]
        options = np.bincount(self.cols[ok], minlength=self.n_places)
        pairs = np.flatnonzero(ok)
        by_walk = pairs[np.lexsort((self.cols[pairs], self.metres[pairs]))]
        by_need = pairs[np.lexsort((self.metres[pairs], -self.load[self.cols[pairs]], options[self.cols[pairs]]))]
        best, best_key = None, (np.inf, np.inf)
        for order in (by_need, by_walk):
            site = self._improve(self._fill(order), ok)
            key = self._key(site)
            if best is None or key < best_key:
                best, best_key = site, key
        return best

    def _key(self, site: np.ndarray) -> tuple[float, float]:
        """(cost, load-weighted walk) of an assignment, rounded so near-equal costs tie."""
        cost = self._from_objective(self.evaluate(site))
        got = site >= 0
        walked = float(self.load[got] @ self.walks(site)[got])
        return (round(cost, 9), walked)

    def _fill(self, order: np.ndarray) -> np.ndarray:
        site = np.full(self.n_places, -1)
        room = self.capacity.copy()
        for p in order:
            i, j = self.cols[p], self.rows[p]
            if site[i] < 0 and self.load[i] <= room[j] * (1 + _TOL):
                site[i] = j
                room[j] -= self.load[i]
        return site

    def _improve(self, site: np.ndarray, ok: np.ndarray, passes: int = 5) -> np.ndarray:
        """Moves that lower (cost, load × walk): a place to another site with room, or out to make room for another.

        ``ok`` marks the pairs whose site is open.
        """
        site = site.copy()
        pairs_of: list[list[int]] = [[] for _ in range(self.n_places)]
        for p in np.flatnonzero(ok):
            pairs_of[self.cols[p]].append(int(p))
        index = self._pair_index()
        second = self.load[self.cols] * self.metres
        room = self.capacity - np.bincount(site[site >= 0], weights=self.load[site >= 0], minlength=self.n_sites)

        def now(i: int) -> tuple[float, float]:
            if site[i] < 0:
                return 0.0, 0.0
            p = index[(int(site[i]), i)]
            return float(self.cost[p]), float(second[p])

        def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
            tol = 1e-9 * max(1.0, abs(b[0]))
            return a[0] < b[0] - tol or (a[0] <= b[0] + tol and a[1] < b[1] - 1e-9 * max(1.0, abs(b[1])))

        heavy_first = np.argsort(-self.load, kind="stable")
        for _ in range(passes):
            changed = False
            # 1. relocate: a place to a site with room where it costs less (or walks less)
            for i in heavy_first:
                i = int(i)
                for p in pairs_of[i]:
                    j = int(self.rows[p])
                    if j == site[i] or self.load[i] > room[j] * (1 + _TOL):
                        continue
                    if better((float(self.cost[p]), float(second[p])), now(i)):
                        if site[i] >= 0:
                            room[site[i]] += self.load[i]
                        site[i] = j
                        room[j] -= self.load[i]
                        changed = True
            # 2. ejection: an unassigned place takes a site after one of its places moves to another with room
            members: dict[int, list[int]] = {}
            for q in np.flatnonzero(site >= 0):
                members.setdefault(int(site[q]), []).append(int(q))
            for i in heavy_first:
                i = int(i)
                if site[i] >= 0:
                    continue
                moved = self._eject(i, site, room, members, pairs_of, index)
                changed = changed or moved
            if not changed:
                break
        return site

    def _eject(self, i, site, room, members, pairs_of, index) -> bool:
        """Serve unassigned place ``i`` at a site j by moving one of j's places to another site with room."""
        for p in pairs_of[i]:
            j = int(self.rows[p])
            need = self.load[i] - room[j]
            for q in members.get(j, []):
                if self.load[q] < need * (1 - _TOL):
                    continue
                current = self.cost[index[(j, q)]]
                for p2 in pairs_of[q]:
                    j2 = int(self.rows[p2])
                    if j2 == j or self.load[q] > room[j2] * (1 + _TOL):
                        continue
                    if self.cost[p] + self.cost[p2] - current < -1e-9 * max(1.0, abs(current)):
                        room[j2] -= self.load[q]
                        room[j] += self.load[q] - self.load[i]
                        site[q], site[i] = j2, j
                        members[j].remove(q)
                        members.setdefault(j2, []).append(q)
                        members[j].append(i)
                        return True
        return False


def _finite_or_none(x: float) -> float | None:
    return x if np.isfinite(x) else None


def _better(method: str, a: AllocationSolution, b: AllocationSolution) -> AllocationSolution:
    if method == "max_coverage":
        return b if b.objective > a.objective + 1e-9 * max(1.0, abs(a.objective)) else a
    return b if b.objective < a.objective - 1e-9 * max(1.0, abs(a.objective)) else a


def _gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan")
    diff = abs(bound - objective)
    return 0.0 if diff <= 1e-9 * max(1.0, abs(objective)) else diff / max(abs(objective), 1e-12)


# -------------------------------------------------------------- public API
def allocate_capacity(
    result: CoverageResult,
    *,
    capacity: str | float | Sequence[float] | np.ndarray = "capacity",
    load: str | float | Sequence[float] | np.ndarray = "weight",
    rate: float = 1.0,
    method: str = "max_coverage",
    reach_m: float | None = None,
    penalty_m: float | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    k: int | None = None,
    candidate_capacity: str | float | Sequence[float] | np.ndarray = "capacity",
    default_capacity: float | None = None,
    time_limit: float | None = None,
    progress: bool | None = False,
) -> Allocation:
    """Assign each place to one site within reach so that no site exceeds its capacity.

    The model is `CapacitatedAllocation` (its docstring has it in full):
    ``max_coverage`` serves the most load, then the shortest load-weighted
    walks; ``pmedian`` minimises the load-weighted walk, unserved load
    counting as the penalty walk. Existing sites stay open with their
    capacities; given ``candidates`` and ``k``, up to k of them open too.

    Parameters
    ----------
    result : CoverageResult
        Coverage now (`compute_coverage`, `run_scenario`): network, snaps, walks.
    capacity : str, number or array, default "capacity"
        The existing sites' capacities: a column of ``result.sites``
        (``capacity`` or ``容量``), one number, or one per site; see `site_capacities`.
    load : str, number or array, default "weight"
        Each place's load: a demand column (``key_targets``, ``households`` …),
        one number or one per place; see `demand_loads`.
    rate : float, default 1
        Multiplier of the load (e.g. expected cases per household).
    method : {"max_coverage", "pmedian"}, default "max_coverage"
    reach_m : float, optional
        Longest walk between a place and its site. Default: the threshold
        (max_coverage) or the search limit ``result.matrix.cutoff_m`` (pmedian).
        At most the search limit.
    penalty_m : float, optional
        (pmedian) walk counted for unserved load; default twice the search
        limit, as `PMedian`. Must exceed ``reach_m``.
    candidates : GeoDataFrame, optional
        Where new sites could open (``id``, ``name``, point or polygon, any CRS).
    k : int, optional
        Most candidates to open (needed with ``candidates``).
    candidate_capacity : str, number or array, default "capacity"
        Capacities of the candidates (column, number or array).
    default_capacity : float, optional
        Capacity of any site or candidate whose capacity is blank or whose
        capacity column is missing.
    time_limit : float, optional
        Seconds for HiGHS; the best answer found is kept with its bound and gap.
    progress : bool or None, default False
        Progress bar for the candidates' walks.

    Returns
    -------
    Allocation

    Raises
    ------
    ProblemError
        For an unknown method, candidates without k (or k without
        candidates), a bad k, reach or penalty, or a bad time limit.
    DataError
        For a missing capacity or load column, or a blank, negative or
        non-numeric value.
    """
    if method not in ALLOCATION_METHODS:
        raise ProblemError(f"method must be one of {', '.join(ALLOCATION_METHODS)}, not {method!r}")
    if time_limit is not None and not (_is_number(time_limit) and time_limit > 0):
        raise ProblemError(f"time_limit must be a positive number of seconds, not {time_limit!r}")
    if result.demand_snap is None:
        raise ProblemError("this result carries no snaps; build it with compute_coverage or run_scenario")
    n_cand = 0 if candidates is None else len(candidates)
    if candidates is not None and k is None:
        raise ProblemError("candidates were given without k, the most new sites to open")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0):
        raise ProblemError(f"k must be a whole number ≥ 0 of new sites, got {k!r}")
    if k and candidates is None:
        raise ProblemError("k new sites were asked for, but no candidates were given")
    if k is not None and k > n_cand:
        raise ProblemError(f"k={k} new sites asked for, but there are only {n_cand} candidates")
    cutoff = result.matrix.cutoff_m
    reach = float(reach_m) if reach_m is not None else (result.threshold_m if method == "max_coverage" else cutoff)
    if not (np.isfinite(reach) and 0 <= reach <= cutoff + 1e-9):
        raise ProblemError(
            f"reach_m must lie in 0..{cutoff:g} m (the result's search limit; walks beyond it were not "
            f"computed), not {reach_m!r}"
        )
    penalty = float(penalty_m) if penalty_m is not None else 2.0 * cutoff
    if method == "pmedian" and not (np.isfinite(penalty) and penalty > reach):
        raise ProblemError(f"penalty_m must be a finite walk longer than the reach ({reach:g} m), not {penalty_m!r}")

    caps = site_capacities(result.sites, capacity, default=default_capacity)
    loads = demand_loads(result.demand, load, rate=rate)
    matrix = result.matrix
    sites = result.sites.drop(columns=[c for c in CAPACITY_COLUMNS if c in result.sites.columns]).assign(
        capacity=caps, plan_status="existing"
    )
    pool = gpd.GeoDataFrame()
    if n_cand:
        pool = prepare_places(candidates, "candidates")
        clash = sorted(set(pool["id"]) & set(result.sites["id"].astype(str)))
        if clash:
            raise DataError(f"candidates: id {clash[0]!r} is already used by an existing site")
        cand_caps = site_capacities(pool, candidate_capacity, default=default_capacity, what="candidates")
        snap = snap_points(result.network, place_lonlat(pool), max_snap_m=result.max_snap_m)
        walks = AccessMatrix.compute(
            result.network,
            snap,
            result.demand_snap,
            cutoff,
            include_access_legs=matrix.include_access_legs,
            site_ids=pool["id"].to_numpy(),
            demand_ids=matrix.demand_ids,
            progress=progress,
        )
        matrix = AccessMatrix.stack(matrix, walks)
        caps = np.concatenate([caps, cand_caps])
    n_existing = len(result.sites)
    keep = matrix.metres <= reach
    model = CapacitatedAllocation(
        matrix.rows[keep],
        matrix.cols[keep],
        matrix.metres[keep],
        loads,
        caps,
        np.arange(len(caps)) >= n_existing,
        k or 0,
        method,
        penalty,
    )
    exact = model.solve_exact(time_limit)
    greedy = model.solve_greedy(bound=exact.bound)
    best = _better(method, exact, greedy)

    opened_rows = n_existing + best.opened
    if n_cand:
        chosen = pool.iloc[best.opened].drop(columns=[c for c in CAPACITY_COLUMNS if c in pool.columns])
        chosen = chosen.assign(capacity=caps[opened_rows], plan_status="proposed")
        all_sites = gpd.GeoDataFrame(pd.concat([sites, chosen], ignore_index=True), geometry="geometry", crs=4326)
    else:
        all_sites = gpd.GeoDataFrame(sites.reset_index(drop=True), geometry="geometry", crs=4326)
    open_rows = np.concatenate([np.arange(n_existing), opened_rows])
    pool_ids = pool["id"].to_numpy(object) if n_cand else np.zeros(0, dtype=object)
    all_ids = np.concatenate([result.sites["id"].astype(str).to_numpy(object), pool_ids])
    exact, greedy = (replace(sol, site_ids=_ids_of(sol.site, all_ids)) for sol in (exact, greedy))
    new_row = np.full(len(caps), -1)
    new_row[open_rows] = np.arange(len(open_rows))
    site = _link_unloaded(model, best.site, loads, open_rows)
    walk = model.walks(site)
    shown = np.where(site >= 0, new_row[np.maximum(site, 0)], -1)
    rows_in, cols_in, _ = model.pairs_in_reach
    is_open = np.zeros(len(caps), dtype=bool)
    is_open[open_rows] = True
    reachable = np.bincount(cols_in[is_open[rows_in]], minlength=len(loads)) > 0  # by a site that is open
    assignment = _assignment_table(result, all_sites, shown, walk, loads, reachable)
    by_site = _by_site_table(result, all_sites, shown, walk, loads)
    return Allocation(
        method=method,
        assignment=assignment,
        by_site=by_site,
        sites=all_sites,
        exact=exact,
        greedy=greedy,
        result=result,
        reach_m=reach,
        penalty_m=penalty,
        k=k,
        candidates=pool,
    )


def _ids_of(site: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.where(site >= 0, ids[np.maximum(site, 0)], None)


def _link_unloaded(model: CapacitatedAllocation, site: np.ndarray, loads: np.ndarray, open_rows: np.ndarray):
    """Places without load go to their nearest open site in reach (they use no capacity)."""
    site = site.copy()
    rows, cols, metres = model._all
    is_open = np.zeros(model.n_sites, dtype=bool)
    is_open[open_rows] = True
    ok = is_open[rows] & (loads[cols] == 0)
    order = np.lexsort((rows[ok], metres[ok], cols[ok]))
    c, r = cols[ok][order], rows[ok][order]
    first = np.ones(len(c), dtype=bool)
    first[1:] = c[1:] != c[:-1]
    site[c[first]] = r[first]
    return site


def _assignment_table(result, sites, site, walk, loads, reachable) -> pd.DataFrame:
    demand = result.demand
    has = site >= 0
    ids = sites["id"].astype(str).to_numpy(object)
    names = sites["name"].to_numpy(object)
    reason = np.where(
        has,
        np.where(loads > 0, "assigned", "no load"),
        np.where(loads == 0, "no load", np.where(reachable, "capacity full", "no site within reach")),
    )
    mpm = result.metres_per_minute
    table = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy(),
            "demand_name": demand["demand_name"].to_numpy(),
            "load": loads,
            "site_id": np.where(has, ids[np.maximum(site, 0)], None),
            "site_name": np.where(has, names[np.maximum(site, 0)], None),
            "walk_m": np.round(walk, 1),
            "walk_min": np.round(walk / mpm, 2),
            "assigned": has & (loads > 0),
            "reason": reason,
            "nearest_site_id": demand["nearest_site_id"].to_numpy(),
        },
        index=demand.index,
    )
    table["moved"] = table["assigned"] & (table["site_id"] != table["nearest_site_id"])
    if "community_class" in demand.columns:
        table["community_class"] = demand["community_class"].to_numpy()
    return table


def _by_site_table(result, sites, site, walk, loads) -> pd.DataFrame:
    n = len(sites)
    served = (site >= 0) & (loads > 0)
    places = np.bincount(site[served], minlength=n)
    load = np.bincount(site[served], weights=loads[served], minlength=n)
    lw = np.bincount(site[served], weights=loads[served] * walk[served], minlength=n)
    caps = sites["capacity"].to_numpy(float)
    # Uncapacitated baseline: each place within the threshold to its nearest site of the result.
    nearest, _ = result.matrix.nearest()
    near_ok = result.demand["covered"].to_numpy(bool) & (nearest >= 0)
    n_old = len(result.sites)
    nearest_places = np.bincount(nearest[near_ok], minlength=n_old)
    nearest_load = np.bincount(nearest[near_ok], weights=loads[near_ok], minlength=n_old)
    pad = np.zeros(n - n_old)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_cap = np.where(caps > 0, load / caps, np.where(load > 0, np.inf, np.nan))
        mean_walk = np.where(load > 0, lw / load / result.metres_per_minute, np.nan)
    spare = caps - load
    return pd.DataFrame(
        {
            "site_id": sites["id"].astype(str).to_numpy(),
            "site_name": sites["name"].to_numpy(),
            "status": sites["plan_status"].to_numpy(),
            "places": places,
            "load": load,
            "capacity": caps,
            "load_per_capacity": per_cap,
            "spare": spare,
            "over": spare < -_TOL * np.maximum(caps, 1.0),
            "nearest_places": np.concatenate([nearest_places, pad]).astype(int),
            "nearest_load": np.concatenate([nearest_load, pad]),
            "mean_walk_min": np.round(mean_walk, 2),
        }
    )


# ------------------------------------------------------- volunteer pool
def spread_volunteers(
    source: Allocation | CoverageResult | pd.DataFrame,
    total: int = 561,
    *,
    minimum: int | Sequence[int] | np.ndarray = 1,
    target: float | None = None,
    load: str | float | Sequence[float] | np.ndarray = "weight",
) -> pd.DataFrame:
    r"""Split a pool of ``total`` volunteers among the sites so the load per volunteer is as even as possible.

    With site loads :math:`L_s` and whole volunteers :math:`v_s`:

    .. math::
        \min\ \max_s \frac{L_s}{v_s} \quad\text{s.t.}\quad \sum_s v_s = N,\;\; v_s \ge m_s,\;\; v_s \in \mathbb{Z}

    and, among the answers with that worst ratio, the one whose next worst
    ratio is lowest, and so on (the lexicographic min-max, "leximax",
    order of the sorted ratios). Solved exactly by giving each volunteer in
    turn to the site with the highest current load per volunteer (ties:
    fewer volunteers, then table order), starting from the minimums: the
    ratio :math:`L_s/v` is convex and decreasing in v, so this greedy is
    optimal for the separable problem whose optimum is the leximax answer.
    Sites without load get their minimum and no more, unless every site
    is without load (then the pool is shared evenly).

    Parameters
    ----------
    source : Allocation, CoverageResult or DataFrame
        An `Allocation` (loads assigned within the capacities; its
        ``capacity`` column is shown as ``current``), a `CoverageResult`
        (each covered place's load goes to its nearest site) or a table with
        ``site_id`` and ``load`` (``site_name``, ``capacity`` optional).
    total : int, default 561
        Volunteers to place.
    minimum : int or array of int, default 1
        Fewest volunteers per site (one number or one per site).
    target : float, optional
        A load per volunteer to meet: reported per site as
        ``needed_for_target`` (⌈L/target⌉, at least the minimum) and
        ``meets_target``.
    load : str, number or array, default "weight"
        For a `CoverageResult` source: the demand load (see `demand_loads`).

    Returns
    -------
    DataFrame
        ``site_id, site_name, load, volunteers, load_per_volunteer``, then
        ``current`` and ``change`` when the source has capacities, and
        ``needed_for_target, meets_target`` with a target.

    Raises
    ------
    ProblemError
        When the pool is smaller than the minimums add up to, or total,
        minimum or target is not a valid number.
    """
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
        raise ProblemError(f"total must be a whole number of volunteers ≥ 0, not {total!r}")
    table = _site_loads(source, load)
    n = len(table)
    mins = np.broadcast_to(np.asarray(minimum), (n,)).astype(float) if n else np.zeros(0)
    if n and (np.any(mins < 0) or np.any(mins != np.round(mins))):
        raise ProblemError(f"minimum must be whole numbers ≥ 0, not {minimum!r}")
    mins = mins.astype(np.int64)
    if mins.sum() > total:
        raise ProblemError(f"{total} volunteers cannot give {n} sites their minimum ({int(mins.sum())} needed)")
    if target is not None and not (_is_number(target) and np.isfinite(target) and target > 0):
        raise ProblemError(f"target must be a positive load per volunteer, not {target!r}")
    L = table["load"].to_numpy(float)
    v = _leximax_apportion(L, mins, int(total))
    out = table[["site_id", "site_name", "load"]].copy()
    out["volunteers"] = v
    with np.errstate(divide="ignore", invalid="ignore"):
        out["load_per_volunteer"] = np.where(v > 0, L / v, np.where(L > 0, np.inf, 0.0))
    if "capacity" in table.columns:
        out["current"] = table["capacity"].to_numpy(float)
        out["change"] = v - out["current"]
    if target is not None:
        need = np.maximum(mins, np.ceil(L / float(target) - 1e-9)).astype(np.int64)
        out["needed_for_target"] = need
        out["meets_target"] = out["load_per_volunteer"] <= float(target) * (1 + 1e-9)
    return out.reset_index(drop=True)


def _leximax_apportion(L: np.ndarray, mins: np.ndarray, total: int) -> np.ndarray:
    """Give each volunteer to the highest load per volunteer (see `spread_volunteers`)."""
    v = mins.astype(np.int64).copy()
    left = total - int(v.sum())
    if len(L) == 0 or left <= 0:
        return v
    if not (L > 0).any():
        # No load anywhere: share evenly (fewest first, then table order).
        heap = [(int(v[s]), s) for s in range(len(L))]
        heapq.heapify(heap)
        for _ in range(left):
            have, s = heapq.heappop(heap)
            v[s] += 1
            heapq.heappush(heap, (have + 1, s))
        return v

    def key(s: int) -> tuple[float, int, int]:
        ratio = np.inf if v[s] == 0 else L[s] / v[s]
        return (-ratio, int(v[s]), s)

    heap = [key(s) for s in np.flatnonzero(L > 0)]
    heapq.heapify(heap)
    for _ in range(left):
        _, _, s = heapq.heappop(heap)
        v[s] += 1
        heapq.heappush(heap, key(s))
    return v


def _site_loads(source, load) -> pd.DataFrame:
    if isinstance(source, Allocation):
        return source.by_site[["site_id", "site_name", "load", "capacity"]].copy()
    if isinstance(source, CoverageResult):
        loads = demand_loads(source.demand, load)
        nearest, _ = source.matrix.nearest()
        ok = source.demand["covered"].to_numpy(bool) & (nearest >= 0)
        sums = np.bincount(nearest[ok], weights=loads[ok], minlength=len(source.sites))
        table = pd.DataFrame(
            {"site_id": source.sites["id"].astype(str).to_numpy(), "site_name": source.sites["name"].to_numpy()}
        )
        table["load"] = sums
        names = [c for c in CAPACITY_COLUMNS if c in source.sites.columns]
        if names:
            table["capacity"] = pd.to_numeric(source.sites[names[0]], errors="coerce").to_numpy(float)
        return table
    if isinstance(source, pd.DataFrame):
        missing = [c for c in ("site_id", "load") if c not in source.columns]
        if missing:
            raise DataError(f"the site table needs columns site_id and load; missing {', '.join(missing)}")
        table = source.reset_index(drop=True).copy()
        if "site_name" not in table.columns:
            table["site_name"] = table["site_id"]
        table["load"] = _numbers(
            table.rename(columns={"site_id": "id"}), table["load"], "load", "sites", default=None, allow_inf=False
        )
        return table
    raise DataError(
        f"spread_volunteers needs an Allocation, a CoverageResult or a DataFrame, not {type(source).__name__}"
    )


__all__ = [
    "ALLOCATION_METHODS",
    "CAPACITY_COLUMNS",
    "Allocation",
    "AllocationSolution",
    "CapacitatedAllocation",
    "allocate_capacity",
    "demand_loads",
    "site_capacities",
    "spread_volunteers",
]
