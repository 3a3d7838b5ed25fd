"""The real app through Streamlit's AppTest: every page runs, and the sidebar drives the panels."""

from __future__ import annotations

import io
import json
import math

import av
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mp_core import PRESETS, MotionParams
from tests.conftest import REPO_ROOT
from tests.helpers_pickle import code_running_checkpoint
from tests.helpers_video import make_audio_only
from ui import viewer
from ui.state import preset_key

APP = str(REPO_ROOT / "app.py")
EXPLORE = "pages/1_Explore.py"


def _payload(at: AppTest, component: str) -> dict:
    """What the page sent to the in-browser viewer: the clip's header (before its frames) or the view."""
    found = [e.proto for e in at.get("bidi_component") if e.proto.component_name == component]
    assert len(found) == 1, f"expected one {component} component"
    if component == "motion_prompts_clip":
        blob = found[0].bytes
        return json.loads(blob[8 : 8 + int.from_bytes(blob[4:8], "little")])
    return json.loads(found[0].json)


def _clip_id(at: AppTest) -> str:
    """Content hash of the frames the viewer shows (changes with the clip or its sampling)."""
    return _payload(at, "motion_prompts_clip")["id"]


def _view(at: AppTest) -> dict:
    return _payload(at, "motion_prompts_viewer")


def test_home_runs_and_draws_the_pipeline() -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Motion Prompt Explorer"
    assert len(at.get("plotly_chart")) == 1
    # the shipped sample is credited where it is chosen (its licence asks for attribution)
    credit = [c.value for c in at.sidebar.caption if "Peter Braden" in c.value]
    assert credit and "(Expat (MIT))" in credit[0]
    at.sidebar.selectbox(key="w.sample").set_value("cyclist_static_cam").run()
    assert any("Benoît Markey" in c.value and "CC BY-SA 3.0" in c.value for c in at.sidebar.caption)


def test_explore_shows_the_viewer_and_the_variation(explore: AppTest) -> None:
    assert _view(explore)["clip"] == _clip_id(explore)
    # the PN curve and the variation per step are drawn by the viewer: no plotly figure on a rerun
    assert not explore.get("plotly_chart")
    assert not explore.error


def test_moving_slope_changes_the_view_not_the_clip(explore: AppTest) -> None:
    clip = _clip_id(explore)
    explore.slider(key="w.slope").set_value(40.0).run()
    assert not explore.exception
    # a = 5 / (0.45 tanh m + 0.1) = 40  =>  tanh m = (5/40 - 0.1) / 0.45 = 1/18 (m > 0 as MPII's)
    assert explore.session_state["mp.m"] == pytest.approx(math.atanh(1 / 18), rel=1e-12)
    assert explore.session_state["mp.n"] == PRESETS["MPII Cooking 2"].params.n  # shift untouched
    assert _view(explore)["slope"] == pytest.approx(40.0)
    assert _view(explore)["m"] == explore.session_state["mp.m"]
    assert _clip_id(explore) == clip


def test_preset_moves_the_sliders_and_survives_a_page_switch(explore: AppTest) -> None:
    explore.selectbox(key=preset_key(explore.session_state)).set_value("FineGym").run()
    fine_gym = PRESETS["FineGym"].params
    assert explore.slider(key="w.slope").value == pytest.approx(fine_gym.slope)
    assert explore.slider(key="w.shift").value == pytest.approx(fine_gym.shift)
    explore.switch_page("app.py").run()
    explore.switch_page(EXPLORE).run()
    assert explore.slider(key="w.slope").value == pytest.approx(fine_gym.slope)
    assert (explore.session_state["mp.m"], explore.session_state["mp.n"]) == (fine_gym.m, fine_gym.n)


def test_raw_toggle_and_reset(explore: AppTest) -> None:
    explore.toggle(key="w.raw_toggle").set_value(True).run()
    explore.slider(key="w.m").set_value(0.0).run()
    explore.slider(key="w.n").set_value(1.5).run()
    assert (explore.session_state["mp.m"], explore.session_state["mp.n"]) == (0.0, 1.5)
    assert explore.selectbox(key=preset_key(explore.session_state)).value == "Custom"
    explore.button(key="w.reset").click().run()
    default = PRESETS["MPII Cooking 2"].params
    assert explore.slider(key="w.m").value == pytest.approx(default.m)
    assert explore.slider(key="w.n").value == pytest.approx(default.n)


def test_server_panels_play_and_pause(explore: AppTest, monkeypatch) -> None:
    monkeypatch.setattr(viewer, "MAX_VIEWER_BYTES", 0)  # the fallback for samplings too large to send
    explore.run()
    assert explore.session_state["mp.pair"] == 0
    explore.button(key="w.play").click().run()
    assert explore.button(key="w.play").label == "⏸ Pause"
    assert explore.session_state["mp.pair"] == 1
    explore.run()  # what the fragment's timer does
    assert explore.slider(key="w.pair").value == 2
    assert all(image.captions[0].endswith("t = 2") for image in explore.get("image") if image.captions[0])
    explore.button(key="w.play").click().run()
    assert explore.button(key="w.play").label == "▶ Play"
    explore.run()
    assert explore.session_state["mp.pair"] == 2


