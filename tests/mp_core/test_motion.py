"""mp_core.motion: hand-computed cases, shapes, errors, dtypes, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from mp_core import (
    InputError,
    MotionParams,
    ShapeError,
    attention_variation,
    frame_difference,
    motion_intermediates,
    motion_prompt,
    power_normalization,
    rgb_to_gray,
    temporal_attention_variation,
)

pytestmark = pytest.mark.filterwarnings("error")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_gray_weights_by_hand() -> None:
    pixel = torch.tensor([[0.2, 0.4, 0.6], [1.0, 0.0, 0.0]]).view(2, 3, 1, 1)
    gray = rgb_to_gray(pixel).flatten().tolist()
    assert gray == pytest.approx([0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6, 0.299], abs=1e-7)


def test_gray_of_white_is_one_and_leading_dims_kept() -> None:
    frames = torch.ones(2, 5, 3, 4, 6)
    gray = rgb_to_gray(frames)
    assert gray.shape == (2, 5, 4, 6)
    assert torch.allclose(gray, torch.ones_like(gray))


def test_difference_is_signed_later_minus_earlier() -> None:
    gray = torch.tensor([0.1, 0.7, 0.2, 0.2]).view(4, 1, 1).expand(4, 2, 3)
    diff = frame_difference(gray)
    assert diff.shape == (3, 2, 3)
    assert diff[:, 0, 0].tolist() == pytest.approx([0.6, -0.5, 0.0])


def test_power_normalization_matches_formula() -> None:
    params = MotionParams(m=0.257, n=0.053)
    a, b = params.slope, params.shift
    diff = torch.tensor([-0.3, -0.01, 0.0, 0.02, 0.5], dtype=torch.float64)
    got = power_normalization(diff, a, b).tolist()
    want = [sigmoid(a * (d - b)) for d in diff.tolist()]
    assert got == pytest.approx(want, abs=1e-12)


def test_power_normalization_tensor_parameters_broadcast() -> None:
    diff = torch.zeros(2, 3)
    slope = torch.tensor([[10.0], [20.0]])
    out = power_normalization(diff, slope, torch.tensor(0.1))
    assert out[0, 0].item() == pytest.approx(sigmoid(-1.0))
    assert out[1, 0].item() == pytest.approx(sigmoid(-2.0))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_power_normalization_half_precision_close_and_dtype_kept(dtype: torch.dtype) -> None:
    diff = torch.linspace(-0.6, 0.6, 101)
    ref = power_normalization(diff, 50.0, 0.05)
    out = power_normalization(diff.to(dtype), 50.0, 0.05)
    assert out.dtype == dtype
    tol = 1e-2 if dtype == torch.bfloat16 else 2e-3
    assert torch.allclose(out.float(), ref, atol=tol)


def test_prompt_scales_every_channel_of_the_later_frame() -> None:
    frames = torch.arange(2 * 3 * 1 * 2, dtype=torch.float32).view(2, 3, 1, 2) / 10
    attention = torch.tensor([[[0.5, 0.25]]])
    prompt = motion_prompt(attention, frames)
    assert prompt.shape == (1, 3, 1, 2)
    expected = frames[1] * torch.tensor([0.5, 0.25]).view(1, 1, 2)
    assert torch.allclose(prompt[0], expected)


def test_prompt_rejects_mismatched_attention() -> None:
    with pytest.raises(ShapeError, match=r"\[3, 4, 4\].*got \[2, 4, 4\]"):
        motion_prompt(torch.zeros(2, 4, 4), torch.zeros(4, 3, 4, 4))


def test_variation_by_hand() -> None:
    attention = torch.zeros(3, 2, 2)
    attention[1, 0, 0] = 1.0  # one pixel switches on then off again
    attention[2] = 0.5
    per_pair = attention_variation(attention)
    # step 0->1: one pixel of 4 changes by 1 -> 1/4; step 1->2: 0.25 + 3*0.25... by hand:
    # A2-A1 = [[-0.5, 0.5], [0.5, 0.5]] -> squares sum 1.0 -> /4 = 0.25
    assert per_pair.tolist() == pytest.approx([0.25, 0.25])
    assert temporal_attention_variation(attention).item() == pytest.approx(0.25)


def test_regulariser_normalisation_over_batch_and_pairs() -> None:
    torch.manual_seed(0)
    attention = torch.rand(2, 4, 3, 5)  # B=2, T-1=4, H=3, W=5
    total = sum(((attention[b, t + 1] - attention[b, t]) ** 2).sum() for b in range(2) for t in range(3))
    want = total / (2 * 3 * 5 * (5 - 2))
    assert temporal_attention_variation(attention).item() == pytest.approx(want.item(), rel=1e-6)


def test_two_frames_have_zero_variation_not_nan() -> None:
    frames = torch.rand(2, 3, 4, 4)
    out = motion_intermediates(frames, MotionParams(0.3, 0.1))
    assert out.variation.shape == (0,)
    assert out.variation_mean.item() == 0.0


def test_intermediates_end_to_end_by_hand() -> None:
    # One grey pixel brightening by 0.1 then staying: D = [0.1, 0.0].
    frames = torch.tensor([0.2, 0.3, 0.3], dtype=torch.float64).view(3, 1, 1, 1).expand(3, 3, 1, 1).clone()
    params = MotionParams(m=0.8916, n=-0.2543)
    a, b = params.slope, params.shift
    out = motion_intermediates(frames, params)
    assert out.gray.flatten().tolist() == pytest.approx([0.2, 0.3, 0.3])
    assert out.difference.flatten().tolist() == pytest.approx([0.1, 0.0])
    a0, a1 = sigmoid(a * (0.1 - b)), sigmoid(a * (0.0 - b))
    assert out.attention.flatten().tolist() == pytest.approx([a0, a1], abs=1e-12)
    assert out.prompts[:, 0].flatten().tolist() == pytest.approx([a0 * 0.3, a1 * 0.3], abs=1e-12)
    assert out.variation.item() == pytest.approx((a1 - a0) ** 2, abs=1e-12)


def test_batched_equals_unbatched() -> None:
    torch.manual_seed(1)
    frames = torch.rand(3, 5, 3, 6, 7)
    params = MotionParams(1.05, -2.67)
    batched = motion_intermediates(frames, params)
    for i in range(3):
        single = motion_intermediates(frames[i], params)
        assert torch.allclose(batched.attention[i], single.attention)
        assert torch.allclose(batched.prompts[i], single.prompts)
        assert torch.allclose(batched.variation[i], single.variation)


def test_input_not_modified() -> None:
    frames = torch.rand(4, 3, 5, 5)
    before, version = frames.clone(), frames._version
    motion_intermediates(frames, MotionParams(0.2, 0.1))
    assert frames._version == version
    assert torch.equal(frames, before)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 8, 8), r"at least 2 frames.*\[1, 3, 8, 8\]"),
        ((4, 1, 8, 8), r"3 channels.*\[4, 1, 8, 8\]"),
        ((8, 8), r"at least 4 dimensions.*\[8, 8\]"),
        ((1, 2, 4, 3, 8, 8), r"\(T, 3, H, W\).*\[1, 2, 4, 3, 8, 8\]"),
    ],
)
def test_bad_shapes_raise_input_errors_with_the_shape(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        motion_intermediates(torch.zeros(shape), MotionParams(0.0, 0.0))


def test_integer_frames_refused() -> None:
    with pytest.raises(ShapeError, match="floating"):
        motion_intermediates(torch.zeros(4, 3, 2, 2, dtype=torch.uint8), MotionParams(0.0, 0.0))


def test_gradcheck_through_all_steps() -> None:
    torch.manual_seed(2)
    frames = torch.rand(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    slope = torch.tensor(12.0, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor(-0.05, dtype=torch.float64, requires_grad=True)

    def run(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attention = power_normalization(frame_difference(rgb_to_gray(x)), a, b)
        return motion_prompt(attention, x), temporal_attention_variation(attention)

    assert torch.autograd.gradcheck(run, (frames, slope, shift), fast_mode=True)
