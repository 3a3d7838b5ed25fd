"""ui.sidebar: the page list is the one place that names the app's pages."""

from __future__ import annotations

from pathlib import Path

from ui.sidebar import PAGES

APP_FOLDER = Path(__file__).resolve().parents[2]


def test_the_page_list_names_every_page_file_once_home_first() -> None:
    files = {"app.py", *(f"pages/{p.name}" for p in (APP_FOLDER / "pages").glob("*.py"))}
    assert [page.path for page in PAGES] == sorted(files, key=lambda path: (path != "app.py", path))
    assert PAGES[0].label == "Home" and len({page.label for page in PAGES}) == len(PAGES)
