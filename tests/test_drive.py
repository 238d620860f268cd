"""The drive profile: drivable ways only, one-way streets, speeds from maxspeed or road class, against NetworkX."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import osmium
import pytest
from cost_reference import ENGINES, dense, frame, places_near_edges, reference_costs, reference_edges

import coverage_planner as cp
from coverage_planner._errors import NetworkError
from coverage_planner.access.matrix import AccessMatrix, kernel_available
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.cache import cached_osm_network
from coverage_planner.network.graph import NetworkSource, WalkNetwork, parse_maxspeed
from coverage_planner.profiles import PROFILES

DRIVE = PROFILES["drive"]
BACK = DRIVE.with_costs(direction="to_sites")
EXTRACTS = {
    "monaco": "monaco.osm.pbf",
    "andorra": "andorra.osm.pbf",
    "liechtenstein": "liechtenstein-2013-08-03.osm.pbf",
    "beijing": "beijing_haidian_cau_map.osm",
}
CUTOFF = 6000.0  # equivalent metres at 60 km/h: 6 minutes


@pytest.fixture(scope="module")
def drive_networks():
    from conftest import raw_file

    return {name: WalkNetwork.from_osm_file(raw_file(file), mode="drive") for name, file in EXTRACTS.items()}


def test_drive_network_keeps_roads_only_and_their_one_way_tags(drive_networks):
    from conftest import raw_file

    walking_only = {"footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor", "track"}
    for name, network in drive_networks.items():
        assert network.mode == "drive"
        assert not walking_only & set(network.edge_highway), name
        ways = {}
        for way in osmium.FileProcessor(str(raw_file(EXTRACTS[name])), osmium.osm.WAY):
            ways[way.id] = dict(way.tags)
        assert network.edge_tag("oneway").tolist() == [ways[int(w)].get("oneway", "") for w in network.edge_way_id]
        for w in network.edge_way_id.tolist():
            tags = ways[int(w)]
            # Closed to all but allowed for cars by a more specific tag (motor_vehicle=permissive …).
            if tags.get("access") in ("no", "private"):
                assert any(
                    tags.get(k) in ("yes", "designated", "permissive", "destination")
                    for k in ("motorcar", "motor_vehicle", "vehicle")
                ), tags
            assert tags.get("motor_vehicle") not in ("no",) or tags.get("motorcar") == "yes", tags
        view = network.for_profile(DRIVE)
        assert view.costs.directed, f"{name}: no one-way street found"


def test_speeds_come_from_maxspeed_or_the_road_class(drive_networks):
    network = drive_networks["andorra"]
    view = network.for_profile(DRIVE)
    expected = reference_edges(view, DRIVE)
    assert np.allclose(view.costs.scale, [e[0] for e in expected])
    tagged = network.edge_tag("maxspeed") != ""
    assert tagged.sum() > 100
    speed = DRIVE.speed_kmh / view.costs.scale
    limit = parse_maxspeed(network.edge_tag("maxspeed"))
    assert np.allclose(speed[tagged & np.isfinite(limit)], 0.8 * limit[tagged & np.isfinite(limit)])
    residential = (np.asarray(network.edge_highway, dtype=object) == "residential") & ~tagged
    assert np.allclose(speed[residential], 20.0)
    faster = network.for_profile(DRIVE.with_costs(speeds_kmh=(("residential", 40.0), ("road", 20.0))))
    assert np.allclose(DRIVE.speed_kmh / faster.costs.scale[residential], 40.0)
    no_tags = network.for_profile(DRIVE.with_costs(use_maxspeed=False))
    primary = np.asarray(network.edge_highway, dtype=object) == "primary"
    assert np.allclose(DRIVE.speed_kmh / no_tags.costs.scale[primary], 40.0)


def test_maxspeed_values_are_read_like_osm_writes_them():
    values = ["50", "30 mph", "none", "50;30", "CN:urban", "", "20 km/h", "0", "walk"]
    speeds = parse_maxspeed(values)
    assert speeds[0] == 50 and speeds[1] == pytest.approx(48.28, abs=0.01) and speeds[3] == 50 and speeds[6] == 20
    assert np.isnan(speeds[[2, 4, 5, 7, 8]]).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(EXTRACTS))
def test_drive_times_equal_networkx_on_the_directed_graph(name, engine, drive_networks):
    network = drive_networks[name]
    rng = np.random.default_rng(17)
    lonlat = places_near_edges(network, 240, rng, jitter_m=15)
    for profile in (DRIVE, BACK):
        view = network.for_profile(profile)
        sites, demand = snap_points(view, lonlat[:10]), snap_points(view, lonlat[10:])
        ours = dense(AccessMatrix.compute(view, sites, demand, CUTOFF, engine=engine))
        # There: NetworkX from each site on the drive graph; back: from each place to the sites.
        ref, _, _, _ = reference_costs(network, DRIVE, sites, demand, reverse=profile is BACK)
        ref = np.where(ref <= CUTOFF, ref, np.inf)
        near_edge = np.abs(ref - CUTOFF) < 1e-6
        assert np.array_equal(np.isfinite(ours) | near_edge, np.isfinite(ref) | near_edge)
        both = np.isfinite(ours) & np.isfinite(ref)
        assert both.sum() > 200
        assert np.max(np.abs(ours[both] - ref[both])) < 1e-6


def test_one_way_streets_make_there_and_back_differ(drive_networks):
    network = drive_networks["monaco"]
    rng = np.random.default_rng(4)
    lonlat = places_near_edges(network, 210, rng, jitter_m=10)
    there_view, back_view = network.for_profile(DRIVE), network.for_profile(BACK)
    sites, demand = snap_points(there_view, lonlat[:10]), snap_points(there_view, lonlat[10:])
    there = dense(AccessMatrix.compute(there_view, sites, demand, CUTOFF))
    back = dense(AccessMatrix.compute(back_view, sites, demand, CUTOFF))
    both = np.isfinite(there) & np.isfinite(back)
    differ = np.abs(there[both] - back[both]) > 1.0
    assert differ.mean() > 0.2, "one-way streets should change many Monaco round trips"
    # On two-way streets only (all directions allowed) there and back are equal.
    two_way = network.for_profile(DRIVE)
    costs = two_way.costs
    forward = np.ones_like(costs.forward)
    both_ways = replace(network, costs=replace(costs, forward=forward, backward=forward.copy()))
    a = dense(AccessMatrix.compute(both_ways, sites, demand, CUTOFF))
    b = dense(AccessMatrix.compute(replace(both_ways, costs=both_ways.costs.reversed()), sites, demand, CUTOFF))
    assert np.array_equal(np.isfinite(a), np.isfinite(b)) and np.allclose(a[np.isfinite(a)], b[np.isfinite(b)])


def test_a_place_on_a_one_way_street_is_reached_the_way_it_runs():
    """On a single one-way street, a place ahead of the site is reached straight; one behind it is not."""
    lon0, lat0 = 116.3, 39.99
    xy = np.array([[lon0, lat0], [lon0 + 0.002, lat0]])
    network = WalkNetwork.from_edges(
        np.array([1]),
        np.array([2]),
        [xy],
        way_id=np.array([7]),
        highway=["residential"],
        name=[None],
        source=NetworkSource(kind="graph"),
        edge_tags={"oneway": ["yes"]},
        mode="drive",
    )
    view = network.for_profile(DRIVE)
    site = snap_points(view, np.array([[lon0 + 0.001, lat0]]))
    places = snap_points(view, np.array([[lon0 + 0.0015, lat0], [lon0 + 0.0005, lat0]]))
    for engine in ("c", "scipy"):
        if engine == "c" and not kernel_available():
            continue
        m = AccessMatrix.compute(view, site, places, CUTOFF, engine=engine, include_access_legs=False)
        assert m.cols.tolist() == [0]
        ahead = float(places.from_u_m[0] - site.from_u_m[0])
        assert m.metres[0] == pytest.approx(ahead * DRIVE.speed_kmh / 20.0)
        back = AccessMatrix.compute(
            network.for_profile(BACK), site, places, CUTOFF, engine=engine, include_access_legs=False
        )
        assert back.cols.tolist() == [1]


def test_compute_coverage_drives_and_reports_the_driven_metres(drive_networks):
    network = drive_networks["liechtenstein"]
    rng = np.random.default_rng(9)
    sites, demand = frame(places_near_edges(network, 5, rng), "s"), frame(places_near_edges(network, 200, rng), "d")
    result = cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=5, progress=False)
    assert result.network.costs is not None and result.profile_name == "drive"
    assert result.cost_model["mode"] == "drive" and result.cost_model["found"]["one_way_edges"] > 0
    reached = result.demand["nearest_site_id"].notna()
    assert reached.sum() > 50
    view = result.network
    ref, paths, g, _ = reference_costs(network, DRIVE, result.site_snap, result.demand_snap)
    row = {sid: i for i, sid in enumerate(result.sites["id"])}
    for j in np.flatnonzero(reached.to_numpy()):
        i = row[result.demand["nearest_site_id"].iloc[j]]
        assert result.demand["walk_min"].iloc[j] == pytest.approx(ref[i, j] / 1000.0, abs=0.006)
        path = paths[(i, j)]
        metres = sum(
            min(g.get_edge_data(a, b).values(), key=lambda d: d["weight"])["metres"]
            for a, b in zip(path[:-1], path[1:])
        )
        assert result.demand["walk_m"].iloc[j] == pytest.approx(metres, abs=0.06)
    assert view.costs.summary["direction"] == "from_sites"
    with pytest.raises(NetworkError, match="walking network"):
        cp.compute_coverage(network, sites, demand, profile="elderly", progress=False)


def test_drive_networks_are_cached_apart_from_walking_ones(tmp_path):
    from conftest import raw_file

    path = raw_file("monaco.osm.pbf")
    walk, hit_walk = cached_osm_network(path, tmp_path)
    drive, hit_drive = cached_osm_network(path, tmp_path, mode="drive")
    assert not hit_walk and not hit_drive and walk.mode == "walk" and drive.mode == "drive"
    again, hit = cached_osm_network(path, tmp_path, mode="drive")
    assert hit and again.mode == "drive" and again.fingerprint == drive.fingerprint
    assert again.for_profile(DRIVE).costs.key == drive.for_profile(DRIVE).costs.key
    assert len(list((tmp_path / "networks").glob("*.arrays"))) == 2


def test_osmnx_drive_graph_keeps_its_one_way_edges(drive_networks):
    network = drive_networks["beijing"]
    graph = network.graph  # osmnx layout: one-way streets in their direction only
    one_way = [d for _, _, d in graph.edges(data=True) if d["oneway"]]
    assert one_way and all(not d["reversed"] for d in one_way)
    again = WalkNetwork.from_graph(graph, mode="drive")
    assert again.n_edges == network.n_edges
    a, b = network.for_profile(DRIVE).costs, again.for_profile(DRIVE).costs
    assert int((a.forward != a.backward).sum()) == int((b.forward != b.backward).sum())
    # The same drive times from the re-read graph.
    rng = np.random.default_rng(1)
    lonlat = places_near_edges(network, 60, rng, jitter_m=5)
    m1 = AccessMatrix.compute(
        network.for_profile(DRIVE), *(snap_points(network, x) for x in (lonlat[:5], lonlat[5:])), 3000.0
    )
    view = again.for_profile(DRIVE)
    m2 = AccessMatrix.compute(view, *(snap_points(view, x) for x in (lonlat[:5], lonlat[5:])), 3000.0)
    assert np.allclose(np.sort(m1.metres), np.sort(m2.metres))


def test_places_far_from_any_road_are_left_off_the_drive_network(drive_networks):
    """Andorra's walking tracks run far from its roads: such places are off-network, each with its own distance."""
    from conftest import raw_file

    walking = WalkNetwork.from_file(raw_file("andorra.osm.pbf"))
    network = drive_networks["andorra"]
    rng = np.random.default_rng(7)
    lonlat = walking.node_lonlat[rng.integers(0, walking.n_nodes, 600)]
    sites, demand = frame(lonlat[:40], "s"), frame(lonlat[40:], "d")
    result = cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=5, progress=False)
    far = result.demand["off_network"].to_numpy(bool)
    assert far.sum() > 20 and (result.demand["snap_m"][far] > result.max_snap_m).all()
    assert not result.demand["covered"][far].any()


