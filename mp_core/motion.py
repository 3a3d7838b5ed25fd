"""The method's steps as pure functions on tensors.

Every function takes RGB frames in [0, 1] (or tensors derived from them), works on any leading batch
dimensions, never changes its input in place, and keeps the input's device. Half-precision inputs are
supported: the sigmoid is evaluated in float32 (at slope 50 a float16 argument saturates) and cast back.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from mp_core.checks import check_frames, check_shape
from mp_core.errors import ShapeError
from mp_core.params import MotionParams

__all__ = [
    "MotionIntermediates",
    "attention_variation",
    "frame_difference",
    "motion_intermediates",
    "motion_prompt",
    "power_normalization",
    "rgb_to_gray",
    "temporal_attention_variation",
]


def rgb_to_gray(frames: Tensor) -> Tensor:
    r"""Luma of RGB frames, ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as in the paper).

    Args:
        frames: RGB tensor of shape :math:`(*, 3, H, W)`.

    Returns:
        Grayscale tensor of shape :math:`(*, H, W)`, same dtype and device.

    Example:
        >>> frames = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
        >>> rgb_to_gray(frames)
        tensor([[0.5925]])
    """
    check_shape(frames, "frames", min_dims=3, channels=3, channel_dim=-3)
    r, g, b = frames.unbind(-3)
    return 0.299 * r + 0.587 * g + 0.114 * b


def frame_difference(gray: Tensor) -> Tensor:
    r"""Signed difference of consecutive frames, :math:`D_t = G_{t+1} - G_t`.

    Args:
        gray: tensor of shape :math:`(*, T, H, W)` with :math:`T \ge 2`.

    Returns:
        Tensor of shape :math:`(*, T-1, H, W)`; positive where a pixel got brighter.

    Example:
        >>> frame_difference(torch.tensor([0.2, 0.5, 0.1]).view(3, 1, 1)).flatten()
        tensor([ 0.3000, -0.4000])
    """
    check_shape(gray, "gray", min_dims=3, min_frames=2, frame_dim=-3)
    return gray[..., 1:, :, :] - gray[..., :-1, :, :]


def power_normalization(diff: Tensor, slope: float | Tensor, shift: float | Tensor) -> Tensor:
    r"""The paper's learnable power normalization, :math:`A = \sigma(a (D - b))`.

    Args:
        diff: frame differences of any shape :math:`(*)`.
        slope: :math:`a`, a float or a tensor broadcastable to ``diff`` (e.g. ``MotionParams.slope``).
        shift: :math:`b`, likewise.

    Returns:
        Attention in (0, 1), shape :math:`(*)`, dtype of ``diff`` (computed in at least float32).

    Example:
        >>> power_normalization(torch.tensor([-0.1, 0.0, 0.1]), slope=10.0, shift=0.0)
        tensor([0.2689, 0.5000, 0.7311])
    """
    compute_dtype = torch.promote_types(diff.dtype, torch.float32)
    centred = diff.to(compute_dtype) - shift
    return torch.sigmoid(centred * slope).to(diff.dtype)


def motion_prompt(attention: Tensor, frames: Tensor) -> Tensor:
    r"""Hadamard prompt :math:`P_t = A_t \odot X_{t+1}`: attention scales every channel of the later frame.

    Args:
        attention: tensor of shape :math:`(*, T-1, H, W)`.
        frames: tensor of shape :math:`(*, T, C, H, W)`.

    Returns:
        Prompts of shape :math:`(*, T-1, C, H, W)`.

    Example:
        >>> frames = torch.ones(3, 3, 2, 2)
        >>> motion_prompt(torch.full((2, 2, 2), 0.25), frames).shape
        torch.Size([2, 3, 2, 2])
    """
    check_shape(frames, "frames", min_dims=4, min_frames=2, frame_dim=-4)
    expected = (*frames.shape[:-4], frames.shape[-4] - 1, *frames.shape[-2:])
    if tuple(attention.shape) != expected:
        raise ShapeError(
            f"attention must have shape {list(expected)} to prompt frames of shape {list(frames.shape)}, "
            f"got {list(attention.shape)}"
        )
    return attention.unsqueeze(-3) * frames[..., 1:, :, :, :]


def attention_variation(attention: Tensor) -> Tensor:
    r"""Per-pair temporal attention variation :math:`\|A_{t+1} - A_t\|^2 / (H W)`.

    Args:
        attention: tensor of shape :math:`(*, T-1, H, W)`.

    Returns:
        Tensor of shape :math:`(*, T-2)` (empty when :math:`T = 2`).

    Example:
        >>> attention = torch.stack([torch.zeros(2, 2), torch.ones(2, 2), torch.ones(2, 2)])
        >>> attention_variation(attention)
        tensor([1., 0.])
    """
    check_shape(attention, "attention", min_dims=3, frame_dim=-3)
    step = attention[..., 1:, :, :] - attention[..., :-1, :, :]
    return step.square().mean(dim=(-2, -1))


def temporal_attention_variation(attention: Tensor) -> Tensor:
    r"""The regulariser :math:`R = \sum_t \|A_{t+1} - A_t\|^2 / (B H W (T-2))`: the mean of all squared steps.

    A clip of two frames has a single attention map and no step; its R is 0 (not NaN).

    Args:
        attention: tensor of shape :math:`(*, T-1, H, W)`.

    Returns:
        0-dim tensor.

    Example:
        >>> attention = torch.stack([torch.zeros(2, 2), torch.ones(2, 2), torch.ones(2, 2)])
        >>> temporal_attention_variation(attention)
        tensor(0.5000)
    """
    variation = attention_variation(attention)
    if variation.numel() == 0:
        return variation.sum()
    return variation.mean()


class MotionIntermediates(NamedTuple):
    """Every stage of the method for one clip (or batch); shapes for input :math:`(*, T, 3, H, W)`."""

    gray: Tensor  #: (*, T, H, W)
    difference: Tensor  #: (*, T-1, H, W)
    attention: Tensor  #: (*, T-1, H, W)
    prompts: Tensor  #: (*, T-1, 3, H, W)
    variation: Tensor  #: (*, T-2), per pair of consecutive attention maps
    variation_mean: Tensor  #: (), R over the whole input


def motion_intermediates(frames: Tensor, params: MotionParams) -> MotionIntermediates:
    r"""Run the whole method on RGB frames and return every intermediate.

    Args:
        frames: RGB in [0, 1], shape :math:`(T, 3, H, W)` or :math:`(B, T, 3, H, W)`, :math:`T \ge 2`.
        params: the learned values (m, n).

    Returns:
        :class:`MotionIntermediates` with gray, difference, attention, prompts, variation and its mean.

    Example:
        >>> frames = torch.zeros(4, 3, 8, 8)
        >>> frames[2:, :, 2:4, 2:4] = 1.0  # a square appears at frame 2
        >>> out = motion_intermediates(frames, MotionParams(m=1.05, n=-2.67))
        >>> out.attention.shape, out.prompts.shape, out.variation.shape
        (torch.Size([3, 8, 8]), torch.Size([3, 3, 8, 8]), torch.Size([2]))
        >>> round(out.attention[1, 2, 2].item(), 4), round(out.attention[0, 2, 2].item(), 4)
        (1.0, 0.9986)
    """
    check_frames(frames)
    gray = rgb_to_gray(frames)
    difference = frame_difference(gray)
    attention = power_normalization(difference, params.slope, params.shift)
    prompts = motion_prompt(attention, frames)
    variation = attention_variation(attention)
    return MotionIntermediates(
        gray=gray,
        difference=difference,
        attention=attention,
        prompts=prompts,
        variation=variation,
        variation_mean=temporal_attention_variation(attention),
    )
