"""mp_core.train: the loss by hand, gradients, 1 vs 2 processes, resume, checkpoints, messages."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from mp_core.checkpoints import load_params
from mp_core.errors import DatasetError, InputError
from mp_core.train import (
    METRIC_COLUMNS,
    ModelError,
    PromptedClassifier,
    TinyVideoNet,
    TrainSettings,
    batch_loss,
    build_backbone,
    read_metrics,
    to_model_input,
    train,
)
from mp_core.train.__main__ import main
from mp_core.video_io import write_video

ROOT = Path(__file__).resolve().parents[2]
#: Small enough that a run takes a second or two: 4 frames of 32 px, batches of 4.
TINY = ["--frames", "4", "--side", "32", "--batch", "4", "--seed", "3"]


def _clip(moving: bool, seed: int) -> torch.Tensor:
    """(6, 32, 32, 3) uint8: a bright square moving right (or standing still) on a noisy background."""
    generator = torch.Generator().manual_seed(seed)
    background = (torch.rand(32, 32, 3, generator=generator) * 80 + 40).to(torch.uint8)
    frames = background.expand(6, -1, -1, -1).clone()
    row, col = (int(v) for v in torch.randint(4, 16, (2,), generator=generator))
    for t in range(6):
        left = col + (2 * t if moving else 0)
        frames[t, row : row + 8, left : left + 8] = 230
    return frames


@pytest.fixture(scope="module")
def two_class_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Class folders ``moving/`` and ``still/``, 6 H.264 clips each (nobody prepared it for training)."""
    root = tmp_path_factory.mktemp("clips")
    for label in ("moving", "still"):
        (root / label).mkdir()
        for index in range(6):
            write_video(root / label / f"{label}_{index}.mp4", _clip(label == "moving", index), 10.0, qp=0)
    return root


def _run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})},
    )


def _hand_loss(
    model: PromptedClassifier, video: torch.Tensor, labels: torch.Tensor, weight: float
) -> torch.Tensor:
    """CE + λR written out from the paper, on the normalised BGR input (independent of the layer's kernel)."""
    m, n = model.vmps.m.detach(), model.vmps.n.detach()
    slope = 5.0 / (0.45 * torch.tanh(m).abs() + 0.1)
    shift = 0.6 * torch.tanh(n)
    frames = video * 0.225 + 0.45  # back to [0, 1], channels B, G, R
    gray = 0.114 * frames[:, 0] + 0.587 * frames[:, 1] + 0.299 * frames[:, 2]  # (B, T, H, W)
    attention = torch.sigmoid(slope * (gray[:, 1:] - gray[:, :-1] - shift))
    prompts = attention[:, None] * video[:, :, 1:]
    logits = model.backbone(prompts)
    log_probs = logits - logits.exp().sum(1, keepdim=True).log()
    cross_entropy = -log_probs[torch.arange(len(labels)), labels].mean()
    b, t, h, w = attention.shape
    variation = ((attention[:, 1:] - attention[:, :-1]) ** 2).sum() / (b * h * w * (t - 1))
    return cross_entropy + weight * variation


@pytest.mark.parametrize("weight", [0.0, 2.5])
def test_loss_is_cross_entropy_plus_lambda_times_variation(weight: float) -> None:
    torch.manual_seed(0)
    model = PromptedClassifier(TinyVideoNet(3))
    with torch.no_grad():
        model.vmps.m.fill_(0.7)
        model.vmps.n.fill_(-0.2)
    video = to_model_input(torch.randint(0, 256, (4, 5, 16, 16, 3), dtype=torch.uint8))
    labels = torch.tensor([0, 2, 1, 2])
    _, _, _, loss = batch_loss(model, video, labels, weight, batch=4)
    torch.testing.assert_close(
        loss.detach(), _hand_loss(model, video, labels, weight).detach(), rtol=1e-5, atol=1e-6
    )


