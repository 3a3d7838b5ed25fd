"""The earlier power normalizations the paper compares its function with, applied to the magnitude |D|.

Each takes the signed frame difference (any shape) and one parameter, and maps |D| in [0, 1] to [0, 1]:
Gamma ``|D|^γ``, MaxExp ``1 - (1 - |D|)^η``, SigmE ``2 / (1 + exp(-η|D|)) - 1``, AsinhE
``asinh(γ|D|) / asinh(γ)``. Unlike the paper's ``sigmoid(a (D - b))`` they ignore the sign of the change.
Differences of frames in [0, 1] lie in [-1, 1]; larger magnitudes are clamped to 1.
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


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(value: float, name: str) -> None:
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a finite number > 0, got {value!r}")


def _magnitude(diff: Tensor) -> Tensor:
    return diff.abs().clamp(max=1.0)


def _power_off_zero(base: Tensor, exponent: float) -> Tensor:
    """``base ** exponent`` for base in [0, 1], exactly 0 at base 0, with a finite gradient there.

    The derivative ``p base^(p-1)`` is infinite at 0 for p < 1, and ``torch.where`` alone would turn it
    into 0 * inf = NaN. The power is taken of a copy lifted to the smallest normal number, so every
    other value is exact, and the 0 is selected afterwards (gradient 0 there, as ``abs`` gives at 0).
    """
    lifted = base.clamp_min(torch.finfo(base.dtype).tiny)
    return torch.where(base > 0, lifted.pow(exponent), torch.zeros_like(base))


def gamma_norm(diff: Tensor, gamma: float) -> Tensor:
    r"""Gamma power normalization :math:`|D|^\gamma` (γ < 1 lifts small differences).

    Args:
        diff: signed differences, shape :math:`(*)`.
        gamma: exponent γ > 0.

    Returns:
        values in [0, 1], shape :math:`(*)`; exactly 0 where D = 0.

    Example:
        >>> gamma_norm(torch.tensor([-0.25, 0.0, 0.25, 1.0]), 0.5)
        tensor([0.5000, 0.0000, 0.5000, 1.0000])
    """
    _check(gamma, "gamma")
    return _power_off_zero(_magnitude(diff), gamma)


def maxexp_norm(diff: Tensor, eta: float) -> Tensor:
    r"""MaxExp :math:`1 - (1 - |D|)^\eta`: the probability of at least one detection in η trials.

    Args:
        diff: signed differences, shape :math:`(*)`.
        eta: number of trials η > 0.

    Returns:
        values in [0, 1], shape :math:`(*)`; exactly 0 where D = 0 and 1 where |D| = 1.

    Example:
        >>> maxexp_norm(torch.tensor([0.0, 0.5, -1.0]), 2.0)
        tensor([0.0000, 0.7500, 1.0000])
    """
    _check(eta, "eta")
    return 1 - _power_off_zero(1 - _magnitude(diff), eta)


def sigme_norm(diff: Tensor, eta: float) -> Tensor:
    r"""SigmE :math:`2 / (1 + e^{-\eta |D|}) - 1`, a sigmoid rescaled to map 0 to 0.

    Computed as the identical :math:`\tanh(\eta |D| / 2)`, which keeps full precision for small |D|
    (``2 * sigmoid - 1`` loses the low digits to cancellation).

    Args:
        diff: signed differences, shape :math:`(*)`.
        eta: slope η > 0.

    Returns:
        values in [0, 1), shape :math:`(*)`.

    Example:
        >>> sigme_norm(torch.tensor([0.0, 0.1, -0.1]), 10.0)
        tensor([0.0000, 0.4621, 0.4621])
    """
    _check(eta, "eta")
    return torch.tanh(_magnitude(diff) * (eta / 2))


def asinhe_norm(diff: Tensor, gamma: float) -> Tensor:
    r"""AsinhE :math:`\operatorname{asinh}(\gamma |D|) / \operatorname{asinh}(\gamma)`, so |D| = 1 maps to 1.

    Args:
        diff: signed differences, shape :math:`(*)`.
        gamma: scale γ > 0.

    Returns:
        values in [0, 1], shape :math:`(*)`.

    Example:
        >>> asinhe_norm(torch.tensor([0.0, 1.0, -1.0]), 50.0)
        tensor([0., 1., 1.])
    """
    _check(gamma, "gamma")
    return torch.asinh(_magnitude(diff) * gamma) / math.asinh(gamma)


@dataclass(frozen=True)
class NormSpec:
    """A comparison function with its one parameter: name, default, range (for a control) and formula.

    Calling the spec checks the value against the slider's range, then applies ``fn``.

    Example:
        >>> import torch
        >>> spec = COMPARISON_NORMS["Gamma"]
        >>> spec(torch.tensor([0.04]), 0.5)
        tensor([0.2000])
        >>> spec(torch.tensor([0.04]), 5.0)
        Traceback (most recent call last):
        ...
        mp_core.errors.ParameterError: Gamma's γ must be in [0.05, 2], got 5.0
    """

    name: str
    fn: Callable[[Tensor, float], Tensor]
    param_name: str
    default: float
    min: float
    max: float
    formula: str  # LaTeX

    def check(self, value: float) -> float:
        """``value`` as a float; :class:`ParameterError` when it is outside ``[min, max]``."""
        if not (_is_real(value) and self.min <= value <= self.max):
            raise ParameterError(
                f"{self.name}'s {self.param_name} must be in [{self.min:g}, {self.max:g}], got {value!r}"
            )
        return float(value)

    def __call__(self, diff: Tensor, value: float) -> Tensor:
        return self.fn(diff, self.check(value))


# Frame differences are small: most |D| < 0.1, and sensor noise sits around 0.01. The defaults lift both
# about as much across the four functions, to compare shapes rather than strengths:
#   |D| = 0.01 -> Gamma 0.5: 0.10, MaxExp 20: 0.18, SigmE 50: 0.24, AsinhE 50: 0.10;
#   |D| = 0.05 -> Gamma 0.5: 0.22, MaxExp 20: 0.64, SigmE 50: 0.85, AsinhE 50: 0.36.
# The ranges span "almost identity" (γ = 2, η = 1: |D| = 0.05 -> 0.0025 ... 0.05) to "any change is 1"
# (η = 200: |D| = 0.02 -> 0.98 for MaxExp and 0.96 for SigmE; Gamma 0.05: 0.82).
#: The paper's comparison functions by name, in the paper's order, each with its parameter's range.
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
