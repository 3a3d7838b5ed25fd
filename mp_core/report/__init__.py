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

import pyarrow as pa
import pyarrow.compute as pc

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
    key_table,
    merge_parts,
    read_report,
    read_report_pieces,
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
    "read_report_pieces",
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
    retried: int = 0  #: error rows of earlier runs computed again (``retry_errors``)
    problems: tuple[DatasetProblem, ...] = ()  #: what the dataset listing skipped (no row for those)

    def __str__(self) -> str:
        state = "cancelled (run again to resume)" if self.cancelled else "done"
        retried = f" ({self.retried} retried)" if self.retried else ""
        return (
            f"{self.path}: {state}: {self.rows_computed} rows computed{retried}, {self.rows_reused} reused, "
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


def _check_resume(table: pa.Table, specs: tuple[ParamSpec, ...], root: str) -> None:
    dataset = report_dataset(table)
    if dataset is not None and dataset != root:
        raise ReportError(f"the report was made from {dataset}, not {root}: write this one to another file")
    by_text = {spec.text: spec.params for spec in specs}
    asked = table.filter(pc.is_in(table.column("params"), pa.array(list(by_text), pa.string())))
    values = asked.group_by(["params", "m", "n"], use_threads=False).aggregate([])
    for row in values.to_pylist():  # one row per set and values: a few
        params = by_text[row["params"]]
        if (params.m, params.n) != (row["m"], row["n"]):
            raise ReportError(
                f"--params {row['params']!r} now reads m={params.m:g}, n={params.n:g}, but the report has "
                f"m={row['m']:g}, n={row['n']:g} under that name: write this one to another file"
            )


def _missing(
    keys: list[str], specs: tuple[ParamSpec, ...], existing: pa.Table | None, sampling: tuple[int, int | None]
) -> tuple[pa.Table, pa.Table]:
    """The (path, params) pairs of ``keys`` x ``specs`` with no row at this sampling, in listing order, and
    those whose row is an error (a sample that could not be read): ``(missing, failed)``, column-wise.
    """
    texts = [spec.text for spec in specs]
    wanted = pa.table(
        {
            "path": pa.array([key for key in keys for _ in texts], pa.string()),
            "params": pa.array(texts * len(keys), pa.string()),
            "order": pa.array(range(len(keys) * len(texts)), pa.int64()),
        }
    )
    if existing is None:
        return wanted, wanted.slice(0, 0)
    frames, max_side = sampling
    rows = key_table(existing).append_column("failed", pc.is_valid(existing.column("error")))
    same = pc.and_(pc.equal(rows.column("frames"), frames), pc.equal(rows.column("max_side"), max_side or -1))
    rows = rows.filter(same)
    pairs = ["path", "params"]
    missing = wanted.join(rows.select(pairs), pairs, join_type="left anti").sort_by("order")
    failed = wanted.join(rows.filter(rows.column("failed")).select(pairs), pairs, join_type="left semi")
    return missing, failed.sort_by("order")


def _tasks(samples: list, specs: tuple[ParamSpec, ...], missing: pa.Table) -> list[SampleTask]:
    """One task per sample with rows missing, in listing order, naming the missing sets."""
    index = {spec.text: i for i, spec in enumerate(specs)}
    by_key: dict[str, list[int]] = {}
    for key, text in zip(
        missing.column("path").to_pylist(), missing.column("params").to_pylist(), strict=True
    ):
        by_key.setdefault(key, []).append(index[text])
    return [SampleTask(s.key, s.label, s.split, tuple(by_key[s.key])) for s in samples if s.key in by_key]


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
    roots: Sequence[str | os.PathLike] | None = None,
    retry_errors: bool = False,
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
        roots: read only files inside these folders (``..`` and symlinks followed; see
            :func:`~mp_core.datasets.open_dataset`): samples outside get no row and are named in
            ``problems``. None: no check (the command line's own files).
        retry_errors: compute again the rows kept with an ``error`` (a clip that could not be read);
            without it they count as done. A retried row replaces the old one.
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
    listing = open_dataset(dataset, roots)
    if not listing.samples:
        found = "; ".join(map(str, listing.problems[:3])) or "nothing listed"
        raise DatasetError(f"{listing.root}: no samples to report on ({found})")
    samples = list(listing)
    if split is not None:
        samples = [s for s in samples if s.split == split]
        if not samples:
            known = ", ".join(f"{name} ({count})" for name, count in listing.splits.items()) or "none"
            raise ReportError(f"no samples in split {split!r}; the dataset's splits: {known}")
    samples = list({s.key: s for s in reversed(samples)}.values())[::-1]  # a clip listed twice: one row
    root = str(listing.root.resolve())
    out_path = Path(out).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    context = ReportContext(root, listing.kind, specs, frames, max_side, listing.roots)
    with report_lock(out_path):
        existing = read_report_pieces(out_path).table
        if existing is not None:
            _check_resume(existing, specs, root)
        missing, failed = _missing([s.key for s in samples], specs, existing, (frames, max_side))
        retried = failed.num_rows if retry_errors else 0
        if retried:  # error rows are kept as done unless asked: then they are computed again
            missing = pa.concat_tables([missing, failed]).sort_by("order")
        tasks = _tasks(samples, specs, missing)
        total = len(samples) * len(specs)
        reused = total - missing.num_rows
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
        retried=retried,
        cancelled=cancelled,
        seconds=time.monotonic() - started,
        engine=engine,
        problems=listing.problems,
    )
