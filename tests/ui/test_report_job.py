"""The page's report runner and report views, without Streamlit: the thread, its slot, cancel, a session
that leaves, failures; the demo dataset with the shipped clips; filters and two-set changes by hand."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from mp_core.errors import DatasetError
from mp_core.report import ReportSummary
from mp_core.synthetic import DEMO_CLASSES
from ui import report_views as rv
from ui.report_job import SHIPPED_CLASS, ReportJob, ReportRequest, demo_dataset, report_file
from ui.samples import list_samples

REQUEST = ReportRequest(Path("/data/set"), Path("/cache/r.parquet"), ("FineGym",))


class StandIn:
    """A report function over ``total`` rows, one every ``step`` seconds, honouring should_stop."""

    def __init__(self, total: int = 50, step: float = 0.01) -> None:
        self.total, self.step, self.calls = total, step, []

    def __call__(self, dataset, out, params, *, progress, should_stop, **options) -> ReportSummary:
        self.calls.append((dataset, out, params, options))
        done = 0
        while done < self.total and not should_stop():
            time.sleep(self.step)
            done += 1
            progress(done, self.total)
        return ReportSummary(Path(out), self.total, done, 0, 0, done < self.total, 0.0)


def test_a_run_reports_progress_and_passes_the_request() -> None:
    run = StandIn(total=5)
    job = ReportJob(REQUEST, threading.Semaphore(1), run=run).start()
    assert job.wait(10) and job.state == "done"
    assert (job.done, job.total, job.summary.rows_computed) == (5, 5, 5)
    ((dataset, out, params, options),) = run.calls
    assert (dataset, out, params) == (Path("/data/set"), Path("/cache/r.parquet"), ["FineGym"])
    assert options == {
        "frames": 16,
        "max_side": 224,
        "split": None,
        "workers": None,
        "roots": None,
        "retry_errors": False,
    }


def test_cancel_stops_a_running_report_and_frees_its_slot() -> None:
    slots = threading.Semaphore(1)
    job = ReportJob(REQUEST, slots, run=StandIn(total=10_000)).start()
    while job.done < 3:
        time.sleep(0.005)
    job.cancel()
    assert job.wait(10) and job.state == "cancelled"
    assert 3 <= job.summary.rows_computed < 10_000 and job.summary.cancelled
    assert slots.acquire(timeout=1)  # released for the next run


def test_runs_wait_for_a_slot_in_turn() -> None:
    slots = threading.Semaphore(1)
    first = ReportJob(REQUEST, slots, run=StandIn(total=30)).start()
    second = ReportJob(REQUEST, slots, run=StandIn(total=3)).start()
    time.sleep(0.1)
    assert first.state == "running" and second.state == "waiting"
    assert first.wait(10) and second.wait(10)
    assert (first.state, second.state) == ("done", "done")
    assert second.started >= first.finished  # its time counts from when it got the slot


def test_a_session_gone_longer_than_the_grace_stops_its_run() -> None:
    alive = threading.Event()
    alive.set()
    job = ReportJob(
        REQUEST, threading.Semaphore(1), alive=alive.is_set, grace=0.2, run=StandIn(10_000)
    ).start()
    time.sleep(0.3)
    assert job.state == "running"
    alive.clear()  # the tab closed
    assert job.wait(10) and job.state == "cancelled"
    assert job.seconds >= 0.5  # 0.3 s alive, then the 0.2 s grace


def test_a_blip_shorter_than_the_grace_does_not_stop_it() -> None:
    answers = iter([True] * 5 + [False] * 3 + [True] * 10_000)
    job = ReportJob(REQUEST, threading.Semaphore(1), alive=lambda: next(answers), grace=5, run=StandIn(40))
    assert job.start().wait(10) and job.state == "done"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (DatasetError("/data/set: no such file or folder"), "/data/set: no such file or folder"),
        (RuntimeError("worker died"), "RuntimeError: worker died"),
    ],
)
def test_failures_are_kept_with_their_message(error: Exception, message: str) -> None:
    def failing(*args, **kwargs):
        raise error

    slots = threading.Semaphore(1)
    job = ReportJob(REQUEST, slots, run=failing).start()
    assert job.wait(10) and (job.state, job.error) == ("failed", message)
    assert slots.acquire(timeout=1)


def test_report_files_live_per_dataset_and_sampling_under_the_cache(tmp_path: Path) -> None:
    a = report_file(Path("/data/hmdb51"), tmp_path, 16, 224)
    assert a == tmp_path / "reports" / a.parent.name / "report-16f-224px.parquet"
    assert a.parent.name.startswith("hmdb51-")
    assert report_file(Path("/other/hmdb51"), tmp_path, 16, 224).parent != a.parent  # same name, other place
    assert report_file(Path("/data/hmdb51"), tmp_path, 32, 224) == a.with_name("report-32f-224px.parquet")


def test_demo_dataset_holds_the_classes_and_the_shipped_clips_once(tmp_path: Path) -> None:
    root = demo_dataset(tmp_path)
    assert root == tmp_path / "demo"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted([*DEMO_CLASSES, SHIPPED_CLASS])
    shipped = {p.name: p.read_bytes() for p in (root / SHIPPED_CLASS).iterdir()}
    assert shipped == {s.path.name: s.path.read_bytes() for s in list_samples()}
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    demo_dataset(tmp_path)  # a second call writes nothing
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps


ROWS = pd.DataFrame(
    {
        "path": ["a/1.mp4", "a/1.mp4", "b/2.mp4", "b/2.mp4", "b/3.mp4", "c/4.mp4"],
        "label": ["a", "a", "b", "b", "b", "c"],
        "params": ["P", "Q", "P", "Q", "P", "Q"],
        "share": [0.10, 0.70, 0.50, 0.40, 0.20, None],
        "error": [None, None, None, None, None, "c/4.mp4: not a video file"],
    }
)


def test_filters_combine() -> None:
    assert rv.filter_rows(ROWS).index.tolist() == [0, 1, 2, 3, 4, 5]
    assert rv.filter_rows(ROWS, labels=["b"], params=["P"]).index.tolist() == [2, 4]
    assert rv.filter_rows(ROWS, text="/2").index.tolist() == [2, 3]
    assert rv.filter_rows(ROWS, text="B/", params=["Q"]).index.tolist() == [3]
    assert rv.filter_rows(ROWS, problems_only=True).index.tolist() == [5]


def test_two_set_changes_by_hand() -> None:
    table = rv.set_difference(ROWS, "share", "P", "Q")
    # a/1: 0.10 -> 0.70 (+0.60); b/2: 0.50 -> 0.40 (-0.10); b/3 has no Q row, c/4 no P row: left out.
    assert table["path"].tolist() == ["a/1.mp4", "b/2.mp4"]
    assert table["change"].tolist() == pytest.approx([0.60, -0.10])
    assert rv.set_difference(ROWS, "share", "P", "R").empty  # a set the report does not have
    figure = rv.pair_figure(table, "share", "P", "Q")
    assert figure.layout.shapes[0].x0 == pytest.approx(0.10) and figure.layout.shapes[0].y1 == pytest.approx(
        0.70
    )


def test_scatter_points_carry_their_row_and_a_selection_maps_back() -> None:
    rows = ROWS.assign(other=[1.0, 2.0, 3.0, 4.0, 5.0, None])
    figure = rv.scatter_figure(rows, "share", "other")
    carried = sorted(int(c[0]) for trace in figure.data for c in trace.customdata)
    assert carried == [0, 1, 2, 3, 4]  # the row without values is not drawn
    event = {"selection": {"points": [{"customdata": [4]}, {"customdata": [4]}, {"customdata": [1]}]}}
    assert rv.selected_rows(event) == [4, 1]
    assert rv.selected_rows(None) == [] and rv.selected_rows({"selection": {"points": []}}) == []
    assert rv.statistics_in(ROWS.rename(columns={"share": "share_moving"})) == ["share_moving"]


def test_session_alive_falls_back_when_streamlits_runtime_api_moves(monkeypatch, caplog) -> None:
    import streamlit.runtime

    from ui.report_runtime import session_alive

    assert session_alive() is None  # outside a server: nobody to ask
    monkeypatch.delattr(streamlit.runtime, "Runtime")
    with caplog.at_level("WARNING", logger="ui.report_runtime"):
        assert session_alive() is None
    assert "Streamlit runtime API moved" in caplog.text
