"""Learned parameters (m, n), their slope/shift view, and the published learned values.

The layer learns raw scalars m, n; the sigmoid uses slope ``a = 5 / (0.45 |tanh m| + 0.1)`` and shift
``b = 0.6 tanh n``. Checkpoint loading lives in :mod:`mp_core.checkpoints`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mp_core.errors import ParameterError

__all__ = [
    "CONTROL_RANGES",
    "PRESETS",
    "SHIFT_RANGE",
    "SHIFT_SCALE",
    "SLOPE_FLOOR",
    "SLOPE_RANGE",
    "SLOPE_SCALE",
    "SLOPE_TANH",
    "MotionParams",
    "Preset",
    "lambda_sweep",
]

#: The slope and shift's constants: ``a = SLOPE_SCALE / (SLOPE_TANH |tanh m| + SLOPE_FLOOR)``,
#: ``b = SHIFT_SCALE tanh n`` (the in-browser viewer is generated with these).
SLOPE_SCALE = 5.0
SLOPE_TANH = 0.45
SLOPE_FLOOR = 0.1
SHIFT_SCALE = 0.6
#: (exclusive low, inclusive high): a -> 5/0.55 only as |m| -> inf; a = 50 at m = 0.
SLOPE_RANGE: tuple[float, float] = (SLOPE_SCALE / (SLOPE_TANH + SLOPE_FLOOR), SLOPE_SCALE / SLOPE_FLOOR)
#: open interval: b -> +-0.6 only as n -> +-inf.
SHIFT_RANGE: tuple[float, float] = (-SHIFT_SCALE, SHIFT_SCALE)


@dataclass(frozen=True)
class MotionParams:
    """The raw learned scalars of a motion prompt layer.

    Example:
        >>> p = MotionParams(m=1.05, n=-2.67)
        >>> round(p.slope, 4), round(p.shift, 4)
        (11.0665, -0.5943)
        >>> q = MotionParams.from_slope_shift(p.slope, p.shift)
        >>> round(q.m, 10), round(q.n, 10)
        (1.05, -2.67)
    """

    m: float
    n: float

    def __post_init__(self) -> None:
        for name in ("m", "n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
            if not math.isfinite(value):
                raise ParameterError(f"{name} must be finite, got {value}")
            object.__setattr__(self, name, float(value))

    @property
    def slope(self) -> float:
        """``a = 5 / (0.45 |tanh m| + 0.1)``, in (9.09, 50]."""
        return SLOPE_SCALE / (SLOPE_TANH * abs(math.tanh(self.m)) + SLOPE_FLOOR)

    @property
    def shift(self) -> float:
        """``b = 0.6 tanh n``, in (-0.6, 0.6)."""
        return SHIFT_SCALE * math.tanh(self.n)

    @classmethod
    def from_slope_shift(cls, slope: float, shift: float) -> MotionParams:
        """The (m, n) giving this slope and shift; m is taken >= 0 (the sign of m does not matter).

        Raises:
            ParameterError: slope outside (5/0.55, 50] or shift outside (-0.6, 0.6).

        Example:
            >>> MotionParams.from_slope_shift(50.0, 0.0)
            MotionParams(m=0.0, n=0.0)
            >>> MotionParams.from_slope_shift(5.0, 0.0)
            Traceback (most recent call last):
            ...
            mp_core.errors.ParameterError: slope must be in (9.0909, 50] (5/0.55 < a <= 50), got 5.0
        """
        low, high = SLOPE_RANGE
        if not (math.isfinite(slope) and low < slope <= high):
            raise ParameterError(f"slope must be in ({low:.4f}, {high:g}] (5/0.55 < a <= 50), got {slope}")
        if not (math.isfinite(shift) and SHIFT_RANGE[0] < shift < SHIFT_RANGE[1]):
            raise ParameterError(f"shift must be in (-0.6, 0.6) (b = 0.6 tanh n), got {shift}")
        tanh_m = min(max((SLOPE_SCALE / slope - SLOPE_FLOOR) / SLOPE_TANH, 0.0), math.nextafter(1.0, 0.0))
        return cls(m=math.atanh(tanh_m), n=math.atanh(shift / SHIFT_SCALE))

    def as_dict(self) -> dict[str, float]:
        """``{"m", "n", "slope", "shift"}``, the JSON that :func:`mp_core.checkpoints.save_params` writes."""
        return {"m": self.m, "n": self.n, "slope": self.slope, "shift": self.shift}

    def with_slope(self, slope: float) -> MotionParams:
        """The values with slope ``slope``: a new ``|m|``, the sign of m and n kept (a depends on |tanh m|).

        Example:
            >>> p = MotionParams(-1.05, -2.67).with_slope(25.0)
            >>> round(p.slope, 10), round(p.m, 4), p.n
            (25.0, -0.226, -2.67)
        """
        m = MotionParams.from_slope_shift(slope, 0.0).m
        return MotionParams(math.copysign(m, self.m), self.n)

    def with_shift(self, shift: float) -> MotionParams:
        """The values with shift ``shift``: a new n, m kept.

        Example:
            >>> p = MotionParams(1.05, -2.67).with_shift(0.3)
            >>> p.m, round(p.shift, 10)
            (1.05, 0.3)
        """
        return MotionParams(self.m, MotionParams.from_slope_shift(SLOPE_RANGE[1], shift).n)


#: Control ranges (low, high, step) of slope, shift and raw m, n, for sliders (the app's, the viewer's): the
#: reachable ranges (:data:`SLOPE_RANGE`, :data:`SHIFT_RANGE`) cut to multiples of the step, so that keyboard
#: steps land on round values; values beyond them (|m| > ~3.7, |n| > ~3.5) are shown clamped, kept exact.
CONTROL_RANGES: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "slope": (9.10, 50.0, 0.01),
        "shift": (-0.599, 0.599, 0.001),
        "m": (-5.0, 5.0, 0.01),
        "n": (-5.0, 5.0, 0.01),
    }
)


@dataclass(frozen=True)
class Preset:
    """A published learned value and where it comes from."""

    name: str
    params: MotionParams
    source: str
    dataset: str
    penalty_weight: float | None = None


_PAPER = "Chen, Wang, Koniusz, Gedeon, 'Motion meets Attention: Video Motion Prompts', ACML 2024"


def _build_presets() -> Mapping[str, Preset]:
    learned = {
        "FineGym": (1.05, -2.67),
        "HMDB-51": (0.2646, -0.6615),
        "MPII Cooking 2": (0.257, 0.053),
        "UCF-Crime": (0.8916, -0.2543),
    }
    sweep = {
        0.0: (1.69, -0.26),
        0.1: (1.80, -0.26),
        0.5: (0.86, -2.13),
        1.0: (1.02, -2.32),
        1.5: (1.10, -2.45),
        2.0: (1.01, -2.60),
        2.5: (1.06, -2.67),
        5.0: (1.30, -2.94),
        10.0: (1.28, -3.27),
    }
    presets = {
        name: Preset(name, MotionParams(m, n), f"{_PAPER}: learned on {name}", name)
        for name, (m, n) in learned.items()
    }
    for weight, (m, n) in sweep.items():
        name = f"FineGym λ={weight:g}"
        source = f"{_PAPER}: learned on FineGym with penalty weight λ={weight:g} (ablation on λ)"
        presets[name] = Preset(name, MotionParams(m, n), source, "FineGym", weight)
    return MappingProxyType(presets)


#: Published learned values by name: four datasets, then the FineGym λ sweep ("FineGym λ=0" ... "λ=10").
PRESETS: Mapping[str, Preset] = _build_presets()


#: The preset the app opens with and the command-line tools use when no values are given.
DEFAULT_PRESET = "MPII Cooking 2"


def lambda_sweep() -> list[Preset]:
    """The FineGym values learned with λ = 0 ... 10, by increasing λ.

    Example:
        >>> [p.penalty_weight for p in lambda_sweep()]
        [0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0]
    """
    sweep = [p for p in PRESETS.values() if p.penalty_weight is not None]
    return sorted(sweep, key=lambda p: p.penalty_weight or 0.0)
