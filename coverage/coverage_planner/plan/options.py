"""What a scenario asks of service planning: one small frozen record per planning step.

`coverage_planner.config` reads them from a scenario's ``[capacity]``,
``[capacity.volunteers]``, ``[accessibility]``, ``[equity]``,
``[plan.priority]``, ``[circuits]`` and ``[clinics]`` sections;
`coverage_planner.plan.service.plan_service` runs them. This module imports
nothing heavy, so reading a scenario stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Session start times of a day when a scenario gives none (as `coverage_planner.plan.circuits`).
DEFAULT_SESSIONS: tuple[str, ...] = ("08:30", "14:00")


@dataclass(frozen=True)
class VolunteerOptions:
    """``[capacity.volunteers]``: spread a pool of volunteers over the sites (`spread_volunteers`).

    Parameters
    ----------
    total : int, default 561
        Volunteers in the pool.
    minimum : int, default 1
        Fewest volunteers per site.
    target : float, optional
        A load per volunteer to meet, reported per site.
    """

    total: int = 561
    minimum: int = 1
    target: float | None = None


@dataclass(frozen=True)
class CapacityOptions:
    """``[capacity]``: capacitated allocation of places to sites (`allocate_capacity`).

    Parameters
    ----------
    column : str, default "capacity"
        The sites' capacity column (``capacity`` also finds ``容量``).
    default : float, optional
        Capacity of a site whose cell is blank (or of every site without the column).
    load : str or float, default "weight"
        Each place's load: a demand column, or one number for every place.
    rate : float, default 1
        Multiplier of the load (e.g. expected cases a year per household).
    method : {"max_coverage", "pmedian"}, default "max_coverage"
    reach_min : float, optional
        Longest walk in minutes between a place and its site (default: the threshold).
    volunteers : VolunteerOptions, optional
        ``[capacity.volunteers]``, when given.
    """

    column: str = "capacity"
    default: float | None = None
    load: str | float = "weight"
    rate: float = 1.0
    method: str = "max_coverage"
    reach_min: float | None = None
    volunteers: VolunteerOptions | None = None


@dataclass(frozen=True)
class AccessibilityOptions:
    """``[accessibility]``: a floating-catchment index per place (`two_stage_fca`).

    Parameters
    ----------
    method : {"2sfca", "gaussian", "e2sfca"}, default "2sfca"
    supply : str or float, default "capacity"
        Each site's supply: a sites column or one number.
    demand : str or float, default "weight"
        Each place's demand: a demand column or one number.
    catchment_min : float, optional
        The catchment in minutes (default: the threshold).
    """

    method: str = "2sfca"
    supply: str | float = "capacity"
    demand: str | float = "weight"
    catchment_min: float | None = None


@dataclass(frozen=True)
class EquityOptions:
    """``[equity]``: share covered and walk times per group and weighting (`equity_summary`).

    Parameters
    ----------
    group : str, optional
        A demand column to split by (e.g. ``community_class``).
    weights : tuple of (str, str), default (("weight", "weight"),)
        (label, demand column) per weighting.
    """

    group: str | None = None
    weights: tuple[tuple[str, str], ...] = (("weight", "weight"),)


@dataclass(frozen=True)
class PriorityOptions:
    """``[plan.priority]``: a factor per category value that raises those places' weight (`priority_weights`).

    Parameters
    ----------
    factors : tuple of (str, float)
        (category value, factor), e.g. ``(("强基型", 2.0),)``.
    column : str, default "community_class"
        The demand column holding the category (社区类别).
    """

    factors: tuple[tuple[str, float], ...] = ()
    column: str = "community_class"


@dataclass(frozen=True)
class CircuitOptions:
    """``[circuits]``: circuit-mediation routes from the studios (`plan_circuits`).

    Parameters
    ----------
    places : tuple of str, optional
        Demand ids to visit; None: the places outside the threshold.
    budget_min : float, default 240
        Longest route (a 4-hour half day), stays included.
    stay_min : float, default 20
        Minutes at each place.
    sessions : tuple of str, default ("08:30", "14:00")
        Start times of a day's sessions.
    profile : str, optional
        Who travels (``drive``, ``elderly`` …); None: the scenario's walking profile.
    depots : tuple of str, optional
        Site ids the circuits leave from; None: every site.
    """

    places: tuple[str, ...] | None = None
    budget_min: float = 240.0
    stay_min: float = 20.0
    sessions: tuple[str, ...] = DEFAULT_SESSIONS
    profile: str | None = None
    depots: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClinicOptions:
    """``[clinics]``: k clinic venues reaching the most uncovered load (`plan_clinics`).

    Exactly one of ``venues`` and ``tags`` is set (the reader checks).

    Parameters
    ----------
    k : int
        Venues to choose.
    venues : Path, optional
        A candidate file of venues.
    tags : tuple of (str, tuple of str), optional
        OSM tags of venues, e.g. ``(("amenity", ("community_centre",)),)``.
    """

    k: int
    venues: Path | None = None
    tags: tuple[tuple[str, tuple[str, ...]], ...] | None = None


__all__ = [
    "DEFAULT_SESSIONS",
    "AccessibilityOptions",
    "CapacityOptions",
    "CircuitOptions",
    "ClinicOptions",
    "EquityOptions",
    "PriorityOptions",
    "VolunteerOptions",
]
