"""Read and validate place files: existing sites, demand points, candidates.

Planners keep places in Excel sheets, CSV exports and GIS files, with Chinese
or English headers and coordinates copied from Amap (GCJ-02), Baidu (BD-09)
or GPS (WGS-84). :func:`read_places` reads any of them into one fixed schema
in WGS-84, and reports every problem it finds, by file, row and field, in a
single :class:`~coverage_planner._errors.InputErrors`.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from coverage_planner._errors import CoverageWarning, DataError, InputError, InputErrors
from coverage_planner._geo import place_points
from coverage_planner.places import china
from coverage_planner.places._tabular import (
    SUFFIXES,
    RawTable,
    cell_number,
    cell_text,
    close_match_hint,
    column_letter,
    header_listing,
    is_blank,
    read_raw,
)
from coverage_planner.places.area import check_within_area
from coverage_planner.places.geocode import GeocodeUnavailable, geocode_row

__all__ = [
    "COLUMN_ALIASES",
    "OPTIONAL_COLUMNS",
    "PLACE_COLUMNS",
    "PLACE_KINDS",
    "READ_OPTION_SUFFIXES",
    "STATUS_ALIASES",
    "DuplicateNameWarning",
    "GeocodeUnavailable",
    "check_within_area",
    "read_places",
    "warn_duplicate_site_names",
]

#: Kinds of place file; ``kind`` also prefixes generated ids ("demand-7").
PLACE_KINDS: tuple[str, ...] = ("sites", "demand", "candidates")

#: File suffixes each reading option applies to: ``sheet`` to Excel workbooks,
#: ``layer`` to GIS files, ``encoding`` to CSV text. (`read_places` also takes
#: ``sheet`` for a GIS file's layer, its older spelling.)
READ_OPTION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "sheet": SUFFIXES["xlsx"],
    "layer": SUFFIXES["vector"],
    "encoding": SUFFIXES["csv"],
}


class DuplicateNameWarning(CoverageWarning):
    """Two or more sites share a name: maps, reports and ``add-site`` tell sites apart by name."""


#: Accepted header names of each field. Headers match case-insensitively,
#: after stripping, with runs of spaces and hyphens read as "_".
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "code", "osm_id"),
    "name": ("name", "名称", "名字"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "type": ("type", "类型", "category"),
    "district": ("district", "区", "区县", "所属区"),
    "subdistrict": ("subdistrict", "street", "街道", "所属街道"),
    "community": ("community", "社区", "所属社区"),
    "address": ("address", "地址"),
    "status": ("status", "状态"),
    "crs": ("crs", "坐标系"),
    "weight": ("weight", "权重"),
    "households": ("households", "户数"),
    "population": ("population", "人口"),
    "key_targets": ("key_targets", "重点服务对象"),
    "community_class": ("community_class", "社区类别"),
    "capacity": ("capacity", "容量"),
    "geocode_query": ("geocode_query", "地址查询", "定位查询"),
    "gate_lon": ("gate_lon", "大门经度", "门口经度"),
    "gate_lat": ("gate_lat", "大门纬度", "门口纬度"),
}

#: Columns every result has, in order.
PLACE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "type",
    "district",
    "subdistrict",
    "community",
    "address",
    "weight",
    "status",
    "source_row",
    "geometry",
)

#: Columns present only when the file has them (``footprint``: when it has
#: polygon or line geometries).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "households",
    "population",
    "key_targets",
    "community_class",
    "capacity",
    "location_source",
    "footprint",
)

#: Accepted spellings of each ``status`` value (case-insensitive); blank is "real".
#: placeholder: the location is not real (invented or unknown); proposed: a
#: real location where a site is planned, not yet open; generated: made by the
#: tool (e.g. grid candidates).
STATUS_ALIASES: dict[str, tuple[str, ...]] = {
    "real": ("real", "真实", "现状"),
    "placeholder": ("placeholder", "占位", "示意", "虚拟"),
    "proposed": ("proposed", "拟建", "规划", "拟设"),
    "generated": ("generated", "生成"),
}

_TEXT_FIELDS = ("type", "district", "subdistrict", "community", "address", "community_class")
_NUMERIC_FIELDS = ("households", "population", "key_targets", "capacity")
_FIELD_WORDS = {"lon": "longitude", "lat": "latitude"}
_COORDINATE_FIELDS = ("lon", "lat", "gate_lon", "gate_lat")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_METRES_PER_DEGREE = 111_320.0
_WGS84 = "EPSG:4326"
# Parsed once: a CRS given as text is parsed again by every geometry array made with it.
_WGS84_CRS = pyproj.CRS.from_user_input(_WGS84)


def _norm(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(header).strip().casefold())


_ALIAS_TO_FIELD = {_norm(a): field for field, names in COLUMN_ALIASES.items() for a in names}


def field_for_header(header: str) -> str | None:
    """The place field a column header names (any alias, any case), or None.

    Parameters
    ----------
    header : str
        A column header as written in a place file, e.g. ``"经度"`` or ``"Longitude"``.

    Returns
    -------
    str or None
        The canonical field (``"lon"``), or None for a column that is no place field.
    """
    return _ALIAS_TO_FIELD.get(_norm(header))


_STATUS_LOOKUP = {a.casefold(): value for value, names in STATUS_ALIASES.items() for a in names}


def read_places(
    path: str | Path,
    kind: str = "demand",
    *,
    keep_columns: Sequence[str] = (),
    weight_column: str | None = None,
    default_crs: str = "wgs84",
    sheet: str | int | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    geocoder: Callable[[str], tuple[float, float] | None] | None = None,
) -> gpd.GeoDataFrame:
    """Read a place file into a validated GeoDataFrame in WGS-84.

    Reads CSV, XLSX, GeoJSON and GeoPackage. CSV is standard (RFC 4180)
    quoting with a ``,``, ``;`` or tab delimiter, in UTF-8 (with or without
    BOM), UTF-16 with BOM, or an encoding detected among GBK/GB18030,
    Windows-1252/Latin-1 and Big5 (or declared with ``encoding``); a file
    whose rows are in different encodings, or whose encoding cannot be told,
    is refused. A workbook (GeoPackage) with several sheets (layers) holding
    places must be told which one to read; hidden sheets are never picked.
    Formula cells whose values were never saved are an error, as are
    MultiPoints of several points and coordinates with a decimal comma.
    Headers may use any name in :data:`COLUMN_ALIASES`; a title row above
    the header in the first five rows is skipped. Tabular files
    need longitude and latitude columns; vector files use their geometries
    (reprojected to EPSG:4326), and a polygon or line keeps its shape in a
    ``footprint`` column while ``geometry`` becomes a point on its surface.
    Coordinates in GCJ-02 or BD-09, per row (``crs`` column) or for the whole
    file (``default_crs``), are converted to WGS-84 with :mod:`coverage_planner.places.china`.

    The result has the columns :data:`PLACE_COLUMNS`, rows in file order,
    indexed 0..n-1; whichever :data:`OPTIONAL_COLUMNS` apply and the
    ``keep_columns`` (raw values, named as given) come before ``geometry``,
    ``footprint`` after it. Without an id column, ids
    are ``f"{kind}-{row}"`` with the sheet row; a blank name becomes the id.
    ``source_row`` is the sheet row (header = row 1, or lower below title
    rows) for CSV and XLSX, the 1-based feature number for GIS files.
    The file is only read, never written.

    Parameters
    ----------
    path : str or pathlib.Path
        The place file.
    kind : {'sites', 'demand', 'candidates'}
        What the places are; prefixes generated ids.
    keep_columns : sequence of str
        Extra columns to carry through unchanged; any other unrecognised
        column is an error, so typos in headers are caught.
    weight_column : str, optional
        Column holding each place's weight (e.g. '人口'); a column named
        weight/权重 is used when not given; otherwise every weight is 1.0.
    default_crs : str
        Coordinate system of rows without a ``crs`` value: 'wgs84', 'gcj02'
        or 'bd09' (any spelling :func:`coverage_planner.places.china.normalize_crs` accepts).
    sheet : str or int, optional
        XLSX sheet by name or 0-based position; by default the one visible
        sheet whose header has longitude and latitude columns (the only sheet
        when there is one). For a GIS file, the same as ``layer``.
    layer : str or int, optional
        GeoPackage layer by name or 0-based position; by default the one
        layer with geometries.
    encoding : str, optional
        Text encoding of a CSV file (a Python codec name such as ``"gbk"``,
        ``"cp1252"``, ``"utf-8"``); detected when not given.
    geocoder : callable, optional
        For rows with no coordinates but a ``geocode_query`` (地址查询) cell:
        query -> (lon, lat) in WGS-84, or None when not found; it may raise
        `GeocodeUnavailable`. Such rows become ``status = placeholder`` with a
        ``location_source`` saying where the point came from: a geocoded
        query stands in for the real address until a planner enters it.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per place, CRS EPSG:4326.

    Raises
    ------
    InputError
        The file is missing, unreadable, empty or has no data rows; its
        encoding cannot be told; it has several sheets or layers and none is named.
    InputErrors
        Column or row problems, all of them, each naming file, row and field.
    ValueError
        ``kind``, ``default_crs``, ``keep_columns``, ``sheet``, ``layer`` or
        ``encoding`` are invalid arguments, e.g. an option for another kind of
        file (`DataError`, a ValueError).

    Warns
    -----
    DuplicateNameWarning
        For ``kind="sites"``, when sites share a name.
    """
    path = Path(path)
    if kind not in PLACE_KINDS:
        raise DataError(f"kind must be one of {PLACE_KINDS}, not {kind!r}")
    default_crs = china.normalize_crs(default_crs)
    reserved = set(PLACE_COLUMNS) | set(OPTIONAL_COLUMNS)
    if clash := [c for c in keep_columns if c in reserved]:
        raise DataError(f"keep_columns {clash} are already output columns of the schema")
    sheet = _check_options(path, sheet, layer, encoding)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a file")
    table = read_raw(path, sheet=sheet, encoding=encoding, is_header=looks_like_header)
    if not table.rows:
        raise InputError(path, "the file has a header but no data rows")
    cols = _resolve_columns(path, table, keep_columns, weight_column)
    frame = _build(path, table, cols, kind, default_crs, keep_columns, geocoder)
    frame.attrs["source_path"] = str(path.resolve())  # run manifests hash the file it came from
    if kind == "sites":
        warn_duplicate_site_names(frame, path)
    return frame


def _check_options(path: Path, sheet: str | int | None, layer: str | int | None, encoding: str | None) -> Any:
    """The sheet or layer to read; an option given for another kind of file is a `DataError`."""
    suffix = path.suffix.lower()
    if sheet is not None and layer is not None:
        raise DataError("give sheet (Excel) or layer (GIS file), not both")
    given = {"sheet": sheet, "layer": layer, "encoding": encoding}
    allowed = {**READ_OPTION_SUFFIXES, "sheet": READ_OPTION_SUFFIXES["sheet"] + READ_OPTION_SUFFIXES["layer"]}
    for option, value in given.items():
        if value is not None and suffix not in allowed[option]:
            kinds = ", ".join(READ_OPTION_SUFFIXES[option])
            raise DataError(f"{option} applies to {kinds} files, not to {path.name}")
    return layer if layer is not None else sheet


def warn_duplicate_site_names(sites: pd.DataFrame, path: str | Path) -> list[str]:
    """Warn once for each name that several sites share; return those names.

    Two post offices may well both be called "La Poste", so this is no
    error; but maps, reports and ``add-site`` tell sites apart by name, and
    two rows with one name at one place are often the same site twice.

    Parameters
    ----------
    sites : DataFrame
        Sites as `read_places` returns them (``name``, ``source_row``, ``geometry``).
    path : str or Path
        The sites file, named in the warning.

    Returns
    -------
    list of str
        The shared names, in file order.
    """
    # Plain arrays, not frame filtering: this runs on every (re)run, cached files included.
    name_values = sites["name"].to_numpy(object)
    listed = name_values.tolist()
    counts = Counter(listed)
    if any(isinstance(v, float) for v in counts):  # NaN: a dict keeps NaNs apart, pandas does not
        shared = np.flatnonzero(pd.Series(name_values).duplicated(keep=False).to_numpy()).tolist()
    elif len(counts) == len(listed):
        return []
    else:
        shared = [i for i, v in enumerate(listed) if counts[v] > 1]
    if not shared:
        return []
    groups: dict[Any, list[int]] = {}  # shared name -> its rows, in file order
    for i in shared:
        groups.setdefault(name_values[i], []).append(i)
    names = list(groups)
    source_rows = sites["source_row"].to_numpy()
    geometry = np.asarray(sites.geometry.array)
    x, y = shapely.get_x(geometry), shapely.get_y(geometry)
    for name, group in groups.items():
        rows = ", ".join(str(r) for r in source_rows[group])
        same_place = len({(round(x[i], 6), round(y[i], 6)) for i in group}) == 1
        note = "; all at the same point: the same site listed twice?" if same_place else ""
        warnings.warn(
            f"{path}: {len(group)} sites are named {name!r} (rows {rows}){note}. Maps, reports and add-site "
            "tell sites apart by name; consider adding the street or district to each name",
            DuplicateNameWarning,
            stacklevel=2,
        )
    return names


def looks_like_header(cells: Sequence[str]) -> bool:
    """Whether a row of cells is a place file's header: it names a longitude and a latitude column.

    Parameters
    ----------
    cells : sequence of str
        A row's stripped cells.

    Returns
    -------
    bool
    """
    fields = {_ALIAS_TO_FIELD.get(_norm(c)) for c in cells if c}
    return {"lon", "lat"} <= fields


def _resolve_columns(
    path: Path, table: RawTable, keep_columns: Sequence[str], weight_column: str | None
) -> dict[str, int]:
    """Map fields (and ``keep:NAME`` entries) to column positions; check headers."""
    by_norm: dict[str, int] = {}
    for j, head in enumerate(table.header):
        by_norm.setdefault(_norm(head), j)
    cols: dict[str, int] = {}
    used: set[int] = set()
    errors: list[InputError] = []

    def find(name: str, what: str) -> int | None:
        if (j := by_norm.get(_norm(name))) is None:
            errors.append(
                InputError(
                    path,
                    f"{what} {name!r} is not in the file{close_match_hint(name, table.header)}; "
                    f"columns found: {header_listing(table.header)}",
                )
            )
        return j

    for name in keep_columns:
        if (found := find(name, "keep column")) is not None:
            cols[f"keep:{name}"] = found
            used.add(found)
    if weight_column is not None and (found := find(weight_column, "weight column")) is not None:
        cols["weight"] = found
        used.add(found)
    unknown = []
    for j, head in enumerate(table.header):
        field = _ALIAS_TO_FIELD.get(_norm(head))
        if field is None:
            if j not in used:
                unknown.append(head or f"(column {column_letter(j)}, no header)")
        elif field in cols and cols[field] != j and not (field == "weight" and weight_column):
            first = table.header[cols[field]]
            what = _FIELD_WORDS.get(field, field)
            errors.append(
                InputError(path, f"columns {first!r} and {head!r} both give the {what}; keep one", field=head)
            )
        else:
            cols.setdefault(field, j)
    if unknown:
        hints = ", ".join(f"{u!r}{close_match_hint(u, list(_ALIAS_TO_FIELD))}" for u in unknown)
        errors.append(
            InputError(
                path,
                f"unknown column(s) {hints}. Rename them to a recognised name "
                "(see coverage_planner.places.reading.COLUMN_ALIASES) or keep them with keep_columns=[...]",
            )
        )
    missing = [f for f in ("lon", "lat") if f not in cols]
    if table.geometries is None and missing:
        accepted = "; ".join(f"{_FIELD_WORDS[f]}: {', '.join(COLUMN_ALIASES[f])}" for f in missing)
        errors.append(
            InputError(
                path,
                f"no {' or '.join(_FIELD_WORDS[f] for f in missing)} column; "
                f"columns found: {header_listing(table.header)}; accepted names are {accepted}",
            )
        )
    if errors:
        raise InputErrors(errors)
    return cols


def _build(
    path: Path,
    table: RawTable,
    cols: dict[str, int],
    kind: str,
    default_crs: str,
    keep_columns: Sequence[str],
    geocoder: Callable[[str], tuple[float, float] | None] | None = None,
) -> gpd.GeoDataFrame:
    """Parse every row, collect all problems, and assemble the GeoDataFrame."""
    errors: list[InputError] = []
    out: dict[str, list[Any]] = {}
    seen: dict[str, int] = {}
    want_lonlat = table.geometries is None
    memo_key, remembered = _row_memo(path, table, cols, kind, default_crs, want_lonlat)
    parsed: dict[tuple, tuple] = {}  # this read's rows, remembered for the next read
    for row, n in zip(table.rows, table.row_numbers, strict=True):
        row_key = _row_key(row, n) if memo_key is not None else None
        hit = remembered.get(row_key) if row_key is not None else None
        if hit is None:
            values, problems = _parse_row(row, n, cols, kind, default_crs, want_lonlat, geocoder)
            hit = (values, tuple(problems))
        else:
            values, problems = hit[0], list(hit[1])  # (the list gets this read's duplicate-id problem)
        if row_key is not None:
            parsed[row_key] = hit
        ident = values["id"]
        if ident in seen:
            problems.append(("id", f"duplicate id {ident!r}: also used on row {seen[ident]}"))
        elif ident is not None:
            seen[ident] = n
        # dict.fromkeys drops repeats: the weight column may also be 人口.
        for head, message in dict.fromkeys((table.header[cols[f]] if f in cols else f, m) for f, m in problems):
            errors.append(InputError(path, message, row=n, field=head))
        for key, value in values.items():
            out.setdefault(key, []).append(value)
    if table.geometries is None:
        geometry, footprint = _points_from_columns(path, table, cols, out, errors)
    else:
        geometry, footprint = _points_from_geometries(path, table, out, errors)
    geometry = _use_gates(path, table, out, geometry, errors)
    if memo_key is not None:
        _remember_rows(memo_key, parsed)
    if errors:
        raise InputErrors(sorted(errors, key=lambda e: e.row or 0))
    return _assemble(out, table, cols, geometry, footprint, keep_columns)


# The rows parsed in the last read of each small text file, by row number and cells: an edited file
# (a site appended by add-site) is read again, but its unchanged rows are not parsed again.
# `_parse_row` depends only on the row, its number and the reading options in the key (rows that
# may be geocoded are never remembered), so a remembered row is exactly what parsing would give.
_ROWS: OrderedDict[tuple, dict[tuple, tuple[dict[str, Any], tuple[tuple[str, str], ...]]]] = OrderedDict()
_ROWS_FILES = 4
_ROWS_MAX = 2000  # rows of a file whose parse is kept (a larger file's rows are not remembered)
_ROWS_LOCK = threading.Lock()  # (files read in threads: one memo update at a time)


def _row_memo(
    path: Path, table: RawTable, cols: dict[str, int], kind: str, default_crs: str, want_lonlat: bool
) -> tuple[tuple | None, dict]:
    """The memo key of a read (None: not remembered) and the rows remembered from the file's last read."""
    if not want_lonlat or "geocode_query" in cols or len(table.rows) > _ROWS_MAX:
        return None, {}
    key = (str(path), kind, default_crs, tuple(sorted(cols.items())))
    return key, _ROWS.get(key, {})


