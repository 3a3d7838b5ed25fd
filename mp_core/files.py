"""Files that readers never see half-written: write under a fresh name beside the target, then rename."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_target"]


@contextmanager
def atomic_target(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``target``: renamed onto it when the block succeeds, removed when it fails.

    The name is fresh (``.<name>.<random>.tmp``: hidden, not a video suffix), so two writers never share
    it, and it lies in the target's folder, so the rename is atomic: a reader sees the old file or the new
    one, never half of one.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_target(folder / "a.txt") as temporary:
        ...     _ = temporary.write_text("done")
        >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
        ('done', ['a.txt'])
    """
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
