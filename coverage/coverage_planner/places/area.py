"""Check that places lie where the walking network is (and catch swapped lon/lat)."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from coverage_planner._errors import DataError, InputError, InputErrors
from coverage_planner._geo import place_points
from coverage_planner.places import china

_METRES_PER_DEGREE = 111_320.0


def check_within_area(
    places: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    *,
    path: str | Path | None = None,
    margin_m: float = 2000.0,
) -> None:
    """Check that every place lies within the walking network's area.

    A place far outside the network would snap to some distant edge and give
    a meaningless walk time, so it is an input error. When swapping a row's
    longitude and latitude would put it inside, the message says "lon/lat
    look swapped".

    Parameters
    ----------
    places : geopandas.GeoDataFrame
        Result of :func:`read_places` (point geometries in EPSG:4326).
    bounds : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` of the walking network.
    path : str or pathlib.Path, optional
        The places' file, named in messages.
    margin_m : float
        Tolerance around the bounds, in metres.

    Raises
    ------
    InputErrors
        One error per place outside, naming its source row.
    """
    min_lon, min_lat, max_lon, max_lat = map(float, bounds)
    if not (min_lon <= max_lon and min_lat <= max_lat):
        raise DataError(f"bounds must be (min_lon, min_lat, max_lon, max_lat), got {bounds}")
    if len(places) == 0:
        return
    metres_per_lon = _METRES_PER_DEGREE * math.cos(math.radians((min_lat + max_lat) / 2))
    box = (
        min_lon - margin_m / metres_per_lon,
        min_lat - margin_m / _METRES_PER_DEGREE,
        max_lon + margin_m / metres_per_lon,
        max_lat + margin_m / _METRES_PER_DEGREE,
    )
    geoms = places.geometry
    if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs(4326)
    points = place_points(geoms.array)
    x, y = shapely.get_x(points), shapely.get_y(points)
    inside = _in_box(x, y, box)
    if inside.all():
        return
    swapped = _in_box(y, x, box)
    rows = places["source_row"].to_numpy() if "source_row" in places else np.arange(len(places)) + 2
    away_x = np.maximum.reduce([min_lon - x, x - max_lon, np.zeros_like(x)]) * metres_per_lon
    away_y = np.maximum.reduce([min_lat - y, y - max_lat, np.zeros_like(y)]) * _METRES_PER_DEGREE
    away_km = np.hypot(away_x, away_y) / 1000
    area = f"({min_lon:.4f}, {min_lat:.4f}, {max_lon:.4f}, {max_lat:.4f})"
    errors = []
    if not inside.any():  # one clear hint before the row-by-row list
        errors.append(
            InputError(
                path,
                f"none of the {len(places)} places lies within the walking "
                f"network's area {area}: is it the right file, network or CRS?",
            )
        )
    # A network in China with a place outside China: say so plainly (a typo, or the wrong file).
    chinese = bool(china.in_china((min_lon + max_lon) / 2, (min_lat + max_lat) / 2))
    in_china = china.in_china(np.clip(x, -180, 180), np.clip(y, -90, 90)) if chinese else np.ones(len(x), bool)
    for i in np.flatnonzero(~inside):
        where = f"({x[i]:.6f}, {y[i]:.6f})"
        if swapped[i]:
            message = f"lon/lat look swapped: {where} is outside the walking network's area, swapped it is inside"
        elif not in_china[i]:
            message = f"{where} lies outside China, but the walking network is in China {area}: check the coordinates"
        else:
            message = f"{where} is {away_km[i]:.1f} km outside the walking network's area {area}"
        errors.append(InputError(path, message, row=int(rows[i]), field="lon/lat"))
    raise InputErrors(errors)


def _in_box(x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
