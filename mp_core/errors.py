"""Exceptions for problems caused by what a user gave us.

Every such problem raises a subclass of :class:`InputError`, so that a caller (the app, a training
script) can catch one class, show ``str(err)`` and carry on. Programming errors are not InputErrors.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DatasetError",
    "InputError",
    "ParameterError",
    "ShapeError",
    "VideoError",
]


class InputError(ValueError):
    """Base class: the input (a tensor, a file, a value) cannot be used; the message says why."""


class ShapeError(InputError):
    """A tensor has the wrong rank, channel count or too few frames."""


class ParameterError(InputError):
    """A parameter value is non-finite or outside the range the method can reach."""


class CheckpointError(InputError):
    """A checkpoint or parameter file cannot be read, or holds no usable ``m``/``n``."""


class VideoError(InputError):
    """A video cannot be opened or decoded, or holds no video frames."""


class DatasetError(InputError):
    """A dataset path, split list or HDF5 pack cannot be used."""
