"""The real app in Debian chromium: every page opened by its URL first, keyboard sliders, uploads.

One `streamlit run` serves every test (session fixture `app_url`); each test gets a fresh tab, which is a
fresh Streamlit session. Screenshots of each page land in test-artifacts/ (not committed).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.helpers_browser import READY, full_page_screenshot, wait_ready
from tests.helpers_video import ramp_frames

pytestmark = pytest.mark.browser

PAGES = sorted((Path(__file__).resolve().parents[1] / "pages").glob("*.py"))


def url_path(page_file: Path) -> str:
    """Streamlit's URL for pages/<n>_<Name>.py is /<Name>."""
    return re.sub(r"^\d+_", "", page_file.stem)


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_ready(page)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=60_000)
    wait_ready(page)


def attention_src(page) -> str:
    """The src of the image whose caption starts with 'Attention'."""
    return page.evaluate(
        """() => {
          for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
            const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
                     || el.querySelector('[data-testid="stImageCaption"]');
            if (cap && cap.textContent.startsWith('Attention')) return el.querySelector('img').src;
          }
          return null;
        }"""
    )


CHANGED = """(before) => {
  for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
    const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
             || el.querySelector('[data-testid="stImageCaption"]');
    if (cap && cap.textContent.startsWith('Attention')) return el.querySelector('img').src !== before;
  }
  return false;
}"""


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("page_file", [None, *PAGES], ids=lambda p: "home" if p is None else p.stem)
def test_every_page_opened_first_renders(app_url: str, page, page_file: Path | None) -> None:
    name = "home" if page_file is None else url_path(page_file)
    page.goto(app_url if page_file is None else f"{app_url}/{name}")
    wait_ready(page)
    main = page.locator('[data-testid="stMain"]')
    title = "Motion Prompt Explorer" if page_file is None else name
    main.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    # The shared sidebar ran too: a page opened first is not a bare script.
    page.get_by_role("slider", name="Slope a").wait_for(timeout=30_000)
    wait_ready(page)
    assert_no_exception(page)
    full_page_screenshot(page, f"page-{name}")


def test_explore_renders_four_panels_and_the_curve(app_url: str, page) -> None:
    open_page(page, f"{app_url}/Explore")
    captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
    for title in ("Frame", "Difference", "Attention", "Prompt"):
        assert any(c.startswith(title) for c in captions), (title, captions)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2
    assert_no_exception(page)


def test_keyboard_slider_changes_the_attention_image(app_url: str, page) -> None:
    open_page(page, f"{app_url}/Explore")
    before = attention_src(page)
    slider = page.get_by_role("slider", name="Shift b")
    for _ in range(3):  # keys pressed while a rerun redraws the slider can be lost on a loaded machine
        slider.focus()
        for _ in range(20):  # 0.02 in shift: a visible change of the map
            page.keyboard.press("ArrowRight")
        try:
            page.wait_for_function(CHANGED, arg=before, timeout=10_000)
            break
        except PlaywrightTimeout:
            wait_ready(page)
    wait_ready(page)
    assert attention_src(page) != before
    assert_no_exception(page)


def _upload_via_file_input(page, label: str, name: str, data: bytes) -> None:
    page.get_by_role("radio", name="Upload").click()
    wait_ready(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    uploader.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": "video/mp4", "buffer": data}
    )


def test_video_upload_through_the_file_input(app_url: str, page, tmp_path: Path) -> None:
    from mp_core.video_io import write_video

    buffer = io.BytesIO()
    write_video(buffer, ramp_frames(12, 64, 80), 10)
    open_page(page, f"{app_url}/Explore")
    _upload_via_file_input(page, "Video file", "ramp.mp4", buffer.getvalue())
    page.get_by_text("ramp.mp4 ·").first.wait_for(timeout=60_000)  # the probe caption of the new clip
    wait_ready(page)
    assert page.locator('[data-testid="stSidebar"]').get_by_text("80×64").count() >= 1
    assert_no_exception(page)


def test_bad_upload_shows_the_error_and_keeps_the_clip(app_url: str, page) -> None:
    open_page(page, f"{app_url}/Explore")
    _upload_via_file_input(page, "Video file", "noise.mp4", bytes(range(256)) * 64)
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    assert "noise.mp4" in error.inner_text() and "Still showing" in error.inner_text()
    wait_ready(page)
    assert page.locator('[data-testid="stImage"]').count() >= 4  # the previous clip's panels remain
    assert_no_exception(page)


def test_ready_selector_matches_streamlit(app_url: str, page) -> None:
    # Guards the helper every test waits on: a renamed attribute would make all waits time out.
    page.goto(app_url)
    page.wait_for_selector(READY, timeout=60_000)
