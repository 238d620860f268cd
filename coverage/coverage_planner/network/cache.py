"""A parsed walking network saved as one array file, so later runs skip parsing the OSM file.

The cache key is the OSM file's sha256 plus the walk-filter options (and
whether the ways are walkable or drivable) and a format version, so an
edited extract or a changed filter is never served stale. The tags the
travel costs read (`EDGE_TAGS`, `NODE_TAGS`) are saved with the edges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from scipy import sparse

from coverage_planner._cache.arrays import read_arrays, warn_cache, write_arrays
from coverage_planner._cache.keys import file_sha256
from coverage_planner.network.graph import NetworkSource, WalkNetwork

FORMAT_VERSION = 8  # 6: source `details`; 7: edge and node tags, walk or drive mode; 8: bridge/tunnel/layer


def save_network(network: WalkNetwork, path: str | Path) -> Path:
    """Write the network's arrays to ``path`` (see `coverage_planner._cache.arrays`, atomically).

    A profile's view (`WalkNetwork.for_profile`) is saved as its edges only:
    costs are derived again from the tags when the profile asks.

    Parameters
    ----------
    network : WalkNetwork
        The network; its derived arrays (CSR matrix, components, metric
        coordinates) are saved too, since rebuilding them costs more than
        reading them back.
    path : str or Path
        The file to write.

    Returns
    -------
    Path
        ``path``.
    """
    arrays = {
        "node_ids": network.node_ids,
        "node_lonlat": network.node_lonlat,
        "edge_u": network.edge_u,
        "edge_v": network.edge_v,
        "edge_length": network.edge_length,
        "edge_way_id": network.edge_way_id,
        "coord_offsets": network.coord_offsets,
        "coords": network.coords,
        "coords_metric": shapely.get_coordinates(network.edges_metric),
        "metric_epsg": np.array(network.crs.to_epsg()),
        "edge_highway": np.array(network.edge_highway, dtype=str),
        "edge_name": np.array(["" if n is None else n for n in network.edge_name], dtype=str),
        "edge_has_name": np.array([n is not None for n in network.edge_name]),
        # Derived arrays too: rebuilding them costs more than reading them back.
        "csr_indptr": network.csr.indptr,
        "csr_indices": network.csr.indices,
        "csr_data": network.csr.data,
        "component": network.component,
    }
    for kind, tags in (("edge_tag", network.edge_tags), ("node_tag", network.node_tags)):
        for key, values in (tags or {}).items():
            if not (values != "").any():
                continue  # an untagged key reads back as "" everywhere
            # Each distinct value once, and a code per edge: a fixed-width column per tag would be large.
            distinct, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
            arrays[f"{kind}:{key}:values"] = distinct
            arrays[f"{kind}:{key}:codes"] = codes.astype(np.int32)
    meta = {"version": FORMAT_VERSION, "source": network.source.to_dict(), "mode": network.mode}
    meta["edge_tags"] = network.edge_tags is not None
    meta["node_tags"] = network.node_tags is not None
    return write_arrays(path, arrays, meta)


def load_saved_network(path: str | Path) -> WalkNetwork:
    """Read a network written by `save_network`.

    Parameters
    ----------
    path : str or Path
        The cache file.

    Returns
    -------
    WalkNetwork
        With its derived arrays seeded, so they are not computed again.

    Raises
    ------
    ValueError
        When the file is damaged or was written by another format version
        (`cached_osm_network` then rebuilds the entry).
    """
    meta, data = read_arrays(path)
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: network cache format {meta.get('version')} is not {FORMAT_VERSION}")
    # Object arrays, not lists: a per-edge Python loop would cost more than the whole load.
    names = data["edge_name"].astype(object)
    names[~data["edge_has_name"]] = None
    tags: dict[str, dict[str, np.ndarray]] = {"edge_tag": {}, "node_tag": {}}
    for name in data:
        kind, _, rest = name.partition(":")
        if kind in tags and rest.endswith(":codes"):
            key = rest.removesuffix(":codes")
            tags[kind][key] = data[f"{kind}:{key}:values"].astype(object)[data[name]]
    edge_tags, node_tags = tags["edge_tag"], tags["node_tag"]
    network = WalkNetwork(
        node_ids=data["node_ids"],
        node_lonlat=data["node_lonlat"],
        edge_u=data["edge_u"],
        edge_v=data["edge_v"],
        edge_length=data["edge_length"],
        coords=data["coords"],
        coord_offsets=data["coord_offsets"],
        edge_way_id=data["edge_way_id"],
        edge_highway=data["edge_highway"].astype(object),
        edge_name=names,
        source=NetworkSource(**meta["source"]),
        edge_tags=edge_tags if meta.get("edge_tags") else None,
        node_tags=node_tags if meta.get("node_tags") else None,
        mode=str(meta.get("mode", "walk")),
    )
    if network.crs.to_epsg() == int(data["metric_epsg"]):
        network.coords_metric = data["coords_metric"]
    n = network.n_nodes
    network.seed_derived(
        csr=sparse.csr_matrix((data["csr_data"], data["csr_indices"], data["csr_indptr"]), shape=(n, n)),
        component=data["component"],
    )
    return network


def cached_osm_network(
    path: str | Path, cache_dir: str | Path, *, allow_private: bool = False, mode: str = "walk"
) -> tuple[WalkNetwork, bool]:
    """Load an OSM file through the cache; returns (network, served_from_cache).

    A cache file that cannot be read is rebuilt (and overwritten), never trusted.

    Parameters
    ----------
    path : str or Path
        A local OSM file.
    cache_dir : str or Path
        The cache folder; networks live in its ``networks`` subfolder.
    allow_private : bool, default False
        Keep ``access=private`` ways.
    mode : str, default "walk"
        ``"walk"`` (walkable ways) or ``"drive"`` (drivable ways, for the drive profile).

    Returns
    -------
    network : WalkNetwork
    served_from_cache : bool
    """
    path = Path(path)
    digest = file_sha256(path)
    # Walking keys keep their old form; a drive network is another entry.
    kind = "" if mode == "walk" else f"-{mode}"
    key = f"{digest[:24]}-{'private' if allow_private else 'public'}{kind}-v{FORMAT_VERSION}"
    cached = Path(cache_dir) / "networks" / f"{key}.arrays"
    if cached.is_file():
        try:
            network = load_saved_network(cached)
            if network.source.sha256 == digest and network.mode == mode:
                return network, True
            warn_cache(cached, "held another file's network and was rebuilt")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warn_cache(cached, f"failed verification ({exc}) and was rebuilt (OSM file parsed again)")
    network = WalkNetwork.from_osm_file(path, allow_private=allow_private, mode=mode)
    try:
        save_network(network, cached)
    except OSError as exc:
        warn_cache(cached, f"cannot be written ({type(exc).__name__}: {exc}); the next run parses again")
    return network, False
