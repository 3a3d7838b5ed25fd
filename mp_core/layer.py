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
from torch.autograd.function import once_differentiable

from mp_core.errors import ParameterError, ShapeError
from mp_core.params import MotionParams

__all__ = ["MotionPromptLayer", "video_motion_prompts"]

#: BT.601 luma weights, as in the paper and the reference.
_LUMA = {"R": 0.299, "G": 0.587, "B": 0.114}
#: Bytes of input per CPU chunk: a chunk, its scratch and its output share the 32 MiB L3 (measured: 12-16 MiB
#: beat 6 MiB and unchunked by 10-25% on 2 cores).
_CPU_CHUNK_BYTES = 16 << 20


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
    x5: Tensor, weights: Sequence[float | Tensor], gray: Tensor, out: Tensor | None = None
) -> Tensor:
    """``sum_c w_c (x_{c,t+1} - x_{c,t})`` of (B, C, T, H, W) frames into ``out``, (B, T-1, H, W).

    ``gray`` is scratch of shape (B, T, H, W) in the compute dtype.
    """
    for c in range(x5.shape[1]):
        weight = weights[c]
        if c == 0:
            if isinstance(weight, Tensor) or x5.dtype == gray.dtype:
                torch.mul(x5[:, 0], weight, out=gray)
            else:  # a Python weight would make a half-precision product
                gray.copy_(x5[:, 0]).mul_(weight)
        elif isinstance(weight, Tensor):
            gray.addcmul_(x5[:, c], weight)
        else:
            gray.add_(x5[:, c], alpha=weight)
    return torch.sub(gray[:, 1:], gray[:, :-1], out=out)


class _Scratch:
    """Reusable flat buffers, viewed at the shape each chunk needs (chunks differ only at the end)."""

    def __init__(self, like: Tensor, dtype: torch.dtype) -> None:
        self.like, self.dtype, self.buffers = like, dtype, {}

    def get(self, name: str, shape: tuple[int, ...]) -> Tensor:
        numel = math.prod(shape)
        buffer = self.buffers.get(name)
        if buffer is None or buffer.numel() < numel:
            buffer = self.buffers[name] = self.like.new_empty(numel, dtype=self.dtype)
        return buffer[:numel].view(shape)


class _MotionPrompts(torch.autograd.Function):
    """prompts, reg = f(video, slope, shift); the backward recomputes D from the video instead of saving it.

    Saved for backward: the video (not copied) and the attention (B, T-1, H, W), only when needed.
    """

    @staticmethod
    def forward(ctx, video: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, keep: bool):  # type: ignore[override]
        t_dim = spec.layout.index("T")
        out = video.new_empty((*video.shape[:t_dim], video.shape[t_dim] - 1, *video.shape[t_dim + 1 :]))
        x5, out5 = _as_bcthw(video, spec.layout), _as_bcthw(out, spec.layout)
        batch, channels, frames, height, width = x5.shape
        scratch = _Scratch(x5, slope.dtype)
        shift_scaled = slope * shift
        attention = x5.new_empty((batch, frames - 1, height, width), dtype=slope.dtype) if keep else None
        weights = [slope * k for k in spec.gray_coeffs]  # a * w_c * std_c: D comes out scaled by a
        with_reg = spec.reg_weight != 0.0 and attention is not None and frames > 2
        squares: list[Tensor] = []
        for bs, ts in _chunks(x5):
            xc = x5[bs, :, ts]
            nb, nt = xc.shape[0], xc.shape[2]
            prompts = slice(ts.start, ts.stop - 1)
            gray = scratch.get("gray", (nb, nt, height, width))
            z = scratch.get("z", (nb, nt - 1, height, width)) if attention is None else attention[bs, prompts]
            _luma_difference(xc, weights, gray, out=z).sub_(shift_scaled).sigmoid_()
            for c in range(channels):
                torch.mul(z, xc[:, c, 1:], out=out5[bs, c, prompts])
            if with_reg:  # steps A_{p+1} - A_p ending in this chunk, while its maps are in cache
                maps = attention[bs, max(prompts.start - 1, 0) : prompts.stop]
                if maps.shape[1] > 1:
                    step = scratch.get("step", (nb, maps.shape[1] - 1, height, width))
                    squares.append(torch.sub(maps[:, 1:], maps[:, :-1], out=step).square_().sum())
        reg = torch.zeros((), dtype=slope.dtype, device=video.device)
        if squares:
            reg = torch.stack(squares).sum() * (spec.reg_weight / (batch * height * width * (frames - 2)))
        ctx.spec = spec
        if keep:
            ctx.save_for_backward(video, slope, shift, attention)
        ctx.set_materialize_grads(False)
        return out, reg

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor | None, grad_reg: Tensor | None):  # type: ignore[override]
        video, slope, shift, attention = ctx.saved_tensors
        spec: _Spec = ctx.spec
        need_video, need_slope, need_shift = ctx.needs_input_grad[:3]
        x5 = _as_bcthw(video, spec.layout)
        g5 = None if grad_out is None else _as_bcthw(grad_out, spec.layout)
        batch, _, frames, height, width = x5.shape
        scratch = _Scratch(x5, attention.dtype)
        reg_scale = None
        if grad_reg is not None and spec.reg_weight != 0.0 and frames > 2:
            reg_scale = grad_reg * (2.0 * spec.reg_weight / (batch * height * width * (frames - 2)))
        grad_video = None
        if need_video:
            grad_video = torch.empty_like(video, memory_format=torch.contiguous_format)
            gx5 = _as_bcthw(grad_video, spec.layout)
        slope_terms, shift_terms = [], []
        carry = None  # d loss / d D of the previous chunk's last prompt (time chunks only)
        for bs, ts in _chunks(x5):
            xc = x5[bs, :, ts]
            nb, nt = xc.shape[0], xc.shape[2]
            p0, p1 = ts.start, ts.stop - 1  # prompts [p0, p1) of frames [p0, p1]
            grad_z = scratch.get("grad_z", (nb, nt - 1, height, width))
            _grad_attention(grad_z, g5, xc, attention, bs, p0, p1, reg_scale)
            att = attention[bs, p0:p1]
            torch.ops.aten.sigmoid_backward.grad_input(grad_z, att, grad_input=grad_z)
            if need_slope:
                gray = scratch.get("gray", (nb, nt, height, width))
                centred = _luma_difference(xc, spec.gray_coeffs, gray, scratch.get("d", grad_z.shape))
                slope_terms.append(centred.sub_(shift).mul_(grad_z).sum())
            if need_shift:
                shift_terms.append(grad_z.sum())
            if need_video:
                carry = _grad_video_chunk(gx5, grad_z.mul_(slope), g5, attention, spec, bs, p0, p1, carry)
        grad_slope = torch.stack(slope_terms).sum().reshape(slope.shape) if need_slope else None
        grad_shift = -(torch.stack(shift_terms).sum() * slope) if need_shift else None
        return grad_video, grad_slope, grad_shift, None, None


