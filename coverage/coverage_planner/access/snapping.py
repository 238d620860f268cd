"""Snap places to the nearest walkable edge.

A place joins the network at the closest point of the closest edge (not the
closest node), so two compounds on one long street get different walk
times. The straight "access leg" from the place to that point is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import shapely

from coverage_planner.network.graph import WalkNetwork
from coverage_planner.settings import DEFAULT_MAX_SNAP_M


@dataclass(frozen=True)
class Snap:
    """Where each place joins the network (arrays aligned with the places).

    Parameters
    ----------
    edge : ndarray of int
        Index of the edge snapped to, -1 when farther than ``max_snap_m``.
    from_u_m, to_v_m : ndarray of float
        Distance along the edge from its u end / to its v end (NaN when not snapped).
    leg_m : ndarray of float
        Straight-line distance from the place to the nearest edge (for an
        unsnapped place too: how far off the network it is).
    component : ndarray of int
        Network component of the edge (-1 when not snapped).
    point_lonlat : ndarray of float, shape (n, 2)
        The snap point on the edge, lon/lat (NaN when not snapped).

    Attributes
    ----------
    snapped : ndarray of bool
        Whether each place joins the network.
    """

    edge: np.ndarray
    from_u_m: np.ndarray
    to_v_m: np.ndarray
    leg_m: np.ndarray
    component: np.ndarray
    point_lonlat: np.ndarray  # (n, 2) snap point on the edge

    @property
    def snapped(self) -> np.ndarray:
        """Whether each place joins the network (its edge is not -1)."""
        return self.edge >= 0

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, indices: np.ndarray) -> Snap:
        """The snaps of a subset of places, in the given order.

        Parameters
        ----------
        indices : ndarray of int or bool
            Positions (or a mask) of the places to keep.

        Returns
        -------
        Snap
            One entry per selected place.
        """
        return Snap(*(getattr(self, f)[indices] for f in SNAP_FIELDS))

    @classmethod
    def concat(cls, snaps: list[Snap]) -> Snap:
        """The snaps of several sets of places, one after the other.

        Parameters
        ----------
        snaps : list of Snap
            Snaps on the same network.

        Returns
        -------
        Snap
            Their entries, in the order given.
        """
        return cls(*(np.concatenate([getattr(s, f) for s in snaps]) for f in SNAP_FIELDS))

    def fingerprints(self) -> np.ndarray:
        """One hex key per place of where it joins the network (edge, offsets, leg).

        Returns
        -------
        ndarray of str
            Equal keys for equal snaps (offsets and leg rounded to 1e-6 m).
        """
        rows = np.column_stack(
            [
                self.edge.astype(float),
                np.round(np.nan_to_num(self.from_u_m, nan=-1), 6),
                np.round(np.nan_to_num(self.to_v_m, nan=-1), 6),
                np.round(np.nan_to_num(self.leg_m, nan=-1), 6),
            ]
        )
        # The row's own 32 bytes in hex: unique per snap, and no hashing needed.
        return np.array([r.tobytes().hex() for r in rows])

    def to_frame(self) -> pd.DataFrame:
        """Snap details as columns (for tables and QA).

        Returns
        -------
        DataFrame
            Columns ``snap_edge``, ``snap_m``, ``off_network`` and ``component``, one row per place.
        """
        return pd.DataFrame(
            {
                "snap_edge": self.edge,
                "snap_m": self.leg_m,
                "off_network": ~self.snapped,
                "component": self.component,
            }
        )


#: The arrays of a `Snap`, in order.
SNAP_FIELDS = tuple(f.name for f in fields(Snap))

# Below this many points, scanning edge bounding boxes beats building the edge index.
_FEW_POINTS = 64


def snap_points(network: WalkNetwork, lonlat: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
    """Snap WGS-84 points to their nearest walkable edge.

    Ties between equally near edges go to the lowest edge index, so the
    result is deterministic.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    lonlat : ndarray of float, shape (n, 2)
        Longitude, latitude per place.
    max_snap_m : float, default `settings.DEFAULT_MAX_SNAP_M`
        Places farther than this from every edge are off-network: left
        unsnapped (edge -1), they reach nothing and are never counted as
        covered.

    Returns
    -------
    Snap
        Where each place joins the network.
    """
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    n = len(lonlat)
    x, y = network.to_metric.transform(lonlat[:, 0], lonlat[:, 1])
    points = shapely.points(x, y)
    if n <= _FEW_POINTS and not network.has_edge_index and np.isfinite(max_snap_m):
        edge, leg = _nearest_edges_few(network, points, np.column_stack([x, y]), float(max_snap_m))
    else:
        edge, leg = _nearest_edges_tree(network, points, max_snap_m)
    too_far = leg > max_snap_m
    edge[too_far] = -1
    if np.isinf(leg).any():
        # Off-network places still get their true distance, so reports can say how far off they are.
        far = np.flatnonzero(np.isinf(leg))
        # One answer per place: several edges often share the nearest point (a junction).
        (_, _), far_dist = network.edge_tree.query_nearest(points[far], return_distance=True, all_matches=False)
        leg[far] = far_dist

    ok = edge >= 0
    frac = np.zeros(n)
    snap_xy = np.full((n, 2), np.nan)
    if ok.any():
        lines = network.edge_lines_metric(edge[ok])
        frac[ok] = shapely.line_locate_point(lines, points[ok], normalized=True)
        on_line = shapely.line_interpolate_point(lines, frac[ok], normalized=True)
        snap_xy[ok] = shapely.get_coordinates(on_line)
    # Positions along the edge in true (great-circle) metres, matching edge_length.
    length = np.where(ok, network.edge_length[np.maximum(edge, 0)], 0.0)
    from_u = frac * length
    sx, sy = network.to_wgs84.transform(snap_xy[:, 0], snap_xy[:, 1])
    return Snap(
        edge=edge,
        from_u_m=np.where(ok, from_u, np.nan),
        to_v_m=np.where(ok, length - from_u, np.nan),
        leg_m=leg,
        component=np.where(ok, network.component[network.edge_u[np.maximum(edge, 0)]], -1),
        point_lonlat=np.column_stack([sx, sy]),
    )


def _nearest_edges_tree(network: WalkNetwork, points: np.ndarray, max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest edge (lowest index among equals) and distance per point, through the STRtree; inf when none within the limit."""
    n = len(points)
    # A search radius lets the tree prune; places beyond it stay unsnapped anyway.
    radius = float(max_snap_m) if np.isfinite(max_snap_m) else None
    (place_idx, edge_idx), dist = network.edge_tree.query_nearest(
        points, max_distance=radius, return_distance=True, all_matches=True
    )
    # all_matches lists every equally near edge; keep the lowest edge index per place.
    order = np.lexsort((edge_idx, place_idx))
    place_idx, edge_idx, dist = place_idx[order], edge_idx[order], dist[order]
    first = np.ones(len(place_idx), dtype=bool)
    first[1:] = place_idx[1:] != place_idx[:-1]
    edge = np.full(n, -1, dtype=np.int64)
    leg = np.full(n, np.inf)
    edge[place_idx[first]] = edge_idx[first]
    leg[place_idx[first]] = dist[first]
    return edge, leg


def _nearest_edges_few(
    network: WalkNetwork, points: np.ndarray, xy: np.ndarray, max_snap_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Same answer as `_nearest_edges_tree` for a few points, from edge bounding boxes (no index to build).

    GEOS computes the distances either way, so equal inputs give equal floats.
    """
    bounds = network.edge_bounds_metric
    edge = np.full(len(xy), -1, dtype=np.int64)
    leg = np.full(len(xy), np.inf)
    for i, (px, py) in enumerate(xy):
        dx = np.maximum(np.maximum(bounds[:, 0] - px, px - bounds[:, 2]), 0.0)
        dy = np.maximum(np.maximum(bounds[:, 1] - py, py - bounds[:, 3]), 0.0)
        candidates = np.flatnonzero(dx * dx + dy * dy <= max_snap_m * max_snap_m)
        if len(candidates) == 0:
            continue
        dist = shapely.distance(points[i], network.edge_lines_metric(candidates))
        best = np.argmin(dist)  # first of equals: candidates are in edge order
        if dist[best] <= max_snap_m:
            edge[i], leg[i] = candidates[best], dist[best]
    return edge, leg
