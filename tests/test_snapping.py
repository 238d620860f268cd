"""Places join the network at the nearest point of the nearest walkable edge."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from coverage_planner import snap_points


def test_snap_finds_the_nearest_edge_like_a_brute_force_search(liechtenstein):
    rng = np.random.default_rng(11)
    lon0, lat0, lon1, lat1 = liechtenstein.bounds
    xy = np.column_stack([rng.uniform(lon0, lon1, 150), rng.uniform(lat0, lat1, 150)])
    snap = snap_points(liechtenstein, xy, max_snap_m=1e9)
    to_metric = pyproj.Transformer.from_crs(4326, liechtenstein.crs, always_xy=True)
    points = shapely.points(*to_metric.transform(xy[:, 0], xy[:, 1]))
    for i in range(len(xy)):
        distances = shapely.distance(liechtenstein.edges_metric, points[i])
        assert snap.leg_m[i] == np.min(distances)
        assert snap.edge[i] == int(np.flatnonzero(distances == distances.min())[0])


def test_positions_along_the_edge_add_up_to_its_length(liechtenstein):
    rng = np.random.default_rng(5)
    xy = liechtenstein.node_lonlat[rng.integers(0, liechtenstein.n_nodes, 100)] + rng.normal(0, 3e-4, (100, 2))
    snap = snap_points(liechtenstein, xy)
    ok = snap.snapped
    assert np.allclose(snap.from_u_m[ok] + snap.to_v_m[ok], liechtenstein.edge_length[snap.edge[ok]])
    assert (snap.from_u_m[ok] >= 0).all() and (snap.to_v_m[ok] >= -1e-9).all()


def test_place_on_a_node_snaps_with_no_access_leg(beijing):
    snap = snap_points(beijing, beijing.node_lonlat[:20])
    assert np.all(snap.leg_m < 1e-6)


def test_places_farther_than_the_snap_limit_are_off_network_with_their_distance(beijing):
    lon0, lat0, lon1, lat1 = beijing.bounds
    east_end = beijing.node_lonlat[np.argmax(beijing.node_lonlat[:, 0])]
    snap = snap_points(beijing, np.array([[lon1 + 0.02, lat1], east_end + [0.001, 0]]), max_snap_m=500)
    assert snap.edge[0] == -1 and snap.component[0] == -1
    assert snap.leg_m[0] > 1500  # about 0.02° of longitude at 40°N, minus the way's overhang
    assert snap.to_frame()["off_network"].tolist() == [True, False]


def test_default_snap_limit_is_250_m(beijing):
    lon0, lat0, lon1, lat1 = beijing.bounds
    centre = np.array([[(lon0 + lon1) / 2, (lat0 + lat1) / 2]])
    near = snap_points(beijing, centre)
    assert near.leg_m[0] < 250 and near.edge[0] >= 0
    far = snap_points(beijing, np.array([[lon1 + 0.01, lat1 + 0.01]]))
    assert far.leg_m[0] > 250 and far.edge[0] == -1


def _fresh(network):
    """The same network without its cached edge index (as a run that has not snapped yet)."""
    from dataclasses import fields

    return type(network)(**{f.name: getattr(network, f.name) for f in fields(network)})


def test_few_points_snap_exactly_as_through_the_edge_index(liechtenstein, beijing):
    for net in (liechtenstein, beijing):
        rng = np.random.default_rng(3)
        lon0, lat0, lon1, lat1 = net.bounds
        xy = np.concatenate(
            [
                np.column_stack([rng.uniform(lon0 - 0.01, lon1 + 0.01, 40), rng.uniform(lat0 - 0.01, lat1 + 0.01, 40)]),
                net.node_lonlat[rng.integers(0, net.n_nodes, 20)],  # on nodes: several edges tie at 0 m
            ]
        )
        indexed = snap_points(net, np.concatenate([xy, xy, xy]))  # > 64 points: the edge index
        indexed = indexed.take(np.arange(len(xy)))
        fresh = _fresh(net)
        few = snap_points(fresh, xy)
        assert "edge_tree" not in fresh.__dict__ or not few.snapped.all()  # answered without building the index
        for field in ("edge", "from_u_m", "to_v_m", "leg_m", "component", "point_lonlat"):
            np.testing.assert_array_equal(getattr(few, field), getattr(indexed, field), err_msg=field)
        assert (~few.snapped).any() and few.snapped.any()
