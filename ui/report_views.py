"""A dataset report as tables and plotly figures: filters, per-class distributions, scatter, two-set changes.

Pure functions of a pandas frame of report rows (``mp_core.report.read_report(...).to_pandas()``); the page
only shows what they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = [
    "STATISTICS",
    "class_figure",
    "filter_rows",
    "pair_figure",
    "scatter_figure",
    "selected_rows",
    "set_difference",
    "statistics_in",
]

#: Sortable per-sample numbers of a report and what they mean (the table's column help).
STATISTICS: dict[str, str] = {
    "mean_attention": "mean of A over every pixel of every frame pair",
    "share_above_half": "share of pixels with A > 0.5: how much of the frame the prompt keeps",
    "variation": "R: mean over steps of ‖Aₜ₊₁ − Aₜ‖² / (H·W), the paper's regulariser for this clip",
    "mean_abs_difference": "mean |Dₜ|: how much the frames change, whatever the parameters",
    "share_moving": "share of pixels whose |Dₜ| exceeds the threshold: high under camera motion",
    "peak_pair_attention": "mean attention of the frame pair with the most attention",
    "motion_focus": "attention on the moving objects against the rest (synthetic ground truth only)",
}


def statistics_in(rows: pd.DataFrame) -> list[str]:
    """The statistics present in ``rows`` with at least one value, in :data:`STATISTICS` order."""
    return [name for name in STATISTICS if name in rows and rows[name].notna().any()]


def filter_rows(
    rows: pd.DataFrame,
    labels: Sequence[str] = (),
    params: Sequence[str] = (),
    text: str = "",
    problems_only: bool = False,
) -> pd.DataFrame:
    """Rows of the given classes and parameter sets (empty: all), whose path contains ``text``.

    Example:
        >>> rows = pd.DataFrame({"path": ["a/1.mp4", "b/2.mp4"], "label": ["a", "b"], "params": ["X", "X"],
        ...                      "error": [None, "bad"]})
        >>> filter_rows(rows, labels=["b"]).path.tolist(), filter_rows(rows, problems_only=True).path.tolist()
        (['b/2.mp4'], ['b/2.mp4'])
    """
    keep = pd.Series(True, index=rows.index)
    if labels:
        keep &= rows["label"].isin(labels)
    if params:
        keep &= rows["params"].isin(params)
    if text.strip():
        keep &= rows["path"].str.contains(text.strip(), case=False, regex=False)
    if problems_only:
        keep &= rows["error"].notna()
    return rows[keep]


def class_figure(rows: pd.DataFrame, statistic: str) -> go.Figure:
    """Box plot (with every sample as a point) of ``statistic`` per class, one colour per parameter set."""
    figure = px.box(
        rows.dropna(subset=[statistic]),
        x="label",
        y=statistic,
        color="params",
        points="all",
        hover_data=["path"],
        category_orders={"label": sorted(rows["label"].unique())},
    )
    figure.update_layout(
        height=420, margin={"t": 30, "b": 10}, legend_title_text="parameters", boxmode="group"
    )
    figure.update_xaxes(title_text="class")
    return figure


def scatter_figure(rows: pd.DataFrame, x: str, y: str) -> go.Figure:
    """Every row as a point of two statistics, coloured by class; each point carries its row label."""
    shown = rows.dropna(subset=[x, y])
    figure = px.scatter(
        shown.assign(row=shown.index),
        x=x,
        y=y,
        color="label",
        symbol="params",
        custom_data=["row"],
        hover_data=["path", "params"],
    )
    figure.update_layout(height=460, margin={"t": 30, "b": 10}, dragmode="select", legend_title_text="class")
    return figure


def selected_rows(selection: Mapping[str, Any] | None, limit: int = 12) -> list[Any]:
    """Row labels of the points a plotly selection event holds (``customdata[0]``), first ``limit``.

    Example:
        >>> selected_rows({"selection": {"points": [{"customdata": [7]}, {"customdata": [3]}, {"x": 1}]}})
        [7, 3]
    """
    points = ((selection or {}).get("selection") or {}).get("points") or []
    found = [p["customdata"][0] for p in points if p.get("customdata")]
    return list(dict.fromkeys(found))[:limit]


def set_difference(rows: pd.DataFrame, statistic: str, first: str, second: str) -> pd.DataFrame:
    """Per sample: ``statistic`` under two parameter sets and the change (second − first), largest first.

    Samples missing under either set, or without a value, are left out.

    Example:
        >>> rows = pd.DataFrame({"path": ["a", "a", "b", "b"], "label": ["x"] * 4,
        ...                      "params": ["P", "Q", "P", "Q"], "share": [0.2, 0.5, 0.4, 0.3]})
        >>> set_difference(rows, "share", "P", "Q").round(3).to_dict("list")
        {'path': ['a', 'b'], 'label': ['x', 'x'], 'P': [0.2, 0.4], 'Q': [0.5, 0.3], 'change': [0.3, -0.1]}
    """
    wide = rows[rows["params"].isin([first, second])].pivot_table(
        index=["path", "label"], columns="params", values=statistic, aggfunc="first"
    )
    if first not in wide or second not in wide:
        return pd.DataFrame(columns=["path", "label", first, second, "change"])
    table = wide[[first, second]].dropna().reset_index()
    table.columns.name = None
    table["change"] = table[second] - table[first]
    order = table["change"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def pair_figure(table: pd.DataFrame, statistic: str, first: str, second: str) -> go.Figure:
    """Each sample at (value under ``first``, value under ``second``); off the diagonal means it changed."""
    figure = px.scatter(table, x=first, y=second, color="label", hover_data=["path", "change"])
    values = pd.concat([table[first], table[second]])
    if len(values):
        low, high = float(values.min()), float(values.max())
        figure.add_shape(type="line", x0=low, y0=low, x1=high, y1=high, line={"dash": "dot", "color": "grey"})
    figure.update_layout(height=420, margin={"t": 30, "b": 10}, legend_title_text="class")
    figure.update_xaxes(title_text=f"{statistic} · {first}")
    figure.update_yaxes(title_text=f"{statistic} · {second}")
    return figure
