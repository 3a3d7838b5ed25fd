"""Tensors to displayable images: colormapped differences and attention, overlays, PNG bytes.

Colormaps come from matplotlib (``matplotlib.colormaps``), sampled into a 256-entry table that is indexed
on the tensor's own device, so that only the finished uint8 image has to travel to the host.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import matplotlib
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from mp_core.checks import check_shape
from mp_core.errors import ShapeError

__all__ = [
    "ATTENTION_CMAP",
    "DIFFERENCE_CMAP",
    "apply_colormap",
    "attention_image",
    "colorbar_image",
    "difference_image",
    "frames_to_uint8",
    "overlay",
    "side_by_side",
    "symmetric_limit",
    "to_numpy",
    "to_png",
]

#: Diverging, centred on 0: blue where a pixel got darker, red where it got brighter.
DIFFERENCE_CMAP = "RdBu_r"
#: Sequential on [0, 1], perceptually uniform.
ATTENTION_CMAP = "viridis"


@lru_cache(maxsize=16)
def _colormap_table(name: str) -> Tensor:
    """The matplotlib colormap ``name`` sampled at 256 levels, as a ``(256, 3)`` uint8 CPU tensor."""
    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256), bytes=True)
    return torch.from_numpy(np.ascontiguousarray(rgba[:, :3]))


def apply_colormap(values: Tensor, cmap: str, vmin: float, vmax: float) -> Tensor:
    r"""Map values linearly from ``[vmin, vmax]`` onto a matplotlib colormap (values outside are clipped).

    Args:
        values: real tensor of any shape :math:`(*)`.
        cmap: a name known to ``matplotlib.colormaps``.
        vmin: value shown with the colormap's first colour.
        vmax: value shown with its last colour, ``> vmin``.

    Returns:
        uint8 RGB tensor of shape :math:`(*, 3)` on the device of ``values``.

    Example:
        >>> apply_colormap(torch.tensor([0.0, 1.0]), "gray", 0.0, 1.0)
        tensor([[  0,   0,   0],
                [255, 255, 255]], dtype=torch.uint8)
    """
    if not vmax > vmin:
        raise ValueError(f"vmax must be greater than vmin, got vmin={vmin}, vmax={vmax}")
    table = _colormap_table(cmap).to(values.device)
    scaled = (values.float() - vmin) * (255.0 / (vmax - vmin))
    index = scaled.round_().clamp_(0, 255).long()
    return table[index]


def symmetric_limit(diff: Tensor, floor: float = 1e-3) -> float:
    """The symmetric colour range ``max |diff|`` for a difference map (at least ``floor``, never 0).

    Example:
        >>> symmetric_limit(torch.tensor([-0.25, 0.1]))
        0.25
        >>> symmetric_limit(torch.zeros(3))
        0.001
    """
    if diff.numel() == 0:
        return floor
    return max(float(diff.abs().max()), floor)


def difference_image(diff: Tensor, limit: float | None = None, cmap: str = DIFFERENCE_CMAP) -> Tensor:
    r"""Signed differences on a diverging colormap centred on 0, over the symmetric range ``[-limit, limit]``.

    Args:
        diff: tensor of shape :math:`(*, H, W)`.
        limit: half-width of the colour range; ``None`` takes :func:`symmetric_limit` of ``diff``. Pass the
            clip's limit to keep colours comparable across pairs.
        cmap: a diverging matplotlib colormap.

    Returns:
        uint8 RGB tensor of shape :math:`(*, H, W, 3)`; 0 maps to the colormap's middle colour.

    Example:
        >>> difference_image(torch.tensor([[-1.0, 0.0, 1.0]]), cmap="gray")[0, :, 0]
        tensor([  0, 128, 255], dtype=torch.uint8)
    """
    check_shape(diff, "diff", min_dims=2)
    limit = symmetric_limit(diff) if limit is None else limit
    return apply_colormap(diff, cmap, -limit, limit)


def attention_image(attention: Tensor, cmap: str = ATTENTION_CMAP) -> Tensor:
    r"""Attention on a sequential colormap over the fixed range [0, 1].

    Args:
        attention: tensor of shape :math:`(*, H, W)` with values in [0, 1].
        cmap: a sequential matplotlib colormap.

    Returns:
        uint8 RGB tensor of shape :math:`(*, H, W, 3)`.

    Example:
        >>> attention_image(torch.tensor([[0.0, 1.0]]), cmap="gray")[0, :, 0]
        tensor([  0, 255], dtype=torch.uint8)
    """
    check_shape(attention, "attention", min_dims=2)
    return apply_colormap(attention, cmap, 0.0, 1.0)


def frames_to_uint8(frames: Tensor) -> Tensor:
    r"""RGB frames in [0, 1] (channels first) to displayable uint8 images (channels last).

    Args:
        frames: tensor of shape :math:`(*, 3, H, W)`, e.g. frames or motion prompts.

    Returns:
        uint8 tensor of shape :math:`(*, H, W, 3)` on the same device.

    Example:
        >>> frames_to_uint8(torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)).tolist()
        [[[255, 128, 0]]]
    """
    check_shape(frames, "frames", min_dims=3, channels=3, channel_dim=-3)
    scaled = frames.float().mul(255.0).round_().clamp_(0, 255)
    return scaled.to(torch.uint8).movedim(-3, -1)


def overlay(frame: Tensor, attention: Tensor, alpha: float = 0.5, cmap: str = ATTENTION_CMAP) -> Tensor:
    r"""Blend the colormapped attention over a frame: ``(1 - alpha) frame + alpha cmap(attention)``.

    Args:
        frame: uint8 tensor of shape :math:`(*, H, W, 3)` (e.g. from :func:`frames_to_uint8`).
        attention: tensor of shape :math:`(*, H, W)` with values in [0, 1].
        alpha: opacity of the attention colours, in [0, 1].
        cmap: a sequential matplotlib colormap.

    Returns:
        uint8 tensor of shape :math:`(*, H, W, 3)`.

    Example:
        >>> frame = torch.full((1, 2, 3), 200, dtype=torch.uint8)
        >>> overlay(frame, torch.tensor([[0.0, 1.0]]), alpha=0.5, cmap="gray")[0, :, 0]
        tensor([100, 228], dtype=torch.uint8)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if frame.shape[:-1] != attention.shape or frame.shape[-1] != 3:
        raise ValueError(
            f"frame (*, H, W, 3) and attention (*, H, W) must match, got {list(frame.shape)} "
            f"and {list(attention.shape)}"
        )
    colours = attention_image(attention, cmap).float()
    blended = frame.float() * (1.0 - alpha) + colours * alpha
    return blended.round_().clamp_(0, 255).to(torch.uint8)


