"""The Dataset page's parts: which dataset (the demo, or a path under the roots), its listing and its samples.

The report part lives in :mod:`ui.dataset_report`. Listings and decoded samples are cached per dataset and
the modification times of the files a listing comes from; per-session things (open path, recent paths,
unreadable samples) live in the session.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from mp_core import InputError, MotionParams, Sample, VideoDataset, open_dataset
from mp_core.datasets import SPLIT_FILES
from mp_core.sampling import Sampling
from mp_core.video import distinct_frames
from mp_core.viz import clip_view as view
from ui.clips import sampling_of
from ui.panels import show_panels
from ui.report_job import demo_dataset
from ui.roots import ROOTS_ENV, allowed_path, cache_dir, dataset_roots
from ui.state import DATASET_SOURCES, State, bind

__all__ = ["Opened", "choose_dataset", "samples_section", "show_counts"]

ALL = "All"
DEMO, SERVER = DATASET_SOURCES
THUMB_SIDE = 224  # thumbnails: a smaller decode is enough
Opened = tuple[str, VideoDataset, tuple[float, ...]]  # resolved path, listing, its stamp

# --- cached, shared by sessions (bounded) ----------------------------------------------------------------


def listing_stamp(path: str) -> tuple[float, ...]:
    """Modification times that change when the listing would: the path, its split lists, its class folders."""
    root = Path(path)
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
    return open_dataset(path, roots=dataset_roots())  # every file it names is checked against the roots


@st.cache_resource(max_entries=2, show_spinner="Making the demo dataset (first use only: a few seconds)…")
def demo_path(cache: str) -> str:
    """The demo dataset's folder, made once per cache folder (concurrent sessions wait for the one run)."""
    return str(demo_dataset(Path(cache)).resolve())


