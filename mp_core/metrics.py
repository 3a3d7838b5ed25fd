"""Numbers about attention and differences: whole-clip statistics, motion focus and difference histograms.

Each function takes tensors on any device and returns host numbers; only scalars and small arrays leave the
device.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from mp_core.errors import InputError, ShapeError
from mp_core.motion import attention_variation

__all__ = [
    "AttentionStats",
    "DifferenceHistogram",
    "attention_stats",
    "difference_histogram",
    "motion_focus",
]


class AttentionStats(NamedTuple):
    """Whole-clip statistics of attention maps :math:`(T-1, H, W)`."""

    mean_attention: float  #: mean of A over every pixel of every pair
    share_above_half: float  #: share of pixels with A > 0.5
    variation: np.ndarray  #: (T-2,) float64: ||A_{t+1} - A_t||^2 / (H W) per step
    variation_mean: float  #: R, the mean of ``variation`` (0.0 for a single pair)


def attention_stats(attention: Tensor) -> AttentionStats:
    r"""Mean attention, share above 0.5 and the temporal attention variation of one clip.

    ``variation_mean`` is the paper's regulariser R for a batch of one:
    :math:`\frac{1}{(T-2) H W} \sum_t \lVert A_{t+1} - A_t \rVert^2`.

    Args:
        attention: :math:`(T-1, H, W)`, values in [0, 1].

    Example:
        >>> a = torch.tensor([[[0.0, 1.0]], [[1.0, 1.0]], [[1.0, 0.0]]])  # 3 pairs of 1x2 maps
        >>> stats = attention_stats(a)
        >>> stats.mean_attention, stats.share_above_half, stats.variation.tolist(), stats.variation_mean
        (0.6666666865348816, 0.6666666865348816, [0.5, 0.5], 0.5)
    """
    if not isinstance(attention, Tensor) or attention.ndim != 3:
        shape = list(attention.shape) if isinstance(attention, Tensor) else type(attention).__name__
        raise ShapeError(f"attention must be (T-1, H, W), got {shape}")
    variation = attention_variation(attention.detach())
    mean_r = float(variation.double().mean()) if variation.numel() else 0.0
    share = float((attention > 0.5).float().mean())
    return AttentionStats(float(attention.float().mean()), share, variation.double().cpu().numpy(), mean_r)


class DifferenceHistogram(NamedTuple):
    """Counts of difference values in equal bins over ``[edges[0], edges[-1]]``."""

    counts: np.ndarray  #: (bins,) int64
    edges: np.ndarray  #: (bins + 1,) float64

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def difference_histogram(diff: Tensor, bins: int = 201, limit: float = 1.0) -> DifferenceHistogram:
    """Histogram of difference values over ``[-limit, limit]``, counted on the tensor's device.

    Example:
        >>> hist = difference_histogram(torch.tensor([-1.0, 0.0, 0.0, 0.5]), bins=4, limit=1.0)
        >>> hist.counts.tolist(), hist.edges.tolist()
        ([1, 0, 2, 1], [-1.0, -0.5, 0.0, 0.5, 1.0])
    """
    counts = torch.histc(diff.detach().float().flatten(), bins=bins, min=-limit, max=limit)
    edges = np.linspace(-limit, limit, bins + 1)
    return DifferenceHistogram(counts.round().long().cpu().numpy(), edges)


def motion_focus(attention: Tensor, mask: Tensor) -> float:
    r"""How much more attention the masked motion gets than the rest: mean inside minus mean outside.

    In [-1, 1]: 0 means no preference (e.g. constant or random attention), 1 means attention 1 on every
    moving pixel and 0 elsewhere, below 0 means attention favours the static rest. A rank score such as ROC
    AUC would not do: attention is a monotone function of the difference for every slope and shift, so its
    ranking, and any AUC, is the same for all parameters.

    Args:
        attention: :math:`(T-1, H, W)` or :math:`(H, W)`, values in [0, 1].
        mask: bool tensor of the same shape, e.g. :attr:`SyntheticClip.pair_mask`.

    Example:
        >>> mask = torch.tensor([[True, False], [False, False]])
        >>> round(motion_focus(torch.tensor([[0.9, 0.1], [0.2, 0.3]]), mask), 6)
        0.7
        >>> motion_focus(torch.full((2, 2), 0.5), mask)
        0.0
    """
    if attention.shape != mask.shape:
        raise ShapeError(
            f"attention and mask must have the same shape, got {list(attention.shape)} and {list(mask.shape)}"
        )
    mask = mask.to(device=attention.device, dtype=torch.bool)
    inside = int(mask.sum())
    if inside == 0 or inside == mask.numel():
        raise InputError("motion_focus needs pixels both inside and outside the mask")
    values = attention.detach().double()
    focus = values[mask].mean() - values[~mask].mean()
    return focus.item()
