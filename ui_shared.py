"""Streamlit code shared by the pages: session state, the sidebar, cached clip loading and the viewer panels.

Canonical values live in ``st.session_state`` under ``mp.*`` keys, initialised in one place
(:data:`DEFAULTS`). Widgets use their own ``w.*`` keys: Streamlit drops a widget's value when a page
without that widget runs, so each widget is re-seeded from its canonical key before it is created and
writes back through ``on_change``. Handlers that react to user input take the state mapping as an
argument, so tests can call them with a plain dict.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import streamlit as st
import torch
from torch import Tensor

from mp_core import (
    PRESETS,
    InputError,
    MotionParams,
    render,
)
from mp_core.checkpoints import load_params, params_to_json
from mp_core.clip_view import ClipData, PairImages, prepare_clip
from mp_core.power_norms import COMPARISON_NORMS
from mp_core.samples import list_samples
from mp_core.synthetic import SyntheticClip, synthetic_clip
from mp_core.video_io import Clip, VideoInfo, probe, read_clip, read_clip_uniform

State = MutableMapping[str, Any]

DEFAULT_PRESET = "MPII Cooking 2"
CUSTOM = "Custom"
SOURCES = ("Sample", "Upload", "Synthetic")
VIDEO_TYPES = ["mp4", "avi", "mov", "mkv", "webm"]
CHECKPOINT_TYPES = ["pyth", "pt", "pth", "ckpt", "safetensors", "json"]
MAX_SIDES = [128, 160, 224, 256, 320, 480, 640]
# Slider ranges: the reachable ranges of slope and shift, cut to multiples of the step so that keyboard
# steps land on round values; values beyond them (|m| > ~3.3, |n| > ~3.5) are shown clamped, kept exact.
SLOPE_SLIDER = (9.10, 50.0, 0.01)
SHIFT_SLIDER = (-0.599, 0.599, 0.001)
RAW_SLIDER = (-5.0, 5.0, 0.01)

DEFAULTS: dict[str, Any] = {
    "mp.m": PRESETS[DEFAULT_PRESET].params.m,
    "mp.n": PRESETS[DEFAULT_PRESET].params.n,
    "mp.preset": DEFAULT_PRESET,
    "mp.raw": False,
    "mp.params_note": "",
    "mp.ckpt_error": "",
    "mp.source": "Sample",
    "mp.sample": None,
    "mp.upload": None,
    "mp.clip_error": "",  # the requested clip does not load (cleared when it does)
    "mp.upload_error": "",  # the last uploaded video was rejected (cleared by the next good one)
    "mp.syn.objects": 1,
    "mp.syn.noise": 0.0,
    "mp.syn.flicker": 0.0,
    "mp.syn.jitter": 0.0,
    "mp.syn.seed": 0,
    "mp.start": 0.0,
    "mp.frames": 16,
    "mp.mode": "uniform",  # frames spread over the whole clip, as models are fed: the action is in view
    "mp.stride": 1,
    "mp.max_side": 320,
    "mp.device": None,
    "mp.pair": 0,
    "mp.playing": False,
    "mp.last_good": None,
    # Compare page
    "mp.cmp.view": "Parameter sets",
    "mp.cmp.count": 3,
    "mp.cmp.choice.0": "Current sliders",
    "mp.cmp.choice.1": "FineGym",
    "mp.cmp.choice.2": "HMDB-51",
    "mp.cmp.choice.3": "UCF-Crime",
    "mp.cmp.ckpt.0": None,
    "mp.cmp.ckpt.1": None,
    "mp.cmp.ckpt.2": None,
    "mp.cmp.ckpt.3": None,
    **{f"mp.pn.{name}": spec.default for name, spec in COMPARISON_NORMS.items()},
}
CURRENT = "Current sliders"
FOCUS_HELP = (
    "Mean attention on the moving objects minus mean attention elsewhere (ground truth of the synthetic "
    "clip): 0 = no preference, 1 = only the motion, below 0 = the static rest."
)
FROM_CHECKPOINT = "From a checkpoint…"


def available_devices() -> list[str]:
    """CUDA first when present, else only the CPU."""
    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def init_state(state: State) -> None:
    """Put every canonical key that is missing to its default (once per session)."""
    for key, value in DEFAULTS.items():
        state.setdefault(key, value)
    if state["mp.device"] is None:
        state["mp.device"] = available_devices()[0]


def setup_page(title: str) -> None:
    """Page config and state; call first on every page."""
    st.set_page_config(page_title=f"{title} · Motion Prompt Explorer", page_icon="🎞️", layout="wide")
    init_state(st.session_state)


def current_params(state: State) -> MotionParams:
    return MotionParams(state["mp.m"], state["mp.n"])


# --- parameter handlers (callbacks; they take the state so tests can pass a dict) ----------------------


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def sync_param_widgets(state: State) -> None:
    """Seed the slope/shift and raw m/n widgets from the canonical (m, n), clamped to the slider ranges."""
    params = current_params(state)
    state["w.slope"] = _clamp(params.slope, SLOPE_SLIDER[0], SLOPE_SLIDER[1])
    state["w.shift"] = _clamp(params.shift, SHIFT_SLIDER[0], SHIFT_SLIDER[1])
    state["w.m"] = _clamp(params.m, RAW_SLIDER[0], RAW_SLIDER[1])
    state["w.n"] = _clamp(params.n, RAW_SLIDER[0], RAW_SLIDER[1])
    state["w.preset"] = state["mp.preset"] or CUSTOM


def set_params(state: State, params: MotionParams, preset: str | None = None, note: str = "") -> None:
    """Make ``params`` current, and show them in the widgets on the next run."""
    state["mp.m"], state["mp.n"] = params.m, params.n
    state["mp.preset"] = preset
    state["mp.params_note"] = note
    sync_param_widgets(state)


def on_slope(state: State) -> None:
    """Slope slider moved: new |m|, same sign of m (a depends on |tanh m|), n untouched."""
    old = current_params(state)
    m = MotionParams.from_slope_shift(float(state["w.slope"]), 0.0).m
    set_params(state, MotionParams(math.copysign(m, old.m), old.n))


def on_shift(state: State) -> None:
    """Shift slider moved: new n, m untouched."""
    old = current_params(state)
    n = MotionParams.from_slope_shift(50.0, float(state["w.shift"])).n
    set_params(state, MotionParams(old.m, n))


def on_raw(state: State) -> None:
    set_params(state, MotionParams(float(state["w.m"]), float(state["w.n"])))


def on_preset(state: State) -> None:
    name = state["w.preset"]
    if name in PRESETS:
        set_params(state, PRESETS[name].params, preset=name, note=PRESETS[name].source)
    else:
        state["mp.preset"] = None


def on_reset(state: State) -> None:
    preset = PRESETS[DEFAULT_PRESET]
    set_params(state, preset.params, preset=DEFAULT_PRESET, note=preset.source)
    state["mp.ckpt_error"] = ""


def apply_checkpoint(state: State, data: bytes, filename: str) -> bool:
    """Load learned (m, n) from an uploaded checkpoint; on failure keep the values and store the message."""
    try:
        params = load_params(data, name=filename)
    except InputError as err:
        state["mp.ckpt_error"] = f"Could not load learned values from {filename}: {err}"
        return False
    set_params(state, params, note=f"Loaded from {filename}")
    state["mp.ckpt_error"] = ""
    return True


def _on_checkpoint_upload() -> None:
    upload = st.session_state.get("w.ckpt")
    if upload is not None:
        apply_checkpoint(st.session_state, upload.getvalue(), upload.name)


def apply_compare_checkpoint(state: State, index: int, data: bytes, filename: str) -> bool:
    """Learned values for column ``index`` of the Compare page; the sidebar's values are untouched."""
    try:
        params = load_params(data, name=filename)
    except InputError as err:
        state[f"mp.cmp.ckpt_error.{index}"] = f"Could not load learned values from {filename}: {err}"
        return False
    state[f"mp.cmp.ckpt.{index}"] = (filename, params)
    state[f"mp.cmp.ckpt_error.{index}"] = ""
    return True


