"""Benchmark the location models (MCLP, LSCP) against spopt with CBC, on one real instance.

A seeded random problem on the Monaco extract: ``--candidates`` candidate
sites and ``--demand`` demand places, each on a distinct random node of the
largest connected component, walk distances within ``--cutoff`` metres from
`AccessMatrix`. Both tools then solve the same models on the same pairs:

* MCLP, k = ``--k`` new sites, service radius = the cutoff, weight 1 per place;
* LSCP over the places some candidate reaches (spopt cannot leave a place
  uncovered; ours lists such places and leaves them out by itself).

Timed, best of ``--repeat`` (``time.perf_counter``), in the same run:

* ``ours``  ``MCLP.from_access(matrix, k=…)`` / ``LSCP.from_access(matrix)`` and
            ``.solve("exact")``: reductions, MILP build, HiGHS (scipy.optimize.milp),
            canonical tie-break. Greedy is timed too, for context.
* ``spopt`` ``MCLP.from_cost_matrix(cost, weights, radius, k)`` /
            ``LSCP.from_cost_matrix(cost, radius)`` and
            ``.solve(pulp.PULP_CBC_CMD(msg=False))``. The dense demand × site cost
            matrix it needs is made once beforehand and not timed.

The objectives must agree (the script exits with status 1 otherwise). Results
are printed and written to ``benchmarks/results/optimize.json``.

Usage::

    python benchmarks/bench_optimize.py [--repeat 3] [--spopt-repeat 1] [--network monaco]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan.models import LSCP, MCLP

RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
NETWORKS = {
    "monaco": "monaco.osm.pbf",
    "liechtenstein": "liechtenstein-2013-08-03.osm.pbf",
    "andorra": "andorra.osm.pbf",
}


def best_of(fn, repeat: int) -> tuple[float, list[float], Any]:
    runs, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - start)
    return min(runs), runs, out


def make_instance(net: WalkNetwork, n_cand: int, n_demand: int, cutoff: float, seed: int) -> AccessMatrix:
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(net.component == 0)
    if max(n_cand, n_demand) > len(nodes):
        raise SystemExit(f"only {len(nodes)} nodes in the main component; ask for fewer places")
    cand = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_cand, replace=False))])
    demand = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_demand, replace=False))])
    return AccessMatrix.compute(net, cand, demand, cutoff, progress=False)


def spopt_solve(kind: str, cost: np.ndarray, radius: float, k: int):
    import pulp
    from spopt.locate import LSCP as SpoptLSCP
    from spopt.locate import MCLP as SpoptMCLP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "mclp":
            model = SpoptMCLP.from_cost_matrix(cost, np.ones(cost.shape[0]), service_radius=radius, p_facilities=k)
        else:
            model = SpoptLSCP.from_cost_matrix(cost, service_radius=radius)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    return float(pulp.value(model.problem.objective))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="monaco", help="monaco, liechtenstein, andorra or a path to an OSM file")
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--cutoff", type=float, default=1200.0)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best is reported)")
    parser.add_argument("--spopt-repeat", type=int, default=1, help="runs of spopt (each takes seconds)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "optimize.json")
    args = parser.parse_args(argv)

    path = Path(args.network) if Path(args.network).is_file() else RAW / NETWORKS.get(args.network, args.network)
    net = WalkNetwork.from_file(path)
    matrix = make_instance(net, args.candidates, args.demand, args.cutoff, args.seed)
    cost = np.full(matrix.shape, np.inf)
    cost[matrix.rows, matrix.cols] = matrix.metres
    cost = cost.T  # spopt: demand × facilities
    reach = np.isfinite(cost).any(axis=1)
    print(
        f"{path.name}: {net.n_nodes} nodes; {args.candidates} candidates × {args.demand} places, "
        f"cutoff {args.cutoff:g} m, {matrix.nnz} pairs within it; {int((~reach).sum())} places out of reach"
    )

    rows, ok = [], True
    cases = [
        ("mclp", f"MCLP k={args.k}", lambda: MCLP.from_access(matrix, k=args.k), cost, args.k),
        ("lscp", "LSCP", lambda: LSCP.from_access(matrix), cost[reach], None),
    ]
    for kind, label, build, spopt_cost, k in cases:
        t_ours, runs_ours, sol = best_of(lambda build=build: build().solve("exact"), args.repeat)
        t_greedy, _, greedy = best_of(lambda build=build: build().solve("greedy"), args.repeat)
        t_spopt, runs_spopt, theirs = best_of(
            lambda kind=kind, c=spopt_cost, k=k: spopt_solve(kind, c, args.cutoff, k), args.spopt_repeat
        )
        agree = abs(sol.objective - theirs) <= 1e-6 * max(1.0, abs(theirs))
        ok &= agree
        rows.append(
            {
                "model": label,
                "ours_s": t_ours,
                "ours_runs": runs_ours,
                "ours_milp_build_s": sol.build_time_s,
                "greedy_s": t_greedy,
                "greedy_objective": greedy.objective,
                "spopt_s": t_spopt,
                "spopt_runs": runs_spopt,
                "ratio": t_spopt / t_ours,
                "objective": sol.objective,
                "spopt_objective": theirs,
                "status": sol.status,
                "gap": sol.gap,
                "new_sites": len(sol.chosen),
                "agree": agree,
            }
        )

    print(
        f"\n{'model':<12}{'ours s':>9}{'spopt s':>10}{'spopt/ours':>12}{'objective':>12}{'spopt obj':>11}{'agree':>7}"
        f"{'greedy s':>10}{'greedy obj':>12}"
    )
    for r in rows:
        print(
            f"{r['model']:<12}{r['ours_s']:>9.3f}{r['spopt_s']:>10.2f}{r['ratio']:>11.1f}×{r['objective']:>12g}"
            f"{r['spopt_objective']:>11g}{'yes' if r['agree'] else 'NO':>7}{r['greedy_s']:>10.3f}{r['greedy_objective']:>12g}"
        )
    print(
        "\nours = from_access + solve('exact') (reductions, MILP build, HiGHS, tie-break), best of "
        f"{args.repeat}; spopt = from_cost_matrix + solve(PULP_CBC_CMD), best of {args.spopt_repeat}. "
        "LSCP objectives: new sites (ours, no existing sites here) and all sites (spopt)."
    )

    import pulp
    import spopt

    result = {
        "benchmark": "location models vs spopt + CBC",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "parameters": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "pairs": int(matrix.nnz),
        },
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "spopt": spopt.__version__,
            "pulp": pulp.__version__,
        },
        "all_objectives_agree": bool(ok),
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
