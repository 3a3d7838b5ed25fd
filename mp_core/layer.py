"""MotionPromptLayer: the drop-in ``nn.Module`` for training code, exact against the authors' layer, and lean.

The reference layer de-normalises a full copy of the video, grayscales it with an einsum, repeats the
attention to three channels and multiplies. Here the same numbers come from folded constants:

* grayscale of the de-normalised frames is ``sum_c w_c (std_c x_c + mean_c)``; its constant part cancels in
  the frame difference, so ``D_t = sum_c (w_c std_c) (x_{c,t+1} - x_{c,t})`` is read straight from the
  normalised channels;
* the prompt multiplies the *normalised* later frame, as the reference does (``P = A * x[t+1]``), written
  per channel into the output without repeating the attention;
* on CPU the work runs over cache-sized chunks of frames, so the gray and attention scratch stay in cache
  and the only full-size allocation of an inference forward is the output;
* a hand-written backward (an ``autograd.Function``) saves only the input and the attention.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mp_core.errors import ParameterError, ShapeError
from mp_core.params import MotionParams

__all__ = ["MotionPromptLayer", "video_motion_prompts"]

#: BT.601 luma weights, as in the paper and the reference.
_LUMA = {"R": 0.299, "G": 0.587, "B": 0.114}
#: Bytes of input per CPU chunk: the chunk and its scratch stay in the 2 MiB L2 / 32 MiB L3 of a core.
_CPU_CHUNK_BYTES = 6 << 20


@dataclass(frozen=True)
class _Spec:
    """Validated configuration: how to view the input as (B, C, T, H, W) and the folded gray weights."""

    layout: str  # the user's layout, e.g. "BCTHW" or "TCHW"
    gray_coeffs: tuple[float, ...]  # w_c * std_c in the input's channel order
    reg_weight: float  # penalty weight


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


def _as_bcthw(tensor: Tensor, layout: str) -> Tensor:
    """A (B, C, T, H, W) view of a tensor in ``layout`` (a batch of one is added when there is no B)."""
    if "B" not in layout:
        tensor, layout = tensor.unsqueeze(0), "B" + layout
    return tensor.permute([layout.index(axis) for axis in "BCTHW"])


def _chunks(x5: Tensor) -> Iterator[tuple[slice, slice]]:
    """(batch slice, frame slice) pieces of about ``_CPU_CHUNK_BYTES``; frame slices overlap by one frame."""
    batch, channels, frames, height, width = x5.shape
    if x5.device.type != "cpu":
        yield slice(0, batch), slice(0, frames)
        return
    frame_bytes = channels * height * width * x5.element_size()
    per_clip = max(1, _CPU_CHUNK_BYTES // (frame_bytes * frames))
    if per_clip > 1 or frame_bytes * frames <= _CPU_CHUNK_BYTES:
        for b0 in range(0, batch, per_clip):
            yield slice(b0, min(b0 + per_clip, batch)), slice(0, frames)
        return
    step = max(1, _CPU_CHUNK_BYTES // frame_bytes - 1)  # prompts per chunk
    for b0 in range(batch):
        for t0 in range(0, frames - 1, step):
            yield slice(b0, b0 + 1), slice(t0, min(t0 + step, frames - 1) + 1)


def _luma_difference(
    x5: Tensor, weights: Sequence[float | Tensor], dtype: torch.dtype, out: Tensor | None = None
) -> Tensor:
    """``sum_c w_c (x_{c,t+1} - x_{c,t})`` of (B, C, T, H, W) frames, shape (B, T-1, H, W), in ``dtype``."""
    gray = x5[:, 0].to(dtype) * weights[0]
    for c in range(1, x5.shape[1]):
        weight = weights[c]
        if isinstance(weight, Tensor):
            gray.addcmul_(x5[:, c], weight)
        else:
            gray.add_(x5[:, c], alpha=weight)
    return torch.sub(gray[:, 1:], gray[:, :-1], out=out)


class _MotionPrompts(torch.autograd.Function):
    """prompts, R = f(video, slope, shift) with a backward that recomputes D instead of saving it."""

    @staticmethod
    def forward(ctx, video: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, keep: bool):  # type: ignore[override]
        layout = spec.layout
        t_dim = layout.index("T")
        out = video.new_empty((*video.shape[:t_dim], video.shape[t_dim] - 1, *video.shape[t_dim + 1 :]))
        x5, out5 = _as_bcthw(video, layout), _as_bcthw(out, layout)
        batch, channels, frames, height, width = x5.shape
        cdtype = slope.dtype
        shift_scaled = slope * shift
        attention = x5.new_empty((batch, frames - 1, height, width), dtype=cdtype) if keep else None
        weights = [slope * k for k in spec.gray_coeffs]  # a * w_c * std_c: D comes out scaled by a
        for bs, ts in _chunks(x5):
            xc = x5[bs, :, ts]
            target = None if attention is None else attention[bs, ts.start : ts.stop - 1]
            z = _luma_difference(xc, weights, cdtype, out=target).sub_(shift_scaled).sigmoid_()
            pc = out5[bs, :, ts.start : ts.stop - 1]
            for c in range(channels):
                torch.mul(z, xc[:, c, 1:], out=pc[:, c])
        reg = torch.zeros((), dtype=cdtype, device=video.device)
        if spec.reg_weight != 0.0 and attention is not None and frames > 2:
            step = attention[:, 1:] - attention[:, :-1]
            reg = step.square_().sum() * (spec.reg_weight / (batch * height * width * (frames - 2)))
        ctx.spec = spec
        if keep:
            ctx.save_for_backward(video, slope, shift, attention)
        ctx.set_materialize_grads(False)
        return out, reg

    @staticmethod
    def backward(ctx, grad_out: Tensor | None, grad_reg: Tensor | None):  # type: ignore[override]
        video, slope, shift, attention = ctx.saved_tensors
        spec: _Spec = ctx.spec
        x5 = _as_bcthw(video, spec.layout)
        batch, channels, frames, height, width = x5.shape
        cdtype = attention.dtype
        grad_att = torch.zeros_like(attention)
        if grad_out is not None:
            g5 = _as_bcthw(grad_out, spec.layout)
            for c in range(channels):
                grad_att.addcmul_(g5[:, c], x5[:, c, 1:])
        if grad_reg is not None and spec.reg_weight != 0.0 and frames > 2:
            scale = 2.0 * spec.reg_weight / (batch * height * width * (frames - 2))
            step = (attention[:, 1:] - attention[:, :-1]).mul_(grad_reg * scale)
            grad_att[:, 1:].add_(step)
            grad_att[:, :-1].sub_(step)
        grad_z = torch.ops.aten.sigmoid_backward(grad_att, attention)
        del grad_att
        grad_video = grad_slope = grad_shift = None
        if ctx.needs_input_grad[1]:
            centred = _luma_difference(x5, spec.gray_coeffs, cdtype).sub_(shift)
            grad_slope = centred.mul_(grad_z).sum().reshape(slope.shape)
            del centred
        if ctx.needs_input_grad[2]:
            grad_shift = -(grad_z.sum() * slope)
        if ctx.needs_input_grad[0]:
            grad_diff = grad_z.mul_(slope)
            grad_gray = grad_diff.new_zeros((batch, frames, height, width))
            grad_gray[:, 1:] = grad_diff
            grad_gray[:, :-1].sub_(grad_diff)
            grad_video = torch.empty_like(video, memory_format=torch.contiguous_format)
            gx5 = _as_bcthw(grad_video, spec.layout)
            for c in range(channels):
                torch.mul(grad_gray, spec.gray_coeffs[c], out=gx5[:, c])
                if grad_out is not None:
                    gx5[:, c, 1:].addcmul_(g5[:, c], attention)
        return grad_video, grad_slope, grad_shift, None, None


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


def _apply(video: Tensor, m: Tensor, n: Tensor, spec: _Spec) -> tuple[Tensor, Tensor]:
    _check_video(video, spec.layout)
    cdtype = torch.promote_types(video.dtype, torch.float32)
    slope = (5.0 / (0.45 * torch.tanh(m).abs() + 0.1)).to(cdtype)
    shift = (0.6 * torch.tanh(n)).to(cdtype)
    keep = torch.is_grad_enabled() and (video.requires_grad or slope.requires_grad or shift.requires_grad)
    keep = keep or spec.reg_weight != 0.0
    prompts, reg = _MotionPrompts.apply(video, slope, shift, spec, keep)
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

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        return _apply(video, self.m, self.n, self._spec)

    @property
    def params(self) -> MotionParams:
        """The current (m, n) as :class:`MotionParams` (reads the values: a host sync, not for forward)."""
        return MotionParams(m=float(self.m.detach().reshape(-1)[0]), n=float(self.n.detach().reshape(-1)[0]))

    def extra_repr(self) -> str:
        return (
            f"penalty_weight={self.penalty_weight}, layout={self.layout!r}, "
            f"color_order={self.color_order!r}, mean={self.mean}, std={self.std}"
        )
