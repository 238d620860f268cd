"""Walking networks downloaded through osmnx, cached on disk so later runs are offline."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from coverage_planner import settings
from coverage_planner._errors import NetworkError
from coverage_planner._osmnx import osmnx_http_cache, use_our_http_cache
from coverage_planner.network._osm_reader import FOOT_FORBIDDEN, NOT_WALKABLE_HIGHWAYS
from coverage_planner.network.cache import cached_osm_network
from coverage_planner.network.graph import LINE_SUFFIXES, OSM_SUFFIXES, NetworkSource, WalkNetwork
from coverage_planner.network.lines import read_line_network


def overpass_walk_filter() -> str:
    """The Overpass QL way filter equivalent to `coverage_planner.network._osm_reader.is_walkable`.

    Overpass cannot express "foot=yes overrides the highway class", so
    cycleways tagged foot=yes/designated are not fetched online; the offline
    reader keeps them. Everything else matches.
    """
    highways = "|".join(sorted(NOT_WALKABLE_HIGHWAYS))
    foot = "|".join(sorted(FOOT_FORBIDDEN))
    return (
        f'["highway"]["area"!~"yes"]["highway"!~"^({highways})$"]'
        f'["foot"!~"^({foot})$"]["access"!~"^(private|no)$"]["service"!~"^private$"]'
    )


def download_network(
    *,
    place: str | list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon=None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
) -> WalkNetwork:
    """Download the walking network of a place, bbox or polygon through osmnx, or load it from cache.

    The first call needs internet; the network is then saved as GraphML
    under ``cache_dir`` keyed by the query, and later calls read it offline.

    Parameters
    ----------
    place : a place name osmnx can geocode (e.g. "回民区, 呼和浩特市"), or a list
        of them (their union, e.g. four districts).
    bbox : (west, south, east, north) in degrees.
    polygon : a shapely (Multi)Polygon in WGS-84.
    cache_dir : cache folder (default `coverage_planner.settings.cache_dir`).
    refresh : download again even when cached.
    """
    if sum(x is not None for x in (place, bbox, polygon)) != 1:
        raise NetworkError("give exactly one of place, bbox or polygon")
    query = {
        "place": place,
        "bbox": list(bbox) if bbox else None,
        "polygon": polygon.wkt if polygon is not None else None,
    }
    key = hashlib.sha256(json.dumps(query, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir else settings.cache_dir()
    cached = cache / "networks" / f"walk-{key}.graphml"
    label = ("; ".join(place) if isinstance(place, list) else place) or (f"bbox {bbox}" if bbox else "polygon")
    if cached.is_file() and not refresh:
        net = WalkNetwork.from_graphml(cached)
        net.source = NetworkSource(
            kind="osmnx-download (cached)",
            path=str(cached),
            sha256=net.source.sha256,
            query=label,
            snapshot=net.source.snapshot,
            snapshot_basis=net.source.snapshot_basis,
        )
        return net

    import osmnx as ox

    use_our_http_cache()
    kwargs = dict(custom_filter=overpass_walk_filter(), simplify=True, retain_all=True)
    try:
        with osmnx_http_cache(enabled=not refresh):
            if place is not None:
                graph = ox.graph_from_place(place, **kwargs)
            elif bbox is not None:
                graph = ox.graph_from_bbox(tuple(bbox), **kwargs)
            else:
                graph = ox.graph_from_polygon(polygon, **kwargs)
    except Exception as exc:
        raise NetworkError(f"could not download the walking network for {label}: {exc}") from exc
    net = WalkNetwork.from_graph(
        graph,
        source=NetworkSource(
            kind="osmnx-download",
            query=label,
            snapshot=date.today().isoformat(),
            snapshot_basis="download date (Overpass serves current data)",
        ),
    )
    net.to_graphml(cached)
    net.source = NetworkSource(
        kind="osmnx-download",
        path=str(cached),
        query=label,
        snapshot=net.source.snapshot,
        snapshot_basis=net.source.snapshot_basis,
    )
    return net


def load_network(
    source: str | Path | None = None,
    *,
    place: str | list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    allow_private: bool = False,
    layer: str | None = None,
    crs: str | None = None,
    coordinate_system: str | None = None,
    class_column: str | None = None,
    noding: str | None = None,
) -> WalkNetwork:
    """Load a walking network from a local file, or download (and cache) one.

    A parsed OSM file is cached (keyed by the file's sha256), so the next run
    skips parsing; downloads are cached as GraphML. Road-line layers (.shp,
    .gpkg, .geojson, .json) are read by
    `coverage_planner.network.lines.read_line_network`, uncached (it is fast).

    Parameters
    ----------
    source : a local .osm, .osm.gz, .osm.bz2, .osm.pbf, .graphml, .shp, .gpkg, .geojson or .json file.
    place, bbox : download instead (see `download_network`).
    cache_dir : cache folder (default `coverage_planner.settings.cache_dir`).
    use_cache : read and write the parsed-network cache for local OSM files.
    allow_private : keep access=private ways (local files only).
    layer, crs, coordinate_system, class_column, noding : road-line layers only;
        see `coverage_planner.network.lines.read_line_network`.
    """
    line_options = {
        "layer": layer,
        "crs": crs,
        "coordinate_system": coordinate_system,
        "class_column": class_column,
        "noding": noding,
    }
    given = {k: v for k, v in line_options.items() if v is not None}
    if source is not None and str(source).lower().endswith(LINE_SUFFIXES):
        return read_line_network(source, allow_private=allow_private, **given)
    if given:
        where = source if source is not None else "a downloaded network"
        raise NetworkError(f"{where}: {', '.join(given)} apply only to road-line layers ({', '.join(LINE_SUFFIXES)})")
    if source is not None:
        if use_cache and not str(source).lower().endswith(".graphml"):
            if not Path(source).is_file() or not str(source).lower().endswith(OSM_SUFFIXES):
                return WalkNetwork.from_file(source, allow_private=allow_private)
            return cached_osm_network(source, cache_dir or settings.cache_dir(), allow_private=allow_private)[0]
        return WalkNetwork.from_file(source, allow_private=allow_private)
    return download_network(place=place, bbox=bbox, cache_dir=cache_dir)
