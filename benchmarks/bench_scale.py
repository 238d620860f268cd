"""Scale benchmark: the site × demand walk matrix from small cities to a 1M-node grid.

For each network, the same seeded node-to-node problem (``--sites`` sites and
``--demand`` demand points on distinct random nodes of the largest component,
``--cutoff`` metres) is answered, in the same run, by:

* ``ours``      ``AccessMatrix.compute(net, sites, demand, cutoff, progress=False)``,
                as users call it (its own thread pool), and ``ours-1t``: the same
                call with ``chunk_size=len(sites)``, which makes ``_map_chunks`` run
                one chunk in the calling thread.
* ``floor``     a plain binary-heap Dijkstra in C (``benchmarks/_floor_dijkstra.c``,
                compiled at start with ``cc -O2 -shared -fPIC``, loaded with ctypes):
                single-threaded, node to node, bounded by the cutoff.
* ``networkx``  ``nx.single_source_dijkstra_path_length`` per site (graph build and
                its memory reported separately).
* ``pandana``   ``Network.nodes_in_range`` (contraction reported separately).

Networks: real OSM extracts (``monaco``, ``liechtenstein``, ``andorra``) loaded with
``WalkNetwork.from_file``, and two synthetic square grids (``grid200k``,
``grid1m``) built directly as a ``WalkNetwork``. The headline is ratios:
networkx/ours, pandana/ours and ours/floor. All methods are cross-checked
(within 1 m; pairs only one side finds must be cutoff ties) before any time is
trusted; the script exits 1 on disagreement.

Memory of ``ours``: tracemalloc peak (Python and NumPy allocations) and the peak
RSS growth of one call in a fresh child process (includes the C kernel's malloc),
next to reached pairs × 24 bytes and the K × N × 8 bytes a dense matrix needs.

Usage::

    python benchmarks/bench_scale.py [--networks monaco liechtenstein andorra grid200k grid1m]
                                     [--repeat 3] [--grid-repeat N] [--sites 500 --demand 2000 --cutoff 1200]
                                     [--no-pandana] [--pandana-max-nodes N] [--networkx-max-nodes N]

Results go to ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import math
import os
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
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so bench_matrix imports when run from anywhere

from bench_matrix import (
    LEG_TOL_M,
    NETWORKS,
    TOL_M,
    Pairs,
    Problem,
    best_of,
    build_networkx,
    build_pandana,
    check_snaps,
    compare,
    demand_lookup,
    environment,
    fmt_s,
    make_problem,
    resolve_network,
    run_networkx,
    run_pandana,
)

from coverage_planner._geo import polyline_lengths_m
from coverage_planner.access import matrix as access
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import Snap, snap_points
from coverage_planner.network.graph import NetworkSource, WalkNetwork

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
FLOOR_C = Path(__file__).resolve().parent / "_floor_dijkstra.c"
GRIDS = {"grid200k": 448, "grid1m": 1000}  # side length: 448² = 200,704 and 1000² = 1,000,000 nodes
GRID_SPACING_M = 80.0
GRID_CENTRE = (9.0, 45.0)  # lon, lat: mid latitude, centre of UTM zone 32
SYNTH = "synthetic grid"
PANDANA_MAX_NODES = 100_000  # contraction hierarchies: 636 s on the 200k grid (2 cores), far more on 1M
CHUNK_DEFAULT = 128  # AccessMatrix.compute's default chunk_size (used to report its thread count)

console = Console(width=None if sys.stdout.isatty() else 160)


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


# --------------------------------------------------------------------- the floor
class Floor:
    """The C reference Dijkstra, compiled into a temporary directory at start."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench_scale_")
        so = Path(self._tmp.name) / "_floor_dijkstra.so"
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-O2", "-shared", "-fPIC", "-o", str(so), str(FLOOR_C)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(f"could not compile the floor ({' '.join(cmd)}): {getattr(exc, 'stderr', exc)}") from None
        self.command = " ".join(cmd[:-3] + ["-o", "<tmp>/_floor_dijkstra.so", "benchmarks/_floor_dijkstra.c"])
        self.compiler = subprocess.run(
            [cc, "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
        lib = ctypes.CDLL(str(so))
        p64, pf = ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)
        lib.floor_walks.restype = ctypes.c_int64
        lib.floor_walks.argtypes = [
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_void_p,
            ctypes.c_double,
            ctypes.POINTER(p64),
            ctypes.POINTER(p64),
            ctypes.POINTER(pf),
        ]
        lib.floor_free.argtypes = [ctypes.c_void_p]
        self.lib, self._p64, self._pf = lib, p64, pf

    def prepare(self, net: WalkNetwork) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The plain node graph (`net.csr`: shortest of parallel edges, no loops) in the C types; not timed."""
        g = net.csr
        return (
            net.n_nodes,
            np.ascontiguousarray(g.indptr, np.int64),
            np.ascontiguousarray(g.indices, np.int32),
            np.ascontiguousarray(g.data, np.float64),
        )

    def run(self, graph: tuple, sources: np.ndarray, demand: np.ndarray, cutoff: float) -> Pairs:
        n, indptr, indices, weights = graph
        sources = np.ascontiguousarray(sources, np.int64)
        demand = np.ascontiguousarray(demand, np.int64)
        out_s, out_d, out_m = self._p64(), self._p64(), self._pf()
        count = self.lib.floor_walks(
            n,
            indptr.ctypes.data,
            indices.ctypes.data,
            weights.ctypes.data,
            len(sources),
            sources.ctypes.data,
            len(demand),
            demand.ctypes.data,
            cutoff,
            ctypes.byref(out_s),
            ctypes.byref(out_d),
            ctypes.byref(out_m),
        )
        if count < 0:
            raise MemoryError("floor_walks ran out of memory")
        try:
            arrays = [
                np.ctypeslib.as_array(p, (count,)).copy() if count else np.zeros(0, t)
                for p, t in ((out_s, np.int64), (out_d, np.int64), (out_m, np.float64))
            ]
        finally:
            for p in (out_s, out_d, out_m):
                self.lib.floor_free(ctypes.cast(p, ctypes.c_void_p))
        return Pairs(*arrays)  # in settling order; sorted only for the cross-check

    def close(self) -> None:
        self._tmp.cleanup()


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
            console.print("[red]memory probe timed out[/red]")
            return None
    if done.returncode != 0:
        console.print(f"[red]memory probe failed:[/red] {done.stderr.strip()[-500:]}")
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


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


# -------------------------------------------------------------------- one network
@dataclass
class Row:
    name: str
    call: str
    threads: int | None
    runs_s: list[float] | None = None
    setup_s: float | None = None
    setup_what: str | None = None
    setup_rss_bytes: int | None = None
    pairs: int | None = None
    agreement: dict[str, Any] | None = None
    skipped: str | None = None

    @property
    def best_s(self) -> float | None:
        return min(self.runs_s) if self.runs_s else None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["best_s"] = self.best_s
        return d


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
    path = resolve_network(name)
    return WalkNetwork.from_file(path), "real OSM", name, str(path)


def ours_threads(n_sites: int, chunk_size: int) -> int:
    """Workers `_map_chunks` uses: a pool of min(4, CPUs) when the C kernel is built and there is more than one chunk."""
    if access._kernel is None or math.ceil(n_sites / chunk_size) <= 1:
        return 1
    return min(4, os.cpu_count() or 1)


def bench_network(name: str, args: argparse.Namespace, floor: Floor) -> dict[str, Any]:
    t0 = time.perf_counter()
    net, kind, label, origin = load(name, args.seed)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ = net.csr, net.component, net.edge_tree  # cached structures, built before any timing
    prep_s = time.perf_counter() - t0
    repeat = args.grid_repeat if kind == SYNTH and args.grid_repeat else args.repeat
    console.print(
        f"[bold]{label}[/bold]: {net.n_nodes:,} nodes, {net.n_edges:,} edges "
        f"(load {load_s:.1f} s, cached structures {prep_s:.1f} s); best of {repeat}"
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

    rows: list[Row] = []
    check = lambda res: compare(ref, res, nd, cutoff)
    t, ref = best_of(ours, repeat)
    rows.append(
        Row(
            "ours",
            "AccessMatrix.compute (default chunk_size=128)",
            ours_threads(k, CHUNK_DEFAULT),
            t.runs_s,
            snap_s,
            "snapping",
            None,
            len(ref),
        )
    )
    t, res = best_of(lambda: ours(chunk=k), repeat)
    rows.append(
        Row(
            "ours-1t",
            f"AccessMatrix.compute, chunk_size={k} (one chunk)",
            ours_threads(k, k),
            t.runs_s,
            pairs=len(res),
            agreement=check(res),
        )
    )
    graph = floor.prepare(net)
    t, res = best_of(lambda: floor.run(graph, problem.site_nodes, problem.demand_nodes, cutoff), repeat)
    rows.append(
        Row(
            "floor",
            "plain binary-heap Dijkstra in C (ctypes)",
            1,
            t.runs_s,
            pairs=len(res),
            agreement=check(Pairs.sorted(res.rows, res.cols, res.metres)),
        )
    )

    # Fixed cost of one call: a single site and place, so the walk itself is negligible.
    one_s, one_d = site_snap.take(np.array([0])), demand_snap.take(np.array([0]))
    small = max(repeat, 5)
    t_fixed_ours, _ = best_of(lambda: ours(s=one_s, d=one_d), small)
    t_fixed_floor, _ = best_of(
        lambda: floor.run(graph, problem.site_nodes[:1], problem.demand_nodes[:1], cutoff), small
    )

    # Memory of ours (before NetworkX and pandana enlarge the process).
    memory = {
        "reached_pairs": len(ref),
        "pairs_x24_bytes": 24 * len(ref),
        "dense_KxN_x8_bytes": 8 * k * net.n_nodes,
        "dense_KxD_x8_bytes": 8 * k * nd,
        "tracemalloc_peak_bytes": tracemalloc_peak(ours),
        "rss_peak_growth_bytes": peak_rss_growth(net, site_snap, demand_snap, cutoff, CHUNK_DEFAULT),
        "rss_peak_growth_1t_bytes": peak_rss_growth(net, site_snap, demand_snap, cutoff, k),
        # From _walkkernel.c: per worker, dist + touched over nodes and best + touched over places.
        "c_kernel_scratch_per_thread_bytes": 16 * net.n_nodes + 16 * nd,
        "threads": ours_threads(k, CHUNK_DEFAULT),
    }

    if args.networkx_max_nodes is not None and net.n_nodes > args.networkx_max_nodes:
        rows.append(
            Row(
                "networkx",
                "single_source_dijkstra_path_length × sites",
                1,
                skipped=f"{net.n_nodes:,} nodes > --networkx-max-nodes {args.networkx_max_nodes:,}",
            )
        )
    else:
        gc.collect()
        rss0, t0 = rss_bytes(), time.perf_counter()
        g = build_networkx(net)
        g_s, rss1 = time.perf_counter() - t0, rss_bytes()
        t, res = best_of(lambda: run_networkx(g, problem, lookup, cutoff), repeat)
        rows.append(
            Row(
                "networkx",
                "single_source_dijkstra_path_length × sites",
                1,
                t.runs_s,
                g_s,
                "graph build",
                None if rss0 is None else rss1 - rss0,
                len(res),
                check(res),
            )
        )
        del g
        gc.collect()

    if not args.pandana:
        rows.append(Row("pandana", "Network.nodes_in_range", None, skipped="--no-pandana"))
    elif args.pandana_max_nodes and net.n_nodes > args.pandana_max_nodes:
        rows.append(
            Row(
                "pandana",
                "Network.nodes_in_range",
                None,
                skipped=f"{net.n_nodes:,} nodes > --pandana-max-nodes {args.pandana_max_nodes:,}",
            )
        )
    else:
        rss0, t0 = rss_bytes(), time.perf_counter()
        pnet = build_pandana(net)
        p_s, rss1 = time.perf_counter() - t0, rss_bytes()
        t, res = best_of(lambda: run_pandana(pnet, problem, lookup, cutoff), repeat)
        rows.append(
            Row(
                "pandana",
                "Network.nodes_in_range",
                None,
                t.runs_s,
                p_s,
                "contraction",
                None if rss0 is None else rss1 - rss0,
                len(res),
                check(res),
            )
        )
        del pnet
        gc.collect()

    by = {r.name: r for r in rows}
    ratio = lambda a, b: (by[a].best_s / by[b].best_s) if by[a].best_s and by[b].best_s else None
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
        "reachable_pairs": len(ref),
        "max_snap_offset_m": max_offset,
        "methods": [r.to_dict() for r in rows],
        "fixed_cost_per_call": {
            "what": "best time of one call with 1 site × 1 place (the walk itself is negligible)",
            "ours_s": t_fixed_ours.best_s,
            "ours_runs_s": t_fixed_ours.runs_s,
            "floor_s": t_fixed_floor.best_s,
            "floor_runs_s": t_fixed_floor.runs_s,
        },
        "memory_ours": memory,
        "ratios": {
            "networkx/ours": ratio("networkx", "ours"),
            "pandana/ours": ratio("pandana", "ours"),
            "ours/floor": ratio("ours", "floor"),
            "ours-1t/floor": ratio("ours-1t", "floor"),
            "networkx/floor": ratio("networkx", "floor"),
        },
    }


# ------------------------------------------------------------------------- output
def print_network(res: dict[str, Any]) -> None:
    title = (
        f"{res['label']}: {res['nodes']:,} nodes, {res['edges']:,} edges — {res['sites']} sites × "
        f"{res['demand']:,} demand, cutoff {res['cutoff_m']:g} m, {res['reachable_pairs']:,} reachable pairs"
    )
    table = Table(title=title, title_justify="left")
    for col, justify in [
        ("method", "left"),
        ("call", "left"),
        ("threads", "right"),
        (f"best of {res['repeat']}", "right"),
        ("÷ ours", "right"),
        ("excluded setup", "right"),
        ("pairs", "right"),
        ("max |Δ| m", "right"),
        ("agrees", "center"),
    ]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    ours = res["methods"][0]["best_s"]
    for m in res["methods"]:
        if m["skipped"]:
            table.add_row(m["name"], m["call"], "", "skipped", "", m["skipped"], "", "", "")
            continue
        a = m["agreement"]
        setup = "—"
        if m["setup_what"]:
            setup = f"{fmt_s(m['setup_s'])} {m['setup_what']}"
            if m["setup_rss_bytes"] is not None:
                setup += f", +{fmt_bytes(m['setup_rss_bytes'])} RSS"
        table.add_row(
            m["name"],
            m["call"],
            str(m["threads"] or "?"),
            fmt_s(m["best_s"]),
            "1.0" if m["name"] == "ours" else f"{m['best_s'] / ours:,.2f}",
            setup,
            f"{m['pairs']:,}",
            f"{a['max_abs_diff_m']:.2g}" if a else "ref",
            ("yes" if a["ok"] else "[red]NO[/red]") if a else "ref",
        )
    console.print(table)
    f, mem = res["fixed_cost_per_call"], res["memory_ours"]
    notes = [
        f"points on nodes snapped with max offset {res['max_snap_offset_m']:.1g} m",
        f"fixed cost of one call (1 site × 1 place): ours {fmt_s(f['ours_s'])}, floor {fmt_s(f['floor_s'])}",
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
    for m in res["methods"][1:]:
        a = m["agreement"]
        if a and (a["only_in_reference"] or a["only_in_this"]):
            notes.append(
                f"{m['name']}: {a['only_in_reference']} pair(s) only in ours, {a['only_in_this']} only in {m['name']}"
                + (
                    f" (all within {TOL_M:g} m of the cutoff)"
                    if not a["unexplained_missing"]
                    else f" — [red]{a['unexplained_missing']} away from the cutoff[/red]"
                )
            )
        if a and a["pairs_over_tol"]:
            notes.append(
                f"[red]{m['name']}: {a['pairs_over_tol']} shared pair(s) differ by more than {TOL_M:g} m[/red]"
            )
    for n in notes:
        console.print(f"  · {n}")
    console.print()


def print_summary(results: list[dict[str, Any]]) -> None:
    x = lambda v, d=1: "skipped" if v is None else f"{v:,.{d}f}×"
    summary = Table(
        title="Summary (ratios from this run; targets: networkx/ours ≥ 30×, ours/floor ≤ 2×)", title_justify="left"
    )
    for col in (
        "network",
        "nodes",
        "pairs",
        "ours threads",
        "networkx / ours",
        "pandana / ours",
        "ours / floor",
        "ours-1t / floor",
        "targets",
    ):
        summary.add_column(col, justify="left" if col in ("network", "targets") else "right")
    for r in results:
        q = r["ratios"]
        met = []
        if q["networkx/ours"] is not None:
            met.append("NX ok" if q["networkx/ours"] >= 30 else "[red]NX < 30×[/red]")
        met.append("floor ok" if q["ours/floor"] <= 2 else "[red]> 2× floor[/red]")
        summary.add_row(
            r["label"],
            f"{r['nodes']:,}",
            f"{r['reachable_pairs']:,}",
            str(r["memory_ours"]["threads"]),
            x(q["networkx/ours"]),
            x(q["pandana/ours"]),
            x(q["ours/floor"], 2),
            x(q["ours-1t/floor"], 2),
            ", ".join(met),
        )
    console.print(summary)
    mem = Table(
        title="Memory of one ours call: grows with nodes + edges and reached pairs, never with K × N",
        title_justify="left",
    )
    for col in (
        "network",
        "reached pairs",
        "pairs × 24 B",
        "tracemalloc peak",
        "peak RSS growth",
        "RSS growth, 1 thread",
        "dense K × N × 8 B",
        "dense ÷ RSS growth",
    ):
        mem.add_column(col, justify="left" if col == "network" else "right")
    for r in results:
        m = r["memory_ours"]
        rss = m["rss_peak_growth_bytes"]
        mem.add_row(
            r["label"],
            f"{m['reached_pairs']:,}",
            fmt_bytes(m["pairs_x24_bytes"]),
            fmt_bytes(m["tracemalloc_peak_bytes"]),
            fmt_bytes(rss),
            fmt_bytes(m["rss_peak_growth_1t_bytes"]),
            fmt_bytes(m["dense_KxN_x8_bytes"]),
            f"{m['dense_KxN_x8_bytes'] / rss:,.0f}×" if rss else "—",
        )
    console.print(mem)
    fixed = Table(title="Fixed cost of one call (1 site × 1 place)", title_justify="left")
    for col in ("network", "nodes", "ours", "floor", "ours fixed ÷ ours full problem"):
        fixed.add_column(col, justify="left" if col == "network" else "right")
    for r in results:
        f = r["fixed_cost_per_call"]
        fixed.add_row(
            r["label"],
            f"{r['nodes']:,}",
            fmt_s(f["ours_s"]),
            fmt_s(f["floor_s"]),
            f"{f['ours_s'] / r['methods'][0]['best_s']:.0%}",
        )
    console.print(fixed)


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
            "c_kernel_built": access._kernel is not None,
            "floor_compiler": floor.compiler,
            "floor_build": floor.command,
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
        help=f"real extracts ({', '.join(NETWORKS)}), synthetic grids ({', '.join(GRIDS)}) or OSM/GraphML paths",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per method; the best is reported (default 3)")
    p.add_argument(
        "--grid-repeat", type=int, default=None, help="runs per method on the synthetic grids (default: --repeat)"
    )
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
    p.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(REPO)})")
    p.add_argument("--memory-probe", type=Path, default=None, help=argparse.SUPPRESS)  # internal: see peak_rss_growth
    args = p.parse_args(argv)
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
        ok = all(m["agreement"]["ok"] for r in results for m in r["methods"] if m["agreement"])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "site × demand walk matrix at scale (real OSM extracts and synthetic grids)",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": time.perf_counter() - started,
            "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "environment": machine(floor),
            "all_methods_agree": ok,
            "networks": results,
        }
        args.output.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"results written to {args.output} (whole run {payload['wall_s'] / 60:.1f} min)")
    finally:
        floor.close()
    if not ok:
        console.print("[red]some methods disagree with ours — see the tables above[/red]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
