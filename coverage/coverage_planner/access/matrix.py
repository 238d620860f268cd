"""Walk distances from sites to demand places over the network.

`AccessMatrix.compute` runs a bounded Dijkstra from every site (in the
bundled C kernel, or SciPy csgraph) and keeps, sparsely, each site × demand
pair reachable within the cutoff. Places sit on edges, not nodes: each site enters the graph as an
extra source node joined to both ends of its edge, and each demand place is
reached through whichever end of its edge is nearer (or directly along the
edge when a site shares it).
"""

from __future__ import annotations

import os
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from coverage_planner import settings
from coverage_planner.access.snapping import Snap
from coverage_planner.network.graph import WalkNetwork

try:  # the optional C kernel; without a compiler at install time SciPy does the work
    from coverage_planner.access import _walkkernel as _kernel

    _KERNEL_IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - depends on the build
    _kernel = None
    _KERNEL_IMPORT_ERROR = str(exc)

_FALLBACK_WARNED = False


def kernel_available() -> bool:
    """Whether the bundled C walk kernel was built and imports.

    Returns
    -------
    bool
        True when ``AccessMatrix.compute(engine="auto")`` runs the C kernel;
        False when it falls back to SciPy (same results, slower).
    """
    return _kernel is not None


def _warn_scipy_fallback() -> None:
    """Say once per process that walks run on the slower SciPy fallback because the C kernel is missing."""
    global _FALLBACK_WARNED
    if _FALLBACK_WARNED:
        return
    _FALLBACK_WARNED = True
    reason = f" ({_KERNEL_IMPORT_ERROR})" if _KERNEL_IMPORT_ERROR else ""
    warnings.warn(
        f"the C walk kernel coverage_planner.access._walkkernel was not built{reason}; walk distances use the "
        "SciPy fallback, which gives the same results but is slower. To build the kernel, install a C compiler "
        "(gcc or clang; on Windows the MSVC Build Tools) and reinstall coverage-planner from its source, e.g. "
        "`pip install --force-reinstall --no-deps .` in a checkout. Pass engine='scipy' to choose the fallback "
        "without this warning.",
        RuntimeWarning,
        stacklevel=3,
    )


