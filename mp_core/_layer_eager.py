"""The eager kernel behind :class:`mp_core.layer.MotionPromptLayer`: chunked, in-place, hand-written backward.

Private: :mod:`mp_core.layer` calls it outside ``torch.compile`` / ``torch.export``, where its ``out=`` and
in-place ops are what makes it fast, and falls back to plain tensor ops while tracing.

* On CPU the work runs over cache-sized chunks of frames, so the gray and attention scratch stay in cache
  and the only full-size allocation of an inference forward is the output.
* Full-size CPU buffers (prompts, saved logits, the video's gradient) come from NumPy's allocator, which
  asks Linux for transparent huge pages on large arrays (``madvise``): first-touch page faults of a fresh
  38 MiB output cost more than the whole computation with 4 KiB pages (measured here: 6.9 ms against
  1.7 ms to allocate and fill it). ``NUMPY_MADVISE_HUGEPAGE=0`` turns that off; without NumPy, torch's
  allocator is used. A layer's :class:`BufferPool` then reuses them from call to call once their tensors
  are gone, so a training loop faults its pages in once, not on every step.
* The backward saves only the input and the logits ``a (D - b)``: one sigmoid gives the attention back and
  the slope's gradient needs ``D - b = z / a``, so the frame difference is never recomputed.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from mp_core._layer_fused import FusedKernels

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


def _new_empty(
    like: Tensor, shape: Sequence[int], dtype: torch.dtype, buffers: BufferPool | None = None
) -> Tensor:
    """An uninitialised contiguous tensor on ``like``'s device; large CPU ones from ``buffers`` or NumPy."""
    nbytes = math.prod(shape) * dtype.itemsize
    if like.device.type != "cpu" or np is None or nbytes < _HUGE_PAGE_MIN_BYTES:
        return like.new_empty(tuple(shape), dtype=dtype)
    array = np.empty(nbytes, np.uint8) if buffers is None else buffers.take(nbytes)
    return torch.from_numpy(array).view(dtype).view(tuple(shape))


