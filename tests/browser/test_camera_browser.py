"""The viewer's camera in Debian chromium, with chromium's fake camera playing a real clip (a y4m file).

The truths are the formulas computed here, in numpy, from the frames the viewer reports it used
(``motionPrompts.frames(t)``), read in the same JS task as the values checked against them. Each browser is
launched with its own camera flags: with the fake camera granted, without the grant (a real denial), without
a camera at all, and on an insecure http origin (a host name mapped to 127.0.0.1).
"""

from __future__ import annotations

import base64
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mp_core import MotionParams
from mp_core.video_io import read_clip_uniform
from mp_core.viz.clip_view import prepare_clip
from mp_core.viz.viewer import clip_payload, standalone_html, view_payload
from tests.conftest import REPO_ROOT
from tests.helpers_browser import CHROMIUM_FLAGS, chromium_path, free_port, wait_ready
from tests.helpers_camera import camera_y4m, fake_camera_flags
from tests.helpers_viewer import VIEWER_READY, info, panel_pixels

pytestmark = pytest.mark.browser

PARAMS = MotionParams(0.257, 0.053)
CAMERA_FRAMES = 45  # 1.5 s at 30 frames/s, looped by chromium
#: One JS task: the live pair's frames, its attention, the parameters and the frame panel, so nothing
#: can change between them (a camera frame is handled in its own task).
_LIVE = """() => {
  const b64 = (array) => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    let text = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    }
    return btoa(text);
  };
  const api = window.motionPrompts, shown = api.info();
  const pairs = [];
  for (let t = 0; t < shown.pairs; t++) pairs.push(api.frames(t).map(b64));
  return { info: shown, pairs, attention: b64(api.attention()), stats: api.stats() };
}"""


def _floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


def _sigmoid(d: np.ndarray, slope: float, shift: float) -> np.ndarray:
    """A = sigmoid(a (D - b)), written here: float32 inputs, float64 arithmetic."""
    return 1.0 / (1.0 + np.exp(-(np.float64(np.float32(slope)) * (d.astype(np.float64) - np.float32(shift)))))


def _live(page) -> dict:
    snapshot = page.evaluate(_LIVE)
    snapshot["gray"] = [tuple(_floats(f) for f in pair) for pair in snapshot["pairs"]]
    snapshot["attention"] = _floats(snapshot["attention"])
    return snapshot


def _check_formula(snapshot: dict) -> None:
    """Attention of the newest pair and the window's statistics equal the formulas on frames(t)."""
    shown = snapshot["info"]
    slope, shift, pairs = shown["slope"], shown["shift"], shown["pairs"]
    assert shown["source"] == "camera" and pairs >= 2
    for t in range(pairs - 1):  # consecutive pairs share a frame: G_t+1 of pair t is G_t+1 of pair t+1
        np.testing.assert_array_equal(snapshot["gray"][t][1], snapshot["gray"][t + 1][0])
    g0, g1 = snapshot["gray"][-1]
    assert g0.shape == g1.shape == (shown["width"] * shown["height"],)
    difference = (g1 - g0).astype(np.float32)
    assert np.any(difference != 0)  # a new frame: one handed twice by the camera is skipped
    # the hand moves: the window's pairs hold real motion (one pair of the clip moves by 0.015 at most)
    assert max(float(np.abs(b - a).max()) for a, b in snapshot["gray"]) > 0.05
    np.testing.assert_allclose(snapshot["attention"], _sigmoid(difference, slope, shift), atol=1e-5, rtol=0)
    attention = [_sigmoid((b - a).astype(np.float32), slope, shift) for a, b in snapshot["gray"]]
    stats = snapshot["stats"]
    assert stats["meanAttention"] == pytest.approx(np.mean(attention), abs=1e-5)
    assert stats["shareAboveHalf"] == pytest.approx(np.mean(np.stack(attention) > 0.5), abs=1e-5)
    steps = [float(np.mean((attention[t + 1] - attention[t]) ** 2)) for t in range(pairs - 1)]
    np.testing.assert_allclose(stats["variation"], steps, rtol=1e-4, atol=1e-9)
    assert stats["variationMean"] == pytest.approx(np.mean(steps), rel=1e-4)


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """What chromium's fake camera plays: a real clip (a hand moving a cup, 640×480) as y4m."""
    return camera_y4m(tmp_path_factory.mktemp("camera") / "hand_cup.y4m", CAMERA_FRAMES)


@pytest.fixture(scope="module")
def launcher(request) -> Iterator[Callable[[list[str]], object]]:
    """Launches chromium with extra flags, from the suite's one playwright (only one runs per process)."""
    executable = chromium_path()  # fails under CI=true when chromium is missing
    for name in ("chromium", "browser"):  # the suite's browser fixture (ours, or pytest-playwright's)
        try:
            browser_type = request.getfixturevalue(name).browser_type
            break
        except pytest.FixtureLookupError:
            continue
    launched = []

    def launch(flags: list[str]) -> object:
        launched.append(browser_type.launch(executable_path=executable, args=CHROMIUM_FLAGS + flags))
        return launched[-1]

    yield launch
    for browser in launched:
        browser.close()


