"""The Compare and Dataset pages in Debian chromium: each opened by its URL first, used, never a traceback.

Shares the session's `streamlit run` (fixture `app_url`); each test is a fresh tab, so a fresh session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mp_core.synthetic import synthetic_clip
from mp_core.video_io import write_video
from tests.helpers_browser import full_page_screenshot, press_keys, wait_ready

pytestmark = pytest.mark.browser

CAPTION = '[data-testid="stImageCaption"]'
SRC_BY_CAPTION = """(title) => {
  for (const cap of document.querySelectorAll('[data-testid="stImageCaption"]')) {
    if (!cap.textContent.startsWith(title)) continue;
    const box = cap.closest('[data-testid="stImage"]') || cap.parentElement;
    const img = box.querySelector('img');
    if (img) return img.src;
  }
  return null;
}"""


def captions(page) -> list[str]:
    return page.locator(CAPTION).all_inner_texts()


def wait_caption(page, text: str, timeout_ms: float = 60_000) -> None:
    page.locator(CAPTION).filter(has_text=text).first.wait_for(timeout=timeout_ms)


def choose_view(page, name: str, first_caption: str) -> None:
    page.get_by_role("radio", name=name, exact=True).click()
    wait_caption(page, first_caption)
    wait_ready(page)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_compare_sets_norms_and_sweep(app_url: str, page) -> None:
    page.goto(f"{app_url}/Compare")
    wait_caption(page, "Attention · 3: HMDB-51")
    wait_ready(page)
    shown = [c for c in captions(page) if c.startswith("Attention · ")]
    assert shown == ["Attention · 1: current", "Attention · 2: FineGym", "Attention · 3: HMDB-51"]
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=30_000)
    assert_no_exception(page)

    choose_view(page, "Power normalizations", "Attention · AsinhE")
    rows = [c for c in captions(page) if c.startswith("Attention · ")]
    assert rows == [f"Attention · {n}" for n in ("Ours", "Gamma", "MaxExp", "SigmE", "AsinhE")]
    before = page.evaluate(SRC_BY_CAPTION, "Attention · Gamma")
    slider = page.get_by_role("slider", name="Gamma γ")
    press_keys(
        page,
        slider,
        5,
        lambda: page.wait_for_function(
            f"(b) => ({SRC_BY_CAPTION})('Attention · Gamma') !== b", arg=before, timeout=10_000
        ),
    )
    wait_ready(page)
    assert page.evaluate(SRC_BY_CAPTION, "Attention · Gamma") not in {before, None}
    assert_no_exception(page)

    choose_view(page, "λ sweep", "λ = 10 ·")
    assert len([c for c in captions(page) if c.startswith("λ = ")]) == 9
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=30_000)
    assert_no_exception(page)
    full_page_screenshot(page, "page-Compare-sweep")


@pytest.fixture(scope="module")
def split_lists(tmp_path_factory) -> Path:
    """Three synthetic clips in two classes, split lists with one broken line and one missing clip."""
    root = tmp_path_factory.mktemp("browser-dataset")
    for seed, key in enumerate(["jump/a.mp4", "jump/b.mp4", "run/c.mp4"]):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / key, synthetic_clip(num_frames=8, height=48, width=64, seed=seed).clip.frames, 25)
    (root / "train.csv").write_text("jump/a.mp4 jump\nrun/c.mp4 run\nbroken-line\n")
    (root / "val.csv").write_text("jump/b.mp4 jump\njump/gone.mp4 jump\n")
    return root


def test_dataset_listing_viewer_problems_and_grid(app_url: str, page, split_lists: Path) -> None:
    page.goto(f"{app_url}/Dataset")
    wait_ready(page)
    page.get_by_role("radio", name="Path on the server").click(timeout=120_000)  # the demo opens first
    path_input = page.get_by_role("textbox", name="Dataset path")
    path_input.wait_for(timeout=60_000)
    path_input.fill(str(split_lists))
    path_input.press("Enter")
    page.get_by_role("radio", name="Samples", exact=True).click(timeout=60_000)
    wait_caption(page, "Prompt Pₜ")
    wait_ready(page)
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any("Samples" in m and "3" in m for m in metrics), metrics
    assert any("split-lists" in m for m in metrics), metrics
    page.get_by_text("label jump").first.wait_for()  # the picked sample's label under the viewer

    page.get_by_text("2 problems: skipped while listing or unreadable").click()
    problems = page.locator('[data-testid="stExpander"] code').first
    problems.wait_for()
    text = problems.inner_text()
    assert "train.csv:3: expected 'path label', got 'broken-line'" in text
    assert "val.csv:2: clip not found: jump/gone.mp4" in text

    page.get_by_text("Show the grid").click()
    wait_caption(page, "jump/b.mp4")
    wait_ready(page)
    grid = [c for c in captions(page) if c.startswith("jump/")]
    assert grid == ["jump/a.mp4", "jump/b.mp4"]
    assert_no_exception(page)
    full_page_screenshot(page, "page-Dataset-used")
