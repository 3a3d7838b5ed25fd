"""Frames spread evenly over a span, as training pipelines sample long clips: :func:`read_clip_uniform`."""

from __future__ import annotations

import io
import itertools
from dataclasses import replace

import av
import numpy as np

from mp_core.errors import VideoError
from mp_core.sources import open_source
from mp_core.video.decode import (
    RgbConverter,
    VideoSource,
    damage_note,
    frame_rate,
    frame_time,
    frames_from,
    open_input,
    stack_frames,
    start_offset,
)
from mp_core.video.probe import probe
from mp_core.video.read import Clip, check_span

__all__ = ["read_clip_uniform"]


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
    repeats when the span holds fewer frames than asked for (:meth:`mp_core.sampling.Sampling.frame_count`
    gives the count that avoids repeats).

    Targets further apart than a keyframe interval are reached by seeking, closer ones by decoding through,
    so the cost grows with the frames kept, not with the video's length. A pipe (a file object that cannot
    seek) is read into memory once.

    Example:
        >>> import io, torch
        >>> from mp_core.video import write_video
        >>> buffer = io.BytesIO()
        >>> write_video(buffer, torch.zeros(50, 16, 16, 3, dtype=torch.uint8), fps=10)
        >>> read_clip_uniform(buffer.getvalue(), 5).timestamps
        (0.0, 1.2, 2.4, 3.6, 4.9)
    """
    if num_frames < 1:
        raise VideoError(f"num_frames must be >= 1, got {num_frames}")
    check_span(start, end)
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
    with open_input(source) as (container, _):
        stream = container.streams.video[0]
        offset = start_offset(stream)
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
    with open_input(source) as (container, name):
        stream = container.streams.video[0]
        fps = frame_rate(stream, warnings)
        offset = start_offset(stream)
        to_rgb = RgbConverter(max_side)
        tolerance = min(1e-3, 0.25 / fps)
        problems: list[str] = []
        frames = frames_from(container, stream, targets[0], offset, problems)
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
            time = frame_time(frame, offset, count / fps)
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
                moved = frames_from(container, stream, target, offset, problems)
                try:
                    first = next(moved, None)
                except (av.FFmpegError, VideoError):
                    seekable = False  # raw streams (.h264) cannot seek: decode through
                    continue
                if first is None:
                    break
                landed = frame_time(first, offset, target)
                gop = max(gop, target - landed)  # the seek found no keyframe in (landed, target]
                frames, previous, last_key = itertools.chain([first], moved), None, None
        if previous is not None and targets[-1] - previous_time > max(1.0, 2 / fps):
            # The header claimed more than there is (a lying duration): say so rather than sample emptiness.
            warnings.append(
                f"{name}: its frames end at {previous_time:.2f} s, before the {targets[-1]:.2f} s its header "
                "promises; the last frame stands for the rest"
            )
        while previous is not None and len(picked) < len(targets):  # the last frame stays on screen
            picked.append(to_rgb(previous))
            times.append(previous_time)
        if damage := damage_note(name, problems, len(picked)):
            warnings.append(damage)
        original, codec = to_rgb.original_size(stream), stream.codec_context.name
    if not picked:
        raise VideoError(f"{name}: no frame at or after start = {targets[0]:g} s")
    return Clip(stack_frames(picked), fps, tuple(times), name, original, codec, tuple(warnings))


def _can_seek(source: VideoSource) -> bool:
    """Whether seeking works (raw streams such as .h264 refuse it, and a refused seek spoils the reader)."""
    with open_input(source) as (container, _):
        try:
            container.seek(0)
        except av.FFmpegError:
            return False
        return True
