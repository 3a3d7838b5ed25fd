"""mp_core.datasets: the three formats built here from synthetic clips written with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import h5py
import numpy as np
import pytest
import torch

from mp_core.datasets import DatasetProblem, OutsideRootsError, Sample, open_dataset
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


# --- dataset roots: nothing outside them is read ----------------------------------------------------------


@pytest.fixture
def escapes(tmp_path: Path) -> dict[str, Path]:
    """root/ (the only allowed root) and secret/ beside it holding a clip and an HDF5 file."""
    root, secret = tmp_path / "root", tmp_path / "secret"
    write_clip(root / "data" / "jump" / "a.mp4", 0)
    write_clip(root / "data" / "run" / "b.mp4", 1)
    write_clip(secret / "s.mp4", 2)
    return {"root": root, "data": root / "data", "secret": secret, "clip": secret / "s.mp4"}


def _no_video_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: pytest.fail("a video was opened"))


def test_split_list_lines_that_escape_are_refused_and_named(
    escapes: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = escapes["data"]
    lines = ["jump/a.mp4 jump", "../../secret/s.mp4 x", f"{escapes['clip']} x", "../../secret/none.mp4 x"]
    (data / "train.csv").write_text("\n".join([*lines, "run/b.mp4 run"]))
    unchecked = open_dataset(data)  # no roots (the command line): every existing clip is listed
    assert [s.key for s in unchecked] == [
        "jump/a.mp4",
        "../../secret/s.mp4",
        str(escapes["clip"]),
        "run/b.mp4",
    ]
    dataset = open_dataset(data, roots=[escapes["root"]])
    assert [s.key for s in dataset] == ["jump/a.mp4", "run/b.mp4"]
    # Refused before anything is looked up: a missing file outside reads the same as an existing one.
    assert [str(p) for p in dataset.problems] == [
        "train.csv:2: ../../secret/s.mp4: outside the dataset roots: refused",
        f"train.csv:3: {escapes['clip']}: outside the dataset roots: refused",
        "train.csv:4: ../../secret/none.mp4: outside the dataset roots: refused",
    ]
    assert dataset.read("run/b.mp4").frames.shape == (6, 32, 48, 3)
    assert unchecked.read("../../secret/s.mp4").frames.shape == (6, 32, 48, 3)  # there, and readable
    _no_video_opened(monkeypatch)
    for key in ("../../secret/s.mp4", str(escapes["clip"])):  # a report's path column names any key
        with pytest.raises(OutsideRootsError, match="outside the dataset roots: refused") as raised:
            dataset.read(key, num_frames=4, uniform=True)
        assert isinstance(raised.value, DatasetError)


def test_a_symlink_inside_the_root_pointing_out_is_refused(
    escapes: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = escapes["data"]
    (data / "jump" / "out.mp4").symlink_to(escapes["clip"])  # a file symlink out
    (data / "jump" / "in.mp4").symlink_to(data / "run" / "b.mp4")  # one that stays inside: fine
    (data / "away").symlink_to(escapes["secret"], target_is_directory=True)  # a folder symlink: not walked
    assert "jump/out.mp4" in [s.key for s in open_dataset(data)]
    dataset = open_dataset(data, roots=[escapes["root"]])
    assert [s.key for s in dataset] == ["jump/a.mp4", "jump/in.mp4", "run/b.mp4"]
    assert [str(p) for p in dataset.problems] == ["jump/out.mp4: outside the dataset roots: refused"]
    assert dataset.read("jump/in.mp4").frames.shape == (6, 32, 48, 3)
    _no_video_opened(monkeypatch)
    for key in ("jump/out.mp4", "away/s.mp4"):
        with pytest.raises(OutsideRootsError):
            dataset.read(key)


def test_a_dataset_or_split_list_outside_the_roots_is_refused(escapes: dict[str, Path]) -> None:
    with pytest.raises(OutsideRootsError, match=r"secret: outside the dataset roots: refused"):
        open_dataset(escapes["secret"], roots=[escapes["root"]])
    with pytest.raises(OutsideRootsError):  # judged by where it leads, not by how it is written
        open_dataset(escapes["data"] / ".." / ".." / "secret", roots=[escapes["root"]])
    (escapes["secret"] / "val.csv").write_text("../root/data/jump/a.mp4 jump\n")
    (escapes["data"] / "val.csv").symlink_to(escapes["secret"] / "val.csv")  # a split list pointing out
    dataset = open_dataset(escapes["data"], roots=[escapes["root"]])
    assert (len(dataset), [str(p) for p in dataset.problems]) == (
        0,
        ["val.csv: outside the dataset roots: refused"],
    )


def _bytes_of(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), np.uint8)


def _pack_with_outside_members(escapes: dict[str, Path]) -> Path:
    """A pack inside the root whose members keep their bytes in files outside it, three ways."""
    clip = escapes["clip"]
    size = clip.stat().st_size
    outside = escapes["secret"] / "outside.h5"
    with h5py.File(outside, "w") as h5:
        h5.create_dataset("s.mp4", data=np.frombuffer(clip.read_bytes(), np.uint8))
    pack = escapes["data"] / "pack.h5"
    with h5py.File(pack, "w") as h5:
        h5.create_dataset(
            "jump/a.mp4", data=np.frombuffer((escapes["data"] / "jump/a.mp4").read_bytes(), np.uint8)
        )
        h5["linked/x.mp4"] = h5py.ExternalLink(str(outside), "s.mp4")  # an external link
        h5["away"] = h5py.ExternalLink("../../secret/outside.h5", "/")  # a relative one, to a group
        h5["soft/y.mp4"] = h5py.SoftLink("/linked/x.mp4")  # a soft link to the external one
        h5.create_dataset("raw/x.mp4", shape=(size,), dtype=np.uint8, external=[(str(clip), 0, size)])
        layout = h5py.VirtualLayout(shape=(size,), dtype=np.uint8)
        layout[:] = h5py.VirtualSource(str(outside), "s.mp4", shape=(size,))
        h5.create_virtual_dataset("virtual/x.mp4", layout)
    return pack


def test_hdf5_members_stored_outside_the_roots_are_refused(
    escapes: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _pack_with_outside_members(escapes)
    members = ["linked/x.mp4", "away/s.mp4", "soft/y.mp4", "raw/x.mp4", "virtual/x.mp4"]
    unchecked = open_dataset(pack)
    for key in members:  # without roots each reads the outside clip: the refusals below are real
        assert unchecked.read(key).frames.shape == (6, 32, 48, 3), key
    dataset = open_dataset(pack, roots=[escapes["root"]])
    assert dataset.read("jump/a.mp4").frames.shape == (6, 32, 48, 3)
    _no_video_opened(monkeypatch)
    for key in members:
        with pytest.raises(OutsideRootsError, match=f"{key}: .* outside the dataset roots: refused"):
            dataset.read(key)
    with pytest.raises(OutsideRootsError):  # the pack itself
        open_dataset(pack, roots=[escapes["secret"]])


def test_a_pack_whose_split_list_lies_outside_lists_nothing_from_it(escapes: dict[str, Path]) -> None:
    (escapes["secret"] / "lists.h5").unlink(missing_ok=True)
    with h5py.File(escapes["secret"] / "lists.h5", "w") as h5:
        h5.create_dataset("train.csv", data=np.bytes_(b"jump/a.mp4 jump\n"))
    pack = escapes["data"] / "lists.h5"
    with h5py.File(pack, "w") as h5:
        h5.create_dataset(
            "jump/a.mp4", data=np.frombuffer((escapes["data"] / "jump/a.mp4").read_bytes(), np.uint8)
        )
        h5.create_dataset("train.csv", data=np.bytes_(b"jump/a.mp4 jump\n"))
        h5["val.csv"] = h5py.ExternalLink(str(escapes["secret"] / "lists.h5"), "train.csv")
    dataset = open_dataset(pack, roots=[escapes["root"]])
    assert [s.split for s in dataset] == ["train"]
