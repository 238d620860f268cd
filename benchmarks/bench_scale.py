"""Scale benchmark: the site × demand walk matrix from small cities to a 1M-node grid.

For each network, the same seeded node-to-node problem (``--sites`` sites and
``--demand`` demand points on distinct random nodes of the largest component,
``--cutoff`` metres) is answered, in the same run, by:

* ``ours``       ``AccessMatrix.compute(net, sites, demand, cutoff, progress=False)``,
                 as users call it (its own thread pool), and ``ours-1t``: the same
                 call with ``chunk_size=len(sites)``, one chunk in the calling thread.
* ``kernel-1t``  the C kernel's ``bounded_walks`` alone on the node-to-node inputs
                 (``_floor.NodeKernel``), one call; ``kernel-2t``: the sites in
                 eight chunks that two threads take in turn.
* ``floor``      a plain binary-heap Dijkstra in C (``benchmarks/_floor_dijkstra.c``),
                 built at start with the kernel's own compiler and flags (``_floor.py``
                 checks the flags GCC recorded in both objects), loaded with ctypes:
                 single-threaded, node to node, bounded by the cutoff, scratch kept
                 between calls like the kernel's.
* ``networkx``   ``nx.single_source_dijkstra_path_length`` per site (graph build and
                 its memory reported separately).
* ``pandana``    ``Network.nodes_in_range`` (contraction reported separately).

Networks: real OSM extracts (``monaco``, ``liechtenstein``, ``andorra``) loaded with
``WalkNetwork.from_file``, the Utrecht road-line GeoPackage (``utrecht``, via
``load_network(..., class_column="highway")``), and two synthetic square grids
(``grid200k``, ``grid1m``) built directly as a ``WalkNetwork``. Methods are timed
interleaved (``_timing.interleaved``: one run of each per round, order rotated);
the headline is the median with its min–max, best-of is a labelled extra, and
the load average before and after each network is printed. Ratios are of
medians. All methods are cross-checked (within 1 m; pairs only one side finds
must be cutoff ties) before any time is trusted; the script exits 1 on
disagreement. Tables print as Markdown.

Memory of ``ours``: tracemalloc peak (Python and NumPy allocations) and the peak
RSS growth of one call in a fresh child process (includes the C kernel's malloc),
next to reached pairs × 24 bytes and the K × N × 8 bytes a dense matrix needs.

Usage::

    python benchmarks/bench_scale.py [--quick] [--networks monaco liechtenstein andorra utrecht grid200k grid1m]
                                     [--repeat 5] [--grid-repeat N] [--sites 500 --demand 2000 --cutoff 1200]
                                     [--no-pandana] [--pandana-max-nodes N] [--networkx-max-nodes N]

Results go to ``benchmarks/results/scale.json`` (with ``--quick``: the temp directory, not the repository).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import math
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so the sibling modules import when run from anywhere

from _floor import Floor, NodeKernel
from _timing import Timing, fmt_bytes, fmt_s, interleaved, markdown_table, ratio, ratio_spread, spread
from bench_matrix import (
    LEG_TOL_M,
    NETWORKS,
    RAW,
    TOL_M,
    Pairs,
    Problem,
    build_networkx,
    build_pandana,
    check_snaps,
    compare,
    demand_lookup,
    environment,
    make_problem,
    resolve_network,
    run_networkx,
    run_pandana,
)

from coverage_planner._geo import polyline_lengths_m
from coverage_planner.access.matrix import AccessMatrix, kernel_available
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.download import load_network
from coverage_planner.network.graph import NetworkSource, WalkNetwork
from coverage_planner.settings import walk_threads

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
QUICK_DIR = Path(tempfile.gettempdir()) / "coverage-planner-bench"
GRIDS = {"grid200k": 448, "grid1m": 1000}  # side length: 448² = 200,704 and 1000² = 1,000,000 nodes
GRID_SPACING_M = 80.0
GRID_CENTRE = (9.0, 45.0)  # lon, lat: mid latitude, centre of UTM zone 32
SYNTH = "synthetic grid"
PANDANA_MAX_NODES = 100_000  # contraction hierarchies: 636 s on the 200k grid (2 cores), far more on 1M
CHUNK_DEFAULT = 128  # AccessMatrix.compute's default chunk_size (used to report its thread count)


# ------------------------------------------------------------------ synthetic grids
def synthetic_grid(side: int, seed: int) -> WalkNetwork:
    """A side × side street grid, ~80 m spacing, every edge length scaled by a seeded factor in [1, 1.2).

    The factor makes shortest paths unique (a plain grid has many equal ones),
    so methods can be compared pair by pair without tie noise.
    """
    lon0, lat0 = GRID_CENTRE
    dlat = GRID_SPACING_M / 111_195.0
    dlon = dlat / math.cos(math.radians(lat0))
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    lon = lon0 + (col.ravel() - (side - 1) / 2) * dlon
    lat = lat0 + (row.ravel() - (side - 1) / 2) * dlat
    node = np.arange(side * side, dtype=np.int64).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])  # east, then north neighbours
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    order = np.lexsort((v, u))  # the edge order WalkNetwork's loaders produce
    u, v = u[order], v[order]
    m = len(u)
    lonlat = np.column_stack([lon, lat])
    coords = np.empty((2 * m, 2))
    coords[0::2], coords[1::2] = lonlat[u], lonlat[v]
    offsets = np.arange(0, 2 * m + 1, 2, dtype=np.int64)
    jitter = np.random.default_rng(seed).uniform(1.0, 1.2, m)
    return WalkNetwork(
        node_ids=np.arange(side * side, dtype=np.int64),
        node_lonlat=lonlat,
        edge_u=u,
        edge_v=v,
        edge_length=polyline_lengths_m(coords, offsets) * jitter,
        coords=coords,
        coord_offsets=offsets,
        edge_way_id=np.arange(m, dtype=np.int64),
        edge_highway=["footway"] * m,
        edge_name=[None] * m,
        source=NetworkSource(kind="graph", query=f"{SYNTH} {side}x{side}, {GRID_SPACING_M:g} m, seed {seed}"),
    )


def grid_problem(net: WalkNetwork, n_sites: int, n_demand: int, seed: int) -> Problem:
    """As bench_matrix.make_problem, without its snap-every-node eligibility pass.

    On a grid a node lies only on its own edges, so every node is eligible;
    `check_snaps` still verifies the sampled points.
    """
    nodes = np.flatnonzero(net.component == 0)
    rng = np.random.default_rng(seed)
    return Problem(
        np.sort(rng.choice(nodes, n_sites, replace=False)), np.sort(rng.choice(nodes, n_demand, replace=False)), 0
    )


# ------------------------------------------------------------------------ memory
def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int | None:
    kb = _proc_status_kb("VmRSS")
    return None if kb is None else kb * 1024


def peak_rss_growth(net: WalkNetwork, site_snap: Snap, demand_snap: Snap, cutoff: float, chunk: int) -> int | None:
    """Peak RSS growth (bytes) of one ``AccessMatrix.compute`` call, measured in a fresh Python process.

    A fresh process (not a fork of this one, whose thread pools and OpenMP
    runtime made forked children hang) gets the network and snaps by pickle;
    it pins glibc's mmap threshold so large blocks are fresh pages, resets the
    kernel's high-water mark (/proc/self/clear_refs), then makes one call.
    Returns None where /proc is not available or the probe fails.
    """
    if _proc_status_kb("VmHWM") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench_scale_mem_") as tmp:
        blob = Path(tmp) / "problem.pkl"
        # Only the dataclass fields travel; cached structures are rebuilt before the baseline.
        with open(blob, "wb") as fh:
            pickle.dump((dataclasses.replace(net, coords_metric=None), site_snap, demand_snap, cutoff, chunk), fh)
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--memory-probe", str(blob)],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print("memory probe timed out", file=sys.stderr)
            return None
    if done.returncode != 0:
        print(f"memory probe failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return int(done.stdout.strip().splitlines()[-1])


def memory_probe(blob: Path) -> int:
    """Child side of `peak_rss_growth`: print the peak RSS growth of one call, in bytes."""
    try:
        ctypes.CDLL(None).mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD, fixed: big arrays are always fresh mmaps
    except (OSError, AttributeError):
        pass
    with open(blob, "rb") as fh:
        net, site_snap, demand_snap, cutoff, chunk = pickle.load(fh)
    _ = net.csr
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
    before = _proc_status_kb("VmRSS")
    AccessMatrix.compute(net, site_snap, demand_snap, cutoff_m=cutoff, chunk_size=chunk, progress=False)
    print((_proc_status_kb("VmHWM") - before) * 1024)
    return 0


def tracemalloc_peak(fn: Callable[[], Any]) -> int:
    """Peak bytes traced while ``fn()`` runs (Python objects and NumPy buffers; not raw C malloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -------------------------------------------------------------------- one network
@dataclass
class Row:
    name: str
    call: str
    threads: int | None
    timing: Timing | None = None
    setup_s: float | None = None
    setup_what: str | None = None
    setup_rss_bytes: int | None = None
    pairs: int | None = None
    agreement: dict[str, Any] | None = None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "timing"}
        d.update(self.timing.to_dict() if self.timing else {"median_s": None, "best_of_s": None, "runs_s": None})
        return d


