"""Clip a large OSM extract (a province or country .osm.pbf) to an area, streaming.

pyosmium reads the file object by object (node locations in an index, on
disk for big files), so a 1.5 GB extract is never loaded whole; ways that
reach into the area are kept whole, and the nodes they need are added from
a second streaming pass (`osmium.BackReferenceWriter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import osmium
import shapely
from tqdm.auto import tqdm

from coverage_planner._errors import NetworkError
from coverage_planner._io import atomic_path
from coverage_planner.network._osm_reader import is_walkable

# Files above this size keep node locations on disk rather than in memory.
LARGE_FILE_BYTES = 300 * 1024 * 1024


@dataclass(frozen=True)
class ClipStats:
    """What a clip kept."""

    ways: int
    tagged_nodes: int
    output: Path


def clip_osm(
    source: str | Path,
    target: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: shapely.Geometry | None = None,
    walkable_only: bool = False,
    progress: bool | None = None,
) -> ClipStats:
    """Write the part of ``source`` inside ``bbox`` or ``polygon`` to ``target``.

    Kept: every way with at least one node inside the area (whole, with all
    its nodes), and every tagged node inside it (amenities, offices … for
    candidate sites). Relations are dropped.

    Parameters
    ----------
    source : a .osm.pbf / .osm / .osm.gz file of any size.
    target : the output file (format from its suffix), written atomically.
    bbox : (west, south, east, north) in degrees.
    polygon : a shapely (Multi)Polygon in WGS-84 (its bounds are used first).
    walkable_only : keep only walkable ways (a smaller file for routing).
    progress : show a progress bar (default: only on a terminal).
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise NetworkError(f"OSM file not found: {source}")
    if (bbox is None) == (polygon is None):
        raise NetworkError("give exactly one of bbox or polygon")
    west, south, east, north = polygon.bounds if polygon is not None else bbox
    if not (west < east and south < north):
        raise NetworkError(
            f"the area ({west}, {south}, {east}, {north}) is empty: west < east and south < north are needed"
        )
    area = shapely.prepared.prep(polygon) if polygon is not None else None

    def inside(lon: float, lat: float) -> bool:
        if not (west <= lon <= east and south <= lat <= north):
            return False
        return area is None or area.contains(shapely.Point(lon, lat))

    storage = (
        "dense_file_array," + str(target.with_suffix(".nodecache"))
        if source.stat().st_size > LARGE_FILE_BYTES
        else "flex_mem"
    )
    ways = nodes = 0
    with atomic_path(target) as tmp:
        writer = osmium.BackReferenceWriter(str(tmp), ref_src=str(source), overwrite=True)
        try:
            processor = (
                osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY)
                .with_locations(storage)
                .with_filter(osmium.filter.EmptyTagFilter())
            )
            for obj in tqdm(
                processor,
                desc=f"Clipping {source.name}",
                unit=" objects",
                disable=None if progress is None else not progress,
            ):
                if obj.is_node():
                    if inside(obj.location.lon, obj.location.lat):
                        writer.add_node(obj)
                        nodes += 1
                elif walkable_only and not is_walkable(dict(obj.tags)):
                    continue
                elif any(n.location.valid() and inside(n.location.lon, n.location.lat) for n in obj.nodes):
                    writer.add_way(obj)
                    ways += 1
        except RuntimeError as exc:
            raise NetworkError(f"{source}: not a readable OSM file ({exc})") from exc
        finally:
            writer.close()
        cache = target.with_suffix(".nodecache")
        if cache.exists():
            cache.unlink()
    return ClipStats(ways=ways, tagged_nodes=nodes, output=target)
