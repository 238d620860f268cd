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

from coverage_planner._errors import NetworkError
from coverage_planner._io import atomic_path
from coverage_planner.network._osm_reader import is_walkable

# Files above this size keep node locations on disk rather than in memory.
LARGE_FILE_BYTES = 300 * 1024 * 1024


class EmptyClipError(NetworkError):
    """The area matched nothing in the OSM file (no way reaches into it).

    Parameters
    ----------
    message : str
        The error text, naming the file's own bounds.
    file_bounds : tuple of float or None
        (west, south, east, north) of the file: its header's bounds, else
        those of its tagged nodes; None when it has neither (so a caller can
        suggest an area that lies inside it).
    """

    def __init__(self, message: str, file_bounds: tuple[float, float, float, float] | None) -> None:
        super().__init__(message)
        self.file_bounds = file_bounds


def check_bbox(bbox: tuple[float, float, float, float] | list[float], what: str = "the bbox") -> None:
    """Raise `NetworkError` unless ``bbox`` is (west, south, east, north) in degrees, longitude first.

    Parameters
    ----------
    bbox : tuple of float
        (west, south, east, north).
    what : str
        How the message names the box (e.g. "--bbox").

    Raises
    ------
    NetworkError
        Not four numbers; a latitude outside ±90 or a longitude outside ±180;
        west ≥ east or south ≥ north. When the numbers read as
        (south, west, north, east) would make a valid box, the message says so.
    """
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise NetworkError(f"{what} must be four numbers west,south,east,north in degrees; got {bbox!r}") from None
    problems = []
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        problems.append(f"south {south:g} and north {north:g} must be latitudes, within ±90")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        problems.append(f"west {west:g} and east {east:g} must be longitudes, within ±180")
    if not problems and not (west < east and south < north):
        problems.append("the box is empty or reversed: west < east and south < north are needed")
    if not problems:
        return
    hint = ""
    if -90 <= west <= 90 and -90 <= east <= 90 and south < north and west < east and abs(south) <= 180:
        hint = f"; latitude and longitude look swapped: did you mean {south:g},{west:g},{north:g},{east:g}?"
    raise NetworkError(
        f"{what} ({west:g}, {south:g}, {east:g}, {north:g}) is not west,south,east,north in degrees "
        f"(longitude first): {'; '.join(problems)}{hint}"
    )


@dataclass(frozen=True)
class ClipStats:
    """What a clip kept.

    Parameters
    ----------
    ways : int
        Ways written (each whole, with all its nodes).
    tagged_nodes : int
        Tagged nodes inside the area written.
    output : Path
        The file written.
    """

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
    source : str or Path
        A .osm.pbf / .osm / .osm.gz file of any size.
    target : str or Path
        The output file (format from its suffix), written atomically.
    bbox : tuple of float, optional
        (west, south, east, north) in degrees.
    polygon : shapely.Polygon or shapely.MultiPolygon, optional
        The area in WGS-84 (its bounds are used first).
    walkable_only : bool, default False
        Keep only walkable ways (a smaller file for routing).
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Returns
    -------
    ClipStats
        What was written.

    Raises
    ------
    NetworkError
        The file is missing or unreadable; the bbox is not west,south,east,north
        in degrees (see `check_bbox`).
    EmptyClipError
        No way reaches into the area (nothing is written); the message names
        the file's own bounds.
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise NetworkError(f"OSM file not found: {source}")
    if (bbox is None) == (polygon is None):
        raise NetworkError("give exactly one of bbox or polygon")
    if polygon is None:
        check_bbox(bbox)
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
    # Where the file's tagged nodes lie, to say where it is when the area matches nothing (if its header does not).
    seen = [float("inf"), float("inf"), float("-inf"), float("-inf")]
    with atomic_path(target) as tmp:
        writer = osmium.BackReferenceWriter(str(tmp), ref_src=str(source), overwrite=True)
        try:
            processor = (
                osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY)
                .with_locations(storage)
                .with_filter(osmium.filter.EmptyTagFilter())
            )
            from tqdm.auto import tqdm  # here, not at import: tqdm.auto loads asyncio

            for obj in tqdm(
                processor,
                desc=f"Clipping {source.name}",
                unit=" objects",
                disable=None if progress is None else not progress,
            ):
                if obj.is_node():
                    lon, lat = obj.location.lon, obj.location.lat
                    seen[:] = min(seen[0], lon), min(seen[1], lat), max(seen[2], lon), max(seen[3], lat)
                    if inside(lon, lat):
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
        if ways == 0:
            # Raised inside atomic_path: no empty output file is left behind.
            raise _nothing_matched(source, (west, south, east, north), polygon is not None, seen, walkable_only)
    return ClipStats(ways=ways, tagged_nodes=nodes, output=target)


def _nothing_matched(
    source: Path, area: tuple[float, ...], is_polygon: bool, seen: list[float], walkable_only: bool
) -> EmptyClipError:
    what = "the polygon" if is_polygon else "the bbox"
    box = ",".join(f"{v:g}" for v in area)
    kind = "walkable way" if walkable_only else "way"
    header = osmium.io.Reader(str(source), osmium.osm.osm_entity_bits.NOTHING)
    try:
        declared = header.header().box()
    finally:
        header.close()
    if declared.valid():
        seen = [declared.bottom_left.lon, declared.bottom_left.lat, declared.top_right.lon, declared.top_right.lat]
    if seen[0] > seen[2]:
        return EmptyClipError(f"{what} ({box}) matched no {kind} in {source}, which has no tagged nodes", None)
    bounds = tuple(round(v, 5) for v in seen)
    extent = ",".join(f"{v:g}" for v in bounds)
    west, south, east, north = area
    swapped = (south, west, north, east)
    hint = "Give an area inside it, longitude first."
    if (
        not is_polygon
        and swapped[0] < bounds[2]
        and swapped[2] > bounds[0]
        and swapped[1] < bounds[3]
        and swapped[3] > bounds[1]
    ):
        hint = f"Latitude and longitude look swapped: did you mean {','.join(f'{v:g}' for v in swapped)}?"
    return EmptyClipError(
        f"{what} ({box}) matched no {kind} in {source}; the file covers {extent} (west,south,east,north). {hint}",
        bounds,
    )
