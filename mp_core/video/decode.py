"""Opening a video and decoding its frames: the one decode loop every reader of :mod:`mp_core.video` uses.

The readers' shared parts: opening a source (refusing non-video with a ``VideoError``), the stream's rate
and start, seeking, frames of a span, conversion to upright RGB, and the note on damaged packets.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor

from mp_core.errors import VideoError
from mp_core.sources import Source, open_source

__all__ = [
    "FALLBACK_FPS",
    "RgbConverter",
    "VideoSource",
    "damage_note",
    "decoded_frames",
    "frame_rate",
    "frame_time",
    "frames_from",
    "frames_in_span",
    "open_input",
    "quarter_turns",
    "stack_frames",
    "start_offset",
    "stated_fps",
]

VideoSource = Source
#: Used when a container states no frame rate (some AVI/MKV files); said in the clip's warnings.
FALLBACK_FPS = 25.0


@contextmanager
def open_input(source: VideoSource) -> Iterator[tuple[av.container.InputContainer, str]]:
    """Open a container for reading; refuse missing, empty and non-video sources with a VideoError."""
    opened, name = open_source(source, VideoError, "video file")
    target = (
        str(opened)
        if isinstance(opened, Path)
        else io.BytesIO(opened)
        if isinstance(opened, bytes)
        else opened
    )
    try:
        container = av.open(target, mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoError(f"{name}: not a video file PyAV/FFmpeg can read ({err})") from err
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise VideoError(f"{name}: no video stream (found {', '.join(kinds)}): is it an audio file?")
        if container.streams.video[0].codec_context is None:  # seen on MP4s cut short: no decoder set up
            raise VideoError(f"{name}: its video stream cannot be decoded (is the file cut short?)")
        yield container, name
    finally:
        container.close()


def stated_fps(stream: av.video.stream.VideoStream) -> float | None:
    """The frame rate the stream states (average, guessed or base rate), None when it states none."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0 and math.isfinite(float(rate)):
            return float(rate)
    return None


def frame_rate(stream: av.video.stream.VideoStream, warnings: list[str] | None = None) -> float:
    """The stated frame rate, else :data:`FALLBACK_FPS` (said in ``warnings`` when given)."""
    fps = stated_fps(stream)
    if fps is None:
        if warnings is not None:
            warnings.append(f"the file states no frame rate; assuming {FALLBACK_FPS:g} fps")
        return FALLBACK_FPS
    return fps


def scaled_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """Size after shrinking so that the longer side is at most ``max_side`` (never enlarges)."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    if max_side < 2:
        raise VideoError(f"max_side must be at least 2 pixels, got {max_side}")
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0-3) that the frame's display matrix asks for."""
    return round(frame.rotation / 90) % 4


def start_offset(stream: av.video.stream.VideoStream) -> Fraction:
    """Time of the stream's first frame (MPEG-TS often starts at 1.4 s): timestamps are counted from it."""
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return max(Fraction(0), stream.start_time * stream.time_base)


def frame_time(frame: av.VideoFrame, offset: Fraction, fallback: float) -> float:
    """Seconds since the stream's start, exact from the integer pts (``fallback`` for frames without one)."""
    if frame.pts is None or frame.time_base is None:
        return fallback
    return float(frame.pts * frame.time_base - offset)


def damage_note(name: str, problems: list[str], kept: int) -> str | None:
    """What to tell about packets that failed to decode (None: none did); raises when no frame was kept."""
    if not problems:
        return None
    if not kept:
        raise VideoError(f"{name}: no decodable frame ({problems[0]})")
    return (
        f"{len(problems)} packet(s) failed to decode after {kept} frames were kept: the file looks "
        f"truncated or damaged ({problems[0]})"
    )


def stack_frames(frames: list[np.ndarray]) -> Tensor:
    """Stack into one tensor, dropping each frame once copied: peak memory stays near one clip, not two."""
    out = torch.empty((len(frames), *frames[0].shape), dtype=torch.uint8)
    for index in range(len(frames)):
        out[index] = torch.from_numpy(frames[index])
        frames[index] = None  # type: ignore[call-overload]
    return out


