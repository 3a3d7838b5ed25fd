"""Shared pytest configuration. Topic-specific helpers live in tests/helpers_*.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Base URL of one real `streamlit run app.py` shared by the browser tests."""
    from tests.helpers_browser import chromium_path, streamlit_server

    chromium_path()  # fail or skip before paying for a server start
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian chromium launched headless through playwright."""
    from playwright.sync_api import sync_playwright

    from tests.helpers_browser import CHROMIUM_FLAGS, chromium_path

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator[object]:
    """A fresh browser tab (own context) with a wide viewport; closed after the test."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()
