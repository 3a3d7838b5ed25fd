"""The Learn page's widgets: settings, Train / Cancel, live curves, and "Use these values"."""

from __future__ import annotations

import streamlit as st

from mp_core import InputError, MotionParams, lambda_sweep
from mp_core.params import DEFAULT_PRESET, PRESETS
from mp_core.train import final_params
from ui import learn_figures
from ui.learn import (
    LAMBDA_CHOICES,
    MODELS,
    LearnRequest,
    TrainProcess,
    TrainSlot,
    learned_entries,
    publish_learned,
    request_runs,
)
from ui.report_runtime import session_alive
from ui.roots import allowed_path, cache_dir, dataset_roots
from ui.state import DATASET_SOURCES, State, set_params

__all__ = ["controls", "live_section", "train_slot"]

DEMO, SERVER = DATASET_SOURCES


@st.cache_resource(max_entries=1)
def train_slot() -> TrainSlot:
    """The server's one training run (training takes every core: runs of several sessions would crawl)."""
    return TrainSlot()


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "test"


def _request(state: State) -> LearnRequest | None:
    weights = tuple(sorted(float(w) for w in state["mp.learn.weights"]))
    common = {
        "weights": weights,
        "epochs": int(state["mp.learn.epochs"]),
        "model": state["mp.learn.model"],
        "frames": int(state["mp.learn.frames"]),
        "side": int(state["mp.learn.side"]),
        "batch": int(state["mp.learn.batch"]),
        "roots": dataset_roots(),  # the run checks every clip it reads, not only the dataset's path
    }
    if state["mp.learn.source"] == DEMO:
        clips = int(state["mp.learn.demo_clips"])
        return LearnRequest(cache_dir() / f"learn-demo-{clips}", demo=clips, **common)
    try:
        path = allowed_path(state["mp.learn.path"], dataset_roots())
    except InputError as err:
        state["mp.learn.error"] = f"Cannot train on that path: {err}"
        return None
    return LearnRequest(path, **common)


def _on_train() -> None:
    state = st.session_state
    state["mp.learn.error"] = ""
    for key in ("source", "weights", "epochs", "model", "frames", "side", "batch", "demo_clips", "path"):
        state[f"mp.learn.{key}"] = state.get(f"w.learn.{key}", state[f"mp.learn.{key}"])  # shown or not
    if not 1 <= len(state["mp.learn.weights"]) <= 4:
        state["mp.learn.error"] = "Choose one to four λ values."
        return
    request = _request(state)
    if request is None:
        return
    if train_slot().start(request, request.out(cache_dir()), _session_id(), session_alive()) is None:
        state["mp.learn.error"] = "Another training run is using this server; try again when it ends."
        return
    state["mp.learn.request"] = request


def _on_cancel() -> None:
    train_slot().cancel(_session_id())  # only this session's run: the owner, not equal settings, decides


def _my_job(state: State) -> TrainProcess | None:
    """The server's run if this session started it for its last request."""
    job = train_slot().job_of(_session_id())
    return job if job is not None and job.request == state["mp.learn.request"] else None


def _seed(widget: str, canonical: str) -> dict[str, str]:
    """Widgets keep their values across pages through their canonical ``mp.learn.*`` key."""
    st.session_state.setdefault(widget, st.session_state[canonical])
    return {"key": widget}


