r"""Circuit mediation (巡回调解) and legal clinic days for the places a site does not reach.

`plan_circuits` plans visits from the studios to places left outside the
walk threshold (or any chosen set): each place goes to the studio with the
shortest round trip, and each studio's places are split into routes
(half-day circuits) that start and end at the studio, visit every place
exactly once and fit a time budget that includes a fixed stay per stop.
Per studio this is a vehicle-routing problem with a time limit per route:

.. math::
    \min\; F \cdot \#\text{routes} + \sum_{\text{routes}} \sum_{(a,b)} t_{ab}
    \quad\text{s.t.}\quad
    \sum_{(a,b) \in r} t_{ab} + s \cdot |r| \le B \;\;\forall r

with the walk time :math:`t_{ab}` between stops on the network (metres of
our walk kernel over the result's speed; with a profile's costs, its
equivalent metres on the result's costed view, and for driving along the
one-way streets from stop to stop), the stay s per place and the
budget B; F exceeds any possible total travel, so the fewest routes come
first, then the least travel. It is solved with OR-Tools' routing solver
(guided local search from a nearest-neighbour start, within a time limit),
on whole milliseconds rounded up so that every route reported in exact
minutes fits the budget. Routes are given days and sessions
(``sessions``: start times of the half-days), arrival and leaving times,
and lines along the network paths.

`plan_clinics` chooses k clinic venues (e.g. community centres,
``amenity=community_centre``) that bring the most uncovered load within
the threshold: the MCLP of `propose_sites`, with only the chosen places
carrying load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy.sparse.csgraph import dijkstra

from coverage_planner._errors import DataError
from coverage_planner._geo import place_lonlat
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.analysis import prepare_places
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan.capacity import demand_loads
from coverage_planner.plan.models import ProblemError
from coverage_planner.plan.proposal import Proposal, propose_sites
from coverage_planner.results import CoverageResult

#: Default session start times: a morning and an afternoon half-day.
DEFAULT_SESSIONS = ("08:30", "14:00")

_MS = 60_000.0  # milliseconds per minute


@dataclass
class CircuitPlan:
    """Circuit routes from the studios, with their schedule and lines.

    Parameters
    ----------
    routes : DataFrame
        One row per stop: ``route, depot_id, depot_name, day, session, stop``
        (0 = leave the studio, then 1, 2 …, last = back), ``kind``
        (``depart`` / ``visit`` / ``return``), ``place_id, place_name,
        leg_m, leg_min`` (the walk to this stop), ``arrival_min,
        leave_min`` (minutes since the route's start), ``arrival_clock,
        leave_clock``.
    schedule : DataFrame
        One row per route: ``route, depot_id, depot_name, day, session,
        start_clock, end_clock, stops, place_ids, places, travel_min,
        stay_min, total_min``.
    legs : GeoDataFrame
        One row per leg: ``route, leg, from_id, to_id, metres, minutes``,
        LineString along the network path (WGS-84).
    unscheduled : DataFrame
        Places left out: ``place_id, place_name, reason``.
    solves : DataFrame
        One row per studio: ``depot_id, places, routes, travel_min,
        greedy_routes, greedy_travel_min, vehicles, solve_time_s, status``.
    budget_min, stay_min, speed_kmh : float
        The rule the routes keep.
    sessions : tuple of str, default ("08:30", "14:00")
        Start times of a day's sessions the routes were given.
    matrix : AccessMatrix, optional
        Walks between all stops (studios first, then places).
    """

    routes: pd.DataFrame
    schedule: pd.DataFrame
    legs: gpd.GeoDataFrame
    unscheduled: pd.DataFrame
    solves: pd.DataFrame
    budget_min: float
    stay_min: float
    speed_kmh: float
    sessions: tuple[str, ...] = DEFAULT_SESSIONS
    matrix: AccessMatrix | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        visited = int((self.routes["kind"] == "visit").sum()) if len(self.routes) else 0
        return (
            f"<CircuitPlan: {len(self.schedule)} route(s) from {self.schedule['depot_id'].nunique() if len(self.schedule) else 0} "
            f"studio(s) visiting {visited} place(s) within {self.budget_min:g} min each, "
            f"{len(self.unscheduled)} left out>"
        )

    def summary(self) -> dict:
        """Counts and times.

        Returns
        -------
        dict
            ``routes, studios, places_visited, unscheduled, budget_min, stay_min,
            speed_kmh, total_travel_min, longest_route_min, days``, and per studio ``solves``.
        """
        s = self.schedule
        return {
            "routes": len(s),
            "studios": int(s["depot_id"].nunique()) if len(s) else 0,
            "places_visited": int((self.routes["kind"] == "visit").sum()) if len(self.routes) else 0,
            "unscheduled": len(self.unscheduled),
            "budget_min": self.budget_min,
            "stay_min": self.stay_min,
            "speed_kmh": self.speed_kmh,
            "total_travel_min": float(s["travel_min"].sum()) if len(s) else 0.0,
            "longest_route_min": float(s["total_min"].max()) if len(s) else 0.0,
            "days": int(s.groupby("depot_id")["day"].max().max()) if len(s) else 0,
            "solves": self.solves.to_dict(orient="records"),
        }


# ------------------------------------------------------------ choosing stops
def _ids_wanted(values, what: str) -> list[str]:
    if isinstance(values, (str, bytes, pd.DataFrame)) or not isinstance(values, (Sequence, np.ndarray, pd.Series)):
        raise DataError(f"{what} must be None, a list of ids or a GeoDataFrame")
    return [str(v) for v in values]


def _chosen_stops(result: CoverageResult, given, role: str) -> tuple[pd.DataFrame, Snap]:
    """The places to visit (``role="places"``) or the studios routes leave from (``"depots"``), and their snaps.

    ``given`` is a GeoDataFrame of other places, a list of the result's ids, or
    None: every place outside the threshold, or every site.
    """
    places = role == "places"
    prefix = "place" if places else "depot"
    if isinstance(given, gpd.GeoDataFrame):
        pool = prepare_places(given, "demand" if places else "sites")
        ids, names, xy = pool["id"].to_numpy(), pool["name"].to_numpy(), place_lonlat(pool)
        snap = snap_points(result.network, xy, max_snap_m=result.max_snap_m)
    else:
        table = result.demand if places else result.sites
        id_column, name_column = ("demand_id", "demand_name") if places else ("id", "name")
        known = table[id_column].astype(str)
        if given is not None:
            wanted = _ids_wanted(given, role)
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise DataError(f"{role}: no {'demand place' if places else 'site'} has id {unknown[0]!r}")
            idx = np.flatnonzero(known.isin(wanted).to_numpy())
        else:
            idx = np.flatnonzero(~table["covered"].to_numpy(bool)) if places else np.arange(len(table))
        ids, names = known.to_numpy()[idx], table[name_column].to_numpy()[idx]
        xy = place_lonlat(table)[idx]
        snapped = result.demand_snap if places else result.site_snap
        snap = (
            snapped.take(idx) if snapped is not None else snap_points(result.network, xy, max_snap_m=result.max_snap_m)
        )
    frame = pd.DataFrame({f"{prefix}_id": ids, f"{prefix}_name": names})
    frame["lon"], frame["lat"] = xy[:, 0], xy[:, 1]
    return frame, snap


def _clock(text: str) -> float:
    try:
        hours, minutes = str(text).split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise DataError(f"session start {text!r} is not a time like 08:30") from None
    if not 0 <= value < 24 * 60:
        raise DataError(f"session start {text!r} is not a time of day")
    return float(value)


def _fmt_clock(minutes: float) -> str:
    m = int(round(minutes))
    return f"{(m // 60) % 24:02d}:{m % 60:02d}"


# ------------------------------------------------------------------ routing
def _greedy_routes(T: np.ndarray, stay: np.ndarray, budget: int) -> list[list[int]]:
    """Nearest-neighbour packing: extend the route to the nearest stop that still lets it return in time."""
    n = T.shape[0] - 1
    left = set(range(1, n + 1))
    routes = []
    while left:
        route, here, clock = [], 0, 0
        while True:
            best, best_t = -1, None
            for j in left:
                t = clock + stay[here] + T[here, j]
                if t + stay[j] + T[j, 0] <= budget and (best_t is None or T[here, j] < best_t):
                    best, best_t = j, T[here, j]
            if best < 0:
                break
            clock += stay[here] + T[here, best]
            route.append(best)
            here = best
            left.discard(best)
        if not route:  # cannot happen: every stop alone was checked to fit
            raise ProblemError("a place does not fit the budget on its own")
        routes.append(route)
    return routes


def _route_ms(route: list[int], T: np.ndarray, stay: np.ndarray) -> int:
    stops = [0, *route, 0]
    return int(sum(stay[a] + T[a, b] for a, b in zip(stops, stops[1:])))


def _travel_ms(route: list[int], T: np.ndarray) -> int:
    stops = [0, *route, 0]
    return int(sum(T[a, b] for a, b in zip(stops, stops[1:])))


def solve_routes(
    travel_ms: np.ndarray,
    stay_ms: np.ndarray,
    budget_ms: int,
    *,
    max_routes: int | None = None,
    time_limit_s: float = 5.0,
) -> tuple[list[list[int]], list[int], dict]:
    """Routes from node 0 (the depot) visiting nodes 1..n, each within ``budget_ms`` (see the module docstring).

    Parameters
    ----------
    travel_ms : (n+1, n+1) array of int
        Travel milliseconds between nodes; a value above the budget marks a
        leg that cannot be walked within it.
    stay_ms : (n+1,) array of int
        Stay at each node (0 at the depot).
    budget_ms : int
        Longest route, travel and stays included.
    max_routes : int, optional
        Most routes; places that do not fit are dropped (returned).
    time_limit_s : float, default 5
        Seconds for OR-Tools' guided local search.

    Returns
    -------
    routes : list of list of int
        Nodes in visiting order, one list per route.
    dropped : list of int
        Nodes left out (only with ``max_routes``).
    info : dict
        ``greedy_routes, greedy_travel_ms, vehicles, solve_time_s, status``.

    Raises
    ------
    ProblemError
        When a node alone does not fit the budget.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    start = time.perf_counter()
    T = np.asarray(travel_ms, dtype=np.int64)
    stay = np.asarray(stay_ms, dtype=np.int64)
    n = T.shape[0] - 1
    alone = stay[1:] + T[0, 1:] + T[1:, 0]
    if n and alone.max() > budget_ms:
        raise ProblemError(f"node {int(np.argmax(alone)) + 1} does not fit the budget on its own")
    if n == 0:
        return (
            [],
            [],
            {"greedy_routes": 0, "greedy_travel_ms": 0, "vehicles": 0, "solve_time_s": 0.0, "status": "empty"},
        )
    greedy = _greedy_routes(T, stay, budget_ms)
    info = {
        "greedy_routes": len(greedy),
        "greedy_travel_ms": sum(_travel_ms(r, T) for r in greedy),
    }
    vehicles = len(greedy) if max_routes is None else min(len(greedy), int(max_routes))
    may_drop = vehicles < len(greedy)
    info["vehicles"] = vehicles
    if n == 1:
        info.update(solve_time_s=time.perf_counter() - start, status="trivial")
        return greedy, [], info
    big = budget_ms + 1
    Tc = np.minimum(T, big)
    manager = pywrapcp.RoutingIndexManager(n + 1, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    with_stays = Tc + stay[:, None]
    np.fill_diagonal(with_stays, 0)
    time_cb = routing.RegisterTransitMatrix(with_stays.tolist())
    cost_cb = routing.RegisterTransitMatrix(Tc.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    routing.AddDimension(time_cb, 0, int(budget_ms), True, "Time")
    # A route costs more than any total travel can, so fewer routes always win.
    fixed = int(vehicles * (budget_ms + 1) + 1)
    routing.SetFixedCostOfAllVehicles(fixed)
    if may_drop:
        for node in range(1, n + 1):
            routing.AddDisjunction([manager.NodeToIndex(node)], fixed * (vehicles + 1))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 10))
    initial = routing.ReadAssignmentFromRoutes([list(r) for r in greedy[:vehicles]], True)
    solution = (
        routing.SolveFromAssignmentWithParameters(initial, params)
        if initial is not None
        else routing.SolveWithParameters(params)
    )
    if solution is None:
        routes = greedy[:vehicles]
        status = "greedy"
    else:
        routes = []
        for v in range(vehicles):
            i = routing.Start(v)
            route = []
            i = solution.Value(routing.NextVar(i))
            while not routing.IsEnd(i):
                route.append(manager.IndexToNode(i))
                i = solution.Value(routing.NextVar(i))
            if route:
                routes.append(route)
        status = "solved"

    # Keep the greedy answer if the solver's is no better (fewer routes, then less travel).
    def key(rs: list[list[int]]) -> tuple[int, int, int]:
        return (n - sum(len(r) for r in rs), len(rs), sum(_travel_ms(r, T) for r in rs))

    if key(greedy[:vehicles]) < key(routes):
        routes, status = greedy[:vehicles], "greedy"
    visited = {s for r in routes for s in r}
    dropped = [s for s in range(1, n + 1) if s not in visited]
    info.update(solve_time_s=time.perf_counter() - start, status=status)
    return routes, dropped, info


# ------------------------------------------------------------- path drawing
def _travel_network(network: WalkNetwork) -> WalkNetwork:
    """The network legs are travelled on: stop to stop, so a drive view searched from the places is turned back."""
    c = network.costs
    if c is not None and c.summary.get("direction") == "to_sites":
        turned = replace(c.reversed(), summary={**c.summary, "direction": "from_sites"})
        return replace(network, costs=turned)
    return network


class _PathDrawer:
    """Lines along network shortest paths between snapped stops (for maps).

    Paths are the cheapest on the network the run used: its lengths, or on a
    profile's view its costs and allowed directions (one-way streets when
    driving), so the line drawn is the route the leg's minutes were counted on.
    """

    def __init__(self, network: WalkNetwork, snap: Snap, lonlat: np.ndarray, legs: bool) -> None:
        self.net, self.snap, self.lonlat, self.legs = network, snap, lonlat, legs
        # The arcs the search ran on, each with the edge behind it (the cheapest of parallel edges).
        self._indptr, self._indices, _, self._arc_edges = network.routing_arcs
        self._trees: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def _edge(self, x: int, y: int) -> int:
        lo, hi = int(self._indptr[x]), int(self._indptr[x + 1])
        at = lo + int(np.flatnonzero(self._indices[lo:hi] == y)[0])
        return int(self._arc_edges[at])

    def _tree(self, stop: int, limit: float):
        hit = self._trees.get(stop)
        if hit is None or hit[2] < limit:
            e = self.snap.edge[stop]
            ends = [int(self.net.edge_u[e]), int(self.net.edge_v[e])]
            dist, pred = dijkstra(self.net.cost_csr, directed=True, indices=ends, return_predecessors=True, limit=limit)
            hit = (dist, pred, limit)
            self._trees[stop] = hit
        return hit

    def _end_costs(self, e: int, f: float) -> tuple[float, float, float, float]:
        """Costs point → u, point → v, u → point and v → point on edge e (inf where its direction forbids)."""
        length = float(self.net.edge_length[e])
        c = self.net.costs
        if c is None:
            return f, length - f, f, length - f
        to_u, to_v = f * c.scale[e] + c.end_u[e], (length - f) * c.scale[e] + c.end_v[e]
        inf = np.inf
        return (
            float(to_u) if c.backward[e] else inf,
            float(to_v) if c.forward[e] else inf,
            float(to_u) if c.forward[e] else inf,
            float(to_v) if c.backward[e] else inf,
        )

    def _along_cost(self, e: int, fa: float, fb: float) -> float:
        """Cost from fa to fb along one edge, without leaving it."""
        c = self.net.costs
        if c is None:
            return abs(fa - fb)
        allowed = c.forward[e] if fb >= fa else c.backward[e]
        return float(abs(fa - fb) * c.scale[e]) if allowed else np.inf

    def _partial(self, e: int, start_frac: float, end_frac: float) -> np.ndarray:
        line = self.net.edge_lines_metric(np.array([e]))[0]
        piece = shapely.ops.substring(line, start_frac, end_frac, normalized=True)
        xy = shapely.get_coordinates(piece)
        lon, lat = self.net.to_wgs84.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    def line(self, a: int, b: int, metres: float) -> tuple[shapely.LineString, float]:
        """The path from stop a to stop b and its length (access legs included when the rule has them)."""
        s, net = self.snap, self.net
        ea, eb = int(s.edge[a]), int(s.edge[b])
        leg = (float(s.leg_m[a]) + float(s.leg_m[b])) if self.legs else 0.0
        fa, fb = float(s.from_u_m[a]), float(s.from_u_m[b])
        la, lb = float(net.edge_length[ea]), float(net.edge_length[eb])
        frac = lambda f, length: f / length if length > 0 else 0.0  # noqa: E731
        best = (np.inf, None)
        if ea == eb:
            best = (self._along_cost(ea, fa, fb), ("same",))
        dist, pred, _ = self._tree(a, max(metres, 1.0) * 1.01 + 1.0)
        leave_u, leave_v, _, _ = self._end_costs(ea, fa)
        _, _, arrive_u, arrive_v = self._end_costs(eb, fb)
        ends_a = ((0, int(net.edge_u[ea]), leave_u, 0.0), (1, int(net.edge_v[ea]), leave_v, 1.0))
        ends_b = ((int(net.edge_u[eb]), arrive_u, 0.0), (int(net.edge_v[eb]), arrive_v, 1.0))
        for row, na, off_a, end_a in ends_a:
            for nb, off_b, end_b in ends_b:
                total = off_a + dist[row, nb] + off_b
                if total < best[0] - 1e-9:
                    best = (total, (row, na, end_a, nb, end_b))
        how = best[1]
        parts = [self.lonlat[a : a + 1], s.point_lonlat[a : a + 1]]
        if how is None:
            raise ProblemError(f"no network path between stops {a} and {b}")
        if how[0] == "same":
            parts.append(self._partial(ea, frac(fa, la), frac(fb, lb)))
            total = abs(fa - fb)
        else:
            row, na, end_a, nb, end_b = how
            parts.append(self._partial(ea, frac(fa, la), end_a))
            nodes = [nb]
            while nodes[-1] != na:
                nodes.append(int(pred[row, nodes[-1]]))
            nodes.reverse()
            # Metres of the path (its cost can differ on a profile's view).
            total = (fa if end_a == 0.0 else la - fa) + (fb if end_b == 0.0 else lb - fb)
            for x, y in zip(nodes, nodes[1:]):
                e = self._edge(x, y)
                total += float(net.edge_length[e])
                xy = net.edge_coords[e]
                parts.append(xy if int(net.edge_u[e]) == x else xy[::-1])
            parts.append(self._partial(eb, end_b, frac(fb, lb)))
        parts += [s.point_lonlat[b : b + 1], self.lonlat[b : b + 1]]
        coords = np.concatenate(parts)
        return shapely.LineString(coords), float(total + leg)


# --------------------------------------------------------------- public API
def plan_circuits(
    result: CoverageResult,
    places: Sequence[str] | gpd.GeoDataFrame | None = None,
    depots: Sequence[str] | gpd.GeoDataFrame | None = None,
    *,
    budget_min: float = 240.0,
    stay_min: float = 20.0,
    max_routes: int | None = None,
    sessions: Sequence[str] = DEFAULT_SESSIONS,
    speed_kmh: float | None = None,
    time_limit_s: float = 10.0,
    progress: bool | None = False,
) -> CircuitPlan:
    """Plan circuit visits from the studios to places (default: those outside the threshold).

    See the module docstring for the model. Every place a studio can reach
    and come back from within the budget is visited exactly once; each
    route starts and ends at one studio and fits the budget, stays included.

    Parameters
    ----------
    result : CoverageResult
        Gives the network, the places, the studios and the walking speed.
    places : list of str or GeoDataFrame, optional
        Demand ids to visit, or other places (``id``, ``name``, points).
        Default: the result's places outside the threshold.
    depots : list of str or GeoDataFrame, optional
        Site ids the circuits leave from, or other studios. Default: every site.
    budget_min : float, default 240
        Longest route in minutes (a 4-hour half day), travel and stays included.
    stay_min : float, default 20
        Minutes spent at each place.
    max_routes : int, optional
        Most routes per studio; places beyond them are left out (listed in ``unscheduled``).
    sessions : sequence of str, default ("08:30", "14:00")
        Start times of a day's sessions; routes fill them in turn (day 1
        morning, day 1 afternoon, day 2 …), per studio.
    speed_kmh : float, optional
        Travel speed; default the result's walking speed (a driving profile
        can be given here once the network carries one).
    time_limit_s : float, default 10
        Seconds for the routing solver in all, shared among studios by their places.
    progress : bool or None, default False
        Progress bar for the walks between stops.

    Returns
    -------
    CircuitPlan

    Raises
    ------
    ProblemError
        When the budget is not longer than a stay, or the stay, speed, time
        limit or max_routes is not a valid number.
    DataError
        For unknown place or site ids, or session times that are not times of day.
    """
    for name, value in (("budget_min", budget_min), ("stay_min", stay_min), ("time_limit_s", time_limit_s)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)
        ):
            raise ProblemError(f"{name} must be a number, not {value!r}")
    if stay_min < 0:
        raise ProblemError(f"stay_min must be ≥ 0 minutes, not {stay_min!r}")
    if budget_min <= stay_min:
        raise ProblemError(
            f"a route of {budget_min:g} min cannot hold even one stop of {stay_min:g} min plus the walk there and back"
        )
    if time_limit_s <= 0:
        raise ProblemError(f"time_limit_s must be positive, not {time_limit_s!r}")
    if max_routes is not None and (
        isinstance(max_routes, bool) or not isinstance(max_routes, (int, np.integer)) or max_routes < 1
    ):
        raise ProblemError(f"max_routes must be a whole number ≥ 1, not {max_routes!r}")
    sessions = tuple(sessions)
    if not sessions:
        raise DataError("sessions: give at least one start time")
    starts = [_clock(t) for t in sessions]
    speed = result.speed_kmh if speed_kmh is None else float(speed_kmh)
    if not (np.isfinite(speed) and speed > 0):
        raise ProblemError(f"speed_kmh must be positive, not {speed_kmh!r}")
    mpm = speed * 1000.0 / 60.0

    place_frame, place_snap = _chosen_stops(result, places, "places")
    depot_frame, depot_snap = _chosen_stops(result, depots, "depots")
    n_d, n_p = len(depot_frame), len(place_frame)
    snap = Snap.concat([depot_snap, place_snap])
    lonlat = np.concatenate(
        [depot_frame[["lon", "lat"]].to_numpy(float), place_frame[["lon", "lat"]].to_numpy(float)]
    ).reshape(-1, 2)
    cutoff = (budget_min - stay_min) * mpm  # no leg of a route within the budget walks further
    ids = np.concatenate([depot_frame["depot_id"].to_numpy(object), place_frame["place_id"].to_numpy(object)])
    legs = result.matrix.include_access_legs
    network = _travel_network(result.network)
    matrix = AccessMatrix.compute(
        network, snap, snap, cutoff, include_access_legs=legs, site_ids=ids, demand_ids=ids, progress=progress
    )
    metres = np.full((n_d + n_p, n_d + n_p), np.inf)
    metres[matrix.rows, matrix.cols] = matrix.metres
    np.fill_diagonal(metres, 0.0)
    budget_ms = int(math.floor(budget_min * _MS))
    stay_ms = int(math.ceil(stay_min * _MS))
    with np.errstate(invalid="ignore"):
        travel_ms = np.where(np.isfinite(metres), np.ceil(metres / mpm * _MS), budget_ms + 1).astype(np.int64)

    unscheduled = []
    home = np.full(n_p, -1)
    depot_pieces = set(depot_snap.component[depot_snap.snapped].tolist())
    for p in range(n_p):
        node = n_d + p
        name = place_frame["place_name"].iloc[p]
        if not place_snap.snapped[p]:
            unscheduled.append((place_frame["place_id"].iloc[p], name, "off the network"))
            continue
        trip = travel_ms[:n_d, node] + travel_ms[node, :n_d] + stay_ms
        trip = np.where(depot_snap.snapped, trip, np.iinfo(np.int64).max)
        if n_d and place_snap.component[p] not in depot_pieces:
            unscheduled.append((place_frame["place_id"].iloc[p], name, "on a piece of network no studio reaches"))
            continue
        if not n_d or trip.min() > budget_ms:
            unscheduled.append(
                (place_frame["place_id"].iloc[p], name, f"no studio within a {budget_min:g}-minute round trip")
            )
            continue
        home[p] = int(np.argmin(trip))  # ties: the first studio

    route_rows, schedule_rows, leg_rows, solve_rows = [], [], [], []
    drawer = _PathDrawer(network, snap, lonlat, legs)
    route_no = 0
    total_places = max(int((home >= 0).sum()), 1)
    for d in range(n_d):
        mine = np.flatnonzero(home == d)
        if not len(mine):
            continue
        nodes = np.concatenate([[d], n_d + mine])
        T = travel_ms[np.ix_(nodes, nodes)]
        stays = np.r_[0, np.full(len(mine), stay_ms)].astype(np.int64)
        routes, dropped, info = solve_routes(
            T, stays, budget_ms, max_routes=max_routes, time_limit_s=time_limit_s * len(mine) / total_places
        )
        for node in dropped:
            p = mine[node - 1]
            unscheduled.append(
                (
                    place_frame["place_id"].iloc[p],
                    place_frame["place_name"].iloc[p],
                    f"more than {max_routes} route(s) needed",
                )
            )
        depot_id, depot_name = depot_frame["depot_id"].iloc[d], depot_frame["depot_name"].iloc[d]
        travel_total = 0.0
        for r, route in enumerate(routes):
            route_no += 1
            day, session = r // len(starts) + 1, r % len(starts) + 1
            t0 = starts[session - 1]
            stops = [d] + [n_d + mine[i - 1] for i in route] + [d]
            clock, travel = 0.0, 0.0
            for s_i, node in enumerate(stops):
                if s_i == 0:
                    route_rows.append(
                        (
                            route_no,
                            depot_id,
                            depot_name,
                            day,
                            session,
                            0,
                            "depart",
                            depot_id,
                            depot_name,
                            0.0,
                            0.0,
                            0.0,
                            0.0,
                        )
                    )
                    continue
                prev = stops[s_i - 1]
                leg_m = float(metres[prev, node])
                leg_min = leg_m / mpm
                clock += leg_min
                travel += leg_min
                line, _ = drawer.line(prev, node, leg_m)
                leg_rows.append((route_no, s_i, ids[prev], ids[node], leg_m, leg_min, line))
                last = s_i == len(stops) - 1
                arrival = clock
                if not last:
                    clock += stay_min
                p = node - n_d
                route_rows.append(
                    (
                        route_no,
                        depot_id,
                        depot_name,
                        day,
                        session,
                        s_i,
                        "return" if last else "visit",
                        depot_id if last else place_frame["place_id"].iloc[p],
                        depot_name if last else place_frame["place_name"].iloc[p],
                        leg_m,
                        leg_min,
                        arrival,
                        clock,
                    )
                )
            travel_total += travel
            visited = [mine[i - 1] for i in route]
            schedule_rows.append(
                {
                    "route": route_no,
                    "depot_id": depot_id,
                    "depot_name": depot_name,
                    "day": day,
                    "session": session,
                    "start_clock": _fmt_clock(t0),
                    "end_clock": _fmt_clock(t0 + clock),
                    "stops": len(route),
                    "place_ids": "; ".join(str(place_frame["place_id"].iloc[p]) for p in visited),
                    "places": "; ".join(str(place_frame["place_name"].iloc[p]) for p in visited),
                    "travel_min": travel,
                    "stay_min": stay_min * len(route),
                    "total_min": clock,
                }
            )
        solve_rows.append(
            {
                "depot_id": depot_id,
                "places": len(mine),
                "routes": len(routes),
                "travel_min": travel_total,
                "greedy_routes": info["greedy_routes"],
                "greedy_travel_min": info["greedy_travel_ms"] / _MS,
                "vehicles": info["vehicles"],
                "solve_time_s": round(info["solve_time_s"], 3),
                "status": info["status"],
            }
        )

    route_cols = [
        "route", "depot_id", "depot_name", "day", "session", "stop", "kind", "place_id", "place_name",
        "leg_m", "leg_min", "arrival_min", "leave_min",
    ]  # fmt: skip
    routes_df = pd.DataFrame(route_rows, columns=route_cols)
    if len(routes_df):
        start_of = {i + 1: t for i, t in enumerate(starts)}
        base = routes_df["session"].map(start_of)
        routes_df["arrival_clock"] = [_fmt_clock(b + m) for b, m in zip(base, routes_df["arrival_min"])]
        routes_df["leave_clock"] = [_fmt_clock(b + m) for b, m in zip(base, routes_df["leave_min"])]
    else:
        routes_df["arrival_clock"] = pd.Series(dtype=object)
        routes_df["leave_clock"] = pd.Series(dtype=object)
    schedule_cols = [
        "route", "depot_id", "depot_name", "day", "session", "start_clock", "end_clock", "stops",
        "place_ids", "places", "travel_min", "stay_min", "total_min",
    ]  # fmt: skip
    legs_df = gpd.GeoDataFrame(
        pd.DataFrame([r[:-1] for r in leg_rows], columns=["route", "leg", "from_id", "to_id", "metres", "minutes"]),
        geometry=[r[-1] for r in leg_rows],
        crs="EPSG:4326",
    )
    return CircuitPlan(
        routes=routes_df,
        schedule=pd.DataFrame(schedule_rows, columns=schedule_cols),
        legs=legs_df,
        unscheduled=pd.DataFrame(unscheduled, columns=["place_id", "place_name", "reason"]),
        solves=pd.DataFrame(
            solve_rows,
            columns=[
                "depot_id",
                "places",
                "routes",
                "travel_min",
                "greedy_routes",
                "greedy_travel_min",
                "vehicles",
                "solve_time_s",
                "status",
            ],  # fmt: skip
        ),
        budget_min=float(budget_min),
        stay_min=float(stay_min),
        speed_kmh=speed,
        sessions=sessions,
        matrix=matrix,
    )


