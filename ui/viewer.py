"""The live viewer of the Explore page: a components v2 component computing the four panels in the browser.

Two mounts share one JS module (:func:`mp_core.viz.viewer.viewer_script`): the *clip* component
carries the sampled frames (raw bytes, :func:`mp_core.viz.viewer.clip_bytes`) and never changes while the
clip and sampling stay the same, so Streamlit sends it as a reference to the message the browser already
holds; the *view* component carries the parameters, pair and options. The browser redraws on every control
movement and tells the server only when a control is released, through trigger events (``params``, ``pair``,
``overlay``) whose callbacks set the canonical ``mp.*`` keys: the sidebar, the other pages and the exports
follow. A camera recording made in the viewer comes as the ``recording`` event (:mod:`ui.camera`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from mp_core import MotionParams
from mp_core.viz.clip_view import ClipData
from mp_core.viz.viewer import (
    DEMO_SIZE_LIMIT,
    asset,
    clip_bytes,
    clip_payload,
    standalone_html,
    view_payload,
    viewer_script,
)
from ui.camera import on_recording
from ui.clips import ClipSpec
from ui.state import (
    RAW_SLIDER,
    SHIFT_SLIDER,
    SLOPE_SLIDER,
    State,
    clamp,
    current_params,
    set_params,
)

VIEW_KEY = "w.viewer"
CLIP_KEY = "w.viewer_clip"
EVENTS = ("params", "pair", "overlay")
#: The largest sampled clip the browser is sent (raw RGB bytes); it holds RGBA frames and float32
#: differences (about 2.7x this). Longer or larger samplings are drawn on the server.
MAX_VIEWER_BYTES = 48 * 2**20
RANGES = {"slope": SLOPE_SLIDER, "shift": SHIFT_SLIDER, "m": RAW_SLIDER, "n": RAW_SLIDER}

_JS = viewer_script(module=True)
_clip_component = st.components.v2.component("motion_prompts_clip", js=_JS)
_view_component = st.components.v2.component("motion_prompts_viewer", css=asset("viewer.css"), js=_JS)


def fits_viewer(data: ClipData) -> bool:
    return data.clip.frames.numel() <= MAX_VIEWER_BYTES


# Per session, the current clip only (frames of an upload stay with the session that uploaded them), freed
# when the session ends: at most MAX_VIEWER_BYTES and the export's PNGs per session.
@st.cache_resource(scope="session", max_entries=1, show_spinner=False)
def cached_clip_bytes(spec: ClipSpec, _data: ClipData) -> tuple[str, bytes]:
    """What the viewer is sent of a clip, with its id: raw frames in one blob (~10 ms to build).

    Bytes, not JSON: Streamlit hashes a component's data on every run to identify it, and hashing bytes
    costs ~5 ms where canonicalising 5 MB of JSON cost ~150 ms.
    """
    blob = clip_bytes(_data, spec.label)
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[4:8], "little")])
    return header["id"], blob


@st.cache_resource(scope="session", max_entries=1, show_spinner=False)
def cached_clip_payload(spec: ClipSpec, _data: ClipData) -> dict[str, Any]:
    """The HTML export's clip payload (PNG: smaller; 0.1–0.8 s to encode 16 frames at 320 px here)."""
    return clip_payload(_data, spec.label)


# --- events from the browser (callbacks; they take the state so tests can pass a dict) ------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _apply_params(state: State, values: Any) -> bool:
    """As the sidebar's sliders set them (ui.state.on_slope / on_shift / on_raw), clamped to their ranges."""
    if not isinstance(values, dict):
        return False
    m, n = _number(values.get("m")), _number(values.get("n"))
    slope, shift = _number(values.get("slope")), _number(values.get("shift"))
    params = current_params(state)
    if m is not None or n is not None:
        m = params.m if m is None else clamp(m, RAW_SLIDER)
        n = params.n if n is None else clamp(n, RAW_SLIDER)
        params = MotionParams(m, n)
    if slope is not None:
        params = params.with_slope(clamp(slope, SLOPE_SLIDER))
    if shift is not None:
        params = params.with_shift(clamp(shift, SHIFT_SLIDER))
    if any(value is not None for value in (m, n, slope, shift)):
        set_params(state, params)
        return True
    return False


def apply_event(state: State, event: str, payload: Any, num_pairs: int | None = None) -> bool:
    """Apply one viewer event ``{"value", "viewer", "seq"}`` to the canonical state; False (and no change)
    for a malformed one.

    ``params``: ``{slope?, shift?}`` or ``{m?, n?}`` (as the sidebar's sliders would set them);
    ``pair``: the frame pair (clamped to the clip); ``overlay``: bool. The event's ``viewer``/``seq`` become
    ``mp.viewer_ack``, which the viewer reads to tell the server's values from its own newer changes.
    """
    if not isinstance(payload, dict):
        return False
    value = payload.get("value")
    if event == "params":
        if not _apply_params(state, value):
            return False
    elif event == "pair" and _number(value) is not None:
        pair = max(int(value), 0)
        state["mp.pair"] = min(pair, num_pairs - 1) if num_pairs else pair
    elif event == "overlay" and isinstance(value, bool):
        state["mp.overlay"] = value
    else:
        return False
    seq = _number(payload.get("seq"))
    state["mp.viewer_ack"] = {"viewer": str(payload.get("viewer", "")), "seq": int(seq or 0)}
    return True


def _callback(event: str, num_pairs: int) -> Callable[[], None]:
    def callback() -> None:
        result = st.session_state.get(VIEW_KEY) or {}
        apply_event(st.session_state, event, result.get(event), num_pairs)

    return callback


# --- the page's parts ----------------------------------------------------------------------------------


def current_view(state: State, clip_id: str) -> dict[str, Any]:
    return view_payload(
        clip_id,
        current_params(state),
        pair=state["mp.pair"],
        overlay=state["mp.overlay"],
        raw=state["mp.raw"],
        ack=state["mp.viewer_ack"],
        ranges=RANGES,
    )


def show_viewer(spec: ClipSpec, data: ClipData) -> None:
    """The viewer of the current clip at the current parameters (call :func:`fits_viewer` first)."""
    state = st.session_state
    clip_id, blob = cached_clip_bytes(spec, data)
    callbacks = {f"on_{event}_change": _callback(event, data.num_pairs) for event in EVENTS}
    callbacks["on_recording_change"] = lambda: on_recording(state, state.get(VIEW_KEY))
    with st.container(gap=None):
        _view_component(key=VIEW_KEY, data=current_view(state, clip_id), **callbacks)
        _clip_component(key=CLIP_KEY, data=blob)


def demo_html(spec: ClipSpec, data: ClipData, state: State) -> bytes:
    """The Interactive HTML export: the same viewer for this clip, sampling and parameters, in one file."""
    payload = cached_clip_payload(spec, data)
    return standalone_html(payload, current_view(state, payload["id"])).encode("utf-8")


def demo_size_note(size: int, data: ClipData) -> str:
    """What the export's size is, and the rule when it is over what an email takes."""
    count, height, width = data.clip.frames.shape[:3]
    text = f"{size / 1e6:.1f} MB: every sampled frame stored losslessly (PNG), viewer and legend included."
    if size > DEMO_SIZE_LIMIT:
        text += (
            f" Over {DEMO_SIZE_LIMIT / 1e6:.0f} MB: {count} frames at {width}×{height} hold too much to mail "
            "easily; about 16 frames at 320 px stay under it. Lower Frames or Max side (sidebar, Sampling)."
        )
    return text
