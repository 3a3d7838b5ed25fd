"""The sample clips shipped with the app in ``assets/`` (sources and licences: ``assets/CLIPS.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SampleClip", "list_samples"]


@dataclass(frozen=True)
class SampleClip:
    """A shipped clip with its credit line."""

    name: str
    path: Path
    title: str
    description: str
    license: str
    credit: str


#: The app's checkout root holds ``assets/`` beside this package (the app runs from its checkout).
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def list_samples() -> list[SampleClip]:
    """The shipped clips that are present on disk, the default (a pen pushing a coin) first.

    Example:
        >>> [s.name for s in list_samples()]
        ['pen_coin', 'cyclist_static_cam', 'hand_cup', 'race_car_1906']
    """
    entries = [
        (
            "pen_coin",
            "Pen pushes a coin",
            "A hand-held pen enters, pushes a coin across a table and leaves; fixed camera, 568×320, 30 fps.",
            "Expat (MIT)",
            "Peter Braden, node-opencv examples (2018)",
        ),
        (
            "cyclist_static_cam",
            "Cyclist on a court",
            "A cyclist rides across an outdoor handball court; fixed camera, 400×300, 25 fps, 16 frames.",
            "CC BY-SA 3.0",
            "Benoît Markey (2007), pymecavideo examples; re-encoded to H.264",
        ),
        (
            "hand_cup",
            "Hand tilts a cup",
            "A hand moves and tilts a dark cup over a white background; fixed camera, 640×480, 26.8 fps.",
            "Apache-2.0 AND BSD-3-Clause",
            "OpenCV.js tutorial asset (OpenCV contributors); audio removed, re-encoded",
        ),
        (
            "race_car_1906",
            "1906 Grand Prix race car",
            "A race car raises dust towards the camera; old film with grain, flicker and jitter; 214×160.",
            "Public domain",
            "Shepard, Calais 1906 French Grand Prix film, via Wikimedia Commons",
        ),
    ]
    folder = ASSETS
    samples = [
        SampleClip(name, folder / f"{name}.mp4", title, description, license_, credit)
        for name, title, description, license_, credit in entries
    ]
    return [sample for sample in samples if sample.path.is_file()]
