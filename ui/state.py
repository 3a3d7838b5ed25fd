"""Session state: the canonical ``mp.*`` keys, their defaults, widget binding and the parameter handlers.

Canonical values live in ``st.session_state`` under ``mp.*`` keys, initialised in one place
(:data:`SCHEMA`). Widgets use their own ``w.*`` keys: Streamlit drops a widget's value when a page
without that widget runs, so each widget is re-seeded from its canonical key before it is created and
writes back through ``on_change``. Handlers that react to user input take the state mapping as an
argument, so tests can call them with a plain dict.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, MutableMapping
from typing import Any

import streamlit as st
import torch

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import load_params
from mp_core.params import CONTROL_RANGES, DEFAULT_PRESET
from mp_core.power_norms import COMPARISON_NORMS
from mp_core.sources import CHECKPOINT_SUFFIXES, VIDEO_SUFFIXES
from ui.learn import LEARNED_KEY

State = MutableMapping[str, Any]

CUSTOM = "Custom"
SOURCES = ("Sample", "Upload", "Synthetic")
DATASET_SOURCES = ("Demo dataset", "Path on the server")
#: Uploader types: the readers' own lists, without the dot.
VIDEO_TYPES = [suffix[1:] for suffix in VIDEO_SUFFIXES]
CHECKPOINT_TYPES = [suffix[1:] for suffix in CHECKPOINT_SUFFIXES]
MAX_SIDES = [128, 160, 224, 256, 320, 480, 640]
# Slider ranges (low, high, step): the library's, which the in-browser viewer uses too.
SLOPE_SLIDER = CONTROL_RANGES["slope"]
SHIFT_SLIDER = CONTROL_RANGES["shift"]
RAW_SLIDER = CONTROL_RANGES["m"]

#: The report's parameter set "the sidebar's values", and its views (ui.report_run, ui.report_show).
REPORT_SLIDERS = "Current sidebar values"
REPORT_VIEWS = ("Table", "By class", "Scatter", "Two sets")

#: The session's state, part by part: every canonical key and its default. Lists and dicts are copied per
#: session. A page with keys of its own adds its part here (the one place a reader looks them up).
SCHEMA: dict[str, dict[str, Any]] = {
    "params": {
        "mp.m": PRESETS[DEFAULT_PRESET].params.m,
        "mp.n": PRESETS[DEFAULT_PRESET].params.n,
        "mp.preset": DEFAULT_PRESET,
        "mp.preset_widget": 0,  # generation of the preset selectbox's key: see preset_key
        "mp.raw": False,
        "mp.params_note": "",
        "mp.ckpt_error": "",
    },
    "clip": {
        "mp.source": "Sample",
        "mp.sample": None,
        "mp.upload": None,
        "mp.clip_error": "",  # the requested clip does not load (cleared when it does)
        "mp.upload_error": "",  # the last uploaded video was rejected (cleared by the next good one)
        "mp.syn.objects": 1,
        "mp.syn.noise": 0.0,
        "mp.syn.flicker": 0.0,
        "mp.syn.jitter": 0.0,
        "mp.syn.seed": 0,
        "mp.last_good": None,
        "mp.device": None,  # set to the first of available_devices()
    },
    # The sidebar's sampling (ui.clips.sampling_of makes it a mp_core.sampling.Sampling)
    "sampling": {
        "mp.start": 0.0,
        "mp.frames": 16,
        "mp.mode": "uniform",  # frames spread over the whole clip, as models are fed: the action is in view
        "mp.stride": 1,
        "mp.max_side": 320,
    },
    "viewer": {
        "mp.pair": 0,
        "mp.playing": False,
        "mp.overlay": False,
        "mp.viewer_ack": {"viewer": "", "seq": 0},  # the last browser event applied (ui.viewer)
    },
    "power_norms": {f"mp.pn.{name}": spec.default for name, spec in COMPARISON_NORMS.items()},
    "compare": {
        "mp.cmp.view": "Parameter sets",
        "mp.cmp.count": 3,
        "mp.cmp.choice.0": "Current sliders",
        "mp.cmp.choice.1": "FineGym",
        "mp.cmp.choice.2": "HMDB-51",
        "mp.cmp.choice.3": "UCF-Crime",
        "mp.cmp.ckpt.0": None,
        "mp.cmp.ckpt.1": None,
        "mp.cmp.ckpt.2": None,
        "mp.cmp.ckpt.3": None,
    },
    "dataset": {
        "mp.ds.source": DATASET_SOURCES[0],
        "mp.ds.path": "",  # the server path opened (resolved), when the source is a path
        "mp.ds.recent": [],
        "mp.ds.error": "",
        "mp.ds.unreadable": {},  # dataset path -> {sample key: why it did not decode}
        "mp.ds.show": "Report",
    },
    # The Learn page (ui.learn_view) and the values it learned, offered by name in Compare and the report
    "learn": {
        LEARNED_KEY: {},  # label -> MotionParams
        "mp.learn.source": DATASET_SOURCES[0],
        "mp.learn.path": "",
        "mp.learn.weights": [0.0, 1.0, 10.0],
        "mp.learn.epochs": 20,
        "mp.learn.model": "tiny",
        "mp.learn.frames": 8,
        "mp.learn.side": 64,
        "mp.learn.batch": 8,
        "mp.learn.demo_clips": 48,  # x 5 classes: 190 clips to train, 50 to validate (2% steps)
        "mp.learn.request": None,  # the session's last LearnRequest (its files are read back)
        "mp.learn.error": "",
    },
    # The Dataset page's report (ui.dataset_report, which also sets them itself)
    "report": {
        "mp.ds.job": None,  # the session's ReportJob, running or finished
        "mp.ds.report": None,  # {"dataset": path, "file": report path} on show
        "mp.ds.ckpts": {},  # uploaded checkpoint name -> "m=…,n=…" SPEC text
        "mp.ds.ckpt_error": "",
        "mp.ds.rfile_error": "",
        "mp.ds.sets": [REPORT_SLIDERS, "FineGym"],  # a contrast: FineGym keeps most pixels
        "mp.ds.view": REPORT_VIEWS[0],
        "mp.ds.retry": False,  # compute the rows kept with an error again
    },
}
#: Every canonical key's default, from :data:`SCHEMA`.
DEFAULTS: dict[str, Any] = {key: value for part in SCHEMA.values() for key, value in part.items()}


def available_devices() -> list[str]:
    """CUDA first when present, else only the CPU."""
    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def init_state(state: State) -> None:
    """Put every canonical key that is missing to its default (once per session)."""
    for key, value in DEFAULTS.items():
        if key not in state:
            state[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    if state["mp.device"] is None:
        state["mp.device"] = available_devices()[0]


def current_params(state: State) -> MotionParams:
    return MotionParams(state["mp.m"], state["mp.n"])


# --- widget binding --------------------------------------------------------------------------------------


def _store(widget: str, canonical: str) -> None:
    st.session_state[canonical] = st.session_state[widget]


def seed(state: State, widget: str, value: Any) -> None:
    """Set a widget's value unless it already has it (to float rounding).

    Writing a widget's key sends the value to the browser, where it replaces what the user did since the
    run began: key presses made during a rerun would be lost.
    """
    old = state.get(widget)
    if isinstance(old, float) and isinstance(value, float) and math.isclose(old, value, rel_tol=1e-9):
        return
    if old != value or widget not in state:
        state[widget] = value


def bind(canonical: str, widget: str) -> dict[str, Any]:
    """Seed ``widget`` from ``canonical`` and write back on change: kwargs for the widget call."""
    seed(st.session_state, widget, st.session_state[canonical])
    return {"key": widget, "on_change": _store, "args": (widget, canonical)}


def call(handler: Callable[[State], None]) -> Callable[[], None]:
    return lambda: handler(st.session_state)


# --- parameter handlers (callbacks; they take the state so tests can pass a dict) ----------------------


def clamp(value: float, limits: tuple[float, float, float]) -> float:
    """``value`` within a slider's (low, high, step)."""
    return min(max(value, limits[0]), limits[1])


