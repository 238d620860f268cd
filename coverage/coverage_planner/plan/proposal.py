"""`propose_sites`: from places and a network to proposed new sites, with before/after coverage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import DEFAULT_MAX_SNAP_M, snap_points
from coverage_planner.analysis import DEMAND_RESULT_COLUMNS, _as_places, _lonlat, compute_coverage
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian, ProposalError, Solution
from coverage_planner.profiles import get_profile
from coverage_planner.results import CoverageResult

PROPOSAL_METHODS = ("mclp", "lscp", "pmedian", "pcenter")


@dataclass
class Proposal:
    """Proposed new sites and what they change.

    Attributes
    ----------
    method : "mclp", "lscp", "pmedian" or "pcenter".
    sites : the proposed candidates (GeoDataFrame, WGS-84) in choice order, with
        ``rank`` and ``added_weight`` (demand weight newly within the threshold).
    exact, greedy : the two solutions (objective, bound, gap, solve time).
    share_before, share_after : share of demand weight within the threshold.
    uncoverable : demand places no existing or candidate site can reach.
    """

    method: str
    sites: gpd.GeoDataFrame
    exact: Solution
    greedy: Solution
    share_before: float
    share_after: float
    threshold_m: float
    uncoverable: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_sites_frame(self) -> pd.DataFrame:
        """Rows ready for ``coverage-planner add-site --from``: id, name, lon, lat, type, status = proposed."""
        return pd.DataFrame(
            {
                "id": self.sites["id"],
                "name": self.sites["name"],
                "lon": self.sites.geometry.x.round(7),
                "lat": self.sites.geometry.y.round(7),
                "type": self.sites.get("type"),
                "status": "proposed",
            }
        )

    def summary(self) -> dict:
        """Objective, bound, gap and times of both methods, and the coverage change (for proposal.json)."""

        def sol(s: Solution) -> dict:
            return {
                "objective": float(s.objective),
                "bound": None if np.isnan(s.bound) else float(s.bound),
                "gap": None if np.isnan(s.gap) else float(s.gap),
                "solve_time_s": round(s.solve_time_s, 4),
                "status": s.status,
            }

        return {
            "method": self.method,
            "new_sites": len(self.sites),
            "threshold_m": self.threshold_m,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "exact": sol(self.exact),
            "greedy": sol(self.greedy),
            "uncoverable_places": len(self.uncoverable),
        }


def propose_sites(
    network: WalkNetwork,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    method: str = "mclp",
    k: int | None = None,
    target_share: float | None = None,
    threshold_min: float = 15.0,
    profile: str = "adult",
    speed_kmh: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    time_limit: float | None = None,
) -> Proposal:
    """Propose new sites among ``candidates``; existing ``sites`` stay open and count.

    Parameters
    ----------
    method : "mclp" (k sites covering the most weight), "lscp" (fewest sites
        covering every coverable place, or ``target_share`` of the weight) or
        "pmedian" (k sites minimising weighted walk distance) or "pcenter"
        (k sites minimising the worst walk).
    k : number of new sites (mclp, pmedian).
    target_share : for lscp, the share of demand weight to reach (default: all coverable).
    threshold_min, profile, speed_kmh : the coverage rule, as in `compute_coverage`.
    time_limit : seconds for the exact solver; the best solution found is kept with its gap.

    Demand weights come from the ``weight`` column (`read_places` fills it
    from the scenario's weight column; default 1).
    """
    if method not in PROPOSAL_METHODS:
        raise ProposalError(f"method must be one of {', '.join(PROPOSAL_METHODS)}, not {method!r}")
    if method in ("mclp", "pmedian", "pcenter") and k is None:
        raise ProposalError(f"{method} needs k, the number of new sites")
    if len(candidates) == 0:
        raise ProposalError("there are no candidate sites to choose from")
    walk = get_profile(profile, speed_kmh)
    threshold_m = threshold_min * walk.metres_per_minute
    sites, demand, candidates = (
        _as_places(sites, "sites"),
        _as_places(demand, "demand"),
        _as_places(candidates, "candidates"),
    )
    everyone = np.vstack([_lonlat(sites), _lonlat(candidates)])
    limit = threshold_m if method in ("mclp", "lscp") else 2 * threshold_m
    matrix = AccessMatrix.compute(
        network,
        snap_points(network, everyone, max_snap_m=max_snap_m),
        snap_points(network, _lonlat(demand), max_snap_m=max_snap_m),
        limit,
        progress=False,
    )
    weights = demand["weight"].to_numpy(float)
    n_existing = len(sites)
    covers = matrix.covers(threshold_m)
    if method == "mclp":
        problem = MCLP(covers, weights, n_existing, k)
    elif method == "lscp":
        problem = LSCP(covers, weights, n_existing, target_share if target_share is not None else 1.0)
    elif method == "pmedian":
        problem = PMedian(matrix.to_csr(), weights, n_existing, k)
    else:
        problem = PCenter(matrix.to_csr(), weights, n_existing, k)
    exact = problem.solve("exact", time_limit=time_limit)
    greedy = problem.solve("greedy")
    problem.solution = exact

    chosen = exact.chosen
    covered_before = np.asarray(covers[:n_existing].sum(axis=0)).ravel() > 0
    order, added = _choice_order(covers, n_existing, chosen, covered_before, weights)
    proposed = candidates.iloc[order].copy()
    proposed["rank"] = np.arange(1, len(order) + 1)
    proposed["added_weight"] = added
    proposed["status"] = "proposed"
    covered_after = covered_before | (np.asarray(covers[n_existing + chosen].sum(axis=0)).ravel() > 0)
    total = weights.sum() or 1.0
    unreachable = ~(np.asarray(covers.sum(axis=0)).ravel() > 0)
    return Proposal(
        method=method,
        sites=proposed.reset_index(drop=True),
        exact=exact,
        greedy=greedy,
        share_before=float(weights[covered_before].sum() / total),
        share_after=float(weights[covered_after].sum() / total),
        threshold_m=threshold_m,
        uncoverable=pd.DataFrame(
            {"demand_id": demand["id"][unreachable], "demand_name": demand["name"][unreachable]}
        ).reset_index(drop=True),
    )


def coverage_with_proposal(
    result: CoverageResult, proposal: Proposal, *, cache_dir: str | Path | None = None
) -> CoverageResult:
    """The same run with the proposed sites opened too (status ``proposed``), for before/after maps and reports.

    Uses the run's network, demand, threshold, speed and search limit; the
    proposed sites' walks are computed like any other site's.
    """
    keep = [c for c in _SITE_COLUMNS if c in result.sites.columns]
    new = proposal.sites.assign(status="proposed")
    sites = pd.concat(
        [result.sites[keep + ["geometry"]], new[[c for c in keep if c in new.columns] + ["geometry"]]],
        ignore_index=True,
    )
    after = compute_coverage(
        result.network,
        gpd.GeoDataFrame(sites, geometry="geometry", crs="EPSG:4326"),
        result.demand[_demand_columns(result)],
        threshold_m=result.threshold_m,
        speed_kmh=result.speed_kmh,
        profile=result.profile_name,
        search_limit_m=result.matrix.cutoff_m,
        max_snap_m=result.max_snap_m,
        access_legs=result.matrix.include_access_legs,
        preset=result.preset,
        manifest={**result.manifest, "proposal": proposal.summary()},
        cache_dir=cache_dir,
        progress=False,
    )
    return after


_SITE_COLUMNS = ("id", "name", "type", "district", "subdistrict", "community", "status", "weight")


def _demand_columns(result: CoverageResult) -> list[str]:
    """The demand columns as read (without the previous run's results)."""
    return [c for c in result.demand.columns if c not in DEMAND_RESULT_COLUMNS]


def _choice_order(covers, n_existing, chosen, covered, weights) -> tuple[np.ndarray, np.ndarray]:
    """Order the chosen candidates by marginal gain (greedy over the chosen set), with each one's added weight."""
    covered = covered.copy()
    remaining = list(chosen)
    order, added = [], []
    while remaining:
        gains = [
            float(weights[covers[n_existing + i].indices][~covered[covers[n_existing + i].indices]].sum())
            for i in remaining
        ]
        best = int(np.argmax(gains))
        pick = remaining.pop(best)
        order.append(pick)
        added.append(gains[best])
        covered[covers[n_existing + pick].indices] = True
    return np.array(order, dtype=np.int64), np.array(added)
