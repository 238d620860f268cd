"""Our PNG writer against PIL's reader: the pixels, the mode and the resolution come back exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from coverage_planner.outputs.png import encode_png


def _read(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every row and checks the chunks' CRCs
    return image


@pytest.mark.parametrize("channels, mode", [(3, "RGB"), (4, "RGBA")])
def test_pil_reads_back_every_pixel_and_the_resolution(channels, mode):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(37, 53, channels), dtype=np.uint8)  # odd sizes: no row padding hides a bug
    image = _read(encode_png(pixels, dpi=200))
    assert image.mode == mode and image.size == (53, 37)
    assert np.array_equal(np.asarray(image), pixels)
    assert image.info["dpi"] == pytest.approx((200, 200), abs=0.01)
    assert set(image.info) == {"dpi"}  # no text, time or software chunk: the same pixels give the same bytes


def test_a_rendered_chart_round_trips_and_is_smaller_than_pils_own_file():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=150)
    ax.plot(np.linspace(0, 10, 400), np.sin(np.linspace(0, 10, 400)))
    ax.set_title("walk minutes")
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    ours = encode_png(pixels, dpi=150)
    theirs = io.BytesIO()
    Image.fromarray(pixels).save(theirs, format="png")
    assert np.array_equal(np.asarray(_read(ours)), pixels)
    assert len(ours) < 1.2 * len(theirs.getvalue())
    assert encode_png(pixels, dpi=150) == ours


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_anything_but_an_8_bit_rgb_or_rgba_picture_is_refused(bad):
    with pytest.raises(ValueError, match="uint8 picture"):
        encode_png(bad, dpi=96)
