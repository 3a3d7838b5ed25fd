"""The viewer's camera: frames processed per second, and a recording's Stop -> Explore's panels showing it.

Run: .venv/bin/python bench/bench_camera.py [--seconds S] [--repeats N]. Chromium's fake camera plays a real
clip (assets/hand_cup.mp4 as a 640×480 y4m at 30 frames/s, made with PyAV), as the browser tests do.

- frames/s: the standalone demo from file://, page otherwise idle, the camera drawn at 320 px and at 640 px
  on the long side (interleaved rounds); the viewer's own count (``info().measuredFps``, over its last 30
  frames) sampled once a second, the page's work per frame (``info().frameMs``: grab, gray, D, histogram,
  panels) and of it the redraw (the render event's ``ms``). The camera
  delivers 30 frames/s, the ceiling. Targets: >= 24 at 320 px, >= 15 at 640 px.
- Stop -> panels: Explore in the app (`streamlit run`), Camera, Record for 3 s, Stop recording; page time
  from the click to the first redraw of the recording as the clip (sent base64, spooled, decoded by PyAV,
  sampled, sent back). Target <= 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mp_core import MotionParams
from mp_core.video_io import read_clip_uniform
from mp_core.viz.clip_view import prepare_clip
from mp_core.viz.viewer import clip_payload, standalone_html, view_payload
from tests.helpers_browser import CHROMIUM_FLAGS, chromium_path, streamlit_server, wait_ready
from tests.helpers_camera import camera_y4m, fake_camera_flags

ROOT = Path(__file__).resolve().parents[1]
READY = "() => !!window.motionPrompts && window.motionPrompts.info().pairs > 0"
RENDERS = """() => { window.__ms = [];
  window.addEventListener("motionprompts:render", (e) => window.__ms.push(e.detail.ms)); }"""
#: Page time of the Stop click, and of the first redraw showing the new recording as the clip.
STOP_TO_PANELS = """() => {
  window.__stop = null; window.__shown = null; window.__before = window.motionPrompts.info().name;
  if (window.__listening) return;
  window.__listening = true;
  document.addEventListener("click", () => {
    if (window.motionPrompts.info().recording) window.__stop = performance.now();
  }, true);
  window.addEventListener("motionprompts:render", () => {
    const i = window.motionPrompts.info();
    const recorded = i.source === "clip" && i.name.startsWith("camera-") && i.name !== window.__before;
    if (window.__stop && !window.__shown && recorded) window.__shown = performance.now();
  });
}"""


def demo_file(folder: Path) -> Path:
    clip = prepare_clip(read_clip_uniform(ROOT / "assets" / "pen_coin.mp4", 8, max_side=320), "cpu", "pen")
    payload = clip_payload(clip, "pen")
    path = folder / "demo.html"
    path.write_text(
        standalone_html(payload, view_payload(payload["id"], MotionParams(0.257, 0.053))), "utf-8"
    )
    return path


def frame_rates(browser, demo: Path, seconds: int, repeats: int) -> dict[int, dict[str, list[float]]]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(demo.as_uri())
    page.wait_for_function(READY)
    page.evaluate(RENDERS)
    results: dict[int, dict[str, list[float]]] = {
        side: {"fps": [], "ms": [], "frame": []} for side in (320, 640)
    }
    for _ in range(repeats):
        for side in results:
            page.evaluate("(side) => window.motionPrompts.startCamera({longSide: side})", side)
            page.wait_for_function("() => window.motionPrompts.info().cameraFrames >= 31", timeout=30_000)
            page.evaluate("() => { window.__ms = []; }")
            for _ in range(seconds):
                time.sleep(1.0)
                shown = page.evaluate("() => window.motionPrompts.info()")
                results[side]["fps"].append(shown["measuredFps"])
                results[side]["frame"].append(shown["frameMs"])
            results[side]["ms"].extend(page.evaluate("() => window.__ms"))
            page.evaluate("() => window.motionPrompts.stopCamera()")
    page.close()
    return results


def stop_to_panels(browser, repeats: int) -> list[float]:
    times = []
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Explore")
        wait_ready(page)
        page.wait_for_function(READY, timeout=60_000)
        wait_ready(page)
        for _ in range(repeats):
            page.evaluate(STOP_TO_PANELS)
            page.get_by_role("button", name="Camera").click()
            page.wait_for_function("() => window.motionPrompts.info().cameraFrames >= 10", timeout=30_000)
            page.get_by_role("button", name="Record").click()
            page.wait_for_function("() => window.motionPrompts.info().recording")
            time.sleep(3.0)
            page.get_by_role("button", name="Stop recording").click()
            page.wait_for_function("() => window.__shown", timeout=60_000)
            times.append(page.evaluate("() => (window.__shown - window.__stop) / 1000"))
            wait_ready(page)
        page.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="seconds sampled per round and size")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        y4m = camera_y4m(Path(folder) / "hand_cup_640x480.y4m", 90)
        flags = CHROMIUM_FLAGS + fake_camera_flags(y4m)
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=flags)
        rates = frame_rates(browser, demo_file(Path(folder)), args.seconds, args.repeats)
        for side, target in ((320, 24), (640, 15)):
            fps, ms, frame = rates[side]["fps"], rates[side]["ms"], rates[side]["frame"]
            print(
                f"camera at {side} px long side: {statistics.median(fps):.1f} frames/s median "
                f"(min {min(fps):.1f}, max {max(fps):.1f}, {len(fps)} samples; target >= {target}); "
                f"one frame's work {statistics.median(frame):.1f} ms median, of which the redraw "
                f"{statistics.median(ms):.1f} ms"
            )
        stops = stop_to_panels(browser, args.repeats)
        print(
            f"3 s recording, Stop -> Explore's panels show it: {statistics.median(stops):.2f} s median "
            f"(all: {', '.join(f'{s:.2f}' for s in stops)}; target <= 3 s)"
        )
        browser.close()


if __name__ == "__main__":
    main()
