"""Browser-playable H.264 MP4: the one encoder set-up, for a whole clip (:func:`write_video`) or chunk by
chunk (:class:`VideoWriter`, any length in bounded memory)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter
from torch import Tensor

from mp_core.errors import ShapeError, VideoError

__all__ = ["VideoWriter", "write_video"]


class VideoWriter:
    """An H.264 (yuv420p) MP4 with faststart, written chunk by chunk: what every browser and ``st.video``
    play.

    The size is fixed by the first frames written; odd widths/heights are padded by repeating the last
    row/column (x264 needs even sizes). Colours are converted with BT.709 (limited range) and tagged so.
    Memory stays that of the encoder, whatever the length. Use it as a context manager: leaving the block
    flushes the encoder and finishes the file (nothing is written when no frame was).

    Args:
        path: the MP4 file to write.
        fps: frame rate (> 0).
        crf: x264 constant rate factor (lower is better quality).
        qp: a constant quantiser instead of ``crf``: the same frames give the same bytes on every run (x264's
            crf rate control does not: re-encoding one clip gave decoded frames 1 level apart on average).

    Example:
        >>> import tempfile
        >>> from mp_core.video import probe
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "out.mp4"
        ...     with VideoWriter(path, fps=10) as writer:
        ...         for _ in range(3):
        ...             writer.write(np.zeros((4, 15, 20, 3), dtype=np.uint8))
        ...     info = probe(path)
        >>> info.frame_count, info.height, info.width, writer.frames_written
        (12, 16, 20, 12)
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, crf: int = 20, qp: int | None = None) -> None:
        if not (math.isfinite(fps) and fps > 0):
            raise VideoError(f"fps must be > 0, got {fps}")
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.options = {"crf": str(crf)} if qp is None else {"qp": str(qp)}
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        # One converter for every frame: VideoFrame.reformat sets up a new swscale context per call, which
        # cost 1 ms a frame at 128x96 (0.05 ms reused) and 2.7 ms at 640x360 (0.9 ms reused) here.
        self._reformatter = VideoReformatter()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close(flush=kind is None)

    def _open(self, height: int, width: int) -> None:
        container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
        stream = container.add_stream("libx264", rate=self.rate, options=self.options)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        # The frame time base must come from the codec (1/fps): the stream's is only known after the header.
        context = stream.codec_context
        context.time_base = 1 / self.rate
        # Convert with BT.709 (limited range) and say so in the stream: untagged H.264 leaves the matrix to
        # each player's guess (BT.601 or BT.709), which shifts colours by up to ~20 levels.
        context.colorspace, context.color_range = Colorspace.ITU709.value, ColorRange.MPEG.value
        context.color_primaries, context.color_trc = ColorPrimaries.BT709.value, ColorTrc.BT709.value
        self._container, self._stream, self._size = container, stream, (height, width)

    def write(self, frames: np.ndarray | Tensor) -> None:
        """Encode uint8 RGB frames :math:`(k, H, W, 3)` (or one frame :math:`(H, W, 3)`)."""
        array = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
            raise ShapeError(f"frames must be uint8 (k, H, W, 3), got {array.dtype} {list(array.shape)}")
        if self._container is None:
            self._open(*array.shape[1:3])
        if tuple(array.shape[1:3]) != self._size:
            raise ShapeError(f"frames must all be {self._size}, got {tuple(array.shape[1:3])}")
        height, width = array.shape[1:3]
        if height % 2 or width % 2:
            array = np.pad(array, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        assert self._container is not None and self._stream is not None
        for rgb in array:
            frame = self._reformatter.reformat(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"),
                format="yuv420p",
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = self.frames_written
            frame.time_base = self._stream.codec_context.time_base
            self._container.mux(self._stream.encode(frame))
            self.frames_written += 1

    def close(self, flush: bool = True) -> None:
        """Flush the encoder (unless ``flush`` is False, after an error) and finish the file."""
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            if flush and self._stream is not None:
                container.mux(self._stream.encode(None))
        finally:
            container.close()


def write_video(
    target: str | os.PathLike | BinaryIO,
    frames: Tensor | np.ndarray,
    fps: float,
    *,
    progress: Callable[[int, int], None] | None = None,
    crf: int = 20,
    qp: int | None = None,
) -> None:
    """Write a clip as an H.264 (yuv420p) MP4 with faststart, as :class:`VideoWriter` writes it.

    Args:
        target: path or writable, seekable binary file.
        frames: uint8 :math:`(T, H, W, 3)` RGB, tensor or array.
        fps: frame rate (> 0).
        progress: called as ``progress(frames_done, total)`` after each frame.
        crf: x264 constant rate factor (lower is better quality).
        qp: a constant quantiser instead of ``crf`` (the same frames give the same bytes on every run).
    """
    array = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] < 1:
        raise ShapeError(f"frames must be (T, H, W, 3) with T >= 1, got shape {list(array.shape)}")
    if array.dtype != np.uint8:
        raise ShapeError(f"frames must be uint8, got {array.dtype}")
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(f"fps must be > 0, got {fps}")
    if not isinstance(target, (str, os.PathLike)):
        # faststart rewrites the file by name at the end, so a file object gets a temporary file's bytes.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "video.mp4"
            write_video(path, array, fps, progress=progress, crf=crf, qp=qp)
            target.write(path.read_bytes())
        return
    with VideoWriter(target, fps, crf=crf, qp=qp) as writer:
        for index, rgb in enumerate(array):
            writer.write(rgb)
            if progress is not None:
                progress(index + 1, len(array))
