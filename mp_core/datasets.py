"""Datasets of clips on disk: a folder tree, split lists (the reference code's csv files), or an HDF5 pack.

Opening a dataset only lists it: nothing is decoded until :meth:`VideoDataset.read`. Problems (a malformed
line, a missing clip) are collected in :attr:`VideoDataset.problems` with file and line; the rest loads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

from mp_core.errors import DatasetError
from mp_core.sources import VIDEO_SUFFIXES
from mp_core.video_io import Clip, read_clip, read_clip_uniform

__all__ = ["SPLIT_FILES", "DatasetProblem", "Sample", "VideoDataset", "open_dataset"]

#: Split list names of the reference training code, each line ``relative/path/to/clip.mp4 label``.
SPLIT_FILES = ("train.csv", "val.csv", "test.csv")
_SPLIT_FOLDERS = frozenset({"train", "val", "validation", "test"})


@dataclass(frozen=True)
class Sample:
    """One clip of a dataset: its path relative to the root, its label and its split."""

    key: str
    label: str
    split: str


@dataclass(frozen=True)
class DatasetProblem:
    """Something in a dataset that was skipped, and where."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, eq=False)
class VideoDataset(Sequence[Sample]):
    """A lazy, indexable list of samples; :meth:`read` decodes one.

    Attributes:
        root: the folder, or the HDF5 file.
        kind: ``"folder"``, ``"split-lists"`` or ``"hdf5"``.
        samples: every usable sample, in listing order.
        problems: what was skipped, with file and line.
    """

    root: Path
    kind: str
    samples: tuple[Sample, ...]
    problems: tuple[DatasetProblem, ...] = ()

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> Sample: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Sample]: ...
    def __getitem__(self, index: int | slice) -> Sample | Sequence[Sample]:
        return self.samples[index]

    @property
    def splits(self) -> dict[str, int]:
        """Sample count per split."""
        return _counts(s.split for s in self.samples)

    @property
    def classes(self) -> dict[str, int]:
        """Sample count per label, sorted by label."""
        return _counts(s.label for s in self.samples)

    def read(
        self,
        sample: int | str | Sample,
        *,
        num_frames: int | None = None,
        uniform: bool = False,
        **kwargs: Any,
    ) -> Clip:
        """Decode one sample, given by index, key or :class:`Sample` (keywords go to ``read_clip``).

        With ``uniform=True``, ``num_frames`` frames evenly spaced over the clip (as training pipelines do).
        """
        key = self.samples[sample].key if isinstance(sample, int) else getattr(sample, "key", sample)
        source: Path | bytes
        if self.kind == "hdf5":
            import h5py

            with h5py.File(self.root, "r") as h5:
                if key not in h5:
                    raise DatasetError(f"{self.root.name}: no file {key!r} in the pack")
                source = _h5_bytes(h5[key])
        else:
            source = self.root / key
        if uniform:
            if num_frames is None:
                raise DatasetError("uniform sampling needs num_frames")
            clip = read_clip_uniform(source, num_frames, **kwargs)
        else:
            clip = read_clip(source, max_frames=num_frames, **kwargs)
        return replace(clip, name=key)


