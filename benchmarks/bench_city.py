"""City scale, end to end: the Andorra extract, 5,000 demand places, 500 candidates, MCLP k=10, map and report.

Everything is real OpenStreetMap data from ``../shared/data/raw/andorra.osm.pbf``:
existing sites are its civic amenities (town halls, police, libraries …),
candidates are other premises (amenity, shop, office and craft nodes, street
furniture left out), demand places are centroids of
buildings, residential areas and amenity areas (schools, clinics …) plus
address and tourism nodes (hotels, flats), sampled reproducibly.

The planner's command, ``coverage-planner propose SCENARIO --k 10 --candidates …
--timings``, runs in a fresh process each time: it loads the network, snaps 5,000
demand places and 500 candidates (plus the existing sites), computes the walk
matrix, solves MCLP exactly (HiGHS) and greedily, reruns coverage with the
proposed sites, and writes the tables, map and report (PDF included). Two cases,
interleaved round by round (``--repeat`` rounds, order rotated):

1. cold: an empty cache folder, so the ``.pbf`` is parsed and every cache filled;
2. warm: the same command again on the filled cache.

One unmeasured run per version comes first (it writes the bytecode, which is
cached as for an installed package, and fills the OS file cache). Wall time
and peak resident memory (``ru_maxrss`` of the child: the largest single
process, the command or one of its output workers) are measured from outside; the stage times come from ``--timings``. The headline is the
ratio end to end / computing, where computing is what the answer needs:
network parse (load network), snapping, walks and the solve
(``propose (snap, walks, solve)``); "start-up" is the wall time no stage
accounts for (interpreter, imports, argument parsing, printing). Every figure
is the median of the rounds with its min–max; the load average is printed.
``--baseline DIR`` runs the same command with ``PYTHONPATH=DIR`` in the same
rounds (e.g. an older checkout's ``coverage`` folder) and prints the ratios
new / old; ``--one-process`` adds the same command with
``COVERAGE_PLANNER_OUTPUT_PROCESSES=1`` (map, workbook, printed map, charts
and PDF one after another in one process, as before the workers);
``--no-pdf-variant`` adds it with ``--no-pdf`` (every output but the PDF);
each run's CPU seconds (the command and its reaped workers) are recorded, so
CPU ÷ cores gives the floor no split of the work can beat;
``--quick`` is a small, fast setting to check the script works.

    python benchmarks/bench_city.py [--demand 5000] [--candidates 500] [--k 10] [--repeat 5]
    python benchmarks/bench_city.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import osmium
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Load, Timing, loadavg

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
TARGET_RATIO = 4.0  # end to end / computing, cold cache
# The stages of `propose --timings` that compute the answer; the rest is bookkeeping and writing.
COMPUTING = (
    "load network",
    "snap places to edges",
    "walk distances",
    "read routes back",
    "propose (snap, walks, solve)",
)


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


def run_measured(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``command`` in a fresh child; wall seconds, peak RSS, CPU seconds of it and its workers, its output."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'maxrss_kb': u.ru_maxrss, 'cpu_s': u.ru_utime + u.ru_stime,"
        " 'code': p.returncode, 'out': p.stdout, 'err': p.stderr}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


def stage_times(output: str) -> dict[str, float]:
    """Rows of the ``--timings`` table (the last table printed): stage name → seconds."""
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


def median_spread(values: list[float], unit: str = "s") -> str:
    """``median (min–max)`` of seconds or of plain ratios."""
    if not values:
        return "—"
    if unit == "x":
        return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"
    return f"{statistics.median(values):7.3f} s ({min(values):.3f}–{max(values):.3f})"


def summarise(runs: list[dict]) -> dict:
    """Per-stage and headline figures of one case's runs (medians with min–max)."""
    stages = list(dict.fromkeys(name for run in runs for name in run["stages_s"] if name != "total"))
    computing = [sum(run["stages_s"].get(name, 0.0) for name in COMPUTING) for run in runs]
    staged = [sum(v for k, v in run["stages_s"].items() if k != "total") for run in runs]
    wall = [run["wall_s"] for run in runs]
    return {
        "wall": Timing(wall).to_dict(),
        "computing": Timing(computing).to_dict(),
        "startup_and_unstaged": Timing([w - s for w, s in zip(wall, staged)]).to_dict(),
        "ratio_end_to_end_over_computing": [w / c for w, c in zip(wall, computing)],
        "stages": {name: Timing([run["stages_s"].get(name, 0.0) for run in runs]).to_dict() for name in stages},
        "cpu": Timing([run["cpu_s"] for run in runs]).to_dict(),
        "maxrss_gb": max(run["maxrss_kb"] for run in runs) / 1024**2,
        "map_mb": runs[-1]["map_mb"],
    }


