"""Travel profiles planners choose between: walking speeds, walking costs for older people, and driving.

GB 50180-2018 (城市居住区规划设计标准) sizes residential "life circles" by
walking distance: 5-minute ≤ 300 m, 10-minute ≤ 500 m, 15-minute 800–1000 m.

Costs are time, counted in *equivalent metres*: the metres a walker at the
profile's speed covers on a clear, level, paved path in the same time, so
``minutes = cost / metres_per_minute``. An edge costs ``length × factor``
(steps, surface, lighting, sidewalk) plus the waits at the main-road
crossings at its ends; with every factor 1 and every wait 0 the costs are
the lengths exactly and results are those of a plain distance search.

Where the defaults come from. All are indicative: the figures are quoted
as the sources are commonly cited, not re-read from the documents for this
release (OpenTripPlanner's 30 s is from its issue #4573); local surveys
should replace them, and every value can be overridden in a scenario's
``[walk.costs]``.

* Walking speeds. ``adult`` 4.5 km/h (1.25 m/s, a typical free walking
  speed). ``elderly`` 3.6 km/h (1.0 m/s): the US Highway Capacity Manual
  (HCM 2000, ch. 18) lowers the average walking speed from 1.2 to 1.0 m/s
  where over 20 % of pedestrians are older, and HCM 2010 and the MUTCD time
  crossings for 0.9 m/s there. ``frail`` 2.9 km/h (0.8 m/s): Asher et al.
  (2012), *Age and Ageing* 41(5):690–694, measured a mean 0.9 m/s for men
  and 0.8 m/s for women aged 65+ in England.
* Steps. On stairs older people cover about 0.4 m of horizontal length a
  second (Fruin 1971, *Pedestrian Planning and Design*, gives about
  0.5 m/s ascending for adults; Fujiyama & Tyler 2010, *Transportation
  Planning and Technology* 33(2), found older pedestrians slower still), so
  ``elderly`` counts each metre of ``highway=steps`` as 2.5 m (1.0 / 0.4).
  ``frail`` and ``wheelchair`` cannot use steps at all (as openrouteservice's
  wheelchair profile), so those edges are left out of their networks.
* Crossing a main road (``trunk``/``primary``/``secondary`` and their links).
  With signals, HCM's average pedestrian delay is ``(C − g)² / (2C)`` for a
  cycle of C seconds with g seconds of walk time: C = 120 s, g = 20 s gives
  42 s, so ``elderly`` waits 40 s (OpenTripPlanner adds 30 s at
  ``highway=traffic_signals`` for everyone). Without signals, HCM's
  gap-acceptance delay is ``(e^{λ t_c} − λ t_c − 1) / λ`` for traffic of λ
  vehicles a second and a critical gap ``t_c = crossing length / walking
  speed + 3 s``: a 14 m, four-lane crossing at 0.9–1.0 m/s in 500 vehicles
  an hour gives 52–69 s, so ``elderly`` waits 60 s; at 0.8 m/s it is about
  96 s, so ``frail`` waits 90 s (and 60 s at signals: slower walkers more
  often wait for the next green). These waits depend on local signal
  timings and traffic more than on anything else: measure them.
* Surfaces. Unpaved surfaces (``gravel``, ``dirt``, ``grass`` …) count 1.25 m
  a metre for ``elderly`` and 1.5 for ``frail``; ``wheelchair`` leaves them
  out. These factors are our estimate, not a published figure.
* Lighting (``lit=no``) and roads without a sidewalk (``sidewalk=no``) have
  factors too, 1.0 (no effect) by default: no published time penalty was
  found; a planner may set one to steer routes away from them.
* Driving (``drive``): speeds from ``maxspeed`` × 0.8 (a tagged limit is a
  legal maximum, not a typical urban speed; the 0.8 is our estimate), else
  by road class, the lower end of the design speeds of CJJ 37-2012
  (城市道路工程设计规范: 快速路 60–100, 主干路 40–60, 次干路 30–50,
  支路 20–40 km/h), compound and service roads slower. Costs are counted at
  the profile's reference speed of 60 km/h (1 km a minute). Signal delays
  are off by default (``signal_delay_s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from coverage_planner._errors import ScenarioError

#: Road classes whose crossing costs a wait (links included: a slip road is crossed too).
MAIN_ROADS = ("trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link")
#: ``surface=*`` values counted as unpaved.
UNPAVED_SURFACES = (
    "unpaved",
    "compacted",
    "fine_gravel",
    "gravel",
    "pebblestone",
    "rock",
    "dirt",
    "earth",
    "ground",
    "grass",
    "grass_paver",
    "mud",
    "sand",
    "woodchips",
    "salt",
    "snow",
    "ice",
)
#: Default driving speeds by road class, km/h (see the module notes).
DRIVE_SPEEDS_KMH: tuple[tuple[str, float], ...] = (
    ("motorway", 80.0),
    ("motorway_link", 40.0),
    ("trunk", 60.0),
    ("trunk_link", 40.0),
    ("primary", 40.0),
    ("primary_link", 30.0),
    ("secondary", 30.0),
    ("secondary_link", 25.0),
    ("tertiary", 25.0),
    ("tertiary_link", 20.0),
    ("unclassified", 20.0),
    ("residential", 20.0),
    ("road", 20.0),
    ("living_street", 10.0),
    ("service", 15.0),
)
DRIVE_DIRECTIONS = ("from_sites", "to_sites")


@dataclass(frozen=True)
class WalkCosts:
    """Extra walking time on edges and at main-road crossings (see the module notes for the sources).

    Parameters
    ----------
    steps_factor : float, default 1.0
        Cost of a metre of ``highway=steps`` in equivalent metres.
    exclude_steps : bool, default False
        Leave steps out of the network altogether.
    crossing_wait_s : float, default 0.0
        Seconds waited to cross a main road without signals.
    signal_wait_s : float, default 0.0
        Seconds waited to cross a main road at signals (``highway=traffic_signals``,
        ``crossing=traffic_signals`` or ``crossing:signals=yes``).
    main_roads : tuple of str
        ``highway=*`` classes whose crossing costs a wait.
    unpaved_factor : float, default 1.0
        Cost of a metre of unpaved surface (`UNPAVED_SURFACES`).
    exclude_unpaved : bool, default False
        Leave unpaved edges out of the network.
    unlit_factor : float, default 1.0
        Cost of a metre tagged ``lit=no``.
    no_sidewalk_factor : float, default 1.0
        Cost of a metre of road (not a footway or path) tagged ``sidewalk=no``/``none``.
    """

    steps_factor: float = 1.0
    exclude_steps: bool = False
    crossing_wait_s: float = 0.0
    signal_wait_s: float = 0.0
    main_roads: tuple[str, ...] = MAIN_ROADS
    unpaved_factor: float = 1.0
    exclude_unpaved: bool = False
    unlit_factor: float = 1.0
    no_sidewalk_factor: float = 1.0

    def __post_init__(self) -> None:
        for name in ("steps_factor", "unpaved_factor", "unlit_factor", "no_sidewalk_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0.1 <= value <= 100):
                raise ScenarioError(f"walk cost {name} = {value!r} must be a number from 0.1 to 100")
        for name in ("crossing_wait_s", "signal_wait_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 3600):
                raise ScenarioError(f"walk cost {name} = {value!r} must be seconds from 0 to 3600")

    @property
    def is_plain(self) -> bool:
        """True when these costs change nothing: every factor 1, no wait, nothing left out."""
        return (
            self.steps_factor == 1.0
            and not self.exclude_steps
            and self.crossing_wait_s == 0.0
            and self.signal_wait_s == 0.0
            and self.unpaved_factor == 1.0
            and not self.exclude_unpaved
            and self.unlit_factor == 1.0
            and self.no_sidewalk_factor == 1.0
        )

    def to_dict(self) -> dict[str, Any]:
        """The costs as plain values (for manifests and reports).

        Returns
        -------
        dict
            One entry per field; tuples as lists (JSON has no tuples).
        """
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


@dataclass(frozen=True)
class DriveCosts:
    """Driving speeds: from ``maxspeed`` where tagged, else by road class; one-way streets respected.

    Parameters
    ----------
    speeds_kmh : tuple of (str, float)
        Speed by ``highway=*`` class; classes not listed use the ``road`` entry.
    use_maxspeed : bool, default True
        Take an edge's speed from its ``maxspeed`` tag when it has one.
    maxspeed_factor : float, default 0.8
        Share of the tagged limit actually driven.
    signal_delay_s : float, default 0.0
        Seconds lost at each ``highway=traffic_signals`` node passed.
    direction : str, default "from_sites"
        ``from_sites`` (drive from the site to the place: circuit visits) or
        ``to_sites`` (from the place to the site); one-way streets make them differ.
    """

    speeds_kmh: tuple[tuple[str, float], ...] = DRIVE_SPEEDS_KMH
    use_maxspeed: bool = True
    maxspeed_factor: float = 0.8
    signal_delay_s: float = 0.0
    direction: str = "from_sites"

    def __post_init__(self) -> None:
        for road, speed in self.speeds_kmh:
            if not (isinstance(speed, int | float) and math.isfinite(speed) and 1 <= speed <= 200):
                raise ScenarioError(f"drive speed for {road} = {speed!r} must be km/h from 1 to 200")
        if not (math.isfinite(self.maxspeed_factor) and 0.1 <= self.maxspeed_factor <= 1.5):
            raise ScenarioError(f"maxspeed_factor = {self.maxspeed_factor!r} must be from 0.1 to 1.5")
        if not (math.isfinite(self.signal_delay_s) and 0 <= self.signal_delay_s <= 600):
            raise ScenarioError(f"signal_delay_s = {self.signal_delay_s!r} must be seconds from 0 to 600")
        if self.direction not in DRIVE_DIRECTIONS:
            raise ScenarioError(f"drive direction {self.direction!r} must be one of {', '.join(DRIVE_DIRECTIONS)}")

    def speed_of(self, highway: str) -> float:
        """The default speed (km/h) of a road class.

        Parameters
        ----------
        highway : str
            A ``highway=*`` value.

        Returns
        -------
        float
            Its speed in `speeds_kmh`, else the ``road`` entry's, else 20.
        """
        table = dict(self.speeds_kmh)
        return float(table.get(highway, table.get("road", 20.0)))

    @property
    def is_plain(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        """The costs as plain values (for manifests and reports).

        Returns
        -------
        dict
            One entry per field; ``speeds_kmh`` as a dict of class to km/h.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["speeds_kmh"] = dict(self.speeds_kmh)
        return out


