"""Learn m, n (and a backbone) on labelled clips: ``python -m mp_core.train DATASET --out DIR``.

Needs torch, numpy, PyAV (decoding), pyarrow (metrics) and tqdm; torchvision only for its video models.
No Streamlit. See :func:`train` and README "Learning m, n on your data".
"""

from __future__ import annotations

from mp_core.train.data import ClipTensors, decode_clips, split_indices, to_model_input
from mp_core.train.loop import (
    METRIC_COLUMNS,
    ResumeError,
    TrainSettings,
    batch_loss,
    cosine_factor,
    epoch_flips,
    epoch_permutation,
    final_params,
    lambda_folder,
    read_metrics,
    train,
)
from mp_core.train.models import (
    ModelError,
    PromptedClassifier,
    TinyVideoNet,
    build_backbone,
    import_torchvision_video,
    torchvision_video_models,
)

__all__ = [
    "METRIC_COLUMNS",
    "ClipTensors",
    "ModelError",
    "PromptedClassifier",
    "ResumeError",
    "TinyVideoNet",
    "TrainSettings",
    "batch_loss",
    "build_backbone",
    "cosine_factor",
    "decode_clips",
    "epoch_flips",
    "epoch_permutation",
    "final_params",
    "import_torchvision_video",
    "lambda_folder",
    "read_metrics",
    "split_indices",
    "to_model_input",
    "torchvision_video_models",
    "train",
]