def test_pair_from_the_viewer_surface_and_exports(explore: AppTest) -> None:
    viewer.apply_event(explore.session_state, "pair", {"value": 5, "viewer": "v", "seq": 1}, num_pairs=15)
    viewer.apply_event(explore.session_state, "overlay", {"value": True, "viewer": "v", "seq": 2})
    explore.run()
    assert (_view(explore)["pair"], _view(explore)["overlay"]) == (5, True)
    explore.toggle(key="w.surface").set_value(True).run()
    assert len(explore.get("plotly_chart")) == 1  # the 3D surface of pair 5 (the viewer draws the rest)
    explore.toggle(key="w.export").set_value(True).run()
    labels = [button.label for button in explore.get("download_button")]
    assert {"Panels PNG", "Values JSON", "Interactive HTML"} <= set(labels)
    assert not explore.exception


def test_uploaded_checkpoint_sets_m_and_n(explore: AppTest) -> None:
    values = {"m": 1.3, "n": -0.4}
    explore.file_uploader(key="w.ckpt").set_value(
        ("learned.json", json.dumps(values).encode(), "application/json")
    )
    explore.run()
    assert not explore.exception and not explore.error
    assert (explore.session_state["mp.m"], explore.session_state["mp.n"]) == (1.3, -0.4)
    assert explore.slider(key="w.slope").value == pytest.approx(MotionParams(1.3, -0.4).slope)
    assert explore.selectbox(key=preset_key(explore.session_state)).value == "Custom"


def test_bad_checkpoint_shows_error_and_keeps_values(explore: AppTest) -> None:
    before = (explore.session_state["mp.m"], explore.session_state["mp.n"])
    explore.file_uploader(key="w.ckpt").set_value(
        ("weights.pt", b"not a checkpoint", "application/octet-stream")
    )
    explore.run()
    assert not explore.exception
    assert "weights.pt" in explore.error[0].value
    assert (explore.session_state["mp.m"], explore.session_state["mp.n"]) == before


def test_bad_video_upload_shows_error_and_keeps_the_clip(explore: AppTest) -> None:
    clip = _clip_id(explore)
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value(("clip.mp4", b"\x00" * 4096, "video/mp4"))
    explore.run()
    assert not explore.exception
    assert "clip.mp4" in explore.error[0].value
    assert _clip_id(explore) == clip
    assert explore.session_state["mp.upload"] is None


def _tiny_mp4(frames: int = 8, height: int = 48, width: int = 64) -> bytes:
    """A real H.264 clip made with PyAV: a bright square moving right on a dark background."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            image = np.full((height, width, 3), 30, dtype=np.uint8)
            image[16:32, 4 + 4 * t : 20 + 4 * t] = 230
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_video_upload_replaces_the_clip(explore: AppTest) -> None:
    clip = _clip_id(explore)
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value(("moving.mp4", _tiny_mp4(), "video/mp4"))
    explore.run()
    assert not explore.exception and not explore.error
    assert explore.session_state["mp.upload"].name == "moving.mp4"
    assert _clip_id(explore) != clip
    payload = _payload(explore, "motion_prompts_clip")
    shown = (payload["name"], payload["frames"], payload["width"], payload["height"])
    assert shown == ("moving.mp4", 8, 64, 48)


def test_sampling_that_gives_no_frames_keeps_the_previous_clip(explore: AppTest) -> None:
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value(("moving.mp4", _tiny_mp4(), "video/mp4"))
    explore.run()
    clip = _clip_id(explore)
    explore.number_input(key="w.start").set_value(60.0).run()
    assert not explore.exception
    assert "moving.mp4" in explore.error[0].value and "Still showing" in explore.error[0].value
    assert _clip_id(explore) == clip
    explore.number_input(key="w.start").set_value(0.0).run()
    assert not explore.error


def test_export_renders_h264_clips(explore: AppTest) -> None:
    explore.toggle(key="w.export").set_value(True).run()
    explore.button(key="w.render").click().run()
    assert not explore.exception and not explore.error
    labels = [button.label for button in explore.get("download_button")]
    assert {"Prompted clip MP4", "4-panel MP4"} <= set(labels)
    prompted, panels = explore.session_state["mp.exports"][1]
    frames = explore.session_state["mp.frames"]
    for data, width_factor in ((prompted, 1), (panels, 4)):
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == frames - 1
            assert stream.width >= width_factor * 160


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("one.mp4", lambda tmp: _tiny_mp4(frames=1), "needs at least 2"),
        ("voice.mp4", lambda tmp: make_audio_only(tmp / "voice.mp4").read_bytes(), "no video stream"),
    ],
    ids=["one-frame", "audio-only"],
)
def test_unusable_uploads_say_why_and_keep_the_clip(explore: AppTest, tmp_path, name, make, message) -> None:
    clip = _clip_id(explore)
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value((name, make(tmp_path), "video/mp4"))
    explore.run()
    assert not explore.exception
    assert name in explore.error[0].value and message in explore.error[0].value
    assert _clip_id(explore) == clip


def test_checkpoint_whose_pickle_would_run_code_is_refused(explore: AppTest, tmp_path) -> None:
    marker = tmp_path / "pwned"

    before = (explore.session_state["mp.m"], explore.session_state["mp.n"])
    explore.file_uploader(key="w.ckpt").set_value(
        ("evil.pyth", code_running_checkpoint(marker), "application/octet-stream")
    )
    explore.run()
    assert not explore.exception
    assert "refused: loading it would run code" in explore.error[0].value
    assert not marker.exists()
    assert (explore.session_state["mp.m"], explore.session_state["mp.n"]) == before
