"""``write_maps``: decode each video once, run every parameter set on the same frames, write their files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
import torch
from tqdm.auto import tqdm

from mp_core.errors import InputError, ParameterError, VideoError
from mp_core.maps.inputs import VideoInput, find_videos
from mp_core.maps.memory import HeapGuard
from mp_core.maps.outputs import NPZ_NAME, STAGES, MapsWriter, output_exists, output_paths
from mp_core.motion import frame_difference, rgb_to_gray
from mp_core.params import MotionParams
from mp_core.sampling import Sampling, read_sampled
from mp_core.specs import ParamSpec, default_spec, parse_params_spec
from mp_core.video import FrameChunk, iter_frames, probe

__all__ = ["FORMATS", "MapsReport", "Sampling", "write_maps"]

FORMATS: tuple[str, ...] = ("png", "mp4", "npz")
#: Working memory per chunk (float frames, prompts, maps, colour images: ~128 bytes a pixel, measured).
CHUNK_BYTES = 256 * 2**20
BYTES_PER_PIXEL = 128


@dataclass
class MapsReport:
    """What a run did: folders written, outputs skipped because they exist, inputs that failed and why."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def _specs(params: Sequence[str | MotionParams | ParamSpec] | None) -> list[ParamSpec]:
    specs = []
    for item in params or [default_spec()]:
        if isinstance(item, MotionParams):
            item = parse_params_spec(f"m={item.m!r},n={item.n!r}")
        specs.append(item if isinstance(item, ParamSpec) else parse_params_spec(item))
    labels: dict[str, ParamSpec] = {}
    for spec in specs:
        if spec.label in labels and labels[spec.label].params != spec.params:
            raise ParameterError(
                f"{labels[spec.label].text!r} and {spec.text!r} would share the folder {spec.label}"
            )
        labels[spec.label] = spec
    return list(labels.values())


def _uniform_chunk(path: Path, sampling: Sampling, notes: list[str]) -> tuple[FrameChunk, float]:
    """``frames`` spread over the span (all there are when it holds fewer) as one chunk, and the rate."""
    clip = read_sampled(path, sampling)
    notes.extend(f"{clip.name}: {w}" for w in clip.warnings)
    return FrameChunk(clip.frames.numpy(), np.asarray(clip.timestamps)), clip.fps


def _stream(
    path: Path, sampling: Sampling, chunk: int, notes: list[str] | None = None
) -> Iterator[FrameChunk]:
    return iter_frames(
        path,
        start=sampling.start,
        end=sampling.end,
        stride=sampling.stride or 1,
        max_side=sampling.max_side,
        chunk=chunk,
        notes=notes,
    )


