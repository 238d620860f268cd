"""osmnx glue: its HTTP cache pointed into ours (downloads and geocoding share it), its settings set for a block."""

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


@contextmanager
def osmnx_settings(**values: object) -> Iterator[None]:
    """Set some of ``osmnx.settings`` inside the block, then restore what the user had.

    Parameters
    ----------
    **values : object
        Setting name → value (e.g. ``useful_tags_way=[...]``, ``all_oneway=True``).

    Yields
    ------
    None

    Raises
    ------
    AttributeError
        When osmnx has no setting of a given name (a typo must not pass silently).
    """
    import osmnx as ox

    before = {name: getattr(ox.settings, name) for name in values}  # AttributeError for unknown names
    try:
        for name, value in values.items():
            setattr(ox.settings, name, value)
        yield
    finally:
        for name, value in before.items():
            setattr(ox.settings, name, value)
