"""Walk distances from sites to demand places over the network.

`AccessMatrix.compute` runs a bounded Dijkstra from every site (in the
bundled C kernel, or SciPy csgraph) and keeps, sparsely, each site × demand
pair reachable within the cutoff. Places sit on edges, not nodes: each site enters the graph as an
extra source node joined to both ends of its edge, and each demand place is
reached through whichever end of its edge is nearer (or directly along the
edge when a site shares it).

On a profile's view of the network (`WalkNetwork.for_profile`) the search
runs on the view's costs (equivalent metres: time × the profile's speed):
the kernel gets the cost weights, and each place's offsets along its edge
are turned into costs here (``metres × scale`` plus the crossing wait at the
end it leaves by). One-way edges (drive) are entered and left their way only.
`route_details` reads the chosen routes back (their length in metres, steps
and main-road crossings).
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from coverage_planner._errors import DataError
from coverage_planner.access.snapping import Snap
from coverage_planner.access.thread_pool import walk_pool
from coverage_planner.network.graph import WalkNetwork

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

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

    On a profile's view of the network (`WalkNetwork.for_profile`) "metres"
    are costs in equivalent metres (minutes × the profile's metres per
    minute); on a plain network they are network metres.

    Parameters
    ----------
    site_ids, demand_ids : ndarray
        Identifiers in matrix order.
    rows, cols : ndarray of int64
        The reachable pairs (site index, demand index), sorted by site then demand.
    metres : ndarray of float
        Walk metres of each pair; they include both access legs when
        ``include_access_legs`` was set.
    cutoff_m : float
        The search limit; pairs farther apart are absent.
    include_access_legs : bool, default True
        Whether ``metres`` count the straight legs from each place to its edge.

    Attributes
    ----------
    shape : tuple of int
        (sites, demand places).
    nnz : int
        Number of reachable pairs.
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
        """(sites, demand places)."""
        return (len(self.site_ids), len(self.demand_ids))

    @property
    def nnz(self) -> int:
        """Number of reachable pairs (zeros included)."""
        return len(self.metres)

    def to_csr(self) -> sparse.csr_matrix:
        """The matrix as SciPy CSR. A pair at 0 m is stored as an explicit zero.

        Use ``.to_csr().nonzero()`` with care: zeros are real, reachable pairs;
        the structure (``indptr``/``indices``) is what says "reachable".

        Returns
        -------
        scipy.sparse.csr_matrix
            Sites × demand places, walk metres where reachable.
        """
        m = sparse.csr_matrix((self.metres, (self.rows, self.cols)), shape=self.shape)
        return m

    def covers(self, cutoff_m: float | None = None) -> sparse.csr_matrix:
        """Boolean site × demand matrix: True where the walk is ≤ ``cutoff_m``.

        Parameters
        ----------
        cutoff_m : float, optional
            The threshold; default the matrix's own cutoff. A larger one finds
            nothing more: pairs beyond the cutoff were never kept.

        Returns
        -------
        scipy.sparse.csr_matrix of bool
            Sites × demand places.
        """
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
        DataError
            When the two do not share demand places, cutoff or access-leg rule.
        """
        if not np.array_equal(top.demand_ids, bottom.demand_ids):
            raise DataError("stacked matrices must cover the same demand places in the same order")
        if top.cutoff_m != bottom.cutoff_m or top.include_access_legs != bottom.include_access_legs:
            raise DataError("stacked matrices must share the cutoff and the access-leg rule")
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

        Returns
        -------
        site : ndarray of int64
            Row of the nearest site per demand place, -1 where none is within the cutoff.
        metres : ndarray of float
            Its walk metres, NaN where none.
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
        site_ids: ArrayLike | None = None,
        demand_ids: ArrayLike | None = None,
        include_access_legs: bool = True,
        engine: str = "auto",
        chunk_size: int = 128,
        progress: bool | None = None,
    ) -> AccessMatrix:
        """Compute walk distances from every site to every demand place within ``cutoff_m``.

        Parameters
        ----------
        network : WalkNetwork
            The walking network (or a profile's view: then costs, in equivalent metres).
        site_snap, demand_snap : Snap
            Where sites and demand places join the network.
        cutoff_m : float
            Search limit in metres (walk time × speed).
        site_ids, demand_ids : array-like, optional
            Labels kept on the matrix (default 0..n-1).
        include_access_legs : bool, default True
            Add the straight legs from each place to its edge.
        engine : {"auto", "c", "scipy"}, default "auto"
            ``"c"`` (bounded Dijkstra in the bundled C kernel, cost grows
            with what each walk reaches), ``"scipy"`` (csgraph Dijkstra in
            batches of ``chunk_size`` sites) or ``"auto"`` (C when built).
            Both give the same pairs and metres.
        chunk_size : int, default 128
            Sites per batch; bounds memory to chunk × nodes (SciPy) and
            sets the progress granularity.
        progress : bool, optional
            Show a progress bar (default: only on a terminal).

        Returns
        -------
        AccessMatrix

        Raises
        ------
        DataError
            For an unknown ``engine``, or ``engine="c"`` when the kernel is not built.

        Notes
        -----
        Memory: the pairs found (24 bytes each) and arrays sized by the places;
        the C kernel also keeps, per worker thread between calls (at most 4
        threads), 24 bytes per network node and about 32 per place of the
        largest call so far, never sites × nodes, and its own
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
            raise DataError(f"engine must be 'auto', 'c' or 'scipy', not {engine!r}")
        if engine == "c" and _kernel is None:
            raise DataError("the C walk kernel is not built; reinstall with a C compiler or use engine='scipy'")
        if engine == "auto" and _kernel is None:
            _warn_scipy_fallback()
        use_c = engine == "c" or (engine == "auto" and _kernel is not None)
        if use_c:
            walks = _c_walks(network, site_snap, demand_snap, budget, legs_s, legs_d, float(cutoff_m))
        else:
            walks = _scipy_walks(network, site_snap, demand_snap, budget)
        one_way = _one_way_edges(network)
        sources = np.flatnonzero(budget >= 0)
        chunks = [sources[i : i + chunk_size] for i in range(0, len(sources), chunk_size)]
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        show = None if progress is None else progress
        from tqdm.auto import tqdm  # here, not at import: tqdm.auto loads asyncio; cached runs never walk

        with tqdm(
            total=len(sources), desc="Walk distances", unit=" sites", disable=None if show is None else not show
        ) as bar:
            for chunk, (r, c, m) in zip(chunks, _map_chunks(walks, chunks, threads=use_c)):
                found.append((r, c, m) if use_c else (chunk[r], c, m))
                bar.update(len(chunk))
        rows, cols, metres = (np.concatenate([f[i] for f in found]) if found else np.zeros(0) for i in range(3))
        rows, cols = rows.astype(np.int64, copy=False), cols.astype(np.int64, copy=False)
        if not use_c:  # the C kernel adds the legs, the walks along a shared edge and the cutoff itself
            rows, cols, metres = _merge_same_edge_walks(rows, cols, metres, site_snap, demand_snap, network)
            metres = metres + legs_s[rows] + legs_d[cols]
            keep = metres <= cutoff_m
            rows, cols, metres = rows[keep], cols[keep], metres[keep]
        elif one_way is not None:
            # The kernel walks a shared edge both ways; along a one-way edge only one way is allowed.
            r, c, m = _same_edge_walks(site_snap, demand_snap, network, only=one_way)
            within = m <= budget[r]
            r, c, m = r[within], c[within], m[within]
            m = (m + legs_s[r]) + legs_d[c]
            keep = m <= cutoff_m
            rows, cols, metres = _merge_min(rows, cols, metres, r[keep], c[keep], m[keep], n_demand)
        return cls(site_ids, demand_ids, rows, cols, metres, float(cutoff_m), include_access_legs)


def _map_chunks(walks, chunks, *, threads: bool):
    """Apply ``walks`` to each chunk in order; in threads when the C kernel releases the GIL."""
    if threads and len(chunks) > 1:
        yield from walk_pool().map(walks, chunks)
    else:
        yield from map(walks, chunks)


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
    edge_idx, edge_along, edge_lo, edge_hi = _places_on_site_edges(site_snap, demand_snap, network)
    site_legs = np.ascontiguousarray(legs_s, dtype=np.float64)
    demand_legs = np.ascontiguousarray(legs_d, dtype=np.float64)
    edge = np.maximum(site_snap.edge, 0)
    src_a = np.ascontiguousarray(network.edge_u[edge], dtype=np.int64)
    src_b = np.ascontiguousarray(network.edge_v[edge], dtype=np.int64)
    if network.costs is None:
        site_from_u = np.ascontiguousarray(np.nan_to_num(site_snap.from_u_m), dtype=np.float64)  # also how far along
        off_a, site_along = site_from_u, site_from_u
        off_b = np.ascontiguousarray(np.nan_to_num(site_snap.to_v_m), dtype=np.float64)
    else:
        to_u, to_v, along = _leave_costs(network, site_snap)
        off_a = np.ascontiguousarray(np.nan_to_num(to_u, nan=_FAR, posinf=_FAR), dtype=np.float64)
        off_b = np.ascontiguousarray(np.nan_to_num(to_v, nan=_FAR, posinf=_FAR), dtype=np.float64)
        site_along = np.ascontiguousarray(np.nan_to_num(along), dtype=np.float64)
    budget = np.ascontiguousarray(budget, dtype=np.float64)

    def walks(chunk: np.ndarray):
        raw = _kernel.bounded_walks(
            graph=graph,
            src_a=src_a[chunk],
            off_a=off_a[chunk],
            src_b=src_b[chunk],
            off_b=off_b[chunk],
            budget=budget[chunk],
            edge_lo=edge_lo[chunk],
            edge_hi=edge_hi[chunk],
            src_along=site_along[chunk],
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
    from scipy.sparse.csgraph import dijkstra  # here: csgraph costs ~0.1 s to import and the C kernel needs none

    graph = graph_with_site_sources(network, site_snap)
    d_ok = np.flatnonzero(demand_snap.snapped)
    du, dv = network.edge_u[demand_snap.edge[d_ok]], network.edge_v[demand_snap.edge[d_ok]]
    if network.costs is None:
        d_from_u, d_to_v = demand_snap.from_u_m[d_ok], demand_snap.to_v_m[d_ok]
    else:
        from_u, from_v = _arrive_costs(network, demand_snap)
        d_from_u, d_to_v = from_u[d_ok], from_v[d_ok]

    def walks(chunk: np.ndarray):
        dist = dijkstra(graph, directed=True, indices=network.n_nodes + chunk, limit=budget[chunk].max())
        # Enter each demand's edge from whichever end is nearer.
        walk = np.minimum(dist[:, du] + d_from_u, dist[:, dv] + d_to_v)
        r, c = np.nonzero(walk <= budget[chunk, None])
        return r, d_ok[c], walk[r, c]

    return walks


# A finite offset beyond any budget: the kernel skips a start it cannot afford (one-way edges).
_FAR = float(np.finfo(np.float64).max)


def _leave_costs(network: WalkNetwork, snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Costs from each place to its edge's u and v ends (inf where the edge runs the other way), and its cost along.

    Leaving towards u travels the edge v → u, towards v u → v; the end's
    crossing wait is paid on reaching it. "Along" is the place's position
    in cost from u (``from_u_m × scale``), for walks straight along a shared edge.
    """
    costs = network.costs
    edge = np.maximum(snap.edge, 0)
    if costs is None:
        return snap.from_u_m, snap.to_v_m, snap.from_u_m
    scale = costs.scale[edge]
    to_u = np.where(costs.backward[edge], snap.from_u_m * scale + costs.end_u[edge], np.inf)
    to_v = np.where(costs.forward[edge], snap.to_v_m * scale + costs.end_v[edge], np.inf)
    return to_u, to_v, snap.from_u_m * scale


