"""mp_core.video_io on real files encoded with PyAV: counts, fps, seeking, stride, scaling, errors, export."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from mp_core import InputError
from mp_core.errors import ShapeError, VideoError
from mp_core.video_io import probe, read_clip, read_clip_uniform, write_video
from tests.helpers_video import frame_index, make_audio_only, make_video, pipe, ramp_frames


@pytest.fixture(scope="module")
def h264(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "ramp.mp4", 30, fps=10)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    # 300 frames at 30 fps, keyframe every 50 frames: seeking lands on a keyframe before the target.
    return make_video(tmp_path_factory.mktemp("v") / "long.mp4", 300, fps=30, gop=50, size=(32, 32))


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_round_trip_counts_fps_and_content(tmp_path: Path, codec: str) -> None:
    path = make_video(tmp_path / f"clip_{codec}.mp4", 20, fps=12.5, codec=codec)
    clip = read_clip(path)
    assert clip.frames.shape == (20, 48, 64, 3)
    assert clip.frames.dtype == torch.uint8
    assert clip.fps == pytest.approx(12.5)
    assert clip.timestamps == pytest.approx([t / 12.5 for t in range(20)])
    assert [frame_index(f) for f in clip.frames] == list(range(20))
    assert clip.codec == ("h264" if codec == "libx264" else "mpeg4")
    assert clip.name == path.name
    assert clip.original_size == (48, 64)
    assert clip.warnings == ()


def test_odd_size_mpeg4_reads_and_h264_export_pads(tmp_path: Path) -> None:
    odd = make_video(tmp_path / "odd.avi", ramp_frames(6, 49, 65), fps=10, codec="mpeg4")
    clip = read_clip(odd)
    assert clip.frames.shape == (6, 49, 65, 3)
    out = tmp_path / "odd_out.mp4"
    write_video(out, clip.frames, clip.fps)
    back = read_clip(out)
    assert back.frames.shape == (6, 50, 66, 3)  # padded to even by repeating the edge
    assert back.codec == "h264"
    assert torch.equal(back.frames[:, 49], back.frames[:, 48])  # edge row repeated (up to coding)
    assert [frame_index(f) for f in back.frames] == list(range(6))


def test_sources_path_bytes_and_file_object(h264: Path) -> None:
    by_path = read_clip(h264, max_frames=5)
    by_bytes = read_clip(h264.read_bytes(), max_frames=5)
    handle = io.BytesIO(h264.read_bytes())
    handle.name = "upload.mp4"
    by_file = read_clip(handle, max_frames=5)
    assert torch.equal(by_path.frames, by_bytes.frames)
    assert torch.equal(by_path.frames, by_file.frames)
    assert (by_bytes.name, by_file.name) == ("upload", "upload.mp4")


def test_an_unseekable_stream_is_read_too(h264: Path) -> None:
    clip = read_clip(pipe(h264.read_bytes()), max_frames=3)
    assert [frame_index(f) for f in clip.frames] == [0, 1, 2]


def test_max_frames_and_stride(h264: Path) -> None:
    clip = read_clip(h264, max_frames=4, stride=3)
    assert [frame_index(f) for f in clip.frames] == [0, 3, 6, 9]
    assert clip.timestamps == pytest.approx([0.0, 0.3, 0.6, 0.9])


def test_start_seeks_to_the_frame_on_screen_at_that_time(long_video: Path) -> None:
    clip = read_clip(long_video, start=7.0, max_frames=3)
    assert clip.timestamps == pytest.approx([7.0, 7.0 + 1 / 30, 7.0 + 2 / 30])
    mid = read_clip(long_video, start=2.52, max_frames=1)  # frame 75 shows over [2.5, 2.533)
    assert mid.timestamps[0] == pytest.approx(75 / 30)
    assert frame_index(mid.frames[0]) == 75 % 32


def test_seeking_in_mpeg_ts_which_has_no_index(tmp_path: Path) -> None:
    # MPEG-TS streams start at a nonzero time and seek imprecisely: here the seek lands on the keyframe at
    # frame 32 (the ramp wraps there, a scene cut), after the target, and must step back.
    path = make_video(tmp_path / "clip.ts", 96, fps=30, gop=50, size=(32, 32))
    whole = read_clip(path)
    assert whole.timestamps[:3] == pytest.approx([0.0, 1 / 30, 2 / 30])  # counted from the stream's start
    for start, first in [(1.0, 30), (0.4, 12), (2.5, 75)]:
        clip = read_clip(path, start=start, max_frames=2)
        assert clip.timestamps == pytest.approx([first / 30, (first + 1) / 30])
        assert [frame_index(f) for f in clip.frames] == [first % 32, (first + 1) % 32]
        assert clip.warnings == ()


@pytest.mark.parametrize(("degrees", "corner"), [(90, (-1, 0)), (-90, (0, -1)), (180, (-1, -1))])
def test_a_stored_display_rotation_is_applied(tmp_path: Path, degrees: int, corner) -> None:
    # Phone videos store portrait clips as landscape frames plus a rotation (counter-clockwise degrees).
    frames = np.zeros((3, 32, 64, 3), dtype=np.uint8)
    frames[:, :8, :8] = 255  # white top-left corner of the stored frame
    path = make_video(tmp_path / "phone.mp4", frames, rotation=degrees)
    clip = read_clip(path, max_side=32)
    upright = (32, 16) if degrees % 180 else (16, 32)
    assert clip.frames.shape == (3, *upright, 3)
    assert clip.original_size == ((64, 32) if degrees % 180 else (32, 64))
    assert clip.frames[0, corner[0], corner[1]].min() > 200  # the white corner turned with the picture
    info = probe(path)
    assert (info.height, info.width, info.rotation) == (*clip.original_size, degrees % 360)


def test_start_past_the_end(h264: Path) -> None:
    with pytest.raises(VideoError, match=r"no frame at or after start = 50 s"):
        read_clip(h264, start=50.0)


def test_max_side_keeps_aspect_and_never_enlarges(h264: Path) -> None:
    assert read_clip(h264, max_frames=1, max_side=32).frames.shape == (1, 24, 32, 3)
    assert read_clip(h264, max_frames=1, max_side=1000).frames.shape == (1, 48, 64, 3)


def test_max_side_antialiases(tmp_path: Path) -> None:
    # A one-pixel checkerboard shrunk 4x must become flat grey, not aliased stripes.
    board = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)
    frames = np.repeat(np.stack([board] * 3, axis=-1)[None], 2, axis=0)
    path = make_video(tmp_path / "board.avi", frames, codec="mpeg4")
    small = read_clip(path, max_side=16).frames.float()
    assert small.std().item() < 20
    assert abs(small.mean().item() - 127.5) < 20


def test_uniform_sampling_matches_index_truncation(long_video: Path) -> None:
    clip = read_clip_uniform(long_video, 8)
    want = np.linspace(0, 299, 8).astype(int) / 30  # PySlowFast: linspace over indices, truncated
    assert clip.timestamps == pytest.approx(want.tolist())
    window = read_clip_uniform(long_video, 5, start=2.0, end=4.0)
    assert window.timestamps == pytest.approx([2.0, 2.5, 3.0, 3.5, 4.0])


def test_uniform_sampling_repeats_frames_of_a_short_clip(h264: Path) -> None:
    clip = read_clip_uniform(h264, 40)
    assert clip.frames.shape[0] == 40
    assert len(set(clip.timestamps)) == 30


def test_probe_without_decoding(long_video: Path, h264: Path) -> None:
    info = probe(long_video)
    assert (info.frame_count, info.frame_count_exact) == (300, True)
    assert info.fps == pytest.approx(30)
    assert info.duration == pytest.approx(10.0, abs=0.05)
    assert (info.width, info.height, info.codec) == (32, 32, "h264")
    assert probe(h264.read_bytes()).name == "upload"


def test_probe_estimates_when_the_container_has_no_count(tmp_path: Path) -> None:
    # MPEG-TS has no frame index: the count is estimated from duration x fps and says so.
    path = tmp_path / "clip.ts"
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 8, np.uint8), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = probe(path)
    assert info.frame_count_exact is False
    assert abs(info.frame_count - 25) <= 2


def _truncated(tmp_path: Path) -> Path:
    # Noisy frames so every frame has a sizeable packet; write_video's faststart puts the index first,
    # so cutting the tail loses frame data, not the index.
    frames = ramp_frames(30, 48, 64)
    frames[:, 8:40] = np.random.default_rng(0).integers(0, 256, (30, 32, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    write_video(buffer, frames, 10)
    data = buffer.getvalue()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_truncated_file_returns_the_frames_that_decode_with_a_warning(tmp_path: Path) -> None:
    clip = read_clip(_truncated(tmp_path))
    assert 0 < clip.frames.shape[0] < 30
    assert [frame_index(f) for f in clip.frames] == list(range(clip.frames.shape[0]))
    assert any("truncated" in w for w in clip.warnings)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", r"missing\.mp4: no such file"),
        (lambda d: d, "is a folder, not a video file"),
        (lambda d: _write(d / "empty.mp4", b""), r"empty\.mp4: the file is empty"),
        (lambda d: _write(d / "noise.mp4", np.random.default_rng(0).bytes(4096)), "not a video file"),
        (lambda d: _write(d / "notes.avi", b"just some text\n" * 100), r"notes\.avi: not a video file"),
        (lambda d: make_audio_only(d / "sound.m4a"), r"sound\.m4a: no video stream \(found audio\)"),
    ],
    ids=["missing", "folder", "empty", "random-bytes", "text-named-avi", "audio-only"],
)
def test_bad_input_raises_a_specific_video_error(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(VideoError, match=message):
        read_clip(path)
    with pytest.raises(InputError):
        probe(path)


def test_a_file_whose_video_packets_are_all_garbage_has_no_decodable_frame(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_video(buffer, ramp_frames(6, 32, 32), 10)
    data = bytearray(buffer.getvalue())
    media = data.find(b"mdat") + 4  # faststart: the index comes first and survives
    data[media:] = bytes(len(data) - media)
    with pytest.raises(VideoError, match=r"garbage\.mp4: no decodable frame"):
        read_clip(_write(tmp_path / "garbage.mp4", bytes(data)))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_empty_bytes_and_bad_arguments() -> None:
    with pytest.raises(VideoError, match="empty"):
        read_clip(b"")
    with pytest.raises(VideoError, match="stride"):
        read_clip(b"x", stride=0)
    with pytest.raises(VideoError, match="start"):
        read_clip(b"x", start=-1.0)


def test_write_video_is_browser_playable_h264_faststart(tmp_path: Path) -> None:
    frames = torch.from_numpy(ramp_frames(12, 48, 64))
    calls: list[tuple[int, int]] = []
    buffer = io.BytesIO()
    write_video(buffer, frames, 24, progress=lambda done, total: calls.append((done, total)))
    data = buffer.getvalue()
    assert calls[-1] == (12, 12) and len(calls) == 12
    # faststart: the 'moov' index precedes the media data so browsers can start playing at once.
    assert 0 < data.find(b"moov") < data.find(b"mdat")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.frames == 12
        assert float(stream.average_rate) == pytest.approx(24)


def test_write_video_tags_bt709_and_keeps_colours(tmp_path: Path) -> None:
    colours = np.array([[250, 90, 40], [20, 200, 60], [30, 60, 220], [128, 128, 128], [255, 255, 255]])
    frames = np.broadcast_to(colours[:, None, None, :].astype(np.uint8), (5, 32, 32, 3))
    path = tmp_path / "colours.mp4"
    write_video(path, frames, 10)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        # BT.709 matrix, primaries and transfer, limited range: players need not guess.
        assert (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc) == (1, 1, 1, 1)
    back = read_clip(path).frames[:, 16, 16].int()
    assert (back - torch.from_numpy(colours)).abs().max() <= 4  # CRF 20 and 8-bit rounding


def test_write_video_refuses_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"\(T, H, W, 3\).*\[4, 8, 8\]"):
        write_video(tmp_path / "x.mp4", torch.zeros(4, 8, 8, dtype=torch.uint8), 10)
    with pytest.raises(ShapeError, match="uint8"):
        write_video(tmp_path / "x.mp4", torch.zeros(4, 8, 8, 3), 10)


def test_clip_as_float_and_pickles(h264: Path) -> None:
    clip = read_clip(h264, max_frames=2)
    floats = clip.as_float()
    assert floats.shape == (2, 3, 48, 64) and floats.dtype == torch.float32
    assert floats.max() <= 1.0 and torch.equal(clip.frames, read_clip(h264, max_frames=2).frames)
    assert torch.equal(pickle.loads(pickle.dumps(clip)).frames, clip.frames)  # st.cache_data pickles it


def _count_decoded(monkeypatch) -> list[int]:
    """Count the frames the decoder produces (the work a read does), through the one frame source."""
    import mp_core.video.decode as decode

    counter = [0]
    original = decode.decoded_frames

    def counted(*args, **kwargs):
        for frame in original(*args, **kwargs):
            counter[0] += 1
            yield frame

    monkeypatch.setattr(decode, "decoded_frames", counted)
    return counter


def test_uniform_sampling_seeks_between_targets_further_apart_than_a_keyframe_interval(
    tmp_path: Path, monkeypatch
) -> None:
    # 400 frames at 2 fps (200 s), a keyframe every 4 frames: 8 targets ~28 s apart.
    path = make_video(tmp_path / "long.mp4", 400, fps=2, gop=4, size=(32, 32))
    decoded = _count_decoded(monkeypatch)
    clip = read_clip_uniform(path, 8)
    want = np.linspace(0, 399, 8).astype(int)  # index truncation
    assert clip.timestamps == pytest.approx((want / 2).tolist())
    assert [frame_index(f) for f in clip.frames] == (want % 32).tolist()
    assert decoded[0] <= 8 * 5 + 4  # at most a keyframe interval per target, not the 400 frames


def test_uniform_sampling_decodes_through_targets_closer_than_a_keyframe_interval(
    tmp_path: Path, monkeypatch
) -> None:
    # 120 frames at 10 fps with one keyframe every 100 frames: targets 1 s apart lie inside one interval,
    # where seeking would decode from frame 0 again for each of them.
    path = make_video(tmp_path / "gop.mp4", 120, fps=10, gop=100, size=(32, 32))
    decoded = _count_decoded(monkeypatch)
    clip = read_clip_uniform(path, 12)
    want = np.linspace(0, 119, 12).astype(int)
    assert [frame_index(f) for f in clip.frames] == (want % 32).tolist()
    assert decoded[0] <= 120 + 10


def test_uniform_sampling_of_an_unseekable_stream(h264: Path) -> None:
    clip = read_clip_uniform(pipe(h264.read_bytes()), 4)
    assert [frame_index(f) for f in clip.frames] == [0, 9, 19, 29]


def test_probe_measures_the_rate_when_the_file_states_only_its_tick_rate(tmp_path: Path) -> None:
    """A browser's MediaRecorder WebM states its millisecond time base as the rate (1000 fps) and jittered
    timestamps: the rate is the median step between them (33 ms here, so 1000/33 fps)."""
    from fractions import Fraction

    steps = [33, 34, 33, 30, 33, 37, 33, 33, 34, 33, 32] * 2
    path = tmp_path / "recorded.webm"
    with av.open(str(path), "w", format="webm", options={"live": "1"}) as container:
        stream = container.add_stream("libvpx", rate=1000)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for rgb, step in zip(ramp_frames(len(steps), 24, 32), steps, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
            pts += step
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert float(stream.average_rate) == 1000  # what the header states: its tick rate
    assert probe(path).fps == pytest.approx(1000 / 33, abs=1e-9)


def test_a_header_claiming_a_hundred_hours_gives_a_bounded_read_and_a_message(tmp_path: Path) -> None:
    """An MKV whose Duration element says 100 h (9,000,000 frames at 25 fps) but holds 30 frames (1.2 s):
    16 uniform targets are one seek each past the end, the read stays small and says what happened."""
    import struct
    import tracemalloc

    real = tmp_path / "short.mkv"
    make_video(real, ramp_frames(30, 48, 64), fps=25)
    data = bytearray(real.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Matroska's Duration element: ID 0x4489, an 8-byte float (ms)
    assert at > 0 and struct.unpack(">d", data[at + 3 : at + 11]) == (1200.0,)
    data[at + 3 : at + 11] = struct.pack(">d", 100 * 3600e3)
    forged = tmp_path / "forged.mkv"
    forged.write_bytes(data)
    info = probe(forged)
    assert (info.duration, info.frame_count, info.frame_count_exact) == (360000.0, 9_000_000, False)
    tracemalloc.start()
    clip = read_clip_uniform(forged, 16, max_side=64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert clip.frames.shape == (16, 48, 64, 3) and peak < 32 * 2**20
    assert frame_index(clip.frames[0].numpy()) == 0 and max(clip.timestamps) <= 1.2
    assert any("before the 359999.96 s its header promises" in w for w in clip.warnings), clip.warnings
