"""City scale, end to end: the Andorra extract, 5,000 demand places, 500 candidates, MCLP k=10, map and report.

Everything is real OpenStreetMap data from ``../shared/data/raw/andorra.osm.pbf``:
existing sites are its civic amenities (town halls, police, libraries …),
candidates are other premises (amenity, shop, office and craft nodes, street
furniture left out), demand places are centroids of
buildings, residential areas and amenity areas (schools, clinics …) plus
address and tourism nodes (hotels, flats), sampled reproducibly.

The planner's command runs in a fresh process, twice:

1. cold: an empty cache folder, so the ``.pbf`` is parsed and the network saved;
2. warm: the same command again, the network read back from the cache.

Each run is ``coverage-planner propose SCENARIO --k 10 --candidates … --profile``,
which loads the network, snaps 5,000 demand places and 500 candidates (plus the
existing sites), computes the walk matrix, solves MCLP exactly (HiGHS) and
greedily, reruns coverage with the proposed sites, and writes the map and the
report. Wall time and peak resident memory (``ru_maxrss`` of the child) are
measured from outside; the stage times come from ``--profile``.

    python benchmarks/bench_city.py [--demand 5000] [--candidates 500] [--k 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import osmium
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
RESULTS = REPO / "benchmarks" / "results" / "city.json"
CIVIC = {"townhall", "police", "library", "community_centre", "social_facility", "post_office", "courthouse"}
# Street furniture and car facilities: not premises a studio could move into.
NOT_PREMISES = {
    "drinking_water",
    "parking",
    "shelter",
    "bench",
    "toilets",
    "atm",
    "recycling",
    "post_box",
    "telephone",
    "parking_entrance",
    "fountain",
    "bbq",
    "bicycle_parking",
    "waste_disposal",
    "waste_basket",
    "sanitary_dump_station",
    "water_point",
    "charging_station",
    "watering_place",
    "fuel",
    "car_wash",
    "mini_storage",
    "bus_station",
    "car_rental",
    "vending_machine",
    "clock",
    "hunting_stand",
}
TARGET_S, TARGET_GB = 60.0, 2.0


def osm_places(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(existing sites, candidate sites, demand places) from one OSM file, with OSM ids."""
    sites, candidates, demand = [], [], []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        tags = dict(obj.tags)
        if obj.is_node():
            lon, lat = obj.location.lon, obj.location.lat
            kind = next((f"{key}={tags[key]}" for key in ("amenity", "shop", "office", "craft") if key in tags), None)
            if tags.get("amenity") in NOT_PREMISES:
                continue
            if tags.get("amenity") in CIVIC:
                sites.append((f"n{obj.id}", tags.get("name", f"{kind} n{obj.id}"), lon, lat, kind))
            elif kind:
                candidates.append((f"n{obj.id}", tags.get("name", f"{kind} n{obj.id}"), lon, lat, kind))
            elif "addr:housenumber" in tags or "tourism" in tags:
                kind = f"tourism={tags['tourism']}" if "tourism" in tags else "address"
                demand.append((f"n{obj.id}", tags.get("name", f"{kind} n{obj.id}"), lon, lat, kind))
        elif obj.is_way() and ("building" in tags or "amenity" in tags or tags.get("landuse") == "residential"):
            xy = np.array([(n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()])
            if len(xy) >= 3:
                kind = (
                    "building"
                    if "building" in tags
                    else ("residential area" if "amenity" not in tags else f"amenity={tags['amenity']}")
                )
                demand.append((f"w{obj.id}", tags.get("name", f"way {obj.id}"), *xy[:-1].mean(axis=0), kind))
    columns = ["id", "name", "lon", "lat", "type"]
    return tuple(pd.DataFrame(rows, columns=columns) for rows in (sites, candidates, demand))  # type: ignore[return-value]


def sample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) < n:
        raise SystemExit(f"only {len(frame)} places to sample {n} from")
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)