UTRECHT = "utrecht"  # the real city-scale walk network, a road-line GeoPackage (see bench_utrecht.py)


def load(name: str, seed: int) -> tuple[WalkNetwork, str, str, str]:
    """(network, kind, label, origin). Real extracts are loaded from file; grids are generated."""
    if name in GRIDS:
        side = GRIDS[name]
        return (
            synthetic_grid(side, seed),
            SYNTH,
            f"{name} ({SYNTH} {side}×{side})",
            f"{SYNTH}: {side}×{side} nodes, {GRID_SPACING_M:g} m spacing, lengths × U[1, 1.2)",
        )
    if name == UTRECHT:
        path = RAW / "utrecht_osm_segments.gpkg"
        if not path.is_file():
            raise SystemExit(f"network file not found: {path} (set COVERAGE_SHARED_RAW?)")
        return load_network(path, class_column="highway"), "real OSM (road lines)", name, str(path)
    path = resolve_network(name)
    return WalkNetwork.from_file(path), "real OSM", name, str(path)


def ours_threads(n_sites: int, chunk_size: int) -> int:
    """Workers `AccessMatrix.compute` uses: its pool (`settings.walk_threads`) when the kernel is built and there are several chunks."""
    if not kernel_available() or math.ceil(n_sites / chunk_size) <= 1:
        return 1
    return walk_threads()