class BufferPool:
    """Large CPU buffers that a layer hands out as tensors and takes back when the last tensor on one dies.

    A training loop asks for same-sized outputs on every step; torch's CPU allocator returns them to the
    OS and page-faults fresh ones in (about 6 ms for the 38 MiB output of an 8-clip batch, more than the
    computation). Each buffer is lent as a fresh NumPy view, owned by the tensor's storage; a finalizer on
    that view gives the buffer back, so it is reused only once no tensor or view of one refers to it. The
    pool itself keeps at most ``max_idle`` unused buffers (the oldest go first); :meth:`clear` drops them
    (``MotionPromptLayer.empty_cache``).
    """

    def __init__(self, max_idle: int = 3) -> None:
        self.max_idle = max_idle
        self._idle: list[np.ndarray] = []
        self._lock = threading.RLock()  # a give-back can run from the garbage collector inside take()

    def take(self, nbytes: int) -> np.ndarray:
        """A view of an unused ``nbytes``-byte buffer (an idle one if there is one); keep it to keep it."""
        with self._lock:
            index = next((i for i, b in enumerate(self._idle) if b.nbytes == nbytes), None)
            buffer = self._idle.pop(index) if index is not None else None
        if buffer is None:
            buffer = np.empty(nbytes, np.uint8)
        lent = buffer.view()
        weakref.finalize(lent, self._give_back, buffer).atexit = False
        return lent

    def _give_back(self, buffer: np.ndarray) -> None:
        with self._lock:
            self._idle.append(buffer)
            del self._idle[: -self.max_idle or None]

    @property
    def idle_bytes(self) -> int:
        """Bytes held in buffers that no tensor uses now."""
        with self._lock:
            return sum(buffer.nbytes for buffer in self._idle)

    def clear(self) -> None:
        """Drop the idle buffers; those in use are freed by their tensors as usual."""
        with self._lock:
            self._idle.clear()

    def __deepcopy__(self, memo: dict) -> BufferPool:  # a copied layer shares no memory with this one
        return BufferPool(self.max_idle)

    def __getstate__(self) -> dict:
        return {"max_idle": self.max_idle}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_idle"])


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
    """prompts, reg = f(video, slope, shift), with a hand-written backward.

    Two kernels: the fused one (:mod:`mp_core._layer_fused`) for large float32 CPU videos when the layer
    brings :class:`~mp_core._layer_fused.FusedKernels`, the chunked one otherwise. Saved for backward: the
    video (not copied) and, from the chunked kernel, the logits ``z = a (D - b)`` (B, T-1, H, W) rather
    than the attention: one sigmoid per chunk gives the attention back and ``D - b = z / a`` serves the
    slope's gradient, so the difference is never recomputed. Nothing is saved when nothing needs it.
    """

    @staticmethod
    def forward(
        ctx, video: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, keep: bool, out_dtype, runtime
    ):  # type: ignore[override]
        buffers, kernels = runtime if runtime is not None else (None, None)
        t_dim = spec.layout.index("T")
        out_shape = (*video.shape[:t_dim], video.shape[t_dim] - 1, *video.shape[t_dim + 1 :])
        out = _new_empty(video, out_shape, out_dtype, buffers)
        x5, out5 = _as_bcthw(video, spec.layout), _as_bcthw(out, spec.layout)
        batch, _, frames, height, width = x5.shape
        with_reg = spec.reg_weight != 0.0 and keep and frames > 2
        logits, squares = None, False
        if kernels is not None and kernels.applies(video):
            squares = _fused_forward(kernels, x5, slope, shift, spec, out5, with_reg)
        if squares is False:  # the chunked kernel
            if keep:
                logits = _new_empty(x5, (batch, frames - 1, height, width), slope.dtype, buffers)
            squares = _chunked_forward(x5, slope, shift, spec, out5, logits, with_reg)
        reg = torch.zeros((), dtype=slope.dtype, device=video.device)
        if with_reg and squares is not None:
            reg = squares * (spec.reg_weight / (batch * height * width * (frames - 2)))
        ctx.spec, ctx.runtime = spec, runtime
        if keep:
            ctx.save_for_backward(video, slope, shift, logits)
        ctx.set_materialize_grads(False)
        return out, reg

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor | None, grad_reg: Tensor | None):  # type: ignore[override]
        video, slope, shift, logits = ctx.saved_tensors
        spec: _Spec = ctx.spec
        buffers, kernels = ctx.runtime if ctx.runtime is not None else (None, None)
        need_video, need_slope, need_shift = ctx.needs_input_grad[:3]
        x5 = _as_bcthw(video, spec.layout)
        g5 = None if grad_out is None else _as_bcthw(grad_out, spec.layout)
        batch, _, frames, height, width = x5.shape
        reg_scale = None
        if grad_reg is not None and spec.reg_weight != 0.0 and frames > 2:
            reg_scale = grad_reg * (2.0 * spec.reg_weight / (batch * height * width * (frames - 2)))
        grad_video = _new_empty(video, video.shape, video.dtype, buffers) if need_video else None
        gx5 = None if grad_video is None else _as_bcthw(grad_video, spec.layout)
        sums = False
        if logits is None:  # the fused forward ran: the fused backward recomputes the logits
            sums = kernels.backward(x5, g5, slope, shift, reg_scale, spec.gray_coeffs, gx5)
            if sums is False:  # it cannot be compiled after all
                logits = _chunked_logits(x5, slope, shift, spec)
        if sums is False:
            sums = _chunked_backward(x5, g5, slope, logits, spec, reg_scale, gx5)
        grad_slope = (sums[0] / slope).reshape(slope.shape) if need_slope else None
        grad_shift = -(sums[1] * slope) if need_shift else None
        return grad_video, grad_slope, grad_shift, None, None, None, None


