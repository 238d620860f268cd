"""Coverage results: who reaches a site within the threshold, and summaries by group."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import DEFAULT_MAX_SNAP_M, Snap
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.profiles import WalkProfile

# Columns of coverage.csv, in order (the contract comes first).
COVERAGE_COLUMNS = [
    "demand_id",
    "demand_name",
    "nearest_site_id",
    "nearest_site_name",
    "walk_m",
    "walk_min",
    "covered",
    "snap_m",
    "off_network",
    "component",
    "status",
]
#: Columns of `CoverageResult.summary` (summary.csv), in order.
SUMMARY_COLUMNS = (
    "dimension",
    "group",
    "places",
    "covered",
    "share",
    "weight",
    "covered_weight",
    "weight_share",
    "median_walk_min",
    "placeholder_places",
)
# Grouping columns summarised when present, with the label used in summary.csv.
SUMMARY_DIMENSIONS = {
    "district": "district",
    "subdistrict": "subdistrict",
    "community": "community",
    "type": "type",
    "community_class": "community_class",
}


@dataclass
class CoverageResult:
    """Everything a table, map or report needs about one run.

    Parameters
    ----------
    sites, demand : geopandas.GeoDataFrame
        The input places (WGS-84) with snap columns; ``demand`` also carries
        nearest_site_id, walk_m, walk_min and covered.
    matrix : AccessMatrix
        The sparse site × demand walk distances (within ``search_limit_m``).
    network : WalkNetwork
        The walking network used.
    threshold_m, threshold_min, speed_kmh : float
        The coverage rule. With a profile that has costs, ``threshold_m`` and
        the matrix are in equivalent metres (minutes × metres per minute) and
        ``walk_m`` is each route's own length.
    profile_name : str, default "adult"
        Name of the travel profile.
    preset : str, optional
        The GB 50180 preset the threshold came from, for reports.
    manifest : dict, optional
        Provenance of the run (inputs, hashes, parameters).
    cache_stats : dict, optional
        How many site rows came from the matrix cache.
    timings : dict of str to float, optional
        Seconds per stage (not in the manifest).
    max_snap_m : float, default `DEFAULT_MAX_SNAP_M`
        Places farther from every walkable way were left off-network.
    cache_dir : Path, optional
        The cache folder the run used; the map, report and GeoPackage keep
        each site's walk bands there too. None: nothing is cached on disk.
    site_snap, demand_snap : Snap, optional
        Where sites and places join the network (reused by planning).
    walk_profile : WalkProfile, optional
        The travel profile with its costs (None for results built by hand);
        see `coverage_planner.profiles`.
    cost_model : dict, optional
        What the costs were and what they met on the network
        (`coverage_planner.analysis.cost_model`).

    Attributes
    ----------
    metres_per_minute : float
        The profile's speed in metres per minute.
    """

    sites: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    matrix: AccessMatrix
    network: WalkNetwork
    threshold_m: float
    threshold_min: float
    speed_kmh: float
    profile_name: str = "adult"
    preset: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    cache_stats: dict[str, Any] | None = None  # how many site rows came from the matrix cache
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (not in the manifest)
    max_snap_m: float = DEFAULT_MAX_SNAP_M  # places farther from every walkable way were left off-network
    cache_dir: Path | None = field(default=None, repr=False)  # the run's cache folder (bands are kept there too)
    site_snap: Snap | None = field(default=None, repr=False)  # where sites join the network (reused by planning)
    demand_snap: Snap | None = field(default=None, repr=False)
    # The travel profile with its costs (None for results built by hand); see `coverage_planner.profiles`.
    walk_profile: WalkProfile | None = field(default=None, repr=False)
    # What the costs were and what they met on the network (`coverage_planner.analysis.cost_model`).
    cost_model: dict[str, Any] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        placeholders = int((self.demand.get("status") == "placeholder").sum()) if len(self.demand) else 0
        extra = f", {placeholders} placeholder(s)" if placeholders else ""
        return (
            f"<CoverageResult: {len(self.sites)} sites, {len(self.demand)} places, "
            f"{self.share_covered():.1%} within {self._rule()}{extra}>"
        )

    @property
    def travel_mode(self) -> str:
        """How the minutes were travelled: ``"drive"`` for a drive profile, else ``"walk"``.

        Returns
        -------
        str
        """
        mode = self.cost_model.get("mode") if self.cost_model else None
        if mode is None and self.walk_profile is not None:
            mode = self.walk_profile.mode
        return "drive" if mode == "drive" or self.profile_name == "drive" else "walk"

    @property
    def _costed(self) -> bool:
        """True when the search ran on a profile's costs (minutes come from cost, not metres)."""
        return bool(self.cost_model is not None and not self.cost_model.get("plain", True)) or (
            getattr(self.network, "costs", None) is not None
        )

    def _rule(self) -> str:
        """The coverage rule in words: minutes, mode and what a minute is."""
        if self.travel_mode == "drive":
            return f"{self.threshold_min:g} min drive (costs at {self.speed_kmh:g} km/h reference, {self.profile_name})"
        costs = ", with costs" if self._costed else ""
        return (
            f"{self.threshold_min:g} min walk "
            f"({self.threshold_m:.0f} m at {self.speed_kmh:g} km/h{costs}, {self.profile_name})"
        )

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in self._overview()
        )
        return f"<table><caption style='text-align:left'><b>CoverageResult</b></caption>{rows}</table>"

    def _overview(self) -> list[tuple[str, str]]:
        weighted = self.share_covered(weighted=True)
        return [
            ("rule", self._rule()),
            ("sites", f"{len(self.sites)}"),
            ("demand places", f"{len(self.demand)}"),
            ("covered places", f"{int(self.demand['covered'].sum())} ({self.share_covered():.1%})"),
            ("covered weight", "n/a" if weighted != weighted else f"{weighted:.1%}"),
            ("off the network", f"{int(self.demand['off_network'].sum())}" if "off_network" in self.demand else "0"),
            ("network", f"{self.network.n_nodes:,} nodes, {self.network.n_edges:,} edges"),
        ]

    @property
    def metres_per_minute(self) -> float:
        """The profile's speed in metres per minute (converts ``threshold_m`` to minutes)."""
        return self.speed_kmh * 1000.0 / 60.0

    def table(self) -> pd.DataFrame:
        """The per-place coverage table written as coverage.csv.

        Returns
        -------
        pandas.DataFrame
            `COVERAGE_COLUMNS` (those present) first, then the demand's other
            columns, without geometry.
        """
        extra = [
            c
            for c in self.demand.columns
            if c not in COVERAGE_COLUMNS and c not in ("geometry", "footprint", "id", "name")
        ]
        out = self.demand[[c for c in COVERAGE_COLUMNS if c in self.demand.columns] + extra]
        return pd.DataFrame(out).reset_index(drop=True)

    def share_covered(self, weighted: bool = False) -> float:
        """Share of demand places (or of their weight) within the threshold.

        Parameters
        ----------
        weighted : bool, default False
            Share of the demand weight instead of the places.

        Returns
        -------
        float
            Between 0 and 1; NaN with no places (or no weight).
        """
        covered = self.demand["covered"].to_numpy(bool)
        if weighted:
            w = self.demand["weight"].to_numpy(float)
            return float(w[covered].sum() / w.sum()) if w.sum() > 0 else float("nan")
        return float(covered.mean()) if len(covered) else float("nan")

    def summary(self) -> pd.DataFrame:
        """Coverage share overall and by each grouping column the demand carries.

        One row per (dimension, group): places, covered places and share, the
        same by weight, and the median walk minutes of reachable places.

        Returns
        -------
        pandas.DataFrame
            Columns ``dimension``, ``group``, ``places``, ``covered``,
            ``share``, ``weight``, ``covered_weight``, ``weight_share``,
            ``median_walk_min``, ``placeholder_places``; the first row is
            dimension ``all``.
        """
        frames = [_summarise(self.demand.assign(_all="all"), "_all").assign(dimension="all")]
        for column, label in SUMMARY_DIMENSIONS.items():
            if column in self.demand.columns and self.demand[column].notna().any():
                frames.append(_summarise(self.demand, column).assign(dimension=label))
        table = pd.concat(frames, ignore_index=True)
        return table[list(SUMMARY_COLUMNS)]

    def left_out(self) -> pd.DataFrame:
        """Demand places beyond the threshold, farthest first (unreachable last).

        With a profile's costs "farthest" is by time (``walk_min``, from
        cost), not by the route's metres: 600 m with steps and a main-road
        wait can be farther than 900 m of level pavement.

        Returns
        -------
        pandas.DataFrame
            Rows of `table` not covered.
        """
        table = self.table()
        out = table[~table["covered"]]
        key = "walk_min" if self._costed and "walk_min" in out.columns else "walk_m"
        return out.sort_values([key, "demand_id"], ascending=[False, True], na_position="last")

    def by_site(self, *, bands_min: tuple[float, ...] = (5.0, 10.0, 15.0), pairs: bool = False) -> pd.DataFrame:
        """Whom each site serves: the places it is nearest to, and how many it reaches within each band.

        Parameters
        ----------
        bands_min : tuple of float, default (5, 10, 15)
            Walk minutes to count reachable places within (``within_5_min`` …).
            A band beyond the run's search limit cannot be counted and is NA.
        pairs : bool, default False
            Return one row per (site, place) pair within the threshold instead.

        Returns
        -------
        pandas.DataFrame
            One row per site, in site order: ``site_id``, ``site_name``,
            ``status``; ``nearest_places`` (places whose nearest site it is),
            ``served_places`` and ``served_weight`` (those of them within the
            threshold, and their demand weight: the weight it serves),
            ``served_median_walk_min`` and ``served_max_walk_min``;
            ``within_<b>_min`` per band (any place it reaches in b minutes,
            nearest or not); ``covered_places`` (within the threshold of this
            site), ``shared_places`` (of those, also within the threshold of
            another site) and ``sole_places`` (of no other site).

            With ``pairs=True``: ``site_id``, ``site_name``, ``demand_id``,
            ``demand_name``, ``walk_min`` (from this site), ``weight``,
            ``nearest`` (this is the place's nearest site) and ``sites_covering``
            (how many sites have the place within the threshold), sorted by
            site then walk.
        """
        m = self.matrix
        n_sites = len(self.sites)
        walk_min = m.metres / self.metres_per_minute
        inside = m.metres <= self.threshold_m
        rows, cols = m.rows[inside], m.cols[inside]
        sites_covering = np.bincount(cols, minlength=len(self.demand))
        nearest_row = _site_rows(self.sites, self.demand["nearest_site_id"])
        weight = self.demand["weight"].to_numpy(float)
        if pairs:
            order = np.lexsort((cols, walk_min[inside], rows))
            rows, cols = rows[order], cols[order]
            return pd.DataFrame(
                {
                    "site_id": self.sites["id"].to_numpy(object)[rows],
                    "site_name": self.sites["name"].to_numpy(object)[rows],
                    "demand_id": self.demand["demand_id"].to_numpy(object)[cols],
                    "demand_name": self.demand["demand_name"].to_numpy(object)[cols],
                    "walk_min": np.round(walk_min[inside][order], 2),
                    "weight": weight[cols],
                    "nearest": nearest_row[cols] == rows,
                    "sites_covering": sites_covering[cols],
                }
            )
        served = self.demand["covered"].to_numpy(bool) & (nearest_row >= 0)
        served_walk = pd.Series(self.demand["walk_min"].to_numpy(float)[served]).groupby(nearest_row[served])
        reachable = nearest_row >= 0
        table = pd.DataFrame(
            {
                "site_id": self.sites["id"].to_numpy(object),
                "site_name": self.sites["name"].to_numpy(object),
                "status": self.sites["status"].to_numpy(object) if "status" in self.sites else "real",
                "nearest_places": np.bincount(nearest_row[reachable], minlength=n_sites),
                "served_places": np.bincount(nearest_row[served], minlength=n_sites),
                "served_weight": np.bincount(nearest_row[served], weights=weight[served], minlength=n_sites),
                "served_median_walk_min": served_walk.median().reindex(range(n_sites)).to_numpy(),
                "served_max_walk_min": served_walk.max().reindex(range(n_sites)).to_numpy(),
            }
        )
        for band in bands_min:
            counts = np.bincount(m.rows[walk_min <= band], minlength=n_sites)
            column = pd.array(counts, dtype="Int64")
            if band * self.metres_per_minute > m.cutoff_m + 1e-9:
                column[:] = pd.NA  # walks beyond the search limit were never computed
            table[f"within_{band:g}_min"] = column
        table["covered_places"] = np.bincount(rows, minlength=n_sites)
        table["shared_places"] = np.bincount(rows[sites_covering[cols] > 1], minlength=n_sites)
        table["sole_places"] = table["covered_places"] - table["shared_places"]
        return table

    def network_qa(self) -> gpd.GeoDataFrame:
        """One row per network component with how many sites and places snapped onto it.

        Places on a component other than 0 (the largest) can only reach sites
        on the same piece: usually a mapping gap worth a look. Off-network
        places (beyond the snap limit) are counted in the manifest instead.

        Returns
        -------
        geopandas.GeoDataFrame
            The columns of `WalkNetwork.quality_report` (``dangling_ends``
            included), ``length_share``, ``unnoded_crossings`` (points where
            the component's edges cross or touch another edge without a shared
            node, see `WalkNetwork.unnoded_crossings`; a point between two
            components counts for both), ``bridge_tunnel_crossings`` (those a
            bridge, tunnel or ``layer`` explains), and for sites and demand
            ``<role>_snapped``, ``<role>_median_snap_m``, ``<role>_max_snap_m``;
            each component's edges as a MultiLineString (WGS-84).
        """
        qa = self.network.quality_report()
        qa["length_share"] = qa["length_m"] / qa["length_m"].sum()
        crossings = self.network.unnoded_crossings(self.cache_dir)
        explained = crossings[crossings["marked"] != ""]
        for column, points in (("unnoded_crossings", crossings), ("bridge_tunnel_crossings", explained)):
            other = points["component_b"].where(points["component_b"] != points["component_a"])
            touched = pd.concat([points["component_a"], other.dropna()]).astype(int).value_counts()
            qa[column] = qa["component"].map(touched).fillna(0).astype(int)
        for label, frame in (("sites", self.sites), ("demand", self.demand)):
            snapped = frame[frame["component"] >= 0]
            qa[f"{label}_snapped"] = qa["component"].map(snapped["component"].value_counts()).fillna(0).astype(int)
            by_component = snapped.groupby("component")["snap_m"]
            qa[f"{label}_median_snap_m"] = qa["component"].map(by_component.median())
            qa[f"{label}_max_snap_m"] = qa["component"].map(by_component.max())
        comp_of_edge = self.network.component[self.network.edge_u]
        lines = self.network.edges_wgs84
        geoms = [shapely.multilinestrings(lines[comp_of_edge == c]) for c in qa["component"]]
        return gpd.GeoDataFrame(qa, geometry=geoms, crs="EPSG:4326")


