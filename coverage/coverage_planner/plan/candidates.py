"""Candidate sites for new services: from a file, from OSM features, or on a regular grid of network nodes.

Generated candidates are labelled: OSM features keep their OSM id and name
(``status = real``: the place exists, a site there is hypothetical), grid
points are ``status = generated``. Candidates too close to an existing site
or to one already kept are dropped, features winning over grid points.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import osmium

from coverage_planner._errors import DataError
from coverage_planner.network.graph import OSM_SUFFIXES, WalkNetwork
from coverage_planner.places.reading import read_places

if TYPE_CHECKING:
    from coverage_planner.results import CoverageResult

#: OSM tags of places that could host a community service, used by default.
DEFAULT_TAGS: dict[str, tuple[str, ...]] = {
    "amenity": ("community_centre", "townhall", "library", "social_facility", "social_centre", "courthouse"),
    "office": ("government",),
}


def candidates_from_osm(
    osm_file: str | Path, network: WalkNetwork, tags: dict[str, tuple[str, ...]] | None = None
) -> gpd.GeoDataFrame:
    """OSM nodes and ways (their centre) with any of ``tags`` inside the network's bounds.

    Parameters
    ----------
    osm_file : str or Path
        An OSM file (.osm, .osm.pbf …).
    network : WalkNetwork
        The walking network; only features inside its bounds are kept.
    tags : dict of str to tuple of str, optional
        OSM key to accepted values; default `DEFAULT_TAGS`.

    Returns
    -------
    GeoDataFrame
        ``id`` (``osm-n…`` / ``osm-w…``), ``name`` (the feature's, else its tag
        and id), ``type`` (the matching ``key=value``), ``status`` ("real") and
        point geometry (WGS-84), sorted by id.
    """
    tags = DEFAULT_TAGS if tags is None else tags
    west, south, east, north = network.bounds
    rows = []
    for obj in osmium.FileProcessor(str(osm_file), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        obj_tags = dict(obj.tags)
        kind = next((f"{k}={obj_tags[k]}" for k, values in tags.items() if obj_tags.get(k) in values), None)
        if kind is None:
            continue
        if obj.is_node():
            lon, lat = obj.location.lon, obj.location.lat
            ref = f"n{obj.id}"
        else:
            xy = np.array([(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()])
            if len(xy) == 0:
                continue
            lon, lat = xy.mean(axis=0)
            ref = f"w{obj.id}"
        if west <= lon <= east and south <= lat <= north:
            rows.append((f"osm-{ref}", obj_tags.get("name", f"{kind} {ref}"), kind, lon, lat))
    frame = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "name": [r[1] for r in rows], "type": [r[2] for r in rows], "status": "real"},
        geometry=gpd.points_from_xy([r[3] for r in rows], [r[4] for r in rows]),
        crs="EPSG:4326",
    )
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def candidates_on_grid(
    network: WalkNetwork, spacing_m: float = 200.0, *, main_component_only: bool = True
) -> gpd.GeoDataFrame:
    """One network node per square cell of ``spacing_m``: the node nearest the cell's centre.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    spacing_m : float, default 200.0
        Cell size in metres, in the network's metric CRS.
    main_component_only : bool, default True
        Only nodes of the largest connected part of the network.

    Returns
    -------
    GeoDataFrame
        ``id`` (``grid-<node id>``), ``name``, ``type`` ("grid node"),
        ``status`` ("generated") and point geometry (WGS-84).

    Raises
    ------
    DataError
        When ``spacing_m`` is not positive.
    """
    if spacing_m <= 0:
        raise DataError(f"grid spacing must be positive, got {spacing_m}")
    x, y = network.to_metric.transform(network.node_lonlat[:, 0], network.node_lonlat[:, 1])
    keep = network.component == 0 if main_component_only else np.ones(network.n_nodes, dtype=bool)
    nodes = np.flatnonzero(keep)
    cx, cy = np.floor(x[nodes] / spacing_m), np.floor(y[nodes] / spacing_m)
    off_centre = np.hypot(x[nodes] - (cx + 0.5) * spacing_m, y[nodes] - (cy + 0.5) * spacing_m)
    order = np.lexsort((network.node_ids[nodes], off_centre, cy, cx))
    cell = np.column_stack([cx, cy])[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (cell[1:] != cell[:-1]).any(axis=1)
    picked = np.sort(nodes[order][first])
    ids = network.node_ids[picked]
    return gpd.GeoDataFrame(
        {
            "id": [f"grid-{i}" for i in ids],
            "name": [f"grid node {i}" for i in ids],
            "type": "grid node",
            "status": "generated",
        },
        geometry=gpd.points_from_xy(network.node_lonlat[picked, 0], network.node_lonlat[picked, 1]),
        crs="EPSG:4326",
    )


def merge_candidates(
    frames: list[gpd.GeoDataFrame],
    network: WalkNetwork,
    *,
    existing: gpd.GeoDataFrame | None = None,
    min_separation_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """Concatenate candidate sets in priority order, dropping any within ``min_separation_m`` of an existing site or a kept candidate.

    Parameters
    ----------
    frames : list of GeoDataFrame
        Candidate sets (WGS-84 points), highest priority first; of repeated
        ids the first is kept.
    network : WalkNetwork
        Gives the metric CRS distances are measured in.
    existing : GeoDataFrame, optional
        Existing sites (points); candidates near them are dropped.
    min_separation_m : float, default 50.0
        Closer candidates count as one.

    Returns
    -------
    GeoDataFrame
        ``id, name, type, status, source`` and geometry, in priority order.
    """
    columns = ["id", "name", "type", "status", "source", "geometry"]
    pool = (
        gpd.GeoDataFrame(
            [row for frame in frames for row in frame.reindex(columns=columns).itertuples(index=False)],
            columns=columns,
            crs="EPSG:4326",
        )
        if frames
        else gpd.GeoDataFrame(columns=columns, geometry="geometry", crs="EPSG:4326")
    )
    pool = pool.drop_duplicates("id").reset_index(drop=True)
    xy = (
        np.column_stack(network.to_metric.transform(pool.geometry.x.to_numpy(), pool.geometry.y.to_numpy()))
        if len(pool)
        else np.zeros((0, 2))
    )
    # Spatial hash with cells of the separation: a neighbour can only be in the 3 × 3 cells around.
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def near_taken(px: float, py: float) -> bool:
        cx, cy = int(px // min_separation_m), int(py // min_separation_m)
        return any(
            np.hypot(px - qx, py - qy) < min_separation_m
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for qx, qy in cells.get((cx + dx, cy + dy), ())
        )

    def take(px: float, py: float) -> None:
        cells.setdefault((int(px // min_separation_m), int(py // min_separation_m)), []).append((px, py))

    if existing is not None and len(existing):
        for px, py in zip(*network.to_metric.transform(existing.geometry.x.to_numpy(), existing.geometry.y.to_numpy())):
            take(px, py)
    kept = []
    for i, (px, py) in enumerate(xy):
        if not near_taken(px, py):
            kept.append(i)
            take(px, py)
    return pool.iloc[kept].reset_index(drop=True)


def build_candidates(
    result: CoverageResult,
    *,
    file: str | Path | None = None,
    tags: dict[str, tuple[str, ...]] | None = None,
    grid_spacing: float | None = None,
    min_separation_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """One pool of candidate sites for `propose_sites`, from any of three sources.

    Sources are pooled in priority order (file, OSM features, grid); a
    candidate within ``min_separation_m`` of an existing site or of one already
    kept is dropped. Each candidate says where it came from (``source``).

    Parameters
    ----------
    result : CoverageResult
        Coverage now: gives the network and the existing sites.
    file : str or Path, optional
        A place file of candidate premises (CSV, XLSX, GeoJSON, GeoPackage),
        read like a sites file.
    tags : dict of str to tuple of str, optional
        OSM tags of features that could host a site, e.g.
        ``{"amenity": ("community_centre", "library")}`` (`DEFAULT_TAGS` is a
        starting point); needs the result's network to come from a local OSM file.
    grid_spacing : float, optional
        Also one network node every this many metres.
    min_separation_m : float, default 50
        Closer candidates count as one.

    Returns
    -------
    GeoDataFrame
        ``id, name, type, status, source`` and point geometry (WGS-84).

    Raises
    ------
    DataError
        When no source is given, or OSM tags are asked for a network that
        does not come from a local OSM file.
    """
    if file is None and tags is None and grid_spacing is None:
        raise DataError("give at least one source of candidates: a file, OSM tags or a grid spacing")
    network = result.network
    pools = []
    if file is not None:
        pools.append(read_places(file, "candidates").assign(source=f"file {Path(file).name}"))
    if tags is not None:
        osm_file = network.source.path
        if not osm_file or not str(osm_file).lower().endswith(OSM_SUFFIXES):
            raise DataError(
                "candidates from OSM tags need the network to come from a local OSM file (.osm, .osm.pbf); "
                "give a candidates file or a grid spacing instead"
            )
        label = "; ".join(f"{k}={'|'.join(v)}" for k, v in tags.items())
        pools.append(candidates_from_osm(osm_file, network, tags).assign(source=f"OSM {label}"))
    if grid_spacing is not None:
        grid = candidates_on_grid(network, grid_spacing)
        pools.append(grid.assign(source=f"network node every {grid_spacing:g} m"))
    return merge_candidates(pools, network, existing=result.sites, min_separation_m=min_separation_m)


__all__ = ["DEFAULT_TAGS", "build_candidates", "candidates_from_osm", "candidates_on_grid", "merge_candidates"]