def _fused_forward(
    kernels: FusedKernels, x5: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, out5: Tensor, with_reg: bool
) -> Tensor | bool | None:
    """The fused forward kernel chunk by chunk (its attention temporary stays chunk-sized); False if it
    cannot be compiled. A time chunk starts one prompt early, so that the step into it is counted."""
    squares = []
    for bs, ts in _chunks(x5):
        lo = max(ts.start - 1, 0) if with_reg else ts.start
        part = kernels.forward(
            x5[bs, :, lo : ts.stop], slope, shift, spec.gray_coeffs, out5[bs, :, lo : ts.stop - 1], with_reg
        )
        if part is False:
            return False
        squares.append(part)
    return torch.stack(squares).sum() if with_reg else None


def _chunked_logits(x5: Tensor, slope: Tensor, shift: Tensor, spec: _Spec) -> Tensor:
    """The logits ``a (D - b)`` (B, T-1, H, W), chunk by chunk."""
    batch, _, frames, height, width = x5.shape
    logits = _new_empty(x5, (batch, frames - 1, height, width), slope.dtype)
    scratch, weights = _Scratch(x5, slope.dtype), [slope * k for k in spec.gray_coeffs]
    for bs, ts in _chunks(x5):
        xc = x5[bs, :, ts]
        gray = scratch.get("gray", (xc.shape[0], xc.shape[2], height, width))
        _luma_difference(xc, weights, gray, out=logits[bs, ts.start : ts.stop - 1]).sub_(slope * shift)
    return logits


def _chunked_forward(
    x5: Tensor, slope: Tensor, shift: Tensor, spec: _Spec, out5: Tensor, logits: Tensor | None, with_reg: bool
) -> Tensor | None:
    """Write the prompts into ``out5`` (and the logits, if given); ``sum ||A_{p+1} - A_p||^2`` if asked."""
    height, width = x5.shape[3:]
    scratch = _Scratch(x5, slope.dtype)
    shift_scaled = slope * shift
    weights = [slope * k for k in spec.gray_coeffs]  # a * w_c * std_c: D comes out scaled by a
    squares: list[Tensor] = []
    for bs, ts in _chunks(x5):
        xc = x5[bs, :, ts]
        nb, nt = xc.shape[0], xc.shape[2]
        p0, p1 = ts.start, ts.stop - 1  # prompts [p0, p1) of frames [p0, p1]
        gray = scratch.get("gray", (nb, nt, height, width))
        z = scratch.get("z", (nb, nt - 1, height, width)) if logits is None else logits[bs, p0:p1]
        _luma_difference(xc, weights, gray, out=z).sub_(shift_scaled)
        if logits is None:
            attention = z.sigmoid_()
        else:  # from A_{p0-1} on, for the regulariser's step into this chunk
            lo = max(p0 - 1, 0) if with_reg else p0
            maps = torch.sigmoid(logits[bs, lo:p1], out=scratch.get("att", (nb, p1 - lo, height, width)))
            attention = maps[:, p0 - lo :]
        torch.mul(attention.unsqueeze(1), xc[:, :, 1:], out=out5[bs, :, p0:p1])
        if with_reg and maps.shape[1] > 1:  # steps A_{p+1} - A_p ending in this chunk
            step = scratch.get("step", (nb, maps.shape[1] - 1, height, width))
            squares.append(torch.sub(maps[:, 1:], maps[:, :-1], out=step).square_().sum())
    return torch.stack(squares).sum() if squares else None


