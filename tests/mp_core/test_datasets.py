"""mp_core.datasets: the three formats built here from synthetic clips written with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import h5py
import numpy as np
import pytest
import torch

from mp_core.datasets import DatasetProblem, Sample, open_dataset
from mp_core.errors import DatasetError, InputError
from mp_core.synthetic import synthetic_clip
from mp_core.video_io import write_video

CLASSES = {"jump": 0, "run": 1}


def write_clip(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = synthetic_clip(num_frames=6, height=32, width=48, seed=seed)
    write_video(path, sample.clip.frames, 25)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """UCF/HMDB style: class folders of clips, plus a non-video file that must be ignored."""
    root = tmp_path_factory.mktemp("folder")
    for seed, key in enumerate(["jump/a.mp4", "jump/b.mp4", "run/c.mp4"]):
        write_clip(root / key, seed)
    (root / "run" / "notes.txt").write_text("not a clip")
    return root


@pytest.fixture(scope="module")
def split_lists(tmp_path_factory) -> Path:
    """The reference code's layout: clips beside train.csv/val.csv with `path label` lines."""
    root = tmp_path_factory.mktemp("lists")
    for seed, key in enumerate(["videos/jump/a.mp4", "videos/jump/b.mp4", "videos/run/c.mp4"]):
        write_clip(root / key, seed)
    (root / "train.csv").write_text(
        "videos/jump/a.mp4 0\nvideos/run/c.mp4 1\nthis-line-is-broken\nvideos/run/missing.mp4 1\n"
    )
    (root / "val.csv").write_text("videos/jump/b.mp4 jump\n\n")
    return root


def pack_hdf5(tree: Path, target: Path) -> Path:
    """Pack a folder as the reference code does: each file's bytes as a uint8 dataset at its relative path."""
    with h5py.File(target, "w") as h5:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            h5.create_dataset(
                path.relative_to(tree).as_posix(), data=np.frombuffer(path.read_bytes(), np.uint8)
            )
    return target


def test_folder_of_class_folders(folder: Path) -> None:
    dataset = open_dataset(folder)
    assert dataset.kind == "folder"
    assert list(dataset) == [
        Sample("jump/a.mp4", "jump", "all"),
        Sample("jump/b.mp4", "jump", "all"),
        Sample("run/c.mp4", "run", "all"),
    ]
    assert dataset.classes == {"jump": 2, "run": 1}
    assert dataset.splits == {"all": 3}
    assert dataset.problems == ()


def test_folder_with_split_folders(tmp_path: Path) -> None:
    write_clip(tmp_path / "train" / "jump" / "a.mp4", 0)
    write_clip(tmp_path / "val" / "run" / "b.mp4", 1)
    dataset = open_dataset(tmp_path)
    assert [(s.split, s.label) for s in dataset] == [("train", "jump"), ("val", "run")]


def test_split_lists_report_bad_lines_and_missing_clips(split_lists: Path) -> None:
    dataset = open_dataset(split_lists)
    assert dataset.kind == "split-lists"
    assert list(dataset) == [
        Sample("videos/jump/a.mp4", "0", "train"),
        Sample("videos/run/c.mp4", "1", "train"),
        Sample("videos/jump/b.mp4", "jump", "val"),
    ]
    assert dataset.problems == (
        DatasetProblem("train.csv", 3, "expected 'path label', got 'this-line-is-broken'"),
        DatasetProblem("train.csv", 4, "clip not found: videos/run/missing.mp4"),
    )
    assert dataset.splits == {"train": 2, "val": 1}


def test_split_lists_accept_absolute_paths_and_refuse_non_videos(split_lists: Path, tmp_path: Path) -> None:
    # PySlowFast joins a path prefix to each line: absolute paths in a list point anywhere.
    clip = split_lists / "videos" / "jump" / "a.mp4"
    (tmp_path / "test.csv").write_text(f"{clip} jump\nnotes/readme.txt 0\n")
    dataset = open_dataset(tmp_path)
    assert list(dataset) == [Sample(str(clip), "jump", "test")]
    assert [str(p) for p in dataset.problems] == ["test.csv:2: not a video path: 'notes/readme.txt'"]
    assert dataset.read(0).frames.shape == (6, 32, 48, 3)


def test_reading_a_sample_decodes_that_clip(split_lists: Path) -> None:
    dataset = open_dataset(split_lists)
    clip = dataset.read(1, max_side=24)
    assert clip.frames.shape == (6, 16, 24, 3)
    assert clip.name == "videos/run/c.mp4"
    full = dataset.read(dataset[1]).frames.float()
    # The decoded clip is the one written from seed 2 (lossy: compare with the other sources).
    errors = [
        (full - synthetic_clip(num_frames=6, height=32, width=48, seed=s).clip.frames).abs().mean()
        for s in range(3)
    ]
    assert min(range(3), key=errors.__getitem__) == 2
    assert dataset.read(0, num_frames=3, uniform=True).frames.shape[0] == 3


def test_hdf5_pack_with_split_lists(split_lists: Path, tmp_path: Path) -> None:
    pack = pack_hdf5(split_lists, tmp_path / "dataset.h5")
    dataset = open_dataset(pack)
    assert dataset.kind == "hdf5"
    assert list(dataset) == list(open_dataset(split_lists))
    assert [p.line for p in dataset.problems] == [3, 4]
    from_pack = dataset.read(2)
    from_disk = open_dataset(split_lists).read(2)
    assert torch.equal(from_pack.frames, from_disk.frames)


def test_hdf5_pack_of_class_folders_and_csv_as_bytes_scalar(folder: Path, tmp_path: Path) -> None:
    pack = pack_hdf5(folder, tmp_path / "folder.hdf5")
    assert [s.key for s in open_dataset(pack)] == ["jump/a.mp4", "jump/b.mp4", "run/c.mp4"]
    with h5py.File(pack, "a") as h5:
        h5.create_dataset("test.csv", data=np.bytes_(b"run/c.mp4 run\n"))  # a csv stored as one bytes value
    assert list(open_dataset(pack)) == [Sample("run/c.mp4", "run", "test")]


def test_ten_thousand_listed_samples_open_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_clip(tmp_path / "clips" / "a" / "x.mp4", 0)
    lines = [f"clips/a/x.mp4 {i % 100}" for i in range(10_000)]
    (tmp_path / "train.csv").write_text("\n".join(lines))
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: pytest.fail("a video was opened"))
    dataset = open_dataset(tmp_path)
    assert len(dataset) == 10_000
    assert len(dataset.classes) == 100


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "nope", "no such file or folder"),
        (lambda d: _touch(d / "list.txt"), r"expected a folder of clips or an \.h5"),
        (lambda d: _touch(d / "fake.h5", b"not hdf5"), "not a readable HDF5 file"),
    ],
)
def test_bad_paths(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:  # what the app catches
        open_dataset(make(tmp_path))
    assert type(raised.value) is DatasetError


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.write_bytes(data)
    return path


def test_empty_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    dataset = open_dataset(tmp_path)
    assert len(dataset) == 0
    assert "no video files found" in str(dataset.problems[0])
