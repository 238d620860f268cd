"""City scale on real data: the Utrecht walk network end to end, and the walk matrix against NetworkX, pandana and the floor.

Network: ``utrecht_osm_segments.gpkg`` (real OSM road segments of Utrecht, NL,
81,565 nodes; see ``../shared/data/raw/PROVENANCE.md``) read by the road-line
loader (``load_network(path, class_column="highway")``, which applies the OSM
walk filter). The data holds no buildings or addresses, so the places are
**synthetic**: ``--demand`` demand places, ``--candidates`` candidate sites
and ``--sites`` existing sites, uniform along the walkable network (seeded),
each moved up to ``--jitter-m`` metres off its street in a random direction.

Part 1, the pipeline (each stage timed in every round, ``--repeat`` rounds):
``load`` the network; ``snap`` demand and candidates; ``walk matrix``
candidates × demand within the threshold (``AccessMatrix.compute``, its thread
pool, and ``1 thread``); ``coverage`` (``compute_coverage`` with the existing
sites, end to end); ``propose`` (``propose_sites(method="mclp", k=--k)``, end
to end: snapping and walking the candidates, then the solve). Peak RSS of the
process after the pipeline (before any comparison method runs).

Part 2, the same ratios as ``bench_scale.py`` on the small extracts: the
node-to-node problem (``--candidates`` site nodes × ``--demand`` demand nodes of
the largest component, threshold as cutoff), timed interleaved:

* ``ours`` / ``ours-1t``  ``AccessMatrix.compute`` (pool / one chunk in the calling thread);
* ``kernel-1t`` / ``kernel-2t``  the kernel's ``bounded_walks`` alone on the same
  node-to-node inputs (one call / the sites in eight chunks over two threads);
* ``floor``  bare binary-heap Dijkstra in C built with the kernel's flags (``_floor.py``);
* ``networkx``  ``single_source_dijkstra_path_length`` for a seeded sample of
  ``--networkx-sample`` sites, **extrapolated** × sites / sample (labelled so);
* ``pandana``  ``Network.nodes_in_range`` for all sites (if installed; contraction excluded).

Every method's pairs are checked against ours (within 1 m; NetworkX on its
sample) before a time is trusted; the script exits 1 on disagreement.
Medians and min–max of interleaved runs are reported with the load average
before and after; best-of is an extra, labelled column. The tables print as
Markdown, ready to paste. ``--quick`` runs a small version (for checking the
script, not for figures).

Usage::

    python benchmarks/bench_utrecht.py [--quick] [--repeat 5] [--demand 20000 --candidates 1000 --k 20]
                                       [--no-pandana] [--output benchmarks/results/utrecht.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling helpers, from anywhere

from _floor import Floor, NodeKernel
from _timing import Load, Timing, fmt_bytes, fmt_s, interleaved, loadavg, markdown_table, ratio, ratio_spread, spread
from bench_matrix import (
    TOL_M,
    Pairs,
    build_networkx,
    build_pandana,
    compare,
    demand_lookup,
    make_problem,
    run_pandana,
)

import coverage_planner as cp
from coverage_planner.access.matrix import AccessMatrix, kernel_available
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.download import load_network
from coverage_planner.network.graph import WalkNetwork

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
GPKG = RAW / "utrecht_osm_segments.gpkg"
RESULTS = REPO / "benchmarks" / "results" / "utrecht.json"
QUICK_DIR = Path(tempfile.gettempdir()) / "coverage-planner-bench"
M_PER_DEG_LAT = 111_195.0


# ------------------------------------------------------------------ synthetic places
def points_on_network(net: WalkNetwork, n: int, rng: np.random.Generator, jitter_m: float) -> np.ndarray:
    """``n`` lon/lat points uniform along the largest component's edges, each moved up to ``jitter_m`` off its street."""
    xy, off = net.coords, net.coord_offsets
    keep_edge = net.component[net.edge_u] == 0
    seg_edge = np.repeat(np.arange(net.n_edges), np.diff(off) - 1)
    first = np.delete(np.arange(len(xy) - 1), off[1:-1] - 1)  # segment i runs xy[i] → xy[i + 1] inside one edge
    a, b = xy[first], xy[first + 1]
    coslat = np.cos(np.radians(a[:, 1]))
    length = np.hypot((b[:, 0] - a[:, 0]) * coslat, b[:, 1] - a[:, 1]) * keep_edge[seg_edge]
    seg = rng.choice(len(first), n, p=length / length.sum())
    t = rng.random(n)[:, None]
    p = a[seg] + t * (b[seg] - a[seg])
    r, angle = jitter_m * np.sqrt(rng.random(n)), rng.uniform(0, 2 * math.pi, n)
    p[:, 1] += r * np.sin(angle) / M_PER_DEG_LAT
    p[:, 0] += r * np.cos(angle) / (M_PER_DEG_LAT * np.cos(np.radians(p[:, 1])))
    return p


