"""The real app in Debian chromium: every page opened by its URL first, keyboard sliders, uploads.

One `streamlit run` serves every test (session fixture `app_url`); each test gets a fresh tab, which is a
fresh Streamlit session. Screenshots of each page land in test-artifacts/ (not committed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers_browser import READY, full_page_screenshot, press_keys, wait_ready
from tests.helpers_video import make_video

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


IMG_OF = """(title) => {
  for (const el of document.querySelectorAll('[data-testid="stImage"]')) {
    const cap = el.parentElement.querySelector('[data-testid="stImageCaption"]')
             || el.querySelector('[data-testid="stImageCaption"]');
    if (cap && cap.textContent.startsWith(title)) return el.querySelector('img');
  }
  return null;
}"""
SRC_OF = f"(title) => ({IMG_OF})(title)?.src ?? null"


def image_src(page, title: str) -> str | None:
    """The src of the panel image whose caption starts with ``title`` (a new image gets a new URL)."""
    return page.evaluate(SRC_OF, title)


def wait_image_changed(page, title: str, before: str | None, timeout_ms: float = 10_000) -> None:
    page.wait_for_function(
        f"([title, before]) => ({SRC_OF})(title) !== before", arg=[title, before], timeout=timeout_ms
    )


def nudge_shift_until_attention_changes(page) -> None:
    """Move 'Shift b' by 0.02 with the keyboard (a visible change); wait for a new attention map."""
    before = image_src(page, "Attention")
    assert before is not None
    slider = page.get_by_role("slider", name="Shift b")
    press_keys(page, slider, 20, lambda: wait_image_changed(page, "Attention", before))
    wait_ready(page)
    assert image_src(page, "Attention") not in {before, None}


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
    assert all(page.evaluate(SRC_OF, t) for t in ("Frame", "Difference", "Attention", "Prompt"))
    page.get_by_text("Power normalization").first.wait_for()
    # The curve drawn by plotly.js (not just its container), with the current shift marked on it.
    curve = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    curve.wait_for(timeout=30_000)
    curve.get_by_text(re.compile(r"^b=")).first.wait_for()
    assert_no_exception(page)


def test_keyboard_slider_changes_the_attention_image(app_url: str, page) -> None:
    open_page(page, f"{app_url}/Explore")
    frame_before = image_src(page, "Frame")
    nudge_shift_until_attention_changes(page)
    assert image_src(page, "Frame") == frame_before  # the shift changes attention, not the frame
    assert_no_exception(page)


def _upload_via_file_input(page, label: str, file: Path) -> None:
    page.get_by_role("radio", name="Upload").click()
    wait_ready(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    uploader.locator('input[type="file"]').set_input_files(file)


def test_video_upload_through_the_file_input(app_url: str, page, tmp_path: Path) -> None:
    video = make_video(tmp_path / "ramp.mp4", 12, 10, size=(64, 80))
    open_page(page, f"{app_url}/Explore")
    frame_before = image_src(page, "Frame")
    _upload_via_file_input(page, "Video file", video)
    page.get_by_text("ramp.mp4 ·").first.wait_for(timeout=60_000)  # the probe caption of the new clip
    wait_image_changed(page, "Frame", frame_before, 60_000)
    wait_ready(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("12 frames at 80×64").count() >= 1
    size = page.evaluate(
        f"(t) => {{ const i = ({IMG_OF})(t); return [i.naturalWidth, i.naturalHeight]; }}", "Frame"
    )
    assert size == [80, 64]  # the new clip's frame at its own size
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert_no_exception(page)


def test_bad_upload_shows_the_error_and_keeps_the_clip(app_url: str, page, tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(range(256)) * 64)
    open_page(page, f"{app_url}/Explore")
    frame_before = image_src(page, "Frame")
    _upload_via_file_input(page, "Video file", noise)
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    assert "noise.mp4" in error.inner_text() and "Still showing" in error.inner_text()
    wait_ready(page)
    assert page.locator('[data-testid="stImage"]').count() >= 4  # the previous clip's panels remain
    assert image_src(page, "Frame") == frame_before
    nudge_shift_until_attention_changes(page)  # and the app still answers
    assert_no_exception(page)


def test_ready_selector_matches_streamlit(app_url: str, page) -> None:
    # Guards the helper every test waits on: a renamed attribute would make all waits time out.
    page.goto(app_url)
    page.wait_for_selector(READY, timeout=60_000)