@st.cache_resource(max_entries=4, show_spinner=False)
def sample_clip(
    path: str, stamp: tuple[float, ...], key: str, sampling: Sampling, device: str, distinct: bool = True
) -> view.ClipData:
    """One sample decoded as ``sampling`` names it, as the report reads it (``start``/``end`` apply).

    ``distinct=False`` keeps a repeated frame (a variable frame rate's), as the report computed them.
    """
    clip = listed(path, stamp).read(key, sampling=sampling)
    clip = distinct_frames(clip) if distinct and sampling.mode == "uniform" else clip
    return view.prepare_clip(clip, device, key)


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnail(
    path: str,
    stamp: tuple[float, ...],
    key: str,
    sampling: Sampling,
    m: float,
    n: float,
    t: int | None = None,
) -> np.ndarray:
    """Frame and motion prompt of pair ``t`` (default: the middle one) side by side."""
    data = sample_clip(path, stamp, key, sampling, "cpu", distinct=t is None)
    pair = data.num_pairs // 2 if t is None else min(t, data.num_pairs - 1)
    images = view.pair_images(data, MotionParams(m, n), pair)
    gap = np.full((images.frame.shape[0], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([images.frame, gap, images.prompt], axis=1)


# --- which dataset ---------------------------------------------------------------------------------------


def _open_typed_path() -> None:
    state = st.session_state
    text = state["w.ds.path"].strip()
    if not text:
        return
    try:
        path = str(allowed_path(text, dataset_roots()))
        listed(path, listing_stamp(path))
    except InputError as err:
        state["mp.ds.error"] = f"Could not open the dataset: {err}."
        return
    state["mp.ds.path"], state["mp.ds.error"] = path, ""
    state["mp.ds.recent"] = [path, *[p for p in state["mp.ds.recent"] if p != path]][:8]


def _pick_recent() -> None:
    state = st.session_state
    if state["w.ds.recent"]:
        state["w.ds.path"] = state["w.ds.recent"]
        _open_typed_path()


def choose_dataset() -> Opened:
    """The demo dataset or a server path under the roots; stops the page while none is open."""
    state = st.session_state
    st.segmented_control("Dataset", [DEMO, SERVER], required=True, **bind("mp.ds.source", "w.ds.source"))
    if state["mp.ds.source"] == DEMO:
        path = demo_path(str(cache_dir()))
        st.caption(
            "Synthetic clips of five classes (one object crossing, two objects, camera shake, lighting "
            f"flicker, a static scene) and the shipped clips, made once in `{path}`."
        )
    else:
        path = _server_path(state)
    stamp = listing_stamp(path)
    try:
        return path, listed(path, stamp), stamp
    except InputError as err:  # it was there when opened: moved or deleted since
        st.error(f"Could not open the dataset: {err}.")
        st.stop()


def _server_path(state: State) -> str:
    roots = dataset_roots()
    state.setdefault("w.ds.path", state["mp.ds.path"])
    st.text_input(
        "Dataset path on the server: a folder of class folders, a folder with train.csv/val.csv/test.csv, "
        "or an .h5 pack",
        key="w.ds.path",
        on_change=_open_typed_path,
        placeholder=str(roots[0] / "hmdb51"),
    )
    st.caption(
        "Datasets open from under " + ", ".join(f"`{r}`" for r in roots) + f" (the server's `{ROOTS_ENV}` "
        "setting, and the app's cache folder)."
    )
    if state["mp.ds.recent"]:
        st.selectbox("Recent", state["mp.ds.recent"], key="w.ds.recent", on_change=_pick_recent, index=None)
    path = state["mp.ds.path"]
    if state["mp.ds.error"]:
        st.error(state["mp.ds.error"] + (f" Still showing {path}." if path else ""))
    if path:
        try:  # the roots may have changed since it was opened
            path = str(allowed_path(path, roots))
        except InputError as err:
            st.error(f"Could not open the dataset: {err}.")
            st.stop()
    if not path:
        st.info("Type the path of a dataset on this machine and press Enter.")
        st.stop()
    return path


def show_counts(dataset: VideoDataset) -> None:
    counts = st.columns(4)
    counts[0].metric("Samples", f"{len(dataset):,}")
    counts[1].metric("Classes", len(dataset.classes))
    counts[2].metric("Splits", ", ".join(f"{k} {v}" for k, v in dataset.splits.items()) or "–")
    counts[3].metric("Format", dataset.kind)


def unreadable(path: str, key: str, err: InputError) -> None:
    st.session_state["mp.ds.unreadable"].setdefault(path, {})[key] = str(err)


def show_problems(dataset: VideoDataset, path: str) -> None:
    lines = [str(p) for p in dataset.problems]
    lines += [
        f"{key}: {message}" for key, message in st.session_state["mp.ds.unreadable"].get(path, {}).items()
    ]
    if lines:
        title = f"{len(lines)} problem{'s' * (len(lines) > 1)}: skipped while listing or unreadable"
        with st.expander(title, expanded=False):
            st.code("\n".join(lines[:500]) + ("\n…" if len(lines) > 500 else ""), language=None)


# --- samples: listing, one sample's panels, a class grid -------------------------------------------------


def choice(label: str, options: list[Any], key: str, **kwargs: Any) -> Any:
    """A selectbox whose remembered value is dropped when it is not an option (another dataset)."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    return st.selectbox(label, options, key=key, **kwargs)


def describe(sample: Sample) -> str:
    return f"{sample.key} · {sample.label}" + (f" · {sample.split}" if sample.split != "all" else "")


def samples_section(opened: Opened, params: MotionParams) -> None:
    """Split and class filters, the listing, one sample's panels and a class grid (sidebar's sampling)."""
    path, dataset, stamp = opened
    state = st.session_state
    sampling = replace(sampling_of(state), start=0.0)  # samples are short clips: each from its start
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
    if not chosen:
        return
    picked = dataset[choice("Sample", indices, "w.ds.sample", format_func=lambda i: describe(dataset[i]))]
    st.caption(
        f"Sampling from the sidebar: {sampling.frames} frames, "
        + ("uniform" if sampling.mode == "uniform" else f"stride (stride {sampling.stride})")
        + f", max side {sampling.max_side} px, each sample from its start."
    )
    try:
        data = sample_clip(path, stamp, picked.key, sampling, state["mp.device"])
    except InputError as err:
        unreadable(path, picked.key, err)
        st.error(f"Could not show {picked.key}: {err}")
    else:
        st.markdown(f"**{picked.key}** · label **{picked.label}** · {data.clip.frames.shape[0]} frames")
        last = data.num_pairs - 1
        state["w.ds.pair"] = min(state.get("w.ds.pair", 0), last)  # a shorter sample than the last one
        t = st.slider("Frame pair t", 0, last, key="w.ds.pair") if last > 0 else 0
        show_panels(view.pair_images(data, params, t), t, data.limit)
    thumbs = replace(sampling, max_side=min(sampling.max_side or THUMB_SIDE, THUMB_SIDE))
    _class_grid(opened, chosen, label, thumbs, params)


def _class_grid(
    opened: Opened, chosen: list[Sample], label: str, sampling: Sampling, params: MotionParams
) -> None:
    path, _, stamp = opened
    st.subheader("Class grid")
    grid_class = label if label != ALL else chosen[0].label
    count = st.number_input("Samples in the grid", 1, 48, 8, key="w.ds.grid_count")
    members = [s for s in chosen if s.label == grid_class][: int(count)]
    st.caption(
        f"Middle frame pair of {len(members)} sample(s) of class **{grid_class}**: frame, then its prompt "
        f"under the current values (a = {params.slope:.2f}, b = {params.shift:+.3f})."
    )
    if not st.toggle("Show the grid", key="w.ds.grid"):
        return
    bar = st.progress(0.0, text="Computing prompts…")
    columns = st.columns(4)
    for index, sample in enumerate(members):
        column = columns[index % 4]
        try:
            image = thumbnail(path, stamp, sample.key, sampling, params.m, params.n)
        except InputError as err:
            unreadable(path, sample.key, err)
            column.error(f"{sample.key}: {err}")
        else:
            column.image(image, caption=sample.key, width="stretch")
        bar.progress((index + 1) / len(members), text=f"{index + 1}/{len(members)}")
    bar.empty()