@dataclass(frozen=True)
class WalkProfile:
    """A travel profile: a speed, and the costs on top of distance (walking) or the driving rules.

    Parameters
    ----------
    name : str
        Shown in reports.
    speed_kmh : float
        Walking speed; for ``drive``, the reference speed costs are counted at.
    note : str
        One line for reports.
    costs : WalkCosts or DriveCosts
        Walking costs (default: none), or driving speeds for a drive profile.
    """

    name: str
    speed_kmh: float
    note: str = ""
    costs: WalkCosts | DriveCosts = field(default_factory=WalkCosts)

    @property
    def metres_per_minute(self) -> float:
        return self.speed_kmh * 1000.0 / 60.0

    @property
    def mode(self) -> str:
        """``"walk"`` or ``"drive"``."""
        return "drive" if isinstance(self.costs, DriveCosts) else "walk"

    @property
    def is_plain(self) -> bool:
        """True when travel cost is plain network distance (no factors, waits or exclusions)."""
        return self.costs.is_plain

    def with_costs(self, **changes: Any) -> WalkProfile:
        """The same profile with some cost values changed (as a scenario's ``[walk.costs]`` does).

        Parameters
        ----------
        **changes
            Fields of `WalkCosts` (walking) or `DriveCosts` (driving).

        Returns
        -------
        WalkProfile

        Raises
        ------
        ScenarioError
            When a name is not a cost of this profile's mode, or a value is out of range.
        """
        known = {f.name for f in fields(self.costs)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ScenarioError(f"{unknown[0]!r} is not a {self.mode} cost; choose from {', '.join(sorted(known))}")
        return replace(self, costs=replace(self.costs, **changes))


PROFILES: dict[str, WalkProfile] = {
    "adult": WalkProfile("adult", 4.5, "typical adult pace"),
    "elderly": WalkProfile(
        "elderly",
        3.6,
        "about 1.0 m/s, older pedestrians; steps 2.5×, main-road crossings 60 s (40 s at signals), unpaved 1.25×",
        WalkCosts(steps_factor=2.5, crossing_wait_s=60.0, signal_wait_s=40.0, unpaved_factor=1.25),
    ),
    "frail": WalkProfile(
        "frail",
        2.9,
        "about 0.8 m/s, frail older pedestrians; no steps, main-road crossings 90 s (60 s at signals), unpaved 1.5×",
        WalkCosts(exclude_steps=True, crossing_wait_s=90.0, signal_wait_s=60.0, unpaved_factor=1.5),
    ),
    "wheelchair": WalkProfile(
        "wheelchair",
        3.6,
        "about 1.0 m/s; no steps, no unpaved ways, main-road crossings 60 s (40 s at signals)",
        WalkCosts(exclude_steps=True, exclude_unpaved=True, crossing_wait_s=60.0, signal_wait_s=40.0),
    ),
    "drive": WalkProfile(
        "drive",
        60.0,
        "driving: one-way streets respected, speeds from maxspeed or road class; minutes = cost / 1000 m",
        DriveCosts(),
    ),
}


@dataclass(frozen=True)
class LifeCirclePreset:
    """A GB 50180-2018 life-circle threshold: minutes and the walking distance it stands for.

    Parameters
    ----------
    name : str
        Shown in reports.
    minutes : float
        Walk time of the life circle.
    max_distance_m : float
        The walking distance the standard gives for it (the upper bound of a range).
    note : str
        The standard's distance as written, for reports.
    """

    name: str
    minutes: float
    max_distance_m: float
    note: str


GB50180_PRESETS: dict[str, LifeCirclePreset] = {
    "gb50180-5min": LifeCirclePreset("GB 50180-2018 5-minute life circle", 5, 300, "≤ 300 m"),
    "gb50180-10min": LifeCirclePreset("GB 50180-2018 10-minute life circle", 10, 500, "≤ 500 m"),
    "gb50180-15min": LifeCirclePreset("GB 50180-2018 15-minute life circle", 15, 1000, "800–1000 m; upper bound used"),
}


def get_profile(name: str | WalkProfile | None = None, speed_kmh: float | None = None) -> WalkProfile:
    """Return a named profile, or a custom one when ``speed_kmh`` is given.

    Parameters
    ----------
    name : str or WalkProfile, optional
        ``adult`` (default), ``elderly``, ``frail``, ``wheelchair`` or ``drive``, or a profile itself.
    speed_kmh : float, optional
        A walking speed replacing the profile's (named ``custom``; the named
        profile's walking costs are kept).

    Returns
    -------
    WalkProfile

    Raises
    ------
    ScenarioError
        For an unknown name, a speed outside 0.5–10 km/h, or a speed given with ``drive``.
    """
    if isinstance(name, WalkProfile):
        base = name
        key = name.name
    else:
        key = (name or "adult").lower()
        if key not in PROFILES and speed_kmh is None:
            raise ScenarioError(
                f"unknown walking profile '{name}'; choose one of {', '.join(PROFILES)} or give speed_kmh"
            )
        base = PROFILES.get(key, PROFILES["adult"])
    if speed_kmh is None or base.speed_kmh == speed_kmh:
        return base
    if base.mode == "drive":
        raise ScenarioError("the drive profile takes its speeds from the roads; give no walking speed_kmh")
    if not 0.5 <= speed_kmh <= 10:
        raise ScenarioError(f"walking speed {speed_kmh} km/h is outside 0.5–10 km/h")
    label = name if isinstance(name, str) and name and name.lower() not in PROFILES else "custom"
    note = "user-defined speed" + ("" if base.is_plain else f"; {key} costs")
    return replace(base, name=label, speed_kmh=float(speed_kmh), note=note)
