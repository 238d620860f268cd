"""Look up place names and addresses with OpenStreetMap's geocoder (Nominatim, through osmnx), cached.

Used for rows that have no coordinates yet, only a query such as the
district government's name: the answer is a stand-in location, so such rows
are always marked placeholder. Answers (found or not) are kept in a JSON
file, so later runs work offline and give the same result.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coverage_planner._errors import CoverageWarning
from coverage_planner._io import write_text_atomic


class GeocodeNotice(CoverageWarning):
    """Said once before the first query leaves this machine: what is sent, and to where."""


class GeocodeUnavailable(Exception):
    """The geocoder cannot answer now (offline and not cached); the message says why."""


class OsmGeocoder:
    """A callable ``query -> (lon, lat) | None`` backed by a JSON cache and, when allowed, Nominatim.

    Parameters
    ----------
    cache_file : str or Path
        The JSON cache (created when the first answer arrives).
    online : bool, default False
        Ask Nominatim for queries not in the cache (off by default: a
        query can hold a person's address); when False, an uncached query
        raises `GeocodeUnavailable`. The first query sent says once, as a
        `GeocodeNotice` warning, what is sent and to where.

    Attributes
    ----------
    asked_online : int
        Queries sent to Nominatim so far.
    unreachable : str or None
        Why Nominatim could not be reached, set on the first connection
        failure (later uncached queries fail at once instead of retrying).
    """

    def __init__(self, cache_file: str | Path, *, online: bool = False) -> None:
        self.cache_file = Path(cache_file)
        self.online = online
        self.asked_online = 0
        self.unreachable: str | None = None  # set on the first connection failure: no use retrying each row
        try:
            self._cache: dict[str, dict] = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self._cache = {}

    def __call__(self, query: str) -> tuple[float, float] | None:
        """Look up one query, from the cache or (when online) from Nominatim.

        Parameters
        ----------
        query : str
            A place name or address; runs of whitespace count as one space.

        Returns
        -------
        tuple of (float, float) or None
            WGS-84 lon, lat, or None when the geocoder does not know the query.

        Raises
        ------
        GeocodeUnavailable
            When the query is not cached and cannot be asked now.
        """
        key = " ".join(query.split())
        if key not in self._cache:
            if self.unreachable:
                raise GeocodeUnavailable(self.unreachable)
            if not self.online:
                raise GeocodeUnavailable(
                    "it is not in the geocode cache and online lookups are off ([geocode] online = true turns them on)"
                )
            if self.asked_online == 0:
                warnings.warn(
                    f"geocoding online: the 地址查询 texts not yet in {self.cache_file.name} are sent, one by one, to "
                    "OpenStreetMap's public Nominatim service (nominatim.openstreetmap.org, through osmnx); "
                    "[geocode] online = false stops it",
                    GeocodeNotice,
                    stacklevel=3,
                )
            self._cache[key] = self._ask(key)
            self.asked_online += 1
            write_text_atomic(
                self.cache_file, json.dumps(self._cache, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
            )
        answer = self._cache[key]
        return (answer["lon"], answer["lat"]) if answer.get("found") else None

    def _ask(self, query: str) -> dict:
        import osmnx as ox

        from coverage_planner._osmnx import use_our_http_cache

        use_our_http_cache()
        try:
            lat, lon = ox.geocode(query)
        except Exception as exc:  # noqa: BLE001 - osmnx raises InsufficientResponseError or a requests error
            if type(exc).__name__ == "InsufficientResponseError":
                return {"found": False}
            self.unreachable = f"OpenStreetMap's geocoder could not be reached ({type(exc).__name__}; no internet?)"
            raise GeocodeUnavailable(self.unreachable) from None
        return {"found": True, "lon": float(lon), "lat": float(lat), "source": "OpenStreetMap Nominatim via osmnx"}


def geocode_row(
    query: str,
    geocoder: Callable[[str], tuple[float, float] | None] | None,
    values: dict[str, Any],
    problems: list[tuple[str, str]],
) -> tuple[float, float]:
    """Coordinates for a place-file row that only has a geocode query; the row becomes a placeholder.

    Parameters
    ----------
    query : str
        The row's geocode query.
    geocoder : callable or None
        ``query -> (lon, lat) | None``, such as an `OsmGeocoder`; None when
        geocoding is not set up (the row is then a problem).
    values : dict of str to Any
        The row's parsed fields; on success ``crs``, ``status`` (placeholder)
        and ``location_source`` are set in it.
    problems : list of tuple of (str, str)
        Problems are appended here as (field, message), the way
        `coverage_planner.places.reading` collects them.

    Returns
    -------
    tuple of (float, float)
        Lon, lat; NaN, NaN when the query could not be answered.
    """
    hint = "fill in 经度/纬度 (longitude/latitude) with the real location"
    if geocoder is None:
        problems.append(
            ("geocode_query", f"no coordinates, only the query {query!r}, and no geocoder was given; {hint}")
        )
        return math.nan, math.nan
    try:
        found = geocoder(query)
    except GeocodeUnavailable as exc:
        problems.append(("geocode_query", f"no coordinates, and {query!r} could not be geocoded: {exc}; {hint}"))
        return math.nan, math.nan
    if found is None:
        problems.append(
            ("geocode_query", f"OpenStreetMap's geocoder does not know {query!r}; correct the query or {hint}")
        )
        return math.nan, math.nan
    values["crs"] = "wgs84"  # geocoder answers are OSM coordinates
    values["status"] = "placeholder"
    values["location_source"] = f"geocoded from {query!r} (OpenStreetMap Nominatim), not the real address"
    return float(found[0]), float(found[1])
