"""An independent walk-distance computation in plain NetworkX, for tests.

Every place becomes its own node, spliced into its edge at the snap point
(several places on one edge are chained in order along it), joined to the
place by its access leg. Then NetworkX's Dijkstra answers site → demand.
"""

from __future__ import annotations

import networkx as nx
import numpy as np


def networkx_walk_distances(network, site_snap, demand_snap, *, include_access_legs=True):
    """Dense (sites × demand) walk metres via NetworkX Dijkstra; inf where unreachable."""
    # Places per edge, as (position from u, node label).
    on_edge: dict[int, list[tuple[float, object]]] = {}
    legs = {}
    for kind, snap in (("s", site_snap), ("d", demand_snap)):
        for i in range(len(snap)):
            if snap.edge[i] < 0:
                continue
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.from_u_m[i]), (kind, i)))
            legs[(kind, i)] = float(snap.leg_m[i]) if include_access_legs else 0.0
    mg = nx.MultiGraph()
    mg.add_nodes_from(range(network.n_nodes))
    for e in range(network.n_edges):
        u, v, length = int(network.edge_u[e]), int(network.edge_v[e]), float(network.edge_length[e])
        chain = sorted(on_edge.get(e, []), key=lambda t: (t[0], t[1]))
        prev_node, prev_pos = u, 0.0
        for pos, label in chain:
            split = ("split", label)
            mg.add_edge(prev_node, split, weight=pos - prev_pos)
            mg.add_edge(split, label, weight=legs[label])
            prev_node, prev_pos = split, pos
        mg.add_edge(prev_node, v, weight=length - prev_pos)
    out = np.full((len(site_snap), len(demand_snap)), np.inf)
    for i in range(len(site_snap)):
        if site_snap.edge[i] < 0:
            continue
        lengths = nx.single_source_dijkstra_path_length(mg, ("s", i), weight="weight")
        for j in range(len(demand_snap)):
            out[i, j] = lengths.get(("d", j), np.inf)
    return out
