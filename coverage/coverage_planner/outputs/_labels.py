"""What the printed maps and the report's text share, without loading matplotlib: readable names, route colours."""

from __future__ import annotations

import re

#: Colour of each circuit route, in route order (the interactive map's `CIRCUIT_COLOURS`).
ROUTE_COLOURS = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#e6ab02", "#1f78b4", "#b2182b")

# Names a reader cannot use: generated ids ("way 123", "grid node 9", "amenity=bench n42", "demand-7").
_GENERATED_NAME = re.compile(
    r"^(?:(?:way|node|relation|grid node) \d+|\S+=\S+ [nwr]\d+|(?:demand|sites|candidates)-\d+)$"
)


def readable_name(name: object) -> bool:
    """Whether a place name means something to a reader (not an id the reader made up or OSM gave).

    Parameters
    ----------
    name : object
        A name as the place file gave it (NaN and other non-text included).

    Returns
    -------
    bool
        False for empty text and generated names (``way 123``, ``amenity=townhall n456``,
        ``candidates-3`` …).
    """
    return isinstance(name, str) and bool(name.strip()) and not _GENERATED_NAME.match(name.strip())


__all__ = ["ROUTE_COLOURS", "readable_name"]