@pytest.fixture(scope="module")
def camera_browser(launcher, camera_file: Path) -> object:
    """Chromium whose camera is the y4m file, granted without a prompt; room.test is 127.0.0.1 (insecure)."""
    return launcher([*fake_camera_flags(camera_file), "--host-resolver-rules=MAP room.test 127.0.0.1"])


@pytest.fixture
def camera_page(camera_browser) -> Iterator[object]:
    context = camera_browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    clip = read_clip_uniform(REPO_ROOT / "assets" / "pen_coin.mp4", 8, max_side=320)
    payload = clip_payload(prepare_clip(clip, "cpu", "Pen pushes a coin"), "Pen pushes a coin")
    folder = tmp_path_factory.mktemp("camera-demo")
    page = standalone_html(payload, view_payload(payload["id"], PARAMS, pair=2))
    (folder / "demo.html").write_text(page, encoding="utf-8")
    return folder


@pytest.fixture
def offline_camera(camera_page, demo_dir: Path):
    """The demo from file:// with every other request aborted, its camera on."""
    url = (demo_dir / "demo.html").as_uri()
    requests: list[str] = []
    problems: list[str] = []
    camera_page.on("request", lambda request: requests.append(request.url))
    camera_page.on("pageerror", lambda error: problems.append(str(error)))
    camera_page.on(
        "console", lambda message: problems.append(message.text) if message.type == "error" else None
    )
    camera_page.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
    camera_page.goto(url)
    camera_page.wait_for_function(VIEWER_READY)
    camera_page.get_by_role("button", name="Camera").click()
    camera_page.wait_for_function("() => window.motionPrompts.info().cameraFrames >= 12", timeout=20_000)
    yield camera_page
    assert requests == [url]  # the camera's frames never left the page, nothing was fetched
    assert problems == []


# --- the standalone demo, offline ------------------------------------------------------------------------


def test_demo_camera_frames_flow_and_attention_is_the_formula_on_them(offline_camera) -> None:
    first = info(offline_camera)
    assert (first["source"], first["name"], first["width"], first["height"]) == ("camera", "camera", 320, 240)
    assert first["pairs"] == 8 and first["frames"] == 9  # the rolling window
    _check_formula(_live(offline_camera))
    count = first["cameraFrames"]
    offline_camera.wait_for_function(f"() => window.motionPrompts.info().cameraFrames >= {count + 10}")
    assert info(offline_camera)["measuredFps"] > 5  # the fake camera plays 30 frames/s
    _check_formula(_live(offline_camera))  # a later pair: the formula holds on what is live now
    captions = offline_camera.locator("figcaption").all_inner_texts()
    assert all(caption.endswith("camera, live") for caption in captions)
    assert not offline_camera.get_by_role("slider", name="frame pair t", exact=True).is_visible()
    assert not offline_camera.get_by_role("button", name="Record").is_visible()  # no host to record for


def test_demo_camera_frame_panel_is_the_live_pairs_second_frame(offline_camera) -> None:
    gray, pixels = offline_camera.evaluate(
        """() => {
          const c = document.querySelector('canvas[data-panel="frame"]');
          const rgba = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          return [Array.from(window.motionPrompts.frames()[1]), Array.from(rgba)];
        }"""
    )
    rgb = np.asarray(pixels, dtype=np.float32).reshape(-1, 4)[:, :3] / np.float32(255)
    luma = rgb @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
    np.testing.assert_allclose(np.asarray(gray, dtype=np.float32), luma, atol=1e-6)


def test_demo_camera_follows_slope_and_shift_live(offline_camera) -> None:
    before = _live(offline_camera)["stats"]
    offline_camera.evaluate("() => window.motionPrompts.setParams({slope: 41.5, shift: -0.12})")
    count = info(offline_camera)["cameraFrames"]
    offline_camera.wait_for_function(f"() => window.motionPrompts.info().cameraFrames >= {count + 3}")
    snapshot = _live(offline_camera)
    assert (snapshot["info"]["slope"], snapshot["info"]["shift"]) == (41.5, -0.12)
    _check_formula(snapshot)
    assert snapshot["stats"]["meanAttention"] != pytest.approx(before["meanAttention"], abs=1e-3)
    assert float(offline_camera.locator('canvas[data-curve="pn"]').get_attribute("data-shift")) == -0.12
    # the PN curve's histogram is the live window's: H·W values per pair inside [-1, 1]
    shown = snapshot["info"]
    total = float(offline_camera.locator('canvas[data-curve="pn"]').get_attribute("data-total"))
    assert total == shown["pairs"] * shown["width"] * shown["height"]
    slope = offline_camera.get_by_role("slider", name="slope a", exact=True)
    slope.focus()
    for _ in range(10):
        offline_camera.keyboard.press("ArrowLeft")
    offline_camera.wait_for_function("() => Math.abs(window.motionPrompts.info().slope - 41.4) < 1e-9")
    _check_formula(_live(offline_camera))


