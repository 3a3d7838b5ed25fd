"""Chromium's fake camera for the viewer's camera tests and bench: a y4m of a real clip, and the flags."""

from __future__ import annotations

from pathlib import Path

import av

REPO_ROOT = Path(__file__).resolve().parents[1]
#: A hand moving a cup, 640×480: motion in every frame.
CAMERA_CLIP = REPO_ROOT / "assets" / "hand_cup.mp4"


def camera_y4m(path: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    """Write the first ``frames`` frames of :data:`CAMERA_CLIP` at ``size`` (W, H) as y4m (rawvideo
    yuv420p at 30 frames/s): what ``--use-file-for-fake-video-capture`` plays, looped."""
    width, height = size
    with av.open(str(CAMERA_CLIP)) as source, av.open(str(path), "w", "yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, frame in enumerate(source.decode(video=0)):
            if index == frames:
                break
            for packet in stream.encode(frame.reformat(width, height, "yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def fake_camera_flags(y4m: Path, grant: bool = True) -> list[str]:
    """Chromium flags for a fake camera playing ``y4m``; ``grant`` accepts the permission prompt (without
    it, headless chromium denies the request, as a user clicking Block would)."""
    flags = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}"]
    return (["--use-fake-ui-for-media-stream"] if grant else []) + flags
