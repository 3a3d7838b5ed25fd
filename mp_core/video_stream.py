"""Video of any length in bounded memory: the chunked names of :mod:`mp_core.video`.

:func:`iter_frames` decodes a whole video (or a time span of it) in chunks; :class:`VideoWriter` encodes
chunks as they come. Kept for the code and scripts that import them from here.
"""

from __future__ import annotations

from mp_core.video import FrameChunk, VideoWriter, iter_frames

__all__ = ["FrameChunk", "VideoWriter", "iter_frames"]