def _row_key(row: list[Any], n: int) -> tuple | None:
    """A row's memo key, or None when a cell is not plain text (a number 1 and True would compare equal)."""
    if all(cell is None or type(cell) is str for cell in row):
        return (n, *row)
    return None


def _remember_rows(key: tuple, parsed: dict) -> None:
    with _ROWS_LOCK:
        _ROWS[key] = parsed  # only this read's rows: the memo never outgrows the file
        _ROWS.move_to_end(key)
        while len(_ROWS) > _ROWS_FILES:
            _ROWS.popitem(last=False)


def _use_gates(
    path: Path, table: RawTable, out: dict[str, list[Any]], geometry: np.ndarray, errors: list[InputError]
) -> np.ndarray:
    """Where a row gives a gate (大门经度/大门纬度), people enter there: it replaces the point."""
    gx, gy = np.asarray(out["gate_lon"], float), np.asarray(out["gate_lat"], float)
    has_gate = ~np.isnan(gx) & ~np.isnan(gy)
    if not has_gate.any():
        return geometry
    _check_ranges(
        path, [r for r, g in zip(table.row_numbers, has_gate) if g], gx[has_gate], gy[has_gate], "gate", errors
    )
    lon, lat = china.to_wgs84(gx[has_gate], gy[has_gate], np.asarray(out["crs"], dtype=object)[has_gate])
    geometry = np.array(geometry, dtype=object)
    geometry[has_gate] = shapely.points(lon, lat)
    return geometry


