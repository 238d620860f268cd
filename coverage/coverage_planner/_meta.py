"""Facts about this package every stage may state: its version and the data licence it must credit."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

OSM_ATTRIBUTION = (
    "Map data © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0, "
    "https://www.openstreetmap.org/copyright"
)


@lru_cache(maxsize=1)
def package_version() -> str:
    """Installed version of coverage-planner.

    Returns
    -------
    str
        The version, or "unknown" in a source tree never installed.
    """
    try:
        return metadata.version("coverage-planner")
    except metadata.PackageNotFoundError:
        return "unknown"
