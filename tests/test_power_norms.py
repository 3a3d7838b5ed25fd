"""mp_core.power_norms: hand-computed values, ranges, symmetry, monotonicity, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from mp_core.errors import ParameterError
from mp_core.power_norms import COMPARISON_NORMS, asinhe_norm, gamma_norm, maxexp_norm, sigme_norm


def test_hand_computed_values() -> None:
    d = torch.tensor([0.2, -0.5], dtype=torch.float64)
    assert gamma_norm(d, 2.0).tolist() == pytest.approx([0.04, 0.25])
    assert maxexp_norm(d, 3.0).tolist() == pytest.approx([1 - 0.8**3, 1 - 0.5**3])
    assert sigme_norm(d, 4.0).tolist() == pytest.approx(
        [2 / (1 + math.exp(-0.8)) - 1, 2 / (1 + math.exp(-2)) - 1]
    )
    assert asinhe_norm(d, 10.0).tolist() == pytest.approx(
        [math.asinh(2) / math.asinh(10), math.asinh(5) / math.asinh(10)]
    )


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_range_symmetry_and_monotonicity(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    d = torch.linspace(0, 1, 201, dtype=torch.float64)
    for value in (spec.min, spec.default, spec.max):
        out = spec.fn(d, value)
        assert out.min() >= 0 and out.max() <= 1 + 1e-12
        assert torch.equal(out, spec.fn(-d, value))  # the sign of the change is ignored
        assert (out[1:] >= out[:-1]).all()  # a larger change never gets less attention
    assert spec.min <= spec.default <= spec.max
    assert spec.formula and spec.param_name in {"γ", "η"}


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_gradcheck_away_from_zero(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    d = torch.tensor([-0.4, -0.05, 0.02, 0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: spec.fn(x, spec.default), (d,))


def test_finite_gradients_at_zero_and_one() -> None:
    d = torch.tensor([0.0, 1.0, -1.0], requires_grad=True)
    (gamma_norm(d, 0.3).sum() + maxexp_norm(d, 0.5).sum()).backward()
    assert torch.isfinite(d.grad).all()


@pytest.mark.parametrize("fn", [gamma_norm, maxexp_norm, sigme_norm, asinhe_norm])
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_bad_parameters(fn, bad: float) -> None:
    with pytest.raises(ParameterError, match="finite number > 0"):
        fn(torch.zeros(2), bad)
