"""Map and report times on Andorra with 5,000 real demand places, and a large map opened in headless Chromium.

Real data: ``../shared/data/raw/andorra.osm.pbf``; existing sites are its civic
amenities and the 5,000 demand places are sampled from its buildings,
residential and amenity areas and address/tourism nodes, exactly as
``bench_city.py`` builds them (same seed).

1. In one process, interleaved for ``--repeat`` rounds: ``coverage_map`` +
   ``save_map`` with the band cache warm (the sites' bands kept from an
   earlier map of the same walk), the same with the band cache emptied
   (``clear_band_cache``, disk cache in a fresh folder), and
   ``write_report`` with ``pdf=False`` and ``pdf=True``, each with its
   workers (the default: workbook and pictures in forked processes beside
   this one) and in one process (``max_output_processes = 1``). Each row gives the
   median and the min–max of its rounds and, as a labelled extra, the best;
   the 1-minute load average is recorded before and after. Each row also gives
   the CPU seconds all its processes used (this one and its reaped workers):
   divided by the cores, that is a floor no split of the work can beat.
2. A large map: ``--large`` places (default 100,000), **synthetic**: the
   5,000 real places each copied with a Gaussian jitter of about 15 m
   (names say ``synthetic copy``). Coverage is computed for them, the map
   built and saved (seconds, file size), then opened from file:// in
   headless Chromium (``/usr/bin/chromium --headless --no-sandbox
   --disable-gpu``, a fresh profile each time, network off): seconds from
   navigation start to the load event and to the first frame painted after
   the demand layer is on the page.

    python benchmarks/bench_outputs.py            # 5 rounds, 100,000 places
    python benchmarks/bench_outputs.py --quick    # 2 rounds, 25,000 places (a loaded machine: checks it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_city import RAW, osm_places, sample

RESULTS = Path(__file__).resolve().parent / "results" / "outputs.json"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def andorra_result(n: int, seed: int, cache: Path, jitter_copies: int = 0):
    """Coverage of ``n`` real Andorra places (plus ``jitter_copies`` synthetic jittered copies of each)."""
    import coverage_planner as cp

    osm = RAW / "andorra.osm.pbf"
    rng = np.random.default_rng(seed)
    sites, pool, demand = osm_places(osm)
    sample(pool, 500, rng)  # as bench_city: candidates are drawn first, then the demand places
    demand = sample(demand, n, rng)
    if jitter_copies:
        noise = np.random.default_rng(seed + 1)
        copies = []
        for k in range(jitter_copies):
            copy = demand.copy()
            copy["id"] = copy["id"] + f"-s{k}"
            copy["name"] = "synthetic copy " + str(k) + " of " + copy["name"].astype(str)
            copy["lon"] = copy["lon"] + noise.normal(0, 1.5e-4, len(copy))
            copy["lat"] = copy["lat"] + noise.normal(0, 1.3e-4, len(copy))
            copies.append(copy)
        demand = pd.concat(copies, ignore_index=True)
    net = cp.load_network(osm, cache_dir=cache)

    def points(frame):
        return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)

    return cp.compute_coverage(net, points(sites), points(demand), cache_dir=cache, progress=False)


def load() -> float:
    return os.getloadavg()[0]


def time_outputs(result, work: Path, rounds: int) -> dict:
    from coverage_planner import settings
    from coverage_planner.outputs.isochrones import clear_band_cache
    from coverage_planner.outputs.maps import coverage_map, save_map
    from coverage_planner.outputs.report import write_report

    def map_warm():
        save_map(coverage_map(result, lang="en"), work / "map.html")

    def map_cold():
        clear_band_cache()
        fresh = Path(tempfile.mkdtemp(dir=work))  # no disk entries either (the run's own cache folder holds bands)
        settings.cache_folder = fresh
        try:
            save_map(coverage_map(result, lang="en", cache_dir=fresh), work / "map-cold.html")
        finally:
            settings.cache_folder = None

    def report(pdf: bool, processes: int | None = None):
        def write() -> None:
            settings.max_output_processes = processes  # None: the default (workers beside this process)
            try:
                write_report(result, work / f"report-{pdf}-{processes}", lang="en", pdf=pdf)
            finally:
                settings.max_output_processes = None

        return write

    tasks = {
        "map + save (bands cached)": map_warm,
        "map + save (bands rebuilt)": map_cold,
        "report, pdf off": report(False),
        "report, pdf on": report(True),
        "report, pdf off, one process": report(False, 1),
        "report, pdf on, one process": report(True, 1),
    }
    map_warm()  # fills the band cache; imports done
    times: dict[str, list[float]] = {name: [] for name in tasks}
    cpu: dict[str, list[float]] = {name: [] for name in tasks}
    load_before = load()
    for _ in range(rounds):  # interleaved: a slow spell of the machine hits every task alike
        for name, task in tasks.items():
            cpu_start, start = cpu_seconds(), time.perf_counter()
            task()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(cpu_seconds() - cpu_start)
    return {"times_s": times, "cpu_s": cpu, "load_1min": [load_before, load()]}


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its reaped children (the output workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def open_in_chromium(path: Path, work: Path) -> dict:
    """Seconds from navigation start to the load event and to the first paint with the demand layer, fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=work, prefix="profile-"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            offline=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            context.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri(), wait_until="load", timeout=600_000)
            loaded = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd / 1000")
            # Canvas markers or SVG paths of the demand layer on the page, then two frames: they are painted.
            painted = page.evaluate(
                """() => new Promise(done => {
                    function ready() {
                        return document.querySelector('path.cp-demand') ||
                            document.querySelector('.leaflet-overlay-pane canvas');
                    }
                    function wait() {
                        if (!ready()) { requestAnimationFrame(wait); return; }
                        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() / 1000)));
                    }
                    wait();
                })"""
            )
        finally:
            context.close()
    return {"load_event_s": loaded, "painted_s": painted, "errors": errors}


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  ({min(values):.2f}–{max(values):.2f})  best {min(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=5000)
    parser.add_argument("--large", type=int, default=100_000, help="synthetic places of the large map")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 rounds and 25,000 synthetic places")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.large = 2, 25_000
    work = Path(tempfile.mkdtemp(prefix="bench-outputs-"))
    try:
        from coverage_planner import settings

        settings.cache_folder = None
        cache = work / "cache"
        result = andorra_result(args.demand, args.seed, cache)
        print(f"andorra.osm.pbf: {len(result.sites)} sites, {len(result.demand)} real demand places, 15 min walk")
        timed = time_outputs(result, work, args.repeat)
        print(
            f"  {args.repeat} interleaved rounds, 1-min load average {timed['load_1min'][0]:.2f} → "
            f"{timed['load_1min'][1]:.2f} on {os.cpu_count()} CPUs: median (min–max), best-of as an extra"
        )
        cores = os.cpu_count() or 1
        for name, values in timed["times_s"].items():
            used = statistics.median(timed["cpu_s"][name])
            print(
                f"  {name:28s} {summary(values)}   CPU {used:.2f} s in all processes (÷ {cores} cores: {used / cores:.2f} s)"
            )
        map_mb = (work / "map.html").stat().st_size / 1e6
        print(f"  map.html {map_mb:.2f} MB")
        first = open_in_chromium(work / "map.html", work)
        print(
            f"  opened in Chromium: load event {first['load_event_s']:.2f} s, demand painted {first['painted_s']:.2f} s"
        )

        copies = max(1, round(args.large / args.demand))
        start = time.perf_counter()
        big = andorra_result(args.demand, args.seed, cache, jitter_copies=copies)
        computed = time.perf_counter() - start
        from coverage_planner.outputs.maps import coverage_map, save_map

        start = time.perf_counter()
        save_map(coverage_map(big, lang="en"), work / "large.html")
        built = time.perf_counter() - start
        large_mb = (work / "large.html").stat().st_size / 1e6
        opened = open_in_chromium(work / "large.html", work)
        print(
            f"large map: {len(big.demand):,} SYNTHETIC places ({copies} jittered copies of the real ones), "
            f"coverage {computed:.1f} s, map + save {built:.1f} s, {large_mb:.1f} MB; Chromium: load event "
            f"{opened['load_event_s']:.2f} s, demand painted {opened['painted_s']:.2f} s"
            + (f", page errors: {opened['errors']}" if opened["errors"] else "")
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps(
                {
                    "quick": args.quick,
                    "demand": len(result.demand),
                    "sites": len(result.sites),
                    **timed,
                    "map_mb": map_mb,
                    "map_chromium": first,
                    "large": {
                        "places": len(big.demand),
                        "synthetic": f"{copies} jittered copies of the real places",
                        "map_and_save_s": built,
                        "mb": large_mb,
                        "chromium": opened,
                    },
                    "cpu_count": os.cpu_count(),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