def run_measured(command: list[str]) -> dict:
    """Run ``command`` in a fresh child; wall seconds, peak RSS of that child, its output."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " 'code': p.returncode, 'out': p.stdout, 'err': p.stderr}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def stage_times(output: str) -> dict[str, float]:
    """Rows of the ``--profile`` table (the last table printed): stage name → seconds."""
    output = output[output.rfind("Time per stage") :]
    rows = re.findall(r"^[│┃|]\s*(.+?)\s*[│┃|]\s*([0-9.]+)\s*[│┃|]\s*$", output, flags=re.M)
    return {name: float(value) for name, value in rows}


def run_what_ifs(work: Path, sites: pd.DataFrame, candidates: pd.DataFrame, n: int) -> list[dict]:
    """``n`` what-if scenarios (the existing sites plus a different block of 10 candidates each) on 2 Dask workers, with reports."""
    from coverage_planner.batch import run_batch

    tomls = []
    for i in range(n):
        folder = work / f"what-if-{i + 1}"
        folder.mkdir()
        extra = candidates.iloc[10 * i : 10 * (i + 1)]
        pd.concat([sites, extra], ignore_index=True).to_csv(folder / "sites.csv", index=False)
        text = (work / "scenario.toml").read_text(encoding="utf-8")
        text = text.replace('name = "', f'name = "what-if {i + 1}: ', 1).replace(
            'cache_dir = "cache"', f'cache_dir = "{(work / "cache").as_posix()}"'
        )
        text = text.replace('path = "demand.csv"', f'path = "{(work / "demand.csv").as_posix()}"')
        (folder / "scenario.toml").write_text(text, encoding="utf-8")
        tomls.append(folder / "scenario.toml")
    start = time.perf_counter()
    outcomes = run_batch(tomls, work / "batch-out", n_workers=2, report=True, lang="en")
    wall = time.perf_counter() - start
    print(f"  batch: {n} what-if scenarios with reports on a 2-worker LocalCluster in {wall:.1f} s wall")
    for row in outcomes.itertuples(index=False):
        print(
            f"        {Path(row.scenario).parent.name:12s} {row.status:6s} {row.seconds:6.1f} s, "
            f"covered {row.covered_share:.1%}, worker peak RSS {row.worker_peak_rss_mb:.0f} MB"
        )
    return [{**row._asdict(), "batch_wall_s": wall} for row in outcomes.itertuples(index=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--network", default="andorra.osm.pbf", help="file in ../shared/data/raw/")
    parser.add_argument(
        "--batch", type=int, default=4, help="what-if scenarios to run on a 2-worker Dask LocalCluster (0: skip)"
    )
    args = parser.parse_args()

    osm = RAW / args.network
    rng = np.random.default_rng(args.seed)
    sites, pool, demand = osm_places(osm)
    candidates, demand = sample(pool, args.candidates, rng), sample(demand, args.demand, rng)
    work = Path(tempfile.mkdtemp(prefix="bench-city-"))
    sites.to_csv(work / "sites.csv", index=False)
    demand.to_csv(work / "demand.csv", index=False)
    candidates.to_csv(work / "candidates.csv", index=False)
    (work / "scenario.toml").write_text(
        f'name = "{osm.name} (real OSM places)"\n[network]\npath = "{osm.as_posix()}"\ncache_dir = "cache"\n'
        '[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 15\n',
        encoding="utf-8",
    )
    exe = shutil.which("coverage-planner") or str(Path(sys.executable).with_name("coverage-planner"))
    runs = {}
    for label in ("cold", "warm"):
        out = work / f"out-{label}"
        command = [
            exe,
            "propose",
            str(work / "scenario.toml"),
            "--out",
            str(out),
            "--k",
            str(args.k),
            "--candidates",
            str(work / "candidates.csv"),
            "--lang",
            "en",
            "--profile",
        ]
        measured = run_measured(command)
        if measured["code"] != 0:
            print(measured["out"], measured["err"], sep="\n")
            raise SystemExit(f"{label} run failed")
        measured["stages_s"] = stage_times(measured.pop("out"))
        measured.pop("err")
        measured["map_mb"] = round((out / "map.html").stat().st_size / 1e6, 2)
        runs[label] = measured

    print(
        f"{osm.name}: {len(sites)} existing sites, {len(candidates)} candidates, {len(demand)} demand places "
        f"(real OSM features), MCLP k={args.k}, 15 min walk"
    )
    for label, run in runs.items():
        gb = run["maxrss_kb"] / 1024**2
        print(
            f"  {label:4s}: {run['wall_s']:6.1f} s wall (target < {TARGET_S:.0f} s), peak RSS {gb:.2f} GB (target < {TARGET_GB:.0f} GB), map {run['map_mb']} MB"
        )
        for stage, seconds in run["stages_s"].items():
            print(f"        {stage:38s} {seconds:7.2f} s")
    cold, warm = runs["cold"], runs["warm"]
    saved = cold["wall_s"] - warm["wall_s"]
    print(
        f"  network cache: warm / cold wall = {warm['wall_s'] / cold['wall_s']:.2f}; "
        f"load network {cold['stages_s'].get('load network', float('nan')):.2f} s → {warm['stages_s'].get('load network', float('nan')):.2f} s "
        f"(saves {saved:.1f} s per run)"
    )
    batch = run_what_ifs(work, sites, candidates, args.batch) if args.batch else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "network": osm.name,
                "sites": len(sites),
                "candidates": len(candidates),
                "demand": len(demand),
                "k": args.k,
                "runs": runs,
                "batch": batch,
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
