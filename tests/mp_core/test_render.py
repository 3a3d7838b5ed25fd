"""mp_core.render: colormaps match matplotlib, the difference range is symmetric, images round-trip."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from mp_core.errors import ShapeError
from mp_core.viz import render


def test_colormap_matches_matplotlib_at_quantized_levels() -> None:
    values = torch.tensor([0.0, 0.25, 0.5, 1.0])
    expected = matplotlib.colormaps["viridis"](np.round(values.numpy() * 255).astype(int), bytes=True)[:, :3]
    assert np.array_equal(render.apply_colormap(values, "viridis", 0.0, 1.0).numpy(), expected)


def test_difference_is_centred_on_zero_with_symmetric_range() -> None:
    diff = torch.tensor([[-0.2, 0.0, 0.4]])
    image = render.difference_image(diff)
    table = matplotlib.colormaps["RdBu_r"](np.arange(256), bytes=True)[:, :3]  # red up, blue down
    # limit = 0.4: -0.2 sits at a quarter of the bar, 0 in the middle, 0.4 at the end
    assert np.array_equal(image[0].numpy(), table[[round(255 * 0.25), 128, 255]])
    mirrored = render.difference_image(-diff, limit=0.4)
    assert np.array_equal(mirrored[0, 0].numpy(), table[round(255 * 0.75)])


def test_attention_range_is_fixed_and_clipped() -> None:
    out = render.attention_image(torch.tensor([[-1.0, 0.0, 1.0, 2.0]]), cmap="gray")
    assert out[0, :, 0].tolist() == [0, 0, 255, 255]


def test_frames_to_uint8_is_channels_last_and_leaves_input_alone() -> None:
    frames = torch.rand(2, 3, 5, 7)
    version = frames._version
    out = render.frames_to_uint8(frames)
    assert out.shape == (2, 5, 7, 3) and out.dtype == torch.uint8
    assert frames._version == version
    assert torch.equal(out[1, 4, 6], (frames[1, :, 4, 6] * 255).round().to(torch.uint8))


def test_attention_colours_are_viridis() -> None:
    table = matplotlib.colormaps["viridis"](np.arange(256), bytes=True)[:, :3]
    image = render.attention_image(torch.tensor([[0.0, 0.5, 1.0]]))
    assert np.array_equal(image[0].numpy(), table[[0, 128, 255]])  # round(0.5 * 255) = 128


def test_overlay_formula_and_shape_check() -> None:
    generator = np.random.default_rng(0)
    frame = generator.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    attention = generator.random((4, 6), dtype=np.float32)
    table = matplotlib.colormaps["viridis"](np.arange(256), bytes=True)[:, :3]
    colours = table[np.round(attention * 255).astype(int)]
    expected = np.round(0.7 * frame + 0.3 * colours).astype(np.uint8)
    out = render.overlay(torch.from_numpy(frame), torch.from_numpy(attention), alpha=0.3).numpy()
    assert np.abs(out.astype(int) - expected).max() <= 1  # float32 against float64 at .5 ties
    assert (out == expected).mean() > 0.95
    with pytest.raises(ValueError, match="must match"):
        render.overlay(torch.from_numpy(frame), torch.from_numpy(attention[:3]))


def test_png_round_trip() -> None:
    image = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(render.to_png(torch.from_numpy(image)))))
    assert np.array_equal(decoded, image)
    with pytest.raises(ValueError, match="uint8"):
        render.to_png(image.astype(np.float32))


def test_colorbar_runs_from_first_to_last_colour() -> None:
    bar = render.colorbar_image("RdBu_r", width=64, height=5)
    table = matplotlib.colormaps["RdBu_r"](np.arange(256), bytes=True)[:, :3]
    assert bar.shape == (5, 64, 3)
    assert np.array_equal(bar[0, 0], table[0]) and np.array_equal(bar[4, -1], table[255])


def test_side_by_side_layout() -> None:
    a = torch.full((3, 4, 5, 3), 10, dtype=torch.uint8)
    b = torch.full((3, 6, 2, 3), 20, dtype=torch.uint8)
    out = render.side_by_side([a, b], gap=3)
    assert out.shape == (3, 6, 10, 3)
    assert (out[:, :4, :5] == 10).all() and (out[:, :, 8:] == 20).all()
    assert (out[:, :, 5:8] == 255).all() and (out[:, 4:, :5] == 255).all()
    with pytest.raises(ShapeError, match="same T"):
        render.side_by_side([a, b[:2]])
