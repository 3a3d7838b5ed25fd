"""Several people on one server: each session's clip store, spooled uploads, and two real browser sessions
with different clips that do not disturb each other."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from mp_core.sources import VIDEO_SUFFIXES
from tests.helpers_video import make_video
from ui.clips import ClipStore, SessionFiles, release_session


def test_clip_store_evicts_least_recently_used_beyond_its_byte_budget() -> None:
    store = ClipStore(budget=100)
    store.put("a", "A", 40)
    store.put("b", "B", 40)
    assert store.get("a") == "A"  # now "b" is the least recently used
    store.put("c", "C", 40)  # 120 > 100: "b" goes
    assert (store.get("a"), store.get("b"), store.get("c")) == ("A", None, "C")
    assert (store.nbytes, len(store)) == (80, 2)


def test_clip_store_keeps_its_newest_entry_even_when_larger_than_the_budget() -> None:
    store = ClipStore(budget=100)
    store.put("a", "A", 40)
    store.put("huge", "H", 250)
    assert (store.get("a"), store.get("huge"), len(store)) == (None, "H", 1)
    store.clear()
    assert (len(store), store.nbytes) == (0, 0)


def test_releasing_a_session_frees_its_clips_and_deletes_its_uploads(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "upload.mp4").write_bytes(b"x" * 10)
    files = SessionFiles(ClipStore(100), folder)
    files.clips.put("clip", torch.zeros(3), 12)
    release_session(files)
    assert not folder.exists()
    assert len(files.clips) == 0


def test_the_uploader_accepts_the_readers_suffixes(explore: AppTest) -> None:
    explore.segmented_control(key="w.source").set_value("Upload").run()
    accepted = set(explore.file_uploader(key="w.upload").proto.type)
    # Streamlit adds the alias ".mpeg4" to ".mp4" by itself; nothing else differs from the readers' list.
    assert accepted - {".mpeg4"} == set(VIDEO_SUFFIXES)


def test_an_upload_is_spooled_to_a_file_and_a_new_one_replaces_it(explore: AppTest, tmp_path: Path) -> None:
    first = make_video(tmp_path / "first.mp4", 8, fps=10).read_bytes()
    second = make_video(tmp_path / "second.mp4", 12, fps=10, size=(32, 48)).read_bytes()
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value(("first.mp4", first, "video/mp4")).run()
    assert not explore.exception and not explore.error
    spooled = explore.session_state["mp.upload"].path
    assert spooled.read_bytes() == first  # the bytes live in a file, session state holds its path
    explore.file_uploader(key="w.upload").set_value(("second.mp4", second, "video/mp4")).run()
    assert not explore.exception and not explore.error
    assert explore.session_state["mp.upload"].path.read_bytes() == second
    assert not spooled.exists()  # one upload per session: the replaced one is deleted
    elements = explore.get("bidi_component")
    (clip,) = [e.proto.bytes for e in elements if e.proto.component_name == "motion_prompts_clip"]
    header = json.loads(clip[8 : 8 + int.from_bytes(clip[4:8], "little")])
    assert (header["name"], header["frames"]) == ("second.mp4", 12)  # the viewer got the new clip


def test_a_rejected_upload_leaves_no_file_behind(explore: AppTest) -> None:
    garbage = b"\x00" * 4093
    explore.segmented_control(key="w.source").set_value("Upload").run()
    explore.file_uploader(key="w.upload").set_value(("bad.mp4", garbage, "video/mp4")).run()
    assert "bad.mp4" in explore.error[0].value
    assert explore.session_state["mp.upload"] is None
    spooled = [p for folder in _folders() for p in folder.iterdir() if p.stat().st_size == len(garbage)]
    assert not spooled


def _folders(root: Path | None = None) -> list[Path]:
    """Session upload folders under ``root`` (default: this process's temporary folder)."""
    return sorted((root or Path(tempfile.gettempdir())).glob("mpe-session-*"))


# --- two real browser sessions ---------------------------------------------------------------------------


def _upload(page, path: Path) -> None:
    from tests.helpers_browser import wait_ready

    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stButtonGroup"]').first.get_by_text("Upload", exact=True).click()
    wait_ready(page)
    uploader = sidebar.locator('[data-testid="stFileUploader"]').filter(has_text="Video file")
    uploader.locator('input[type="file"]').set_input_files(str(path))
    # The clip's caption, not the uploader's own file line: wait for the decoded clip's frame count.
    caption = re.compile(rf"{re.escape(path.name)} · \d+ frames at \d+×\d+")
    sidebar.get_by_text(caption).first.wait_for(timeout=60_000)
    wait_ready(page)


def _attention(page) -> bytes:
    from tests.helpers_viewer import panel_pixels, wait_viewer

    wait_viewer(page)
    return panel_pixels(page, "attention").tobytes()


def _press(page, key: str) -> None:
    """Press ``key`` on the sidebar's slope slider and wait for the viewer's new parameters."""
    from tests.helpers_browser import wait_ready
    from tests.helpers_viewer import info

    before = info(page)["slope"]
    page.locator('[data-testid="stSidebar"]').get_by_role("slider", name="Slope a").focus()
    page.keyboard.press(key)
    page.wait_for_function(f"() => window.motionPrompts.info().slope !== {before}", timeout=60_000)
    wait_ready(page)


@pytest.mark.browser
def test_two_sessions_with_their_own_uploads_do_not_disturb_each_other(chromium, tmp_path: Path) -> None:
    from tests.helpers_browser import streamlit_process, wait_ready

    spool_root = tmp_path / "server-tmp"
    spool_root.mkdir()
    clips = {
        "alice": make_video(tmp_path / "alice.mp4", 20, fps=10, size=(48, 64)),
        "bob": make_video(tmp_path / "bob.mkv", 30, fps=25, size=(64, 96), gop=5),
    }
    with streamlit_process(env={"TMPDIR": str(spool_root)}) as (url, _):
        contexts = {name: chromium.new_context(viewport={"width": 1400, "height": 1000}) for name in clips}
        pages = {name: context.new_page() for name, context in contexts.items()}
        try:
            for name, page in pages.items():
                page.goto(f"{url}/Explore")
                wait_ready(page)
                _upload(page, clips[name])
            sidebar = {name: page.locator('[data-testid="stSidebar"]') for name, page in pages.items()}
            assert "alice.mp4 · 16 frames at 64×48" in sidebar["alice"].inner_text()
            assert "bob.mkv · 16 frames at 96×64" in sidebar["bob"].inner_text()
            folders = _folders(spool_root)
            assert len(folders) == 2  # one spool folder per session
            assert sorted(p.suffix for folder in folders for p in folder.iterdir()) == [".mkv", ".mp4"]

            bob_before = _attention(pages["bob"])
            _press(pages["alice"], "End")  # Alice moves her slope to the end: 50
            assert "a = 50.000" in sidebar["alice"].inner_text()
            assert "a = 50.000" not in sidebar["bob"].inner_text()
            assert _attention(pages["bob"]) == bob_before  # nothing reached Bob's page
            bob_caption = sidebar["bob"].inner_text()
            _press(pages["bob"], "ArrowRight")  # Bob's own press changes his panel only
            assert sidebar["bob"].inner_text() != bob_caption
            assert "bob.mkv · 16 frames at 96×64" in sidebar["bob"].inner_text()
            assert "alice.mp4 · 16 frames at 64×48" in sidebar["alice"].inner_text()
            assert "a = 50.000" in sidebar["alice"].inner_text()

            alice_folder = next(f for f in folders if any(p.suffix == ".mp4" for p in f.iterdir()))
            contexts.pop("alice").close()  # Alice leaves: her session ends, her upload is deleted
            deadline = time.monotonic() + 30
            while alice_folder.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not alice_folder.exists()
            assert any(p.suffix == ".mkv" for f in _folders(spool_root) for p in f.iterdir())
        finally:
            for context in contexts.values():
                context.close()
