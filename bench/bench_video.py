"""Video I/O figures: decode frames/s (PyAV default threading vs AUTO), time to the first frame after a seek,
H.264 export frames/s, peak RSS while reading 64 frames of a long 1080p clip, listing 10,000 samples, and the
first panels of long uploads (16 frames sampled uniformly, as the app opens a clip; target 3 s for a
10-minute 1080p video).

The long clips (10 min 1080p with a keyframe every second as phones record, 5 min 360p with x264's default
keyframe interval of 250 frames) are encoded once into ~/.cache/motion-prompt-explorer/bench (minutes).

Run: .venv/bin/python bench/bench_video.py [--quick]. Test clips are encoded into a temporary folder first
(textured, moving content so the decoder does real work). Medians and minima over repeats, interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mp_core.datasets import open_dataset
from mp_core.video_io import distinct_frames, probe, read_clip, read_clip_uniform, write_video
from mp_core.viz.clip_view import prepare_clip
from ui.samples import list_samples


def make_clip(
    path: Path, frames: int, height: int, width: int, fps: int = 30, gop: int | None = None
) -> Path:
    """A panning textured scene, encoded fast (ultrafast preset) to keep the bench short."""
    rng = np.random.default_rng(0)
    span = min(frames, 400)  # long clips pan back and forth over 400 frames' worth of texture
    texture = rng.integers(0, 256, (height // 8 + 1, (width + 4 * span) // 8 + 1, 3), dtype=np.uint8)
    texture = texture.repeat(8, 0).repeat(8, 1)
    rate = Fraction(fps)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        if gop is not None:
            stream.codec_context.gop_size = gop
        for t in range(frames):
            shift = 4 * (t % (frames if width + 4 * frames <= texture.shape[1] else 400))
            image = np.ascontiguousarray(texture[:height, shift : shift + width])
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, stream.codec_context.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "motion-prompt-explorer" / "bench"


def cached_clip(name: str, frames: int, height: int, width: int, gop: int | None) -> Path:
    """A long clip made once and kept between runs (not in the repository)."""
    path = CACHE / name
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"  encoding {name} once ({frames} frames {width}x{height}) ...", flush=True)
        make_clip(path.with_suffix(".part.mp4"), frames, height, width, gop=gop).replace(path)
    return path


def first_panels(path: Path) -> None:
    """What the app does on opening a clip: 16 frames sampled uniformly at max side 320, tensors ready."""
    clip = distinct_frames(read_clip_uniform(path, 16, max_side=320))
    prepare_clip(clip, "cpu", path.name)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:8.1f} ms  min {min(values) * 1e3:8.1f} ms"


RSS_CHILD = """
import sys, resource
sys.path.insert(0, {root!r})
import torch  # imported before the baseline: the figure is the reading, not the import
from mp_core.video_io import read_clip, probe
def rss_kb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
def hwm_kb():
    return int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1])
