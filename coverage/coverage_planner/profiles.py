"""Walking speeds and thresholds planners choose between.

GB 50180-2018 (城市居住区规划设计标准) sizes residential "life circles" by
walking distance: 5-minute ≤ 300 m, 10-minute ≤ 500 m, 15-minute 800–1000 m.
"""

from __future__ import annotations

from dataclasses import dataclass

from coverage_planner._errors import ScenarioError


@dataclass(frozen=True)
class WalkProfile:
    """A walking speed with a name for reports."""

    name: str
    speed_kmh: float
    note: str = ""

    @property
    def metres_per_minute(self) -> float:
        return self.speed_kmh * 1000.0 / 60.0


PROFILES: dict[str, WalkProfile] = {
    "adult": WalkProfile("adult", 4.5, "typical adult pace"),
    "elderly": WalkProfile("elderly", 3.6, "about 1.0 m/s, older pedestrians"),
}


@dataclass(frozen=True)
class LifeCirclePreset:
    """A GB 50180-2018 life-circle threshold: minutes and the walking distance it stands for."""

    name: str
    minutes: float
    max_distance_m: float
    note: str


GB50180_PRESETS: dict[str, LifeCirclePreset] = {
    "gb50180-5min": LifeCirclePreset("GB 50180-2018 5-minute life circle", 5, 300, "≤ 300 m"),
    "gb50180-10min": LifeCirclePreset("GB 50180-2018 10-minute life circle", 10, 500, "≤ 500 m"),
    "gb50180-15min": LifeCirclePreset("GB 50180-2018 15-minute life circle", 15, 1000, "800–1000 m; upper bound used"),
}


def get_profile(name: str | None = None, speed_kmh: float | None = None) -> WalkProfile:
    """Return a named profile, or a custom one when ``speed_kmh`` is given."""
    key = (name or "adult").lower()
    if speed_kmh is not None and key in PROFILES and PROFILES[key].speed_kmh == speed_kmh:
        return PROFILES[key]
    if speed_kmh is not None:
        if not 0.5 <= speed_kmh <= 10:
            raise ScenarioError(f"walking speed {speed_kmh} km/h is outside 0.5–10 km/h")
        label = name if name and name not in PROFILES else "custom"
        return WalkProfile(label, float(speed_kmh), "user-defined speed")
    if key not in PROFILES:
        raise ScenarioError(f"unknown walking profile '{name}'; choose one of {', '.join(PROFILES)} or give speed_kmh")
    return PROFILES[key]
