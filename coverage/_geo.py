"""Small geodesy helpers shared by the network and snapping code."""

from __future__ import annotations

import numpy as np
import pyproj

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), as osmnx uses


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres between arrays of WGS-84 points."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def polyline_lengths_m(coords: list[np.ndarray]) -> np.ndarray:
    """Great-circle length of each (k, 2) lon/lat polyline, vectorised over all of them."""
    if not coords:
        return np.zeros(0)
    counts = np.fromiter((len(c) for c in coords), dtype=np.int64, count=len(coords))
    xy = np.concatenate(coords)
    seg = haversine_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    # Segments that straddle two polylines are not real: mask them out.
    ends = np.cumsum(counts)[:-1] - 1
    seg[ends] = 0.0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.add.reduceat(seg, starts) if len(seg) else np.zeros(len(coords))


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The UTM zone CRS that contains a WGS-84 point (metres, conformal)."""
    zone = int((lon + 180) // 6) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
