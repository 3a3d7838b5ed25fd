"""The files of one video and parameter set, written as chunks of frame pairs arrive.

Every file is written under a temporary name (:func:`mp_core.files.atomic_target`) and renamed when complete,
and every PNG folder is filled as ``<stage>.partial`` and moved in, so an interrupted run leaves no
half-written output under a final name, and a rerun redoes exactly what is missing.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import Tensor

from mp_core.files import atomic_target
from mp_core.metrics import AttentionStats
from mp_core.motion import attention_variation, motion_prompt, power_normalization
from mp_core.specs import ParamSpec
from mp_core.video import VideoWriter
from mp_core.viz import render

__all__ = ["STAGES", "MapsWriter", "StreamingStats", "output_paths", "png_name"]

#: What a pair can be shown as, in the method's order.
STAGES: tuple[str, ...] = ("frame", "difference", "attention", "prompt")
#: Opacity of the attention colours over the frame with ``overlay``.
OVERLAY_ALPHA = 0.5
NPZ_NAME, STATS_NAME = "maps.npz", "stats.json"


def png_name(index: int, pairs: int) -> str:
    """``pair_0007.png``: zero-padded to at least 4 digits, more for longer clips, so names sort in order.

    Example:
        >>> png_name(7, 16), png_name(7, 20000)
        ('pair_0007.png', 'pair_00007.png')
    """
    return f"pair_{index:0{max(4, len(str(pairs - 1)))}d}.png"


def output_paths(folder: Path, what: Sequence[str], formats: Sequence[str]) -> list[Path]:
    """Every output of one video and parameter set: PNG folders per stage, MP4 per stage, the npz, the JSON.

    Example:
        >>> [p.name for p in output_paths(Path("out"), ["attention"], ["png", "mp4", "npz"])]
        ['attention', 'attention.mp4', 'maps.npz', 'stats.json']
    """
    paths = []
    for stage in what:
        if "png" in formats:
            paths.append(folder / stage)
        if "mp4" in formats:
            paths.append(folder / f"{stage}.mp4")
    if "npz" in formats:
        paths.append(folder / NPZ_NAME)
    return [*paths, folder / STATS_NAME]


def output_exists(path: Path) -> bool:
    """A file, or a stage folder holding PNGs of a previous run."""
    return path.is_file() or (path.is_dir() and any(path.glob("pair_*.png")))


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _move_pngs(partial: Path, final: Path) -> None:
    """Move a finished PNG folder into place; an old one loses only its ``pair_*.png`` files (a folder is
    merged, not renamed: other files a user put there stay)."""
    final.mkdir(exist_ok=True)
    for old in final.glob("pair_*.png"):
        old.unlink()
    for new in partial.iterdir():
        new.replace(final / new.name)
    partial.rmdir()


class _Aborted(Exception):
    """Ends the files' renames with an error: each temporary file is removed, none renamed."""