def _parse_row(
    row: list[Any],
    n: int,
    cols: dict[str, int],
    kind: str,
    default_crs: str,
    want_lonlat: bool,
    geocoder: Callable[[str], tuple[float, float] | None] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Values of one row's fields, and its (field, message) problems."""
    problems: list[tuple[str, str]] = []

    def cell(field: str) -> Any:
        return row[cols[field]] if field in cols else None

    def number(field: str, default: float, *, required: bool, negative: bool = False) -> float:
        value = cell(field)
        try:
            if is_blank(value):
                if required:
                    raise ValueError(f"missing {_FIELD_WORDS.get(field, field)}")
                return default
            if field in _COORDINATE_FIELDS and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value.strip()):
                # "43,727" is never a thousands separator in a coordinate.
                fixed = value.strip().replace(",", ".")
                raise ValueError(f"{value!r} has a decimal comma; write {fixed} (a point before the decimals)")
            result = cell_number(value)
            if result < 0 and not negative:
                raise ValueError(f"{value!r} is negative")
            return result
        except ValueError as exc:
            problems.append((field, str(exc)))
            return math.nan

    ident = cell_text(cell("id")) if "id" in cols else f"{kind}-{n}"
    if ident is None:
        problems.append(("id", "missing id"))
    values: dict[str, Any] = {"id": ident, "name": cell_text(cell("name")) or ident}
    values.update({field: cell_text(cell(field)) for field in _TEXT_FIELDS})
    values.update({field: number(field, math.nan, required=False) for field in _NUMERIC_FIELDS})
    values["weight"] = number("weight", 1.0, required="weight" in cols)
    status = cell_text(cell("status"))
    values["status"] = _STATUS_LOOKUP.get((status or "real").casefold())
    if values["status"] is None:
        problems.append(
            ("status", f"unknown status {status!r}; use one of {', '.join(STATUS_ALIASES)} (blank means real)")
        )
    crs = cell_text(cell("crs"))
    try:
        values["crs"] = china.normalize_crs(crs) if crs else default_crs
    except ValueError as exc:
        problems.append(("crs", str(exc)))
        values["crs"] = default_crs
    values["location_source"] = None
    values["gate_lon"] = number("gate_lon", math.nan, required=False, negative=True)
    values["gate_lat"] = number("gate_lat", math.nan, required=False, negative=True)
    if np.isnan(values["gate_lon"]) != np.isnan(values["gate_lat"]):
        problems.append(
            ("gate_lon" if np.isnan(values["gate_lon"]) else "gate_lat", "a gate needs both longitude and latitude")
        )
    query = cell_text(cell("geocode_query"))
    if want_lonlat and query and is_blank(cell("lon")) and is_blank(cell("lat")):
        values["lon"], values["lat"] = geocode_row(query, geocoder, values, problems)
    elif want_lonlat:
        values["lon"] = number("lon", math.nan, required=True, negative=True)
        values["lat"] = number("lat", math.nan, required=True, negative=True)
    return values, problems