def _arrive_costs(network: WalkNetwork, snap: Snap) -> tuple[np.ndarray, np.ndarray]:
    """Costs from each edge end to the place on it (inf where the edge runs the other way)."""
    costs = network.costs
    edge = np.maximum(snap.edge, 0)
    if costs is None:
        return snap.from_u_m, snap.to_v_m
    scale = costs.scale[edge]
    from_u = np.where(costs.forward[edge], snap.from_u_m * scale + costs.end_u[edge], np.inf)
    from_v = np.where(costs.backward[edge], snap.to_v_m * scale + costs.end_v[edge], np.inf)
    return from_u, from_v


def _one_way_edges(network: WalkNetwork) -> np.ndarray | None:
    """Edges that may be travelled one way only (None when there are none: walking)."""
    costs = network.costs
    if costs is None or not costs.directed:
        return None
    return costs.forward != costs.backward


def _demand_entries(network: WalkNetwork, snap: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, place, metres from that node along the place's edge): two entries per snapped place, one per edge end.

    Sized by the places, never by the network: the kernel threads them into
    per-node lists itself. On a costed view the metres are costs, and a
    one-way edge's place is reached from the end it is entered by only.
    """
    ok = np.flatnonzero(snap.snapped)
    if network.costs is None:
        nodes = np.concatenate([network.edge_u[snap.edge[ok]], network.edge_v[snap.edge[ok]]])
        places = np.concatenate([ok, ok])
        offsets = np.concatenate([snap.from_u_m[ok], snap.to_v_m[ok]])
        return nodes.astype(np.int64), places.astype(np.int64), offsets.astype(np.float64)
    from_u, from_v = _arrive_costs(network, snap)
    by_u, by_v = ok[np.isfinite(from_u[ok])], ok[np.isfinite(from_v[ok])]
    nodes = np.concatenate([network.edge_u[snap.edge[by_u]], network.edge_v[snap.edge[by_v]]])
    places = np.concatenate([by_u, by_v])
    offsets = np.concatenate([from_u[by_u], from_v[by_v]])
    return nodes.astype(np.int64), places.astype(np.int64), offsets.astype(np.float64)


def _places_on_site_edges(
    site_snap: Snap, demand_snap: Snap, network: WalkNetwork | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Places sorted by edge (index, position from the edge's u end), and each site's [lo, hi) range of them.

    Positions are metres, or costs on a costed view. Sites on one-way edges
    get an empty range: the kernel would walk their edge both ways (see
    `AccessMatrix.compute`, which adds those walks itself).
    """
    ok = np.flatnonzero(demand_snap.snapped)
    edges = demand_snap.edge[ok]
    order = np.lexsort((ok, edges))
    edges = edges[order]
    site_edge = np.where(site_snap.snapped, site_snap.edge, -1)
    one_way = _one_way_edges(network) if network is not None else None
    if one_way is not None:
        site_edge = np.where((site_edge >= 0) & one_way[np.maximum(site_edge, 0)], -1, site_edge)
    lo = np.searchsorted(edges, site_edge, side="left")
    hi = np.where(site_edge >= 0, np.searchsorted(edges, site_edge, side="right"), lo)
    along = demand_snap.from_u_m[ok][order]
    if network is not None and network.costs is not None:
        along = along * network.costs.scale[edges]
    return (
        ok[order].astype(np.int64),
        along.astype(np.float64),
        lo.astype(np.int64),
        hi.astype(np.int64),
    )


def _merge_min(rows, cols, metres, d_rows, d_cols, d_metres, n_demand: int):
    """Pairs sorted by (site, place) with more pairs merged in: the smaller value where both have a pair."""
    n_demand = max(n_demand, 1)
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


def _merge_same_edge_walks(rows, cols, metres, site_snap: Snap, demand_snap: Snap, network: WalkNetwork | None = None):
    """Add the walks straight along a shared edge to pairs sorted by (site, place), keeping the shorter."""
    d_rows, d_cols, d_metres = _same_edge_walks(site_snap, demand_snap, network)
    return _merge_min(rows, cols, metres, d_rows, d_cols, d_metres, len(demand_snap))


def _same_edge_walks(
    site_snap: Snap, demand_snap: Snap, network: WalkNetwork | None = None, *, only: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walks straight along a shared edge, for every site and place snapped to the same edge.

    On a costed view the walks are costs (``|Δ metres| × scale``), and along
    a one-way edge only the places ahead of the site are reached. ``only``
    (a mask of edges) keeps the sites on those edges.
    """
    rows, cols, metres = _same_edge_pairs(site_snap, demand_snap, only)
    if network is None or network.costs is None:
        return rows, cols, metres
    costs = network.costs
    edge = site_snap.edge[rows]
    ahead = demand_snap.from_u_m[cols] >= site_snap.from_u_m[rows]
    behind = demand_snap.from_u_m[cols] <= site_snap.from_u_m[rows]
    allowed = (ahead & costs.forward[edge]) | (behind & costs.backward[edge])
    return rows[allowed], cols[allowed], (metres * costs.scale[edge])[allowed]


def _same_edge_pairs(
    site_snap: Snap, demand_snap: Snap, only: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, place, metres apart) of every site and place snapped to the same edge."""
    d_ok = np.flatnonzero(demand_snap.snapped)
    by_edge = d_ok[np.argsort(demand_snap.edge[d_ok], kind="stable")]
    d_edges = demand_snap.edge[by_edge]
    s_ok = np.flatnonzero(site_snap.snapped)
    if only is not None:
        s_ok = s_ok[only[site_snap.edge[s_ok]]]
    lo = np.searchsorted(d_edges, site_snap.edge[s_ok], side="left")
    hi = np.searchsorted(d_edges, site_snap.edge[s_ok], side="right")
    counts = hi - lo
    rows = np.repeat(s_ok, counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = by_edge[np.repeat(lo, counts) + within]
    return rows, cols, np.abs(demand_snap.from_u_m[cols] - site_snap.from_u_m[rows])


def graph_with_site_sources(network: WalkNetwork, snap: Snap) -> sparse.csr_matrix:
    """The network's CSR plus one source-only node per site, joined to both ends of its edge.

    Parameters
    ----------
    network : WalkNetwork
        The network, or a profile's view of it: then the weights are its
        costs (`WalkNetwork.cost_csr`) and each site's links to its edge's
        ends are costs too (none towards an end a one-way edge does not run to).
    snap : Snap
        Where each site joins the network.

    Returns
    -------
    scipy.sparse.csr_matrix
        (n + k) × (n + k): node n + i is site i.
    """
    n, k = network.n_nodes, len(snap)
    ok = np.flatnonzero(snap.snapped)
    u = network.edge_u[snap.edge[ok]]
    v = network.edge_v[snap.edge[ok]]
    extra_rows = np.concatenate([n + ok, n + ok])
    extra_cols = np.concatenate([u, v])
    to_u, to_v, _ = _leave_costs(network, snap)
    extra_w = np.concatenate([to_u[ok], to_v[ok]])
    allowed = np.isfinite(extra_w)
    extra_rows, extra_cols, extra_w = extra_rows[allowed], extra_cols[allowed], extra_w[allowed]
    # On a loop edge (u == v) both entries hit one node: keep the shorter way round.
    order = np.lexsort((extra_w, extra_cols, extra_rows))
    extra_rows, extra_cols, extra_w = extra_rows[order], extra_cols[order], extra_w[order]
    first = np.ones(len(extra_rows), dtype=bool)
    first[1:] = (extra_rows[1:] != extra_rows[:-1]) | (extra_cols[1:] != extra_cols[:-1])
    base = network.cost_csr.tocoo()
    return sparse.csr_matrix(
        (
            np.concatenate([base.data, extra_w[first]]),
            (np.concatenate([base.row, extra_rows[first]]), np.concatenate([base.col, extra_cols[first]])),
        ),
        shape=(n + k, n + k),
    )


@dataclass
class RouteDetails:
    """What the chosen route of each demand place is made of (arrays aligned with the places).

    Parameters
    ----------
    length_m : ndarray of float
        Metres of the route: network metres plus the access legs when they
        were counted (NaN where no site was reached).
    steps : ndarray of int
        Flights of steps on it (runs of consecutive ``highway=steps`` edges).
    steps_m : ndarray of float
        Metres of steps on it.
    crossings : ndarray of int
        Main-road crossings passed (nodes where the route meets a main road
        from a side street or footway; see `WalkNetwork.crossing_ends`).
    signal_crossings : ndarray of int
        Of those, the ones with signals.
    edges, nodes : ndarray of object, optional
        With ``paths=True``: per place, the edges of its route from the
        site's edge to its own (int64 array; one edge for a walk straight
        along a shared edge) and the network nodes passed between them, in
        the same order (one fewer than the edges); None for places not reached.
    """

    length_m: np.ndarray
    steps: np.ndarray
    steps_m: np.ndarray
    crossings: np.ndarray
    signal_crossings: np.ndarray
    edges: np.ndarray | None = None
    nodes: np.ndarray | None = None


def route_details(
    network: WalkNetwork,
    site_snap: Snap,
    demand_snap: Snap,
    site_of_place: np.ndarray,
    cutoff_m: float,
    *,
    include_access_legs: bool = True,
    chunk_entries: int = 4_000_000,
    paths: bool = False,
) -> RouteDetails:
    """Read back the cheapest route from a given site to each place: its metres, steps and main-road crossings.

    The walk kernel returns costs only, so the routes are searched again,
    from the sites that are someone's nearest only, with SciPy's Dijkstra on
    the same weights (`graph_with_site_sources`) and its predecessors; then
    every place's route is followed back to its site, all places in step.
    Where two routes cost exactly the same, either may be read back.

    Parameters
    ----------
    network : WalkNetwork
        The network the costs were computed on (a profile's view, or a plain network).
    site_snap, demand_snap : Snap
        Where sites and places join it.
    site_of_place : ndarray of int
        For each place, the site (row in ``site_snap``) whose route to read; -1 for none.
    cutoff_m : float
        The search limit in cost units (as `AccessMatrix.compute` had).
    include_access_legs : bool, default True
        Add the access legs to ``length_m`` (as walk metres do).
    chunk_entries : int, default 4_000_000
        Sites searched together × nodes: bounds memory (16 bytes an entry).
    paths : bool, default False
        Also return each route's edges and nodes (`RouteDetails.edges`, ``nodes``), to draw it.

    Returns
    -------
    RouteDetails
    """
    from scipy.sparse.csgraph import dijkstra

    n, n_places = network.n_nodes, len(demand_snap)
    site_of_place = np.asarray(site_of_place, dtype=np.int64)
    out = RouteDetails(
        np.full(n_places, np.nan),
        np.zeros(n_places, dtype=np.int64),
        np.zeros(n_places),
        np.zeros(n_places, dtype=np.int64),
        np.zeros(n_places, dtype=np.int64),
        np.full(n_places, None, dtype=object) if paths else None,
        np.full(n_places, None, dtype=object) if paths else None,
    )
    places = np.flatnonzero((site_of_place >= 0) & demand_snap.snapped)
    places = places[site_snap.snapped[site_of_place[places]]]
    if len(places) == 0:
        return out
    if network.costs is not None:
        steps, cross_u, cross_v = network.costs.steps, network.costs.crossing_u, network.costs.crossing_v
    else:
        steps = np.asarray(network.edge_highway, dtype=object) == "steps"
        cross_u, cross_v = network.crossing_ends()
    graph = graph_with_site_sources(network, site_snap)
    arc_ptr, arc_to, _, arc_edge = network.routing_arcs
    # Arc (p, x) -> its edge: rows are sorted by node, then by target.
    arc_key = np.repeat(np.arange(n, dtype=np.int64), np.diff(arc_ptr)) * n + arc_to
    s_to_u, s_to_v, s_along = _leave_costs(network, site_snap)
    d_from_u, d_from_v = _arrive_costs(network, demand_snap)
    d_along = _leave_costs(network, demand_snap)[2]
    costs = network.costs
    sites = np.unique(site_of_place[places])
    per_chunk = max(1, chunk_entries // (n + len(site_snap)))
    for start in range(0, len(sites), per_chunk):
        chunk = sites[start : start + per_chunk]
        dist, pred = dijkstra(graph, directed=True, indices=n + chunk, return_predecessors=True, limit=float(cutoff_m))
        mine = places[np.isin(site_of_place[places], chunk)]
        row = np.searchsorted(chunk, site_of_place[mine])
        site = site_of_place[mine]
        d_edge, s_edge = demand_snap.edge[mine], site_snap.edge[site]
        du, dv = network.edge_u[d_edge], network.edge_v[d_edge]
        via_u = dist[row, du] + d_from_u[mine]
        via_v = dist[row, dv] + d_from_v[mine]
        # Straight along a shared edge (the kernel tries it first, so it wins ties).
        same = np.full(len(mine), np.inf)
        shared = s_edge == d_edge
        if shared.any():
            delta = demand_snap.from_u_m[mine] - site_snap.from_u_m[site]
            allowed = shared.copy()
            if costs is not None:
                allowed &= ((delta >= 0) & costs.forward[d_edge]) | ((delta <= 0) & costs.backward[d_edge])
            along = np.abs(d_along[mine] - s_along[site])
            same[allowed] = along[allowed]
        straight = same <= np.minimum(via_u, via_v)
        reached = straight | np.isfinite(np.minimum(via_u, via_v))
        by_u = ~straight & (via_u <= via_v)
        # Straight walks: one piece of one edge.
        metres = np.abs(demand_snap.from_u_m[mine] - site_snap.from_u_m[site])
        length = np.where(straight, metres, 0.0)
        n_steps = np.where(straight & steps[d_edge], 1, 0)
        steps_m = np.where(straight & steps[d_edge], metres, 0.0)
        crossings = np.zeros(len(mine), dtype=np.int64)
        signals = np.zeros(len(mine), dtype=np.int64)
        # Routes via the network: from the place's edge end back to the site, in step.
        node = np.where(by_u, du, dv)
        part = np.where(by_u, demand_snap.from_u_m[mine], demand_snap.to_v_m[mine])
        active = reached & ~straight
        length = np.where(active, part, length)
        n_steps = np.where(active & steps[d_edge], 1, n_steps)
        steps_m = np.where(active & steps[d_edge], part, steps_m)
        after = d_edge.copy()  # the edge on the place's side of `node`
        prev_steps = steps[d_edge].copy()
        steps_taken: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (places, edge, node) per step
        while active.any():
            idx = np.flatnonzero(active)
            x = node[idx]
            p = pred[row[idx], x].astype(np.int64)
            at_site = p >= n
            edge = np.empty(len(idx), dtype=np.int64)
            edge[at_site] = s_edge[idx[at_site]]
            inner = ~at_site
            if inner.any():
                key = p[inner] * n + x[inner]
                at = np.minimum(np.searchsorted(arc_key, key), len(arc_key) - 1)
                if not (arc_key[at] == key).all():  # cannot happen: the search ran on these arcs
                    raise RuntimeError("a route read back left the network's arcs")
                edge[inner] = arc_edge[at]
            piece = network.edge_length[edge]
            ends_at_u = network.edge_u[edge] == x
            if at_site.any():
                s = site[idx[at_site]]
                piece[at_site] = np.where(ends_at_u[at_site], site_snap.from_u_m[s], site_snap.to_v_m[s])
            # The crossing at node x, between `edge` (site side) and `after` (place side).
            kind_in = np.where(ends_at_u, cross_u[edge], cross_v[edge])
            a = after[idx]
            kind_out = np.where(network.edge_u[a] == x, cross_u[a], cross_v[a])
            kind = np.maximum(kind_in, kind_out)
            crossings[idx] += kind > 0
            signals[idx] += kind == 2
            length[idx] += piece
            is_steps = steps[edge]
            steps_m[idx] += np.where(is_steps, piece, 0.0)
            n_steps[idx] += is_steps & ~prev_steps[idx]
            prev_steps[idx] = is_steps
            after[idx] = edge
            if paths:
                steps_taken.append((idx, edge, x))
            node[idx] = np.where(at_site, x, p)
            active[idx[at_site]] = False
        if include_access_legs:
            length = length + np.nan_to_num(site_snap.leg_m[site]) + np.nan_to_num(demand_snap.leg_m[mine])
        out.length_m[mine] = np.where(reached, length, np.nan)
        out.steps[mine] = np.where(reached, n_steps, 0)
        out.steps_m[mine] = np.where(reached, steps_m, 0.0)
        out.crossings[mine] = crossings
        out.signal_crossings[mine] = signals
        if paths:
            _store_paths(out, mine, reached, straight, d_edge, steps_taken)
    return out


def _store_paths(out: RouteDetails, mine, reached, straight, d_edge, steps_taken) -> None:
    """Per place, its route's edges (site's edge first) and the nodes between them, from the steps read back."""
    k = len(mine)
    if steps_taken:
        who = np.concatenate([t[0] for t in steps_taken])
        edges = np.concatenate([t[1] for t in steps_taken])
        nodes = np.concatenate([t[2] for t in steps_taken])
        order = np.argsort(who, kind="stable")  # per place, in the order walked back (place → site)
        who, edges, nodes = who[order], edges[order], nodes[order]
        bounds = np.searchsorted(who, np.arange(k + 1))
    else:
        bounds = np.zeros(k + 1, dtype=np.int64)
        edges = nodes = np.zeros(0, dtype=np.int64)
    for local in range(k):
        if not reached[local]:
            continue
        place = mine[local]
        if straight[local]:
            out.edges[place] = np.array([d_edge[local]], dtype=np.int64)
            out.nodes[place] = np.zeros(0, dtype=np.int64)
            continue
        lo, hi = bounds[local], bounds[local + 1]
        # Walked back from the place: reverse, then the place's own edge last.
        out.edges[place] = np.concatenate([edges[lo:hi][::-1], [d_edge[local]]]).astype(np.int64)
        out.nodes[place] = nodes[lo:hi][::-1].astype(np.int64)
