"""Browser figures of the app: key presses -> redrawn panels, and new clip -> first panels.

Run: .venv/bin/python bench/bench_app.py [--repeats N]. Starts `streamlit run app.py` on a free port and
drives Debian chromium with playwright, as the browser tests do. Explore's panels are drawn by the
in-browser viewer, which dispatches `motionprompts:render` on window after each redraw.

- viewer key press -> redrawn panels: a key on the viewer's own slope control; computed in the page, no
  server. Timed in the page (keydown -> the render event, and -> the next animation frame, when the new
  canvases are on screen) and in Python around the key press (adds playwright's round trips).
- sidebar key press -> redrawn panels: the sidebar's 'Shift b' slider, a server round trip (rerun, new
  parameters sent to the viewer), timed in Python until the render event with the new shift.
Targets on the 2-core CPU: viewer key press <= 50 ms median; sidebar slider -> panels <= 300 ms median
(64 frames at 224 px); first panels of a shipped sample <= 2 s.

`--sessions N` (the room mode) serves N people at once: N chromium processes (one session each, `--uploads K`
of them with their own uploaded video) press the sidebar's slope slider together (a server round trip: the
viewer redraws with the new slope), round after round; it reports p50/p95 key press -> changed attention
panel, the server's CPU time per press and its RSS, then RSS growth over 24 clip switches per session. The
same rounds run first against bench/trivial_app.py (one slider, four images), the framework's floor on this
machine, measured in the same run. Targets (issue 10): 8 sessions, 4 with uploads: p95 <= 1.5 s, median <= 0.8
s, server CPU <= 100 ms per press; RSS growth over the clip switches <= 600 MiB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers_browser import (
    CHROMIUM_FLAGS,
    chromium_path,
    streamlit_process,
    streamlit_server,
    wait_ready,
)

VIEWER = "() => !!window.motionPrompts && window.motionPrompts.info().pairs > 0"
#: Records every render event (page time, detail) and the page time of every keydown, from page load on.
RECORD = """() => {
  window.__renders = []; window.__keys = []; window.__stats = [];
  window.addEventListener("motionprompts:stats", () => window.__stats.push(performance.now()));
  window.addEventListener("keydown", () => window.__keys.push(performance.now()), true);
  window.addEventListener("motionprompts:render", (event) => {
    const entry = {at: performance.now(), detail: event.detail};
    window.__renders.push(entry);
    requestAnimationFrame(() => { entry.frame = performance.now(); });
  });
}"""

#: Page-time (ms since navigation) when each stage first shows in the DOM: where an open's time goes.
STAGES = {
    "title": "h1",  # the script's first delta arrived
    "viewer mounted": '[data-testid^="stBidiComponent"]',  # the component's delta arrived
}
MARK_STAGES = """(stages) => {
  window.__stages = {};
  new MutationObserver(() => {
    for (const [name, selector] of Object.entries(stages))
      if (!(name in window.__stages) && document.querySelector(selector))
        window.__stages[name] = performance.now();
  }).observe(document, {subtree: true, childList: true, attributes: true});
}"""


def report(name: str, values: list[float], target: float | None) -> None:
    median = statistics.median(values)
    if target is None:
        verdict = "no target"
    else:
        outcome = "meets" if median <= target else "MISSES"
        verdict = f"target {target * 1e3:.0f} ms: {outcome}, {median / target:.2f}x of it"
    print(
        f"  {name}: median {median * 1e3:7.0f} ms  min {min(values) * 1e3:7.0f} ms"
        f"  max {max(values) * 1e3:7.0f} ms  (n={len(values)}; {verdict})"
    )


def playwright_round_trip(page, repeats: int) -> list[float]:
    """A key press on a control that redraws nothing, then one poll: what playwright adds to a wall time."""
    page.get_by_role("checkbox", name="overlay attention on the frame").focus()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        page.keyboard.press("Shift")
        page.wait_for_function("() => true", polling="raf")
        times.append(time.perf_counter() - start)
    return times


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


def renders(page) -> int:
    return page.evaluate("() => window.__renders.length")


def wait_render(page, count: int, condition: str = "true", timeout_ms: float = 30_000) -> dict:
    """The first render event after the first ``count`` whose detail satisfies ``condition`` (JS on d)."""
    page.wait_for_function(
        f"(n) => window.__renders.slice(n).some(({{detail: d}}) => {condition})",
        arg=count,
        timeout=timeout_ms,
        polling="raf",
    )
    return page.evaluate(f"(n) => window.__renders.slice(n).find(({{detail: d}}) => {condition})", count)


def slider_to_panel(page, repeats: int) -> list[float]:
    """Sidebar 'Shift b' key press -> the viewer redrawn with the server's new shift (a round trip)."""
    slider = page.locator('[data-testid="stSidebar"]').get_by_role("slider", name="Shift b")
    times = []
    for index in range(repeats + 2):
        shift = page.evaluate("() => window.motionPrompts.info().shift")
        count = renders(page)
        slider.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if index % 2 == 0 else "ArrowLeft")
        wait_render(page, count, f"Math.abs(d.shift - {shift}) > 1e-4")
        elapsed = time.perf_counter() - start
        wait_ready(page)
        if index >= 2:  # the first two warm up the caches of this clip size
            times.append(elapsed)
        time.sleep(0.3)
    return times


