"""Browser figures of the app: slider key press -> updated attention panel, and new clip -> first panels.

Run: .venv/bin/python bench/bench_app.py [--repeats N]. Starts `streamlit run app.py` on a free port and
drives Debian chromium with playwright, as the browser tests do. Times are measured in Python around the
key press / click until the page shows the new image (playwright polls the DOM on animation frames).
Targets on the 2-core CPU: slider -> panels <= 300 ms median (64 frames at 224 px); first panels of a
shipped sample <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers_browser import CHROMIUM_FLAGS, chromium_path, streamlit_server, wait_ready

SRC_OF = """(title) => {
  for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
    const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
             || el.querySelector('[data-testid="stImageCaption"]');
    if (cap && cap.textContent.startsWith(title)) return el.querySelector('img').src;
  }
  return null;
}"""
CHANGED = """([title, before]) => {
  for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
    const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
             || el.querySelector('[data-testid="stImageCaption"]');
    if (cap && cap.textContent.startsWith(title)) {
      const img = el.querySelector('img');
      return img.src !== before && img.complete;
    }
  }
  return false;
}"""

#: Page-time (ms since navigation) when each stage first shows in the DOM: where an open's time goes.
STAGES = {
    "title": "h1",  # the script's first delta arrived
    "images": '[data-testid="stImage"] img',  # the panels' deltas arrived
    "plotly drawn": '[data-testid="stPlotlyChart"] .js-plotly-plot',  # plotly.js loaded and ran
}
MARK_STAGES = """(stages) => {
  window.__stages = {};
  new MutationObserver(() => {
    for (const [name, selector] of Object.entries(stages))
      if (!(name in window.__stages) && document.querySelector(selector))
        window.__stages[name] = performance.now();
  }).observe(document, {subtree: true, childList: true, attributes: true});
}"""


def report(name: str, values: list[float], target: float) -> None:
    median = statistics.median(values)
    verdict = "meets" if median <= target else "MISSES"
    print(
        f"  {name}: median {median * 1e3:7.0f} ms  min {min(values) * 1e3:7.0f} ms"
        f"  max {max(values) * 1e3:7.0f} ms  (n={len(values)}; target {target * 1e3:.0f} ms: {verdict},"
        f" {median / target:.2f}x of it)"
    )


def move_slider(page, name: str, done, direction: str, max_rounds: int = 20) -> None:
    """Press ``direction`` on the slider until ``done(aria-valuetext)``, re-reading its value each round.

    Key presses that land while a rerun redraws the slider are lost, so press, wait for the app, re-read.
    """
    slider = page.get_by_role("slider", name=name)
    for _ in range(max_rounds):
        wait_ready(page, 120_000)
        value = slider.get_attribute("aria-valuetext") or ""
        if done(value):
            return
        slider.focus()
        steps = done.steps(value) if hasattr(done, "steps") else 1
        for _ in range(max(1, steps)):
            page.keyboard.press(direction)
        page.wait_for_timeout(300)  # let the last key's rerun start before waiting for the app
    raise RuntimeError(f"slider {name!r} did not reach its target; it shows {value!r}")


class ReachesInt:
    """Target test for an integer slider that also says how many presses are left."""

    def __init__(self, target: int) -> None:
        self.target = target

    def __call__(self, value: str) -> bool:
        return value == str(self.target)

    def steps(self, value: str) -> int:
        return abs(self.target - int(value))


def set_sampling(page, frames: int, max_side: int) -> None:
    """Frames slider to ``frames`` and the max side to ``max_side`` px, through the keyboard."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Sampling", exact=True).first.click()
    current = int(page.get_by_role("slider", name="Frames").get_attribute("aria-valuetext"))
    move_slider(page, "Frames", ReachesInt(frames), "ArrowRight" if frames > current else "ArrowLeft")
    move_slider(page, "Max side (px)", lambda value: value == str(max_side), "ArrowLeft")
    sidebar.get_by_text(f"{frames} frames at {max_side}×").first.wait_for(timeout=120_000)
    wait_ready(page, 120_000)


def slider_to_panel(page, repeats: int) -> list[float]:
    slider = page.get_by_role("slider", name="Shift b")
    times = []
    for index in range(repeats + 2):
        before = page.evaluate(SRC_OF, "Attention")
        slider.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if index % 2 == 0 else "ArrowLeft")
        page.wait_for_function(CHANGED, arg=["Attention", before], timeout=30_000, polling="raf")
        elapsed = time.perf_counter() - start
        wait_ready(page)
        if index >= 2:  # the first two warm up the caches of this clip size
            times.append(elapsed)
        time.sleep(0.3)
    return times


def open_explore(browser, url: str, stages: dict[str, list[float]]) -> tuple[object, float]:
    """Open /Explore in a new tab (a new session); the time to its first visible panel; stage times."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(f"({MARK_STAGES})({json.dumps(STAGES)})")
    start = time.perf_counter()
    page.goto(f"{url}/Explore")
    page.wait_for_selector('[data-testid="stImage"] img', timeout=120_000)
    elapsed = time.perf_counter() - start
    wait_ready(page, 120_000)
    page.locator(STAGES["plotly drawn"]).first.wait_for(timeout=120_000)
    marks = page.evaluate(
        "() => ({...window.__stages, 'page scripts run':"
        " performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd})"
    )
    for name, value in marks.items():
        stages.setdefault(name, []).append(value / 1e3)
    return page, elapsed


def report_stages(stages: dict[str, list[float]]) -> None:
    order = sorted(stages, key=lambda name: statistics.median(stages[name]))
    print(
        "    in the page (median): "
        + ", ".join(f"{n} {statistics.median(stages[n]) * 1e3:.0f} ms" for n in order)
    )


def new_clip_to_panels(page, titles: list[str]) -> list[float]:
    times = []
    for title in titles:
        before = page.evaluate(SRC_OF, "Frame")
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        option = page.get_by_role("option", name=title)
        start = time.perf_counter()
        option.click()
        page.wait_for_function(CHANGED, arg=["Frame", before], timeout=60_000, polling="raf")
        times.append(time.perf_counter() - start)
        wait_ready(page)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        print("slider key press -> updated attention panel (Explore, pen_coin, 64 frames at 224 px)")
        with streamlit_server() as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/Explore")
            wait_ready(page, 120_000)
            set_sampling(page, 64, 224)
            report("slider -> panel", slider_to_panel(page, args.repeats), 0.3)
            page.close()
        print("choosing a shipped sample -> its first panels (default sampling: 16 frames, max side 320)")
        cold, warm, first_visit, next_visit = [], [], [], []
        first_stages, next_stages = {}, {}
        for _ in range(3):  # a fresh server each round: the first choice of each clip decodes it
            with streamlit_server() as url:
                page, elapsed = open_explore(browser, url, first_stages)  # this session imports torch
                first_visit.append(elapsed)
                page.close()
                page, elapsed = open_explore(browser, url, next_stages)
                next_visit.append(elapsed)
                titles = ["Cyclist on a court", "Hand tilts a cup", "1906 Grand Prix race car"]
                cold += new_clip_to_panels(page, titles)
                warm += new_clip_to_panels(page, ["Pen pushes a coin", *titles])
                page.close()
        report("new clip -> first panels, not cached", cold, 2.0)
        report("new clip -> first panels, cached", warm, 2.0)
        report("open /Explore -> first panels, first session of a fresh server", first_visit, 2.0)
        report_stages(first_stages)
        report("open /Explore -> first panels, a later session", next_visit, 2.0)
        report_stages(next_stages)
        browser.close()


if __name__ == "__main__":
    main()