def _chunked_backward(
    x5: Tensor,
    g5: Tensor | None,
    slope: Tensor,
    logits: Tensor,
    spec: _Spec,
    reg_scale: Tensor | None,
    gx5: Tensor | None,
) -> Tensor:
    """``[sum dL/dz z, sum dL/dz]`` chunk by chunk; the video's gradient into ``gx5`` when given."""
    frames, height, width = x5.shape[2:]
    scratch = _Scratch(x5, logits.dtype)
    slope_terms, shift_terms = [], []
    carry = None  # d loss / d D of the previous chunk's last prompt (time chunks only)
    for bs, ts in _chunks(x5):
        xc = x5[bs, :, ts]
        nb, nt = xc.shape[0], xc.shape[2]
        p0, p1 = ts.start, ts.stop - 1  # prompts [p0, p1) of frames [p0, p1]
        # the attention of the chunk and, for the regulariser or the video, of its neighbour prompts
        lo = max(p0 - 1, 0) if reg_scale is not None or gx5 is not None else p0
        hi = min(p1 + 1, frames - 1) if reg_scale is not None else p1
        maps = torch.sigmoid(logits[bs, lo:hi], out=scratch.get("att", (nb, hi - lo, height, width)))
        attention = maps[:, p0 - lo : p1 - lo]
        grad_z = scratch.get("grad_z", (nb, nt - 1, height, width))
        _grad_attention(grad_z, g5, xc, bs, p0, p1, maps, lo, reg_scale, scratch)
        torch.ops.aten.sigmoid_backward.grad_input(grad_z, attention, grad_input=grad_z)
        shift_terms.append(grad_z.sum())
        if gx5 is not None:  # grad_z becomes a * dL/dz
            carry = _grad_video_chunk(gx5, grad_z.mul_(slope), g5, maps, lo, spec, bs, p0, p1, carry)
            slope_terms.append(torch.mul(grad_z, logits[bs, p0:p1]).sum() / slope)
        else:
            slope_terms.append(grad_z.mul_(logits[bs, p0:p1]).sum())
    return torch.stack([torch.stack(slope_terms).sum(), torch.stack(shift_terms).sum()])


def _grad_attention(
    out: Tensor,
    g5: Tensor | None,
    xc: Tensor,
    bs: slice,
    p0: int,
    p1: int,
    maps: Tensor,
    lo: int,
    reg_scale: Tensor | None,
    scratch: _Scratch,
) -> None:
    """d loss / d A for prompts [p0, p1) of batch ``bs``: from the prompts and from the regulariser.

    ``maps`` holds the attention of prompts ``lo, lo + 1, ...``: the chunk's and, when ``reg_scale`` is
    given, its neighbours' (d reg / d A_p = s (A_p - A_{p-1}) - s (A_{p+1} - A_p)).
    """
    if g5 is None:
        out.zero_()
    for c in range(xc.shape[1] if g5 is not None else 0):
        if c == 0:
            torch.mul(g5[bs, 0, p0:p1], xc[:, 0, 1:], out=out)
        else:
            out.addcmul_(g5[bs, c, p0:p1], xc[:, c, 1:])
    if reg_scale is None or maps.shape[1] < 2:
        return
    step = scratch.get("step", (maps.shape[0], maps.shape[1] - 1, *maps.shape[2:]))
    torch.sub(maps[:, 1:], maps[:, :-1], out=step)  # step[j] = A[lo+j+1] - A[lo+j]
    hi = lo + maps.shape[1]  # one past the last prompt in maps
    first = max(p0, lo + 1)  # prompts p > lo get + s step[p-1-lo]
    out[:, first - p0 :].addcmul_(step[:, first - 1 - lo : p1 - 1 - lo], reg_scale)
    stop = min(p1, hi - 1)  # prompts p < hi - 1 get - s step[p-lo]
    out[:, : stop - p0].addcmul_(step[:, p0 - lo : stop - lo], reg_scale, value=-1.0)


def _grad_video_chunk(
    gx5: Tensor,
    grad_diff: Tensor,
    g5: Tensor | None,
    maps: Tensor,
    lo: int,
    spec: _Spec,
    bs: slice,
    p0: int,
    p1: int,
    carry: Tensor | None,
) -> Tensor:
    """Write d loss / d video for frames [p0, p1) (and p1 if it is the last frame); return the carry.

    Frame f gets ``k_c (dD_{f-1} - dD_f)`` through the difference and ``g_{f-1} A_{f-1}`` through the
    prompt. ``maps`` holds A for prompts ``lo = max(p0 - 1, 0)`` to ``p1 - 1``; dD_{p0-1} comes from the
    previous chunk (``carry``), and frame p1 is written by the next chunk.
    """
    nb, count = grad_diff.shape[:2]
    frames = gx5.shape[2]
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
            prompted = maps[:, start - 1 - lo : stop - 1 - lo]
            gx5[bs, c, start:stop].addcmul_(g5[bs, c, start - 1 : stop - 1], prompted)
    return grad_diff[:, -1].clone()
