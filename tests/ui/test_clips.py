"""ui.clips: the sidebar's sampling and the fall-back to the last clip that loaded (plain dicts)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from mp_core.sampling import Sampling
from ui.clips import UploadedClip, current_clip, sampling_of, spool_upload
from ui.state import init_state


@pytest.mark.parametrize(
    ("mode", "stride", "expected"),
    [
        ("uniform", 3, Sampling(frames=8, start=0.5, max_side=160)),
        ("stride", 3, Sampling(frames=8, start=0.5, stride=3, max_side=160)),
    ],
)
def test_the_sidebar_modes_name_a_sampling(mode: str, stride: int, expected: Sampling) -> None:
    """ "uniform" ignores the stride box (no re-decode when it changes); "stride" reads consecutive frames."""
    state: dict[str, Any] = {}
    init_state(state)
    state.update({"mp.frames": 8, "mp.start": 0.5, "mp.mode": mode, "mp.stride": stride, "mp.max_side": 160})
    assert sampling_of(state) == expected
    assert expected.mode == ("uniform" if mode == "uniform" else "consecutive")


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


def test_an_upload_is_spooled_whole_under_its_digest_once(tmp_path: Path) -> None:
    import hashlib
    import io

    content = b"\x00\x01 video bytes " * 70_000  # over one copy block (1 MiB)
    upload = io.BytesIO(content)
    upload.name = "Clip.MP4"
    upload.read(10)  # the widget's position is anywhere
    path, digest = spool_upload(upload, tmp_path)
    assert digest == hashlib.sha256(content).hexdigest()
    assert path == tmp_path / f"{digest}.mp4" and path.read_bytes() == content
    stamp = path.stat().st_mtime_ns
    assert spool_upload(upload, tmp_path) == (path, digest)
    assert path.stat().st_mtime_ns == stamp  # the same content is not written again
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
