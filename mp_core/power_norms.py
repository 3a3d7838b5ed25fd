"""The earlier power normalizations the paper compares its function with, applied to the magnitude |D|.

Each takes the signed frame difference (any shape) and one parameter, and maps |D| in [0, 1] to [0, 1]:
Gamma ``|D|^γ``, MaxExp ``1 - (1 - |D|)^η``, SigmE ``2 / (1 + exp(-η|D|)) - 1``, AsinhE
``asinh(γ|D|) / asinh(γ)``. Unlike the paper's ``sigmoid(a (D - b))`` they ignore the sign of the change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import Tensor

from mp_core.errors import ParameterError

__all__ = ["COMPARISON_NORMS", "NormSpec", "asinhe_norm", "gamma_norm", "maxexp_norm", "sigme_norm"]

#: |D| is clamped to [_TINY, 1] and MaxExp's 1 - |D| to >= _TINY: Gamma's gradient γ|D|^(γ-1) is infinite
#: at 0 for γ < 1, and MaxExp's η(1 - |D|)^(η-1) at |D| = 1 for η < 1. Differences of [0, 1] frames are <= 1.
_TINY = 1e-6


def _check(value: float, name: str, low: float = 0.0) -> None:
    if not (math.isfinite(value) and value > low):
        raise ParameterError(f"{name} must be a finite number > {low:g}, got {value}")


def _magnitude(diff: Tensor) -> Tensor:
    return diff.abs().clamp(_TINY, 1.0)


def gamma_norm(diff: Tensor, gamma: float) -> Tensor:
    r"""Gamma power normalization :math:`|D|^\gamma` (γ < 1 lifts small differences).

    Args:
        diff: signed differences of any shape :math:`(*)`.
        gamma: exponent γ > 0.

    Example:
        >>> gamma_norm(torch.tensor([-0.25, 0.0, 0.25, 1.0]), 0.5)
        tensor([0.5000, 0.0010, 0.5000, 1.0000])
    """
    _check(gamma, "gamma")
    return _magnitude(diff).pow(gamma)


def maxexp_norm(diff: Tensor, eta: float) -> Tensor:
    r"""MaxExp :math:`1 - (1 - |D|)^\eta`: the probability of at least one detection in η trials.

    Example:
        >>> maxexp_norm(torch.tensor([0.0, 0.5]), 2.0)
        tensor([2.0266e-06, 7.5000e-01])
    """
    _check(eta, "eta")
    return 1 - (1 - _magnitude(diff)).clamp_min(_TINY).pow(eta)


def sigme_norm(diff: Tensor, eta: float) -> Tensor:
    r"""SigmE :math:`2 / (1 + e^{-\eta |D|}) - 1`, a sigmoid rescaled to map 0 to 0.

    Example:
        >>> sigme_norm(torch.tensor([0.0, 0.1]), 10.0)
        tensor([5.0068e-06, 4.6212e-01])
    """
    _check(eta, "eta")
    return 2 * torch.sigmoid(eta * _magnitude(diff)) - 1


def asinhe_norm(diff: Tensor, gamma: float) -> Tensor:
    r"""AsinhE :math:`\operatorname{asinh}(\gamma |D|) / \operatorname{asinh}(\gamma)`, so |D| = 1 maps to 1.

    Example:
        >>> asinhe_norm(torch.tensor([1.0, -1.0]), 50.0)
        tensor([1., 1.])
    """
    _check(gamma, "gamma")
    return torch.asinh(gamma * _magnitude(diff)) / math.asinh(gamma)


@dataclass(frozen=True)
class NormSpec:
    """A comparison function and the slider for its one parameter."""

    name: str
    fn: Callable[[Tensor, float], Tensor]
    param_name: str
    default: float
    min: float
    max: float
    formula: str  # LaTeX


# Frame differences are small (mostly |D| < 0.1), so the defaults lift them strongly: e.g. at |D| = 0.05
# Gamma 0.5 gives 0.22, MaxExp 20 gives 0.64, SigmE 50 gives 0.85, AsinhE 50 gives 0.36.
COMPARISON_NORMS: Mapping[str, NormSpec] = MappingProxyType(
    {
        "Gamma": NormSpec("Gamma", gamma_norm, "γ", 0.5, 0.05, 2.0, r"|D|^{\gamma}"),
        "MaxExp": NormSpec("MaxExp", maxexp_norm, "η", 20.0, 1.0, 200.0, r"1-(1-|D|)^{\eta}"),
        "SigmE": NormSpec("SigmE", sigme_norm, "η", 50.0, 1.0, 200.0, r"\frac{2}{1+e^{-\eta|D|}}-1"),
        "AsinhE": NormSpec(
            "AsinhE",
            asinhe_norm,
            "γ",
            50.0,
            1.0,
            200.0,
            r"\frac{\operatorname{asinh}(\gamma|D|)}{\operatorname{asinh}(\gamma)}",
        ),
    }
)
