"""The Learn page's parts: a training run in a child process (one per server), its files read back, and
what a finished run hands to the rest of the app.

The run is ``python -m mp_core.train`` in its own process: training holds the interpreter for minutes, and
a child can be cancelled (terminated) at any point, losing at most the epoch in progress: the next Train
with the same settings resumes from the last checkpoint. The page reads the run's ``status.json`` and
``metrics.parquet`` files; nothing is sent back over pipes. No Streamlit call is made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mp_core.params import MotionParams
from mp_core.processes import PARENT_ENV
from ui.report_runtime import SessionWatch

__all__ = [
    "LAMBDA_CHOICES",
    "MODELS",
    "LearnRequest",
    "TrainProcess",
    "TrainSlot",
    "learned_entries",
    "publish_learned",
    "request_runs",
]

#: λ values offered (the paper's FineGym sweep, plus 1 and 10 of the bench's sweep).
LAMBDA_CHOICES = (0.0, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Backbones offered: the tiny default and torchvision's small video ResNets (random init, no download).
MODELS = ("tiny", "r3d_18", "mc3_18", "r2plus1d_18")
#: Session key of the learned parameter sets: label -> MotionParams (Compare lists them).
LEARNED_KEY = "mp.learned"
#: The dataset report's own checkpoint list: label -> SPEC text (see ui.dataset_report).
REPORT_CKPTS_KEY = "mp.ds.ckpts"


@dataclass(frozen=True)
class LearnRequest:
    """One Train click: what to learn on and how.

    ``demo`` > 0: ``dataset`` is a folder the run first fills with the synthetic demo dataset. ``roots``:
    the server's dataset roots, passed on as ``--roots`` so the run reads nothing outside them.
    """

    dataset: Path
    weights: tuple[float, ...]
    epochs: int
    model: str = "tiny"
    frames: int = 8
    side: int = 64
    batch: int = 8
    demo: int = 0
    roots: tuple[Path, ...] | None = None  #: the run reads only files inside these (None: anywhere)

    def out(self, cache: Path) -> Path:
        """The run's folder: one per dataset and settings but not epochs, so asking for more epochs resumes.

        Example:
            >>> request = LearnRequest(Path("/data/my clips"), (0.0, 1.0), epochs=5)
            >>> path = request.out(Path("/cache"))
            >>> path.parent.as_posix(), path.name.startswith("my_clips-")
            ('/cache/learn', True)
            >>> LearnRequest(Path("/data/my clips"), (0.0, 1.0), epochs=9).out(Path("/cache")) == path
            True
        """
        settings = (str(self.dataset), self.weights, self.model, self.frames, self.side, self.batch)
        digest = hashlib.sha256(repr(settings).encode()).hexdigest()[:10]
        name = re.sub(r"[^\w.\-]+", "_", self.dataset.name).strip("_") or "dataset"
        return cache / "learn" / f"{name}-{digest}"

    def command(self, out: Path) -> list[str]:
        """The command line of the run (always ``--resume``: a cancelled run goes on from its checkpoint)."""
        command = [sys.executable, "-m", "mp_core.train", str(self.dataset), "--out", str(out)]
        command += ["--lambda", ",".join(f"{w:g}" for w in self.weights), "--epochs", str(self.epochs)]
        command += ["--model", self.model, "--frames", str(self.frames), "--side", str(self.side)]
        command += ["--batch", str(self.batch), "--resume", "--device", "cpu"]
        if self.roots is not None:
            command += ["--roots", os.pathsep.join(str(root) for root in self.roots)]
        return command + (["--demo", str(self.demo)] if self.demo else [])

    def folder(self, out: Path, weight: float) -> Path:
        """Where λ's checkpoint and metrics are (``out`` for one λ, ``out/lambda-<λ>`` for several)."""
        from mp_core.train import lambda_folder

        return lambda_folder(out, weight, len(self.weights) > 1)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class TrainProcess:
    """``python -m mp_core.train`` for one request, in a child process whose output goes to ``run.log``.

    Example:
        >>> job = TrainProcess(LearnRequest(Path("/nonexistent"), (0.0,), 1), Path("/tmp/x"))
        >>> job.state
        'waiting'
    """

    def __init__(
        self,
        request: LearnRequest,
        out: Path,
        alive: Callable[[], bool] | None = None,
        grace: float = 30.0,
    ) -> None:
        self.request, self.out = request, out
        self.state = "waiting"  # waiting → running → done | cancelled | failed
        self.error = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._cancelled = False
        self._session = SessionWatch(alive, grace)  # the report's rule: a session gone 30 s stops its run

    def start(self) -> TrainProcess:
        self.out.mkdir(parents=True, exist_ok=True)
        with (self.out / "run.log").open("wb") as log:
            # same process group as the server: Ctrl-C on the server stops the run too
            command = self.request.command(self.out)
            # and it ends when the server is killed: nobody would read its files (mp_core.processes)
            environment = {**os.environ, PARENT_ENV: str(os.getpid())}
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        self.state = "running"
        threading.Thread(target=self._watch_session, name=f"learn {self.out.name}", daemon=True).start()
        return self

    def _watch_session(self) -> None:
        """Cancel the run once the session that started it has left (nobody would see or use it)."""
        while self._process is not None and self._process.poll() is None:
            if self._session.gone():
                self.cancel()
                return
            time.sleep(0.5)

    @property
    def active(self) -> bool:
        """The child is still running (updates :attr:`state` when it has ended)."""
        if self._process is None:
            return False
        code = self._process.poll()
        if code is None:
            return True
        if self.state == "running":
            self.state = "cancelled" if self._cancelled else "done" if code == 0 else "failed"
            if self.state == "failed":
                self.error = self._failure(code)
        return False

    def _failure(self, code: int) -> str:
        lines = (self.out / "run.log").read_text(encoding="utf-8", errors="replace").splitlines()
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        return errors[-1] if errors else f"training stopped (exit {code}): " + " ".join(lines[-3:])[-400:]

    def cancel(self) -> None:
        """Stop the run; the epochs it finished are kept for the next Train with the same settings."""
        if self._process is not None and self._process.poll() is None:
            self._cancelled = True
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.active  # noqa: B018 (reads the exit status into state)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the child ends (tests, scripts); True when it has."""
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
        return not self.active

    def progress(self) -> tuple[float, str]:
        """Share done (0..1) and a line saying where the run is, from the files the run writes."""
        status = _read_json(self.out / "status.json")
        if status.get("state") == "making":
            return 0.0, f"Making the demo dataset: clip {status['done']}/{status['total']}"
        if status.get("state") == "decoding":
            return 0.0, f"Decoding clips {status['done']}/{status['total']}"
        weights = self.request.weights
        done, line = 0.0, "Starting (making the demo dataset first)" if self.request.demo else "Starting"
        for index, weight in enumerate(weights):
            status = _read_json(self.request.folder(self.out, weight) / "status.json")
            if not status:
                break
            epochs = max(int(status.get("epochs", 1)), 1)
            steps = max(int(status.get("steps", 1)), 1)
            finished = status["state"] == "done"
            within = (
                1.0 if finished else (int(status["epoch"]) - 1 + int(status.get("step", 0)) / steps) / epochs
            )
            done = (index + within) / len(weights)
            line = f"λ={weight:g}: epoch {status['epoch']}/{epochs}" + ("" if finished else " training")
        return min(done, 1.0), line

    def runs(self) -> dict[float, list[dict[str, Any]]]:
        """Each λ's metric rows so far (a λ not started yet: no rows)."""
        return request_runs(self.request, self.out)


