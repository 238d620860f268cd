"""The benchmarks' "floor": a bare binary-heap Dijkstra in C, built exactly like the walk kernel.

The ratio ours / floor only means something when both are compiled alike, so
the floor is compiled with the compiler and flags setuptools uses for the
kernel extension (``sysconfig`` ``CC``, ``CFLAGS``, ``CCSHARED``, the
``CFLAGS``/``CPPFLAGS`` environment variables as setuptools reads them, and
``extra_compile_args`` from ``setup.py``) and linked with ``LDSHARED``. Both
shared objects carry the flags GCC actually used (``DW_AT_producer`` in their
debug info, the builds use ``-g``); `Floor.flags_match` compares the two so a
benchmark can say whether the comparison is like for like.
"""

from __future__ import annotations

import ast
import ctypes
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOOR_C = HERE / "_floor_dijkstra.c"
SETUP_PY = REPO / "setup.py"


def kernel_extra_compile_args(setup_py: Path = SETUP_PY) -> list[str]:
    """``extra_compile_args`` of the walk-kernel Extension in setup.py (read, not executed)."""
    tree = ast.parse(setup_py.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "extra_compile_args":
            return [str(v) for v in ast.literal_eval(node.value)]
    return []


def kernel_build_commands(source: Path, obj: Path, so: Path) -> tuple[list[str], list[str]]:
    """(compile, link) commands as setuptools' build_ext runs them for an extension on a Unix compiler."""
    cfg = sysconfig.get_config_vars()
    cc = os.environ.get("CC", cfg.get("CC") or "cc")
    cflags = cfg.get("CFLAGS") or ""
    ldshared = os.environ.get("LDSHARED", cfg.get("LDSHARED") or f"{cc} -shared")
    if "CFLAGS" in os.environ:  # setuptools appends these, as the kernel's build saw them
        cflags += " " + os.environ["CFLAGS"]
        ldshared += " " + os.environ["CFLAGS"]
    if "CPPFLAGS" in os.environ:
        cflags += " " + os.environ["CPPFLAGS"]
        ldshared += " " + os.environ["CPPFLAGS"]
    compile_cmd = [
        *shlex.split(cc),
        *shlex.split(cflags),
        *shlex.split(cfg.get("CCSHARED") or ""),
        "-c",
        str(source),
        "-o",
        str(obj),
        *kernel_extra_compile_args(),
    ]
    link_cmd = [*shlex.split(ldshared), str(obj), "-o", str(so)]
    return compile_cmd, link_cmd


def producer(so: Path) -> str | None:
    """The compiler and flags recorded in a shared object's DWARF info (None without readelf or -g)."""
    if not shutil.which("readelf"):
        return None
    done = subprocess.run(["readelf", "--debug-dump=info", str(so)], capture_output=True, text=True, check=False)
    found = re.search(r"DW_AT_producer\s*:\s*(?:\(indirect string[^)]*\):\s*)?(.+)", done.stdout)
    return found.group(1).strip() if found else None


class Floor:
    """The floor Dijkstra, compiled into a temporary directory with the kernel's flags."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench_floor_")
        tmp = Path(self._tmp.name)
        so = tmp / "_floor_dijkstra.so"
        compile_cmd, link_cmd = kernel_build_commands(FLOOR_C, tmp / "_floor_dijkstra.o", so)
        for cmd in (compile_cmd, link_cmd):
            try:
                subprocess.run(cmd, check=True, capture_output=True, text=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                self._tmp.cleanup()
                raise SystemExit(
                    f"could not build the floor ({shlex.join(cmd)}): {getattr(exc, 'stderr', exc)}"
                ) from None
        shown = lambda cmd: shlex.join(cmd).replace(str(tmp), "<tmp>").replace(str(REPO) + "/", "")
        self.command = f"{shown(compile_cmd)} && {shown(link_cmd)}"
        self.compiler = subprocess.run(
            [compile_cmd[0], "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
        self.floor_producer = producer(so)
        self.kernel_producer = _kernel_producer()
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

    @property
    def flags_match(self) -> bool | None:
        """Whether floor and kernel were compiled with the same compiler and flags (None: cannot tell)."""
        if self.floor_producer is None or self.kernel_producer is None:
            return None
        return self.floor_producer == self.kernel_producer

    def prepare(self, net) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The network's routing arrays (the graph the kernel walks), in the C types; not timed."""
        indptr, indices, weights = net.routing_arrays
        return net.n_nodes, indptr, indices, weights

    def run(self, graph: tuple, sources: np.ndarray, demand: np.ndarray, cutoff: float):
        """(source index, demand index, metres) arrays of every demand node within ``cutoff``, in settling order."""
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
            return tuple(
                np.ctypeslib.as_array(p, (count,)).copy() if count else np.zeros(0, t)
                for p, t in ((out_s, np.int64), (out_d, np.int64), (out_m, np.float64))
            )
        finally:
            for p in (out_s, out_d, out_m):
                self.lib.floor_free(ctypes.cast(p, ctypes.c_void_p))

    def close(self) -> None:
        self._tmp.cleanup()


def _kernel_producer() -> str | None:
    try:
        from coverage_planner.access import _walkkernel
    except ImportError:
        return None
    return producer(Path(_walkkernel.__file__))


class NodeKernel:
    """The walk kernel itself on the floor's node-to-node problem: its public call, no AccessMatrix around it.

    Every site starts at its node (both starts the node, offsets 0) with the
    whole cutoff to spend; every place is one demand entry at its node, 0 m
    away, with no access legs and no places on a site's edge. That is the
    question the floor answers, so kernel ÷ floor compares the two Dijkstras
    alone. ``run(threads=2)`` splits the sites into eight chunks run by two Python
    threads (the kernel releases the GIL), as ``AccessMatrix.compute``'s pool does, pinned as it pins them.
    """

    def __init__(self, net, site_nodes: np.ndarray, demand_nodes: np.ndarray, cutoff: float) -> None:
        from coverage_planner.access import _walkkernel  # the kernel under test, as its own tests import it

        self._k = _walkkernel
        indptr, indices, weights = net.routing_arrays
        self.graph = _walkkernel.Graph(n_nodes=net.n_nodes, indptr=indptr, indices=indices, weights=weights)
        k, nd = len(site_nodes), len(demand_nodes)
        zeros_k = np.zeros(k)
        self.src = {
            "src_a": np.ascontiguousarray(site_nodes, np.int64),
            "off_a": zeros_k,
            "src_b": np.ascontiguousarray(site_nodes, np.int64),
            "off_b": zeros_k,
            "budget": np.full(k, float(cutoff)),
            "edge_lo": np.zeros(k, np.int64),
            "edge_hi": np.zeros(k, np.int64),
            "src_along": zeros_k,
            "src_id": np.arange(k, dtype=np.int64),
            "src_leg": zeros_k,
        }
        self.dem = {
            "dem_node": np.ascontiguousarray(demand_nodes, np.int64),
            "dem_idx": np.arange(nd, dtype=np.int64),
            "dem_off": np.zeros(nd),
            "edge_dem_idx": np.zeros(0, np.int64),
            "edge_dem_along": np.zeros(0),
            "dem_leg": np.zeros(nd),
        }
        self.n_places, self.cutoff, self.n_sites = nd, float(cutoff), k
        self._pool = None

    def _call(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raw = self._k.bounded_walks(
            graph=self.graph,
            **{name: a[lo:hi] for name, a in self.src.items()},
            **self.dem,
            n_places=self.n_places,
            cutoff=self.cutoff,
        )
        return tuple(np.frombuffer(b, dtype=t) for b, t in zip(raw, (np.int64, np.int64, np.float64)))

    def run(self, threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(site index, place index, metres), sorted by site then place, from ``threads`` equal shares of the sites."""
        if threads <= 1:
            return self._call(0, self.n_sites)
        if self._pool is None:
            from coverage_planner.access.thread_pool import thread_pool  # the rule AccessMatrix's own pool follows

            self._pool = thread_pool(threads, name="bench_kernel")
        # Four chunks a thread, taken in turn by whichever thread is free (as AccessMatrix.compute's pool does):
        # halves alone leave one thread idle when one half of the city is denser.
        cuts = np.linspace(0, self.n_sites, 4 * threads + 1).astype(int)
        parts = list(self._pool.map(lambda i: self._call(cuts[i], cuts[i + 1]), range(4 * threads)))
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
