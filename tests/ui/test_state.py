"""ui.state: the parameter handlers, called with a plain dict as the pages' callbacks call them.

Expected values are worked out by hand from a = 5 / (0.45 |tanh m| + 0.1) and b = 0.6 tanh n.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
import torch

from ui.state import (
    CUSTOM,
    apply_checkpoint,
    init_state,
    on_preset,
    on_raw,
    on_reset,
    on_shift,
    on_slope,
    preset_key,
    seed,
    sync_param_widgets,
)

#: atanh(1/3) = ln(2)/2: the |m| of slope 20, as tanh|m| = (5/20 - 0.1) / 0.45 = 1/3
M_OF_SLOPE_20 = math.log(2) / 2
#: atanh(1/2) = ln(3)/2: the n of shift 0.3 (tanh n = 0.3 / 0.6) and the m of slope 200/13
HALF_LN3 = math.log(3) / 2


def state_with(m: float, n: float, **widgets: Any) -> dict[str, Any]:
    """A fresh session's state (a plain dict) at (m, n), with widget values ``w.<name>``."""
    state: dict[str, Any] = {}
    init_state(state)
    state.update({"mp.m": m, "mp.n": n, "mp.preset": None})
    state.update({f"w.{key}": value for key, value in widgets.items()})
    return state


@pytest.mark.parametrize(("m", "sign"), [(-1.05, -1.0), (1.05, 1.0), (0.0, 1.0)])
def test_on_slope_keeps_the_sign_of_m_and_leaves_n(m: float, sign: float) -> None:
    state = state_with(m, -2.67, slope=20.0)
    state["mp.preset"] = "FineGym"
    on_slope(state)
    sync_param_widgets(state)  # the sidebar's next run
    assert state["mp.m"] == pytest.approx(sign * M_OF_SLOPE_20, rel=1e-12)
    assert state["mp.n"] == -2.67
    assert state["w.slope"] == pytest.approx(20.0, rel=1e-12)
    assert state["mp.preset"] is None and preset_key(state) == "w.preset.1"  # a new box, on Custom


def test_on_shift_sets_n_and_leaves_m() -> None:
    state = state_with(-1.05, 0.0, shift=0.3)
    on_shift(state)
    sync_param_widgets(state)  # the sidebar's next run
    assert state["mp.n"] == pytest.approx(HALF_LN3, rel=1e-12)
    assert state["mp.m"] == -1.05
    assert state["w.shift"] == pytest.approx(0.3, rel=1e-12)


def test_on_raw_takes_m_and_n_and_shows_their_slope_and_shift() -> None:
    state = state_with(0.0, 0.0)
    state["w.m"], state["w.n"] = HALF_LN3, -HALF_LN3
    on_raw(state)
    assert (state["mp.m"], state["mp.n"]) == (HALF_LN3, -HALF_LN3)
    state["mp.raw"] = False  # the slope/shift sliders shown again: seeded from the raw values
    sync_param_widgets(state)
    assert state["w.slope"] == pytest.approx(200 / 13, rel=1e-12)  # 5 / (0.45 * 0.5 + 0.1)
    assert state["w.shift"] == pytest.approx(-0.3, rel=1e-12)


@pytest.mark.parametrize(
    ("m", "n", "slope", "shift", "raw_m", "raw_n"),
    [
        # beyond the sliders' ends: widgets clamped to them (slope -> 5/0.55 = 9.09 < 9.10, shift -> 0.6)
        (10.0, 10.0, 9.10, 0.599, 5.0, 5.0),
        (-7.0, -6.0, 9.10, -0.599, -5.0, -5.0),
        # inside: shown as they are; m = 0 is the steepest slope, exactly 50
        (0.0, HALF_LN3, 50.0, 0.3, 0.0, HALF_LN3),
    ],
)
def test_sync_clamps_widgets_and_keeps_the_values_exact(m, n, slope, shift, raw_m, raw_n) -> None:
    state = state_with(m, n)
    sync_param_widgets(state)
    assert state["w.slope"] == pytest.approx(slope, abs=1e-12)
    assert state["w.shift"] == pytest.approx(shift, abs=1e-12)
    state["mp.raw"] = True  # the raw sliders shown instead
    sync_param_widgets(state)
    assert (state["w.m"], state["w.n"]) == pytest.approx((raw_m, raw_n), abs=1e-12)
    assert (state["mp.m"], state["mp.n"]) == (m, n)  # the canonical values are not clamped


def test_on_preset_loads_published_values_and_custom_keeps_them() -> None:
    state = state_with(0.0, 0.0)
    state[preset_key(state)] = "FineGym"
    on_preset(state)
    sync_param_widgets(state)  # the sidebar's next run
    assert (state["mp.m"], state["mp.n"]) == (1.05, -2.67)
    assert state["mp.preset"] == "FineGym" and "ACML 2024" in state["mp.params_note"]
    assert state["w.slope"] == pytest.approx(11.066529, abs=1e-6)
    state[preset_key(state)] = CUSTOM
    on_preset(state)
    sync_param_widgets(state)  # the sidebar's next run
    assert (state["mp.m"], state["mp.n"]) == (1.05, -2.67)
    assert state["mp.preset"] is None


