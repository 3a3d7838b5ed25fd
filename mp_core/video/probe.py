"""What a container's headers say about its video: :class:`VideoInfo` from :func:`probe`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import av

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


def _first_frame_turns(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """The display rotation, which PyAV exposes per frame only: decode the first frame (0 if none decodes)."""
    try:
        for packet in itertools.islice(container.demux(stream), 64):
            for frame in packet.decode():
                return quarter_turns(frame)
    except av.FFmpegError:
        pass
    return 0


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
        fps = stated_fps(stream) or FALLBACK_FPS
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        exact = stream.frames > 0
        count = stream.frames if exact else round(duration * fps)
        width, height = stream.codec_context.width, stream.codec_context.height
        turns = _first_frame_turns(container, stream)
        if turns % 2:
            width, height = height, width
        codec = stream.codec_context.name
        return VideoInfo(duration, fps, count, exact, width, height, codec, name, rotation=90 * turns)
