"""Dataset: learned attention on the samples of a dataset on the server's disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

import ui_shared as ui
from mp_core import InputError, MotionParams, VideoDataset, open_dataset
from mp_core import clip_view as view

ui.setup_page("Dataset")
st.title("Dataset")
loaded = ui.sidebar()  # parameters and sampling come from the sidebar; its clip is not used here
params = ui.current_params(st.session_state)
state = st.session_state
state.setdefault("mp.ds.path", "")
state.setdefault("mp.ds.recent", [])
state.setdefault("mp.ds.error", "")
ALL = "All"


@st.cache_resource(max_entries=4, show_spinner="Listing the dataset…")
def listed(path: str, modified: float) -> VideoDataset:
    """Listing only (nothing decoded); keyed by modification time so an edited list is re-read."""
    return open_dataset(path)


def modified(path: str) -> float:
    try:
        return Path(path).expanduser().stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(max_entries=4, show_spinner=False)
def sample_clip(path: str, stamp: float, key: str, frames: int, max_side: int, device: str) -> view.ClipData:
    clip = listed(path, stamp).read(key, num_frames=frames, max_side=max_side)
    return view.prepare_clip(clip, device, key)


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(
    path: str, stamp: float, key: str, frames: int, max_side: int, m: float, n: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frame and motion prompt of the middle pair of a sample, cached per (sample, values, sampling)."""
    data = sample_clip(path, stamp, key, frames, max_side, "cpu")
    images = view.pair_images(data, MotionParams(m, n), data.num_pairs // 2)
    return images.frame, images.prompt


def open_path() -> None:
    path = state["w.ds.path"].strip()
    if not path:
        return
    try:
        listed(path, modified(path))
    except InputError as err:
        state["mp.ds.error"] = f"Could not open the dataset: {err}."
        return
    state["mp.ds.path"], state["mp.ds.error"] = path, ""
    state["mp.ds.recent"] = [path, *[p for p in state["mp.ds.recent"] if p != path]][:8]


def pick_recent() -> None:
    state["w.ds.path"] = state["w.ds.recent"]
    open_path()


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
stamp = modified(path)
dataset = listed(path, stamp)
counts = st.columns(4)
counts[0].metric("Samples", f"{len(dataset):,}")
counts[1].metric("Classes", len(dataset.classes))
counts[2].metric("Splits", ", ".join(f"{k} {v}" for k, v in dataset.splits.items()) or "–")
counts[3].metric("Format", dataset.kind)
if dataset.problems:
    with st.expander(f"{len(dataset.problems)} problem(s) skipped while listing", expanded=False):
        st.code("\n".join(str(p) for p in dataset.problems[:500]), language=None)
if not len(dataset):
    st.stop()

left, right = st.columns(2)
split = left.selectbox("Split", [ALL, *dataset.splits], key="w.ds.split")
label = right.selectbox("Class", [ALL, *dataset.classes], key="w.ds.class")
chosen = [s for s in dataset if split in (ALL, s.split) and label in (ALL, s.label)]
st.dataframe(
    [{"clip": s.key, "label": s.label, "split": s.split} for s in chosen[:5000]],
    hide_index=True,
    height=220,
)
if not chosen:
    st.warning("No sample matches these filters.")
    st.stop()

_, frames, _, _, max_side = ui.sampling_of(state)
keys = [s.key for s in chosen]
labels = {s.key: s.label for s in chosen}
key = st.selectbox("Sample", keys, format_func=lambda k: f"{k} · {labels[k]}", key="w.ds.sample")
try:
    data = sample_clip(path, stamp, key, frames, max_side, state["mp.device"])
except InputError as err:
    st.error(f"Could not show {key}: {err}")
else:
    st.markdown(f"**{key}** · label **{labels[key]}** · {data.clip.frames.shape[0]} frames")
    t = st.slider("Frame pair t", 0, max(data.num_pairs - 1, 1), key="w.ds.pair", disabled=data.num_pairs < 2)
    t = min(t, data.num_pairs - 1)
    ui.show_panels(view.pair_images(data, params, t), t, data.limit)

st.subheader("Class grid")
grid_class = label if label != ALL else chosen[0].label
count = st.number_input("Samples", 1, 48, 8, key="w.ds.grid_count")
members = [s for s in chosen if s.label == grid_class][: int(count)]
st.caption(
    f"Middle frame pair of {len(members)} sample(s) of class **{grid_class}**: frame, then its prompt."
)
if st.toggle("Show the grid", key="w.ds.grid"):
    bar = st.progress(0.0, text="Computing prompts…")
    columns = st.columns(4)
    for index, sample in enumerate(members):
        column = columns[index % 4]
        try:
            side = min(max_side, 224)  # thumbnails: a smaller decode is enough
            frame, prompt = thumbnail(path, stamp, sample.key, frames, side, params.m, params.n)
        except InputError as err:
            column.error(f"{sample.key}: {err}")
        else:
            column.image(np.concatenate([frame, prompt], axis=1), caption=sample.key, width="stretch")
        bar.progress((index + 1) / len(members), text=f"{index + 1}/{len(members)}")
    bar.empty()
