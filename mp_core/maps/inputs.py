"""Which videos a maps run reads, and the unique output folder name of each."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from mp_core.sources import VIDEO_SUFFIXES

__all__ = ["VideoInput", "find_videos"]


class VideoInput(NamedTuple):
    """A video to read and the folder name (possibly nested, ``/``-separated) its outputs go under."""

    path: Path
    name: str


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def _videos_in(folder: Path) -> list[Path]:
    """Video files under ``folder``, recursively, sorted; hidden files and folders (``.git``) left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in sorted(files) if _is_video(Path(f)))
    return found


def _relative_name(path: Path, base: Path, keep_suffix: bool) -> str:
    relative = path.relative_to(base)
    name = relative.with_suffix("").as_posix()
    return f"{name}_{path.suffix[1:]}" if keep_suffix else name


def _unique(inputs: list[VideoInput]) -> list[VideoInput]:
    """Rename inputs whose names collide: each becomes its path below the group's common folder (with its
    file type appended if that is still not enough), e.g. ``a/clip`` and ``b/clip`` for two ``clip.mp4``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(inputs):
        groups[item.name].append(index)
    out = list(inputs)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        paths = [inputs[i].path.resolve() for i in indices]
        base = Path(os.path.commonpath([p.parent for p in paths]))
        names = [_relative_name(p, base, keep_suffix=False) for p in paths]
        keep_suffix = len(set(names)) < len(names)
        for i, path in zip(indices, paths, strict=True):
            out[i] = VideoInput(inputs[i].path, _relative_name(path, base, keep_suffix))
    return out


def find_videos(inputs: Iterable[str | os.PathLike]) -> tuple[list[VideoInput], list[tuple[Path, str]]]:
    """The videos named by ``inputs`` (files, or folders searched recursively) and the missing inputs.

    A file named directly is used whatever its type (reading it says whether it is a video); a folder gives
    its files of the types in :data:`mp_core.sources.VIDEO_SUFFIXES`, each named by its path inside the
    folder (``brush_hair/clip_01``), so a dataset's class folders reappear in the output. The same file
    reached twice is read once; names that collide are made unique by their paths.

    Returns:
        ``(videos, missing)``: :class:`VideoInput` in input order, and ``(path, reason)`` for each input
        that is neither a file nor a folder, or a folder without videos.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for name in ("a/clip.mp4", "b/clip.mp4", "b/notes.txt", "c.mkv"):
        ...         (Path(root) / name).parent.mkdir(exist_ok=True)
        ...         (Path(root) / name).touch()
        ...     videos, missing = find_videos([f"{root}/a", f"{root}/b", f"{root}/c.mkv", f"{root}/d"])
        ...     [v.name for v in videos], [reason for _, reason in missing]
        (['a/clip', 'b/clip', 'c'], ['no such file or folder'])
    """
    found: list[VideoInput] = []
    missing: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for given in inputs:
        path = Path(given).expanduser()
        if path.is_dir():
            videos = _videos_in(path)
            if not videos:
                missing.append((path, f"a folder without videos ({', '.join(VIDEO_SUFFIXES)})"))
            items = [VideoInput(v, _relative_name(v, path, keep_suffix=False)) for v in videos]
        elif path.is_file():
            items = [VideoInput(path, path.stem)]
        else:
            missing.append((path, "no such file or folder"))
            items = []
        for item in items:
            if item.path.resolve() not in seen:
                seen.add(item.path.resolve())
                found.append(item)
    return _unique(found), missing
