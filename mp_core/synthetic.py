"""Synthetic clips with a ground-truth mask of the motion of interest, and a score of attention against it.

A clip is textured discs moving over a textured static background, optionally with sensor noise, global
illumination flicker and camera jitter: the nuisances that slope and shift must trade against real motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from mp_core.errors import ParameterError
from mp_core.video_io import Clip

__all__ = ["SyntheticClip", "synthetic_clip"]


@dataclass(frozen=True, eq=False)
class SyntheticClip:
    """A clip and where its moving objects are.

    Attributes:
        clip: the frames, :math:`(T, H, W, 3)` uint8, 25 fps.
        mask: bool tensor :math:`(T, H, W)`, True on the moving objects of frame t.
    """

    clip: Clip
    mask: Tensor

    @property
    def pair_mask(self) -> Tensor:
        """Motion of frame pair t, :math:`(T-1, H, W)`: object pixels in frame t or t+1."""
        return self.mask[:-1] | self.mask[1:]


def _texture(shape: tuple[int, int], cells: int, generator: torch.Generator) -> Tensor:
    """Smooth colour texture (3, H, W) in [0, 1]: coarse random noise, bicubically upsampled."""
    coarse = torch.rand(1, 3, cells, cells, generator=generator)
    return F.interpolate(coarse, size=shape, mode="bicubic", align_corners=False)[0].clamp(0, 1)


def synthetic_clip(
    *,
    num_frames: int = 16,
    height: int = 128,
    width: int = 160,
    num_objects: int = 1,
    noise: float = 0.0,
    flicker: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
) -> SyntheticClip:
    """Textured discs moving over a textured background, with a mask of the discs.

    Args:
        num_frames: T (>= 2).
        height, width: frame size (>= 16).
        num_objects: moving discs, each with its own texture, radius and straight path.
        noise: standard deviation of Gaussian sensor noise, on the [0, 1] scale.
        flicker: amplitude of a global brightness factor ``1 + flicker * u``, u uniform in [-1, 1] per frame.
        jitter: largest camera shake in pixels (integer shifts of the whole scene per frame).
        seed: everything is drawn from this seed: the same arguments give the same clip.

    Example:
        >>> sample = synthetic_clip(num_frames=8, height=32, width=40, seed=3)
        >>> tuple(sample.clip.frames.shape), tuple(sample.mask.shape), bool(sample.mask.any())
        ((8, 32, 40, 3), (8, 32, 40), True)
        >>> again = synthetic_clip(num_frames=8, height=32, width=40, seed=3)
        >>> torch.equal(sample.clip.frames, again.clip.frames)
        True
    """
    if num_frames < 2 or height < 16 or width < 16 or num_objects < 0:
        raise ParameterError(
            f"need num_frames >= 2, height and width >= 16, num_objects >= 0; got num_frames={num_frames}, "
            f"height={height}, width={width}, num_objects={num_objects}"
        )
    if min(noise, flicker, jitter) < 0 or not all(map(math.isfinite, (noise, flicker, jitter))):
        raise ParameterError(f"noise, flicker and jitter must be >= 0, got {noise}, {flicker}, {jitter}")
    generator = torch.Generator().manual_seed(seed)
    pad = math.ceil(jitter)
    canvas_h, canvas_w = height + 2 * pad, width + 2 * pad
    background = 0.15 + 0.7 * _texture((canvas_h, canvas_w), 12, generator)
    yy = torch.arange(canvas_h, dtype=torch.float32).view(-1, 1)
    xx = torch.arange(canvas_w, dtype=torch.float32).view(1, -1)
    frames = background.expand(num_frames, 3, canvas_h, canvas_w).clone()
    mask = torch.zeros(num_frames, canvas_h, canvas_w, dtype=torch.bool)
    side = min(height, width)
    for _ in range(num_objects):
        radius = side * (0.1 + 0.08 * torch.rand((), generator=generator).item())
        texture = 0.05 + 0.9 * _texture((canvas_h, canvas_w), 6, generator)
        start = torch.rand(2, generator=generator) * torch.tensor([height, width]) + pad
        angle = 2 * math.pi * torch.rand((), generator=generator).item()
        speed = side * (0.02 + 0.03 * torch.rand((), generator=generator).item())  # pixels per frame
        for t in range(num_frames):
            # Straight path, reflected at the borders so the disc stays in view.
            cy = _reflect(start[0].item() + t * speed * math.sin(angle), pad + radius, pad + height - radius)
            cx = _reflect(start[1].item() + t * speed * math.cos(angle), pad + radius, pad + width - radius)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
            # The texture travels with the disc: sample it relative to the disc's centre.
            shifted = torch.roll(texture, shifts=(round(cy), round(cx)), dims=(1, 2))
            frames[t] = torch.where(disc, shifted, frames[t])
            mask[t] |= disc
    offsets = (torch.rand(num_frames, 2, generator=generator) * 2 - 1) * jitter
    frames_cropped = torch.empty(num_frames, 3, height, width)
    mask_cropped = torch.empty(num_frames, height, width, dtype=torch.bool)
    for t in range(num_frames):
        dy, dx = pad + round(offsets[t, 0].item()), pad + round(offsets[t, 1].item())
        frames_cropped[t] = frames[t, :, dy : dy + height, dx : dx + width]
        mask_cropped[t] = mask[t, dy : dy + height, dx : dx + width]
    gain = 1 + flicker * (torch.rand(num_frames, 1, 1, 1, generator=generator) * 2 - 1)
    noisy = frames_cropped * gain + noise * torch.randn(frames_cropped.shape, generator=generator)
    uint8 = noisy.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    clip = Clip(
        frames=uint8,
        fps=25.0,
        timestamps=tuple(t / 25.0 for t in range(num_frames)),
        name=f"synthetic (seed {seed})",
        original_size=(height, width),
        codec="synthetic",
    )
    return SyntheticClip(clip=clip, mask=mask_cropped)


def _reflect(value: float, low: float, high: float) -> float:
    """Fold ``value`` into [low, high] as a ball bouncing between two walls."""
    span = high - low
    if span <= 0:
        return (low + high) / 2
    folded = (value - low) % (2 * span)
    return low + (folded if folded <= span else 2 * span - folded)
