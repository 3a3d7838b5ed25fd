"""The interactive HTML demo of one clip, from Python or the command line.

``python -m mp_core.demo CLIP --out demo.html [--frames 16] [--max-side 320] [--params SPEC]`` writes one
self-contained HTML file (frames, viewer, legend; no network request) that any browser opens: the viewer of
the Explore page, computing the motion prompts of every frame pair as its controls move. ``SPEC`` is a
preset name, ``m=…,n=…`` / ``slope=…,shift=…`` or a checkpoint path
(:func:`mp_core.specs.parse_params_spec`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mp_core.errors import InputError
from mp_core.params import MotionParams
from mp_core.sampling import Sampling, read_sampled
from mp_core.specs import default_spec, parse_params_spec
from mp_core.viz.clip_view import prepare_clip
from mp_core.viz.viewer import DEMO_SIZE_LIMIT, clip_payload, standalone_html, view_payload

__all__ = ["build_demo", "main"]


def build_demo(
    source: str | Path,
    params: MotionParams,
    *,
    frames: int = 16,
    max_side: int | None = 320,
    label: str | None = None,
) -> str:
    """The standalone HTML page of ``frames`` frames spread over the clip, at ``params``.

    Args:
        source: a video file.
        params: the parameters the page opens with.
        frames: frames sampled uniformly over the clip (fewer when the clip has fewer:
            :meth:`Sampling.frame_count <mp_core.sampling.Sampling.frame_count>`), at least 2.
        max_side: longest side in pixels after downscaling (``None``: full size).
        label: the clip's name in the title (default: the file name).

    Raises:
        ParameterError: ``frames`` < 2 or ``max_side`` < 2.
        VideoError: the file cannot be decoded or gives fewer than 2 frames.
    """
    clip = read_sampled(source, Sampling(frames=frames, max_side=max_side))
    label = label or Path(source).name
    data = prepare_clip(clip, "cpu", label)
    payload = clip_payload(data, label)
    return standalone_html(payload, view_payload(payload["id"], params))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mp_core.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", help="a video file")
    parser.add_argument("--out", required=True, type=Path, help="the HTML file to write")
    parser.add_argument("--frames", type=int, default=16, help="frames sampled over the clip (default 16)")
    parser.add_argument("--max-side", type=int, default=320, help="longest side in pixels (default 320)")
    parser.add_argument(
        "--params",
        default=None,
        metavar="SPEC",
        help="preset name, m=…,n=… / slope=…,shift=…, or a checkpoint path (default: the default preset)",
    )
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error(f"--frames must be at least 2 (one frame pair), got {args.frames}")
    if args.max_side < 16:
        parser.error(f"--max-side must be at least 16 pixels, got {args.max_side}")
    try:
        spec = parse_params_spec(args.params) if args.params is not None else default_spec()
        page = build_demo(args.clip, spec.params, frames=args.frames, max_side=args.max_side)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = len(page.encode("utf-8"))
    args.out.write_bytes(page.encode("utf-8"))
    print(
        f"wrote {args.out} ({size / 1e6:.2f} MB) with {spec.label}: a = {spec.params.slope:.2f}, b = "
        f"{spec.params.shift:+.4f}"
    )
    if size > DEMO_SIZE_LIMIT:
        print(
            f"note: over {DEMO_SIZE_LIMIT / 1e6:.0f} MB, more than an email takes easily; about 16 frames at "
            "320 px stay under it (--frames, --max-side)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