def bench_network(name: str, args: argparse.Namespace, floor: Floor) -> dict[str, Any]:
    t0 = time.perf_counter()
    net, kind, label, origin = load(name, args.seed)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ = net.csr, net.component, net.edge_tree  # cached structures, built before any timing
    prep_s = time.perf_counter() - t0
    repeat = args.grid_repeat if kind == SYNTH and args.grid_repeat else args.repeat
    print(
        f"{label}: {net.n_nodes:,} nodes, {net.n_edges:,} edges "
        f"(load {load_s:.1f} s, cached structures {prep_s:.1f} s); {repeat} interleaved rounds",
        file=sys.stderr,
    )

    problem = (grid_problem if kind == SYNTH else make_problem)(net, args.sites, args.demand, args.seed)
    lookup = demand_lookup(net.n_nodes, problem.demand_nodes)
    cutoff, k, nd = args.cutoff, len(problem.site_nodes), len(problem.demand_nodes)
    t0 = time.perf_counter()
    site_snap = snap_points(net, net.node_lonlat[problem.site_nodes])
    demand_snap = snap_points(net, net.node_lonlat[problem.demand_nodes])
    snap_s = time.perf_counter() - t0
    max_offset = max(
        check_snaps(net, site_snap, problem.site_nodes), check_snaps(net, demand_snap, problem.demand_nodes)
    )
    if max_offset >= LEG_TOL_M:
        raise SystemExit(f"{label}: points on nodes snapped {max_offset:.3g} m away from their node")

    def ours(chunk: int = CHUNK_DEFAULT, s: Snap = site_snap, d: Snap = demand_snap) -> Pairs:
        m = AccessMatrix.compute(net, s, d, cutoff_m=cutoff, chunk_size=chunk, progress=False)
        return Pairs(m.rows, m.cols, m.metres)

    graph = floor.prepare(net)
    kernel = NodeKernel(net, problem.site_nodes, problem.demand_nodes, cutoff)
    rows: list[Row] = [
        Row("ours", f"AccessMatrix.compute (default chunk_size={CHUNK_DEFAULT})", ours_threads(k, CHUNK_DEFAULT)),
        Row("ours-1t", f"AccessMatrix.compute, chunk_size={k} (one chunk)", 1),
        Row("kernel-1t", "bounded_walks alone, node-to-node inputs, one call", 1),
        Row("kernel-2t", "bounded_walks alone, sites in 8 chunks over 2 threads", 2),
        Row("floor", "plain binary-heap Dijkstra in C, kernel's flags (ctypes)", 1),
    ]
    methods: dict[str, Callable[[], Pairs]] = {
        "ours": ours,
        "ours-1t": lambda: ours(chunk=k),
        "kernel-1t": lambda: Pairs(*kernel.run(1)),
        "kernel-2t": lambda: Pairs(*kernel.run(2)),
        "floor": lambda: Pairs.sorted(*floor.run(graph, problem.site_nodes, problem.demand_nodes, cutoff)),
    }
    rows[0].setup_s, rows[0].setup_what = snap_s, "snapping"

    # Memory of ours first, before NetworkX and pandana enlarge the process.
    ref = ours()
    memory = {
        "reached_pairs": len(ref),
        "pairs_x24_bytes": 24 * len(ref),
        "dense_KxN_x8_bytes": 8 * k * net.n_nodes,
        "dense_KxD_x8_bytes": 8 * k * nd,
        "tracemalloc_peak_bytes": tracemalloc_peak(ours),
        "rss_peak_growth_bytes": None
        if args.quick
        else peak_rss_growth(net, site_snap, demand_snap, cutoff, CHUNK_DEFAULT),
        "rss_peak_growth_1t_bytes": None if args.quick else peak_rss_growth(net, site_snap, demand_snap, cutoff, k),
        # From _walkkernel.c, kept per worker thread between calls: dist + touched + list head per node,
        # best + touched + reached bit per place, next per demand entry (two per place).
        "c_kernel_scratch_per_thread_bytes": 24 * net.n_nodes + 16 * nd + nd // 8 + 16 * nd,
        "threads": ours_threads(k, CHUNK_DEFAULT),
    }

    nx_row = Row("networkx", "single_source_dijkstra_path_length × sites", 1)
    rows.append(nx_row)
    g = None
    if args.networkx_max_nodes is not None and net.n_nodes > args.networkx_max_nodes:
        nx_row.skipped = f"{net.n_nodes:,} nodes > --networkx-max-nodes {args.networkx_max_nodes:,}"
    else:
        gc.collect()
        rss0, t0 = rss_bytes(), time.perf_counter()
        g = build_networkx(net)
        nx_row.setup_s, rss1 = time.perf_counter() - t0, rss_bytes()
        nx_row.setup_what, nx_row.setup_rss_bytes = "graph build", None if rss0 is None else rss1 - rss0
        methods["networkx"] = lambda: run_networkx(g, problem, lookup, cutoff)

    pd_row = Row("pandana", "Network.nodes_in_range", None)
    rows.append(pd_row)
    pnet = None
    if not args.pandana:
        pd_row.skipped = "--no-pandana"
    elif args.pandana_max_nodes and net.n_nodes > args.pandana_max_nodes:
        pd_row.skipped = f"{net.n_nodes:,} nodes > --pandana-max-nodes {args.pandana_max_nodes:,}"
    elif not pandana_installed():
        pd_row.skipped = "pandana not installed"
    else:
        rss0, t0 = rss_bytes(), time.perf_counter()
        pnet = build_pandana(net)
        pd_row.setup_s, rss1 = time.perf_counter() - t0, rss_bytes()
        pd_row.setup_what, pd_row.setup_rss_bytes = "contraction", None if rss0 is None else rss1 - rss0
        methods["pandana"] = lambda: run_pandana(pnet, problem, lookup, cutoff)

    timings, results, load_window = interleaved(methods, repeat)
    ref = results["ours"]
    for row in rows:
        if row.name in timings:
            row.timing, row.pairs = timings[row.name], len(results[row.name])
            if row.name != "ours":
                row.agreement = compare(ref, results[row.name], nd, cutoff)
    g = pnet = None  # free NetworkX's graph and pandana's network before the next measurements
    gc.collect()

    # Fixed cost of one call: a single site and place, so the walk itself is negligible.
    one_s, one_d = site_snap.take(np.array([0])), demand_snap.take(np.array([0]))
    fixed, _, _ = interleaved(
        {
            "ours": lambda: ours(s=one_s, d=one_d),
            "floor": lambda: floor.run(graph, problem.site_nodes[:1], problem.demand_nodes[:1], cutoff),
        },
        max(repeat, 5),
    )
    kernel.close()

    by = {r.name: r.timing for r in rows}
    return {
        "network": name,
        "kind": kind,
        "label": label,
        "origin": origin,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "largest_component_nodes": int((net.component == 0).sum()),
        "excluded_nodes": problem.excluded_nodes,
        "load_s": load_s,
        "cached_structures_s": prep_s,
        "sites": k,
        "demand": nd,
        "cutoff_m": cutoff,
        "repeat": repeat,
        "load": load_window.to_dict(),
        "load_text": load_window.text(),
        "reachable_pairs": len(ref),
        "max_snap_offset_m": max_offset,
        "methods": [r.to_dict() for r in rows],
        "fixed_cost_per_call": {
            "what": "median of one call with 1 site × 1 place (the walk itself is negligible)",
            "ours": fixed["ours"].to_dict(),
            "floor": fixed["floor"].to_dict(),
        },
        "memory_ours": memory,
        "ratios_of_medians": {
            "networkx/ours": ratio(by.get("networkx"), by["ours"]),
            "pandana/ours": ratio(by.get("pandana"), by["ours"]),
            "ours/floor": ratio(by["ours"], by["floor"]),
            "ours-1t/floor": ratio(by["ours-1t"], by["floor"]),
            "kernel-1t/floor": ratio(by["kernel-1t"], by["floor"]),
            "kernel-1t/kernel-2t": ratio(by["kernel-1t"], by["kernel-2t"]),
            "ours-1t/ours": ratio(by["ours-1t"], by["ours"]),
            "networkx/floor": ratio(by.get("networkx"), by["floor"]),
        },
        "_rows": rows,
        "_fixed": fixed,
    }


