"""Benchmark MotionPromptLayer against a literal implementation of the paper and a plain copy_.

Run: ``.venv/bin/python bench/bench_layer.py`` (about 3-4 minutes on 2 CPU cores) or ``--quick``.

What is measured, in one run and interleaved (ours / literal / copy_ in rotation, so a noisy neighbour
slows all three alike): medians and minima over repeats of

* ``fwd``: forward under ``torch.no_grad()`` with λ = 0 (inference; the reference skips R there too);
* ``fwd+bwd``: forward and backward with λ = 1 and m, n learnable, the training case (the video is data
  and needs no gradient); ``fwd+bwd+dx`` also asks for the gradient of the video;
* ``copy_``: ``dst.copy_(video)`` into a preallocated tensor, the memory-bandwidth floor;
* ``clone``: ``video[:, :, 1:].clone()``, the floor of any op that returns a fresh tensor of the prompts'
  size (allocation and first touch of its pages included).

Peak extra memory of a forward: on CPU each implementation runs once in a fresh subprocess, and the peak
resident set size (``VmHWM`` of ``/proc/self/status``, reset through ``/proc/self/clear_refs``) minus the
resident size before the call is reported, with the output's own size for comparison. This sees every
allocation (torch's CPU allocator returns large blocks to the OS, so RSS follows it), at page
granularity. On CUDA it is ``torch.cuda.max_memory_allocated()`` minus the memory held before the call.

``THP_MEM_ALLOC_ENABLE=1`` (transparent huge pages for torch's CPU allocator) is set unless already set
(``--no-thp`` turns it off): page faults on fresh allocations dominate allocation-bound timings here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

if "--no-thp" not in sys.argv:
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch  # after the allocator setting: torch reads it when the allocator starts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mp_core.layer import MotionPromptLayer

SHAPES = [(8, 3, 9, 224, 224), (1, 3, 65, 224, 224), (1, 3, 33, 480, 640)]
MEAN, STD = 0.45, 0.225
M, N = 1.05, -2.67


class LiteralVMPs(torch.nn.Module):
    """The paper step by step, on the reference's input convention (BCTHW, BGR, mean 0.45, std 0.225)."""

    def __init__(self, penalty_weight: float) -> None:
        super().__init__()
        self.m = torch.nn.Parameter(torch.tensor([M]))
        self.n = torch.nn.Parameter(torch.tensor([N]))
        self.penalty_weight = penalty_weight

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | float]:
        frames = video.permute(0, 2, 1, 3, 4)  # B, T, C, H, W
        pixels = frames * STD + MEAN  # back to [0, 1]
        blue, green, red = pixels.unbind(2)
        gray = 0.299 * red + 0.587 * green + 0.114 * blue  # 1. grayscale
        diff = gray[:, 1:] - gray[:, :-1]  # 2. signed frame difference
        slope = 5 / (0.45 * torch.tanh(self.m).abs() + 0.1)
        shift = 0.6 * torch.tanh(self.n)
        attention = torch.sigmoid(slope * (diff - shift))  # 3. power normalization
        prompts = attention.unsqueeze(2).repeat(1, 1, 3, 1, 1) * frames[:, 1:]  # 4. Hadamard prompt
        reg: torch.Tensor | float = 0.0
        if torch.is_grad_enabled():  # 5. temporal attention variation
            batch, time_, height, width = gray.shape
            step = attention[:, 1:] - attention[:, :-1]
            reg = self.penalty_weight * step.pow(2).sum() / (batch * height * width * (time_ - 2))
        return prompts.permute(0, 2, 1, 3, 4), reg


def ours(penalty_weight: float) -> MotionPromptLayer:
    layer = MotionPromptLayer(penalty_weight)
    layer.load_state_dict({"m": torch.tensor([M]), "n": torch.tensor([N])})
    return layer


def make_video(shape: tuple[int, ...], device: str) -> torch.Tensor:
    gen = torch.Generator(device=device).manual_seed(0)
    pixels = torch.rand(shape, generator=gen, device=device)
    return pixels.sub_(MEAN).div_(STD)


