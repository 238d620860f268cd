"""Circuit mediation routes and clinic venues (coverage_planner.plan.circuits).

On a real Monaco extract: every place exactly once, budgets kept, arrival
times consistent, each leg's walk equal to NetworkX's on the same graph,
the lines on the network; on a small instance the routes equal the brute
force optimum; clinic venues equal the brute force best choice.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import raw_file
from real_places import osm_place_frames
from reference import networkx_walk_distances

import coverage_planner as cp
from coverage_planner.plan.circuits import plan_circuits, plan_clinics, solve_routes

BUDGET, STAY = 180.0, 15.0


def _gdf(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)


@pytest.fixture(scope="module")
def result(monaco):
    sites, demand = osm_place_frames(raw_file("monaco.osm.pbf"), n_sites=8, n_demand=250, seed=4)
    return cp.compute_coverage(monaco, _gdf(sites), _gdf(demand), threshold_min=5)


@pytest.fixture(scope="module")
def chosen(result):
    out = result.demand[~result.demand["covered"]]
    return list(out["demand_id"].iloc[:40])


@pytest.fixture(scope="module")
def plan(result, chosen):
    return plan_circuits(result, places=chosen, budget_min=BUDGET, stay_min=STAY, time_limit_s=2)


def test_every_place_once_and_every_route_within_budget(plan, chosen):
    visits = plan.routes[plan.routes["kind"] == "visit"]
    assert visits["place_id"].is_unique
    assert set(visits["place_id"]) | set(plan.unscheduled["place_id"]) == set(chosen)
    assert not set(visits["place_id"]) & set(plan.unscheduled["place_id"])
    assert len(plan.schedule) >= 2 and (plan.schedule["total_min"] <= BUDGET + 1e-9).all()
    for route, stops in plan.routes.groupby("route"):
        stops = stops.sort_values("stop")
        assert stops["kind"].iloc[0] == "depart" and stops["kind"].iloc[-1] == "return"
        assert stops["place_id"].iloc[0] == stops["place_id"].iloc[-1] == stops["depot_id"].iloc[0]
        arrival, leave = stops["arrival_min"].to_numpy(), stops["leave_min"].to_numpy()
        assert np.allclose(arrival[1:], leave[:-1] + stops["leg_min"].to_numpy()[1:])
        assert np.allclose(leave[1:-1] - arrival[1:-1], STAY)
        row = plan.schedule.set_index("route").loc[route]
        assert row["total_min"] == pytest.approx(arrival[-1])
        assert row["travel_min"] == pytest.approx(stops["leg_min"].sum())
        assert row["stops"] == len(stops) - 2


def test_left_out_places_really_do_not_fit(plan, result):
    mpm = result.metres_per_minute
    pieces = dict(zip(result.demand["demand_id"], result.demand["component"]))
    studio_pieces = set(result.sites.loc[result.sites["snap_edge"] >= 0, "component"])
    for pid in plan.unscheduled["place_id"]:
        reason = plan.unscheduled.set_index("place_id").loc[pid, "reason"]
        if reason == "on a piece of network no studio reaches":
            assert pieces[pid] not in studio_pieces
            continue
        assert "round trip" in reason and pieces[pid] in studio_pieces
        m = plan.matrix
        node = list(m.demand_ids).index(pid)
        there = m.metres[(m.cols == node) & (m.rows < len(result.sites))]
        back = m.metres[(m.rows == node) & (m.cols < len(result.sites))]
        best = np.inf if not len(there) else 2 * min(there.min(), back.min()) / mpm
        assert best + STAY > BUDGET


def test_leg_walks_equal_networkx_and_lines_follow_the_network(plan, result, monaco):
    depots = result.sites["id"].astype(str).tolist()
    places = result.demand["demand_id"].astype(str).tolist()
    stop_ids = depots + places
    snap = cp.Snap.concat([result.site_snap, result.demand_snap])
    used = sorted({stop_ids.index(x) for x in plan.legs["from_id"]} | {stop_ids.index(x) for x in plan.legs["to_id"]})
    sub = snap.take(np.array(used))
    reference = networkx_walk_distances(monaco, sub, sub)
    at = {stop_ids[u]: k for k, u in enumerate(used)}
    mpm = result.metres_per_minute
    for leg in plan.legs.itertuples():
        assert leg.metres == pytest.approx(reference[at[leg.from_id], at[leg.to_id]], abs=1e-6)
        assert leg.minutes == pytest.approx(leg.metres / mpm)
    # Lines: every vertex but the two place ends lies on a network edge.
    edges = shapely.STRtree(monaco.edges_metric)
    for line in plan.legs.to_crs(monaco.crs).geometry:
        inner = shapely.points(shapely.get_coordinates(line)[1:-1])
        _, dist = edges.query_nearest(inner, return_distance=True, all_matches=False)
        assert dist.max() < 0.5
    # Drawn lengths follow the walks (great-circle vs projected metres differ slightly).
    drawn = plan.legs.to_crs(monaco.crs).length.to_numpy()
    assert np.allclose(drawn, plan.legs["metres"], rtol=0.02, atol=3.0)


def test_schedule_fills_sessions_day_by_day(plan):
    for _, routes in plan.schedule.groupby("depot_id"):
        order = list(zip(routes["day"], routes["session"]))
        assert order == [(1 + i // 2, 1 + i % 2) for i in range(len(routes))]
    first = plan.schedule.iloc[0]
    assert first["start_clock"] == ("08:30" if first["session"] == 1 else "14:00")
    s = plan.summary()
    assert s["places_visited"] == int((plan.routes["kind"] == "visit").sum()) and s["routes"] == len(plan.schedule)


# -------------------------------------------------------- brute force optimum
def _brute_force(T, stay, budget):
    """Fewest routes, then least travel, over every split into routes and every order within each."""
    n = T.shape[0] - 1

    def best_order(block):
        best = None
        for perm in itertools.permutations(block):
            stops = (0, *perm, 0)
            travel = sum(T[a, b] for a, b in zip(stops, stops[1:]))
            if travel + stay * len(perm) <= budget and (best is None or travel < best):
                best = travel
        return best

    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for part in partitions(rest):
            for i in range(len(part)):
                yield part[:i] + [[first, *part[i]]] + part[i + 1 :]
            yield [[first], *part]

    best = None
    for part in partitions(list(range(1, n + 1))):
        times = [best_order(block) for block in part]
        if any(t is None for t in times):
            continue
        key = (len(part), sum(times))
        if best is None or key < best:
            best = key
    return best


def test_small_instance_routes_equal_brute_force(result, plan):
    # Seven places of the busiest studio in the plan, and a budget too short for one route through all.
    depot = plan.solves.sort_values("places")["depot_id"].iloc[-1]
    visits = plan.routes[(plan.routes["kind"] == "visit") & (plan.routes["depot_id"] == depot)]
    stops = [depot, *visits["place_id"].iloc[:7]]
    m, mpm = plan.matrix, result.metres_per_minute
    index = {x: i for i, x in enumerate(m.demand_ids)}
    walk = np.full(m.shape, np.inf)
    walk[m.rows, m.cols] = m.metres
    T = np.array([[walk[index[a], index[b]] / mpm if a != b else 0.0 for b in stops] for a in stops])
    stay = 10.0
    _, one_route = _brute_force(T, stay, np.inf)
    budget = max(0.6 * (one_route + 7 * stay), 2 * T[0].max() + stay + 1.0)
    routes, travel = _brute_force(T, stay, budget)
    assert routes >= 2
    small = plan_circuits(result, places=stops[1:], depots=[depot], budget_min=budget, stay_min=stay, time_limit_s=1)
    assert small.unscheduled.empty
    assert len(small.schedule) == routes
    assert small.schedule["travel_min"].sum() == pytest.approx(travel, abs=1e-3)


def test_solve_routes_on_a_hand_made_instance():
    # Four places on a line 10 min apart from the depot; 60-minute budget, no stays: two out-and-backs.
    pos = np.array([0, 10, 20, -10, -20])
    T = (np.abs(pos[:, None] - pos[None, :]) * 60_000).astype(np.int64)
    routes, dropped, info = solve_routes(T, np.zeros(5, np.int64), 60 * 60_000, time_limit_s=0.5)
    assert sorted(sorted(r) for r in routes) == [[1, 2], [3, 4]] and dropped == []
    routes, dropped, _ = solve_routes(T, np.zeros(5, np.int64), 60 * 60_000, max_routes=1, time_limit_s=0.5)
    # One hour holds three of them (10 + 10 + 30 + 10 min): the most a single route can visit.
    assert len(routes) == 1 and len(routes[0]) == 3 and len(dropped) == 1


# ------------------------------------------------------------------ errors
def test_bad_requests_give_clear_errors(result, chosen):
    with pytest.raises(cp.ProblemError, match="cannot hold even one stop"):
        plan_circuits(result, places=chosen, budget_min=20, stay_min=20)
    with pytest.raises(cp.DataError, match="no demand place has id 'nope'"):
        plan_circuits(result, places=["nope"])
    with pytest.raises(cp.DataError, match="no site has id"):
        plan_circuits(result, places=chosen, depots=["nope"])
    with pytest.raises(cp.DataError, match="08:30"):
        plan_circuits(result, places=chosen, sessions=("morning",))
    with pytest.raises(cp.ProblemError, match="max_routes"):
        plan_circuits(result, places=chosen, max_routes=0)


def test_max_routes_leaves_out_what_does_not_fit(result, chosen):
    plan = plan_circuits(result, places=chosen, budget_min=BUDGET, stay_min=STAY, max_routes=1, time_limit_s=1)
    assert plan.schedule.groupby("depot_id").size().max() == 1
    assert plan.unscheduled["reason"].str.contains("more than 1 route").any()


# ------------------------------------------------------------------ clinics
def test_clinic_venues_reach_the_most_uncovered_load(result):
    venues = cp.build_candidates(result, grid_spacing=700).head(9)
    clinic = plan_clinics(result, venues, k=2)
    uncovered = ~result.demand["covered"].to_numpy(bool)
    snap = cp.snap_points(result.network, np.column_stack([venues.geometry.x, venues.geometry.y]))
    walks = cp.AccessMatrix.compute(result.network, snap, result.demand_snap, result.matrix.cutoff_m)
    reach = [set(walks.cols[(walks.rows == j) & (walks.metres <= result.threshold_m)]) for j in range(len(venues))]
    w = result.demand["weight"].to_numpy(float)
    best = max(sum(w[i] for i in (reach[a] | reach[b]) if uncovered[i]) for a, b in itertools.combinations(range(9), 2))
    s = clinic.summary()
    assert s["load_reached"] == pytest.approx(best) and s["places"] == int(uncovered.sum())
    assert clinic.venues["load_reached"].sum() == pytest.approx(best)
    for row in clinic.reached[clinic.reached["venue_id"].notna()].itertuples():
        j = list(venues["id"]).index(row.venue_id)
        i = list(result.demand["demand_id"]).index(row.demand_id)
        assert i in reach[j]


def test_a_place_on_a_piece_no_studio_reaches_is_left_out_with_that_reason(result, monaco):
    studio_pieces = set(result.sites.loc[result.sites["snap_edge"] >= 0, "component"])
    component = monaco.component[monaco.edge_u]
    lone = np.flatnonzero(~np.isin(component, list(studio_pieces)))
    assert len(lone), "Monaco's network should have pieces cut off from the studios"
    lon, lat = (monaco.node_lonlat[monaco.edge_u[lone[0]]] + monaco.node_lonlat[monaco.edge_v[lone[0]]]) / 2
    island = _gdf(pd.DataFrame({"id": ["island"], "name": ["cut off"], "lon": [lon], "lat": [lat]}))
    plan = plan_circuits(result, places=island, budget_min=BUDGET, stay_min=STAY, time_limit_s=1)
    assert plan.unscheduled["reason"].tolist() == ["on a piece of network no studio reaches"]
    assert not len(plan.schedule)
