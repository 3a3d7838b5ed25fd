"""The Learn page in Debian chromium: a short training run started from the page, its curves drawn, and
"Use these values" moving the sidebar's slope and shift to the learned ones.

Shares the session's `streamlit run` (fixture `app_url`) and its temporary cache folder, where the small
demo dataset (4 clips per class) is made by the run itself.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers_browser import full_page_screenshot, wait_ready

pytestmark = pytest.mark.browser


def set_number(page, label: str, value: int) -> None:
    """Type a value into a number input and commit it (Enter), then wait for the rerun."""
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_function(
        "([label, value]) => [...document.querySelectorAll('input')].some("
        "i => i.getAttribute('aria-label') === label && i.value === value)",
        arg=[label, str(value)],
    )
    wait_ready(page)
    assert field.input_value() == str(value)


def test_a_short_run_draws_curves_and_use_these_values_sets_the_sidebar(app_url: str, page) -> None:
    page.goto(f"{app_url}/Learn")
    train = page.get_by_role("button", name="Train")
    train.wait_for(timeout=60_000)
    wait_ready(page)
    set_number(page, "Clips per class", 4)
    set_number(page, "Epochs", 2)
    page.get_by_text("Clip size and batch").click()
    set_number(page, "Frames per clip", 4)
    set_number(page, "Frame side (px)", 32)
    set_number(page, "Batch", 4)

    sidebar = page.locator('[data-testid="stSidebar"]')
    slope = sidebar.get_by_role("slider", name="Slope a")
    before = float(slope.input_value())

    train.click()
    page.locator('[data-testid="stProgress"]').wait_for(timeout=60_000)
    use = page.get_by_role("button", name="Use these values")
    use.first.wait_for(timeout=300_000)  # three λ, two epochs each, on a busy machine
    wait_ready(page)
    assert use.count() == 3  # λ = 0, 1, 10 (the page's default sweep)

    curves = page.locator('[data-testid="stPlotlyChart"]').first
    assert curves.locator(".scatterlayer .trace").count() >= 9  # loss, R, accuracy for each λ
    full_page_screenshot(page, "learn_after_run")

    line = page.get_by_text(re.compile(r"^λ=10: m = ")).inner_text()
    learned_slope = float(re.search(r"slope ([\d.]+)", line)[1])
    assert learned_slope != pytest.approx(before, abs=0.005)
    use.last.click()  # λ = 10
    sidebar.get_by_text(re.compile(r"Learned here: λ=10")).wait_for(timeout=30_000)
    wait_ready(page)
    assert float(slope.input_value()) == pytest.approx(learned_slope, abs=0.006)
