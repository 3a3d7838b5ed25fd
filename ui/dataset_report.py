"""The Dataset page's report part: run one (:mod:`ui.report_run`) or open a file, then look at it
(:mod:`ui.report_show`). Report files are read with their parts, so a run going on shows as it grows; a part
a killed run left damaged is skipped and named, never a reason not to open the report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mp_core import InputError, MotionParams
from mp_core.report import ReportError, read_report_pieces, report_dataset
from ui.dataset import Opened
from ui.report_job import ReportJob, report_file
from ui.report_run import job_outcome, progress, report_slots, run_controls, spec_text
from ui.report_show import report_views
from ui.roots import allowed_path, cache_dir, dataset_roots

__all__ = ["report_section", "report_slots", "spec_text"]


@st.cache_data(max_entries=8, show_spinner="Reading the report…")
def load_report(file: str, stamp: tuple[float, ...]) -> tuple[pd.DataFrame, str | None, tuple[str, ...]]:
    """The report's rows by sample and set (parts of an unfinished run included), its dataset, and the
    parts that could not be read (skipped)."""
    table, _, damaged = read_report_pieces(file, dataset_roots())  # parts may be symlinks too
    if table is None:
        raise ReportError(f"{Path(file).name}: no report there (neither the file nor its parts)")
    rows = table.to_pandas().sort_values(["path", "params"], kind="stable", ignore_index=True)
    return rows, report_dataset(table), tuple(damaged)  # sorted: parts arrive as the workers finish


def report_stamp(file: Path) -> tuple[float, ...]:
    """Modification times of the report file and of its parts' folder, if any (nothing read)."""
    return tuple(p.stat().st_mtime_ns for p in (file, *file.parent.glob(f"{file.name}*")) if p.exists())


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
    path = opened[0]
    state["mp.ds.shown_path"] = path
    run_controls(opened, params)
    job: ReportJob | None = state["mp.ds.job"]
    if job is not None and job.active:
        progress(job)
    elif job is not None and str(job.request.dataset) == path:
        job_outcome(job)
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
        rows, made_from, damaged = load_report(str(file), report_stamp(file))
    except InputError as err:
        st.error(f"Could not read the report {file.name}: {err}")
        return
    if damaged:
        st.warning(
            f"Skipped {len(damaged)} damaged part(s) of an interrupted run (their rows count as missing; "
            "running the report again computes them): " + "; ".join(damaged[:3])
        )
    # Samples are read from the open dataset: only when the report was made from it (or does not say).
    viewable = made_from is None or Path(made_from).resolve() == Path(path)
    if not viewable:
        st.warning(f"This report was made from `{made_from}`: open that dataset to see its samples.")
    report_views(opened if viewable else None, rows, file)