def _points_from_columns(
    path: Path, table: RawTable, cols: dict[str, int], out: dict[str, list[Any]], errors: list[InputError]
) -> tuple[np.ndarray, None]:
    x, y = np.asarray(out["lon"], float), np.asarray(out["lat"], float)
    field = f"{table.header[cols['lon']]}/{table.header[cols['lat']]}"
    _check_ranges(path, table.row_numbers, x, y, field, errors)
    _check_chinese_crs_in_china(path, table.row_numbers, x, y, np.asarray(out["crs"], dtype=object), field, errors)
    x, y = china.to_wgs84(x, y, np.asarray(out["crs"], dtype=object))
    return shapely.points(x, y), None


def _points_from_geometries(
    path: Path, table: RawTable, out: dict[str, list[Any]], errors: list[InputError]
) -> tuple[np.ndarray, np.ndarray | None]:
    assert table.geometries is not None
    geoms = np.array(table.geometries.array, dtype=object)  # a copy: shifted below
    crs = np.asarray(out["crs"], dtype=object)
    for i in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)):
        errors.append(InputError(path, "missing geometry", row=table.row_numbers[i], field="geometry"))
    _single_points(path, table, geoms, errors)
    shifted = crs != "wgs84"
    if shifted.any() and not table.geographic:
        errors.append(
            InputError(
                path,
                "GCJ-02/BD-09 coordinates must be longitude/latitude, but the file "
                "is in a projected CRS; set crs to wgs84",
                field="crs",
            )
        )
        return shapely.points(np.zeros((len(geoms), 2))), None
    surface = place_points(geoms)  # as declared, before any shift
    _check_chinese_crs_in_china(
        path, table.row_numbers, shapely.get_x(surface), shapely.get_y(surface), crs, "geometry", errors
    )
    for name in ("gcj02", "bd09"):
        if (mask := crs == name).any():
            geoms[mask] = shapely.transform(
                geoms[mask], lambda xy, name=name: np.column_stack(china.to_wgs84(xy[:, 0], xy[:, 1], name))
            )
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    points = place_points(geoms)
    _check_ranges(path, table.row_numbers, shapely.get_x(points), shapely.get_y(points), "geometry", errors)
    has_shape = ~is_point & ~shapely.is_missing(geoms)
    geoms[~has_shape] = None
    return points, (geoms if has_shape.any() else None)


