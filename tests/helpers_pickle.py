"""A checkpoint whose pickle would run code when loaded without ``weights_only``."""

from __future__ import annotations

import io
import os
from pathlib import Path

import torch


class RunsCode:
    """Unpickling this runs a shell command that creates ``marker``: the file must never appear."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def code_running_checkpoint(marker: Path) -> bytes:
    """A torch.save'd PySlowFast-like dict with real m, n and an object that would run ``touch marker``."""
    buffer = io.BytesIO()
    state = {"vmps.m": torch.tensor([1.05]), "vmps.n": torch.tensor([-2.67])}
    torch.save({"model_state": state, "x": RunsCode(marker)}, buffer)
    return buffer.getvalue()
