"""Catch the commonest coordinate mistake in China: GCJ-02 points declared as WGS-84.

Coordinates picked on Gaode or Tencent maps are GCJ-02, shifted 300–700 m
from OSM's WGS-84. Declared WGS-84, they snap to the wrong streets. If
reading them as GCJ-02 brings them much closer to the walking network, they
almost certainly are GCJ-02.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from coverage_planner.access.snapping import snap_points
from coverage_planner.network.graph import WalkNetwork
from coverage_planner.places import china


class CoordinateWarning(UserWarning):
    """Places whose coordinates look like they are in another coordinate system."""


@dataclass(frozen=True)
class CrsCheck:
    """Median distance from places to the network as given, and if they were GCJ-02.

    Parameters
    ----------
    median_snap_m : float
        Median distance from the places, read as WGS-84, to the nearest walkable way.
    median_snap_if_gcj02_m : float
        The same, with the places read as GCJ-02.
    places_checked : int
        How many places lie in China and were compared.

    Attributes
    ----------
    looks_like_gcj02 : bool
        Whether the places are probably GCJ-02.
    """

    median_snap_m: float
    median_snap_if_gcj02_m: float
    places_checked: int

    @property
    def looks_like_gcj02(self) -> bool:
        """True when reading the points as GCJ-02 halves the median snap distance (and it was not small).

        Points a planner picks (gates, entrances, studio doors) lie on or
        beside streets, so a sharp drop is a strong signal; building centres
        in a dense grid are near some street either way and rarely trigger it.
        """
        return self.median_snap_m > 10.0 and self.median_snap_if_gcj02_m < 0.5 * self.median_snap_m


def check_gcj02(network: WalkNetwork, lonlat: np.ndarray) -> CrsCheck | None:
    """Compare snap distances of WGS-84 points as given and shifted as if they were GCJ-02.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    lonlat : ndarray of float, shape (n, 2)
        The places as declared (WGS-84 lon/lat).

    Returns
    -------
    CrsCheck or None
        None when fewer than 5 points lie in China (the shift is zero outside China).
    """
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    in_china = china.in_china(lonlat[:, 0], lonlat[:, 1])
    if in_china.sum() < 5:
        return None
    points = lonlat[in_china]
    as_given = snap_points(network, points, max_snap_m=np.inf).leg_m
    lon, lat = china.gcj02_to_wgs84(points[:, 0], points[:, 1])
    if_gcj = snap_points(network, np.column_stack([lon, lat]), max_snap_m=np.inf).leg_m
    return CrsCheck(float(np.median(as_given)), float(np.median(if_gcj)), int(len(points)))


def warn_if_gcj02(network: WalkNetwork, lonlat: np.ndarray, label: str) -> str | None:
    """Warn (and return the message) when the places in ``label`` look like GCJ-02 declared as WGS-84.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    lonlat : ndarray of float, shape (n, 2)
        The places as declared (WGS-84 lon/lat).
    label : str
        Names the places in the message (a file, or "sites").

    Returns
    -------
    str or None
        The message of the `CoordinateWarning` issued, or None when none was.
    """
    result = check_gcj02(network, lonlat)
    if result is None or not result.looks_like_gcj02:
        return None
    message = (
        f"{label}: the places lie a median {result.median_snap_m:.0f} m from the walking network, but only "
        f"{result.median_snap_if_gcj02_m:.0f} m if read as GCJ-02 (Gaode/Tencent coordinates). They are probably "
        f'GCJ-02: set 坐标系/crs = gcj02 in the file (or crs = "gcj02" in the scenario).'
    )
    warnings.warn(message, CoordinateWarning, stacklevel=2)
    return message
