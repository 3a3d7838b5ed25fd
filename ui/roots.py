"""Which server paths the Dataset page may open: the dataset roots, the app's cache folder (pure functions).

A visitor types a path; the server lists and decodes what lies there. Only paths that resolve (``..`` and
symlinks followed) to a place inside a configured root, or inside the app's cache folder (the demo dataset
and the report files), are opened. The roots come from ``MP_DATASET_ROOTS`` (folders separated by
``os.pathsep``, ``:`` on Linux); with it unset only the cache folder is open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mp_core.datasets import OutsideRootsError, within_roots

__all__ = [
    "CACHE_ENV",
    "ROOTS_ENV",
    "PathNotAllowedError",
    "allowed_path",
    "cache_dir",
    "configured_roots",
    "dataset_roots",
]

ROOTS_ENV = "MP_DATASET_ROOTS"
CACHE_ENV = "MP_CACHE_DIR"


class PathNotAllowedError(OutsideRootsError):
    """A typed path lies outside every dataset root of this server.

    The files a dataset names are checked by :func:`mp_core.datasets.open_dataset` given
    :func:`dataset_roots` (``roots=``), which raises the parent class.
    """


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The app's cache folder: ``MP_CACHE_DIR``, else ``$XDG_CACHE_HOME/motion-prompt-explorer``.

    Example:
        >>> cache_dir({"MP_CACHE_DIR": "/srv/mpe-cache"})
        PosixPath('/srv/mpe-cache')
        >>> cache_dir({"XDG_CACHE_HOME": "/var/cache"})
        PosixPath('/var/cache/motion-prompt-explorer')
    """
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV]).expanduser()
    base = Path(environ["XDG_CACHE_HOME"]) if environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base.expanduser() / "motion-prompt-explorer"


def configured_roots(environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """The folders named in ``MP_DATASET_ROOTS``, resolved; empty entries are ignored.

    Example:
        >>> configured_roots({"MP_DATASET_ROOTS": "/data/hmdb51" + os.pathsep + os.pathsep + "/data/ucf"})
        (PosixPath('/data/hmdb51'), PosixPath('/data/ucf'))
    """
    text = environ.get(ROOTS_ENV, "")
    return tuple(Path(item.strip()).expanduser().resolve() for item in text.split(os.pathsep) if item.strip())


def dataset_roots(environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """Every root the page may open: the configured ones, then the cache folder (always allowed)."""
    cache = cache_dir(environ).resolve()
    return tuple(dict.fromkeys((*configured_roots(environ), cache)))


def allowed_path(path: str | os.PathLike[str], roots: Sequence[Path]) -> Path:
    """``path`` resolved (``~``, ``..`` and symlinks followed) if it lies in one of ``roots``.

    Nothing about the path is looked up beyond resolving it, so a refusal says nothing about whether a
    path outside the roots exists.

    Raises:
        PathNotAllowedError: an empty or relative path, or one that resolves outside every root.

    Example:
        >>> roots = (Path("/data"),)
        >>> allowed_path("/data/hmdb51/../ucf", roots)
        PosixPath('/data/ucf')
        >>> allowed_path("/data/../etc/passwd", roots)
        Traceback (most recent call last):
        ...
        ui.roots.PathNotAllowedError: /data/../etc/passwd is outside the dataset roots of this server (/data)
    """
    text = os.fspath(path).strip()
    if not text:
        raise PathNotAllowedError("no path given")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        raise PathNotAllowedError(f"{text} is a relative path: give the full path, starting with /")
    resolved = within_roots(candidate, roots)
    if resolved is not None:
        return resolved
    allowed = ", ".join(str(root) for root in roots) or "none configured"
    raise PathNotAllowedError(f"{text} is outside the dataset roots of this server ({allowed})")