def pandana_installed() -> bool:
    try:
        import pandana  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------- output
def print_network(res: dict[str, Any]) -> None:
    print(
        f"\n### {res['label']}\n\n{res['nodes']:,} nodes, {res['edges']:,} edges — {res['sites']} sites × "
        f"{res['demand']:,} demand, cutoff {res['cutoff_m']:g} m, {res['reachable_pairs']:,} reachable pairs; "
        f"median (min–max) of {res['repeat']} interleaved rounds; {res['load_text']}.\n"
    )
    rows = res["_rows"]
    ours = next(r.timing for r in rows if r.name == "ours")
    floor_t = next(r.timing for r in rows if r.name == "floor")
    table = []
    for r in rows:
        if r.skipped:
            table.append([r.name, r.call, "", "skipped", "", "", "", r.skipped, "", ""])
            continue
        setup = "—"
        if r.setup_what:
            setup = f"{fmt_s(r.setup_s)} {r.setup_what}"
            if r.setup_rss_bytes is not None:
                setup += f", +{fmt_bytes(r.setup_rss_bytes)} RSS"
        a = r.agreement
        table.append(
            [
                r.name,
                r.call,
                str(r.threads or "?"),
                spread(r.timing),
                ratio_spread(r.timing, ours),
                ratio_spread(r.timing, floor_t),
                fmt_s(r.timing.best_s),
                setup,
                f"{r.pairs:,}",
                "ref" if a is None else ("yes" if a["ok"] else "NO") + f" (max Δ {a['max_abs_diff_m']:.2g} m)",
            ]
        )
    print(
        markdown_table(
            [
                "method",
                "call",
                "threads",
                "median (min–max)",
                "÷ ours",
                "÷ floor",
                "best of (extra)",
                "excluded setup",
                "pairs",
                "agrees",
            ],
            table,
            align="lllrrrrrrl",
        )
    )
    f, mem = res["_fixed"], res["memory_ours"]
    notes = [
        f"points on nodes snapped with max offset {res['max_snap_offset_m']:.1g} m",
        f"fixed cost of one call (1 site × 1 place), median (min–max): ours {spread(f['ours'])}, floor {spread(f['floor'])}",
        (
            f"ours memory: tracemalloc peak {fmt_bytes(mem['tracemalloc_peak_bytes'])}, peak RSS growth "
            f"{fmt_bytes(mem['rss_peak_growth_bytes'])} ({mem['threads']} threads) / {fmt_bytes(mem['rss_peak_growth_1t_bytes'])} "
            f"(1 thread); reached pairs × 24 B = {fmt_bytes(mem['pairs_x24_bytes'])}; dense K × N × 8 B = {fmt_bytes(mem['dense_KxN_x8_bytes'])}"
        ),
    ]
    if res["excluded_nodes"]:
        notes.append(
            f"{res['excluded_nodes']} largest-component node(s) not sampled: they lie exactly on another, unconnected edge"
        )
    for r in rows[1:]:
        a = r.agreement
        if a and (a["only_in_reference"] or a["only_in_this"]):
            notes.append(
                f"{r.name}: {a['only_in_reference']} pair(s) only in ours, {a['only_in_this']} only in {r.name}"
                + (
                    f" (all within {TOL_M:g} m of the cutoff)"
                    if not a["unexplained_missing"]
                    else f" — {a['unexplained_missing']} away from the cutoff"
                )
            )
        if a and a["pairs_over_tol"]:
            notes.append(f"{r.name}: {a['pairs_over_tol']} shared pair(s) differ by more than {TOL_M:g} m")
    print()
    for n in notes:
        print(f"- {n}")


