"""One clip's motion prompts as pictures and numbers, for any (m, n), computed on the clip's device.

:class:`ClipData` holds what does not depend on slope and shift (frames on the device, differences, colour
range, histogram); the functions below give one frame pair's four images (frame, difference, attention,
prompt) or the whole clip's statistics for a given :class:`~mp_core.params.MotionParams`. The in-browser
viewer and ``python -m mp_core.demo`` start from :func:`prepare_clip`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from mp_core.errors import VideoError
from mp_core.metrics import (
    AttentionStats,
    DifferenceHistogram,
    attention_stats,
    difference_histogram,
    motion_focus,
)
from mp_core.motion import (
    frame_difference,
    motion_prompt,
    power_normalization,
    rgb_to_gray,
)
from mp_core.params import MotionParams
from mp_core.video import Clip
from mp_core.viz import render

__all__ = [
    "ClipData",
    "PairImages",
    "attention_and_prompt",
    "clip_focus",
    "clip_stats",
    "pair_attention",
    "pair_images",
    "params_images",
    "prepare_clip",
]


@dataclass(frozen=True)
class ClipData:
    """A decoded clip on its device, with what does not depend on slope and shift."""

    clip: Clip  # host uint8 frames [T, H, W, 3], fps, name, ...
    frames: Tensor  # [T, 3, H, W] float in [0, 1] on the device
    difference: Tensor  # [T-1, H, W] on the device
    limit: float  # symmetric colour range of the differences over the whole clip
    histogram: DifferenceHistogram

    @property
    def num_pairs(self) -> int:
        return self.difference.shape[0]


def prepare_clip(clip: Clip, device: str, label: str) -> ClipData:
    """Move a decoded clip to ``device`` and compute what does not depend on slope and shift.

    Raises:
        VideoError: the clip has fewer than 2 frames.
    """
    count = clip.frames.shape[0]
    if count < 2:
        raise VideoError(
            f"{label} gives {count} frame with this sampling; the method needs at least 2 "
            "(try an earlier start or a smaller stride)"
        )
    frames = clip.as_float(device=torch.device(device))
    difference = frame_difference(rgb_to_gray(frames))
    limit = render.symmetric_limit(difference)
    return ClipData(clip, frames, difference, limit, difference_histogram(difference))


class PairImages(NamedTuple):
    """The four host images (uint8, H×W×3) of frame pair t."""

    frame: np.ndarray
    difference: np.ndarray
    attention: np.ndarray
    prompt: np.ndarray


def attention_and_prompt(data: ClipData, attention: Tensor, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Host images of an attention map (H, W) of pair t and of the prompt it makes from frame t+1."""
    prompt = motion_prompt(attention[None], data.frames[t : t + 2])[0]
    return (
        render.to_numpy(render.attention_image(attention)),
        render.to_numpy(render.frames_to_uint8(prompt)),
    )


def pair_attention(data: ClipData, params: MotionParams, t: int) -> Tensor:
    """Attention map :math:`(H, W)` of pair t for ``params``, on the clip's device."""
    return power_normalization(data.difference[t], params.slope, params.shift)


def params_images(data: ClipData, params: MotionParams, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Host images of the attention and the prompt of pair t for ``params``."""
    return attention_and_prompt(data, pair_attention(data, params, t), t)


def clip_focus(data: ClipData, params: MotionParams, mask: Tensor) -> float:
    """Motion focus of the whole clip's attention against a ground-truth mask :math:`(T-1, H, W)`."""
    return motion_focus(power_normalization(data.difference, params.slope, params.shift), mask)


def pair_images(data: ClipData, params: MotionParams, t: int, overlay_alpha: float = 0.0) -> PairImages:
    """Compute attention and prompt for pair t only, on the clip's device; return the displayed images."""
    attention = pair_attention(data, params, t)
    attention_image, prompt_image = attention_and_prompt(data, attention, t)
    frame = data.clip.frames[t + 1]
    if overlay_alpha > 0:
        frame = render.overlay(frame.to(attention.device), attention, overlay_alpha)
    return PairImages(
        frame=render.to_numpy(frame),
        difference=render.to_numpy(render.difference_image(data.difference[t], data.limit)),
        attention=attention_image,
        prompt=prompt_image,
    )


def clip_stats(data: ClipData, params: MotionParams) -> AttentionStats:
    """Whole-clip attention statistics for ``params``: only scalars and the variation leave the device."""
    return attention_stats(power_normalization(data.difference, params.slope, params.shift))
