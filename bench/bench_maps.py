"""The maps command on whole videos: --all-frames throughput (frames/s) at 640x360 per output format, and peak
memory for a short and a long clip of the same size (must not grow with length).

Run: .venv/bin/python bench/bench_maps.py [--quick]. Clips are encoded into a temporary folder first (a
panning texture, x264 ultrafast). Each measurement runs in a fresh subprocess; peak = the resident-size
high-water mark during write_maps minus the resident size before it (imports excluded). Medians over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_video import make_clip  # noqa: E402

RUN = """
import json, sys, time
from pathlib import Path
from mp_core.maps import Sampling, write_maps
video, out, formats, what = sys.argv[1:]

def resident(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key + ":"))

with open("/proc/self/clear_refs", "w") as file:
    file.write("5")  # reset the peak resident size (VmHWM) to the current one
before = resident("VmRSS")
start = time.perf_counter()
report = write_maps(video, out, sampling=Sampling(frames=None, max_side=None), formats=formats.split(","),
                    what=what.split(","), progress=False)
seconds = time.perf_counter() - start
assert report.ok, report.failed
pairs = json.loads(next(Path(out).rglob("stats.json")).read_text())["pairs"]
print(seconds, pairs, (resident("VmHWM") - before) / 1024)
"""


def measure(video: Path, formats: str, what: str, folder: Path) -> tuple[float, int, float]:
    out = folder / f"out-{video.stem}-{formats}-{what}".replace(",", "+")
    subprocess.run(["rm", "-rf", str(out)], check=True)
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(video), str(out), formats, what],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        raise SystemExit(f"{video.name} {formats} {what} failed:\n{result.stderr[-2000:]}")
    seconds, pairs, peak = result.stdout.split()
    return float(seconds), int(pairs), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    args = parser.parse_args()
    frames, repeats = (120, 1) if args.quick else (300, 3)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        short = make_clip(folder / "short.mp4", frames, 360, 640)
        long = make_clip(folder / "long.mp4", 4 * frames, 360, 640)
        print(f"--all-frames at 640x360 (stored size), {frames} frames, median of {repeats}:")
        for formats, what in (
            ("mp4", "attention"),
            ("mp4", "frame,difference,attention,prompt"),
            ("png,mp4", "frame,difference,attention,prompt"),
            ("npz", "attention"),
        ):
            runs = [measure(short, formats, what, folder) for _ in range(repeats)]
            seconds = statistics.median(r[0] for r in runs)
            print(f"  {formats:8s} {what:36s} {runs[0][1] / seconds:7.1f} pairs/s  ({seconds:.2f} s)")
        # MP4s of every stage (the npz of the long clip would be 5.5 GB at this size: its bounded memory is
        # measured by tests/mp_core/test_maps.py on a smaller clip).
        print("peak memory over the imports, MP4s of every stage, short vs 4x longer clip:")
        for video in (short, long):
            seconds, pairs, peak = measure(video, "mp4", "frame,difference,attention,prompt", folder)
            frames_mib = (pairs + 1) * 640 * 360 * 3 / 2**20
            print(
                f"  {pairs + 1:5d} frames: +{peak:6.1f} MiB peak (its frames: {frames_mib:.1f} MiB as uint8)"
            )


if __name__ == "__main__":
    main()
