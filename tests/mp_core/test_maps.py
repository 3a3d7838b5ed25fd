"""The maps command (``python -m mp_core.maps`` / ``write_maps``) and the streaming video reader and writer.

Truths are computed here, independently of mp_core: frames decoded with PyAV directly, then gray, difference,
sigmoid, prompt and statistics in float64 numpy; colormaps taken from matplotlib. mp_core works in float32,
so values agree to 1e-5 (attention: the slope, at most 50, amplifies float32 rounding of the difference).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import matplotlib
import numpy as np
import pytest
from PIL import Image

from mp_core.maps import Sampling, write_maps
from mp_core.maps.__main__ import main as maps_main
from mp_core.video_io import read_clip
from mp_core.video_stream import VideoWriter, iter_frames
from tests.helpers_video import make_video

REPO = Path(__file__).resolve().parents[2]
ATOL = 1e-5


def textured_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture panning right 1 px a frame plus a bright square moving 3 px a frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, (height // 4 + 1, (width + num_frames) // 4 + 2, 3), dtype=np.uint8)
    texture = coarse.repeat(4, 0).repeat(4, 1)
    frames = np.stack([texture[:height, t : t + width] for t in range(num_frames)]).copy()
    for t in range(num_frames):
        x = (3 * t) % (width - 8)
        frames[t, 4:12, x : x + 8] = 250
    return frames


def decode_all(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every frame as uint8 RGB and its time in seconds, with PyAV alone."""
    frames, times = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
    return np.stack(frames), np.asarray(times)


def expected_maps(frames: np.ndarray, m: float, n: float) -> dict[str, np.ndarray | float]:
    """The paper's steps in float64 on uint8 frames (T, H, W, 3)."""
    x = frames.astype(np.float64) / 255.0
    gray = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    difference = gray[1:] - gray[:-1]
    slope, shift = 5.0 / (0.45 * abs(math.tanh(m)) + 0.1), 0.6 * math.tanh(n)
    attention = 1.0 / (1.0 + np.exp(-slope * (difference - shift)))
    steps = ((attention[1:] - attention[:-1]) ** 2).mean(axis=(1, 2))
    return {
        "difference": difference,
        "attention": attention,
        "prompt": attention[..., None] * x[1:],
        "slope": slope,
        "shift": shift,
        "variation": steps,
        "R": float(steps.mean()) if steps.size else 0.0,
        "mean_attention": float(attention.mean()),
        "share_above_half": float((attention > 0.5).mean()),
        "limit": float(np.abs(difference).max()),
    }


