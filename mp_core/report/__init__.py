"""Dataset reports: statistics of the motion prompts of every sample under one or more parameter sets.

One row per (sample, parameter set), in Parquet (see :data:`REPORT_COLUMNS`). The frames of a row are those
of :func:`~mp_core.video_io.read_clip_uniform` with the same ``frames`` and ``max_side``, so a row and the
app agree on a sample. Runs resume: a row is identified by ``(path, params, frames, max_side)``
(:data:`~mp_core.report.store.KEY_COLUMNS`) and only missing rows are computed; the rows already there are
never rewritten. Command line: ``python -m mp_core.report --help``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mp_core.datasets import DatasetProblem, open_dataset
from mp_core.errors import DatasetError, ParameterError
from mp_core.report.engines import ENGINES, local_rows, ray_rows
from mp_core.report.rows import MOVING_THRESHOLD, ReportContext, SampleTask
from mp_core.report.store import (
    KEY_COLUMNS,
    REPORT_COLUMNS,
    REPORT_SCHEMA,
    PartWriter,
    ReportError,
    merge_parts,
    read_report,
    report_dataset,
    report_lock,
)
from mp_core.specs import ParamSpec, default_spec, parse_params_spec

__all__ = [
    "ENGINES",
    "KEY_COLUMNS",
    "MOVING_THRESHOLD",
    "REPORT_COLUMNS",
    "REPORT_SCHEMA",
    "ReportError",
    "ReportSummary",
    "read_report",
    "report_dataset",
    "run_report",
]


@dataclass(frozen=True)
class ReportSummary:
    """What a run did. ``rows_total`` counts the rows the run was asked for (samples x parameter sets)."""

    path: Path
    rows_total: int
    rows_computed: int  #: computed by this run (error rows included)
    rows_reused: int  #: already in the report
    errors: int  #: rows of this run whose sample could not be read
    cancelled: bool  #: stopped by ``should_stop``: the rows so far are kept, a new run resumes
    seconds: float
    engine: str = "local"
    problems: tuple[DatasetProblem, ...] = ()  #: what the dataset listing skipped (no row for those)

    def __str__(self) -> str:
        state = "cancelled (run again to resume)" if self.cancelled else "done"
        return (
            f"{self.path}: {state}: {self.rows_computed} rows computed, {self.rows_reused} reused, "
            f"{self.errors} errors, {self.rows_total} rows asked for, {self.seconds:.1f} s ({self.engine})"
        )


def _specs(params: Sequence[str | ParamSpec]) -> tuple[ParamSpec, ...]:
    if isinstance(params, (str, ParamSpec)):
        params = [params]
    parsed = [p if isinstance(p, ParamSpec) else parse_params_spec(p) for p in params] or [default_spec()]
    unique: dict[str, ParamSpec] = {}
    for spec in parsed:
        unique.setdefault(spec.text, spec)
    return tuple(unique.values())


def _check_resume(table, specs: tuple[ParamSpec, ...], root: str) -> None:
    dataset = report_dataset(table)
    if dataset is not None and dataset != root:
        raise ReportError(f"the report was made from {dataset}, not {root}: write this one to another file")
    by_text = {spec.text: spec.params for spec in specs}
    rows = table.select(["params", "m", "n"]).to_pylist()
    for row in rows:
        params = by_text.get(row["params"])
        if params is not None and (params.m, params.n) != (row["m"], row["n"]):
            raise ReportError(
                f"--params {row['params']!r} now reads m={params.m:g}, n={params.n:g}, but the report has "
                f"m={row['m']:g}, n={row['n']:g} under that name: write this one to another file"
            )


def run_report(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    params: Sequence[str | ParamSpec] = (),
    *,
    frames: int = 16,
    max_side: int | None = 224,
    split: str | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReportSummary:
    """Compute the rows a report lacks for ``dataset`` x ``params`` and merge them into ``out``.

    Resuming: rows are keyed by ``(path, params, frames, max_side)`` where ``params`` is the SPEC text; a
    row with that key already in ``out`` (merged or in a part of an interrupted run) is reused and left as
    it is, so a changed ``frames`` or ``max_side`` computes new rows beside the old ones. Reusing a SPEC
    text that now reads other values (an overwritten checkpoint) is refused, as is resuming a report made
    from another dataset.

    Args:
        dataset: any form :func:`~mp_core.datasets.open_dataset` reads.
        out: the report's Parquet file (its folder is created).
        params: SPEC strings (preset name, ``m=…,n=…``, checkpoint or JSON path) or parsed
            :class:`~mp_core.specs.ParamSpec`; none means the app's default preset. Repeats are dropped.
        frames: frames per sample (>= 2), evenly spaced over the clip.
        max_side: shrink frames so their longer side is at most this (None: full size).
        split: only samples of this split (see :attr:`VideoDataset.splits`).
        engine: ``"local"`` (process pool) or ``"ray"`` (Ray Data).
        workers: processes (local) or CPUs of a local Ray (default: ``os.cpu_count()``).
        ray_address: a Ray cluster to join (engine ``"ray"``).
        progress: called in this process as ``progress(rows done, rows total)``, reused rows counted done.
        should_stop: polled several times a second; True stops the run, keeping what was computed.

    Returns:
        A :class:`ReportSummary`.

    Raises:
        InputError: a bad argument (``ParameterError``), dataset (``DatasetError``) or report
            (``ReportError``).

    Example:
        >>> import tempfile
        >>> from mp_core.synthetic import make_demo_dataset
        >>> folder = Path(tempfile.mkdtemp())
        >>> demo = make_demo_dataset(folder / "demo", clips_per_class=1)
        >>> summary = run_report(demo, folder / "report.parquet", ["FineGym", "m=0.2,n=0"], workers=1)
        >>> summary.rows_computed, summary.errors
        (10, 0)
        >>> again = run_report(demo, folder / "report.parquet", ["FineGym", "m=0.2,n=0"], workers=1)
        >>> again.rows_computed, again.rows_reused
        (0, 10)
        >>> table = read_report(folder / "report.parquet")
        >>> table.num_rows, table.column_names[:4]
        (10, ['path', 'label', 'split', 'params'])
    """
    started = time.monotonic()
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ParameterError(f"frames must be an integer >= 2 (a difference needs 2 frames), got {frames!r}")
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 2):
        raise ParameterError(f"max_side must be an integer >= 2 or None, got {max_side!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"workers must be an integer >= 1, got {workers!r}")
    specs = _specs(params)
    listing = open_dataset(dataset)
    if not listing.samples:
        found = "; ".join(map(str, listing.problems[:3])) or "nothing listed"
        raise DatasetError(f"{listing.root}: no samples to report on ({found})")
    samples = list(listing)
    if split is not None:
        samples = [s for s in samples if s.split == split]
        if not samples:
            known = ", ".join(f"{name} ({count})" for name, count in listing.splits.items()) or "none"
            raise ReportError(f"no samples in split {split!r}; the dataset's splits: {known}")
    root = str(listing.root.resolve())
    out_path = Path(out).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    context = ReportContext(root, listing.kind, specs, frames, max_side)
    with report_lock(out_path):
        done_keys: set[tuple[str, str]] = set()
        try:
            existing = read_report(out_path)
        except ReportError:
            if out_path.exists():
                raise
            existing = None
        if existing is not None:
            _check_resume(existing, specs, root)
            keyed = existing.select(list(KEY_COLUMNS)).to_pylist()
            done_keys = {
                (r["path"], r["params"]) for r in keyed if (r["frames"], r["max_side"]) == (frames, max_side)
            }
        tasks = []
        for sample in samples:
            missing = tuple(i for i, s in enumerate(specs) if (sample.key, s.text) not in done_keys)
            if missing:
                tasks.append(SampleTask(sample.key, sample.label, sample.split, missing))
        total = len(samples) * len(specs)
        reused = total - sum(len(t.spec_indices) for t in tasks)
        computed = errors = 0
        cancelled = bool(should_stop and should_stop())
        if progress is not None:
            progress(reused, total)
        writer = PartWriter(out_path, root)
        rows: Iterator[list[dict]] = iter(())
        if not cancelled:
            workers_asked = workers or os.cpu_count() or 1
            if engine == "local":
                rows = local_rows(context, tasks, workers_asked)
            else:
                rows = ray_rows(context, tasks, workers, address=ray_address)
        try:
            for batch in rows:
                writer.add(batch)
                computed += len(batch)
                errors += sum(row["error"] is not None for row in batch)
                if batch and progress is not None:
                    progress(reused + computed, total)
                if should_stop is not None and should_stop():
                    cancelled = True
                    break
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
            writer.flush()
        if not cancelled:
            merge_parts(out_path, root)
    return ReportSummary(
        path=out_path,
        rows_total=total,
        rows_computed=computed,
        rows_reused=reused,
        errors=errors,
        cancelled=cancelled,
        seconds=time.monotonic() - started,
        engine=engine,
        problems=listing.problems,
    )
