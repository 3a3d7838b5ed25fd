"""MotionPromptLayer: the drop-in ``nn.Module`` for training code, exact against the authors' layer, and lean.

The reference layer de-normalises a full copy of the video, grayscales it with an einsum, repeats the
attention to three channels and multiplies. Here the same numbers come from folded constants:

* grayscale of the de-normalised frames is ``sum_c w_c (std_c x_c + mean_c)``; its constant part cancels in
  the frame difference, so ``D_t = sum_c (w_c std_c) (x_{c,t+1} - x_{c,t})`` is read straight from the
  normalised channels;
* the prompt multiplies the *normalised* later frame, as the reference does (``P = A * x[t+1]``).

Two implementations give the same numbers (tested against the reference to 1e-5):

* eager (the default): a chunked, in-place kernel with a hand-written backward (``mp_core._layer_eager``);
* traced: under ``torch.compile`` or ``torch.export`` the same formula as plain tensor ops
  (:func:`_traced_motion_prompts`), which Dynamo traces without graph breaks, autograd differentiates and
  Inductor fuses into one or two loops.

Under ``torch.autocast`` the prompts come out in the autocast dtype; the difference, the sigmoid and the
regulariser are computed in float32 (at slope 50 a half-precision argument saturates).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mp_core._layer_eager import BufferPool, MotionPrompts, _as_bcthw, _Spec
from mp_core._layer_fused import FusedKernels
from mp_core.errors import ParameterError, ShapeError
from mp_core.params import SHIFT_SCALE, SLOPE_FLOOR, SLOPE_SCALE, SLOPE_TANH, MotionParams

__all__ = ["MotionPromptLayer", "video_motion_prompts"]

#: BT.601 luma weights, as in the paper and the reference.
_LUMA = {"R": 0.299, "G": 0.587, "B": 0.114}


def _check_layout(layout: str) -> str:
    if not isinstance(layout, str):
        raise ParameterError(f"layout must be a string such as 'BCTHW', got {type(layout).__name__}")
    upper = layout.upper()
    if sorted(upper) not in (sorted("BCTHW"), sorted("CTHW")):
        raise ParameterError(
            f"layout must be a permutation of 'BCTHW' or 'CTHW' (e.g. 'BCTHW', 'BTCHW', 'CTHW', 'TCHW'), "
            f"got {layout!r}"
        )
    return upper


def _check_color_order(color_order: str) -> str:
    if not isinstance(color_order, str) or sorted(color_order.upper()) != sorted("RGB"):
        raise ParameterError(f"color_order must be a permutation of 'RGB' (e.g. 'BGR'), got {color_order!r}")
    return color_order.upper()


def _per_channel(value: float | Sequence[float], name: str, *, positive: bool) -> tuple[float, float, float]:
    values = (value,) * 3 if isinstance(value, (int, float)) else tuple(value)
    if len(values) != 3:
        raise ParameterError(f"{name} must be a number or 3 numbers (one per channel), got {value!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ParameterError(f"{name} must hold finite numbers, got {value!r}")
        if positive and v <= 0:
            raise ParameterError(f"{name} must be > 0, got {value!r}")
        out.append(float(v))
    return out[0], out[1], out[2]


def _make_spec(
    penalty_weight: float,
    layout: str,
    color_order: str,
    mean: float | Sequence[float],
    std: float | Sequence[float],
) -> _Spec:
    if isinstance(penalty_weight, bool) or not isinstance(penalty_weight, (int, float)):
        raise ParameterError(f"penalty_weight must be a number, got {penalty_weight!r}")
    if not math.isfinite(penalty_weight):
        raise ParameterError(f"penalty_weight must be finite, got {penalty_weight}")
    order = _check_color_order(color_order)
    _per_channel(mean, "mean", positive=False)  # mean cancels in the difference, but must be valid
    stds = _per_channel(std, "std", positive=True)
    coeffs = tuple(_LUMA[c] * s for c, s in zip(order, stds, strict=True))
    return _Spec(_check_layout(layout), coeffs, float(penalty_weight))


def _check_video(video: Tensor, layout: str) -> None:
    if not isinstance(video, Tensor):
        raise ShapeError(f"video must be a torch.Tensor, got {type(video).__name__}")
    shape = list(video.shape)
    if video.ndim != len(layout):
        raise ShapeError(f"video must have {len(layout)} dimensions ({layout}), got shape {shape}")
    if not torch.is_floating_point(video):
        raise ShapeError(f"video must be a floating tensor, got dtype {video.dtype} (shape {shape})")
    channels, frames = video.shape[layout.index("C")], video.shape[layout.index("T")]
    if channels != 3:
        raise ShapeError(f"video must have 3 channels in dimension C of {layout}, got shape {shape}")
    if frames < 2:
        raise ShapeError(f"video needs at least 2 frames in dimension T of {layout}, got shape {shape}")


def video_motion_prompts(
    video: Tensor,
    m: Tensor,
    n: Tensor,
    penalty_weight: float = 0.0,
    layout: str = "BCTHW",
    color_order: str = "BGR",
    mean: float | Sequence[float] = 0.45,
    std: float | Sequence[float] = 0.225,
) -> tuple[Tensor, Tensor]:
    r"""Motion prompts of a normalised video and the weighted temporal attention variation.

    Computes exactly what the authors' layer computes: ``A_t = sigmoid(a (D_t - b))`` from the signed
    difference of the luma of the de-normalised frames, with ``a = 5 / (0.45 |tanh m| + 0.1)`` and
    ``b = 0.6 tanh n``; prompts ``P_t = A_t * x_{t+1}`` on the *normalised* frames; and
    ``reg = penalty_weight * sum_t ||A_{t+1} - A_t||^2 / (B H W (T - 2))`` (0 when T = 2).

    Args:
        video: normalised video, ``(x - mean) / std`` of values in [0, 1], in ``layout``.
        m: raw slope parameter, shape [1] (or 0-dim).
        n: raw shift parameter, shape [1] (or 0-dim).
        penalty_weight: λ, the regulariser's weight; 0 skips computing it.
        layout: permutation of "BCTHW" or "CTHW".
        color_order: channel order of the video, "BGR" or "RGB" (any permutation of RGB).
        mean: normalisation mean, one number or one per channel in ``color_order``.
        std: normalisation std, likewise.

    Returns:
        ``(prompts, reg)``: prompts in ``layout`` with T-1 frames and the video's dtype; reg a 0-dim tensor
        (float32 for half-precision input).

    Gradients flow to ``video``, ``m`` and ``n`` through a hand-written backward in eager mode (double
    backward, ``create_graph=True``, is not supported there) and through autograd of plain tensor ops under
    ``torch.compile`` / ``torch.export``. Under ``torch.autocast`` the prompts come out in the autocast dtype
    while the difference, the sigmoid and ``reg`` are computed in float32.

    Raises:
        ShapeError: the video's rank, channel count (3) or frame count (>= 2) is wrong.
        ParameterError: invalid layout, color order, mean, std or penalty weight.

    Example:
        >>> video = torch.zeros(1, 3, 4, 8, 8)
        >>> prompts, reg = video_motion_prompts(video, torch.zeros(1), torch.zeros(1), penalty_weight=1.0)
        >>> prompts.shape, reg
        (torch.Size([1, 3, 3, 8, 8]), tensor(0.))
    """
    spec = _make_spec(penalty_weight, layout, color_order, mean, std)
    return _apply(video, m, n, spec)


def _apply(
    video: Tensor,
    m: Tensor,
    n: Tensor,
    spec: _Spec,
    runtime: tuple[BufferPool, FusedKernels | None] | None = None,
) -> tuple[Tensor, Tensor]:
    _check_video(video, spec.layout)
    device_type = video.device.type
    out_dtype = video.dtype
    autocast = torch.is_autocast_enabled(device_type)
    if autocast and video.dtype in (torch.float32, torch.float16, torch.bfloat16):
        out_dtype = torch.get_autocast_dtype(device_type)  # as autocast's lower-precision ops do
    with torch.autocast(device_type, enabled=False) if autocast else contextlib.nullcontext():
        cdtype = torch.promote_types(video.dtype, torch.float32)
        slope = (SLOPE_SCALE / (SLOPE_TANH * torch.tanh(m).abs() + SLOPE_FLOOR)).to(cdtype)
        shift = (SHIFT_SCALE * torch.tanh(n)).to(cdtype)
        if torch.compiler.is_compiling():  # torch.compile and torch.export (strict or not)
            return _traced_motion_prompts(video, slope, shift, spec, out_dtype)
        grads = video.requires_grad or slope.requires_grad or shift.requires_grad
        keep = (torch.is_grad_enabled() and grads) or spec.reg_weight != 0.0
        prompts, reg = MotionPrompts.apply(video, slope, shift, spec, keep, out_dtype, runtime)
        return prompts, reg


def _traced_motion_prompts(
    video: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, out_dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """The eager kernel's numbers as plain tensor ops, for Dynamo, AOTAutograd and Inductor to trace.

    Same operation order as the eager kernel: ``a * D`` from weights pre-multiplied by ``a``, minus ``a b``.
    """
    x5 = _as_bcthw(video, spec.layout)
    x5 = x5 if x5.dtype == slope.dtype else x5.to(slope.dtype)
    batch, _, frames, height, width = x5.shape
    k0, k1, k2 = spec.gray_coeffs
    scaled_gray = x5[:, 0] * (slope * k0) + x5[:, 1] * (slope * k1) + x5[:, 2] * (slope * k2)
    attention = torch.sigmoid(scaled_gray[:, 1:] - scaled_gray[:, :-1] - slope * shift)  # (B, T-1, H, W)
    prompts = attention.unsqueeze(1) * x5[:, :, 1:]
    prompts = prompts if prompts.dtype == out_dtype else prompts.to(out_dtype)
    if "B" in spec.layout:
        order = ["BCTHW".index(axis) for axis in spec.layout]
    else:
        prompts, order = prompts.squeeze(0), ["CTHW".index(axis) for axis in spec.layout]
    prompts = prompts.permute(order).contiguous()
    if spec.reg_weight == 0.0 or frames < 3:
        return prompts, slope.new_zeros(())
    steps = attention[:, 1:] - attention[:, :-1]
    reg = steps.square().sum() * (spec.reg_weight / (batch * height * width * (frames - 2)))
    return prompts, reg


class MotionPromptLayer(nn.Module):
    r"""Video Motion Prompts layer (Chen et al., ACML 2024): attention from motion, applied to the video.

    Drop-in for the authors' ``VideoMotionPrompt``: same prompts, regulariser and gradients with the
    defaults, and its checkpoint values load with ``load_state_dict({"m": ..., "n": ...})`` after the
    ``vmps.`` prefix is stripped. See :func:`video_motion_prompts` for the computation.

    Args:
        penalty_weight: λ, weight of the temporal attention variation in ``reg``.
        layout: permutation of "BCTHW" or "CTHW" (e.g. "BTCHW", "TCHW").
        color_order: channel order of the input, "BGR" (reference) or "RGB".
        mean: normalisation mean of the input, a number or one per channel in ``color_order``.
        std: normalisation std, likewise.
        fuse: run large float32 CPU videos (>= 2^20 elements) through kernels that Inductor compiles on
            first use (seconds, once per shape family; needs a C++ compiler, and without one the layer
            warns once and keeps the chunked kernel). False: always the chunked kernel, never a compile.

    Shape:
        - Input: ``(B, C, T, H, W)`` for the default layout (generally ``layout``), C = 3, T >= 2.
        - Output: ``(prompts, reg)``, prompts ``(B, C, T-1, H, W)`` in ``layout``; reg ``()``.

    Example:
        >>> layer = MotionPromptLayer(penalty_weight=0.5, layout="BTCHW")
        >>> _ = layer.load_state_dict({"m": torch.tensor([1.05]), "n": torch.tensor([-2.67])})
        >>> video = (torch.rand(2, 5, 3, 16, 16) - 0.45) / 0.225
        >>> prompts, reg = layer(video)
        >>> prompts.shape, reg.shape
        (torch.Size([2, 4, 3, 16, 16]), torch.Size([]))
        >>> round(layer.params.slope, 3)
        11.067
    """

    def __init__(
        self,
        penalty_weight: float = 0.0,
        layout: str = "BCTHW",
        color_order: str = "BGR",
        mean: float | Sequence[float] = 0.45,
        std: float | Sequence[float] = 0.225,
        fuse: bool = True,
    ) -> None:
        super().__init__()
        self._spec = _make_spec(penalty_weight, layout, color_order, mean, std)
        self.penalty_weight = float(penalty_weight)
        self.layout = self._spec.layout
        self.color_order = _check_color_order(color_order)
        self.mean = _per_channel(mean, "mean", positive=False)
        self.std = _per_channel(std, "std", positive=True)
        self.m = nn.Parameter(torch.randn(1))
        self.n = nn.Parameter(torch.randn(1))
        self._output_pool = BufferPool()
        self._fused = FusedKernels() if fuse else None

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        return _apply(video, self.m, self.n, self._spec, (self._output_pool, self._fused))

    def empty_cache(self) -> None:
        """Free the idle CPU buffers the layer keeps for its next call (in use ones are left alone)."""
        self._output_pool.clear()

    @property
    def params(self) -> MotionParams:
        """The current (m, n) as :class:`MotionParams` (reads the values: a host sync, not for forward)."""
        return MotionParams(m=float(self.m.detach().reshape(-1)[0]), n=float(self.n.detach().reshape(-1)[0]))

    def extra_repr(self) -> str:
        return (
            f"penalty_weight={self.penalty_weight}, layout={self.layout!r}, "
            f"color_order={self.color_order!r}, mean={self.mean}, std={self.std}"
        )
