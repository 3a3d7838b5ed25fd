"""The eager kernel behind :class:`mp_core.layer.MotionPromptLayer`: chunked, in-place, hand-written backward.

Private: :mod:`mp_core.layer` calls it outside ``torch.compile`` / ``torch.export``, where its ``out=`` and
in-place ops are what makes it fast, and falls back to plain tensor ops while tracing.

* On CPU the work runs over cache-sized chunks of frames, so the gray and attention scratch stay in cache
  and the only full-size allocation of an inference forward is the output.
* Full-size CPU buffers (prompts, saved attention, the video's gradient) come from NumPy's allocator, which
  asks Linux for transparent huge pages on large arrays (``madvise``): first-touch page faults of a fresh
  38 MiB output cost more than the whole computation with 4 KiB pages (measured here: 6.9 ms against
  1.7 ms to allocate and fill it). ``NUMPY_MADVISE_HUGEPAGE=0`` turns that off; without NumPy, torch's
  allocator is used.
* The backward saves only the input and the attention and recomputes the frame difference.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

try:  # optional: torch itself does not require NumPy
    import numpy as np
except ImportError:  # pragma: no cover - NumPy is installed wherever this project runs
    np = None

#: Bytes of input per CPU chunk: a chunk, its scratch and its output share the 32 MiB L3 (measured: 12-16 MiB
#: beat 6 MiB and unchunked by 10-25% on 2 cores).
_CPU_CHUNK_BYTES = 16 << 20
#: CPU buffers from this size on are allocated by NumPy (huge pages); smaller ones by torch.
_HUGE_PAGE_MIN_BYTES = 4 << 20


@dataclass(frozen=True)
class _Spec:
    """Validated configuration: how to view the input as (B, C, T, H, W) and the folded gray weights."""

    layout: str  # the user's layout, e.g. "BCTHW" or "TCHW"
    gray_coeffs: tuple[float, ...]  # w_c * std_c in the input's channel order
    reg_weight: float  # penalty weight


def _as_bcthw(tensor: Tensor, layout: str) -> Tensor:
    """A (B, C, T, H, W) view of a tensor in ``layout`` (a batch of one is added when there is no B)."""
    if "B" not in layout:
        tensor, layout = tensor.unsqueeze(0), "B" + layout
    return tensor.permute([layout.index(axis) for axis in "BCTHW"])


def _new_empty(like: Tensor, shape: Sequence[int], dtype: torch.dtype) -> Tensor:
    """An uninitialised contiguous tensor on ``like``'s device; large CPU ones backed by huge pages."""
    nbytes = math.prod(shape) * dtype.itemsize
    if like.device.type != "cpu" or np is None or nbytes < _HUGE_PAGE_MIN_BYTES:
        return like.new_empty(tuple(shape), dtype=dtype)
    return torch.from_numpy(np.empty(nbytes, np.uint8)).view(dtype).view(tuple(shape))


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


class MotionPrompts(torch.autograd.Function):
    """prompts, reg = f(video, slope, shift); the backward recomputes D from the video instead of saving it.

    Saved for backward: the video (not copied) and the attention (B, T-1, H, W), only when needed.
    """

    @staticmethod
    def forward(ctx, video: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, keep: bool, out_dtype):  # type: ignore[override]
        t_dim = spec.layout.index("T")
        out_shape = (*video.shape[:t_dim], video.shape[t_dim] - 1, *video.shape[t_dim + 1 :])
        out = _new_empty(video, out_shape, out_dtype)
        x5, out5 = _as_bcthw(video, spec.layout), _as_bcthw(out, spec.layout)
        batch, _, frames, height, width = x5.shape
        scratch = _Scratch(x5, slope.dtype)
        shift_scaled = slope * shift
        attention = _new_empty(x5, (batch, frames - 1, height, width), slope.dtype) if keep else None
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
            torch.mul(z.unsqueeze(1), xc[:, :, 1:], out=out5[bs, :, prompts])
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
            grad_video = _new_empty(video, video.shape, video.dtype)
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
        return grad_video, grad_slope, grad_shift, None, None, None


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
