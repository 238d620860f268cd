"""Benchmark the location models: time per stage against HiGHS alone, and spopt + CBC on the same models.

Instances are real. By default a seeded random problem on a real extract:
``--candidates`` candidate sites and ``--demand`` demand places, each on a
distinct random node of the largest connected component, walk distances
within ``--cutoff`` metres from `AccessMatrix`. With ``--city`` the Andorra
case of ``bench_city.py`` instead: its civic amenities as existing sites,
``--candidates`` other premises and ``--demand`` real demand places (OSM
buildings, addresses …), 15-minute walk (1250 m).

Models (``--models``, any of ``lscp,share,mclp,pcenter,pmedian``):

* ``lscp``    LSCP, service radius = the cutoff;
* ``share``   LSCP covering 90 % of the coverable places (the partial cover);
* ``mclp``    MCLP, k = ``--k``;
* ``pcenter`` p-center, k = ``--k``;
* ``pmedian`` p-median, k = ``--k`` (slow: HiGHS needs seconds to minutes on
  the default instance; try it with ``--quick``).

Each run is ``Model.from_access(matrix, …)`` then ``.solve("exact")``; the
solve's ``Solution.stage_times_s`` splits it into ``reduce`` (merging rows,
dominated columns and rows), ``build`` (the MILP's matrices), ``highs``
(the whole of ``_milp.solve``: the arrays handed to highspy, its runs, the
answer read back), ``tie_break`` (canonical form) and ``other``. **HiGHS
alone** (``run()`` in the table, ``highs_run_s`` in the JSON) is the time
inside highspy's ``run()`` calls only, measured here by wrapping that method:
it excludes every wrapper (SciPy's ``milp`` is no longer used, which used to
add 0.35–0.9 ms per call on small programs), so ``highs`` − ``run()`` is
what handing the model over costs. The runs are interleaved (run 1 of every
model, then run 2 …), and the table gives the median and min–max over
``--repeat`` runs, the ratio total / HiGHS alone per run (median and
min–max: the figure the optimiser's target is about, and less sensitive to
the machine's load than seconds) and the load average before and after.

With ``--spopt-repeat`` > 0, spopt + CBC also solves LSCP and MCLP
(``from_cost_matrix`` + ``solve(PULP_CBC_CMD)``, best of that many runs;
the dense cost matrix is made beforehand and not timed), and the objectives
must agree (exit status 1 otherwise).

Usage::

    python benchmarks/bench_optimize.py [--repeat 9] [--network monaco] [--city] [--spopt-repeat 1]
    python benchmarks/bench_optimize.py --quick      # small instance, 3 runs, no spopt, nothing written
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import highspy
import numpy as np
import scipy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import _textbook

from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.plan.models import LSCP, MCLP, PCenter, PMedian

RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
NETWORKS = {
    "monaco": "monaco.osm.pbf",
    "liechtenstein": "liechtenstein-2013-08-03.osm.pbf",
    "andorra": "andorra.osm.pbf",
}
STAGES = ("reduce", "build", "highs", "tie_break", "other")
CITY_CUTOFF_M = 1250.0  # 15 minutes at 5 km/h, as bench_city.py's scenario


def make_instance(net: WalkNetwork, n_cand: int, n_demand: int, cutoff: float, seed: int) -> AccessMatrix:
    """Candidates and demand places on distinct random nodes of the main component."""
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(net.component == 0)
    if max(n_cand, n_demand) > len(nodes):
        raise SystemExit(f"only {len(nodes)} nodes in the main component; ask for fewer places")
    cand = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_cand, replace=False))])
    demand = snap_points(net, net.node_lonlat[np.sort(rng.choice(nodes, n_demand, replace=False))])
    return AccessMatrix.compute(net, cand, demand, cutoff, progress=False)


def make_city(net: WalkNetwork, path: Path, n_cand: int, n_demand: int, seed: int) -> tuple[AccessMatrix, int]:
    """bench_city.py's places: (matrix of existing + candidate sites × demand, number of existing sites)."""
    import bench_city
    import pandas as pd

    sites, pool, demand = bench_city.osm_places(path)
    rng = np.random.default_rng(seed)
    candidates, demand = bench_city.sample(pool, n_cand, rng), bench_city.sample(demand, n_demand, rng)
    both = pd.concat([sites, candidates], ignore_index=True)
    snapped_sites = snap_points(net, both[["lon", "lat"]].to_numpy())
    snapped_demand = snap_points(net, demand[["lon", "lat"]].to_numpy())
    return AccessMatrix.compute(net, snapped_sites, snapped_demand, CITY_CUTOFF_M, progress=False), len(sites)


def model_cases(names: list[str], matrix: AccessMatrix, n_existing: int, k: int) -> list[tuple[str, object]]:
    makers = {
        "lscp": ("LSCP", lambda: LSCP.from_access(matrix, n_existing=n_existing)),
        "share": ("LSCP 90 %", lambda: LSCP.from_access(matrix, n_existing=n_existing, target_share=0.9)),
        "mclp": (f"MCLP k={k}", lambda: MCLP.from_access(matrix, n_existing=n_existing, k=k)),
        "pcenter": (f"p-center k={k}", lambda: PCenter.from_access(matrix, n_existing=n_existing, k=k)),
        "pmedian": (f"p-median k={k}", lambda: PMedian.from_access(matrix, n_existing=n_existing, k=k)),
    }
    unknown = sorted(set(names) - set(makers))
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {sorted(makers)}")
    return [(name, *makers[name]) for name in names]


