"""The in-browser viewer in Debian chromium: the exported HTML from file:// offline, and inside the app.

Truths are mp_core's own computations of the same clip (power_normalization, the server-drawn panels of
mp_core.viz, clip_stats), never the viewer compared with itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mp_core import MotionParams
from mp_core.video_io import read_clip_uniform
from mp_core.viz.clip_view import clip_stats, pair_images, prepare_clip
from mp_core.viz.viewer import clip_payload, standalone_html, view_payload
from tests.conftest import REPO_ROOT
from tests.helpers_browser import full_page_screenshot, press_keys, wait_ready
from tests.helpers_viewer import arm_render, attention, info, next_render, panel_pixels, wait_viewer

pytestmark = pytest.mark.browser

PANELS = ("frame", "difference", "attention", "prompt")
PARAMS = MotionParams(0.257, 0.053)
#: float32 sigmoid against float64: measured 7.1e-7 at most on this clip (the JS works in Float32Array).
F32 = 2e-6


def attention_truth(clip_data, t: int, slope: float, shift: float) -> np.ndarray:
    """A_t = sigmoid(a (D_t - b)) in float64 from the clip's uint8 frames, written out here (flat, H·W)."""
    x = clip_data.clip.frames.double().numpy() / 255.0
    gray = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return (1.0 / (1.0 + np.exp(-slope * (gray[t + 1] - gray[t] - shift)))).ravel()


@pytest.fixture(scope="module")
def clip_data():
    clip = read_clip_uniform(REPO_ROOT / "assets" / "pen_coin.mp4", 16, max_side=320)
    return prepare_clip(clip, "cpu", "Pen pushes a coin")


@pytest.fixture(scope="module")
def demo_file(clip_data, tmp_path_factory) -> Path:
    payload = clip_payload(clip_data, "Pen pushes a coin")
    path = tmp_path_factory.mktemp("demo") / "demo.html"
    path.write_text(standalone_html(payload, view_payload(payload["id"], PARAMS, pair=3)), encoding="utf-8")
    return path


@pytest.fixture
def offline(page, demo_file: Path):
    """The demo opened from file:// with every other request aborted, and a record of what was asked."""
    url = demo_file.as_uri()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
    page.goto(url)
    wait_viewer(page)
    page.wait_for_function("() => document.querySelector('[data-stat=\"mean\"]').textContent !== '…'")
    yield page
    assert requests == [url]  # the file itself, nothing else was even attempted
    assert problems == []


def test_offline_page_draws_the_servers_panels_exactly(offline, clip_data) -> None:
    expected = pair_images(clip_data, PARAMS, 3)
    for name in PANELS:
        np.testing.assert_array_equal(panel_pixels(offline, name), getattr(expected, name), err_msg=name)
    captions = offline.locator("figcaption").all_inner_texts()
    assert [c.split(" ")[0] for c in captions] == ["Frame", "Difference", "Attention", "Prompt"]
    assert all(c.endswith("t = 3") for c in captions)
    assert offline.title() == "Pen pushes a coin · Video Motion Prompts (Chen et al., ACML 2024)"
    full_page_screenshot(offline, "viewer-standalone")


def test_offline_controls_are_labelled(offline) -> None:
    for name, value in (("slope a", "23.46"), ("shift b", "0.032"), ("frame pair t", "3")):
        slider = offline.get_by_role("slider", name=name, exact=True)
        assert slider.is_visible() and slider.input_value().startswith(value), name
    for hidden in ("raw m", "raw n"):  # raw m, n only when asked for
        assert not offline.get_by_role("slider", name=hidden, exact=True).is_visible()
    assert offline.get_by_role("checkbox", name="overlay attention on the frame").is_visible()
    assert offline.get_by_role("button", name="Play").is_visible()


def test_offline_api_attention_equals_power_normalization(offline, clip_data) -> None:
    shown = info(offline)
    assert (shown["pairs"], shown["height"], shown["width"]) == (15, 180, 320)
    assert shown["slope"] == pytest.approx(PARAMS.slope) and shown["shift"] == pytest.approx(PARAMS.shift)
    slope, shift = PARAMS.slope, PARAMS.shift
    for t in (0, 7, 14):
        np.testing.assert_allclose(
            attention(offline, t), attention_truth(clip_data, t, slope, shift), atol=F32
        )
    arm_render(offline)
    offline.evaluate("() => window.motionPrompts.setParams({slope: 41.5, shift: -0.12})")
    assert next_render(offline)["slope"] == 41.5
    assert (info(offline)["slope"], info(offline)["shift"]) == (41.5, -0.12)
    np.testing.assert_allclose(attention(offline, 9), attention_truth(clip_data, 9, 41.5, -0.12), atol=F32)
    assert float(offline.locator('canvas[data-curve="pn"]').get_attribute("data-shift")) == -0.12  # marker
    with pytest.raises(Exception, match="pair must be in"):
        offline.evaluate("() => window.motionPrompts.attention(15)")


