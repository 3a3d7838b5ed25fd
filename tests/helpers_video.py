"""Real encoded test videos made with PyAV (no fixtures checked in)."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch


def ramp_frames(num_frames: int, height: int, width: int) -> np.ndarray:
    """uint8 (T, H, W, 3) frames whose brightness encodes the frame index (index * 8, mod 256).

    Frame t is flat grey ``8 t``, with a bright square moving right by 2 px per frame, so decoded frames can
    be told apart after lossy coding.
    """
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t] = (8 * t) % 256
        x = (2 * t) % max(1, width - 4)
        frames[t, 1:5, x : x + 4] = 255
    return frames


def frame_index(frame: np.ndarray | torch.Tensor) -> int:
    """Recover ``t`` from a decoded :func:`ramp_frames` frame (its bottom-left corner's grey level)."""
    value = float(np.asarray(frame)[-3:, :3].mean())
    return round(value / 8)


def make_video(
    path: Path,
    frames: np.ndarray | int,
    fps: float = 25,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (48, 64),
    gop: int | None = None,
    rotation: int = 0,
) -> Path:
    """Encode ``frames`` (uint8 (T, H, W, 3), or a count of :func:`ramp_frames` of ``size``) to ``path``.

    The container follows the suffix (.mp4, .avi, .mkv, .ts). ``codec`` is "libx264" (yuv420p; sizes must
    be even) or "mpeg4"; ``gop`` sets the keyframe interval; ``rotation`` stores a display rotation
    (counter-clockwise degrees, as phones do) without turning the pixels.
    """
    if isinstance(frames, int):
        frames = ramp_frames(frames, *size)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = stream.codec_context.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """An audio-only file (AAC in M4A, silence), for the 'no video stream' error."""
    rate = 16000
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = np.zeros((1, int(rate * seconds)), dtype=np.float32)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, samples.shape[1], frame_size):
            chunk = np.ascontiguousarray(samples[:, start : start + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


class _Pipe(io.RawIOBase):
    """A readable stream that cannot seek, like a pipe or a network stream."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self.data.readinto(buffer)


def pipe(data: bytes) -> io.BufferedReader:
    """``data`` behind a non-seekable buffered reader (``seekable()`` is False)."""
    return io.BufferedReader(_Pipe(data))
