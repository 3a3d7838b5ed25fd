"""``python -m mp_core.report DATASET --out REPORT.parquet [--params SPEC]...`` (README: "Dataset reports").

Exit status: 0 done, 2 bad arguments or input (a missing dataset, an unknown preset, a report that cannot
be resumed), 1 any other failure, 130 interrupted with Ctrl-C (the rows so far are kept; run again to
resume).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from mp_core.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mp_core.report",
        description="One row of motion-prompt statistics per (sample, parameter set) of a dataset, in "
        "Parquet. Re-running into the same file computes only the missing rows.",
    )
    parser.add_argument(
        "dataset", help="folder of class folders, folder with train/val/test.csv, or .h5 pack"
    )
    parser.add_argument("--out", required=True, help="the report's .parquet file (resumed if it exists)")
    parser.add_argument(
        "--params",
        action="append",
        default=[],
        metavar="SPEC",
        help="preset name (FineGym), raw values (m=0.257,n=0.053 or slope=…,shift=…) or a checkpoint/JSON "
        "path; repeat for several sets (default: the app's default preset)",
    )
    parser.add_argument("--frames", type=int, default=16, help="frames per sample, evenly spaced (16)")
    parser.add_argument(
        "--max-side", type=int, default=224, help="shrink frames to this longer side; 0 keeps full size"
    )
    parser.add_argument("--split", help="only this split (train, val, test, ...)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--workers", type=int, help="processes, or CPUs of a local Ray (default: all cores)")
    parser.add_argument(
        "--ray-address", help="join this Ray cluster (engine ray), e.g. auto or ray://host:10001"
    )
    parser.add_argument(
        "--retry-errors",
        action="store_true",
        help="compute again the rows kept with an error (a clip that could not be read); without it they "
        "count as done",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ray_address and args.engine != "ray":
        parser.error("--ray-address needs --engine ray")

    from tqdm import tqdm

    from mp_core.report import run_report

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    bar = tqdm(unit="row", disable=None, dynamic_ncols=True, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = run_report(
            args.dataset,
            args.out,
            args.params,
            frames=args.frames,
            max_side=args.max_side or None,
            split=args.split,
            engine=args.engine,
            workers=args.workers,
            ray_address=args.ray_address,
            retry_errors=args.retry_errors,
            progress=progress,
            should_stop=stop.is_set,
        )
    except InputError as err:
        bar.close()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        bar.close()
        print(f"error: the report could not run: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    for problem in summary.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(summary)
    return 130 if summary.cancelled else 0


if __name__ == "__main__":
    sys.exit(main())
