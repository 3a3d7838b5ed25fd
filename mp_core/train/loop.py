"""The training loop: CE + λR on decoded clips, one or several processes, a checkpoint and metrics per epoch.

Several processes (``torchrun``) train like one: every epoch draws one seeded permutation of the training
clips, cuts it into global batches, and process r takes clips r, r + N, r + 2N, ... of each batch. Each
process scales its loss so that DistributedDataParallel's gradient average is the gradient of the global
batch's loss; the backbones use no batch statistics. Process 0 writes; every epoch is kept atomically, so a
killed run resumes from its last epoch (``resume=True``).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from mp_core.errors import DatasetError, ParameterError
from mp_core.files import atomic_target
from mp_core.params import DEFAULT_PRESET, MotionParams
from mp_core.train import records
from mp_core.train.data import ClipTensors, decode_clips, split_indices, to_model_input
from mp_core.train.models import PromptedClassifier, build_backbone, check_fits
from mp_core.train.records import METRIC_COLUMNS, ResumeError, lambda_folder, read_metrics

__all__ = [
    "METRIC_COLUMNS",
    "ResumeError",
    "TrainSettings",
    "batch_loss",
    "cosine_factor",
    "epoch_flips",
    "epoch_permutation",
    "final_params",
    "lambda_folder",
    "read_metrics",
    "train",
]


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
    prompts: bool = True  #: False: the backbone alone on the raw later frames (the baseline)
    flip: bool = True  #: show each training clip mirrored left-right in a seeded half of the epochs
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self, world: int) -> None:
        if self.epochs < 1 or self.batch < 1 or self.frames < 3 or self.side < 8:
            raise ParameterError(
                f"need epochs >= 1, batch >= 1, frames >= 3 (R needs two attention maps), side >= 8; got "
                f"epochs={self.epochs}, batch={self.batch}, frames={self.frames}, side={self.side}"
            )
        if not self.penalty_weights or any(not math.isfinite(w) or w < 0 for w in self.penalty_weights):
            raise ParameterError(f"λ values must be finite and >= 0, got {list(self.penalty_weights)}")
        if not self.prompts and any(self.penalty_weights):
            raise ParameterError(
                f"--no-prompts trains without the layer, so λ weighs nothing: leave --lambda at 0, got "
                f"{list(self.penalty_weights)}"
            )
        if self.batch % world:
            raise ParameterError(
                f"--batch {self.batch} is the global batch: it must divide by {world} processes"
            )


@dataclass
class _Process:
    rank: int
    world: int
    device: torch.device
    owns_group: bool = False  #: this run started the process group, so it ends it

    def close(self) -> None:
        """Leave the process group together: wait for process 0's last writes, then destroy it.

        A process that exits with the group alive leaves gloo's worker threads holding tensors until the
        interpreter is torn down, where freeing them aborts (SIGABRT; pytorch/pytorch#179291). Only after
        a run that ended well: after an error the others may be inside a collective that never completes.
        """
        if self.owns_group and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

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


def _start_processes(device_name: str | None) -> _Process:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() if device_name is None else device_name.startswith("cuda")
    owns_group = world > 1 and not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(device_name if device_name and ":" in device_name else f"cuda:{local}")
    else:
        device = torch.device(device_name or "cpu")
    return _Process(rank, world, device, owns_group)


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
    backbone = build_backbone(settings.model, len(classes), settings.weights)
    model = PromptedClassifier(backbone, prompts=settings.prompts)
    if settings.prompts:
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


def epoch_flips(count: int, seed: int, epoch: int) -> Tensor:
    """Which clips ``epoch`` shows mirrored left-right: a bool per clip, the same in every process.

    Example:
        >>> flips = epoch_flips(1000, 0, 1)
        >>> flips.dtype, 400 < int(flips.sum()) < 600, torch.equal(flips, epoch_flips(1000, 0, 1))
        (torch.bool, True, True)
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch + 500_000)
    return torch.rand(count, generator=generator) < 0.5