def sync_param_widgets(state: State) -> None:
    """Seed the slope/shift or raw m/n widgets (those shown) from the canonical (m, n), clamped to the
    slider ranges; called by the sidebar before it creates them."""
    params = current_params(state)
    if state["mp.raw"]:
        seed(state, "w.m", clamp(params.m, RAW_SLIDER))
        seed(state, "w.n", clamp(params.n, RAW_SLIDER))
    else:
        seed(state, "w.slope", clamp(params.slope, SLOPE_SLIDER))
        seed(state, "w.shift", clamp(params.shift, SHIFT_SLIDER))


def preset_key(state: State) -> str:
    """Key of the preset selectbox: a new one each time the preset changes, instead of a written value.

    The sliders change the preset (to Custom) on every press. Written into the box's key, that value
    reaches the browser only when the run ends: a press made before then sends the box's old value
    back, Streamlit takes it for a choice of that preset and its callback resets the sliders
    (key presses lost on a fresh page, issue 18). A fresh key is a new widget created with the preset
    as its default, and :func:`on_preset` ignores the old keys.
    """
    return f"w.preset.{state['mp.preset_widget']}"


def set_params(state: State, params: MotionParams, preset: str | None = None, note: str = "") -> None:
    """Make ``params`` current; the sidebar shows them in its widgets on the next run.

    No widget key is written here: handlers run as the widget's callback, and writing the moved slider's
    own key there makes Streamlit send the value back, undoing key presses made in the meantime.
    """
    state["mp.m"], state["mp.n"] = params.m, params.n
    if preset != state["mp.preset"]:
        state["mp.preset_widget"] += 1  # the box shows the new preset (see preset_key)
    state["mp.preset"] = preset
    state["mp.params_note"] = note


