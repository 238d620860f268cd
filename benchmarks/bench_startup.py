"""Start-up: `coverage-planner --help`, each subcommand's help and a no-op rerun, against importing numpy + pandas.

Every command runs in a fresh process (``subprocess.run``, output discarded);
the wall time from start to exit is measured. Commands, interleaved for
``--repeat`` rounds (the order rotated every round, one untimed warm-up run of
each first; median with min–max, 1/5/15-minute load before and after):

- reference: ``python -c "import numpy, pandas"``; every other row gives its ratio to it;
- ``coverage-planner --help`` and ``python -c "import coverage_planner"``;
- ``coverage-planner <subcommand> --help`` for every subcommand of the CLI;
- no-op rerun, tables only: ``coverage-planner run scenario.toml --out DIR --no-map
  --no-report --no-pdf`` after the same command has filled the caches and the folder once,
  nothing changed in between (the walk rows and the parsed network come from the caches;
  the tables, the manifest and the ledger written back are rewritten);
- no-op rerun, default outputs: ``coverage-planner run scenario.toml --out DIR`` the same way
  (map, report, PDF, workbook rewritten as well).

The scenario is real: ``--network`` (default Monaco) from ``../shared/data/raw/``,
``--sites`` amenity nodes as sites and ``--demand`` building centroids as demand
places, sampled reproducibly (``--seed``), written with a 10-minute threshold to a
temporary folder that also holds every cache (``COVERAGE_PLANNER_CACHE``).

Then each command runs once more under ``python -X importtime`` (with
``COVERAGE_PLANNER_OUTPUT_PROCESSES=1``, so that every import happens in the one
process that is reported) and the report gives: (a) the total import time, the sum
of every module's self time; (b) the top-level packages imported, each with its
cumulative import time (the time inside the outermost imports of that package,
dependencies it pulls in included, so the rows overlap) and its self time (its own
modules only; these sum to the total); (c) which of the heavy libraries in
``WATCHED`` were imported. Import times are those of one run each, not medians.

JSON goes to ``benchmarks/results/startup.json`` unless ``--quick``.

    python benchmarks/bench_startup.py [--repeat 9]
    python benchmarks/bench_startup.py --quick    # 1 round, three subcommands' help: checks that it runs
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import fmt_s, interleaved, markdown_table, ratio_spread, spread

REPO = Path(__file__).resolve().parents[1]
RAW = Path(os.environ.get("COVERAGE_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
RESULTS = Path(__file__).resolve().parent / "results" / "startup.json"
REFERENCE = "python -c 'import numpy, pandas'"

#: Libraries whose presence in a command's imports the report states (heavy, or needed only by some commands).
WATCHED = (
    "folium",
    "matplotlib",
    "networkx",
    "osmnx",
    "dask",
    "distributed",
    "weasyprint",
    "xlsxwriter",
    "scipy.optimize",
    "highspy",
    "pyogrio",
    "fiona",
    "shapely",
    "geopandas",
    "jinja2",
    "branca",
    "rich",
    "typer",
    "tqdm",
)

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass
class ImportProfile:
    """The imports of one process, parsed from ``python -X importtime`` (times in seconds)."""

    total_s: float
    modules: set[str]
    cumulative_s: dict[str, float] = field(default_factory=dict)
    self_s: dict[str, float] = field(default_factory=dict)

    def imported(self, name: str) -> bool:
        """Whether module ``name`` (e.g. ``scipy.optimize``) was imported."""
        return name in self.modules

    def to_dict(self) -> dict:
        top = sorted(self.cumulative_s, key=self.cumulative_s.get, reverse=True)
        return {
            "total_import_s": self.total_s,
            "modules": len(self.modules),
            "packages": {p: {"cumulative_s": self.cumulative_s[p], "self_s": self.self_s.get(p, 0.0)} for p in top},
            "watched": {w: self.imported(w) for w in WATCHED},
        }


def parse_importtime(stderr: str) -> ImportProfile:
    """Totals per top-level package from ``-X importtime`` lines (other stderr lines are ignored).

    Parameters
    ----------
    stderr : str
        The standard error of a process run with ``-X importtime``.

    Returns
    -------
    ImportProfile
        Sum of self times, every module name, and per top-level package its
        cumulative time (outermost imports only) and its self time.
    """
    entries: list[tuple[int, str, int, int]] = []  # (depth, module, self µs, cumulative µs), in printed order
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            entries.append((len(m.group(3)), m.group(4), int(m.group(1)), int(m.group(2))))
    cumulative: dict[str, float] = {}
    self_time: dict[str, float] = {}
    # A module is printed after everything it imported, one level deeper; walking backwards,
    # the stack holds the package of every enclosing import.
    stack: list[tuple[int, str]] = []
    for depth, module, own, cum in reversed(entries):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        package = module.split(".")[0]
        self_time[package] = self_time.get(package, 0.0) + own / 1e6
        if all(p != package for _, p in stack):  # outermost import of this package on this path
            cumulative[package] = cumulative.get(package, 0.0) + cum / 1e6
        stack.append((depth, package))
    return ImportProfile(
        total_s=sum(e[2] for e in entries) / 1e6,
        modules={e[1] for e in entries},
        cumulative_s=cumulative,
        self_s=self_time,
    )


def real_places(path: Path, n_sites: int, n_demand: int, seed: int):
    """Amenity nodes (sites) and building centroids (demand) of the extract, sampled as bench_incremental does."""
    from bench_incremental import real_places as sampled  # (it samples one site more: the one it adds)

    return sampled(path, n_sites - 1, n_demand, seed)


def write_scenario(work: Path, osm: Path, n_sites: int, n_demand: int, seed: int) -> Path:
    sites, demand = real_places(osm, n_sites, n_demand, seed)
    sites.to_csv(work / "sites.csv", index=False)
    demand.to_csv(work / "demand.csv", index=False)
    toml = work / "scenario.toml"
    toml.write_text(
        f'name = "startup bench"\n[network]\npath = "{osm.as_posix()}"\n'
        '[sites]\npath = "sites.csv"\n[demand]\npath = "demand.csv"\n[walk]\nthreshold_min = 10\n',
        encoding="utf-8",
    )
    return toml


def cli_script() -> Path:
    """The installed ``coverage-planner`` entry point of this interpreter."""
    beside = Path(sys.executable).with_name("coverage-planner")
    found = beside if beside.is_file() else shutil.which("coverage-planner")
    if not found:
        sys.exit("coverage-planner is not installed in this environment (pip install -e .)")
    return Path(found)


def subcommands() -> list[str]:
    import typer.main

    from coverage_planner.cli import app

    return list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def run_process(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed rounds (default 9)")
    parser.add_argument("--network", default="monaco.osm.pbf", help="file in ../shared/data/raw/")
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--demand", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 round, three subcommands' help: check that it runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    # Bytecode is cached as for an installed package (under PYTHONDONTWRITEBYTECODE=1 an editable
    # install would compile its own modules at every start), in the work folder: the checkout stays clean.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(COVERAGE_PLANNER_CACHE=str(work / "cache"), PYTHONPYCACHEPREFIX=str(work / "pycache"))
    py, cli = sys.executable, str(cli_script())
    osm = RAW / args.network
    toml = write_scenario(work, osm, args.sites, args.demand, args.seed)
    names = subcommands()
    if args.quick:
        names = names[:3]

    commands: dict[str, list[str]] = {
        REFERENCE: [py, "-c", "import numpy, pandas"],
        "coverage-planner --help": [cli, "--help"],
        "python -c 'import coverage_planner'": [py, "-c", "import coverage_planner"],
    }
    commands.update({f"coverage-planner {name} --help": [cli, name, "--help"] for name in names})
    tables_out, full_out = work / "run-tables", work / "run-default"
    tables_only = [cli, "run", str(toml), "--out", str(tables_out), "--no-map", "--no-report", "--no-pdf"]
    default = [cli, "run", str(toml), "--out", str(full_out)]
    commands["no-op rerun, tables only"] = tables_only
    commands["no-op rerun, default outputs"] = default
    run_process(tables_only, env)  # fills the network and walk caches and the run folders once
    run_process(default, env)

    timings, _, load = interleaved({k: (lambda a=a: run_process(a, env)) for k, a in commands.items()}, args.repeat)

    quiet_env = {**env, "COVERAGE_PLANNER_OUTPUT_PROCESSES": "1"}
    profiles: dict[str, ImportProfile] = {}
    for label, argv in commands.items():
        traced = [py, "-X", "importtime", *argv[1:]] if argv[0] == py else [py, "-X", "importtime", *argv]
        profiles[label] = parse_importtime(run_process(traced, quiet_env).stderr)

    ref = timings[REFERENCE]
    print(
        f"Start-up, each command a fresh process; {args.repeat} interleaved rounds, median (min–max). "
        f"No-op reruns: {osm.name}, {args.sites} real amenity sites, {args.demand} real buildings, 10 min."
    )
    print(f"{load.text()}\n")
    rows = [
        [label, spread(timings[label]), ratio_spread(timings[label], ref), fmt_s(timings[label].best_s)]
        for label in commands
    ]
    print(markdown_table(["command", "wall time", "÷ reference", "best of (extra)"], rows))
    help_ratio = timings["coverage-planner --help"].median_s / ref.median_s
    print(f"\ncoverage-planner --help ÷ reference = {help_ratio:.2f}× (target ≤ 1.5×)\n")

    print("Imports, python -X importtime, one run each (cumulative times overlap; self times sum to the total):\n")
    rows = []
    for label, prof in profiles.items():
        top = sorted(prof.cumulative_s.items(), key=lambda kv: kv[1], reverse=True)[:6]
        rows.append(
            [
                label,
                fmt_s(prof.total_s),
                len(prof.modules),
                ", ".join(f"{p} {fmt_s(c)} ({fmt_s(prof.self_s.get(p, 0.0))})" for p, c in top),
                ", ".join(w for w in WATCHED if prof.imported(w)) or "none",
            ]
        )
    print(
        markdown_table(
            ["command", "imports", "modules", "top packages: cumulative (self)", "watched libraries imported"],
            rows,
            align="lrrll",
        )
    )
    print(f"\nwatched: {', '.join(WATCHED)}")

    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "network": osm.name,
                    "sites": args.sites,
                    "demand": args.demand,
                    "seed": args.seed,
                    "repeat": args.repeat,
                    **load.to_dict(),
                    "reference": REFERENCE,
                    "commands": {
                        label: {
                            # The temporary folder's name changes every run; the interpreter is named, not its path.
                            "argv": [
                                Path(a).name if i == 0 else a.replace(str(work), "<tmp>")
                                for i, a in enumerate(commands[label])
                            ],
                            **timings[label].to_dict(),
                            "ratio_to_reference": timings[label].median_s / ref.median_s,
                            "imports": profiles[label].to_dict(),
                        }
                        for label in commands
                    },
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"\nwrote {RESULTS.relative_to(REPO)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