def test_on_reset_goes_back_to_mpii_cooking_and_clears_the_error() -> None:
    state = state_with(3.0, -3.0)
    state["mp.ckpt_error"] = "Could not load ..."
    on_reset(state)
    sync_param_widgets(state)  # the sidebar's next run
    assert (state["mp.m"], state["mp.n"]) == (0.257, 0.053)
    assert state["mp.preset"] == "MPII Cooking 2" and preset_key(state) == "w.preset.1"
    assert state["mp.ckpt_error"] == ""


def test_apply_checkpoint_sets_values_or_keeps_them_with_the_reason() -> None:
    buffer = io.BytesIO()
    torch.save({"model_state": {"vmps.m": torch.tensor([0.5]), "vmps.n": torch.tensor([-0.25])}}, buffer)
    state = state_with(1.05, -2.67)
    assert apply_checkpoint(state, buffer.getvalue(), "run7.pyth")
    sync_param_widgets(state)
    assert (state["mp.m"], state["mp.n"]) == (0.5, -0.25)
    assert state["mp.params_note"] == "Loaded from run7.pyth" and state["mp.preset"] is None
    assert state["w.slope"] == pytest.approx(16.236259, abs=1e-6)  # 5 / (0.45 tanh 0.5 + 0.1)

    assert not apply_checkpoint(state, b"not a checkpoint", "notes.txt")
    assert (state["mp.m"], state["mp.n"]) == (0.5, -0.25)
    assert state["mp.ckpt_error"].startswith("Could not load learned values from notes.txt: notes.txt: not a")
    assert apply_checkpoint(state, buffer.getvalue(), "run7.pyth") and state["mp.ckpt_error"] == ""


def test_handlers_write_no_widget_key_and_seeding_keeps_what_the_user_set() -> None:
    # A handler runs as the moved slider's callback: writing that slider's key (or any other widget's) there
    # makes Streamlit send the value back to the browser, undoing key presses made in the meantime.
    state = state_with(0.257, 0.053)
    sync_param_widgets(state)
    state["w.shift"] = 0.052  # the browser's value
    widgets = {key: value for key, value in state.items() if key.startswith("w.")}
    on_shift(state)
    assert {key: value for key, value in state.items() if key.startswith("w.")} == widgets
    # the next run: 0.052 -> n -> 0.6 tanh n is 0.052 up to rounding, so the browser's value is not resent
    sync_param_widgets(state)
    assert state["w.shift"] == 0.052


def test_seed_writes_only_changed_values() -> None:
    written: list[str] = []

    class Recording(dict):
        def __setitem__(self, key: str, value: Any) -> None:
            written.append(key)
            super().__setitem__(key, value)

    state = Recording({"w.a": 0.1 + 0.2, "w.b": "FineGym"})
    seed(state, "w.a", 0.3)  # equal up to float rounding
    seed(state, "w.b", "FineGym")
    assert written == []
    seed(state, "w.a", 0.31)
    seed(state, "w.b", CUSTOM)
    seed(state, "w.c", 1.0)  # missing: always written
    assert written == ["w.a", "w.b", "w.c"]


def test_the_schema_names_each_key_in_one_part_only() -> None:
    from ui.state import DEFAULTS, SCHEMA

    keys = [key for part in SCHEMA.values() for key in part]
    assert len(keys) == len(set(keys)) == len(DEFAULTS)
    assert all(key.startswith("mp.") for key in keys)


def test_each_session_gets_its_own_lists_and_dicts() -> None:
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    init_state(first)
    init_state(second)
    first["mp.ds.recent"].append("/data/ucf")
    first["mp.viewer_ack"]["seq"] = 7
    assert second["mp.ds.recent"] == [] and second["mp.viewer_ack"] == {"viewer": "", "seq": 0}
    init_state(first)  # a rerun keeps what the session holds
    assert first["mp.ds.recent"] == ["/data/ucf"]


def test_a_replaced_preset_box_is_ignored() -> None:
    # A slider press makes the preset Custom in a new box; the old box's value, still in the browser
    # when the next press's rerun starts, must not re-apply its preset (it reset the sliders: issue 18).
    state = state_with(0.257, 0.053, shift=0.3)
    state["mp.preset"] = "MPII Cooking 2"
    old_box = preset_key(state)
    on_shift(state)
    assert preset_key(state) != old_box and state["mp.preset"] is None
    state[old_box] = "MPII Cooking 2"  # what an interrupted run's callback is called with
    on_preset(state, old_box)
    assert state["mp.n"] == pytest.approx(HALF_LN3, rel=1e-12) and state["mp.preset"] is None
    state[preset_key(state)] = "FineGym"  # the box shown now is obeyed
    on_preset(state, preset_key(state))
    assert (state["mp.m"], state["mp.n"]) == (1.05, -2.67)
