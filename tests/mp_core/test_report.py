"""mp_core.report: numbers against numpy on independently decoded frames, bad clips, resume, cancellation,
both engines, the command line and split filters, on real H.264 datasets made with PyAV."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mp_core.datasets import OutsideRootsError
from mp_core.errors import DatasetError, ParameterError
from mp_core.report import REPORT_COLUMNS, ReportError, read_report, read_report_pieces, run_report
from mp_core.report.store import parts_folder, report_lock
from mp_core.specs import parse_params_spec
from mp_core.synthetic import make_demo_dataset, mask_path, synthetic_clip
from mp_core.video_io import read_clip_uniform
from tests.conftest import REPO_ROOT
from tests.helpers_video import make_video

PARAMS = ("FineGym", "m=0.257,n=0.053")


def _moving_frames(num_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """Coloured textured frames with a bright block moving right and a global brightness drift."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(height // 8, width // 8, 3)).repeat(8, 0).repeat(8, 1)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = np.clip(base.astype(int) + 3 * t, 0, 255)
        x = (5 * t + 4 * seed) % (width - 12)
        frame[height // 3 : height // 3 + 12, x : x + 12] = (250, 240, 30)
        frames[t] = frame
    return frames


SIZES = {"wave/a.mp4": (20, 48, 64), "wave/b.mp4": (9, 64, 80), "run/c.mp4": (30, 96, 128)}  # (T, H, W)


def _folder_dataset(root: Path) -> Path:
    for seed, (key, (t, h, w)) in enumerate(SIZES.items()):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        make_video(root / key, _moving_frames(t, h, w, seed))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return _folder_dataset(tmp_path_factory.mktemp("dataset"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo_dataset(tmp_path_factory.mktemp("demo"), clips_per_class=1)


def _expected(path: Path, m: float, n: float, frames: int, max_side: int | None) -> dict[str, float]:
    """The statistics by the paper's formulas in float64 numpy, on frames decoded for the test: ``frames``
    spread uniformly, or every frame of a clip that has fewer (``wave/b.mp4``: 9)."""
    frames = min(frames, SIZES[f"{path.parent.name}/{path.name}"][0])
    rgb = read_clip_uniform(path, frames, max_side=max_side).frames.numpy().astype(np.float64) / 255
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    d = gray[1:] - gray[:-1]
    a_slope = 5 / (0.45 * abs(math.tanh(m)) + 0.1)
    b_shift = 0.6 * math.tanh(n)
    attention = 1 / (1 + np.exp(-a_slope * (d - b_shift)))
    per_pair = attention.mean(axis=(1, 2))
    steps = ((attention[1:] - attention[:-1]) ** 2).mean(axis=(1, 2))
    return {
        "num_frames": len(gray),
        "height": gray.shape[1],
        "width": gray.shape[2],
        "mean_attention": attention.mean(),
        "share_above_half": (attention > 0.5).mean(),
        "variation": steps.mean(),
        "mean_abs_difference": np.abs(d).mean(),
        "share_moving": (np.abs(d) > 0.05).mean(),
        "peak_pair": int(per_pair.argmax()),
        "peak_pair_attention": per_pair.max(),
        "pixels": d.size,
    }


def _rows(path: Path) -> dict[tuple[str, str], dict]:
    return {(r["path"], r["params"]): r for r in read_report(path).to_pylist()}


def test_numbers_match_the_formulas_on_independently_decoded_frames(dataset, tmp_path) -> None:
    summary = run_report(dataset, tmp_path / "r.parquet", PARAMS, frames=12, max_side=64, workers=2)
    assert (summary.rows_total, summary.rows_computed, summary.rows_reused, summary.errors) == (6, 6, 0, 0)
    assert not summary.cancelled and summary.path == tmp_path / "r.parquet"
    table = read_report(tmp_path / "r.parquet")
    assert tuple(table.column_names) == REPORT_COLUMNS
    assert not parts_folder(tmp_path / "r.parquet").exists()  # merged and cleaned up
    for (key, params), row in _rows(tmp_path / "r.parquet").items():
        m, n = (1.05, -2.67) if params == "FineGym" else (0.257, 0.053)
        want = _expected(dataset / key, m, n, 12, 64)
        assert row["label"] == key.split("/")[0] and row["split"] == "all" and row["error"] is None
        assert (row["m"], row["n"]) == (m, n)
        assert row["slope"] == pytest.approx(5 / (0.45 * math.tanh(m) + 0.1), rel=1e-12)
        assert (row["num_frames"], row["height"], row["width"]) == (
            want["num_frames"],
            want["height"],
            want["width"],
        )
        assert max(row["height"], row["width"]) == 64 and (row["frames"], row["max_side"]) == (12, 64)
        for name in ("mean_attention", "variation", "mean_abs_difference", "peak_pair_attention"):
            assert row[name] == pytest.approx(want[name], rel=1e-5, abs=1e-7), (key, params, name)
        for name in ("share_above_half", "share_moving"):  # float32 vs float64 may flip a pixel at the edge
            assert row[name] == pytest.approx(want[name], abs=2 / want["pixels"]), (key, params, name)
        assert row["peak_pair"] == want["peak_pair"]
        assert row["motion_focus"] is None  # no ground truth in this dataset
        assert row["fps"] == 25.0
    assert _rows(tmp_path / "r.parquet")[("wave/b.mp4", "FineGym")]["duration"] == pytest.approx(9 / 25)
    # The demo's fast-moving block makes attention and motion differ between the two parameter sets.
    rows = _rows(tmp_path / "r.parquet")
    assert (
        rows[("run/c.mp4", "FineGym")]["mean_attention"] != rows[("run/c.mp4", PARAMS[1])]["mean_attention"]
    )


def test_motion_focus_from_the_mask_sidecar(tmp_path) -> None:
    # A clip whose every frame is sampled (frames = its length) at full size: focus is the paper-free formula
    # mean attention on moving pixels minus mean elsewhere, with the mask taken straight from the sidecar.
    sample = synthetic_clip(num_frames=10, height=48, width=64, num_objects=2, seed=5)
    clip_file = tmp_path / "data" / "objects" / "x.mp4"
    clip_file.parent.mkdir(parents=True)
    make_video(clip_file, sample.clip.frames.numpy())
    np.savez(mask_path(clip_file), mask=sample.mask.numpy())
    run_report(tmp_path / "data", tmp_path / "r.parquet", ["slope=30,shift=0.05"], frames=10, max_side=None)
    (row,) = read_report(tmp_path / "r.parquet").to_pylist()
    rgb = read_clip_uniform(clip_file, 10).frames.numpy() / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    attention = 1 / (1 + np.exp(-30 * (gray[1:] - gray[:-1] - 0.05)))
    moving = sample.mask.numpy()[1:] | sample.mask.numpy()[:-1]
    assert row["motion_focus"] == pytest.approx(
        attention[moving].mean() - attention[~moving].mean(), rel=1e-5
    )
    # Shrunk frames get the mask shrunk with them: still defined, and close to the full-size value.
    run_report(tmp_path / "data", tmp_path / "r.parquet", ["slope=30,shift=0.05"], frames=10, max_side=32)
    small = [r for r in read_report(tmp_path / "r.parquet").to_pylist() if r["max_side"] == 32]
    assert small[0]["motion_focus"] == pytest.approx(row["motion_focus"], abs=0.05)


def test_demo_dataset_report_has_focus_where_there_is_ground_truth(demo, tmp_path) -> None:
    run_report(demo, tmp_path / "r.parquet", ["slope=40,shift=0.1"], workers=1)
    rows = {r["label"]: r for r in read_report(tmp_path / "r.parquet").to_pylist()}
    assert set(rows) == {"one_object", "two_objects", "camera_shake", "flicker", "static"}
    assert rows["static"]["motion_focus"] is None  # nothing moves: no focus to measure
    assert rows["one_object"]["motion_focus"] > 0.01
    # Camera shake moves the whole frame: the camera-motion indicator sees it, the static scene does not.
    assert rows["camera_shake"]["share_moving"] > 5 * rows["one_object"]["share_moving"]
    assert rows["static"]["share_moving"] < rows["one_object"]["share_moving"]


def test_a_corrupt_clip_becomes_an_error_row_and_the_run_goes_on(dataset, tmp_path) -> None:
    root = tmp_path / "data"
    for key in ("wave/a.mp4", "run/c.mp4"):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes((dataset / key).read_bytes())
    (root / "run" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 but then nothing")
    summary = run_report(root, tmp_path / "r.parquet", PARAMS, workers=1)
    assert (summary.rows_computed, summary.errors) == (6, 2)
    rows = _rows(tmp_path / "r.parquet")
    for params in PARAMS:
        bad = rows[("run/broken.mp4", params)]
        assert "broken.mp4" in bad["error"] and bad["mean_attention"] is None and bad["num_frames"] is None
        assert bad["m"] is not None and bad["label"] == "run"
        assert rows[("wave/a.mp4", params)]["error"] is None
        assert rows[("wave/a.mp4", params)]["mean_attention"] > 0


def test_resume_computes_only_missing_rows_and_keeps_old_ones_bitwise(dataset, tmp_path) -> None:
    out = tmp_path / "r.parquet"
    first = run_report(dataset, out, ["FineGym"], frames=8, workers=1)
    assert (first.rows_computed, first.rows_reused) == (3, 0)
    before = read_report(out).to_pylist()
    stamp = out.stat().st_mtime_ns
    again = run_report(dataset, out, ["FineGym"], frames=8, workers=1)
    assert (again.rows_computed, again.rows_reused, again.rows_total) == (0, 3, 3)
    assert out.stat().st_mtime_ns == stamp  # nothing to add: the file is not even rewritten
    calls = []
    more = run_report(
        dataset, out, ["FineGym", "hmdb51"], frames=8, workers=1, progress=lambda *a: calls.append(a)
    )
    assert (more.rows_computed, more.rows_reused) == (3, 3)
    assert calls[0] == (3, 6) and calls[-1] == (6, 6)
    after = read_report(out).to_pylist()
    assert after[:3] == before  # the old rows, unchanged to the last bit, in their place
    assert {r["params"] for r in after[3:]} == {"hmdb51"}
    # Another sampling is another row, never a reuse of the old one.
    other = run_report(dataset, out, ["FineGym"], frames=6, workers=1)
    assert (other.rows_computed, other.rows_reused) == (3, 0)
    assert read_report(out).num_rows == 9


def test_a_stopped_run_leaves_a_readable_report_and_a_rerun_completes(dataset, tmp_path) -> None:
    out = tmp_path / "r.parquet"
    seen: list[int] = []
    summary = run_report(
        dataset,
        out,
        ["FineGym"],
        workers=1,
        progress=lambda done, total: seen.append(done),
        should_stop=lambda: bool(seen) and seen[-1] >= 2,
    )
    assert summary.cancelled and summary.rows_computed == 2
    assert not out.exists() and parts_folder(out).is_dir()  # only parts, as a killed run leaves
    (parts_folder(out) / ".part-half-written.parquet.tmp").write_bytes(b"PAR1 torn")  # a torn write
    assert read_report(out).num_rows == 2
    done_first = {r["path"] for r in read_report(out).to_pylist()}
    rest = run_report(dataset, out, ["FineGym"], workers=1)
    assert (rest.rows_computed, rest.rows_reused, rest.cancelled) == (1, 2, False)
    table = read_report(out)
    assert table.num_rows == 3 and pq.read_table(out).num_rows == 3
    assert done_first < {r["path"] for r in table.to_pylist()}


def test_split_lists_filter_and_refusals(dataset, tmp_path) -> None:
    (dataset / "train.csv").write_text("wave/a.mp4 wave\nrun/c.mp4 run\n")
    (dataset / "val.csv").write_text("wave/b.mp4 wave\nwave/missing.mp4 wave\n")
    try:
        summary = run_report(dataset, tmp_path / "r.parquet", ["FineGym"], split="val", workers=1)
        assert [(r["path"], r["split"]) for r in read_report(tmp_path / "r.parquet").to_pylist()] == [
            ("wave/b.mp4", "val")
        ]
        assert [p.line for p in summary.problems] == [2]
        with pytest.raises(ReportError, match=r"'dev'.*train \(2\), val \(1\)"):
            run_report(dataset, tmp_path / "r2.parquet", split="dev")
    finally:
        (dataset / "train.csv").unlink()
        (dataset / "val.csv").unlink()
    with pytest.raises(ParameterError, match="frames"):
        run_report(dataset, tmp_path / "x.parquet", frames=1)
    with pytest.raises(ParameterError, match="engine"):
        run_report(dataset, tmp_path / "x.parquet", engine="spark")
    with pytest.raises(DatasetError, match="no such"):
        run_report(tmp_path / "nowhere", tmp_path / "x.parquet")


def test_resume_refusals_lock_and_not_a_report(dataset, tmp_path) -> None:
    out = tmp_path / "r.parquet"
    json_params = tmp_path / "learned.json"
    json_params.write_text('{"m": 0.5, "n": 0.1}')
    run_report(dataset, out, [str(json_params)], frames=4, workers=1)
    json_params.write_text('{"m": 0.6, "n": 0.1}')  # the same name now holds other values
    with pytest.raises(ReportError, match=r"now reads m=0\.6"):
        run_report(dataset, out, [str(json_params)], frames=4, workers=1)
    other = _folder_dataset(tmp_path / "other")
    with pytest.raises(ReportError, match="made from"):
        run_report(other, out, ["FineGym"], frames=4, workers=1)
    with report_lock(out), pytest.raises(ReportError, match="another run"):
        run_report(dataset, out, ["FineGym"], frames=4, workers=1)
    pq.write_table(read_report(out).select(["path", "params"]), tmp_path / "table.parquet")
    with pytest.raises(ReportError, match="not a dataset report"):
        read_report(tmp_path / "table.parquet")
    with pytest.raises(ReportError, match="no report"):
        read_report(tmp_path / "absent.parquet")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mp_core.report", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line(dataset, tmp_path) -> None:
    out = tmp_path / "cli.parquet"
    done = _cli(
        str(dataset), "--out", str(out), "--params", "FineGym", "--params", "m=0.2,n=0", "--workers", "1"
    )
    assert done.returncode == 0, done.stderr
    assert "6 rows computed, 0 reused, 0 errors" in done.stdout
    assert read_report(out).num_rows == 6
    again = _cli(str(dataset), "--out", str(out), "--params", "FineGym", "--workers", "1")
    assert again.returncode == 0 and "0 rows computed, 3 reused" in again.stdout
    for bad, message in (
        (["--params", "nonsense"], "neither a preset"),
        (["--frames", "1"], "frames must be"),
        (["--ray-address", "auto"], "needs --engine ray"),
        (["--engine", "spark"], "invalid choice"),
    ):
        failed = _cli(str(dataset), "--out", str(out), *bad)
        assert failed.returncode == 2 and message in failed.stderr, (bad, failed.stderr)
    missing = _cli(str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_error_rows_are_kept_and_retried_only_when_asked(dataset, tmp_path) -> None:
    root = tmp_path / "data"
    (root / "wave").mkdir(parents=True)
    (root / "wave" / "a.mp4").write_bytes((dataset / "wave" / "a.mp4").read_bytes())
    (root / "wave" / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 cut short")
    out = tmp_path / "r.parquet"
    first = run_report(root, out, PARAMS, frames=6, workers=1)
    assert (first.rows_computed, first.errors, first.retried) == (4, 2, 0)
    kept = _rows(out)
    (root / "wave" / "b.mp4").write_bytes((dataset / "wave" / "b.mp4").read_bytes())  # the file is fixed
    again = run_report(root, out, PARAMS, frames=6, workers=1)
    assert (again.rows_computed, again.rows_reused, again.retried) == (0, 4, 0)
    assert _rows(out) == kept  # the error rows stay, with their message: nothing retried unasked
    assert "b.mp4" in kept[("wave/b.mp4", "FineGym")]["error"]
    done = _cli(
        str(root),
        "--out",
        str(out),
        "--frames",
        "6",
        "--workers",
        "1",
        "--retry-errors",
        *[arg for params in PARAMS for arg in ("--params", params)],
    )
    assert done.returncode == 0, done.stderr
    assert "2 rows computed (2 retried), 2 reused, 0 errors" in done.stdout
    rows = _rows(out)
    assert len(rows) == 4 and rows[("wave/a.mp4", "FineGym")] == kept[("wave/a.mp4", "FineGym")]
    for params in PARAMS:  # the retried rows replace the errors, with the formulas' numbers
        row = rows[("wave/b.mp4", params)]
        assert row["error"] is None
        spec = parse_params_spec(params).params
        expected = _expected(root / "wave" / "b.mp4", spec.m, spec.n, 6, 224)
        assert row["mean_attention"] == pytest.approx(expected["mean_attention"], rel=1e-6)
    last = run_report(root, out, PARAMS, frames=6, workers=1, retry_errors=True)  # no errors left to retry
    assert (last.rows_computed, last.retried) == (0, 0)


# --- the Ray engine, on a real cluster started for this module -------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory) -> Iterator[str]:
    """A local Ray cluster started with ``ray start --head`` (its own process group), and its address.

    Ray is a dependency of the report (requirements.txt): missing, these tests fail. The cluster is torn
    down by its process group, never with ``ray stop`` (which stops every Ray on the machine).
    """
    import ray  # noqa: F401 - fail, not skip, when it is missing

    port = _free_port()
    folder = tmp_path_factory.mktemp("ray")
    log = folder / "head.log"
    # Ray 2.60 turns token authentication on for `ray start` when ~/.ray/auth_token exists, and reads
    # RAY_AUTH_MODE once per process: a test cluster on localhost opts out, whatever this process imported.
    environment = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus", "1"]
    command += ["--port", str(port), "--node-ip-address", "127.0.0.1", "--include-dashboard=false"]
    command += ["--disable-usage-stats"]
    with open(log, "wb") as output:
        head = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=environment
        )
    try:
        deadline = time.monotonic() + 120
        while b"Ray runtime started" not in log.read_bytes():
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "ray start took over 2 minutes:\n" + log.read_text()
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
        assert head.poll() is None, "the cluster stopped during the tests"  # a joined cluster is left running
    finally:  # the whole group: `ray start` leaves its GCS and raylet draining for 30 s after SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(15)


def test_ray_engine_on_a_cluster_gives_the_local_engines_numbers(ray_head, dataset, demo, tmp_path) -> None:
    import ray

    for name, root in (("dataset", dataset), ("demo", demo)):
        local = run_report(root, tmp_path / f"{name}-local.parquet", PARAMS, frames=10, workers=2)
        remote = run_report(
            root, tmp_path / f"{name}-ray.parquet", PARAMS, frames=10, engine="ray", ray_address=ray_head
        )
        assert (remote.engine, remote.rows_computed, remote.errors) == ("ray", local.rows_computed, 0)
        by_key = sorted(read_report(tmp_path / f"{name}-local.parquet").to_pylist(), key=lambda r: str(r))
        assert (
            sorted(read_report(tmp_path / f"{name}-ray.parquet").to_pylist(), key=lambda r: str(r)) == by_key
        )
    assert not ray.is_initialized()  # joined for the run, then left; the cluster goes on (checked at the end)


def test_ray_engine_error_rows_cancel_and_resume(ray_head, dataset, tmp_path) -> None:
    root = tmp_path / "data"
    for key in ("wave/a.mp4", "wave/b.mp4", "run/c.mp4"):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes((dataset / key).read_bytes())
    (root / "run" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 cut short")
    local = run_report(root, tmp_path / "local.parquet", PARAMS, frames=8, workers=1)
    assert local.errors == 2
    out = tmp_path / "ray.parquet"
    seen: list[int] = []
    options = {"frames": 8, "engine": "ray", "ray_address": ray_head}
    stopped = run_report(
        root, out, PARAMS, **options, progress=lambda d, t: seen.append(d), should_stop=lambda: len(seen) > 1
    )
    assert stopped.cancelled and 0 < stopped.rows_computed < 8
    assert not out.exists() and read_report(out).num_rows == stopped.rows_computed  # parts, readable
    rest = run_report(root, out, PARAMS, **options)
    assert (rest.rows_computed, rest.rows_reused) == (8 - stopped.rows_computed, stopped.rows_computed)
    assert _rows(out) == _rows(tmp_path / "local.parquet")  # error rows and their messages included


def test_importing_the_report_needs_neither_ray_nor_streamlit() -> None:
    code = "import sys, mp_core.report; print(sorted({'ray', 'streamlit', 'plotly'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_report_read_under_roots_skips_parts_that_lie_outside(dataset, tmp_path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    run_report(dataset, outside / "r.parquet", ["FineGym"], frames=4, workers=1)
    (outside / "parts").mkdir()
    (outside / "parts" / "part-0.parquet").write_bytes((outside / "r.parquet").read_bytes())
    inside.mkdir()
    (inside / "r.parquet.parts").symlink_to(outside / "parts")  # a parts folder pointing out
    assert read_report_pieces(inside / "r.parquet").table.num_rows == 3  # no roots: read
    reading = read_report_pieces(inside / "r.parquet", roots=[inside])
    assert reading.table is None and reading.parts == []
    assert reading.damaged == ["part-0.parquet: outside the dataset roots: refused"]
    with pytest.raises(OutsideRootsError):
        read_report_pieces(outside / "r.parquet", roots=[inside])
