"""Which frames of a video are read: one :class:`Sampling` value and one rule for clips shorter than asked.

The app's sidebar, ``python -m mp_core.maps``, the dataset report, the HTML demo and training all describe
their frames with this type, so "16 frames at 320 px" means the same frames everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mp_core.errors import ParameterError

if TYPE_CHECKING:  # video_io needs PyAV; the type alone does not
    from mp_core.video_io import Clip, VideoInfo, VideoSource

__all__ = ["Sampling", "read_sampled"]


@dataclass(frozen=True)
class Sampling:
    """Which frames of a video are read, and at what size.

    ``frames=N`` without ``stride``: N frames spread uniformly over ``[start, end]`` (the default, as models
    are fed; a shorter clip gives all its frames). ``frames=N`` with ``stride=K``: N consecutive frames, every
    K-th, from ``start``. ``frames=None``: every ``stride``-th frame from ``start`` to ``end``.

    Example:
        >>> Sampling().mode, Sampling(stride=2).mode, Sampling(frames=None).mode
        ('uniform', 'consecutive', 'all')
        >>> Sampling(frames=1)
        Traceback (most recent call last):
        ...
        mp_core.errors.ParameterError: frames must be >= 2 (pairs need two frames), got 1
    """

    frames: int | None = 16
    start: float = 0.0  #: seconds
    end: float | None = None  #: seconds; None: the end of the video
    stride: int | None = None
    max_side: int | None = 320  #: longest side in pixels; None keeps the stored size

    def __post_init__(self) -> None:
        if self.frames is not None and self.frames < 2:
            raise ParameterError(f"frames must be >= 2 (pairs need two frames), got {self.frames}")
        if self.stride is not None and self.stride < 1:
            raise ParameterError(f"stride must be >= 1, got {self.stride}")
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ParameterError(f"start must be a time >= 0 in seconds, got {self.start}")
        if self.end is not None and not self.end > self.start:
            raise ParameterError(f"end ({self.end:g} s) must be after start ({self.start:g} s)")
        if self.max_side is not None and self.max_side < 2:
            raise ParameterError(f"max_side must be >= 2 pixels, got {self.max_side}")

    @property
    def mode(self) -> str:
        """``"uniform"``, ``"consecutive"`` or ``"all"``."""
        return "all" if self.frames is None else "uniform" if self.stride is None else "consecutive"

    def frame_count(self, info: VideoInfo) -> int:
        """Frames a uniform read takes: ``frames``, or all there are in the span when it holds fewer.

        A clip shorter than asked for is read whole: repeated frames would only add zero differences. The
        count is the container's when it is exact and the span is the whole video, else duration × fps of
        the span (an estimate: variable frame rate, or no frame count stated); ``frames`` when neither is
        known.
        """
        if self.frames is None:
            raise ParameterError("frame_count is for a sampling with a frame count (frames=None reads all)")
        if info.frame_count_exact and self.start == 0 and self.end is None:
            available = info.frame_count
        elif info.duration:
            stop = info.duration if self.end is None else min(info.duration, self.end)
            available = max(1, math.ceil((stop - self.start) * info.fps))
        else:
            available = self.frames
        return min(self.frames, available)


def read_sampled(source: VideoSource, sampling: Sampling) -> Clip:
    """Decode the frames ``sampling`` names (RGB uint8, :math:`(T, H, W, 3)`), at most ``max_side`` pixels.

    Raises:
        VideoError: the file cannot be decoded.
    """
    from mp_core.video_io import probe, read_clip, read_clip_uniform

    if sampling.mode == "uniform":
        count = sampling.frame_count(probe(source))
        return read_clip_uniform(
            source, count, start=sampling.start, end=sampling.end, max_side=sampling.max_side
        )
    return read_clip(
        source,
        max_frames=sampling.frames,
        stride=sampling.stride or 1,
        start=sampling.start,
        max_side=sampling.max_side,
    )
