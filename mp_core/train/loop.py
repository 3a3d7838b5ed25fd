"""The training loop: CE + λR on decoded clips, one or several processes, a checkpoint and metrics per epoch.

Several processes (``torchrun``) train like one: every epoch draws one seeded permutation of the training
clips, cuts it into global batches, and process r takes clips r, r + N, r + 2N, ... of each batch. Each
process scales its loss so that DistributedDataParallel's gradient average is the gradient of the global
batch's loss; the backbones use no batch statistics. Process 0 writes; every epoch is kept atomically, so a
killed run resumes from its last epoch (``resume=True``).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from mp_core.errors import DatasetError, InputError, ParameterError
from mp_core.files import atomic_target
from mp_core.params import DEFAULT_PRESET, MotionParams
from mp_core.train.data import ClipTensors, decode_clips, split_indices, to_model_input
from mp_core.train.models import PromptedClassifier, build_backbone, check_fits

__all__ = [
    "METRIC_COLUMNS",
    "ResumeError",
    "TrainSettings",
    "batch_loss",
    "epoch_permutation",
    "lambda_folder",
    "read_metrics",
    "remove_stale_temporaries",
    "train",
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
_RESUME_KEYS = ("frames", "side", "batch", "lr", "prompt_lr", "seed", "init", "model", "weights", "val_share")


#: The names :func:`mp_core.files.atomic_target` writes to before its rename.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


class ResumeError(InputError):
    """A checkpoint cannot be resumed with these settings (they differ from the run that wrote it)."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training command is given (see ``python -m mp_core.train --help``)."""

    dataset: str
    out: str
    penalty_weights: tuple[float, ...] = (0.0,)
    epochs: int = 20
    frames: int = 8
    side: int = 64
    batch: int = 8
    lr: float = 3e-3
    prompt_lr: float = 0.005
    seed: int = 0
    init: str = DEFAULT_PRESET  #: the app's default values: a motion-selective start
    model: str = "tiny"
    weights: str | None = None
    resume: bool = False
    device: str | None = None
    val_share: float = 0.2
    roots: tuple[str, ...] | None = None  #: read only files inside these folders (None: anywhere)
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self, world: int) -> None:
        if self.epochs < 1 or self.batch < 1 or self.frames < 3 or self.side < 8:
            raise ParameterError(
                f"need epochs >= 1, batch >= 1, frames >= 3 (R needs two attention maps), side >= 8; got "
                f"epochs={self.epochs}, batch={self.batch}, frames={self.frames}, side={self.side}"
            )
        if not self.penalty_weights or any(not math.isfinite(w) or w < 0 for w in self.penalty_weights):
            raise ParameterError(f"λ values must be finite and >= 0, got {list(self.penalty_weights)}")
        if self.batch % world:
            raise ParameterError(
                f"--batch {self.batch} is the global batch: it must divide by {world} processes"
            )


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