def spopt_solve(kind: str, cost: np.ndarray, radius: float, k: int | None, n_existing: int) -> float:
    import pulp
    from spopt.locate import LSCP as SpoptLSCP
    from spopt.locate import MCLP as SpoptMCLP

    fixed = {"predefined_facilities_arr": (np.arange(cost.shape[1]) < n_existing).astype(int)} if n_existing else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "mclp":
            model = SpoptMCLP.from_cost_matrix(
                cost, np.ones(cost.shape[0]), service_radius=radius, p_facilities=k + n_existing, **fixed
            )
        else:
            model = SpoptLSCP.from_cost_matrix(cost, service_radius=radius, **fixed)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    return float(pulp.value(model.problem.objective))


class RunClock:
    """Seconds spent inside highspy's ``run()`` calls ("HiGHS alone"), by wrapping the method while it is on."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._raw = None

    def __enter__(self) -> RunClock:
        raw = self._raw = highspy._Highs.run

        def timed(solver):
            start = time.perf_counter()
            try:
                return raw(solver)
            finally:
                self.seconds += time.perf_counter() - start

        highspy._Highs.run = timed
        return self

    def __exit__(self, *exc) -> None:
        highspy._Highs.run = self._raw


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="monaco", help="monaco, liechtenstein, andorra or a path to an OSM file")
    parser.add_argument("--city", action="store_true", help="bench_city.py's real Andorra places instead")
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--demand", type=int, default=None, help="default 2000 (5000 with --city)")
    parser.add_argument("--cutoff", type=float, default=1200.0, help="metres (--city: 1250)")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--models", default="lscp,share,mclp,pcenter", help="comma-separated, see above")
    parser.add_argument("--repeat", type=int, default=9, help="interleaved runs of each model")
    parser.add_argument("--spopt-repeat", type=int, default=1, help="runs of spopt (each takes seconds); 0 skips")
    parser.add_argument("--quick", action="store_true", help="150 candidates × 600 places, 3 runs, no spopt")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON file (default results/optimize.json, with --city results/optimize_city.json)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates, args.demand, args.repeat, args.spopt_repeat = 150, args.demand or 600, 3, 0
        args.k = min(args.k, 8)
    if args.output is None and not args.quick:
        args.output = REPO / "benchmarks" / "results" / ("optimize_city.json" if args.city else "optimize.json")

    if args.city:
        args.network, args.cutoff = "andorra", CITY_CUTOFF_M
    path = Path(args.network) if Path(args.network).is_file() else RAW / NETWORKS.get(args.network, args.network)
    net = WalkNetwork.from_file(path)
    if args.city:
        matrix, n_existing = make_city(net, path, args.candidates, args.demand or 5000, args.seed)
    else:
        matrix, n_existing = make_instance(net, args.candidates, args.demand or 2000, args.cutoff, args.seed), 0
    print(
        f"{path.name}{' (real places)' if args.city else ''}: {net.n_nodes} nodes; {n_existing} existing sites, "
        f"{matrix.shape[0] - n_existing} candidates × {matrix.shape[1]} places, cutoff {args.cutoff:g} m, "
        f"{matrix.nnz} pairs within it"
    )

    cases = model_cases([m.strip() for m in args.models.split(",") if m.strip()], matrix, n_existing, args.k)
    runs: dict[str, list[dict]] = {kind: [] for kind, _, _ in cases}
    covers = matrix.covers()
    textbook_models = {
        "lscp": lambda: _textbook.lscp(covers, n_existing),
        "mclp": lambda: _textbook.mclp(covers, n_existing, args.k),
    }
    load_before = os.getloadavg()
    for _ in range(args.repeat):  # interleaved: one run of every model per round
        for kind, _, make in cases:
            start = time.perf_counter()
            problem = make()
            built = time.perf_counter()
            with RunClock() as clock:
                sol = problem.solve("exact")
            runs[kind].append(
                {
                    "construct_s": built - start,
                    "solve_s": sol.solve_time_s,
                    **{f"{s}_s": sol.stage_times_s.get(s, 0.0) for s in STAGES},
                    "highs_run_s": clock.seconds,
                    "objective": sol.objective,
                    "status": sol.status,
                    "new_sites": len(sol.chosen),
                }
            )
            if kind in textbook_models:  # the whole model handed to HiGHS, in the same round
                start = time.perf_counter()
                value, _, inside = textbook_models[kind]()
                runs[kind][-1].update(
                    {"textbook_s": time.perf_counter() - start, "textbook_run_s": inside, "textbook_objective": value}
                )
    load_after = os.getloadavg()

    rows, ok = [], True
    for kind, label, _ in cases:
        rs = runs[kind]
        objectives = {r["objective"] for r in rs}
        ok &= len(objectives) == 1
        row = {
            "model": label,
            "objective": rs[0]["objective"],
            "status": rs[0]["status"],
            "new_sites": rs[0]["new_sites"],
            "solve_s": spread([r["solve_s"] for r in rs]),
            "construct_s": spread([r["construct_s"] for r in rs]),
            **{f"{s}_s": spread([r[f"{s}_s"] for r in rs]) for s in STAGES},
            "highs_run_s": spread([r["highs_run_s"] for r in rs]),
            "solve_over_highs": spread([r["solve_s"] / max(r["highs_run_s"], 1e-9) for r in rs]),
            "runs": rs,
        }
        if kind in textbook_models:
            # The textbook LSCP counts the existing sites too.
            expected = row["objective"] + (n_existing if kind == "lscp" else 0)
            agree = all(abs(r["textbook_objective"] - expected) <= 1e-6 * max(1.0, abs(expected)) for r in rs)
            ok &= agree
            row.update(
                {
                    "textbook_s": spread([r["textbook_s"] for r in rs]),
                    "textbook_run_s": spread([r["textbook_run_s"] for r in rs]),
                    "solve_over_textbook": spread([r["solve_s"] / r["textbook_s"] for r in rs]),
                    "textbook_agrees": agree,
                }
            )
        if args.spopt_repeat > 0 and kind in ("lscp", "mclp"):
            cost = np.full(matrix.shape, np.inf)
            cost[matrix.rows, matrix.cols] = matrix.metres
            cost = cost.T  # spopt: demand × facilities
            if kind == "lscp":  # spopt cannot leave a place uncovered
                cost = cost[np.isfinite(cost).any(axis=1)]
            times, theirs = [], None
            for _ in range(args.spopt_repeat):
                start = time.perf_counter()
                theirs = spopt_solve(kind, cost, args.cutoff, args.k, n_existing)
                times.append(time.perf_counter() - start)
            # spopt's LSCP counts the existing sites too
            mine = row["objective"] + (n_existing if kind == "lscp" else 0)
            agree = abs(mine - theirs) <= 1e-6 * max(1.0, abs(theirs))
            ok &= agree
            row.update({"spopt_s": min(times), "spopt_runs": times, "spopt_objective": theirs, "agree": agree})
        rows.append(row)

    def ms(stat: dict[str, float]) -> str:
        return f"{stat['median'] * 1e3:.1f}"

    print(
        f"\n{'model':<16}{'objective':>12}{'solve ms':>10}{'(min–max)':>16}{'reduce':>8}{'build':>7}{'highs':>7}{'run()':>7}"
        f"{'tie':>7}{'other':>7}{'solve/run()':>13}{'(min–max)':>14}{'construct':>11}"
    )
    for r in rows:
        t, q = r["solve_s"], r["solve_over_highs"]
        t_range = f"({t['min'] * 1e3:.1f}–{t['max'] * 1e3:.1f})"
        q_range = f"({q['min']:.2f}–{q['max']:.2f})"
        print(
            f"{r['model']:<16}{r['objective']:>12.8g}{ms(t):>10}{t_range:>16}"
            f"{ms(r['reduce_s']):>8}{ms(r['build_s']):>7}{ms(r['highs_s']):>7}{ms(r['highs_run_s']):>7}{ms(r['tie_break_s']):>7}"
            f"{ms(r['other_s']):>7}{q['median']:>12.2f}×{q_range:>14}{ms(r['construct_s']):>11}"
        )
        if "textbook_s" in r:
            b, q = r["textbook_s"], r["solve_over_textbook"]
            print(
                f"{'':<16}HiGHS on the whole textbook model (its presolve on, no reductions): {ms(b)} ms "
                f"({b['min'] * 1e3:.1f}–{b['max'] * 1e3:.1f}), run() {ms(r['textbook_run_s'])} ms; "
                f"solve / that = {q['median']:.2f}× ({q['min']:.2f}–{q['max']:.2f}), objective "
                f"{'agrees' if r['textbook_agrees'] else 'DIFFERS'}"
            )
        if "spopt_s" in r:
            print(
                f"{'':<16}spopt + CBC {r['spopt_s']:.2f} s, objective {r['spopt_objective']:g} "
                f"({'agrees' if r['agree'] else 'DIFFERS'})"
            )
    print(
        f"\nmedians of {args.repeat} interleaved runs, ms; solve = .solve('exact') (stages from "
        "Solution.stage_times_s; highs = all of _milp.solve, run() = inside highspy's run() calls: HiGHS alone), "
        "construct = from_access, not in solve. Load average (1, 5, 15 min) "
        f"before {tuple(round(v, 2) for v in load_before)}, after {tuple(round(v, 2) for v in load_after)}; "
        f"{os.cpu_count()} CPUs."
    )
    if not ok:
        print("objectives differ between runs or from spopt")

    if args.output is not None:
        result = {
            "benchmark": "location models: stages against HiGHS, and spopt + CBC",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "parameters": {
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "pairs": int(matrix.nnz),
                "existing": n_existing,
            },
            "load_average_before": load_before,
            "load_average_after": load_after,
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "highspy": f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}",
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
