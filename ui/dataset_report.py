"""The Dataset page's report: run it (progress, cancel, resume) or open a file, then look at it.

A run is a :class:`ui.report_job.ReportJob` kept in the session; a fragment polls it twice a second while
it runs, then reruns the page to show the result. The views (table, per-class distribution, scatter with a
gallery, two-set changes) are drawn only when chosen.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import load_params
from mp_core.report import read_report, report_dataset
from mp_core.viz import clip_view as view
from ui import report_views as rv
from ui.dataset import ALL, Opened, sample_clip, thumbnail, unreadable
from ui.panels import show_panels
from ui.report_job import ReportJob, ReportRequest, report_file
from ui.roots import allowed_path, cache_dir, dataset_roots
from ui.state import CHECKPOINT_TYPES, State, bind

__all__ = ["report_section"]

SLIDERS = "Current sidebar values"
MAX_SETS = 4
REPORT_SIDES = [128, 160, 224, 256, 320]
VIEWS = ("Table", "By class", "Scatter", "Two sets")
#: Columns of the table, in this order (others in the file follow; slope/shift are in the params text).
FIRST_COLUMNS = ["path", "label", "split", "params", *rv.STATISTICS, "peak_pair", "num_frames", "error"]
Sampling = tuple[int, str, int, int | None]  # frames, "uniform", stride (unused), max side


def init_report_state(state: State) -> None:
    state.setdefault("mp.ds.job", None)  # the session's ReportJob, running or finished
    state.setdefault("mp.ds.report", None)  # {"dataset": path, "file": report path} on show
    state.setdefault("mp.ds.ckpts", {})  # uploaded checkpoint name -> "m=…,n=…" SPEC text
    state.setdefault("mp.ds.ckpt_error", "")
    state.setdefault("mp.ds.rfile_error", "")
    state.setdefault("mp.ds.sets", [SLIDERS, "FineGym"])  # a contrast: FineGym keeps most pixels
    state.setdefault("mp.ds.view", VIEWS[0])


@st.cache_resource(max_entries=1)
def report_slots() -> threading.Semaphore:
    """Report runs of every session at once (``MP_REPORT_SLOTS``, default 1): the rest wait in line."""
    return threading.BoundedSemaphore(max(1, int(os.environ.get("MP_REPORT_SLOTS", "1"))))


@st.cache_data(max_entries=8, show_spinner="Reading the report…")
def load_report(file: str, stamp: tuple[float, ...]) -> tuple[pd.DataFrame, str | None]:
    """The report's rows by sample and set (parts of an unfinished run included), and its dataset."""
    table = read_report(file)
    rows = table.to_pandas().sort_values(["path", "params"], kind="stable", ignore_index=True)
    return rows, report_dataset(table)  # sorted: parts arrive in the order the workers finished


def report_stamp(file: Path) -> tuple[float, ...]:
    """Modification times of the report file and of its parts' folder, if any (nothing read)."""
    return tuple(p.stat().st_mtime_ns for p in (file, *file.parent.glob(f"{file.name}*")) if p.exists())