def frame(lonlat: np.ndarray, prefix: str) -> gpd.GeoDataFrame:
    ids = [f"{prefix}{i:05d}" for i in range(len(lonlat))]
    return gpd.GeoDataFrame(
        {"id": ids, "name": ids}, geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs="EPSG:4326"
    )


# ------------------------------------------------------------------------ memory
def peak_rss_bytes() -> int:
    """Peak resident set of this process so far (Linux reports kB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# ------------------------------------------------------------------- part 1: pipeline
def pipeline(args: argparse.Namespace) -> dict[str, Any]:
    stages = ["load", "snap", "walk matrix", "walk matrix, 1 thread", "coverage", "propose"]
    runs: dict[str, Timing] = {s: Timing() for s in stages}
    load = Load(loadavg())
    info: dict[str, Any] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        net = load_network(args.network, class_column="highway")
        _ = net.csr, net.component, net.edge_tree
        runs["load"].runs_s.append(time.perf_counter() - t0)
        rng = np.random.default_rng(args.seed)  # same places every round
        demand = frame(points_on_network(net, args.demand, rng, args.jitter_m), "d")
        candidates = frame(points_on_network(net, args.candidates, rng, args.jitter_m), "c")
        sites = frame(points_on_network(net, args.sites, rng, args.jitter_m), "s")

        t0 = time.perf_counter()
        dem_snap = snap_points(net, np.column_stack([demand.geometry.x, demand.geometry.y]))
        cand_snap = snap_points(net, np.column_stack([candidates.geometry.x, candidates.geometry.y]))
        runs["snap"].runs_s.append(time.perf_counter() - t0)
        cutoff = args.threshold_min / 60 * 4.5 * 1000  # the default walker, 4.5 km/h

        t0 = time.perf_counter()
        m = AccessMatrix.compute(net, cand_snap, dem_snap, cutoff_m=cutoff, progress=False)
        runs["walk matrix"].runs_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        m1 = AccessMatrix.compute(net, cand_snap, dem_snap, cutoff_m=cutoff, chunk_size=len(cand_snap), progress=False)
        runs["walk matrix, 1 thread"].runs_s.append(time.perf_counter() - t0)
        if not (
            np.array_equal(m.rows, m1.rows) and np.array_equal(m.cols, m1.cols) and np.array_equal(m.metres, m1.metres)
        ):
            raise SystemExit("the walk matrix differs between the thread pool and one thread")

        t0 = time.perf_counter()
        result = cp.compute_coverage(net, sites, demand, threshold_min=args.threshold_min, progress=False)
        runs["coverage"].runs_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        proposal = cp.propose_sites(result, candidates, method="mclp", k=args.k)
        runs["propose"].runs_s.append(time.perf_counter() - t0)
        info = {
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "largest_component_nodes": int((net.component == 0).sum()),
            "matrix_pairs": int(m.nnz),
            "cutoff_m": cutoff,
            "demand_snapped": int(dem_snap.snapped.sum()),
            "candidates_snapped": int(cand_snap.snapped.sum()),
            "covered_before": float(result.demand["covered"].mean()),
            "covered_after": float(proposal.after.demand["covered"].mean()),
            "loader_details": {k: v for k, v in net.source.details.items() if k != "crossing_examples"},
        }
        del net, m, m1, result, proposal
        gc.collect()
    return {
        "stages": {s: t.to_dict() for s, t in runs.items()},
        "load": load.finish().to_dict(),
        **info,
        "peak_rss_bytes": peak_rss_bytes(),
        "_timings": runs,
        "_load": load,
    }


# ------------------------------------------------------------ part 2: ratios
def ratios(args: argparse.Namespace, floor: Floor) -> dict[str, Any]:
    net = load_network(args.network, class_column="highway")
    _ = net.csr, net.component, net.edge_tree
    problem = make_problem(net, args.candidates, args.demand, args.seed)
    lookup = demand_lookup(net.n_nodes, problem.demand_nodes)
    cutoff = args.threshold_min / 60 * 4.5 * 1000
    k, nd = len(problem.site_nodes), len(problem.demand_nodes)
    site_snap = snap_points(net, net.node_lonlat[problem.site_nodes])
    demand_snap = snap_points(net, net.node_lonlat[problem.demand_nodes])
    graph = floor.prepare(net)
    kernel = NodeKernel(net, problem.site_nodes, problem.demand_nodes, cutoff)
    rng = np.random.default_rng(args.seed)
    sample = np.sort(rng.choice(k, min(args.networkx_sample, k), replace=False))

    def ours(chunk: int = 128) -> Pairs:
        m = AccessMatrix.compute(net, site_snap, demand_snap, cutoff_m=cutoff, chunk_size=chunk, progress=False)
        return Pairs(m.rows, m.cols, m.metres)

    methods: dict[str, Any] = {
        "ours": ours,
        "ours-1t": lambda: ours(k),
        "kernel-1t": lambda: Pairs(*kernel.run(1)),
        "kernel-2t": lambda: Pairs(*kernel.run(2)),
        "floor": lambda: Pairs.sorted(*floor.run(graph, problem.site_nodes, problem.demand_nodes, cutoff)),
    }
    setup: dict[str, str] = {}
    g = None
    if args.networkx:
        t0 = time.perf_counter()
        g = build_networkx(net)
        setup["networkx"] = f"{fmt_s(time.perf_counter() - t0)} graph build"
        import networkx as nx

        def run_nx() -> Pairs:
            rows, cols, metres = [], [], []
            for i in sample.tolist():
                dist = nx.single_source_dijkstra_path_length(
                    g, int(problem.site_nodes[i]), cutoff=cutoff, weight="length"
                )
                for node, d in dist.items():
                    j = lookup[node]
                    if j >= 0:
                        rows.append(i)
                        cols.append(j)
                        metres.append(d)
            return Pairs.sorted(np.array(rows, np.int64), np.array(cols, np.int64), np.array(metres, float))

        methods["networkx"] = run_nx
    pandana_note = None
    if args.pandana:
        try:
            import pandana  # noqa: F401
        except ImportError:
            pandana_note = "pandana not installed"
        else:
            t0 = time.perf_counter()
            pnet = build_pandana(net)
            setup["pandana"] = f"{fmt_s(time.perf_counter() - t0)} contraction"
            methods["pandana"] = lambda: run_pandana(pnet, problem, lookup, cutoff)
    else:
        pandana_note = "--no-pandana"

    timings, results, load = interleaved(methods, args.repeat)
    ref = results["ours"]
    agreement: dict[str, Any] = {}
    for name, res in results.items():
        if name == "ours":
            continue
        if name == "networkx":
            keep = np.isin(ref.rows, sample)
            agreement[name] = compare(Pairs(ref.rows[keep], ref.cols[keep], ref.metres[keep]), res, nd, cutoff)
        else:
            agreement[name] = compare(ref, res, nd, cutoff)
    if "networkx" in timings:  # per site, then × all sites: an extrapolation, labelled so everywhere
        scale = k / len(sample)
        timings["networkx"] = Timing([t * scale for t in timings["networkx"].runs_s])
    return {
        "nodes": net.n_nodes,
        "sites": k,
        "demand": nd,
        "cutoff_m": cutoff,
        "excluded_nodes": problem.excluded_nodes,
        "reachable_pairs": len(ref),
        "networkx_sample": len(sample),
        "setup": setup,
        "pandana_note": pandana_note,
        "methods": {n: t.to_dict() for n, t in timings.items()},
        "agreement": agreement,
        "load": load.to_dict(),
        "_timings": timings,
        "_load": load,
    }


# ------------------------------------------------------------------------ output
def print_tables(args: argparse.Namespace, pipe: dict[str, Any], cmp: dict[str, Any], env: dict[str, Any]) -> None:
    quick = " — `--quick`, for checking the script only" if args.quick else ""
    print(
        f"\n### Utrecht end to end{quick}\n\n"
        f"{pipe['nodes']:,} nodes, {pipe['edges']:,} edges after the walk filter "
        f"({pipe['largest_component_nodes']:,} in the largest component); **synthetic** places uniform along the "
        f"network, up to {args.jitter_m:g} m off it: {args.demand:,} demand, {args.candidates:,} candidates, "
        f"{args.sites} existing sites; threshold {args.threshold_min:g} min = {pipe['cutoff_m']:g} m; "
        f"propose k = {args.k} (MCLP). Median (min–max) of {args.repeat} round(s); "
        f"{pipe['_load'].text()}.\n"
    )
    t = pipe["_timings"]
    rows = [[s, spread(t[s]), fmt_s(t[s].best_s)] for s in t]
    print(markdown_table(["stage", f"median (min–max) of {args.repeat}", "best of (extra)"], rows))
    print(
        f"\nwalk matrix: {pipe['matrix_pairs']:,} (candidate, place) pairs; coverage {pipe['covered_before']:.1%} → "
        f"{pipe['covered_after']:.1%} after proposing {args.k}; peak RSS of the process {fmt_bytes(pipe['peak_rss_bytes'])}."
    )
    tm = cmp["_timings"]
    print(
        f"\n### Utrecht walk matrix, node to node{quick}\n\n"
        f"{cmp['sites']:,} site nodes × {cmp['demand']:,} demand nodes, cutoff {cmp['cutoff_m']:g} m, "
        f"{cmp['reachable_pairs']:,} pairs; interleaved, median (min–max) of {args.repeat}; {cmp['_load'].text()}. "
        f"Floor built with the kernel's flags: {env['floor_flags_match']}.\n"
    )
    label = {
        "ours": "ours (AccessMatrix.compute, pool)",
        "ours-1t": "ours-1t (one chunk, calling thread)",
        "kernel-1t": "kernel alone, 1 thread",
        "kernel-2t": "kernel alone, sites in 8 chunks over 2 threads",
        "floor": "floor (binary-heap Dijkstra, same flags)",
        "networkx": f"networkx (**extrapolated** from {cmp['networkx_sample']} sites)",
        "pandana": "pandana nodes_in_range",
    }
    rows = []
    for name, tt in tm.items():
        a = cmp["agreement"].get(name)
        rows.append(
            [
                label.get(name, name),
                spread(tt),
                ratio_spread(tt, tm["ours"]),
                ratio_spread(tt, tm["floor"]),
                fmt_s(tt.best_s),
                cmp["setup"].get(name, "—"),
                "ref" if a is None else ("yes" if a["ok"] else "NO"),
            ]
        )
    print(
        markdown_table(
            [
                "method",
                "median (min–max)",
                "÷ ours",
                "÷ floor",
                "best of (extra)",
                "excluded setup",
                f"agrees (≤ {TOL_M:g} m)",
            ],
            rows,
        )
    )
    if cmp["pandana_note"]:
        print(f"\npandana skipped: {cmp['pandana_note']}.")
    q = lambda a, b: ratio(tm.get(a), tm.get(b))
    summary = [
        ["kernel-1t / floor (target ≤ 1.1)", q("kernel-1t", "floor")],
        ["ours-1t / floor", q("ours-1t", "floor")],
        ["kernel-1t / kernel-2t (target ≥ 1.7 with 2 free cores)", q("kernel-1t", "kernel-2t")],
        ["ours-1t / ours", q("ours-1t", "ours")],
        ["networkx (extrapolated) / ours", q("networkx", "ours")],
        ["pandana / ours", q("pandana", "ours")],
    ]
    print()
    print(markdown_table(["ratio of medians", "value"], [[n, "—" if v is None else f"{v:,.2f}×"] for n, v in summary]))


def environment(floor: Floor) -> dict[str, Any]:
    import networkx as nx

    try:
        import pandana

        pandana_version = getattr(pandana, "__version__", "?")
    except ImportError:
        pandana_version = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "networkx": nx.__version__,
        "pandana": pandana_version,
        "c_kernel_built": kernel_available(),
        "floor_build": floor.command,
        "floor_compiler": floor.compiler,
        "kernel_producer": floor.kernel_producer,
        "floor_producer": floor.floor_producer,
        "floor_flags_match": floor.flags_match,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--network", type=Path, default=GPKG, help="the Utrecht GeoPackage (default: ../shared/data/raw)")
    p.add_argument(
        "--quick", action="store_true", help="2,000 demand, 100 candidates, k = 5, 2 rounds: checks the script"
    )
    p.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--demand", type=int, default=20_000)
    p.add_argument("--candidates", type=int, default=1_000)
    p.add_argument("--sites", type=int, default=20, help="existing sites for compute_coverage (default 20)")
    p.add_argument("--k", type=int, default=20, help="sites to propose (default 20)")
    p.add_argument("--threshold-min", type=float, default=15.0)
    p.add_argument("--jitter-m", type=float, default=25.0, help="how far places may lie off their street (default 25)")
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--networkx-sample", type=int, default=50, help="sites NetworkX walks from (default 50)")
    p.add_argument("--no-networkx", dest="networkx", action="store_false")
    p.add_argument("--no-pandana", dest="pandana", action="store_false")
    p.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(REPO)})")
    args = p.parse_args(argv)
    if args.quick:
        args.demand, args.candidates, args.sites, args.k = 2_000, 100, 5, 5
        args.repeat, args.networkx_sample = 2, 10
        if args.output == RESULTS:
            args.output = QUICK_DIR / "utrecht_quick.json"  # a check, not figures: kept out of the repository
    if args.repeat < 1:
        p.error("--repeat must be ≥ 1")
    if not args.network.is_file():
        p.error(f"network file not found: {args.network} (set COVERAGE_SHARED_RAW?)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not kernel_available():
        print("warning: the C walk kernel is not built; ours runs on SciPy", file=sys.stderr)
    floor = Floor()
    started = time.perf_counter()
    try:
        pipe = pipeline(args)
        cmp = ratios(args, floor)
        env = environment(floor)
        print_tables(args, pipe, cmp, env)
    finally:
        floor.close()
    ok = all(a["ok"] for a in cmp["agreement"].values())
    strip = lambda d: {k: v for k, v in d.items() if not k.startswith("_")}
    payload = {
        "benchmark": "Utrecht end to end and walk matrix ratios",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": time.perf_counter() - started,
        "places": "synthetic: uniform along the walk network, jittered off it (the data has no buildings)",
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": env,
        "pipeline": strip(pipe),
        "node_to_node": strip(cmp),
        "all_methods_agree": ok,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.output}")
    if not ok:
        print("some methods disagree with ours — see the tables above", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
