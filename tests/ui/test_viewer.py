"""The in-browser viewer's Python side: payloads, the standalone page, browser events, and the Explore page.

What the browser computes from these payloads is tested in Chromium (tests/browser/test_viewer_browser.py).
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from mp_core import PRESETS, MotionParams
from mp_core.synthetic import synthetic_clip
from mp_core.video_io import Clip, read_clip_uniform
from mp_core.viz.clip_view import prepare_clip
from mp_core.viz.viewer import DEMO_SIZE_LIMIT, clip_bytes, clip_payload, standalone_html, view_payload
from tests.conftest import REPO_ROOT
from ui import viewer
from ui.state import SLOPE_SLIDER, init_state

SAMPLES = sorted((REPO_ROOT / "assets").glob("*.mp4"))


def _clip(frames: np.ndarray, fps: float = 10.0, name: str = "test") -> Clip:
    stamps = tuple(i / fps for i in range(frames.shape[0]))
    return Clip(torch.from_numpy(frames), fps, stamps, name, frames.shape[1:3], "h264")


def _png(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


@pytest.fixture
def noise_clip() -> Clip:
    rng = np.random.default_rng(0)
    return _clip(rng.integers(0, 256, (5, 12, 20, 3), dtype=np.uint8))


# --- clip payload ---------------------------------------------------------------------------------------


def unpack(blob: bytes) -> tuple[dict, np.ndarray]:
    """The layout clip_bytes documents, read with struct and numpy: header, then (T, H, W, 3) frames."""
    magic, length = struct.unpack("<4sI", blob[:8])
    assert magic == b"MPV1"
    header = json.loads(blob[8 : 8 + length].decode("utf-8"))
    shape = (header["frames"], header["height"], header["width"], 3)
    return header, np.frombuffer(blob[8 + length :], dtype=np.uint8).reshape(shape)


def test_clip_payload_frames_are_lossless(noise_clip: Clip) -> None:
    payload = clip_payload(prepare_clip(noise_clip, "cpu", "noise"), "noise")
    assert (payload["frames"], payload["height"], payload["width"]) == (5, 12, 20)
    decoded = np.stack([_png(text) for text in payload["png"]])
    np.testing.assert_array_equal(decoded, noise_clip.frames.numpy())  # random pixels: any loss shows


def test_clip_bytes_holds_the_same_header_and_the_raw_frames(noise_clip: Clip) -> None:
    data = prepare_clip(noise_clip, "cpu", "noise")
    header, frames = unpack(clip_bytes(data, "noise"))
    np.testing.assert_array_equal(frames, noise_clip.frames.numpy())
    payload = clip_payload(data, "noise")
    del payload["png"]
    assert header == payload


def test_clip_payload_colour_range_and_histogram_follow_the_formulas(noise_clip: Clip) -> None:
    payload = clip_payload(prepare_clip(noise_clip, "cpu", "noise"), "noise")
    rgb = noise_clip.frames.numpy().astype(np.float64) / 255
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    diff = gray[1:] - gray[:-1]
    assert payload["limit"] == pytest.approx(np.abs(diff).max(), abs=1e-6)
    counts = np.asarray(payload["histogram"]["counts"])
    assert counts.sum() == diff.size  # every difference counted once (all within [-1, 1])
    assert (payload["histogram"]["low"], payload["histogram"]["high"]) == (-1.0, 1.0)
    expected, _ = np.histogram(diff, bins=counts.size, range=(-1, 1))
    assert np.abs(counts - expected).sum() <= 0.01 * diff.size  # float32 vs float64 at bin edges


@pytest.mark.parametrize(("key", "cmap"), [("difference", "RdBu_r"), ("attention", "viridis")])
def test_colormap_tables_are_matplotlibs(noise_clip: Clip, key: str, cmap: str) -> None:
    payload = clip_payload(prepare_clip(noise_clip, "cpu", "noise"), "noise")
    table = np.frombuffer(base64.b64decode(payload["luts"][key]), dtype=np.uint8).reshape(256, 3)
    expected = matplotlib.colormaps[cmap](np.linspace(0, 1, 256), bytes=True)[:, :3]
    np.testing.assert_array_equal(table, expected)


def test_clip_payload_id_is_a_content_hash(noise_clip: Clip) -> None:
    first = clip_payload(prepare_clip(noise_clip, "cpu", "a"), "a")
    again = clip_payload(prepare_clip(noise_clip, "cpu", "b"), "b")
    assert first["id"] == again["id"]  # same frames, same id (the name is not part of it)
    changed = noise_clip.frames.clone()
    changed[3, 5, 7, 1] ^= 1
    other = clip_payload(prepare_clip(_clip(changed.numpy()), "cpu", "a"), "a")
    assert other["id"] != first["id"]


def test_playback_rate_is_the_sampled_frames_per_second_of_real_time() -> None:
    frames = np.zeros((5, 4, 4, 3), dtype=np.uint8)
    spread = Clip(torch.from_numpy(frames), 30.0, (0.0, 2.0, 4.0, 6.0, 8.0), "x", (4, 4), "h264")
    assert clip_payload(prepare_clip(spread, "cpu", "x"), "x")["fps"] == 0.5  # 4 steps over 8 s
    dense = _clip(frames, fps=25.0)
    assert clip_payload(prepare_clip(dense, "cpu", "x"), "x")["fps"] == pytest.approx(25.0)


def test_view_payload_carries_the_formulas_values() -> None:
    view = view_payload("id", MotionParams(-1.05, -2.67), pair=4, overlay=True, raw=True)
    assert view["slope"] == pytest.approx(5 / (0.45 * abs(math.tanh(-1.05)) + 0.1))
    assert view["shift"] == pytest.approx(0.6 * math.tanh(-2.67))
    assert (view["m"], view["n"], view["pair"], view["overlay"], view["raw"]) == (-1.05, -2.67, 4, True, True)
    assert view["ranges"]["slope"] == list(SLOPE_SLIDER)  # the sidebar's slider range


# --- standalone page ------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects script contents by id, the title, and every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: dict[str, str] = {}
        self.title = ""
        self.loads: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.loads += [f"{tag} {name}={attrs[name]}" for name in ("src", "href") if name in attrs]
        if tag == "link":
            self.loads.append(f"link {attrs}")
        self._in = attrs.get("id") or ("title" if tag == "title" else "script" if tag == "script" else None)

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in:
            self.scripts[self._in] = self.scripts.get(self._in, "") + data


def test_standalone_page_holds_everything_and_loads_nothing(noise_clip: Clip) -> None:
    name = 'tricky </script><!--VIEW_JSON--> "name"'
    clip = clip_payload(prepare_clip(noise_clip, "cpu", name), name)
    view = view_payload(clip["id"], MotionParams(0.257, 0.053), pair=2)
    page = standalone_html(clip, view)
    parser = _Page()
    parser.feed(page)
    assert parser.loads == []  # no src, href or link: nothing to fetch
    assert "http://" not in page and "https://" not in page and "import(" not in page
    assert parser.title == f"{name} · Video Motion Prompts (Chen et al., ACML 2024)"
    assert json.loads(parser.scripts["motion-prompts-clip"]) == clip  # the name did not break out
    assert json.loads(parser.scripts["motion-prompts-view"]) == view
    assert "MotionPromptsViewer" in parser.scripts["script"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_sixteen_frames_at_320_px_stay_under_5_mb(sample: Path) -> None:
    clip = read_clip_uniform(sample, 16, max_side=320)
    assert max(clip.frames.shape[1:3]) == 320 or clip.original_size[1] < 320
    payload = clip_payload(prepare_clip(clip, "cpu", sample.name), sample.name)
    page = standalone_html(payload, view_payload(payload["id"], MotionParams(0.257, 0.053)))
    assert len(page.encode("utf-8")) <= DEMO_SIZE_LIMIT


def test_size_note_says_the_rule_only_when_over_the_limit(noise_clip: Clip) -> None:
    data = prepare_clip(noise_clip, "cpu", "noise")
    assert "Over" not in viewer.demo_size_note(1_200_000, data)
    note = viewer.demo_size_note(7_400_000, data)
    assert note.startswith("7.4 MB") and "16 frames at 320 px" in note and "5 frames at 20×12" in note


# --- events from the browser ----------------------------------------------------------------------------


@pytest.fixture
def state() -> dict:
    values: dict = {}
    init_state(values)
    return values


def _event(value, seq: int = 1) -> dict:
    return {"value": value, "viewer": "v1", "seq": seq}


def test_slope_event_keeps_the_sign_of_m_and_leaves_n(state: dict) -> None:
    state["mp.m"], state["mp.n"] = -0.4, 0.3
    viewer.apply_event(state, "params", _event({"slope": 30.0}, seq=7))
    assert MotionParams(state["mp.m"], state["mp.n"]).slope == pytest.approx(30.0)
    assert state["mp.m"] < 0 and state["mp.n"] == 0.3
    assert "w.slope" not in state  # the sidebar seeds its own slider on the next run
    assert state["mp.preset"] is None
    assert state["mp.viewer_ack"] == {"viewer": "v1", "seq": 7}


def test_shift_and_raw_events(state: dict) -> None:
    viewer.apply_event(state, "params", _event({"shift": -0.2}))
    assert 0.6 * math.tanh(state["mp.n"]) == pytest.approx(-0.2)
    viewer.apply_event(state, "params", _event({"m": 1.25, "n": -0.5}, seq=2))
    assert (state["mp.m"], state["mp.n"]) == (1.25, -0.5)
    viewer.apply_event(state, "params", _event({"n": 9.0}, seq=3))  # beyond the raw slider: clamped
    assert (state["mp.m"], state["mp.n"]) == (1.25, 5.0)


def test_slope_beyond_the_slider_is_clamped(state: dict) -> None:
    viewer.apply_event(state, "params", _event({"slope": 500.0}))
    assert MotionParams(state["mp.m"], state["mp.n"]).slope == pytest.approx(SLOPE_SLIDER[1])


def test_pair_and_overlay_events(state: dict) -> None:
    viewer.apply_event(state, "pair", _event(6), num_pairs=15)
    assert state["mp.pair"] == 6
    viewer.apply_event(state, "pair", _event(40), num_pairs=15)
    assert state["mp.pair"] == 14
    viewer.apply_event(state, "overlay", _event(True))
    assert state["mp.overlay"] is True


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("params", _event({"slope": "fast"})),
        ("params", _event({"slope": float("nan")})),
        ("params", _event([1, 2])),
        ("pair", _event("3")),
        ("overlay", _event(1)),
        ("unknown", _event(1)),
        ("params", None),
        ("params", "slope=30"),
    ],
)
def test_malformed_events_change_nothing(state: dict, event: str, payload) -> None:
    before = dict(state)
    viewer.apply_event(state, event, payload, num_pairs=15)
    assert state == before


# --- the Explore page (AppTest runs no JS: the payloads it sends, the callbacks' effect) -----------------


def _payloads(at: AppTest) -> dict:
    """The view's JSON, and the clip's header and frames (sent as bytes)."""
    elements = {e.proto.component_name: e.proto for e in at.get("bidi_component")}
    assert set(elements) == {"motion_prompts_viewer", "motion_prompts_clip"}
    header, frames = unpack(elements["motion_prompts_clip"].bytes)
    return {
        "motion_prompts_viewer": json.loads(elements["motion_prompts_viewer"].json),
        "motion_prompts_clip": header,
        "frames": frames,
    }


@pytest.fixture
def explore() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/1_Explore.py").run()
    assert not at.exception
    return at


def test_explore_sends_the_clip_and_the_view(explore: AppTest) -> None:
    payloads = _payloads(explore)
    clip, view, frames = (
        payloads["motion_prompts_clip"],
        payloads["motion_prompts_viewer"],
        payloads["frames"],
    )
    assert view["clip"] == clip["id"] and view["pair"] == 0 and not view["overlay"]
    default = PRESETS["MPII Cooking 2"].params
    assert (view["m"], view["n"]) == (default.m, default.n)
    assert len(frames) == explore.session_state["mp.frames"] == clip["frames"]
    decoded = read_clip_uniform(REPO_ROOT / "assets" / "pen_coin.mp4", 16, max_side=320)  # the default clip
    np.testing.assert_array_equal(frames, decoded.frames.numpy())
    assert max(clip["width"], clip["height"]) == explore.session_state["mp.max_side"]
    assert not explore.get("image")  # the panels are drawn in the browser
    assert not explore.get("plotly_chart") and not explore.error  # the variation chart is the viewer's


def test_sidebar_change_updates_the_view_and_keeps_the_clip_payload_identical(explore: AppTest) -> None:
    before = {e.proto.component_name: e.proto.SerializeToString() for e in explore.get("bidi_component")}
    explore.slider(key="w.slope").set_value(40.0).run()
    after = {e.proto.component_name: e.proto.SerializeToString() for e in explore.get("bidi_component")}
    # Byte-identical: Streamlit sends an identical large element as a reference to the browser's copy.
    assert after["motion_prompts_clip"] == before["motion_prompts_clip"]
    assert _payloads(explore)["motion_prompts_viewer"]["slope"] == pytest.approx(40.0)


def test_viewer_event_moves_the_sidebar_and_the_exports(explore: AppTest) -> None:
    viewer.apply_event(explore.session_state, "params", _event({"slope": 30.0}))
    viewer.apply_event(explore.session_state, "pair", _event(5), num_pairs=15)
    explore.run()
    assert explore.slider(key="w.slope").value == pytest.approx(30.0)
    view = _payloads(explore)["motion_prompts_viewer"]
    assert view["slope"] == pytest.approx(30.0) and view["pair"] == 5
    assert view["ack"] == {"viewer": "v1", "seq": 1}
    explore.toggle(key="w.export").set_value(True).run()
    png = explore.get("download_button")[0]
    assert png.label == "Panels PNG" and png.proto.deferred_file_id  # pair 5's panels, built on click


def test_export_offers_the_interactive_html(explore: AppTest) -> None:
    explore.toggle(key="w.export").set_value(True).run()
    labels = [button.label for button in explore.get("download_button")]
    assert {"Panels PNG", "Values JSON", "Interactive HTML"} <= set(labels)
    caption = next(c.value for c in explore.caption if c.value.startswith("Interactive HTML"))
    assert " MB: every sampled frame" in caption and "Over" not in caption


def test_too_large_sampling_falls_back_to_server_panels(explore: AppTest, monkeypatch) -> None:
    monkeypatch.setattr(viewer, "MAX_VIEWER_BYTES", 1000)
    explore.run()
    assert not explore.exception
    assert "drawn on the server" in explore.info[0].value
    assert not explore.get("bidi_component")
    captions = [image.captions[0] for image in explore.get("image") if image.captions[0]]
    assert [c.split(" ")[0] for c in captions] == ["Frame", "Difference", "Attention", "Prompt"]
    assert [m.label for m in explore.metric][:3] == [
        "Mean attention (clip)",
        "Pixels with A > 0.5",
        "Temporal variation R",
    ]
    assert len(explore.get("plotly_chart")) == 2  # the PN curve and the variation
    explore.toggle(key="w.overlay").set_value(True).run()
    assert explore.session_state["mp.overlay"] is True


def test_synthetic_clip_payload_matches_its_frames() -> None:
    synthetic = synthetic_clip(num_frames=4, height=24, width=32, seed=3)
    payload = clip_payload(prepare_clip(synthetic.clip, "cpu", "s"), "s")
    np.testing.assert_array_equal(np.stack([_png(p) for p in payload["png"]]), synthetic.clip.frames.numpy())
