"""mp_core: Video Motion Prompts (Chen, Wang, Koniusz, Gedeon, ACML 2024) as a small PyTorch library.

Training code needs only torch and numpy: the layer, the method's functions, parameters, metrics and
checkpoint reading import nothing else. Video I/O and datasets (PyAV, h5py) are imported on first use of
their names, and pictures (:mod:`mp_core.viz`: matplotlib, Pillow) are a separate subpackage. No Streamlit.
"""

from __future__ import annotations

import importlib
from typing import Any

from mp_core.checkpoints import load_params, save_params
from mp_core.errors import (
    CheckpointError,
    DatasetError,
    InputError,
    ParameterError,
    ShapeError,
    VideoError,
)
from mp_core.layer import MotionPromptLayer, video_motion_prompts
from mp_core.metrics import AttentionStats, attention_stats, motion_focus
from mp_core.motion import (
    MotionIntermediates,
    attention_variation,
    frame_difference,
    motion_intermediates,
    motion_prompt,
    power_normalization,
    rgb_to_gray,
    temporal_attention_variation,
)
from mp_core.params import PRESETS, MotionParams, Preset, lambda_sweep

#: Names whose modules need PyAV (and h5py): imported when first used, so training code does not need them.
_LAZY = {
    "Clip": "mp_core.video",
    "VideoInfo": "mp_core.video",
    "probe": "mp_core.video",
    "read_clip": "mp_core.video",
    "read_clip_uniform": "mp_core.video",
    "write_video": "mp_core.video",
    "DatasetProblem": "mp_core.datasets",
    "Sample": "mp_core.datasets",
    "VideoDataset": "mp_core.datasets",
    "open_dataset": "mp_core.datasets",
    "SyntheticClip": "mp_core.synthetic",
    "synthetic_clip": "mp_core.synthetic",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as err:  # a core-only install: say which extra brings it
            raise ModuleNotFoundError(
                f"mp_core.{name} needs {err.name}: pip install 'motion-prompt-explorer[video]'", name=err.name
            ) from err
        return getattr(module, name)
    raise AttributeError(f"module 'mp_core' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "AttentionStats",
    "CheckpointError",
    "Clip",
    "DatasetError",
    "DatasetProblem",
    "InputError",
    "MotionIntermediates",
    "MotionParams",
    "MotionPromptLayer",
    "ParameterError",
    "Preset",
    "Sample",
    "ShapeError",
    "SyntheticClip",
    "VideoDataset",
    "VideoError",
    "VideoInfo",
    "attention_stats",
    "attention_variation",
    "frame_difference",
    "lambda_sweep",
    "load_params",
    "motion_focus",
    "motion_intermediates",
    "motion_prompt",
    "open_dataset",
    "power_normalization",
    "probe",
    "read_clip",
    "read_clip_uniform",
    "rgb_to_gray",
    "save_params",
    "synthetic_clip",
    "temporal_attention_variation",
    "video_motion_prompts",
    "write_video",
]
