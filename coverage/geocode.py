"""Look up place names and addresses with OpenStreetMap's geocoder (Nominatim, through osmnx), cached.

Used for rows that have no coordinates yet, only a query such as the
district government's name: the answer is a stand-in location, so such rows
are always marked placeholder. Answers (found or not) are kept in a JSON
file, so later runs work offline and give the same result.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._io import write_text_atomic
from .places import GeocodeUnavailable


class OsmGeocoder:
    """A callable ``query -> (lon, lat) | None`` backed by a JSON cache and, when allowed, Nominatim.

    Parameters
    ----------
    cache_file : the JSON cache (created when the first answer arrives).
    online : ask Nominatim for queries not in the cache; when False, an
        uncached query raises `GeocodeUnavailable`.
    """

    def __init__(self, cache_file: str | Path, *, online: bool = True) -> None:
        self.cache_file = Path(cache_file)
        self.online = online
        self.asked_online = 0
        self.unreachable: str | None = None  # set on the first connection failure: no use retrying each row
        try:
            self._cache: dict[str, dict] = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self._cache = {}

    def __call__(self, query: str) -> tuple[float, float] | None:
        key = " ".join(query.split())
        if key not in self._cache:
            if self.unreachable:
                raise GeocodeUnavailable(self.unreachable)
            if not self.online:
                raise GeocodeUnavailable("it is not in the geocode cache and online lookups are off")
            self._cache[key] = self._ask(key)
            self.asked_online += 1
            write_text_atomic(self.cache_file, json.dumps(self._cache, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        answer = self._cache[key]
        return (answer["lon"], answer["lat"]) if answer.get("found") else None

    def _ask(self, query: str) -> dict:
        import osmnx as ox

        try:
            lat, lon = ox.geocode(query)
        except Exception as exc:  # noqa: BLE001 - osmnx raises InsufficientResponseError or a requests error
            if type(exc).__name__ == "InsufficientResponseError":
                return {"found": False}
            self.unreachable = f"OpenStreetMap's geocoder could not be reached ({type(exc).__name__}; no internet?)"
            raise GeocodeUnavailable(self.unreachable) from None
        return {"found": True, "lon": float(lon), "lat": float(lat), "source": "OpenStreetMap Nominatim via osmnx"}
