"""Small geodesy helpers shared by the network and snapping code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import geopandas as gpd

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), as osmnx uses


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> np.ndarray:
    """Great-circle distance in metres between arrays of WGS-84 points.

    Parameters
    ----------
    lon1, lat1 : array_like of float
        The first points, in degrees.
    lon2, lat2 : array_like of float
        The second points, in degrees; broadcast against the first.

    Returns
    -------
    ndarray of float
        Metres on a sphere of the mean Earth radius.
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def polyline_lengths_m(xy: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Great-circle length of each polyline.

    Parameters
    ----------
    xy : ndarray of float, shape (m, 2)
        The vertices of every polyline, lon/lat, one after another.
    offsets : ndarray of int, shape (n + 1,)
        Polyline i is ``xy[offsets[i]:offsets[i + 1]]``.

    Returns
    -------
    ndarray of float, shape (n,)
        Metres per polyline.
    """
    n = len(offsets) - 1
    if n <= 0:
        return np.zeros(0)
    seg = haversine_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    # Segments that straddle two polylines are not real: mask them out.
    seg[offsets[1:-1] - 1] = 0.0
    return np.add.reduceat(np.append(seg, 0.0), offsets[:-1])


def place_points(geoms: np.ndarray) -> np.ndarray:
    """Where each place is: a point as it is, any other shape by a point on its surface (always inside it).

    Parameters
    ----------
    geoms : ndarray of shapely.Geometry
        The places' geometries.

    Returns
    -------
    ndarray of shapely.Point
        One point per geometry.
    """
    geoms = np.asarray(geoms, dtype=object)
    other = shapely.get_type_id(geoms) != shapely.GeometryType.POINT
    points = geoms.copy()
    if other.any():  # (a point on the surface of each point is that point again: computed for the rest only)
        points[other] = shapely.point_on_surface(geoms[other])
    return points


def place_lonlat(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Lon/lat of each place: the point, or a point on a polygon's surface.

    Parameters
    ----------
    frame : GeoDataFrame
        Places in WGS-84.

    Returns
    -------
    ndarray of float, shape (n, 2)
        Lon/lat per row.
    """
    points = place_points(frame.geometry.array)
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)])


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The UTM zone CRS that contains a WGS-84 point (metres, conformal).

    Parameters
    ----------
    lon, lat : float
        The point, in degrees.

    Returns
    -------
    pyproj.CRS
        The zone's WGS-84 / UTM CRS (EPSG 326xx north, 327xx south).
    """
    zone = int((lon + 180) // 6) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