def print_summary(results: list[dict[str, Any]]) -> None:
    x = lambda v, d=2: "—" if v is None else f"{v:,.{d}f}×"
    print(
        "\n### Summary: ratios of medians\n\n"
        "Targets: kernel-1t / floor ≤ 1.1; kernel-1t / kernel-2t ≥ 1.7 with two free cores; networkx / ours ≥ 30.\n"
    )
    rows = []
    for r in results:
        q = r["ratios_of_medians"]
        rows.append(
            [
                r["label"],
                f"{r['nodes']:,}",
                f"{r['reachable_pairs']:,}",
                str(r["memory_ours"]["threads"]),
                x(q["networkx/ours"], 1),
                x(q["pandana/ours"], 1),
                x(q["kernel-1t/floor"]),
                x(q["ours-1t/floor"]),
                x(q["kernel-1t/kernel-2t"]),
                x(q["ours-1t/ours"]),
                " / ".join(f"{v:.2f}" for v in r["load"]["loadavg_before"] or []) or "n/a",
            ]
        )
    print(
        markdown_table(
            [
                "network",
                "nodes",
                "pairs",
                "ours threads",
                "networkx / ours",
                "pandana / ours",
                "kernel-1t / floor",
                "ours-1t / floor",
                "kernel 1t / 2t",
                "ours-1t / ours",
                "load before",
            ],
            rows,
        )
    )
    print("\n### Memory of one ours call (grows with nodes + edges and reached pairs, never with K × N)\n")
    rows = []
    for r in results:
        m = r["memory_ours"]
        rss = m["rss_peak_growth_bytes"]
        rows.append(
            [
                r["label"],
                f"{m['reached_pairs']:,}",
                fmt_bytes(m["pairs_x24_bytes"]),
                fmt_bytes(m["tracemalloc_peak_bytes"]),
                fmt_bytes(rss),
                fmt_bytes(m["rss_peak_growth_1t_bytes"]),
                fmt_bytes(m["dense_KxN_x8_bytes"]),
                f"{m['dense_KxN_x8_bytes'] / rss:,.0f}×" if rss else "—",
            ]
        )
    print(
        markdown_table(
            [
                "network",
                "reached pairs",
                "pairs × 24 B",
                "tracemalloc peak",
                "peak RSS growth",
                "RSS growth, 1 thread",
                "dense K × N × 8 B",
                "dense ÷ RSS growth",
            ],
            rows,
        )
    )


