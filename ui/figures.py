"""Plotly figures for the app: the power-normalization curve over the difference histogram, the temporal
attention variation per pair, the attention surface, the λ sweep and the pipeline stages.

Builders take host arrays or small tensors and return ``plotly.graph_objects.Figure``; nothing here shows
anything. Heavy inputs (histograms) are computed by the caller once per clip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from mp_core.metrics import DifferenceHistogram
from mp_core.motion import power_normalization
from mp_core.params import MotionParams, Preset
from mp_core.power_norms import NormSpec

__all__ = [
    "attention_surface_figure",
    "lambda_sweep_figure",
    "norm_comparison_figure",
    "pipeline_figure",
    "pn_curve_figure",
    "variation_figure",
]

_COLOURS = ("#3b6fd6", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def pn_curve_figure(
    curves: MotionParams | Mapping[str, MotionParams],
    histogram: DifferenceHistogram | None = None,
    x_range: tuple[float, float] = (-1.0, 1.0),
    points: int = 401,
) -> go.Figure:
    """The power normalization ``σ(a (D - b))`` for one or more parameter sets, with each shift ``b``
    marked, drawn over the histogram of the clip's difference values (share of pixels, log scale).

    Example:
        >>> fig = pn_curve_figure(MotionParams(0.257, 0.053))
        >>> [trace.name for trace in fig.data]
        ['a=23.46, b=0.032']
    """
    if isinstance(curves, MotionParams):
        curves = {f"a={curves.slope:.2f}, b={curves.shift:.3f}": curves}
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if histogram is not None:
        total = max(int(histogram.counts.sum()), 1)
        fig.add_trace(
            go.Bar(
                x=histogram.centres,
                y=histogram.counts / total,
                width=float(histogram.edges[1] - histogram.edges[0]),
                name="differences D",
                marker_color="rgba(120,120,120,0.45)",
                hovertemplate="D=%{x:.3f}: %{y:.2%} of pixels<extra></extra>",
            ),
            secondary_y=True,
        )
    x = torch.linspace(x_range[0], x_range[1], points, dtype=torch.float64)
    for index, (label, params) in enumerate(curves.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        y = power_normalization(x, params.slope, params.shift)
        fig.add_trace(
            go.Scatter(
                x=x.numpy(), y=y.numpy(), name=label, mode="lines", line={"color": colour, "width": 3}
            ),
            secondary_y=False,
        )
        fig.add_vline(
            x=params.shift,
            line={"color": colour, "dash": "dash", "width": 1},
            annotation_text=f"b={params.shift:.3f}",
            annotation_position="top",
        )
    fig.update_xaxes(title_text="frame difference D", range=list(x_range))
    fig.update_yaxes(title_text="attention A", range=[0, 1.05], secondary_y=False)
    if histogram is not None:
        fig.update_yaxes(
            title_text="share of pixels",
            type="log",
            dtick=1,
            exponentformat="power",
            showgrid=False,
            secondary_y=True,
        )
    fig.update_layout(
        margin=_MARGIN, height=320, legend={"orientation": "h", "y": -0.25}, bargap=0, hovermode="x"
    )
    return fig


def variation_figure(variation: Tensor | np.ndarray, mean: float) -> go.Figure:
    """Per-pair temporal attention variation ``‖A_{t+1} - A_t‖² / (H W)`` with its mean R as a line.

    Example:
        >>> fig = variation_figure(np.array([0.1, 0.3]), mean=0.2)
        >>> fig.data[0].y.tolist(), fig.layout.shapes[0].y0
        ([0.1, 0.3], 0.2)
    """
    values = np.asarray(variation.cpu() if isinstance(variation, Tensor) else variation, dtype=np.float64)
    steps = np.arange(values.size)
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=values,
            marker_color=_COLOURS[0],
            name="variation",
            hovertemplate="A%{x}→A%{x}+1: %{y:.4g}<extra></extra>",
        )
    )
    fig.add_hline(y=mean, line={"color": "#d62728", "dash": "dash"}, annotation_text=f"R = {mean:.4g}")
    fig.update_xaxes(title_text="step t (A_t → A_t+1)")
    fig.update_yaxes(title_text="‖A_t+1 − A_t‖² / HW", rangemode="tozero")
    fig.update_layout(margin=_MARGIN, height=260, showlegend=False)
    return fig


def attention_surface_figure(attention: Tensor, max_side: int = 96) -> go.Figure:
    """A rotatable 3D surface of one attention map ``(H, W)``, area-downsampled to at most ``max_side``.

    Example:
        >>> fig = attention_surface_figure(torch.rand(200, 100), max_side=50)
        >>> fig.data[0].z.shape
        (50, 25)
    """
    if attention.ndim != 2:
        raise ValueError(f"attention must have shape (H, W), got {list(attention.shape)}")
    height, width = attention.shape
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = torch.nn.functional.interpolate(attention[None, None].float(), size=size, mode="area")[0, 0]
    fig = go.Figure(go.Surface(z=small.cpu().numpy(), colorscale="Viridis", cmin=0.0, cmax=1.0))
    fig.update_layout(
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        height=420,
        scene={
            "zaxis": {"range": [0, 1], "title": {"text": "A"}},
            "yaxis": {"autorange": "reversed", "title": {"text": "y"}},
            "xaxis": {"title": {"text": "x"}},
            "aspectratio": {"x": 1, "y": height / width, "z": 0.5},
        },
    )
    return fig


def norm_comparison_figure(
    ours: MotionParams,
    norms: Mapping[str, tuple[NormSpec, float]],
    histogram: DifferenceHistogram | None = None,
) -> go.Figure:
    """The paper's function against the comparison power normalizations (each at its parameter value).

    Example:
        >>> from mp_core.power_norms import COMPARISON_NORMS
        >>> norms = {name: (spec, spec.default) for name, spec in COMPARISON_NORMS.items()}
        >>> [trace.name for trace in norm_comparison_figure(MotionParams(0.257, 0.053), norms).data]
        ['Ours (a=23.46, b=0.032)', 'Gamma γ=0.5', 'MaxExp η=20', 'SigmE η=50', 'AsinhE γ=50']
    """
    label = f"Ours (a={ours.slope:.2f}, b={ours.shift:.3f})"
    fig = pn_curve_figure({label: ours}, histogram)
    x = torch.linspace(-1.0, 1.0, 401, dtype=torch.float64)
    for index, (name, (spec, value)) in enumerate(norms.items(), start=1):
        fig.add_trace(
            go.Scatter(
                x=x.numpy(),
                y=spec.fn(x, value).numpy(),
                name=f"{name} {spec.param_name}={value:g}",
                mode="lines",
                line={"color": _COLOURS[index % len(_COLOURS)], "width": 2, "dash": "dot"},
            ),
            secondary_y=False,
        )
    return fig


def lambda_sweep_figure(presets: Sequence[Preset]) -> go.Figure:
    """Slope and shift of presets learned with different penalty weights λ, against λ (symlog-like axis).

    Example:
        >>> from mp_core.params import lambda_sweep
        >>> [trace.name for trace in lambda_sweep_figure(lambda_sweep()).data]
        ['slope a', 'shift b']
    """
    weights = [str(p.penalty_weight) for p in presets]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=weights, y=[p.params.slope for p in presets], name="slope a"))
    fig.add_trace(
        go.Scatter(x=weights, y=[p.params.shift for p in presets], name="shift b"), secondary_y=True
    )
    fig.update_xaxes(title_text="penalty weight λ", type="category")
    fig.update_yaxes(title_text="slope a", secondary_y=False)
    fig.update_yaxes(title_text="shift b", secondary_y=True)
    fig.update_layout(margin=_MARGIN, height=300, legend={"orientation": "h", "y": -0.3})
    return fig


def pipeline_figure(stages: Sequence[tuple[str, np.ndarray]]) -> go.Figure:
    """The method's stages side by side: one ``(title, uint8 (H, W, 3) image)`` per panel.

    Example:
        >>> image = np.zeros((4, 6, 3), dtype=np.uint8)
        >>> len(pipeline_figure([("X_t", image), ("A_t", image)]).data)
        2
    """
    fig = make_subplots(rows=1, cols=len(stages), subplot_titles=[title for title, _ in stages])
    for column, (title, image) in enumerate(stages, start=1):
        fig.add_trace(go.Image(z=image, name=title, hoverinfo="skip"), row=1, col=column)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 30, "b": 0}, height=220)
    return fig
