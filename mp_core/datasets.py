"""Datasets of clips on disk: a folder tree, split lists (the reference code's csv files), or an HDF5 pack.

Opening a dataset only lists it: nothing is decoded until :meth:`VideoDataset.read`. Problems (a malformed
line, a missing clip) are collected in :attr:`VideoDataset.problems` with file and line; the rest loads.

A server that opens datasets for others passes ``roots``: every file is then resolved (``..`` and symlinks
followed) and read only when it lies inside one of them. A sample that escapes (a split-list line with
``..`` or an absolute path elsewhere, a symlink pointing out, an HDF5 member stored in another file) is
refused and named in :attr:`VideoDataset.problems`; reading it raises :class:`OutsideRootsError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

from mp_core.errors import DatasetError
from mp_core.sampling import Sampling, read_sampled
from mp_core.sources import VIDEO_SUFFIXES
from mp_core.video_io import Clip, read_clip, read_clip_uniform

__all__ = [
    "SPLIT_FILES",
    "DatasetProblem",
    "OutsideRootsError",
    "Sample",
    "VideoDataset",
    "open_dataset",
    "within_roots",
]

#: Split list names of the reference training code, each line ``relative/path/to/clip.mp4 label``.
SPLIT_FILES = ("train.csv", "val.csv", "test.csv")
_SPLIT_FOLDERS = frozenset({"train", "val", "validation", "test"})
_OUTSIDE = "outside the dataset roots: refused"


class OutsideRootsError(DatasetError):
    """A file resolves (``..`` and symlinks followed) to a place outside every allowed root."""


def within_roots(path: str | os.PathLike[str], roots: Sequence[Path]) -> Path | None:
    """``path`` resolved if it lies inside one of ``roots``, else None (nothing is opened or read).

    Example:
        >>> within_roots("/data/hmdb/../ucf/a.mp4", (Path("/data"),))
        PosixPath('/data/ucf/a.mp4')
        >>> within_roots("/data/../etc/passwd", (Path("/data"),)) is None
        True
    """
    resolved = Path(path).expanduser().resolve()
    return resolved if any(resolved.is_relative_to(Path(root).resolve()) for root in roots) else None


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
        roots: the folders files may be read from (None: anywhere).
    """

    root: Path
    kind: str
    samples: tuple[Sample, ...]
    problems: tuple[DatasetProblem, ...] = ()
    roots: tuple[Path, ...] | None = None

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
        sampling: Sampling | None = None,
        **kwargs: Any,
    ) -> Clip:
        """Decode one sample, given by index, key or :class:`Sample` (keywords go to ``read_clip``).

        With ``sampling``, the frames it names (:func:`~mp_core.sampling.read_sampled`: the app's, the
        report's and training's reading). With ``uniform=True``, ``num_frames`` frames evenly spaced over the
        clip, repeated when the clip has fewer.

        Raises:
            OutsideRootsError: with :attr:`roots` set, the file (or the HDF5 member's storage) lies outside
                them; it is not opened.
        """
        key = self.samples[sample].key if isinstance(sample, int) else getattr(sample, "key", sample)
        source: Path | bytes
        if self.kind == "hdf5":
            import h5py

            self._check(self.root, key)
            with h5py.File(self.root, "r") as h5:
                source = _h5_member_bytes(h5, key, self.root, self.roots)
        else:
            source = self._check(self.root / key, key)
        if sampling is not None:
            clip = read_sampled(source, sampling)
        elif uniform:
            if num_frames is None:
                raise DatasetError("uniform sampling needs num_frames")
            clip = read_clip_uniform(source, num_frames, **kwargs)
        else:
            clip = read_clip(source, max_frames=num_frames, **kwargs)
        return replace(clip, name=key)

    def _check(self, path: Path, key: str) -> Path:
        if self.roots is None:
            return path
        if within_roots(path, self.roots) is None:
            raise OutsideRootsError(f"{key}: {_OUTSIDE}")
        return path


