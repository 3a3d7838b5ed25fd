"""The Dataset page's report views: a table with a row viewer, per-class distributions, a scatter with a
gallery, and the samples that change most between two parameter sets. Each is drawn only when chosen.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mp_core import InputError, MotionParams
from mp_core.viz import clip_view as view
from ui import report_views as rv
from ui.dataset import Opened, Sampling, sample_clip, thumbnail, unreadable
from ui.panels import show_panels
from ui.report_run import VIEWS
from ui.state import bind

__all__ = ["report_views", "row_sampling"]

#: Columns of the table, in this order (others in the file follow; slope/shift are in the params text).
FIRST_COLUMNS = ["path", "label", "split", "params", *rv.STATISTICS, "peak_pair", "num_frames", "error"]


def row_sampling(row: pd.Series) -> Sampling:
    """The frames a report row was computed on: ``frames`` uniform frames, ``max_side`` (null: full size)."""
    max_side = row.get("max_side")
    return Sampling(frames=int(row["frames"]), max_side=None if pd.isna(max_side) else int(max_side))


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
