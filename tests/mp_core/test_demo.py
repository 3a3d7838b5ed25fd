"""``python -m mp_core.demo``: the standalone HTML demo from the command line, on real encoded videos."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mp_core import PRESETS, MotionParams
from mp_core.checkpoints import save_params
from mp_core.demo import build_demo, main
from tests.conftest import REPO_ROOT
from tests.helpers_video import make_video


def _payloads(page: str) -> tuple[dict, dict]:
    def script(name: str) -> dict:
        pattern = rf'<script type="application/json" id="motion-prompts-{name}">(.*?)</script>'
        match = re.search(pattern, page, re.S)
        assert match is not None, name
        return json.loads(match.group(1))

    return script("clip"), script("view")


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("demo") / "ramp.mp4", 30, fps=15, size=(96, 128))


def _run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mp_core.demo", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_command_line_writes_the_page(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.html"
    result = _run(str(video), "--out", str(out), "--frames", "6", "--max-side", "64", "--params", "finegym")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and "FineGym" in result.stdout
    clip, view = _payloads(out.read_text(encoding="utf-8"))
    assert (clip["frames"], clip["width"], clip["height"], clip["name"]) == (6, 64, 48, "ramp.mp4")
    fine_gym = PRESETS["FineGym"].params
    assert (view["m"], view["n"]) == (fine_gym.m, fine_gym.n)
    assert view["clip"] == clip["id"]
    assert "<title>ramp.mp4 · Video Motion Prompts" in out.read_text(encoding="utf-8")


def test_defaults_are_sixteen_frames_at_320_and_the_default_preset(tmp_path: Path) -> None:
    big = make_video(tmp_path / "big.mp4", 20, fps=10, size=(360, 480))
    out = tmp_path / "demo.html"
    assert main([str(big), "--out", str(out)]) == 0
    clip, view = _payloads(out.read_text(encoding="utf-8"))
    assert (clip["frames"], clip["width"], clip["height"]) == (16, 320, 240)
    default = PRESETS["MPII Cooking 2"].params
    assert (view["m"], view["n"]) == (default.m, default.n)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("m=0.5,n=-0.25", MotionParams(0.5, -0.25)), ("HMDB-51", PRESETS["HMDB-51"].params)],
)
def test_params_spec(video: Path, tmp_path: Path, spec: str, expected: MotionParams) -> None:
    out = tmp_path / "demo.html"
    assert main([str(video), "--out", str(out), "--frames", "3", "--params", spec]) == 0
    _, view = _payloads(out.read_text(encoding="utf-8"))
    assert (view["m"], view["n"]) == (expected.m, expected.n)
    assert view["slope"] == pytest.approx(expected.slope)


def test_params_from_a_checkpoint(video: Path, tmp_path: Path) -> None:
    learned = tmp_path / "learned.json"
    save_params(learned, MotionParams(1.3, -0.4))
    out = tmp_path / "demo.html"
    assert main([str(video), "--out", str(out), "--frames", "3", "--params", str(learned)]) == 0
    _, view = _payloads(out.read_text(encoding="utf-8"))
    assert (view["m"], view["n"]) == (1.3, -0.4)


def test_short_clip_gives_all_its_frames(tmp_path: Path) -> None:
    short = make_video(tmp_path / "short.mp4", 4, size=(32, 48))
    clip, _ = _payloads(build_demo(short, MotionParams(0.2, 0.0)))
    assert clip["frames"] == 4  # not 16 with repeated frames (zero differences)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "nonsense"], "neither a preset"),
        (["--params", "m=abc,n=1"], "not a number"),
        (["--frames", "1"], "--frames must be at least 2"),
    ],
)
def test_bad_options_say_why(video: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "demo.html"
    result = _run(str(video), "--out", str(out), *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_unreadable_clip_says_why(tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    result = _run(str(noise), "--out", str(tmp_path / "demo.html"))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "noise.mp4" in result.stderr
    result = _run(str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "demo.html"))
    assert result.returncode == 2 and "no such file" in result.stderr
