"""Stream walkable (or drivable) ways out of local OSM files (.osm, .osm.gz/.bz2, .osm.pbf).

pyosmium reads XML and PBF alike, in C++, without loading the file into
memory as Python objects; we only keep the walkable ways and their node
coordinates, then cut them into graph edges at shared nodes. The tags the
travel costs need (`EDGE_TAGS` on ways, `NODE_TAGS` on crossing and signal
nodes) come along.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import osmium

from coverage_planner._errors import DataError

# Values of highway=* that never carry pedestrians (or do not exist yet).
NOT_WALKABLE_HIGHWAYS = frozenset(
    {
        "abandoned",
        "bus_guideway",
        "busway",
        "construction",
        "disused",
        "escape",
        "motorway",
        "motorway_link",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "cycleway",
    }
)
FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})
FOOT_FORBIDDEN = frozenset({"no", "private", "use_sidepath"})

# Roads a car may use; walking-only ways (footway, path, steps, pedestrian, cycleway, bridleway,
# corridor), tracks and everything not built yet are left out of a drive network.
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
CAR_ALLOWED = frozenset({"yes", "designated", "permissive", "destination", "official"})
CAR_FORBIDDEN = frozenset({"no", "agricultural", "forestry", "delivery", "emergency", "use_sidepath"})
#: Way tags kept per edge for the travel costs (see `coverage_planner.profiles`).
EDGE_TAGS = (
    "surface",
    "lit",
    "sidewalk",
    "footway",
    "crossing",
    "crossing:signals",
    "oneway",
    "junction",
    "maxspeed",
    "incline",
    "wheelchair",
    "bridge",  # bridge, tunnel, layer: why two ways cross without a node (network QA)
    "tunnel",
    "layer",
)
#: Node tags kept for crossings and signals (nodes with another ``highway=*`` are not kept).
NODE_TAGS = ("highway", "crossing", "crossing:signals")
_KEPT_NODE_HIGHWAYS = frozenset({"crossing", "traffic_signals"})
MODES = ("walk", "drive")
#: Extra per-edge value: how many ``highway=traffic_signals`` nodes lie strictly inside the edge ("" for none).
SIGNALS_INSIDE = "signals_inside"


def is_walkable(tags: dict[str, str], *, allow_private: bool = False) -> bool:
    """Return True when a way with these tags can be walked.

    An explicit ``foot=*`` tag wins over ``access=*`` and over the highway
    class (a cycleway with ``foot=designated`` is walkable). One-way tags are
    ignored on purpose: pedestrians walk both ways.

    Parameters
    ----------
    tags : dict of str to str
        The way's OSM tags.
    allow_private : bool, default False
        Count ``access=private`` (and ``foot=private``, ``service=private``)
        ways as walkable, e.g. roads inside a gated compound.

    Returns
    -------
    bool
    """
    highway = tags.get("highway")
    if not highway or tags.get("area") == "yes":
        return False
    foot = tags.get("foot")
    if foot in FOOT_FORBIDDEN and not (allow_private and foot == "private"):
        return False
    if foot in FOOT_ALLOWED:
        return highway not in NOT_WALKABLE_HIGHWAYS - {"cycleway", "platform"}
    if highway in NOT_WALKABLE_HIGHWAYS:
        return False
    access = tags.get("access")
    if access == "no":
        return False
    private = access == "private" or tags.get("service") == "private"
    return allow_private or not private


def is_drivable(tags: dict[str, str], *, allow_private: bool = False) -> bool:
    """Return True when a car may use a way with these tags.

    Only road classes in `DRIVABLE_HIGHWAYS`; the most specific access tag
    wins (``motorcar``, then ``motor_vehicle``, ``vehicle``, ``access``).
    Reversible or alternating one-way roads are left out: which way they
    run depends on the hour.

    Parameters
    ----------
    tags : dict of str to str
        The way's OSM tags.
    allow_private : bool, default False
        Count private roads as drivable.

    Returns
    -------
    bool
    """
    if tags.get("highway") not in DRIVABLE_HIGHWAYS or tags.get("area") == "yes":
        return False
    if tags.get("oneway") in ("reversible", "alternating") or tags.get("service") == "emergency_access":
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        value = tags.get(key)
        if value is None:
            continue
        if value in CAR_ALLOWED:
            return True
        if value in CAR_FORBIDDEN:
            return False
        if value == "private":
            return allow_private
    return True


@dataclass
class RawEdges:
    """Edges cut from walkable ways: node ids at both ends and the shape between.

    Parameters
    ----------
    u, v : ndarray of int64
        OSM node id of each edge's first / last vertex.
    way_id : ndarray of int64
        The way each edge was cut from.
    highway : list of str
        The way's ``highway=*`` value.
    name : list of str or None
        The way's name.
    coords : list of ndarray
        Each edge's (k, 2) lon/lat shape, from u to v.
    newest_edit : datetime or None
        Newest edit among the kept ways: the snapshot date when the file
        header has none.
    header_timestamp : str or None
        The file header's replication timestamp.
    ways_read : int, default 0
        Runs of kept ways read (a way broken by missing nodes counts once per run).
    ways_skipped_no_location : int, default 0
        Node references without a location (nodes missing from a clipped extract).
    extra : dict, optional
        Anything else a reader wants to pass on.
    edge_tags : dict of str to list of str, optional
        Per edge, the way's value of each of `EDGE_TAGS` ("" when untagged);
        empty when the source had none.
    node_tags : dict of int to dict, optional
        OSM node id → {tag: value} for crossing and signal nodes (`NODE_TAGS`).
    """

    u: np.ndarray  # OSM node id of the first vertex
    v: np.ndarray  # OSM node id of the last vertex
    way_id: np.ndarray
    highway: list[str]
    name: list[str | None]
    coords: list[np.ndarray]  # (k, 2) lon/lat from u to v
    newest_edit: datetime | None
    header_timestamp: str | None
    ways_read: int = 0
    ways_skipped_no_location: int = 0
    extra: dict = field(default_factory=dict)
    # Per edge, the way's value of each of `EDGE_TAGS` ("" when untagged); empty when the source had none.
    edge_tags: dict[str, list[str]] = field(default_factory=dict)
    # OSM node id -> {tag: value} for crossing and signal nodes (`NODE_TAGS`).
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)


def read_walkable_edges(path: str | Path, *, allow_private: bool = False, mode: str = "walk") -> RawEdges:
    """Read the walkable (or, with ``mode="drive"``, drivable) ways of a local OSM file and cut them into edges.

    Ways are split at every node shared with another kept way (or repeated
    within one), so each edge joins two junctions or dead ends and keeps its
    full shape. Nodes missing from an extract (ways clipped at its border)
    end the way there. Each edge carries its way's `EDGE_TAGS`; crossing and
    signal nodes their `NODE_TAGS`.

    Parameters
    ----------
    path : str or Path
        An OSM XML or PBF file.
    allow_private : bool, default False
        Keep ``access=private`` ways.
    mode : str, default "walk"
        ``"walk"`` (`is_walkable`) or ``"drive"`` (`is_drivable`).

    Returns
    -------
    RawEdges
    """
    if mode not in MODES:
        raise DataError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    keep = is_walkable if mode == "walk" else is_drivable
    path = Path(path)
    header_timestamp = _header_timestamp(path)
    ways: list[tuple[int, str, str | None, np.ndarray, np.ndarray, tuple[str, ...]]] = []
    node_tags: dict[int, dict[str, str]] = {}
    newest: datetime | None = None
    skipped = 0
    # Nodes pass the key filter only when tagged highway=* (a few per street); the location
    # handler still sees every node.
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    from tqdm.auto import tqdm  # here, not at import: tqdm.auto loads asyncio and cached runs never parse

    for way in tqdm(processor, desc=f"Reading {path.name}", unit=" ways", disable=None):
        if way.is_node():
            if way.tags.get("highway") in _KEPT_NODE_HIGHWAYS:
                node_tags[way.id] = {k: way.tags[k] for k in NODE_TAGS if k in way.tags}
            continue
        tags = dict(way.tags)
        if not keep(tags, allow_private=allow_private):
            continue
        ids, lonlat = [], []
        for node in way.nodes:
            loc = node.location
            if not loc.valid():
                skipped += 1
                ids.append(None)
                lonlat.append(None)
                continue
            ids.append(node.ref)
            lonlat.append((loc.lon, loc.lat))
        values = tuple(tags.get(k, "") for k in EDGE_TAGS)
        for run_ids, run_xy in _valid_runs(ids, lonlat):
            ways.append((way.id, tags["highway"], tags.get("name"), run_ids, run_xy, values))
        stamp = way.timestamp
        if stamp is not None and stamp.year > 1970 and (newest is None or stamp > newest):
            newest = stamp
    signals = {node for node, t in node_tags.items() if t.get("highway") == "traffic_signals"}
    edges = _split_at_junctions(ways, signals)
    ends = set(edges.u.tolist()) | set(edges.v.tolist())
    edges.node_tags = {node: t for node, t in node_tags.items() if node in ends}
    edges.newest_edit = newest.astimezone(UTC) if newest else None
    edges.header_timestamp = header_timestamp
    edges.ways_read = len(ways)
    edges.ways_skipped_no_location = skipped
    return edges


def _header_timestamp(path: Path) -> str | None:
    reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
    try:
        header = reader.header()
        stamp = header.get("osmosis_replication_timestamp") or header.get("timestamp")
    finally:
        reader.close()
    return stamp or None


def _valid_runs(ids: list, lonlat: list):
    """Yield the runs of consecutive located nodes (≥ 2) of a way."""
    start = 0
    for i in range(len(ids) + 1):
        if i == len(ids) or ids[i] is None:
            if i - start >= 2:
                yield np.array(ids[start:i], dtype=np.int64), np.array(lonlat[start:i])
            start = i + 1


def _split_at_junctions(ways, signals: set[int] | frozenset[int] = frozenset()) -> RawEdges:
    uses: Counter[int] = Counter()
    for _, _, _, ids, *_ in ways:
        uses.update(ids.tolist())
        # Way ends are always edge ends, even when no other way meets them.
        uses[int(ids[0])] += 1
        uses[int(ids[-1])] += 1
    u, v, way_ids, highways, names, coords = [], [], [], [], [], []
    values: list[tuple[str, ...]] = []
    inside: list[str] = []  # traffic signals strictly inside each edge (drive delays)
    for way_id, highway, name, ids, xy, tags in ways:
        cut = [0] + [i for i in range(1, len(ids) - 1) if uses[int(ids[i])] > 1] + [len(ids) - 1]
        for a, b in zip(cut[:-1], cut[1:]):
            u.append(ids[a])
            v.append(ids[b])
            way_ids.append(way_id)
            highways.append(highway)
            names.append(name)
            coords.append(xy[a : b + 1])
            values.append(tags)
            count = sum(1 for node in ids[a + 1 : b].tolist() if node in signals) if signals else 0
            inside.append(str(count) if count else "")
    edge_tags = {key: [t[k] for t in values] for k, key in enumerate(EDGE_TAGS)}
    edge_tags[SIGNALS_INSIDE] = inside
    return RawEdges(
        u=np.array(u, dtype=np.int64),
        v=np.array(v, dtype=np.int64),
        way_id=np.array(way_ids, dtype=np.int64),
        highway=highways,
        name=names,
        coords=coords,
        newest_edit=None,
        header_timestamp=None,
        edge_tags=edge_tags,
    )
