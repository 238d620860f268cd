"""Benchmark the site × demand walk-distance matrix against NetworkX and pandana.

For each network, a seeded random problem is built: ``--sites`` candidate
sites and ``--demand`` demand points, each placed exactly on a distinct random
node of the largest connected component. Every method then answers the same
node-to-node question — which (site, demand) pairs are within ``--cutoff``
metres of walk, and how far — and the answers are checked against each other
before any timing is trusted.

Methods are timed interleaved (``_timing.interleaved``: ``--repeat`` rounds, one
run of each method per round, the order rotated), reported as the median with
its min–max and the load average before and after; best-of is a labelled extra.
Ratios are of medians. Tables print as Markdown.

* ``ours``      ``AccessMatrix.compute`` (the C walk kernel, or SciPy without it).
                Snapping the points is timed separately and not included.
* ``networkx``  ``nx.single_source_dijkstra_path_length(G, s, cutoff, weight="length")``
                per site on an undirected ``nx.Graph``, then picking the demand nodes.
                Building the graph is timed separately and not included.
* ``pandana``   ``pandana.Network.nodes_in_range(sites, cutoff)`` (public API),
                then picking the demand nodes. Building the network (contraction
                hierarchies) is timed separately and not included. Two extra rows
                are reported for context: the C++ range query alone
                (``Network.net.nodes_in_range``, skipping pandana's per-source
                pandas post-processing) and ``shortest_path_lengths`` on the full
                sites × demand pair list.
* ``scipy-floor`` (context) the bare SciPy ``csgraph.dijkstra(net.csr, indices=sites,
                limit=cutoff)`` on the plain node graph, then the demand columns:
                the floor for ``ours``, which runs the same Dijkstra plus the
                work needed for places that sit on edges rather than nodes.

Usage::

    python benchmarks/bench_matrix.py [--repeat 3] [--networks monaco liechtenstein]
                                      [--profile] [--no-pandana-pairs]

Results are printed as tables and written to ``benchmarks/results/matrix.json``.
The OSM extracts are read from ``REPO/../shared/data/raw`` (override with the
environment variable ``COVERAGE_SHARED_RAW``); a network argument may also be a
path to any OSM or GraphML file.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling helpers, from anywhere

from _timing import Timing, fmt_s, interleaved, markdown_table, ratio, ratio_spread, spread

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import WalkNetwork

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
RESULTS = REPO / "benchmarks" / "results" / "matrix.json"
QUICK_DIR = Path(tempfile.gettempdir()) / "coverage-planner-bench"
NETWORKS = {
    "monaco": "monaco.osm.pbf",
    "liechtenstein": "liechtenstein-2013-08-03.osm.pbf",
    "andorra": "andorra.osm.pbf",
}
TOL_M = 1.0  # distances must agree within this (pandana stores weights as float32)
LEG_TOL_M = 1e-6  # points placed on nodes must snap with (almost) no access leg


# --------------------------------------------------------------------- data types
@dataclass
class Pairs:
    """Reachable (site index, demand index, metres) triples, sorted by site then demand."""

    rows: np.ndarray
    cols: np.ndarray
    metres: np.ndarray

    @classmethod
    def sorted(cls, rows: np.ndarray, cols: np.ndarray, metres: np.ndarray) -> Pairs:
        rows, cols, metres = np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(metres, float)
        order = np.lexsort((cols, rows))
        return cls(rows[order], cols[order], metres[order])

    def __len__(self) -> int:
        return len(self.metres)


@dataclass
class MethodResult:
    name: str
    call: str
    query: Timing
    setup_s: float | None = None  # excluded from `query`
    setup_what: str | None = None
    pairs: int = 0
    agreement: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["query"] = self.query.to_dict()
        return d


@dataclass
class Problem:
    """One benchmark instance: sites and demand placed on nodes of the largest component."""

    site_nodes: np.ndarray
    demand_nodes: np.ndarray
    excluded_nodes: int  # component-0 nodes not eligible (see `eligible_nodes`)


# ------------------------------------------------------------------------ helpers
@contextlib.contextmanager
def silence_fd_stdout() -> Iterator[None]:
    """Silence C/C++ writes to stdout (pandana's contraction prints progress)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def resolve_network(name: str) -> Path:
    """A short name from NETWORKS (looked up in RAW) or a path to a network file."""
    path = RAW / NETWORKS[name] if name in NETWORKS else Path(name)
    if not path.is_file():
        raise SystemExit(f"network file not found: {path} (set COVERAGE_SHARED_RAW?)")
    return path


def simple_edges(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected edges without loops, keeping the shortest of parallel edges (as ``net.csr``)."""
    a = np.minimum(net.edge_u, net.edge_v)
    b = np.maximum(net.edge_u, net.edge_v)
    keep = a != b
    a, b, w = a[keep], b[keep], net.edge_length[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], w[first]


def eligible_nodes(net: WalkNetwork) -> tuple[np.ndarray, int]:
    """Largest-component nodes whose own location snaps onto one of their own edges.

    A point on a node joins the network at that node only if the nearest edge
    is incident to it. In real OSM data a few nodes sit exactly on another,
    unconnected way (two OSM nodes at one spot); ours would then correctly
    route from the *other* way, which is no longer the node-to-node problem
    NetworkX and pandana solve. Those nodes are left out and counted.
    """
    nodes = np.flatnonzero(net.component == 0)
    snap = snap_points(net, net.node_lonlat[nodes])
    edge = snap.edge
    incident = (edge >= 0) & ((net.edge_u[edge] == nodes) | (net.edge_v[edge] == nodes))
    return nodes[incident], int((~incident).sum())


def make_problem(net: WalkNetwork, n_sites: int, n_demand: int, seed: int) -> Problem:
    """Distinct random sites and distinct random demand nodes (the two sets may overlap)."""
    nodes, excluded = eligible_nodes(net)
    if max(n_sites, n_demand) > len(nodes):
        raise SystemExit(f"only {len(nodes)} eligible nodes; ask for fewer sites/demand points")
    rng = np.random.default_rng(seed)
    sites = np.sort(rng.choice(nodes, n_sites, replace=False))
    demand = np.sort(rng.choice(nodes, n_demand, replace=False))
    return Problem(sites, demand, excluded)


def demand_lookup(n_nodes: int, demand_nodes: np.ndarray) -> np.ndarray:
    """Array node → demand index (-1 for nodes without a demand point)."""
    lookup = np.full(n_nodes, -1, dtype=np.int64)
    lookup[demand_nodes] = np.arange(len(demand_nodes))
    return lookup


# ------------------------------------------------------------------------ methods
def run_ours(net: WalkNetwork, sites: Snap, demand: Snap, cutoff: float) -> Pairs:
    m = AccessMatrix.compute(net, sites, demand, cutoff_m=cutoff, progress=False)
    return Pairs(m.rows, m.cols, m.metres)


def build_networkx(net: WalkNetwork) -> nx.Graph:
    a, b, w = simple_edges(net)
    g = nx.Graph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist()), weight="length")
    return g


def run_networkx(g: nx.Graph, problem: Problem, lookup: np.ndarray, cutoff: float) -> Pairs:
    rows, cols, metres = [], [], []
    for i, src in enumerate(problem.site_nodes.tolist()):
        dist = nx.single_source_dijkstra_path_length(g, src, cutoff=cutoff, weight="length")
        for node, d in dist.items():
            j = lookup[node]
            if j >= 0:
                rows.append(i)
                cols.append(j)
                metres.append(d)
    return Pairs.sorted(np.array(rows), np.array(cols), np.array(metres))


def build_pandana(net: WalkNetwork) -> Any:
    import pandana

    a, b, w = simple_edges(net)
    ids = np.arange(net.n_nodes)
    with silence_fd_stdout():
        return pandana.Network(
            pd.Series(net.node_lonlat[:, 0], index=ids),
            pd.Series(net.node_lonlat[:, 1], index=ids),
            pd.Series(a),
            pd.Series(b),
            pd.DataFrame({"length": w}),
            twoway=True,
        )


def _pick(site_index: np.ndarray, dest: np.ndarray, metres: np.ndarray, lookup: np.ndarray, cutoff: float) -> Pairs:
    j = lookup[dest]
    keep = (j >= 0) & (metres <= cutoff)
    return Pairs.sorted(site_index[keep], j[keep], metres[keep])


def run_pandana(pnet: Any, problem: Problem, lookup: np.ndarray, cutoff: float) -> Pairs:
    """Public API: ``Network.nodes_in_range`` (returns a DataFrame), then pick demand nodes."""
    df = pnet.nodes_in_range(problem.site_nodes, cutoff)
    site_index = np.searchsorted(problem.site_nodes, df["source"].to_numpy())
    return _pick(site_index, df["destination"].to_numpy(), df["length"].to_numpy(), lookup, cutoff)


def run_pandana_core(pnet: Any, problem: Problem, lookup: np.ndarray, cutoff: float) -> Pairs:
    """pandana's C++ range query alone (skips the per-source DataFrame concat of the public API).

    Node ids are 0..n-1, so pandana's external and internal ids coincide.
    """
    ext_ids = pnet.node_idx.index.to_numpy(dtype=np.int64)
    raw = pnet.net.nodes_in_range(problem.site_nodes.astype(np.int64), cutoff, 0, ext_ids)
    counts = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(raw)), dtype=float, count=2 * int(counts.sum()))
    flat = flat.reshape(-1, 2)
    site_index = np.repeat(np.arange(len(raw)), counts)
    return _pick(site_index, flat[:, 0].astype(np.int64), flat[:, 1], lookup, cutoff)


def run_pandana_pairs(pnet: Any, problem: Problem, cutoff: float) -> Pairs:
    """``Network.shortest_path_lengths`` on every site × demand pair, then keep ≤ cutoff."""
    k, n = len(problem.site_nodes), len(problem.demand_nodes)
    a = np.repeat(problem.site_nodes, n)
    b = np.tile(problem.demand_nodes, k)
    lengths = np.asarray(pnet.shortest_path_lengths(a, b), dtype=float)
    keep = lengths <= cutoff
    return Pairs.sorted(np.repeat(np.arange(k), n)[keep], np.tile(np.arange(n), k)[keep], lengths[keep])


def run_scipy_floor(net: WalkNetwork, problem: Problem, cutoff: float) -> Pairs:
    """Bounded SciPy Dijkstra from the site nodes on the plain network, demand columns picked."""
    # net.csr is symmetric, so directed=True is exact (and it is what AccessMatrix.compute runs).
    dist = dijkstra(net.csr, directed=True, indices=problem.site_nodes, limit=cutoff)[:, problem.demand_nodes]
    r, c = np.nonzero(dist <= cutoff)
    return Pairs(r, c, dist[r, c])  # np.nonzero is row-major: already sorted


# ---------------------------------------------------------------- verification
def compare(ref: Pairs, other: Pairs, n_demand: int, cutoff: float, tol: float = TOL_M) -> dict[str, Any]:
    """Check that two pair lists agree: same distances within ``tol`` on shared pairs,
    and any pair present in only one lies within ``tol`` of the cutoff (a rounding tie)."""
    ka = ref.rows * n_demand + ref.cols
    kb = other.rows * n_demand + other.cols
    common, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    only_ref = np.setdiff1d(np.arange(len(ka)), ia)
    only_other = np.setdiff1d(np.arange(len(kb)), ib)
    diff = np.abs(ref.metres[ia] - other.metres[ib])
    bad_only = int((ref.metres[only_ref] < cutoff - tol).sum() + (other.metres[only_other] < cutoff - tol).sum())
    return {
        "common_pairs": int(len(common)),
        "only_in_reference": int(len(only_ref)),
        "only_in_this": int(len(only_other)),
        "max_abs_diff_m": float(diff.max()) if len(diff) else 0.0,
        "pairs_over_tol": int((diff > tol).sum()),
        "unexplained_missing": bad_only,
        "ok": bool((diff <= tol).all() and bad_only == 0),
    }


def check_snaps(net: WalkNetwork, snap: Snap, nodes: np.ndarray) -> float:
    """Largest offset (access leg or position along the edge) of points placed on nodes."""
    at_u = net.edge_u[snap.edge] == nodes
    along = np.where(at_u, snap.from_u_m, snap.to_v_m)
    return float(max(np.nanmax(snap.leg_m), np.nanmax(along)))


# ------------------------------------------------------------------- one network
def profile_ours(net: WalkNetwork, sites: Snap, demand: Snap, cutoff: float, top: int = 12) -> str:
    prof = cProfile.Profile()
    prof.enable()
    run_ours(net, sites, demand, cutoff)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def bench_network(name: str, args: argparse.Namespace) -> dict[str, Any]:
    path = resolve_network(name)
    t0 = time.perf_counter()
    net = WalkNetwork.from_file(path)
    load_s = time.perf_counter() - t0
    _ = net.csr, net.component, net.edges_metric  # build cached structures outside all timings

    problem = make_problem(net, args.sites, args.demand, args.seed)
    lookup = demand_lookup(net.n_nodes, problem.demand_nodes)
    cutoff = args.cutoff

    snap_t, snaps, _ = interleaved(
        {
            "snap": lambda: (
                snap_points(net, net.node_lonlat[problem.site_nodes]),
                snap_points(net, net.node_lonlat[problem.demand_nodes]),
            )
        },
        args.repeat,
        warmup=False,
    )
    site_snap, demand_snap = snaps["snap"]
    max_offset = max(
        check_snaps(net, site_snap, problem.site_nodes), check_snaps(net, demand_snap, problem.demand_nodes)
    )
    if max_offset >= LEG_TOL_M:
        raise SystemExit(f"{name}: points on nodes snapped {max_offset:.3g} m away from their node")

    t0 = time.perf_counter()
    g = build_networkx(net)
    g_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pnet = build_pandana(net)
    p_s = time.perf_counter() - t0
    calls: dict[str, tuple[str, Callable[[], Pairs], float | None, str | None]] = {
        "ours": (
            "AccessMatrix.compute",
            lambda: run_ours(net, site_snap, demand_snap, cutoff),
            snap_t["snap"].median_s,
            "snapping",
        ),
        "networkx": (
            "single_source_dijkstra_path_length × sites",
            lambda: run_networkx(g, problem, lookup, cutoff),
            g_s,
            "graph build",
        ),
        "pandana": ("Network.nodes_in_range", lambda: run_pandana(pnet, problem, lookup, cutoff), p_s, "contraction"),
        "pandana-core": (
            "Network.net.nodes_in_range (C++ only)",
            lambda: run_pandana_core(pnet, problem, lookup, cutoff),
            None,
            None,
        ),
        "scipy-floor": (
            "csgraph.dijkstra on net.csr (node→node only)",
            lambda: run_scipy_floor(net, problem, cutoff),
            None,
            None,
        ),
    }
    if args.pandana_pairs:
        calls["pandana-pairs"] = (
            f"Network.shortest_path_lengths ({len(problem.site_nodes) * len(problem.demand_nodes):,} pairs)",
            lambda: run_pandana_pairs(pnet, problem, cutoff),
            None,
            None,
        )
    timings, results, load = interleaved({n: c[1] for n, c in calls.items()}, args.repeat)
    ours = results["ours"]
    methods = [
        MethodResult(
            n,
            c[0],
            timings[n],
            c[2],
            c[3],
            len(results[n]),
            {} if n == "ours" else compare(ours, results[n], len(problem.demand_nodes), cutoff),
        )
        for n, c in calls.items()
    ]

    out: dict[str, Any] = {
        "network": name,
        "file": str(path),
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "simple_edges": int(len(simple_edges(net)[0])),
        "largest_component_nodes": int((net.component == 0).sum()),
        "excluded_nodes": problem.excluded_nodes,
        "load_s": load_s,
        "sites": len(problem.site_nodes),
        "demand": len(problem.demand_nodes),
        "cutoff_m": cutoff,
        "repeat": args.repeat,
        "reachable_pairs": len(ours),
        "max_snap_offset_m": max_offset,
        "load": load.to_dict(),
        "load_text": load.text(),
        "methods": [m.to_dict() for m in methods],
        "_methods": methods,
        "ratios_vs_ours": {m.name: ratio(m.query, methods[0].query) for m in methods[1:]},
    }
    if args.profile:
        out["profile_ours"] = profile_ours(net, site_snap, demand_snap, cutoff)
    return out


# ----------------------------------------------------------------------- output
def print_network(res: dict[str, Any]) -> None:
    print(
        f"\n### {res['network']}\n\n{res['nodes']:,} nodes, {res['edges']:,} edges "
        f"({res['largest_component_nodes']:,} in largest component) — "
        f"{res['sites']} sites × {res['demand']:,} demand, cutoff {res['cutoff_m']:g} m, "
        f"{res['reachable_pairs']:,} reachable pairs; median (min–max) of {res['repeat']} interleaved rounds; "
        f"{res['load_text']}.\n"
    )
    ours = res["_methods"][0].query
    rows = []
    for m in res["_methods"]:
        agree = m.agreement
        rows.append(
            [
                m.name,
                m.call,
                spread(m.query),
                ratio_spread(m.query, ours),
                fmt_s(m.query.best_s),
                f"{fmt_s(m.setup_s)} {m.setup_what}" if m.setup_what else "—",
                f"{m.pairs:,}",
                f"{agree['max_abs_diff_m']:.2g}" if agree else "ref",
                ("yes" if agree["ok"] else "NO") if agree else "ref",
            ]
        )
    print(
        markdown_table(
            [
                "method",
                "call",
                "query, median (min–max)",
                "÷ ours",
                "best of (extra)",
                "excluded setup",
                "pairs",
                "max |Δ| m",
                "agrees",
            ],
            rows,
            align="llrrrrrrl",
        )
    )
    notes = [f"points on nodes snapped with max offset {res['max_snap_offset_m']:.1g} m"]
    if res["excluded_nodes"]:
        notes.append(
            f"{res['excluded_nodes']} largest-component node(s) not sampled: they lie exactly on another, unconnected edge"
        )
    for m in res["methods"][1:]:
        a = m["agreement"]
        if a["pairs_over_tol"]:
            notes.append(f"{m['name']}: {a['pairs_over_tol']} shared pair(s) differ by more than {TOL_M:g} m")
        if a["only_in_reference"] or a["only_in_this"]:
            notes.append(
                f"{m['name']}: {a['only_in_reference']} pair(s) only in ours, {a['only_in_this']} only in {m['name']} (all within {TOL_M:g} m of the cutoff)"
                if not a["unexplained_missing"]
                else f"{m['name']}: {a['unexplained_missing']} pair(s) missing away from the cutoff"
            )
    print()
    for n in notes:
        print(f"- {n}")
    if "profile_ours" in res:
        print(
            f"\ncProfile of one AccessMatrix.compute call ({res['network']}), by own time. "
            "The C kernel (or SciPy's Cython dijkstra) and NumPy indexing count as their callers' own time."
        )
        print(res["profile_ours"].strip() + "\n")


def environment() -> dict[str, Any]:
    try:
        import pandana
    except ImportError:
        pandana = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "pandana": getattr(pandana, "__version__", "?"),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--networks",
        nargs="+",
        default=["monaco", "liechtenstein"],
        help=f"short names ({', '.join(NETWORKS)}) or paths to OSM/GraphML files",
    )
    p.add_argument(
        "--repeat", type=int, default=5, help="interleaved rounds; medians and min–max are reported (default 5)"
    )
    p.add_argument("--sites", type=int, default=500)
    p.add_argument("--demand", type=int, default=2000)
    p.add_argument("--cutoff", type=float, default=1200.0, help="walk cutoff in metres (default 1200)")
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument(
        "--no-pandana-pairs",
        dest="pandana_pairs",
        action="store_false",
        help="skip the slow shortest_path_lengths row (sites × demand pairs)",
    )
    p.add_argument("--profile", action="store_true", help="cProfile one AccessMatrix.compute call per network")
    p.add_argument(
        "--quick", action="store_true", help="monaco only, 100 sites × 500 demand, 2 rounds: checks the script"
    )
    p.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(REPO)})")
    args = p.parse_args(argv)
    if args.quick:
        args.networks, args.sites, args.demand, args.repeat = ["monaco"], 100, 500, 2
        if args.output == RESULTS:
            args.output = QUICK_DIR / "matrix_quick.json"  # a check, not figures: kept out of the repository
    if args.repeat < 1:
        p.error("--repeat must be ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = [bench_network(name, args) for name in args.networks]
    for res in results:
        print_network(res)
    ok = all(m["agreement"].get("ok", True) for r in results for m in r["methods"])
    print("\n### Summary: ratios of median query times (higher = ours faster); targets NX ≥ 30×, pandana ≥ 5×\n")
    x = lambda v, d=1: "—" if v is None else f"{v:,.{d}f}×"
    rows = []
    for r in results:
        q = r["ratios_vs_ours"]
        nx_floor = q["networkx"] / q["scipy-floor"] if q.get("networkx") and q.get("scipy-floor") else None
        rows.append(
            [
                r["network"],
                spread(r["_methods"][0].query),
                x(q.get("networkx")),
                x(q.get("pandana")),
                x(q.get("pandana-core"), 2),
                x(q.get("scipy-floor"), 2),
                x(nx_floor),
                " / ".join(f"{v:.2f}" for v in r["load"]["loadavg_before"] or []) or "n/a",
            ]
        )
    print(
        markdown_table(
            [
                "network",
                "ours, median (min–max)",
                "NX / ours",
                "pandana / ours",
                "pandana-core / ours",
                "scipy-floor / ours",
                "NX / scipy-floor",
                "load before",
            ],
            rows,
        )
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "site × demand walk-distance matrix",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": environment(),
        "all_methods_agree": ok,
        "networks": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
    }
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    if not ok:
        print("some methods disagree with ours — see the tables above", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