def controls(state: State) -> bool:
    """Settings and Train / Cancel; returns whether this session's run is active."""
    job = train_slot().job
    mine = _my_job(state) is not None
    active = job is not None and job.active
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.segmented_control(
            "Dataset", [DEMO, SERVER], required=True, **_seed("w.learn.source", "mp.learn.source")
        )
        if state["w.learn.source"] == DEMO:
            st.number_input(
                "Clips per class", 4, 200, step=4, **_seed("w.learn.demo_clips", "mp.learn.demo_clips")
            )
            st.caption(
                "Synthetic clips of five classes (one object crossing, two objects, camera shake, lighting "
                "flicker, a static scene), made once in the app's cache; a fifth of each class validates."
            )
        else:
            st.text_input(
                "Dataset path on the server (class folders, split lists or an .h5 pack)",
                **_seed("w.learn.path", "mp.learn.path"),
            )
        st.multiselect(
            "λ values (1–4): one model each",
            list(LAMBDA_CHOICES),
            max_selections=4,
            format_func=lambda w: f"{w:g}",
            **_seed("w.learn.weights", "mp.learn.weights"),
        )
    with right:
        st.number_input("Epochs", 1, 200, **_seed("w.learn.epochs", "mp.learn.epochs"))
        st.selectbox("Model", MODELS, **_seed("w.learn.model", "mp.learn.model"))
        with st.expander("Clip size and batch"):
            st.number_input("Frames per clip", 3, 32, **_seed("w.learn.frames", "mp.learn.frames"))
            st.number_input("Frame side (px)", 16, 224, step=16, **_seed("w.learn.side", "mp.learn.side"))
            st.number_input("Batch", 1, 64, **_seed("w.learn.batch", "mp.learn.batch"))
    buttons = st.columns([1, 1, 4])
    buttons[0].button("Train", type="primary", on_click=_on_train, disabled=active, key="w.learn.train")
    buttons[1].button("Cancel", on_click=_on_cancel, disabled=not (active and mine), key="w.learn.cancel")
    if active and not mine:
        buttons[2].caption("Another session's training run is using this server.")
    if state["mp.learn.error"]:
        st.error(state["mp.learn.error"])
    st.caption(
        f"Starts from the app's default values ({DEFAULT_PRESET}: m={PRESETS[DEFAULT_PRESET].params.m:g}, "
        f"n={PRESETS[DEFAULT_PRESET].params.n:g}); the loss is cross-entropy + λ·R. The same run from a "
        "terminal: `python -m mp_core.train DATASET --out DIR --lambda 0,1,10`."
    )
    return active and mine


def _use(label: str, params: MotionParams) -> None:
    set_params(st.session_state, params, note=f"Learned here: {label}")


def live_section(state: State) -> None:
    """Progress, curves and the sweeps of the session's last run; redrawn every 2 s while it runs."""
    request: LearnRequest | None = state["mp.learn.request"]
    if request is None:
        st.info("Choose λ values and press Train: the curves appear here epoch by epoch.")
        _paper_sweep({})
        return
    job = _my_job(state)
    running = job is not None and job.active
    if running:  # redrawn alone every 2 s; it reruns the page when the run ends
        st.fragment(run_every=2.0)(_live)(request)
    else:  # not a fragment: "Use these values" must rerun the whole page, sidebar included
        _live(request)


def _live(request: LearnRequest) -> None:
    state = st.session_state
    job = _my_job(state)
    out = request.out(cache_dir())
    if job is not None:
        running = job.active
        share, line = job.progress()
        if running:
            st.progress(share, text=line)
        elif job.state == "failed":
            st.error(f"Training failed: {job.error}")
        elif job.state == "cancelled":
            st.warning("Cancelled: press Train again with the same settings to resume from the last epoch.")
        runs = job.runs()
        if not running and state.get("mp.learn.shown") != (request, job.state):
            state["mp.learn.shown"] = (request, job.state)
            if job.state == "done":
                publish_learned(state, learned_entries(request, out))
            st.rerun()  # the whole page: Train becomes available again
    else:
        running, runs = False, request_runs(request, out)
    runs = {w: rows for w, rows in runs.items() if rows}
    if not runs:
        return
    st.plotly_chart(learn_figures.curves_figure(runs), key="learn_curves")
    start = PRESETS[DEFAULT_PRESET].params
    st.plotly_chart(learn_figures.trajectory_figure(runs, start), key="learn_paths")
    finals = {w: final_params(rows) for w, rows in runs.items()}
    _paper_sweep(finals)
    if not running:
        _use_buttons(request, runs)


def _paper_sweep(finals: dict[float, MotionParams]) -> None:
    st.markdown("**The paper's FineGym λ sweep beside yours**")
    st.plotly_chart(learn_figures.sweep_figure(lambda_sweep(), finals), key="learn_sweep")


def _use_buttons(request: LearnRequest, runs: dict[float, list[dict]]) -> None:
    st.markdown("**Learned values** (also offered in Compare and in the Dataset report)")
    for weight, rows in runs.items():
        last, params = rows[-1], final_params(rows)
        label = f"λ={weight:g}"
        columns = st.columns([3, 1])
        checkpoint = request.folder(request.out(cache_dir()), weight) / "checkpoint.pyth"
        columns[0].markdown(
            f"{label}: m = {params.m:.4f}, n = {params.n:.4f} (slope {params.slope:.2f}, shift "
            f"{params.shift:+.3f}); validation accuracy {last['val_accuracy']:.0%} after epoch "
            f"{last['epoch']}; checkpoint `{checkpoint}`"
        )
        columns[1].button(
            "Use these values",
            key=f"w.learn.use.{weight:g}",
            on_click=_use,
            args=(f"{label} on {request.dataset.name}", params),
        )
