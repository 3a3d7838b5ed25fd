"""The Dataset page's report in Debian chromium: opened by its URL first, a report run on the demo dataset
from the page, a table row selected by a click on its checkbox, the sample shown in the viewer.

Shares the session's `streamlit run` (fixture `app_url`), whose cache folder is its own temporary one
(``tests/conftest.py``): the demo dataset is made there on first use, and no report is there yet.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mp_core.synthetic import DEMO_CLASSES
from tests.helpers_browser import full_page_screenshot, wait_ready
from ui.samples import list_samples

pytestmark = pytest.mark.browser

CAPTION = '[data-testid="stImageCaption"]'
HEADER_PX = ROW_PX = 35  # st.dataframe's default header and row heights (glide data grid, a canvas)


def click_row(page, grid, row: int) -> None:
    """Click the selection checkbox of ``row``: the grid is a canvas, so by position in its first column."""
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + HEADER_PX + ROW_PX * row + ROW_PX / 2)


def test_report_on_the_demo_dataset_and_a_selected_row(app_url: str, page) -> None:
    page.goto(f"{app_url}/Dataset")
    run = page.get_by_role("button", name="Run report")
    run.wait_for(timeout=120_000)  # the first visit makes the demo dataset
    wait_ready(page)
    samples = 4 * len(DEMO_CLASSES) + len(list_samples())
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any("Samples" in m and str(samples) in m for m in metrics), metrics

    run.click()
    done = page.get_by_text(re.compile(r"Report done in [\d.]+ s"))
    done.wait_for(timeout=240_000)
    wait_ready(page)
    rows = 2 * samples  # the sidebar's values and FineGym, the default sets
    assert re.search(
        rf"{rows} rows computed, 0 reused, 0 unreadable|0 rows computed, {rows} reused", done.inner_text()
    )
    assert page.get_by_text(f"{rows} of {rows} rows.").count() == 1

    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.scroll_into_view_if_needed()
    prompt = page.locator(CAPTION).filter(has_text="Prompt Pₜ = Aₜ ⊙ Xₜ₊₁")
    for _ in range(3):  # a click landing during a rerun can be lost on a loaded machine
        click_row(page, grid, 3)
        try:
            prompt.first.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            wait_ready(page)
    wait_ready(page)
    heading = (
        page.locator('[data-testid="stMarkdownContainer"]')
        .filter(has_text="· parameters ")
        .first.inner_text()
    )
    # The fourth row of the table (sorted by path, then set): the second clip of the first class, FineGym.
    assert re.fullmatch(
        r"camera_shake/camera_shake_01\.mp4 · label camera_shake · parameters FineGym "
        r"\(a = 11\.07, b = -0\.594\)",
        heading,
    ), heading
    assert prompt.count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    full_page_screenshot(page, "page-Dataset-report")
