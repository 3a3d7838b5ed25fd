"""Difference maps, attention maps and motion prompts of whole videos, as files: ``write_maps`` and
``python -m mp_core.maps`` (see ``python -m mp_core.maps --help``).

Needs PyAV, matplotlib, Pillow and tqdm (``pip install "motion-prompt-explorer[maps]"``), unlike the core
of :mod:`mp_core`.
"""

from __future__ import annotations

from mp_core.maps.inputs import VideoInput, find_videos
from mp_core.maps.outputs import STAGES, StreamingStats
from mp_core.maps.pipeline import FORMATS, MapsReport, Sampling, write_maps

__all__ = [
    "FORMATS",
    "STAGES",
    "MapsReport",
    "Sampling",
    "StreamingStats",
    "VideoInput",
    "find_videos",
    "write_maps",
]
