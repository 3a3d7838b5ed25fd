"""ui.clips: the frames-available estimate and the fall-back to the last clip that loaded (plain dicts)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from mp_core.video_io import VideoInfo
from ui.clips import UploadedClip, current_clip, uniform_frame_count
from ui.state import init_state


def info(duration: float, fps: float, count: int, exact: bool) -> VideoInfo:
    return VideoInfo(duration, fps, count, exact, 64, 48, "h264", "clip.mp4")


@pytest.mark.parametrize(
    ("video", "start", "asked", "expected"),
    [
        (info(10.0, 30.0, 300, True), 0.0, 16, 16),  # long enough: as asked
        (info(0.4, 25.0, 10, True), 0.0, 16, 10),  # 10 frames in all: shown whole, none repeated
        (info(0.4, 25.0, 10, True), 0.2, 16, 5),  # from 0.2 s: (0.4 - 0.2) * 25 = 5 left
        (info(0.41, 25.0, 10, False), 0.0, 16, 11),  # no exact count: ceil(0.41 * 25) = ceil(10.25)
        (info(1.0, 25.0, 25, True), 0.99, 16, 1),  # ceil(0.25) = 1 frame left
        (info(1.0, 25.0, 25, True), 5.0, 16, 1),  # past the end: still 1 (the reader says why)
        (info(0.0, 25.0, 0, False), 0.0, 16, 16),  # no duration known (a stream): as asked
    ],
)
def test_uniform_frame_count(video: VideoInfo, start: float, asked: int, expected: int) -> None:
    assert uniform_frame_count(video, start, asked) == expected


def small_synthetic_state() -> dict[str, Any]:
    state: dict[str, Any] = {}
    init_state(state)
    state.update({"mp.source": "Synthetic", "mp.frames": 4, "mp.max_side": 32, "mp.syn.seed": 7})
    return state


def bad_upload(state: dict[str, Any]) -> None:
    """Ask for an upload that does not decode (a unique spooled file, so no store holds it)."""
    path = Path(tempfile.mkdtemp()) / f"{uuid.uuid4().hex}.mp4"
    path.write_bytes(b"\x00not a video" * 10)
    state["mp.source"] = "Upload"
    state["mp.upload"] = UploadedClip("broken.mp4", uuid.uuid4().hex, path)


def test_a_clip_that_fails_falls_back_to_the_last_good_one() -> None:
    state = small_synthetic_state()
    good = current_clip(state)
    assert good is not None
    spec, data = good
    assert spec.kind == "synthetic" and data.frames.shape == (4, 3, 24, 32)
    assert state["mp.last_good"] == spec and state["mp.clip_error"] == ""

    bad_upload(state)
    fallen_back = current_clip(state)
    assert fallen_back is not None and fallen_back[0] == spec
    assert state["mp.clip_error"].startswith("Could not use broken.mp4: ")
    assert state["mp.last_good"] == spec

    state["mp.source"] = "Synthetic"  # the good clip again: the error goes away
    assert current_clip(state)[0] == spec and state["mp.clip_error"] == ""


def test_no_last_good_clip_gives_none_with_the_reason() -> None:
    state = small_synthetic_state()
    bad_upload(state)
    assert current_clip(state) is None
    assert state["mp.clip_error"].startswith("Could not use broken.mp4: ")


def test_an_upload_not_made_yet_keeps_the_last_clip_without_an_error() -> None:
    state = small_synthetic_state()
    spec, _ = current_clip(state)
    state["mp.source"] = "Upload"  # chosen, nothing uploaded yet
    assert current_clip(state)[0] == spec
    assert state["mp.clip_error"] == ""
