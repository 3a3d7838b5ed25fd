"""Keeping a long streamed run's resident memory flat: freed heap memory handed back when it piles up.

Each chunk allocates and frees the same few large buffers. glibc raises its mmap threshold after the first
frees and then keeps freed pages in its heaps, fragmented among small live objects, so without help the
resident size crept up by ~0.5 MB a chunk (85 MiB over 180 chunks of 128x96 frames, measured here) though
nothing was referenced. Trimming after every chunk keeps it flat but costs ~30% of the throughput (the next
chunk page-faults its buffers in again), so :class:`HeapGuard` trims only when the resident size has grown
by ``margin`` over what it was after the first chunks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from functools import lru_cache

__all__ = ["HeapGuard", "resident_bytes"]


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None on other C libraries)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def resident_bytes() -> int | None:
    """The process's resident size from ``/proc/self/statm`` (None where there is no /proc).

    Example:
        >>> size = resident_bytes()
        >>> size is None or size > 0
        True
    """
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class HeapGuard:
    """Call :meth:`after_chunk` after each chunk; the resident size then stays within ``margin`` bytes of its
    level after ``warmup`` chunks (encoders and buffers at full size). Does nothing without glibc and /proc.

    Example:
        >>> guard = HeapGuard(margin=0, warmup=1)
        >>> for _ in range(3):
        ...     guard.after_chunk()
        >>> guard.chunks
        3
    """

    def __init__(self, margin: int = 64 * 2**20, warmup: int = 4) -> None:
        self.margin, self.warmup = margin, warmup
        self.chunks, self.trims = 0, 0
        self.level: int | None = None
        self.trim = _malloc_trim()

    def after_chunk(self) -> None:
        self.chunks += 1
        size = resident_bytes() if self.trim is not None else None
        if size is None or self.trim is None:
            return
        if self.chunks <= self.warmup or self.level is None:
            self.level = max(self.level or 0, size)
        elif size > self.level + self.margin:
            self.trim(0)
            self.trims += 1
