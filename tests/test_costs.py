"""Walking costs for older people: steps, main-road crossings, surfaces, checked against NetworkX on real extracts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from cost_reference import ENGINES, dense, frame, path_summary, places_near_edges, reference_costs, reference_edges

import coverage_planner as cp
from coverage_planner._errors import NetworkError, ScenarioError
from coverage_planner.access.matrix import AccessMatrix, graph_with_site_sources, kernel_available, route_details
from coverage_planner.access.matrix_cache import cached_access_matrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.config import Scenario
from coverage_planner.network.cache import load_saved_network, save_network
from coverage_planner.network.graph import EdgeCosts, NetworkSource, WalkNetwork
from coverage_planner.profiles import PROFILES, WalkCosts, get_profile

ELDERLY = PROFILES["elderly"]
CUTOFF = 1500.0


@pytest.fixture(scope="module")
def andorra():
    from conftest import raw_file

    return WalkNetwork.from_file(raw_file("andorra.osm.pbf"))


def neutral_view(network):
    """The network with costs attached that change nothing (factor 1, no waits), to run the cost machinery."""
    m = network.n_edges
    ones, zeros = np.ones(m, dtype=bool), np.zeros(m)
    none = np.zeros(m, dtype=np.int8)
    costs = EdgeCosts(np.ones(m), zeros, zeros.copy(), ones, ones.copy(), ~ones, none, none.copy(), "neutral")
    return replace(network, costs=costs)


# ------------------------------------------------------------------ tags come from the OSM file


def test_edge_and_node_tags_are_those_of_the_osm_file():
    from conftest import raw_file

    path = raw_file("monaco.osm.pbf")
    network = WalkNetwork.from_file(path)
    ways, nodes = {}, {}
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_way():
            ways[obj.id] = dict(obj.tags)
        elif obj.is_node() and obj.tags.get("highway") in ("crossing", "traffic_signals"):
            nodes[obj.id] = dict(obj.tags)
    for key in ("surface", "lit", "sidewalk", "footway", "crossing", "oneway", "maxspeed"):
        expected = [ways[int(w)].get(key, "") for w in network.edge_way_id]
        assert network.edge_tag(key).tolist() == expected, key
    for key in ("highway", "crossing"):
        expected = [nodes.get(int(n), {}).get(key, "") for n in network.node_ids]
        assert network.node_tag(key).tolist() == expected, key
    assert (network.node_tag("highway") == "crossing").sum() > 50  # Monaco maps its crossings


def test_tags_survive_the_network_cache(tmp_path, monaco):
    saved = load_saved_network(save_network(monaco, tmp_path / "net.arrays"))
    for key in monaco.edge_tags:
        assert saved.edge_tag(key).tolist() == monaco.edge_tag(key).tolist()
    for key in monaco.node_tags:
        assert saved.node_tag(key).tolist() == monaco.node_tag(key).tolist()
    a, b = monaco.for_profile(ELDERLY).costs, saved.for_profile(ELDERLY).costs
    assert a.key == b.key and np.array_equal(a.crossing_u, b.crossing_u)


# ------------------------------------------------------------------ the costs themselves


@pytest.mark.parametrize("name", ["monaco", "andorra", "beijing", "liechtenstein"])
def test_edge_costs_follow_the_documented_rules(name, request):
    network = request.getfixturevalue(name)
    for profile in ("elderly", "frail", "wheelchair"):
        view = network.for_profile(PROFILES[profile])
        expected = reference_edges(view, PROFILES[profile])
        costs = view.costs
        assert np.allclose(costs.scale, [e[0] for e in expected])
        assert np.allclose(costs.end_u, [e[1] for e in expected])
        assert np.allclose(costs.end_v, [e[2] for e in expected])
        assert costs.crossing_u.tolist() == [e[5] for e in expected]
        assert costs.crossing_v.tolist() == [e[6] for e in expected]
    assert (network.for_profile(ELDERLY).costs.end_u > 0).any(), "no main-road crossing found"


def test_frail_and_wheelchair_networks_have_no_steps(monaco, andorra):
    for network in (monaco, andorra):
        assert "steps" in network.edge_highway
        for profile in ("frail", "wheelchair"):
            view = network.for_profile(PROFILES[profile])
            assert "steps" not in list(view.edge_highway)
            assert view.costs.summary["edges_left_out"] >= list(network.edge_highway).count("steps")
    wheelchair = andorra.for_profile(PROFILES["wheelchair"])
    assert not np.isin(wheelchair.edge_tag("surface"), ["gravel", "dirt", "grass", "ground", "unpaved"]).any()


def test_profile_views_are_kept_and_fingerprints_differ(monaco):
    elderly = monaco.for_profile(ELDERLY)
    assert monaco.for_profile(ELDERLY) is elderly
    assert elderly.for_profile(ELDERLY) is elderly  # asking a view asks the network it came from
    assert monaco.for_profile(PROFILES["adult"]) is monaco
    assert elderly.for_profile(PROFILES["adult"]) is monaco
    fingerprints = {monaco.fingerprint, elderly.fingerprint, monaco.for_profile(PROFILES["frail"]).fingerprint}
    fingerprints.add(monaco.for_profile(ELDERLY.with_costs(steps_factor=3.0)).fingerprint)
    assert len(fingerprints) == 4


# ------------------------------------------------------------------ against NetworkX on the same weights


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["monaco", "andorra", "beijing", "liechtenstein"])
def test_elderly_costs_equal_networkx_dijkstra_on_the_same_weights(name, engine, request):
    network = request.getfixturevalue(name)
    view = network.for_profile(ELDERLY)
    rng = np.random.default_rng(11)
    sites = snap_points(view, places_near_edges(view, 12, rng))
    demand = snap_points(view, places_near_edges(view, 250, rng))
    ours = dense(AccessMatrix.compute(view, sites, demand, CUTOFF, engine=engine))
    ref, _, _, _ = reference_costs(view, ELDERLY, sites, demand)
    ref = np.where(ref <= CUTOFF, ref, np.inf)
    near_edge = np.abs(ref - CUTOFF) < 1e-6
    assert np.array_equal(np.isfinite(ours) | near_edge, np.isfinite(ref) | near_edge)
    both = np.isfinite(ours) & np.isfinite(ref)
    assert both.sum() > 100
    assert np.max(np.abs(ours[both] - ref[both])) < 1e-6
    plain = dense(AccessMatrix.compute(network, snap_points(network, sites.point_lonlat), demand, CUTOFF))
    assert (ours[both] >= plain[both] - 1e-6).all()  # costs never shorten a walk


def test_c_kernel_and_scipy_agree_on_costs(andorra):
    if not kernel_available():
        pytest.skip("C walk kernel not built")
    view = andorra.for_profile(ELDERLY)
    rng = np.random.default_rng(5)
    sites = snap_points(view, places_near_edges(view, 80, rng))
    demand = snap_points(view, places_near_edges(view, 1200, rng))
    fast = AccessMatrix.compute(view, sites, demand, 1200.0, engine="c", chunk_size=23)
    slow = AccessMatrix.compute(view, sites, demand, 1200.0, engine="scipy", chunk_size=23)
    assert np.array_equal(fast.rows, slow.rows) and np.array_equal(fast.cols, slow.cols)
    assert np.allclose(fast.metres, slow.metres, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["monaco", "andorra", "beijing"])
def test_walk_metres_steps_and_crossings_are_those_of_the_networkx_route(name, request):
    network = request.getfixturevalue(name)
    rng = np.random.default_rng(23)
    sites, demand = frame(places_near_edges(network, 10, rng), "s"), frame(places_near_edges(network, 300, rng), "d")
    result = cp.compute_coverage(network, sites, demand, profile="elderly", threshold_min=12, progress=False)
    view = result.network
    ref, paths, g, edges = reference_costs(view, ELDERLY, result.site_snap, result.demand_snap)
    table = result.demand
    row = {sid: i for i, sid in enumerate(result.sites["id"])}
    checked = with_steps = with_crossings = 0
    for j, site_id in enumerate(table["nearest_site_id"]):
        if pd.isna(site_id):
            continue
        i = row[site_id]
        # The nearest site is the cheapest one, and its minutes are the cost.
        assert ref[i, j] == pytest.approx(np.min(ref[:, j]), abs=1e-6)
        assert table["walk_min"].iloc[j] == pytest.approx(ref[i, j] / ELDERLY.metres_per_minute, abs=0.006)
        metres, flights, steps_m, crossings, signals = path_summary(g, edges, paths[(i, j)], view)
        assert table["walk_m"].iloc[j] == pytest.approx(metres, abs=0.06)
        assert table["route_steps"].iloc[j] == flights
        assert table["route_steps_m"].iloc[j] == pytest.approx(steps_m, abs=0.06)
        assert table["route_crossings"].iloc[j] == crossings
        assert table["route_signal_crossings"].iloc[j] == signals
        extra = (ref[i, j] - metres) / ELDERLY.metres_per_minute
        assert table["cost_extra_min"].iloc[j] == pytest.approx(extra, abs=0.006)
        checked += 1
        with_steps += flights > 0
        with_crossings += crossings > 0
    assert checked > 50 and with_crossings > 5
    if name == "monaco":
        assert with_steps > 5


# ------------------------------------------------------------------ no costs: today's results exactly


@pytest.mark.parametrize("engine", ENGINES)
def test_costs_that_change_nothing_give_todays_results_bit_for_bit(andorra, engine):
    rng = np.random.default_rng(7)
    sites = snap_points(andorra, places_near_edges(andorra, 200, rng))
    demand = snap_points(andorra, places_near_edges(andorra, 1500, rng))
    plain = AccessMatrix.compute(andorra, sites, demand, 1200.0, engine=engine)
    view = neutral_view(andorra)
    assert np.array_equal(view.routing_arrays[2], andorra.routing_arrays[2])
    costed = AccessMatrix.compute(view, sites, demand, 1200.0, engine=engine)
    for field in ("rows", "cols", "metres"):
        assert np.array_equal(getattr(costed, field), getattr(plain, field)), field
    a, b = graph_with_site_sources(andorra, sites), graph_with_site_sources(view, sites)
    assert (a != b).nnz == 0
    # The routes read back on plain lengths are exactly as long as the walks.
    nearest, metres = plain.nearest()
    details = route_details(andorra, sites, demand, nearest, 1200.0)
    reached = nearest >= 0
    assert np.allclose(details.length_m[reached], metres[reached], rtol=0, atol=1e-6)


def test_switching_the_costs_off_gives_the_plain_run(monaco):
    rng = np.random.default_rng(3)
    sites, demand = frame(places_near_edges(monaco, 8, rng), "s"), frame(places_near_edges(monaco, 200, rng), "d")
    off = ELDERLY.with_costs(steps_factor=1.0, crossing_wait_s=0.0, signal_wait_s=0.0, unpaved_factor=1.0)
    assert off.is_plain
    a = cp.compute_coverage(monaco, sites, demand, profile=off, threshold_min=10, progress=False)
    b = cp.compute_coverage(monaco, sites, demand, speed_kmh=3.6, threshold_min=10, progress=False)
    assert a.network is monaco
    for column in ("walk_m", "walk_min", "covered", "nearest_site_id"):
        assert a.demand[column].equals(b.demand[column]), column
    assert np.array_equal(a.matrix.metres, b.matrix.metres)
    assert "route_steps" not in a.demand


# ------------------------------------------------------------------ steps cost what the profile says


def forced_steps_cases(network):
    """(steps edge, edge on the near side, edge on the far side) where every route between the two uses the steps.

    The steps edge is a bridge of the network (removing it cuts a small piece
    off), and none of the three edges has a main-road crossing at an end.
    """
    import networkx as nx

    g = nx.Graph()
    g.add_edges_from((int(u), int(v)) for u, v in zip(network.edge_u, network.edge_v) if u != v)
    bridges = {frozenset(b) for b in nx.bridges(g)}
    cross_u, cross_v = network.crossing_ends()
    highway = np.asarray(network.edge_highway, dtype=object)
    clear = (cross_u == 0) & (cross_v == 0)
    cases = []
    for e in np.flatnonzero(highway == "steps"):
        u, v = int(network.edge_u[e]), int(network.edge_v[e])
        parallel = ((network.edge_u == u) & (network.edge_v == v)) | ((network.edge_u == v) & (network.edge_v == u))
        if frozenset((u, v)) not in bridges or parallel.sum() != 1 or not clear[e]:
            continue
        h = g.copy()
        h.remove_edge(u, v)
        near, far = (
            (u, v) if len(nx.node_connected_component(h, u)) > len(nx.node_connected_component(h, v)) else (v, u)
        )
        piece = nx.node_connected_component(h, far)
        touching = lambda node: np.flatnonzero((network.edge_u == node) | (network.edge_v == node))  # noqa: E731
        near_edges = [f for f in touching(near) if f != e and highway[f] != "steps" and clear[f]]
        far_edges = [
            f
            for f in np.flatnonzero(np.isin(network.edge_u, list(piece)) & np.isin(network.edge_v, list(piece)))
            if highway[f] != "steps" and clear[f] and network.edge_length[f] > 4
        ]
        if near_edges and far_edges and len(piece) <= 5:
            cases.append((int(e), int(near_edges[0]), int(far_edges[0]), near))
    return cases


def test_a_place_reached_only_over_steps_is_farther_for_elderly_by_the_steps_penalty(monaco):
    cases = forced_steps_cases(monaco)
    assert len(cases) >= 3, "Monaco should have steps that are the only way to some places"
    sites, places = [], []
    for _steps, near_edge, far_edge, near in cases[:6]:
        line = monaco.edges_wgs84[near_edge]
        # 1 m from the steps' end along the near edge, so the route starts straight up the steps.
        at_start = int(monaco.edge_u[near_edge]) == near
        along = 1.0 / max(float(monaco.edge_length[near_edge]), 1.0)
        sites.append(shapely.get_coordinates(line.interpolate(along if at_start else 1 - along, normalized=True))[0])
        places.append(shapely.get_coordinates(monaco.edges_wgs84[far_edge].interpolate(0.5, normalized=True))[0])
    for k, (steps, *_rest) in enumerate(cases[:6]):
        site, place = frame(np.array([sites[k]]), "s"), frame(np.array([places[k]]), "d")
        runs = {
            name: cp.compute_coverage(monaco, site, place, profile=name, threshold_min=10, progress=False).demand
            for name in ("adult", "elderly", "frail")
        }
        adult, elderly, frail = runs["adult"].iloc[0], runs["elderly"].iloc[0], runs["frail"].iloc[0]
        steps_m = float(monaco.edge_length[steps])
        assert elderly["route_steps"] >= 1 and elderly["route_steps_m"] >= steps_m - 0.06
        assert elderly["walk_m"] == pytest.approx(adult["walk_m"], abs=0.06)  # the same route
        penalty = (ELDERLY.costs.steps_factor - 1) * elderly["route_steps_m"] / ELDERLY.metres_per_minute
        plain = elderly["walk_m"] / ELDERLY.metres_per_minute
        assert elderly["walk_min"] == pytest.approx(plain + penalty, abs=0.011)
        assert elderly["cost_extra_min"] == pytest.approx(penalty, abs=0.011)
        assert adult["walk_min"] == pytest.approx(adult["walk_m"] / PROFILES["adult"].metres_per_minute, abs=0.006)
        assert elderly["walk_min"] > adult["walk_min"]
        assert pd.isna(frail["nearest_site_id"]) and not frail["covered"]  # no way without the steps


# ------------------------------------------------------------------ crossings on a small made-up street


def crossing_network(*, signals: bool, crossing_way: bool):
    """A primary road A–X–B crossed at X by a footway C–X–D (or a footway=crossing way), ~100 m arms."""
    lon0, lat0, d = 116.3, 39.99, 0.0009
    xy = {1: (lon0 - d, lat0), 2: (lon0, lat0), 3: (lon0 + d, lat0), 4: (lon0, lat0 - d), 5: (lon0, lat0 + d)}
    edges = [(1, 2, "primary", 10), (2, 3, "primary", 10), (4, 2, "footway", 20), (2, 5, "footway", 20)]
    tags = {k: [] for k in ("footway", "crossing")}
    for _, _, highway, _ in edges:
        tags["footway"].append("crossing" if crossing_way and highway == "footway" else "")
        tags["crossing"].append("traffic_signals" if signals and crossing_way and highway == "footway" else "")
    node_tags = {2: {"highway": "traffic_signals"}} if signals and not crossing_way else {2: {"highway": "crossing"}}
    return WalkNetwork.from_edges(
        np.array([a for a, *_ in edges]),
        np.array([b for _, b, *_ in edges]),
        [np.array([xy[a], xy[b]]) for a, b, *_ in edges],
        way_id=np.array([w for *_, w in edges]),
        highway=[h for _, _, h, _ in edges],
        name=[None] * len(edges),
        source=NetworkSource(kind="graph"),
        edge_tags=tags,
        node_tags=node_tags,
    )


@pytest.mark.parametrize("signals", [False, True])
@pytest.mark.parametrize("crossing_way", [False, True])
def test_crossing_a_main_road_pays_the_wait_once_and_turning_onto_it_half(signals, crossing_way):
    network = crossing_network(signals=signals, crossing_way=crossing_way)
    lon0, lat0, d = 116.3, 39.99, 0.0009
    site = frame(np.array([[lon0, lat0 - d * 0.9]]), "s")  # on the footway south of the road
    places = frame(np.array([[lon0, lat0 + d * 0.9], [lon0 - d * 0.9, lat0]]), "d")  # across; along the road
    result = cp.compute_coverage(network, site, places, profile="elderly", threshold_min=30, progress=False)
    wait = ELDERLY.costs.signal_wait_s if signals else ELDERLY.costs.crossing_wait_s
    across, along = result.demand.iloc[0], result.demand.iloc[1]
    assert across["route_crossings"] == 1 and along["route_crossings"] == 1
    assert across["route_signal_crossings"] == int(signals)
    assert across["cost_extra_min"] == pytest.approx(wait / 60, abs=0.006)
    assert along["cost_extra_min"] == pytest.approx(wait / 120, abs=0.006)
    plain = cp.compute_coverage(network, site, places, speed_kmh=3.6, threshold_min=30, progress=False)
    assert np.allclose(result.demand["walk_m"], plain.demand["walk_m"])


# ------------------------------------------------------------------ with_sites, caches, profiles


def test_with_sites_keeps_the_costs_and_reads_routes_again(monaco):
    rng = np.random.default_rng(31)
    sites, demand = frame(places_near_edges(monaco, 6, rng), "s"), frame(places_near_edges(monaco, 150, rng), "d")
    extra = frame(places_near_edges(monaco, 3, rng), "n")
    before = cp.compute_coverage(monaco, sites.iloc[:3], demand, profile="elderly", threshold_min=10, progress=False)
    after = cp.with_sites(before, sites.iloc[3:])
    full = cp.compute_coverage(monaco, sites, demand, profile="elderly", threshold_min=10, progress=False)
    assert after.network is before.network
    for column in ("walk_m", "walk_min", "nearest_site_id", "route_steps", "route_crossings", "cost_extra_min"):
        assert after.demand[column].equals(full.demand[column]), column
    assert cp.with_sites(before, extra).walk_profile == before.walk_profile
    assert after.cost_model["profile"] == "elderly" and after.cost_model["found"]["crossing_nodes"] > 0


def test_the_walk_cache_never_mixes_profiles(tmp_path, monaco):
    rng = np.random.default_rng(2)
    lonlat = places_near_edges(monaco, 160, rng)
    results = {}
    for profile in (PROFILES["adult"], ELDERLY):
        view = monaco.for_profile(profile)
        sites, demand = snap_points(view, lonlat[:10]), snap_points(view, lonlat[10:])
        direct = AccessMatrix.compute(view, sites, demand, CUTOFF)
        cached, _ = cached_access_matrix(view, sites, demand, CUTOFF, tmp_path)
        again, stats = cached_access_matrix(view, sites, demand, CUTOFF, tmp_path)
        assert stats["sites_reused"] == 10
        for m in (cached, again):
            assert np.array_equal(m.metres, direct.metres)
        results[profile.name] = direct
    assert not np.array_equal(results["adult"].metres, results["elderly"].metres)


def test_profiles_and_their_checks():
    assert set(PROFILES) >= {"adult", "elderly", "frail", "wheelchair", "drive"}
    assert PROFILES["adult"].is_plain and not ELDERLY.is_plain
    slower = get_profile("elderly", 3.0)
    assert slower.speed_kmh == 3.0 and slower.costs == ELDERLY.costs
    with pytest.raises(ScenarioError, match="steps_factor"):
        WalkCosts(steps_factor=0)
    with pytest.raises(ScenarioError, match="crossing_wait_s"):
        WalkCosts(crossing_wait_s=-5)
    with pytest.raises(ScenarioError, match="not a walk cost"):
        ELDERLY.with_costs(speeds_kmh=())
    with pytest.raises(ScenarioError, match="speed"):
        get_profile("drive", 4.0)


def test_drive_profile_on_a_walking_network_is_a_clear_error(monaco):
    with pytest.raises(NetworkError, match="mode='drive'"):
        monaco.for_profile(PROFILES["drive"])


# ------------------------------------------------------------------ scenario keys


def scenario(tmp_path, walk: str) -> Scenario:
    for name in ("sites.csv", "demand.csv"):
        (tmp_path / name).write_text("id,name,lon,lat\n1,a,7.42,43.73\n", encoding="utf-8")
    (tmp_path / "net.osm").write_text("<osm/>", encoding="utf-8")
    text = f'[network]\npath = "net.osm"\n[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\n{walk}\n'
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return Scenario.from_toml(path)


def test_scenario_walk_costs_override_the_profile(tmp_path):
    walk = scenario(
        tmp_path,
        'profile = "elderly"\nthreshold_min = 15\nroute_details = true\n'
        '[walk.costs]\nsteps_factor = 3.0\ncrossing_wait_s = 45\nmain_roads = ["primary", "trunk"]\n'
        "exclude_steps = true\n",
    ).walk
    assert walk.profile.costs.steps_factor == 3.0 and walk.profile.costs.crossing_wait_s == 45
    assert walk.profile.costs.main_roads == ("primary", "trunk") and walk.profile.costs.exclude_steps
    assert walk.profile.costs.signal_wait_s == ELDERLY.costs.signal_wait_s  # untouched values stay
    assert walk.route_details is True
    assert scenario(tmp_path, 'profile = "elderly"\ncosts = false').walk.profile.is_plain
    drive = scenario(tmp_path, 'profile = "drive"\n[walk.costs]\nspeeds_kmh = { primary = 35 }\ndirection = "to_sites"')
    costs = drive.walk.profile.costs
    assert costs.speed_of("primary") == 35 and costs.speed_of("residential") == 20 and costs.direction == "to_sites"


@pytest.mark.parametrize(
    ("walk", "key"),
    [
        ('profile = "elderly"\n[walk.costs]\nsteps_factor = "high"', "walk.costs.steps_factor"),
        ('profile = "elderly"\n[walk.costs]\nsteps_factor = 0', "walk.costs.steps_factor"),
        ('profile = "elderly"\n[walk.costs]\nspeeds_kmh = { primary = 35 }', "walk.costs.speeds_kmh"),
        ('profile = "elderly"\n[walk.costs]\nexclude_steps = "yes"', "walk.costs.exclude_steps"),
        ('profile = "elderly"\n[walk.costs]\nmain_roads = "primary"', "walk.costs.main_roads"),
        ('profile = "drive"\n[walk.costs]\nsteps_factor = 2', "walk.costs.steps_factor"),
        ('profile = "drive"\n[walk.costs]\ndirection = "sideways"', "walk.costs.direction"),
        ('profile = "drive"\ncosts = false', "walk.costs"),
        ('profile = "elderly"\ncosts = 3', "walk.costs"),
        ('profile = "elderly"\nroute_details = "yes"', "walk.route_details"),
        ('profile = "drive"\nspeed_kmh = 5', "walk.profile"),
        ('profile = "drive"\nthreshold_m = 3000', "walk.threshold_m"),
        ('profile = "drive"\npreset = "gb50180-15min"', "walk.preset"),
    ],
)
def test_bad_walk_costs_name_the_key(tmp_path, walk, key):
    with pytest.raises(ScenarioError, match=f"key '{key}'"):
        scenario(tmp_path, walk)


def test_tags_and_costs_survive_a_graphml_round_trip(tmp_path, beijing):
    again = WalkNetwork.from_graphml(beijing.to_graphml(tmp_path / "walk.graphml"))
    a, b = beijing.for_profile(ELDERLY).costs, again.for_profile(ELDERLY).costs
    assert a.summary["crossing_nodes"] == b.summary["crossing_nodes"] > 0
    assert a.summary["signal_crossing_nodes"] == b.summary["signal_crossing_nodes"] > 0
    assert np.allclose(np.sort(a.end_u + a.end_v), np.sort(b.end_u + b.end_v))


def test_routes_read_back_as_edges_join_up_and_add_up_to_the_walk(monaco):
    rng = np.random.default_rng(8)
    view = monaco.for_profile(ELDERLY)
    sites, demand = (
        snap_points(view, places_near_edges(view, 8, rng)),
        snap_points(view, places_near_edges(view, 200, rng)),
    )
    matrix = AccessMatrix.compute(view, sites, demand, CUTOFF)
    nearest, _ = matrix.nearest()
    details = route_details(view, sites, demand, nearest, CUTOFF, paths=True)
    checked = 0
    for j in np.flatnonzero(nearest >= 0):
        edges, nodes, s = details.edges[j], details.nodes[j], nearest[j]
        assert len(nodes) == len(edges) - 1 and edges[0] == sites.edge[s] and edges[-1] == demand.edge[j]
        for a, b, x in zip(edges[:-1], edges[1:], nodes):
            assert x in (view.edge_u[a], view.edge_v[a]) and x in (view.edge_u[b], view.edge_v[b])
        legs = sites.leg_m[s] + demand.leg_m[j]
        if len(edges) == 1:
            metres = abs(demand.from_u_m[j] - sites.from_u_m[s])
        else:
            first = sites.from_u_m[s] if nodes[0] == view.edge_u[edges[0]] else sites.to_v_m[s]
            last = demand.from_u_m[j] if nodes[-1] == view.edge_u[edges[-1]] else demand.to_v_m[j]
            metres = first + view.edge_length[edges[1:-1]].sum() + last
        assert details.length_m[j] == pytest.approx(metres + legs, abs=1e-6)
        checked += 1
    assert checked > 100
    assert details.edges[np.flatnonzero(nearest < 0)[0]] is None if (nearest < 0).any() else True
