"""Reading and writing video with PyAV: bounded-memory decoding, browser-playable H.264 export.

Sources are a path, bytes or a binary file object (uploads arrive as those). Every problem caused by the
input raises :class:`mp_core.errors.VideoError` (an ``InputError``) with a message naming the source.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import torch
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from torch import Tensor

from mp_core.errors import ShapeError, VideoError
from mp_core.sources import Source, open_source

__all__ = [
    "Clip",
    "VideoInfo",
    "distinct_frames",
    "probe",
    "read_clip",
    "read_clip_uniform",
    "write_video",
]

VideoSource = Source
#: Used when a container states no frame rate (some AVI/MKV files); said in the clip's warnings.
FALLBACK_FPS = 25.0


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


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns from a container's headers (no full decode).

    ``width`` and ``height`` are the displayed size, as :func:`read_clip` returns the frames: a stored
    ``rotation`` (degrees counter-clockwise, phone videos) is already applied.
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


@contextmanager
def _open_input(source: VideoSource) -> Iterator[tuple[av.container.InputContainer, str]]:
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


def _stream_fps(stream: av.video.stream.VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0 and math.isfinite(float(rate)):
            return float(rate)
    return None


def _scaled_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """Size after shrinking so that the longer side is at most ``max_side`` (never enlarges)."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    if max_side < 2:
        raise VideoError(f"max_side must be at least 2 pixels, got {max_side}")
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _decode(
    source: VideoSource,
    keep: Callable[[int, float], int],
    *,
    start: float,
    max_side: int | None,
    done: Callable[[int], bool],
    thread_type: str | None = None,
) -> Clip:
    """Decode from ``start``; ``keep(index, time)`` says how many copies of each frame to keep."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    warnings: list[str] = []
    with _open_input(source) as (container, name):
        stream = container.streams.video[0]
        if thread_type is not None:
            stream.thread_type = thread_type
        fps = _stream_fps(stream)
        if fps is None:
            warnings.append(f"the file states no frame rate; assuming {FALLBACK_FPS:g} fps")
            fps = FALLBACK_FPS
        codec = stream.codec_context.name
        to_rgb = _RgbConverter(max_side)
        offset = _start_offset(stream)
        index = 0
        problems: list[str] = []
        for frame in _frames_from(container, stream, start, offset, problems):
            time = _frame_time(frame, offset, index / fps)
            if time + 1.0 / fps <= start + 1e-6:
                continue  # keep from the frame on screen at `start`
            copies = keep(index, time)
            index += 1
            if copies:
                rgb = to_rgb(frame)
                frames.extend([rgb] * copies)
                times.extend([time] * copies)
            if done(len(frames)):
                break
        if damage := _damage_note(name, problems, len(frames)):
            warnings.append(damage)
        original = to_rgb.original or (stream.codec_context.height, stream.codec_context.width)
    if not frames:
        if start > 0:
            raise VideoError(f"{name}: no frame at or after start = {start:g} s")
        raise VideoError(f"{name}: no decodable frame")
    return Clip(
        frames=_stack_releasing(frames),
        fps=fps,
        timestamps=tuple(times),
        name=name,
        original_size=original,
        codec=codec,
        warnings=tuple(warnings),
    )


def _damage_note(name: str, problems: list[str], kept: int) -> str | None:
    """What to tell about packets that failed to decode (None: none did); raises when no frame was kept."""
    if not problems:
        return None
    if not kept:
        raise VideoError(f"{name}: no decodable frame ({problems[0]})")
    return (
        f"{len(problems)} packet(s) failed to decode after {kept} frames were kept: the file looks "
        f"truncated or damaged ({problems[0]})"
    )


def _stack_releasing(frames: list[np.ndarray]) -> Tensor:
    """Stack into one tensor, dropping each frame once copied: peak memory stays near one clip, not two."""
    out = torch.empty((len(frames), *frames[0].shape), dtype=torch.uint8)
    for index in range(len(frames)):
        out[index] = torch.from_numpy(frames[index])
        frames[index] = None  # type: ignore[call-overload]
    return out


def _decoded_frames(
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


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0-3) that the frame's display matrix asks for."""
    return round(frame.rotation / 90) % 4


