"""Synthetic clips with a ground-truth mask of the motion of interest, and a score of attention against it.

A clip is textured discs moving over a textured static background, optionally with sensor noise, global
illumination flicker and camera jitter: the nuisances that slope and shift must trade against real motion.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mp_core.errors import ParameterError
from mp_core.files import atomic_target
from mp_core.video_io import Clip, write_video

__all__ = ["DEMO_CLASSES", "MASK_SUFFIX", "SyntheticClip", "make_demo_dataset", "mask_path", "synthetic_clip"]

#: Sidecar of a clip holding its ground-truth motion mask: ``clip.mp4`` -> ``clip.mask.npz``.
MASK_SUFFIX = ".mask.npz"

#: The demo dataset's classes and the :func:`synthetic_clip` options that make each.
DEMO_CLASSES: dict[str, dict[str, Any]] = {
    "one_object": {"num_objects": 1, "noise": 0.01},
    "two_objects": {"num_objects": 2, "noise": 0.01},
    "camera_shake": {"num_objects": 1, "noise": 0.01, "jitter": 3.0},
    "flicker": {"num_objects": 1, "noise": 0.01, "flicker": 0.15},
    "static": {"num_objects": 0, "noise": 0.02},
}


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
            # Only the disc's bounding box changes: the same per-pixel test and texture as on the whole
            # canvas (a full-canvas roll per frame made the demo dataset 5x slower).
            rows = slice(max(0, math.floor(cy - radius)), min(canvas_h, math.ceil(cy + radius) + 1))
            cols = slice(max(0, math.floor(cx - radius)), min(canvas_w, math.ceil(cx + radius) + 1))
            disc = (yy[rows] - cy) ** 2 + (xx[:, cols] - cx) ** 2 <= radius**2
            # The texture travels with the disc: sample it relative to the disc's centre (torch.roll's
            # indexing: out[i] = in[(i - shift) mod size]).
            source_rows = (torch.arange(rows.start, rows.stop) - round(cy)) % canvas_h
            source_cols = (torch.arange(cols.start, cols.stop) - round(cx)) % canvas_w
            shifted = texture[:, source_rows[:, None], source_cols[None, :]]
            frames[t, :, rows, cols] = torch.where(disc, shifted, frames[t, :, rows, cols])
            mask[t, rows, cols] |= disc
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


def mask_path(clip_path: str | os.PathLike) -> Path:
    """Where a clip's ground-truth mask sidecar lies: ``class/clip.mp4`` -> ``class/clip.mask.npz``.

    The sidecar holds ``mask``, bool :math:`(T, H, W)` at the clip's full size, one map per frame of the
    file (frame i is shown at time i / fps).

    Example:
        >>> mask_path("demo/static/static_00.mp4").as_posix()
        'demo/static/static_00.mask.npz'
    """
    path = Path(clip_path)
    return path.with_name(path.stem + MASK_SUFFIX)


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary path)`` beside the target, then rename: readers never see half a file."""
    with atomic_target(target) as temporary:
        write(temporary)


def _save_mask(path: Path, mask: np.ndarray) -> None:
    with path.open("wb") as file:  # a file object: np.savez would add ".npz" to a temporary name
        np.savez_compressed(file, mask=mask)


def make_demo_dataset(
    folder: str | os.PathLike,
    *,
    clips_per_class: int = 4,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a small labelled dataset of synthetic H.264 clips with ground-truth masks, once.

    One class folder per entry of :data:`DEMO_CLASSES` (one object crossing, two objects, camera shake,
    flicker, static scene), each with ``clips_per_class`` MP4s of 160x120 and 16 to 24 frames at 25 fps,
    and beside each clip its mask sidecar (:func:`mask_path`). Everything follows from ``seed``. Files that
    exist are kept (a second call writes nothing); each file is written to a temporary name and renamed,
    so a concurrent reader or an interrupted call never leaves half a clip.

    Args:
        folder: where the class folders go (created if missing).
        clips_per_class: clips in each class (>= 1).
        seed: base seed of every clip.
        progress: called with (clips done, clips in all) after each clip, made or found.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`, ready for :func:`mp_core.datasets.open_dataset`.

    Example:
        >>> import tempfile
        >>> root = make_demo_dataset(tempfile.mkdtemp(), clips_per_class=1)
        >>> sorted(p.as_posix() for p in root.glob("*/*.mp4"))[:2]  # doctest: +ELLIPSIS
        ['.../camera_shake/camera_shake_00.mp4', '.../flicker/flicker_00.mp4']
        >>> sorted(p.parent.name for p in root.glob("*/*.mask.npz")) == sorted(DEMO_CLASSES)
        True
    """
    if clips_per_class < 1:
        raise ParameterError(f"clips_per_class must be >= 1, got {clips_per_class}")
    root = Path(folder).expanduser()
    total = clips_per_class * len(DEMO_CLASSES)
    for class_index, (name, options) in enumerate(DEMO_CLASSES.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_class):
            if progress is not None:
                progress(class_index * clips_per_class + index, total)
            clip_file = root / name / f"{name}_{index:02d}.mp4"
            if clip_file.is_file() and mask_path(clip_file).is_file():
                continue
            clip_seed = seed * 10_000 + class_index * 1_000 + index
            num_frames = 16 + (clip_seed * 7919) % 9  # 16..24, varied but deterministic
            sample = synthetic_clip(num_frames=num_frames, height=120, width=160, seed=clip_seed, **options)
            mask = sample.mask.numpy()
            _write_atomically(mask_path(clip_file), lambda path, m=mask: _save_mask(path, m))
            _write_atomically(
                clip_file, lambda path, s=sample: write_video(path, s.clip.frames, s.clip.fps, qp=18)
            )
    if progress is not None:
        progress(total, total)
    return root
