"""Where :func:`~mp_core.report.rows.sample_rows` runs: a local process pool, or Ray Data actors.

Each engine is a generator of row lists (one list per sample, in completion order). The local engine also
yields an empty list when nothing finished for a moment, so its caller can poll for cancellation; closing
the generator stops the work (pending samples are dropped, running ones finish).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from mp_core.processes import exit_with_parent
from mp_core.report.rows import ReportContext, SampleTask, sample_rows
from mp_core.report.store import REPORT_SCHEMA

__all__ = ["ENGINES", "WorkerLostError", "local_rows", "ray_rows"]


class WorkerLostError(RuntimeError):
    """A worker process died mid-run (killed, out of memory): the rows so far are kept, a new run resumes."""


Rows = list[dict[str, Any]]


def _init_worker() -> None:
    # One sample per process at a time: torch's own threads would only fight the other workers for cores.
    torch.set_num_threads(1)
    # Ctrl-C reaches the whole process group: the parent cancels cleanly, workers must not die mid-sample.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()


def local_rows(
    context: ReportContext,
    tasks: Sequence[SampleTask],
    workers: int,
    *,
    poll_seconds: float = 0.2,
    work: Callable[[ReportContext, SampleTask], Rows] = sample_rows,
) -> Iterator[Rows]:
    """Rows of every task from a pool of ``workers`` processes (started with ``spawn``: safe in a threaded
    server such as Streamlit's), with at most ``2 * workers`` samples in flight.

    ``work`` (a module-level function, run in the workers) is :func:`sample_rows` but for benchmarks.
    """
    if not tasks:
        return
    workers = max(1, min(workers, len(tasks)))
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_init_worker)
    pending: set[Future[Rows]] = set()
    queue = iter(tasks)
    try:
        while True:
            for task in queue:
                pending.add(pool.submit(work, context, task))
                if len(pending) >= 2 * workers:
                    break
            if not pending:
                return
            done, pending = wait(pending, timeout=poll_seconds, return_when=FIRST_COMPLETED)
            if not done:
                yield []
            for future in done:
                try:
                    rows = future.result()
                except BrokenProcessPool as err:
                    raise WorkerLostError(
                        "a report worker process died (killed, or out of memory): the rows computed so far "
                        "are kept; run the report again to compute the rest"
                    ) from err
                yield rows
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _ReportActor:
    """A Ray Data actor: the rows of a batch of samples as a pyarrow table."""

    def __init__(self, context: ReportContext, use_gpu: bool) -> None:
        from dataclasses import replace

        _init_worker()
        self.context = replace(context, device="cuda") if use_gpu and torch.cuda.is_available() else context

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        rows: Rows = []
        for key, label, split, indices in zip(
            batch["key"], batch["label"], batch["split"], batch["spec_indices"], strict=True
        ):
            task = SampleTask(str(key), str(label), str(split), tuple(int(i) for i in indices))
            rows += sample_rows(self.context, task)
        return pa.Table.from_pylist(rows, schema=REPORT_SCHEMA)


def ray_rows(
    context: ReportContext,
    tasks: Sequence[SampleTask],
    workers: int | None,
    *,
    address: str | None = None,
) -> Iterator[Rows]:
    """Rows of every task from Ray Data: ``from_items`` over the samples, ``map_batches`` on an actor pool.

    Joins the cluster at ``address`` (``"auto"``, ``"ray://host:10001"``, ...), or uses the Ray already
    initialised in this process, or starts a local one with ``workers`` CPUs (shut down at the end). The
    pool has one actor per CPU of the cluster (``workers`` at most); when the cluster has GPUs each actor
    gets a share and computes the statistics there (decoding stays on the CPU; numbers then agree with the
    local engine's to float32 rounding). A local cluster started here gets this checkout on
    ``PYTHONPATH``; a joined cluster gets ``mp_core`` shipped as a package of the job (its machines need
    torch, PyAV and pyarrow).
    """
    if not tasks:
        return
    import ray

    started = False
    if not ray.is_initialized():
        package = Path(__file__).resolve().parents[1]  # mp_core/
        if address:  # the cluster's machines get this mp_core as a package of the job
            shipped = {"py_modules": [str(package)]}
            ray.init(address=address, logging_level=logging.WARNING, runtime_env=shipped)
        else:  # a local cluster's workers import mp_core from this checkout, whatever their working folder
            path = os.pathsep.join(p for p in (str(package.parent), os.environ.get("PYTHONPATH")) if p)
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                logging_level=logging.WARNING,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
            )
        started = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # the caller shows progress; keep Ray's log short
    try:
        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 1))
        size = max(1, min(workers or cpus, cpus, len(tasks)))
        gpus = float(resources.get("GPU", 0))
        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False  # the caller shows its own
        items = [
            {"key": t.key, "label": t.label, "split": t.split, "spec_indices": list(t.spec_indices)}
            for t in tasks
        ]
        results = ray.data.from_items(items, override_num_blocks=min(len(items), 8 * size)).map_batches(
            _ReportActor,
            fn_constructor_kwargs={"context": context, "use_gpu": gpus > 0},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=1,
            num_gpus=min(1.0, gpus / size) if gpus else None,
            batch_format="numpy",
        )
        batches = results.iter_batches(batch_size=None, batch_format="pyarrow")
        try:
            for table in batches:
                yield table.to_pylist()
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
    finally:
        if started:
            ray.shutdown()


ENGINES = ("local", "ray")
