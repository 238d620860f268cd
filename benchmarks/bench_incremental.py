"""Adding one site: a full run vs the incremental rerun (cached network and per-site walk rows).

Real OSM features (default: Liechtenstein): 20 amenities as existing sites,
500 buildings as demand places; then one more amenity is added to the sites
file. Timed, interleaved round by round (``--repeat`` rounds; median with
min–max, load average printed):

- full: ``run_scenario(..., use_cache=False)`` (parse the ``.pbf``, snap and walk everything);
- rerun: ``run_scenario`` on the edited file with the network of the run before, as
  ``add_sites`` reruns (old places' snaps and old sites' walk rows from the caches);
- rerun, network cached: the same with the network read back from its cache;
- with_sites: `coverage_planner.with_sites` on the run before (the notebook path: no files,
  the new site as a GeoDataFrame);
- snap and walk: only the new site's `snap_points` and `AccessMatrix.compute`, the
  work the rerun cannot skip. Target: rerun ≤ 3× snap and walk.

    python benchmarks/bench_incremental.py [--repeat 9] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd

from coverage_planner import run_scenario, with_sites
from coverage_planner.access.matrix import AccessMatrix
from coverage_planner.access.snapping import snap_points
from coverage_planner.places.reading import DuplicateNameWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Load, loadavg

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


def timed(setup, action) -> float:
    setup()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.2f} ms ({min(values) * 1000:.2f}–{max(values) * 1000:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--demand", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--network", default="liechtenstein-2013-08-03.osm.pbf", help="file in ../shared/data/raw/")
    parser.add_argument("--quick", action="store_true", help="3 rounds: check that the script runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    warnings.simplefilter("ignore", DuplicateNameWarning)  # amenity names repeat ("bench"); every run would say so

    osm = RAW / args.network
    sites, demand = real_places(osm, args.sites, args.demand, args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    cache = work / "cache"
    toml = work / "scenario.toml"
    toml.write_text(
        f'name = "bench"\n[network]\npath = "{osm.as_posix()}"\ncache_dir = "cache"\n'
        '[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 15\n',
        encoding="utf-8",
    )
    demand.to_csv(work / "demand.csv", index=False)
    before, after = sites.iloc[: args.sites], sites
    state: dict = {}

    def fresh():
        shutil.rmtree(cache, ignore_errors=True)
        before.to_csv(work / "sites.csv", index=False)

    def warm():
        state.pop("after", None)  # freed here, untimed: else the rerun's time includes freeing the last network
        fresh()
        state["before"] = run_scenario(toml, progress=False)  # fills every cache for the 20 sites
        after.to_csv(work / "sites.csv", index=False)

    def snap_and_walk():
        b = state["before"]
        snap = snap_points(b.network, after[["lon", "lat"]].to_numpy()[args.sites :], max_snap_m=b.max_snap_m)
        AccessMatrix.compute(
            b.network,
            snap,
            b.demand_snap,
            b.matrix.cutoff_m,
            include_access_legs=b.matrix.include_access_legs,
            site_ids=after["id"].to_numpy(object)[args.sites :],
            demand_ids=b.matrix.demand_ids,
            progress=False,
        )

    added = after.iloc[args.sites :]
    new_site = gpd.GeoDataFrame(
        added[["id", "name"]], geometry=gpd.points_from_xy(added["lon"], added["lat"]), crs="EPSG:4326"
    )

    cases = {
        "full": (fresh, lambda: run_scenario(toml, use_cache=False, progress=False)),
        "rerun": (
            warm,
            lambda: state.update(after=run_scenario(toml, network=state["before"].network, progress=False)),
        ),
        "rerun, network cached": (warm, lambda: run_scenario(toml, progress=False)),
        "with_sites": (warm, lambda: with_sites(state["before"], new_site)),
        "snap and walk": (warm, snap_and_walk),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    stages: list[dict[str, float]] = []
    for setup, action in cases.values():  # warm-up round, untimed
        timed(setup, action)
    load = Load(loadavg())
    names = list(cases)
    for r in range(args.repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            setup, action = cases[name]
            times[name].append(timed(setup, action))
            if name == "rerun":
                stages.append(state["after"].timings)
                state["stats"] = state["after"].cache_stats
    load.finish()
    assert state["stats"]["sites_computed"] == 1  # the rerun walked from the new site only
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{osm.name}, {args.sites} real amenity sites + 1 added, {args.demand} real buildings, 15 min")
    print(f"  {args.repeat} interleaved rounds, median (min–max); {load.text()}")
    for name, values in times.items():
        print(f"  {name:32s} {spread(values)}")
    print(f"  full / rerun = {median['full'] / median['rerun']:.1f}x   (target >= 10x)")
    print(
        f"  rerun / snap and walk = {median['rerun'] / median['snap and walk']:.1f}x   (target <= 3x); "
        f"with the network from its cache {median['rerun, network cached'] / median['snap and walk']:.1f}x; "
        f"with_sites {median['with_sites'] / median['snap and walk']:.1f}x"
    )
    keys = list(dict.fromkeys(k for s in stages for k in s))
    print(
        "  rerun stages (median, ms): "
        + ", ".join(f"{k} {statistics.median(s.get(k, 0.0) for s in stages) * 1000:.2f}" for k in keys)
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