def machine(floor: Floor) -> dict[str, Any]:
    env = environment()
    cpu = (
        next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    mem_kb = (
        next(
            (int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")),
            None,
        )
        if Path("/proc/meminfo").exists()
        else None
    )
    git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    env.update(
        {
            "git_head": git("rev-parse", "HEAD"),
            "git_dirty_package": bool(git("status", "--porcelain", "coverage")),
            "cpu_model": cpu,
            "memory_bytes": None if mem_kb is None else mem_kb * 1024,
            "c_kernel_built": kernel_available(),
            "floor_compiler": floor.compiler,
            "floor_build": floor.command,
            "kernel_producer": floor.kernel_producer,
            "floor_producer": floor.floor_producer,
            "floor_flags_match": floor.flags_match,
        }
    )
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--networks",
        nargs="+",
        default=["monaco", "liechtenstein", "andorra", "grid200k", "grid1m"],
        help=f"real extracts ({', '.join(NETWORKS)}, {UTRECHT}), synthetic grids ({', '.join(GRIDS)}) or OSM/GraphML paths",
    )
    p.add_argument(
        "--repeat", type=int, default=5, help="interleaved rounds; medians and min–max are reported (default 5)"
    )
    p.add_argument("--grid-repeat", type=int, default=None, help="rounds on the synthetic grids (default: --repeat)")
    p.add_argument("--sites", type=int, default=500)
    p.add_argument("--demand", type=int, default=2000)
    p.add_argument("--cutoff", type=float, default=1200.0, help="walk cutoff in metres (default 1200)")
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--no-pandana", dest="pandana", action="store_false", help="skip pandana everywhere")
    p.add_argument(
        "--pandana-max-nodes",
        type=int,
        default=PANDANA_MAX_NODES,
        help=f"skip pandana on larger networks (default {PANDANA_MAX_NODES:,}: its contraction took 636 s "
        "on grid200k here; pass 0 for no limit)",
    )
    p.add_argument(
        "--networkx-max-nodes", type=int, default=None, help="skip NetworkX on larger networks (default: no limit)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="monaco and andorra, 100 sites × 500 demand, 2 rounds, no memory probes: checks the script",
    )
    p.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(REPO)})")
    p.add_argument("--memory-probe", type=Path, default=None, help=argparse.SUPPRESS)  # internal: see peak_rss_growth
    args = p.parse_args(argv)
    if args.quick:
        args.networks, args.sites, args.demand, args.repeat = ["monaco", "andorra"], 100, 500, 2
        if args.output == RESULTS:
            args.output = QUICK_DIR / "scale_quick.json"  # a check, not figures: kept out of the repository
    if args.repeat < 1 or (args.grid_repeat is not None and args.grid_repeat < 1):
        p.error("--repeat and --grid-repeat must be ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args.memory_probe)
    floor = Floor()
    started = time.perf_counter()
    try:
        results = []
        for name in args.networks:
            results.append(bench_network(name, args, floor))
            print_network(results[-1])
        print_summary(results)
        env = machine(floor)
        print(f"\nfloor: `{env['floor_build']}`; same compiler and flags as the kernel: {env['floor_flags_match']}")
        ok = all(m["agreement"]["ok"] for r in results for m in r["methods"] if m["agreement"])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "site × demand walk matrix at scale (real OSM extracts and synthetic grids)",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": time.perf_counter() - started,
            "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "environment": env,
            "all_methods_agree": ok,
            "networks": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
        }
        args.output.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nresults written to {args.output} (whole run {payload['wall_s'] / 60:.1f} min)")
    finally:
        floor.close()
    if not ok:
        print("some methods disagree with ours — see the tables above", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
