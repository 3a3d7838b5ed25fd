"""mp_core: Video Motion Prompts (Chen, Wang, Koniusz, Gedeon, ACML 2024) as a small PyTorch library.

No Streamlit here: the app and training code both import this package.
"""

from mp_core.checkpoints import load_params, save_params
from mp_core.datasets import DatasetProblem, Sample, VideoDataset, open_dataset
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
from mp_core.samples import SampleClip, default_sample, list_samples
from mp_core.synthetic import SyntheticClip, motion_focus, synthetic_clip
from mp_core.video_io import (
    Clip,
    VideoInfo,
    probe,
    read_clip,
    read_clip_uniform,
    side_by_side,
    write_gif,
    write_video,
)

__all__ = [
    "PRESETS",
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
    "SampleClip",
    "ShapeError",
    "SyntheticClip",
    "VideoDataset",
    "VideoError",
    "VideoInfo",
    "attention_variation",
    "default_sample",
    "frame_difference",
    "lambda_sweep",
    "list_samples",
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
    "side_by_side",
    "synthetic_clip",
    "temporal_attention_variation",
    "video_motion_prompts",
    "write_gif",
    "write_video",
]
