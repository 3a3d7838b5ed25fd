"""Whole clips in and out: the names of :mod:`mp_core.video` that read and write a clip at once.

Kept for the code and scripts that import them from here; new code can import :mod:`mp_core.video`.
"""

from __future__ import annotations

from mp_core.video import (
    FALLBACK_FPS,
    Clip,
    VideoInfo,
    VideoSource,
    distinct_frames,
    probe,
    read_clip,
    read_clip_uniform,
    write_video,
)

__all__ = [
    "FALLBACK_FPS",
    "Clip",
    "VideoInfo",
    "VideoSource",
    "distinct_frames",
    "probe",
    "read_clip",
    "read_clip_uniform",
    "write_video",
]
