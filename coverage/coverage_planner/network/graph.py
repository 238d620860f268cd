"""The walking network: OSM ways → a two-way graph with arrays for fast routing.

`WalkNetwork` keeps one row per undirected edge (node indices, length in
metres, shape) and derives from it, on demand, the NetworkX graph users know
(osmnx layout) and the SciPy CSR matrix the hot loops use. Every loader ends
in the same constructor, so a network is the same whatever file it came from.

A travel profile with costs (`coverage_planner.profiles`) gets its own view of
the network (`WalkNetwork.for_profile`): the same edges (less any the profile
cannot use) with `EdgeCosts` attached, so `routing_arrays` carry costs
instead of lengths and every search on the view is a search on time. A
drive network (``mode="drive"``) holds drivable ways instead of walkable
ones; its profile view is directed (one-way streets).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse

from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import NetworkError
from coverage_planner._geo import polyline_lengths_m, utm_crs_for
from coverage_planner.network._osm_reader import (
    EDGE_TAGS,
    MODES,
    NODE_TAGS,
    SIGNALS_INSIDE,
    RawEdges,
    read_walkable_edges,
)
from coverage_planner.profiles import MAIN_ROADS, UNPAVED_SURFACES, DriveCosts, WalkCosts, WalkProfile

if TYPE_CHECKING:
    import networkx as nx  # only the graph view needs it (about 0.1 s to import)

OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".xml")
LINE_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json")  # road-line layers (see `network.lines`)


@dataclass(frozen=True)
class NetworkSource:
    """Where a network came from, for the run manifest.

    Parameters
    ----------
    kind : str
        ``"osm-file"``, ``"graphml"``, ``"osmnx-download"`` or ``"graph"``.
    path : str, optional
        The file the network was read from.
    sha256 : str, optional
        SHA-256 of that file, so a manifest pins the exact input.
    query : str, optional
        What was asked for when the network was downloaded (place or bbox).
    snapshot : str, optional
        OSM replication timestamp, or the newest edit seen.
    snapshot_basis : str, optional
        How ``snapshot`` was found (file header, newest edit, ...).
    details : dict, optional
        What a loader found and did beyond the graph itself (line layers: CRS
        basis, class filter, noding).
    """

    kind: str  # "osm-file", "graphml", "osmnx-download", "graph"
    path: str | None = None
    sha256: str | None = None
    query: str | None = None
    snapshot: str | None = None  # OSM replication timestamp, or newest edit seen
    snapshot_basis: str | None = None
    # What a loader found and did beyond the graph itself (line layers: CRS basis, class filter, noding).
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The source as plain data, for JSON manifests.

        Returns
        -------
        dict
            One entry per field.
        """
        return asdict(self)


#: Crossing kinds at an edge end (`EdgeCosts.crossing_u` / `crossing_v`).
NO_CROSSING, CROSSING, SIGNAL_CROSSING = 0, 1, 2


@dataclass(frozen=True, eq=False)
class EdgeCosts:
    """The travel cost of every edge of a network for one profile, in equivalent metres.

    An edge walked whole costs ``length × scale + end_u + end_v``; part of
    it, from a point ``a`` metres from u to its u end, ``a × scale + end_u``.
    ``end_u`` is what a route pays for passing the edge's u end (half the
    wait of a main-road crossing there: a route through that node pays the
    halves of both edges it uses, see `WalkNetwork.for_profile`).

    Parameters
    ----------
    scale : ndarray of float, shape (m,)
        Cost of a metre along the edge (> 0).
    end_u, end_v : ndarray of float, shape (m,)
        Cost of passing each end (≥ 0).
    forward, backward : ndarray of bool, shape (m,)
        Whether the edge may be travelled u → v / v → u.
    steps : ndarray of bool, shape (m,)
        ``highway=steps``.
    crossing_u, crossing_v : ndarray of int8, shape (m,)
        Main-road crossing at each end: 0 none, 1 without signals, 2 with signals.
    profile : str, default ""
        The profile's name.
    summary : dict, optional
        What the costs found (counts and metres), for reports.
    """

    scale: np.ndarray
    end_u: np.ndarray
    end_v: np.ndarray
    forward: np.ndarray
    backward: np.ndarray
    steps: np.ndarray
    crossing_u: np.ndarray
    crossing_v: np.ndarray
    profile: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def directed(self) -> bool:
        """Whether some edge may be travelled one way only."""
        return not (bool(self.forward.all()) and bool(self.backward.all()))

    @cached_property
    def key(self) -> str:
        """A digest of the costs (part of the costed network's fingerprint, so caches never mix profiles)."""
        digest = hashlib.sha256()
        for array in (np.round(self.scale, 9), np.round(self.end_u, 6), np.round(self.end_v, 6)):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(np.packbits(self.forward).tobytes() + np.packbits(self.backward).tobytes())
        return digest.hexdigest()[:24]

    def reversed(self) -> EdgeCosts:
        """The same costs with every edge's allowed directions swapped (searches from the other end).

        Returns
        -------
        EdgeCosts
            A copy with ``forward`` and ``backward`` exchanged.
        """
        summary = {**self.summary, "direction": "to_sites"}
        return replace(self, forward=self.backward, backward=self.forward, summary=summary)


