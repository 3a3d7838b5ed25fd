"""The Compare page's parts: the parameter set of each column, its checkpoint upload, the λ sweep table."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from torch import Tensor

from mp_core import PRESETS, InputError, MotionParams
from mp_core.checkpoints import load_params
from mp_core.params import Preset
from mp_core.viz.clip_view import ClipData, clip_focus, clip_stats
from ui.learn import LEARNED_KEY
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
    if choice in state.get(LEARNED_KEY, {}):  # values learned on the Learn page (ui.learn)
        return f"{index + 1}: {choice}", state[LEARNED_KEY][choice]
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


def sweep_table(data: ClipData, presets: Sequence[Preset], mask: Tensor | None) -> list[dict[str, float]]:
    """One row per preset: λ, m, n, slope, shift and what they do on this clip (mean attention, R, focus)."""
    rows = []
    for preset in presets:
        values = preset.params
        stats = clip_stats(data, values)
        row = {
            "λ": preset.penalty_weight,
            "m": values.m,
            "n": values.n,
            "slope a": round(values.slope, 3),
            "shift b": round(values.shift, 4),
            "mean attention": round(stats.mean_attention, 4),
            "R": float(f"{stats.variation_mean:.4g}"),
        }
        if mask is not None:
            row["motion focus"] = round(clip_focus(data, values, mask), 4)
        rows.append(row)
    return rows
