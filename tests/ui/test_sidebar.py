"""ui.sidebar: the page list is the one place that names the app's pages."""

from __future__ import annotations

from pathlib import Path

from ui.sidebar import APP_FOLDER, PAGES, app_pages


def test_every_page_file_is_in_the_list_and_the_menu_shows_only_files_that_exist() -> None:
    files = {"app.py", *(f"pages/{p.name}" for p in (APP_FOLDER / "pages").glob("*.py"))}
    listed = {page.path for page in PAGES}
    assert files <= listed  # a new page file without an entry would be missing from the menu
    assert {page.path for page in app_pages()} == files
    assert app_pages()[0].label == "Home" and len({page.label for page in PAGES}) == len(PAGES)
    assert Path(__file__).resolve().parents[2] == APP_FOLDER
