"""What a training run writes and reads back: metrics, status, checkpoints, and resuming from them.

Every file is replaced atomically (:func:`mp_core.files.atomic_target`), so a killed run leaves the last
finished epoch whole and ``--resume`` goes on from it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mp_core.errors import InputError
from mp_core.files import atomic_target

if TYPE_CHECKING:
    from mp_core.train.loop import TrainSettings

__all__ = [
    "METRIC_COLUMNS",
    "ResumeError",
    "lambda_folder",
    "load_resume",
    "read_metrics",
    "remove_stale_temporaries",
    "save_checkpoint",
    "settings_record",
    "write_metrics",
    "write_status",
]

#: One row per epoch in ``metrics.parquet``.
METRIC_COLUMNS = (
    "epoch",
    "loss",
    "task_loss",
    "R",
    "m",
    "n",
    "slope",
    "shift",
    "train_accuracy",
    "val_accuracy",
    "seconds",
    "lambda",
)
#: Settings that change what an epoch computes: a checkpoint resumes only under the same values.
_RESUME_KEYS = (
    "frames",
    "side",
    "batch",
    "lr",
    "prompt_lr",
    "seed",
    "init",
    "model",
    "weights",
    "val_share",
    "prompts",
    "flip",
)


#: The names :func:`mp_core.files.atomic_target` writes to before its rename.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


class ResumeError(InputError):
    """A checkpoint cannot be resumed with these settings (they differ from the run that wrote it)."""


def lambda_folder(out: str | os.PathLike, weight: float, sweep: bool) -> Path:
    """``out`` for one λ, ``out/lambda-<λ>`` in a sweep.

    Example:
        >>> lambda_folder("runs", 0.5, sweep=True).as_posix(), lambda_folder("runs", 1.0, sweep=False).name
        ('runs/lambda-0.5', 'runs')
    """
    return Path(out) / f"lambda-{weight:g}" if sweep else Path(out)


def read_metrics(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of ``folder/metrics.parquet`` (empty when there is none yet)."""
    import pyarrow.parquet as pq

    path = Path(folder) / "metrics.parquet"
    return pq.read_table(path).to_pylist() if path.is_file() else []


def write_metrics(folder: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_target(folder / "metrics.parquet") as temporary:
        pq.write_table(pa.Table.from_pylist(rows), temporary)


def write_status(folder: Path, status: dict[str, Any]) -> None:
    """``status.json``: where the run is, for a page polling it (tiny, rewritten atomically)."""
    with atomic_target(folder / "status.json") as temporary:
        temporary.write_text(json.dumps(status), encoding="utf-8")


def remove_stale_temporaries(out: str | os.PathLike) -> list[Path]:
    """Remove the half-written files (``atomic_target``'s ``.<name>.<hex>.tmp``) of killed runs.

    A run killed with SIGKILL (or a crash) cannot clean up; the next run in ``out`` does, in ``out`` and
    its ``lambda-*`` folders. Returns the removed paths. Two runs must not share ``out`` (the Learn page
    starts one at a time).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / f".checkpoint.pyth.{'a1' * 16}.tmp").write_bytes(b"half")
        >>> _ = (folder / ".notes.tmp").write_text("not ours")
        >>> [p.name for p in remove_stale_temporaries(folder)], sorted(p.name for p in folder.iterdir())
        (['.checkpoint.pyth.a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1.tmp'], ['.notes.tmp'])
    """
    removed = []
    for folder in (Path(out), *sorted(Path(out).glob("lambda-*"))):
        for path in folder.glob(".*.tmp"):
            if _TEMPORARY.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def settings_record(settings: TrainSettings, weight: float) -> dict[str, Any]:
    record = asdict(settings)
    record["penalty_weights"] = list(settings.penalty_weights)
    record["lambda"] = weight
    return record


def load_resume(
    folder: Path,
    settings: TrainSettings,
    weight: float,
    classes: Sequence[str],
    model: nn.Module,
    optimizer: Any,
) -> tuple[int, list[dict[str, Any]]]:
    path = folder / "checkpoint.pyth"
    if not (settings.resume and path.is_file()):
        return 0, []
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = saved.get("cfg", {})
    wanted = settings_record(settings, weight)
    differ = [k for k in (*_RESUME_KEYS, "lambda") if cfg.get(k) != wanted[k]]
    if list(saved.get("classes", [])) != list(classes):
        differ.append("classes")
    if differ:
        listing = ", ".join(f"{k}: {cfg.get(k)!r} then, {wanted.get(k, '…')!r} now" for k in differ)
        raise ResumeError(f"{path}: cannot resume, the run differs ({listing}); use another --out")
    model.load_state_dict(saved["model_state"])
    optimizer.load_state_dict(saved["optimizer_state"])
    epoch = int(saved["epoch"])
    return epoch, [row for row in read_metrics(folder) if row["epoch"] <= epoch]


def save_checkpoint(
    folder: Path,
    model: nn.Module,
    optimizer: Any,
    epoch: int,
    record: dict[str, Any],
    classes: Sequence[str],
) -> None:
    state = {
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "epoch": epoch,
        "cfg": record,
        "classes": list(classes),
    }
    with atomic_target(folder / "checkpoint.pyth") as temporary:
        torch.save(state, temporary)