@dataclass
class AccessMatrix:
    """Sparse site × demand walk distances (metres), only pairs within the cutoff.

    Attributes
    ----------
    site_ids, demand_ids : identifiers in matrix order.
    rows, cols, metres : the reachable pairs (site index, demand index, walk metres),
        sorted by site then demand. Metres include both access legs when
        ``include_access_legs`` was set.
    cutoff_m : the search limit; pairs farther apart are absent.
    """

    site_ids: np.ndarray
    demand_ids: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    metres: np.ndarray
    cutoff_m: float
    include_access_legs: bool = True

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.site_ids), len(self.demand_ids))

    @property
    def nnz(self) -> int:
        return len(self.metres)

    def to_csr(self) -> sparse.csr_matrix:
        """The matrix as SciPy CSR. A pair at 0 m is stored as an explicit zero.

        Use ``.to_csr().nonzero()`` with care: zeros are real, reachable pairs;
        the structure (``indptr``/``indices``) is what says "reachable".
        """
        m = sparse.csr_matrix((self.metres, (self.rows, self.cols)), shape=self.shape)
        return m

    def covers(self, cutoff_m: float | None = None) -> sparse.csr_matrix:
        """Boolean site × demand matrix: True where the walk is ≤ ``cutoff_m``."""
        limit = self.cutoff_m if cutoff_m is None else cutoff_m
        keep = self.metres <= limit
        return sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=bool), (self.rows[keep], self.cols[keep])), shape=self.shape
        )

    @classmethod
    def stack(cls, top: AccessMatrix, bottom: AccessMatrix) -> AccessMatrix:
        """The sites of ``top`` followed by those of ``bottom``, over the same demand places.

        Parameters
        ----------
        top, bottom : AccessMatrix
            Walks to the same demand places (same ids, order, cutoff and access-leg rule).

        Returns
        -------
        AccessMatrix
            Rows of ``bottom`` come after those of ``top``; pairs stay sorted by site then place.

        Raises
        ------
        ValueError
            When the two do not share demand places, cutoff or access-leg rule.
        """
        if not np.array_equal(top.demand_ids, bottom.demand_ids):
            raise ValueError("stacked matrices must cover the same demand places in the same order")
        if top.cutoff_m != bottom.cutoff_m or top.include_access_legs != bottom.include_access_legs:
            raise ValueError("stacked matrices must share the cutoff and the access-leg rule")
        return cls(
            np.concatenate([top.site_ids, bottom.site_ids]),
            top.demand_ids,
            np.concatenate([top.rows, bottom.rows + top.shape[0]]),
            np.concatenate([top.cols, bottom.cols]),
            np.concatenate([top.metres, bottom.metres]),
            top.cutoff_m,
            top.include_access_legs,
        )

    def take_sites(self, indices: np.ndarray) -> AccessMatrix:
        """The rows of some sites, renumbered in the order given.

        Parameters
        ----------
        indices : array of int
            Site rows to keep, each at most once.

        Returns
        -------
        AccessMatrix
        """
        indices = np.asarray(indices, dtype=np.int64)
        new_row = np.full(self.shape[0], -1, dtype=np.int64)
        new_row[indices] = np.arange(len(indices))
        keep = new_row[self.rows] >= 0
        rows, cols, metres = new_row[self.rows[keep]], self.cols[keep], self.metres[keep]
        order = np.lexsort((cols, rows))
        return AccessMatrix(
            self.site_ids[indices],
            self.demand_ids,
            rows[order],
            cols[order],
            metres[order],
            self.cutoff_m,
            self.include_access_legs,
        )

    def nearest(self) -> tuple[np.ndarray, np.ndarray]:
        """For each demand place: index of the nearest site (-1 if none) and its metres (NaN if none).

        Ties go to the lowest site index.
        """
        site = np.full(self.shape[1], -1, dtype=np.int64)
        dist = np.full(self.shape[1], np.nan)
        if self.nnz:
            order = np.lexsort((self.rows, self.metres, self.cols))
            cols = self.cols[order]
            first = np.ones(len(cols), dtype=bool)
            first[1:] = cols[1:] != cols[:-1]
            site[cols[first]] = self.rows[order][first]
            dist[cols[first]] = self.metres[order][first]
        return site, dist

    @classmethod
    def compute(
        cls,
        network: WalkNetwork,
        site_snap: Snap,
        demand_snap: Snap,
        cutoff_m: float,
        *,
        site_ids=None,
        demand_ids=None,
        include_access_legs: bool = True,
        engine: str = "auto",
        chunk_size: int = 128,
        progress: bool | None = None,
    ) -> AccessMatrix:
        """Compute walk distances from every site to every demand place within ``cutoff_m``.

        Parameters
        ----------
        network : the walking network.
        site_snap, demand_snap : where sites and demand places join the network.
        cutoff_m : search limit in metres (walk time × speed).
        site_ids, demand_ids : labels kept on the matrix (default 0..n-1).
        include_access_legs : add the straight legs from each place to its edge.
        engine : ``"c"`` (bounded Dijkstra in the bundled C kernel, cost grows
            with what each walk reaches), ``"scipy"`` (csgraph Dijkstra in
            batches of ``chunk_size`` sites) or ``"auto"`` (C when built).
            Both give the same pairs and metres.
        chunk_size : sites per batch; bounds memory to chunk × nodes (SciPy) and
            sets the progress granularity.
        progress : show a progress bar (default: only on a terminal).

        Memory: the pairs found (24 bytes each) and arrays sized by the places;
        the C kernel also keeps 24 bytes per network node per worker thread
        between calls (at most 4 threads), never sites × nodes, and its own
        checked copy of the network (about 8 bytes a node and 12 an edge) while
        the network is alive.
        """
        n_sites, n_demand = len(site_snap), len(demand_snap)
        site_ids = np.arange(n_sites) if site_ids is None else np.asarray(site_ids)
        demand_ids = np.arange(n_demand) if demand_ids is None else np.asarray(demand_ids)
        legs_s = np.nan_to_num(site_snap.leg_m) if include_access_legs else np.zeros(n_sites)
        legs_d = np.nan_to_num(demand_snap.leg_m) if include_access_legs else np.zeros(n_demand)
        # Each site may spend on the network what its own access leg leaves of the cutoff.
        budget = np.where(site_snap.snapped, cutoff_m - legs_s, -1.0)

        if engine not in ("auto", "c", "scipy"):
            raise ValueError(f"engine must be 'auto', 'c' or 'scipy', not {engine!r}")
        if engine == "c" and _kernel is None:
            raise RuntimeError("the C walk kernel is not built; reinstall with a C compiler or use engine='scipy'")
        if engine == "auto" and _kernel is None:
            _warn_scipy_fallback()
        use_c = engine == "c" or (engine == "auto" and _kernel is not None)
        if use_c:
            walks = _c_walks(network, site_snap, demand_snap, budget, legs_s, legs_d, float(cutoff_m))
        else:
            walks = _scipy_walks(network, site_snap, demand_snap, budget)
        sources = np.flatnonzero(budget >= 0)
        chunks = [sources[i : i + chunk_size] for i in range(0, len(sources), chunk_size)]
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        show = None if progress is None else progress
        with tqdm(
            total=len(sources), desc="Walk distances", unit=" sites", disable=None if show is None else not show
        ) as bar:
            for chunk, (r, c, m) in zip(chunks, _map_chunks(walks, chunks, threads=use_c)):
                found.append((r, c, m) if use_c else (chunk[r], c, m))
                bar.update(len(chunk))
        rows, cols, metres = (np.concatenate([f[i] for f in found]) if found else np.zeros(0) for i in range(3))
        rows, cols = rows.astype(np.int64, copy=False), cols.astype(np.int64, copy=False)
        if not use_c:  # the C kernel adds the legs, the walks along a shared edge and the cutoff itself
            rows, cols, metres = _merge_same_edge_walks(rows, cols, metres, site_snap, demand_snap)
            metres = metres + legs_s[rows] + legs_d[cols]
            keep = metres <= cutoff_m
            rows, cols, metres = rows[keep], cols[keep], metres[keep]
        return cls(site_ids, demand_ids, rows, cols, metres, float(cutoff_m), include_access_legs)


