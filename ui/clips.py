"""The sidebar's clip: what to decode (a hashable spec), decoding, and the clip's tensors (cached)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import NamedTuple

import streamlit as st
from torch import Tensor

from mp_core import InputError
from mp_core.synthetic import SyntheticClip, synthetic_clip
from mp_core.video_io import Clip, VideoInfo, probe, read_clip, read_clip_uniform
from mp_core.viz.clip_view import ClipData, prepare_clip
from ui.samples import list_samples
from ui.state import State


class UploadedClip(NamedTuple):
    name: str
    digest: str
    data: bytes


@dataclass(frozen=True)
class ClipSpec:
    """What to decode and how: hashable, so it keys the caches."""

    kind: str  # "sample" | "upload" | "synthetic"
    ident: str  # sample path | upload sha256 | synthetic options as JSON
    label: str
    sampling: tuple[float, int, str, int, int]  # start, frames, mode, stride, max_side


def sampling_of(state: State) -> tuple[float, int, str, int, int]:
    return (
        float(state["mp.start"]),
        int(state["mp.frames"]),
        str(state["mp.mode"]),
        int(state["mp.stride"]),
        int(state["mp.max_side"]),
    )


def clip_spec(state: State) -> ClipSpec | None:
    """The clip the sidebar asks for, or None when it asks for an upload that has not happened yet."""
    sampling = sampling_of(state)
    source = state["mp.source"]
    samples = list_samples()
    if source == "Sample" and samples:
        names = [s.name for s in samples]
        sample = samples[names.index(state["mp.sample"])] if state["mp.sample"] in names else samples[0]
        return ClipSpec("sample", str(sample.path), sample.title, sampling)
    if source == "Upload":
        upload: UploadedClip | None = state["mp.upload"]
        if upload is None:
            return None
        return ClipSpec("upload", upload.digest, upload.name, sampling)
    options = {k[len("mp.syn.") :]: state[k] for k in sorted(state.keys()) if str(k).startswith("mp.syn.")}
    label = f"synthetic ({options['objects']} object{'s' * (options['objects'] > 1)}, seed {options['seed']})"
    return ClipSpec("synthetic", json.dumps(options, sort_keys=True), label, sampling)


@st.cache_data(max_entries=4, show_spinner=False)
def decode_clip(
    kind: str, ident: str, sampling: tuple[float, int, str, int, int], _data: bytes | None
) -> Clip:
    """Decode once per (clip, sampling); ``_data`` (upload bytes) is keyed by its digest in ``ident``."""
    start, frames, mode, stride, max_side = sampling
    if kind == "synthetic":
        return _synthetic(ident, sampling).clip
    source = _data if kind == "upload" else ident
    if mode == "uniform":
        count = uniform_frame_count(probe(source), start, frames)
        return read_clip_uniform(source, count, start=start, max_side=max_side)
    return read_clip(source, max_frames=frames, stride=stride, start=start, max_side=max_side)


def uniform_frame_count(info: VideoInfo, start: float, frames: int) -> int:
    """Frames to spread from ``start``: ``frames``, or all there are when the clip is shorter.

    A clip shorter than asked for is shown whole: repeated frames would only add zero differences. The
    count is the container's when it is exact and the read starts at 0, else duration × fps from ``start``.
    """
    if info.frame_count_exact and start == 0:
        available = info.frame_count
    else:
        available = max(1, math.ceil((info.duration - start) * info.fps)) if info.duration else frames
    return min(frames, available)


def _synthetic(ident: str, sampling: tuple[float, int, str, int, int]) -> SyntheticClip:
    """The synthetic clip of the sidebar's options: ``max_side`` wide, 4:3, deterministic in its seed."""
    options = json.loads(ident)
    _, frames, _, _, max_side = sampling
    return synthetic_clip(
        num_frames=frames,
        height=max(16, round(max_side * 0.75) // 2 * 2),
        width=max_side,
        num_objects=int(options["objects"]),
        noise=float(options["noise"]),
        flicker=float(options["flicker"]),
        jitter=float(options.get("jitter", 0.0)),
        seed=int(options["seed"]),
    )


@st.cache_data(max_entries=4, show_spinner=False)
def motion_mask(spec: ClipSpec) -> Tensor | None:
    """Ground truth of a synthetic clip: moving-object pixels per frame pair (T-1, H, W); else None."""
    return _synthetic(spec.ident, spec.sampling).pair_mask if spec.kind == "synthetic" else None


@st.cache_data(max_entries=16, show_spinner=False)
def probe_clip(kind: str, ident: str, _data: bytes | None) -> VideoInfo:
    return probe(_data if kind == "upload" else ident)


@st.cache_resource(max_entries=2, show_spinner=False)
def clip_data(spec: ClipSpec, device: str, _data: bytes | None = None) -> ClipData:
    """The clip's tensors on ``device`` (shared, never mutated); raises InputError for unusable clips."""
    return prepare_clip(decode_clip(spec.kind, spec.ident, spec.sampling, _data), device, spec.label)


def upload_bytes(state: State, spec: ClipSpec) -> bytes | None:
    upload: UploadedClip | None = state["mp.upload"]
    return upload.data if spec.kind == "upload" and upload is not None else None


def load_spec(state: State, spec: ClipSpec) -> ClipData:
    return clip_data(spec, state["mp.device"], upload_bytes(state, spec))


def apply_clip_upload(state: State, data: bytes, filename: str) -> bool:
    """Validate an uploaded video by decoding it; only a usable one replaces the current clip."""
    digest = hashlib.sha256(data).hexdigest()
    spec = ClipSpec("upload", digest, filename, sampling_of(state))
    try:
        clip_data(spec, state["mp.device"], data)
    except InputError as err:
        state["mp.upload_error"] = f"Could not use {filename}: {err}"
        return False
    state["mp.upload"] = UploadedClip(filename, digest, data)
    state["mp.source"] = "Upload"
    state["mp.upload_error"] = ""
    return True


def on_clip_upload() -> None:
    upload = st.session_state.get("w.upload")
    if upload is not None:
        apply_clip_upload(st.session_state, upload.getvalue(), upload.name)


def current_clip(state: State) -> tuple[ClipSpec, ClipData] | None:
    """The requested clip, else the last one that loaded (with the reason in ``mp.clip_error``)."""
    spec = clip_spec(state)
    if spec is not None:
        try:
            data = load_spec(state, spec)
        except InputError as err:
            state["mp.clip_error"] = f"Could not use {spec.label}: {err}"
        else:
            state["mp.clip_error"] = ""
            state["mp.last_good"] = spec
            return spec, data
    last: ClipSpec | None = state["mp.last_good"]
    if last is not None and last != spec:
        try:
            return last, load_spec(state, last)
        except InputError:
            pass
    return None
