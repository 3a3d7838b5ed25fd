"""Property tests: every reader over files cut at random offsets gives frames or a typed InputError, never
another exception; sampling over random frame counts, rates and durations of real PyAV videos; a checkpoint
whose m or n is not finite is refused with a message."""

from __future__ import annotations

import io
import json
import math
from functools import cache
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mp_core import InputError
from mp_core.checkpoints import load_params
from mp_core.datasets import open_dataset
from mp_core.sampling import Sampling, read_sampled
from mp_core.video_io import probe, read_clip, read_clip_uniform
from mp_core.video_stream import iter_frames
from tests.helpers_video import make_video


@cache
def whole_video(folder: str) -> bytes:
    """A 12-frame 48×64 H.264 MP4 at 12 fps, made once per session."""
    return make_video(Path(folder) / "whole.mp4", 12, fps=12, size=(48, 64)).read_bytes()


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    return whole_video(str(tmp_path_factory.mktemp("whole")))


READERS = {
    "read_clip": lambda path: read_clip(path, max_frames=8),
    "read_clip_uniform": lambda path: read_clip_uniform(path, 6),
    "probe": probe,
    "iter_frames": lambda path: [chunk.frames for chunk in iter_frames(path, chunk=4)],
    "read_sampled": lambda path: read_sampled(path, Sampling(frames=5, max_side=32)),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_a_video_cut_anywhere_reads_or_raises_an_input_error(video_bytes, tmp_path, reader, cut) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(video_bytes[: int(cut * len(video_bytes))])
    try:
        READERS[reader](path)
    except InputError as error:
        assert str(error)  # a message for the user
    # any other exception fails the test


@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_an_hdf5_dataset_cut_anywhere_opens_or_raises_an_input_error(video_bytes, tmp_path, cut) -> None:
    whole = tmp_path / "whole.h5"
    with h5py.File(whole, "w") as h5:
        for key in ("jump/a.mp4", "run/b.mp4"):
            h5.create_dataset(key, data=np.frombuffer(video_bytes, np.uint8))
    data = whole.read_bytes()
    cut_file = tmp_path / "cut.h5"
    cut_file.write_bytes(data[: int(cut * len(data))])
    try:
        dataset = open_dataset(cut_file)
        for sample in dataset:
            dataset.read(sample, num_frames=4, uniform=True)
    except InputError as error:
        assert str(error)


def _checkpoint(m: float, n: float) -> bytes:
    buffer = io.BytesIO()
    torch.save({"model_state": {"vmps.m": torch.tensor([m]), "vmps.n": torch.tensor([n])}}, buffer)
    return buffer.getvalue()


@given(
    m=st.floats(-4, 4) | st.sampled_from([math.nan, math.inf, -math.inf]),
    n=st.floats(-4, 4) | st.sampled_from([math.nan, math.inf, -math.inf]),
    kind=st.sampled_from(["pyth", "json"]),
)
def test_a_checkpoint_with_m_or_n_not_finite_is_refused(m: float, n: float, kind: str) -> None:
    data = _checkpoint(m, n) if kind == "pyth" else json.dumps({"m": m, "n": n}).encode()
    name = f"run.{kind}"
    if math.isfinite(m) and math.isfinite(n):
        params = load_params(data, name=name)
        assert (params.m, params.n) == pytest.approx((m, n), rel=1e-6, abs=1e-7)  # float32 in the .pyth
    else:
        with pytest.raises(InputError, match=r"\S"):
            load_params(data, name=name)


@given(
    data=st.data(),
    frames=st.integers(2, 30),
    fps=st.sampled_from([5, 10, 12, 25, 30]),
    asked=st.integers(2, 40),
)
def test_uniform_sampling_reads_the_clamped_count_spread_over_the_clip(tmp_path, data, frames, fps, asked):
    path = make_video(tmp_path / "v.mp4", frames, fps=fps, size=(32, 48))
    sampling = Sampling(frames=asked, max_side=None)
    info = probe(path)
    count = sampling.frame_count(info)
    assert count == min(asked, frames)  # PyAV's MP4s state their frame count exactly
    clip = read_sampled(path, sampling)
    assert clip.frames.shape == (count, 32, 48, 3)
    times = np.asarray(clip.timestamps)
    assert np.all(np.diff(times) > 0) and times[0] == pytest.approx(0, abs=1e-6)
    assert times[-1] == pytest.approx((frames - 1) / fps, abs=1 / fps + 1e-6)  # spread to the last frame
    stride = data.draw(st.integers(1, 4))
    consecutive = read_sampled(path, Sampling(frames=asked, stride=stride, max_side=None))
    assert len(consecutive.frames) == min(asked, math.ceil(frames / stride))
    np.testing.assert_allclose(
        consecutive.timestamps, np.arange(len(consecutive.frames)) * stride / fps, atol=1e-6
    )


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_header_claiming_16k_by_16k_frames_gives_a_message_in_bounded_memory(tmp_path, reader) -> None:
    import resource

    path = tmp_path / "huge.y4m"  # 16384×16384 4:2:0 frames would be 384 MiB each; 1 kB follows
    path.write_bytes(b"YUV4MPEG2 W16384 H16384 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the process's high-water mark
    with pytest.raises(InputError, match=r"huge\.y4m"):
        READERS[reader](path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # < 100 MiB more