def _map_chunks(walks, chunks, *, threads: bool):
    """Apply ``walks`` to each chunk in order; in threads when the C kernel releases the GIL."""
    if threads and len(chunks) > 1:
        yield from _pool().map(walks, chunks)
    else:
        yield from map(walks, chunks)


_POOL: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    """One pool per process: starting threads on every call costs about a millisecond.

    Keyed by process id: a forked child (multiprocessing, a forking server)
    inherits the pool object but not its threads, and would wait forever.
    """
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=settings.walk_threads(), thread_name_prefix="walks"))
    return _POOL[1]


def _c_walks(
    network: WalkNetwork,
    site_snap: Snap,
    demand_snap: Snap,
    budget: np.ndarray,
    legs_s: np.ndarray,
    legs_d: np.ndarray,
    cutoff_m: float,
):
    """Prepare the C kernel; the returned function gives (site, place, metres) of a chunk of sites.

    Metres are whole walks: the site's access leg, the network part (along a
    shared edge, or via the edges' ends) and the place's access leg; only
    walks within ``cutoff_m`` are returned. The kernel checks every array it
    is given (dtype, lengths, index ranges) and raises ``ValueError`` rather
    than read out of bounds.
    """
    graph = _kernel_graph(network)
    dem_node, dem_idx, dem_off = _demand_entries(network, demand_snap)
    # Places on each site's own edge: a range of the places sorted by edge.
    edge_idx, edge_along, edge_lo, edge_hi = _places_on_site_edges(site_snap, demand_snap)
    site_legs = np.ascontiguousarray(legs_s, dtype=np.float64)
    demand_legs = np.ascontiguousarray(legs_d, dtype=np.float64)
    edge = np.maximum(site_snap.edge, 0)
    site_from_u = np.ascontiguousarray(np.nan_to_num(site_snap.from_u_m), dtype=np.float64)  # also how far along
    src_a = np.ascontiguousarray(network.edge_u[edge], dtype=np.int64)
    src_b = np.ascontiguousarray(network.edge_v[edge], dtype=np.int64)
    off_b = np.ascontiguousarray(np.nan_to_num(site_snap.to_v_m), dtype=np.float64)
    budget = np.ascontiguousarray(budget, dtype=np.float64)

    def walks(chunk: np.ndarray):
        raw = _kernel.bounded_walks(
            graph=graph,
            src_a=src_a[chunk],
            off_a=site_from_u[chunk],
            src_b=src_b[chunk],
            off_b=off_b[chunk],
            budget=budget[chunk],
            edge_lo=edge_lo[chunk],
            edge_hi=edge_hi[chunk],
            src_along=site_from_u[chunk],
            src_id=np.ascontiguousarray(chunk, dtype=np.int64),
            src_leg=site_legs[chunk],
            dem_node=dem_node,
            dem_idx=dem_idx,
            dem_off=dem_off,
            edge_dem_idx=edge_idx,
            edge_dem_along=edge_along,
            dem_leg=demand_legs,
            n_places=len(demand_snap),
            cutoff=cutoff_m,
        )
        return tuple(np.frombuffer(b, dtype=t) for b, t in zip(raw, (np.int64, np.int64, np.float64)))

    return walks


