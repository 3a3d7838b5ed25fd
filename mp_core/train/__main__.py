"""``python -m mp_core.train DATASET --out DIR [--lambda 0,1,10] ...`` (README: "Learning m, n on your data").

Also under ``torchrun --nproc-per-node N -m mp_core.train ...`` (DistributedDataParallel: gloo on CPU, nccl
on GPU). Exit status: 0 done, 2 bad arguments or input, 1 any other failure, 130 interrupted with Ctrl-C,
143 stopped with SIGTERM (both: temporaries removed, the last finished epoch is kept: run again with
``--resume``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mp_core.errors import InputError
from mp_core.processes import PARENT_ENV, exit_with_parent


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from err


def _roots(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(os.pathsep) if part.strip())


def build_parser() -> argparse.ArgumentParser:
    from mp_core.train.loop import TrainSettings

    default = TrainSettings(dataset="", out="")
    parser = argparse.ArgumentParser(
        prog="python -m mp_core.train",
        description="Train a motion prompt layer (m, n) in front of a video backbone on labelled clips, "
        "with the paper's loss: cross-entropy + λ·R. Writes checkpoint.pyth and metrics.parquet per λ.",
    )
    parser.add_argument(
        "dataset", help="folder of class folders, folder with train/val/test.csv, or .h5 pack"
    )
    parser.add_argument(
        "--out", required=True, help="output folder (one lambda-<λ>/ folder per λ in a sweep)"
    )
    parser.add_argument(
        "--lambda",
        dest="penalty_weights",
        type=_weights,
        default=default.penalty_weights,
        metavar="L[,L...]",
        help="regulariser weight λ; a comma list trains one model per value (default 0)",
    )
    parser.add_argument("--epochs", type=int, default=default.epochs, help=f"epochs ({default.epochs})")
    parser.add_argument(
        "--frames", type=int, default=default.frames, help=f"frames per clip ({default.frames})"
    )
    parser.add_argument(
        "--side", type=int, default=default.side, help=f"frame side in pixels ({default.side})"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=default.batch,
        help=f"global batch, split across processes ({default.batch})",
    )
    parser.add_argument(
        "--lr", type=float, default=default.lr, help=f"Adam step of the backbone ({default.lr})"
    )
    parser.add_argument(
        "--prompt-lr",
        type=float,
        default=default.prompt_lr,
        help=f"Adam step of m and n ({default.prompt_lr})",
    )
    parser.add_argument("--seed", type=int, default=default.seed, help="seed of weights, order and split")
    parser.add_argument(
        "--init",
        default=default.init,
        metavar="SPEC",
        help=f"start values: m=…,n=…, slope=…,shift=…, a preset or a checkpoint ({default.init})",
    )
    parser.add_argument(
        "--model",
        default=default.model,
        help="tiny (default), a torchvision video model (r3d_18, mc3_18, r2plus1d_18, s3d, ...) or "
        "package.module:factory (called with num_classes=)",
    )
    parser.add_argument("--weights", help="local state dict for the backbone (never downloaded)")
    parser.add_argument(
        "--no-flip",
        dest="flip",
        action="store_false",
        help="never mirror training clips (default: a seeded half of them each epoch, left-right)",
    )
    parser.add_argument(
        "--no-prompts",
        dest="prompts",
        action="store_false",
        help="the baseline: the backbone alone on the raw later frames, no layer (m, n, R are left empty)",
    )
    parser.add_argument(
        "--demo",
        type=int,
        metavar="N",
        help="first fill DATASET (a folder) with the synthetic demo dataset, N clips per class (made once)",
    )
    parser.add_argument("--resume", action="store_true", help="go on from DIR's checkpoint(s)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    parser.add_argument(
        "--val-share",
        type=float,
        default=default.val_share,
        help="share of each class held out when the dataset has no val split (0.2)",
    )
    parser.add_argument(
        "--roots",
        type=_roots,
        metavar=f"DIR[{os.pathsep}DIR...]",
        help="read only files inside these folders, once '..' and symlinks are followed; listed clips "
        "outside are refused and named (default: no restriction)",
    )
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (the Learn page's Cancel, ``kill``): raised in the main thread so cleanup runs.

    Python's default SIGTERM action ends the process at once, skipping every ``finally``: the
    half-written temporaries of ``atomic_target`` would stay behind.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parent = os.environ.get(PARENT_ENV)
    if parent:  # started by a server (the Learn page): end with it, cleanly
        exit_with_parent(int(parent), grace=30.0)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    from mp_core.train.loop import TrainSettings, train

    demo = vars(args).pop("demo")
    settings = TrainSettings(**vars(args))
    try:
        if demo:
            from mp_core.synthetic import make_demo_dataset
            from mp_core.train.records import write_status

            def making(done: int, total: int) -> None:  # the Learn page shows it before training starts
                write_status(Path(args.out), {"state": "making", "done": done, "total": total})

            print(f"making the demo dataset in {args.dataset} ({demo} clips per class)", file=sys.stderr)
            Path(args.out).mkdir(parents=True, exist_ok=True)
            make_demo_dataset(args.dataset, clips_per_class=demo, progress=making)
        results = train(settings)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print("interrupted: the last finished epoch is kept; run again with --resume", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(err, Terminated) else 130
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, process 0 reports
    for weight, rows in results.items():
        last = rows[-1]
        if not settings.prompts:
            print(f"no prompts (the backbone on raw frames): val accuracy {last['val_accuracy']:.1%}")
            continue
        print(
            f"λ={weight:g}: m={last['m']:.4f} n={last['n']:.4f} (slope {last['slope']:.2f}, shift "
            f"{last['shift']:+.3f}) val accuracy {last['val_accuracy']:.1%} R {last['R']:.4g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
