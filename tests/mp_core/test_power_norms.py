"""mp_core.power_norms: hand-computed values, exact ends, ranges, symmetry, monotonicity, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from mp_core.errors import InputError, ParameterError
from mp_core.power_norms import COMPARISON_NORMS, asinhe_norm, gamma_norm, maxexp_norm, sigme_norm

FUNCTIONS = [gamma_norm, maxexp_norm, sigme_norm, asinhe_norm]


def test_hand_computed_values() -> None:
    d = torch.tensor([0.2, -0.5], dtype=torch.float64)
    assert gamma_norm(d, 2.0).tolist() == pytest.approx([0.04, 0.25], rel=1e-15)
    assert gamma_norm(d, 0.5).tolist() == pytest.approx([math.sqrt(0.2), math.sqrt(0.5)], rel=1e-15)
    assert maxexp_norm(d, 3.0).tolist() == pytest.approx([1 - 0.8**3, 1 - 0.5**3], rel=1e-15)
    assert sigme_norm(d, 4.0).tolist() == pytest.approx(
        [2 / (1 + math.exp(-0.8)) - 1, 2 / (1 + math.exp(-2)) - 1], rel=1e-15
    )
    assert asinhe_norm(d, 10.0).tolist() == pytest.approx(
        [math.asinh(2) / math.asinh(10), math.asinh(5) / math.asinh(10)], rel=1e-15
    )


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_no_change_gets_exactly_zero_and_full_change_one(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    ends = torch.tensor([0.0, -0.0, 1.0, -1.0])
    for value in (spec.min, spec.default, spec.max):
        out = spec(ends, value)
        assert out[:2].tolist() == [0.0, 0.0]  # a clamp to avoid NaN gradients must not lift static pixels
        if name != "SigmE":  # SigmE reaches 1 only as η|D| -> inf
            assert out[2:].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)


def test_tiny_differences_keep_their_precision() -> None:
    d = torch.tensor([1e-30, 1e-12, 1e-7])
    expected64 = torch.tensor([1e-30, 1e-12, 1e-7], dtype=torch.float64)
    gamma = torch.tensor([10**-1.5, 10**-0.6, 10**-0.35])  # (10^-k)^0.05 = 10^(-k/20), by hand
    torch.testing.assert_close(gamma_norm(d, 0.05), gamma, rtol=1e-6, atol=0)
    # 2 sigmoid(x) - 1 would give 0 or a few float32 ulps of 1 here; tanh(x / 2) keeps every digit
    torch.testing.assert_close(sigme_norm(d, 50.0), (25 * expected64).float(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_range_symmetry_and_monotonicity(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    d = torch.linspace(0, 1, 201, dtype=torch.float64)
    for value in (spec.min, spec.default, spec.max):
        out = spec(d, value)
        assert out.min() >= 0 and out.max() <= 1 + 1e-12
        assert torch.equal(out, spec(-d, value))  # the sign of the change is ignored
        assert (out[1:] >= out[:-1]).all()  # a larger change never gets less attention


#: Each registry entry's function at |D| = 0.5, written out from the paper's definitions.
AT_HALF = {
    "Gamma": lambda p: 0.5**p,
    "MaxExp": lambda p: 1 - 0.5**p,
    "SigmE": lambda p: 2 / (1 + math.exp(-0.5 * p)) - 1,
    "AsinhE": lambda p: math.asinh(0.5 * p) / math.asinh(p),
}


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_each_slider_drives_the_function_it_names(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    assert spec.check(spec.default) == spec.default  # the default lies in the slider's range
    d = torch.tensor([0.5, -0.5], dtype=torch.float64)
    for value in (spec.min, spec.default, spec.max):
        assert spec(d, value).tolist() == pytest.approx([AT_HALF[name](value)] * 2, rel=1e-12)


def test_magnitudes_beyond_one_are_clamped() -> None:
    d = torch.tensor([1.5, -3.0])
    for fn, value in [(gamma_norm, 0.5), (maxexp_norm, 2.5), (asinhe_norm, 50.0)]:
        assert fn(d, value).tolist() == pytest.approx([1.0, 1.0])  # MaxExp of 1 - 1.5 would be NaN


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_gradcheck_away_from_zero(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    d = torch.tensor([-0.4, -0.05, 0.02, 0.3, 0.97], dtype=torch.float64, requires_grad=True)
    for value in (spec.min, spec.default, spec.max):
        assert torch.autograd.gradcheck(lambda x, v=value: spec(x, v), (d,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_gradients_are_finite_at_zero_and_one(dtype: torch.dtype) -> None:
    d = torch.tensor([0.0, 1.0, -1.0, 1e-3], dtype=dtype, requires_grad=True)
    for fn in FUNCTIONS:
        for value in (0.05, 0.5, 1.0, 2.0):  # below 1, |D|^(p-1) is infinite at 0 for Gamma, at 1 for MaxExp
            d.grad = None
            fn(d, value).sum().backward()
            assert torch.isfinite(d.grad).all(), (fn.__name__, value, d.grad)
            assert d.grad[0] == 0  # the subgradient abs() gives at D = 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_close_to_float32(dtype: torch.dtype) -> None:
    d = torch.linspace(-1, 1, 101)
    for name, spec in COMPARISON_NORMS.items():
        half = spec(d.to(dtype), spec.default)
        assert half.dtype == dtype
        torch.testing.assert_close(half.float(), spec(d, spec.default), atol=1e-2, rtol=1e-2, msg=name)


def test_shape_kept() -> None:
    d = torch.rand(2, 3, 4, 5) - 0.5
    for name, spec in COMPARISON_NORMS.items():
        assert spec(d, spec.default).shape == d.shape, name


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, True, "2"])
def test_bad_parameters(fn, bad) -> None:
    with pytest.raises(ParameterError, match="finite number > 0"):
        fn(torch.zeros(2), bad)


@pytest.mark.parametrize("name", list(COMPARISON_NORMS))
def test_slider_range_is_enforced_by_the_spec(name: str) -> None:
    spec = COMPARISON_NORMS[name]
    assert spec.check(spec.max) == spec.max
    for bad in (spec.min / 2, spec.max * 2, math.nan):
        with pytest.raises(InputError, match=rf"{name}'s {spec.param_name} must be in \["):
            spec(torch.zeros(1), bad)


def test_registry_is_read_only() -> None:
    assert list(COMPARISON_NORMS) == ["Gamma", "MaxExp", "SigmE", "AsinhE"]
    with pytest.raises(TypeError):
        COMPARISON_NORMS["Gamma"] = COMPARISON_NORMS["SigmE"]  # type: ignore[index]