def _site_rows(sites: pd.DataFrame, site_ids: pd.Series) -> np.ndarray:
    """Row of each id in ``sites`` (-1 for a missing id: no site reached)."""
    return pd.Index(sites["id"].astype(str)).get_indexer(site_ids.astype(object).where(site_ids.notna(), None))


def _summarise(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    data = pd.DataFrame(
        {
            "group": frame[column].fillna("(none)").astype(str),
            "covered": frame["covered"].astype(bool),
            "weight": frame["weight"].astype(float),
            "walk_min": frame["walk_min"].astype(float),
            "placeholder": (frame["status"] == "placeholder") if "status" in frame else False,
        }
    )
    data["covered_weight"] = data["weight"].where(data["covered"], 0.0)
    grouped = data.groupby("group", sort=True)
    table = pd.DataFrame(
        {
            "places": grouped.size(),
            "covered": grouped["covered"].sum().astype(int),
            "weight": grouped["weight"].sum(),
            "covered_weight": grouped["covered_weight"].sum(),
            "median_walk_min": grouped["walk_min"].median(),
            "placeholder_places": grouped["placeholder"].sum().astype(int),
        }
    ).reset_index()
    table["share"] = table["covered"] / table["places"]
    table["weight_share"] = np.where(
        table["weight"] > 0, table["covered_weight"] / table["weight"].where(table["weight"] > 0, 1), np.nan
    )
    return table