def request_runs(request: LearnRequest, out: Path) -> dict[float, list[dict[str, Any]]]:
    """Each λ's metric rows in the run folder ``out`` (a λ not started yet: no rows)."""
    from mp_core.train import read_metrics

    return {w: read_metrics(request.folder(out, w)) for w in request.weights}


class TrainSlot:
    """The one training run of a server (kept with ``st.cache_resource``): a second Train waits for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job: TrainProcess | None = None
        self.owner: str | None = None  #: the session id that started :attr:`job`

    def start(
        self,
        request: LearnRequest,
        out: Path,
        owner: str,
        alive: Callable[[], bool] | None = None,
    ) -> TrainProcess | None:
        """Start ``request`` for session ``owner`` unless another run is active (then None).

        ``alive`` tells whether the owner is still connected (``ui.report_runtime.session_alive``).
        """
        with self.lock:
            if self.job is not None and self.job.active:
                return None
            self.job, self.owner = TrainProcess(request, out, alive).start(), owner
            return self.job

    def job_of(self, owner: str) -> TrainProcess | None:
        """The server's run if session ``owner`` started it, else None (it is someone else's)."""
        with self.lock:
            return self.job if self.owner == owner else None

    def cancel(self, owner: str) -> bool:
        """Cancel the run of session ``owner``; another session's run is left alone (False)."""
        job = self.job_of(owner)
        if job is None:
            return False
        job.cancel()
        return True


def learned_entries(request: LearnRequest, out: Path) -> dict[str, tuple[Path, MotionParams]]:
    """Label -> (checkpoint, values) of every λ of a run that has a checkpoint."""
    from mp_core.checkpoints import load_params
    from mp_core.errors import InputError

    entries = {}
    for weight in request.weights:
        checkpoint = request.folder(out, weight) / "checkpoint.pyth"
        try:
            params = load_params(checkpoint)
        except InputError:
            continue
        entries[f"Learned λ={weight:g} ({request.dataset.name}, {request.model})"] = (checkpoint, params)
    return entries


def publish_learned(state: Any, entries: dict[str, tuple[Path, MotionParams]]) -> None:
    """Offer learned values in Compare (``mp.learned``) and in the dataset report's parameter sets."""
    from ui.report_run import spec_text

    learned = state.setdefault(LEARNED_KEY, {})
    report = state.setdefault(REPORT_CKPTS_KEY, {})
    for label, (_, params) in entries.items():
        learned[label] = params
        report[label] = spec_text(params)
