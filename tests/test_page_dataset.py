"""The Dataset page through AppTest, on datasets of the three formats built here from synthetic clips."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mp_core.synthetic import synthetic_clip
from mp_core.video_io import write_video
from tests.conftest import REPO_ROOT

DATASET = "pages/3_Dataset.py"
CLIPS = ["jump/a.mp4", "jump/b.mp4", "jump/c.mp4", "run/d.mp4"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("folder")
    for seed, key in enumerate(CLIPS):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / key, synthetic_clip(num_frames=8, height=48, width=64, seed=seed).clip.frames, 25)
    return root


@pytest.fixture(scope="module")
def lists(folder: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lists")
    for key in CLIPS:
        (root / "videos" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "videos" / key).write_bytes((folder / key).read_bytes())
    (root / "train.csv").write_text("videos/jump/a.mp4 0\nvideos/run/d.mp4 1\nbroken-line\nvideos/x.mp4 1\n")
    (root / "val.csv").write_text("videos/jump/b.mp4 0\nvideos/jump/c.mp4 0\n")
    return root


@pytest.fixture(scope="module")
def pack(lists: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("h5") / "pack.h5"
    with h5py.File(target, "w") as h5:
        for path in sorted(p for p in lists.rglob("*") if p.is_file()):
            h5.create_dataset(
                path.relative_to(lists).as_posix(), data=np.frombuffer(path.read_bytes(), np.uint8)
            )
    return target


def open_page(path: Path | str) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(DATASET).run()
    assert not at.exception
    at.text_input(key="w.ds.path").set_value(str(path)).run()
    assert not at.exception
    return at


def pick(at: AppTest, key: str) -> None:
    """Choose the sample whose clip is ``key`` (the selectbox's values are dataset indices)."""
    box = at.selectbox(key="w.ds.sample")
    box.select_index([o.split(" · ")[0] for o in box.options].index(key)).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_folder_dataset_counts_viewer_and_grid(folder: Path) -> None:
    at = open_page(folder)
    expected = {"Samples": "4", "Classes": "2", "Splits": "all 4", "Format": "folder"}
    assert {k: metrics(at)[k] for k in expected} == expected
    assert not at.expander or "problem" not in at.expander[0].label
    panels = [i.captions[0].split(" · ")[0] for i in at.get("image") if i.captions[0]]
    assert panels[:4] == [
        "Frame Xₜ₊₁",
        "Difference Dₜ = Gₜ₊₁ − Gₜ",
        "Attention Aₜ = σ(a(Dₜ − b))",
        "Prompt Pₜ = Aₜ ⊙ Xₜ₊₁",
    ]
    assert "label **jump**" in " ".join(md.value for md in at.markdown)
    at.toggle(key="w.ds.grid").set_value(True).run()
    assert not at.exception
    grid = [i.captions[0] for i in at.get("image") if i.captions and i.captions[0].startswith("jump/")]
    assert grid == ["jump/a.mp4", "jump/b.mp4", "jump/c.mp4"]


def test_split_lists_report_the_broken_line_and_the_missing_clip(lists: Path) -> None:
    at = open_page(lists)
    assert metrics(at)["Samples"] == "4" and metrics(at)["Format"] == "split-lists"
    assert at.expander[0].label == "2 problems: skipped while listing or unreadable"
    problems = at.code[0].value
    assert "train.csv:3: expected 'path label', got 'broken-line'" in problems
    assert "train.csv:4: clip not found: videos/x.mp4" in problems


def test_filters_and_picking_a_sample(lists: Path) -> None:
    at = open_page(lists)
    at.selectbox(key="w.ds.split").set_value("val").run()
    options = ["videos/jump/b.mp4 · 0 · val", "videos/jump/c.mp4 · 0 · val"]
    assert at.selectbox(key="w.ds.sample").options == options
    before = [i.value[0] for i in at.get("image") if i.captions and i.captions[0].startswith("Frame")]
    pick(at, "videos/jump/c.mp4")
    assert not at.exception
    after = [i.value[0] for i in at.get("image") if i.captions and i.captions[0].startswith("Frame")]
    assert before != after
    assert len(at.dataframe[0].value) == 2


def test_hdf5_pack(pack: Path) -> None:
    at = open_page(pack)
    assert metrics(at)["Samples"] == "4" and metrics(at)["Format"] == "hdf5"
    assert at.expander[0].label == "2 problems: skipped while listing or unreadable"
    assert len([i for i in at.get("image") if i.captions and i.captions[0].startswith("Attention")]) == 1


def test_bad_path_keeps_the_open_dataset(folder: Path, tmp_path: Path) -> None:
    at = open_page(folder)
    at.text_input(key="w.ds.path").set_value(str(tmp_path / "missing")).run()
    assert not at.exception
    assert "no such file or folder" in at.error[0].value
    assert metrics(at)["Samples"] == "4"
    assert at.selectbox(key="w.ds.recent").options == [str(folder)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Samples of 12 and 4 frames, and a clip that does not decode."""
    root = tmp_path_factory.mktemp("mixed")
    for key, count in [("jump/long.mp4", 12), ("jump/short.mp4", 4)]:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        write_video(
            root / key, synthetic_clip(num_frames=count, height=48, width=64, seed=count).clip.frames, 25
        )
    (root / "run").mkdir()
    (root / "run" / "bad.mp4").write_bytes(b"not a video " * 64)
    return root


def test_short_sample_shows_each_frame_once_and_the_scrubber_follows(mixed: Path) -> None:
    at = open_page(mixed)
    assert at.session_state["mp.mode"] == "uniform" and at.session_state["mp.frames"] == 16
    assert "**jump/long.mp4** · label **jump** · 12 frames" in [md.value for md in at.markdown]
    at.slider(key="w.ds.pair").set_value(10).run()
    pick(at, "jump/short.mp4")
    assert not at.exception
    # 16 frames asked of a 4-frame clip: uniform sampling repeats frames; each is shown once.
    assert "**jump/short.mp4** · label **jump** · 4 frames" in [md.value for md in at.markdown]
    assert at.slider(key="w.ds.pair").max == 2
    assert [i.captions[0] for i in at.get("image") if i.captions[0].startswith("Frame")] == [
        "Frame Xₜ₊₁ · t = 2"
    ]


def test_unreadable_clip_is_an_error_and_a_listed_problem(mixed: Path) -> None:
    at = open_page(mixed)
    assert not [e for e in at.expander if "problem" in e.label]
    pick(at, "run/bad.mp4")
    assert not at.exception
    assert at.error[0].value.startswith("Could not show run/bad.mp4: ")
    assert at.expander[0].label == "1 problem: skipped while listing or unreadable"
    assert at.code[0].value.startswith("run/bad.mp4: bad.mp4: not a video file")
    at.selectbox(key="w.ds.class").set_value("run").run()
    at.toggle(key="w.ds.grid").set_value(True).run()
    assert not at.exception
    assert any(e.value.startswith("run/bad.mp4: ") for e in at.error)  # the grid's cell says so too


def test_an_edited_split_list_is_listed_again(lists: Path, tmp_path: Path) -> None:
    root = tmp_path / "edited"
    root.mkdir()
    (root / "videos").symlink_to(lists / "videos")
    (root / "train.csv").write_text("videos/jump/a.mp4 0\n")
    at = open_page(root)
    assert metrics(at)["Samples"] == "1"
    with (root / "train.csv").open("a") as file:  # in place: the folder's own mtime does not change
        file.write("videos/run/d.mp4 1\n")
    at.run()
    assert metrics(at)["Samples"] == "2" and metrics(at)["Classes"] == "2"


def test_grid_follows_the_values_and_a_recent_path_reopens(folder: Path, lists: Path) -> None:
    at = open_page(folder)
    at.toggle(key="w.ds.grid").set_value(True).run()

    def grid() -> list[str]:
        return [i.value[0] for i in at.get("image") if i.captions and i.captions[0].startswith("jump/")]

    first = grid()
    assert len(first) == 3
    at.selectbox(key="w.preset").set_value("UCF-Crime").run()
    assert not at.exception
    assert grid() != first  # new prompts under the new values
    at.selectbox(key="w.preset").set_value("MPII Cooking 2").run()
    assert grid() == first  # the same images (same media ids) back

    at.text_input(key="w.ds.path").set_value(str(lists)).run()
    assert metrics(at)["Format"] == "split-lists"
    assert at.selectbox(key="w.ds.recent").options == [str(lists), str(folder)]
    at.selectbox(key="w.ds.recent").set_value(str(folder)).run()
    assert not at.exception
    assert metrics(at)["Format"] == "folder" and at.text_input(key="w.ds.path").value == str(folder)


def test_ten_thousand_samples_list_without_decoding_them(lists: Path, tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    (root / "videos").symlink_to(lists / "videos")
    lines = [f"videos/jump/a.mp4 class{i % 100:02d}" for i in range(8000)]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    (root / "val.csv").write_text("\n".join(f"videos/run/d.mp4 class{i % 100:02d}" for i in range(2000)))
    at = open_page(root)
    assert not at.exception
    assert metrics(at)["Samples"] == "10,000" and metrics(at)["Classes"] == "100"
    assert metrics(at)["Splits"] == "train 8000, val 2000"
    assert len(at.dataframe[0].value) == 5000
    assert "The first 5,000 of 10,000 samples" in at.caption[0].value
    at.selectbox(key="w.ds.class").set_value("class07").run()
    assert len(at.dataframe[0].value) == 100
    assert len(at.selectbox(key="w.ds.sample").options) == 100