def cosine_factor(epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (1-based) as a share of the base rate: half a cosine, as PySlowFast.

    A pure function of the epoch, so a resumed run takes the same steps as one that never stopped.

    Example:
        >>> [round(cosine_factor(e, 4), 3) for e in range(1, 5)]
        [1.0, 0.854, 0.5, 0.146]
    """
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


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


def _layer_columns(layer: nn.Module, variation: float) -> dict[str, float]:
    """The metric columns of the layer: R, m, n, slope, shift (NaN for the baseline without one)."""
    if not hasattr(layer, "params"):
        return dict.fromkeys(("R", "m", "n", "slope", "shift"), math.nan)
    params = layer.params
    return {"R": variation, "m": params.m, "n": params.n, "slope": params.slope, "shift": params.shift}


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
    groups = [{"params": model.backbone.parameters(), "lr": settings.lr}]
    if settings.prompts:  # m, n: two scalars shared by every pixel take a larger step than weights
        groups.append({"params": model.vmps.parameters(), "lr": settings.prompt_lr})
    optimizer = torch.optim.Adam(groups)
    base_rates = [group["lr"] for group in groups]  # before a resume loads the last epoch's decayed rates
    start, rows = records.load_resume(folder, settings, weight, data.classes, model, optimizer)
    record = records.settings_record(settings, weight)
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
        for group, rate in zip(optimizer.param_groups, base_rates, strict=True):
            group["lr"] = rate * cosine_factor(epoch, settings.epochs)
        order = train_idx[epoch_permutation(len(train_idx), settings.seed, epoch)]
        flips = epoch_flips(len(data.labels), settings.seed, epoch) if settings.flip else None
        sums = torch.zeros(4, dtype=torch.float64)  # task loss, R, correct, batches of R
        for step in range(batches):
            mine = order[step * batch : (step + 1) * batch][process.rank :: process.world]
            clips = data.clips[mine]
            if flips is not None:  # mirrored left-right: the same motion class, twice the views
                clips = torch.where(flips[mine].view(-1, 1, 1, 1, 1), clips.flip(3), clips)
            video = to_model_input(clips).to(process.device)
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
                records.write_status(
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
        task, variation_mean = sums[0].item() / batches, sums[1].item() / batches
        row = {
            "epoch": epoch,
            "loss": task + weight * variation_mean,
            "task_loss": task,
            **_layer_columns(model.vmps, variation_mean),
            "train_accuracy": sums[2].item() / (batches * batch),
            "val_accuracy": val[0].item() / max(val[1].item(), 1.0),
            "seconds": time.perf_counter() - began,
            "lambda": weight,
        }
        rows.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{row['val_accuracy']:.0%}", m=f"{row['m']:.3f}")
        if process.writer:
            records.save_checkpoint(folder, model, optimizer, epoch, record, data.classes)
            records.write_metrics(folder, rows)
    bar.close()
    if process.writer:
        records.write_status(
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
    results = _train_all(settings, process)
    process.close()
    return results


def _train_all(settings: TrainSettings, process: _Process) -> dict[float, list[dict[str, Any]]]:
    settings.check(process.world)
    out = Path(settings.out)
    if process.writer:
        out.mkdir(parents=True, exist_ok=True)
        records.remove_stale_temporaries(out)

    def decoding(done: int, total: int) -> None:
        records.write_status(out, {"state": "decoding", "done": done, "total": total})

    data = _clip_cache(settings, process, decoding)
    if process.writer and data.skipped:
        listing = "\n  ".join(data.skipped[:20]) + ("\n  …" if len(data.skipped) > 20 else "")
        print(f"skipped {len(data.skipped)} listed clip(s) or line(s):\n  {listing}", file=sys.stderr)
    if process.writer:
        records.write_status(out, {"state": "training", "clips": len(data.labels)})
    split = split_indices(data.labels, data.splits, settings.seed, settings.val_share)
    sweep = len(settings.penalty_weights) > 1
    results = {}
    for weight in settings.penalty_weights:
        folder = records.lambda_folder(out, weight, sweep)
        if process.writer:
            folder.mkdir(parents=True, exist_ok=True)
        results[weight] = _train_one(settings, weight, folder, data, split, process)
    if process.writer and sweep:
        records.write_status(out, {"state": "done"})
    return results


def final_params(rows: Sequence[dict[str, Any]]) -> MotionParams:
    """The (m, n) of a run's last epoch."""
    return MotionParams(rows[-1]["m"], rows[-1]["n"])
