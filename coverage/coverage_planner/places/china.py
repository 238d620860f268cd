"""Coordinate systems used in China: GCJ-02 and BD-09 to WGS-84 and back.

Web maps in mainland China do not publish WGS-84 coordinates. Amap (高德),
Tencent and Google's China tiles use GCJ-02 ("Mars coordinates", 火星坐标),
an obfuscated datum shifted from WGS-84 by a few hundred metres; Baidu (百度)
adds a second shift on top of it, BD-09. A site digitised on Amap and drawn
on OpenStreetMap without conversion lands 300-600 m away in Hohhot, which is
most of a 15-minute walk.

The shift formulas come from the ``coordtransform`` package (imported as
``coordTransform``), whose compiled batch functions take NumPy arrays. This
module adds what the package leaves out: it takes and returns arrays of any
shape, inverts the shifts exactly (to about a millimetre) by fixed-point
iteration instead of the package's one-step approximation (up to ~2 m off),
keeps NaN as NaN, and leaves every point outside China unchanged, as GCJ-02
defines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import coordTransform as _ct
import numpy as np
from numpy.typing import ArrayLike, NDArray

from coverage_planner._errors import DataError

__all__ = [
    "CHINA_BOUNDS",
    "CRS_ALIASES",
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "normalize_crs",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Array = NDArray[np.float64]

#: Canonical names of the coordinate systems this module knows.
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

#: Spellings met in Chinese data exports, matched by :func:`normalize_crs`
#: after lower-casing and removing spaces, punctuation and 坐标系/坐标.
#: CGCS2000 (天地图) is within centimetres of WGS-84, so it is taken as WGS-84.
CRS_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["wgs84", "wgs", "epsg4326", "4326", "gps", "osm", "地球", "cgcs2000", "epsg4490", "天地图"],
        "wgs84",
    ),
    **dict.fromkeys(
        ["gcj02", "gcj", "mars", "火星", "国测局", "高德", "amap", "autonavi", "腾讯", "tencent"],
        "gcj02",
    ),
    **dict.fromkeys(["bd09", "bd09ll", "bd", "baidu", "百度"], "bd09"),
}

#: (min_lon, min_lat, max_lon, max_lat) outside which no shift is applied.
#: Mirrors ``coordTransform.out_of_china`` (bounds excluded), so the forward
#: shift and its inverse agree on which points are "in China".
CHINA_BOUNDS: tuple[float, float, float, float] = (73.66, 3.86, 135.05, 53.55)

# Fixed-point iteration of the inverse: the shift's Jacobian differs from the
# identity by < 0.3 %, so each step gains 2-3 digits; 1e-10 deg is ~1 cm.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 10


@functools.lru_cache(maxsize=1024)  # called once per row of a place file
def normalize_crs(name: str) -> str:
    """Return the canonical name ('wgs84', 'gcj02' or 'bd09') of a CRS spelling.

    Matching ignores case, spaces, hyphens, underscores, dots and the words
    坐标系/坐标, so 'WGS-84', 'GCJ02', '火星坐标系', '高德', 'BD-09' and '百度坐标'
    are all recognised.

    Parameters
    ----------
    name : str
        The spelling found in a file or given by the user.

    Returns
    -------
    str
        One of :data:`CRS_NAMES`.

    Raises
    ------
    ValueError
        If the spelling is not recognised; the message lists accepted names.
    """
    key = str(name).strip().lower()
    for junk in (" ", "-", "\uff0d", "_", ".", ":", "坐标系", "坐标"):  # \uff0d: full-width hyphen
        key = key.replace(junk, "")
    found = CRS_ALIASES.get(key)
    if found is None:
        raise DataError(
            f"unknown coordinate system {name!r}; use one of wgs84 (WGS-84, GPS, OSM), "
            "gcj02 (GCJ-02, 火星坐标, 高德, Tencent) or bd09 (BD-09, 百度)"
        )
    return found


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Tell which points lie in the box where GCJ-02 shifts coordinates.

    The box is :data:`CHINA_BOUNDS`, the same rough rectangle the shift
    formulas use; it includes some neighbouring countries, as GCJ-02 does.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray of bool
        True where a point is shifted; False outside the box or for NaN.
    """
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    min_lon, min_lat, max_lon, max_lat = CHINA_BOUNDS
    return (x > min_lon) & (x < max_lon) & (y > min_lat) & (y < max_lat)


