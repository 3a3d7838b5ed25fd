"""SIGKILL `python -m mp_core.report` at random points, run it again, compare with an undisturbed run.

Run: .venv/bin/python bench/kill_report.py [--rounds 10] [--kills 4] [--seed 18] [--clips-per-class 2]

Each round writes a fresh report: the command is started, killed with SIGKILL after a random share of the
uninterrupted run's time (``--kills`` times, each run resuming the last), sometimes with one of its parts
torn (truncated at a random byte) and a stray temporary file beside it, then run to the end. The round
holds when the finished report has exactly the uninterrupted run's rows (none missing, none twice, every
number equal to the last bit, error rows included), :func:`~mp_core.report.read_report` opened it after
every kill, and no worker process outlived the killed command. Prints one line per round and a summary.

``tests/mp_core/test_report_kill.py`` runs the same code with a few kills.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mp_core.report import ReportError, read_report  # noqa: E402
from mp_core.report.store import parts_folder  # noqa: E402

PARAMS = ("FineGym", "m=0.257,n=0.053")


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux ``/proc``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def report_command(dataset: Path, out: Path, workers: int = 1) -> list[str]:
    command = [sys.executable, "-m", "mp_core.report", str(dataset), "--out", str(out)]
    command += [arg for params in PARAMS for arg in ("--params", params)]
    return [*command, "--frames", "8", "--max-side", "64", "--workers", str(workers)]


def run_to_end(command: list[str], timeout: float = 300) -> float:
    """Run the command to its end; its seconds."""
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=timeout)
    return time.monotonic() - started


def part_count(out: Path) -> int:
    folder = parts_folder(out)
    return len(list(folder.glob("part-*.parquet"))) if folder.is_dir() else 0


def kill_after(
    command: list[str], seconds: float, *, after_part_of: Path | None = None, grace: float = 10.0
) -> list[int]:
    """Start the command, SIGKILL it (the process only, as the kernel's OOM killer would) after ``seconds``
    (counted from when it writes a new part of ``after_part_of``, if given); returns the processes it had
    started that were still alive ``grace`` seconds later."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = part_count(after_part_of) if after_part_of else 0
    deadline = None if after_part_of else time.monotonic() + seconds
    started: set[int] = set()
    while (deadline is None or time.monotonic() < deadline) and process.poll() is None:
        started.update(children(process.pid))
        if deadline is None and part_count(after_part_of) > parts:
            deadline = time.monotonic() + seconds
        time.sleep(0.05)
    started.update(children(process.pid))
    process.send_signal(signal.SIGKILL)
    process.wait()
    end = time.monotonic() + grace
    while time.monotonic() < end and any(alive(pid) for pid in started):
        time.sleep(0.1)
    return sorted(pid for pid in started if alive(pid))


def tear_a_part(out: Path, rng: random.Random) -> str | None:
    """Truncate one part at a random byte and leave a stray temporary file, as a crash mid-write could."""
    folder = parts_folder(out)
    parts = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
    stray = folder / ".part-stray.parquet.0.tmp" if folder.is_dir() else out.with_name(f".{out.name}.0.tmp")
    stray.write_bytes(b"PAR1")  # a temporary file a killed write left
    if not parts:
        return None
    part = rng.choice(parts)
    data = part.read_bytes()
    part.write_bytes(data[: rng.randrange(0, len(data))])
    return part.name


def rows_by_key(out: Path) -> dict[tuple, dict]:
    table = read_report(out)
    rows: dict[tuple, dict] = {}
    for row in table.to_pylist():
        key = (row["path"], row["params"], row["frames"], row["max_side"])
        assert key not in rows, f"{key} twice"
        rows[key] = row
    return rows


def differences(expected: dict[tuple, dict], got: dict[tuple, dict]) -> list[str]:
    """What differs between two reports' rows (empty: the same rows, every value equal)."""
    problems = [f"missing {key}" for key in expected.keys() - got.keys()]
    problems += [f"extra {key}" for key in got.keys() - expected.keys()]
    for key in expected.keys() & got.keys():
        for column, value in expected[key].items():
            if got[key][column] != value and not (value != value and got[key][column] != got[key][column]):
                problems.append(f"{key} {column}: {got[key][column]!r} != {value!r}")
    return sorted(problems)


def killed_round(
    dataset: Path,
    out: Path,
    reference: dict,
    duration: float,
    kills: int,
    rng: random.Random,
    tear_share: float = 0.5,
) -> dict:
    """One report written through ``kills`` SIGKILLs then run to the end; what was seen.

    Kills alternate between a random time from the start (``0.1``–``1`` x ``duration``: often before any
    row) and a random time (0–2 s) after the run writes a part (mid-run, with rows on disk). After a kill
    of the second kind a part is torn with probability ``tear_share``.
    """
    command = report_command(dataset, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    orphans: list[int] = []
    torn: list[str] = []
    unreadable: list[str] = []
    for number in range(kills):
        if number % 2 == 0:
            orphans += kill_after(command, rng.uniform(0.1, 1.0) * duration)
        else:
            orphans += kill_after(command, rng.uniform(0.0, 2.0), after_part_of=out)
        if number % 2 and rng.random() < tear_share:
            name = tear_a_part(out, rng)
            torn += [name] if name else []
        try:
            read_report(out)
        except ReportError as err:
            if "no report there" not in str(err):  # nothing written yet is fine; an unreadable report is not
                unreadable.append(str(err))
    run_to_end(command)
    return {
        "differences": differences(reference, rows_by_key(out)),
        "orphans": orphans,
        "torn": torn,
        "unreadable": unreadable,
        "leftovers": sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")),
    }


def make_dataset(root: Path, clips_per_class: int) -> Path:
    from mp_core.synthetic import make_demo_dataset

    dataset = make_demo_dataset(root, clips_per_class=clips_per_class)
    (dataset / "static" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 and then nothing")
    return dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--clips-per-class", type=int, default=2)
    args = parser.parse_args()
    import tempfile

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        dataset = make_dataset(base / "dataset", args.clips_per_class)
        durations = [run_to_end(report_command(dataset, base / "reference.parquet"))]
        reference = rows_by_key(base / "reference.parquet")
        print(
            f"reference: {len(reference)} rows ({sum(r['error'] is not None for r in reference.values())} "
            f"error rows), {durations[0]:.1f} s uninterrupted (shared machine)"
        )
        failures = 0
        for number in range(args.rounds):
            started = time.monotonic()
            seen = killed_round(
                dataset, base / f"round{number}" / "r.parquet", reference, durations[0], args.kills, rng
            )
            bad = seen["differences"] or seen["orphans"] or seen["unreadable"] or seen["leftovers"]
            failures += bool(bad)
            state = "FAIL" if bad else "ok"
            print(
                f"round {number}: {state}: {args.kills} kills, torn parts {seen['torn']}, "
                f"{len(seen['differences'])} differences, orphans {seen['orphans']}, "
                f"unreadable {seen['unreadable']}, leftovers {seen['leftovers']}, "
                f"{time.monotonic() - started:.1f} s"
            )
            for line in seen["differences"][:5]:
                print("   ", line)
        print(f"{args.rounds - failures} of {args.rounds} rounds held ({args.rounds * args.kills} kills)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
