"""One sample's report rows: decode its frames once, then measure them under every parameter set asked for.

This is the whole computation of a report; the engines only decide where :func:`sample_rows` runs. It
computes on the CPU in float32 (statistics reduced in float64), so every engine gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mp_core.datasets import OutsideRootsError, VideoDataset, within_roots
from mp_core.errors import InputError, ShapeError
from mp_core.metrics import attention_stats, motion_focus
from mp_core.motion import frame_difference, power_normalization, rgb_to_gray
from mp_core.sampling import Sampling
from mp_core.specs import ParamSpec
from mp_core.synthetic import mask_path
from mp_core.video_io import Clip

__all__ = ["MOVING_THRESHOLD", "ReportContext", "SampleTask", "measure_clip", "sample_rows"]

#: A pixel "moves" when ``|D| > MOVING_THRESHOLD`` (5 % of full scale, about 13 grey levels: above the
#: coding noise of H.264 at usual qualities). ``share_moving`` near 1 means the whole frame changes, as under
#: camera motion or a cut.
MOVING_THRESHOLD = 0.05


@dataclass(frozen=True)
class ReportContext:
    """What every sample of one run shares: where the dataset is, the parameter sets and the sampling."""

    root: str
    kind: str  #: :attr:`VideoDataset.kind`
    specs: tuple[ParamSpec, ...]
    frames: int
    max_side: int | None
    roots: tuple[Path, ...] | None = None  #: read only files inside these (None: anywhere)
    device: str = "cpu"  #: where the statistics are computed; decoding is on the CPU anyway


@dataclass(frozen=True)
class SampleTask:
    """One sample to measure under ``context.specs[i]`` for each ``i`` in ``spec_indices``."""

    key: str
    label: str
    split: str
    spec_indices: tuple[int, ...]


def _pair_mask(mask: np.ndarray, clip: Clip) -> Tensor:
    """Ground truth of the sampled pairs, :math:`(T-1, H, W)` at the clip's (possibly shrunk) size.

    The sidecar has one map per frame of the file; the sampled frame shown at time ``t`` is number
    ``round(t * fps)``. Shrinking averages the mask over each output pixel's area and keeps pixels that are
    at least half object, as :func:`~mp_core.video_io.read_clip` shrinks the frames by area.
    """
    if mask.ndim != 3 or mask.dtype != np.bool_:
        raise ShapeError(f"mask sidecar must hold bool (T, H, W), got {mask.dtype} {list(mask.shape)}")
    indices = [min(max(round(time * clip.fps), 0), len(mask) - 1) for time in clip.timestamps]
    sampled = torch.from_numpy(mask[indices])
    size = tuple(clip.frames.shape[1:3])
    if tuple(sampled.shape[1:]) != size:
        sampled = F.interpolate(sampled[None].float(), size=size, mode="area")[0] >= 0.5
    return sampled[:-1] | sampled[1:]


def measure_clip(
    clip: Clip, specs: tuple[ParamSpec, ...], pair_mask: Tensor | None = None, device: str = "cpu"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The statistics of one decoded clip: those of its differences, and those of each parameter set.

    Args:
        clip: at least two frames.
        specs: the parameter sets.
        pair_mask: bool :math:`(T-1, H, W)` ground truth of moving pixels, or None (``motion_focus`` null).
        device: where to compute. On a GPU the numbers agree with the CPU's to float32 rounding, not bitwise.

    Returns:
        ``(clip columns, [columns of each spec])``.

    Example:
        >>> frames = torch.zeros(3, 4, 4, 3, dtype=torch.uint8)
        >>> frames[2, :2] = 255  # the top half turns white at the last frame
        >>> clip = Clip(frames, 25.0, (0.0, 0.04, 0.08), "c.mp4", (4, 4), "h264")
        >>> from mp_core.specs import parse_params_spec
        >>> common, (row,) = measure_clip(clip, (parse_params_spec("m=0,n=0"),))
        >>> common["mean_abs_difference"], common["share_moving"], common["duration"]
        (0.25, 0.25, 0.12)
        >>> row["peak_pair"], round(row["peak_pair_attention"], 4), row["share_above_half"]
        (1, 0.75, 0.25)
    """
    frames = clip.as_float(device)  # (T, 3, H, W) float32
    if frames.shape[0] < 2:
        raise ShapeError(f"need at least 2 frames, the clip gave {frames.shape[0]}")
    difference = frame_difference(rgb_to_gray(frames))
    magnitude = difference.abs()
    common = {
        "num_frames": frames.shape[0],
        "height": frames.shape[2],
        "width": frames.shape[3],
        "fps": clip.fps,
        # Uniform sampling ends on the clip's last frame: its end is the clip's duration.
        "duration": round(clip.timestamps[-1] + 1.0 / clip.fps, 6),
        "mean_abs_difference": magnitude.double().mean().item(),
        "share_moving": torch.count_nonzero(magnitude > MOVING_THRESHOLD).item() / magnitude.numel(),
    }
    rows = []
    for spec in specs:
        attention = power_normalization(difference, spec.params.slope, spec.params.shift)
        stats = attention_stats(attention)
        per_pair = attention.double().mean(dim=(1, 2))
        peak = int(per_pair.argmax())
        focus = None
        if pair_mask is not None:
            try:
                focus = motion_focus(attention, pair_mask)
            except InputError:  # nothing (or everything) moves in the sampled frames: no focus to speak of
                focus = None
        rows.append(
            {
                "mean_attention": stats.mean_attention,
                "share_above_half": stats.share_above_half,
                "variation": stats.variation_mean,
                "peak_pair": peak,
                "peak_pair_attention": per_pair[peak].item(),
                "motion_focus": focus,
            }
        )
    return common, rows