def compare_params(state: State, index: int) -> tuple[str, MotionParams] | None:
    """Label and values of Compare column ``index``; None while its checkpoint is not loaded yet."""
    choice = state[f"mp.cmp.choice.{index}"]
    if choice == CURRENT:
        return f"{index + 1}: current", current_params(state)
    if choice in PRESETS:
        return f"{index + 1}: {choice}", PRESETS[choice].params
    loaded: tuple[str, MotionParams] | None = state[f"mp.cmp.ckpt.{index}"]
    return None if loaded is None else (f"{index + 1}: {loaded[0]}", loaded[1])


def compare_checkpoint_uploader(index: int) -> None:
    """The uploader of a Compare column, with its error if the last file was rejected."""

    def on_upload() -> None:
        upload = st.session_state.get(f"w.cmp.upload.{index}")
        if upload is not None:
            apply_compare_checkpoint(st.session_state, index, upload.getvalue(), upload.name)

    st.file_uploader("Checkpoint", type=CHECKPOINT_TYPES, key=f"w.cmp.upload.{index}", on_change=on_upload)
    if st.session_state.get(f"mp.cmp.ckpt_error.{index}"):
        st.error(st.session_state[f"mp.cmp.ckpt_error.{index}"])


# --- clips: spec, decoding and device tensors (cached) -------------------------------------------------


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
        # A clip shorter than asked for is shown whole: repeated frames would only add zero differences.
        info = probe(source)
        if info.frame_count_exact and start == 0:
            available = info.frame_count
        else:
            available = max(1, math.ceil((info.duration - start) * info.fps)) if info.duration else frames
        return read_clip_uniform(source, min(frames, available), start=start, max_side=max_side)
    return read_clip(source, max_frames=frames, stride=stride, start=start, max_side=max_side)


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