def _grad_attention(
    out: Tensor, g5: Tensor | None, xc: Tensor, attention: Tensor, bs: slice, p0: int, p1: int, reg_scale
) -> None:
    """d loss / d A for prompts [p0, p1) of batch ``bs``: from the prompts and from the regulariser."""
    if g5 is None:
        out.zero_()
    for c in range(xc.shape[1] if g5 is not None else 0):
        if c == 0:
            torch.mul(g5[bs, 0, p0:p1], xc[:, 0, 1:], out=out)
        else:
            out.addcmul_(g5[bs, c, p0:p1], xc[:, c, 1:])
    if reg_scale is None:
        return
    last = attention.shape[1] - 1  # index of the last prompt
    lo, hi = max(p0 - 1, 0), min(p1 + 1, last + 1)  # neighbours of the chunk's attention maps
    ext = attention[bs, lo:hi]
    step = (ext[:, 1:] - ext[:, :-1]).mul_(reg_scale)  # step[j] = A[lo+j+1] - A[lo+j], scaled
    first = max(p0, 1)  # prompts p >= 1 get + step[p-1]
    out[:, first - p0 :].add_(step[:, first - 1 - lo : p1 - 1 - lo])
    stop = min(p1, last)  # prompts p < last get - step[p]
    out[:, : stop - p0].sub_(step[:, p0 - lo : stop - lo])


def _grad_video_chunk(
    gx5: Tensor,
    grad_diff: Tensor,
    g5: Tensor | None,
    attention: Tensor,
    spec: _Spec,
    bs: slice,
    p0: int,
    p1: int,
    carry: Tensor | None,
) -> Tensor:
    """Write d loss / d video for frames [p0, p1) (and p1 if it is the last frame); return the carry.

    Frame f gets ``k_c (dD_{f-1} - dD_f)`` through the difference and ``g_{f-1} A_{f-1}`` through the
    prompt; dD_{p0-1} comes from the previous chunk (``carry``), frame p1 is written by the next chunk.
    """
    nb, count = grad_diff.shape[:2]
    frames = attention.shape[1] + 1
    is_last = p1 == frames - 1
    per_frame = grad_diff.new_zeros((nb, count + 1, *grad_diff.shape[2:]))
    per_frame[:, :count].sub_(grad_diff)
    per_frame[:, 1:].add_(grad_diff)
    if p0 > 0 and carry is not None:
        per_frame[:, 0].add_(carry)
    stop = p1 + 1 if is_last else p1
    for c in range(gx5.shape[1]):
        target = gx5[bs, c, p0:stop]
        torch.mul(per_frame[:, : stop - p0], spec.gray_coeffs[c], out=target)
        if g5 is not None:
            start = max(p0, 1)  # frames f >= 1 are prompted by A_{f-1}
            gx5[bs, c, start:stop].addcmul_(
                g5[bs, c, start - 1 : stop - 1], attention[bs, start - 1 : stop - 1]
            )
    return grad_diff[:, -1].clone()


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

    Gradients flow to ``video``, ``m`` and ``n`` through a hand-written backward; double backward
    (``create_graph=True`` through this function) is not supported.

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
