"""The Compare page's columns: which parameter set each shows, and its checkpoint upload."""

from __future__ import annotations

import streamlit as st

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import load_params
from ui.state import CHECKPOINT_TYPES, State, current_params

CURRENT = "Current sliders"
FROM_CHECKPOINT = "From a checkpoint…"
FOCUS_HELP = (
    "Mean attention on the moving objects minus mean attention elsewhere (ground truth of the synthetic "
    "clip): 0 = no preference, 1 = only the motion, below 0 = the static rest."
)


def apply_compare_checkpoint(state: State, index: int, data: bytes, filename: str) -> bool:
    """Learned values for column ``index`` of the Compare page; the sidebar's values are untouched."""
    try:
        params = load_params(data, name=filename)
    except InputError as err:
        state[f"mp.cmp.ckpt_error.{index}"] = f"Could not load learned values from {filename}: {err}"
        return False
    state[f"mp.cmp.ckpt.{index}"] = (filename, params)
    state[f"mp.cmp.ckpt_error.{index}"] = ""
    return True


def compare_params(state: State, index: int) -> tuple[str, MotionParams] | None:
    """Label and values of Compare column ``index``; None while its checkpoint is not loaded yet."""
    choice = state[f"mp.cmp.choice.{index}"]
    if choice == CURRENT:
        return f"{index + 1}: current", current_params(state)
    if choice in PRESETS:
        return f"{index + 1}: {choice}", PRESETS[choice].params
    if choice in state.get("mp.learned", {}):  # values learned on the Learn page (ui.learn)
        return f"{index + 1}: {choice}", state["mp.learned"][choice]
    loaded: tuple[str, MotionParams] | None = state[f"mp.cmp.ckpt.{index}"]
    return None if loaded is None else (f"{index + 1}: {loaded[0]}", loaded[1])


def compare_checkpoint_uploader(index: int) -> None:
    """The uploader of a Compare column, with its error if the last file was rejected."""

    def on_upload() -> None:
        upload = st.session_state.get(f"w.cmp.upload.{index}")
        if upload is not None:
            apply_compare_checkpoint(st.session_state, index, upload.getvalue(), upload.name)

    st.file_uploader("Checkpoint", type=CHECKPOINT_TYPES, key=f"w.cmp.upload.{index}", on_change=on_upload)
    if st.session_state.get(f"mp.cmp.ckpt_error.{index}"):
        st.error(st.session_state[f"mp.cmp.ckpt_error.{index}"])
