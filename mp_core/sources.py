"""Where user files come from: the file types the project reads, and one way to open a path, bytes or upload.

Videos and checkpoints arrive the same ways (a path on disk, the bytes of an upload, a binary file object);
:func:`open_source` checks and names them once, so both readers give the same messages.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

from mp_core.errors import InputError

__all__ = ["CHECKPOINT_SUFFIXES", "VIDEO_SUFFIXES", "Source", "open_source", "source_name"]

#: Containers read as videos (uploads, dataset folders, the maps command).
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
#: Files read for learned (m, n).
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pyth", ".pt", ".pth", ".ckpt", ".safetensors", ".json")

Source = str | os.PathLike | bytes | BinaryIO


def source_name(source: Source) -> str:
    """The file name to show in messages: a path's name, a file object's ``name``, else ``"upload"``.

    Example:
        >>> source_name("/data/hmdb51/brush_hair/clip_01.avi"), source_name(b"...")
        ('clip_01.avi', 'upload')
    """
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "upload"
    return Path(str(getattr(source, "name", "upload"))).name


def open_source(
    source: Source, error: type[InputError], what: str, name: str | None = None
) -> tuple[Path | bytes | BinaryIO, str]:
    """Check a source and return it as a :class:`~pathlib.Path`, bytes or a seekable binary file at 0.

    Paths are not read (large files stay on disk); a file object that cannot seek (a pipe) is read into
    memory, because video containers and torch archives are read out of order.

    Args:
        source: a path, bytes, or a binary file object.
        error: the :class:`InputError` subclass to raise (``VideoError``, ``CheckpointError``).
        what: what the file should be, for messages ("video file", "checkpoint file").
        name: the name to show (default: :func:`source_name`).

    Raises:
        error: the path is missing or a folder, the source is empty, or the file was opened in text mode.

    Example:
        >>> from mp_core.errors import VideoError
        >>> open_source(b"", VideoError, "video file", name="clip.mp4")
        Traceback (most recent call last):
        ...
        mp_core.errors.VideoError: clip.mp4: the file is empty (0 bytes)
    """
    name = name or source_name(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise error(f"{path}: is a folder, not a {what}; give the file inside it")
        if not path.is_file():
            raise error(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise error(f"{name}: the file is empty (0 bytes)")
        return path, name
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise error(f"{name}: the file is empty (0 bytes)")
        return bytes(source), name
    if isinstance(source.read(0), str):
        raise error(f"{name}: opened in text mode; open {what}s with 'rb'")
    if not source.seekable():
        return open_source(source.read(), error, what, name)
    source.seek(0, io.SEEK_END)
    if source.tell() == 0:
        raise error(f"{name}: the file is empty (0 bytes)")
    source.seek(0)
    return source, name