def session_alive() -> Callable[[], bool] | None:
    """Whether this session is still connected, callable from the report thread (None outside a server)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime, session = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session)


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
    request = ReportRequest(path, out, specs, frames, max_side, split, report_workers())
    state["mp.ds.job"] = ReportJob(request, report_slots(), session_alive()).start()
    state["mp.ds.report"] = {"dataset": str(path), "file": str(out)}


def _run_controls(opened: Opened, params: MotionParams) -> None:
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
def _progress(job: ReportJob) -> None:
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


def _job_outcome(job: ReportJob) -> None:
    if job.state == "failed":
        st.error(f"The report stopped: {job.error}")
    elif job.summary is not None:
        s = job.summary
        what = f"{s.rows_computed:,} rows computed, {s.rows_reused:,} reused, {s.errors:,} unreadable"
        if job.state == "cancelled":
            st.warning(f"Cancelled after {job.seconds:.1f} s: {what}. Run again to compute only the rest.")
        else:
            st.success(f"Report done in {job.seconds:.1f} s: {what}.")
    elif job.state == "cancelled":
        st.warning("Cancelled before it started.")


def _open_report_file() -> None:
    state = st.session_state
    if not state["w.ds.rfile"].strip():
        return
    try:
        file = allowed_path(state["w.ds.rfile"], dataset_roots())
        load_report(str(file), report_stamp(file))
    except InputError as err:
        state["mp.ds.rfile_error"] = f"Could not open the report: {err}"
        return
    state["mp.ds.rfile_error"] = ""
    state["mp.ds.report"] = {"dataset": state["mp.ds.shown_path"], "file": str(file)}


# --- the page part --------------------------------------------------------------------------------------


def report_section(opened: Opened, params: MotionParams) -> None:
    state = st.session_state
    init_report_state(state)
    path = opened[0]
    state["mp.ds.shown_path"] = path
    _run_controls(opened, params)
    job: ReportJob | None = state["mp.ds.job"]
    if job is not None and job.active:
        _progress(job)
    elif job is not None and str(job.request.dataset) == path:
        _job_outcome(job)
    with st.expander("Open a report file on the server"):
        st.text_input(
            "Report file (.parquet) under the dataset roots", key="w.ds.rfile", on_change=_open_report_file
        )
        if state["mp.ds.rfile_error"]:
            st.error(state["mp.ds.rfile_error"])
    shown = state["mp.ds.report"]
    if shown is None or shown["dataset"] != path:
        frames, max_side = int(state.get("w.ds.rframes", 16)), int(state.get("w.ds.rside", 224))
        default = report_file(Path(path), cache_dir(), frames, max_side)
        if not report_stamp(default):
            st.info(
                "No report yet for this dataset at these frames and size: choose parameter sets and run it."
            )
            return
        shown = {"dataset": path, "file": str(default)}
    file = Path(shown["file"])
    try:
        rows, made_from = load_report(str(file), report_stamp(file))
    except InputError as err:
        st.error(f"Could not read the report {file.name}: {err}")
        return
    # Samples are read from the open dataset: only when the report was made from it (or does not say).
    viewable = made_from is None or Path(made_from).resolve() == Path(path)
    if not viewable:
        st.warning(f"This report was made from `{made_from}`: open that dataset to see its samples.")
    report_views(opened if viewable else None, rows, file)


def row_sampling(row: pd.Series) -> Sampling:
    """The frames a report row was computed on: ``frames`` uniform frames, ``max_side`` (null: full size)."""
    max_side = row.get("max_side")
    return int(row["frames"]), "uniform", 1, None if max_side is None or pd.isna(max_side) else int(max_side)


def report_views(opened: Opened | None, rows: pd.DataFrame, file: Path) -> None:
    """The report's summary and the chosen view; ``opened`` is None when its samples cannot be shown."""
    state = st.session_state
    sets = list(dict.fromkeys(rows["params"]))
    samplings = ", ".join(
        f"{f} frames" + (f" at max side {m:g} px" if pd.notna(m) else " at full size")
        for f, m in rows[["frames", "max_side"]].drop_duplicates().itertuples(index=False)
    )
    st.caption(
        f"**{len(rows):,} rows**: {rows['path'].nunique():,} samples × {len(sets)} parameter set(s) · "
        f"{int(rows['error'].notna().sum()):,} unreadable · {samplings} · `{file}`"
    )
    views = [v for v in VIEWS if v != "Two sets" or len(sets) > 1]
    if state["mp.ds.view"] not in views:
        state["mp.ds.view"] = VIEWS[0]
    view_name = st.segmented_control("View", views, required=True, **bind("mp.ds.view", "w.ds.view"))
    statistics = rv.statistics_in(rows)
    if view_name == "Table":
        _table_view(opened, rows, sets)
    elif view_name == "By class" and statistics:
        stat = st.selectbox("Statistic", statistics, key="w.ds.stat", help=_help(statistics))
        st.plotly_chart(rv.class_figure(rows, stat), key="w.ds.classfig")
    elif view_name == "Scatter" and statistics:
        _scatter_view(opened, rows, statistics)
    elif view_name == "Two sets":
        _two_sets_view(opened, rows, sets, statistics)


def _help(statistics: list[str]) -> str:
    return "  \n".join(f"**{name}**: {rv.STATISTICS[name]}" for name in statistics)


def _table_view(opened: Opened | None, rows: pd.DataFrame, sets: list[str]) -> None:
    columns = st.columns([3, 3, 3, 2], vertical_alignment="bottom")
    labels = columns[0].multiselect("Classes", sorted(rows["label"].unique()), key="w.ds.tlabels")
    chosen_sets = columns[1].multiselect("Parameter sets", sets, key="w.ds.tsets")
    text = columns[2].text_input("Path contains", key="w.ds.ttext")
    problems = columns[3].toggle("Unreadable only", key="w.ds.tproblems")
    shown = rv.filter_rows(rows, labels, chosen_sets, text, problems)
    order = [c for c in FIRST_COLUMNS if c in shown] + [c for c in shown if c not in FIRST_COLUMNS]
    config = {
        name: st.column_config.NumberColumn(name, help=rv.STATISTICS[name], format="%.4f")
        for name in rv.STATISTICS
    }
    event = st.dataframe(
        shown[order],
        key="w.ds.table",
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        column_config=config,
        height=min(320, 38 + 35 * len(shown)),  # no empty space under a few rows
    )
    st.caption(f"{len(shown):,} of {len(rows):,} rows. Sort by a column's header; select a row to see it.")
    picked = event.selection.rows if event is not None else []
    if picked and opened is not None:
        _row_viewer(opened, shown.iloc[picked[0]])


