"""ui.figures: the plotted numbers are the method's numbers, checked against the formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mp_core import MotionParams
from mp_core.metrics import difference_histogram
from ui.figures import (
    attention_surface_figure,
    pipeline_figure,
    pn_curve_figure,
    variation_figure,
)


def test_histogram_counts_every_value_once() -> None:
    diff = torch.randn(4, 8, 8).clamp(-1, 1)
    hist = difference_histogram(diff, bins=51)
    assert hist.counts.sum() == diff.numel()
    expected, _ = np.histogram(diff.numpy(), bins=51, range=(-1, 1))
    assert np.abs(hist.counts - expected).sum() <= 2  # float edge rounding may move a value by a bin


def test_pn_curve_is_the_sigmoid_with_shift_marked() -> None:
    params = MotionParams(0.8916, -0.2543)  # UCF-Crime
    slope, shift = 11.891104, -0.149374  # by hand: 5 / (0.45 tanh 0.8916 + 0.1), 0.6 tanh(-0.2543)
    hist = difference_histogram(torch.tensor([0.0, 0.1, -0.1]), bins=11)
    fig = pn_curve_figure(params, hist)
    bars, curve = fig.data
    assert list(bars.y) == pytest.approx([0] * 4 + [1 / 3] * 3 + [0] * 4)  # share of pixels per bin
    assert np.allclose(curve.y, 1 / (1 + np.exp(-slope * (np.asarray(curve.x) - shift))), atol=1e-6)
    assert min(curve.x) <= -0.6 and max(curve.x) >= 0.6  # the whole reachable range of the shift
    shift_lines = [shape for shape in fig.layout.shapes if shape.x0 == shape.x1]
    assert [line.x0 for line in shift_lines] == [pytest.approx(shift, abs=1e-6)]


def test_several_curves_share_one_chart() -> None:
    fig = pn_curve_figure({"A": MotionParams(0, 0), "B": MotionParams(1, 1)})
    assert [trace.name for trace in fig.data] == ["A", "B"]
    assert len(fig.layout.shapes) == 2


def test_variation_figure_marks_the_mean() -> None:
    fig = variation_figure(torch.tensor([0.1, 0.2, 0.6]), mean=0.3)
    assert list(fig.data[0].y) == pytest.approx([0.1, 0.2, 0.6])
    assert fig.layout.shapes[0].y0 == 0.3


def test_surface_downsamples_by_area() -> None:
    attention = torch.zeros(4, 8)
    attention[:, :4] = 1.0
    z = attention_surface_figure(attention, max_side=4).data[0].z
    assert np.array_equal(z, [[1, 1, 0, 0], [1, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        attention_surface_figure(torch.zeros(2, 2, 2))


def test_pipeline_has_one_image_per_stage() -> None:
    image = np.zeros((6, 8, 3), dtype=np.uint8)
    fig = pipeline_figure([("X", image), ("D", image), ("A", image)])
    assert [trace.type for trace in fig.data] == ["image"] * 3
    assert [a.text for a in fig.layout.annotations] == ["X", "D", "A"]
