"""The sliders of the Compare page's comparison power normalizations: parameter names, ranges, formulas."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from torch import Tensor

from mp_core.errors import ParameterError
from mp_core.power_norms import asinhe_norm, gamma_norm, maxexp_norm, sigme_norm

__all__ = ["NORM_SPECS", "NormSpec"]


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class NormSpec:
    """A comparison function and the slider for its one parameter.

    Calling the spec checks the value against the slider's range, then applies ``fn``.

    Example:
        >>> import torch
        >>> spec = NORM_SPECS["Gamma"]
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
NORM_SPECS: Mapping[str, NormSpec] = MappingProxyType(
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
