"""Walking and driving networks downloaded through osmnx, cached on disk so later runs are offline.

A download is built the way a local OSM file is read: osmnx keeps the way
and node tags the walk filter and the cost model read (`DOWNLOAD_WAY_TAGS`,
`DOWNLOAD_NODE_TAGS`), every way is kept as drawn with its own ``oneway``
tag, and edges are cut where the file reader cuts them (junctions and way
ends; for driving also at traffic signals, whose delay then falls on the
edge ends), so a downloaded network gets the same costs as the file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from coverage_planner import settings
from coverage_planner._errors import NetworkError
from coverage_planner._osmnx import osmnx_http_cache, osmnx_settings, use_our_http_cache
from coverage_planner.network._osm_reader import (
    DRIVABLE_HIGHWAYS,
    EDGE_TAGS,
    FOOT_FORBIDDEN,
    MODES,
    NODE_TAGS,
    NOT_WALKABLE_HIGHWAYS,
    is_drivable,
)
from coverage_planner.network.cache import cached_osm_network
from coverage_planner.network.graph import LINE_SUFFIXES, OSM_SUFFIXES, NetworkSource, WalkNetwork
from coverage_planner.network.lines import read_line_network

if TYPE_CHECKING:
    import networkx as nx
    import shapely

#: Way tags osmnx keeps on a download: the cost model's (`EDGE_TAGS`) and those the walk and drive filters read.
DOWNLOAD_WAY_TAGS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "highway",
            "name",
            "area",
            "access",
            "foot",
            "service",
            "motorcar",
            "motor_vehicle",
            "vehicle",
            *EDGE_TAGS,
        ]
    )
)
#: Node tags osmnx keeps on a download (crossings and traffic signals).
DOWNLOAD_NODE_TAGS: tuple[str, ...] = NODE_TAGS
# Set on traffic-signal nodes so simplification keeps them as nodes (drive delays fall on edge ends).
_SIGNAL_NODE = "coverage_signal"
# Part of every cache key: downloads before tags were kept (and before drive) are fetched again.
_DOWNLOAD_FORMAT = 2


def overpass_walk_filter() -> str:
    """The Overpass QL way filter equivalent to `coverage_planner.network._osm_reader.is_walkable`.

    Overpass cannot express "foot=yes overrides the highway class", so
    cycleways tagged foot=yes/designated are not fetched online; the offline
    reader keeps them. Everything else matches.

    Returns
    -------
    str
        The filter, as osmnx's ``custom_filter`` takes it.
    """
    highways = "|".join(sorted(NOT_WALKABLE_HIGHWAYS))
    foot = "|".join(sorted(FOOT_FORBIDDEN))
    return (
        f'["highway"]["area"!~"yes"]["highway"!~"^({highways})$"]'
        f'["foot"!~"^({foot})$"]["access"!~"^(private|no)$"]["service"!~"^private$"]'
    )


def overpass_drive_filter() -> str:
    """The Overpass QL way filter of a drive download: the road classes a car may use.

    The classes are those `coverage_planner.network._osm_reader.is_drivable`
    keeps; access tags are judged after the download, by `is_drivable` itself (its
    "most specific tag wins" rule cannot be written in Overpass QL), so a
    downloaded drive network keeps exactly the ways a local file's does.

    Returns
    -------
    str
        The filter, as osmnx's ``custom_filter`` takes it.
    """
    roads = "|".join(sorted(DRIVABLE_HIGHWAYS))
    return f'["highway"~"^({roads})$"]["area"!~"yes"]'


def download_network(
    *,
    place: str | list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: shapely.Geometry | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    mode: str = "walk",
) -> WalkNetwork:
    """Download the walking (or driving) network of a place, bbox or polygon through osmnx, or load it from cache.

    The first call needs internet; the network is then saved as GraphML
    under ``cache_dir`` keyed by the query and mode, and later calls read it
    offline. The ways' tags the cost model reads (surface, lit, sidewalk,
    crossing, maxspeed, oneway, …) and crossing and signal nodes come with
    it, so its travel costs are those of the same area read from a file.

    Parameters
    ----------
    place : str or list of str, optional
        A place name osmnx can geocode (e.g. "回民区, 呼和浩特市"), or a list
        of them (their union, e.g. four districts).
    bbox : tuple of float, optional
        (west, south, east, north) in degrees.
    polygon : shapely.Polygon or shapely.MultiPolygon, optional
        The area, in WGS-84.
    cache_dir : str or Path, optional
        Cache folder (default `coverage_planner.settings.cache_dir`).
    refresh : bool, default False
        Download again even when cached.
    mode : {"walk", "drive"}, default "walk"
        Walkable ways, or drivable roads with their one-way tags (the
        ``drive`` profile), chosen by the same rules as for a local file.

    Returns
    -------
    WalkNetwork
        Its source records the query and the download date (Overpass serves
        current data, so that date is the snapshot).

    Raises
    ------
    NetworkError
        When not exactly one of ``place``, ``bbox``, ``polygon`` is given, the
        bbox or mode is invalid, the area holds no such ways, or the download
        fails (no internet included).
    """
    if sum(x is not None for x in (place, bbox, polygon)) != 1:
        raise NetworkError("give exactly one of place, bbox or polygon")
    if mode not in MODES:
        raise NetworkError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if bbox is not None:
        from coverage_planner.network.extract import check_bbox

        check_bbox(bbox)
    cached = download_cache_file(place=place, bbox=bbox, polygon=polygon, cache_dir=cache_dir, mode=mode)
    label = ("; ".join(place) if isinstance(place, list) else place) or (f"bbox {bbox}" if bbox else "polygon")
    if cached.is_file() and not refresh:
        net = WalkNetwork.from_graphml(cached, mode=mode)
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
    what = "walking" if mode == "walk" else "driving"
    kwargs = dict(
        custom_filter=overpass_walk_filter() if mode == "walk" else overpass_drive_filter(),
        simplify=False,  # simplified below, cut where the file reader cuts
        retain_all=True,
    )
    # Every way as drawn, with its own oneway tag (as a file has it); our graph decides directions.
    tags = dict(useful_tags_way=list(DOWNLOAD_WAY_TAGS), useful_tags_node=list(DOWNLOAD_NODE_TAGS), all_oneway=True)
    try:
        with osmnx_http_cache(enabled=not refresh), osmnx_settings(**tags):
            if place is not None:
                graph = ox.graph_from_place(place, **kwargs)
            elif bbox is not None:
                graph = ox.graph_from_bbox(tuple(bbox), **kwargs)
            else:
                graph = ox.graph_from_polygon(polygon, **kwargs)
    except Exception as exc:
        if unreachable(exc):
            raise NetworkError(
                f"could not download the {what} network for {label}: OpenStreetMap could not be reached "
                f"({type(exc).__name__}; no internet?). The download is needed once (then it is cached); "
                "without internet, clip a local extract and give it as [network] path: "
                "coverage-planner fetch-network --from BIG.osm.pbf --bbox WEST,SOUTH,EAST,NORTH --out network.osm.pbf"
            ) from exc
        raise NetworkError(f"could not download the {what} network for {label}: {exc}") from exc
    graph = cut_like_a_file(graph, mode=mode)
    if graph.number_of_edges() == 0:
        raise NetworkError(f"no {'walkable' if mode == 'walk' else 'drivable'} ways downloaded for {label}")
    net = WalkNetwork.from_graph(
        graph,
        source=NetworkSource(
            kind="osmnx-download",
            query=label,
            snapshot=date.today().isoformat(),
            snapshot_basis="download date (Overpass serves current data)",
        ),
        mode=mode,
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


def cut_like_a_file(graph: nx.MultiDiGraph, *, mode: str = "walk") -> nx.MultiDiGraph:
    """Simplify an unsimplified osmnx graph into the edges a local OSM file gives.

    Edges end at junctions and where one way meets the next (not merged
    across ways, so each edge keeps its own way's tags); closed ways with no
    junction stay. For ``mode="drive"`` the ways `is_drivable` rejects
    (access tags) are dropped first and traffic-signal nodes stay nodes.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        As osmnx builds it with ``simplify=False`` (edges carry ``osmid`` and tags).
    mode : {"walk", "drive"}, default "walk"
        What the network is for.

    Returns
    -------
    networkx.MultiDiGraph
        The simplified graph (empty when nothing was left).
    """
    import networkx as nx
    import osmnx as ox

    graph = graph.copy()
    keep_nodes = None
    if mode == "drive":
        refused = [
            (u, v, k)
            for u, v, k, data in graph.edges(keys=True, data=True)
            if not is_drivable({t: str(data[t]) for t in DOWNLOAD_WAY_TAGS if data.get(t) is not None})
        ]
        graph.remove_edges_from(refused)
        graph.remove_nodes_from(list(nx.isolates(graph)))
        for _, data in graph.nodes(data=True):
            if data.get("highway") == "traffic_signals":
                data[_SIGNAL_NODE] = True
        keep_nodes = [_SIGNAL_NODE]
    if graph.number_of_edges() == 0:
        return graph
    simple = ox.simplify_graph(graph, node_attrs_include=keep_nodes, edge_attrs_differ=["osmid"], remove_rings=False)
    for _, data in simple.nodes(data=True):
        data.pop(_SIGNAL_NODE, None)
    return simple


def download_cache_file(
    *,
    place: str | list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: shapely.Geometry | None = None,
    cache_dir: str | Path | None = None,
    mode: str = "walk",
) -> Path:
    """The GraphML file `download_network` keeps this query's network in (it exists once downloaded).

    Parameters
    ----------
    place : str or list of str, optional
        As for `download_network`.
    bbox : tuple of float, optional
        As for `download_network`.
    polygon : shapely.Polygon or shapely.MultiPolygon, optional
        As for `download_network`.
    cache_dir : str or Path, optional
        As for `download_network`.
    mode : {"walk", "drive"}, default "walk"
        As for `download_network`.

    Returns
    -------
    pathlib.Path
        The cache file; nothing is read or fetched.
    """
    query = {
        "place": place,
        "bbox": list(bbox) if bbox else None,
        "polygon": polygon.wkt if polygon is not None else None,
        "format": _DOWNLOAD_FORMAT,
    }
    key = hashlib.sha256(json.dumps(query, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir else settings.cache_dir()
    return cache / "networks" / f"{mode}-{key}.graphml"


def unreachable(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) is a connection failure: no internet, DNS, timeout.

    Parameters
    ----------
    exc : BaseException
        The exception a download raised.

    Returns
    -------
    bool
        True when an `OSError` (the base of socket, DNS and HTTP-client
        connection errors) is in its chain; an HTTP error status is an
        answer, not a failure to connect.
    """
    try:
        from requests.exceptions import HTTPError
    except ImportError:  # pragma: no cover - osmnx needs requests
        HTTPError = ()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and not isinstance(exc, HTTPError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


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
    mode: str = "walk",
) -> WalkNetwork:
    """Load a walking (or driving) network from a local file, or download (and cache) one.

    A parsed OSM file is cached (keyed by the file's sha256), so the next run
    skips parsing; downloads are cached as GraphML. Road-line layers (.shp,
    .gpkg, .geojson, .json) are read by
    `coverage_planner.network.lines.read_line_network`, uncached (it is fast).

    Parameters
    ----------
    source : str or Path, optional
        A local .osm, .osm.gz, .osm.bz2, .osm.pbf, .graphml, .shp, .gpkg,
        .geojson or .json file.
    place : str or list of str, optional
        Download instead (see `download_network`).
    bbox : tuple of float, optional
        Download instead: (west, south, east, north) in degrees.
    cache_dir : str or Path, optional
        Cache folder (default `coverage_planner.settings.cache_dir`).
    use_cache : bool, default True
        Read and write the parsed-network cache for local OSM files.
    allow_private : bool, default False
        Keep access=private ways (local files only).
    layer, crs, coordinate_system, class_column, noding : str, optional
        Road-line layers only; see `coverage_planner.network.lines.read_line_network`.
    mode : {"walk", "drive"}, default "walk"
        ``drive``: drivable roads only, one-way streets respected (local OSM and GraphML files, downloads).

    Returns
    -------
    WalkNetwork

    Raises
    ------
    NetworkError
        When the file cannot be read, options do not fit the source, or a
        driving network is asked for a source that cannot give one.
    """
    line_options = {
        "layer": layer,
        "crs": crs,
        "coordinate_system": coordinate_system,
        "class_column": class_column,
        "noding": noding,
    }
    given = {k: v for k, v in line_options.items() if v is not None}
    if mode not in ("walk", "drive"):
        raise NetworkError(f"mode must be 'walk' or 'drive', not {mode!r}")
    if mode == "drive" and source is not None and str(source).lower().endswith(LINE_SUFFIXES):
        raise NetworkError(
            f"{source}: the drive profile needs OSM data (a local .osm/.osm.pbf file, a GraphML saved as drive, "
            "or a download by place/bbox): one-way streets and speeds come from its tags, which a road-line "
            "layer does not carry"
        )
    if source is not None and str(source).lower().endswith(LINE_SUFFIXES):
        return read_line_network(source, allow_private=allow_private, **given)
    if given:
        where = source if source is not None else "a downloaded network"
        raise NetworkError(f"{where}: {', '.join(given)} apply only to road-line layers ({', '.join(LINE_SUFFIXES)})")
    if source is not None:
        if use_cache and not str(source).lower().endswith(".graphml"):
            if not Path(source).is_file() or not str(source).lower().endswith(OSM_SUFFIXES):
                return WalkNetwork.from_file(source, allow_private=allow_private, mode=mode)
            cache = cache_dir or settings.cache_dir()
            return cached_osm_network(source, cache, allow_private=allow_private, mode=mode)[0]
        return WalkNetwork.from_file(source, allow_private=allow_private, mode=mode)
    return download_network(place=place, bbox=bbox, cache_dir=cache_dir, mode=mode)
