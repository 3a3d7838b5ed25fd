"""A camera recording (WebM as MediaRecorder writes it) becomes the session's clip through the upload path.

MediaRecorder's WebM is live: no duration in its header and no frame count. PyAV's webm muxer with
``live=1`` writes the same (checked below), so the recordings here are real VP8 and VP9 files of that kind.
"""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from mp_core.video_io import probe
from tests.helpers_video import frame_index, make_video, ramp_frames
from ui import camera
from ui.clips import current_clip, session_files
from ui.state import init_state

NAME = "camera-20261207-010203.webm"


def live_webm(path: Path, codec: str, count: int = 30, fps: int = 30) -> Path:
    """A WebM written as a browser records one: millisecond timestamps, no duration, no cues."""
    with av.open(str(path), "w", format="webm", options={"live": "1"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, rgb in enumerate(ramp_frames(count, 48, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = round(index * 1000 / fps), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def event(data: bytes | str, name: str = NAME, seq: int = 4) -> dict[str, Any]:
    text = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
    return {"value": {"name": name, "mime": "video/webm", "data": text}, "viewer": "v1", "seq": seq}


@pytest.fixture
def state() -> dict[str, Any]:
    values: dict[str, Any] = {}
    init_state(values)
    values.update({"mp.frames": 8, "mp.max_side": 64})
    return values


@pytest.mark.parametrize(("codec", "name"), [("libvpx", "vp8"), ("libvpx-vp9", "vp9")])
def test_recording_becomes_the_sessions_clip(state, tmp_path: Path, codec: str, name: str) -> None:
    recording = live_webm(tmp_path / "rec.webm", codec)
    header = probe(recording)
    assert (header.duration, header.frame_count_exact, header.codec) == (0.0, False, name)  # as recorded
    camera.on_recording(state, {"recording": event(recording.read_bytes())})
    assert state["mp.source"] == "Upload" and state["mp.upload_error"] == ""
    assert state["mp.viewer_ack"] == {"viewer": "v1", "seq": 4}
    upload = state["mp.upload"]
    assert upload.name == NAME and upload.path.suffix == ".webm"
    assert upload.path.parent == session_files().folder  # deleted with the session's folder
    assert upload.path.read_bytes() == recording.read_bytes()
    spec, data = current_clip(state)
    assert spec.kind == "upload" and spec.label == NAME
    # no duration in the header: uniform sampling still spreads 8 frames over the whole recording
    indices = [frame_index(frame) for frame in data.clip.frames.numpy()]
    assert data.clip.frames.shape == (8, 48, 64, 3)
    assert indices[0] == 0 and indices[-1] >= 26 and indices == sorted(set(indices))
    state["mp.mode"] = "stride"  # and the first frames in order with a stride
    state["mp.stride"] = 2
    _, strided = current_clip(state)
    assert [frame_index(frame) for frame in strided.clip.frames.numpy()] == list(range(0, 16, 2))


def test_a_new_recording_replaces_the_previous_file(state, tmp_path: Path) -> None:
    first = live_webm(tmp_path / "a.webm", "libvpx", count=10)
    second = live_webm(tmp_path / "b.webm", "libvpx", count=12)
    assert camera.apply_recording(state, event(first.read_bytes()))
    old = state["mp.upload"].path
    assert camera.apply_recording(state, event(second.read_bytes(), name="camera-20261207-010300.webm"))
    assert not old.exists() and state["mp.upload"].path.exists()
    assert state["mp.upload"].name == "camera-20261207-010300.webm"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: {"value": {"name": NAME}}, "did not arrive"),
        (lambda path: event("not base64 at all!"), "arrived damaged"),
        (lambda path: event(make_video(path / "clip.mp4", 4).read_bytes()), "is not a WebM video"),
        (lambda path: event(b"\x1a\x45\xdf\xa3" + b"\x00" * 64), "Could not use camera-20261207-010203.webm"),
    ],
    ids=["no data", "bad base64", "mp4", "broken webm"],
)
def test_a_bad_recording_keeps_the_clip_and_says_why(state, tmp_path: Path, make, message: str) -> None:
    before = current_clip(state)[0]
    files = set(session_files().folder.glob("*"))
    assert not camera.apply_recording(state, make(tmp_path))
    assert message in state["mp.upload_error"]
    assert current_clip(state)[0] == before and state["mp.source"] == "Sample"
    assert set(session_files().folder.glob("*")) == files  # nothing left behind


def test_a_recording_over_the_bound_is_refused_before_decoding(state, tmp_path, monkeypatch) -> None:
    recording = live_webm(tmp_path / "rec.webm", "libvpx").read_bytes()
    monkeypatch.setattr(camera, "MAX_RECORDING_BYTES", len(recording) - 100)
    assert not camera.apply_recording(state, event(recording))
    assert state["mp.upload_error"].startswith("The recording is over") and state["mp.upload"] is None
    monkeypatch.setattr(camera, "MAX_RECORDING_BYTES", len(recording))
    assert camera.apply_recording(state, event(recording))


def test_a_name_from_the_browser_is_only_a_recordings_name(state, tmp_path) -> None:
    recording = live_webm(tmp_path / "rec.webm", "libvpx", count=6).read_bytes()
    assert camera.apply_recording(state, event(recording, name="../../etc/passwd<script>.webm"))
    assert state["mp.upload"].name == "camera.webm"
