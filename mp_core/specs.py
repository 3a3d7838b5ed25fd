"""Parameter sets named on a command line: a preset, raw values, or a checkpoint / JSON file.

The dataset report and the maps command take repeated ``--params SPEC`` options; :func:`parse_params_spec`
turns each into values and a short name that is safe as a folder name or a report column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mp_core.errors import ParameterError
from mp_core.params import DEFAULT_PRESET, PRESETS, MotionParams

__all__ = ["ParamSpec", "default_spec", "parse_params_spec"]

_KEYS = {"m", "n", "slope", "shift", "a", "b"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter set: the text as given, its values, and a file-system-safe label."""

    text: str  #: the SPEC as the user wrote it
    params: MotionParams
    label: str  #: e.g. ``FineGym``, ``m=0.257,n=0.053``, ``checkpoint_epoch_00050``


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


def _safe(text: str) -> str:
    return re.sub(r"[^\w.=,+\-λ]+", "_", text).strip("_") or "params"


def _raw_values(text: str) -> MotionParams:
    values: dict[str, float] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key not in _KEYS or not value.strip():
            raise ParameterError(
                f"{text!r}: raw values must read 'm=…,n=…' or 'slope=…,shift=…' (also 'a=…,b=…')"
            )
        try:
            values[{"a": "slope", "b": "shift"}.get(key, key)] = float(value)
        except ValueError as err:
            raise ParameterError(f"{text!r}: {value.strip()!r} is not a number") from err
    if set(values) == {"m", "n"}:
        return MotionParams(values["m"], values["n"])
    if set(values) == {"slope", "shift"}:
        return MotionParams.from_slope_shift(values["slope"], values["shift"])
    raise ParameterError(f"{text!r}: give both m and n, or both slope and shift")


def parse_params_spec(text: str) -> ParamSpec:
    """Values from a preset name, ``m=…,n=…`` / ``slope=…,shift=…``, or a checkpoint or JSON path.

    Preset names ignore case, spaces, ``-`` and ``_`` (``finegym``, ``hmdb51``, ``mpii-cooking-2``).

    Raises:
        ParameterError: an unknown name, malformed or out-of-range values.
        CheckpointError: the path does not hold learned values.

    Example:
        >>> parse_params_spec("hmdb51").params
        MotionParams(m=0.2646, n=-0.6615)
        >>> spec = parse_params_spec("m=0.257, n=0.053")
        >>> spec.label, spec.params
        ('m=0.257,n=0.053', MotionParams(m=0.257, n=0.053))
        >>> round(parse_params_spec("slope=20,shift=0.1").params.slope, 6)
        20.0
    """
    text = text.strip()
    by_name = {_squash(name): name for name in PRESETS}
    if _squash(text) in by_name:
        name = by_name[_squash(text)]
        return ParamSpec(text, PRESETS[name].params, _safe(name))
    if "=" in text and not Path(text).exists():
        return ParamSpec(text, _raw_values(text), _safe(text.replace(" ", "")))
    path = Path(text).expanduser()
    if path.exists() or path.suffix:
        from mp_core.checkpoints import load_params  # torch.load only when a file is named

        return ParamSpec(text, load_params(path), _safe(path.stem))
    raise ParameterError(
        f"{text!r} is neither a preset ({', '.join(PRESETS)}), raw values (m=…,n=… or slope=…,shift=…) "
        "nor an existing checkpoint or JSON file"
    )


def default_spec() -> ParamSpec:
    """:data:`~mp_core.params.DEFAULT_PRESET`, used when no ``--params`` is given."""
    return parse_params_spec(DEFAULT_PRESET)