def _write_metrics(folder: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_target(folder / "metrics.parquet") as temporary:
        pq.write_table(pa.Table.from_pylist(rows), temporary)


def _write_status(folder: Path, status: dict[str, Any]) -> None:
    """``status.json``: where the run is, for a page polling it (tiny, rewritten atomically)."""
    with atomic_target(folder / "status.json") as temporary:
        temporary.write_text(json.dumps(status), encoding="utf-8")


@dataclass
class _Process:
    rank: int
    world: int
    device: torch.device

    @property
    def writer(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: Tensor) -> Tensor:
        if self.world > 1:
            dist.all_reduce(values)
        return values

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


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


def _start_processes(device_name: str | None) -> _Process:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() if device_name is None else device_name.startswith("cuda")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(device_name if device_name and ":" in device_name else f"cuda:{local}")
    else:
        device = torch.device(device_name or "cpu")
    return _Process(rank, world, device)


def _clip_cache(
    settings: TrainSettings, process: _Process, progress: Callable[[int, int], None]
) -> ClipTensors:
    """Decoded clips: from ``out/clips-<T>f-<side>px.pt`` when it lists the same clips, else decoded once.

    Process 0 decodes and writes the file; the others read it.
    """
    from mp_core.datasets import open_dataset

    path = Path(settings.out) / f"clips-{settings.frames}f-{settings.side}px.pt"
    listed = {s.key for s in open_dataset(settings.dataset, settings.roots).samples}
    if process.writer:
        cached = ClipTensors.load(path) if path.is_file() else None
        fresh = (
            cached is not None
            and set(cached.keys) <= listed
            and listed <= set(cached.keys) | {s.split(":")[0] for s in cached.skipped}
        )
        if not fresh:
            cached = decode_clips(settings.dataset, settings.frames, settings.side, progress, settings.roots)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_target(path) as temporary:
                cached.save(temporary)
    process.barrier()
    return cached if process.writer else ClipTensors.load(path)  # type: ignore[return-value]


def _settings_record(settings: TrainSettings, weight: float) -> dict[str, Any]:
    record = asdict(settings)
    record["penalty_weights"] = list(settings.penalty_weights)
    record["lambda"] = weight
    return record


def _load_resume(
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
    wanted = _settings_record(settings, weight)
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


def _save_checkpoint(
    folder: Path,
    model: PromptedClassifier,
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


def _build(
    settings: TrainSettings, classes: Sequence[str], sample: Tensor, device: torch.device
) -> PromptedClassifier:
    from mp_core.specs import parse_params_spec

    init = parse_params_spec(settings.init).params
    if init.m == 0.0:  # |tanh m| has no gradient at m = 0: the slope would never move
        raise ParameterError(
            f"--init {settings.init}: m = 0 (slope 50) is a fixed point of |tanh m|; use m != 0"
        )
    torch.manual_seed(settings.seed)
    model = PromptedClassifier(build_backbone(settings.model, len(classes), settings.weights))
    with torch.no_grad():
        model.vmps.m.fill_(init.m)
        model.vmps.n.fill_(init.n)
    model = model.to(device)  # before the check: its sample is already on ``device``
    check_fits(model, sample, len(classes), settings.model)
    return model


def _evaluate(model: nn.Module, data: ClipTensors, indices: Tensor, batch: int, process: _Process) -> Tensor:
    """Correct predictions and count on this process's share of ``indices``: ``[correct, count]``."""
    mine = indices[process.rank :: process.world]
    correct = torch.zeros(2, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(mine), batch):
            chunk = mine[start : start + batch]
            logits, _ = model(to_model_input(data.clips[chunk]).to(process.device))
            correct[0] += (logits.argmax(1).cpu() == data.labels[chunk]).sum().item()
            correct[1] += len(chunk)
    model.train()
    return process.all_sum(correct)


def epoch_permutation(count: int, seed: int, epoch: int) -> Tensor:
    """The order of the training clips in ``epoch``: the same in every process and after a resume.

    Example:
        >>> torch.equal(epoch_permutation(10, 0, 3), epoch_permutation(10, 0, 3))
        True
    """
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def batch_loss(
    network: nn.Module, video: Tensor, labels: Tensor, weight: float, batch: int, world: int = 1
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The paper's loss on one process's share of a global batch of ``batch`` clips.

    Returns ``(logits, R, task_sum, loss)``: R is the share's unweighted variation, ``task_sum`` its summed
    cross-entropy, and ``loss = world * (task_sum / batch + weight * R * share / batch)`` with
    ``share = len(labels)``: summed over the processes and divided by ``world`` (DistributedDataParallel
    averages gradients) this is CE + λR of the whole batch. One process, full batch: ``mean CE + λR``.
    """
    logits, variation = network(video)
    task_sum = F.cross_entropy(logits, labels, reduction="sum")
    share = len(labels) / batch
    return logits, variation, task_sum, (task_sum / batch + weight * variation * share) * world


def _train_one(
    settings: TrainSettings,
    weight: float,
    folder: Path,
    data: ClipTensors,
    split: tuple[Tensor, Tensor],
    process: _Process,
) -> list[dict[str, Any]]:
    from tqdm import tqdm

    train_idx, val_idx = split
    batch = settings.batch
    batches = len(train_idx) // batch  # full global batches only: the same batches for any process count
    if batches == 0:
        raise DatasetError(f"the training split has {len(train_idx)} clips, fewer than --batch {batch}")
    model = _build(settings, data.classes, to_model_input(data.clips[:1]).to(process.device), process.device)
    optimizer = torch.optim.Adam(
        [
            {"params": model.backbone.parameters(), "lr": settings.lr},
            # m, n are two scalars shared by every pixel: they need (and take) a larger step than weights
            {"params": model.vmps.parameters(), "lr": settings.prompt_lr},
        ]
    )
    start, rows = _load_resume(folder, settings, weight, data.classes, model, optimizer)
    record = _settings_record(settings, weight)
    network: nn.Module = model
    if process.world > 1:
        ids = [process.device.index] if process.device.type == "cuda" else None
        network = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    bar = tqdm(
        total=(settings.epochs - start) * batches,
        desc=f"λ={weight:g}",
        unit="batch",
        disable=not process.writer,
        leave=True,
    )
    for epoch in range(start + 1, settings.epochs + 1):
        began = time.perf_counter()
        order = train_idx[epoch_permutation(len(train_idx), settings.seed, epoch)]
        sums = torch.zeros(4, dtype=torch.float64)  # task loss, R, correct, batches of R
        for step in range(batches):
            mine = order[step * batch : (step + 1) * batch][process.rank :: process.world]
            video = to_model_input(data.clips[mine]).to(process.device)
            labels = data.labels[mine].to(process.device)
            logits, variation, task_sum, loss = batch_loss(
                network, video, labels, weight, batch, process.world
            )
            share = len(mine) / batch
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.tensor(
                [
                    task_sum.item() / batch,
                    variation.item() * share,
                    (logits.argmax(1) == labels).sum().item(),
                    0,
                ]
            )
            bar.update(1)
            if process.writer:
                _write_status(
                    folder,
                    {
                        "state": "training",
                        "lambda": weight,
                        "epoch": epoch,
                        "epochs": settings.epochs,
                        "step": step + 1,
                        "steps": batches,
                    },
                )
        sums = process.all_sum(sums)
        val = _evaluate(model, data, val_idx, batch, process)
        params = model.vmps.params
        task, variation_mean = sums[0].item() / batches, sums[1].item() / batches
        row = {
            "epoch": epoch,
            "loss": task + weight * variation_mean,
            "task_loss": task,
            "R": variation_mean,
            "m": params.m,
            "n": params.n,
            "slope": params.slope,
            "shift": params.shift,
            "train_accuracy": sums[2].item() / (batches * batch),
            "val_accuracy": val[0].item() / max(val[1].item(), 1.0),
            "seconds": time.perf_counter() - began,
            "lambda": weight,
        }
        rows.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{row['val_accuracy']:.0%}", m=f"{params.m:.3f}")
        if process.writer:
            _save_checkpoint(folder, model, optimizer, epoch, record, data.classes)
            _write_metrics(folder, rows)
    bar.close()
    if process.writer:
        _write_status(
            folder, {"state": "done", "lambda": weight, "epoch": settings.epochs, "epochs": settings.epochs}
        )
    return rows


def train(settings: TrainSettings) -> dict[float, list[dict[str, Any]]]:
    """Train one model per λ of ``settings.penalty_weights``; returns each λ's metric rows.

    Writes, per λ (``out`` itself for one λ, ``out/lambda-<λ>`` for several): ``checkpoint.pyth`` (after
    every epoch), ``metrics.parquet`` (one row per epoch, :data:`METRIC_COLUMNS`) and ``status.json``; and
    ``out/clips-<T>f-<side>px.pt``, the decoded clips, which a later run with the same sampling reuses.

    Raises:
        InputError: a dataset, model, setting or checkpoint that cannot be used (the message says why).
    """
    process = _start_processes(settings.device)
    settings.check(process.world)
    out = Path(settings.out)
    if process.writer:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out)

    def decoding(done: int, total: int) -> None:
        _write_status(out, {"state": "decoding", "done": done, "total": total})

    data = _clip_cache(settings, process, decoding)
    if process.writer and data.skipped:
        listing = "\n  ".join(data.skipped[:20]) + ("\n  …" if len(data.skipped) > 20 else "")
        print(f"skipped {len(data.skipped)} listed clip(s) or line(s):\n  {listing}", file=sys.stderr)
    if process.writer:
        _write_status(out, {"state": "training", "clips": len(data.labels)})
    split = split_indices(data.labels, data.splits, settings.seed, settings.val_share)
    sweep = len(settings.penalty_weights) > 1
    results = {}
    for weight in settings.penalty_weights:
        folder = lambda_folder(out, weight, sweep)
        if process.writer:
            folder.mkdir(parents=True, exist_ok=True)
        results[weight] = _train_one(settings, weight, folder, data, split, process)
    if process.writer and sweep:
        _write_status(out, {"state": "done"})
    return results


def final_params(rows: Sequence[dict[str, Any]]) -> MotionParams:
    """The (m, n) of a run's last epoch."""
    return MotionParams(rows[-1]["m"], rows[-1]["n"])
