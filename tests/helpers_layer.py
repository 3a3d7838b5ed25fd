"""The layer tests' shared inputs: normalised videos and our layer paired with the authors' reference."""

from __future__ import annotations

import pytest
import torch

from mp_core.layer import MotionPromptLayer
from tests.reference_vmps import ReferenceVMPs

MEAN, STD = 0.45, 0.225
NO_GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=NO_GPU)]


def normalised_video(shape, seed=0, dtype=torch.float32, device="cpu", mean=MEAN, std=STD):
    """(x - mean) / std of uniform [0, 1] pixels: the range the reference is trained on."""
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.rand(shape, generator=gen, dtype=torch.float64)
    return ((pixels - mean) / std).to(dtype=dtype, device=device)


def pair(penalty_weight=0.0, m=0.3, n=-0.2, **kwargs):
    ours = MotionPromptLayer(penalty_weight, **kwargs)
    ref = ReferenceVMPs(penalty_weight)
    with torch.no_grad():
        for layer in (ours, ref):
            layer.m.fill_(m)
            layer.n.fill_(n)
    return ours, ref


def run_with_grads(layer, video, weights):
    video = video.clone().requires_grad_(True)
    prompts, reg = layer(video)
    ((prompts * weights).sum() + reg).backward()
    return prompts.detach(), torch.as_tensor(reg).detach(), video.grad, layer.m.grad, layer.n.grad


def assert_reg_alone_matches(layer, ref, shape=(2, 3, 5, 6, 6)):
    """Backward through R alone (the prompts unused): m, n and video gradients equal the reference's."""
    video = normalised_video(shape, seed=11)
    grads = []
    for module in (layer, ref):
        x = video.clone().requires_grad_(True)
        module(x)[1].backward()
        grads.append((module.m.grad, module.n.grad, x.grad))
    assert grads[0][0].abs().item() > 0
    for ours, want in zip(grads[0], grads[1], strict=True):
        torch.testing.assert_close(ours, want, rtol=1e-4, atol=1e-8)
