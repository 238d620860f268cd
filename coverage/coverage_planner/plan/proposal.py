"""`propose_sites`: from a coverage result and candidates to proposed new sites, with coverage after.

The result already knows the network, where every place joins it, the
coverage rule and the walks from the existing sites, so planning walks only
from the candidates and asks for nothing the user already gave.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage_planner._geo import place_lonlat
from coverage_planner._io import write_text_atomic
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.analysis import prepare_places, with_sites
from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian, ProposalError, Solution
from coverage_planner.results import CoverageResult

PROPOSAL_METHODS = ("mclp", "lscp", "pmedian", "pcenter")


@dataclass
class Proposal:
    """Proposed new sites, how they were found, and coverage before and after.

    Made by `propose_sites`.

    Parameters
    ----------
    method : {"mclp", "lscp", "pmedian", "pcenter"}
        The model solved.
    sites : GeoDataFrame
        The proposed candidates (WGS-84) in choice order, with ``rank``,
        ``added_weight`` (demand weight newly within the threshold) and
        ``status = proposed``.
    exact, greedy : Solution
        The two solves (objective, bound, gap, solve time).
    before, after : CoverageResult
        Coverage now, and with the proposed sites open too.
    share_before, share_after : float
        Share of all demand weight within the threshold, before and after.
    coverable_share : float
        The largest share any choice of candidates could reach (places no
        existing or candidate site reaches within the threshold excluded).
    uncoverable : DataFrame
        Demand places no existing or candidate site reaches (``demand_id``, ``demand_name``).
    candidates : GeoDataFrame
        The pool chosen from.
    target_share : float, optional
        The lscp target share asked for (None: every coverable place, or not lscp).

    Attributes
    ----------
    threshold_m : float
        The coverage threshold in metres (the before run's).
    """

    method: str
    sites: gpd.GeoDataFrame
    exact: Solution
    greedy: Solution
    before: CoverageResult = field(repr=False)
    after: CoverageResult = field(repr=False)
    share_before: float
    share_after: float
    coverable_share: float
    uncoverable: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    candidates: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame, repr=False)
    target_share: float | None = None

    @property
    def threshold_m(self) -> float:
        """The coverage threshold in metres (the before run's)."""
        return self.before.threshold_m

    def __repr__(self) -> str:
        return (
            f"<Proposal {self.method}: {len(self.sites)} new site(s) from {len(self.candidates)} candidates, "
            f"covered weight {self.share_before:.1%} → {self.share_after:.1%}>"
        )

    def _repr_html_(self) -> str:
        names = ", ".join(html.escape(str(n)) for n in self.sites["name"].head(10))
        more = " …" if len(self.sites) > 10 else ""
        return (
            f"<p><b>Proposal</b> ({html.escape(self.method)}): {len(self.sites)} new site(s) from "
            f"{len(self.candidates)} candidates; covered weight {self.share_before:.1%} → {self.share_after:.1%} "
            f"(at most {self.coverable_share:.1%} is coverable)</p><p>{names}{more}</p>"
        )

    def to_sites_frame(self) -> pd.DataFrame:
        """Rows ready for ``coverage-planner add-site --from``.

        Returns
        -------
        DataFrame
            ``id, name, lon, lat, type, status`` (status ``proposed``), in choice order.
        """
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

    def coordinates(self) -> pd.DataFrame:
        """Where each proposed site is, in WGS-84 and in GCJ-02 (what Gaode and Tencent maps show).

        Returns
        -------
        DataFrame
            ``id, name, lon, lat, lon_gcj02, lat_gcj02`` in choice order; outside China
            the GCJ-02 columns equal WGS-84 (the offset applies only inside China).
        """
        from coverage_planner.places import china

        lon, lat = self.sites.geometry.x.to_numpy(float), self.sites.geometry.y.to_numpy(float)
        glon, glat = china.wgs84_to_gcj02(lon, lat)
        inside = china.in_china(lon, lat)
        return pd.DataFrame(
            {
                "id": self.sites["id"],
                "name": self.sites["name"],
                "lon": lon.round(7),
                "lat": lat.round(7),
                "lon_gcj02": np.where(inside, glon, lon).round(7),
                "lat_gcj02": np.where(inside, glat, lat).round(7),
            }
        )

    def summary(self, *, times: bool = True) -> dict:
        """Objective, bound, gap and times of both solves, and the coverage change.

        Parameters
        ----------
        times : bool, default True
            Include each solve's seconds. ``proposal.json`` leaves them out, so
            the same inputs give the same bytes.

        Returns
        -------
        dict
            What ``proposal.json`` holds (with ``times=False``).
        """

        def sol(s: Solution) -> dict:
            answer = {
                "objective": float(s.objective),
                "bound": None if np.isnan(s.bound) else float(s.bound),
                "gap": None if np.isnan(s.gap) else float(s.gap),
                "solve_time_s": round(s.solve_time_s, 4),
                "status": s.status,
            }
            return answer if times else {k: v for k, v in answer.items() if k != "solve_time_s"}

        return {
            "method": self.method,
            "new_sites": len(self.sites),
            "candidates": len(self.candidates),
            "threshold_m": self.threshold_m,
            "target_share": self.target_share,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "coverable_share": self.coverable_share,
            "exact": sol(self.exact),
            "greedy": sol(self.greedy),
            "uncoverable_places": len(self.uncoverable),
            "sites": [
                {**row, "added_weight": float(w)}
                for row, w in zip(self.coordinates().to_dict("records"), self.sites["added_weight"])
            ],
            "scenario": self.before.manifest.get("scenario"),
        }

    def write(
        self,
        out_dir: str | Path,
        *,
        map: bool = True,
        report: bool = True,
        lang: str = "zh",
        basemap: str = "osm",
        pdf: bool = True,
        ledger: str | Path | None = None,
        ledger_sheet: str | None = None,
    ) -> list[Path]:
        """Write the proposal: ``proposed_sites.csv``, ``proposal.json``, and a map and report of coverage after.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into (created when missing).
        map : bool, default True
            Also write ``map.html``: coverage with the proposed sites (★) and their walk bands.
        report : bool, default True
            Also write the report comparing coverage now and with the proposed sites.
        lang : {"zh", "en"}, default "zh"
            Language of map and report.
        basemap : str, default "osm"
            Basemap of the map (see `coverage_map`).
        pdf : bool, default True
            Also write ``report.pdf``.
        ledger : str or Path, optional
            The planner's demand ledger (XLSX or CSV): written back as
            ``ledger_written_back.<suffix>`` with each place's answer and 新增覆盖.
        ledger_sheet : str, optional
            The ledger's sheet the places came from.

        Returns
        -------
        list of Path
            The files written, ``manifest.json`` (the coverage with the proposed sites, and every
            file's sha256) last.
        """
        from coverage_planner.escape import csv_frame
        from coverage_planner.outputs.manifest import manifest_of
        from coverage_planner.outputs.run_folder import move_in, output_request, staged, write_map_and_report

        # Staged and moved in as one unit with a manifest, as a run folder: an earlier run's files that
        # this proposal does not write again go, and an interrupted write leaves the folder as it was.
        with staged(out_dir) as staging:
            write_text_atomic(
                staging / "proposed_sites.csv", "\ufeff" + csv_frame(self.to_sites_frame()).to_csv(index=False)
            )
            write_text_atomic(
                staging / "proposal.json",
                json.dumps(self.summary(times=False), ensure_ascii=False, indent=2, default=str) + "\n",
            )
            write_back = None
            if ledger is not None:

                def write_back() -> list[Path]:
                    from coverage_planner.outputs.ledger import write_ledger

                    target = staging / f"ledger_written_back{Path(ledger).suffix.lower()}"
                    write_ledger(self.before, ledger, target, proposal=self, sheet=ledger_sheet, lang=lang)
                    return [target]

            if map or report:
                from coverage_planner.diff import ScenarioDiff

                labels = ("now", "with proposed sites")
                diff = ScenarioDiff.from_results(self.before, self.after, labels=labels) if report else None
                write_map_and_report(
                    self.after,
                    staging,
                    map=map,
                    report=report,
                    lang=lang,
                    basemap=basemap,
                    diff=diff,
                    proposal=self,
                    pdf=pdf,
                    beside=write_back,  # in the map's worker: the report need not wait for it
                )
            elif write_back is not None:
                write_back()
            request = output_request(lang=lang, map=map, report=report, pdf=pdf, basemap=basemap, ledger=ledger)
            return move_in(staging, out_dir, manifest_of(self.after), request=request)


def propose_sites(
    result: CoverageResult,
    candidates: gpd.GeoDataFrame,
    *,
    method: str = "mclp",
    k: int | None = None,
    target_share: float | None = None,
    time_limit: float | None = None,
    progress: bool | None = False,
    weights: Sequence[float] | np.ndarray | None = None,
) -> Proposal:
    """Propose new sites among ``candidates``; the result's sites stay open and count.

    The coverage rule (threshold, speed, profile, search and snap limits,
    access legs), the demand places' snaps and the existing sites' walks come
    from ``result``; only the candidates are snapped and walked from.

    Parameters
    ----------
    result : CoverageResult
        Coverage now, from `compute_coverage` or `run_scenario`.
    candidates : GeoDataFrame
        Where a new site could open (points or polygons, any CRS), e.g. from
        `build_candidates`; ``id`` and ``name`` as for sites.
    method : {"mclp", "lscp", "pmedian", "pcenter"}, default "mclp"
        ``mclp``: k sites covering the most demand weight; ``lscp``: fewest
        sites covering every coverable place, or ``target_share`` of all
        demand weight; ``pmedian``: k sites minimising the weighted walk
        (places beyond the search limit carry a penalty); ``pcenter``: k sites
        minimising the worst walk.
    k : int, optional
        Number of new sites (mclp, pmedian, pcenter).
    target_share : float, optional
        For lscp: share of all demand weight to reach (default: every
        coverable place). A share above `Proposal.coverable_share` cannot be met.
    time_limit : float, optional
        Seconds for the exact solver; the best answer found is kept with its gap.
    progress : bool or None, default False
        Show a progress bar for the candidates' walks.
    weights : array of float, optional
        One weight per demand place instead of ``result.demand["weight"]``,
        e.g. `priority_weights` raising 强基型 communities; the shares and
        added weights are then of these weights.

    Returns
    -------
    Proposal
        With ``.after``, the coverage result with the proposed sites open.

    Raises
    ------
    ProposalError
        For an unknown method, a missing k, an empty candidate pool or a
        target share no choice of candidates reaches.
    """
    if method not in PROPOSAL_METHODS:
        raise ProposalError(f"method must be one of {', '.join(PROPOSAL_METHODS)}, not {method!r}")
    if method in ("mclp", "pmedian", "pcenter") and k is None:
        raise ProposalError(f"{method} needs k, the number of new sites")
    if len(candidates) == 0:
        raise ProposalError("there are no candidate sites to choose from")
    if result.demand_snap is None:
        raise ProposalError("this result carries no snaps; build it with compute_coverage or run_scenario")
    pool = prepare_places(candidates, "candidates")
    network = result.network
    snap = snap_points(network, place_lonlat(pool), max_snap_m=result.max_snap_m)
    walks = AccessMatrix.compute(
        network,
        snap,
        result.demand_snap,
        result.matrix.cutoff_m,
        include_access_legs=result.matrix.include_access_legs,
        site_ids=pool["id"].to_numpy(),
        demand_ids=result.matrix.demand_ids,
        progress=progress,
    )
    matrix = AccessMatrix.stack(result.matrix, walks)
    if weights is None:
        weights = result.demand["weight"].to_numpy(float)
        given = False
    else:
        weights = np.asarray(weights, dtype=float).ravel()
        if weights.shape != (len(result.demand),) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ProposalError(f"weights: give one finite weight ≥ 0 per demand place ({len(result.demand)})")
        given = True
    n_existing = len(result.sites)
    covers = matrix.covers(result.threshold_m)
    coverable = np.asarray(covers.sum(axis=0)).ravel() > 0
    total = weights.sum() or 1.0
    coverable_share = float(weights[coverable].sum() / total)
    if method == "mclp":
        problem = MCLP(covers, weights, n_existing, k)
    elif method == "lscp":
        if target_share is not None and target_share > coverable_share + 1e-12:
            raise ProposalError(
                f"target share {target_share:.1%} cannot be reached: existing and candidate sites together reach "
                f"at most {coverable_share:.1%} of the demand weight within the threshold"
            )
        problem = LSCP(covers, weights, n_existing, target_share if target_share is not None else 1.0)
    elif method == "pmedian":
        problem = PMedian(matrix.to_csr(), weights, n_existing, k)
    else:
        problem = PCenter(matrix.to_csr(), weights, n_existing, k)
    exact = problem.solve("exact", time_limit=time_limit)
    greedy = problem.solve("greedy")
    problem.solution = exact

    covered_before = np.asarray(covers[:n_existing].sum(axis=0)).ravel() > 0
    order, added = _choice_order(covers, n_existing, exact.chosen, covered_before, weights)
    proposed = pool.iloc[order].copy()
    proposed["rank"] = np.arange(1, len(order) + 1)
    proposed["added_weight"] = added
    proposed["status"] = "proposed"
    proposed = proposed.reset_index(drop=True)
    after = with_sites(
        result,
        proposed,
        walks=walks.take_sites(order),
        snap=snap.take(order),
        manifest={**result.manifest, "proposal": {"method": method, "new_sites": len(order)}},
    )
    demand = result.demand
    return Proposal(
        method=method,
        sites=proposed,
        exact=exact,
        greedy=greedy,
        before=result,
        after=after,
        share_before=float(weights[covered_before].sum() / total),
        share_after=_share_after(after, weights, total, given),
        coverable_share=coverable_share,
        uncoverable=pd.DataFrame(
            {"demand_id": demand["demand_id"][~coverable], "demand_name": demand["demand_name"][~coverable]}
        ).reset_index(drop=True),
        candidates=pool,
        target_share=target_share,
    )


def _share_after(after: CoverageResult, weights: np.ndarray, total: float, given: bool) -> float:
    """Weighted share covered with the proposed sites (of the given weights, when given)."""
    if weights.sum() <= 0:
        return float("nan")
    if not given:
        return after.share_covered(weighted=True)
    return float(weights[after.demand["covered"].to_numpy(bool)].sum() / total)


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


__all__ = ["PROPOSAL_METHODS", "Proposal", "propose_sites"]
