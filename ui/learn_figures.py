"""Plotly figures of training runs: curves per epoch, the (shift, slope) path of each λ over the attention
curve, and the paper's FineGym λ sweep beside the user's. Builders only; nothing is shown here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from mp_core.motion import power_normalization
from mp_core.params import MotionParams, Preset

__all__ = ["curves_figure", "sweep_figure", "trajectory_figure"]

_COLOURS = ("#3b6fd6", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}

Runs = Mapping[float, Sequence[Mapping[str, Any]]]


def curves_figure(runs: Runs) -> go.Figure:
    """Loss, R (unweighted) and validation accuracy per epoch, one colour per λ.

    Example:
        >>> rows = [{"epoch": 1, "loss": 1.6, "R": 0.01, "val_accuracy": 0.4}]
        >>> [trace.name for trace in curves_figure({0.0: rows, 10.0: rows}).data]
        ['λ=0', 'λ=0', 'λ=0', 'λ=10', 'λ=10', 'λ=10']
    """
    fig = make_subplots(rows=1, cols=3, subplot_titles=("loss (CE + λR)", "R, unweighted", "val accuracy"))
    for index, (weight, rows) in enumerate(runs.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        epochs = [row["epoch"] for row in rows]
        for col, key in enumerate(("loss", "R", "val_accuracy"), start=1):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[row[key] for row in rows],
                    name=f"λ={weight:g}",
                    legendgroup=f"{weight:g}",
                    showlegend=col == 1,
                    mode="lines+markers",
                    line={"color": colour},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=3)
    fig.update_layout(margin=_MARGIN, height=300, legend={"orientation": "h", "y": -0.3})
    return fig


def trajectory_figure(runs: Runs, start: MotionParams | None = None) -> go.Figure:
    """Left: each λ's attention curve ``σ(a (D - b))`` after every epoch (faint) and at the last (bold).
    Right: each λ's path in the (shift b, slope a) plane, epoch by epoch, from ``start``.

    Example:
        >>> learned = [MotionParams(0.6, 0.1), MotionParams(0.7, 0.2)]
        >>> rows = [{"epoch": i, "slope": p.slope, "shift": p.shift, "m": p.m, "n": p.n}
        ...         for i, p in enumerate(learned)]
        >>> fig = trajectory_figure({1.0: rows})
        >>> len(fig.data), fig.data[-1].name
        (3, 'λ=1')
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("attention A over difference D", "path of (b, a) per epoch")
    )
    x = torch.linspace(-0.6, 0.6, 241, dtype=torch.float64)
    for index, (weight, rows) in enumerate(runs.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        for number, row in enumerate(rows):
            last = number == len(rows) - 1
            fig.add_trace(
                go.Scatter(
                    x=x.numpy(),
                    y=power_normalization(x, row["slope"], row["shift"]).numpy(),
                    name=f"λ={weight:g}, epoch {row['epoch']}",
                    showlegend=False,
                    mode="lines",
                    opacity=1.0 if last else 0.15,
                    line={"color": colour, "width": 3 if last else 1},
                ),
                row=1,
                col=1,
            )
        # the learned raw values: every (m, n) is valid, while a saturated shift (|tanh n| = 1 in
        # float) cannot be turned back into one
        path = ([start] if start else []) + [MotionParams(r["m"], r["n"]) for r in rows]
        fig.add_trace(
            go.Scatter(
                x=[p.shift for p in path],
                y=[p.slope for p in path],
                name=f"λ={weight:g}",
                mode="lines+markers",
                line={"color": colour},
                marker={"size": [10 if i == len(path) - 1 else 5 for i in range(len(path))]},
                text=[f"epoch {i}" for i in range(len(path))],
                hovertemplate="%{text}: b=%{x:.3f}, a=%{y:.2f}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="D", row=1, col=1)
    fig.update_yaxes(title_text="A", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="shift b", range=[-0.6, 0.6], row=1, col=2)
    fig.update_yaxes(title_text="slope a", range=[9, 51], row=1, col=2)
    fig.update_layout(margin=_MARGIN, height=330, legend={"orientation": "h", "y": -0.3})
    return fig


def sweep_figure(paper: Sequence[Preset], learned: Mapping[float, MotionParams]) -> go.Figure:
    """Slope and shift against λ: the paper's FineGym sweep and the values learned here, side by side.

    Example:
        >>> from mp_core.params import lambda_sweep
        >>> fig = sweep_figure(lambda_sweep(), {0.0: MotionParams(1.0, 0.1)})
        >>> [trace.name for trace in fig.data]
        ['FineGym (paper)', 'learned here', 'FineGym (paper)', 'learned here']
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("slope a", "shift b"))
    for col, key in enumerate(("slope", "shift"), start=1):
        fig.add_trace(
            go.Scatter(
                x=[f"{p.penalty_weight:g}" for p in paper],
                y=[getattr(p.params, key) for p in paper],
                name="FineGym (paper)",
                legendgroup="paper",
                showlegend=col == 1,
                mode="lines+markers",
                line={"color": "#888888"},
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=[f"{w:g}" for w in learned],
                y=[getattr(p, key) for p in learned.values()],
                name="learned here",
                legendgroup="here",
                showlegend=col == 1,
                mode="markers",
                marker={"size": 12, "color": _COLOURS[1], "symbol": "diamond"},
            ),
            row=1,
            col=col,
        )
    order = sorted({f"{p.penalty_weight:g}" for p in paper} | {f"{w:g}" for w in learned}, key=float)
    fig.update_xaxes(
        title_text="penalty weight λ", type="category", categoryorder="array", categoryarray=order
    )
    fig.update_layout(margin=_MARGIN, height=300, legend={"orientation": "h", "y": -0.3})
    return fig