def _flat(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array, tuple[int, ...]]:
    """Broadcast to one shape and return flat float copies plus that shape."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return x.ravel().copy(), y.ravel().copy(), x.shape


def _shaped(values: Array, shape: tuple[int, ...]) -> Array:
    """Restore the input shape; a scalar input gives a NumPy scalar back."""
    return values.reshape(shape)[()]


def _apply(func: Callable[..., Any], lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Run a ``coordTransform`` batch function on the points inside China."""
    x, y, shape = _flat(lon, lat)
    inside = in_china(x, y)
    if inside.any():
        new_x, new_y = func(np.ascontiguousarray(x[inside]), np.ascontiguousarray(y[inside]))
        x[inside] = np.asarray(new_x, dtype=float)
        y[inside] = np.asarray(new_y, dtype=float)
    return _shaped(x, shape), _shaped(y, shape)


def _invert(
    forward: Callable[[Array, Array], tuple[Array, Array]],
    lon: ArrayLike,
    lat: ArrayLike,
) -> tuple[Array, Array]:
    """Solve ``forward(x, y) == (lon, lat)`` for the points inside China."""
    tx, ty, shape = _flat(lon, lat)
    x, y = tx.copy(), ty.copy()
    todo = np.flatnonzero(in_china(tx, ty))
    for _ in range(_MAX_ITERATIONS):
        if todo.size == 0:
            break
        fx, fy = forward(x[todo], y[todo])
        dx, dy = fx - tx[todo], fy - ty[todo]
        x[todo] -= dx
        y[todo] -= dy
        todo = todo[(np.abs(dx) >= _TOLERANCE_DEG) | (np.abs(dy) >= _TOLERANCE_DEG)]
    return _shaped(x, shape), _shaped(y, shape)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Shift WGS-84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)`` with the broadcast shape (NumPy scalars for
        scalar input); points outside China and NaN are returned unchanged.
    """
    return _apply(_ct.wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Shift GCJ-02 coordinates to Baidu's BD-09.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are returned unchanged.
    """
    return _apply(_ct.gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Shift WGS-84 coordinates to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; points outside China are returned unchanged.
    """
    return _apply(_ct.wgs84_to_bd09, lon, lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Convert GCJ-02 coordinates to WGS-84, exactly inverting the shift.

    Iterates the forward shift until it reproduces the input to 1e-10 degrees
    (about a centimetre, far below the shift's own noise in published data).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``; points outside China and NaN unchanged.
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Convert BD-09 coordinates to GCJ-02, exactly inverting Baidu's shift.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China and NaN unchanged.
    """
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Convert BD-09 coordinates to WGS-84, exactly inverting both shifts.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees, broadcast together.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``; points outside China and NaN unchanged.
    """
    return _invert(wgs84_to_bd09, lon, lat)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | ArrayLike) -> tuple[Array, Array]:
    """Convert coordinates in any of :data:`CRS_NAMES` to WGS-84.

    ``crs`` may be one name for all points or one name per point, so a file
    whose rows mix Amap and Baidu coordinates converts in one call.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees, one-dimensional or scalar.
    crs : str or array_like of str
        Coordinate system of every point, or of each point; any spelling
        :func:`normalize_crs` accepts.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``.

    Raises
    ------
    ValueError
        If a CRS name is not recognised.
    """
    x, y, shape = _flat(lon, lat)
    if isinstance(crs, str):
        names = np.full(x.shape, normalize_crs(crs), dtype=object)
    else:
        raw = np.broadcast_to(np.asarray(crs, dtype=object), shape).ravel()
        names = np.array([normalize_crs(str(c)) for c in raw], dtype=object)
    for name, convert in (("gcj02", gcj02_to_wgs84), ("bd09", bd09_to_wgs84)):
        mask = names == name
        if mask.any():
            x[mask], y[mask] = convert(x[mask], y[mask])
    return _shaped(x, shape), _shaped(y, shape)