def _first_frame_turns(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """The display rotation, which PyAV exposes per frame only: decode the first frame (0 if none decodes)."""
    try:
        for packet in itertools.islice(container.demux(stream), 64):
            for frame in packet.decode():
                return _quarter_turns(frame)
    except av.FFmpegError:
        pass
    return 0


def _start_offset(stream: av.video.stream.VideoStream) -> Fraction:
    """Time of the stream's first frame (MPEG-TS often starts at 1.4 s): timestamps are counted from it."""
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return max(Fraction(0), stream.start_time * stream.time_base)


def _frame_time(frame: av.VideoFrame, offset: Fraction, fallback: float) -> float:
    """Seconds since the stream's start, exact from the integer pts (``fallback`` for frames without one)."""
    if frame.pts is None or frame.time_base is None:
        return fallback
    return float(frame.pts * frame.time_base - offset)


def _frames_from(
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
        yield from _decoded_frames(container, stream, problems)
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
        frames = _decoded_frames(container, stream, problems)
        first = next(frames, None)
        if first is None and target > 0:
            continue  # landed past the last frame
        if first is None:
            return
        if target == 0 or _frame_time(first, offset, 0.0) <= start + 1e-6:
            yield first
            yield from frames
            return


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
    if not (math.isfinite(start) and start >= 0):
        raise VideoError(f"start must be a time >= 0 in seconds, got {start}")
    limit = max_frames if max_frames is not None else math.inf
    return _decode(
        source,
        lambda index, _: int(index % stride == 0),
        start=start,
        max_side=max_side,
        done=lambda kept: kept >= limit,
        thread_type=thread_type,
    )


def read_clip_uniform(
    source: VideoSource,
    num_frames: int,
    *,
    start: float = 0.0,
    end: float | None = None,
    max_side: int | None = None,
) -> Clip:
    """Decode ``num_frames`` frames evenly spaced in time over ``[start, end]`` (end defaults to the end).

    As training pipelines sample long clips: target times ``linspace(start, end_of_last_frame, num_frames)``,
    each taking the frame on screen at that time (the index truncation of PySlowFast's sampler); a frame
    repeats when the span holds fewer frames than asked for.

    Targets further apart than a keyframe interval are reached by seeking, closer ones by decoding through,
    so the cost grows with the frames kept, not with the video's length. A pipe (a file object that cannot
    seek) is read into memory once.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(50, 16, 16, 3, dtype=torch.uint8), fps=10)
        >>> read_clip_uniform(buffer.getvalue(), 5).timestamps
        (0.0, 1.2, 2.4, 3.6, 4.9)
    """
    if num_frames < 1:
        raise VideoError(f"num_frames must be >= 1, got {num_frames}")
    if not (math.isfinite(start) and start >= 0):
        raise VideoError(f"start must be a time >= 0 in seconds, got {start}")
    if end is not None and end < start:
        raise VideoError(f"end ({end:g} s) must not be before start ({start:g} s)")
    source = _rereadable(source)
    info = probe(source)
    duration, note = info.duration, ()
    if duration <= 0:  # raw streams (.h264) state no duration: count the packets (no decoding)
        duration = _scanned_duration(source, info.fps)
        note = (f"the file states no duration; {duration:.2f} s counted from its packets",)
    last = duration - 1.0 / info.fps
    stop = max(min(end, last) if end is not None else last, start)
    targets = np.linspace(start, stop, num_frames) if num_frames > 1 else np.array([start])
    clip = _decode_at(source, targets.tolist(), max_side=max_side)
    return replace(clip, warnings=clip.warnings + note) if note else clip


def _scanned_duration(source: VideoSource, fps: float) -> float:
    """End time of the last video packet (or packets / fps without timestamps), by demuxing only."""
    with _open_input(source) as (container, _):
        stream = container.streams.video[0]
        offset = _start_offset(stream)
        count, end = 0, 0.0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            count += 1
            if packet.pts is not None and packet.time_base is not None:
                length = packet.duration * packet.time_base if packet.duration else 1 / fps
                end = max(end, float(packet.pts * packet.time_base - offset + length))
        return end if end > 0 else count / fps


def _rereadable(source: VideoSource) -> VideoSource:
    """The source as something that can be opened twice: a pipe is read into a named in-memory file."""
    opened, name = open_source(source, VideoError, "video file")
    if isinstance(opened, bytes):
        buffer = io.BytesIO(opened)
        buffer.name = name
        return buffer
    return opened


def _decode_at(source: VideoSource, targets: list[float], *, max_side: int | None) -> Clip:
    """The frame on screen at each of the sorted ``targets`` (seconds after the stream's start).

    A frame is on screen from its timestamp until the next frame's. Decoding seeks to a target when it is
    further ahead than the longest keyframe interval known so far (learned from the keyframes decoded and
    from where seeks land), else it decodes through: a seek decodes from the keyframe before its target.
    """
    picked: list[np.ndarray] = []
    times: list[float] = []
    warnings: list[str] = []
    can_seek = _can_seek(source)
    with _open_input(source) as (container, name):
        stream = container.streams.video[0]
        fps = _stream_fps(stream)
        if fps is None:
            warnings.append(f"the file states no frame rate; assuming {FALLBACK_FPS:g} fps")
            fps = FALLBACK_FPS
        offset = _start_offset(stream)
        to_rgb = _RgbConverter(max_side)
        tolerance = min(1e-3, 0.25 / fps)
        problems: list[str] = []
        frames = _frames_from(container, stream, targets[0], offset, problems)
        previous: av.VideoFrame | None = None
        previous_time = 0.0
        gop = 0.0  # a lower bound of the keyframe interval (seconds)
        last_key: float | None = None
        count = 0
        seekable = can_seek
        while len(picked) < len(targets):
            frame = next(frames, None)
            if frame is None:
                break
            time = _frame_time(frame, offset, count / fps)
            count += 1
            if frame.key_frame:
                if last_key is not None and time > last_key:
                    gop = max(gop, time - last_key)
                last_key = time
            elif last_key is not None:
                gop = max(gop, time - last_key)  # no keyframe since last_key
            # Container timestamps are rounded (MKV/WebM to 1 ms): a target that close to a frame is on it.
            while len(picked) < len(targets) and targets[len(picked)] < time - tolerance:
                chosen, chosen_time = (previous, previous_time) if previous is not None else (frame, time)
                picked.append(to_rgb(chosen))
                times.append(chosen_time)
            previous, previous_time = frame, time
            if seekable and len(picked) < len(targets) and targets[len(picked)] - time > max(gop, 1.5 / fps):
                target = targets[len(picked)]
                moved = _frames_from(container, stream, target, offset, problems)
                try:
                    first = next(moved, None)
                except (av.FFmpegError, VideoError):
                    seekable = False  # raw streams (.h264) cannot seek: decode through
                    continue
                if first is None:
                    break
                landed = _frame_time(first, offset, target)
                gop = max(gop, target - landed)  # the seek found no keyframe in (landed, target]
                frames, previous, last_key = itertools.chain([first], moved), None, None
        while previous is not None and len(picked) < len(targets):  # the last frame stays on screen
            picked.append(to_rgb(previous))
            times.append(previous_time)
        if damage := _damage_note(name, problems, len(picked)):
            warnings.append(damage)
        original = to_rgb.original or (stream.codec_context.height, stream.codec_context.width)
        codec = stream.codec_context.name
    if not picked:
        raise VideoError(f"{name}: no frame at or after start = {targets[0]:g} s")
    return Clip(
        frames=_stack_releasing(picked),
        fps=fps,
        timestamps=tuple(times),
        name=name,
        original_size=original,
        codec=codec,
        warnings=tuple(warnings),
    )


def _can_seek(source: VideoSource) -> bool:
    """Whether seeking works (raw streams such as .h264 refuse it, and a refused seek spoils the reader)."""
    with _open_input(source) as (container, _):
        try:
            container.seek(0)
        except av.FFmpegError:
            return False
        return True


class _RgbConverter:
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
            self.size = _scaled_size(frame.height, frame.width, self.max_side)
            self.turns = _quarter_turns(frame)
            self.original = (frame.width, frame.height) if self.turns % 2 else (frame.height, frame.width)
        height, width = self.size
        rgb = frame.to_ndarray(format="rgb24", height=height, width=width, interpolation="AREA")
        if self.turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, self.turns))
        self._last = (frame, rgb)
        return rgb


