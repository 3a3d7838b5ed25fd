"""The Compare page through AppTest: parameter sets, checkpoints per column, power normalizations, λ sweep."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from mp_core import PRESETS, MotionParams, lambda_sweep
from mp_core.video_io import read_clip_uniform
from tests.conftest import REPO_ROOT
from tests.helpers_pickle import code_running_checkpoint
from ui.samples import list_samples

COMPARE = "pages/2_Compare.py"


@pytest.fixture
def compare() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(COMPARE).run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def default_frames() -> np.ndarray:
    """The page's default clip decoded here on its own: first shipped sample, 16 frames spread, 320 px."""
    return read_clip_uniform(list_samples()[0].path, 16, max_side=320).frames.numpy()


def numpy_stats(frames: np.ndarray, params: MotionParams) -> tuple[float, float]:
    """Mean attention and R of a clip (T, H, W, 3 uint8), straight from the paper's formulas in float64."""
    x = frames.astype(np.float64) / 255
    gray = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    a = 5 / (0.45 * abs(np.tanh(params.m)) + 0.1)
    b = 0.6 * np.tanh(params.n)
    attention = 1 / (1 + np.exp(-a * (np.diff(gray, axis=0) - b)))
    height, width = gray.shape[1:]
    variation = ((attention[1:] - attention[:-1]) ** 2).sum(axis=(1, 2)) / (height * width)
    return attention.mean(), variation.mean()


def images(at: AppTest, prefix: str) -> dict[str, str]:
    return {i.captions[0]: i.value[0] for i in at.get("image") if i.captions[0].startswith(prefix)}


def test_parameter_sets_side_by_side_with_one_curve_chart(compare: AppTest) -> None:
    attention = images(compare, "Attention · ")
    assert list(attention) == ["Attention · 1: current", "Attention · 2: FineGym", "Attention · 3: HMDB-51"]
    assert len(set(attention.values())) == 3  # three different maps
    assert len(images(compare, "Prompt · ")) == 3
    assert [m.label for m in compare.metric].count("Mean attention") == 3
    chart = compare.get("plotly_chart")
    assert len(chart) == 1
    traces = [trace.get("name") for trace in json.loads(chart[0].proto.spec)["data"]]
    assert traces == ["differences D", "1: current", "2: FineGym", "3: HMDB-51"]


def test_column_numbers_match_the_clip(compare: AppTest, default_frames: np.ndarray) -> None:
    shown = [(m.label, float(m.value)) for m in compare.metric]
    assert [label for label, _ in shown] == ["Mean attention", "R (clip)"] * 3
    for index, preset in enumerate(("MPII Cooking 2", "FineGym", "HMDB-51")):  # sliders start at MPII's
        mean, variation = numpy_stats(default_frames, PRESETS[preset].params)
        assert shown[2 * index][1] == pytest.approx(mean, abs=0.0005 + 1e-6)  # shown with 3 decimals
        assert shown[2 * index + 1][1] == pytest.approx(variation, rel=0.0005 + 1e-5)  # 4 significant digits
    slopes = [md.value for md in compare.markdown if md.value.startswith("a = ")]
    # FineGym (m, n) = (1.05, -2.67): a = 5 / (0.45 tanh 1.05 + 0.1) = 11.067, b = 0.6 tanh(-2.67) = -0.594
    assert slopes[1] == "a = **11.07**, b = **-0.594** (m = 1.0500, n = -2.6700)"


def test_switching_a_set_and_the_count(compare: AppTest) -> None:
    compare.selectbox(key="w.cmp.choice.1").set_value("UCF-Crime").run()
    compare.slider(key="w.cmp.count").set_value(4).run()
    assert not compare.exception
    assert list(images(compare, "Attention · ")) == [
        "Attention · 1: current",
        "Attention · 2: UCF-Crime",
        "Attention · 3: HMDB-51",
        "Attention · 4: UCF-Crime",
    ]
    same = images(compare, "Attention · ")
    assert same["Attention · 2: UCF-Crime"] == same["Attention · 4: UCF-Crime"]