def test_the_recorded_epoch_loss_is_the_mean_hand_loss_of_its_batches(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    """Steps of 0 keep the starting model: each batch's CE + λR, computed here, averages to the row.

    The batches are the epoch's permutation, with the epoch's mirrored clips flipped here by hand.
    """
    from mp_core.params import DEFAULT_PRESET, PRESETS
    from mp_core.train import ClipTensors, epoch_flips, epoch_permutation, split_indices

    weight, seed = 2.0, 3
    settings = TrainSettings(
        str(two_class_dataset), str(tmp_path), (weight,), 1, 4, 32, batch=4, lr=0.0, prompt_lr=0.0, seed=seed
    )
    row = train(settings)[weight][0]
    data = ClipTensors.load(tmp_path / "clips-4f-32px.pt")
    train_idx, _ = split_indices(data.labels, data.splits, seed)
    torch.manual_seed(seed)
    model = PromptedClassifier(TinyVideoNet(2))
    start = PRESETS[DEFAULT_PRESET].params
    with torch.no_grad():
        model.vmps.m.fill_(start.m)
        model.vmps.n.fill_(start.n)
    order = train_idx[epoch_permutation(len(train_idx), seed, 1)]
    flips = epoch_flips(len(data.labels), seed, 1)
    mirrored = data.clips[:, :, :, range(31, -1, -1)]  # (N, T, H, W, 3): columns read right to left
    clips = torch.where(flips.view(-1, 1, 1, 1, 1), mirrored, data.clips)
    chunks = order[: len(order) // 4 * 4].split(4)
    assert any(flips[chunk].any() for chunk in chunks), "seed 3 mirrors no training clip in epoch 1"
    losses = [
        _hand_loss(model, to_model_input(clips[chunk]), data.labels[chunk], weight).item() for chunk in chunks
    ]
    assert len(losses) == 2
    assert row["loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    assert (row["m"], row["n"]) == pytest.approx((start.m, start.n))


def test_two_shares_of_a_batch_add_up_to_the_whole_batch_loss() -> None:
    """What each of two processes computes, summed and divided by two (DDP's average), is the batch's loss."""
    torch.manual_seed(1)
    model = PromptedClassifier(TinyVideoNet(2))
    video = to_model_input(torch.randint(0, 256, (4, 4, 16, 16, 3), dtype=torch.uint8))
    labels = torch.tensor([0, 1, 1, 0])
    whole = batch_loss(model, video, labels, 3.0, batch=4)[3]
    shares = [batch_loss(model, video[r::2], labels[r::2], 3.0, batch=4, world=2)[3] for r in range(2)]
    torch.testing.assert_close((shares[0] + shares[1]) / 2, whole, rtol=1e-5, atol=1e-6)


def test_gradients_reach_m_and_n_from_the_task_and_from_the_regulariser() -> None:
    torch.manual_seed(0)
    video = to_model_input(torch.randint(0, 256, (2, 5, 16, 16, 3), dtype=torch.uint8))
    for weight, backbone_scale in ((0.0, 1.0), (1.0, 0.0)):  # task alone; regulariser alone
        model = PromptedClassifier(TinyVideoNet(2))
        with torch.no_grad():
            model.vmps.m.fill_(0.5)
            model.vmps.n.fill_(0.1)
            for parameter in model.backbone.parameters():
                parameter.mul_(backbone_scale)
        batch_loss(model, video, torch.tensor([0, 1]), weight, batch=2)[3].backward()
        for grad in (model.vmps.m.grad, model.vmps.n.grad):
            assert grad is not None and torch.isfinite(grad).all() and grad.abs().item() > 1e-6


def test_a_class_folder_dataset_trains_and_the_checkpoint_round_trips(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert main([str(two_class_dataset), "--out", str(out), "--epochs", "3", "--lambda", "0,1", *TINY]) == 0
    for weight in ("0", "1"):
        folder = out / f"lambda-{weight}"
        rows = read_metrics(folder)
        assert [row["epoch"] for row in rows] == [1, 2, 3]
        assert set(METRIC_COLUMNS) <= set(rows[-1])
        assert rows[-1]["lambda"] == float(weight)
        params = load_params(folder / "checkpoint.pyth")
        assert (params.m, params.n) == pytest.approx((rows[-1]["m"], rows[-1]["n"]), abs=1e-7)
        assert (params.m, params.n) != pytest.approx((0.257, 0.053), abs=1e-4)  # moved from --init
        saved = torch.load(folder / "checkpoint.pyth", weights_only=True)
        assert saved["epoch"] == 3 and saved["cfg"]["lambda"] == float(weight)
        assert {"vmps.m", "vmps.n", "backbone.head.weight"} <= set(saved["model_state"])
        assert saved["classes"] == ["moving", "still"]
    assert (out / "clips-4f-32px.pt").is_file()


@pytest.mark.timeout(600)  # three interpreters start torch: a minute when the machine is busy
def test_two_processes_learn_the_same_m_n_as_one(two_class_dataset: Path, tmp_path: Path) -> None:
    common = [str(two_class_dataset), "--epochs", "2", "--lambda", "1", "--device", "cpu", *TINY]
    one = _run("-m", "mp_core.train", *common, "--out", str(tmp_path / "one"))
    two = _run(
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "mp_core.train", *common, "--out", str(tmp_path / "two"),
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-8000:]  # the processes' own errors come before torchrun's
    rows_one, rows_two = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    for key in ("m", "n", "loss", "R", "train_accuracy", "val_accuracy"):
        assert rows_two[-1][key] == pytest.approx(rows_one[-1][key], abs=1e-4), key
    # m moved by more than the tolerance: the check compares trained values
    assert rows_one[-1]["m"] != pytest.approx(0.257, abs=3e-4)


_KILLED_RUN = """
import os, signal, sys
import mp_core.train.records as records

write_status = records.write_status

def dying(folder, status):  # SIGKILL in the middle of epoch 3, after epoch 2's checkpoint
    write_status(folder, status)
    if status.get("epoch") == 3 and status.get("step") == 1:
        os.kill(os.getpid(), signal.SIGKILL)

records.write_status = dying
from mp_core.train.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(600)
def test_resume_after_a_kill_ends_where_an_uninterrupted_run_ends(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    common = [str(two_class_dataset), "--epochs", "4", "--lambda", "2", "--device", "cpu", *TINY]
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(_KILLED_RUN))
    killed = _run(str(script), *common, "--out", str(tmp_path / "a"))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert [row["epoch"] for row in read_metrics(tmp_path / "a")] == [1, 2]
    resumed = _run("-m", "mp_core.train", *common, "--out", str(tmp_path / "a"), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = _run("-m", "mp_core.train", *common, "--out", str(tmp_path / "b"))
    assert straight.returncode == 0, straight.stderr[-2000:]
    rows_a, rows_b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [row["epoch"] for row in rows_a] == [1, 2, 3, 4]
    for key in ("m", "n", "loss", "val_accuracy"):
        assert rows_a[-1][key] == pytest.approx(rows_b[-1][key], abs=1e-6), key


def test_resume_refuses_a_run_with_other_settings(two_class_dataset: Path, tmp_path: Path) -> None:
    base = TrainSettings(str(two_class_dataset), str(tmp_path), (0.0,), epochs=1, frames=4, side=32, batch=4)
    train(base)
    with pytest.raises(InputError, match=r"cannot resume.*batch"):
        train(TrainSettings(str(two_class_dataset), str(tmp_path), (0.0,), 2, 4, 32, batch=2, resume=True))


def _write_clips(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        write_video(folder / f"clip_{index}.mp4", _clip(True, index), 10.0)


def test_one_class_and_an_empty_class_are_refused_with_a_message(tmp_path: Path) -> None:
    _write_clips(tmp_path / "one" / "jump", 2)
    with pytest.raises(DatasetError, match="at least two classes, found 1 \\(jump\\)"):
        train(TrainSettings(str(tmp_path / "one"), str(tmp_path / "out1"), frames=4, side=32, batch=1))
    _write_clips(tmp_path / "two" / "jump", 2)
    (tmp_path / "two" / "sit").mkdir()
    with pytest.raises(DatasetError, match="class folder\\(s\\) without clips: sit"):
        train(TrainSettings(str(tmp_path / "two"), str(tmp_path / "out2"), frames=4, side=32, batch=1))


def test_the_command_prints_the_message_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_clips(tmp_path / "data" / "jump", 2)
    assert main([str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 2
    assert "error: " in capsys.readouterr().err


def test_a_model_that_does_not_fit_the_input_is_named(
    two_class_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_nets.py").write_text(
        "from torch import nn\n"
        "def flat(num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(10, num_classes))\n"
        "def wrong_width(num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes + 1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = {"frames": 4, "side": 32, "batch": 4}
    with pytest.raises(ModelError, match="does not take clips of shape \\[1, 3, 4, 32, 32\\]"):
        train(TrainSettings(str(two_class_dataset), str(tmp_path / "a"), model="my_nets:flat", **settings))
    with pytest.raises(ModelError, match=r"returned shape \[1, 3\].*expected \[1, 2\]"):
        train(
            TrainSettings(
                str(two_class_dataset), str(tmp_path / "b"), model="my_nets:wrong_width", **settings
            )
        )
    with pytest.raises(ModelError, match="expected 'tiny', a torchvision video model"):
        build_backbone("resnet_of_dreams", 2)


def test_torchvision_video_models_build_by_name_with_local_weights(tmp_path: Path) -> None:
    backbone = build_backbone("r3d_18", 3)
    assert backbone(torch.zeros(1, 3, 4, 32, 32)).shape == (1, 3)
    state = {k: torch.full_like(v, 0.5) for k, v in backbone.state_dict().items()}
    torch.save(state, tmp_path / "r3d.pt")
    loaded = build_backbone("r3d_18", 3, weights=str(tmp_path / "r3d.pt"))
    assert torch.equal(loaded.stem[0].weight, state["stem.0.weight"])
    with pytest.raises(ModelError, match="not a readable state dict"):
        build_backbone("r3d_18", 3, weights=str(tmp_path / "missing.pt"))


def test_the_tiny_network_has_no_batch_statistics() -> None:
    net = TinyVideoNet(5)
    assert not [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert sum(p.numel() for p in net.parameters()) < 300_000


def test_split_lists_and_an_hdf5_pack_decode_the_same_clips_and_use_their_val_split(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    import h5py
    import numpy as np

    from mp_core.train import decode_clips, split_indices

    lines = {"train": [], "val": []}
    for label in ("moving", "still"):
        for index in range(6):
            lines["val" if index == 0 else "train"].append(f"{label}/{label}_{index}.mp4 {label}")
    for split, rows in lines.items():
        (two_class_dataset / f"{split}.csv").write_text("\n".join(rows) + "\n")
    try:
        listed = decode_clips(two_class_dataset, frames=4, side=32)
        pack = tmp_path / "pack.h5"
        with h5py.File(pack, "w") as h5:
            for path in sorted(p for p in two_class_dataset.rglob("*") if p.is_file()):
                data = np.frombuffer(path.read_bytes(), np.uint8)
                h5.create_dataset(path.relative_to(two_class_dataset).as_posix(), data=data)
        packed = decode_clips(pack, frames=4, side=32)
    finally:
        for split in lines:
            (two_class_dataset / f"{split}.csv").unlink()
    assert listed.keys == packed.keys and torch.equal(listed.clips, packed.clips)
    assert listed.clips.shape == (12, 4, 32, 32, 3) and listed.classes == ("moving", "still")
    train_idx, val_idx = split_indices(listed.labels, listed.splits, seed=0)
    assert sorted(listed.keys[i] for i in val_idx) == ["moving/moving_0.mp4", "still/still_0.mp4"]
    assert len(train_idx) == 10


def test_the_model_is_on_the_samples_device_when_its_fit_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU the sample is already on the device: the model must be moved before ``check_fits``."""
    import mp_core.train.loop as loop

    seen: list[tuple[str, str]] = []

    def spy(model: nn.Module, sample: torch.Tensor, *args: object) -> None:
        seen.append((str(next(model.parameters()).device), str(sample.device)))

    monkeypatch.setattr(loop, "check_fits", spy)
    settings = TrainSettings(str(tmp_path), str(tmp_path), frames=4, side=32)
    device = torch.device("meta")  # any device but the CPU the model is built on
    model = loop._build(settings, ("a", "b"), torch.zeros(1, 3, 4, 32, 32, device=device), device)
    assert seen == [("meta", "meta")]
    assert next(model.parameters()).device == device


def test_a_split_list_line_outside_the_roots_is_refused_and_named(
    two_class_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Training reads every clip through the dataset's root check: ``../outside.mp4`` is never decoded."""
    import shutil

    from mp_core.train import decode_clips

    root = tmp_path / "root"
    data = root / "data"
    shutil.copytree(two_class_dataset, data)
    shutil.copy(two_class_dataset / "moving" / "moving_0.mp4", root / "outside.mp4")
    rows = [f"{label}/{label}_{i}.mp4 {label}" for label in ("moving", "still") for i in range(6)]
    (data / "train.csv").write_text("../outside.mp4 moving\n" + "\n".join(rows) + "\n")
    anywhere = decode_clips(data, frames=4, side=32)
    assert "../outside.mp4" in anywhere.keys  # without roots nothing is restricted (the command's default)
    guarded = decode_clips(data, frames=4, side=32, roots=[data])
    assert "../outside.mp4" not in guarded.keys and len(guarded.keys) == 12
    assert guarded.skipped == ("train.csv:1: ../outside.mp4: outside the dataset roots: refused",)
    out = tmp_path / "out"
    assert main([str(data), "--out", str(out), "--epochs", "1", "--roots", str(data), *TINY]) == 0
    assert "../outside.mp4: outside the dataset roots: refused" in capsys.readouterr().err
    assert "../outside.mp4" not in torch.load(out / "clips-4f-32px.pt", weights_only=True)["keys"]


_TERMINATED_RUN = """
import os, signal, sys, time
import torch
import mp_core.train.loop as loop

save = torch.save

def terminated(obj, path, *args, **kwargs):  # SIGTERM while epoch 2's checkpoint is half-written
    save(obj, path, *args, **kwargs)
    if str(path).endswith(".tmp") and isinstance(obj, dict) and obj.get("epoch") == 2:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the handler raises here

torch.save = terminated
from mp_core.train.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(600)
def test_sigterm_mid_run_leaves_no_temporaries_and_resume_goes_on(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    common = [str(two_class_dataset), "--epochs", "3", "--lambda", "1", "--device", "cpu", *TINY]
    script = tmp_path / "terminated.py"
    script.write_text(textwrap.dedent(_TERMINATED_RUN))
    out = tmp_path / "run"
    stopped = _run(str(script), *common, "--out", str(out))
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "run again with --resume" in stopped.stderr
    assert not list(out.rglob("*.tmp"))
    assert [row["epoch"] for row in read_metrics(out)] == [1]
    assert torch.load(out / "checkpoint.pyth", weights_only=True)["epoch"] == 1
    stale = out / f".metrics.parquet.{'0f' * 16}.tmp"  # what a SIGKILLed run leaves
    stale.write_bytes(b"half")
    resumed = _run("-m", "mp_core.train", *common, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [row["epoch"] for row in read_metrics(out)] == [1, 2, 3]
    assert not stale.exists()


_MIDDLE = """
import os, subprocess, sys, time
from mp_core.processes import PARENT_ENV

child = subprocess.Popen(
    [sys.executable, "-c", "import os, time; from mp_core.processes import exit_with_parent; "
     "exit_with_parent(int(os.environ['%s'])); time.sleep(120)" % PARENT_ENV],
    env={**os.environ, PARENT_ENV: str(os.getpid())},
)
print(child.pid, flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited orphan waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_child_given_its_parent_id_ends_when_the_parent_is_killed(tmp_path: Path) -> None:
    """The Learn page's training child (PARENT_ENV) does not outlive a killed server."""
    import signal
    import time

    middle = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_MIDDLE)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert middle.stdout is not None
    child = int(middle.stdout.readline())
    try:
        time.sleep(1.0)
        assert _running(child)  # the watch does not end it while the parent lives
        middle.send_signal(signal.SIGKILL)
        middle.wait()
        deadline = time.monotonic() + 20
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(child)
    finally:
        if _running(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("side", [8, 9, 13])
def test_the_patch_embedding_is_the_strided_convolution_it_replaces(side: int) -> None:
    from mp_core.train.models import PatchEmbedding

    torch.manual_seed(0)
    embed = PatchEmbedding(3, 5, patch=2)
    conv = nn.Conv3d(3, 5, kernel_size=(1, 2, 2), stride=(1, 2, 2))
    with torch.no_grad():  # Linear's input is (c, i, j) flattened: the Conv3d weight's own order
        conv.weight.copy_(embed.proj.weight.reshape(5, 3, 1, 2, 2))
        conv.bias.copy_(embed.proj.bias)
    video = torch.randn(2, 3, 4, side, side + 1, requires_grad=True)
    padded = nn.functional.pad(video, (0, (side + 1) % 2, 0, side % 2))  # zeros right and bottom
    expected = conv(padded)
    got = embed(video)
    assert got.shape == expected.shape == (2, 5, 4, (side + 1) // 2, (side + 2) // 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    (grad_got,) = torch.autograd.grad(got.square().sum(), video)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), video)
    torch.testing.assert_close(grad_got, grad_expected, rtol=1e-5, atol=1e-5)


def test_no_prompts_trains_the_backbone_on_the_raw_later_frames(
    two_class_dataset: Path, tmp_path: Path
) -> None:
    settings = TrainSettings(str(two_class_dataset), str(tmp_path), epochs=2, frames=4, side=32, batch=4)
    baseline = TrainSettings(**{**settings.__dict__, "prompts": False})
    rows = train(baseline)[0.0]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert all(math.isnan(row[key]) for row in rows for key in ("R", "m", "n", "slope", "shift"))
    assert rows[-1]["loss"] == pytest.approx(rows[-1]["task_loss"])
    state = torch.load(tmp_path / "checkpoint.pyth", weights_only=True)["model_state"]
    assert "vmps.m" not in state and any(key.startswith("backbone.") for key in state)
    model = PromptedClassifier(TinyVideoNet(2), prompts=False)
    model.load_state_dict(state)
    video = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(model(video)[0], model.backbone(video[:, :, 1:]))
    with pytest.raises(InputError, match="--no-prompts"):
        train(TrainSettings(**{**baseline.__dict__, "penalty_weights": (1.0,)}))
    assert main([str(two_class_dataset), "--out", str(tmp_path / "b"), "--no-prompts", "--lambda", "2"]) == 2


def test_the_learning_rate_follows_half_a_cosine_over_the_epochs(
    two_class_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[float]] = []
    step = torch.optim.Adam.step

    def recording(self, *args, **kwargs):
        seen.append([group["lr"] for group in self.param_groups])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    settings = TrainSettings(str(two_class_dataset), str(tmp_path), epochs=4, frames=4, side=32, batch=8)
    train(settings)
    per_epoch = [seen[i] for i in range(0, len(seen), len(seen) // 4)]
    for epoch, rates in enumerate(per_epoch, start=1):
        factor = (1 + math.cos(math.pi * (epoch - 1) / 4)) / 2
        assert rates == pytest.approx([settings.lr * factor, settings.prompt_lr * factor])


def test_a_run_that_started_the_process_group_ends_it_and_leaves_a_callers_group(tmp_path: Path) -> None:
    """Exiting with gloo alive can abort at interpreter exit (a SIGABRT seen once in the 2-process test)."""
    import torch.distributed as dist

    import mp_core.train.loop as loop

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        loop._Process(0, 1, torch.device("cpu")).close()  # the caller's group: left alone
        assert dist.is_initialized()
        loop._Process(0, 1, torch.device("cpu"), owns_group=True).close()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
