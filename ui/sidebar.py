"""The sidebar shared by every page: clip, sampling, parameters and device."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st
import torch

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import params_to_json
from mp_core.viz.clip_view import ClipData
from ui.clips import ClipSpec, current_clip, on_clip_upload, probe_clip
from ui.samples import list_samples
from ui.state import (
    CHECKPOINT_TYPES,
    CUSTOM,
    MAX_SIDES,
    RAW_SLIDER,
    SHIFT_SLIDER,
    SLOPE_SLIDER,
    SOURCES,
    VIDEO_TYPES,
    State,
    available_devices,
    bind,
    call,
    current_params,
    init_state,
    on_checkpoint_upload,
    on_preset,
    on_raw,
    on_reset,
    on_shift,
    on_slope,
    preset_key,
    sync_param_widgets,
)


class Page(NamedTuple):
    path: str  #: relative to the app's folder
    label: str
    icon: str
    blurb: str  #: what the home page says of it


#: The app's pages, in menu order: the sidebar's menu and the home page's list. Streamlit's own menu would
#: call the entry page "app" (its file name), so the app draws its own. Material icons ship with
#: Streamlit's front end (emoji need a font that headless machines lack).
PAGES = (
    Page("app.py", "Home", ":material/home:", "The method in five steps, on the current clip."),
    Page(
        "pages/1_Explore.py",
        "Explore",
        ":material/motion_photos_on:",
        "Every stage for one frame pair; move slope and shift and watch.",
    ),
    Page(
        "pages/2_Compare.py",
        "Compare",
        ":material/compare:",
        "Learned values and other power normalizations side by side.",
    ),
    Page(
        "pages/3_Dataset.py",
        "Dataset",
        ":material/dataset:",
        "Learned attention on samples of a dataset on disk.",
    ),
    Page(
        "pages/4_Learn.py",
        "Learn",
        ":material/model_training:",
        "Learn slope and shift on labelled clips for several λ, live.",
    ),
)


@st.cache_resource(show_spinner=False)
def configure_server() -> None:
    """Once per server process: one torch thread per script run.

    Every session's rerun runs in its own thread; torch's intra-op pool per run (one thread per core) made
    them fight over the cores when several people moved sliders at once (bench/bench_app.py --sessions).
    """
    torch.set_num_threads(1)


def setup_page(title: str) -> None:
    """Page config, session state and the page menu; call first on every page."""
    st.set_page_config(page_title=f"{title} · Motion Prompt Explorer", page_icon="🎞️", layout="wide")
    configure_server()
    init_state(st.session_state)
    with st.sidebar:
        for page in PAGES:
            st.page_link(page.path, label=page.label, icon=page.icon)


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
            shown = next((s for s in samples if s.name == state["mp.sample"]), samples[0])
            st.caption(f"{shown.description} {shown.credit} ({shown.license}).")
        else:
            st.caption("No sample clips are shipped: a synthetic clip is shown.")
    elif state["mp.source"] == "Upload":
        st.file_uploader("Video file", type=VIDEO_TYPES, key="w.upload", on_change=on_clip_upload)
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
            info = probe_clip(spec.kind, spec.ident)
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
        st.slider("m", low, high, step=step, format="%.4f", key="w.m", on_change=call(on_raw))
        st.slider("n", low, high, step=step, format="%.4f", key="w.n", on_change=call(on_raw))
    else:
        low, high, step = SLOPE_SLIDER
        st.slider("Slope a", low, high, step=step, format="%.2f", key="w.slope", on_change=call(on_slope))
        low, high, step = SHIFT_SLIDER
        st.slider("Shift b", low, high, step=step, format="%.3f", key="w.shift", on_change=call(on_shift))
    params = current_params(state)
    st.caption(f"m = {params.m:.4f}, n = {params.n:.4f} → a = {params.slope:.3f}, b = {params.shift:.4f}")
    presets = [CUSTOM, *PRESETS]
    preset = preset_key(state)
    st.selectbox(
        "Preset (published learned values)",
        presets,
        index=presets.index(state["mp.preset"] or CUSTOM),
        key=preset,
        on_change=lambda: on_preset(st.session_state, preset),
    )
    if state["mp.params_note"]:
        st.caption(state["mp.params_note"])
    st.file_uploader(
        "Load learned values", type=CHECKPOINT_TYPES, key="w.ckpt", on_change=on_checkpoint_upload
    )
    if state["mp.ckpt_error"]:
        st.error(state["mp.ckpt_error"])
    left, right = st.columns(2)
    left.button("Reset", key="w.reset", on_click=call(on_reset), width="stretch")
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
