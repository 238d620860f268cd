"""The walking network: OSM ways → a two-way graph with arrays for fast routing.

`WalkNetwork` keeps one row per undirected edge (node indices, length in
metres, shape) and derives from it, on demand, the NetworkX graph users know
(osmnx layout) and the SciPy CSR matrix the hot loops use. Every loader ends
in the same constructor, so a network is the same whatever file it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import NetworkError
from coverage_planner._geo import polyline_lengths_m, utm_crs_for
from coverage_planner.network._osm_reader import RawEdges, read_walkable_edges

OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".xml")
LINE_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json")  # road-line layers (see `network.lines`)


@dataclass(frozen=True)
class NetworkSource:
    """Where a network came from, for the run manifest."""

    kind: str  # "osm-file", "graphml", "osmnx-download", "graph"
    path: str | None = None
    sha256: str | None = None
    query: str | None = None
    snapshot: str | None = None  # OSM replication timestamp, or newest edit seen
    snapshot_basis: str | None = None
    # What a loader found and did beyond the graph itself (line layers: CRS basis, class filter, noding).
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WalkNetwork:
    """A walkable, two-way street network.

    Attributes
    ----------
    node_ids : (n,) int64 OSM node ids, sorted.
    node_lonlat : (n, 2) WGS-84 coordinates.
    edge_u, edge_v : (m,) node indices of each undirected edge, shape drawn u → v.
    edge_length : (m,) great-circle length of the edge shape, metres.
    coords, coord_offsets : every edge's shape as (k, 2) lon/lat rows, flat;
        edge i is ``coords[coord_offsets[i]:coord_offsets[i + 1]]`` (see `edge_coords`).
    edge_way_id, edge_highway, edge_name : OSM attributes per edge.
    source : provenance for manifests.
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

    # ---------------------------------------------------------------- loaders
    @classmethod
    def from_osm_file(cls, path: str | Path, *, allow_private: bool = False) -> WalkNetwork:
        """Build the network from a local OSM file (.osm, .osm.gz, .osm.bz2 or .osm.pbf).

        Only walkable ways are kept (see `coverage_planner.network._osm_reader.is_walkable`);
        one-way tags are ignored since pedestrians walk both ways.

        Parameters
        ----------
        path : an OSM XML or PBF file.
        allow_private : keep ``access=private`` ways (e.g. roads inside a gated compound).
        """
        path = Path(path)
        if not path.is_file():
            raise NetworkError(f"network file not found: {path}")
        try:
            raw = read_walkable_edges(path, allow_private=allow_private)
        except RuntimeError as exc:  # pyosmium reports parse errors this way
            raise NetworkError(f"{path}: not a readable OSM file ({exc})") from exc
        if len(raw.u) == 0:
            raise NetworkError(f"{path}: no walkable ways found in this OSM file")
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
        return cls._from_raw(raw, source)

    @classmethod
    def from_graphml(cls, path: str | Path) -> WalkNetwork:
        """Load a network saved as GraphML (by `to_graphml` or by osmnx)."""
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
        return cls.from_graph(graph, source=source)

    @classmethod
    def from_file(cls, path: str | Path, *, allow_private: bool = False) -> WalkNetwork:
        """Load a network from an OSM file, a GraphML file or a road-line layer, chosen by suffix.

        ``allow_private`` applies to OSM files (and to line layers' class
        filter); a GraphML network is used as saved. Line layers (.shp, .gpkg,
        .geojson) load with default options; see
        `coverage_planner.network.lines.read_line_network` for the others.
        """
        name = str(path).lower()
        if name.endswith(".graphml"):
            return cls.from_graphml(path)
        if name.endswith(OSM_SUFFIXES):
            return cls.from_osm_file(path, allow_private=allow_private)
        if name.endswith(LINE_SUFFIXES):
            # Imported here: the line-layer module builds on this one.
            from coverage_planner.network.lines import read_line_network

            return read_line_network(path, allow_private=allow_private)
        raise NetworkError(
            f"{path}: unknown network file type; expected one of "
            f"{', '.join(OSM_SUFFIXES + ('.graphml',) + LINE_SUFFIXES)}"
        )

    @classmethod
    def from_graph(cls, graph: nx.Graph, *, source: NetworkSource | None = None) -> WalkNetwork:
        """Build from any osmnx-style NetworkX graph (nodes with x/y, optional edge geometry).

        Directed twins (u→v and v→u of the same street) become one undirected
        edge; edges in one direction only (one-way streets) are walkable both
        ways. Lengths are recomputed from the shapes so every loader agrees.
        """
        crs = graph.graph.get("crs", "epsg:4326")
        to_wgs = None
        if not pyproj.CRS.from_user_input(crs).equals(pyproj.CRS.from_epsg(4326)):
            to_wgs = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
        seen: set[tuple] = set()
        u, v, way_ids, highways, names, coords = [], [], [], [], [], []
        for a, b, data in graph.edges(data=True):
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
        if not u:
            raise NetworkError("the graph has no edges")
        raw = RawEdges(
            u=np.array(u, dtype=np.int64),
            v=np.array(v, dtype=np.int64),
            way_id=np.array(way_ids, dtype=np.int64),
            highway=highways,
            name=names,
            coords=coords,
            newest_edit=None,
            header_timestamp=None,
        )
        return cls._from_raw(raw, source or NetworkSource(kind="graph"))

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
        )
        return cls._from_raw(raw, source)

    @classmethod
    def _from_raw(cls, raw: RawEdges, source: NetworkSource) -> WalkNetwork:
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
        lo = self.node_lonlat.min(axis=0)
        hi = self.node_lonlat.max(axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

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
    def routing_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`csr` as contiguous (indptr int64, indices int32, lengths float64), the walk kernel's input (built once)."""
        graph = self.csr
        return (
            np.ascontiguousarray(graph.indptr, dtype=np.int64),
            np.ascontiguousarray(graph.indices, dtype=np.int32),
            np.ascontiguousarray(graph.data, dtype=np.float64),
        )

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the routing arrays (nodes, edges, lengths), independent of where the network came from."""
        digest = hashlib.sha256()
        for array in (self.node_ids, self.edge_u, self.edge_v, np.round(self.edge_length, 6)):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:24]

    @cached_property
    def component(self) -> np.ndarray:
        """Connected-component label of every node; 0 is the largest component."""
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
        """LineStrings (metric CRS) of some edges only: cheaper than `edges_metric` for a few."""
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
        """The network as an osmnx-style MultiDiGraph (both directions of every edge, WGS-84)."""
        g = nx.MultiDiGraph(crs="epsg:4326")
        for i, osmid in enumerate(self.node_ids.tolist()):
            g.add_node(osmid, x=float(self.node_lonlat[i, 0]), y=float(self.node_lonlat[i, 1]))
        ids = self.node_ids
        geoms = self.edges_wgs84
        for e in range(self.n_edges):
            a, b = int(ids[self.edge_u[e]]), int(ids[self.edge_v[e]])
            attrs = dict(
                osmid=int(self.edge_way_id[e]), highway=self.edge_highway[e], length=float(self.edge_length[e])
            )
            if self.edge_name[e] is not None:
                attrs["name"] = self.edge_name[e]
            g.add_edge(a, b, geometry=geoms[e], reversed=False, edge_index=e, **attrs)
            g.add_edge(b, a, geometry=geoms[e].reverse(), reversed=True, edge_index=e, **attrs)
        return g

    # --------------------------------------------------------------- exports
    def to_graphml(self, path: str | Path) -> Path:
        """Save as GraphML (osmnx format), keeping the source's snapshot date."""
        import osmnx as ox

        from coverage_planner._io import atomic_path

        g = self.graph.copy()
        g.graph["coverage_source"] = json.dumps(self.source.to_dict())
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
        """One row per undirected edge, with its component label (WGS-84)."""
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
        """One row per connected component: nodes, edges, walkable length and dangling ends (dead-end nodes)."""
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
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"{self.edge_length.sum() / 1000:.1f} km, source={self.source.kind}"
            f"{': ' + Path(self.source.path).name if self.source.path else ''})"
        )


def _lonlat(xy: tuple[float, float], to_wgs) -> np.ndarray:
    if to_wgs is None:
        return np.asarray(xy, dtype=float)
    return np.asarray(to_wgs.transform(*xy), dtype=float)


def _shape_key(line: np.ndarray) -> tuple:
    # Rounded to ~1 cm so the two directed copies of one street compare equal.
    return tuple(np.round(line, 7).ravel().tolist())
