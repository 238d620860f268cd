"""Walk distances from sites to demand places over the network.

`AccessMatrix.compute` runs a bounded Dijkstra (SciPy csgraph, in C) from
every site and keeps, sparsely, each site × demand pair reachable within the
cutoff. Places sit on edges, not nodes: each site enters the graph as an
extra source node joined to both ends of its edge, and each demand place is
reached through whichever end of its edge is nearer (or directly along the
edge when a site shares it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from .network import WalkNetwork
from .snapping import Snap


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
        chunk_size : sites per Dijkstra batch; bounds memory to chunk × nodes.
        progress : show a progress bar (default: only on a terminal).
        """
        n_sites, n_demand = len(site_snap), len(demand_snap)
        site_ids = np.arange(n_sites) if site_ids is None else np.asarray(site_ids)
        demand_ids = np.arange(n_demand) if demand_ids is None else np.asarray(demand_ids)
        legs_s = np.nan_to_num(site_snap.leg_m) if include_access_legs else np.zeros(n_sites)
        legs_d = np.nan_to_num(demand_snap.leg_m) if include_access_legs else np.zeros(n_demand)

        graph = _graph_with_site_sources(network, site_snap)
        d_ok = np.flatnonzero(demand_snap.snapped)
        du, dv = network.edge_u[demand_snap.edge[d_ok]], network.edge_v[demand_snap.edge[d_ok]]
        d_from_u, d_to_v = demand_snap.from_u_m[d_ok], demand_snap.to_v_m[d_ok]
        same_edge = _demand_by_edge(demand_snap)

        rows, cols, metres = [], [], []
        s_ok = np.flatnonzero(site_snap.snapped)
        chunks = [s_ok[i : i + chunk_size] for i in range(0, len(s_ok), chunk_size)]
        for chunk in tqdm(chunks, desc="Walk distances", unit=" batch", disable=not progress if progress is not None else None):
            budget = cutoff_m - legs_s[chunk].min() if include_access_legs else cutoff_m
            if budget < 0:
                continue
            dist = dijkstra(graph, directed=True, indices=network.n_nodes + chunk, limit=budget)
            # Enter each demand's edge from whichever end is nearer.
            walk = np.minimum(dist[:, du] + d_from_u, dist[:, dv] + d_to_v)
            walk += legs_s[chunk, None] + legs_d[None, d_ok]
            for k, s in enumerate(chunk):
                direct = same_edge.get(int(site_snap.edge[s]))
                if direct is not None:
                    along = np.abs(demand_snap.from_u_m[direct] - site_snap.from_u_m[s])
                    pos = np.searchsorted(d_ok, direct)
                    walk[k, pos] = np.minimum(walk[k, pos], along + legs_s[s] + legs_d[direct])
            r, c = np.nonzero(walk <= cutoff_m)
            rows.append(chunk[r])
            cols.append(d_ok[c])
            metres.append(walk[r, c])
        rows_a = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        cols_a = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        metres_a = np.concatenate(metres) if metres else np.zeros(0)
        order = np.lexsort((cols_a, rows_a))
        return cls(site_ids, demand_ids, rows_a[order], cols_a[order], metres_a[order], float(cutoff_m), include_access_legs)


def _graph_with_site_sources(network: WalkNetwork, snap: Snap) -> sparse.csr_matrix:
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


def _demand_by_edge(snap: Snap) -> dict[int, np.ndarray]:
    """Demand indices grouped by the edge they snapped to."""
    ok = np.flatnonzero(snap.snapped)
    order = ok[np.argsort(snap.edge[ok], kind="stable")]
    edges = snap.edge[order]
    bounds = np.flatnonzero(np.diff(edges)) + 1
    return {int(group_edges[0]): group for group_edges, group in zip(np.split(edges, bounds), np.split(order, bounds)) if len(group)}
