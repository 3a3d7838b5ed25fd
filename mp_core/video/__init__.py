"""Reading and writing video with PyAV, by job: what the headers say (:mod:`~mp_core.video.probe`), the
frames of a span (:mod:`~mp_core.video.read`), frames spread over a span (:mod:`~mp_core.video.sample`) and
H.264 export (:mod:`~mp_core.video.write`), over one decode loop (:mod:`~mp_core.video.decode`).

Sources are a path, bytes or a binary file object (uploads arrive as those). Every problem caused by the
input raises :class:`mp_core.errors.VideoError` (an ``InputError``) with a message naming the source.
"""

from __future__ import annotations

from mp_core.video.decode import FALLBACK_FPS, VideoSource
from mp_core.video.probe import VideoInfo, probe
from mp_core.video.read import Clip, FrameChunk, distinct_frames, iter_frames, read_clip
from mp_core.video.sample import read_clip_uniform
from mp_core.video.write import VideoWriter, write_video

__all__ = [
    "FALLBACK_FPS",
    "Clip",
    "FrameChunk",
    "VideoInfo",
    "VideoSource",
    "VideoWriter",
    "distinct_frames",
    "iter_frames",
    "probe",
    "read_clip",
    "read_clip_uniform",
    "write_video",
]