# -------------------------------------------------------------- legal clinics
@dataclass
class ClinicPlan:
    """Clinic venues chosen to reach the most load of the chosen (by default uncovered) places.

    Parameters
    ----------
    proposal : Proposal
        The MCLP run of `propose_sites`, with only the chosen places carrying
        load (so its shares are of that load).
    venues : DataFrame
        The chosen venues in choice order: ``rank, venue_id, venue_name,
        places_reached, load_reached, place_ids, lon, lat`` (WGS-84).
    reached : DataFrame
        One row per chosen place: ``demand_id, demand_name, load,
        already_covered`` (an existing site reaches it), ``venue_id`` (the
        nearest chosen venue within the threshold, None if none), ``walk_min``.
    """

    proposal: Proposal
    venues: pd.DataFrame
    reached: pd.DataFrame

    def summary(self) -> dict:
        """Places and load targeted and reached, and the solve.

        Returns
        -------
        dict
        """
        r = self.reached
        load = float(r["load"].sum())
        got = float(r.loc[r["venue_id"].notna(), "load"].sum())
        return {
            "venues": len(self.venues),
            "places": len(r),
            "places_reached": int(r["venue_id"].notna().sum()),
            "load": load,
            "load_reached": got,
            "share_reached": got / load if load > 0 else float("nan"),
            "solve": self.proposal.summary()["exact"],
        }