# The kernel's copy of each network's CSR, checked once (see _walkkernel.c); dropped with the network.
# No lock: dict reads and writes are atomic, and two threads racing only build the same Graph twice.
_GRAPHS: dict[int, tuple[weakref.ref, object]] = {}


def _kernel_graph(network: WalkNetwork):
    """The network as a checked kernel ``Graph``, built on first use and kept while the network lives.

    Checking the CSR (O(nodes + edges)) on every chunk would make each call
    scale with the city instead of the walks, so it is done once per network.
    """
    key = id(network)
    hit = _GRAPHS.get(key)
    if hit is not None and hit[0]() is network:
        return hit[1]
    indptr, indices, weights = network.routing_arrays
    graph = _kernel.Graph(n_nodes=network.n_nodes, indptr=indptr, indices=indices, weights=weights)

    def forget(ref: weakref.ref, key: int = key) -> None:
        if _GRAPHS.get(key, (None,))[0] is ref:
            _GRAPHS.pop(key, None)

    _GRAPHS[key] = (weakref.ref(network, forget), graph)
    return graph


def _scipy_walks(network: WalkNetwork, site_snap: Snap, demand_snap: Snap, budget: np.ndarray):
    """Prepare SciPy's csgraph Dijkstra from one source node per site (same contract as `_c_walks`)."""
    graph = graph_with_site_sources(network, site_snap)
    d_ok = np.flatnonzero(demand_snap.snapped)
    du, dv = network.edge_u[demand_snap.edge[d_ok]], network.edge_v[demand_snap.edge[d_ok]]
    d_from_u, d_to_v = demand_snap.from_u_m[d_ok], demand_snap.to_v_m[d_ok]

    def walks(chunk: np.ndarray):
        dist = dijkstra(graph, directed=True, indices=network.n_nodes + chunk, limit=budget[chunk].max())
        # Enter each demand's edge from whichever end is nearer.
        walk = np.minimum(dist[:, du] + d_from_u, dist[:, dv] + d_to_v)
        r, c = np.nonzero(walk <= budget[chunk, None])
        return r, d_ok[c], walk[r, c]

    return walks