def _row_viewer(opened: Opened, row: pd.Series, key: str = "w.ds.rpair") -> None:
    """A report row's sample in the viewer, under the row's values, at its pair with the most attention."""
    path, _, stamp = opened
    params = MotionParams(float(row["m"]), float(row["n"]))
    st.markdown(
        f"**{row['path']}** · label **{row['label']}** · parameters **{row['params']}** "
        f"(a = {params.slope:.2f}, b = {params.shift:+.3f})"
    )
    if isinstance(row.get("error"), str):
        st.error(f"The report could not read this sample: {row['error']}")
        return
    device = st.session_state["mp.device"]
    try:
        data = sample_clip(path, stamp, str(row["path"]), row_sampling(row), device, False)
    except InputError as err:
        unreadable(path, str(row["path"]), err)
        st.error(f"Could not show {row['path']}: {err}")
        return
    last = data.num_pairs - 1
    peak = row.get("peak_pair")
    if st.session_state.get(f"{key}.row") != (row["path"], row["params"]):  # a new row: open at its peak
        st.session_state[f"{key}.row"] = (row["path"], row["params"])
        st.session_state[key] = min(int(peak) if pd.notna(peak) else 0, last)
    t = st.slider("Frame pair t (opens at the pair with the most attention)", 0, last, key=key) if last else 0
    show_panels(view.pair_images(data, params, t), t, data.limit)


def _scatter_view(opened: Opened | None, rows: pd.DataFrame, statistics: list[str]) -> None:
    left, right = st.columns(2)
    first_x = statistics.index("share_moving") if "share_moving" in statistics else 0
    x = left.selectbox("x", statistics, index=first_x, key="w.ds.x", help=_help(statistics))
    y = right.selectbox("y", statistics, index=0, key="w.ds.y")
    event = st.plotly_chart(
        rv.scatter_figure(rows, x, y),
        key="w.ds.scatter",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
    )
    picked = rv.selected_rows(event)
    if not picked or opened is None:
        st.caption("Select points (click, box or lasso) to see their prompts here.")
        return
    _gallery(opened, rows.loc[[p for p in picked if p in rows.index]])


def _gallery(opened: Opened, rows: pd.DataFrame) -> None:
    path, _, stamp = opened
    st.caption("Frame and prompt at each sample's pair with the most attention, under the row's values.")
    columns = st.columns(4)
    for index, (_, row) in enumerate(rows.iterrows()):
        column = columns[index % 4]
        caption = f"{row['path']} · {row['params']}"
        if isinstance(row.get("error"), str):
            column.error(f"{caption}: {row['error']}")
            continue
        t = int(row["peak_pair"]) if pd.notna(row.get("peak_pair")) else 0
        m, n = float(row["m"]), float(row["n"])
        try:
            image = thumbnail(path, stamp, str(row["path"]), row_sampling(row), m, n, t)
        except InputError as err:
            column.error(f"{caption}: {err}")
        else:
            column.image(image, caption=caption, width="stretch")


def _two_sets_view(opened: Opened | None, rows: pd.DataFrame, sets: list[str], statistics: list[str]) -> None:
    columns = st.columns(3)
    first = columns[0].selectbox("First set", sets, index=0, key="w.ds.first")
    second = columns[1].selectbox("Second set", sets, index=1, key="w.ds.second")
    stat = columns[2].selectbox("Statistic", statistics, key="w.ds.dstat", help=_help(statistics))
    if first == second:
        st.info("Choose two different parameter sets.")
        return
    table = rv.set_difference(rows, stat, first, second)
    st.plotly_chart(rv.pair_figure(table, stat, first, second), key="w.ds.pairfig")
    st.caption(f"Samples that change most ({stat}, second − first), largest first. Select one to see both.")
    event = st.dataframe(
        table.head(200),
        key="w.ds.changes",
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        height=260,
    )
    picked = event.selection.rows if event is not None else []
    if picked and opened is not None:
        sample = table.iloc[picked[0]]["path"]
        for index, name in enumerate((first, second)):
            match = rows[(rows["path"] == sample) & (rows["params"] == name)]
            if len(match):
                _row_viewer(opened, match.iloc[0], key=f"w.ds.rpair.{index}")
