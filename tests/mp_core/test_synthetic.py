"""mp_core.synthetic: determinism, masks that follow the objects, nuisances, and motion_focus."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mp_core import MotionParams, motion_intermediates
from mp_core.errors import InputError, ParameterError, ShapeError
from mp_core.metrics import motion_focus
from mp_core.synthetic import make_demo_dataset, synthetic_clip


def test_shapes_types_and_determinism() -> None:
    a = synthetic_clip(num_frames=10, height=40, width=56, num_objects=2, noise=0.05, seed=7)
    b = synthetic_clip(num_frames=10, height=40, width=56, num_objects=2, noise=0.05, seed=7)
    c = synthetic_clip(num_frames=10, height=40, width=56, num_objects=2, noise=0.05, seed=8)
    assert a.clip.frames.shape == (10, 40, 56, 3) and a.clip.frames.dtype == torch.uint8
    assert a.mask.shape == (10, 40, 56) and a.mask.dtype == torch.bool
    assert a.pair_mask.shape == (9, 40, 56)
    assert torch.equal(a.clip.frames, b.clip.frames) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.clip.frames, c.clip.frames)
    assert a.clip.fps == 25.0 and len(a.clip.timestamps) == 10


def test_without_nuisances_only_the_masked_objects_change() -> None:
    sample = synthetic_clip(num_frames=8, num_objects=2, seed=1)
    frames = sample.clip.frames.int()
    changed = (frames[1:] - frames[:-1]).abs().amax(-1) > 0
    assert changed.any()
    assert not (changed & ~sample.pair_mask).any()  # static background: no change outside the objects


def test_objects_move_and_stay_in_view() -> None:
    sample = synthetic_clip(num_frames=30, height=48, width=64, seed=2)
    area = sample.mask.flatten(1).sum(1)
    assert (area > 0).all()  # reflected at the borders, never leaves the frame
    centres = [torch.nonzero(m).float().mean(0) for m in sample.mask]
    assert (centres[0] - centres[5]).norm() > 3


def test_flicker_noise_and_jitter_change_the_background() -> None:
    clean = synthetic_clip(num_objects=0, seed=3).clip.frames.int()
    assert torch.equal(clean[0], clean[-1])
    for kwargs in ({"flicker": 0.2}, {"noise": 0.05}, {"jitter": 3.0}):
        shaken = synthetic_clip(num_objects=0, seed=3, **kwargs).clip.frames.int()
        assert (shaken[1:] - shaken[:-1]).abs().float().mean() > 0.5, kwargs


@pytest.mark.parametrize(
    "kwargs",
    [{"num_frames": 1}, {"height": 8}, {"noise": -0.1}, {"jitter": float("nan")}, {"num_objects": -1}],
)
def test_bad_arguments(kwargs) -> None:
    with pytest.raises(ParameterError):
        synthetic_clip(**kwargs)


def test_motion_focus_by_hand() -> None:
    mask = torch.tensor([[True, True], [False, False]])
    attention = torch.tensor([[1.0, 0.5], [0.25, 0.25]], dtype=torch.float64)
    assert motion_focus(attention, mask) == pytest.approx(0.75 - 0.25)
    assert motion_focus(1 - attention, mask) == pytest.approx(-0.5)
    with pytest.raises(ShapeError, match=r"\[2, 2\] and \[4\]"):
        motion_focus(attention, mask.flatten())
    with pytest.raises(InputError, match="inside and outside"):
        motion_focus(attention, torch.ones(2, 2, dtype=torch.bool))


def test_motion_focus_ranks_a_sensible_attention_above_a_random_one() -> None:
    sample = synthetic_clip(num_frames=12, num_objects=2, noise=0.02, seed=4)
    frames = sample.clip.as_float()
    mask = sample.pair_mask
    torch.manual_seed(0)
    random = motion_focus(torch.rand(mask.shape), mask)
    magnitude = motion_intermediates(frames, MotionParams(0.0, 0.0)).difference.abs()
    sensible = motion_focus((magnitude * 20).clamp(0, 1), mask)
    assert abs(random) < 0.01
    assert sensible > 0.3
    # A positive shift keeps brightening motion and suppresses the static rest: focus above 0;
    # a negative shift passes the static rest and suppresses darkening motion: focus below 0.
    positive = motion_intermediates(frames, MotionParams.from_slope_shift(30.0, 0.05)).attention
    negative = motion_intermediates(frames, MotionParams.from_slope_shift(30.0, -0.05)).attention
    assert motion_focus(positive, mask) > 0.05 > -0.05 > motion_focus(negative, mask)


def test_demo_dataset_is_labelled_deterministic_and_written_once(tmp_path) -> None:
    import numpy as np

    from mp_core.datasets import open_dataset
    from mp_core.synthetic import DEMO_CLASSES, make_demo_dataset, mask_path
    from mp_core.video_io import read_clip

    root = make_demo_dataset(tmp_path / "demo", clips_per_class=2)
    dataset = open_dataset(root)
    assert dataset.kind == "folder" and not dataset.problems
    assert dataset.classes == dict.fromkeys(sorted(DEMO_CLASSES), 2)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert make_demo_dataset(root, clips_per_class=2) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == stamps  # nothing rewritten
    assert not list(root.rglob(".*"))  # no temporary files left
    again = make_demo_dataset(tmp_path / "again", clips_per_class=2)
    for sample in dataset:
        clip = read_clip(root / sample.key)
        with np.load(mask_path(root / sample.key)) as saved:
            mask = saved["mask"]
        assert mask.dtype == bool and mask.shape == (len(clip.timestamps), 120, 160)
        assert 16 <= mask.shape[0] <= 24 and tuple(clip.frames.shape[1:3]) == (120, 160)
        assert torch.equal(clip.frames, read_clip(again / sample.key).frames)
        assert mask.any() == (sample.label != "static")
    # In the clean classes, frames change (beyond coding noise) only where the mask says objects are.
    clip = read_clip(root / "one_object/one_object_00.mp4").frames.float()
    with np.load(mask_path(root / "one_object/one_object_00.mp4")) as saved:
        moving = torch.from_numpy(saved["mask"][:-1] | saved["mask"][1:])
    change = (clip[1:] - clip[:-1]).abs().mean(-1)
    assert change[moving].mean() > 10 * change[~moving].mean()


def test_demo_dataset_refuses_zero_clips(tmp_path) -> None:
    from mp_core.synthetic import make_demo_dataset

    with pytest.raises(ParameterError, match="clips_per_class"):
        make_demo_dataset(tmp_path, clips_per_class=0)


def test_the_demo_dataset_reports_its_progress_clip_by_clip(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    make_demo_dataset(tmp_path, clips_per_class=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(done, 5) for done in range(6)]
    seen.clear()
    make_demo_dataset(tmp_path, clips_per_class=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(done, 5) for done in range(6)]  # found, not made: still counted