def print_case(label: str, summary: dict) -> None:
    ratio = summary["ratio_end_to_end_over_computing"]
    print(
        f"  {label}: end to end / computing = {median_spread(ratio, 'x')} (target ≤ {TARGET_RATIO:.0f}× cold); "
        f"peak RSS {summary['maxrss_gb']:.2f} GB, map {summary['map_mb']} MB"
    )
    rows = [("end to end (wall)", summary["wall"]), ("computing", summary["computing"])]
    rows += [(f"  {name}", t) for name, t in summary["stages"].items()]
    rows += [("start-up and unstaged", summary["startup_and_unstaged"])]
    rows += [(f"CPU, all processes (÷ {os.cpu_count()} cores: a floor)", summary["cpu"])]
    for name, t in rows:
        mark = " *" if name.strip() in COMPUTING else ""
        print(f"        {name + mark:40s} {median_spread(t['runs_s'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (each: one cold and one warm run)")
    parser.add_argument("--network", default="andorra.osm.pbf", help="file in ../shared/data/raw/")
    parser.add_argument(
        "--batch", type=int, default=4, help="what-if scenarios to run on a 2-worker Dask LocalCluster (0: skip)"
    )
    parser.add_argument(
        "--baseline", type=Path, help="also run with PYTHONPATH=BASELINE (another checkout's package folder)"
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="also run with COVERAGE_PLANNER_OUTPUT_PROCESSES=1 (outputs one after another, no workers)",
    )
    parser.add_argument(
        "--no-pdf-variant",
        action="store_true",
        help="also run the same command with --no-pdf (everything but the PDF), to show what WeasyPrint's layout costs",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fast check: 1,000 places, 100 candidates, k=5, 2 rounds, no batch"
    )
    args = parser.parse_args()
    if args.quick:
        args.demand, args.candidates, args.k, args.repeat, args.batch = 1000, 100, 5, 2, 0

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
    command = [exe, "propose", str(work / "scenario.toml"), "--k", str(args.k)]
    command += ["--candidates", str(work / "candidates.csv"), "--lang", "en", "--timings"]
    # Bytecode is cached as for any installed package (an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would compile the package's own modules at every start),
    # in the work folder so the checkout stays clean.
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    versions = {"new": base}
    extra_args: dict[str, list[str]] = {}
    if args.baseline is not None:
        versions["old"] = {**base, "PYTHONPATH": str(args.baseline.resolve())}
    if args.one_process:
        versions["one-process"] = {**base, "COVERAGE_PLANNER_OUTPUT_PROCESSES": "1"}
    if args.no_pdf_variant:
        versions["no-pdf"], extra_args["no-pdf"] = base, ["--no-pdf"]

    def one(version: str, label: str) -> dict:
        out = work / f"out-{version}-{label}"
        shutil.rmtree(out, ignore_errors=True)
        if label == "cold":
            shutil.rmtree(work / "cache", ignore_errors=True)
        measured = run_measured([*command, *extra_args.get(version, []), "--out", str(out)], env=versions[version])
        if measured["code"] != 0:
            print(measured["out"], measured["err"], sep="\n")
            raise SystemExit(f"{version} {label} run failed")
        measured["stages_s"] = stage_times(measured.pop("out"))
        measured.pop("err")
        measured["map_mb"] = round((out / "map.html").stat().st_size / 1e6, 2)
        return measured

    # One round: each version cold then warm (warm needs the cache its cold run filled); the
    # order of the versions rotates every round, so load changes hit both alike.
    runs: dict[str, dict[str, list[dict]]] = {v: {"cold": [], "warm": []} for v in versions}
    names = list(versions)
    for version in names:  # not measured: writes the bytecode and fills the OS file cache
        one(version, "cold")
    load = Load(loadavg())
    for r in range(args.repeat):
        for version in names[r % len(names) :] + names[: r % len(names)]:
            for label in ("cold", "warm"):
                runs[version][label].append(one(version, label))
    load.finish()

    print(
        f"{osm.name}: {len(sites)} existing sites, {len(candidates)} candidates, {len(demand)} demand places "
        f"(real OSM features), MCLP k={args.k}, 15 min walk; {args.repeat} interleaved rounds, "
        "median (min–max); * = computing"
    )
    print(f"  {load.text()}")
    summaries = {v: {label: summarise(rs) for label, rs in cases.items()} for v, cases in runs.items()}
    for version, cases in summaries.items():
        for label, summary in cases.items():
            print_case(f"{version} {label}" if len(versions) > 1 else label, summary)
    for other in [v for v in summaries if v != "new"]:
        for label in ("cold", "warm"):
            new, old = summaries["new"][label], summaries[other][label]
            speedup = [o / n for o, n in zip(old["wall"]["runs_s"], new["wall"]["runs_s"])]
            print(f"  {label}: {other} / new wall = {median_spread(speedup, 'x')} (same round, paired)")
    cold, warm = summaries["new"]["cold"], summaries["new"]["warm"]
    load_cold, load_warm = (
        c["stages"].get("load network", {"median_s": float("nan")})["median_s"] for c in (cold, warm)
    )
    print(
        f"  network cache: load network {load_cold:.2f} s cold → {load_warm:.2f} s warm; "
        f"wall {cold['wall']['median_s']:.1f} s → {warm['wall']['median_s']:.1f} s "
        f"(targets < {TARGET_S:.0f} s, < {TARGET_GB:.0f} GB)"
    )
    batch = run_what_ifs(work, sites, candidates, args.batch) if args.batch else None
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "network": osm.name,
                    "sites": len(sites),
                    "candidates": len(candidates),
                    "demand": len(demand),
                    "k": args.k,
                    "repeat": args.repeat,
                    "computing_stages": list(COMPUTING),
                    "summaries": summaries,
                    "runs": runs,
                    "batch": batch,
                    **load.to_dict(),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
