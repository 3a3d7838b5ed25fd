"""Dataset report throughput: the local engine against decoding alone, and the Ray engine with its start-up.

Run: .venv/bin/python bench/bench_report.py [--clips 200] [--workers N] [--repeats 3] [--no-ray]

The dataset (``--clips`` H.264 MP4s of 320x240, 75 frames at 25 fps: an HMDB-51-sized clip) is made once
into bench/out/report-dataset/ and reused. To keep that first run short, 20 synthetic clips are encoded and
each is copied under several names: every file is still opened and decoded in full by every run.

Figures (medians over ``--repeats`` interleaved runs, each end to end with its process pool's start):
- decode only: the report's exact decode (``VideoDataset.read(..., uniform=True)``: 16 frames, longer side
  224) in the same pool of ``--workers`` processes, nothing computed;
- report: ``run_report`` with the local engine and one, then four parameter sets, into a fresh file;
- Ray: ``ray.init`` time, a one-clip report (the fixed cost of a Ray Data run: actor start, imports) and the
  whole report on a Ray started once (samples/s, and samples/s after the fixed cost).
Target: report throughput >= 0.8x decode-only throughput.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mp_core.datasets import VideoDataset, open_dataset
from mp_core.report import run_report
from mp_core.report.engines import local_rows
from mp_core.report.rows import ReportContext, SampleTask
from mp_core.specs import default_spec
from mp_core.synthetic import synthetic_clip
from mp_core.video_io import write_video

OUT = Path(__file__).resolve().parent / "out"
FOUR = ["FineGym", "HMDB-51", "MPII Cooking 2", "UCF-Crime"]


def make_dataset(folder: Path, clips: int, unique: int = 20) -> Path:
    """``clips`` files in 5 class folders; ``unique`` encodes, the rest are copies under other names."""
    marker = folder / f".complete-{clips}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    sources = []
    started = time.perf_counter()
    for index in range(min(unique, clips)):
        label = f"class_{index % 5}"
        path = folder / label / f"clip_{index:04d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        sample = synthetic_clip(num_frames=75, height=240, width=320, num_objects=1 + index % 3, noise=0.01,
                                jitter=float(index % 4 == 0) * 2, seed=index)  # fmt: skip
        write_video(path, sample.clip.frames, 25.0, qp=23)
        sources.append(path)
    for index in range(len(sources), clips):
        source = sources[index % len(sources)]
        shutil.copyfile(source, source.parent / f"clip_{index:04d}.mp4")
    marker.touch()
    print(f"made {clips} clips in {folder} ({time.perf_counter() - started:.0f} s)")
    return folder


def decode_only(context: ReportContext, task: SampleTask) -> list[dict]:
    """The report's decode of one sample, and nothing else (run in the pool's workers)."""
    dataset = VideoDataset(Path(context.root), context.kind, ())
    dataset.read(task.key, num_frames=context.frames, uniform=True, max_side=context.max_side)
    return [{}]


def time_decode(root: Path, workers: int) -> float:
    listing = open_dataset(root)
    context = ReportContext(str(root), listing.kind, (default_spec(),), 16, 224)
    tasks = [SampleTask(s.key, s.label, s.split, (0,)) for s in listing]
    started = time.perf_counter()
    count = sum(len(rows) for rows in local_rows(context, tasks, workers, work=decode_only))
    assert count == len(tasks)
    return time.perf_counter() - started


def time_report(root: Path, workers: int, params: list[str], engine: str = "local") -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = run_report(root, Path(folder) / "r.parquet", params, engine=engine, workers=workers)
        elapsed = time.perf_counter() - started
    assert summary.errors == 0 and summary.rows_computed == summary.rows_total, summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    root = make_dataset(OUT / "report-dataset", args.clips)
    n = args.clips
    print(f"{n} clips (320x240, 75 frames), 16 frames each at longer side 224, {args.workers} workers")

    times: dict[str, list[float]] = {"decode only": [], "report, 1 params": [], "report, 4 params": []}
    for _ in range(args.repeats):  # interleaved: the machine's noise hits all three alike
        times["decode only"].append(time_decode(root, args.workers))
        times["report, 1 params"].append(time_report(root, args.workers, ["FineGym"]))
        times["report, 4 params"].append(time_report(root, args.workers, FOUR))
    rate = {name: n / statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"  {name:18s} median {statistics.median(values):6.2f} s  min {min(values):6.2f} s  "
              f"{rate[name]:6.1f} samples/s")  # fmt: skip
    ratio = rate["report, 1 params"] / rate["decode only"]
    verdict = "ok" if ratio >= 0.8 else "MISSED"
    print(f"  report / decode-only throughput: {ratio:.2f}x (target >= 0.8x): {verdict}")
    print(f"  4 params / decode-only: {rate['report, 4 params'] / rate['decode only']:.2f}x")

    if args.no_ray:
        return
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})  # fmt: skip
    init_seconds = time.perf_counter() - started
    try:
        one = tempfile.mkdtemp()
        (Path(one) / "c").mkdir()
        shutil.copyfile(next(root.glob("*/*.mp4")), Path(one) / "c" / "x.mp4")
        fixed = [time_report(Path(one), args.workers, ["FineGym"], "ray") for _ in range(args.repeats)]
        whole = [time_report(root, args.workers, ["FineGym"], "ray") for _ in range(args.repeats)]
        shutil.rmtree(one)
    finally:
        ray.shutdown()
    fixed_s, whole_s = statistics.median(fixed), statistics.median(whole)
    print(f"  ray.init (local, {args.workers} CPUs): {init_seconds:.1f} s")
    print(f"  ray, one-clip report (fixed cost per run): median {fixed_s:.1f} s")
    print(f"  ray, {n} clips: median {whole_s:.2f} s, {n / whole_s:.1f} samples/s end to end, "
          f"{n / max(whole_s - fixed_s, 1e-9):.1f} samples/s after the fixed cost "
          f"({n / whole_s / rate['report, 1 params']:.2f}x the local engine)")  # fmt: skip


if __name__ == "__main__":
    main()
