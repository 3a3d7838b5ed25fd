"""Fused CPU kernels of the eager layer: the forward and the backward as one Inductor-compiled pass each.

Private: :class:`mp_core._layer_eager.MotionPrompts` calls them for large float32 CPU videos when the layer
has :class:`FusedKernels` (``MotionPromptLayer(fuse=True)``, the default). The chunked kernel walks the
data once per elementwise op; these read the video once per pass and write straight into the layer's
pooled buffers, which is what separates them on a memory-bound CPU (at (8, 3, 9, 224, 224) here: 6.8 ms
against 9.7 ms forward, 15 against 22 ms forward and backward). The backward recomputes the logits from
the video it reads anyway, so the forward saves nothing but the video.

Compiled on first use (a few seconds; once more when the shape first changes, then shape-generic). Where
compiling fails (no C++ compiler, say) the layer warns once and keeps the chunked kernel.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def _logits(x5: Tensor, slope: Tensor, shift: Tensor, coeffs: tuple[float, float, float]) -> Tensor:
    """``a (D - b)`` of (B, C, T, H, W) frames, (B, T-1, H, W): the chunked kernel's operation order."""
    k0, k1, k2 = coeffs
    scaled = x5[:, 0] * (slope * k0) + x5[:, 1] * (slope * k1) + x5[:, 2] * (slope * k2)
    return scaled[:, 1:] - scaled[:, :-1] - slope * shift


def _later(t: Tensor) -> Tensor:
    """``t`` moved one step later along dim 2 from the end (a zero first): index p holds ``t[p - 1]``."""
    return F.pad(t, (0, 0, 0, 0, 1, 0))


def _earlier(t: Tensor) -> Tensor:
    """``t`` with a zero appended along dim 2 from the end: index p holds ``t[p]``, one longer."""
    return F.pad(t, (0, 0, 0, 0, 0, 1))


def forward_kernel(
    x5: Tensor, slope: Tensor, shift: Tensor, coeffs: tuple[float, float, float], out5: Tensor, with_reg: bool
) -> Tensor | None:
    """Write the prompts ``A * x[:, :, 1:]`` into ``out5``; return ``sum ||A_{t+1} - A_t||^2`` if asked."""
    attention = torch.sigmoid(_logits(x5, slope, shift, coeffs))
    out5.copy_(attention.unsqueeze(1) * x5[:, :, 1:])
    return (attention[:, 1:] - attention[:, :-1]).square().sum() if with_reg else None


def backward_kernel(
    x5: Tensor,
    g5: Tensor | None,
    slope: Tensor,
    shift: Tensor,
    reg_scale: Tensor | None,
    coeffs: tuple[float, float, float],
    gx5: Tensor | None,
) -> Tensor:
    """``[sum dL/dz z, sum dL/dz]`` for the slope's and shift's gradients; the video's into ``gx5``.

    ``dL/dA = sum_c g_c x_c + s (A_p - A_{p-1}) - s (A_{p+1} - A_p)`` with ``s = reg_scale``, and
    ``dL/dz = dL/dA A (1 - A)``; frame f gets ``k_c a (dL/dz_{f-1} - dL/dz_f) + g_{f-1} A_{f-1}``.
    """
    logits = _logits(x5, slope, shift, coeffs)
    attention = torch.sigmoid(logits)
    grad = (g5 * x5[:, :, 1:]).sum(1) if g5 is not None else torch.zeros_like(attention)
    if reg_scale is not None:
        step = (attention[:, 1:] - attention[:, :-1]) * reg_scale
        grad = grad + _later(step) - _earlier(step)
    grad_logits = grad * (1 - attention) * attention
    sums = torch.stack([(grad_logits * logits).sum(), grad_logits.sum()])
    if gx5 is not None:
        grad_difference = grad_logits * slope
        per_frame = _later(grad_difference) - _earlier(grad_difference)  # (B, T, H, W)
        weights = torch.tensor(coeffs, dtype=per_frame.dtype).view(1, 3, 1, 1, 1)
        through_prompt = _later(g5 * attention.unsqueeze(1)) if g5 is not None else 0.0
        gx5.copy_(weights * per_frame.unsqueeze(1) + through_prompt)
    return sums


class FusedKernels:
    """A layer's compiled kernels, built on first use; after a failure ``failed`` says why they are off.

    Used for float32 CPU videos of at least ``min_elements`` elements (smaller ones gain nothing from a
    compile); copies and pickles of a layer start without compiled code. A call that would pass Dynamo's
    recompile limit (many shapes and layouts in one process) runs the chunked kernel instead.
    """

    min_elements = 1 << 20

    def __init__(self) -> None:
        self.failed: str | None = None
        self.runs = 0  # successful kernel calls
        self._compiled: dict[str, Callable] = {}

    def applies(self, video: Tensor) -> bool:
        return (
            self.failed is None
            and video.device.type == "cpu"
            and video.dtype == torch.float32
            and video.numel() >= self.min_elements
        )

    def forward(self, *args) -> Tensor | bool | None:
        """:func:`forward_kernel`'s result, or False when compiling failed (use the chunked kernel)."""
        return self._run(forward_kernel, args)

    def backward(self, *args) -> Tensor | bool:
        """:func:`backward_kernel`'s result, or False when compiling failed."""
        return self._run(backward_kernel, args)

    def _run(self, kernel: Callable, args: tuple):
        compiled = self._compiled.get(kernel.__name__)
        if compiled is None:
            compiled = self._compiled[kernel.__name__] = torch.compile(kernel, fullgraph=True)
        # Detached: Dynamo would read .grad of the autograd inputs and warn (the storage is shared).
        args = tuple(arg.detach() if isinstance(arg, Tensor) else arg for arg in args)
        try:
            result = compiled(*args)
        except Exception as error:  # any compiler or platform failure: the chunked kernel still works
            if _hit_recompile_limit(error):  # too many shape/layout variants: this call only
                return False
            self.failed = (f"{type(error).__name__}: {error}".splitlines() or [""])[0][:300]
            warnings.warn(
                f"MotionPromptLayer: its fused CPU kernels could not be compiled ({self.failed}); "
                "using the chunked kernel from now on (MotionPromptLayer(fuse=False) skips the attempt)",
                RuntimeWarning,
                stacklevel=2,
            )
            return False
        self.runs += 1
        return result

    def __deepcopy__(self, memo: dict) -> FusedKernels:
        return FusedKernels()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


def _hit_recompile_limit(error: Exception) -> bool:
    """Whether Dynamo refused to compile again (``fullgraph=True`` past its recompile limit).

    The exception was ``FailOnCacheLimitHit`` until pytorch/pytorch#143709 (December 2024) renamed it
    ``FailOnRecompileLimitHit``; torch releases before that rename are allowed (``torch>=2.4``), so neither
    name is assumed.
    """
    errors = torch._dynamo.exc
    kinds = tuple(
        getattr(errors, name)
        for name in ("FailOnRecompileLimitHit", "FailOnCacheLimitHit")
        if hasattr(errors, name)
    )
    return bool(kinds) and isinstance(error, kinds)
