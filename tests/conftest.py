"""Shared pytest configuration. Topic-specific helpers live in tests/helpers_*.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Property tests: a bounded number of examples, no per-example deadline (the machine is shared and noisy:
# a slow example is not a failure), and under CI a fixed, derandomised sequence so a run is repeatable.
settings.register_profile(
    "mp",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.register_profile("mp-ci", parent=settings.get_profile("mp"), derandomize=True, database=None)
settings.load_profile("mp-ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "mp")


@pytest.fixture(scope="session", autouse=True)
def app_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The app's cache (demo dataset, reports) in a temporary folder, and pytest's temporary folders as the
    dataset roots: tests never write to the user's cache, and the datasets they make can be opened.
    Set in the environment, so the browser tests' server inherits them."""
    folders = {
        "MP_CACHE_DIR": tmp_path_factory.mktemp("app-cache"),
        "MP_DATASET_ROOTS": tmp_path_factory.getbasetemp(),
    }
    saved = {name: os.environ.get(name) for name in folders}
    os.environ.update({name: str(path) for name, path in folders.items()})
    yield folders
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def explore():
    """A session of the real app switched to the Explore page on the default clip (AppTest)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/1_Explore.py").run()
    assert not at.exception
    return at


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of one real `streamlit run app.py` shared by the browser tests (its own cache folder)."""
    from tests.helpers_browser import chromium_path, streamlit_server

    chromium_path()  # fail or skip before paying for a server start
    cache = tmp_path_factory.mktemp("browser-cache")
    with streamlit_server(env={"MP_CACHE_DIR": str(cache)}) as url:
        yield url


# Browser tests use pytest-playwright's fixtures (``browser`` per session, ``page`` per test in its own
# context), pointed at Debian's chromium: playwright cannot download its own browser here. Traces and
# screenshots of failed tests go to test-artifacts/playwright (pyproject's addopts).
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    from tests.helpers_browser import CHROMIUM_FLAGS, chromium_path

    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def chromium(browser) -> object:
    """The session's Debian chromium (pytest-playwright's ``browser``), for tests that open their own
    contexts."""
    return browser