def _spec_columns(spec: ParamSpec) -> dict[str, Any]:
    params = spec.params
    return {"params": spec.text, "m": params.m, "n": params.n, "slope": params.slope, "shift": params.shift}


def _read_mask(context: ReportContext, key: str, clip: Clip) -> Tensor | None:
    if context.kind == "hdf5":
        return None
    sidecar = mask_path(Path(context.root) / key)
    if context.roots is not None and within_roots(sidecar, context.roots) is None:
        raise OutsideRootsError(f"mask sidecar {sidecar.name}: outside the dataset roots: refused")
    if not sidecar.is_file():
        return None
    try:
        with np.load(sidecar) as saved:
            mask = saved["mask"]
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"mask sidecar {sidecar.name}: {err}") from err
    return _pair_mask(mask, clip)


def sample_rows(context: ReportContext, task: SampleTask) -> list[dict[str, Any]]:
    """Report rows of one sample, one per parameter set of the task; a failure becomes rows with ``error``.

    Any exception while reading or measuring (a corrupt file, a broken mask sidecar) is caught: its text goes
    in the ``error`` column and the statistics stay null, so one bad file never stops a run.
    """
    specs = tuple(context.specs[i] for i in task.spec_indices)
    base = {
        "path": task.key,
        "label": task.label,
        "split": task.split,
        "frames": context.frames,
        "max_side": context.max_side,
    }
    dataset = VideoDataset(Path(context.root), context.kind, (), roots=context.roots)
    try:
        clip = dataset.read(task.key, sampling=Sampling(frames=context.frames, max_side=context.max_side))
        common, measured = measure_clip(clip, specs, _read_mask(context, task.key, clip), context.device)
    except Exception as err:  # a sample that cannot be read becomes rows with its error; the run goes on
        message = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
        return [{**base, **_spec_columns(spec), "error": message} for spec in specs]
    return [
        {**base, **_spec_columns(spec), **common, **row, "error": None}
        for spec, row in zip(specs, measured, strict=True)
    ]
