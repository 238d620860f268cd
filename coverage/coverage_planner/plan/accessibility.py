r"""Accessibility and equity: two-step floating catchment (2SFCA and variants), equity summaries, Gini, priorities.

`two_stage_fca` scores every demand place by the supply it can reach per
unit of demand competing for it, on the walking network:

.. math::
    R_j = \frac{S_j}{\sum_{i:\, d_{ij} \le d_0} W(d_{ij})\, D_i}, \qquad
    A_i = \sum_{j:\, d_{ij} \le d_0} W(d_{ij})\, R_j

with supply :math:`S_j` (a site's capacity: volunteers, cases a year),
demand :math:`D_i` (a place's load), the catchment :math:`d_0` (the walk
threshold) and a distance weight W: 1 inside the catchment for the
classic 2SFCA (Luo & Wang 2003), a Gaussian falling to 0 at the
catchment's edge (Dai 2010), or steps by travel-time zone for the enhanced
E2SFCA (Luo & Qi 2009). :math:`A_i` is "supply per unit of demand within
reach"; the ``access_index`` divides it by the region's
:math:`\sum S / \sum D`, so 1 is average.

`equity_summary` compares groups (community grade 社区类别, district …) and
weightings (all residents vs key service targets) by share covered and the
distribution of walk times, with the `gini` index of walk times.
`priority_weights` turns a grade column into weights for proposals.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coverage_planner._errors import DataError
from coverage_planner.plan.capacity import demand_loads, site_capacities
from coverage_planner.results import CoverageResult

#: Distance weightings `two_stage_fca` knows.
FCA_METHODS = ("2sfca", "gaussian", "e2sfca")
#: E2SFCA zone weights (Luo & Qi 2009), for three equal travel-time zones of the catchment.
E2SFCA_WEIGHTS = (1.0, 0.68, 0.22)


def fca_weight(
    metres: np.ndarray,
    catchment_m: float,
    method: str = "2sfca",
    zones: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    r"""The distance weight W(d) of a floating-catchment method; 0 beyond the catchment.

    Parameters
    ----------
    metres : array of float
        Walks.
    catchment_m : float
        The catchment :math:`d_0`.
    method : {"2sfca", "gaussian", "e2sfca"}, default "2sfca"
        ``2sfca``: 1 for :math:`d \le d_0`. ``gaussian``:
        :math:`\big(e^{-\frac12 (d/d_0)^2} - e^{-\frac12}\big) / \big(1 - e^{-\frac12}\big)`
        (1 at the site, 0 at the edge). ``e2sfca``: the weight of the zone
        the walk falls in (upper bound inclusive).
    zones : sequence of (float, float), optional
        For e2sfca: (upper walk in metres, weight) per zone, ascending.
        Default: three equal zones of the catchment weighted `E2SFCA_WEIGHTS`.

    Returns
    -------
    ndarray of float
    """
    d = np.asarray(metres, dtype=float)
    inside = d <= catchment_m
    if method == "2sfca":
        w = np.ones_like(d)
    elif method == "gaussian":
        edge = np.exp(-0.5)
        w = (np.exp(-0.5 * (d / catchment_m) ** 2) - edge) / (1.0 - edge) if catchment_m > 0 else np.ones_like(d)
    elif method == "e2sfca":
        table = _zones(zones, catchment_m)
        uppers = np.array([u for u, _ in table])
        weights = np.array([w for _, w in table] + [0.0])
        w = weights[np.searchsorted(uppers, d, side="left")]
    else:
        raise DataError(f"method must be one of {', '.join(FCA_METHODS)}, not {method!r}")
    return np.where(inside, np.maximum(w, 0.0), 0.0)


def _zones(zones, catchment_m: float) -> list[tuple[float, float]]:
    if zones is None:
        n = len(E2SFCA_WEIGHTS)
        return [(catchment_m * (z + 1) / n, w) for z, w in enumerate(E2SFCA_WEIGHTS)]
    table = [(float(u), float(w)) for u, w in zones]
    if not table or any(not np.isfinite(u) or w < 0 for u, w in table):
        raise DataError("zones must be (upper walk, weight ≥ 0) pairs")
    if any(b[0] <= a[0] for a, b in zip(table, table[1:])):
        raise DataError("zones must be in ascending order of their upper walk")
    return table


def _catchment_pairs(result: CoverageResult, catchment_m: float | None):
    matrix = result.matrix
    d0 = result.threshold_m if catchment_m is None else float(catchment_m)
    if not (np.isfinite(d0) and 0 <= d0 <= matrix.cutoff_m + 1e-9):
        raise DataError(
            f"catchment must lie in 0..{matrix.cutoff_m:g} m (the result's search limit; walks beyond it were not "
            f"computed), not {catchment_m!r}; recompute with a larger search_limit_m"
        )
    keep = matrix.metres <= d0
    return matrix.rows[keep], matrix.cols[keep], matrix.metres[keep], d0


def _fca(result, supply, demand, method, catchment_m, zones, default_supply):
    S = site_capacities(result.sites, supply, default=default_supply, what="sites (supply)")
    if np.isinf(S).any():
        raise DataError("sites (supply): an unlimited (infinite) supply has no accessibility ratio; give numbers")
    D = demand_loads(result.demand, demand)
    rows, cols, metres, d0 = _catchment_pairs(result, catchment_m)
    w = fca_weight(metres, d0, method, zones=None if zones is None else [(u, wt) for u, wt in zones])
    demand_seen = np.bincount(rows, weights=w * D[cols], minlength=len(S))
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.where(demand_seen > 0, S / demand_seen, 0.0)
    A = np.bincount(cols, weights=w * R[rows], minlength=len(D))
    reach = np.bincount(cols[w > 0], minlength=len(D))
    return S, D, R, A, demand_seen, reach, d0


def two_stage_fca(
    result: CoverageResult,
    *,
    supply: str | float | Sequence[float] | np.ndarray = "capacity",
    demand: str | float | Sequence[float] | np.ndarray = "weight",
    method: str = "2sfca",
    catchment_m: float | None = None,
    zones_min: Sequence[tuple[float, float]] | None = None,
    default_supply: float | None = None,
) -> pd.DataFrame:
    """Floating-catchment accessibility of every demand place (see the module docstring for the model).

    Parameters
    ----------
    result : CoverageResult
        Gives the sites, the places and their network walks.
    supply : str, number or array, default "capacity"
        Each site's supply: a column (``capacity``/``容量``), one number, or
        one per site (see `site_capacities`).
    demand : str, number or array, default "weight"
        Each place's demand (see `demand_loads`).
    method : {"2sfca", "gaussian", "e2sfca"}, default "2sfca"
        The distance weight (see `fca_weight`).
    catchment_m : float, optional
        The catchment :math:`d_0`; default the result's threshold. At most
        the search limit.
    zones_min : sequence of (float, float), optional
        For e2sfca: (upper walk in minutes, weight) per zone, ascending;
        default three equal zones of the catchment weighted 1, 0.68, 0.22.
    default_supply : float, optional
        Supply of sites whose value is blank (or of all when the column is missing).

    Returns
    -------
    DataFrame
        One row per demand place: ``demand_id, demand_name, demand, access``
        (:math:`A_i`, supply per unit of demand), ``access_index`` (A over the
        region's total supply / total demand; NaN without demand),
        ``sites_in_catchment`` (sites with a positive weight), and
        ``community_class`` when the demand has it.

    Raises
    ------
    DataError
        For a missing or bad supply or demand column, an unknown method, bad
        zones or a catchment beyond the search limit.
    """
    if method not in FCA_METHODS:
        raise DataError(f"method must be one of {', '.join(FCA_METHODS)}, not {method!r}")
    mpm = result.metres_per_minute
    zones = None if zones_min is None else [(float(u) * mpm, float(w)) for u, w in zones_min]
    S, D, _, A, _, reach, _ = _fca(result, supply, demand, method, catchment_m, zones, default_supply)
    region = S.sum() / D.sum() if D.sum() > 0 else np.nan
    frame = pd.DataFrame(
        {
            "demand_id": result.demand["demand_id"].to_numpy(),
            "demand_name": result.demand["demand_name"].to_numpy(),
            "demand": D,
            "access": A,
            "access_index": A / region if np.isfinite(region) and region > 0 else np.full(len(A), np.nan),
            "sites_in_catchment": reach,
        }
    )
    if "community_class" in result.demand.columns:
        frame["community_class"] = result.demand["community_class"].to_numpy()
    return frame


def supply_demand_ratios(
    result: CoverageResult,
    *,
    supply: str | float | Sequence[float] | np.ndarray = "capacity",
    demand: str | float | Sequence[float] | np.ndarray = "weight",
    method: str = "2sfca",
    catchment_m: float | None = None,
    zones_min: Sequence[tuple[float, float]] | None = None,
    default_supply: float | None = None,
) -> pd.DataFrame:
    """The first step of `two_stage_fca`, per site: supply over the (weighted) demand in its catchment.

    Parameters
    ----------
    result : CoverageResult
        Gives the sites, the places and their network walks.
    supply, demand : str, number or array
        Each site's supply and each place's demand, as for `two_stage_fca`.
    method : {"2sfca", "gaussian", "e2sfca"}, default "2sfca"
        The distance weight (see `fca_weight`).
    catchment_m : float, optional
        The catchment; default the result's threshold.
    zones_min : sequence of (float, float), optional
        For e2sfca: (upper walk in minutes, weight) per zone, ascending.
    default_supply : float, optional
        Supply of sites whose value is blank (or of all when the column is missing).

    Returns
    -------
    DataFrame
        ``site_id, site_name, supply, demand_in_catchment, ratio`` (:math:`R_j`;
        0 where no demand is in reach).
    """
    if method not in FCA_METHODS:
        raise DataError(f"method must be one of {', '.join(FCA_METHODS)}, not {method!r}")
    mpm = result.metres_per_minute
    zones = None if zones_min is None else [(float(u) * mpm, float(w)) for u, w in zones_min]
    S, _, R, _, seen, _, _ = _fca(result, supply, demand, method, catchment_m, zones, default_supply)
    return pd.DataFrame(
        {
            "site_id": result.sites["id"].astype(str).to_numpy(),
            "site_name": result.sites["name"].to_numpy(),
            "supply": S,
            "demand_in_catchment": seen,
            "ratio": R,
        }
    )


# ------------------------------------------------------------------ equity
def gini(values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> float:
    r"""The (weighted) Gini index of non-negative values.

    .. math::
        G = \frac{\sum_i \sum_j w_i w_j |x_i - x_j|}{2 W^2 \bar x}, \qquad
        W = \sum_i w_i,\;\; \bar x = \frac{\sum_i w_i x_i}{W}

    computed in O(n log n) from the sorted values: 0 when all are equal,
    :math:`1 - 1/n` when one of n equally weighted values holds everything.

    Parameters
    ----------
    values : array of float
        Non-negative, finite.
    weights : array of float, optional
        Non-negative, one per value (default 1).

    Returns
    -------
    float
        NaN when there is no weight or every value is 0.

    Raises
    ------
    DataError
        For negative or non-finite values or weights, or lengths that differ.
    """
    x = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape:
        raise DataError(f"gini: {len(w)} weights for {len(x)} values")
    if not (np.isfinite(x).all() and np.isfinite(w).all()) or (x < 0).any() or (w < 0).any():
        raise DataError("gini: values and weights must be finite and ≥ 0")
    W = w.sum()
    if W <= 0:
        return float("nan")
    mean = (w @ x) / W
    if mean <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum = np.cumsum(w)
    # Σ_i w_i x_i (weight below − weight above); each pair counted once from its larger end.
    total = float(np.sum(w * x * (2.0 * cum - w - W)))
    return total / (W * W * mean)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total (NaN without weight).

    Parameters
    ----------
    values : ndarray of float
        The values (e.g. walk minutes), any order.
    weights : ndarray of float
        One weight per value; values without a positive weight are ignored.
    q : float
        In [0, 1].

    Returns
    -------
    float
        One of ``values``, not an interpolation between two.
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    x, w = x[keep], w[keep]
    if not len(x):
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, cum = x[order], np.cumsum(w[order])
    i = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(x[min(i, len(x) - 1)])


def equity_summary(
    result: CoverageResult,
    *,
    group: str | None = None,
    weight: str | Sequence[str] | Mapping[str, str | Sequence[float] | np.ndarray] = "weight",
    walk_m: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Share covered and the walk-time distribution, per group and per weighting, with a Gini index.

    Walks are each place's walk to its nearest site (or ``walk_m``). A place
    no site reaches within the search limit (or off the network) counts as
    walking the search limit, a lower bound of its true walk, so means,
    quantiles and Gini are censored there rather than dropping the places
    worst off; ``beyond_search_share`` says how much weight that is.

    Parameters
    ----------
    result : CoverageResult
        The run.
    group : str, optional
        A demand column to split by (e.g. ``community_class``, ``district``);
        each weighting also gets an ``all`` row.
    weight : str, list of str or mapping, default "weight"
        The weightings to compare: demand column names, or a mapping from a
        label to a column name or one number per place (e.g.
        ``{"all residents": "population", "living alone": "key_targets"}``).
    walk_m : array of float, optional
        Walk metres per place to use instead of the nearest site's (NaN: none
        in reach), e.g. an allocation's assigned walks.

    Returns
    -------
    DataFrame
        One row per (weighting, group): ``weighting, group, places, weight,
        covered_weight, covered_share, mean_walk_min, median_walk_min,
        p90_walk_min, max_walk_min, beyond_search_share, gini_walk``.

    Raises
    ------
    DataError
        For a missing column, a bad weight or a ``walk_m`` of the wrong length.
    """
    demand = result.demand
    if isinstance(weight, str):
        weightings: dict[str, object] = {weight: weight}
    elif isinstance(weight, Mapping):
        weightings = dict(weight)
    else:
        weightings = {str(w): w for w in weight}
    if group is not None and group not in demand.columns:
        raise DataError(f"demand has no column {group!r} to group by")
    limit = result.matrix.cutoff_m
    if walk_m is None:
        _, metres = result.matrix.nearest()
    else:
        metres = np.asarray(walk_m, dtype=float).ravel()
        if metres.shape != (len(demand),):
            raise DataError(f"walk_m: {len(metres)} walks given for {len(demand)} places")
    beyond = ~np.isfinite(metres)
    minutes = np.where(beyond, limit, metres) / result.metres_per_minute
    covered = ~beyond & (metres <= result.threshold_m)
    labels = demand[group].fillna("(none)").astype(str).to_numpy() if group is not None else np.full(len(demand), "all")
    rows = []
    for label, spec in weightings.items():
        w = demand_loads(demand, spec)  # type: ignore[arg-type]
        parts = [("all", np.ones(len(demand), dtype=bool))]
        if group is not None:
            parts += [(g, labels == g) for g in sorted(set(labels))]
        for name, mask in parts:
            wm, mm = w[mask], minutes[mask]
            total = float(wm.sum())
            rows.append(
                {
                    "weighting": label,
                    "group": name,
                    "places": int(mask.sum()),
                    "weight": total,
                    "covered_weight": float(wm[covered[mask]].sum()),
                    "covered_share": float(wm[covered[mask]].sum() / total) if total > 0 else float("nan"),
                    "mean_walk_min": float(wm @ mm / total) if total > 0 else float("nan"),
                    "median_walk_min": weighted_quantile(mm, wm, 0.5),
                    "p90_walk_min": weighted_quantile(mm, wm, 0.9),
                    "max_walk_min": float(mm[wm > 0].max()) if (wm > 0).any() else float("nan"),
                    "beyond_search_share": float(wm[beyond[mask]].sum() / total) if total > 0 else float("nan"),
                    "gini_walk": gini(mm, wm) if total > 0 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def priority_weights(
    demand: pd.DataFrame,
    column: str = "community_class",
    factors: Mapping[str, float] | None = None,
    *,
    weight: str | float | Sequence[float] | np.ndarray = "weight",
) -> np.ndarray:
    """Weights raised by a category, e.g. community grade: ``weight × factor[grade]`` (factor 1 otherwise).

    Pass the result as ``weight``/``load`` to a proposal or an allocation so
    that, say, 强基型 communities count double (``{"强基型": 2.0}``).

    Parameters
    ----------
    demand : DataFrame
        The demand places (a result's ``demand``).
    column : str, default "community_class"
        The category column (社区类别: 创新型 / 发展型 / 强基型).
    factors : mapping of str to float, optional
        Multiplier per category value (≥ 0); values not listed keep factor 1.
    weight : str, number or array, default "weight"
        The base weight (see `demand_loads`).

    Returns
    -------
    ndarray of float

    Raises
    ------
    DataError
        When the column is missing or a factor is negative or not a number.

    Warns
    -----
    UserWarning
        When a factor names a category no place has (a typo, or a grade absent here).
    """
    factors = dict(factors or {})
    if column not in demand.columns:
        raise DataError(f"demand has no column {column!r} for priorities")
    for key, value in factors.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise DataError(f"priority factor for {key!r} must be a number, not {value!r}")
        if not np.isfinite(value) or value < 0:
            raise DataError(f"priority factor for {key!r} must be finite and ≥ 0, not {value!r}")
    base = demand_loads(demand, weight)
    values = demand[column].astype(object).where(demand[column].notna(), None).to_numpy(object)
    text = np.array(["" if v is None else str(v).strip() for v in values], dtype=object)
    absent = sorted(set(factors) - set(text))
    if absent:
        present = ", ".join(sorted(set(text) - {""})) or "none"
        warnings.warn(
            f"priority factors for {', '.join(absent)} match no place's {column} (values present: {present})",
            UserWarning,
            stacklevel=2,
        )
    factor = np.array([float(factors.get(t, 1.0)) for t in text])
    return base * factor


__all__ = [
    "E2SFCA_WEIGHTS",
    "FCA_METHODS",
    "equity_summary",
    "fca_weight",
    "gini",
    "priority_weights",
    "supply_demand_ratios",
    "two_stage_fca",
    "weighted_quantile",
]