class StreamingStats:
    """:func:`mp_core.metrics.attention_stats` of a whole clip, accumulated chunk by chunk.

    Sums are kept in float64 over chunks; the last attention map of a chunk is kept so that the step between
    two chunks counts in R like every other step.

    Example:
        >>> from mp_core.metrics import attention_stats
        >>> attention = torch.rand(9, 4, 5)
        >>> stats = StreamingStats()
        >>> for chunk in attention.split(4):
        ...     stats.add(chunk)
        >>> whole = attention_stats(attention)
        >>> abs(stats.result().variation_mean - whole.variation_mean) < 1e-7, stats.result().variation.shape
        (True, (8,))
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.above = 0
        self.count = 0
        self.previous: Tensor | None = None
        self.variation: list[np.ndarray] = []

    def add(self, attention: Tensor) -> None:
        """Count attention maps :math:`(k, H, W)` of the next ``k`` pairs."""
        self.total += float(attention.sum(dtype=torch.float64))
        self.above += int((attention > 0.5).sum())
        self.count += attention.numel()
        steps = attention if self.previous is None else torch.cat([self.previous[None], attention])
        if steps.shape[0] >= 2:
            self.variation.append(attention_variation(steps).double().cpu().numpy())
        self.previous = attention[-1].clone()  # not a view, which would keep the whole chunk

    def result(self) -> AttentionStats:
        variation = np.concatenate(self.variation) if self.variation else np.zeros(0)
        mean_r = float(variation.mean()) if variation.size else 0.0
        return AttentionStats(
            self.total / max(self.count, 1), self.above / max(self.count, 1), variation, mean_r
        )


class _NpyStream:
    """An ``.npy`` file written front to back: the header (with the final shape) first, then chunks."""

    def __init__(self, path: Path, shape: tuple[int, ...]) -> None:
        self.path, self.shape, self.rows = path, shape, 0
        self.file: BinaryIO = path.open("wb")
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
            "fortran_order": False,
            "shape": shape,
        }
        np.lib.format.write_array_header_2_0(self.file, header)

    def write(self, values: Tensor) -> None:
        array = values.detach().to("cpu", torch.float32).contiguous().numpy()
        if array.shape[1:] != self.shape[1:] or self.rows + len(array) > self.shape[0]:
            raise RuntimeError(f"{self.path.name}: chunk {array.shape} does not fit {self.shape}")
        array.astype("<f4", copy=False).tofile(self.file)
        self.rows += len(array)

    def close(self) -> None:
        self.file.close()


class MapsWriter:
    """Writes the requested outputs of one video and parameter set from chunks of frame pairs.

    Args:
        folder: ``DIR/<video>/<params>``.
        spec: the parameter set.
        targets: the outputs to write (a subset of :func:`output_paths`: existing ones left out).
        pairs: how many pairs the clip has (sizes the npz and the PNG names).
        size: ``(H, W)`` of the frames.
        fps: frame rate of the MP4s.
        limit: half-width of the difference colour range, the same for every pair.
        overlay: draw the attention over the frame stage.
    """

    def __init__(
        self,
        folder: Path,
        spec: ParamSpec,
        targets: Sequence[Path],
        *,
        pairs: int,
        size: tuple[int, int],
        fps: float,
        limit: float,
        overlay: bool,
    ) -> None:
        self.folder, self.spec, self.targets = folder, spec, list(targets)
        self.pairs, self.limit, self.overlay, self.done = pairs, limit, overlay, 0
        self.stats = StreamingStats()
        folder.mkdir(parents=True, exist_ok=True)
        for target in self.targets:
            if _partial(target).is_dir():
                shutil.rmtree(_partial(target))  # left by an interrupted run
        names = {t.name for t in self.targets}
        self.png = {s: _partial(folder / s) for s in STAGES if s in names}
        for path in self.png.values():
            path.mkdir()
        # The files (MP4s, npz, JSON): renamed onto their targets by finish, removed by abort.
        self._files = contextlib.ExitStack()
        self.temporary = {
            t: self._files.enter_context(atomic_target(t)) for t in self.targets if t.name not in STAGES
        }
        self.mp4 = {
            s: VideoWriter(self.temporary[folder / f"{s}.mp4"], fps) for s in STAGES if f"{s}.mp4" in names
        }
        self.npy: dict[str, _NpyStream] = {}
        if NPZ_NAME in names:
            self.parts = folder / ".maps-npz.partial"
            self.parts.mkdir(exist_ok=True)
            height, width = size
            shapes = {
                "difference": (height, width),
                "attention": (height, width),
                "prompt": (height, width, 3),
            }
            self.npy = {k: _NpyStream(self.parts / f"{k}.npy", (pairs, *s)) for k, s in shapes.items()}

    @property
    def needs_prompt(self) -> bool:
        return "prompt" in self.png or "prompt" in self.mp4 or bool(self.npy)

    def add(self, frames: Tensor, frames_u8: Tensor, difference: Tensor) -> None:
        """The next pairs: frames :math:`(k+1, 3, H, W)` in [0, 1] (the previous chunk's last frame first),
        the same later frames as uint8 :math:`(k, H, W, 3)`, differences :math:`(k, H, W)`."""
        params = self.spec.params
        attention = power_normalization(difference, params.slope, params.shift)
        self.stats.add(attention)
        prompt = motion_prompt(attention, frames) if self.needs_prompt else None
        images: dict[str, Tensor] = {}
        wanted = self.png.keys() | self.mp4.keys()
        if "frame" in wanted:
            overlaid = render.overlay(frames_u8, attention, OVERLAY_ALPHA) if self.overlay else frames_u8
            images["frame"] = overlaid
        if "difference" in wanted:
            images["difference"] = render.difference_image(difference, self.limit)
        if "attention" in wanted:
            images["attention"] = render.attention_image(attention)
        if "prompt" in wanted and prompt is not None:
            images["prompt"] = render.frames_to_uint8(prompt)
        for stage, image in images.items():
            host = image.cpu().numpy()
            if stage in self.mp4:
                self.mp4[stage].write(host)
            if stage in self.png:
                for offset, picture in enumerate(host):
                    name = png_name(self.done + offset, self.pairs)
                    (self.png[stage] / name).write_bytes(render.to_png(picture))
        if self.npy:
            self.npy["difference"].write(difference)
            self.npy["attention"].write(attention)
            assert prompt is not None
            self.npy["prompt"].write(prompt.movedim(-3, -1))
        self.done += difference.shape[0]

    def finish(self, summary: dict[str, Any], timestamps: np.ndarray) -> AttentionStats:
        """Close every file, write the npz and the JSON (``summary`` and statistics), move them in place."""
        if self.done != self.pairs:
            raise RuntimeError(f"{self.folder}: got {self.done} pairs, expected {self.pairs}")
        for writer in self.mp4.values():
            writer.close()
        stats = self.stats.result()
        if self.npy:
            self._write_npz(timestamps, stats)
        params = self.spec.params
        record = {
            **summary,
            "params": {
                "spec": self.spec.text,
                "label": self.spec.label,
                "m": params.m,
                "n": params.n,
                "slope": params.slope,
                "shift": params.shift,
            },
            "mean_attention": stats.mean_attention,
            "share_above_half": stats.share_above_half,
            "R": stats.variation_mean,
        }
        stats_path = self.folder / STATS_NAME
        if stats_path in self.targets:
            # One line for the frame times, however many: the rest stays readable.
            text = json.dumps({**record, "frame_times": "@"}, indent=2)
            times = json.dumps(record.get("frame_times", []))
            self.temporary[stats_path].write_text(
                text.replace('"frame_times": "@"', f'"frame_times": {times}') + "\n"
            )
        for stage, partial in self.png.items():
            _move_pngs(partial, self.folder / stage)
        self._files.close()
        return stats

    def _write_npz(self, timestamps: np.ndarray, stats: AttentionStats) -> None:
        for stream in self.npy.values():
            stream.close()
        params = self.spec.params
        small = {
            "timestamps": np.asarray(timestamps, dtype=np.float64),
            "variation": stats.variation,
            **{k: np.float64(getattr(params, k)) for k in ("m", "n", "slope", "shift")},
        }
        # Stored, not deflated: np.load reads each array straight from the archive; parts are copied in
        # blocks, so the npz never has to fit in memory.
        with zipfile.ZipFile(
            self.temporary[self.folder / NPZ_NAME], "w", zipfile.ZIP_STORED, allowZip64=True
        ) as npz:
            for key, stream in self.npy.items():
                npz.write(stream.path, f"{key}.npy")
            for key, value in small.items():
                with npz.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(value))
        shutil.rmtree(self.parts)
        self.npy = {}

    def abort(self) -> None:
        """Remove every partial output (after an error or an interruption)."""
        for writer in self.mp4.values():
            # The error being handled matters more than a second one while cleaning up.
            with contextlib.suppress(Exception):
                writer.close(flush=False)
        for stream in self.npy.values():
            stream.close()
        for partial in self.png.values():
            shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(_Aborted), self._files:
            raise _Aborted
        if self.npy or (self.folder / ".maps-npz.partial").exists():
            shutil.rmtree(self.folder / ".maps-npz.partial", ignore_errors=True)
