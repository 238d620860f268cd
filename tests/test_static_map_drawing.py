"""The printed map's street and band strokes: drawn as a few compound paths, they must look like one line per street."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection

from coverage_planner.outputs.static_map import POLYLINES_PER_PATH, polylines


def _pixels(net, draw) -> np.ndarray:
    coords = net.metric_coords
    fig = plt.figure(figsize=(4, 4), dpi=150)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(coords[:, 0].min(), coords[:, 0].max())
    ax.set_ylim(coords[:, 1].min(), coords[:, 1].max())
    ax.set_axis_off()
    draw(ax)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    plt.close(fig)
    return image


@pytest.mark.parametrize("width_pt", [0.55, 3.0])
def test_compound_street_paths_paint_what_one_line_per_street_paints(monaco, width_pt):
    net = monaco
    offsets = net.coord_offsets
    segments = [net.metric_coords[offsets[e] : offsets[e + 1]] for e in range(len(offsets) - 1)]
    assert len(segments) > 10 * POLYLINES_PER_PATH  # many compound paths, the last one partly filled
    colour = "#8c8c8c"

    expected = _pixels(
        net,
        lambda ax: ax.add_collection(LineCollection(segments, colors=colour, linewidths=width_pt, capstyle="round")),
    )
    got = _pixels(net, lambda ax: ax.add_collection(polylines(ax, segments, colour, width_pt, zorder=1), autolim=False))

    painted = (expected != 255).any(axis=2)
    assert painted.mean() > 0.02  # the streets cover a real share of the picture
    difference = np.abs(got - expected).max(axis=2)
    # Only anti-aliased rims where strokes overlap may differ (one stroke painted once instead of twice).
    assert difference.max() <= 48
    assert (difference > 24).sum() < 0.01 * painted.sum()
    missing = _pixels(
        net,
        lambda ax: ax.add_collection(polylines(ax, segments[::2], colour, width_pt, zorder=1), autolim=False),
    )
    assert (np.abs(missing - expected).max(axis=2) > 48).mean() > 1e-3  # the check sees half the streets gone


def test_polylines_skip_single_points_and_keep_each_line_apart():
    fig = plt.figure(figsize=(2, 2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    lines = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[5.0, 5.0]]), np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 2.0]])]
    collection = polylines(ax, lines, "#000000", 1.0, zorder=2)
    (path,) = collection.get_paths()
    # Two lines: each starts with a move, so the pen never draws from (1, 0) to (0, 1).
    assert path.codes.tolist() == [1, 2, 1, 2, 2]
    assert path.vertices.tolist() == [[0, 0], [1, 0], [0, 1], [1, 1], [1, 2]]
    assert collection.get_capstyle() == "round" and collection.get_joinstyle() == "round"
    plt.close(fig)