def colorbar_image(cmap: str, width: int = 256, height: int = 10) -> np.ndarray:
    """A horizontal colour bar: the colormap from its first colour (left) to its last (right).

    Returns:
        uint8 array of shape ``(height, width, 3)``.

    Example:
        >>> bar = colorbar_image("gray", width=3, height=1)
        >>> bar[0, :, 0].tolist()
        [0, 128, 255]
    """
    ramp = torch.linspace(0.0, 1.0, width)
    row = apply_colormap(ramp, cmap, 0.0, 1.0)
    return row.unsqueeze(0).expand(height, width, 3).contiguous().numpy()


def to_numpy(image: Tensor | np.ndarray) -> np.ndarray:
    """A host, contiguous numpy view of an image (copies from an accelerator only here).

    Example:
        >>> to_numpy(torch.zeros(2, 2, 3, dtype=torch.uint8)).shape
        (2, 2, 3)
    """
    if isinstance(image, Tensor):
        image = image.detach().cpu().numpy()
    return np.ascontiguousarray(image)


def to_png(image: Tensor | np.ndarray) -> bytes:
    """PNG bytes of a uint8 image of shape ``(H, W, 3)`` or ``(H, W)``.

    Example:
        >>> to_png(np.zeros((2, 2, 3), dtype=np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    array = to_numpy(image)
    if array.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def side_by_side(panels: Sequence[Tensor], *, gap: int = 4, fill: int = 255) -> Tensor:
    """Lay clips of the same length left to right, top-aligned, with ``gap`` pixels of ``fill`` between.

    Args:
        panels: uint8 tensors :math:`(T, H_i, W_i, 3)`.

    Returns:
        uint8 tensor :math:`(T, \\max_i H_i, \\sum_i W_i + gap (n-1), 3)`.

    Example:
        >>> a, b = torch.zeros(2, 4, 5, 3, dtype=torch.uint8), torch.zeros(2, 6, 3, 3, dtype=torch.uint8)
        >>> tuple(side_by_side([a, b], gap=2).shape)
        (2, 6, 10, 3)
    """
    if not panels:
        raise ShapeError("side_by_side needs at least one panel")
    lengths = {int(p.shape[0]) for p in panels}
    if len(lengths) != 1 or any(p.ndim != 4 or p.shape[-1] != 3 for p in panels):
        shapes = [list(p.shape) for p in panels]
        raise ShapeError(f"panels must all be (T, H, W, 3) with the same T, got shapes {shapes}")
    height = max(int(p.shape[1]) for p in panels)
    width = sum(int(p.shape[2]) for p in panels) + gap * (len(panels) - 1)
    out = torch.full((lengths.pop(), height, width, 3), fill, dtype=torch.uint8)
    x = 0
    for panel in panels:
        out[:, : panel.shape[1], x : x + panel.shape[2]] = panel
        x += panel.shape[2] + gap
    return out