def test_demo_stop_returns_to_the_clip(offline_camera) -> None:
    offline_camera.get_by_role("button", name="Stop camera").click()
    shown = info(offline_camera)
    assert (shown["source"], shown["name"], shown["pairs"], shown["pair"]) == (
        "clip",
        "Pen pushes a coin",
        7,
        2,
    )
    assert offline_camera.locator("figcaption").first.inner_text().endswith("t = 2")
    frames = info(offline_camera)["cameraFrames"]
    assert frames == 0
    offline_camera.get_by_role("button", name="Camera").wait_for()


# --- where the camera cannot start -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_grant_browser(launcher, camera_file: Path) -> object:
    """A camera, but no fake permission UI: headless chromium then denies the request, as a user would."""
    return launcher(fake_camera_flags(camera_file, grant=False))


@pytest.fixture(scope="module")
def no_camera_browser(launcher) -> object:
    return launcher(["--use-fake-ui-for-media-stream"])


def _press_camera(browser, url: str) -> tuple[str, str]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(VIEWER_READY)
        page.get_by_role("button", name="Camera").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert info(page)["source"] == "clip"  # the clip stays
        return alert.inner_text(), alert.get_attribute("data-reason")
    finally:
        context.close()


def test_denied_camera_says_so(no_grant_browser, demo_dir: Path) -> None:
    text, reason = _press_camera(no_grant_browser, (demo_dir / "demo.html").as_uri())
    assert reason == "NotAllowedError"
    assert text.startswith("Camera permission was denied. Allow the camera for this site")


def test_missing_camera_says_so(no_camera_browser, demo_dir: Path) -> None:
    text, reason = _press_camera(no_camera_browser, (demo_dir / "demo.html").as_uri())
    assert reason == "NotFoundError" and text.startswith("No camera was found.")


def test_insecure_origin_says_why(camera_browser, demo_dir: Path) -> None:
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(demo_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        text, reason = _press_camera(camera_browser, f"http://room.test:{port}/demo.html")
    finally:
        server.shutdown()
        server.server_close()
    assert reason == "insecure"
    assert f"this page is http://room.test:{port}" in text and "https" in text


# --- in the app: the camera in Explore, and a recording becoming the session's clip -----------------------


def _caption(page) -> str:
    return page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]').first.inner_text()


def test_app_camera_and_recording_becomes_the_clip(app_url: str, camera_page) -> None:
    page = camera_page
    page.goto(f"{app_url}/Explore")
    wait_ready(page)
    page.wait_for_function(VIEWER_READY, timeout=60_000)
    wait_ready(page)
    assert info(page)["name"] == "Pen pushes a coin"
    before = _caption(page)
    clip_frame = panel_pixels(page, "frame")
    page.get_by_role("button", name="Camera").click()
    page.wait_for_function("() => window.motionPrompts.info().cameraFrames >= 12", timeout=20_000)
    _check_formula(_live(page))
    # the viewer's slope control: redrawn live, then told to the server, whose rerun keeps the camera on
    sidebar_slope = page.locator('[data-testid="stSidebar"]').get_by_role("slider", name="Slope a")
    page.get_by_role("slider", name="slope a", exact=True).focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.getAttribute('aria-valuetext') === v", arg=[sidebar_slope.element_handle(), "23.51"]
    )
    wait_ready(page)
    count = info(page)["cameraFrames"]
    page.wait_for_function(f"() => window.motionPrompts.info().cameraFrames >= {count + 3}")
    snapshot = _live(page)
    assert f"{snapshot['info']['slope']:.2f}" == "23.51"
    _check_formula(snapshot)
    page.get_by_role("button", name="Record").click()
    page.wait_for_function("() => window.motionPrompts.info().recording")
    page.wait_for_timeout(3_000)
    page.get_by_role("button", name="Stop recording").click()
    recorded = "() => { const i = window.motionPrompts.info(); return i.name.startsWith('camera-'); }"
    page.wait_for_function(recorded, timeout=30_000)
    wait_ready(page)
    shown = info(page)
    assert shown["name"].endswith(".webm") and shown["source"] == "clip"
    # 640×480 at max side 320; up to the 16 frames asked (a loaded machine's recorder drops frames, and
    # uniform sampling keeps distinct frames only)
    assert (shown["width"], shown["height"]) == (320, 240) and 4 <= shown["pairs"] <= 15
    caption = _caption(page)
    assert caption != before
    assert caption.startswith(f"{shown['name']} · {shown['pairs'] + 1} frames at 320×240")
    assert "640×480" in caption and ("vp8" in caption or "vp9" in caption)
    frame = panel_pixels(page, "frame")
    assert frame.shape == (240, 320, 3) and frame.std() > 10 and frame.shape != clip_frame.shape
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
