"""OSMnx GeoPackages in and out: layers ``nodes`` (osmid, x, y) and ``edges`` (u, v, key, geometry, …).

``ox.save_graph_geopackage`` writes this layout and ``ox.graph_from_gdfs``
reads it back; `read_osmnx_geopackage` loads it with its own topology (edges
join the nodes named by ``u`` and ``v``, whatever their shapes cross) and
`write_osmnx_geopackage` saves any `WalkNetwork` the same way, so a network
moves freely between this tool and OSMnx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import NetworkError
from coverage_planner._io import atomic_path
from coverage_planner.network.graph import NetworkSource, WalkNetwork
from coverage_planner.network.lines import find_column, resolve_crs, to_lonlat, walkable_rows

__all__ = ["is_osmnx_geopackage", "read_osmnx_geopackage", "write_osmnx_geopackage"]

_TAGS = ("foot", "access", "service", "area")


def is_osmnx_geopackage(path: str | Path, layer: str | None = None) -> bool:
    """Tell whether a file is an OSMnx GeoPackage: a ``nodes`` layer and an ``edges`` layer with ``u`` and ``v``.

    Parameters
    ----------
    path : str or Path
        Any file.
    layer : str, optional
        The layer the user asked for; only ``None`` or ``"edges"`` fit the OSMnx layout.

    Returns
    -------
    bool
        True when the file should be read with `read_osmnx_geopackage`.
    """
    if not str(path).lower().endswith(".gpkg") or layer not in (None, "edges"):
        return False
    try:
        names = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
        if not {"nodes", "edges"} <= names:
            return False
        edge_fields = {str(f).lower() for f in pyogrio.read_info(path, layer="edges")["fields"]}
        node_fields = {str(f).lower() for f in pyogrio.read_info(path, layer="nodes")["fields"]}
    except RuntimeError:  # unreadable: the line-layer reader reports it
        return False
    return {"u", "v"} <= edge_fields and "osmid" in node_fields


def read_osmnx_geopackage(
    path: str | Path,
    *,
    crs: str | None = None,
    coordinate_system: str = "wgs84",
    class_column: str | None = None,
    allow_private: bool = False,
) -> WalkNetwork:
    """Load an OSMnx GeoPackage with its topology (u, v, key).

    Directed twins (``directed=True`` files hold u→v and v→u) become one
    two-way edge; every edge is walkable both ways. Lengths are recomputed
    (great-circle) from the shapes, as for every other source.

    Parameters
    ----------
    path : str or Path
        The .gpkg file.
    crs : str, optional
        CRS to use when the file declares none (or to override it).
    coordinate_system : {"wgs84", "gcj02", "bd09"}
        Chinese web-map shift to undo after the CRS.
    class_column : str, optional
        Column of OSM ``highway`` classes to filter by (see
        `coverage_planner.network.lines.walkable_rows`); without it every edge is kept.
    allow_private : bool
        Keep ``access=private`` edges when filtering.

    Returns
    -------
    WalkNetwork
        ``source.kind`` is ``"osmnx-geopackage"``.

    Raises
    ------
    NetworkError
        When a layer cannot be read, an edge names a node the ``nodes`` layer
        lacks, or nothing walkable is left.
    """
    path = Path(path)
    try:
        node_fields = [str(f) for f in pyogrio.read_info(path, layer="nodes")["fields"]]
        edge_fields = [str(f) for f in pyogrio.read_info(path, layer="edges")["fields"]]
        osmid_col = find_column(node_fields, "osmid", path=path, required=True)
        x_col, y_col = find_column(node_fields, "x", path=path), find_column(node_fields, "y", path=path)
        nodes = pyogrio.read_dataframe(path, layer="nodes", columns=[c for c in (osmid_col, x_col, y_col) if c])
        cols = {
            name: find_column(edge_fields, name, path=path)
            for name in ("u", "v", "key", "osmid", "highway", "name", *_TAGS)
        }
        class_col = find_column(edge_fields, class_column, path=path, required=True) if class_column else None
        wanted = [c for c in (*cols.values(), class_col) if c]
        edges = pyogrio.read_dataframe(path, layer="edges", columns=list(dict.fromkeys(wanted)))
    except RuntimeError as exc:
        raise NetworkError(f"{path}: not a readable OSMnx GeoPackage ({exc})") from None
    details: dict[str, Any] = {"layer": "nodes + edges (OSMnx)", "features": len(edges), "topology": "u, v, key"}

    node_ids = pd.to_numeric(nodes[osmid_col], errors="coerce")
    if node_ids.isna().any():
        row = int(np.flatnonzero(node_ids.isna())[0])
        raise NetworkError(f"{path}: layer 'nodes', row {row + 1}: osmid {nodes[osmid_col].iat[row]!r} is not a number")
    node_ids = node_ids.astype(np.int64).to_numpy()
    if x_col and y_col:
        node_xy = nodes[[x_col, y_col]].to_numpy(dtype=float)
    else:
        node_xy = shapely.get_coordinates(nodes.geometry.to_numpy())
    declared = edges.crs if edges.crs is not None else nodes.crs
    used_crs, basis = resolve_crs(path, declared, crs, node_xy)
    node_lonlat = to_lonlat(path, node_xy, used_crs, coordinate_system)
    details.update(crs=used_crs.to_string(), crs_basis=basis, coordinate_system=coordinate_system)

    index = pd.Index(node_ids)
    if not index.is_unique:
        raise NetworkError(f"{path}: layer 'nodes' repeats osmid {int(index[index.duplicated()][0])}")
    ends = []
    for end in ("u", "v"):
        if cols[end] is None:
            raise NetworkError(f"{path}: layer 'edges' has no column '{end}'")
        ids = pd.to_numeric(edges[cols[end]], errors="coerce").fillna(-1).astype(np.int64).to_numpy()
        at = index.get_indexer(ids)
        if (at < 0).any():
            row = int(np.flatnonzero(at < 0)[0])
            raise NetworkError(
                f"{path}: layer 'edges', row {row + 1}: {end} = {edges[cols[end]].iat[row]} is not in layer 'nodes'"
            )
        ends.append(at)
    iu, iv = ends

    keep = np.ones(len(edges), dtype=bool)
    if class_col:
        keep, dropped, unknown = walkable_rows(
            edges, class_col, tag_columns={t: cols[t] for t in _TAGS}, allow_private=allow_private
        )
        details.update(class_column=class_col, classes_dropped=dropped, unknown_classes=unknown)
    else:
        details["class_column"] = None
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise NetworkError(f"{path}: no walkable edges (the class filter dropped {details.get('classes_dropped')})")

    geoms = edges.geometry.to_numpy()[rows]
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    details["edges_without_geometry"] = int(missing.sum())
    # A missing shape is a straight line between the nodes, as in OSMnx.
    straight = (
        shapely.linestrings(
            np.stack([node_xy[iu[rows][missing]], node_xy[iv[rows][missing]]], axis=1).reshape(-1, 2),
            indices=np.repeat(np.arange(int(missing.sum())), 2),
        )
        if missing.any()
        else np.zeros(0, dtype=object)
    )
    geoms = geoms.copy()
    geoms[missing] = straight
    merged = shapely.line_merge(geoms)
    if (shapely.get_type_id(merged) != shapely.GeometryType.LINESTRING).any():
        row = int(rows[np.flatnonzero(shapely.get_type_id(merged) != shapely.GeometryType.LINESTRING)[0]])
        raise NetworkError(f"{path}: layer 'edges', row {row + 1}: the geometry is not one line")
    xy, part = shapely.get_coordinates(merged, return_index=True)
    lonlat = to_lonlat(path, xy, used_crs, coordinate_system)
    starts = np.searchsorted(part, np.arange(len(rows) + 1))
    shapes = [lonlat[a:b] for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())]

    seen: set[tuple] = set()
    u, v, coords, kept = [], [], [], []
    for k, shape in enumerate(shapes):
        a, b = int(iu[rows[k]]), int(iv[rows[k]])
        pa, pb = node_lonlat[a], node_lonlat[b]
        # OSMnx stores an undirected edge's shape in its original direction, which may run v → u.
        if np.hypot(*(shape[0] - pa)) + np.hypot(*(shape[-1] - pb)) > np.hypot(*(shape[-1] - pa)) + np.hypot(
            *(shape[0] - pb)
        ):
            shape = shape[::-1]
        shape = shape.copy()
        shape[0], shape[-1] = pa, pb  # the nodes' own positions, so edges meet exactly
        drawn = np.round(shape if a <= b else shape[::-1], 7)
        # A loop's twin is drawn the other way round from the same node.
        twin = (min(a, b), max(a, b), min(drawn.tobytes(), drawn[::-1].tobytes()) if a == b else drawn.tobytes())
        if twin in seen:
            continue
        seen.add(twin)
        u.append(node_ids[a])
        v.append(node_ids[b])
        coords.append(shape)
        kept.append(rows[k])
    details["duplicate_lines"] = len(shapes) - len(kept)
    kept = np.asarray(kept, dtype=np.int64)

    def first(column: str | None, default):
        if column is None:
            return [default] * len(kept)
        values = edges[column].to_numpy()[kept]
        out = []
        for value in values:
            if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
                out.append(default)
                continue
            text = str(value)
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1].split(",")[0].strip().strip("'\"")
            out.append(text)
        return out

    way_id = pd.to_numeric(pd.Series(first(cols["osmid"], -1)), errors="coerce").fillna(-1).astype(np.int64)
    network = WalkNetwork.from_edges(
        np.asarray(u, dtype=np.int64),
        np.asarray(v, dtype=np.int64),
        coords,
        way_id=way_id.to_numpy(),
        highway=first(class_col or cols["highway"], ""),
        name=first(cols["name"], None),
        source=NetworkSource(kind="osmnx-geopackage", path=str(path), sha256=file_sha256(path)),
    )
    details["dangling_ends"] = int(network.quality_report()["dangling_ends"].sum())
    network.source = NetworkSource(
        kind="osmnx-geopackage", path=str(path), sha256=network.source.sha256, details=details
    )
    return network


def write_osmnx_geopackage(network: WalkNetwork, path: str | Path) -> Path:
    """Save a network as an OSMnx GeoPackage (one row per two-way edge, WGS-84).

    Layer ``nodes`` has ``osmid``, ``y``, ``x``, ``street_count``; layer
    ``edges`` has ``u``, ``v``, ``key``, ``osmid``, ``highway``, ``name``,
    ``oneway``, ``reversed`` and ``length`` (metres), with each shape drawn from u to v.

    Parameters
    ----------
    network : WalkNetwork
        The network to save.
    path : str or Path
        The .gpkg file (replaced atomically).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    ids = network.node_ids
    degree = np.bincount(np.concatenate([network.edge_u, network.edge_v]), minlength=network.n_nodes)
    nodes = gpd.GeoDataFrame(
        {
            "osmid": ids,
            "y": network.node_lonlat[:, 1],
            "x": network.node_lonlat[:, 0],
            "street_count": degree,
        },
        geometry=shapely.points(network.node_lonlat),
        crs="EPSG:4326",
    )
    u, v = ids[network.edge_u], ids[network.edge_v]
    edges = gpd.GeoDataFrame(
        {
            "u": u,
            "v": v,
            # Parallel edges between the same two nodes are told apart by key, as in a MultiDiGraph.
            "key": pd.DataFrame({"u": u, "v": v}).groupby(["u", "v"]).cumcount().to_numpy(),
            "osmid": network.edge_way_id,
            "highway": list(network.edge_highway),
            "name": list(network.edge_name),
            "oneway": np.zeros(network.n_edges, dtype=bool),
            "reversed": np.zeros(network.n_edges, dtype=bool),
            "length": network.edge_length,
        },
        geometry=network.edges_wgs84,
        crs="EPSG:4326",
    )
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(nodes, tmp, layer="nodes", driver="GPKG")
        pyogrio.write_dataframe(edges, tmp, layer="edges", driver="GPKG")
    return path