def test_adding_sites_to_a_drive_run_equals_driving_from_all_of_them(drive_networks):
    network = drive_networks["andorra"]
    rng = np.random.default_rng(12)
    sites, demand = frame(places_near_edges(network, 6, rng), "s"), frame(places_near_edges(network, 250, rng), "d")
    before = cp.compute_coverage(network, sites.iloc[:3], demand, profile="drive", threshold_min=4, progress=False)
    after = cp.with_sites(before, sites.iloc[3:])
    full = cp.compute_coverage(network, sites, demand, profile="drive", threshold_min=4, progress=False)
    for column in ("walk_m", "walk_min", "nearest_site_id", "covered"):
        assert after.demand[column].equals(full.demand[column]), column
    reached = full.demand["walk_m"].notna()
    assert reached.sum() > 50
    assert (full.demand["walk_m"][reached] != (full.demand["walk_min"][reached] * 1000).round(1)).any()
    assert "route_steps" not in full.demand


def test_a_drive_network_saved_as_graphml_comes_back_as_a_drive_network(tmp_path, drive_networks):
    network = drive_networks["beijing"]
    again = WalkNetwork.from_graphml(network.to_graphml(tmp_path / "drive.graphml"))
    assert again.mode == "drive" and again.n_edges == network.n_edges
    a, b = network.for_profile(DRIVE).costs, again.for_profile(DRIVE).costs
    assert int((a.forward != a.backward).sum()) == int((b.forward != b.backward).sum())
    assert np.allclose(np.sort(a.scale), np.sort(b.scale))