def _demand_entries(network: WalkNetwork, snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, place, metres from that node along the place's edge): two entries per snapped place, one per edge end.

    Sized by the places, never by the network: the kernel threads them into
    per-node lists itself.
    """
    ok = np.flatnonzero(snap.snapped)
    nodes = np.concatenate([network.edge_u[snap.edge[ok]], network.edge_v[snap.edge[ok]]])
    places = np.concatenate([ok, ok])
    offsets = np.concatenate([snap.from_u_m[ok], snap.to_v_m[ok]])
    return nodes.astype(np.int64), places.astype(np.int64), offsets.astype(np.float64)


def _places_on_site_edges(site_snap: Snap, demand_snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Places sorted by edge (index, metres from the edge's u end), and each site's [lo, hi) range of them."""
    ok = np.flatnonzero(demand_snap.snapped)
    edges = demand_snap.edge[ok]
    order = np.lexsort((ok, edges))
    edges = edges[order]
    site_edge = np.where(site_snap.snapped, site_snap.edge, -1)
    lo = np.searchsorted(edges, site_edge, side="left")
    hi = np.where(site_edge >= 0, np.searchsorted(edges, site_edge, side="right"), lo)
    return (
        ok[order].astype(np.int64),
        demand_snap.from_u_m[ok][order].astype(np.float64),
        lo.astype(np.int64),
        hi.astype(np.int64),
    )


def _merge_same_edge_walks(rows, cols, metres, site_snap: Snap, demand_snap: Snap):
    """Add the walks straight along a shared edge to pairs sorted by (site, place), keeping the shorter."""
    n_demand = max(len(demand_snap), 1)
    d_rows, d_cols, d_metres = _same_edge_walks(site_snap, demand_snap)
    keys = rows * n_demand + cols
    d_keys = d_rows * n_demand + d_cols
    order = np.argsort(d_keys, kind="stable")
    d_keys, d_metres = d_keys[order], d_metres[order]
    pos = np.searchsorted(keys, d_keys)
    hit = pos < len(keys)
    hit[hit] = keys[pos[hit]] == d_keys[hit]
    metres = metres.copy()
    metres[pos[hit]] = np.minimum(metres[pos[hit]], d_metres[hit])
    miss = ~hit
    keys = np.insert(keys, pos[miss], d_keys[miss])
    metres = np.insert(metres, pos[miss], d_metres[miss])
    return keys // n_demand, keys % n_demand, metres


def _same_edge_walks(site_snap: Snap, demand_snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walks straight along a shared edge, for every site and place snapped to the same edge."""
    d_ok = np.flatnonzero(demand_snap.snapped)
    by_edge = d_ok[np.argsort(demand_snap.edge[d_ok], kind="stable")]
    d_edges = demand_snap.edge[by_edge]
    s_ok = np.flatnonzero(site_snap.snapped)
    lo = np.searchsorted(d_edges, site_snap.edge[s_ok], side="left")
    hi = np.searchsorted(d_edges, site_snap.edge[s_ok], side="right")
    counts = hi - lo
    rows = np.repeat(s_ok, counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = by_edge[np.repeat(lo, counts) + within]
    return rows, cols, np.abs(demand_snap.from_u_m[cols] - site_snap.from_u_m[rows])


def graph_with_site_sources(network: WalkNetwork, snap: Snap) -> sparse.csr_matrix:
    """The network's CSR plus one source-only node per site, joined to both ends of its edge."""
    n, k = network.n_nodes, len(snap)
    ok = np.flatnonzero(snap.snapped)
    u = network.edge_u[snap.edge[ok]]
    v = network.edge_v[snap.edge[ok]]
    extra_rows = np.concatenate([n + ok, n + ok])
    extra_cols = np.concatenate([u, v])
    extra_w = np.concatenate([snap.from_u_m[ok], snap.to_v_m[ok]])
    # On a loop edge (u == v) both entries hit one node: keep the shorter way round.
    order = np.lexsort((extra_w, extra_cols, extra_rows))
    extra_rows, extra_cols, extra_w = extra_rows[order], extra_cols[order], extra_w[order]
    first = np.ones(len(extra_rows), dtype=bool)
    first[1:] = (extra_rows[1:] != extra_rows[:-1]) | (extra_cols[1:] != extra_cols[:-1])
    base = network.csr.tocoo()
    return sparse.csr_matrix(
        (
            np.concatenate([base.data, extra_w[first]]),
            (np.concatenate([base.row, extra_rows[first]]), np.concatenate([base.col, extra_cols[first]])),
        ),
        shape=(n + k, n + k),
    )
