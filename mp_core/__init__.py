"""mp_core: Video Motion Prompts (Chen, Wang, Koniusz, Gedeon, ACML 2024) as a small PyTorch library.

No Streamlit here: the app and training code both import this package.
"""

from mp_core.errors import (
    CheckpointError,
    DatasetError,
    InputError,
    ParameterError,
    ShapeError,
    VideoError,
)
from mp_core.layer import MotionPromptLayer, video_motion_prompts
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

__all__ = [
    "PRESETS",
    "CheckpointError",
    "DatasetError",
    "InputError",
    "MotionIntermediates",
    "MotionParams",
    "MotionPromptLayer",
    "ParameterError",
    "Preset",
    "ShapeError",
    "VideoError",
    "attention_variation",
    "frame_difference",
    "lambda_sweep",
    "motion_intermediates",
    "motion_prompt",
    "power_normalization",
    "rgb_to_gray",
    "temporal_attention_variation",
    "video_motion_prompts",
]
