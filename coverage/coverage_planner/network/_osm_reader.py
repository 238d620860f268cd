"""Stream walkable ways out of local OSM files (.osm, .osm.gz/.bz2, .osm.pbf).

pyosmium reads XML and PBF alike, in C++, without loading the file into
memory as Python objects; we only keep the walkable ways and their node
coordinates, then cut them into graph edges at shared nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import osmium
from tqdm.auto import tqdm

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


def is_walkable(tags: dict[str, str], *, allow_private: bool = False) -> bool:
    """Return True when a way with these tags can be walked.

    An explicit ``foot=*`` tag wins over ``access=*`` and over the highway
    class (a cycleway with ``foot=designated`` is walkable). One-way tags are
    ignored on purpose: pedestrians walk both ways.
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


@dataclass
class RawEdges:
    """Edges cut from walkable ways: node ids at both ends and the shape between."""

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


def read_walkable_edges(path: str | Path, *, allow_private: bool = False) -> RawEdges:
    """Read the walkable ways of a local OSM file and cut them into edges.

    Ways are split at every node shared with another walkable way (or
    repeated within one), so each edge joins two junctions or dead ends and
    keeps its full shape. Nodes missing from an extract (ways clipped at its
    border) end the way there.
    """
    path = Path(path)
    header_timestamp = _header_timestamp(path)
    ways: list[tuple[int, str, str | None, np.ndarray, np.ndarray]] = []
    newest: datetime | None = None
    skipped = 0
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for way in tqdm(processor, desc=f"Reading {path.name}", unit=" ways", disable=None):
        tags = dict(way.tags)
        if not is_walkable(tags, allow_private=allow_private):
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
        for run_ids, run_xy in _valid_runs(ids, lonlat):
            ways.append((way.id, tags["highway"], tags.get("name"), run_ids, run_xy))
        stamp = way.timestamp
        if stamp is not None and stamp.year > 1970 and (newest is None or stamp > newest):
            newest = stamp
    edges = _split_at_junctions(ways)
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


def _split_at_junctions(ways) -> RawEdges:
    uses: Counter[int] = Counter()
    for _, _, _, ids, _ in ways:
        uses.update(ids.tolist())
        # Way ends are always edge ends, even when no other way meets them.
        uses[int(ids[0])] += 1
        uses[int(ids[-1])] += 1
    u, v, way_ids, highways, names, coords = [], [], [], [], [], []
    for way_id, highway, name, ids, xy in ways:
        cut = [0] + [i for i in range(1, len(ids) - 1) if uses[int(ids[i])] > 1] + [len(ids) - 1]
        for a, b in zip(cut[:-1], cut[1:]):
            u.append(ids[a])
            v.append(ids[b])
            way_ids.append(way_id)
            highways.append(highway)
            names.append(name)
            coords.append(xy[a : b + 1])
    return RawEdges(
        u=np.array(u, dtype=np.int64),
        v=np.array(v, dtype=np.int64),
        way_id=np.array(way_ids, dtype=np.int64),
        highway=highways,
        name=names,
        coords=coords,
        newest_edit=None,
        header_timestamp=None,
    )
