"""What the Explore page offers to download: one pair's four panels as PNG, the clip's prompts as MP4."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from mp_core.motion import motion_prompt, power_normalization
from mp_core.params import MotionParams
from mp_core.video import write_video
from mp_core.viz import render
from mp_core.viz.clip_view import ClipData, PairImages
from mp_core.viz.render import side_by_side

__all__ = ["export_videos", "panels_png"]


def export_videos(
    data: ClipData, params: MotionParams, progress: Callable[[float], None] | None = None
) -> tuple[bytes, bytes]:
    """H.264 MP4 bytes of the prompted clip and of the 4-panel clip (frame, difference, attention, prompt)."""
    attention = power_normalization(data.difference, params.slope, params.shift)
    prompts = render.frames_to_uint8(motion_prompt(attention, data.frames)).cpu()
    panels = side_by_side(
        [
            data.clip.frames[1:],
            render.difference_image(data.difference, data.limit).cpu(),
            render.attention_image(attention).cpu(),
            prompts,
        ]
    )
    outputs = []
    for index, video in enumerate((prompts, panels)):
        buffer = io.BytesIO()
        done = index / 2

        def report(frames_done: int, total: int, done: float = done) -> None:
            if progress is not None:
                progress(done + frames_done / max(total, 1) / 2)

        write_video(buffer, video, data.clip.fps, progress=report)
        outputs.append(buffer.getvalue())
    return outputs[0], outputs[1]


def panels_png(images: PairImages) -> bytes:
    """The four panels of one pair side by side as PNG."""
    gap = np.full((images.frame.shape[0], 4, 3), 255, dtype=np.uint8)
    row = np.concatenate([images.frame, gap, images.difference, gap, images.attention, gap, images.prompt], 1)
    return render.to_png(row)