def _counts(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _h5_bytes(dataset: Any) -> bytes:
    """A file stored in the pack: a uint8 array (videos) or a bytes scalar (some csv writers)."""
    value = dataset[()]
    return value if isinstance(value, bytes) else value.tobytes()


def _h5_outside(name: str, pack: Path, roots: Sequence[Path]) -> bool:
    """Whether a file an HDF5 pack refers to may lie outside ``roots``.

    HDF5 looks a relative name up beside the pack and in the working folder (and under prefixes from the
    environment, which a server does not set): both places must be inside.
    """
    if name == ".":  # a virtual dataset's "this file"
        return False
    path = Path(name)
    candidates = [path] if path.is_absolute() else [pack.parent / path, Path.cwd() / path]
    return any(within_roots(candidate, roots) is None for candidate in candidates)


def _h5_member_bytes(h5: Any, key: str, pack: Path, roots: Sequence[Path] | None) -> bytes:
    """The bytes of pack member ``key``; with ``roots``, refused when its data lives in a file outside.

    A member can be an external link to another file, keep its bytes in external raw files, or be a virtual
    dataset mapping other files: each file it names is checked before anything is read.
    """
    import h5py

    if roots is not None:
        prefix, hops = "", 0
        for part in key.strip("/").split("/"):
            prefix = f"{prefix}/{part}"
            link = h5.get(prefix, getlink=True)
            while isinstance(link, h5py.SoftLink) and hops < 32:  # a name for another path of this file
                hops += 1
                link = h5.get(link.path, getlink=True)
            if isinstance(link, h5py.ExternalLink) and _h5_outside(link.filename, pack, roots):
                raise OutsideRootsError(f"{key}: links to {link.filename}, {_OUTSIDE}")
    if key not in h5 or not isinstance(h5[key], h5py.Dataset):
        raise DatasetError(f"{pack.name}: no file {key!r} in the pack")
    member = h5[key]
    if roots is not None:
        names = [name for name, _, _ in member.external or ()]
        if member.is_virtual:
            names += [source.file_name for source in member.virtual_sources()]
        names.append(member.file.filename)  # an external link reached through a path checked above
        for name in names:
            if _h5_outside(name, pack, roots):
                raise OutsideRootsError(f"{key}: its data lies in {name}, {_OUTSIDE}")
    return _h5_bytes(member)


def _parse_split_list(
    text: str, list_name: str, split: str, exists: Any, allowed: Any = None
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
        if allowed is not None and not allowed(key):  # before looking: a refusal tells nothing outside
            problems.append(DatasetProblem(list_name, number, f"{key}: {_OUTSIDE}"))
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


def _open_folder(root: Path, roots: tuple[Path, ...] | None) -> VideoDataset:
    def allowed(key: str) -> bool:
        return roots is None or within_roots(root / key, roots) is not None

    lists = [name for name in SPLIT_FILES if (root / name).is_file()]
    problems: list[DatasetProblem] = []
    if lists:
        samples: list[Sample] = []
        for name in lists:
            if not allowed(name):  # a split list that is a symlink out of the roots
                problems.append(DatasetProblem(name, None, _OUTSIDE))
                continue
            text = (root / name).read_text(encoding="utf-8", errors="replace")
            found, issues = _parse_split_list(
                text, name, name[: -len(".csv")], lambda k: (root / k).is_file(), allowed
            )
            samples += found
            problems += issues
        return VideoDataset(root, "split-lists", tuple(samples), tuple(problems), roots)
    keys = []
    for folder, _, files in os.walk(root):  # folder symlinks are not followed
        relative = Path(folder).relative_to(root)
        videos = [(relative / f).as_posix() for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
        for key in sorted(videos):
            if allowed(key):
                keys.append(key)
            else:  # a file symlink pointing out of the roots
                problems.append(DatasetProblem(key, None, _OUTSIDE))
    if not keys and not problems:
        problems.append(DatasetProblem(str(root), None, "no video files found"))
    samples = _from_tree(keys)
    if keys and not samples:
        problems.append(DatasetProblem(str(root), None, "videos lie at the root: put them in class folders"))
    return VideoDataset(root, "folder", tuple(samples), tuple(problems), roots)


def _open_hdf5(path: Path, roots: tuple[Path, ...] | None) -> VideoDataset:
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
            try:
                text = _h5_member_bytes(h5, name, path, roots).decode("utf-8", errors="replace")
            except OutsideRootsError as err:
                problems.append(DatasetProblem(name, None, str(err).removeprefix(f"{name}: ")))
                continue
            found, issues = _parse_split_list(text, name, name.removesuffix(".csv"), key_set.__contains__)
            samples += found
            problems += issues
    if not lists:
        samples = _from_tree([k for k in keys if Path(k).suffix.lower() in VIDEO_SUFFIXES])
        if not samples:
            problems.append(DatasetProblem(path.name, None, "no videos found in the pack"))
    return VideoDataset(path, "hdf5", tuple(samples), tuple(problems), roots)


def open_dataset(path: str | os.PathLike, roots: Sequence[str | os.PathLike] | None = None) -> VideoDataset:
    """List a dataset without decoding it.

    Args:
        path: a folder of clips in class folders (``class/clip.mp4``, optionally under ``train/`` etc.),
            a folder with split lists ``train.csv``/``val.csv``/``test.csv`` (lines ``relative/clip.mp4
            label``), or an ``.h5``/``.hdf5`` file holding that tree as raw bytes per file.
        roots: folders the dataset's files must lie in, once ``..`` and symlinks are followed (None: no
            check). Samples outside are refused and named in ``problems``; :meth:`VideoDataset.read`
            checks again before it opens a file.

    Raises:
        OutsideRootsError: ``path`` itself resolves outside ``roots``.
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
        >>> _ = (root / "val.csv").write_text("../elsewhere/c.mp4 run\\n")
        >>> print(open_dataset(root, roots=[root]).problems[-1])
        val.csv:1: ../elsewhere/c.mp4: outside the dataset roots: refused
    """
    root = Path(path).expanduser()
    allowed = None if roots is None else tuple(Path(r).expanduser().resolve() for r in roots)
    if allowed is not None and within_roots(root, allowed) is None:  # before looking: says nothing outside
        raise OutsideRootsError(f"{root}: {_OUTSIDE}")
    if not root.exists():
        raise DatasetError(f"{root}: no such file or folder")
    if root.is_dir():
        return _open_folder(root, allowed)
    if root.suffix.lower() in {".h5", ".hdf5"}:
        return _open_hdf5(root, allowed)
    raise DatasetError(f"{root.name}: expected a folder of clips or an .h5/.hdf5 pack")
