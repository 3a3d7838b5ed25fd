"""``python -m mp_core.maps INPUT... --out DIR``: difference maps, attention maps and motion prompts as files.

Exit status: 0 when every video and output was written (or skipped because it exists), 1 when some failed,
2 for bad arguments (nothing read).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from mp_core.errors import InputError
from mp_core.maps.outputs import STAGES
from mp_core.maps.pipeline import FORMATS, Sampling, write_maps
from mp_core.params import DEFAULT_PRESET, PRESETS
from mp_core.specs import ParamSpec, parse_params_spec

EPILOG = f"""
sampling (mp_core.sampling.Sampling):
  default            16 frames spread uniformly over the clip (or --start..--end), as models are fed
  --frames N         N frames spread uniformly; with --stride K: N consecutive frames, every K-th
  --all-frames       every frame (every K-th with --stride) from --start to --end, streamed in chunks:
                     memory does not grow with the video's length. A first pass finds the clip's colour
                     range (max |difference|), so the PNGs and MP4s use one scale for the whole clip.

output: DIR/<video>/<params>/{{frame,difference,attention,prompt}}/pair_0000.png, <stage>.mp4,
  maps.npz (float32 difference, attention (T-1,H,W), prompt (T-1,H,W,3); timestamps, m, n, slope, shift),
  stats.json (mean attention, share above 0.5, R). Videos found in a folder keep their path inside it.
  Existing outputs are skipped (and listed) unless --overwrite.

params SPEC (repeatable): a preset name ({", ".join(n for n in PRESETS if "λ" not in n)}, or the FineGym
  λ sweep as 'FineGym λ=2.5'; default {DEFAULT_PRESET}), raw values 'm=0.257,n=0.053' or
  'slope=20,shift=0.1', or a checkpoint / JSON file with learned m, n.

exit status: 0 all written or skipped, 1 some video or output failed, 2 bad arguments.
"""


def _list(kind: str, choices: Sequence[str]):
    def parse(text: str) -> list[str]:
        values = [v.strip().lower() for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(unknown) or '(none)'}; choose from {','.join(choices)}"
            )
        return values

    return parse


def _spec(text: str) -> ParamSpec:
    try:
        return parse_params_spec(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _positive(kind: type, least: float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from err
        if not value >= least:
            raise argparse.ArgumentTypeError(f"must be >= {least}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mp_core.maps",
        description="Write the frame-difference maps, attention maps and motion prompts of videos.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="video files or folders (searched recursively)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--params", action="append", type=_spec, metavar="SPEC", help="parameter set (repeatable)"
    )
    frames = parser.add_mutually_exclusive_group()
    frames.add_argument("--frames", type=_positive(int, 2), metavar="N", help="frames per video (default 16)")
    frames.add_argument("--all-frames", action="store_true", help="every frame, streamed in chunks")
    parser.add_argument(
        "--start", type=_positive(float, 0), default=0.0, metavar="S", help="first time, seconds"
    )
    parser.add_argument("--end", type=_positive(float, 0), metavar="S", help="last time, seconds")
    parser.add_argument("--stride", type=_positive(int, 1), metavar="K", help="every K-th frame (see below)")
    parser.add_argument(
        "--max-side",
        type=_positive(int, 0),
        default=320,
        metavar="N",
        help="longest side (default 320; 0: stored)",
    )
    parser.add_argument(
        "--what",
        type=_list("stage", STAGES),
        default=list(STAGES),
        help=f"stages (default {','.join(STAGES)})",
    )
    parser.add_argument(
        "--format", type=_list("format", FORMATS), default=["png", "mp4"], help="default png,mp4"
    )
    parser.add_argument(
        "--overlay", action="store_true", help="frame stage: attention over the frame (alpha 0.5)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--device", default="cpu", help="torch device for the maps (default cpu)")
    parser.add_argument(
        "--npz-max-gb",
        type=_positive(float, 0),
        default=4.0,
        metavar="GB",
        help="largest npz written (default 4)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.end is not None and args.end <= args.start:
        parser.error(f"--end ({args.end:g}) must be after --start ({args.start:g})")
    try:
        device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(f"--device {args.device!r}: {err}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    if args.max_side == 1:
        parser.error("--max-side must be 0 (stored size) or at least 2")
    sampling = Sampling(
        frames=None if args.all_frames else args.frames or 16,
        start=args.start,
        end=args.end,
        stride=args.stride,
        max_side=args.max_side or None,
    )
    try:
        report = write_maps(
            args.inputs,
            args.out,
            params=args.params,
            sampling=sampling,
            what=args.what,
            formats=args.format,
            overlay=args.overlay,
            overwrite=args.overwrite,
            device=device,
            npz_max_bytes=args.npz_max_gb * 2**30,
            log=lambda line: tqdm.write(line, file=sys.stderr),
        )
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept, a rerun writes the rest", file=sys.stderr)
        return 130
    print(f"wrote {len(report.written)} video/params folder(s) under {args.out}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} existing output(s) (--overwrite replaces them):")
        for path in report.skipped:
            print(f"  {path}")
    if report.failed:
        print(f"failed {len(report.failed)}:")
        for path, reason in report.failed:
            print(f"  {path}: {reason}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
