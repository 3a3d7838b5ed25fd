"""Reports survive a kill: ``python -m mp_core.report`` and the page's background job, each killed with
SIGKILL at seeded random points and run again, end with exactly the rows of an undisturbed run (none
missing, none twice, every number equal); a torn part or a stray temporary file never stops a report from
opening; a worker process that dies fails the run with a message, and the next run completes it.

The kill-and-compare code is ``bench/kill_report.py`` (which runs more rounds). ``MP_KILL_SEED`` picks the
kill points (default 18); a failure prints the seed's kill times.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.kill_report import (
    PARAMS,
    children,
    differences,
    kill_after,
    killed_round,
    make_dataset,
    report_command,
    rows_by_key,
    run_to_end,
)
from mp_core.report import read_report_pieces, run_report
from mp_core.report.store import parts_folder
from tests.conftest import REPO_ROOT
from ui.report_job import ReportJob, ReportRequest

SEED = int(os.environ.get("MP_KILL_SEED", "18"))
#: The page's job, alone in a process that is killed as a server dying would be.
JOB = """
import sys, threading
from pathlib import Path
from ui.report_job import ReportJob, ReportRequest
request = ReportRequest(Path(sys.argv[1]), Path(sys.argv[2]), tuple(sys.argv[3:]), 8, 64, workers=1)
ReportJob(request, threading.Semaphore(1)).start().wait()
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict, float]:
    """A dataset with an unreadable clip, and its report made by one undisturbed command (and its time)."""
    base = tmp_path_factory.mktemp("kill")
    dataset = make_dataset(base / "dataset", clips_per_class=1)
    seconds = run_to_end(report_command(dataset, base / "reference.parquet"))
    rows = rows_by_key(base / "reference.parquet")
    assert len(rows) == 12 and sum(r["error"] is not None for r in rows.values()) == 2
    return dataset, rows, seconds


def test_the_command_killed_at_random_points_ends_with_the_undisturbed_rows(reference, tmp_path) -> None:
    dataset, rows, seconds = reference
    seen = killed_round(dataset, tmp_path / "r.parquet", rows, seconds, 4, random.Random(SEED), 1.0)
    assert seen["differences"] == [], f"seed {SEED}"
    assert seen["orphans"] == [], "worker processes outlived the killed command"
    assert seen["unreadable"] == []  # read_report opened the report after every kill
    assert seen["leftovers"] == []  # temporary files of killed writes are gone after the finishing run


def test_torn_parts_and_stray_files_never_stop_a_report_from_opening(reference, tmp_path) -> None:
    dataset, rows, _ = reference
    out = tmp_path / "r.parquet"
    options = {"frames": 8, "max_side": 64, "workers": 1}
    done: list[int] = []
    stopped = run_report(
        dataset,
        out,
        PARAMS,
        **options,
        progress=lambda d, t: done.append(d),
        should_stop=lambda: bool(done) and done[-1] >= 4,
    )
    assert stopped.cancelled and stopped.rows_computed >= 4
    parts = sorted(parts_folder(out).glob("part-*.parquet"))
    torn = parts[0]
    kept = stopped.rows_computed - pq_rows(torn)
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])  # torn: half its bytes
    (parts_folder(out) / ".part-x.parquet.1.tmp").write_bytes(b"PAR1")  # a write cut short
    (tmp_path / ".r.parquet.2.tmp").write_bytes(b"")  # a merge cut short
    reading = read_report_pieces(out)
    assert [line.split(":")[0] for line in reading.damaged] == [torn.name]
    assert "not a readable Parquet file" in reading.damaged[0]
    assert (0 if reading.table is None else reading.table.num_rows) == kept
    rest = run_report(dataset, out, PARAMS, **options)  # the torn part's rows are computed again
    assert (rest.rows_computed, rest.rows_reused) == (len(rows) - kept, kept)
    assert differences(rows, rows_by_key(out)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet", "r.parquet.lock"]


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def test_the_page_job_killed_with_its_server_ends_with_the_undisturbed_rows(reference, tmp_path) -> None:
    dataset, rows, seconds = reference
    out = tmp_path / "r.parquet"
    command = [sys.executable, "-c", JOB, str(dataset), str(out), *PARAMS]
    rng = random.Random(SEED + 1)
    orphans = kill_after(command, rng.uniform(0.3, 1.0) * seconds)
    orphans += kill_after(command, rng.uniform(0.0, 2.0), after_part_of=out)
    assert orphans == []
    request = ReportRequest(dataset, out, PARAMS, 8, 64, workers=1)
    job = ReportJob(request, threading.Semaphore(1)).start()  # the page, after the server is back
    assert job.wait(240) and job.state == "done", job.error
    assert differences(rows, rows_by_key(out)) == [], f"seed {SEED + 1}"


def _spawned_workers() -> list[int]:
    return [
        pid
        for pid in children(os.getpid())
        if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_a_killed_worker_fails_the_page_job_with_a_message_and_the_next_run_completes(
    reference, tmp_path
) -> None:
    dataset, rows, _ = reference
    request = ReportRequest(dataset, tmp_path / "r.parquet", PARAMS, 8, 64, workers=1)
    job = ReportJob(request, threading.Semaphore(1)).start()
    deadline = time.monotonic() + 120
    while not _spawned_workers() and job.active and time.monotonic() < deadline:
        time.sleep(0.05)
    (worker,) = _spawned_workers()
    os.kill(worker, 9)
    assert job.wait(120)
    assert job.state == "failed"
    assert "a report worker process died (killed, or out of memory)" in job.error
    assert "run the report again" in job.error
    again = ReportJob(request, threading.Semaphore(1)).start()
    assert again.wait(240) and again.state == "done", again.error
    assert differences(rows, rows_by_key(request.out)) == []


def test_the_kill_script_runs(tmp_path) -> None:
    """The bench script's command line (one round, one kill): what the README tells people to run."""
    result = subprocess.run(
        [sys.executable, "bench/kill_report.py", "--rounds", "1", "--kills", "1", "--clips-per-class", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 rounds held (1 kills)" in result.stdout