@dataclass
class WalkNetwork:
    """A walkable, two-way street network.

    Parameters
    ----------
    node_ids : ndarray of int64, shape (n,)
        OSM node ids, sorted.
    node_lonlat : ndarray of float, shape (n, 2)
        WGS-84 coordinates.
    edge_u, edge_v : ndarray of int, shape (m,)
        Node indices of each undirected edge, shape drawn u → v.
    edge_length : ndarray of float, shape (m,)
        Great-circle length of the edge shape, metres.
    coords : ndarray of float, shape (k, 2)
        Every edge's shape as lon/lat rows, flat (see `edge_coords`).
    coord_offsets : ndarray of int, shape (m + 1,)
        Edge i is ``coords[coord_offsets[i]:coord_offsets[i + 1]]``.
    edge_way_id, edge_highway, edge_name : sequence, shape (m,)
        OSM attributes per edge (way id, ``highway`` value, name or None).
    source : NetworkSource, optional
        Provenance for manifests.
    coords_metric : ndarray of float, shape (k, 2), optional
        `coords` already projected to `crs`, when a cache supplied them (saves
        a transform per run).
    edge_tags : dict of str to ndarray of object, optional
        The way's value of each of `EDGE_TAGS` per edge ("" when untagged);
        None when the source had no tags.
    node_tags : dict of str to ndarray of object, optional
        `NODE_TAGS` of crossing and signal nodes ("" elsewhere).
    mode : {"walk", "drive"}, default "walk"
        Walkable ways or drivable ways.
    costs : EdgeCosts, optional
        Set on a profile's view (`for_profile`); None means cost = length, two-way.

    Attributes
    ----------
    n_nodes, n_edges : int
        Sizes of the network.
    crs : pyproj.CRS
        The metric CRS (UTM zone of the network's centre) used for snapping.
    component : ndarray of int, shape (n,)
        Connected component of each node.
    graph : networkx.MultiDiGraph
        The network in osmnx layout, built on first use.
    """

    node_ids: np.ndarray
    node_lonlat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    coords: np.ndarray
    coord_offsets: np.ndarray
    edge_way_id: np.ndarray
    edge_highway: Sequence[str]
    edge_name: Sequence[str | None]
    source: NetworkSource = field(default_factory=lambda: NetworkSource(kind="graph"))
    # `coords` already projected to `crs`, when a cache supplied them (saves a transform per run).
    coords_metric: np.ndarray | None = field(default=None, repr=False)
    edge_tags: dict[str, np.ndarray] | None = field(default=None, repr=False)
    node_tags: dict[str, np.ndarray] | None = field(default=None, repr=False)
    mode: str = "walk"
    costs: EdgeCosts | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- loaders
    @classmethod
    def from_osm_file(cls, path: str | Path, *, allow_private: bool = False, mode: str = "walk") -> WalkNetwork:
        """Build the network from a local OSM file (.osm, .osm.gz, .osm.bz2 or .osm.pbf).

        Only walkable ways are kept (see `coverage_planner.network._osm_reader.is_walkable`);
        one-way tags are ignored since pedestrians walk both ways. With
        ``mode="drive"`` only drivable ways are kept instead (`is_drivable`),
        and their one-way tags are kept for the drive profile.

        Parameters
        ----------
        path : str or Path
            An OSM XML or PBF file.
        allow_private : bool, default False
            Keep ``access=private`` ways (e.g. roads inside a gated compound).
        mode : {"walk", "drive"}, default "walk"
            Which ways to keep.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            When the file is missing, unreadable or has no way of that mode.
        """
        path = Path(path)
        if mode not in MODES:
            raise NetworkError(f"network mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not path.is_file():
            raise NetworkError(f"network file not found: {path}")
        try:
            raw = read_walkable_edges(path, allow_private=allow_private, mode=mode)
        except RuntimeError as exc:  # pyosmium reports parse errors this way
            raise NetworkError(f"{path}: not a readable OSM file ({exc})") from exc
        if len(raw.u) == 0:
            what = "walkable" if mode == "walk" else "drivable"
            raise NetworkError(f"{path}: no {what} ways found in this OSM file")
        snapshot, basis = (
            (raw.header_timestamp, "file header replication timestamp")
            if raw.header_timestamp
            else (raw.newest_edit.isoformat() if raw.newest_edit else None, "newest walkable way edit")
        )
        source = NetworkSource(
            kind="osm-file",
            path=str(path),
            sha256=file_sha256(path),
            snapshot=snapshot,
            snapshot_basis=basis if snapshot else None,
        )
        return cls._from_raw(raw, source, mode=mode)

    @classmethod
    def from_graphml(cls, path: str | Path, *, mode: str | None = None) -> WalkNetwork:
        """Load a network saved as GraphML (by `to_graphml` or by osmnx).

        Parameters
        ----------
        path : str or Path
            The GraphML file.
        mode : str, optional
            ``"walk"`` or ``"drive"``; default: as `to_graphml` recorded it, else ``"walk"``.

        Returns
        -------
        WalkNetwork
        """
        import osmnx as ox

        path = Path(path)
        if not path.is_file():
            raise NetworkError(f"network file not found: {path}")
        try:
            graph = ox.load_graphml(path)
        except Exception as exc:
            raise NetworkError(f"{path}: not a readable GraphML network ({exc})") from exc
        meta = graph.graph.get("coverage_source")
        snapshot = json.loads(meta).get("snapshot") if isinstance(meta, str) else None
        source = NetworkSource(
            kind="graphml",
            path=str(path),
            sha256=file_sha256(path),
            snapshot=snapshot,
            snapshot_basis="recorded when the GraphML was saved" if snapshot else None,
        )
        recorded = graph.graph.get("coverage_mode")
        return cls.from_graph(graph, source=source, mode=mode or (recorded if recorded in MODES else "walk"))

    @classmethod
    def from_file(cls, path: str | Path, *, allow_private: bool = False, mode: str | None = None) -> WalkNetwork:
        """Load a network from an OSM file, a GraphML file or a road-line layer, chosen by suffix.

        ``allow_private`` applies to OSM files (and to line layers' class
        filter); a GraphML network is used as saved. Line layers (.shp, .gpkg,
        .geojson) load with default options; see
        `coverage_planner.network.lines.read_line_network` for the others.
        ``mode="drive"`` reads the drivable ways of an OSM file (or a GraphML
        saved as drive); line layers are walking networks only.

        Parameters
        ----------
        path : str or Path
            A .osm/.osm.pbf/... file, a .graphml file or a .shp/.gpkg/.geojson layer.
        allow_private : bool, default False
            Keep ``access=private`` ways.
        mode : {"walk", "drive"}, optional
            Default: ``"walk"``, or as a GraphML file recorded it.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            When the suffix is unknown, a line layer is asked for as drive, or
            the loader fails.
        """
        name = str(path).lower()
        if name.endswith(".graphml"):
            return cls.from_graphml(path, mode=mode)
        if name.endswith(OSM_SUFFIXES):
            return cls.from_osm_file(path, allow_private=allow_private, mode=mode or "walk")
        if mode not in (None, "walk"):
            raise NetworkError(f"{path}: a drive network is read from an OSM or GraphML file, not a road-line layer")
        if name.endswith(LINE_SUFFIXES):
            # Imported here: the line-layer module builds on this one.
            from coverage_planner.network.lines import read_line_network

            return read_line_network(path, allow_private=allow_private)
        raise NetworkError(
            f"{path}: unknown network file type; expected one of "
            f"{', '.join(OSM_SUFFIXES + ('.graphml',) + LINE_SUFFIXES)}"
        )

    @classmethod
    def from_graph(cls, graph: nx.Graph, *, source: NetworkSource | None = None, mode: str = "walk") -> WalkNetwork:
        """Build from any osmnx-style NetworkX graph (nodes with x/y, optional edge geometry).

        Directed twins (u→v and v→u of the same street) become one undirected
        edge; edges in one direction only (one-way streets) are walkable both
        ways. Lengths are recomputed from the shapes so every loader agrees.
        Edge attributes named like `EDGE_TAGS` (osmnx keeps ``oneway`` and
        ``maxspeed``) and node attributes named like `NODE_TAGS` are kept; for
        ``mode="drive"`` an osmnx ``oneway=True`` edge runs the way it is drawn.

        Parameters
        ----------
        graph : networkx.Graph
            Nodes with ``x``/``y`` in the graph's ``crs`` (WGS-84 when unset).
        source : NetworkSource, optional
            Provenance for manifests; default: kind ``"graph"``.
        mode : {"walk", "drive"}, default "walk"
            What the edges are for.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            When ``mode`` is unknown or the graph has no edges.
        """
        if mode not in MODES:
            raise NetworkError(f"network mode must be one of {', '.join(MODES)}, not {mode!r}")
        crs = graph.graph.get("crs", "epsg:4326")
        to_wgs = None
        if not pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
            to_wgs = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
        seen: set[tuple] = set()
        u, v, way_ids, highways, names, coords = [], [], [], [], [], []
        tag_values: dict[str, list[str]] = {k: [] for k in EDGE_TAGS}
        edges = graph.edges(data=True)
        if mode == "drive":  # keep each street as drawn (osmnx marks the other copy of a two-way street reversed)
            edges = sorted(edges, key=lambda edge: bool(edge[2].get("reversed", False)))
        for a, b, data in edges:
            geom = data.get("geometry")
            line = np.asarray(geom.coords) if geom is not None else np.array([xy[a], xy[b]])
            if to_wgs is not None:
                line = np.column_stack(to_wgs.transform(line[:, 0], line[:, 1]))
            # Orient the shape from a to b; osmnx stores reversed twins' shapes either way.
            if np.hypot(*(line[0] - _lonlat(xy[a], to_wgs))) > np.hypot(*(line[-1] - _lonlat(xy[a], to_wgs))):
                line = line[::-1]
            key = (min(a, b), max(a, b), _shape_key(line if a <= b else line[::-1]))
            if key in seen:
                continue
            seen.add(key)
            u.append(a)
            v.append(b)
            osmid = data.get("osmid", -1)
            way_ids.append(int(osmid[0] if isinstance(osmid, list) else osmid))
            hw = data.get("highway", "")
            highways.append(str(hw[0] if isinstance(hw, list) else hw))
            nm = data.get("name")
            names.append(None if nm is None else str(nm[0] if isinstance(nm, list) else nm))
            coords.append(line)
            for key, values in tag_values.items():
                values.append(_tag_text(data.get(key)))
        if not u:
            raise NetworkError("the graph has no edges")
        node_tags = {
            n: {k: _tag_text(d.get(k)) for k in NODE_TAGS if d.get(k)}
            for n, d in graph.nodes(data=True)
            if d.get("highway") in ("crossing", "traffic_signals") or d.get("crossing") or d.get("crossing:signals")
        }
        raw = RawEdges(
            u=np.array(u, dtype=np.int64),
            v=np.array(v, dtype=np.int64),
            way_id=np.array(way_ids, dtype=np.int64),
            highway=highways,
            name=names,
            coords=coords,
            newest_edit=None,
            header_timestamp=None,
            edge_tags=tag_values if any(any(vs) for vs in tag_values.values()) else {},
            node_tags=node_tags,
        )
        return cls._from_raw(raw, source or NetworkSource(kind="graph"), mode=mode)

    @classmethod
    def from_edges(
        cls,
        u: np.ndarray,
        v: np.ndarray,
        coords: Sequence[np.ndarray],
        *,
        way_id: np.ndarray,
        highway: Sequence[str],
        name: Sequence[str | None],
        source: NetworkSource,
        edge_tags: dict[str, Sequence[str]] | None = None,
        node_tags: dict[int, dict[str, str]] | None = None,
        mode: str = "walk",
    ) -> WalkNetwork:
        """Build from edges already cut at junctions, the constructor every loader ends in.

        Parameters
        ----------
        u, v : (m,) int64
            Node ids at the two ends of each edge; equal ids are the same node.
        coords : sequence of (k, 2) float arrays
            Each edge's shape in WGS-84 lon/lat, drawn from ``u`` to ``v`` (k ≥ 2).
        way_id : (m,) int64
            The way (or source line) each edge was cut from.
        highway, name : sequences of str and str or None
            Class and name of each edge.
        source : NetworkSource
            Provenance for manifests.
        edge_tags : dict of str to sequence of str, optional
            Values of `EDGE_TAGS` per edge ("" when untagged).
        node_tags : dict of int to dict, optional
            Tags (`NODE_TAGS`) of crossing and signal nodes, by node id.
        mode : str, default "walk"
            ``"walk"`` or ``"drive"``: which ways these edges are.

        Returns
        -------
        WalkNetwork
            Edges in a fixed order, lengths great-circle from the shapes.
        """
        if len(u) == 0:
            raise NetworkError(f"{source.path or 'the network'}: no edges")
        raw = RawEdges(
            u=np.asarray(u, dtype=np.int64),
            v=np.asarray(v, dtype=np.int64),
            way_id=np.asarray(way_id, dtype=np.int64),
            highway=list(highway),
            name=list(name),
            coords=list(coords),
            newest_edit=None,
            header_timestamp=None,
            edge_tags={k: list(v) for k, v in (edge_tags or {}).items()},
            node_tags=dict(node_tags or {}),
        )
        return cls._from_raw(raw, source, mode=mode)

    @classmethod
    def _from_raw(cls, raw: RawEdges, source: NetworkSource, *, mode: str = "walk") -> WalkNetwork:
        node_ids, inverse = np.unique(np.concatenate([raw.u, raw.v]), return_inverse=True)
        m = len(raw.u)
        node_lonlat = np.empty((len(node_ids), 2))
        node_lonlat[inverse[:m]] = [c[0] for c in raw.coords]
        node_lonlat[inverse[m:]] = [c[-1] for c in raw.coords]
        # Edges in a fixed order (by end nodes, then way) so results never depend on file order.
        order = np.lexsort((raw.way_id, inverse[m:], inverse[:m]))
        shapes = [raw.coords[i] for i in order]
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in shapes])]).astype(np.int64)
        coords = np.concatenate(shapes)
        edge_tags = None
        if raw.edge_tags:
            edge_tags = {k: np.asarray(values, dtype=object)[order] for k, values in raw.edge_tags.items()}
        node_tags = None
        if raw.node_tags:
            node_tags = {k: np.full(len(node_ids), "", dtype=object) for k in NODE_TAGS}
            ids = np.fromiter(raw.node_tags, dtype=np.int64, count=len(raw.node_tags))
            at = np.searchsorted(node_ids, ids)
            found = (at < len(node_ids)) & (node_ids[np.minimum(at, len(node_ids) - 1)] == ids)
            for i, tags in zip(at[found].tolist(), [t for t, f in zip(raw.node_tags.values(), found) if f]):
                for k, value in tags.items():
                    node_tags[k][i] = value
        return cls(
            node_ids=node_ids,
            node_lonlat=node_lonlat,
            edge_u=inverse[:m][order].astype(np.int64),
            edge_v=inverse[m:][order].astype(np.int64),
            edge_length=polyline_lengths_m(coords, offsets),
            coords=coords,
            coord_offsets=offsets,
            edge_way_id=raw.way_id[order],
            edge_highway=[raw.highway[i] for i in order],
            edge_name=[raw.name[i] for i in order],
            source=source,
            edge_tags=edge_tags,
            node_tags=node_tags,
            mode=mode,
        )

    # ----------------------------------------------------------- properties
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the network's nodes."""
        # Column by column: a reduction over axis 0 of an (n, 2) array is ~20x slower (strided).
        lon, lat = self.node_lonlat[:, 0], self.node_lonlat[:, 1]
        return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))

    @cached_property
    def crs(self) -> pyproj.CRS:
        """The metric CRS (UTM zone of the network's centre) used for snapping."""
        lon0, lat0, lon1, lat1 = self.bounds
        return utm_crs_for((lon0 + lon1) / 2, (lat0 + lat1) / 2)

    @cached_property
    def to_metric(self) -> pyproj.Transformer:
        """WGS-84 → `crs` (built once: creating a transformer costs milliseconds)."""
        return pyproj.Transformer.from_crs(4326, self.crs, always_xy=True)

    @cached_property
    def to_wgs84(self) -> pyproj.Transformer:
        """`crs` → WGS-84."""
        return pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)

    @cached_property
    def csr(self) -> sparse.csr_matrix:
        """Symmetric n × n CSR matrix of edge lengths (shortest of parallel edges)."""
        rows = np.concatenate([self.edge_u, self.edge_v])
        cols = np.concatenate([self.edge_v, self.edge_u])
        weights = np.concatenate([self.edge_length, self.edge_length])
        keep = rows != cols  # a loop never shortens a path
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
        # COO → CSR would *sum* parallel edges; keep the shortest instead.
        order = np.lexsort((weights, cols, rows))
        rows, cols, weights = rows[order], cols[order], weights[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        n = self.n_nodes
        # Explicit zeros (zero-length edges) are kept by csgraph as real edges.
        return sparse.csr_matrix((weights[first], (rows[first], cols[first])), shape=(n, n))

    @cached_property
    def cost_csr(self) -> sparse.csr_matrix:
        """The n × n matrix searches run on: `csr` (lengths, two-way) without costs, else the costs' arcs.

        With costs, row u holds an entry u → v for every edge that may be
        travelled that way, weighted ``length × scale + end_u + end_v`` (the
        cheapest of parallel edges); for a walking profile it is symmetric.
        """
        if self.costs is None:
            return self.csr
        indptr, indices, weights, _ = self.routing_arcs
        return sparse.csr_matrix((weights, indices, indptr), shape=(self.n_nodes, self.n_nodes))

    @cached_property
    def routing_arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The routing arcs as CSR (indptr, indices, weights) plus the edge behind each arc, for reading routes back.

        Deduplicated as `csr` is (the cheapest of parallel edges, loops
        dropped), so the arcs are those of `cost_csr`; weights are lengths
        without costs and costs on a profile's view.
        """
        m = self.n_edges
        if self.costs is None:
            full = self.edge_length
            forward = backward = np.ones(m, dtype=bool)
        else:
            c = self.costs
            full = self.edge_length * c.scale + c.end_u + c.end_v
            forward, backward = c.forward, c.backward
        index = np.arange(m, dtype=np.int64)
        rows = np.concatenate([self.edge_u[forward], self.edge_v[backward]])
        cols = np.concatenate([self.edge_v[forward], self.edge_u[backward]])
        weights = np.concatenate([full[forward], full[backward]])
        edges = np.concatenate([index[forward], index[backward]])
        keep = rows != cols  # a loop never shortens a path
        rows, cols, weights, edges = rows[keep], cols[keep], weights[keep], edges[keep]
        order = np.lexsort((weights, cols, rows))
        rows, cols, weights, edges = rows[order], cols[order], weights[order], edges[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, weights, edges = rows[first], cols[first], weights[first], edges[first]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=self.n_nodes))]).astype(np.int64)
        return indptr, cols.astype(np.int32), weights.astype(np.float64), edges

    @cached_property
    def routing_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`cost_csr` as contiguous (indptr int64, indices int32, weights float64), the walk kernel's input (built once).

        Without costs the weights are the edge lengths (`csr`); on a profile's
        view (`for_profile`) they are its costs in equivalent metres.
        """
        if self.costs is not None:
            indptr, indices, weights, _ = self.routing_arcs
            return indptr, indices, weights
        graph = self.csr
        return (
            np.ascontiguousarray(graph.indptr, dtype=np.int64),
            np.ascontiguousarray(graph.indices, dtype=np.int32),
            np.ascontiguousarray(graph.data, dtype=np.float64),
        )

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the routing arrays (nodes, edges, lengths, and costs on a profile's view).

        Independent of where the network came from; two views with different
        costs never share a fingerprint, so caches keyed by it never mix them.
        """
        digest = hashlib.sha256()
        for array in (self.node_ids, self.edge_u, self.edge_v, np.round(self.edge_length, 6)):
            digest.update(np.ascontiguousarray(array).tobytes())
        if self.mode != "walk":
            digest.update(self.mode.encode())
        if self.costs is not None:
            digest.update(self.costs.key.encode())
        return digest.hexdigest()[:24]

    # ------------------------------------------------------------ tags and costs
    def edge_tag(self, key: str) -> np.ndarray:
        """The value of one of `EDGE_TAGS` per edge, as an object array ("" where untagged or unknown).

        Parameters
        ----------
        key : str
            A tag key, e.g. ``"surface"``.

        Returns
        -------
        ndarray of object, shape (m,)
        """
        if self.edge_tags is not None and key in self.edge_tags:
            return self.edge_tags[key]
        return np.full(self.n_edges, "", dtype=object)

    def node_tag(self, key: str) -> np.ndarray:
        """The value of one of `NODE_TAGS` per node, as an object array ("" where untagged).

        Parameters
        ----------
        key : str
            ``"highway"``, ``"crossing"`` or ``"crossing:signals"``.

        Returns
        -------
        ndarray of object, shape (n,)
        """
        if self.node_tags is not None and key in self.node_tags:
            return self.node_tags[key]
        return np.full(self.n_nodes, "", dtype=object)

    def crossing_ends(self, main_roads: Sequence[str] = MAIN_ROADS) -> tuple[np.ndarray, np.ndarray]:
        """Main-road crossings at each edge end: 0 none, 1 without signals, 2 with signals.

        An end counts when the edge is not itself a main road and its node
        is on one: a side street, footway or ``footway=crossing`` way meeting
        a ``trunk``/``primary``/``secondary`` road (the classes given). It is
        signalised when the node is tagged ``highway=traffic_signals``,
        ``crossing=traffic_signals`` or ``crossing:signals=yes``, or the edge's
        way ``crossing=traffic_signals`` / ``crossing:signals=yes``.

        Parameters
        ----------
        main_roads : sequence of str
            ``highway=*`` classes that are main roads.

        Returns
        -------
        crossing_u : ndarray of int8, shape (m,)
            The kind of crossing at each edge's u end.
        crossing_v : ndarray of int8, shape (m,)
            The same at its v end.
        """
        highway = np.asarray(self.edge_highway, dtype=object)
        main = np.isin(highway, list(main_roads))
        on_main = np.zeros(self.n_nodes, dtype=bool)
        on_main[self.edge_u[main]] = True
        on_main[self.edge_v[main]] = True
        node_signal = (
            (self.node_tag("highway") == "traffic_signals")
            | (self.node_tag("crossing") == "traffic_signals")
            | (self.node_tag("crossing:signals") == "yes")
        )
        edge_signal = (self.edge_tag("crossing") == "traffic_signals") | (self.edge_tag("crossing:signals") == "yes")
        ends = []
        for nodes in (self.edge_u, self.edge_v):
            crossing = ~main & on_main[nodes]
            signal = node_signal[nodes] | edge_signal
            ends.append(np.where(crossing, np.where(signal, SIGNAL_CROSSING, CROSSING), NO_CROSSING).astype(np.int8))
        return ends[0], ends[1]

    def for_profile(self, profile: WalkProfile) -> WalkNetwork:
        """This network as a profile travels it: a view whose searches run on the profile's costs.

        A profile without costs (``adult``) gets this network itself, so its
        results are exactly those of a plain distance search. Otherwise the
        view has the same nodes and edges, less those the profile cannot use
        (steps for ``frail``/``wheelchair``; unpaved ways for ``wheelchair``),
        and `EdgeCosts` (see `coverage_planner.profiles` for the values and
        their sources):

        * walking: a metre costs the product of the factors that apply
          (steps, unpaved, ``lit=no``, road with ``sidewalk=no``); a main-road
          crossing (`crossing_ends`) costs its wait, half at each of the two
          edge ends a route passes there, so going across (side street to
          side street, or over a ``footway=crossing`` way) pays the whole wait
          and turning onto the main road pays half (a centreline map cannot
          say which side of the road the walker is on);
        * driving (needs a network read with ``mode="drive"``): one-way
          streets (``oneway=yes|-1``, roundabouts, motorways) are travelled
          their way only, a metre costs ``reference speed / edge speed`` (from
          ``maxspeed``, else by class), traffic signals cost their delay; with
          ``direction="to_sites"`` every edge's directions are swapped, so a
          search from the sites gives the times from the places to them.

        Views are kept per profile, so asking twice gives the same object;
        asking a view gives the view of the network it came from.

        Parameters
        ----------
        profile : WalkProfile
            The profile, e.g. ``coverage_planner.profiles.PROFILES["elderly"]``.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            When a drive profile meets a walking network or the other way round,
            or the profile leaves no edge.
        """
        if self.costs is not None:  # a view: ask the network it came from
            base = self.__dict__.get("_profile_base")
            if base is None:
                raise NetworkError("this network already has costs; call for_profile on the network it came from")
            return base.for_profile(profile)
        if profile.mode != self.mode:
            if profile.mode == "drive":
                raise NetworkError(
                    "the drive profile needs a network of drivable ways: read it with "
                    "WalkNetwork.from_osm_file(path, mode='drive') (walking networks have no motorways and "
                    "ignore one-way streets)"
                )
            raise NetworkError(f"the {profile.name} walking profile needs a walking network, not a drive network")
        if profile.mode == "walk" and profile.is_plain:
            return self
        views = self.__dict__.setdefault("_profile_views", {})
        key = (profile.speed_kmh, profile.costs)
        if key in views:
            return views[key]
        keep, why = self._usable_edges(profile)
        base = self
        if not keep.all():
            if not keep.any():
                raise NetworkError(f"the {profile.name} profile can use none of this network's edges ({why})")
            base = self.subset(keep, reason=f"{profile.name} profile: {why}")
        if profile.mode == "walk":
            costs = _walk_costs(base, profile)
        else:
            costs = _drive_costs(base, profile)
        costs.summary["edges_left_out"] = int((~keep).sum())
        costs.summary["metres_left_out"] = round(float(self.edge_length[~keep].sum()), 1)
        if isinstance(profile.costs, DriveCosts) and profile.costs.direction == "to_sites":
            costs = costs.reversed()
        view = replace(base, costs=costs)
        if base is self:  # same shapes: reuse what was derived from them
            for name in _SHAPE_CACHES:
                if name in self.__dict__:
                    view.__dict__[name] = self.__dict__[name]
        view.__dict__["_profile_base"] = self
        view.__dict__["_profile"] = profile
        views[key] = view
        return view

    @property
    def profile(self) -> WalkProfile | None:
        """The profile this network is a view for (`for_profile`); None for a network as read."""
        return self.__dict__.get("_profile")

    def _usable_edges(self, profile: WalkProfile) -> tuple[np.ndarray, str]:
        """Edges a profile may use, and in words which it may not."""
        keep = np.ones(self.n_edges, dtype=bool)
        why = []
        costs = profile.costs
        if isinstance(costs, WalkCosts):
            if costs.exclude_steps:
                steps = np.asarray(self.edge_highway, dtype=object) == "steps"
                keep &= ~steps
                why.append("no steps")
            if costs.exclude_unpaved:
                keep &= ~np.isin(self.edge_tag("surface"), UNPAVED_SURFACES)
                why.append("no unpaved ways")
        return keep, ", ".join(why)

    def subset(self, keep: np.ndarray, *, reason: str = "") -> WalkNetwork:
        """The network with only some edges (and the nodes they use), tags kept.

        Parameters
        ----------
        keep : ndarray of bool, shape (m,)
            Edges to keep.
        reason : str, optional
            Why, recorded in the source's ``details``.

        Returns
        -------
        WalkNetwork
            A new network; edge order follows this one's.
        """
        keep = np.asarray(keep, dtype=bool)
        edges = np.flatnonzero(keep)
        shapes = [self.edge_coords[e] for e in edges]
        node_ids = self.node_ids
        edge_tags = {k: list(v[edges]) for k, v in self.edge_tags.items()} if self.edge_tags else {}
        node_tags: dict[int, dict[str, str]] = {}
        if self.node_tags:
            tagged = np.zeros(self.n_nodes, dtype=bool)
            for values in self.node_tags.values():
                tagged |= values != ""
            for i in np.flatnonzero(tagged).tolist():
                node_tags[int(node_ids[i])] = {k: v[i] for k, v in self.node_tags.items() if v[i] != ""}
        details = dict(self.source.details or {})
        if reason:
            details["edges_removed"] = {"count": int(len(keep) - len(edges)), "reason": reason}
        raw = RawEdges(
            u=node_ids[self.edge_u[edges]],
            v=node_ids[self.edge_v[edges]],
            way_id=self.edge_way_id[edges],
            highway=[self.edge_highway[e] for e in edges],
            name=[self.edge_name[e] for e in edges],
            coords=shapes,
            newest_edit=None,
            header_timestamp=None,
            edge_tags=edge_tags,
            node_tags=node_tags,
        )
        return type(self)._from_raw(raw, replace(self.source, details=details or None), mode=self.mode)

    @cached_property
    def component(self) -> np.ndarray:
        """Connected-component label of every node; 0 is the largest component."""
        from scipy.sparse import csgraph  # here: ~0.1 s to import, and a cached network carries its labels

        _, labels = csgraph.connected_components(self.csr, directed=False)
        sizes = np.bincount(labels)
        # Relabel by decreasing size (ties by first node) so labels are stable.
        rank = np.lexsort((np.arange(len(sizes)), -sizes))
        relabel = np.empty_like(rank)
        relabel[rank] = np.arange(len(rank))
        return relabel[labels]

    @cached_property
    def edges_wgs84(self) -> np.ndarray:
        """Edge shapes as shapely LineStrings in WGS-84."""
        return shapely.linestrings(self.coords, indices=self._coord_index())

    @cached_property
    def edges_metric(self) -> np.ndarray:
        """Edge shapes as shapely LineStrings in the metric CRS (`crs`)."""
        return shapely.linestrings(self.metric_coords, indices=self._coord_index())

    @property
    def metric_coords(self) -> np.ndarray:
        """`coords` projected to `crs` (computed once, or supplied by the network cache)."""
        if self.coords_metric is None:
            x, y = self.to_metric.transform(self.coords[:, 0], self.coords[:, 1])
            self.coords_metric = np.column_stack([x, y])
        return self.coords_metric

    def edge_lines_metric(self, edges: np.ndarray) -> np.ndarray:
        """LineStrings (metric CRS) of some edges only: cheaper than `edges_metric` for a few.

        Parameters
        ----------
        edges : ndarray of int
            Edge indices.

        Returns
        -------
        ndarray of shapely.LineString
            One line per index, in the order given.
        """
        edges = np.asarray(edges, dtype=np.int64)
        if "edges_metric" in self.__dict__:
            return self.edges_metric[edges]
        starts, ends = self.coord_offsets[edges], self.coord_offsets[edges + 1]
        counts = ends - starts
        rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return shapely.linestrings(self.metric_coords[rows], indices=np.repeat(np.arange(len(edges)), counts))

    @cached_property
    def edge_bounds_metric(self) -> np.ndarray:
        """(m, 4) bounding box of every edge in the metric CRS: minx, miny, maxx, maxy."""
        xy, starts = self.metric_coords, self.coord_offsets[:-1]
        return np.column_stack(
            [
                np.minimum.reduceat(xy[:, 0], starts),
                np.minimum.reduceat(xy[:, 1], starts),
                np.maximum.reduceat(xy[:, 0], starts),
                np.maximum.reduceat(xy[:, 1], starts),
            ]
        )

    def _coord_index(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_edges), np.diff(self.coord_offsets))

    @cached_property
    def edge_coords(self) -> list[np.ndarray]:
        """Each edge's shape as its own (k, 2) lon/lat array (views into `coords`)."""
        return np.split(self.coords, self.coord_offsets[1:-1])

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index of `edges_metric`, for snapping."""
        return shapely.STRtree(self.edges_metric)

    @property
    def has_edge_index(self) -> bool:
        """Whether `edge_tree` is built already (snapping a few points is faster without building it)."""
        return "edge_tree" in self.__dict__

    def seed_derived(self, *, csr: sparse.csr_matrix | None = None, component: np.ndarray | None = None) -> None:
        """Set derived arrays read back from a verified cache, so they are not computed again.

        Parameters
        ----------
        csr : scipy.sparse.csr_matrix, optional
            The node × node edge-length matrix (`csr`).
        component : ndarray of int, optional
            Component of each node (`component`).
        """
        # functools.cached_property reads the instance dict first.
        if csr is not None:
            self.__dict__["csr"] = csr
        if component is not None:
            self.__dict__["component"] = component

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The network as an osmnx-style MultiDiGraph (both directions of every edge, WGS-84).

        Edges carry their OSM tags (`EDGE_TAGS`, where set); on a profile's
        view only the allowed directions appear, each with its ``cost``.
        """
        import networkx as nx

        g = nx.MultiDiGraph(crs="epsg:4326")
        node_tags = self.node_tags or {}
        for i, osmid in enumerate(self.node_ids.tolist()):
            g.add_node(osmid, x=float(self.node_lonlat[i, 0]), y=float(self.node_lonlat[i, 1]))
        for key, values in node_tags.items():
            for i in np.flatnonzero(values != "").tolist():
                g.nodes[int(self.node_ids[i])][key] = values[i]
        ids = self.node_ids
        geoms = self.edges_wgs84
        tags = {k: v for k, v in (self.edge_tags or {}).items() if k in EDGE_TAGS and k != "oneway"}
        c = self.costs
        if c is not None:
            forward, backward = c.forward, c.backward
        else:
            forward, backward = drive_directions(self)
        # osmnx's reading of ``oneway``: a bool, True where the street runs one way.
        one_way = forward != backward
        for e in range(self.n_edges):
            a, b = int(ids[self.edge_u[e]]), int(ids[self.edge_v[e]])
            attrs = dict(
                osmid=int(self.edge_way_id[e]), highway=self.edge_highway[e], length=float(self.edge_length[e])
            )
            if self.edge_name[e] is not None:
                attrs["name"] = self.edge_name[e]
            attrs.update({k: v[e] for k, v in tags.items() if v[e]})
            attrs["oneway"] = bool(one_way[e])
            if c is None and self.mode == "walk":
                g.add_edge(a, b, geometry=geoms[e], reversed=False, edge_index=e, **attrs)
                g.add_edge(b, a, geometry=geoms[e].reverse(), reversed=True, edge_index=e, **attrs)
                continue
            # A drive network or a profile's view: each allowed direction (with its cost, equivalent metres).
            if c is not None:
                attrs["cost"] = float(self.edge_length[e] * c.scale[e] + c.end_u[e] + c.end_v[e])
            if forward[e]:
                g.add_edge(a, b, geometry=geoms[e], reversed=False, edge_index=e, **attrs)
            if backward[e]:
                g.add_edge(b, a, geometry=geoms[e].reverse(), reversed=bool(forward[e]), edge_index=e, **attrs)
        return g

    # --------------------------------------------------------------- exports
    def to_graphml(self, path: str | Path) -> Path:
        """Save as GraphML (osmnx format), keeping the source's snapshot date.

        The mode is recorded too, so `from_graphml` reads a drive network back as one.

        Parameters
        ----------
        path : str or Path
            The .graphml file to write (replaced atomically).

        Returns
        -------
        Path
            ``path``.
        """
        import osmnx as ox

        from coverage_planner._io import atomic_path

        g = self.graph.copy()
        g.graph["coverage_source"] = json.dumps(self.source.to_dict())
        g.graph["coverage_mode"] = self.mode
        path = Path(path)
        with atomic_path(path) as tmp:
            ox.save_graphml(g, tmp)
        return path

    def to_geopackage(self, path: str | Path) -> Path:
        """Save as an OSMnx GeoPackage (layers ``nodes`` and ``edges``, as ``ox.save_graph_geopackage`` writes).

        ``ox.graph_from_gdfs`` rebuilds the graph from the two layers, and
        `load_network` reads the file back with its topology.

        Parameters
        ----------
        path : str or Path
            The .gpkg file to write (replaced atomically).

        Returns
        -------
        Path
            ``path``.
        """
        from coverage_planner.network.geopackage import write_osmnx_geopackage

        return write_osmnx_geopackage(self, path)

    def edges_frame(self) -> gpd.GeoDataFrame:
        """One row per undirected edge, with its component label (WGS-84).

        Returns
        -------
        geopandas.GeoDataFrame
            Columns ``u``, ``v`` (OSM node ids), ``osmid``, ``highway``,
            ``name``, ``length_m``, ``component`` and the edge's line.
        """
        return gpd.GeoDataFrame(
            {
                "u": self.node_ids[self.edge_u],
                "v": self.node_ids[self.edge_v],
                "osmid": self.edge_way_id,
                "highway": self.edge_highway,
                "name": self.edge_name,
                "length_m": self.edge_length,
                "component": self.component[self.edge_u],
            },
            geometry=self.edges_wgs84,
            crs="EPSG:4326",
        )

    def quality_report(self) -> pd.DataFrame:
        """One row per connected component: nodes, edges, walkable length and dangling ends (dead-end nodes).

        Returns
        -------
        pandas.DataFrame
            Columns ``component``, ``nodes``, ``edges``, ``length_m``, ``dangling_ends``.
        """
        comp_of_edge = self.component[self.edge_u]
        n_comp = int(self.component.max()) + 1
        degree = np.bincount(np.concatenate([self.edge_u, self.edge_v]), minlength=self.n_nodes)
        return pd.DataFrame(
            {
                "component": np.arange(n_comp),
                "nodes": np.bincount(self.component, minlength=n_comp),
                "edges": np.bincount(comp_of_edge, minlength=n_comp),
                "length_m": np.bincount(comp_of_edge, weights=self.edge_length, minlength=n_comp),
                "dangling_ends": np.bincount(self.component[degree == 1], minlength=n_comp),
            }
        )

    def unnoded_crossings(self, cache_dir: str | Path | None = None) -> gpd.GeoDataFrame:
        """Points where two edges cross, touch or overlap without meeting at a node they share.

        In a walk network such a point is a place where a walker cannot turn:
        either a bridge or tunnel (meant so) or, in a badly noded road-line
        layer, two streets that should be joined. Each point is labelled by
        what explains it: ``bridge`` or ``tunnel`` when one of the edges is
        tagged so, ``layer`` when their ``layer=*`` values differ, empty when
        nothing does (the sign of a noding error). Computed once per network.

        Parameters
        ----------
        cache_dir : str or Path, optional
            Also keep the points in ``cache_dir/networks``, keyed by everything
            they are found from (edges, shapes, way ids, classes, the bridge,
            tunnel and layer tags, components), and take them from there: the
            search over every pair of edges took 0.2 s for Andorra in each
            process that wrote a report.

        Returns
        -------
        geopandas.GeoDataFrame
            One row per point (WGS-84): ``way_a``, ``highway_a``, ``way_b``,
            ``highway_b`` (the two edges' way ids and classes; an unexplained
            pair is shown when the point has one), ``component_a``,
            ``component_b``, ``marked`` (``""``, ``bridge``, ``tunnel`` or
            ``layer``; empty when any pair at the point is unexplained),
            ``lines`` (edges meeting there without a node), ``lon``, ``lat``.
        """
        if "_crossings" not in self.__dict__:
            stored = None if cache_dir is None else Path(cache_dir) / "networks" / f"crossings-{self._qa_key()}.arrays"
            found = _read_crossings(stored) if stored is not None and stored.is_file() else None
            if found is None:
                found = _unnoded_crossings(self)
                if stored is not None:
                    _write_crossings(stored, found)
            self.__dict__["_crossings"] = found
        return self.__dict__["_crossings"].copy()

    def _qa_key(self) -> str:
        """A digest of what `unnoded_crossings` reads (the routing fingerprint leaves out shapes and tags)."""
        digest = hashlib.sha256(f"crossings-{CROSSINGS_VERSION}|{self.fingerprint}".encode())
        arrays = [self.coords, self.coord_offsets, self.node_lonlat, self.edge_way_id, self.component]
        arrays += [np.asarray(self.edge_highway, dtype=str)] + [self.edge_tag(t).astype(str) for t in QA_TAGS]
        for array in arrays:
            digest.update(str(array.dtype).encode() + np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:24]

    def _repr_html_(self) -> str:
        import html

        source = self.source.path and Path(self.source.path).name
        rows = [
            ("nodes", f"{self.n_nodes:,}"),
            ("edges", f"{self.n_edges:,}"),
            ("walkable length", f"{self.edge_length.sum() / 1000:,.1f} km"),
            ("connected pieces", f"{int(self.component.max()) + 1 if self.n_nodes else 0:,}"),
            ("bounds (W, S, E, N)", ", ".join(f"{v:.5f}" for v in self.bounds)),
            ("source", f"{self.source.kind}{': ' + source if source else ''}"),
            ("OSM snapshot", str(self.source.snapshot or "unknown")),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table><caption style='text-align:left'><b>WalkNetwork</b></caption>{body}</table>"

    def __repr__(self) -> str:
        extra = "" if self.mode == "walk" else f", mode={self.mode}"
        extra += f", profile={self.costs.profile}" if self.costs is not None else ""
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"{self.edge_length.sum() / 1000:.1f} km, source={self.source.kind}"
            f"{': ' + Path(self.source.path).name if self.source.path else ''}{extra})"
        )


# Derived from the shapes alone, so a costed view of the same edges can share them.
_SHAPE_CACHES = (
    "crs",
    "to_metric",
    "to_wgs84",
    "csr",
    "component",
    "edges_wgs84",
    "edges_metric",
    "edge_bounds_metric",
    "edge_coords",
    "edge_tree",
)
# Roads (not footways or paths): where ``sidewalk=no`` means walking on the carriageway.
_NOT_ROADS = frozenset({"footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor", "track"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")
_UNIT_KMH = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}


def _walk_costs(network: WalkNetwork, profile: WalkProfile) -> EdgeCosts:
    """Edge costs of a walking profile on the edges it may use (see `WalkNetwork.for_profile`)."""
    costs = profile.costs
    assert isinstance(costs, WalkCosts)
    m = network.n_edges
    highway = np.asarray(network.edge_highway, dtype=object)
    steps = highway == "steps"
    unpaved = np.isin(network.edge_tag("surface"), UNPAVED_SURFACES)
    unlit = network.edge_tag("lit") == "no"
    no_sidewalk = ~np.isin(highway, list(_NOT_ROADS)) & np.isin(network.edge_tag("sidewalk"), ["no", "none"])
    scale = np.ones(m)
    scale[steps] *= costs.steps_factor
    scale[unpaved] *= costs.unpaved_factor
    scale[unlit] *= costs.unlit_factor
    scale[no_sidewalk] *= costs.no_sidewalk_factor
    metres_per_second = profile.speed_kmh / 3.6
    half_wait = {
        CROSSING: costs.crossing_wait_s * metres_per_second / 2,
        SIGNAL_CROSSING: costs.signal_wait_s * metres_per_second / 2,
    }
    crossing_u, crossing_v = network.crossing_ends(costs.main_roads)
    ends = [np.zeros(m), np.zeros(m)]
    for end, kinds in zip(ends, (crossing_u, crossing_v)):
        for kind, cost in half_wait.items():
            end[kinds == kind] = cost
    nodes = np.concatenate([network.edge_u, network.edge_v])
    kinds = np.concatenate([crossing_u, crossing_v])
    summary = {
        "mode": "walk",
        "steps_edges": int(steps.sum()),
        "steps_m": round(float(network.edge_length[steps].sum()), 1),
        "unpaved_m": round(float(network.edge_length[unpaved].sum()), 1),
        "unlit_m": round(float(network.edge_length[unlit].sum()), 1),
        "no_sidewalk_m": round(float(network.edge_length[no_sidewalk].sum()), 1),
        "crossing_nodes": int(len(np.unique(nodes[kinds == CROSSING]))),
        "signal_crossing_nodes": int(len(np.unique(nodes[kinds == SIGNAL_CROSSING]))),
        "tags_read": bool(set(network.edge_tags or ()) - set(QA_TAGS)),
    }
    ones = np.ones(m, dtype=bool)
    return EdgeCosts(scale, ends[0], ends[1], ones, ones.copy(), steps, crossing_u, crossing_v, profile.name, summary)


def parse_maxspeed(values: Sequence[str]) -> np.ndarray:
    """``maxspeed=*`` values in km/h (NaN where absent or not a number, e.g. ``none``, ``CN:urban``).

    The first of several (``50;30``) counts; ``mph`` and ``knots`` are converted.

    Parameters
    ----------
    values : sequence of str
        Raw tag values, "" where untagged.

    Returns
    -------
    ndarray of float
        Speed in km/h per value.
    """
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if not value:
            continue
        match = _MAXSPEED.match(str(value).split(";")[0])
        if match:
            out[i] = float(match.group(1)) * _UNIT_KMH[match.group(2)]
    out[out <= 0] = np.nan
    return out


def _drive_costs(network: WalkNetwork, profile: WalkProfile) -> EdgeCosts:
    """Edge costs of the drive profile (see `WalkNetwork.for_profile`)."""
    costs = profile.costs
    assert isinstance(costs, DriveCosts)
    m = network.n_edges
    highway = np.asarray(network.edge_highway, dtype=object)
    forward, backward = drive_directions(network)
    along, against = forward & ~backward, backward & ~forward
    by_class = {road: costs.speed_of(road) for road in set(highway.tolist())}
    speed = np.array([by_class[h] for h in highway.tolist()], dtype=float)
    tagged = parse_maxspeed(network.edge_tag("maxspeed")) if costs.use_maxspeed else np.full(m, np.nan)
    has_tag = np.isfinite(tagged)
    speed[has_tag] = np.maximum(tagged[has_tag] * costs.maxspeed_factor, 1.0)
    scale = profile.speed_kmh / speed
    delay = costs.signal_delay_s * profile.speed_kmh / 3.6  # equivalent metres
    signal_node = network.node_tag("highway") == "traffic_signals"
    end_u = np.where(signal_node[network.edge_u], delay / 2, 0.0)
    end_v = np.where(signal_node[network.edge_v], delay / 2, 0.0)
    inside = np.array([int(x) if x else 0 for x in network.edge_tag(SIGNALS_INSIDE)], dtype=float)
    if delay and inside.any():
        # Signals inside an edge: spread over its length, so part of the edge pays its share.
        length = np.maximum(network.edge_length, 1e-9)
        scale = scale + inside * delay / length
    none = np.zeros(m, dtype=np.int8)
    summary = {
        "mode": "drive",
        "one_way_edges": int((along | against).sum()),
        "maxspeed_edges": int(has_tag.sum()),
        "signal_nodes": int(signal_node.sum()),
        "direction": costs.direction,
        "tags_read": bool(set(network.edge_tags or ()) - set(QA_TAGS)),
    }
    return EdgeCosts(
        scale, end_u, end_v, forward, backward, np.zeros(m, dtype=bool), none, none.copy(), profile.name, summary
    )


def drive_directions(network: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Which way a car may drive each edge: (u → v allowed, v → u allowed).

    ``oneway=yes|true|1`` runs as drawn, ``oneway=-1|reverse`` against it;
    roundabouts (``junction=roundabout|circular``) and motorways are one-way
    unless tagged ``oneway=no``.

    Parameters
    ----------
    network : WalkNetwork
        A network with its edge tags (untagged edges are two-way).

    Returns
    -------
    forward : ndarray of bool, shape (m,)
        Whether each edge may be driven u → v.
    backward : ndarray of bool, shape (m,)
        Whether it may be driven v → u.
    """
    highway = np.asarray(network.edge_highway, dtype=object)
    oneway = network.edge_tag("oneway")
    implied = np.isin(network.edge_tag("junction"), ["roundabout", "circular"]) | np.isin(
        highway, ["motorway", "motorway_link"]
    )
    against = np.isin(oneway, ["-1", "reverse"])
    along = np.isin(oneway, ["yes", "true", "1"]) | (implied & ~against & ~np.isin(oneway, ["no", "false", "0"]))
    return ~against, ~along


def _tag_text(value: Any) -> str:
    """An osmnx attribute as tag text: lists joined with ';', booleans as yes/no, missing as ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(_tag_text(v) for v in value)
    return str(value)


def _lonlat(xy: tuple[float, float], to_wgs) -> np.ndarray:
    if to_wgs is None:
        return np.asarray(xy, dtype=float)
    return np.asarray(to_wgs.transform(*xy), dtype=float)


def _shape_key(line: np.ndarray) -> tuple:
    # Rounded to ~1 cm so the two directed copies of one street compare equal.
    return tuple(np.round(line, 7).ravel().tolist())


#: Edge tags read only by the network QA (`WalkNetwork.unnoded_crossings`), never by costs.
QA_TAGS = ("bridge", "tunnel", "layer")
#: Part of the key of kept crossings: raise it when `_unnoded_crossings` finds or labels points differently.
CROSSINGS_VERSION = 1
_CROSSING_TEXT = ("highway_a", "highway_b", "marked")
_CROSSING_NUMBERS = ("way_a", "way_b", "component_a", "component_b", "lines", "lon", "lat")
# Values of a bridge/tunnel tag that mean "no" (as the line-layer loader reads such columns).
_NOT_OFFGRADE = frozenset({"", "no", "n", "0", "0.0", "false", "f", "none", "nan", "null", "否", "无"})
_GRID = 10_000_000  # crossing points compared on a 1e-7 degree grid (about 1 cm, OSM's precision)


def _unnoded_crossings(network: WalkNetwork) -> gpd.GeoDataFrame:
    """See `WalkNetwork.unnoded_crossings`."""
    columns = ["way_a", "highway_a", "way_b", "highway_b", "component_a", "component_b", "marked", "lines"]
    geoms = network.edges_wgs84
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    points, which = shapely.get_coordinates(shapely.intersection(geoms[a], geoms[b]), return_index=True)
    a, b = a[which], b[which]
    key = np.round(points * _GRID).astype(np.int64)
    node_key = np.round(network.node_lonlat * _GRID).astype(np.int64)
    # A point is noded when it is a node at an end of both edges.
    noded = np.zeros(len(key), dtype=bool)
    for end_a in (network.edge_u[a], network.edge_v[a]):
        for end_b in (network.edge_u[b], network.edge_v[b]):
            noded |= (end_a == end_b) & (node_key[end_a] == key).all(axis=1)
    a, b, key = a[~noded], b[~noded], key[~noded]
    highway = np.asarray(network.edge_highway, dtype=object)
    if len(a) == 0:
        empty = {c: pd.Series(dtype=object if c in ("highway_a", "highway_b", "marked") else np.int64) for c in columns}
        return gpd.GeoDataFrame(
            {**empty, "lon": pd.Series(dtype=float), "lat": pd.Series(dtype=float)},
            geometry=gpd.GeoSeries([], crs="EPSG:4326"),
            crs="EPSG:4326",
        )
    marked = np.full(len(a), "", dtype=object)
    level = pd.to_numeric(pd.Series(network.edge_tag("layer")), errors="coerce").fillna(0).round().to_numpy()
    marked[level[a] != level[b]] = "layer"
    for tag in ("tunnel", "bridge"):  # a bridge over a tunnel reads as the bridge
        flagged = ~np.isin(np.char.lower(network.edge_tag(tag).astype(str)), list(_NOT_OFFGRADE))
        marked[flagged[a] | flagged[b]] = tag
    # One row per point: an unexplained pair first (it is the one to look at), then by edge order.
    _, point = np.unique(key, axis=0, return_inverse=True)
    point = point.ravel()
    order = np.lexsort((b, a, marked != "", point))
    first = order[np.r_[True, point[order][1:] != point[order][:-1]]]
    edges_at = pd.Series(np.concatenate([a, b])).groupby(np.concatenate([point, point])).nunique()
    lonlat = key[first] / _GRID
    frame = pd.DataFrame(
        {
            "way_a": network.edge_way_id[a[first]],
            "highway_a": highway[a[first]],
            "way_b": network.edge_way_id[b[first]],
            "highway_b": highway[b[first]],
            "component_a": network.component[network.edge_u[a[first]]],
            "component_b": network.component[network.edge_u[b[first]]],
            "marked": marked[first],
            "lines": edges_at.reindex(point[first]).to_numpy(np.int64),
            "lon": lonlat[:, 0],
            "lat": lonlat[:, 1],
        }
    )
    return _crossings_frame(frame.sort_values(["lon", "lat"], kind="stable").reset_index(drop=True))


def _crossings_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=shapely.points(frame[["lon", "lat"]].to_numpy()), crs="EPSG:4326")


def _write_crossings(path: Path, crossings: gpd.GeoDataFrame) -> None:
    from coverage_planner._cache.arrays import try_write_arrays

    arrays = {c: crossings[c].to_numpy() for c in _CROSSING_NUMBERS}
    arrays.update({c: np.asarray(crossings[c].tolist(), dtype=str) for c in _CROSSING_TEXT})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    try_write_arrays(path, arrays, {"rows": len(crossings), "columns": list(crossings.columns)})


def _read_crossings(path: Path) -> gpd.GeoDataFrame | None:
    """Crossings kept by `_write_crossings`, or None (with a warning) when the file is not that."""
    from coverage_planner._cache.arrays import read_arrays, warn_cache

    try:
        meta, arrays = read_arrays(path)
        rows = meta["rows"]
        if any(len(arrays[c]) != rows for c in _CROSSING_NUMBERS + _CROSSING_TEXT):
            raise ValueError("its columns differ in length")
        columns = {c: arrays[c] for c in _CROSSING_NUMBERS}
        columns.update({c: arrays[c].astype(object) for c in _CROSSING_TEXT})
        frame = _crossings_frame(pd.DataFrame({c: columns[c] for c in meta["columns"] if c != "geometry"}))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        warn_cache(path, f"is damaged or stale ({exc}); the crossings are searched again")
        return None
    return frame
