"""A dataset report run in a background thread that one session owns: progress, cancel, one run at a time.

The page starts a :class:`ReportJob`, keeps it in the session and polls it; the thread calls
``mp_core.report.run_report``, which calls back with progress and polls ``should_stop``. Runs of every
session queue for a few slots (a shared semaphore), and a run stops by itself when its session has been
gone for a while: what it computed is kept, and running again resumes. No Streamlit call is made here.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mp_core.errors import InputError
from mp_core.files import atomic_target
from mp_core.report import ReportSummary, run_report
from mp_core.synthetic import make_demo_dataset
from ui.report_runtime import SessionWatch
from ui.samples import list_samples

__all__ = ["ReportJob", "ReportRequest", "demo_dataset", "report_file"]

_LOG = logging.getLogger(__name__)
#: The shipped clips join the demo dataset as one more class: real footage beside the synthetic classes.
SHIPPED_CLASS = "shipped_clips"


@dataclass(frozen=True)
class ReportRequest:
    """What to compute: the dataset, the report file, 1–4 SPEC texts, the frames of each sample, processes."""

    dataset: Path
    out: Path
    specs: tuple[str, ...]
    frames: int = 16
    max_side: int = 224
    split: str | None = None
    workers: int | None = None  #: processes (None: every CPU)
    roots: tuple[Path, ...] | None = None  #: files are read only inside these (None: anywhere)
    retry_errors: bool = False  #: compute the rows kept with an error again


def report_file(dataset: Path, cache: Path, frames: int, max_side: int) -> Path:
    """Where the page keeps a dataset's report: a folder per dataset under the cache, a file per sampling.

    Parameter sets are rows, so adding one to a report reuses the file; frames and size change every row, so
    they name the file.

    Example:
        >>> path = report_file(Path("/data/HMDB 51"), Path("/cache"), 16, 224)
        >>> path.parent.parent, path.parent.name.startswith("HMDB_51-"), path.name
        (PosixPath('/cache/reports'), True, 'report-16f-224px.parquet')
    """
    digest = hashlib.sha256(str(dataset).encode()).hexdigest()[:10]
    name = re.sub(r"[^\w.\-]+", "_", dataset.name).strip("_") or "dataset"
    return cache / "reports" / f"{name}-{digest}" / f"report-{frames}f-{max_side}px.parquet"


def demo_dataset(cache: Path) -> Path:
    """The demo dataset in ``cache/demo``: synthetic classes, plus the shipped clips as one more class.

    Made on first use; later calls find it in place (both steps leave files that are already there alone).
    """
    root = make_demo_dataset(cache / "demo")
    shipped = Path(root) / SHIPPED_CLASS
    shipped.mkdir(exist_ok=True)
    for sample in list_samples():
        target = shipped / sample.path.name
        if not target.is_file() or target.stat().st_size != sample.path.stat().st_size:
            with atomic_target(target) as partial:  # a fresh hidden name: never listed half-written
                shutil.copyfile(sample.path, partial)
    return Path(root)


class ReportJob:
    """One report run in a daemon thread.

    Args:
        request: what to compute.
        slots: shared by every session: a run waits for a free slot before it starts.
        alive: tells whether the owning session is still there (None: always); once it has been gone for
            ``grace`` seconds the run stops as if cancelled.
        run: the report function (``mp_core.report.run_report``; tests pass a stand-in).
    """

    def __init__(
        self,
        request: ReportRequest,
        slots: threading.Semaphore,
        alive: Callable[[], bool] | None = None,
        grace: float = 30.0,
        run: Callable[..., ReportSummary] = run_report,
    ) -> None:
        self.request = request
        self.done = 0
        self.total = 0
        self.state = "waiting"  # waiting → running → done | cancelled | failed
        self.summary: ReportSummary | None = None
        self.error = ""
        self.started = time.monotonic()
        self.finished: float | None = None
        self._slots, self._run = slots, run
        self._cancel = threading.Event()
        self._session = SessionWatch(alive, grace)
        self._thread = threading.Thread(target=self._work, name=f"report {request.out.name}", daemon=True)

    def start(self) -> ReportJob:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def active(self) -> bool:
        """The thread is waiting for a slot or computing."""
        return self._thread.is_alive()

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (tests, scripts); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def should_stop(self) -> bool:
        """Cancelled, or the session has been gone for longer than the grace period."""
        return self._cancel.is_set() or self._session.gone()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _work(self) -> None:
        while not self._slots.acquire(timeout=0.2):
            if self.should_stop():
                self.state, self.finished = "cancelled", time.monotonic()
                return
        try:
            self.state, self.started = "running", time.monotonic()
            request = self.request
            self.summary = self._run(
                request.dataset,
                request.out,
                list(request.specs),
                frames=request.frames,
                max_side=request.max_side,
                split=request.split,
                workers=request.workers,
                roots=request.roots,
                retry_errors=request.retry_errors,
                progress=self._progress,
                should_stop=self.should_stop,
            )
            self.state = "cancelled" if self.summary.cancelled else "done"
        except InputError as err:
            self.state, self.error = "failed", str(err)
        except Exception as err:  # a bug must not vanish with the thread: show it, log the traceback
            _LOG.exception("report run failed")
            self.state, self.error = "failed", f"{type(err).__name__}: {err}"
        finally:
            self.finished = time.monotonic()
            self._slots.release()