def _single_points(path: Path, table: RawTable, geoms: np.ndarray, errors: list[InputError]) -> None:
    """A MultiPoint of one point (or one point repeated) becomes that point; of several, it is an error."""
    multi = np.flatnonzero((shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOINT) & ~shapely.is_empty(geoms))
    for i in multi:
        points = {tuple(xy) for xy in shapely.get_coordinates(geoms[i])}
        if len(points) == 1:
            geoms[i] = shapely.points(*points.pop())
            continue
        errors.append(
            InputError(
                path,
                f"a MultiPoint of {len(points)} points: each place needs one point. Split it into single "
                "points (in QGIS: Vector > Geometry Tools > Multipart to Singleparts) or map the place as a polygon",
                row=table.row_numbers[i],
                field="geometry",
            )
        )


def _check_chinese_crs_in_china(
    path: Path, rows: list[int], x: np.ndarray, y: np.ndarray, crs: np.ndarray, field: str, errors: list[InputError]
) -> None:
    """GCJ-02 and BD-09 exist only in China: a point declared in them but lying outside China is a mistake."""
    declared = (crs == "gcj02") | (crs == "bd09")
    valid = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    outside = declared & valid & ~china.in_china(np.where(valid, x, 0.0), np.where(valid, y, 0.0))
    for i in np.flatnonzero(outside):
        hint = "; swapped, it would be in China: lon/lat look swapped" if china.in_china(y[i], x[i]) else ""
        errors.append(
            InputError(
                path,
                f"({x[i]}, {y[i]}) is declared {crs[i]}, a coordinate system used only in "
                f"China, but lies outside China{hint}",
                row=rows[i],
                field=field,
            )
        )


