"""Training bench (issue 19): a λ sweep on the demo dataset, the layer's share of an epoch, decoding once,
and torchrun with 2 processes against 1.

    .venv/bin/python bench/bench_train.py [--clips 48] [--seeds 0,1,2] [--quick]

Prints each figure beside its target. Wall times on a shared machine move with the load: the child's CPU
seconds are printed beside them. The layer's share is measured twice: epochs of the real command with the
layer against ``--no-prompts`` (the same backbone on the raw later frames), runs alternated; and a ratio of
medians of interleaved training steps.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mp_core.synthetic import make_demo_dataset  # noqa: E402
from mp_core.train import PromptedClassifier, TinyVideoNet, read_metrics, to_model_input  # noqa: E402
from mp_core.train.data import ClipTensors  # noqa: E402


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _command(*args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command; wall seconds and CPU seconds of its processes."""
    cpu, began = _child_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return time.perf_counter() - began, _child_cpu() - cpu


def sweep(dataset: Path, out: Path, epochs: int | None, seed: int) -> None:
    extra = ["--epochs", str(epochs)] if epochs else []
    command = ["-m", "mp_core.train", str(dataset), "--out", str(out), "--lambda", "0,1,10"]
    wall, cpu = _command(*command, "--seed", str(seed), *extra)
    print(
        f"\nλ sweep 0, 1, 10 from the command, seed {seed}: {wall:.0f} s wall, {cpu:.0f} s CPU "
        "(target <= 180 s)"
    )
    finals = {}
    for weight in ("0", "1", "10"):
        rows = read_metrics(out / f"lambda-{weight}")
        first, last = rows[0], rows[-1]
        finals[weight] = last
        epoch_s = statistics.median(r["seconds"] for r in rows)
        print(
            f"  λ={weight:>2}: val accuracy {last['val_accuracy']:.0%} (target >= 80%), m {0.257:.3f} -> "
            f"{last['m']:.3f}, n {0.053:.3f} -> {last['n']:.3f}, R last epoch {last['R']:.5f}, "
            f"epoch median {epoch_s:.1f} s (first {first['seconds']:.1f} s)"
        )
    lower = finals["10"]["R"] < finals["0"]["R"]
    print(f"  R at λ=10 {'<' if lower else '>='} R at λ=0: {'met' if lower else 'NOT met'}")


def _step(model: torch.nn.Module, video: torch.Tensor, labels: torch.Tensor, optimizer) -> None:
    """One training step; with the layer the loss is CE + 1·R, as in the λ = 1 runs."""
    out = model(video)
    logits, variation = out if isinstance(out, tuple) else (out, 0.0)
    loss = F.cross_entropy(logits, labels) + variation
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def epoch_share(dataset: Path, clips: Path, out: Path, epochs: int, rounds: int) -> None:
    """Epochs of the command with the layer (λ = 1) against ``--no-prompts``, in adjacent pairs of runs.

    Every run starts from a copy of the decoded clips, so no run decodes; epoch 1 is left out. The ratio of
    each pair is taken from runs made one after the other, so a load that drifts between pairs cancels.
    """
    ratios, seconds = [], {"layer": [], "raw": []}
    for index in range(rounds):
        pair = {}
        for name, flags in (("layer", ["--lambda", "1"]), ("raw", ["--no-prompts"])):
            folder = out / f"{name}-{index}"
            folder.mkdir(parents=True)
            shutil.copy(clips, folder / clips.name)
            _command(
                "-m", "mp_core.train", str(dataset), "--out", str(folder), "--epochs", str(epochs), *flags
            )
            pair[name] = [row["seconds"] for row in read_metrics(folder)[1:]]
            seconds[name] += pair[name]
        ratios.append(statistics.median(pair["layer"]) / statistics.median(pair["raw"]))
    a, b = statistics.median(seconds["layer"]), statistics.median(seconds["raw"])
    print(
        f"\nepoch with the layer {a:.2f} s, backbone on raw later frames (--no-prompts) {b:.2f} s (medians "
        f"of {len(seconds['layer'])} epochs each): ratio {a / b:.2f}; per pair of adjacent runs "
        f"{', '.join(f'{r:.2f}' for r in ratios)}: median {statistics.median(ratios):.2f} (target <= 1.2)"
    )


