"""The Learn page (AppTest): a real short training run in a child process, its curves, Use these values,
the learned sets in Compare, Cancel and resume, and one run per server."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mp_core.checkpoints import load_params
from ui.learn import LearnRequest, TrainProcess, TrainSlot

ROOT = Path(__file__).resolve().parents[2]


def learn_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/4_Learn.py").run()
    assert not at.exception
    return at


def small_run(at: AppTest, epochs: int = 2) -> None:
    """Demo dataset with 4 clips per class, λ 0 and 10, 4 frames of 32 px, batches of 4."""
    at.number_input(key="w.learn.demo_clips").set_value(4)
    at.multiselect(key="w.learn.weights").set_value([0.0, 10.0])
    at.number_input(key="w.learn.epochs").set_value(epochs)
    at.number_input(key="w.learn.frames").set_value(4)
    at.number_input(key="w.learn.side").set_value(32)
    at.number_input(key="w.learn.batch").set_value(4)
    at.run()


def wait_for_run(at: AppTest, timeout: float = 240) -> None:
    from ui.learn_view import train_slot

    job = train_slot().job
    assert job is not None
    assert job.wait(timeout), "the training run did not end"
    at.run()  # the fragment sees the end and reruns the page
    at.run()
    assert not at.exception


def test_a_short_run_draws_its_curves_and_its_values_become_the_sidebars(app_folders) -> None:
    at = learn_page()
    assert "press Train" in at.info[0].value
    small_run(at)
    at.button(key="w.learn.train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    request: LearnRequest = at.session_state["mp.learn.request"]
    assert request.weights == (0.0, 10.0) and request.demo == 4
    from ui.roots import dataset_roots

    assert request.roots == dataset_roots()  # the run checks every clip against the server's roots
    command = request.command(request.out(app_folders["MP_CACHE_DIR"]))
    assert command[command.index("--roots") + 1].split(os.pathsep) == [str(r) for r in dataset_roots()]
    wait_for_run(at)
    out = request.out(app_folders["MP_CACHE_DIR"])
    assert out.is_relative_to(app_folders["MP_CACHE_DIR"])
    assert len(at.get("plotly_chart")) == 3  # curves, paths over the attention curve, the two sweeps
    for weight in ("0", "10"):
        assert (out / f"lambda-{weight}" / "checkpoint.pyth").is_file()
    learned = load_params(out / "lambda-10" / "checkpoint.pyth")
    before = (at.session_state["mp.m"], at.session_state["mp.n"])
    at.button(key="w.learn.use.10").click().run()
    assert (at.session_state["mp.m"], at.session_state["mp.n"]) == pytest.approx((learned.m, learned.n))
    assert (at.session_state["mp.m"], at.session_state["mp.n"]) != pytest.approx(before)
    assert "Learned here: λ=10" in at.session_state["mp.params_note"]
    # the learned sets are offered in Compare and in the dataset report
    label = next(name for name in at.session_state["mp.learned"] if name.startswith("Learned λ=10"))
    assert at.session_state["mp.ds.ckpts"][label] == f"m={learned.m!r},n={learned.n!r}"
    at.switch_page("pages/2_Compare.py").run()
    assert label in at.selectbox(key="w.cmp.choice.0").options
    at.selectbox(key="w.cmp.choice.0").set_value(label).run()
    assert not at.exception


def test_cancel_keeps_the_finished_epochs_and_train_resumes(app_folders) -> None:
    at = learn_page()
    small_run(at, epochs=30)
    at.button(key="w.learn.train").click().run()
    request: LearnRequest = at.session_state["mp.learn.request"]
    metrics = request.folder(request.out(app_folders["MP_CACHE_DIR"]), 0.0) / "metrics.parquet"
    deadline = time.monotonic() + 240
    while not metrics.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metrics.is_file(), "no epoch finished"
    at.button(key="w.learn.cancel").click().run()
    at.run()
    assert "Cancelled" in at.warning[0].value
    from mp_core.train import read_metrics

    kept = len(read_metrics(metrics.parent))
    assert 1 <= kept < 30
    at.number_input(key="w.learn.epochs").set_value(kept + 1).run()  # the same folder: epochs are not in it
    at.button(key="w.learn.train").click().run()
    wait_for_run(at)
    rows = read_metrics(metrics.parent)
    assert [row["epoch"] for row in rows] == list(range(1, kept + 2))  # resumed, not restarted


@pytest.fixture
def blocked_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's child waits (a minute) until it is cancelled: checks while it runs are real."""
    import sys

    waiting = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(LearnRequest, "command", lambda self, out: waiting)