def test_offline_statistics_equal_mp_cores(offline, clip_data) -> None:
    for params in (PARAMS, MotionParams.from_slope_shift(12.0, 0.3)):
        values = {"slope": params.slope, "shift": params.shift}
        offline.evaluate("(values) => window.motionPrompts.setParams(values)", values)
        shown = offline.evaluate("() => window.motionPrompts.stats()")
        expected = clip_stats(clip_data, params)
        assert shown["meanAttention"] == pytest.approx(expected.mean_attention, abs=1e-5)
        assert shown["shareAboveHalf"] == pytest.approx(expected.share_above_half, abs=1e-5)
        assert shown["variationMean"] == pytest.approx(expected.variation_mean, rel=1e-4)
        np.testing.assert_allclose(shown["variation"], expected.variation, rtol=1e-4)
        offline.wait_for_function(
            "(v) => document.querySelector('[data-stat=\"mean\"]').textContent === v",
            arg=f"{expected.mean_attention:.3f}",
        )
        # the variation chart (drawn in the page, no plotly) shows these steps and their mean R
        chart = offline.locator('canvas[data-chart="variation"]')
        assert int(chart.get_attribute("data-steps")) == len(expected.variation) == 14
        assert float(chart.get_attribute("data-mean")) == pytest.approx(expected.variation_mean, rel=1e-4)


def test_offline_variation_chart_draws_bars_and_reads_out_the_pointed_step(offline, clip_data) -> None:
    chart = offline.locator('canvas[data-chart="variation"]')
    pixels = offline.evaluate(
        """() => {
          const c = document.querySelector('canvas[data-chart="variation"]');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let bar = 0, mean = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (d[i] === 59 && d[i + 1] === 111 && d[i + 2] === 214) bar++;  // #3b6fd6, the bars
            if (d[i] === 214 && d[i + 1] === 39 && d[i + 2] === 40) mean++;   // #d62728, the line at R
          }
          return {bar, mean};
        }"""
    )
    assert pixels["bar"] > 1000 and pixels["mean"] > 100
    box = chart.bounding_box()
    expected = clip_stats(clip_data, PARAMS).variation
    # step 13 of 14: its slot is the 14th of the plot area (58 px of 960 on the left, 12 on the right)
    x = box["x"] + (58 + 13.5 * (960 - 70) / 14) * box["width"] / 960
    offline.mouse.move(x, box["y"] + box["height"] / 2)
    readout = offline.locator('[data-readout="variation"]')
    assert readout.inner_text().startswith("A13 → A14: ")
    assert float(readout.inner_text().split(": ")[1]) == pytest.approx(float(expected[13]), rel=1e-3)


def test_offline_keyboard_moves_slope_scrubber_and_overlay(offline, clip_data) -> None:
    attention_before = panel_pixels(offline, "attention")
    slope = offline.get_by_role("slider", name="slope a", exact=True)
    start = float(slope.input_value())  # 23.46: the slider's grid value nearest PARAMS.slope
    slope.focus()
    arm_render(offline)
    for _ in range(10):
        offline.keyboard.press("ArrowRight")
    next_render(offline)
    offline.wait_for_function(f"() => Math.abs(window.motionPrompts.info().slope - {start + 0.1}) < 1e-9")
    assert float(slope.input_value()) == pytest.approx(start + 0.1, abs=1e-9)  # all 10 presses, none lost
    moved = MotionParams.from_slope_shift(info(offline)["slope"], PARAMS.shift)
    assert not np.array_equal(panel_pixels(offline, "attention"), attention_before)
    expected = pair_images(clip_data, moved, 3).attention
    np.testing.assert_array_equal(panel_pixels(offline, "attention"), expected)
    offline.get_by_role("slider", name="frame pair t", exact=True).focus()
    offline.keyboard.press("ArrowRight")
    assert info(offline)["pair"] == 4
    assert offline.locator("figcaption").first.inner_text().endswith("t = 4")
    offline.get_by_role("checkbox", name="overlay attention on the frame").check()
    expected = pair_images(clip_data, moved, 4, overlay_alpha=0.5)
    np.testing.assert_array_equal(panel_pixels(offline, "frame"), expected.frame)
    assert "with attention overlay" in offline.locator("figcaption").first.inner_text()


