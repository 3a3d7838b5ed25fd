"""The Dataset page's report in Debian chromium: opened by its URL first, a report run on the demo dataset
from the page, cancelled, resumed, a table row selected by a click on its checkbox, its sample in the viewer.

Shares the session's `streamlit run` (fixture `app_url`), whose cache folder is its own temporary one
(``tests/conftest.py``): the demo dataset is made there on first use, and no report is there yet.
"""

from __future__ import annotations

import re

import pytest

from mp_core.synthetic import DEMO_CLASSES
from tests.helpers_browser import full_page_screenshot, wait_ready
from ui.samples import list_samples

pytestmark = pytest.mark.browser

CAPTION = '[data-testid="stImageCaption"]'
HEADER_PX = ROW_PX = 35  # st.dataframe's default header and row heights (glide data grid, a canvas)


def select_row(page, row: int) -> None:
    """Select ``row`` of the last table by one click on its checkbox (the grid is a canvas: by position in
    its first column) and wait for the viewer.

    A click is aimed from the grid's box, so it is made only once the page has stopped moving: elements
    above the table draw after the run ends and can push it down; a click aimed before lands elsewhere.
    """
    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.scroll_into_view_if_needed()
    wait_ready(page)
    box, previous = grid.bounding_box(), None
    while box != previous:  # the same box in two animation frames 100 ms apart: the layout has settled
        page.wait_for_timeout(100)
        previous, box = box, grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + HEADER_PX + ROW_PX * row + ROW_PX / 2)
    page.locator(CAPTION).filter(has_text="Prompt Pₜ = Aₜ ⊙ Xₜ₊₁").first.wait_for(timeout=30_000)
    wait_ready(page)


def test_report_on_the_demo_dataset_and_a_selected_row(app_url: str, page) -> None:
    page.goto(f"{app_url}/Dataset")
    run = page.get_by_role("button", name="Run report")
    run.wait_for(timeout=120_000)  # the first visit makes the demo dataset
    wait_ready(page)
    samples = 4 * len(DEMO_CLASSES) + len(list_samples())
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any("Samples" in m and str(samples) in m for m in metrics), metrics

    rows = 2 * samples  # the sidebar's values and FineGym, the default sets
    run.click()  # then Cancel as soon as the progress bar shows: the rows computed so far are kept
    page.locator('[data-testid="stProgress"]').wait_for(timeout=60_000)
    page.get_by_role("button", name="Cancel").click()
    cancelled = page.get_by_text(re.compile(r"Cancelled after [\d.]+ s: (\d+) rows computed"))
    cancelled.wait_for(timeout=120_000)
    wait_ready(page)
    kept = int(re.search(r"(\d+) rows computed", cancelled.inner_text())[1])
    assert kept < rows
    assert page.get_by_text(f"{kept} of {kept} rows.").count() == (1 if kept else 0)

    run.click()  # resumes: only the missing rows are computed
    done = page.get_by_text(re.compile(r"Report done in [\d.]+ s"))
    done.wait_for(timeout=240_000)
    wait_ready(page)
    assert f"{rows - kept} rows computed, {kept} reused, 0 unreadable" in done.inner_text()
    assert page.get_by_text(f"{rows} of {rows} rows.").count() == 1

    select_row(page, 2)
    heading = (
        page.locator('[data-testid="stMarkdownContainer"]')
        .filter(has_text="· parameters ")
        .first.inner_text()
    )
    # The third row of the table (sorted by path, then set): the second clip of the first class, FineGym.
    assert re.fullmatch(
        r"camera_shake/camera_shake_01\.mp4 · label camera_shake · parameters FineGym "
        r"\(a = 11\.07, b = -0\.594\)",
        heading,
    ), heading
    assert page.locator(CAPTION).filter(has_text="Prompt Pₜ = Aₜ ⊙ Xₜ₊₁").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    full_page_screenshot(page, "page-Dataset-report")