def test_one_run_per_server(tmp_path: Path, blocked_command: None) -> None:
    slot = TrainSlot()
    request = LearnRequest(tmp_path / "data", (0.0,), epochs=1)
    first = slot.start(request, tmp_path / "out", "session a")
    assert first is not None and first.active
    assert slot.start(request, tmp_path / "out2", "session b") is None
    first.cancel()
    assert first.wait(10) and first.state == "cancelled"
    second = slot.start(request, tmp_path / "out2", "session b")  # the server is free again
    assert second is not None and second.active
    second.cancel()


def test_a_failing_run_reports_the_commands_message(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    job = TrainSlot().start(LearnRequest(tmp_path / "data", (0.0,), epochs=1), tmp_path / "out", "a")
    assert job is not None and job.wait(120)
    assert job.state == "failed" and "nothing to train on" in job.error


def test_only_the_session_that_started_a_run_can_cancel_it(tmp_path: Path, blocked_command: None) -> None:
    slot = TrainSlot()
    request = LearnRequest(tmp_path / "data", (0.0,), epochs=1)
    job = slot.start(request, tmp_path / "out", "session a")
    assert job is not None
    assert slot.job_of("session b") is None  # the same request from another session is not its run
    assert not slot.cancel("session b")
    assert job.active and not job.wait(0.5)
    assert slot.job_of("session a") is job and slot.cancel("session a")
    assert job.wait(10) and job.state == "cancelled"


def test_a_run_stops_once_its_session_has_been_gone_for_the_grace_period(
    tmp_path: Path, blocked_command: None
) -> None:
    present = [True]
    job = TrainProcess(LearnRequest(tmp_path / "data", (0.0,), 1), tmp_path / "out", lambda: present[0], 1.0)
    job.start()
    assert not job.wait(1.5)  # the session is there: the run goes on
    present[0] = False
    assert job.wait(10), "the run outlived its session"
    assert job.state == "cancelled"


def test_progress_reads_the_status_files_of_each_lambda(tmp_path: Path) -> None:
    import json

    request = LearnRequest(tmp_path / "data", (0.0, 1.0), epochs=2)
    job = TrainProcess(request, tmp_path / "out")
    assert job.progress() == (0.0, "Starting")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "status.json").write_text(json.dumps({"state": "making", "done": 7, "total": 240}))
    assert job.progress() == (0.0, "Making the demo dataset: clip 7/240")
    (tmp_path / "out" / "lambda-0").mkdir(parents=True)
    (tmp_path / "out" / "lambda-1").mkdir()
    (tmp_path / "out" / "status.json").write_text(json.dumps({"state": "decoding", "done": 3, "total": 10}))
    assert job.progress() == (0.0, "Decoding clips 3/10")
    (tmp_path / "out" / "status.json").write_text(json.dumps({"state": "training", "clips": 10}))
    done = {"state": "done", "epoch": 2, "epochs": 2}
    (tmp_path / "out" / "lambda-0" / "status.json").write_text(json.dumps(done))
    running = {"state": "training", "epoch": 1, "epochs": 2, "step": 1, "steps": 2}
    (tmp_path / "out" / "lambda-1" / "status.json").write_text(json.dumps(running))
    assert job.progress() == (pytest.approx((1 + 0.25) / 2), "λ=1: epoch 1/2 training")


def test_the_paths_figure_takes_a_run_whose_shift_saturated() -> None:
    """A learned n of 25 gives shift = 0.6 exactly in float: the path is drawn from the rows' m, n."""
    from mp_core import MotionParams
    from ui.learn_figures import trajectory_figure

    start, params = MotionParams(0.257, 0.053), [MotionParams(0.5, 3.0), MotionParams(0.4, 25.0)]
    rows = [
        {"epoch": i, "m": p.m, "n": p.n, "slope": p.slope, "shift": p.shift} for i, p in enumerate(params)
    ]
    assert rows[-1]["shift"] == 0.6
    path = trajectory_figure({1.0: rows}, start).data[-1]
    assert list(path.x) == pytest.approx([0.6 * math.tanh(0.053), 0.6 * math.tanh(3.0), 0.6])
    assert list(path.y) == pytest.approx([5 / (0.45 * math.tanh(m) + 0.1) for m in (0.257, 0.5, 0.4)])
