"""Dataset: learned attention on the samples of a dataset on the server's disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from mp_core import InputError, MotionParams, Sample, VideoDataset, open_dataset
from mp_core.datasets import SPLIT_FILES
from mp_core.video_io import distinct_frames
from mp_core.viz import clip_view as view
from ui.clips import sampling_of
from ui.panels import show_panels
from ui.sidebar import setup_page, sidebar
from ui.state import current_params

setup_page("Dataset")
st.title("Dataset")
sidebar()  # parameters, sampling and device come from the sidebar; its clip is not used here
params = current_params(st.session_state)
state = st.session_state
state.setdefault("mp.ds.path", "")
state.setdefault("mp.ds.recent", [])
state.setdefault("mp.ds.error", "")
state.setdefault("mp.ds.unreadable", {})  # dataset path -> {sample key: why it did not decode}
ALL = "All"
THUMB_SIDE = 224  # thumbnails: a smaller decode is enough
Sampling = tuple[int, str, int, int]  # frames, mode, stride, max side


def listing_stamp(path: str) -> tuple[float, ...]:
    """Modification times that change when the listing would: the path, its split lists, its class folders."""
    root = Path(path).expanduser()
    try:
        stamps = [root.stat().st_mtime]
        if root.is_dir():
            children = [root / name for name in SPLIT_FILES] + [p for p in root.iterdir() if p.is_dir()]
            stamps += [p.stat().st_mtime for p in sorted(children) if p.exists()]
        return tuple(stamps)
    except OSError:
        return ()


@st.cache_resource(max_entries=4, show_spinner="Listing the dataset…")
def listed(path: str, stamp: tuple[float, ...]) -> VideoDataset:
    """Listing only (nothing decoded), kept while the files it came from are unchanged."""
    return open_dataset(path)


@st.cache_resource(max_entries=4, show_spinner=False)
def sample_clip(
    path: str, stamp: tuple[float, ...], key: str, sampling: Sampling, device: str
) -> view.ClipData:
    """One sample decoded with the sidebar's sampling (its start time aside: samples are short clips)."""
    frames, mode, stride, max_side = sampling
    dataset = listed(path, stamp)
    if mode == "uniform":
        clip = distinct_frames(dataset.read(key, num_frames=frames, uniform=True, max_side=max_side))
    else:
        clip = dataset.read(key, num_frames=frames, stride=stride, max_side=max_side)
    return view.prepare_clip(clip, device, key)


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(
    path: str, stamp: tuple[float, ...], key: str, sampling: Sampling, m: float, n: float
) -> np.ndarray:
    """The middle pair's frame and motion prompt side by side, cached per (sample, sampling, values)."""
    data = sample_clip(path, stamp, key, sampling, "cpu")
    images = view.pair_images(data, MotionParams(m, n), data.num_pairs // 2)
    gap = np.full((images.frame.shape[0], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([images.frame, gap, images.prompt], axis=1)


def open_path() -> None:
    path = state["w.ds.path"].strip()
    if not path:
        return
    try:
        listed(path, listing_stamp(path))
    except InputError as err:
        state["mp.ds.error"] = f"Could not open the dataset: {err}."
        return
    state["mp.ds.path"], state["mp.ds.error"] = path, ""
    state["mp.ds.recent"] = [path, *[p for p in state["mp.ds.recent"] if p != path]][:8]


def pick_recent() -> None:
    if state["w.ds.recent"]:
        state["w.ds.path"] = state["w.ds.recent"]
        open_path()


def choice(label: str, options: list[Any], key: str, **kwargs: Any) -> Any:
    """A selectbox whose remembered value is dropped when it is not an option (another dataset)."""
    if state.get(key) not in options:
        state.pop(key, None)
    return st.selectbox(label, options, key=key, **kwargs)


def describe(sample: Sample) -> str:
    return f"{sample.key} · {sample.label}" + (f" · {sample.split}" if sample.split != "all" else "")


def unreadable(path: str, key: str, err: InputError) -> None:
    state["mp.ds.unreadable"].setdefault(path, {})[key] = str(err)


def show_problems(dataset: VideoDataset, path: str) -> None:
    lines = [str(p) for p in dataset.problems]
    lines += [f"{key}: {message}" for key, message in state["mp.ds.unreadable"].get(path, {}).items()]
    if lines:
        title = f"{len(lines)} problem{'s' * (len(lines) > 1)}: skipped while listing or unreadable"
        with st.expander(title, expanded=False):
            st.code("\n".join(lines[:500]) + ("\n…" if len(lines) > 500 else ""), language=None)


state.setdefault("w.ds.path", state["mp.ds.path"])
st.text_input(
    "Dataset path on the server: a folder of class folders, a folder with train.csv/val.csv/test.csv, "
    "or an .h5 pack",
    key="w.ds.path",
    on_change=open_path,
    placeholder="/data/hmdb51",
)
if state["mp.ds.recent"]:
    st.selectbox("Recent", state["mp.ds.recent"], key="w.ds.recent", on_change=pick_recent, index=None)
if state["mp.ds.error"]:
    st.error(state["mp.ds.error"] + (f" Still showing {state['mp.ds.path']}." if state["mp.ds.path"] else ""))
if not state["mp.ds.path"]:
    st.info("Type the path of a dataset on this machine and press Enter.")
    st.stop()

path = state["mp.ds.path"]
stamp = listing_stamp(path)
try:
    dataset = listed(path, stamp)
except InputError as err:  # it was there when opened: moved or deleted since
    st.error(f"Could not open the dataset: {err}.")
    st.stop()
counts = st.columns(4)
counts[0].metric("Samples", f"{len(dataset):,}")
counts[1].metric("Classes", len(dataset.classes))
counts[2].metric("Splits", ", ".join(f"{k} {v}" for k, v in dataset.splits.items()) or "–")
counts[3].metric("Format", dataset.kind)
problems_box = st.container()  # filled last: decoding below may find unreadable samples

frames, mode, stride, max_side = sampling_of(state)[1:]
sampling: Sampling = (frames, mode, stride, max_side)
left, right = st.columns(2)
with left:
    split = choice("Split", [ALL, *dataset.splits], "w.ds.split")
with right:
    label = choice("Class", [ALL, *dataset.classes], "w.ds.class")
# Samples are picked by their index in the dataset: a split list may name the same clip twice.
indices = [i for i, s in enumerate(dataset) if split in (ALL, s.split) and label in (ALL, s.label)]
chosen: list[Sample] = [dataset[i] for i in indices]
if len(dataset):
    st.dataframe(
        [{"clip": s.key, "label": s.label, "split": s.split} for s in chosen[:5000]],
        hide_index=True,
        height=220,
    )
    if len(chosen) > 5000:
        st.caption(f"The first 5,000 of {len(chosen):,} samples; filter to see others.")
if len(dataset) and not chosen:
    st.warning("No sample matches these filters.")

if chosen:
    picked = dataset[choice("Sample", indices, "w.ds.sample", format_func=lambda i: describe(dataset[i]))]
    key = picked.key
    st.caption(
        f"Sampling from the sidebar: {frames} frames, {mode}"
        + (f" (stride {stride})" if mode == "stride" else "")
        + f", max side {max_side} px, each sample from its start."
    )
    try:
        data = sample_clip(path, stamp, key, sampling, state["mp.device"])
    except InputError as err:
        unreadable(path, key, err)
        st.error(f"Could not show {key}: {err}")
    else:
        st.markdown(f"**{key}** · label **{picked.label}** · {data.clip.frames.shape[0]} frames")
        last = data.num_pairs - 1
        state["w.ds.pair"] = min(state.get("w.ds.pair", 0), last)  # a shorter sample than the last one
        t = st.slider("Frame pair t", 0, last, key="w.ds.pair") if last > 0 else 0
        show_panels(view.pair_images(data, params, t), t, data.limit)

    st.subheader("Class grid")
    grid_class = label if label != ALL else chosen[0].label
    count = st.number_input("Samples in the grid", 1, 48, 8, key="w.ds.grid_count")
    members = [s for s in chosen if s.label == grid_class][: int(count)]
    st.caption(
        f"Middle frame pair of {len(members)} sample(s) of class **{grid_class}**: frame, then its prompt "
        f"under the current values (a = {params.slope:.2f}, b = {params.shift:+.3f})."
    )
    if st.toggle("Show the grid", key="w.ds.grid"):
        bar = st.progress(0.0, text="Computing prompts…")
        columns = st.columns(4)
        thumb_sampling: Sampling = (frames, mode, stride, min(max_side, THUMB_SIDE))
        for index, sample in enumerate(members):
            column = columns[index % 4]
            try:
                image = thumbnail(path, stamp, sample.key, thumb_sampling, params.m, params.n)
            except InputError as err:
                unreadable(path, sample.key, err)
                column.error(f"{sample.key}: {err}")
            else:
                column.image(image, caption=sample.key, width="stretch")
            bar.progress((index + 1) / len(members), text=f"{index + 1}/{len(members)}")
        bar.empty()

with problems_box:
    show_problems(dataset, path)