def on_slope(state: State) -> None:
    """Slope slider moved: new |m|, same sign of m (a depends on |tanh m|), n untouched."""
    set_params(state, current_params(state).with_slope(float(state["w.slope"])))


def on_shift(state: State) -> None:
    """Shift slider moved: new n, m untouched."""
    set_params(state, current_params(state).with_shift(float(state["w.shift"])))


def on_raw(state: State) -> None:
    set_params(state, MotionParams(float(state["w.m"]), float(state["w.n"])))


def on_preset(state: State, key: str | None = None) -> None:
    """The preset box (``key``, by default the one shown now) chose a preset, or Custom.

    A box replaced since (an older key) is ignored: Streamlit keeps the callbacks of an interrupted
    run's widgets and calls them with the value the browser still had, which nobody chose.
    """
    key = key or preset_key(state)
    if key != preset_key(state):
        return
    name = state[key]
    if name in PRESETS:
        set_params(state, PRESETS[name].params, preset=name, note=PRESETS[name].source)
    else:
        state["mp.preset"] = None


def on_reset(state: State) -> None:
    preset = PRESETS[DEFAULT_PRESET]
    set_params(state, preset.params, preset=DEFAULT_PRESET, note=preset.source)
    state["mp.ckpt_error"] = ""


def apply_checkpoint(state: State, data: bytes, filename: str) -> bool:
    """Load learned (m, n) from an uploaded checkpoint; on failure keep the values and store the message."""
    try:
        params = load_params(data, name=filename)
    except InputError as err:
        state["mp.ckpt_error"] = f"Could not load learned values from {filename}: {err}"
        return False
    set_params(state, params, note=f"Loaded from {filename}")
    state["mp.ckpt_error"] = ""
    return True


def on_checkpoint_upload() -> None:
    upload = st.session_state.get("w.ckpt")
    if upload is not None:
        apply_checkpoint(st.session_state, upload.getvalue(), upload.name)
