"""README picture: the Explore page on the default sample, written to assets/explore.png.

Run: .venv/bin/python bench/screenshot_explore.py [--out PATH]. Starts `streamlit run app.py` on a free port,
opens /Explore in Debian chromium at 1400×1000 and saves the viewport as an optimised PNG (Pillow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers_browser import (
    CHROMIUM_FLAGS,
    REPO_ROOT,
    chromium_path,
    save_screenshot,
    streamlit_server,
    wait_ready,
)

#: The frame pair shown: the pen is moving there in the default sample.
PAIR = 7
MAX_BYTES = 300_000


def show_pair(page, pair: int) -> None:
    """Scrub the viewer to ``pair`` through its API (the server hears of it as of a released scrubber)."""
    page.wait_for_function(
        "() => !!window.motionPrompts && window.motionPrompts.info().pairs > 0", timeout=120_000
    )
    page.evaluate("(pair) => window.motionPrompts.setParams({pair})", pair)
    page.wait_for_function("(pair) => window.motionPrompts.info().pair === pair", arg=pair)
    page.wait_for_timeout(500)
    wait_ready(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "explore.png")
    args = parser.parse_args()
    with sync_playwright() as playwright, streamlit_server() as url:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Explore")
        wait_ready(page, 120_000)
        show_pair(page, PAIR)
        page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=60_000)
        wait_ready(page)
        page.wait_for_timeout(500)  # let plotly finish its transitions
        png = page.screenshot()
        browser.close()
    save_screenshot(png, args.out, MAX_BYTES)


if __name__ == "__main__":
    main()
