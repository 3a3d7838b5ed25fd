"""The Dataset page's report controls: which parameter sets, which frames, run, progress, cancel, outcome.

A run is a :class:`ui.report_job.ReportJob` kept in the session; a fragment polls it twice a second while
it runs, then reruns the page to show the result. Its files are read under the server's dataset roots.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import load_params
from ui.dataset import ALL, Opened
from ui.report_job import ReportJob, ReportRequest, report_file
from ui.report_runtime import session_alive
from ui.roots import cache_dir, dataset_roots
from ui.state import CHECKPOINT_TYPES, REPORT_SLIDERS, REPORT_VIEWS, State, bind

__all__ = ["job_outcome", "progress", "report_slots", "run_controls", "spec_text"]

SLIDERS = REPORT_SLIDERS
MAX_SETS = 4
REPORT_SIDES = [128, 160, 224, 256, 320]
VIEWS = REPORT_VIEWS


@st.cache_resource(max_entries=1)
def report_slots() -> threading.Semaphore:
    """Report runs of every session at once (``MP_REPORT_SLOTS``, default 1): the rest wait in line."""
    return threading.BoundedSemaphore(max(1, int(os.environ.get("MP_REPORT_SLOTS", "1"))))


def spec_text(params: MotionParams) -> str:
    """Values as SPEC text that reads back exactly (``repr`` of each float)."""
    return f"m={params.m!r},n={params.n!r}"


# --- choosing parameter sets and running ------------------------------------------------------------------


def _on_ckpt_upload() -> None:
    state = st.session_state
    state["mp.ds.ckpt_error"] = ""
    for upload in state.get("w.ds.ckpt") or []:
        try:
            params = load_params(upload.getvalue(), name=upload.name)
        except InputError as err:
            state["mp.ds.ckpt_error"] = f"Could not load learned values from {upload.name}: {err}"
            continue
        state["mp.ds.ckpts"][upload.name] = spec_text(params)


def _set_options(state: State) -> dict[str, str]:
    """Option label -> SPEC text (the sidebar's values are read when the run starts)."""
    options = {SLIDERS: "", **{name: name for name in PRESETS}}
    options |= {f"{name} ({text})": text for name, text in state["mp.ds.ckpts"].items()}
    return options


def report_workers() -> int:
    """Processes of one report run: ``MP_REPORT_WORKERS``, default the CPUs up to 4 (each loads torch)."""
    return max(1, int(os.environ.get("MP_REPORT_WORKERS") or min(4, os.cpu_count() or 1)))


def _start(opened: Opened, specs: tuple[str, ...], frames: int, max_side: int, split: str | None) -> None:
    state = st.session_state
    path = Path(opened[0])
    out = report_file(path, cache_dir(), frames, max_side)
    request = ReportRequest(
        path, out, specs, frames, max_side, split, report_workers(), dataset_roots(), state["mp.ds.retry"]
    )
    state["mp.ds.job"] = ReportJob(request, report_slots(), session_alive()).start()
    state["mp.ds.report"] = {"dataset": str(path), "file": str(out)}


def run_controls(opened: Opened, params: MotionParams) -> None:
    state = st.session_state
    options = _set_options(state)
    state["mp.ds.sets"] = [s for s in state["mp.ds.sets"] if s in options]
    chosen = st.multiselect(
        "Parameter sets (1–4): presets, the sidebar's values, uploaded checkpoints",
        list(options),
        max_selections=MAX_SETS,
        **bind("mp.ds.sets", "w.ds.sets"),
    )
    st.file_uploader(
        "Add learned values from checkpoints",
        type=CHECKPOINT_TYPES,
        accept_multiple_files=True,
        key="w.ds.ckpt",
        on_change=_on_ckpt_upload,
    )
    if state["mp.ds.ckpt_error"]:
        st.error(state["mp.ds.ckpt_error"])
    dataset = opened[1]
    columns = st.columns(3)
    frames = columns[0].number_input("Frames per sample (uniform)", 2, 64, 16, key="w.ds.rframes")
    max_side = columns[1].select_slider("Max side (px)", REPORT_SIDES, 224, key="w.ds.rside")
    splits = [ALL, *dataset.splits] if len(dataset.splits) > 1 else [ALL]
    split = columns[2].selectbox("Split", splits, key="w.ds.rsplit")
    specs = tuple(dict.fromkeys(spec_text(params) if s == SLIDERS else options[s] for s in chosen))
    st.checkbox(
        "Retry unreadable samples",
        help="Rows of samples that could not be read are kept with their message and count as done; "
        "tick this to compute them again (after fixing the files).",
        **bind("mp.ds.retry", "w.ds.retry"),
    )
    job: ReportJob | None = state["mp.ds.job"]
    busy = job is not None and job.active
    st.button(
        "Run report",
        type="primary",
        key="w.ds.run",
        disabled=busy or not specs or not len(dataset),
        on_click=_start,
        args=(opened, specs, int(frames), int(max_side), None if split == ALL else split),
        help="Computes only the rows missing from this dataset's report at these frames and size.",
    )


@st.fragment(run_every=0.5)
def progress(job: ReportJob) -> None:
    """Progress and Cancel while the run lasts; the page reruns once it ends."""
    if not job.active:
        st.rerun()
    if job.state == "waiting":
        st.progress(0.0, text="Waiting for another report on this server to finish…")
    else:
        done, total = job.done, job.total
        text = f"{done:,} / {total:,} rows · {job.seconds:.0f} s" if total else "Listing what is missing…"
        st.progress(done / total if total else 0.0, text=text)
    st.button("Cancel", key="w.ds.cancel", on_click=job.cancel)


def job_outcome(job: ReportJob) -> None:
    if job.state == "failed":
        st.error(f"The report stopped: {job.error}")
    elif job.summary is not None:
        s = job.summary
        retried = f" ({s.retried:,} retried)" if s.retried else ""
        what = (
            f"{s.rows_computed:,} rows computed{retried}, {s.rows_reused:,} reused, {s.errors:,} unreadable"
        )
        if job.state == "cancelled":
            st.warning(f"Cancelled after {job.seconds:.1f} s: {what}. Run again to compute only the rest.")
        else:
            st.success(f"Report done in {job.seconds:.1f} s: {what}.")
        if s.problems:  # samples the listing refused (outside the roots, missing): no row for those
            skipped = "; ".join(map(str, s.problems[:5])) + ("; …" if len(s.problems) > 5 else "")
            st.warning(f"{len(s.problems):,} listed sample(s) skipped, no row: {skipped}")
    elif job.state == "cancelled":
        st.warning("Cancelled before it started.")