def _upload_bytes(state: State, spec: ClipSpec) -> bytes | None:
    upload: UploadedClip | None = state["mp.upload"]
    return upload.data if spec.kind == "upload" and upload is not None else None


def load_spec(state: State, spec: ClipSpec) -> ClipData:
    return clip_data(spec, state["mp.device"], _upload_bytes(state, spec))


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


def _on_clip_upload() -> None:
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


# --- sidebar -------------------------------------------------------------------------------------------


def _store(widget: str, canonical: str) -> None:
    st.session_state[canonical] = st.session_state[widget]


def bind(canonical: str, widget: str) -> dict[str, Any]:
    """Seed ``widget`` from ``canonical`` and write back on change: kwargs for the widget call."""
    st.session_state[widget] = st.session_state[canonical]
    return {"key": widget, "on_change": _store, "args": (widget, canonical)}


def _call(handler: Callable[[State], None]) -> Callable[[], None]:
    return lambda: handler(st.session_state)


def sidebar() -> tuple[ClipSpec, ClipData, MotionParams] | None:
    """Clip, sampling, parameters and device; returns the clip to show and the current parameters."""
    state = st.session_state
    with st.sidebar:
        st.subheader("Clip")
        _clip_widgets(state)
        loaded = current_clip(state)
        if loaded is not None:
            _probe_caption(state, *loaded)
        st.subheader("Parameters")
        _param_widgets(state)
        devices = available_devices()
        if len(devices) > 1:
            st.selectbox("Device", devices, **bind("mp.device", "w.device"))
        else:
            st.caption("Device: **CPU** (no CUDA device found)")
    for key in ("mp.upload_error", "mp.clip_error"):
        if state[key]:
            shown = f" Still showing {loaded[0].label}." if loaded is not None else ""
            st.error(state[key] + shown)
    if loaded is None:
        st.info("Choose a clip in the sidebar: upload a video, or pick a sample or a synthetic clip.")
        return None
    return loaded[0], loaded[1], current_params(state)


def clip_page(title: str) -> tuple[ClipSpec, ClipData, MotionParams]:
    """Preamble of a page that shows the sidebar's clip: config, title and sidebar; stops without a clip."""
    setup_page(title)
    st.title(title)
    loaded = sidebar()
    if loaded is None:
        st.stop()
    state = st.session_state
    state["mp.pair"] = min(state["mp.pair"], loaded[1].num_pairs - 1)  # a shorter clip than before
    return loaded


def _clip_widgets(state: State) -> None:
    st.segmented_control("Clip source", SOURCES, required=True, **bind("mp.source", "w.source"))
    samples = list_samples()
    if state["mp.source"] == "Sample":
        if samples:
            if state["mp.sample"] is None:
                state["mp.sample"] = samples[0].name
            titles = {s.name: s.title for s in samples}
            st.selectbox("Sample", list(titles), format_func=titles.get, **bind("mp.sample", "w.sample"))
        else:
            st.caption("No sample clips are shipped: a synthetic clip is shown.")
    elif state["mp.source"] == "Upload":
        st.file_uploader("Video file", type=VIDEO_TYPES, key="w.upload", on_change=_on_clip_upload)
        if state["mp.upload"] is None:
            st.caption("Showing the previous clip until a video is uploaded.")
    else:
        st.slider("Moving objects", 1, 4, **bind("mp.syn.objects", "w.syn.objects"))
        st.slider("Sensor noise (std)", 0.0, 0.2, step=0.01, **bind("mp.syn.noise", "w.syn.noise"))
        st.slider("Lighting flicker", 0.0, 0.3, step=0.01, **bind("mp.syn.flicker", "w.syn.flicker"))
        st.slider("Camera jitter (px)", 0.0, 4.0, step=0.5, **bind("mp.syn.jitter", "w.syn.jitter"))
        st.number_input("Seed", 0, 10_000, **bind("mp.syn.seed", "w.syn.seed"))
    with st.expander("Sampling", expanded=False):
        st.number_input("Start (s)", 0.0, step=0.5, **bind("mp.start", "w.start"))
        st.slider("Frames", 2, 128, **bind("mp.frames", "w.frames"))
        st.radio("Sampling", ["stride", "uniform"], horizontal=True, **bind("mp.mode", "w.mode"))
        if state["mp.mode"] == "stride":
            st.number_input("Stride (frames)", 1, 32, **bind("mp.stride", "w.stride"))
        st.select_slider("Max side (px)", MAX_SIDES, **bind("mp.max_side", "w.max_side"))