probe({path!r})
open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark
before = rss_kb()
clip = read_clip({path!r}, max_frames=64)
print(before, hwm_kb(), clip.frames.numel(), clip.frames.shape[0])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter clips and fewer repeats")
    parser.add_argument("--skip-long", action="store_true", help="skip the long uploads (minutes to encode)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    if not args.skip_long:
        print("first panels of a long upload (16 frames uniform, max side 320, tensors ready)")
        for name, frames, height, width, gop, target in (
            ("long_1080p_10min_gop30.mp4", 18_000, 1080, 1920, 30, 3.0),
            ("long_360p_5min_gop250.mp4", 9_000, 360, 640, None, None),
        ):
            path = cached_clip(name, frames, height, width, gop)
            values = timed(lambda p=path: first_panels(p), repeats)
            verdict = "" if target is None else f"  (target {target:.0f} s: "
            if target is not None:
                verdict += f"{'meets' if statistics.median(values) <= target else 'MISSES'})"
            print(f"  {name:28s} {path.stat().st_size / 2**20:6.0f} MiB  {summary(values)}{verdict}")
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print("encoding test clips ...", flush=True)
        vga = make_clip(tmp / "vga.mp4", 120, 480, 640)
        hd = make_clip(tmp / "hd.mp4", 120 if args.quick else 300, 720, 1280)
        full_hd = make_clip(tmp / "fullhd.mp4", 200 if args.quick else 600, 1080, 1920)

        print("\ndecode to RGB uint8 (all frames), interleaved default vs AUTO threading")
        shipped = [
            (f"{s.name} (shipped)", s.path) for s in list_samples() if s.name in ("pen_coin", "hand_cup")
        ]
        for name, path in [("640x480 (ultrafast)", vga), ("1280x720 (ultrafast)", hd), *shipped]:
            results: dict[str, list[float]] = {"default": [], "AUTO": []}
            frames = read_clip(path).frames.shape[0]
            for _ in range(repeats):
                for mode in results:
                    thread_type = None if mode == "default" else "AUTO"
                    results[mode] += timed(lambda p=path, tt=thread_type: read_clip(p, thread_type=tt), 1)
            fps = {mode: frames / statistics.median(v) for mode, v in results.items()}
            print(
                f"  {name:22s} default {fps['default']:7.0f} frames/s   AUTO {fps['AUTO']:7.0f} frames/s   "
                f"default/AUTO {fps['default'] / fps['AUTO']:.2f}x"
            )

        print("\ntime to the first frame at a seek target (720p, keyframe every 250 frames)")
        for target in (2.0, 3.5) if args.quick else (2.0, 7.5):
            values = timed(lambda t=target: read_clip(hd, start=t, max_frames=1), repeats)
            print(f"  start={target:4.1f} s  {summary(values)}")
        values = timed(lambda: read_clip(hd, max_frames=1), repeats)
        print(f"  start= 0.0 s  {summary(values)}")
        values = timed(lambda: probe(full_hd), repeats)
        print(f"  probe (headers + first frame), 1080p: {summary(values)}")

        print("\nH.264 export (yuv420p, CRF 20, faststart)")
        frames = read_clip(vga, max_frames=64).frames
        values = timed(lambda: write_video(tmp / "out.mp4", frames, 30), repeats)
        print(f"  64 frames 640x480: {64 / statistics.median(values):6.0f} frames/s  ({summary(values)})")
        small = read_clip(vga, max_frames=64, max_side=224).frames
        values = timed(lambda: write_video(tmp / "out.mp4", small, 30), repeats)
        shape = f"{small.shape[2]}x{small.shape[1]}"
        print(f"  64 frames {shape}: {64 / statistics.median(values):6.0f} frames/s  ({summary(values)})")

        print("\npeak RSS while reading 64 frames of a long 1080p clip (fresh process)")
        child = RSS_CHILD.format(root=str(root), path=str(full_hd))
        out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
        before, peak, numel, kept = map(int, out.stdout.split())
        growth, frames_mb = (peak - before) / 1024, numel / 2**20
        print(f"  clip: {full_hd.stat().st_size / 2**20:.1f} MB on disk, {200 if args.quick else 600} frames")
        print(
            f"  kept {kept} frames = {frames_mb:.0f} MiB; peak RSS growth {growth:.0f} MiB "
            f"({growth / frames_mb:.2f}x the frames kept)"
        )

        print("\nlisting a dataset of 10,000 split-list samples (nothing decoded)")
        (tmp / "clips" / "a").mkdir(parents=True)
        (tmp / "clips" / "a" / "x.mp4").write_bytes(vga.read_bytes())
        lines = "\n".join(f"clips/a/x.mp4 {i % 101}" for i in range(10_000))
        (tmp / "train.csv").write_text(lines)
        values = timed(lambda: open_dataset(tmp), repeats)
        print(f"  open_dataset: {summary(values)}   (target < 2 s)")


if __name__ == "__main__":
    main()