def colormap(values: np.ndarray, name: str, vmin: float, vmax: float) -> np.ndarray:
    table = matplotlib.colormaps[name](np.linspace(0, 1, 256), bytes=True)[:, :3]
    index = np.clip(np.round((values - vmin) / (vmax - vmin) * 255), 0, 255).astype(int)
    return table[index]


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(float) @ np.array([0.299, 0.587, 0.114])


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def mp4_frames(path: Path) -> tuple[np.ndarray, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pix_fmt = stream.codec_context.name, stream.codec_context.pix_fmt
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    return frames, codec, pix_fmt


def assert_stats(stats: dict, truth: dict, pixels: int) -> None:
    # A pixel within float32 rounding of 0.5 may fall either side of the threshold.
    ambiguous = float((np.abs(truth["attention"] - 0.5) < 1e-5).sum()) / pixels
    assert abs(stats["share_above_half"] - truth["share_above_half"]) <= ambiguous + 1e-12
    assert stats["mean_attention"] == pytest.approx(truth["mean_attention"], abs=1e-6)
    assert stats["R"] == pytest.approx(truth["R"], rel=1e-4, abs=1e-9)


@pytest.fixture(scope="module")
def clip40(tmp_path_factory) -> Path:
    """40 frames, 48x64, 25 fps."""
    return make_video(tmp_path_factory.mktemp("v") / "pan.mp4", textured_frames(40, 48, 64), fps=25)


def test_default_sampling_npz_matches_the_formula(clip40, tmp_path):
    """16 frames uniform over the clip (PySlowFast's sampler), every number of the npz against float64."""
    report = write_maps(clip40, tmp_path, params=["HMDB-51"], formats=["npz"], progress=False)
    assert report.ok and report.written == [tmp_path / "pan" / "HMDB-51"]
    decoded, times = decode_all(clip40)
    targets = np.linspace(0, (len(decoded) - 1) / 25, 16)
    index = np.floor(targets * 25 + 1e-6).astype(int)
    truth = expected_maps(decoded[index], 0.2646, -0.6615)

    npz = np.load(tmp_path / "pan" / "HMDB-51" / "maps.npz")
    np.testing.assert_allclose(npz["timestamps"], times[index], atol=1e-9)
    assert npz["difference"].dtype == npz["attention"].dtype == npz["prompt"].dtype == np.float32
    assert npz["difference"].shape == npz["attention"].shape == (15, 48, 64)
    assert npz["prompt"].shape == (15, 48, 64, 3)
    for key in ("difference", "attention", "prompt", "variation"):
        np.testing.assert_allclose(npz[key], truth[key], atol=ATOL, rtol=0)
    assert npz["prompt"].min() >= 0.0 and npz["prompt"].max() <= 1.0
    assert (float(npz["m"]), float(npz["n"])) == (0.2646, -0.6615)
    assert float(npz["slope"]) == pytest.approx(truth["slope"], rel=1e-12)
    assert float(npz["shift"]) == pytest.approx(truth["shift"], rel=1e-12)

    stats = json.loads((tmp_path / "pan" / "HMDB-51" / "stats.json").read_text())
    assert_stats(stats, truth, truth["attention"].size)
    assert stats["frames"] == 16 and stats["pairs"] == 15
    assert stats["difference_limit"] == pytest.approx(truth["limit"], abs=1e-6)
    np.testing.assert_allclose(stats["frame_times"], times[index], atol=1e-6)


def test_all_frames_in_chunks_match_the_whole_clip(clip40, tmp_path):
    """Chunks of 6 frames: no pair and no attention step lost at chunk boundaries; colour range over all."""
    sampling = Sampling(frames=None, start=0.2, end=1.3, stride=2)
    report = write_maps(
        clip40, tmp_path, params=["m=0,n=0"], sampling=sampling, formats=["png", "npz"], chunk_frames=6,
        what=["difference", "attention"], progress=False,
    )  # fmt: skip
    assert report.ok
    decoded, times = decode_all(clip40)
    index = np.arange(5, 33, 2)  # frames at 0.2 s .. 1.28 s (1.3 s is between frames 32 and 33), every 2nd
    truth = expected_maps(decoded[index], 0.0, 0.0)
    out = tmp_path / "pan" / "m=0,n=0"
    npz = np.load(out / "maps.npz")
    np.testing.assert_allclose(npz["timestamps"], times[index], atol=1e-9)
    for key in ("difference", "attention", "prompt", "variation"):
        np.testing.assert_allclose(npz[key], truth[key], atol=ATOL, rtol=0)
    stats = json.loads((out / "stats.json").read_text())
    assert_stats(stats, truth, truth["attention"].size)
    assert stats["difference_limit"] == pytest.approx(truth["limit"], abs=1e-6)
    assert stats["mp4_fps"] == pytest.approx(12.5)

    # The app's colormaps and scales: RdBu_r over [-max|D|, max|D|] of the whole clip, viridis over [0, 1].
    pngs = sorted((out / "difference").iterdir())
    assert [p.name for p in pngs] == [f"pair_{i:04d}.png" for i in range(13)]
    for t in (0, 5, 12):  # first chunk, a pair across a chunk boundary, last chunk
        for stage, expected in (
            ("difference", colormap(truth["difference"][t], "RdBu_r", -truth["limit"], truth["limit"])),
            ("attention", colormap(truth["attention"][t], "viridis", 0.0, 1.0)),
        ):
            image = read_png(out / stage / f"pair_{t:04d}.png").astype(int)
            assert image.shape == (48, 64, 3)
            # float32 vs float64 can move a value across a colour-table boundary: one step at most, rarely.
            off = np.abs(image - expected).max(axis=-1)
            assert (off == 0).mean() > 0.99, (stage, t)
            assert off.max() <= 12, (stage, t)


def test_png_and_mp4_counts_sizes_and_pixels(clip40, tmp_path):
    """Odd sizes after shrinking: PNGs keep them, the H.264 yuv420p MP4s are padded to even."""
    sampling = Sampling(frames=10, max_side=33)
    report = write_maps(clip40, tmp_path, params=["FineGym"], sampling=sampling, overlay=True, progress=False)
    assert report.ok
    out = tmp_path / "pan" / "FineGym"
    clip = read_clip_uniform_frames(clip40, 10, 33)
    truth = expected_maps(clip, 1.05, -2.67)
    for stage in ("frame", "difference", "attention", "prompt"):
        pngs = sorted((out / stage).glob("*.png"))
        assert len(pngs) == 9
        assert {read_png(p).shape for p in pngs} == {(25, 33, 3)}
        frames, codec, pix_fmt = mp4_frames(out / f"{stage}.mp4")
        assert (frames.shape, codec, pix_fmt) == ((9, 26, 34, 3), "h264", "yuv420p")
        # The MP4 shows the PNGs in order: each MP4 frame's luma is nearest its own PNG's, within a few levels
        # (crf 20 on a busy 25x33 picture; 4:2:0 chroma blurs colours more).
        stack = luma(np.stack([read_png(p) for p in pngs]))
        error = np.abs(luma(frames[:, :25, :33])[:, None] - stack[None]).mean(axis=(2, 3))
        assert error.diagonal().max() < 6, stage
        if stage != "difference":  # the difference maps of this smooth pan are alike
            assert (error.argmin(axis=1) == np.arange(9)).all(), stage
    # --overlay: (1 - 0.5) frame + 0.5 viridis(attention), on the later frame of each pair.
    overlay = 0.5 * clip[1:].astype(float) + 0.5 * colormap(truth["attention"], "viridis", 0, 1)
    frame_pngs = np.stack([read_png(p) for p in sorted((out / "frame").glob("*.png"))]).astype(float)
    assert np.abs(frame_pngs - overlay).max() <= 2
    prompt_pngs = np.stack([read_png(p) for p in sorted((out / "prompt").glob("*.png"))]).astype(float)
    assert np.abs(prompt_pngs - truth["prompt"] * 255).max() <= 1


def read_clip_uniform_frames(path: Path, count: int, max_side: int) -> np.ndarray:
    """The frames the uniform sampler picks, shrunk by PyAV's area filter (as any reader would)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total, fps = stream.frames, float(stream.average_rate)
        frames = list(container.decode(stream))
    index = np.floor(np.linspace(0, (total - 1) / fps, count) * fps + 1e-6).astype(int)
    scale = max_side / max(frames[0].height, frames[0].width)
    size = (round(frames[0].height * scale), round(frames[0].width * scale))
    height, width = size
    return np.stack(
        [
            frames[i].to_ndarray(format="rgb24", height=height, width=width, interpolation="AREA")
            for i in index
        ]
    )


def test_short_clip_gives_its_frames_and_one_frame_fails(tmp_path):
    """Fewer frames than asked: every frame once (the app's behaviour); one frame: reported, not written."""
    short = make_video(tmp_path / "short.mp4", textured_frames(7, 32, 32), fps=10)
    single = make_video(tmp_path / "single.mp4", textured_frames(1, 32, 32), fps=10)
    report = write_maps([short, single], tmp_path / "out", formats=["npz"], progress=False)
    npz = np.load(tmp_path / "out" / "short" / "MPII_Cooking_2" / "maps.npz")
    np.testing.assert_allclose(npz["timestamps"], np.arange(7) / 10, atol=1e-9)
    assert [p for p, _ in report.failed] == [single]
    assert "pairs need at least 2" in report.failed[0][1]
    assert not (tmp_path / "out" / "single").exists() or not any((tmp_path / "out" / "single").rglob("*.*"))


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mp_core.maps", *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_corrupt_and_missing_inputs_among_good_ones(tmp_path):
    videos = tmp_path / "videos"
    (videos / "a").mkdir(parents=True)
    (videos / "b").mkdir()
    make_video(videos / "a" / "clip.mp4", textured_frames(12, 32, 48), fps=12)
    make_video(videos / "b" / "clip.mp4", textured_frames(12, 32, 48, seed=1), fps=12)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (videos / "notes.txt").write_text("not a video")
    result = run_cli(videos, tmp_path / "missing.mp4", "--out", tmp_path / "out", "--params", "ucf-crime",
                     "--params", "m=0.5,n=0.1", "--what", "attention,prompt", "--format", "mp4")  # fmt: skip
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "broken.mp4" in output and "not a video file" in output
    assert "missing.mp4: no such file or folder" in output
    for name in ("a/clip", "b/clip"):
        for label in ("UCF-Crime", "m=0.5,n=0.1"):
            folder = tmp_path / "out" / name / label
            assert sorted(p.name for p in folder.iterdir()) == ["attention.mp4", "prompt.mp4", "stats.json"]
            assert mp4_frames(folder / "prompt.mp4")[0].shape == (11, 32, 48, 3)
    assert not (tmp_path / "out" / "broken").exists() or not any((tmp_path / "out" / "broken").rglob("*.*"))
    assert not list((tmp_path / "out").rglob("*.partial"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--what", "attention,heatmap"], "unknown stage heatmap"),
        (["--format", "gif"], "unknown format gif"),
        (["--params", "imagenet"], "neither a preset"),
        (["--frames", "1"], "must be >= 2"),
        (["--start", "2", "--end", "1"], "must be after --start"),
        (["--frames", "8", "--all-frames"], "not allowed with argument"),
    ],
)
def test_cli_bad_arguments_exit_2_before_reading(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        maps_main([str(tmp_path / "none.mp4"), "--out", str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_skipped_unless_overwrite(clip40, tmp_path):
    options = {"params": ["FineGym"], "sampling": Sampling(frames=6), "formats": ["png", "mp4", "npz"]}
    first = write_maps(clip40, tmp_path, progress=False, **options)
    out = tmp_path / "pan" / "FineGym"
    outputs = sorted(p.name for p in out.iterdir())
    assert first.ok and first.skipped == [] and len(outputs) == 10
    (out / "stats.json").write_text("{}")  # a marker: a skipped output keeps it
    (out / "attention.mp4").unlink()  # an output that is missing is written again

    second = write_maps(clip40, tmp_path, progress=False, **options)
    assert second.ok and len(second.skipped) == 9 and out / "attention.mp4" not in second.skipped
    assert (out / "stats.json").read_text() == "{}"
    assert mp4_frames(out / "attention.mp4")[0].shape[0] == 5

    (out / "difference" / "pair_0099.png").write_bytes(b"stale")  # from an earlier, longer run
    (out / "difference" / "notes.txt").write_text("mine")
    third = write_maps(clip40, tmp_path, progress=False, overwrite=True, **options)
    assert third.ok and third.skipped == [] and third.written == [out]
    assert json.loads((out / "stats.json").read_text())["pairs"] == 5
    names = sorted(p.name for p in (out / "difference").iterdir())
    assert names == sorted(["notes.txt", *(f"pair_{i:04d}.png" for i in range(5))])
    assert sorted(p.name for p in out.iterdir()) == outputs


def test_npz_over_the_limit_is_refused_and_the_rest_written(clip40, tmp_path):
    report = write_maps(clip40, tmp_path, formats=["mp4", "npz"], what=["attention"], npz_max_bytes=1e5)
    assert not report.ok
    (path, reason), = report.failed  # fmt: skip
    assert path == clip40 and "maps.npz not written" in reason and "15 pairs at 64x48" in reason
    folder = tmp_path / "pan" / "MPII_Cooking_2"
    assert sorted(p.name for p in folder.iterdir()) == ["attention.mp4", "stats.json"]


def test_iter_frames_chunks_equal_pyav_and_read_clip(clip40):
    decoded, _ = decode_all(clip40)  # PyAV alone: the truth at full size
    full = list(iter_frames(clip40, start=0.3, stride=3, chunk=4))
    np.testing.assert_array_equal(np.concatenate([c.frames for c in full]), decoded[7:38:3])
    # resized: chunks stitched back are read_clip's frames (whose resizing is tested against PIL)
    chunks = list(iter_frames(clip40, start=0.3, stride=3, max_side=40, chunk=4))
    clip = read_clip(clip40, start=0.3, stride=3, max_side=40)
    assert [len(c.frames) for c in chunks] == [4, 4, 3]  # frames 7, 10, ..., 37 (0.28 s is shown at 0.3 s)
    np.testing.assert_array_equal(np.concatenate([c.frames for c in chunks]), clip.frames.numpy())
    np.testing.assert_allclose(np.concatenate([c.timestamps for c in chunks]), clip.timestamps)
    until = np.concatenate([c.timestamps for c in iter_frames(clip40, start=0.3, end=0.8, chunk=100)])
    np.testing.assert_allclose(until, np.arange(7, 21) / 25)


def test_video_writer_streams_chunks(tmp_path):
    frames = textured_frames(30, 33, 47)
    with VideoWriter(tmp_path / "out.mp4", fps=15) as writer:
        for chunk in np.array_split(frames, 4):
            writer.write(chunk)
    decoded, codec, pix_fmt = mp4_frames(tmp_path / "out.mp4")
    assert (decoded.shape, codec, pix_fmt) == ((30, 34, 48, 3), "h264", "yuv420p")
    assert np.abs(luma(decoded[:, :33, :47]) - luma(frames)).mean() < 3


PEAK_SCRIPT = textwrap.dedent(
    """
    import sys
    from mp_core.maps import Sampling, write_maps
    from mp_core.video_io import read_clip

    def peak_growth(work):
        # Linux: writing 5 to clear_refs resets the peak resident size (VmHWM) to the current one.
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        before = int(status["VmRSS"].split()[0])
        work()
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        return (int(status["VmHWM"].split()[0]) - before) * 1024

    video, out = sys.argv[1:]
    sampling = Sampling(frames=None)
    options = dict(what=["attention"], formats=["mp4", "npz"], chunk_frames=16, progress=False)
    maps = peak_growth(lambda: write_maps(video, out, sampling=sampling, **options))
    control = peak_growth(lambda: read_clip(video))  # keeps every frame
    print(maps, control)
    """
)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS reset needs Linux /proc")
def test_all_frames_peak_memory_does_not_grow_with_length(tmp_path):
    """Peak resident memory of --all-frames (MP4 and npz) on 240 and on 960 frames of the same size.

    Measured in fresh subprocesses from after the imports. A reader that keeps every frame (read_clip) is
    the control: its peak grows by the 720 extra frames (26.5 MB as uint8), so the measurement sees growth.
    glibc's mmap threshold is fixed for the measurement, so that it sees what the code holds rather than
    what the allocator caches (mp_core.maps.memory.HeapGuard bounds that; bench/bench_maps.py measures
    both with the default allocator).
    """
    height, width = 96, 128
    base = textured_frames(60, height, width)
    short = make_video(tmp_path / "short.mp4", np.tile(base, (4, 1, 1, 1)), fps=30)
    long = make_video(tmp_path / "long.mp4", np.tile(base, (16, 1, 1, 1)), fps=30)
    extra = 720 * height * width * 3

    def growth(video: Path) -> tuple[int, int]:
        result = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, str(video), str(tmp_path / f"out-{video.stem}")],
            cwd=REPO, capture_output=True, text=True, timeout=240, check=True,
            env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)},
        )  # fmt: skip
        maps, control = map(int, result.stdout.split())
        return maps, control

    (maps_short, control_short), (maps_long, control_long) = growth(short), growth(long)
    assert control_long - control_short > 0.9 * extra
    assert maps_long - maps_short < 0.4 * extra, (
        f"peak grew by {(maps_long - maps_short) / 2**20:.1f} MiB for 720 more frames "
        f"({maps_short / 2**20:.1f} MiB over the imports for 240 frames)"
    )
    npz = np.load(tmp_path / "out-long" / "long" / "MPII_Cooking_2" / "maps.npz")
    assert npz["prompt"].shape == (959, height, width, 3)


def test_interrupted_run_leaves_no_partial_outputs_and_a_rerun_finishes(clip40, tmp_path, monkeypatch):
    from mp_core.maps import outputs

    calls = {"n": 0}
    original = outputs.MapsWriter.add

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(self, *args)

    options = {"sampling": Sampling(frames=None), "formats": ["png", "mp4", "npz"], "chunk_frames": 8}
    monkeypatch.setattr(outputs.MapsWriter, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_maps(clip40, tmp_path, progress=False, **options)
    folder = tmp_path / "pan" / "MPII_Cooking_2"
    assert [p.name for p in folder.iterdir()] == []  # nothing half-written under any name
    monkeypatch.setattr(outputs.MapsWriter, "add", original)
    report = write_maps(clip40, tmp_path, progress=False, **options)
    assert report.ok and report.skipped == []
    assert np.load(folder / "maps.npz")["attention"].shape == (39, 48, 64)
    assert len(list((folder / "prompt").glob("*.png"))) == 39