def _check_ranges(
    path: Path, rows: list[int], x: np.ndarray, y: np.ndarray, field: str, errors: list[InputError]
) -> None:
    """Report longitudes outside ±180 and latitudes outside ±90, hinting swaps."""
    for i in np.flatnonzero((np.abs(x) > 180) | (np.abs(y) > 90)):
        parts = [f"longitude {x[i]} is outside [-180, 180]"] if abs(x[i]) > 180 else []
        parts += [f"latitude {y[i]} is outside [-90, 90]"] if abs(y[i]) > 90 else []
        hint = "; lon/lat looks swapped" if abs(y[i]) <= 180 and abs(x[i]) <= 90 else ""
        errors.append(InputError(path, "; ".join(parts) + hint, row=rows[i], field=field))


def _assemble(
    out: dict[str, list[Any]],
    table: RawTable,
    cols: dict[str, int],
    geometry: np.ndarray,
    footprint: np.ndarray | None,
    keep_columns: Sequence[str],
) -> gpd.GeoDataFrame:
    """Put the parsed columns in schema order; text stays object dtype so blanks are None."""
    columns: list[tuple[str, Any]] = [(f, out[f]) for f in ("id", "name", *_TEXT_FIELDS[:5])]
    columns.append(("weight", np.asarray(out["weight"], dtype=float)))
    columns.append(("status", out["status"]))
    columns.append(("source_row", np.asarray(table.row_numbers, dtype=np.int64)))
    for field in (*_NUMERIC_FIELDS, "community_class"):
        if field in cols:
            columns.append((field, out[field] if field == "community_class" else np.asarray(out[field], dtype=float)))
    if any(out["location_source"]):
        columns.append(("location_source", out["location_source"]))
    columns += [(name, [r[cols[f"keep:{name}"]] for r in table.rows]) for name in keep_columns]
    # The lists (text, and raw kept cells) as one 2-D object block with dtype=object (blanks stay None, no
    # str inference), then the few number columns inserted at their places: cheaper than a Series per column
    # (and than a dict of lists, which the constructor stacks itself).
    texts = {name: values for name, values in columns if isinstance(values, list)}
    n = len(table.rows)
    block = np.empty((len(texts), n), dtype=object)
    for i, values in enumerate(texts.values()):
        block[i] = np.fromiter(values, dtype=object, count=n)  # (each cell one element, even a list or tuple)
    frame = pd.DataFrame(block.T, columns=list(texts), index=pd.RangeIndex(n), dtype=object, copy=False)
    for position, (name, values) in enumerate(columns):
        if not isinstance(values, list):
            frame.insert(position, name, values)
    frame.insert(len(frame.columns), "geometry", gpd.array.from_shapely(geometry, crs=_WGS84_CRS))
    frame = gpd.GeoDataFrame(frame, geometry="geometry", copy=False)  # (``frame`` is this function's own)
    if footprint is not None:
        frame["footprint"] = gpd.GeoSeries(footprint, crs=_WGS84_CRS)
    return frame
