"""Where a report lives on disk: one Parquet file plus, while a run goes on, atomically written parts.

``REPORT.parquet`` holds the merged rows. A run appends ``REPORT.parquet.parts/part-<run>-<n>.parquet``
files, each written under a temporary name and renamed, so a killed run leaves only whole parts; a run that
finishes merges everything into ``REPORT.parquet`` (again through a rename) and removes the parts it merged.
:func:`read_report` reads the file and any parts, so an interrupted report is readable as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mp_core.errors import InputError
from mp_core.files import atomic_target

__all__ = [
    "KEY_COLUMNS",
    "REPORT_COLUMNS",
    "REPORT_SCHEMA",
    "PartWriter",
    "ReportError",
    "merge_parts",
    "parts_folder",
    "read_report",
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
    except pa.ArrowInvalid as err:
        raise ReportError(f"{path.name}: not a readable Parquet file ({err})") from err


def _read_pieces(out: Path) -> tuple[list[pa.Table], list[Path]]:
    tables = [_read_table(out)] if out.is_file() else []
    folder = parts_folder(out)
    parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
    tables += [_read_table(part) for part in parts]
    return tables, parts


def _unique(table: pa.Table) -> pa.Table:
    """First row of each key (the merged file, then parts in order: an old row is never replaced)."""
    seen: set[tuple[Any, ...]] = set()
    keep = []
    columns = [table.column(name).to_pylist() for name in KEY_COLUMNS]
    for index, key in enumerate(zip(*columns, strict=True)):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    return table if len(keep) == table.num_rows else table.take(keep)


def _read_with_parts(out: Path) -> tuple[pa.Table | None, list[Path]]:
    for attempt in range(3):
        try:
            tables, parts = _read_pieces(out)
            break
        except FileNotFoundError:  # a finishing run merged and removed a part between listing and reading
            if attempt == 2:
                raise
            time.sleep(0.05)
    if not tables:
        return None, []
    metadata = tables[0].schema.metadata
    merged = pa.concat_tables([t.replace_schema_metadata(metadata) for t in tables])
    return _unique(merged), parts


def read_report(path: str | os.PathLike) -> pa.Table:
    """The rows of a report, including the parts of a run that is going on or was interrupted.

    Args:
        path: the report's Parquet file (its ``.parts`` folder is read too).

    Returns:
        A :class:`pyarrow.Table` with the columns :data:`REPORT_COLUMNS`, scalar types only (pandas, polars
        and DuckDB read it as is); one row per (path, params, frames, max_side).

    Raises:
        ReportError: no report there, or a file that is not one.
    """
    out = Path(path).expanduser()
    table, _ = _read_with_parts(out)
    if table is None:
        raise ReportError(f"{out}: no report there (neither the file nor its parts)")
    return table


def merge_parts(out: Path, dataset: str) -> pa.Table | None:
    """Fold the parts into ``out`` (atomically) and remove them; returns the merged table."""
    table, parts = _read_with_parts(out)
    if table is None or not parts:
        return table
    if report_dataset(table) is None:
        table = table.replace_schema_metadata(_metadata(dataset))
    _write_atomically(table, out)
    for part in parts:
        part.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: leftovers of someone else's run; keep them
        parts_folder(out).rmdir()
    return table


@contextlib.contextmanager
def report_lock(out: Path) -> Iterator[None]:
    """Hold ``REPORT.parquet.lock`` for the run: two runs never write one report at once.

    An advisory ``flock``: released by the system when the process ends, even when it is killed.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with open(out.with_name(out.name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise ReportError(f"{out.name}: another run is writing this report; wait for it to end") from err
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
