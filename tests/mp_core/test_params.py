"""mp_core.params: the (m, n) <-> (slope, shift) mapping and the published values."""

from __future__ import annotations

import math

import pytest

from mp_core import PRESETS, InputError, MotionParams, ParameterError, lambda_sweep
from mp_core.params import SHIFT_RANGE, SLOPE_RANGE


def test_mapping_by_hand() -> None:
    params = MotionParams(m=0.2646, n=-0.6615)
    assert params.slope == pytest.approx(5 / (0.45 * math.tanh(0.2646) + 0.1), rel=1e-15)
    assert params.shift == pytest.approx(0.6 * math.tanh(-0.6615), rel=1e-15)


def test_extremes_of_the_range() -> None:
    assert MotionParams(0.0, 0.0).slope == 50.0
    assert MotionParams(30.0, 30.0).slope == pytest.approx(5 / 0.55)
    assert MotionParams(30.0, 30.0).shift == pytest.approx(0.6)
    assert MotionParams(-1.3, 0.0).slope == MotionParams(1.3, 0.0).slope  # |tanh m|


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=list(PRESETS))
def test_from_slope_shift_inverts_every_preset(preset) -> None:
    params = preset.params
    back = MotionParams.from_slope_shift(params.slope, params.shift)
    assert back.m == pytest.approx(abs(params.m), abs=1e-9)
    assert back.n == pytest.approx(params.n, abs=1e-9)


@pytest.mark.parametrize("slope", [9.2, 11.0, 25.0, 49.999, 50.0])
@pytest.mark.parametrize("shift", [-0.59, -0.1, 0.0, 0.3, 0.599])
def test_slope_shift_round_trip(slope: float, shift: float) -> None:
    params = MotionParams.from_slope_shift(slope, shift)
    assert params.slope == pytest.approx(slope, rel=1e-12)
    assert params.shift == pytest.approx(shift, abs=1e-12)


@pytest.mark.parametrize(
    ("slope", "shift", "message"),
    [
        (5 / 0.55, 0.0, r"slope must be in \(9.0909, 50\]"),
        (50.01, 0.0, "slope must be in"),
        (math.nan, 0.0, "slope must be in"),
        (20.0, 0.6, r"shift must be in \(-0.6, 0.6\)"),
        (20.0, -0.7, "shift must be in"),
    ],
)
def test_out_of_range_refused_with_the_range(slope: float, shift: float, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        MotionParams.from_slope_shift(slope, shift)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_params_are_input_errors(bad: float) -> None:
    with pytest.raises(InputError, match="finite"):
        MotionParams(bad, 0.0)
    with pytest.raises(InputError, match="finite"):
        MotionParams(0.0, bad)


def test_non_numbers_refused() -> None:
    with pytest.raises(ParameterError, match="real number"):
        MotionParams("1.0", 0.0)  # type: ignore[arg-type]


def test_ranges_constants() -> None:
    assert SLOPE_RANGE == (5 / 0.55, 50.0)
    assert SHIFT_RANGE == (-0.6, 0.6)


@pytest.mark.parametrize(
    ("name", "m", "n", "slope", "shift"),
    [
        # (m, n) as published (brief: Chen et al., ACML 2024); a, b worked out by hand to 6 digits, e.g.
        # FineGym: tanh 1.05 = 0.781806, a = 5 / (0.45 * 0.781806 + 0.1) = 11.066529; b = 0.6 tanh -2.67
        ("FineGym", 1.05, -2.67, 11.066529, -0.594272),
        ("HMDB-51", 0.2646, -0.6615, 23.108900, -0.347616),
        ("MPII Cooking 2", 0.257, 0.053, 23.455532, 0.031770),
        ("UCF-Crime", 0.8916, -0.2543, 11.891104, -0.149374),
    ],
)
def test_published_values(name: str, m: float, n: float, slope: float, shift: float) -> None:
    preset = PRESETS[name]
    assert (preset.params.m, preset.params.n) == (m, n)
    assert preset.params.slope == pytest.approx(slope, abs=1e-6)
    assert preset.params.shift == pytest.approx(shift, abs=1e-6)
    assert preset.penalty_weight is None
    assert "ACML 2024" in preset.source


def test_lambda_sweep_in_order_with_values() -> None:
    sweep = lambda_sweep()
    assert [p.penalty_weight for p in sweep] == [0, 0.1, 0.5, 1, 1.5, 2, 2.5, 5, 10]
    assert [(p.params.m, p.params.n) for p in sweep] == [
        (1.69, -0.26),
        (1.80, -0.26),
        (0.86, -2.13),
        (1.02, -2.32),
        (1.10, -2.45),
        (1.01, -2.60),
        (1.06, -2.67),
        (1.30, -2.94),
        (1.28, -3.27),
    ]
    assert all(p.dataset == "FineGym" and p.name.startswith("FineGym λ=") for p in sweep)
    # a, b worked out by hand at both ends of the sweep
    assert (sweep[0].params.slope, sweep[0].params.shift) == pytest.approx((9.608617, -0.152577), abs=1e-6)
    assert (sweep[-1].params.slope, sweep[-1].params.shift) == pytest.approx((10.300396, -0.598269), abs=1e-6)


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["mine"] = PRESETS["FineGym"]  # type: ignore[index]


def test_as_dict() -> None:
    # tanh m = 0.5 and tanh n = -0.5 (m = -n = ln(3)/2): a = 5 / (0.45 * 0.5 + 0.1) = 200/13, b = -0.3
    m = math.log(3) / 2
    assert MotionParams(m, -m).as_dict() == {
        "m": pytest.approx(0.5493061443),
        "n": pytest.approx(-0.5493061443),
        "slope": pytest.approx(200 / 13, rel=1e-14),
        "shift": pytest.approx(-0.3, rel=1e-14),
    }


def test_control_ranges_lie_in_the_reachable_ranges_on_round_steps() -> None:
    from mp_core.params import CONTROL_RANGES
    from mp_core.viz.viewer import VIEWER_RANGES

    assert dict(VIEWER_RANGES) == dict(CONTROL_RANGES)  # the viewer's controls are the sidebar's
    for name, reachable in (("slope", SLOPE_RANGE), ("shift", SHIFT_RANGE)):
        low, high, step = CONTROL_RANGES[name]
        assert reachable[0] < low < high <= reachable[1]
        assert round(low / step, 9).is_integer() and round(high / step, 9).is_integer()
        assert low - step <= reachable[0]  # the widest range on the step's grid
