"""An independent travel-cost computation in plain Python and NetworkX, for the cost and drive tests.

The edge costs are derived here from the network's tags with the rules the
profiles document, written out edge by edge (not with the package's arrays);
then every place is spliced into its edge, as in `reference.py`, on a
*directed* graph (an edge gets an arc in each direction it may be travelled),
and NetworkX's Dijkstra answers site → place, with the path to read back.
"""

from __future__ import annotations

import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from coverage_planner.access.matrix import kernel_available
from coverage_planner.profiles import UNPAVED_SURFACES, DriveCosts, WalkCosts

ENGINES = [
    pytest.param(
        "c", marks=pytest.mark.skipif(not kernel_available(), reason="C walk kernel not built (no compiler at install)")
    ),
    "scipy",
]


def places_near_edges(network, k, rng, jitter_m=30.0):
    """Random places near random edges (lon/lat), pushed off the street like buildings."""
    edges = rng.integers(0, network.n_edges, k)
    pts = shapely.line_interpolate_point(network.edges_wgs84[edges], rng.uniform(0, 1, k), normalized=True)
    xy = shapely.get_coordinates(pts)
    return xy + rng.normal(0, jitter_m * 1e-5, xy.shape)


def frame(lonlat, prefix):
    """Points as a places GeoDataFrame with ids prefix0, prefix1, …"""
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(len(lonlat))]}, geometry=shapely.points(lonlat), crs="EPSG:4326"
    )


def dense(matrix):
    """An AccessMatrix as a dense array, inf where a pair is absent."""
    out = np.full(matrix.shape, np.inf)
    out[matrix.rows, matrix.cols] = matrix.metres
    return out


NOT_ROADS = {"footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor", "track"}


def tag(network, key, e):
    return "" if network.edge_tags is None or key not in network.edge_tags else network.edge_tags[key][e]


def node_tag(network, key, i):
    return "" if network.node_tags is None or key not in network.node_tags else network.node_tags[key][i]


def crossing_kind(network, main_roads, e, node):
    """0 no crossing, 1 a main-road crossing without signals, 2 with signals, at ``node`` of edge ``e``."""
    if network.edge_highway[e] in main_roads:
        return 0
    on_main = any(
        network.edge_highway[f] in main_roads
        for f in np.flatnonzero((network.edge_u == node) | (network.edge_v == node)).tolist()
    )
    if not on_main:
        return 0
    signal = (
        node_tag(network, "highway", node) == "traffic_signals"
        or node_tag(network, "crossing", node) == "traffic_signals"
        or node_tag(network, "crossing:signals", node) == "yes"
        or tag(network, "crossing", e) == "traffic_signals"
        or tag(network, "crossing:signals", e) == "yes"
    )
    return 2 if signal else 1


def maxspeed_kmh(text):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*", text.split(";")[0]) if text else None
    if not match:
        return None
    unit = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}[match.group(2)]
    value = float(match.group(1)) * unit
    return value if value > 0 else None


def reference_edges(network, profile):
    """Per edge: (scale, cost at u end, cost at v end, forward allowed, backward allowed, crossing kind u, v)."""
    costs = profile.costs
    out = []
    main_cache: dict[int, bool] = {}
    for e in range(network.n_edges):
        u, v = int(network.edge_u[e]), int(network.edge_v[e])
        highway = network.edge_highway[e]
        if isinstance(costs, WalkCosts):
            factor = 1.0
            if highway == "steps":
                factor *= costs.steps_factor
            if tag(network, "surface", e) in UNPAVED_SURFACES:
                factor *= costs.unpaved_factor
            if tag(network, "lit", e) == "no":
                factor *= costs.unlit_factor
            if highway not in NOT_ROADS and tag(network, "sidewalk", e) in ("no", "none"):
                factor *= costs.no_sidewalk_factor
            mps = profile.speed_kmh / 3.6
            ends, kinds = [], []
            for node in (u, v):
                key = (e, node)
                kind = main_cache.get(key)
                if kind is None:
                    kind = crossing_kind(network, set(costs.main_roads), e, node)
                    main_cache[key] = kind
                kinds.append(kind)
                wait = {0: 0.0, 1: costs.crossing_wait_s, 2: costs.signal_wait_s}[kind]
                ends.append(wait * mps / 2)
            out.append((factor, ends[0], ends[1], True, True, kinds[0], kinds[1]))
        else:
            assert isinstance(costs, DriveCosts)
            oneway = tag(network, "oneway", e)
            implied = tag(network, "junction", e) in ("roundabout", "circular") or highway in (
                "motorway",
                "motorway_link",
            )
            if oneway in ("-1", "reverse"):
                forward, backward = False, True
            elif oneway in ("yes", "true", "1") or (implied and oneway not in ("no", "false", "0")):
                forward, backward = True, False
            else:
                forward, backward = True, True
            speed = dict(costs.speeds_kmh).get(highway, dict(costs.speeds_kmh)["road"])
            tagged = maxspeed_kmh(tag(network, "maxspeed", e)) if costs.use_maxspeed else None
            if tagged is not None:
                speed = max(tagged * costs.maxspeed_factor, 1.0)
            if costs.direction == "to_sites":
                forward, backward = backward, forward
            out.append((profile.speed_kmh / speed, 0.0, 0.0, forward, backward, 0, 0))
    return out


