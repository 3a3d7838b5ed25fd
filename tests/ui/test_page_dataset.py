"""The Dataset page through AppTest: the demo dataset and its report, datasets of the three formats built
here from synthetic clips, and the dataset roots.

``tests/conftest.py`` points the app's cache at a temporary folder and makes pytest's temporary folders the
dataset roots.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mp_core import MotionParams
from mp_core.report import read_report, run_report
from mp_core.synthetic import DEMO_CLASSES, synthetic_clip
from mp_core.video_io import read_clip_uniform, write_video
from tests.conftest import REPO_ROOT
from ui.report_job import SHIPPED_CLASS, report_file
from ui.samples import list_samples
from ui.state import preset_key

DATASET = "pages/3_Dataset.py"
CLIPS = ["jump/a.mp4", "jump/b.mp4", "jump/c.mp4", "run/d.mp4"]
SERVER = "Path on the server"


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


def app() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(DATASET).run()
    assert not at.exception
    return at


def open_page(path: Path | str, show: str = "Samples") -> AppTest:
    """The page with ``path`` typed in, showing its samples (or its report)."""
    at = app()
    at.segmented_control(key="w.ds.source").set_value(SERVER).run()
    at.text_input(key="w.ds.path").set_value(str(path)).run()
    at.segmented_control(key="w.ds.show").set_value(show).run()
    assert not at.exception
    return at


def pick(at: AppTest, key: str) -> None:
    """Choose the sample whose clip is ``key`` (the selectbox's values are dataset indices)."""
    box = at.selectbox(key="w.ds.sample")
    box.select_index([o.split(" · ")[0] for o in box.options].index(key)).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def run_and_wait(at: AppTest) -> None:
    """Press Run report, wait for the session's report thread, rerun as the page's poll would."""
    at.button(key="w.ds.run").click().run()
    assert not at.exception
    job = at.session_state["mp.ds.job"]
    assert job.wait(240), "the report did not finish in 4 minutes"
    at.run()
    assert not at.exception


def select_row(at: AppTest, table_key: str, row: int) -> None:
    """Select a dataframe row as a click on its checkbox would (AppTest writes the selection state)."""
    at.session_state[table_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception


def captions(at: AppTest) -> list[str]:
    return [i.captions[0] for i in at.get("image") if i.captions and i.captions[0]]


# --- the demo dataset and its report --------------------------------------------------------------------


def test_demo_dataset_opens_first_and_its_report_runs_and_opens_a_row(app_folders) -> None:
    at = app()
    shipped = len(list_samples())
    expected = {"Samples": str(4 * len(DEMO_CLASSES) + shipped), "Classes": str(len(DEMO_CLASSES) + 1)}
    assert {k: metrics(at)[k] for k in expected} == expected
    assert "No report yet" in at.info[0].value
    assert at.multiselect(key="w.ds.sets").value == ["Current sidebar values", "FineGym"]
    run_and_wait(at)
    summary = at.session_state["mp.ds.job"].summary
    rows = 2 * (4 * len(DEMO_CLASSES) + shipped)
    assert (summary.rows_computed, summary.rows_reused, summary.errors) == (rows, 0, 0)
    assert at.success[0].value.startswith("Report done in ")
    assert f"{rows} rows computed, 0 reused, 0 unreadable" in at.success[0].value
    file = report_file(
        Path(at.session_state["mp.ds.report"]["dataset"]), app_folders["MP_CACHE_DIR"], 16, 224
    )
    assert file.is_relative_to(app_folders["MP_CACHE_DIR"]) and file.is_file()
    table = at.dataframe[-1].value
    assert len(table) == rows
    assert set(table["params"]) == {"m=0.257,n=0.053", "FineGym"}  # the sidebar's values as SPEC text
    assert set(table["label"]) == {*DEMO_CLASSES, SHIPPED_CLASS}

    # A row opens its sample in the viewer, under that row's values, at its pair with the most attention.
    index = next(i for i, r in table.iterrows() if r["params"] == "FineGym" and r["label"] == "one_object")
    row = table.loc[index]
    select_row(at, "w.ds.table", int(index))
    m, n = 1.05, -2.67  # FineGym's published values; a and b by the paper's formulas
    a, b = 5 / (0.45 * abs(math.tanh(m)) + 0.1), 0.6 * math.tanh(n)
    assert (
        f"**{row['path']}** · label **one_object** · parameters **FineGym** (a = {a:.2f}, b = {b:+.3f})"
        in [md.value for md in at.markdown]
    )
    t = int(row["peak_pair"])
    assert at.slider(key="w.ds.rpair").value == t
    assert f"Prompt Pₜ = Aₜ ⊙ Xₜ₊₁ · t = {t}" in captions(at)

    # The row's numbers against the formulas on the same frames, decoded here.
    demo = Path(at.session_state["mp.ds.report"]["dataset"])
    frames = read_clip_uniform(demo / row["path"], 16, max_side=224).frames.numpy().astype(np.float64) / 255
    gray = frames @ np.array([0.299, 0.587, 0.114])
    attention = 1 / (1 + np.exp(-a * (np.diff(gray, axis=0) - b)))
    assert row["mean_attention"] == pytest.approx(attention.mean(), abs=1e-5)
    assert row["share_above_half"] == pytest.approx((attention > 0.5).mean(), abs=1e-5)
    steps = ((attention[1:] - attention[:-1]) ** 2).mean(axis=(1, 2))
    assert row["variation"] == pytest.approx(steps.mean(), abs=1e-5)
    assert t == int(np.argmax(attention.mean(axis=(1, 2))))

    # Points selected in the scatter show their prompts (the selection as a box select would send it).
    at.segmented_control(key="w.ds.view").set_value("Scatter").run()
    picked = [int(i) for i in table.index[table["label"] == "static"][:3]]
    points = [{"customdata": [i], "point_index": n} for n, i in enumerate(picked)]
    at.session_state["w.ds.scatter"] = {
        "selection": {"points": points, "point_indices": list(range(3)), "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception
    assert captions(at)[-3:] == [f"{table['path'][i]} · {table['params'][i]}" for i in picked]

    # The other views, each drawn only when chosen.
    for view, figures in [("By class", 1), ("Scatter", 1), ("Two sets", 1)]:
        at.segmented_control(key="w.ds.view").set_value(view).run()
        assert not at.exception
        assert len(at.get("plotly_chart")) == figures
    changes = at.dataframe[-1].value
    assert list(changes.columns) == ["path", "label", "FineGym", "m=0.257,n=0.053", "change"]
    assert len(changes) == rows // 2
    assert changes["change"].abs().is_monotonic_decreasing
    select_row(at, "w.ds.changes", 0)
    shown = [md.value for md in at.markdown if md.value.startswith(f"**{changes['path'][0]}**")]
    assert len(shown) == 2 and "FineGym" in shown[0] and "m=0.257,n=0.053" in shown[1]


def test_a_new_parameter_set_computes_only_its_rows(app_folders) -> None:
    at = app()
    at.multiselect(key="w.ds.sets").set_value(["FineGym"]).run()
    run_and_wait(at)  # FineGym's rows are in the file now, whichever tests ran before
    samples = int(metrics(at)["Samples"])
    at.multiselect(key="w.ds.sets").set_value(["FineGym", "HMDB-51"]).run()
    run_and_wait(at)
    summary = at.session_state["mp.ds.job"].summary
    assert (summary.rows_computed, summary.rows_reused) == (samples, samples)  # only HMDB-51's rows
    table = at.dataframe[-1].value
    assert (table["params"] == "HMDB-51").sum() == int(samples)


def test_a_cancelled_report_keeps_its_rows_and_resumes(app_folders, folder: Path) -> None:
    at = open_page(folder, show="Report")
    out = report_file(folder.resolve(), app_folders["MP_CACHE_DIR"], 16, 224)
    seen: list[int] = []
    partial = run_report(
        folder,
        out,
        ["HMDB-51"],
        progress=lambda done, total: seen.append(done),
        should_stop=lambda: len(seen) >= 2,
    )
    kept = read_report(out).num_rows
    assert partial.cancelled and 0 < kept < len(CLIPS)
    at.run()  # the page shows what a cancelled run kept
    assert len(at.dataframe[-1].value) == kept
    at.multiselect(key="w.ds.sets").set_value(["HMDB-51"]).run()
    run_and_wait(at)
    summary = at.session_state["mp.ds.job"].summary
    assert (summary.cancelled, summary.rows_computed) == (False, len(CLIPS) - kept)
    assert len(at.dataframe[-1].value) == len(CLIPS)


def test_cancel_while_waiting_for_another_report(folder: Path) -> None:
    from ui.dataset_report import report_slots

    at = open_page(folder, show="Report")
    slots = report_slots()
    assert slots.acquire(timeout=5)  # another session's report holds the only slot
    try:
        at.button(key="w.ds.run").click().run()
        assert at.get("progress")[0].proto.text == "Waiting for another report on this server to finish…"
        at.button(key="w.ds.cancel").click().run()
        job = at.session_state["mp.ds.job"]
        assert job.wait(10) and job.state == "cancelled" and job.summary is None
        at.run()
        assert "Cancelled before it started." in [w.value for w in at.warning]
    finally:
        slots.release()


def test_split_list_report_of_one_split_with_an_unreadable_clip(tmp_path: Path, folder: Path) -> None:
    root = tmp_path / "lists"
    for key in CLIPS:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes((folder / key).read_bytes())
    (root / "run" / "bad.mp4").write_bytes(b"not a video " * 64)
    (root / "train.csv").write_text("jump/a.mp4 jump\nrun/d.mp4 run\nbroken-line\n")
    (root / "val.csv").write_text("jump/b.mp4 jump\nrun/bad.mp4 run\njump/gone.mp4 jump\n")
    at = open_page(root, show="Report")
    assert at.expander[0].label == "2 problems: skipped while listing or unreadable"
    at.selectbox(key="w.ds.rsplit").set_value("val").run()
    at.multiselect(key="w.ds.sets").set_value(["UCF-Crime"]).run()
    run_and_wait(at)
    table = at.dataframe[-1].value
    assert sorted(table["path"]) == ["jump/b.mp4", "run/bad.mp4"] and set(table["split"]) == {"val"}
    assert "1 unreadable" in at.success[0].value
    at.toggle(key="w.ds.tproblems").set_value(True).run()
    only = at.dataframe[-1].value
    assert only["path"].tolist() == ["run/bad.mp4"] and "not a video" in only["error"].iloc[0]
    select_row(at, "w.ds.table", 0)
    assert at.error[0].value.startswith("The report could not read this sample: ")
    # The filters: a class and a text.
    at.toggle(key="w.ds.tproblems").set_value(False).run()
    at.text_input(key="w.ds.ttext").set_value("/B").run()
    assert at.dataframe[-1].value["path"].tolist() == ["jump/b.mp4", "run/bad.mp4"]
    at.multiselect(key="w.ds.tlabels").set_value(["jump"]).run()
    assert at.dataframe[-1].value["path"].tolist() == ["jump/b.mp4"]


def test_uploaded_checkpoints_become_parameter_sets_as_values(folder: Path) -> None:
    at = open_page(folder, show="Report")
    at.file_uploader(key="w.ds.ckpt").set_value(
        [
            ("learned.json", json.dumps({"m": 1.3, "n": -0.4}).encode(), "application/json"),
            ("broken.pyth", b"not a checkpoint", "application/octet-stream"),
        ]
    )
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith("Could not load learned values from broken.pyth: ")
    option = "learned.json (m=1.3,n=-0.4)"
    assert option in at.multiselect(key="w.ds.sets").options
    at.multiselect(key="w.ds.sets").set_value([option]).run()
    run_and_wait(at)
    table = at.dataframe[-1].value
    table = table[table["params"] == "m=1.3,n=-0.4"]  # the file may hold other tests' sets too
    assert len(table) == len(CLIPS) and at.session_state["mp.ds.job"].summary.rows_computed == len(CLIPS)
    assert table["slope"].tolist() == pytest.approx([5 / (0.45 * math.tanh(1.3) + 0.1)] * len(CLIPS))
    assert table["shift"].tolist() == pytest.approx([0.6 * math.tanh(-0.4)] * len(CLIPS))


# --- dataset roots --------------------------------------------------------------------------------------


def test_paths_outside_the_roots_are_refused_and_the_open_dataset_stays(folder: Path, tmp_path: Path) -> None:
    outside = REPO_ROOT / "assets"  # exists and holds videos, but is not under the roots
    (tmp_path / "escape").symlink_to(outside)
    at = open_page(folder)
    for typed in (str(outside), f"{folder}/../../../{outside}", str(tmp_path / "escape"), "assets"):
        at.text_input(key="w.ds.path").set_value(typed).run()
        assert not at.exception
        message = at.error[0].value
        assert message.startswith(f"Could not open the dataset: {typed} is ")
        assert "outside the dataset roots of this server" in message or "relative path" in message
        assert message.endswith(f"Still showing {folder.resolve()}.")
        assert metrics(at)["Samples"] == "4"
    assert at.selectbox(key="w.ds.recent").options == [str(folder.resolve())]


def test_report_files_open_only_under_the_roots(folder: Path, tmp_path: Path) -> None:
    at = open_page(folder, show="Report")
    out = tmp_path / "mine.parquet"
    run_report(folder, out, ["FineGym"])
    at.text_input(key="w.ds.rfile").set_value(str(out)).run()
    assert not at.exception and len(at.dataframe[-1].value) == len(CLIPS)
    at.text_input(key="w.ds.rfile").set_value(str(REPO_ROOT / "README.md")).run()
    assert "is outside the dataset roots of this server" in at.error[0].value
    assert len(at.dataframe[-1].value) == len(CLIPS)  # the open report stays


def test_samples_that_escape_the_roots_are_refused_named_and_the_rest_works(
    tmp_path: Path, folder: Path
) -> None:
    outside = REPO_ROOT / "assets" / "hand_cup.mp4"  # a real clip, not under the roots
    root = tmp_path / "escapes"
    for key in CLIPS[:3]:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes((folder / key).read_bytes())
    (root / "jump" / "link.mp4").symlink_to(outside)  # a symlink inside the root pointing out
    dotted = os.path.relpath(outside, root)  # ../../…/assets/hand_cup.mp4
    lines = ["jump/a.mp4 jump", f"{dotted} jump", f"{outside} jump", "jump/link.mp4 jump", "jump/b.mp4 jump"]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    # The report file of someone who ran the command without roots: its rows name the files outside.
    elsewhere = tmp_path / "mine.parquet"
    run_report(root, elsewhere, ["FineGym"], frames=4, workers=1)
    assert read_report(elsewhere).num_rows == 5
    at = open_page(root)
    assert metrics(at)["Samples"] == "2"
    assert at.expander[0].label == "3 problems: skipped while listing or unreadable"
    assert at.code[0].value.splitlines() == [
        f"train.csv:{n}: {key}: outside the dataset roots: refused"
        for n, key in ((2, dotted), (3, outside), (4, "jump/link.mp4"))
    ]
    at.segmented_control(key="w.ds.show").set_value("Report").run()
    at.multiselect(key="w.ds.sets").set_value(["FineGym"]).run()
    run_and_wait(at)
    assert sorted(at.dataframe[-1].value["path"]) == ["jump/a.mp4", "jump/b.mp4"]
    assert at.warning[0].value.startswith("3 listed sample(s) skipped, no row: train.csv:2: ")
    # The other report opens, but its rows outside the roots are refused when one is chosen.
    at.text_input(key="w.ds.rfile").set_value(str(elsewhere)).run()
    rows = at.dataframe[-1].value
    assert len(rows) == 5 and not at.exception
    for key in (dotted, str(outside), "jump/link.mp4"):
        select_row(at, "w.ds.table", rows["path"].tolist().index(key))
        assert at.error[0].value == f"Could not show {key}: {key}: outside the dataset roots: refused"
    select_row(at, "w.ds.table", rows["path"].tolist().index("jump/b.mp4"))
    assert not at.error and at.get("image")  # the rows inside still show


def test_an_unreadable_sample_is_retried_only_when_asked(tmp_path: Path, folder: Path) -> None:
    root = tmp_path / "retry"
    for key in CLIPS[:2]:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes((folder / key).read_bytes())
    (root / "jump" / "bad.mp4").write_bytes(b"not a video " * 64)
    at = open_page(root, show="Report")
    at.multiselect(key="w.ds.sets").set_value(["FineGym"]).run()
    run_and_wait(at)
    assert "3 rows computed, 0 reused, 1 unreadable" in at.success[0].value
    (root / "jump" / "bad.mp4").write_bytes((folder / CLIPS[2]).read_bytes())  # fixed on disk
    run_and_wait(at)
    assert "0 rows computed, 3 reused, 0 unreadable" in at.success[0].value
    assert "not a video" in at.dataframe[-1].value.set_index("path").loc["jump/bad.mp4", "error"]
    at.checkbox(key="w.ds.retry").check().run()
    run_and_wait(at)
    assert "1 rows computed (1 retried), 2 reused, 0 unreadable" in at.success[0].value
    table = at.dataframe[-1].value.set_index("path")
    assert table["error"].isna().all() and table.loc["jump/bad.mp4", "mean_attention"] > 0


# --- samples: listing, viewer, grid (the sidebar's sampling) ---------------------------------------------


def test_folder_dataset_counts_viewer_and_grid(folder: Path) -> None:
    at = open_page(folder)
    expected = {"Samples": "4", "Classes": "2", "Splits": "all 4", "Format": "folder"}
    assert {k: metrics(at)[k] for k in expected} == expected
    assert not at.expander or "problem" not in at.expander[0].label
    panels = [c.split(" · ")[0] for c in captions(at)]
    assert panels[:4] == [
        "Frame Xₜ₊₁",
        "Difference Dₜ = Gₜ₊₁ − Gₜ",
        "Attention Aₜ = σ(a(Dₜ − b))",
        "Prompt Pₜ = Aₜ ⊙ Xₜ₊₁",
    ]
    assert "label **jump**" in " ".join(md.value for md in at.markdown)
    at.toggle(key="w.ds.grid").set_value(True).run()
    assert not at.exception
    assert [c for c in captions(at) if c.startswith("jump/")] == ["jump/a.mp4", "jump/b.mp4", "jump/c.mp4"]


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
    assert len([c for c in captions(at) if c.startswith("Attention")]) == 1


def test_bad_path_keeps_the_open_dataset(folder: Path, tmp_path: Path) -> None:
    at = open_page(folder)
    at.text_input(key="w.ds.path").set_value(str(tmp_path / "missing")).run()
    assert not at.exception
    assert "no such file or folder" in at.error[0].value
    assert metrics(at)["Samples"] == "4"
    assert at.selectbox(key="w.ds.recent").options == [str(folder.resolve())]


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
    assert [c for c in captions(at) if c.startswith("Frame")] == ["Frame Xₜ₊₁ · t = 2"]


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
    at.selectbox(key=preset_key(at.session_state)).set_value("UCF-Crime").run()
    assert not at.exception
    assert grid() != first  # new prompts under the new values
    at.selectbox(key=preset_key(at.session_state)).set_value("MPII Cooking 2").run()
    assert grid() == first  # the same images (same media ids) back

    at.text_input(key="w.ds.path").set_value(str(lists)).run()
    assert metrics(at)["Format"] == "split-lists"
    assert at.selectbox(key="w.ds.recent").options == [str(lists.resolve()), str(folder.resolve())]
    at.selectbox(key="w.ds.recent").set_value(str(folder.resolve())).run()
    assert not at.exception
    assert metrics(at)["Format"] == "folder" and at.text_input(key="w.ds.path").value == str(folder.resolve())


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
    assert "The first 5,000 of 10,000 samples; filter to see others." in [c.value for c in at.caption]
    at.selectbox(key="w.ds.class").set_value("class07").run()
    assert len(at.dataframe[0].value) == 100
    assert len(at.selectbox(key="w.ds.sample").options) == 100


def test_sidebar_values_as_spec_text_read_back_exactly() -> None:
    from mp_core.specs import parse_params_spec
    from ui.dataset_report import spec_text

    params = MotionParams(0.1 + 0.2, -1 / 3)
    assert parse_params_spec(spec_text(params)).params == params
