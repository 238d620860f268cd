"""The walk kernel's output path: places read off a reached-places bitmap, or sorted when very few are reached.

Which path a source takes depends on how many places it reaches against how
many places the call has (see ``run`` in _walkkernel.c), so the same walks are
asked with the places numbered compactly and spread over a much larger index
space: the two must give bit-identical metres, in place order, and both must
equal NetworkX's Dijkstra on the network. The per-thread scratch the kernel
keeps between calls is checked by calls of changing size and by two threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest

from coverage_planner.access.matrix import kernel_available

pytestmark = pytest.mark.skipif(not kernel_available(), reason="C walk kernel not built (no compiler at install)")

SPREAD = 1_000_003  # places spread over this many indices: few reached of many, the sorting path


def kernel():
    from coverage_planner.access import _walkkernel

    return _walkkernel


def node_walks(net, graph, sites, places, place_ids, n_places, cutoffs):
    """Kernel walks from site nodes to place nodes (place k has index place_ids[k]); (site, place id, metres)."""
    k = len(sites)
    zeros = np.zeros(k)
    raw = kernel().bounded_walks(
        graph=graph,
        src_a=sites,
        off_a=zeros,
        src_b=sites,
        off_b=zeros,
        budget=np.asarray(cutoffs, dtype=np.float64),
        edge_lo=np.zeros(k, np.int64),
        edge_hi=np.zeros(k, np.int64),
        src_along=zeros,
        src_id=np.arange(k, dtype=np.int64),
        src_leg=zeros,
        dem_node=places,
        dem_idx=place_ids,
        dem_off=np.zeros(len(places)),
        edge_dem_idx=np.zeros(0, np.int64),
        edge_dem_along=np.zeros(0),
        dem_leg=np.zeros(n_places),
        n_places=n_places,
        cutoff=float(np.max(cutoffs)),
    )
    return tuple(np.frombuffer(b, dtype=t) for b, t in zip(raw, (np.int64, np.int64, np.float64)))


@pytest.fixture(scope="module")
def problem(monaco):
    rng = np.random.default_rng(11)
    nodes = np.flatnonzero(monaco.component == 0)
    sites = np.sort(rng.choice(nodes, 40, replace=False)).astype(np.int64)
    places = rng.choice(nodes, 1500, replace=False).astype(np.int64)
    # Cutoffs from a few metres (a place or two reached: sorted) to kilometres (hundreds: bitmap).
    cutoffs = np.geomspace(5.0, 3000.0, len(sites))
    indptr, indices, weights = monaco.routing_arrays
    graph = kernel().Graph(n_nodes=monaco.n_nodes, indptr=indptr, indices=indices, weights=weights)
    spread_ids = np.sort(rng.choice(SPREAD, len(places), replace=False)).astype(np.int64)
    rng.shuffle(spread_ids)  # index order unrelated to node order
    return monaco, graph, sites, places, cutoffs, spread_ids


def test_compact_and_spread_place_numbering_give_identical_walks(problem):
    net, graph, sites, places, cutoffs, spread_ids = problem
    compact = node_walks(net, graph, sites, places, np.arange(len(places), dtype=np.int64), len(places), cutoffs)
    spread = node_walks(net, graph, sites, places, spread_ids, SPREAD, cutoffs)
    # Map the spread ids back to compact ones; the pair lists must then be the same, metres bit for bit.
    back = np.full(SPREAD, -1, dtype=np.int64)
    back[spread_ids] = np.arange(len(places))
    order = np.lexsort((back[spread[1]], spread[0]))
    assert np.array_equal(compact[0], spread[0][order])
    assert np.array_equal(compact[1], back[spread[1]][order])
    assert np.array_equal(compact[2], spread[2][order])
    # With the spread numbering a source reaching fewer than words / 64 places is sorted, others read off
    # the bitmap (the rule in run()); with the compact one every source uses the bitmap. Both must occur.
    per_site = np.bincount(compact[0], minlength=len(sites))
    sorted_below = -(-SPREAD // 64) / 64
    assert ((per_site >= 2) & (per_site < sorted_below)).any(), "no source sorts several places"
    assert (per_site >= sorted_below).any(), "no source reads the bitmap with the spread numbering"
    for rows, cols, _ in (compact, spread):  # each path emits by source, then increasing place index
        key = rows * SPREAD + cols
        assert np.all(np.diff(key) > 0)


def test_walks_equal_networkx_dijkstra(problem):
    net, graph, sites, places, cutoffs, spread_ids = problem
    rows, cols, metres = node_walks(net, graph, sites, places, spread_ids, SPREAD, cutoffs)
    indptr, indices, weights = net.routing_arrays
    g = nx.DiGraph()
    for x in range(net.n_nodes):
        for e in range(indptr[x], indptr[x + 1]):
            g.add_edge(x, int(indices[e]), weight=float(weights[e]))
    place_of_node = {int(n): int(i) for n, i in zip(places, spread_ids)}
    got = {(int(r), int(c)): float(m) for r, c, m in zip(rows, cols, metres)}
    expected = {}
    for k, s in enumerate(sites.tolist()):
        lengths = nx.single_source_dijkstra_path_length(g, s, cutoff=float(cutoffs[k]), weight="weight")
        for node, d in lengths.items():
            if node in place_of_node:
                expected[(k, place_of_node[node])] = d
    assert len(expected) > 1000
    # Pairs only one side finds must be ties with the cutoff (rounding of the last addition).
    for key in set(expected) ^ set(got):
        d = expected.get(key, got.get(key))
        assert abs(d - cutoffs[key[0]]) < 1e-6, key
    common = set(expected) & set(got)
    assert max(abs(expected[key] - got[key]) for key in common) < 1e-6


def test_scratch_is_clean_across_calls_of_changing_size_and_threads(problem):
    net, graph, sites, places, cutoffs, spread_ids = problem
    ids = np.arange(len(places), dtype=np.int64)
    first = node_walks(net, graph, sites, places, ids, len(places), cutoffs)
    few = node_walks(net, graph, sites, places[:100], ids[:100], 100, cutoffs)
    keep = first[1] < 100
    for a, b in zip(few, first):
        assert np.array_equal(a, b[keep])
    again = node_walks(net, graph, sites, places, spread_ids, SPREAD, cutoffs)  # grows the scratch
    assert len(again[0]) == len(first[0])

    def half(lo_hi):
        lo, hi = lo_hi
        r, c, m = node_walks(net, graph, sites[lo:hi], places, ids, len(places), cutoffs[lo:hi])
        return r + lo, c, m

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):  # each thread's scratch reused, interleaved with the other thread's calls
            parts = list(pool.map(half, [(0, 20), (20, 40), (0, 13), (13, 40)]))
            for split in (parts[:2], parts[2:]):
                for i in range(3):
                    assert np.array_equal(np.concatenate([p[i] for p in split]), first[i])
