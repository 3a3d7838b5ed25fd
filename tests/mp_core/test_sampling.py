"""mp_core.sampling: the one rule for how many frames a uniform read takes (hand-computed counts)."""

from __future__ import annotations

import pytest

from mp_core.sampling import Sampling
from mp_core.video_io import VideoInfo


def info(duration: float, fps: float, count: int, exact: bool) -> VideoInfo:
    return VideoInfo(duration, fps, count, exact, 64, 48, "h264", "clip.mp4")


@pytest.mark.parametrize(
    ("video", "start", "asked", "expected"),
    [
        (info(10.0, 30.0, 300, True), 0.0, 16, 16),  # long enough: as asked
        (info(0.4, 25.0, 10, True), 0.0, 16, 10),  # 10 frames in all: shown whole, none repeated
        (info(0.4, 25.0, 10, True), 0.2, 16, 5),  # from 0.2 s: (0.4 - 0.2) * 25 = 5 left
        (info(0.41, 25.0, 10, False), 0.0, 16, 11),  # no exact count: ceil(0.41 * 25) = ceil(10.25)
        (info(1.0, 25.0, 25, True), 0.99, 16, 1),  # ceil(0.25) = 1 frame left
        (info(1.0, 25.0, 25, True), 5.0, 16, 1),  # past the end: still 1 (the reader says why)
        (info(0.0, 25.0, 0, False), 0.0, 16, 16),  # no duration known (a stream): as asked
    ],
)
def test_frame_count(video: VideoInfo, start: float, asked: int, expected: int) -> None:
    assert Sampling(frames=asked, start=start).frame_count(video) == expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [(0.2, 5), (5.0, 10), (None, 10)],  # (0.2 - 0) * 25 = 5; an end past the clip stops at its duration
)
def test_frame_count_of_a_span_ending_early(end: float | None, expected: int) -> None:
    video = info(0.4, 25.0, 10, True)
    assert Sampling(frames=16, end=end).frame_count(video) == expected
