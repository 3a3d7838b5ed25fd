"""README picture and timings: the Dataset page's report on the demo dataset, written to assets/dataset.png.

Run: .venv/bin/python bench/screenshot_dataset.py [--out PATH]. Starts `streamlit run app.py` with a fresh
temporary cache folder, opens /Dataset in Debian chromium at 1400×1000 (the demo dataset is made on this
first visit), runs the report with the default parameter sets from the page, filters the table to a shipped
clip, selects its first row and saves the viewport (table and viewer) as an optimised PNG. Prints how long
each step took, as a user waits for it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.test_browser_dataset import select_row
from tests.helpers_browser import (
    CHROMIUM_FLAGS,
    REPO_ROOT,
    chromium_path,
    save_screenshot,
    streamlit_server,
    wait_ready,
)

SAMPLE = "pen_coin"
MAX_BYTES = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "dataset.png")
    args = parser.parse_args()
    timings: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as cache,
        sync_playwright() as playwright,
        streamlit_server(env={"MP_CACHE_DIR": cache}) as url,
    ):
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(f"{url}/Dataset")
        run = page.get_by_role("button", name="Run report")
        run.wait_for(timeout=300_000)
        wait_ready(page)
        timings["open /Dataset on a fresh server, demo dataset made"] = time.perf_counter() - start

        start = time.perf_counter()
        run.click()
        done = page.get_by_text(re.compile(r"Report done in [\d.]+ s"))
        done.wait_for(timeout=600_000)
        timings["Run report pressed → table shown"] = time.perf_counter() - start
        wait_ready(page)
        print(done.inner_text())

        search = page.get_by_role("textbox", name="Path contains")
        search.fill(SAMPLE)
        search.press("Enter")
        page.get_by_text("2 of ").wait_for(timeout=60_000)
        wait_ready(page)
        start = time.perf_counter()
        select_row(page, 0)
        page.wait_for_function("() => [...document.images].every((img) => img.complete)")
        wait_ready(page)
        timings["row selected → viewer panels shown"] = time.perf_counter() - start
        page.get_by_text("Sort by a column's header").evaluate("(e) => e.scrollIntoView({block: 'center'})")
        page.get_by_text("View", exact=True).first.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(500)
        png = page.screenshot()
        browser.close()
    for what, seconds in timings.items():
        print(f"{what}: {seconds:.2f} s")
    save_screenshot(png, args.out, MAX_BYTES)


if __name__ == "__main__":
    main()
