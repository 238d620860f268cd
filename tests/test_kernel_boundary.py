"""The C walk kernel's boundary: bad input raises a clear error instead of crashing; good input is unchanged.

Every bad call runs in a child process that loads only NumPy and the
extension, so a kernel that still read out of bounds would fail its test
(by a signal) instead of taking pytest down with it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra

from coverage_planner.access.matrix import AccessMatrix, kernel_available
from coverage_planner.access.snapping import snap_points

# The fallback tests at the end run either way; everything else needs the built extension.
needs_kernel = pytest.mark.skipif(not kernel_available(), reason="C walk kernel not built (no compiler at install)")

# A line of four nodes 100 m apart (0-1-2-3, both directions); one site on edge 0-1, 10 m from node 0;
# place 0 on edge 0-1 at 50 m, place 1 on edge 2-3 at 30 m from node 2. Shared by this process and the children.
TINY = textwrap.dedent(
    """
    import numpy as np

    def i64(*values):
        return np.array(values, dtype=np.int64)

    def f64(*values):
        return np.array(values, dtype=np.float64)

    def graph_args():
        return dict(
            n_nodes=4,
            indptr=i64(0, 1, 3, 5, 6),
            indices=np.array([1, 0, 2, 1, 3, 2], dtype=np.int32),
            weights=np.full(6, 100.0),
        )

    def walk_args():
        return dict(
            src_a=i64(0), off_a=f64(10.0), src_b=i64(1), off_b=f64(90.0), budget=f64(500.0),
            edge_lo=i64(0), edge_hi=i64(1), src_along=f64(10.0), src_id=i64(7), src_leg=f64(5.0),
            dem_node=i64(0, 1, 2, 3), dem_idx=i64(0, 0, 1, 1), dem_off=f64(50.0, 50.0, 30.0, 70.0),
            edge_dem_idx=i64(0), edge_dem_along=f64(50.0), dem_leg=f64(1.0, 2.0), n_places=2, cutoff=600.0,
        )
    """
)

CHILD = textwrap.dedent(
    """
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location("_walkkernel", sys.argv[1])
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    exec(sys.argv[2])
    g, w, call = graph_args(), walk_args(), None
    exec(sys.argv[3])
    if call is None:
        def call():
            return k.bounded_walks(**{"graph": k.Graph(**g), **w})
    try:
        call()
        print(json.dumps({"error": None}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    """
)


def kernel_module():
    """The extension itself: these tests are about its own boundary."""
    spec = importlib.util.find_spec("coverage_planner.access._walkkernel")
    assert spec is not None and spec.origin
    return spec.origin


def call_in_child(change: str) -> dict:
    """Run the tiny call after ``change`` (code over dicts ``g``, ``w``, or defining ``call``) in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kernel_module(), TINY, textwrap.dedent(change)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"the kernel crashed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_value_error(change: str, *fragments: str) -> str:
    out = call_in_child(change)
    assert out["error"] == "ValueError", out
    for fragment in fragments:
        assert fragment in out["message"], out["message"]
    return out["message"]


def assert_type_error(change: str, *fragments: str) -> None:
    out = call_in_child(change)
    assert out["error"] == "TypeError", out
    for fragment in fragments:
        assert fragment in out["message"], out["message"]


@pytest.fixture(scope="module")
def tiny():
    namespace: dict = {}
    exec(TINY, namespace)
    from coverage_planner.access import _walkkernel

    return _walkkernel, namespace["graph_args"], namespace["walk_args"]


def unpack(raw):
    return tuple(np.frombuffer(b, dtype=t) for b, t in zip(raw, (np.int64, np.int64, np.float64)))


# ------------------------------------------------------------------ valid calls


@needs_kernel
def test_tiny_call_gives_the_hand_computed_walks(tiny):
    k, graph_args, walk_args = tiny
    rows, cols, metres = unpack(k.bounded_walks(graph=k.Graph(**graph_args()), **walk_args()))
    # Place 0: 40 m along the shared edge; place 1: 90 m to node 1, 100 m to node 2, 30 m on; plus both legs.
    assert rows.tolist() == [7, 7] and cols.tolist() == [0, 1]
    assert metres.tolist() == [40.0 + 5.0 + 1.0, 90.0 + 100.0 + 30.0 + 5.0 + 2.0]


@needs_kernel
def test_a_negative_budget_skips_the_source(tiny):
    k, graph_args, walk_args = tiny
    rows, _, _ = unpack(k.bounded_walks(graph=k.Graph(**graph_args()), **{**walk_args(), "budget": np.array([-1.0])}))
    assert len(rows) == 0


@needs_kernel
def test_no_sources_and_no_places_is_a_valid_empty_call(tiny):
    k, graph_args, _ = tiny
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
    raw = k.bounded_walks(
        graph=k.Graph(**graph_args()),
        **dict.fromkeys(("src_a", "src_b", "edge_lo", "edge_hi", "src_id", "dem_node", "dem_idx"), empty_i),
        **dict.fromkeys(("off_a", "off_b", "budget", "src_along", "src_leg", "dem_off", "dem_leg"), empty_f),
        edge_dem_idx=empty_i,
        edge_dem_along=empty_f,
        n_places=0,
        cutoff=100.0,
    )
    assert all(len(b) == 0 for b in raw)


@needs_kernel
def test_graph_reports_its_size(tiny):
    k, graph_args, _ = tiny
    graph = k.Graph(**graph_args())
    assert (graph.n_nodes, graph.n_edges) == (4, 6)


@needs_kernel
def test_graph_keeps_its_own_copy_of_the_arrays():
    """Changing the caller's arrays after the check must not reach the searches (it would bypass the check)."""
    out = call_in_child(
        """
        def call():
            graph = k.Graph(**g)
            before = k.bounded_walks(graph=graph, **w)
            g["indices"][:] = 10**6
            g["indptr"][:] = 0
            g["weights"][:] = float("nan")
            if k.bounded_walks(graph=graph, **w) != before:
                raise AssertionError("results changed with the caller's arrays")
        """
    )
    assert out["error"] is None, out


@needs_kernel
def test_direct_kernel_call_matches_scipy_dijkstra_on_monaco(monaco):
    """Sources and places on nodes, no legs: the kernel's pairs are csgraph's distances within the cutoff."""
    from coverage_planner.access import _walkkernel as k

    rng = np.random.default_rng(11)
    csr = monaco.csr
    sites = rng.choice(monaco.n_nodes, 60, replace=False)
    places = rng.choice(monaco.n_nodes, 800, replace=False)
    cutoff = 900.0
    graph = k.Graph(
        n_nodes=monaco.n_nodes,
        indptr=csr.indptr.astype(np.int64),
        indices=csr.indices.astype(np.int32),
        weights=csr.data.astype(np.float64),
    )
    zeros_s, zeros_p = np.zeros(len(sites)), np.zeros(len(places))
    rows, cols, metres = unpack(
        k.bounded_walks(
            graph=graph,
            src_a=sites.astype(np.int64),
            off_a=zeros_s,
            src_b=sites.astype(np.int64),
            off_b=zeros_s,
            budget=np.full(len(sites), cutoff),
            edge_lo=np.zeros(len(sites), np.int64),
            edge_hi=np.zeros(len(sites), np.int64),
            src_along=zeros_s,
            src_id=np.arange(len(sites), dtype=np.int64),
            src_leg=zeros_s,
            dem_node=places.astype(np.int64),
            dem_idx=np.arange(len(places), dtype=np.int64),
            dem_off=zeros_p,
            edge_dem_idx=np.zeros(0, np.int64),
            edge_dem_along=np.zeros(0),
            dem_leg=zeros_p,
            n_places=len(places),
            cutoff=cutoff,
        )
    )
    ref = dijkstra(csr, directed=True, indices=sites, limit=cutoff)[:, places]
    ref_rows, ref_cols = np.nonzero(ref <= cutoff)
    assert len(ref_rows) > 1000, "too few reachable pairs to be a meaningful check"
    assert np.array_equal(rows, ref_rows) and np.array_equal(cols, ref_cols)
    assert np.allclose(metres, ref[ref_rows, ref_cols], rtol=0, atol=1e-6)


@needs_kernel
def test_c_engine_equals_scipy_engine_on_liechtenstein(liechtenstein):
    """Snapped places with legs, many sharing a site's edge: the checked C path gives SciPy's pairs."""
    rng = np.random.default_rng(5)
    edges = rng.integers(0, liechtenstein.n_edges, 150)
    # Demand on the sites' own edges and elsewhere, pushed a few metres off the street.
    demand_edges = np.concatenate([np.repeat(edges, 4), rng.integers(0, liechtenstein.n_edges, 1500)])

    def near(e):
        pts = shapely.line_interpolate_point(liechtenstein.edges_wgs84[e], rng.uniform(0, 1, len(e)), normalized=True)
        return shapely.get_coordinates(pts) + rng.normal(0, 2e-4, (len(e), 2))

    sites, demand = snap_points(liechtenstein, near(edges)), snap_points(liechtenstein, near(demand_edges))
    fast = AccessMatrix.compute(liechtenstein, sites, demand, 1000.0, engine="c", chunk_size=16)
    slow = AccessMatrix.compute(liechtenstein, sites, demand, 1000.0, engine="scipy")
    assert fast.nnz > 1000
    assert np.array_equal(fast.rows, slow.rows) and np.array_equal(fast.cols, slow.cols)
    assert np.allclose(fast.metres, slow.metres, rtol=0, atol=1e-6)


@needs_kernel
def test_auto_engine_with_the_kernel_built_does_not_warn(monaco):
    snap = snap_points(monaco, monaco.node_lonlat[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AccessMatrix.compute(monaco, snap, snap, 500.0)


def test_kernel_available_says_whether_the_extension_imports():
    assert kernel_available() == (importlib.util.find_spec("coverage_planner.access._walkkernel") is not None)


# ------------------------------------------------------------- dtype and shape


@needs_kernel
@pytest.mark.parametrize("name", ["src_a", "src_b", "dem_node", "dem_idx", "edge_lo", "edge_hi", "edge_dem_idx"])
def test_float64_where_int64_is_expected_is_rejected(name):
    assert_value_error(f"w[{name!r}] = w[{name!r}].astype(np.float64)", name, "int64", "float64")


@needs_kernel
@pytest.mark.parametrize("name", ["off_a", "budget", "dem_off", "dem_leg", "edge_dem_along"])
def test_int64_where_float64_is_expected_is_rejected(name):
    assert_value_error(f"w[{name!r}] = w[{name!r}].astype(np.int64)", name, "float64", "int64")


@needs_kernel
def test_float64_indptr_is_rejected():
    assert_value_error("g['indptr'] = g['indptr'].astype(np.float64)", "indptr", "int64", "float64")


@needs_kernel
def test_int64_edge_targets_are_rejected():
    assert_value_error("g['indices'] = g['indices'].astype(np.int64)", "indices", "int32", "int64")


@needs_kernel
def test_float32_lengths_are_rejected():
    assert_value_error("g['weights'] = g['weights'].astype(np.float32)", "weights", "float64", "float32")


@needs_kernel
def test_bytes_are_rejected_as_int64():
    assert_value_error("w['src_a'] = w['src_a'].tobytes()", "src_a", "int64", "uint8")


@needs_kernel
def test_non_native_byte_order_is_rejected():
    assert_value_error("w['dem_node'] = w['dem_node'].astype(w['dem_node'].dtype.newbyteorder())", "dem_node")


@needs_kernel
def test_non_contiguous_array_is_rejected():
    assert_value_error("w['dem_node'] = np.repeat(w['dem_node'], 2)[::2]", "dem_node", "contiguous")


@needs_kernel
def test_two_dimensional_array_is_rejected():
    assert_value_error("w['dem_leg'] = w['dem_leg'].reshape(1, 2)", "dem_leg", "one-dimensional")


@needs_kernel
def test_a_list_instead_of_an_array_is_a_type_error():
    assert_type_error("w['src_a'] = [0]", "src_a", "list")


# ----------------------------------------------------------------- index ranges


@needs_kernel
@pytest.mark.parametrize("value", [4, -1, 2**40])
@pytest.mark.parametrize("name", ["src_a", "src_b"])
def test_out_of_range_source_node_is_rejected(name, value):
    assert_value_error(f"w[{name!r}][0] = {value}", f"{name}[0] = {value}", "[0, 4)")


@needs_kernel
@pytest.mark.parametrize("value", [4, -3])
def test_out_of_range_demand_node_is_rejected(value):
    assert_value_error(f"w['dem_node'][2] = {value}", f"dem_node[2] = {value}", "[0, 4)")


@needs_kernel
@pytest.mark.parametrize(("name", "position"), [("dem_idx", 3), ("edge_dem_idx", 0)])
@pytest.mark.parametrize("value", [2, -1])
def test_out_of_range_place_index_is_rejected(name, position, value):
    assert_value_error(f"w[{name!r}][{position}] = {value}", f"{name}[{position}] = {value}", "n_places")


@needs_kernel
def test_out_of_range_edge_target_is_rejected():
    assert_value_error("g['indices'][3] = 4", "indices[3] = 4", "[0, 4)")


@needs_kernel
@pytest.mark.parametrize(
    ("lo", "hi"),
    [(1, 0), (0, 2), (-1, 0)],
    ids=["lo-above-hi", "hi-past-the-entries", "negative-lo"],
)
def test_bad_on_edge_range_is_rejected(lo, hi):
    assert_value_error(f"w['edge_lo'][0], w['edge_hi'][0] = {lo}, {hi}", "edge_lo[0]", "edge_hi[0]")


# ----------------------------------------------------------------------- CSR


@needs_kernel
def test_indptr_not_starting_at_zero_is_rejected():
    assert_value_error("g['indptr'][0] = 1", "indptr[0] = 1")


@needs_kernel
def test_decreasing_indptr_is_rejected():
    assert_value_error("g['indptr'][2] = 0", "indptr[2] = 0", "indptr[1] = 1", "decrease")


@needs_kernel
def test_indptr_not_ending_at_the_edge_count_is_rejected():
    assert_value_error("g['indptr'][4] = 5", "indptr[4] = 5", "len(indices) = 6")


@needs_kernel
def test_indptr_of_the_wrong_length_is_rejected():
    assert_value_error("g['indptr'] = g['indptr'][:-1].copy()", "indptr has 4 items", "n_nodes + 1 = 5")


@needs_kernel
def test_lengths_not_matching_the_edges_are_rejected():
    assert_value_error("g['weights'] = g['weights'][:5].copy()", "weights has 5 items", "expected 6")


@needs_kernel
@pytest.mark.parametrize("value", ["-1.0", "float('nan')", "float('inf')"])
def test_bad_edge_length_is_rejected(value):
    assert_value_error(f"g['weights'][5] = {value}", "weights[5]", "finite and non-negative")


@needs_kernel
def test_negative_node_count_is_rejected():
    assert_value_error("g['n_nodes'] = -1", "n_nodes = -1")


# ------------------------------------------------------------------- lengths


@needs_kernel
@pytest.mark.parametrize("name", ["off_a", "src_b", "off_b", "budget", "edge_lo", "src_along", "src_id", "src_leg"])
def test_source_array_of_another_length_is_rejected(name):
    assert_value_error(f"w[{name!r}] = np.concatenate([w[{name!r}], w[{name!r}]])", name, "2 items", "like src_a")


@needs_kernel
@pytest.mark.parametrize("name", ["dem_idx", "dem_off"])
def test_demand_entry_array_of_another_length_is_rejected(name):
    assert_value_error(f"w[{name!r}] = w[{name!r}][:3].copy()", name, "3 items", "like dem_node")


@needs_kernel
def test_on_edge_arrays_of_different_lengths_are_rejected():
    assert_value_error("w['edge_dem_along'] = np.zeros(2)", "edge_dem_along", "like edge_dem_idx")


@needs_kernel
def test_place_legs_not_one_per_place_are_rejected():
    assert_value_error("w['n_places'] = 3", "dem_leg has 2 items", "n_places")


@needs_kernel
def test_negative_place_count_is_rejected():
    assert_value_error("w['n_places'] = -1", "n_places = -1")


# ------------------------------------------------------------------- numbers


@needs_kernel
@pytest.mark.parametrize("value", ["-1.0", "float('nan')", "float('inf')"])
def test_bad_cutoff_is_rejected(value):
    assert_value_error(f"w['cutoff'] = {value}", "cutoff", "finite and non-negative")


@needs_kernel
@pytest.mark.parametrize(
    ("name", "position"), [("off_a", 0), ("off_b", 0), ("src_leg", 0), ("dem_off", 1), ("dem_leg", 1)]
)
@pytest.mark.parametrize("value", ["-1.0", "float('nan')", "float('inf')"])
def test_bad_offset_or_leg_is_rejected(name, position, value):
    assert_value_error(f"w[{name!r}][{position}] = {value}", f"{name}[{position}]", "finite and non-negative")


@needs_kernel
@pytest.mark.parametrize("name", ["src_along", "edge_dem_along"])
def test_non_finite_position_along_an_edge_is_rejected(name):
    assert_value_error(f"w[{name!r}][0] = float('inf')", f"{name}[0] = inf", "finite")


@needs_kernel
def test_nan_budget_is_rejected():
    assert_value_error("w['budget'][0] = float('nan')", "budget[0] = nan")


@needs_kernel
def test_a_float_place_count_is_a_type_error():
    assert_type_error("w['n_places'] = 2.0", "n_places", "integer")


# ---------------------------------------------------------------- the signature


@needs_kernel
def test_unknown_keyword_is_a_type_error_naming_it():
    assert_type_error("w['bogus'] = 1", "unexpected keyword argument 'bogus'")


@needs_kernel
def test_missing_argument_is_a_type_error_naming_it():
    assert_type_error("del w['dem_leg']", "missing required keyword argument 'dem_leg'")


@needs_kernel
def test_positional_arguments_are_a_type_error():
    """The old 22-positional-buffer call is refused outright, not misread."""
    assert_type_error(
        "call = lambda: k.bounded_walks(k.Graph(**g), *w.values())",
        "keyword arguments only",
    )


@needs_kernel
def test_graph_must_be_a_graph_object():
    assert_type_error("w['graph'] = dict(g)", "graph must be a Graph")


@needs_kernel
def test_graph_takes_keywords_only():
    assert_type_error("call = lambda: k.Graph(*g.values())", "keyword arguments only")


# ------------------------------------------------------------ missing kernel

BLOCKED = textwrap.dedent(
    """
    import importlib.abc, json, sys, warnings

    class NoKernel(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "coverage_planner.access._walkkernel":
                raise ImportError("blocked by the test: built without a C compiler")
            return None

    sys.meta_path.insert(0, NoKernel())
    import numpy as np
    from coverage_planner.access import matrix
    from coverage_planner.access.snapping import snap_points
    from coverage_planner.network.graph import WalkNetwork

    net = WalkNetwork.from_file(sys.argv[1])
    snap = snap_points(net, net.node_lonlat[:200])
    facts = {"available": matrix.kernel_available()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explicit = matrix.AccessMatrix.compute(net, snap, snap, 600.0, engine="scipy")
        facts["warnings_explicit_scipy"] = len(caught)
        first = matrix.AccessMatrix.compute(net, snap, snap, 600.0)
        second = matrix.AccessMatrix.compute(net, snap, snap, 600.0)
    facts["warnings_auto"] = [
        {"category": w.category.__name__, "message": str(w.message), "file": w.filename} for w in caught
    ]
    facts["same_result"] = bool(np.array_equal(first.metres, explicit.metres) and np.array_equal(second.cols, explicit.cols))
    try:
        matrix.AccessMatrix.compute(net, snap, snap, 600.0, engine="c")
        facts["engine_c"] = None
    except ValueError as exc:  # a DataError (CoverageError and ValueError)
        facts["engine_c"] = str(exc)
    print(json.dumps(facts))
    """
)


@pytest.fixture(scope="module")
def without_kernel():
    """What matrix.py does in a process where the extension cannot be imported."""
    from conftest import raw_file

    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(raw_file("monaco.osm.pbf"))], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fallback_warns_exactly_once_over_two_computations(without_kernel):
    caught = without_kernel["warnings_auto"]
    assert [w["category"] for w in caught] == ["RuntimeWarning"]


def test_fallback_warning_says_why_and_how_to_fix(without_kernel):
    message = without_kernel["warnings_auto"][0]["message"]
    assert "C walk kernel" in message and "not built" in message
    assert "built without a C compiler" in message  # the import error itself
    assert "C compiler" in message and "reinstall" in message
    assert "slower" in message


def test_fallback_warning_points_at_the_caller(without_kernel):
    assert without_kernel["warnings_auto"][0]["file"] == "<string>"


def test_explicit_scipy_engine_does_not_warn(without_kernel):
    assert without_kernel["warnings_explicit_scipy"] == 0


def test_fallback_gives_the_scipy_result(without_kernel):
    assert without_kernel["same_result"]


def test_kernel_available_is_false_without_the_extension(without_kernel):
    assert without_kernel["available"] is False


def test_engine_c_without_the_extension_says_so(without_kernel):
    assert "not built" in without_kernel["engine_c"]
