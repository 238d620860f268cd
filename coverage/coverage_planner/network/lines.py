"""Walk networks from road-line layers: shapefiles, GeoPackages and GeoJSON files of road centrelines.

City GIS departments hand out road centrelines as line layers, often with no
CRS file and sometimes in GCJ-02. `read_line_network` turns such a layer into
the same `WalkNetwork` an OSM file gives:

* coordinates are brought to WGS-84 lon/lat (the file's CRS, or ``crs`` when
  it declares none, then GCJ-02/BD-09 undone when ``coordinate_system`` says
  so) and rounded to 1e-7 degrees (about 1 cm, OSM's own precision);
* a ``class_column`` (OSM ``highway`` values) goes through the very walk
  filter OSM files use (`coverage_planner.network._osm_reader.is_walkable`);
  classes OSM does not know stay walkable and are counted;
* lines are cut into edges at vertices they share (``noding="vertices"``,
  the default) or also where they cross (``"crossings"``), except lines a
  ``bridge``/``tunnel`` column marks, or lines on different ``layer`` values.

What the loader found (CRS basis, classes dropped, duplicates, lines that
cross without a shared vertex) lands in ``network.source.details`` and so in
the run manifest. An OSMnx GeoPackage (layers ``nodes`` + ``edges`` with
``u``/``v``/``key``) keeps its own topology: see `coverage_planner.network.geopackage`.
"""

from __future__ import annotations

import ast
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import NetworkError
from coverage_planner.network._osm_reader import NOT_WALKABLE_HIGHWAYS, is_walkable
from coverage_planner.network.graph import LINE_SUFFIXES, NetworkSource, WalkNetwork
from coverage_planner.places.china import bd09_to_wgs84, gcj02_to_wgs84, normalize_crs

__all__ = [
    "KNOWN_HIGHWAY_CLASSES",
    "LINE_SUFFIXES",
    "NODING_MODES",
    "find_column",
    "is_line_layer",
    "read_line_network",
    "resolve_crs",
    "to_lonlat",
    "walkable_rows",
]

NODING_MODES: tuple[str, ...] = ("vertices", "crossings")

#: OSM ``highway=*`` values of ways. A class outside this set is still walked
#: (OSM files treat it so) but counted as unknown in ``source.details``.
KNOWN_HIGHWAY_CLASSES = NOT_WALKABLE_HIGHWAYS | frozenset(
    {
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
        "living_street",
        "service",
        "services",
        "rest_area",
        "pedestrian",
        "track",
        "road",
        "footway",
        "bridleway",
        "steps",
        "corridor",
        "path",
        "elevator",
        "via_ferrata",
        "crossing",
        "sidewalk",
        "ladder",
    }
)

# OSM tag columns the walk filter reads besides the class (same rules as OSM files).
_TAG_COLUMNS = ("foot", "access", "service", "area")
_NAME_COLUMNS = ("name", "名称", "路名")
_WAY_ID_COLUMNS = ("osmid", "osm_way_id", "way_id")
# Values of a bridge/tunnel column that mean "no".
_NO = frozenset({"", "no", "n", "0", "0.0", "false", "f", "none", "nan", "null", "否", "无"})
_SCALE = 10_000_000  # coordinates on a 1e-7 degree grid
_EXAMPLES = 10  # crossing locations listed in the details


def is_line_layer(path: str | Path) -> bool:
    """Tell whether a path names a road-line layer this module reads (by suffix).

    Parameters
    ----------
    path : str or Path
        A network file path.

    Returns
    -------
    bool
        True for .shp, .gpkg, .geojson and .json files.
    """
    return str(path).lower().endswith(LINE_SUFFIXES)


