"""The videos people bring: real encodes of each codec and container made with PyAV's own encoders.

VP9 and AV1 in WebM/MKV, HEVC in MP4, ProRes in MOV, 10-bit and grayscale sources, variable frame rate and
a raw stream without container timing; each decodes to the frames that were encoded (told apart by
:func:`helpers_video.frame_index`), with exact timestamps, or fails with a specific message.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mp_core.errors import VideoError
from mp_core.sources import VIDEO_SUFFIXES
from mp_core.video_io import probe, read_clip, read_clip_uniform
from tests.helpers_video import frame_index, pipe, ramp_frames
from ui.state import VIDEO_TYPES


def encode(
    path: Path,
    codec: str,
    pix_fmt: str,
    times_ms: list[int] | None = None,
    *,
    fps: int = 10,
    container_format: str | None = None,
    count: int = 12,
) -> np.ndarray:
    """Encode ramp frames (shown at ``times_ms``, else every 1/fps s) with ``codec`` in ``pix_fmt``."""
    frames = ramp_frames(count if times_ms is None else len(times_ms), 64, 96)
    time_base = Fraction(1, 1000) if times_ms is not None else Fraction(1, fps)
    pts = times_ms if times_ms is not None else list(range(len(frames)))
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, pix_fmt
        stream.codec_context.time_base = time_base
        for value, rgb in zip(pts, frames, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = value, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return frames


CASES = [
    ("vp9.webm", "libvpx-vp9", "yuv420p", "vp9"),
    ("vp9.mkv", "libvpx-vp9", "yuv420p", "vp9"),
    ("av1.webm", "libsvtav1", "yuv420p", "libdav1d"),
    ("av1_10bit.mkv", "libsvtav1", "yuv420p10le", "libdav1d"),
    ("hevc.mp4", "libx265", "yuv420p", "hevc"),
    ("hevc_10bit.mp4", "libx265", "yuv420p10le", "hevc"),
    ("h264_10bit.mp4", "libx264", "yuv420p10le", "h264"),
    ("prores_10bit.mov", "prores_ks", "yuv422p10le", "prores"),
    ("gray.mkv", "ffv1", "gray", "ffv1"),
    ("gray_10bit.mkv", "ffv1", "gray10le", "ffv1"),
]


@pytest.mark.parametrize(("name", "codec", "pix_fmt", "decoder"), CASES, ids=[c[0] for c in CASES])
def test_each_codec_decodes_to_the_encoded_frames(tmp_path: Path, name, codec, pix_fmt, decoder) -> None:
    path = tmp_path / name
    frames = encode(path, codec, pix_fmt)
    clip = read_clip(path)
    assert clip.codec == decoder
    assert clip.frames.shape == (12, 64, 96, 3)
    assert clip.fps == pytest.approx(10)
    assert clip.timestamps == pytest.approx([t / 10 for t in range(12)])
    assert [frame_index(f) for f in clip.frames] == list(range(12))
    # Colours survive up to coding loss (a wrong range or matrix would shift the greys by 10+ levels).
    assert np.abs(clip.frames.numpy().astype(int) - frames.astype(int)).mean() < 3
    assert clip.warnings == ()
    uniform = read_clip_uniform(path, 4)
    assert [frame_index(f) for f in uniform.frames] == [0, 3, 7, 11]  # linspace(0, 11, 4) truncated
    info = probe(path)
    assert (info.width, info.height, info.duration) == (96, 64, pytest.approx(1.2, abs=0.01))


def test_every_container_suffix_the_uploader_accepts_is_one_the_readers_list() -> None:
    assert [suffix[1:] for suffix in VIDEO_SUFFIXES] == VIDEO_TYPES
    assert {"webm", "mkv", "mov", "mp4"} <= set(VIDEO_TYPES)


# Frames shown at irregular times (screen recordings, phones that drop frames): 0 ms, 100, 150, 400, ...
VFR_MS = [0, 100, 150, 400, 500, 1000, 1033, 1066, 1500, 2000]


@pytest.mark.parametrize("name", ["vfr.mkv", "vfr.webm"])
def test_variable_frame_rate_keeps_each_frames_own_time(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    encode(path, "libx264" if name.endswith("mkv") else "libvpx-vp9", "yuv420p", VFR_MS, fps=30)
    clip = read_clip(path)
    assert clip.timestamps == pytest.approx([t / 1000 for t in VFR_MS])
    assert [frame_index(f) for f in clip.frames] == list(range(10))
    # Uniform targets over [0, 2.0] s: the frame on screen at 0, 0.4, 0.8, 1.2, 1.6, 2.0 s is the last one
    # that started at or before it (frame 4 started at 0.5 s and is on screen until 1.0 s).
    uniform = read_clip_uniform(path, 6)
    assert [frame_index(f) for f in uniform.frames] == [0, 3, 4, 7, 8, 9]
    assert uniform.timestamps == pytest.approx([0.0, 0.4, 0.5, 1.066, 1.5, 2.0])


def test_a_raw_stream_without_duration_is_sampled_over_all_its_frames(tmp_path: Path) -> None:
    # An H.264 elementary stream has no container: no duration, and the frame rate is FFmpeg's guess.
    path = tmp_path / "camera.h264"
    encode(path, "libx264", "yuv420p", container_format="h264", count=12)
    assert probe(path).duration == 0.0
    clip = read_clip_uniform(path, 4)
    assert [frame_index(f) for f in clip.frames] == [0, 3, 7, 11]
    assert any("states no duration" in warning for warning in clip.warnings)


def test_an_unseekable_stream_is_sampled_uniformly(tmp_path: Path) -> None:
    path = tmp_path / "clip.webm"
    encode(path, "libvpx-vp9", "yuv420p")

    clip = read_clip_uniform(pipe(path.read_bytes()), 4)
    assert [frame_index(f) for f in clip.frames] == [0, 3, 7, 11]


def test_a_container_without_a_decodable_video_stream_says_so(tmp_path: Path) -> None:
    path = tmp_path / "broken.webm"
    encode(path, "libvpx-vp9", "yuv420p")
    data = bytearray(path.read_bytes())
    data[200:] = bytes(len(data) - 200)  # the headers survive, every frame is zeros
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"broken\.webm: (no decodable frame|not a video file)"):
        read_clip_uniform(path, 4)
