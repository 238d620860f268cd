"""Site proposal: our MILP (sparse, HiGHS) vs spopt (PuLP + CBC), build + solve, same instance, same run.

500 candidates × 2000 demand places on real nodes of Monaco's main component
(seeded), 1200 m threshold: MCLP with k = 20 and LSCP. Both objectives are
checked equal before the times are compared; printed as ratios.

    python benchmarks/bench_optimize.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from coverage import WalkNetwork, snap_points
from coverage.access import AccessMatrix
from coverage.optimize import LSCP, MCLP

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))


def best_of(repeat: int, action):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = action()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--threshold", type=float, default=1200.0)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()

    import pulp
    from spopt.locate import LSCP as SpoptLSCP
    from spopt.locate import MCLP as SpoptMCLP

    warnings.simplefilter("ignore")
    net = WalkNetwork.from_file(RAW / "monaco.osm.pbf")
    rng = np.random.default_rng(7)
    nodes = np.flatnonzero(net.component == 0)
    cand = snap_points(net, net.node_lonlat[rng.choice(nodes, args.candidates, replace=False)])
    demand = snap_points(net, net.node_lonlat[rng.choice(nodes, args.demand, replace=False)])
    matrix = AccessMatrix.compute(net, cand, demand, args.threshold, progress=False)
    weights = rng.integers(1, 10, args.demand).astype(float)
    covers = matrix.covers()
    cost = np.full(matrix.shape, 1e7)
    cost[matrix.rows, matrix.cols] = matrix.metres
    cost = cost.T
    coverable = (cost <= args.threshold).any(axis=1)

    print(f"Monaco: {args.candidates} candidates x {args.demand} demand, {args.threshold:g} m, {matrix.nnz} pairs within reach")
    rows = []
    for label, ours_fn, spopt_fn, spopt_offset in (
        (f"MCLP k={args.k}", lambda: MCLP(covers, weights, 0, args.k).solve(),
         lambda: SpoptMCLP.from_cost_matrix(cost, weights, args.threshold, args.k).solve(pulp.PULP_CBC_CMD(msg=False)), 0),
        ("LSCP", lambda: LSCP(covers, weights, 0).solve(),
         lambda: SpoptLSCP.from_cost_matrix(cost[coverable], args.threshold).solve(pulp.PULP_CBC_CMD(msg=False)), 0),
    ):
        ours_t, ours = best_of(args.repeat, ours_fn)
        spopt_t, model = best_of(args.repeat, spopt_fn)
        spopt_obj = pulp.value(model.problem.objective) + spopt_offset
        same = abs(ours.objective - spopt_obj) < 1e-6 * max(1.0, abs(spopt_obj))
        rows.append((label, ours_t, spopt_t, ours.objective, spopt_obj, same))
    print(f"{'problem':12s} {'ours (build+solve)':>20s} {'spopt+CBC':>12s} {'spopt/ours':>11s} {'objective':>12s} {'spopt obj':>12s} same")
    for label, ours_t, spopt_t, o, s, same in rows:
        print(f"{label:12s} {ours_t * 1000:17.1f} ms {spopt_t * 1000:9.1f} ms {spopt_t / ours_t:10.1f}x {o:12g} {s:12g} {same}")


if __name__ == "__main__":
    main()