def read_line_network(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    coordinate_system: str = "wgs84",
    class_column: str | None = None,
    noding: str = "vertices",
    allow_private: bool = False,
) -> WalkNetwork:
    """Build a walk network from a layer of road lines (or an OSMnx GeoPackage).

    Parameters
    ----------
    path : str or Path
        A .shp, .gpkg, .geojson or .json file.
    layer : str, optional
        The layer to read; needed only when a GeoPackage holds several line layers.
    crs : str, optional
        The coordinate reference system (e.g. ``"EPSG:32649"``) of a file that
        declares none; overrides a declared one. Without it, a file with no
        CRS must hold plain lon/lat coordinates (taken as WGS-84).
    coordinate_system : {"wgs84", "gcj02", "bd09"}
        Chinese web-map coordinates to undo after the CRS (any spelling
        `coverage_planner.places.china.normalize_crs` accepts).
    class_column : str, optional
        Column of OSM ``highway`` classes; lines the OSM walk filter rejects
        (motorways, …) are dropped. Columns ``foot``, ``access``, ``service``
        and ``area``, when present, are read as the OSM tags they name. Without
        it every line is walkable.
    noding : {"vertices", "crossings"}
        Cut lines at shared vertices only, or also where they cross or touch
        (never for lines a ``bridge``/``tunnel`` column marks, nor between
        different ``layer`` values). An OSMnx GeoPackage keeps its own topology.
    allow_private : bool
        Keep ``access=private`` lines (when the layer has an ``access`` column).

    Returns
    -------
    WalkNetwork
        ``source.kind`` is ``"line-layer"`` (or ``"osmnx-geopackage"``) and
        ``source.details`` says what was found and done.

    Raises
    ------
    NetworkError
        When the file cannot be read, declares no CRS and does not hold plain
        lon/lat, names an unknown column, or holds no walkable lines.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"network file not found: {path}")
    if noding not in NODING_MODES:
        raise NetworkError(f"{path}: noding must be one of {', '.join(NODING_MODES)}, not {noding!r}")
    try:
        system = normalize_crs(coordinate_system)
    except ValueError as exc:
        raise NetworkError(f"{path}: coordinate_system: {exc}") from None

    from coverage_planner.network import geopackage  # it builds on this module's helpers

    if geopackage.is_osmnx_geopackage(path, layer):
        return geopackage.read_osmnx_geopackage(
            path, crs=crs, coordinate_system=system, class_column=class_column, allow_private=allow_private
        )
    layer_name = _choose_layer(path, layer)
    try:
        info = pyogrio.read_info(path, layer=layer_name)
    except RuntimeError as exc:  # pyogrio's errors are RuntimeErrors
        raise NetworkError(f"{path}: not a readable line layer ({exc})") from None
    fields = [str(f) for f in info["fields"]]
    class_col = find_column(fields, class_column, path=path, required=True) if class_column else None
    bridge_col = find_column(fields, "bridge", path=path)
    tunnel_col = find_column(fields, "tunnel", path=path)
    level_col = find_column(fields, "layer", path=path)
    name_col = next((c for c in (find_column(fields, n, path=path) for n in _NAME_COLUMNS) if c), None)
    way_col = next((c for c in (find_column(fields, n, path=path) for n in _WAY_ID_COLUMNS) if c), None)
    tag_cols = {t: find_column(fields, t, path=path) for t in _TAG_COLUMNS} if class_col else {}
    wanted = [c for c in (class_col, bridge_col, tunnel_col, level_col, name_col, way_col) if c]
    wanted += [c for c in tag_cols.values() if c]
    try:
        frame = pyogrio.read_dataframe(path, layer=layer_name, columns=list(dict.fromkeys(wanted)))
    except RuntimeError as exc:
        raise NetworkError(f"{path}: not a readable line layer ({exc})") from None
    details: dict[str, Any] = {"layer": layer_name, "features": len(frame)}

    geoms = frame.geometry.to_numpy()
    kind = shapely.get_type_id(geoms)
    is_line = np.isin(kind, [shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING])
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if not (is_line & ~empty).any():
        found = sorted({shapely.GeometryType(t).name.title() for t in kind[~empty]} or {"none"})
        raise NetworkError(
            f"{path}: layer '{layer_name}' has no line geometries (found: {', '.join(found)}); "
            "a walk network needs road centrelines"
        )
    details["skipped_empty"] = int(empty.sum())
    details["skipped_not_lines"] = int((~is_line & ~empty).sum())

    keep = is_line & ~empty
    if class_col:
        walk, dropped, unknown = walkable_rows(frame, class_col, tag_columns=tag_cols, allow_private=allow_private)
        details.update(class_column=class_col, classes_dropped=dropped, unknown_classes=unknown)
        keep &= walk
    else:
        details["class_column"] = None
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise NetworkError(f"{path}: no walkable lines (the class filter dropped {details.get('classes_dropped')})")

    parts, part_row = shapely.get_parts(geoms[rows], return_index=True)
    part_row = rows[part_row]
    xy, part_of = shapely.get_coordinates(parts, return_index=True)
    used_crs, basis = resolve_crs(path, frame.crs, crs, xy)
    lonlat = to_lonlat(path, xy, used_crs, system)
    details.update(crs=used_crs.to_string(), crs_basis=basis, coordinate_system=system)

    offgrade = _marked(frame, (bridge_col, tunnel_col))
    level = _levels(frame[level_col]) if level_col else np.zeros(len(frame), dtype=np.int64)
    details["bridge_tunnel_lines"] = int(offgrade[rows].sum()) if (bridge_col or tunnel_col) else None

    lines = _LineSet.build(lonlat, part_of, part_row)
    details["lines"] = len(parts)
    details["degenerate_lines"] = lines.degenerate
    lines, duplicates = lines.without_duplicates()
    details["duplicate_lines"] = duplicates
    contacts = lines.unnoded_contacts(offgrade[lines.row], level[lines.row])
    details["noding"] = noding
    points = np.unique(contacts.code)
    if noding == "crossings":
        lines = lines.with_points(contacts)
        details["crossings_noded"] = len(points)
    else:
        details["unnoded_crossings"] = len(points)
    details["crossing_examples"] = [
        [round(x, 7), round(y, 7)] for x, y in (_decode(points[:_EXAMPLES]) / _SCALE).tolist()
    ]

    u, v, coords, edge_line = lines.cut()
    unique = _first_of_each_shape(coords)
    details["duplicate_edges"] = int((~unique).sum())
    u, v, edge_line = u[unique], v[unique], edge_line[unique]
    coords = [c for c, keep in zip(coords, unique) if keep]
    row = lines.row[edge_line]
    way_id = _way_ids(frame[way_col], row) if way_col else row.astype(np.int64)
    details["way_id"] = way_col or "row number in the layer (from 0)"
    highway = frame[class_col].to_numpy()[row] if class_col else np.full(len(row), "", dtype=object)
    names = frame[name_col].to_numpy()[row] if name_col else np.full(len(row), None, dtype=object)
    # Bridge, tunnel and layer per edge, so the network QA labels the crossings they explain.
    qa_tags = {
        tag: np.where(_marked(frame, (col,))[row], "yes", "")
        for tag, col in (("bridge", bridge_col), ("tunnel", tunnel_col))
        if col
    }
    if level_col:
        qa_tags["layer"] = np.where(level[row] != 0, level[row].astype(str), "")
    network = WalkNetwork.from_edges(
        u,
        v,
        coords,
        way_id=way_id,
        highway=["" if _missing(h) else str(h) for h in highway],
        name=[None if _missing(n) or str(n) == "" else str(n) for n in names],
        edge_tags=qa_tags or None,
        source=NetworkSource(kind="line-layer", path=str(path), sha256=file_sha256(path)),
    )
    details["dangling_ends"] = int(network.quality_report()["dangling_ends"].sum())
    network.source = NetworkSource(kind="line-layer", path=str(path), sha256=network.source.sha256, details=details)
    return network


# ------------------------------------------------------------- shared helpers
def find_column(fields: list[str], name: str | None, *, path: str | Path, required: bool = False) -> str | None:
    """The layer column called ``name``: exact match first, else the one match ignoring case.

    Parameters
    ----------
    fields : list of str
        The layer's column names.
    name : str or None
        The column wanted.
    path : str or Path
        The file, for the error message.
    required : bool
        Raise when the column is missing instead of returning None.

    Returns
    -------
    str or None
        The column's real name, or None when absent (and not required).
    """
    if name is None:
        return None
    if name in fields:
        return name
    folded = [f for f in fields if f.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    if required:
        raise NetworkError(f"{path}: no column '{name}' in the layer; its columns are {', '.join(fields) or 'none'}")
    return None


def resolve_crs(path: str | Path, declared: Any, given: str | None, xy: np.ndarray) -> tuple[pyproj.CRS, str]:
    """Decide a layer's coordinate reference system, and say on what basis.

    Parameters
    ----------
    path : str or Path
        The file, for messages.
    declared : pyproj.CRS, str or None
        The CRS the file declares (None when it has none, e.g. no .prj).
    given : str or None
        The ``[network] crs`` setting; wins over a declared CRS.
    xy : (k, 2) float array
        The layer's coordinates as stored.

    Returns
    -------
    tuple of (pyproj.CRS, str)
        The CRS and a sentence on where it came from.

    Raises
    ------
    NetworkError
        When ``given`` is not a CRS, or the file declares none and its
        coordinates are not plainly longitude/latitude.
    """
    if given is not None:
        try:
            chosen = pyproj.CRS.from_user_input(given)
        except pyproj.exceptions.CRSError as exc:
            raise NetworkError(
                f"{path}: crs {given!r} is not a coordinate reference system ({exc}); give one such as "
                "'EPSG:4326' or 'EPSG:32649' (GCJ-02/BD-09 go in coordinate_system)"
            ) from None
        if declared is None:
            return chosen, "[network] crs (the file declares none)"
        return chosen, f"[network] crs (overrides the file's {pyproj.CRS.from_user_input(declared).to_string()})"
    if declared is not None:
        return pyproj.CRS.from_user_input(declared), "declared by the file"
    finite = xy[np.isfinite(xy).all(axis=1)]
    if len(finite) and (np.abs(finite[:, 0]) <= 180).all() and (np.abs(finite[:, 1]) <= 90).all():
        return pyproj.CRS.from_epsg(
            4326
        ), "assumed WGS-84 lon/lat: the file declares no CRS and its coordinates are degrees"
    lo, hi = (finite.min(axis=0), finite.max(axis=0)) if len(finite) else (np.zeros(2), np.zeros(2))
    raise NetworkError(
        f"{path}: the file declares no coordinate reference system (no .prj file) and its coordinates "
        f"(x {lo[0]:.6g}…{hi[0]:.6g}, y {lo[1]:.6g}…{hi[1]:.6g}) are not longitude/latitude; "
        'set crs in [network], e.g. crs = "EPSG:32649" (the local projected system the file uses)'
    )


def to_lonlat(path: str | Path, xy: np.ndarray, crs: pyproj.CRS, coordinate_system: str) -> np.ndarray:
    """Bring coordinates to WGS-84 lon/lat: CRS transform, then the GCJ-02/BD-09 shift undone.

    Parameters
    ----------
    path : str or Path
        The file, for messages.
    xy : (k, 2) float array
        Coordinates in ``crs``.
    crs : pyproj.CRS
        Their coordinate reference system.
    coordinate_system : {"wgs84", "gcj02", "bd09"}
        Canonical name of the Chinese shift to undo.

    Returns
    -------
    (k, 2) float array
        WGS-84 longitude and latitude.

    Raises
    ------
    NetworkError
        When some coordinates do not convert to valid lon/lat (wrong CRS).
    """
    lonlat = np.array(xy, dtype=float)
    if not crs.equals(pyproj.CRS.from_epsg(4326)):
        to_wgs = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        lonlat = np.column_stack(to_wgs.transform(lonlat[:, 0], lonlat[:, 1]))
    if coordinate_system == "gcj02":
        lonlat = np.column_stack(gcj02_to_wgs84(lonlat[:, 0], lonlat[:, 1]))
    elif coordinate_system == "bd09":
        lonlat = np.column_stack(bd09_to_wgs84(lonlat[:, 0], lonlat[:, 1]))
    bad = ~(np.isfinite(lonlat).all(axis=1) & (np.abs(lonlat[:, 0]) <= 180) & (np.abs(lonlat[:, 1]) <= 90))
    if bad.any():
        raise NetworkError(
            f"{path}: {int(bad.sum())} coordinates do not convert from {crs.to_string()} to longitude/latitude "
            f"(e.g. {xy[np.argmax(bad)].tolist()}); check the crs setting"
        )
    return lonlat


def walkable_rows(
    frame: pd.DataFrame,
    class_column: str,
    *,
    tag_columns: dict[str, str | None] | None = None,
    allow_private: bool = False,
) -> tuple[np.ndarray, dict[str, int], dict[str, int]]:
    """Apply the OSM walk filter to a table of lines, one row per line.

    A cell may hold one class or, as OSMnx writes merged edges, a list
    (``"['footway', 'steps']"``): such a line is walkable only when every
    class (and every listed tag value) is. An empty class counts as unknown
    and is walkable.

    Parameters
    ----------
    frame : pandas.DataFrame
        The lines' attributes.
    class_column : str
        Column of OSM ``highway`` values.
    tag_columns : dict, optional
        OSM tag name (``foot``, ``access``, ``service``, ``area``) → column holding it.
    allow_private : bool
        Keep ``access=private`` lines.

    Returns
    -------
    tuple of (bool array, dict, dict)
        Walkable mask; lines dropped per class; walkable lines per unknown class.
    """
    tags = {t: c for t, c in (tag_columns or {}).items() if c}
    columns = [class_column, *tags.values()]
    cells = frame[columns].astype(object).where(frame[columns].notna(), None)
    # Judge each distinct combination of values once (a layer has few), then spread the verdicts.
    per_column = np.column_stack([pd.factorize(cells[c].astype(str))[0] for c in columns])
    _, first, codes = np.unique(per_column, axis=0, return_index=True, return_inverse=True)
    codes = codes.ravel()
    verdict = np.zeros(len(first), dtype=bool)
    classes_of = []
    for k, row in enumerate(first):
        values = [_values(cells.iat[row, i]) for i in range(len(columns))]
        classes = values[0] or [""]
        classes_of.append(classes)
        options = [[(tag, v) for v in vals] or [(tag, None)] for tag, vals in zip(tags, values[1:])]
        verdict[k] = all(
            is_walkable(
                {"highway": cls or "road", **{t: v for t, v in combo if v is not None}}, allow_private=allow_private
            )
            for cls in classes
            for combo in itertools.product(*options)
        )
    walk = verdict[codes]
    dropped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    for k, count in zip(*np.unique(codes, return_counts=True)):
        label = " + ".join(c or "(empty)" for c in classes_of[k])
        if not verdict[k]:
            dropped[label] += int(count)
        elif any(c not in KNOWN_HIGHWAY_CLASSES for c in classes_of[k]):
            unknown[label] += int(count)
    return walk, dict(dropped.most_common()), dict(unknown.most_common())


# -------------------------------------------------------------------- noding
class _Contacts:
    """Points where two lines touch or cross without a vertex there on both."""

    def __init__(self, line: np.ndarray, code: np.ndarray) -> None:
        self.line = line  # the line lacking the vertex
        self.code = code  # the point, encoded (see `_encode`)


class _LineSet:
    """Lines as one coordinate table: grid keys, lon/lat and the line of each vertex."""

    def __init__(self, key: np.ndarray, line: np.ndarray, row: np.ndarray, degenerate: int = 0) -> None:
        self.key = key  # (k, 2) int64 grid coordinates, lines contiguous and in order
        self.line = line  # (k,) line index 0..n-1
        self.row = row  # (n,) layer row of each line
        self.degenerate = degenerate

    @classmethod
    def build(cls, lonlat: np.ndarray, part_of: np.ndarray, part_row: np.ndarray) -> _LineSet:
        key = np.round(lonlat * _SCALE).astype(np.int64)
        return cls._clean(key, part_of, part_row)

    @classmethod
    def _clean(cls, key: np.ndarray, line: np.ndarray, row: np.ndarray, degenerate: int = 0) -> _LineSet:
        # Repeated consecutive vertices (also made by rounding) would be zero-length segments.
        same = np.zeros(len(key), dtype=bool)
        same[1:] = (line[1:] == line[:-1]) & (key[1:] == key[:-1]).all(axis=1)
        key, line = key[~same], line[~same]
        count = np.bincount(line, minlength=len(row))
        ok = count >= 2
        renumber = np.cumsum(ok) - 1
        keep = ok[line]
        return cls(key[keep], renumber[line[keep]], row[ok], degenerate + int((~ok).sum()))

    @property
    def starts(self) -> np.ndarray:
        return np.searchsorted(self.line, np.arange(len(self.row) + 1))

    @property
    def lonlat(self) -> np.ndarray:
        return self.key / _SCALE

    def geometries(self) -> np.ndarray:
        return shapely.linestrings(self.lonlat, indices=self.line)

    def without_duplicates(self) -> tuple[_LineSet, int]:
        """Drop lines identical to an earlier one, in either direction (two-way roads drawn twice)."""
        starts = self.starts
        seen: set[bytes] = set()
        keep = np.ones(len(self.row), dtype=bool)
        for i, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
            forward = self.key[a:b]
            shape = min(forward.tobytes(), forward[::-1].tobytes())
            if shape in seen:
                keep[i] = False
            else:
                seen.add(shape)
        if keep.all():
            return self, 0
        renumber = np.cumsum(keep) - 1
        mask = keep[self.line]
        return _LineSet(self.key[mask], renumber[self.line[mask]], self.row[keep], self.degenerate), int((~keep).sum())

    def unnoded_contacts(self, offgrade: np.ndarray, level: np.ndarray) -> _Contacts:
        """Where lines meet (cross, touch or overlap) at a point that is not a vertex of both.

        Pairs with a bridge or tunnel line, or on different layers, are left
        out: they are meant not to meet.
        """
        geoms = self.geometries()
        a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pair = (a < b) & ~offgrade[a] & ~offgrade[b] & (level[a] == level[b])
        a, b = a[pair], b[pair]
        if len(a) == 0:
            return _Contacts(np.zeros(0, np.int64), np.zeros(0, np.int64))
        points, which = shapely.get_coordinates(shapely.intersection(geoms[a], geoms[b]), return_index=True)
        code = _encode(np.round(points * _SCALE).astype(np.int64))
        own = _encode(self.key)
        # (line, point) pairs as one int: a point is a vertex of a line when the pair is among the line's own.
        ids, inverse = np.unique(np.concatenate([own, code]), return_inverse=True)
        n = len(ids)
        vertex_pairs = np.unique(self.line * n + inverse[: len(own)])
        point_ids = inverse[len(own) :]
        lines = np.concatenate([a[which], b[which]])
        pids = np.concatenate([point_ids, point_ids])
        lacking = ~np.isin(lines * n + pids, vertex_pairs)
        lines, pids = lines[lacking], pids[lacking]
        found = np.unique(lines * n + pids)
        return _Contacts(found // n, ids[found % n])

    def with_points(self, contacts: _Contacts) -> _LineSet:
        """The lines with each contact point inserted where it lies along its line."""
        if len(contacts.line) == 0:
            return self
        geoms = self.geometries()
        grid = _decode(contacts.code)
        pos = shapely.line_locate_point(geoms[contacts.line], shapely.points(grid / _SCALE))
        lonlat = self.lonlat
        step = np.zeros(len(lonlat))
        step[1:] = np.hypot(*(lonlat[1:] - lonlat[:-1]).T)
        step[self.starts[:-1]] = 0.0
        along = np.cumsum(step)
        along -= along[self.starts[:-1]][self.line]  # distance from each line's start (planar, degrees)
        key = np.concatenate([self.key, grid])
        line = np.concatenate([self.line, contacts.line])
        at = np.concatenate([along, pos])
        # A line's own ends stay its ends even when a point lands on them (rounding).
        rank = np.zeros(len(key), dtype=np.int8)
        rank[self.starts[:-1]] = -1
        rank[self.starts[1:] - 1] = 1
        order = np.lexsort((rank, at, line))
        return _LineSet._clean(key[order], line[order], self.row, self.degenerate)

    def cut(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
        """Cut lines into edges at vertices used more than once and at line ends.

        Returns
        -------
        u, v : node ids of each edge's ends
        coords : each edge's lon/lat shape
        line : the line each edge comes from
        """
        _, node = np.unique(_encode(self.key), return_inverse=True)
        uses = np.bincount(node)
        starts = self.starts
        cut = uses[node] > 1
        cut[starts[:-1]] = True
        cut[starts[1:] - 1] = True
        at = np.flatnonzero(cut)
        same = self.line[at[:-1]] == self.line[at[1:]]
        a, b = at[:-1][same], at[1:][same]
        lonlat = self.lonlat
        coords = [lonlat[i : j + 1] for i, j in zip(a.tolist(), b.tolist())]
        return node[a].astype(np.int64), node[b].astype(np.int64), coords, self.line[a]


# ---------------------------------------------------------------- internals
def _choose_layer(path: Path, layer: str | None) -> str:
    try:
        layers = pyogrio.list_layers(path)
    except RuntimeError as exc:
        raise NetworkError(f"{path}: not a readable line layer ({exc})") from None
    names = [str(n) for n in layers[:, 0]]
    if layer is not None:
        if layer not in names:
            raise NetworkError(f"{path}: no layer '{layer}'; the file has {', '.join(names) or 'no layers'}")
        return layer
    if len(names) == 1:
        return names[0]
    line_layers = [str(n) for n, kind in layers if kind is None or "line" in str(kind).lower()]
    if len(line_layers) == 1:
        return line_layers[0]
    raise NetworkError(
        f'{path}: the file has several layers ({", ".join(names)}); say which one with layer = "…" in [network]'
    )


def _marked(frame: pd.DataFrame, columns: tuple[str | None, ...]) -> np.ndarray:
    """Rows a bridge or tunnel column marks (any value but empty, "no", "0", "false", …)."""
    marked = np.zeros(len(frame), dtype=bool)
    for col in columns:
        if col:
            says = ~frame[col].astype(str).str.strip().str.lower().isin(_NO) & frame[col].notna()
            marked |= says.to_numpy(dtype=bool)
    return marked


def _first_of_each_shape(coords: list[np.ndarray]) -> np.ndarray:
    """Mask of edges whose shape (either way round) has not come earlier: overlapping lines cut alike coincide."""
    seen: set[bytes] = set()
    first = np.zeros(len(coords), dtype=bool)
    for i, shape in enumerate(coords):
        drawn = min(shape.tobytes(), shape[::-1].tobytes())
        if drawn not in seen:
            seen.add(drawn)
            first[i] = True
    return first


def _values(cell: Any) -> list[str]:
    """One cell as a list of values: OSMnx writes merged values as a Python list literal."""
    if _missing(cell):
        return []
    text = str(cell).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(p).strip() for p in parsed]
    return [text]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _levels(column: pd.Series) -> np.ndarray:
    """OSM ``layer`` values as integers (missing or unreadable → 0, ground level)."""
    return pd.to_numeric(column, errors="coerce").fillna(0).round().astype(np.int64).to_numpy()


def _way_ids(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    values = pd.to_numeric(column.map(lambda c: (_values(c) or [None])[0]), errors="coerce")
    return values.fillna(-1).astype(np.int64).to_numpy()[rows]


def _encode(key: np.ndarray) -> np.ndarray:
    # x + 2^31 < 2^32 and y + 2^30 < 2^31 on the 1e-7 degree grid, so one int64 holds both.
    return (key[:, 0] + (1 << 31)) * (1 << 31) + (key[:, 1] + (1 << 30))


def _decode(code: np.ndarray) -> np.ndarray:
    return np.column_stack([code // (1 << 31) - (1 << 31), code % (1 << 31) - (1 << 30)])