def viewer_key_press(page, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """Viewer 'slope a' key press -> redrawn panels: (in the page to the event, to the next frame, wall)."""
    slider = page.get_by_role("slider", name="slope a", exact=True)
    to_event, to_frame, wall = [], [], []
    for index in range(repeats + 3):
        slider.focus()
        count = renders(page)
        keys = page.evaluate("() => window.__keys.length")
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if index % 2 == 0 else "ArrowLeft")
        entry = wait_render(page, count)
        elapsed = time.perf_counter() - start
        page.wait_for_function(f"() => window.__renders[{count}].frame !== undefined", polling="raf")
        entry = page.evaluate(f"() => window.__renders[{count}]")
        pressed = page.evaluate(f"() => window.__keys[{keys}]")
        wait_ready(page)  # the release's rerun (the server hears about the change) ends before the next key
        if index >= 3:  # the first ones warm up the JIT
            to_event.append((entry["at"] - pressed) / 1e3)
            to_frame.append((entry["frame"] - pressed) / 1e3)
            wall.append(elapsed)
        time.sleep(0.3)
    return to_event, to_frame, wall


def open_explore(browser, url: str, stages: dict[str, list[float]]) -> tuple[object, float]:
    """Open /Explore in a new tab (a new session); the time to its first visible panel; stage times."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(f"({MARK_STAGES})({json.dumps(STAGES)})")
    page.add_init_script(f"({RECORD})()")
    start = time.perf_counter()
    page.goto(f"{url}/Explore")
    page.wait_for_function("() => window.__renders.length > 0", timeout=120_000, polling="raf")
    elapsed = time.perf_counter() - start
    wait_ready(page, 120_000)
    page.wait_for_function("() => window.__stats.length > 0", timeout=120_000)
    marks = page.evaluate(
        "() => ({...window.__stages, 'page scripts run':"
        " performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
        " 'panels drawn': window.__renders[0].at, 'statistics and variation chart drawn': window.__stats[0]})"
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
        count = renders(page)
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        option = page.get_by_role("option", name=title)
        start = time.perf_counter()
        option.click()
        page.wait_for_function(
            "([n, title]) => window.__renders.length > n && window.motionPrompts.info().name === title",
            arg=[count, title],
            timeout=60_000,
            polling="raf",
        )
        times.append(time.perf_counter() - start)
        wait_ready(page)
    return times


#: A signature of what the attention panel shows: an <img> captioned "Attention…" (the trivial app), else
#: the in-browser viewer's clip and parameters (it redraws in the same task that takes them).
PANEL_SIGNATURE = """() => {
  for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
    const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
             || el.querySelector('[data-testid="stImageCaption"]');
    if (cap && cap.textContent.startsWith('Attention')) {
      const img = el.querySelector('img');
      return img && img.complete ? img.src : null;
    }
  }
  const viewer = window.motionPrompts && window.motionPrompts.info();
  return viewer && viewer.pairs > 0 ? `${viewer.name}|${viewer.slope}|${viewer.shift}` : null;
}"""
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "motion-prompt-explorer" / "bench"


def upload_clip(index: int) -> Path:
    """A distinct 640×360, 10 s, 30 fps H.264 clip per uploading session (cached between runs)."""
    path = CACHE / f"room_upload_{index}.mp4"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(index)
    texture = rng.integers(0, 256, (46, 46 + 300, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    rate = Fraction(30)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        for t in range(300):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:360, 8 * t : 8 * t + 640]))
            frame.pts, frame.time_base = t, stream.codec_context.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.replace(path)
    return path


def server_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_rss_mib(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def wait_panel_change(page, before, timeout_ms: float = 60_000) -> None:
    page.wait_for_function(
        f"(before) => {{ const now = ({PANEL_SIGNATURE})(); return now !== null && now !== before; }}",
        arg=before,
        timeout=timeout_ms,
        polling="raf",
    )


def choose_source(page, name: str) -> None:
    """Click a choice of the sidebar's "Clip source" segmented control."""
    group = page.locator('[data-testid="stSidebar"] [data-testid="stButtonGroup"]').first
    group.get_by_text(name, exact=True).click()


