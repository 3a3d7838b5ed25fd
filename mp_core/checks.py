"""Input checks whose messages name the tensor and show its shape (one place, like kornia's KORNIA_CHECK)."""

from __future__ import annotations

import torch
from torch import Tensor

from mp_core.errors import ShapeError

__all__ = ["check_frames", "check_shape"]


def check_shape(
    tensor: Tensor,
    name: str,
    *,
    min_dims: int,
    channels: int | None = None,
    channel_dim: int = -3,
    min_frames: int | None = None,
    frame_dim: int = -3,
) -> None:
    """Raise :class:`ShapeError` unless ``tensor`` has enough dims, channels and frames.

    Example:
        >>> check_shape(torch.zeros(2, 3), "frames", min_dims=3)
        Traceback (most recent call last):
        ...
        mp_core.errors.ShapeError: frames must have at least 3 dimensions, got shape [2, 3]
    """
    if not isinstance(tensor, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    shape = list(tensor.shape)
    if tensor.ndim < min_dims:
        raise ShapeError(f"{name} must have at least {min_dims} dimensions, got shape {shape}")
    if channels is not None and tensor.shape[channel_dim] != channels:
        raise ShapeError(
            f"{name} must have {channels} channels in dimension {channel_dim}, got shape {shape}"
        )
    if min_frames is not None and tensor.shape[frame_dim] < min_frames:
        raise ShapeError(
            f"{name} needs at least {min_frames} frames in dimension {frame_dim}, got shape {shape}"
        )


def check_frames(frames: Tensor, name: str = "frames") -> None:
    """Check RGB float frames shaped ``(T, 3, H, W)`` or ``(B, T, 3, H, W)`` with ``T >= 2``.

    Example:
        >>> check_frames(torch.zeros(1, 3, 4, 4))
        Traceback (most recent call last):
        ...
        mp_core.errors.ShapeError: frames needs at least 2 frames in dimension -4, got shape [1, 3, 4, 4]
    """
    check_shape(frames, name, min_dims=4, channels=3, channel_dim=-3, min_frames=2, frame_dim=-4)
    if frames.ndim > 5:
        raise ShapeError(f"{name} must be (T, 3, H, W) or (B, T, 3, H, W), got shape {list(frames.shape)}")
    if not torch.is_floating_point(frames):
        raise ShapeError(f"{name} must be a floating tensor with values in [0, 1], got dtype {frames.dtype}")