def _probe_caption(state: State, spec: ClipSpec, data: ClipData) -> None:
    clip = data.clip
    frames, height, width = clip.frames.shape[0], clip.frames.shape[1], clip.frames.shape[2]
    lines = [f"**{spec.label}** · {frames} frames at {width}×{height}"]
    if spec.kind != "synthetic":
        try:
            info = probe_clip(spec.kind, spec.ident, _upload_bytes(state, spec))
            lines.append(
                f"{info.duration:.2f} s · {info.fps:.2f} fps · {info.width}×{info.height} · {info.codec}"
            )
        except InputError:
            pass
    st.caption("  \n".join(lines))


def _param_widgets(state: State) -> None:
    sync_param_widgets(state)
    st.toggle("Raw m, n", key="w.raw_toggle", value=state["mp.raw"], on_change=_toggle_raw)
    if state["mp.raw"]:
        low, high, step = RAW_SLIDER
        st.slider("m", low, high, step=step, format="%.4f", key="w.m", on_change=_call(on_raw))
        st.slider("n", low, high, step=step, format="%.4f", key="w.n", on_change=_call(on_raw))
    else:
        low, high, step = SLOPE_SLIDER
        st.slider("Slope a", low, high, step=step, format="%.2f", key="w.slope", on_change=_call(on_slope))
        low, high, step = SHIFT_SLIDER
        st.slider("Shift b", low, high, step=step, format="%.3f", key="w.shift", on_change=_call(on_shift))
    params = current_params(state)
    st.caption(f"m = {params.m:.4f}, n = {params.n:.4f} → a = {params.slope:.3f}, b = {params.shift:.4f}")
    st.selectbox(
        "Preset (published learned values)", [CUSTOM, *PRESETS], key="w.preset", on_change=_call(on_preset)
    )
    if state["mp.params_note"]:
        st.caption(state["mp.params_note"])
    st.file_uploader(
        "Load learned values", type=CHECKPOINT_TYPES, key="w.ckpt", on_change=_on_checkpoint_upload
    )
    if state["mp.ckpt_error"]:
        st.error(state["mp.ckpt_error"])
    left, right = st.columns(2)
    left.button("Reset", key="w.reset", on_click=_call(on_reset), width="stretch")
    right.download_button(
        "Values JSON",
        params_to_json(params),
        file_name="motion_prompt_params.json",
        mime="application/json",
        key="w.params_json",
        on_click="ignore",
        width="stretch",
    )


def _toggle_raw() -> None:
    st.session_state["mp.raw"] = st.session_state["w.raw_toggle"]


# --- panels --------------------------------------------------------------------------------------------


PANEL_TITLES = ("Frame", "Difference", "Attention", "Prompt")


def show_panels(images: PairImages, t: int, limit: float, overlay: bool = False) -> None:
    """Four columns: frame (or overlay), difference with colour bar, attention with colour bar, prompt."""
    columns = st.columns(4, gap="small")
    frame_caption = f"Frame Xₜ₊₁ with attention overlay · t = {t}" if overlay else f"Frame Xₜ₊₁ · t = {t}"
    columns[0].image(images.frame, caption=frame_caption, width="stretch")
    columns[1].image(images.difference, caption=f"Difference Dₜ = Gₜ₊₁ − Gₜ · t = {t}", width="stretch")
    columns[1].image(render.colorbar_image(render.DIFFERENCE_CMAP), width="stretch")
    columns[1].caption(f"−{limit:.3f} ← 0 → +{limit:.3f} (darker · brighter)")
    columns[2].image(images.attention, caption=f"Attention Aₜ = σ(a(Dₜ − b)) · t = {t}", width="stretch")
    columns[2].image(render.colorbar_image(render.ATTENTION_CMAP), width="stretch")
    columns[2].caption("0 ← 0.5 → 1")
    columns[3].image(images.prompt, caption=f"Prompt Pₜ = Aₜ ⊙ Xₜ₊₁ · t = {t}", width="stretch")