def probe(source: VideoSource) -> VideoInfo:
    """Duration, fps, frame count, size and codec from the headers; only the first frame is decoded (PyAV
    exposes a stored display rotation per frame only).

    The frame count is exact when the container indexes it (MP4, MOV, most MKV), else it is
    ``round(duration * fps)`` and ``frame_count_exact`` is False.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(12, 20, 30, 3, dtype=torch.uint8), fps=24)
        >>> info = probe(buffer.getvalue())
        >>> info.frame_count, info.frame_count_exact, info.width, info.height, info.codec, info.fps
        (12, True, 30, 20, 'h264', 24.0)
    """
    with _open_input(source) as (container, name):
        stream = container.streams.video[0]
        fps = _stream_fps(stream) or FALLBACK_FPS
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


def _as_uint8_frames(frames: Tensor | np.ndarray) -> np.ndarray:
    array = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] < 1:
        raise ShapeError(f"frames must be (T, H, W, 3) with T >= 1, got shape {list(array.shape)}")
    if array.dtype != np.uint8:
        raise ShapeError(f"frames must be uint8, got {array.dtype}")
    return array


def write_video(
    target: str | os.PathLike | BinaryIO,
    frames: Tensor | np.ndarray,
    fps: float,
    *,
    progress: Callable[[int, int], None] | None = None,
    crf: int = 20,
    qp: int | None = None,
) -> None:
    """Write an H.264 (yuv420p) MP4 with faststart: what every browser and ``st.video`` play.

    Odd widths/heights are padded by repeating the last row/column (x264 needs even sizes).

    Args:
        target: path or writable, seekable binary file.
        frames: uint8 :math:`(T, H, W, 3)` RGB, tensor or array.
        fps: frame rate (> 0).
        progress: called as ``progress(frames_done, total)`` after each frame.
        crf: x264 constant rate factor (lower is better quality).
        qp: a constant quantiser instead of ``crf``: the same frames give the same bytes on every run (x264's
            crf rate control does not: re-encoding one clip gave decoded frames 1 level apart on average).
    """
    array = _as_uint8_frames(frames)
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(f"fps must be > 0, got {fps}")
    height, width = array.shape[1:3]
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    if height % 2 or width % 2:
        array = np.pad(array, pad, mode="edge")
    if not isinstance(target, (str, os.PathLike)):
        # faststart rewrites the file by name at the end, so a file object gets a temporary file's bytes.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "video.mp4"
            _encode_h264(path, array, fps, progress, crf, qp)
            target.write(path.read_bytes())
        return
    _encode_h264(target, array, fps, progress, crf, qp)


def _encode_h264(
    path: str | os.PathLike,
    array: np.ndarray,
    fps: float,
    progress: Callable[[int, int], None] | None,
    crf: int,
    qp: int | None = None,
) -> None:
    total = len(array)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(
            "libx264", rate=rate, options={"crf": str(crf)} if qp is None else {"qp": str(qp)}
        )
        stream.width, stream.height = array.shape[2], array.shape[1]
        stream.pix_fmt = "yuv420p"
        # The frame time base must come from the codec (1/fps): the stream's is only known after the header.
        stream.codec_context.time_base = 1 / rate
        # Convert with BT.709 (limited range) and say so in the stream: untagged H.264 leaves the matrix to
        # each player's guess (BT.601 or BT.709), which shifts colours by up to ~20 levels.
        context = stream.codec_context
        context.colorspace, context.color_range = Colorspace.ITU709.value, ColorRange.MPEG.value
        context.color_primaries, context.color_trc = ColorPrimaries.BT709.value, ColorTrc.BT709.value
        for index, rgb in enumerate(array):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
            )
            frame.pts = index
            frame.time_base = stream.codec_context.time_base
            container.mux(stream.encode(frame))
            if progress is not None:
                progress(index + 1, total)
        container.mux(stream.encode(None))


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
