"""The viewer's JS bundle: its modules joined in order, and the slope formula taken from mp_core.params.

The agreement of the JS formula with the paper's (written out here) is checked in Chromium, through the
viewer's public API on a standalone page.
"""

from __future__ import annotations

import math
import re

import pytest

from mp_core import params as formula
from mp_core.synthetic import synthetic_clip
from mp_core.viz.clip_view import prepare_clip
from mp_core.viz.viewer import MODULES, asset, clip_payload, standalone_html, view_payload, viewer_script

_TOP_LEVEL = re.compile(r"^(?:const|let|class|function|async function)\s+([A-Za-z_$][\w$]*)", re.M)


def test_bundle_joins_every_module_once_in_order() -> None:
    script = viewer_script()
    starts = [script.index(f"// ---- module {name} ----") for name in MODULES]
    assert starts == sorted(starts) and len(set(MODULES)) == len(MODULES) == 8
    # every module's top-level definitions are in the bundle, and no name is defined twice in it (a
    # module joined twice would be a SyntaxError in the page); the bundle adds its own few (FORMULA, ...)
    defined = _TOP_LEVEL.findall(script)
    from_modules = [n for module in MODULES for n in _TOP_LEVEL.findall(asset(module))]
    assert len(from_modules) > 8 and set(from_modules) <= set(defined)
    assert len(defined) == len(set(defined)), sorted({n for n in defined if defined.count(n) > 1})
    assert script.startswith("/* Motion prompts viewer") and script.rstrip().endswith("})();")
    assert "export default" not in script and "export default" in viewer_script(module=True)


def test_modules_define_each_top_level_name_once() -> None:
    """One scope holds all modules: a name defined twice would be a SyntaxError in the page."""
    names = [name for module in MODULES for name in _TOP_LEVEL.findall(asset(module))]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert {"Viewer", "LiveClip", "attentionInto", "slopeOf", "shiftOf"} <= set(names)


def test_formula_constants_are_generated_from_params(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in MODULES:  # no module writes the constants itself
        assert not re.search(r"(?<![\d.])(0\.45|0\.6)\s*\*|(?<![\d.])5\s*/\s*\(", asset(module)), module
    monkeypatch.setattr(formula, "SLOPE_SCALE", 7.25)
    monkeypatch.setattr(formula, "SHIFT_SCALE", 0.3)
    assert '"slope_scale":7.25' in viewer_script() and '"shift_scale":0.3' in viewer_script()


def _paper_slope(m: float) -> float:
    return 5 / (0.45 * abs(math.tanh(m)) + 0.1)


def _paper_shift(n: float) -> float:
    return 0.6 * math.tanh(n)


@pytest.mark.browser
def test_js_slope_and_shift_equal_the_papers_formula(page, tmp_path) -> None:
    data = prepare_clip(synthetic_clip(num_frames=3, height=16, width=16).clip, "cpu", "demo")
    clip = clip_payload(data, "demo")
    path = tmp_path / "demo.html"
    path.write_text(standalone_html(clip, view_payload(clip["id"], formula.MotionParams(0.0, 0.0))), "utf-8")
    page.goto(path.as_uri())
    page.wait_for_function("() => window.motionPrompts && window.motionPrompts.info().pairs > 0")
    for m, n in ((0.0, 0.0), (0.257, 0.053), (1.05, -2.67), (-0.8916, 0.2543), (4.9, -4.9), (-3.0, 1e-4)):
        shown = page.evaluate("([m, n]) => window.motionPrompts.setParams({m, n})", [m, n])
        assert shown["slope"] == pytest.approx(_paper_slope(m), rel=1e-12), (m, n)
        assert shown["shift"] == pytest.approx(_paper_shift(n), rel=1e-12, abs=1e-15), (m, n)
        assert (shown["m"], shown["n"]) == (m, n)