def decoded_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, problems: list[str]
) -> Iterator[av.VideoFrame]:
    """Frames in decode order. A packet that fails to read or decode is noted in ``problems`` and skipped,
    so a truncated or damaged file still gives every frame that decodes."""
    packets = container.demux(stream)
    while len(problems) < 16:  # many failures in a row: the rest is not video
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as err:
            problems.append(str(err))
            return
        try:
            decoded = packet.decode()
        except av.FFmpegError as err:
            problems.append(str(err))
            continue
        yield from decoded


def frames_from(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start: float,
    offset: Fraction,
    problems: list[str],
) -> Iterator[av.VideoFrame]:
    """Decoded frames beginning at or before the frame on screen at ``start`` (seconds after ``offset``).

    Seeking lands on a keyframe before the target in indexed containers (MP4, MKV); containers without an
    index (MPEG-TS, some AVI) can land after it, so the seek steps back until the first frame is early enough.
    """
    if start <= 0:
        yield from decoded_frames(container, stream, problems)
        return
    for back in (0.0, 1.0, 4.0, 16.0, math.inf):
        target = max(0.0, start - back)
        try:
            if target > 0:
                container.seek(round((target + offset) / stream.time_base), stream=stream, backward=True)
            else:
                container.seek(0)  # the file's start (a seek to the first pts can land after it in MPEG-TS)
        except av.FFmpegError as err:
            if back > 0:
                raise VideoError(f"cannot seek back to {target:g} s ({err})") from err
            container.seek(0)  # no seek possible before anything was read: decode from the start and skip
            target = 0.0
        problems.clear()
        frames = decoded_frames(container, stream, problems)
        first = next(frames, None)
        if first is None and target > 0:
            continue  # landed past the last frame
        if first is None:
            return
        if target == 0 or frame_time(first, offset, 0.0) <= start + 1e-6:
            yield first
            yield from frames
            return


def frames_in_span(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    *,
    fps: float,
    problems: list[str],
    start: float = 0.0,
    end: float | None = None,
    stride: int = 1,
) -> Iterator[tuple[av.VideoFrame, float]]:
    """Every ``stride``-th frame, with its time, from the one on screen at ``start`` to the one at ``end``.

    The decode loop of :func:`~mp_core.video.read_clip` and :func:`~mp_core.video.iter_frames`: both keep
    the same frames of a span. ``fps`` times frames that carry no timestamp.
    """
    offset = start_offset(stream)
    index = 0
    for frame in frames_from(container, stream, start, offset, problems):
        time = frame_time(frame, offset, index / fps)
        if time + 1.0 / fps <= start + 1e-6:
            continue  # keep from the frame on screen at `start`
        if end is not None and time > end + 1e-6:
            return
        index += 1
        if (index - 1) % stride == 0:
            yield frame, time


class RgbConverter:
    """Frames to upright RGB uint8 of one size (set by the first frame); a repeated frame converts once."""

    def __init__(self, max_side: int | None) -> None:
        self.max_side = max_side
        self.size: tuple[int, int] | None = None
        self.turns = 0
        self.original: tuple[int, int] | None = None
        self._last: tuple[av.VideoFrame, np.ndarray] | None = None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self._last is not None and self._last[0] is frame:
            return self._last[1]
        if self.size is None:
            self.size = scaled_size(frame.height, frame.width, self.max_side)
            self.turns = quarter_turns(frame)
            self.original = (frame.width, frame.height) if self.turns % 2 else (frame.height, frame.width)
        height, width = self.size
        rgb = frame.to_ndarray(format="rgb24", height=height, width=width, interpolation="AREA")
        if self.turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, self.turns))
        self._last = (frame, rgb)
        return rgb

    def original_size(self, stream: av.video.stream.VideoStream) -> tuple[int, int]:
        """``(height, width)`` of the source, upright; the stream's stored size when nothing was converted."""
        return self.original or (stream.codec_context.height, stream.codec_context.width)
