"""Walk distances agree with an independent NetworkX Dijkstra on real OSM extracts."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import shapely
from reference import networkx_walk_distances

from coverage_planner.access.matrix import AccessMatrix, kernel_available
from coverage_planner.access.snapping import snap_points

CUTOFF_M = 1500.0


def points_near_edges(network, k, rng, jitter_m=40.0):
    """Random places near random edges of the network (some on small islands too)."""
    edges = rng.integers(0, network.n_edges, k)
    frac = rng.uniform(0, 1, k)
    pts = shapely.line_interpolate_point(network.edges_wgs84[edges], frac, normalized=True)
    xy = shapely.get_coordinates(pts)
    # About 1e-5 degrees is a metre: push places off the street like real buildings.
    return xy + rng.normal(0, jitter_m * 1e-5, xy.shape)


def dense(matrix):
    out = np.full(matrix.shape, np.inf)
    out[matrix.rows, matrix.cols] = matrix.metres
    return out


ENGINES = [
    pytest.param(
        "c", marks=pytest.mark.skipif(not kernel_available(), reason="C walk kernel not built (no compiler at install)")
    ),
    "scipy",
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["monaco", "liechtenstein", "beijing", "helsinki"])
def test_matrix_equals_networkx_dijkstra_on_real_extract(name, engine, request):
    network = request.getfixturevalue(name)
    rng = np.random.default_rng(42)
    sites = snap_points(network, points_near_edges(network, 25, rng))
    demand = snap_points(network, points_near_edges(network, 400, rng))
    ours = dense(AccessMatrix.compute(network, sites, demand, CUTOFF_M, engine=engine))
    ref = networkx_walk_distances(network, sites, demand)
    ref = np.where(ref <= CUTOFF_M, ref, np.inf)
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref))
    both = np.isfinite(ref)
    assert both.sum() > 100, "too few reachable pairs to be a meaningful check"
    assert np.max(np.abs(ours[both] - ref[both])) < 1.0


@pytest.mark.parametrize("engine", ENGINES)
def test_site_and_demand_on_same_edge_walk_along_it(beijing, engine):
    e = int(np.argmax(beijing.edge_length))
    line = beijing.edges_wgs84[e]
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, [0.2, 0.7], normalized=True))
    sites, demand = snap_points(beijing, xy[:1]), snap_points(beijing, xy[1:])
    matrix = AccessMatrix.compute(beijing, sites, demand, 5000.0, engine=engine)
    expected = abs(demand.from_u_m[0] - sites.from_u_m[0]) + sites.leg_m[0] + demand.leg_m[0]
    assert matrix.nnz == 1
    assert matrix.metres[0] == pytest.approx(expected, abs=0.01)
    assert matrix.metres[0] == pytest.approx(networkx_walk_distances(beijing, sites, demand)[0, 0], abs=0.01)
    assert matrix.metres[0] < beijing.edge_length[e]


def test_places_at_opposite_ends_of_an_edge_are_one_edge_apart_or_less(beijing):
    e = int(np.argmax(beijing.edge_length))
    u, v = beijing.edge_u[e], beijing.edge_v[e]
    sites = snap_points(beijing, beijing.node_lonlat[[u]])
    demand = snap_points(beijing, beijing.node_lonlat[[v]])
    walk = dense(AccessMatrix.compute(beijing, sites, demand, 5000.0))[0, 0]
    ref = networkx_walk_distances(beijing, sites, demand)[0, 0]
    assert walk == pytest.approx(ref, abs=0.01)
    assert walk <= beijing.edge_length[e] + 0.01


@pytest.mark.parametrize("engine", ENGINES)
def test_dead_end_edges_route_through_their_only_junction(liechtenstein, engine):
    degree = np.bincount(np.concatenate([liechtenstein.edge_u, liechtenstein.edge_v]), minlength=liechtenstein.n_nodes)
    main = liechtenstein.component[liechtenstein.edge_u] == 0
    dead_ends = np.flatnonzero(((degree[liechtenstein.edge_u] == 1) | (degree[liechtenstein.edge_v] == 1)) & main)[:40]
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(liechtenstein.edges_wgs84[dead_ends], 0.5, normalized=True)
    )
    sites, demand = snap_points(liechtenstein, xy[:20]), snap_points(liechtenstein, xy[20:])
    ours = dense(AccessMatrix.compute(liechtenstein, sites, demand, 1e9, engine=engine))
    ref = networkx_walk_distances(liechtenstein, sites, demand)
    assert np.isfinite(ours).all()
    assert np.max(np.abs(ours - ref)) < 1.0


@pytest.mark.parametrize("engine", ENGINES)
def test_place_on_a_small_island_reaches_only_its_island(monaco, engine):
    island = np.flatnonzero(monaco.component[monaco.edge_u] == 1)
    mainland = np.flatnonzero(monaco.component[monaco.edge_u] == 0)
    xy = shapely.get_coordinates(
        shapely.line_interpolate_point(monaco.edges_wgs84[[island[0], island[-1], mainland[0]]], 0.5, normalized=True)
    )
    sites = snap_points(monaco, xy[:1])
    demand = snap_points(monaco, xy[1:])
    assert list(sites.component) == [1] and list(demand.component) == [1, 0]
    walk = dense(AccessMatrix.compute(monaco, sites, demand, 1e9, engine=engine))
    assert np.isfinite(walk[0, 0]) and np.isinf(walk[0, 1])


def test_place_beyond_snap_limit_reaches_nothing(beijing):
    lon0, lat0, lon1, lat1 = beijing.bounds
    far = np.array([[lon1 + 0.05, lat1 + 0.05]])  # ~5 km outside the extract
    near = beijing.node_lonlat[:1]
    sites = snap_points(beijing, near)
    demand = snap_points(beijing, far, max_snap_m=500)
    assert demand.edge[0] == -1
    matrix = AccessMatrix.compute(beijing, sites, demand, 1e9)
    assert matrix.nnz == 0
    site, metres = matrix.nearest()
    assert site[0] == -1 and np.isnan(metres[0])


def test_nearest_site_breaks_ties_by_lowest_site_index(beijing):
    xy = beijing.node_lonlat[[10, 10, 20]]
    sites = snap_points(beijing, xy[:2])
    demand = snap_points(beijing, xy[2:])
    matrix = AccessMatrix.compute(beijing, sites, demand, 1e9)
    site, _ = matrix.nearest()
    assert site[0] == 0


def test_cutoff_drops_pairs_beyond_it_and_keeps_those_within(monaco):
    rng = np.random.default_rng(7)
    sites = snap_points(monaco, points_near_edges(monaco, 10, rng))
    demand = snap_points(monaco, points_near_edges(monaco, 200, rng))
    wide = AccessMatrix.compute(monaco, sites, demand, 3000.0)
    narrow = AccessMatrix.compute(monaco, sites, demand, 800.0)
    assert narrow.metres.max() <= 800.0
    expected = dense(wide)
    expected[expected > 800.0] = np.inf
    assert np.array_equal(dense(narrow), expected)


def test_chunking_does_not_change_the_result(monaco):
    rng = np.random.default_rng(3)
    sites = snap_points(monaco, points_near_edges(monaco, 50, rng))
    demand = snap_points(monaco, points_near_edges(monaco, 100, rng))
    one = AccessMatrix.compute(monaco, sites, demand, 1200.0, chunk_size=7)
    other = AccessMatrix.compute(monaco, sites, demand, 1200.0, chunk_size=500)
    assert np.array_equal(one.rows, other.rows) and np.array_equal(one.cols, other.cols)
    assert np.array_equal(one.metres, other.metres)


@pytest.mark.skipif(not kernel_available(), reason="C walk kernel not built (no compiler at install)")
def test_c_kernel_and_scipy_give_identical_pairs_on_andorra():
    from conftest import raw_file

    from coverage_planner import WalkNetwork

    andorra = WalkNetwork.from_file(raw_file("andorra.osm.pbf"))
    rng = np.random.default_rng(8)
    sites = snap_points(andorra, points_near_edges(andorra, 300, rng))
    demand = snap_points(andorra, points_near_edges(andorra, 3000, rng))
    fast = AccessMatrix.compute(andorra, sites, demand, 1200.0, engine="c", chunk_size=37)
    slow = AccessMatrix.compute(andorra, sites, demand, 1200.0, engine="scipy")
    assert fast.nnz > 1000
    assert np.array_equal(fast.rows, slow.rows) and np.array_equal(fast.cols, slow.cols)
    assert np.allclose(fast.metres, slow.metres, rtol=0, atol=1e-6)


def test_unknown_engine_is_rejected(beijing):
    snap = snap_points(beijing, beijing.node_lonlat[:2])
    with pytest.raises(ValueError, match="engine"):
        AccessMatrix.compute(beijing, snap, snap, 100.0, engine="gpu")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_still_compute(monaco):
    """The kernel's thread pool is per process: a child forked after a computation must not wait on the parent's threads."""
    rng = np.random.default_rng(2)
    nodes = np.flatnonzero(monaco.component == 0)
    sites = snap_points(monaco, monaco.node_lonlat[rng.choice(nodes, 300, replace=False)])
    demand = snap_points(monaco, monaco.node_lonlat[rng.choice(nodes, 300, replace=False)])
    expected = AccessMatrix.compute(monaco, sites, demand, 800, chunk_size=64)  # starts the pool here
    pid = os.fork()
    if pid == 0:  # the child: same computation, exit code says whether it matched
        again = AccessMatrix.compute(monaco, sites, demand, 800, chunk_size=64)
        os._exit(0 if np.array_equal(again.metres, expected.metres) else 3)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in the walk computation")


def test_kernel_scratch_is_left_clean_between_networks(monaco, liechtenstein):
    """The kernel keeps per-thread scratch between calls: alternating networks must not change any answer."""

    def problem(net, seed):
        rng = np.random.default_rng(seed)
        nodes = np.flatnonzero(net.component == 0)
        return (
            snap_points(net, net.node_lonlat[rng.choice(nodes, 200, replace=False)]),
            snap_points(net, net.node_lonlat[rng.choice(nodes, 400, replace=False)]),
        )

    first = {
        name: AccessMatrix.compute(net, *problem(net, 4), 900, chunk_size=32)
        for name, net in (("m", monaco), ("l", liechtenstein))
    }
    for name, net in (("l", liechtenstein), ("m", monaco), ("l", liechtenstein)):
        again = AccessMatrix.compute(net, *problem(net, 4), 900, chunk_size=32)
        scipy = AccessMatrix.compute(net, *problem(net, 4), 900, engine="scipy")
        for other in (again, scipy):
            assert np.array_equal(other.rows, first[name].rows) and np.array_equal(other.cols, first[name].cols)
            assert np.allclose(other.metres, first[name].metres, atol=1e-6)
