"""Where a report lives on disk: one Parquet file plus, while a run goes on, atomically written parts.

``REPORT.parquet`` holds the merged rows. A run appends ``REPORT.parquet.parts/part-<run>-<n>.parquet``
files, each written under a temporary name and renamed, so a killed run leaves only whole parts (and maybe a
hidden temporary file, never read); a run that finishes merges everything into ``REPORT.parquet`` (again
through a rename) and removes the parts it merged and the temporary files of killed runs.
:func:`read_report` reads the file and any parts, so an interrupted report is readable as it is; a part that
cannot be read (truncated by a full disk, a copy cut short) is skipped and named, its rows computed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from mp_core.datasets import OutsideRootsError, within_roots
from mp_core.errors import InputError
from mp_core.files import atomic_target

__all__ = [
    "KEY_COLUMNS",
    "REPORT_COLUMNS",
    "REPORT_SCHEMA",
    "PartWriter",
    "ReportError",
    "ReportReading",
    "key_table",
    "merge_parts",
    "parts_folder",
    "read_report",
    "read_report_pieces",
    "report_lock",
    "row_key",
]


class ReportError(InputError):
    """A report file cannot be read or resumed (not a report, another dataset, a run already writing it)."""


REPORT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # the sample's key: its path relative to the dataset root
        ("label", pa.string()),
        ("split", pa.string()),
        ("params", pa.string()),  # the SPEC as given
        ("m", pa.float64()),
        ("n", pa.float64()),
        ("slope", pa.float64()),
        ("shift", pa.float64()),
        ("num_frames", pa.int32()),
        ("mean_attention", pa.float64()),
        ("share_above_half", pa.float64()),
        ("variation", pa.float64()),
        ("mean_abs_difference", pa.float64()),
        ("share_moving", pa.float64()),
        ("peak_pair", pa.int32()),
        ("peak_pair_attention", pa.float64()),
        ("motion_focus", pa.float64()),
        ("height", pa.int32()),
        ("width", pa.int32()),
        ("fps", pa.float64()),
        ("duration", pa.float64()),
        ("frames", pa.int32()),  # the sampling asked for: part of the row's key
        ("max_side", pa.int32()),  # likewise; null when frames were not shrunk
        ("error", pa.string()),
    ]
)
#: Column names of a report, in order.
REPORT_COLUMNS: tuple[str, ...] = tuple(REPORT_SCHEMA.names)
#: A row is identified by these: a changed sampling (frames, max_side) gives new rows, never reuses old ones.
KEY_COLUMNS: tuple[str, ...] = ("path", "params", "frames", "max_side")
_METADATA_KEY = b"mp_core.report"


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The identity of a row: ``(path, params, frames, max_side)``."""
    return tuple(row[name] for name in KEY_COLUMNS)


def parts_folder(out: Path) -> Path:
    """``REPORT.parquet`` -> ``REPORT.parquet.parts``."""
    return out.with_name(out.name + ".parts")


def _metadata(dataset: str) -> dict[bytes, bytes]:
    return {_METADATA_KEY: json.dumps({"dataset": dataset, "columns": list(REPORT_COLUMNS)}).encode()}


def report_dataset(table: pa.Table) -> str | None:
    """The dataset root a report was made from (kept in the Parquet metadata), or None if unknown."""
    raw = (table.schema.metadata or {}).get(_METADATA_KEY)
    return json.loads(raw).get("dataset") if raw else None


def _write_atomically(table: pa.Table, target: Path) -> None:
    with atomic_target(target) as temporary:
        pq.write_table(table, temporary)


def _conform(table: pa.Table, name: str) -> pa.Table:
    missing = [column for column in REPORT_COLUMNS if column not in table.column_names]
    if missing:
        raise ReportError(f"{name} is not a dataset report: no column {', '.join(missing)}")
    try:
        return table.select(list(REPORT_COLUMNS)).cast(REPORT_SCHEMA.with_metadata(table.schema.metadata))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ReportError(f"{name}: columns of unexpected types ({err})") from err


