"""osmnx's HTTP cache, pointed into ours (downloads of networks, residential areas and geocoding share it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from coverage_planner import settings


def use_our_http_cache() -> None:
    """Point osmnx's HTTP cache into our cache folder, unless the user chose one (osmnx's default is ./cache)."""
    import osmnx as ox

    if str(ox.settings.cache_folder) == "./cache":
        ox.settings.cache_folder = str(settings.cache_dir() / "osmnx-http")


@contextmanager
def osmnx_http_cache(*, enabled: bool) -> Iterator[None]:
    """Turn osmnx's own HTTP cache off for a refresh (it would answer again from disk), then restore it.

    Parameters
    ----------
    enabled : bool
        False turns the cache off inside the block; True leaves it as the user set it.

    Yields
    ------
    None
    """
    import osmnx as ox

    before = ox.settings.use_cache
    ox.settings.use_cache = before and enabled
    try:
        yield
    finally:
        ox.settings.use_cache = before
