"""A dataset's clips decoded once into one uint8 tensor, split into train and validation, fed in batches.

Every clip is read with the app's sampling (:class:`mp_core.sampling.Sampling`: ``frames`` evenly spaced
over the clip), resized to ``side x side`` (the whole frame is kept, its aspect is not) and stored as
uint8. Batches become the reference training code's input: normalised BGR ``(B, 3, T, H, W)`` with mean
0.45 and std 0.225, the defaults of :class:`mp_core.MotionPromptLayer`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from mp_core.errors import DatasetError, VideoError

__all__ = ["MEAN", "STD", "ClipTensors", "decode_clips", "split_indices", "to_model_input"]

MEAN, STD = 0.45, 0.225
_VAL_SPLITS = ("val", "validation", "test")


@dataclass(frozen=True, eq=False)
class ClipTensors:
    """Decoded clips and their labels.

    Attributes:
        clips: uint8 ``(N, T, side, side, 3)``, RGB.
        labels: int64 ``(N,)``, indices into ``classes``.
        splits: the split of each clip (``train``, ``val``, ``all``, ...).
        classes: class names, sorted.
        keys: each clip's path in the dataset.
        skipped: ``key: reason`` of the clips that could not be decoded or were refused (outside the
            roots), and the dataset's listing problems (``file:line: reason``).
    """

    clips: Tensor
    labels: Tensor
    splits: tuple[str, ...]
    classes: tuple[str, ...]
    keys: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def save(self, path: Path) -> None:
        torch.save(
            {
                "clips": self.clips,
                "labels": self.labels,
                "splits": list(self.splits),
                "classes": list(self.classes),
                "keys": list(self.keys),
                "skipped": list(self.skipped),
            },
            path,
        )

    @classmethod
    def load(cls, path: Path) -> ClipTensors:
        data = torch.load(path, map_location="cpu", weights_only=True)
        return cls(
            data["clips"],
            data["labels"],
            tuple(data["splits"]),
            tuple(data["classes"]),
            tuple(data["keys"]),
            tuple(data["skipped"]),
        )


def _resize(frames: Tensor, side: int, count: int) -> Tensor:
    """(T, H, W, 3) uint8 -> (count, side, side, 3) uint8; a short clip repeats its last frame."""
    video = frames.permute(0, 3, 1, 2).float()
    if video.shape[-2:] != (side, side):
        video = F.interpolate(video, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    if video.shape[0] < count:  # repeated frames add zero differences: the least made-up filling
        video = torch.cat([video, video[-1:].expand(count - video.shape[0], -1, -1, -1)])
    return video.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _empty_class_folders(root: Path) -> list[str]:
    """Class folders (``class/`` or ``split/class/``) of a folder dataset that hold no video at all."""
    from mp_core.sources import VIDEO_SUFFIXES

    def has_video(folder: Path) -> bool:
        return any(p.suffix.lower() in VIDEO_SUFFIXES for p in folder.rglob("*") if p.is_file())

    empty = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if child.name.lower() in {"train", "val", "validation", "test"}:
            empty += [
                f"{child.name}/{c.name}" for c in sorted(child.iterdir()) if c.is_dir() and not has_video(c)
            ]
        elif not has_video(child):
            empty.append(child.name)
    return empty


def decode_clips(
    dataset_path: str | os.PathLike,
    frames: int,
    side: int,
    progress: Callable[[int, int], None] | None = None,
    roots: Sequence[str | os.PathLike] | None = None,
) -> ClipTensors:
    """Open a dataset (anything :func:`mp_core.datasets.open_dataset` opens) and decode every clip once.

    Every clip is read through :meth:`mp_core.datasets.VideoDataset.read`, so with ``roots`` a listed
    path (or HDF5 member) that resolves outside them is refused, never opened; refused listing lines and
    clips that do not decode are named in :attr:`ClipTensors.skipped`.

    Args:
        dataset_path: class folders, a folder with split lists, or an HDF5 pack.
        frames: T, frames per clip, evenly spaced.
        side: frames are resized to ``side x side``.
        progress: called with ``(done, total)`` after each clip.
        roots: the folders files may be read from (None: anywhere).

    Raises:
        DatasetError: no clips, fewer than two classes, a class folder without clips, or a class left
            without any clip that decodes.
    """
    from mp_core.datasets import OutsideRootsError, open_dataset
    from mp_core.sampling import Sampling

    dataset = open_dataset(dataset_path, roots)
    if dataset.kind == "folder":
        empty = _empty_class_folders(dataset.root)
        if empty:
            raise DatasetError(f"{dataset.root.name}: class folder(s) without clips: {', '.join(empty[:5])}")
    if len(dataset) == 0:
        detail = "; ".join(str(p) for p in dataset.problems[:3]) or "no samples"
        raise DatasetError(f"{dataset.root.name}: nothing to train on ({detail})")
    classes = tuple(dataset.classes)
    if len(classes) < 2:
        raise DatasetError(
            f"{dataset.root.name}: training needs at least two classes, found {len(classes)} "
            f"({', '.join(classes)}): put each class's clips in their own folder"
        )
    sampling = Sampling(frames=frames, max_side=max(2 * side, 32))  # decode small; resize exactly below
    clips, labels, splits, keys = [], [], [], []
    skipped = [str(problem) for problem in dataset.problems]
    for done, sample in enumerate(dataset.samples, start=1):
        try:
            clip = dataset.read(sample, sampling=sampling)
        except (VideoError, OutsideRootsError) as err:
            skipped.append(f"{sample.key}: {err}")
        else:
            clips.append(_resize(clip.frames, side, frames))
            labels.append(classes.index(sample.label))
            splits.append(sample.split)
            keys.append(sample.key)
        if progress is not None:
            progress(done, len(dataset))
    decoded = set(labels)
    lost = [name for i, name in enumerate(classes) if i not in decoded]
    if lost:
        raise DatasetError(f"{dataset.root.name}: no clip of class(es) {', '.join(lost)} could be decoded")
    return ClipTensors(
        torch.stack(clips),
        torch.tensor(labels, dtype=torch.int64),
        tuple(splits),
        classes,
        tuple(keys),
        tuple(skipped),
    )


def split_indices(
    labels: Tensor, splits: Sequence[str], seed: int, val_share: float = 0.2
) -> tuple[Tensor, Tensor]:
    """Train and validation indices: the dataset's own splits, or a fixed seeded share of every class.

    The validation split is ``val`` (else ``validation``, else ``test``); training takes ``train`` (all
    other clips when there is no ``train`` split). Without a validation split, ``val_share`` of each
    class (rounded, at least one clip when a class has two or more) is drawn with ``seed``.

    Example:
        >>> labels = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        >>> train, val = split_indices(labels, ["all"] * 10, seed=0)
        >>> len(train), len(val), sorted(labels[val].tolist())
        (8, 2, [0, 1])
    """
    names = set(splits)
    val_name = next((name for name in _VAL_SPLITS if name in names), None)
    if val_name is not None:
        val = [i for i, s in enumerate(splits) if s == val_name]
        train = [
            i for i, s in enumerate(splits) if (s == "train" if "train" in names else s not in _VAL_SPLITS)
        ]
        return torch.tensor(train, dtype=torch.int64), torch.tensor(val, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        take = max(1, round(val_share * len(members))) if len(members) >= 2 else 0
        val_parts.append(members[:take])
        train_parts.append(members[take:])
    return torch.cat(train_parts).sort().values, torch.cat(val_parts).sort().values


def to_model_input(clips: Tensor) -> Tensor:
    """uint8 RGB ``(B, T, H, W, 3)`` -> normalised BGR float ``(B, 3, T, H, W)``, as the reference feeds.

    Example:
        >>> x = to_model_input(torch.full((1, 2, 4, 4, 3), 255, dtype=torch.uint8))
        >>> x.shape, round(x.max().item(), 4)
        (torch.Size([1, 3, 2, 4, 4]), 2.4444)
    """
    video = clips.flip(-1).permute(0, 4, 1, 2, 3).float()  # RGB -> BGR, channels first
    return video.div_(255.0).sub_(MEAN).div_(STD)