def test_shared_scrubber_moves_every_column(compare: AppTest) -> None:
    before = images(compare, "Attention · ")
    compare.slider(key="w.cmp.pair").set_value(5).run()
    after = images(compare, "Attention · ")
    # FineGym's and HMDB-51's learned shifts (b = -0.59, -0.35) pass almost every pixel: their maps can
    # stay all ones on this clip; the current values (MPII Cooking 2, b = +0.03) do not.
    assert before["Attention · 1: current"] != after["Attention · 1: current"]
    assert list(after) == list(before)
    assert compare.session_state["mp.pair"] == 5


def test_checkpoint_column_and_a_refused_pickle(compare: AppTest, tmp_path) -> None:
    compare.selectbox(key="w.cmp.choice.2").set_value("From a checkpoint…").run()
    assert "Upload a checkpoint" in compare.info[0].value
    buffer = io.BytesIO()
    torch.save({"model_state": {"vmps.m": torch.tensor([0.5]), "vmps.n": torch.tensor([0.1])}}, buffer)
    compare.file_uploader(key="w.cmp.upload.2").set_value(
        ("run7.pyth", buffer.getvalue(), "application/octet-stream")
    )
    compare.run()
    assert not compare.exception and not compare.error
    assert "Attention · 3: run7.pyth" in images(compare, "Attention · ")

    marker = tmp_path / "pwned"

    compare.file_uploader(key="w.cmp.upload.2").set_value(
        ("evil.pth", code_running_checkpoint(marker), "application/octet-stream")
    )
    compare.run()
    assert not compare.exception
    assert "refused: loading it would run code" in compare.error[0].value
    assert not marker.exists()
    assert "Attention · 3: run7.pyth" in images(compare, "Attention · ")  # the previous values stay
    assert compare.session_state["mp.m"] == PRESETS["MPII Cooking 2"].params.m  # sidebar untouched


def test_power_normalizations_rows_and_sliders(compare: AppTest) -> None:
    compare.segmented_control(key="w.cmp.view").set_value("Power normalizations").run()
    assert not compare.exception
    rows = images(compare, "Attention · ")
    assert list(rows) == [f"Attention · {n}" for n in ("Ours", "Gamma", "MaxExp", "SigmE", "AsinhE")]
    assert len(compare.get("plotly_chart")) == 1
    compare.slider(key="w.pn.Gamma").set_value(1.5).run()
    assert images(compare, "Attention · ")["Attention · Gamma"] != rows["Attention · Gamma"]
    assert images(compare, "Attention · ")["Attention · SigmE"] == rows["Attention · SigmE"]


def test_lambda_sweep_row_chart_and_table(compare: AppTest, default_frames: np.ndarray) -> None:
    compare.segmented_control(key="w.cmp.view").set_value("λ sweep").run()
    assert not compare.exception
    captions = [i.captions[0] for i in compare.get("image") if i.captions[0].startswith("λ = ")]
    assert len(captions) == len(lambda_sweep()) == 9
    assert captions[0].startswith("λ = 0 ·") and captions[-1].startswith("λ = 10 ·")
    table = compare.dataframe[0].value
    assert list(table["λ"]) == [p.penalty_weight for p in lambda_sweep()]
    assert "motion focus" not in table.columns  # a real clip has no ground truth
    means = [numpy_stats(default_frames, p.params)[0] for p in lambda_sweep()]
    assert list(table["mean attention"]) == pytest.approx(means, abs=0.00005 + 1e-6)  # 4 decimals


def test_synthetic_clip_adds_motion_focus(compare: AppTest) -> None:
    compare.segmented_control(key="w.source").set_value("Synthetic").run()
    assert not compare.exception
    assert [m.label for m in compare.metric].count("Motion focus") == 3
    compare.segmented_control(key="w.cmp.view").set_value("Power normalizations").run()
    assert [m.label for m in compare.metric].count("Motion focus (pair t)") == 5
    compare.segmented_control(key="w.cmp.view").set_value("λ sweep").run()
    assert "motion focus" in compare.dataframe[0].value.columns