def timed(fn: Callable[[], object], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def cases(shape: tuple[int, ...], device: str) -> dict[str, dict[str, Callable[[], object]]]:
    """mode -> {implementation -> a call}; every call of a mode does the same work."""
    video = make_video(shape, device)
    dst = torch.empty_like(video)
    grad = torch.ones_like(video[:, :, 1:])
    fast0, literal0 = ours(0.0).to(device), LiteralVMPs(0.0).to(device)
    fast1, literal1 = ours(1.0).to(device), LiteralVMPs(1.0).to(device)
    video_dx = video.detach().clone().requires_grad_(True)

    def forward(layer: torch.nn.Module) -> Callable[[], object]:
        def call() -> object:
            with torch.no_grad():
                return layer(video)

        return call

    def train(layer: torch.nn.Module, source: torch.Tensor) -> Callable[[], object]:
        def call() -> None:
            layer.zero_grad(set_to_none=True)
            source.grad = None
            prompts, reg = layer(source)
            torch.autograd.backward([prompts, reg], [grad, torch.ones_like(reg)])

        return call

    def copy() -> object:
        return dst.copy_(video)

    def clone() -> object:  # a fresh output of the prompts' size: allocation and first touch included
        return video[:, :, 1:].clone()

    floors = {"copy_": copy, "clone": clone}
    return {
        "fwd": {"ours": forward(fast0), "literal": forward(literal0), **floors},
        "fwd+bwd": {"ours": train(fast1, video), "literal": train(literal1, video), **floors},
        "fwd+bwd+dx": {"ours": train(fast1, video_dx), "literal": train(literal1, video_dx), **floors},
    }


def measure(calls: dict[str, Callable[[], object]], device: str, repeats: int) -> dict[str, list[float]]:
    for call in calls.values():  # warm-up
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(timed(call, device))
    return times


def peak_extra_cpu(impl: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(peak extra MiB of one no-grad forward, output MiB), measured in a fresh process."""
    code = f"""
import sys, torch
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_layer import LiteralVMPs, make_video, ours
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
layer = ours(0.0) if {impl!r} == 'ours' else LiteralVMPs(0.0)
with torch.no_grad():
    layer(make_video((1, 3, 3, 8, 8), 'cpu'))  # load kernels and thread pools first
    video = make_video({shape!r}, 'cpu')
    open('/proc/self/clear_refs', 'w').write('5')
    before = status('VmRSS')
    prompts, _ = layer(video)
    peak = status('VmHWM')
print(peak - before, prompts.numel() * prompts.element_size() / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    extra, output = out.stdout.split()
    return float(extra), float(output)


def peak_extra_cuda(layer: torch.nn.Module, shape: tuple[int, ...]) -> tuple[float, float]:
    video = make_video(shape, "cuda")
    with torch.no_grad():
        layer(video[:, :, :3])
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        prompts, _ = layer(video)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    return (peak - before) / 2**20, prompts.numel() * prompts.element_size() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="first shape only, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per implementation")
    parser.add_argument("--no-thp", action="store_true", help="leave THP_MEM_ALLOC_ENABLE unset")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = parser.parse_args()
    shapes = SHAPES[:1] if args.quick else SHAPES
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', '(unset)')}"
    )
    if not torch.cuda.is_available():
        print("CUDA: not available, GPU rows skipped")
    header = (
        f"{'device':6} {'B,C,T,H,W':18} {'mode':11} {'ours ms':>15} {'literal ms':>15} "
        f"{'copy_ ms':>13} {'clone ms':>8} {'lit/ours':>8} {'ours/copy':>9} {'ours/clone':>10}"
    )
    print("times: median (min)")
    print(header)
    print("-" * len(header))
    for device in devices:
        for shape in shapes:
            big = shape[2] * shape[3] * shape[4] > 4_000_000
            repeats = args.repeats or (3 if args.quick else (5 if big else 9))
            if device == "cuda":
                repeats = args.repeats or 30
            for mode, calls in cases(shape, device).items():
                times = measure(calls, device, repeats)
                med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
                low = {k: min(v) * 1e3 for k, v in times.items()}
                cells = [f"{med[k]:7.2f} ({low[k]:6.2f})" for k in ("ours", "literal")]
                print(
                    f"{device:6} {','.join(map(str, shape)):18} {mode:11} {cells[0]:>15} {cells[1]:>15} "
                    f"{med['copy_']:6.2f} ({low['copy_']:5.2f}) {med['clone']:8.2f} "
                    f"{med['literal'] / med['ours']:7.1f}x {med['ours'] / med['copy_']:8.2f}x "
                    f"{med['ours'] / med['clone']:9.2f}x",
                    flush=True,
                )
    if args.no_memory:
        return
    print("\npeak extra memory of one no-grad forward (MiB), ratio to the output's size")
    for device in devices:
        for shape in shapes:
            if device == "cpu":
                got = {impl: peak_extra_cpu(impl, shape) for impl in ("ours", "literal")}
            else:
                got = {
                    "ours": peak_extra_cuda(ours(0.0).cuda(), shape),
                    "literal": peak_extra_cuda(LiteralVMPs(0.0).cuda(), shape),
                }
            output = got["ours"][1]
            print(
                f"{device:6} {','.join(map(str, shape)):18} output {output:7.1f}   "
                f"ours {got['ours'][0]:7.1f} ({got['ours'][0] / output:4.2f}x)   "
                f"literal {got['literal'][0]:7.1f} ({got['literal'][0] / output:4.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