def plan_clinics(
    result: CoverageResult,
    venues: gpd.GeoDataFrame,
    *,
    k: int,
    places: Sequence[str] | None = None,
    load: str | float | Sequence[float] | np.ndarray = "weight",
    time_limit: float | None = None,
    progress: bool | None = False,
) -> ClinicPlan:
    """Choose k clinic venues reaching the most load of the places outside the threshold (or ``places``).

    A clinic day at a venue serves the places within the walk threshold of
    it. This is the MCLP of `propose_sites` on the venues as candidates,
    with load only on the chosen places (existing sites' coverage of them
    counts as already served).

    Parameters
    ----------
    result : CoverageResult
        The run whose places are to be reached.
    venues : GeoDataFrame
        Possible venues (``id``, ``name``), e.g. ``build_candidates(result,
        tags={"amenity": ("community_centre",)})`` or a candidate file.
    k : int
        Clinic venues to choose.
    places : list of str, optional
        Demand ids to reach; default the places outside the threshold.
    load : str, number or array, default "weight"
        Each place's load (see `demand_loads`).
    time_limit : float, optional
        Seconds for HiGHS.
    progress : bool or None, default False
        Show progress bars (None: only on a terminal).

    Returns
    -------
    ClinicPlan

    Raises
    ------
    ProblemError
        When no place is left to reach, or for a bad k (from `propose_sites`).
    DataError
        For unknown place ids or a bad load.
    """
    demand = result.demand
    loads = demand_loads(demand, load)
    if places is None:
        target = ~demand["covered"].to_numpy(bool)
    else:
        wanted = {str(p) for p in places}
        unknown = sorted(wanted - set(demand["demand_id"].astype(str)))
        if unknown:
            raise DataError(f"places: no demand place has id {unknown[0]!r}")
        target = demand["demand_id"].astype(str).isin(wanted).to_numpy()
    if not (target & (loads > 0)).any():
        raise ProblemError("no place outside the threshold carries load: there is nothing for a clinic to reach")
    weighted = replace(result, demand=demand.assign(weight=np.where(target, loads, 0.0)))
    proposal = propose_sites(weighted, venues, method="mclp", k=k, time_limit=time_limit, progress=progress)
    after = proposal.after
    n_old = len(result.sites)
    chosen = proposal.sites
    clinic_rows = after.matrix.take_sites(np.arange(n_old, n_old + len(chosen)))
    near_site, near_m = clinic_rows.nearest()
    within = (near_site >= 0) & (near_m <= result.threshold_m) & target
    already = demand["covered"].to_numpy(bool)
    reach = within
    venue_ids = chosen["id"].astype(str).to_numpy(object)
    idx = np.flatnonzero(target)
    reached = pd.DataFrame(
        {
            "demand_id": demand["demand_id"].to_numpy()[idx],
            "demand_name": demand["demand_name"].to_numpy()[idx],
            "load": loads[idx],
            "already_covered": already[idx],
            "venue_id": np.where(reach[idx], venue_ids[np.maximum(near_site[idx], 0)], None),
            "walk_min": np.where(reach[idx], near_m[idx] / result.metres_per_minute, np.nan),
        }
    )
    rows = []
    where = place_lonlat(chosen)  # a venue's place, for the map
    for rank, vid in enumerate(venue_ids, start=1):
        mine = reached[reached["venue_id"] == vid]
        rows.append(
            {
                "rank": rank,
                "venue_id": vid,
                "venue_name": chosen["name"].iloc[rank - 1],
                "places_reached": len(mine),
                "load_reached": float(mine["load"].sum()),
                "place_ids": "; ".join(map(str, mine["demand_id"])),
                "lon": float(where[rank - 1, 0]),
                "lat": float(where[rank - 1, 1]),
            }
        )
    columns = ["rank", "venue_id", "venue_name", "places_reached", "load_reached", "place_ids", "lon", "lat"]
    return ClinicPlan(
        proposal=proposal,
        venues=pd.DataFrame(rows, columns=columns),
        reached=reached,
    )


__all__ = ["DEFAULT_SESSIONS", "CircuitPlan", "ClinicPlan", "plan_circuits", "plan_clinics", "solve_routes"]
