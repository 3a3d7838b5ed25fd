"""What a container's headers say about its video: :class:`VideoInfo` from :func:`probe`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import av
import numpy as np

from mp_core.video.decode import FALLBACK_FPS, VideoSource, open_input, quarter_turns, stated_fps

__all__ = ["VideoInfo", "probe"]


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns from a container's headers (no full decode).

    ``width`` and ``height`` are the displayed size, as :func:`~mp_core.video.read_clip` returns the frames:
    a stored ``rotation`` (degrees counter-clockwise, phone videos) is already applied.
    """

    duration: float
    fps: float
    frame_count: int
    frame_count_exact: bool
    width: int
    height: int
    codec: str
    name: str
    rotation: int = 0


def _scan_head(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[int, list[int]]:
    """The display rotation (PyAV exposes it per frame only: the first frame is decoded; 0 if none decodes)
    and the timestamps of the first packets (demuxed only)."""
    turns, stamps = None, []
    try:
        for packet in itertools.islice(container.demux(stream), 64):
            if packet.pts is not None:
                stamps.append(packet.pts)
            if turns is None:
                for frame in packet.decode():
                    turns = quarter_turns(frame)
                    break
    except av.FFmpegError:
        pass
    return turns or 0, stamps


def _timestamp_rate(stream: av.video.stream.VideoStream, stamps: list[int]) -> float | None:
    """Frames per second from the median step between the first packets' timestamps, None if unknown."""
    steps = np.diff(np.unique(stamps))
    if len(steps) < 2 or stream.time_base is None:
        return None
    return float(1 / (np.median(steps) * stream.time_base))


def probe(source: VideoSource) -> VideoInfo:
    """Duration, fps, frame count, size and codec from the headers; only the first frame is decoded (PyAV
    exposes a stored display rotation per frame only).

    The frame count is exact when the container indexes it (MP4, MOV, most MKV), else it is
    ``round(duration * fps)`` and ``frame_count_exact`` is False.

    Example:
        >>> import io, torch
        >>> from mp_core.video import write_video
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(12, 20, 30, 3, dtype=torch.uint8), fps=24)
        >>> info = probe(buffer.getvalue())
        >>> info.frame_count, info.frame_count_exact, info.width, info.height, info.codec, info.fps
        (12, True, 30, 20, 'h264', 24.0)
    """
    with open_input(source) as (container, name):
        stream = container.streams.video[0]
        turns, stamps = _scan_head(container, stream)
        fps = stated_fps(stream)
        ticks = 1 / float(stream.time_base) if stream.time_base else None
        if fps is None or fps == ticks:
            # No rate stated, or only the timestamps' tick rate (a browser's MediaRecorder WebM says
            # 1000 fps): measure it from the timestamps themselves.
            fps = _timestamp_rate(stream, stamps) or fps or FALLBACK_FPS
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        exact = stream.frames > 0
        count = stream.frames if exact else round(duration * fps)
        width, height = stream.codec_context.width, stream.codec_context.height
        if turns % 2:
            width, height = height, width
        codec = stream.codec_context.name
        return VideoInfo(duration, fps, count, exact, width, height, codec, name, rotation=90 * turns)