def _read_table(path: Path) -> pa.Table:
    try:
        return _conform(pq.read_table(path), path.name)
    except (pa.ArrowInvalid, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ReportError(f"{path.name}: not a readable Parquet file ({err})") from err


class ReportReading(NamedTuple):
    """A report as read: its rows (None when there are none), the parts read, and the parts skipped."""

    table: pa.Table | None
    parts: list[Path]
    damaged: list[str]  #: "part: why" for each part that could not be read


def _read_pieces(out: Path, roots: Sequence[Path] | None) -> ReportReading:
    if roots is not None and within_roots(out, roots) is None:
        raise OutsideRootsError(f"{out}: outside the dataset roots: refused")
    tables = [_read_table(out)] if out.is_file() else []
    folder = parts_folder(out)
    parts, damaged = [], []
    for part in sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []:
        if roots is not None and within_roots(part, roots) is None:  # a symlinked parts folder or part
            damaged.append(f"{part.name}: outside the dataset roots: refused")
            continue
        try:  # a run's own parts are whole (renamed into place); anything else is skipped, not fatal
            tables.append(_read_table(part))
        except ReportError as err:
            damaged.append(str(err))
        parts.append(part)
    metadata = tables[0].schema.metadata if tables else None
    table = pa.concat_tables([t.replace_schema_metadata(metadata) for t in tables]) if tables else None
    return ReportReading(None if table is None else _unique(table), parts, damaged)


def key_table(table: pa.Table) -> pa.Table:
    """The key columns, ``max_side``'s null (full size) as -1: joins never match null keys.

    Example:
        >>> sides = pa.array([None, 224], pa.int32())
        >>> rows = pa.table({"path": ["a", "a"], "params": ["F", "F"], "frames": [16, 16], "max_side": sides})
        >>> key_table(rows).column("max_side").to_pylist()
        [-1, 224]
    """
    columns = [table.column(name) for name in KEY_COLUMNS]
    columns[-1] = pc.fill_null(columns[-1], -1)
    return pa.table(columns, names=list(KEY_COLUMNS))


def _unique(table: pa.Table) -> pa.Table:
    """One row per key: the first row computed without error, else the last error (the newest message).

    The merged file comes first, then parts in the order they were written, so a good row is never
    replaced, and a retried row (``retry_errors``) replaces the error it was computed for.
    """
    keys = key_table(table).append_column("index", pa.array(range(table.num_rows), pa.int64()))
    failed = pc.is_valid(table.column("error"))
    good = keys.filter(pc.invert(failed)).group_by(list(KEY_COLUMNS), use_threads=False)
    good = good.aggregate([("index", "min")]).rename_columns([*KEY_COLUMNS, "index"])
    errors = keys.filter(failed).group_by(list(KEY_COLUMNS), use_threads=False)
    errors = errors.aggregate([("index", "max")]).rename_columns([*KEY_COLUMNS, "index"])
    errors = errors.join(good.select(list(KEY_COLUMNS)), list(KEY_COLUMNS), join_type="left anti")
    chosen = pa.chunked_array([*good.column("index").chunks, *errors.column("index").chunks], pa.int64())
    if len(chosen) == table.num_rows:
        return table
    return table.take(chosen.take(pc.sort_indices(chosen)))  # in the order the rows came


def read_report_pieces(path: str | os.PathLike, roots: Sequence[Path] | None = None) -> ReportReading:
    """:func:`read_report`'s rows with the parts read and the damaged parts skipped (None: no report).

    With ``roots`` (a server's dataset roots), the file and each part are read only when they resolve
    inside one of them; a part outside is skipped and named with the damaged ones.

    Raises:
        OutsideRootsError: the report file itself lies outside ``roots``.
    """
    out = Path(path).expanduser()
    for attempt in range(3):
        try:
            return _read_pieces(out, roots)
        except FileNotFoundError:  # a finishing run merged and removed a part between listing and reading
            if attempt == 2:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def read_report(path: str | os.PathLike) -> pa.Table:
    """The rows of a report, including the parts of a run that is going on or was interrupted.

    A part that cannot be read (see :func:`read_report_pieces`) is skipped: its rows count as missing.

    Args:
        path: the report's Parquet file (its ``.parts`` folder is read too).

    Returns:
        A :class:`pyarrow.Table` with the columns :data:`REPORT_COLUMNS`, scalar types only (pandas, polars
        and DuckDB read it as is); one row per (path, params, frames, max_side).

    Raises:
        ReportError: no report there, or a file that is not one.
    """
    out = Path(path).expanduser()
    table = read_report_pieces(out).table
    if table is None:
        raise ReportError(f"{out}: no report there (neither the file nor its parts)")
    return table


def merge_parts(out: Path, dataset: str) -> pa.Table | None:
    """Fold the parts into ``out`` (atomically) and remove them; returns the merged table.

    Called under :func:`report_lock`: no other run writes this report, so the hidden temporary files
    beside it and among its parts are leftovers of killed runs, removed here, as are damaged parts.
    """
    table, parts, _ = read_report_pieces(out)
    if table is not None and parts:
        if report_dataset(table) is None:
            table = table.replace_schema_metadata(_metadata(dataset))
        _write_atomically(table, out)
    for part in parts:
        part.unlink(missing_ok=True)
    folder = parts_folder(out)
    for leftover in [*out.parent.glob(f".{out.name}.*.tmp"), *folder.glob(".part-*.tmp")]:
        leftover.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: someone else's files; keep them
        folder.rmdir()
    return table


@contextlib.contextmanager
def report_lock(out: Path) -> Iterator[None]:
    """Hold ``REPORT.parquet.lock`` for the run: two runs never write one report at once.

    A :class:`filelock.FileLock` (``flock`` on POSIX, ``msvcrt`` on Windows): the system releases it when
    the process ends, even when it is killed, so a killed run never blocks the next one.
    """
    lock = FileLock(out.with_name(out.name + ".lock"), timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout as err:
        raise ReportError(f"{out.name}: another run is writing this report; wait for it to end") from err
    try:
        yield
    finally:
        lock.release()


class PartWriter:
    """Collects rows and writes them as numbered parts, every ``flush_rows`` rows or ``flush_seconds``."""

    def __init__(self, out: Path, dataset: str, *, flush_rows: int = 256, flush_seconds: float = 5.0) -> None:
        self.folder = parts_folder(out)
        self.prefix = f"part-{time.time_ns():020d}-{os.getpid()}"
        self.metadata = _metadata(dataset)
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.last_flush = time.monotonic()

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows += rows
        if len(self.rows) >= self.flush_rows or time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(self.rows, schema=REPORT_SCHEMA.with_metadata(self.metadata))
        _write_atomically(table, self.folder / f"{self.prefix}-{self.count:05d}.parquet")
        self.count += 1
        self.rows = []
