"""Decoding frames of a span: the whole :class:`Clip` at once (:func:`read_clip`) or chunk by chunk
(:func:`iter_frames`, any length in bounded memory). Both keep the same frames of the same span."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from mp_core.errors import VideoError
from mp_core.video.decode import (
    RgbConverter,
    VideoSource,
    damage_note,
    frame_rate,
    frames_in_span,
    open_input,
    stack_frames,
)

__all__ = ["Clip", "FrameChunk", "distinct_frames", "iter_frames", "read_clip"]


@dataclass(frozen=True, eq=False)
class Clip:
    """Decoded RGB frames and what is known about where they came from.

    Attributes:
        frames: uint8 tensor of shape :math:`(T, H, W, 3)`, RGB, on the CPU.
        fps: frames per second of the source (> 0).
        timestamps: presentation time in seconds of each kept frame.
        name: the source's file name (or ``"upload"``).
        original_size: ``(height, width)`` before any downscaling.
        codec: the video codec's name, e.g. ``"h264"``.
        warnings: problems that did not stop decoding (e.g. a truncated file).
    """

    frames: Tensor
    fps: float
    timestamps: tuple[float, ...]
    name: str
    original_size: tuple[int, int]
    codec: str
    warnings: tuple[str, ...] = ()

    def as_float(
        self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """Frames as :math:`(T, 3, H, W)` in [0, 1], the layout of :mod:`mp_core.motion`."""
        return self.frames.to(device=device).permute(0, 3, 1, 2).to(dtype).div_(255)


def check_span(start: float, end: float | None = None) -> None:
    """Refuse a start that is not a time >= 0 and an end before it (VideoError)."""
    if not (math.isfinite(start) and start >= 0):
        raise VideoError(f"start must be a time >= 0 in seconds, got {start}")
    if end is not None and not end >= start:
        raise VideoError(f"end ({end:g} s) must not be before start ({start:g} s)")


def read_clip(
    source: VideoSource,
    *,
    max_frames: int | None = None,
    stride: int = 1,
    start: float = 0.0,
    max_side: int | None = None,
    thread_type: str | None = None,
) -> Clip:
    """Decode a clip to RGB uint8 frames, keeping only what is asked for.

    Args:
        source: path, bytes or binary file object.
        max_frames: stop decoding once this many frames are kept (memory stays bounded by them).
        stride: keep every ``stride``-th frame.
        start: seek to this time in seconds; the first frame kept is the one on screen at ``start``.
        max_side: shrink (area interpolation, aspect kept) so the longer side is at most this.
        thread_type: PyAV decoder threading ("SLICE", "FRAME", "AUTO"); None keeps PyAV's default (slice
            threading), measured faster than "AUTO" on these machines (bench/bench_video.py).

    Returns:
        A :class:`Clip` with frames :math:`(T, H, W, 3)`.

    Raises:
        VideoError: missing/empty/unreadable file, no video stream, no decodable frame.

    Example:
        >>> import io
        >>> from mp_core.video import write_video
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(10, 32, 48, 3, dtype=torch.uint8), fps=10)
        >>> clip = read_clip(buffer.getvalue(), max_frames=4, stride=2, max_side=24)
        >>> tuple(clip.frames.shape), clip.fps, clip.timestamps
        ((4, 16, 24, 3), 10.0, (0.0, 0.2, 0.4, 0.6))
    """
    if stride < 1:
        raise VideoError(f"stride must be >= 1, got {stride}")
    if max_frames is not None and max_frames < 1:
        raise VideoError(f"max_frames must be >= 1, got {max_frames}")
    check_span(start)
    limit = max_frames if max_frames is not None else math.inf
    frames: list[np.ndarray] = []
    times: list[float] = []
    warnings: list[str] = []
    with open_input(source) as (container, name):
        stream = container.streams.video[0]
        if thread_type is not None:
            stream.thread_type = thread_type
        fps = frame_rate(stream, warnings)
        to_rgb = RgbConverter(max_side)
        problems: list[str] = []
        for frame, time in frames_in_span(
            container, stream, fps=fps, problems=problems, start=start, stride=stride
        ):
            frames.append(to_rgb(frame))
            times.append(time)
            if len(frames) >= limit:
                break
        if damage := damage_note(name, problems, len(frames)):
            warnings.append(damage)
        original, codec = to_rgb.original_size(stream), stream.codec_context.name
    if not frames:
        if start > 0:
            raise VideoError(f"{name}: no frame at or after start = {start:g} s")
        raise VideoError(f"{name}: no decodable frame")
    return Clip(stack_frames(frames), fps, tuple(times), name, original, codec, tuple(warnings))


class FrameChunk(NamedTuple):
    """Consecutive kept frames of a video."""

    frames: np.ndarray  #: uint8 (k, H, W, 3), RGB
    timestamps: np.ndarray  #: float64 (k,), seconds since the stream's start


def iter_frames(
    source: VideoSource,
    *,
    start: float = 0.0,
    end: float | None = None,
    stride: int = 1,
    max_side: int | None = None,
    chunk: int = 64,
    notes: list[str] | None = None,
) -> Iterator[FrameChunk]:
    """Decode every ``stride``-th frame between ``start`` and ``end`` as chunks of at most ``chunk`` frames.

    Frames are kept as :func:`read_clip` keeps them (the first is the one on screen at ``start``; display
    rotation applied; area-shrunk so the longer side is at most ``max_side``); only one chunk is held at a
    time, so a ten-minute 1080p video never has to fit in memory. A damaged file gives every frame that
    decodes: the problem is appended to ``notes`` when given.

    Args:
        source: path, bytes or binary file object.
        start: first time in seconds.
        end: last time in seconds (the frame on screen at ``end`` is the last kept); None: the end.
        stride: keep every ``stride``-th frame.
        max_side: longest side in pixels after shrinking; None keeps the stored size.
        chunk: most frames per chunk (>= 1).
        notes: a list that receives problems that did not stop decoding.

    Yields:
        :class:`FrameChunk` of uint8 frames :math:`(k, H, W, 3)` and their times, 1 <= k <= ``chunk``.

    Raises:
        VideoError: unreadable file, no video stream, or no decodable frame in the span.

    Example:
        >>> import io
        >>> from mp_core.video import write_video
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(10, 32, 48, 3, dtype=torch.uint8), fps=10)
        >>> chunks = list(iter_frames(buffer.getvalue(), start=0.2, stride=2, max_side=24, chunk=3))
        >>> [c.frames.shape for c in chunks], np.concatenate([c.timestamps for c in chunks]).round(2).tolist()
        ([(3, 16, 24, 3), (1, 16, 24, 3)], [0.2, 0.4, 0.6, 0.8])
    """
    if stride < 1 or chunk < 1:
        raise VideoError(f"stride and chunk must be >= 1, got stride={stride}, chunk={chunk}")
    check_span(start, end)
    with open_input(source) as (container, name):
        stream = container.streams.video[0]
        problems: list[str] = []
        frames: list[np.ndarray] = []
        times: list[float] = []
        to_rgb = RgbConverter(max_side)
        kept = 0
        span = frames_in_span(
            container, stream, fps=frame_rate(stream), problems=problems, start=start, end=end, stride=stride
        )
        for frame, time in span:
            frames.append(to_rgb(frame))
            times.append(time)
            if len(frames) == chunk:
                kept += len(frames)
                yield FrameChunk(np.stack(frames), np.asarray(times, dtype=np.float64))
                frames, times = [], []
        kept += len(frames)
        if frames:
            yield FrameChunk(np.stack(frames), np.asarray(times, dtype=np.float64))
        damage = damage_note(name, problems, kept)
        if damage and notes is not None:
            notes.append(f"{name}: {damage}")
    if not kept:
        raise VideoError(
            f"{name}: no frame between {start:g} s and {'the end' if end is None else f'{end:g} s'}"
        )


def distinct_frames(clip: Clip) -> Clip:
    """The clip with frames repeated by uniform sampling of a short clip kept once each.

    A clip shorter than the frames asked for repeats frames (as training samplers do); shown to a person,
    the repeats only add zero differences.

    Example:
        >>> frames = torch.arange(3, dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 2, 2, 3)
        >>> clip = Clip(frames, 10.0, (0.0, 0.0, 0.1), "c.mp4", (2, 2), "h264")
        >>> distinct_frames(clip).timestamps
        (0.0, 0.1)
    """
    times = clip.timestamps
    keep = [i for i, time in enumerate(times) if i == 0 or time > times[i - 1]]
    if len(keep) == len(times):
        return clip
    return replace(clip, frames=clip.frames[keep], timestamps=tuple(times[i] for i in keep))