def _chunk_frames(path: Path, sampling: Sampling, chunk_frames: int | None) -> int:
    if chunk_frames is not None:
        return chunk_frames
    info = probe(path)
    height, width = info.height, info.width
    if sampling.max_side is not None and max(height, width) > sampling.max_side:
        scale = sampling.max_side / max(height, width)
        height, width = round(height * scale), round(width * scale)
    return int(min(64, max(1, CHUNK_BYTES // (BYTES_PER_PIXEL * height * width))))


def _to_device(frames: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(k, H, W, 3)`` to the device, and as float ``(k, 3, H, W)`` in [0, 1] (as Clip.as_float)."""
    frames_u8 = torch.from_numpy(frames).to(device)
    return frames_u8, frames_u8.permute(0, 3, 1, 2).float().div_(255)


class _Scan(NamedTuple):
    count: int  #: frames kept
    largest: float  #: max |difference| over every pair
    size: tuple[int, int]  #: (H, W)


def _scan(chunks: Iterator[FrameChunk], bar: tqdm, device: torch.device) -> _Scan:
    """First pass over a streamed video: frame count, largest |difference| (the colour range) and size."""
    count, largest, previous, size = 0, 0.0, None, (0, 0)
    guard = HeapGuard()
    for chunk in chunks:
        gray = rgb_to_gray(_to_device(chunk.frames, device)[1])
        if previous is not None:
            gray = torch.cat([previous[None], gray])
        if gray.shape[0] >= 2:
            largest = max(largest, float(frame_difference(gray).abs().max()))
        previous, count, size = gray[-1].clone(), count + len(chunk.frames), chunk.frames.shape[1:3]
        bar.update(len(chunk.frames))
        guard.after_chunk()
    return _Scan(count, largest, size)


def _scan_one(chunk: FrameChunk) -> _Scan:
    return _scan(iter([chunk]), tqdm(disable=True), torch.device("cpu"))


class _Plan(NamedTuple):
    spec: ParamSpec
    folder: Path  #: DIR/<video>/<params>
    targets: list[Path]  #: the outputs to write


@dataclass
class _Job:
    """One run's options, shared by every video."""

    specs: list[ParamSpec]
    out: Path
    sampling: Sampling
    what: Sequence[str]
    formats: Sequence[str]
    overlay: bool
    overwrite: bool
    device: torch.device
    npz_max_bytes: float
    chunk_frames: int | None
    progress: bool | None
    log: Callable[[str], None]
    report: MapsReport = field(default_factory=MapsReport)

    def plans(self, video: VideoInput) -> list[_Plan]:
        """Per parameter set: its folder and the outputs to write (existing ones skipped unless overwrite)."""
        plans = []
        for spec in self.specs:
            folder = self.out / video.name / spec.label
            targets = []
            for path in output_paths(folder, self.what, self.formats):
                if output_exists(path) and not self.overwrite:
                    self.report.skipped.append(path)
                else:
                    targets.append(path)
            if targets:
                plans.append(_Plan(spec, folder, targets))
        return plans

    def frames(self, video: VideoInput, notes: list[str]) -> tuple[Iterator[FrameChunk], _Scan, float]:
        """The video's chunks (a second pass when streamed), what a first pass learns, and the MP4 rate."""
        sampling = self.sampling
        if sampling.mode == "uniform":
            first, fps = _uniform_chunk(video.path, sampling, notes)
            return iter([first]), _scan_one(first), fps
        fps = probe(video.path).fps / (sampling.stride or 1)
        if sampling.mode == "consecutive":
            first = next(_stream(video.path, sampling, sampling.frames or 1, notes))
            return iter([first]), _scan_one(first), fps
        size = _chunk_frames(video.path, sampling, self.chunk_frames)
        with tqdm(desc=f"{video.name}: colour range", unit="frame", disable=self.bars_off) as bar:
            scan = _scan(_stream(video.path, sampling, size, notes), bar, self.device)
        return _stream(video.path, sampling, size), scan, fps

    @property
    def bars_off(self) -> bool | None:
        """tqdm's ``disable``: None shows bars only on a terminal."""
        return None if self.progress is None else not self.progress

    def writers(self, video: VideoInput, plans: list[_Plan], scan: _Scan, fps: float) -> list[MapsWriter]:
        pairs, (height, width) = scan.count - 1, scan.size
        writers: list[MapsWriter] = []
        try:
            for spec, folder, targets in plans:
                npz = folder / NPZ_NAME
                if npz in targets and (needed := pairs * height * width * 5 * 4) > self.npz_max_bytes:
                    targets.remove(npz)
                    self.fail(
                        video,
                        f"{npz} not written: it would hold {needed / 2**30:.2f} GiB ({pairs} pairs at "
                        f"{width}x{height}), over the limit of {self.npz_max_bytes / 2**30:.2f} GiB "
                        "(raise it, or use a stride, a smaller max side or a shorter span)",
                    )
                limit = max(scan.largest, 1e-3)  # the floor of render.symmetric_limit
                writer = MapsWriter(
                    folder,
                    spec,
                    targets,
                    pairs=pairs,
                    size=(height, width),
                    fps=fps,
                    limit=limit,
                    overlay=self.overlay,
                )
                writers.append(writer)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        return writers

    def fail(self, video: VideoInput, reason: str) -> None:
        self.report.failed.append((video.path, reason))
        self.log(f"failed: {video.path}: {reason}")

    def run(self, video: VideoInput) -> None:
        """Every output of one video; an unreadable video is reported and skipped."""
        plans = self.plans(video)
        if not plans:
            self.log(f"skipped {video.path}: every output exists (overwrite replaces them)")
            return
        notes: list[str] = []
        writers: list[MapsWriter] = []
        try:
            chunks, scan, fps = self.frames(video, notes)
            if scan.count < 2:
                raise VideoError(
                    f"{video.path.name}: {scan.count} frame with this sampling; pairs need at least 2 (an "
                    "earlier start, a later end or a smaller stride give more)"
                )
            for note in notes:
                self.log(f"warning: {note}")
            self.report.notes.extend(notes)
            writers = self.writers(video, plans, scan, fps)
            times = _run(chunks, writers, self.device, video.name, scan.count - 1, self.bars_off)
            if len(times) != scan.count:
                raise VideoError(
                    f"{video.path.name}: {len(times)} frames decoded, {scan.count} the first time"
                )
            summary = _summary(video, self.sampling, fps, times, scan, notes)
            for writer in writers:
                writer.finish(summary, times)
                self.report.written.append(writer.folder)
        except (InputError, OSError, av.FFmpegError) as err:
            for writer in writers:
                writer.abort()
            self.fail(video, str(err))
        except BaseException:
            for writer in writers:
                writer.abort()
            raise


def _run(
    chunks: Iterator[FrameChunk],
    writers: list[MapsWriter],
    device: torch.device,
    name: str,
    pairs: int,
    bars_off: bool | None,
) -> np.ndarray:
    """Feed every chunk to every writer, one frame of overlap between chunks; returns the frame times."""
    times: list[np.ndarray] = []
    previous: torch.Tensor | None = None
    guard = HeapGuard()
    with tqdm(total=pairs, desc=name, unit="pair", disable=bars_off) as bar:
        for chunk in chunks:
            frames_u8, frames = _to_device(chunk.frames, device)
            times.append(chunk.timestamps)
            if previous is None:
                frames_u8 = frames_u8[1:]  # the first frame only starts the first pair
            else:
                frames = torch.cat([previous[None], frames])
            previous = frames[-1].clone()  # not a view: the chunk's memory goes when the chunk does
            if frames.shape[0] < 2:
                continue
            difference = frame_difference(rgb_to_gray(frames))
            for writer in writers:
                writer.add(frames, frames_u8, difference)
            bar.update(difference.shape[0])
            del frames, frames_u8, difference
            guard.after_chunk()
    return np.concatenate(times)


def _summary(
    video: VideoInput, sampling: Sampling, fps: float, times: np.ndarray, scan: _Scan, notes: list[str]
) -> dict[str, Any]:
    return {
        "video": str(video.path),
        "name": video.name,
        "sampling": {"mode": sampling.mode, **asdict(sampling)},
        "frames": len(times),
        "pairs": len(times) - 1,
        "height": scan.size[0],
        "width": scan.size[1],
        "mp4_fps": fps,
        "difference_limit": max(scan.largest, 1e-3),
        "frame_times": [round(float(t), 6) for t in times],
        "warnings": notes,
    }


def write_maps(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    params: Sequence[str | MotionParams | ParamSpec] | None = None,
    sampling: Sampling | None = None,
    what: Sequence[str] = STAGES,
    formats: Sequence[str] = ("png", "mp4"),
    overlay: bool = False,
    overwrite: bool = False,
    device: str | torch.device = "cpu",
    npz_max_bytes: float = 4 * 2**30,
    chunk_frames: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> MapsReport:
    """Write difference maps, attention maps and motion prompts of videos, per parameter set.

    Outputs go to ``out/<video>/<params label>/``: a folder of PNGs per stage (``difference/pair_0000.png``;
    colormaps of :mod:`mp_core.viz.render`: differences over the clip's symmetric range ``max |D|``, attention
    over [0, 1]), an H.264 MP4 per stage (``attention.mp4``), ``maps.npz`` (float32 ``difference`` and
    ``attention`` :math:`(T-1, H, W)`, ``prompt`` :math:`(T-1, H, W, 3)`, float64 ``timestamps`` :math:`(T,)`,
    ``variation`` :math:`(T-2,)`, ``m``, ``n``, ``slope``, ``shift``) and ``stats.json`` (mean attention,
    share above 0.5, R, the frame times). Each video is decoded once for all parameter sets.

    With ``Sampling(frames=None)`` the whole span is streamed in chunks with a first pass for the colour
    range, so memory does not grow with the video's length (the npz is written to disk as it goes, and
    refused above ``npz_max_bytes``).

    Args:
        inputs: video files and folders (searched recursively for :data:`~mp_core.sources.VIDEO_SUFFIXES`).
        out: the output folder.
        params: parameter sets: preset names, ``"m=…,n=…"``, checkpoint/JSON paths, :class:`MotionParams` or
            :class:`~mp_core.specs.ParamSpec`; default: :data:`~mp_core.params.DEFAULT_PRESET`.
        sampling: which frames (:class:`Sampling`); default: 16 frames uniformly over the clip at 320 px.
        what: stages among ``frame``, ``difference``, ``attention``, ``prompt``.
        formats: among ``png``, ``mp4``, ``npz`` (the JSON is always written).
        overlay: the frame stage shows the attention over the frame (alpha 0.5).
        overwrite: replace existing outputs (else each existing output is skipped and listed).
        device: where the maps are computed (``"cpu"``, ``"cuda"``).
        npz_max_bytes: largest npz written; a larger one is refused (reported as failed).
        chunk_frames: frames per chunk when streaming (default: what fits in ~256 MiB of working memory).
        progress: tqdm bars (None: only on a terminal).
        log: called with a line for every skip, failure and warning (default: nothing printed).

    Returns:
        :class:`MapsReport`; ``report.ok`` is False when a video or an output failed.

    Raises:
        ParameterError / CheckpointError: a bad parameter set, stage or format (before anything is read).

    Example:
        >>> import tempfile
        >>> from mp_core.synthetic import synthetic_clip
        >>> from mp_core.video import write_video
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     frames = synthetic_clip(num_frames=8, height=32, width=48).clip.frames
        ...     write_video(f"{folder}/walk.mp4", frames, fps=8)
        ...     video, out = f"{folder}/walk.mp4", f"{folder}/maps"
        ...     report = write_maps(video, out, params=["FineGym"], progress=False)
        ...     outputs = Path(folder) / "maps" / "walk" / "FineGym"
        ...     sorted(p.name for p in outputs.iterdir() if p.is_file()), len(list(outputs.glob("*/*.png")))
        (['attention.mp4', 'difference.mp4', 'frame.mp4', 'prompt.mp4', 'stats.json'], 28)
    """
    for name, values, known in (("stage", what, STAGES), ("format", formats, FORMATS)):
        unknown = [v for v in values if v not in known]
        if unknown or not values:
            raise ParameterError(
                f"unknown {name} {', '.join(unknown) or '(none given)'}: choose from {', '.join(known)}"
            )
    job = _Job(
        specs=_specs(params),
        out=Path(out),
        sampling=sampling or Sampling(),
        what=[s for s in STAGES if s in what],
        formats=[f for f in FORMATS if f in formats],
        overlay=overlay,
        overwrite=overwrite,
        device=torch.device(device),
        npz_max_bytes=npz_max_bytes,
        chunk_frames=chunk_frames,
        progress=progress,
        log=log or (lambda _: None),
    )
    videos, missing = find_videos([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)
    for path, reason in missing:
        job.report.failed.append((path, reason))
        job.log(f"failed: {path}: {reason}")
    for video in videos:
        job.run(video)
    return job.report