def layer_share(cache: Path, batch: int, rounds: int) -> None:
    """Steps of the prompted model against the same backbone fed the raw later frames, interleaved."""
    data = ClipTensors.load(cache)
    torch.manual_seed(0)
    prompted = PromptedClassifier(TinyVideoNet(len(data.classes)))
    plain = TinyVideoNet(len(data.classes))
    opt_a = torch.optim.Adam(prompted.parameters(), 1e-3)
    opt_b = torch.optim.Adam(plain.parameters(), 1e-3)
    plain_grad = TinyVideoNet(len(data.classes))
    opt_c = torch.optim.Adam(plain_grad.parameters(), 1e-3)
    with_layer, without, with_input_grad = [], [], []
    for index in range(rounds):
        chosen = torch.randint(0, len(data.labels), (batch,), generator=torch.Generator().manual_seed(index))
        labels = data.labels[chosen]
        began = time.perf_counter()
        _step(prompted, to_model_input(data.clips[chosen]), labels, opt_a)
        with_layer.append(time.perf_counter() - began)
        began = time.perf_counter()
        _step(plain, to_model_input(data.clips[chosen])[:, :, 1:], labels, opt_b)  # the raw later frames
        without.append(time.perf_counter() - began)
        began = time.perf_counter()  # the same, but the frames need a gradient, as the prompts do for m, n
        _step(plain_grad, to_model_input(data.clips[chosen])[:, :, 1:].requires_grad_(), labels, opt_c)
        with_input_grad.append(time.perf_counter() - began)
    a, b = statistics.median(with_layer), statistics.median(without)
    c = statistics.median(with_input_grad)
    print(
        f"\nstep with the layer {a * 1e3:.0f} ms, backbone on raw frames {b * 1e3:.0f} ms (medians of "
        f"{rounds} interleaved, batch {batch}): ratio {a / b:.2f} (target <= 1.2)"
    )
    print(
        f"  backbone on raw frames that need a gradient (what learning m, n asks of the backbone: the first "
        f"convolution's input gradient) {c * 1e3:.0f} ms: the layer's own share {a / c:.2f}"
    )


def decoding_once(dataset: Path, out: Path) -> None:
    """Count decodes through a run of 2 epochs and a resumed run of 1 more."""
    import mp_core.sampling
    from mp_core.train import TrainSettings, train

    calls = []
    original = mp_core.sampling.read_sampled

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    mp_core.sampling.read_sampled = counting
    try:
        train(TrainSettings(str(dataset), str(out), (0.0,), epochs=2))
        first = len(calls)
        train(TrainSettings(str(dataset), str(out), (0.0,), epochs=3, resume=True))
    finally:
        mp_core.sampling.read_sampled = original
    print(f"\ndecodes: {first} in a 2-epoch run (one per clip), {len(calls) - first} in the resumed epoch 3")


def processes(dataset: Path, out: Path, epochs: int) -> None:
    common = [str(dataset), "--epochs", str(epochs), "--lambda", "1", "--device", "cpu"]
    one_wall, _ = _command(
        "-m", "mp_core.train", *common, "--out", str(out / "one"), env={"OMP_NUM_THREADS": "2"}
    )
    two_wall, _ = _command(
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "mp_core.train", *common, "--out", str(out / "two"),
    )  # fmt: skip
    one, two = read_metrics(out / "one"), read_metrics(out / "two")
    dm, dn = abs(one[-1]["m"] - two[-1]["m"]), abs(one[-1]["n"] - two[-1]["n"])
    print(
        f"\ntorchrun 2 processes vs 1: |Δm| {dm:.1e}, |Δn| {dn:.1e} (target <= 1e-4); epoch median "
        f"{statistics.median(r['seconds'] for r in two):.1f} s (2 processes, 1 thread each) vs "
        f"{statistics.median(r['seconds'] for r in one):.1f} s (1 process, 2 threads); wall {two_wall:.0f} s "
        f"vs {one_wall:.0f} s with start-up"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48, help="demo clips per class (48)")
    parser.add_argument("--seeds", default="0", help="λ sweeps to run, one per seed (0)")
    parser.add_argument("--quick", action="store_true", help="3 epochs per λ (a smoke run, not the targets)")
    args = parser.parse_args()
    cache = Path(os.environ.get("MP_CACHE_DIR", Path.home() / ".cache" / "motion-prompt-explorer"))
    began = time.perf_counter()
    dataset = make_demo_dataset(cache / f"learn-demo-{args.clips}", clips_per_class=args.clips)
    print(f"demo dataset, {args.clips} clips x 5 classes: {time.perf_counter() - began:.1f} s (made once)")
    threads, load = torch.get_num_threads(), os.getloadavg()
    print(f"torch {torch.__version__}, {threads} threads, {os.cpu_count()} CPUs, load average {load}")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for seed in (int(part) for part in args.seeds.split(",")):
            sweep(dataset, out / f"sweep-{seed}", 3 if args.quick else None, seed)
        clips = next(out.glob("sweep-*/clips-8f-64px.pt"))
        epoch_share(
            dataset, clips, out / "epochs", epochs=3 if args.quick else 8, rounds=2 if args.quick else 3
        )
        layer_share(clips, batch=8, rounds=10 if args.quick else 30)
        decoding_once(dataset, out / "decode")
        processes(dataset, out / "ddp", epochs=2)
    print(f"\nload average at the end {os.getloadavg()} (a machine shared with other engineers' work)")


if __name__ == "__main__":
    main()
