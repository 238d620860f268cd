"""Adding one site: a full run vs the incremental rerun (cached network and per-site walk rows).

Real OSM features (default: Liechtenstein): 20 amenities as existing sites,
500 buildings as demand places; then one more amenity is added. Times are the
best of --repeat runs, printed as a ratio from the same run.

    python benchmarks/bench_incremental.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import osmium
import pandas as pd

from coverage_planner import run_scenario

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))


def real_places(path: Path, n_sites: int, n_demand: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Amenity nodes (sites) and building centroids (demand) from the extract, sampled reproducibly."""
    sites, demand = [], []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        tags = dict(obj.tags)
        if obj.is_node() and "amenity" in tags:
            sites.append((f"n{obj.id}", tags.get("name", tags["amenity"]), obj.location.lon, obj.location.lat))
        elif obj.is_way() and "building" in tags:
            xy = [(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
            if len(xy) >= 3:
                lon, lat = np.mean(xy[:-1], axis=0)
                demand.append((f"w{obj.id}", tags.get("name", f"building {obj.id}"), lon, lat))
    rng = np.random.default_rng(seed)
    columns = ["id", "name", "lon", "lat"]
    s = pd.DataFrame(sites, columns=columns).iloc[np.sort(rng.choice(len(sites), n_sites + 1, replace=False))]
    d = pd.DataFrame(demand, columns=columns).iloc[np.sort(rng.choice(len(demand), n_demand, replace=False))]
    return s.reset_index(drop=True), d.reset_index(drop=True)


def best_of(repeat: int, setup, action) -> float:
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--demand", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--network", default="liechtenstein-2013-08-03.osm.pbf", help="file in ../shared/data/raw/")
    args = parser.parse_args()

    osm = RAW / args.network
    sites, demand = real_places(osm, args.sites, args.demand, args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    cache = work / "cache"
    (work / "scenario.toml").write_text(
        f'name = "bench"\n[network]\npath = "{osm.as_posix()}"\ncache_dir = "cache"\n'
        '[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 15\n',
        encoding="utf-8",
    )
    demand.to_csv(work / "demand.csv", index=False)
    before, after = sites.iloc[: args.sites], sites

    def fresh():
        shutil.rmtree(cache, ignore_errors=True)
        before.to_csv(work / "sites.csv", index=False)

    def warm():
        fresh()
        run_scenario(work / "scenario.toml", progress=False)  # fills both caches for the 20 sites
        after.to_csv(work / "sites.csv", index=False)

    full = best_of(args.repeat, fresh, lambda: run_scenario(work / "scenario.toml", use_cache=False, progress=False))
    rerun = best_of(args.repeat, warm, lambda: run_scenario(work / "scenario.toml", progress=False))
    result = run_scenario(work / "scenario.toml", progress=False)
    assert result.cache_stats["sites_computed"] == 0  # the last rerun left every row cached
    print(f"{osm.name}, {args.sites} real amenity sites + 1 added, {args.demand} real buildings, 15 min")
    print(f"  full run (parse OSM, snap, walk from {args.sites} sites): {full * 1000:8.1f} ms")
    print(f"  rerun after adding 1 site (cached network, walks from 1 site): {rerun * 1000:8.1f} ms")
    print(f"  full / rerun = {full / rerun:.1f}x   (target >= 10x)")
    print("  rerun stages (last run, ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in result.timings.items()))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