def reference_graph(network, edges, site_snap, demand_snap, *, include_access_legs=True):
    """A MultiDiGraph of the network with every place spliced into its edge; arcs carry weight, metres and edge."""
    on_edge: dict[int, list[tuple[float, object]]] = {}
    legs = {}
    for kind, snap in (("s", site_snap), ("d", demand_snap)):
        for i in range(len(snap)):
            if snap.edge[i] < 0:
                continue
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.from_u_m[i]), (kind, i)))
            legs[(kind, i)] = float(snap.leg_m[i]) if include_access_legs else 0.0
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(network.n_nodes))
    for e in range(network.n_edges):
        scale, end_u, end_v, forward, backward, _, _ = edges[e]
        u, v, length = int(network.edge_u[e]), int(network.edge_v[e]), float(network.edge_length[e])
        chain = sorted(on_edge.get(e, []), key=lambda t: (t[0], t[1]))
        points = [(0.0, u)] + [(pos, ("split", label)) for pos, label in chain] + [(length, v)]
        for k in range(len(points) - 1):
            (a_pos, a), (b_pos, b) = points[k], points[k + 1]
            metres = b_pos - a_pos
            weight = metres * scale + (end_u if k == 0 else 0.0) + (end_v if k == len(points) - 2 else 0.0)
            if forward:
                g.add_edge(a, b, weight=weight, metres=metres, edge=e)
            if backward:
                g.add_edge(b, a, weight=weight, metres=metres, edge=e)
        for _, label in chain:
            g.add_edge(label, ("split", label), weight=legs[label], metres=legs[label], edge=-1)
            g.add_edge(("split", label), label, weight=legs[label], metres=legs[label], edge=-1)
    return g


def reference_costs(network, profile, site_snap, demand_snap, *, include_access_legs=True, reverse=False):
    """Dense (sites × places) costs, and per pair the path (list of nodes); inf where unreachable.

    ``reverse``: from each place to each site instead (searched on the reversed graph).
    """
    edges = reference_edges(network, profile)
    g = reference_graph(network, edges, site_snap, demand_snap, include_access_legs=include_access_legs)
    if reverse:
        g = g.reverse(copy=True)
    out = np.full((len(site_snap), len(demand_snap)), np.inf)
    paths: dict[tuple[int, int], list] = {}
    for i in range(len(site_snap)):
        if site_snap.edge[i] < 0:
            continue
        dist, path = nx.single_source_dijkstra(g, ("s", i), weight="weight")
        for j in range(len(demand_snap)):
            if ("d", j) in dist:
                out[i, j] = dist[("d", j)]
                paths[(i, j)] = path[("d", j)]
    return out, paths, g, edges


def path_summary(g, edges, path, network):
    """(metres, flights of steps, metres of steps, crossings, signalised crossings) along a reference path."""
    pieces = []  # (edge or -1 for an access leg, metres)
    for a, b in zip(path[:-1], path[1:]):
        data = min(g.get_edge_data(a, b).values(), key=lambda d: d["weight"])
        pieces.append((data["edge"], data["metres"]))
    metres = sum(m for _, m in pieces)
    flights, steps_m, prev = 0, 0.0, False
    for e, m in pieces:
        if e < 0:
            continue
        is_steps = network.edge_highway[e] == "steps"
        flights += is_steps and not prev
        steps_m += m if is_steps else 0.0
        prev = is_steps
    crossings = signals = 0
    # A network node inside the path lies between pieces of two edges.
    for k in range(1, len(path) - 1):
        node = path[k]
        if not isinstance(node, int):
            continue
        kinds = []
        for e in (pieces[k - 1][0], pieces[k][0]):
            kinds.append(edges[e][5] if int(network.edge_u[e]) == node else edges[e][6])
        crossings += max(kinds) > 0
        signals += max(kinds) == 2
    return metres, flights, steps_m, crossings, signals