def test_offline_play_steps_through_pairs_and_pause_stops(offline) -> None:
    start = info(offline)["pair"]
    offline.get_by_role("button", name="Play").click()
    offline.wait_for_function(f"() => window.motionPrompts.info().pair !== {start}", timeout=5_000)
    assert info(offline)["playing"]
    offline.get_by_role("button", name="Pause").click()
    stopped = info(offline)["pair"]
    offline.wait_for_timeout(1_200)  # more than one frame period (1.87 frames/s here)
    assert info(offline)["pair"] == stopped and not info(offline)["playing"]


# --- inside the app ---------------------------------------------------------------------------------------


def _open_explore(page, app_url: str) -> None:
    page.goto(f"{app_url}/Explore")
    wait_ready(page)
    wait_viewer(page)
    wait_ready(page)


def _sidebar_slider(page, name: str):
    return page.locator('[data-testid="stSidebar"]').get_by_role("slider", name=name)


def test_app_viewer_draws_the_servers_panels_exactly(app_url: str, page, clip_data) -> None:
    _open_explore(page, app_url)  # the default clip and sampling: pen_coin, 16 frames at 320 px
    assert info(page)["name"] == "Pen pushes a coin"
    expected = pair_images(clip_data, PARAMS, 0)  # the default preset (MPII Cooking 2) at pair 0
    for name in PANELS:  # the frames came as raw bytes here (PNG in the file)
        np.testing.assert_array_equal(panel_pixels(page, name), getattr(expected, name), err_msg=name)


def test_viewer_slope_redraws_at_once_and_the_server_follows_on_release(app_url: str, page) -> None:
    _open_explore(page, app_url)
    before = info(page)
    attention_before = panel_pixels(page, "attention")
    frame_before = panel_pixels(page, "frame")
    slope = page.get_by_role("slider", name="slope a", exact=True)
    slope.focus()
    arm_render(page)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert next_render(page)["slope"] > before["slope"]  # drawn in the page, no server involved
    assert not np.array_equal(panel_pixels(page, "attention"), attention_before)
    np.testing.assert_array_equal(panel_pixels(page, "frame"), frame_before)
    target = f"{info(page)['slope']:.2f}"
    sidebar = _sidebar_slider(page, "Slope a")
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuetext') === v", arg=[sidebar.element_handle(), target]
    )
    wait_ready(page)
    assert f"{info(page)['slope']:.2f}" == target  # the server's answer did not move the viewer back


def test_sidebar_moves_the_viewer(app_url: str, page) -> None:
    _open_explore(page, app_url)
    before = info(page)
    shift = _sidebar_slider(page, "Shift b")
    target = float(shift.input_value()) + 20 * float(shift.get_attribute("step"))
    moved = f"() => Math.abs(window.motionPrompts.info().shift - {target}) < 1e-9"
    press_keys(page, shift, 20, lambda: page.wait_for_function(moved, timeout=30_000))  # none lost
    assert info(page)["shift"] == pytest.approx(target, abs=1e-9) and target > before["shift"]
    page.locator('[data-testid="stSidebar"]').get_by_text("Raw m, n").click()
    page.get_by_role("slider", name="raw m", exact=True).wait_for()
    assert not page.get_by_role("slider", name="slope a", exact=True).is_visible()
    wait_ready(page)


def test_clip_payload_is_not_resent_when_parameters_change(app_url: str, page) -> None:
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(len(frame))))
    _open_explore(page, app_url)
    opened = sum(received)
    assert opened > 300_000  # the first run carried the frames (16 PNGs of 320×180)
    sidebar = _sidebar_slider(page, "Shift b")
    before = sidebar.get_attribute("aria-valuetext")
    received.clear()
    page.get_by_role("slider", name="shift b", exact=True).focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuetext') !== v", arg=[sidebar.element_handle(), before]
    )
    wait_ready(page)
    assert 0 < sum(received) < opened / 4  # the rerun sent the view, and only a reference to the clip
