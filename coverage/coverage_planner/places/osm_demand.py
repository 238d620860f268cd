"""Residential areas (小区) from OpenStreetMap as demand places, downloaded through osmnx and cached.

The first call asks Nominatim for the query's boundaries and Overpass for
the residential polygons inside them; both are kept in a GeoPackage under
the cache folder (with a JSON record of the query and download date), so
later calls are offline. :func:`write_demand` writes the areas as a place
file that :func:`coverage_planner.places.reading.read_places` reads like any other.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon

from coverage_planner import settings
from coverage_planner._cache.keys import file_sha256
from coverage_planner._errors import DataError, NetworkError
from coverage_planner._geo import utm_crs_for
from coverage_planner._io import atomic_path, write_text_atomic
from coverage_planner._meta import OSM_ATTRIBUTION
from coverage_planner._osmnx import osmnx_http_cache, use_our_http_cache
from coverage_planner.escape import csv_frame

__all__ = [
    "DEMAND_COLUMNS",
    "RESIDENTIAL_TAGS",
    "OsmDemandWarning",
    "cache_files",
    "demand_from_areas",
    "residential_areas",
    "write_demand",
]

#: What counts as a residential area. In Chinese cities a compound (小区) is
#: mapped as a landuse=residential polygon (way or multipolygon) named after
#: it. place=neighbourhood is left out: in China it mostly marks village or
#: district names (often points, or broad 片区 overlapping the compounds);
#: building=residential/apartments would count each block of a compound.
RESIDENTIAL_TAGS: dict[str, bool | str | list[str]] = {"landuse": "residential"}

#: Columns of the written demand file, all recognised by `read_places`.
DEMAND_COLUMNS: tuple[str, ...] = ("id", "name", "district", "subdistrict", "status")

#: One area lying this share (by area) inside another is nested in it; two
#: areas each this share inside the other are the same area mapped twice.
NESTED_SHARE = 0.9
#: An unnamed area whose named compounds cover this share of it is only the land around them.
ZONE_COVERED_SHARE = 0.5

UNNAMED = "未命名居住区"
_GEOD = pyproj.Geod(ellps="WGS84")
_POLYGONAL = ("Polygon", "MultiPolygon")


class OsmDemandWarning(UserWarning):
    """Something the OSM download could not provide (e.g. a subdistrict boundary); the areas are still usable."""


def residential_areas(
    places: str | Sequence[str] | None = None,
    *,
    polygon: Polygon | MultiPolygon | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    subdistrict: str | None = None,
    tags: dict[str, bool | str | list[str]] | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    min_area_m2: float = 500.0,
) -> gpd.GeoDataFrame:
    """Residential areas from OpenStreetMap inside places, a polygon or a bbox: one row per area.

    The first call downloads through osmnx: the boundary of each place from
    Nominatim (``geocode_to_gdf``), then the features matching ``tags``
    inside their union from Overpass (``features_from_polygon``). Polygons
    (ways and multipolygon relations) are kept, points and lines dropped.
    The download is cached as a GeoPackage plus a JSON record (query, tags,
    download date, boundary OSM ids) under ``cache_dir/osm-demand``, keyed
    by a hash of the query and tags; later calls read it without touching
    the network (unless ``refresh``).

    Then, on every call, so that each compound is one row: areas under
    ``min_area_m2`` are dropped; an area mapped twice (each ≥ 90 % inside
    the other) is kept once, preferring the named one; an area ≥ 90 %
    inside another is dropped as a part of it (a phase, a block, a
    building), except a named compound inside an unnamed area: then the
    unnamed area is generic residential land, dropped when its named
    compounds cover at least half of it and otherwise kept beside them
    (its unmapped housing is demand too). What was dropped, and why, is
    in ``attrs["dropped"]``.

    Parameters
    ----------
    places : str or sequence of str, optional
        A place name Nominatim knows, or several (e.g. the four districts
        "新城区, 呼和浩特市", …); each area's ``district`` is the place whose
        boundary holds the largest share of it.
    polygon : shapely.Polygon or shapely.MultiPolygon, optional
        The area in WGS-84, instead of places.
    bbox : tuple of float, optional
        (west, south, east, north) in degrees, instead of places.
    subdistrict : str, optional
        A subdistrict to label, e.g. "光明路街道, 回民区, 呼和浩特市"; areas at
        least half inside its boundary get its name in ``subdistrict``. When
        OSM has no boundary polygon for it, an `OsmDemandWarning` says so and
        the column stays empty.
    tags : dict, optional
        OSM tags to download (osmnx form), default `RESIDENTIAL_TAGS`.
    cache_dir : str or Path, optional
        Cache folder (default `coverage_planner.settings.cache_dir`).
    refresh : bool, default False
        Download again even when cached (bypassing osmnx's HTTP cache).
    min_area_m2 : float, default 500.0
        Smaller areas are dropped (slivers, mis-tagged houses).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id`` ("way/123"), ``osm_type``, ``osm_id``, ``name``
        (name:zh, else name, else "未命名居住区 way/123"), ``named``,
        ``district``, ``subdistrict``, ``area_m2`` (geodesic), ``status``
        ("real"), ``source`` ("OpenStreetMap"), ``geometry`` (polygons,
        EPSG:4326); sorted by osm_type then osm_id. ``attrs["osm_query"]``
        holds the cache record (for a run manifest), ``attrs["dropped"]``
        the areas dropped as duplicates or nested.

    Raises
    ------
    NetworkError
        Offline (or the server fails) with nothing cached; a place Nominatim
        cannot find or has no boundary polygon for; no residential area at all.
    DataError
        When not exactly one of ``places``, ``polygon``, ``bbox`` is given.
    """
    if sum(x is not None for x in (places, polygon, bbox)) != 1:
        raise DataError("give exactly one of places, polygon or bbox")
    place_list = [places] if isinstance(places, str) else list(places) if places is not None else None
    tags = dict(tags or RESIDENTIAL_TAGS)
    query = _query(place_list, polygon, bbox, subdistrict, tags)
    gpkg, record_path = cache_files(
        place_list, polygon=polygon, bbox=bbox, subdistrict=subdistrict, tags=tags, cache_dir=cache_dir
    )
    cached = None if refresh else _read_cache(gpkg, record_path)
    if cached is None:
        raw, boundaries, record = _download(query, place_list, polygon, bbox, subdistrict, tags, refresh)
        with atomic_path(gpkg) as tmp:
            raw.to_file(tmp, layer="areas", driver="GPKG")
            boundaries.to_file(tmp, layer="boundaries", driver="GPKG")
        record["sha256"] = file_sha256(gpkg)
        # Written last: a GeoPackage without a matching record is not trusted.
        write_text_atomic(record_path, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    else:
        raw, boundaries, record = cached
    record = {**record, "cache": str(gpkg)}
    if subdistrict is not None and not record["subdistrict_found"]:
        warnings.warn(
            f"OpenStreetMap has no boundary polygon for subdistrict {subdistrict!r}; the subdistrict column "
            "is left empty (label areas from a ledger, or draw the boundary and pass it as polygon=)",
            OsmDemandWarning,
            stacklevel=2,
        )
    areas, dropped = _areas_from_raw(raw, boundaries, min_area_m2)
    if areas.empty:
        raise NetworkError(f"no residential area of at least {min_area_m2:g} m² (tags {tags}) in {record['label']}")
    areas.attrs["osm_query"] = record
    areas.attrs["dropped"] = dropped
    return areas


def cache_files(
    places: str | Sequence[str] | None = None,
    *,
    polygon: Polygon | MultiPolygon | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    subdistrict: str | None = None,
    tags: dict[str, bool | str | list[str]] | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[Path, Path]:
    """Where `residential_areas` keeps the download for these arguments: (GeoPackage, JSON record).

    Both exist once the query has been downloaded; nothing is read or fetched here.

    Parameters
    ----------
    places : str or sequence of str, optional
        As for `residential_areas`.
    polygon : shapely.Polygon or shapely.MultiPolygon, optional
        As for `residential_areas`.
    bbox : tuple of float, optional
        As for `residential_areas`.
    subdistrict : str, optional
        As for `residential_areas`.
    tags : dict, optional
        As for `residential_areas`.
    cache_dir : str or Path, optional
        As for `residential_areas`.

    Returns
    -------
    tuple of pathlib.Path
        The GeoPackage and its JSON record.
    """
    place_list = [places] if isinstance(places, str) else list(places) if places is not None else None
    query = _query(place_list, polygon, bbox, subdistrict, dict(tags or RESIDENTIAL_TAGS))
    key = hashlib.sha256(json.dumps(query, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    folder = (Path(cache_dir) if cache_dir is not None else settings.cache_dir()) / "osm-demand"
    return folder / f"residential-{key}.gpkg", folder / f"residential-{key}.json"


def _query(place_list, polygon, bbox, subdistrict, tags) -> dict[str, Any]:
    return {
        "places": place_list,
        "bbox": list(bbox) if bbox is not None else None,
        "polygon": polygon.wkt if polygon is not None else None,
        "subdistrict": subdistrict,
        "tags": tags,
    }


def demand_from_areas(areas: gpd.GeoDataFrame, *, extra_columns: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """The areas as demand places: `DEMAND_COLUMNS`, any ``extra_columns``, and the polygons.

    Polygons are kept: `read_places` joins each to the network at a point
    on its surface (or at its gate, when a ledger adds one) and keeps the
    outline for maps. Extra columns (e.g. ``area_m2``, ``source``) must be
    read back with ``read_places(..., keep_columns=extra_columns)``; use
    ``weight_column="area_m2"`` to weight compounds by their size.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Areas as `residential_areas` returns them.
    extra_columns : sequence of str, default ()
        More of their columns to keep.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy, in EPSG:4326.

    Raises
    ------
    DataError
        When an extra column is already written (or is ``osm_id``, which
        would be read as the id), or a column is missing.
    """
    names = [*DEMAND_COLUMNS, *extra_columns]
    if clash := [c for c in extra_columns if c in DEMAND_COLUMNS or c in ("osm_id", "geometry")]:
        raise DataError(f"extra_columns {clash} are already written or would be read as the id")
    if missing := [c for c in names if c not in areas.columns]:
        raise DataError(f"the areas have no column(s) {missing}")
    return gpd.GeoDataFrame(areas[names].copy(), geometry=areas.geometry.to_crs("EPSG:4326"))


def write_demand(areas: gpd.GeoDataFrame, path: str | Path, *, extra_columns: Sequence[str] = ()) -> Path:
    """Write the areas as a demand place file (.gpkg, .geojson or .csv), atomically.

    GeoPackage and GeoJSON keep the polygons (layer "demand"); CSV (UTF-8
    with BOM, so Excel shows Chinese) gives each area's point on its
    surface as ``lon``/``lat``, the point `read_places` would choose.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Areas as `residential_areas` returns them.
    path : str or Path
        The file to write; its suffix picks the format.
    extra_columns : sequence of str, default ()
        More columns to write (see `demand_from_areas`).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataError
        For another suffix, or columns `demand_from_areas` refuses.
    """
    path = Path(path)
    table = demand_from_areas(areas, extra_columns=extra_columns)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".gpkg":
            table.to_file(tmp, layer="demand", driver="GPKG")
        elif suffix in (".geojson", ".json"):
            table.to_file(tmp, driver="GeoJSON")
        elif suffix == ".csv":
            points = shapely.point_on_surface(table.geometry.values)
            frame = pd.DataFrame(table.drop(columns=table.geometry.name))
            frame.insert(len(DEMAND_COLUMNS), "lon", shapely.get_x(points))
            frame.insert(len(DEMAND_COLUMNS) + 1, "lat", shapely.get_y(points))
            csv_frame(frame).to_csv(tmp, index=False, encoding="utf-8-sig")  # OSM names are text, never formulas
        else:
            raise DataError(f"write demand as .gpkg, .geojson or .csv, not {path.suffix!r}")
    return path


# --- download and cache ---------------------------------------------------------------------------


def _download(
    query: dict[str, Any],
    place_list: list[str] | None,
    polygon,
    bbox,
    subdistrict: str | None,
    tags: dict,
    refresh: bool,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, Any]]:
    """Boundaries from Nominatim, features from Overpass; the raw layers and the cache record."""
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError

    label = "; ".join(place_list) if place_list else (f"bbox {list(bbox)}" if bbox is not None else "the given polygon")
    use_our_http_cache()
    rows: list[dict[str, Any]] = []
    with osmnx_http_cache(enabled=not refresh):
        if place_list:
            for place in place_list:
                found = _boundary(place, label)
                if found is None:
                    raise NetworkError(
                        f"OpenStreetMap's geocoder found no boundary polygon for {place!r}; check the "
                        "spelling (e.g. '回民区, 呼和浩特市'), or pass polygon= or bbox= instead"
                    )
                rows.append({"role": "district", "query": place, **found})
        else:
            shape = shapely.box(*bbox) if bbox is not None else polygon
            rows.append(
                {"role": "query", "query": label, "name": None, "osm_type": None, "osm_id": None, "geometry": shape}
            )
        area = shapely.union_all([r["geometry"] for r in rows])
        try:
            features = ox.features_from_polygon(area, tags)
        except InsufficientResponseError:
            raise NetworkError(f"OpenStreetMap has no features tagged {tags} in {label}") from None
        except Exception as exc:  # connection, HTTP and malformed-answer errors all end here
            raise NetworkError(_unreachable(label, exc)) from exc
        sub = _boundary(subdistrict, label) if subdistrict is not None else None
    if sub is not None:
        rows.append({"role": "subdistrict", "query": subdistrict, **sub})
    raw = _raw_polygons(features)
    if raw.empty:
        raise NetworkError(f"OpenStreetMap has no residential polygons (tags {tags}) in {label}, only points or lines")
    boundaries = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    record = {
        "label": label,
        "query": query,
        "downloaded": date.today().isoformat(),
        "source": f"OpenStreetMap via Nominatim and Overpass (osmnx {ox.__version__})",
        "snapshot_basis": "download date (Overpass serves current data)",
        "subdistrict_found": sub is not None,
        "areas_downloaded": len(raw),
        "boundaries": [{k: r[k] for k in ("role", "query", "name", "osm_type", "osm_id")} for r in rows],
        "licence": OSM_ATTRIBUTION,
    }
    return raw, boundaries, record


def _boundary(query: str, label: str) -> dict[str, Any] | None:
    """Nominatim's boundary polygon for a query (name, OSM id, geometry), or None when it has none."""
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError

    try:
        found = ox.geocode_to_gdf(query)
    except (InsufficientResponseError, TypeError):  # no result, or only a point: osmnx's TypeError
        return None
    except Exception as exc:  # connection and HTTP errors
        raise NetworkError(_unreachable(label, exc)) from exc
    first = found.iloc[0]
    name = first.get("name")
    return {
        "name": name if isinstance(name, str) and name else query.split(",")[0].strip(),
        "osm_type": first.get("osm_type"),
        "osm_id": _int_or_none(first.get("osm_id")),
        "geometry": first.geometry,
    }


def _unreachable(label: str, exc: Exception) -> str:
    return (
        f"could not download residential areas for {label} ({type(exc).__name__}: {exc}); no internet, or the "
        "OpenStreetMap servers failed, and nothing is cached for this query yet: run once online, or give "
        "demand as a place file"
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _raw_polygons(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygon features as cached: OSM type and id, names, all tags as JSON, geometry."""
    frame = features.reset_index()
    frame = frame[frame.geometry.geom_type.isin(_POLYGONAL)]
    tag_columns = [c for c in frame.columns if c not in ("element", "id", "geometry", "nodes", "ways", "members")]

    records = [
        {
            "osm_type": row["element"],
            "osm_id": int(row["id"]),
            "name": _text(row.get("name")),
            "name_zh": _text(row.get("name:zh")),
            "osm_tags": json.dumps(
                {k: row[k] for k in tag_columns if isinstance(row[k], str)}, ensure_ascii=False, sort_keys=True
            ),
            "geometry": row.geometry,
        }
        for _, row in frame.iterrows()
    ]
    columns = ["osm_type", "osm_id", "name", "name_zh", "osm_tags", "geometry"]
    return gpd.GeoDataFrame(pd.DataFrame(records, columns=columns), geometry="geometry", crs="EPSG:4326")


def _text(value: Any) -> str | None:
    """A tag's text, or None when absent (osmnx and GeoPackage give NaN or None)."""
    return (value.strip() or None) if isinstance(value, str) else None


def _read_cache(gpkg: Path, record_path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, Any]] | None:
    """The cached layers and record, or None when absent, unreadable or not matching each other."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("sha256") != file_sha256(gpkg):
            return None
        raw = gpd.read_file(gpkg, layer="areas")
        boundaries = gpd.read_file(gpkg, layer="boundaries")
    except Exception:  # noqa: BLE001 - anything unreadable is downloaded again
        return None
    raw["osm_id"] = raw["osm_id"].astype(np.int64)
    return raw, boundaries, record


# --- from raw polygons to one row per area -------------------------------------------------------


def _areas_from_raw(
    raw: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, min_area_m2: float
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    frame = raw.copy()
    frame["id"] = frame["osm_type"] + "/" + frame["osm_id"].astype(str)
    given = [_text(zh) or _text(name) for zh, name in zip(frame["name_zh"], frame["name"], strict=True)]
    frame["named"] = [g is not None for g in given]
    frame["name"] = [g if ok else f"{UNNAMED} {i}" for g, ok, i in zip(given, frame["named"], frame["id"], strict=True)]
    frame["area_m2"] = [_geodesic_area_m2(g) for g in frame.geometry]
    frame = frame[frame["area_m2"] >= min_area_m2].sort_values(["osm_type", "osm_id"]).reset_index(drop=True)
    keep, dropped = _deduplicate(frame)
    frame = frame[keep].reset_index(drop=True)
    frame["district"] = _label_by_overlap(frame, boundaries[boundaries["role"] == "district"], minimum=0.0)
    frame["subdistrict"] = _label_by_overlap(frame, boundaries[boundaries["role"] == "subdistrict"], minimum=0.5)
    frame["status"] = "real"
    frame["source"] = "OpenStreetMap"
    columns = [
        "id",
        "osm_type",
        "osm_id",
        "name",
        "named",
        "district",
        "subdistrict",
        "area_m2",
        "status",
        "source",
        "geometry",
    ]
    return gpd.GeoDataFrame(frame[columns], geometry="geometry", crs="EPSG:4326"), dropped


def _geodesic_area_m2(geom) -> float:
    """Area on the WGS-84 ellipsoid; orienting rings makes holes subtract."""
    return abs(_GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def _metric(frame: gpd.GeoDataFrame) -> np.ndarray:
    centre = frame.geometry.union_all().centroid
    return frame.geometry.to_crs(utm_crs_for(centre.x, centre.y)).values


def _deduplicate(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Which areas to keep, and why the others went (see `residential_areas`)."""
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    dropped: list[dict[str, Any]] = []
    if n < 2:
        return keep, dropped
    geoms = _metric(frame)
    area = shapely.area(geoms)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    overlap = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    named = frame["named"].to_numpy()
    building = np.array(["building" in json.loads(tags) for tags in frame["osm_tags"]])
    ids = frame["id"].tolist()

    def drop(i: int, j: int, reason: str) -> None:
        if keep[i]:
            keep[i] = False
            dropped.append({"id": ids[i], "name": frame["name"].iat[i], "reason": reason, "kept": ids[j]})

    share_left, share_right = overlap / area[left], overlap / area[right]
    twins = (share_left >= NESTED_SHARE) & (share_right >= NESTED_SHARE)
    # Mapped twice: keep the named one, else the lower (osm_type, osm_id); frame is sorted that way.
    for i, j in zip(left[twins], right[twins], strict=True):
        if keep[i] and keep[j]:
            loser, winner = (i, j) if named[j] and not named[i] else (j, i)
            drop(loser, winner, "the same area mapped twice")
    nested = ~twins & ((share_left >= NESTED_SHARE) | (share_right >= NESTED_SHARE))
    pairs = [(i, j) if area[i] <= area[j] else (j, i) for i, j in zip(left[nested], right[nested], strict=True)]
    # A named compound inside an unnamed area: the container is generic residential land (a zone).
    compound_in_zone = {(i, o) for i, o in pairs if named[i] and not named[o] and not (building[i] and not building[o])}
    for outer in sorted({o for _, o in compound_in_zone}):
        inside = [i for i, o in compound_in_zone if o == outer]
        covered = shapely.area(shapely.intersection(shapely.union_all(geoms[inside]), geoms[outer])) / area[outer]
        if covered >= ZONE_COVERED_SHARE:  # else its unmapped housing is demand too: keep zone and compounds
            drop(outer, inside[0], "unnamed residential zone mostly covered by named compounds")
    for inner, outer in sorted(pairs, key=lambda p: (-area[p[1]], p[1], p[0])):
        if keep[inner] and keep[outer] and (inner, outer) not in compound_in_zone:
            drop(inner, outer, "inside another area (a part of it)")
    return keep, dropped


def _label_by_overlap(frame: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, *, minimum: float) -> list[str | None]:
    """Name of the boundary holding the largest share of each area (above ``minimum``), else None."""
    if boundaries.empty or frame.empty:
        return [None] * len(frame)
    geoms = frame.geometry.values
    shares = np.column_stack(
        [
            shapely.area(shapely.intersection(geoms, shapely.make_valid(b))) / shapely.area(geoms)
            for b in boundaries.geometry
        ]
    )
    best = shares.argmax(axis=1)
    names = boundaries["name"].tolist()
    return [names[k] if shares[r, k] > minimum else None for r, k in enumerate(best)]