def switch_clip(page, index: int, uploads: bool) -> None:
    """One clip switch: the next shipped sample, or (uploading sessions, every other time) the upload."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    before = page.evaluate(PANEL_SIGNATURE)
    if uploads and index % 2 == 1:
        choose_source(page, "Upload")
    else:
        samples = sidebar.locator('[data-testid="stSelectbox"]').filter(has_text="Sample")
        if samples.count() == 0:  # the session shows its upload
            choose_source(page, "Sample")
            wait_panel_change(page, before, 120_000)
            wait_ready(page, 120_000)
            before = page.evaluate(PANEL_SIGNATURE)
        samples.first.click()
        titles = ["Cyclist on a court", "Hand tilts a cup", "1906 Grand Prix race car", "Pen pushes a coin"]
        page.get_by_role("option", name=titles[index % len(titles)]).click()
    wait_panel_change(page, before, 120_000)
    wait_ready(page, 120_000)


def session_worker(
    index: int, url: str, upload: str | None, rounds: int, switches: int, barrier, out
) -> None:
    """One person: open the page, upload, then press the slope slider when everyone does; switch clips."""
    try:
        _session(index, url, upload, rounds, switches, barrier, out)
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        raise


def _session(index: int, url: str, upload: str | None, rounds: int, switches: int, barrier, out) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(f"() => ({PANEL_SIGNATURE})() !== null", timeout=120_000, polling="raf")
        opened = time.perf_counter() - start
        wait_ready(page, 120_000)
        if upload is not None:
            sidebar = page.locator('[data-testid="stSidebar"]')
            choose_source(page, "Upload")
            wait_ready(page, 120_000)
            uploader = sidebar.locator('[data-testid="stFileUploader"]').filter(has_text="Video file")
            uploader.locator('input[type="file"]').set_input_files(upload)  # waits for the Upload choice
            sidebar.get_by_text(f"{Path(upload).name} · ").first.wait_for(timeout=120_000)  # its caption
            wait_ready(page, 120_000)
        slider = page.locator('[data-testid="stSidebar"]').get_by_role("slider", name="Slope a")
        latencies = []
        barrier.wait()  # everyone is ready: the main process reads the server's CPU time
        for round_ in range(rounds):
            barrier.wait()
            before = page.evaluate(PANEL_SIGNATURE)
            slider.focus()
            pressed = time.perf_counter()
            page.keyboard.press("ArrowRight" if round_ % 2 == 0 else "ArrowLeft")
            wait_panel_change(page, before)
            latencies.append(time.perf_counter() - pressed)
            wait_ready(page, 120_000)
            time.sleep(0.3)
        barrier.wait()  # the presses are over: CPU time and RSS again
        barrier.wait()
        for switch in range(switches):
            switch_clip(page, switch, upload is not None)
        barrier.wait()  # the switches are over: RSS again
        out.put((index, opened, latencies))
        browser.close()


def room(url: str, pid: int, sessions: int, uploads: int, rounds: int, switches: int) -> dict[str, float]:
    """N sessions pressing together; returns the figures (seconds, MiB)."""
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(sessions + 1), context.Queue()
    paths = [str(upload_clip(i)) if i < uploads else None for i in range(sessions)]
    workers = [
        context.Process(target=session_worker, args=(i, url, paths[i], rounds, switches, barrier, out))
        for i in range(sessions)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=600)
    cpu_before, rss_before = server_cpu_s(pid), server_rss_mib(pid)
    for _ in range(rounds):
        barrier.wait(timeout=600)
    barrier.wait(timeout=600)
    cpu = server_cpu_s(pid) - cpu_before
    rss_pressed = server_rss_mib(pid)
    barrier.wait(timeout=600)
    barrier.wait(timeout=1800)
    rss_switched = server_rss_mib(pid)
    results = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [value for _, _, values in results for value in values]
    return {
        "p50": statistics.median(latencies),
        "p95": float(np.percentile(latencies, 95)),
        "cpu_per_press": cpu / len(latencies),
        "open": statistics.median(opened for _, opened, _ in results),
        "rss": rss_pressed,
        "rss_growth_pressing": rss_pressed - rss_before,
        "rss_growth_switching": rss_switched - rss_before,
        "presses": len(latencies),
    }


def room_mode(sessions: int, uploads: int, rounds: int, switches: int) -> None:
    print(
        f"{sessions} sessions ({uploads} with their own upload) pressing the slope slider together, "
        f"{rounds} rounds"
    )
    figures = {}
    for name, script, path, clip_switches in (
        ("trivial app (floor)", "bench/trivial_app.py", "", 0),
        ("Explore", "app.py", "/Explore", switches),
    ):
        with streamlit_process(script) as (url, process):
            figures[name] = room(
                url + path, process.pid, sessions, uploads if path else 0, rounds, clip_switches
            )
        f = figures[name]
        print(
            f"  {name:20s} press -> changed panel p50 {f['p50'] * 1e3:6.0f} ms  p95 {f['p95'] * 1e3:6.0f} ms"
            f"  server CPU {f['cpu_per_press'] * 1e3:5.0f} ms/press  RSS {f['rss']:5.0f} MiB"
            f"  open {f['open'] * 1e3:5.0f} ms  (n={f['presses']})"
        )
    app, floor = figures["Explore"], figures["trivial app (floor)"]
    for key, label, target in (
        ("p95", "p95", 1.5),
        ("p50", "median", 0.8),
        ("cpu_per_press", "server CPU per press", 0.1),
    ):
        verdict = "meets" if app[key] <= target else "MISSES"
        print(
            f"  {label}: {app[key] * 1e3:.0f} ms = {app[key] / floor[key]:.2f}x the floor"
            f" (target {target * 1e3:.0f} ms: {verdict})"
        )
    growth = app["rss_growth_switching"]
    print(
        f"  server RSS growth: {app['rss_growth_pressing']:.0f} MiB while pressing, {growth:.0f} MiB after "
        f"{switches} clip switches per session (target 600 MiB: {'meets' if growth <= 600 else 'MISSES'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sessions", type=int, default=0, help="room mode: this many browser sessions")
    parser.add_argument("--uploads", type=int, default=4, help="room mode: sessions with their own upload")
    parser.add_argument("--rounds", type=int, default=10, help="room mode: presses per session")
    parser.add_argument("--switches", type=int, default=24, help="room mode: clip switches per session")
    args = parser.parse_args()
    if args.sessions:
        room_mode(args.sessions, min(args.uploads, args.sessions), args.rounds, args.switches)
        return
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        print("key press -> redrawn panels (Explore, pen_coin, 64 frames at 224 px)")
        with streamlit_server() as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(f"({RECORD})()")
            page.goto(f"{url}/Explore")
            wait_ready(page, 120_000)
            set_sampling(page, 64, 224)
            page.wait_for_function(VIEWER, timeout=120_000)
            to_event, to_frame, wall = viewer_key_press(page, args.repeats)
            report("viewer key press -> panels redrawn (in the page)", to_event, 0.05)
            report("viewer key press -> next frame on screen (in the page)", to_frame, 0.05)
            report("viewer key press -> panels redrawn (wall, via playwright)", wall, None)
            report("  playwright's own key press + poll, for scale", playwright_round_trip(page, 10), None)
            report("sidebar slider -> panels (server round trip)", slider_to_panel(page, args.repeats), 0.3)
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
