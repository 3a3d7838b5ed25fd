"""The authors' reference Video Motion Prompts layer, re-written for the equivalence tests.

Source read: the ``VideoMotionPrompt`` module of the authors' training code (Qixiang Chen et al., "Motion
meets Attention: Video Motion Prompts", ACML 2024), file ``vmps.py``. This is a transcription in our own
words that keeps its arithmetic and order of operations exactly, because the tests compare our fast layer
against it to 1e-5:

1. permute the input (B, C, T, H, W) to (B, T, C, H, W);
2. de-normalise every channel, ``x * 0.225 + 0.45`` (a full-size copy);
3. grayscale with an einsum over the channel axis, weights taken in the input's colour order (BGR);
4. signed frame difference of the grayscale frames;
5. attention ``1 / (1 + exp(-(5 / (0.45 |tanh m| + 0.1)) * (D - 0.6 tanh n)))`` in the input's dtype;
6. the attention repeated to 3 channels and multiplied with the *normalised* later frames (the reference
   does not re-normalise: the prompt is ``A * x_norm[:, 1:]``);
7. regulariser, only while autograd is on: ``sum((A[:, 1:] - A[:, :-1])**2) / (H W (T - 2) B)`` times the
   penalty weight; with autograd off it returns the integer 0.

Not kept: the optional wandb logging (no effect on the result).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

GRAY_WEIGHTS = {"B": 0.114, "G": 0.587, "R": 0.299}


def _to_btchw(video: Tensor, layout: str) -> Tensor:
    return video.permute([layout.index(axis) for axis in "BTCHW"])


def _from_btchw(video: Tensor, layout: str) -> Tensor:
    return video.permute(["BTCHW".index(axis) for axis in layout])


def reference_sigmoid(diff: Tensor, m: Tensor, n: Tensor) -> Tensor:
    """The reference's power normalization, written as 1 / (1 + exp(-a (D - b)))."""
    slope = 5 / (0.45 * torch.abs(torch.tanh(m)) + 1e-1)
    return 1 / (1 + torch.exp(-slope * (diff - 0.6 * torch.tanh(n))))


class ReferenceVMPs(nn.Module):
    """Reference layer: input (B, C, T, H, W), BGR, normalised with mean 0.45 and std 0.225."""

    def __init__(self, penalty_weight: float = 0.0) -> None:
        super().__init__()
        self.layout = "BCTHW"
        self.color_order = "BGR"
        self.m = nn.Parameter(nn.init.normal_(torch.zeros(1), 1e-5, 1))
        self.n = nn.Parameter(nn.init.normal_(torch.zeros(1), 1e-5, 1))
        self.penalty_weight = penalty_weight

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor | int]:
        frames = _to_btchw(video, self.layout)
        pixels = frames * 0.225 + 0.45
        weights = torch.tensor(
            [GRAY_WEIGHTS[c] for c in self.color_order], dtype=frames.dtype, device=frames.device
        )
        gray = torch.einsum("btchw, c -> bthw", pixels, weights)
        batch, time, height, width = gray.shape
        diff = gray[:, 1:] - gray[:, :-1]
        attention = reference_sigmoid(diff, self.m, self.n)
        attention3 = attention.unsqueeze(2).repeat(1, 1, 3, 1, 1)
        loss: Tensor | int = 0
        if torch.is_grad_enabled():
            step = attention[:, 1:] - attention[:, :-1]
            variation = torch.sum(step.pow(2)) / (height * width * (time - 2) * batch)
            loss = self.penalty_weight * variation
        prompt = attention3 * frames[:, 1:]
        return _from_btchw(prompt, self.layout), loss
