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

__all__ = [
    "CheckpointError",
    "DatasetError",
    "InputError",
    "ParameterError",
    "ShapeError",
    "VideoError",
]