def _counts(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _h5_bytes(dataset: Any) -> bytes:
    """A file stored in the pack: a uint8 array (videos) or a bytes scalar (some csv writers)."""
    value = dataset[()]
    return value if isinstance(value, bytes) else value.tobytes()


def _parse_split_list(
    text: str, list_name: str, split: str, exists: Any
) -> tuple[list[Sample], list[DatasetProblem]]:
    samples, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            problems.append(DatasetProblem(list_name, number, f"expected 'path label', got {line!r}"))
            continue
        key, label = parts[0].replace("\\", "/").removeprefix("./"), parts[1]
        if Path(key).suffix.lower() not in VIDEO_SUFFIXES:
            problems.append(DatasetProblem(list_name, number, f"not a video path: {key!r}"))
            continue
        if not exists(key):
            problems.append(DatasetProblem(list_name, number, f"clip not found: {key}"))
            continue
        samples.append(Sample(key, label, split))
    return samples, problems


def _from_tree(keys: Sequence[str]) -> list[Sample]:
    """Folder convention: label = parent folder; split = a leading train/val/test folder, else 'all'."""
    samples = []
    for key in sorted(keys):
        parts = key.split("/")
        if len(parts) < 2:
            continue  # a clip at the root has no class folder
        split = parts[0] if len(parts) >= 3 and parts[0].lower() in _SPLIT_FOLDERS else "all"
        samples.append(Sample(key, parts[-2], split))
    return samples


def _open_folder(root: Path) -> VideoDataset:
    lists = [name for name in SPLIT_FILES if (root / name).is_file()]
    if lists:
        samples: list[Sample] = []
        problems: list[DatasetProblem] = []
        for name in lists:
            text = (root / name).read_text(encoding="utf-8", errors="replace")
            found, issues = _parse_split_list(
                text, name, name[: -len(".csv")], lambda k: (root / k).is_file()
            )
            samples += found
            problems += issues
        return VideoDataset(root, "split-lists", tuple(samples), tuple(problems))
    keys = []
    for folder, _, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        keys += [(relative / f).as_posix() for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
    problems = [] if keys else [DatasetProblem(str(root), None, "no video files found")]
    samples = _from_tree(keys)
    if keys and not samples:
        problems.append(DatasetProblem(str(root), None, "videos lie at the root: put them in class folders"))
    return VideoDataset(root, "folder", tuple(samples), tuple(problems))


def _open_hdf5(path: Path) -> VideoDataset:
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(f"{path.name}: not a readable HDF5 file ({err})") from err
    with h5:
        keys: list[str] = []
        h5.visititems(lambda name, obj: keys.append(name) if isinstance(obj, h5py.Dataset) else None)
        key_set = frozenset(keys)
        lists = [name for name in SPLIT_FILES if name in key_set]
        samples: list[Sample] = []
        problems: list[DatasetProblem] = []
        for name in lists:
            text = _h5_bytes(h5[name]).decode("utf-8", errors="replace")
            found, issues = _parse_split_list(text, name, name.removesuffix(".csv"), key_set.__contains__)
            samples += found
            problems += issues
    if not lists:
        samples = _from_tree([k for k in keys if Path(k).suffix.lower() in VIDEO_SUFFIXES])
        if not samples:
            problems.append(DatasetProblem(path.name, None, "no videos found in the pack"))
    return VideoDataset(path, "hdf5", tuple(samples), tuple(problems))


def open_dataset(path: str | os.PathLike) -> VideoDataset:
    """List a dataset without decoding it.

    Args:
        path: a folder of clips in class folders (``class/clip.mp4``, optionally under ``train/`` etc.),
            a folder with split lists ``train.csv``/``val.csv``/``test.csv`` (lines ``relative/clip.mp4
            label``), or an ``.h5``/``.hdf5`` file holding that tree as raw bytes per file.

    Raises:
        DatasetError: the path does not exist or is not a folder or an HDF5 file.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "jump").mkdir()
        >>> _ = (root / "jump" / "a.mp4").write_bytes(b"")
        >>> _ = (root / "train.csv").write_text("jump/a.mp4 jump\\njump/b.mp4 jump\\nbroken\\n")
        >>> dataset = open_dataset(root)
        >>> dataset.kind, len(dataset), dataset[0]
        ('split-lists', 1, Sample(key='jump/a.mp4', label='jump', split='train'))
        >>> for problem in dataset.problems:
        ...     print(problem)
        train.csv:2: clip not found: jump/b.mp4
        train.csv:3: expected 'path label', got 'broken'
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: no such file or folder")
    if root.is_dir():
        return _open_folder(root)
    if root.suffix.lower() in {".h5", ".hdf5"}:
        return _open_hdf5(root)
    raise DatasetError(f"{root.name}: expected a folder of clips or an .h5/.hdf5 pack")
