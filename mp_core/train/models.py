"""The network trained by ``python -m mp_core.train``: a motion prompt layer in front of a video backbone.

Backbones take ``(B, C, T, H, W)`` prompts and return ``(B, classes)`` logits: the ``tiny`` network defined
here, a torchvision video model by name (``r3d_18``, ``mc3_18``, ``r2plus1d_18``, ``s3d``, ...; weights only
from a local file, never a download), or the user's own ``package.module:factory``.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mp_core.errors import InputError
from mp_core.layer import MotionPromptLayer

__all__ = [
    "LaterFrames",
    "ModelError",
    "PatchEmbedding",
    "PromptedClassifier",
    "TinyVideoNet",
    "build_backbone",
    "torchvision_video_models",
]

#: torchvision video classifiers whose factory takes ``num_classes``.
_TORCHVISION_MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t")


class ModelError(InputError):
    """A backbone cannot be built, its weights do not load, or it does not fit the input."""


class PatchEmbedding(nn.Module):
    """Each frame cut into non-overlapping ``patch`` x ``patch`` squares, each projected to ``channels``.

    The first layer of ViT-style video models (TimeSformer, the authors' backbone, uses 16 x 16). It equals
    ``nn.Conv3d(in_channels, channels, (1, patch, patch), stride=(1, patch, patch))``, written as a reshape
    and an ``nn.Linear`` because learning m, n needs this layer's *input* gradient, which oneDNN computes
    several times slower for that Conv3d on CPU than the matmul here (``bench/bench_train.py``). Sides that
    are not multiples of ``patch`` are zero-padded on the right and bottom.

    Shape:
        - Input: ``(B, C, T, H, W)``.
        - Output: ``(B, channels, T, ceil(H / patch), ceil(W / patch))``, channels-last in memory
          (``torch.channels_last_3d``), which the following Conv3d takes without a copy.

    Example:
        >>> embed = PatchEmbedding(3, 8, patch=2)
        >>> out = embed(torch.zeros(1, 3, 4, 6, 5))
        >>> out.shape, out.is_contiguous(memory_format=torch.channels_last_3d)
        (torch.Size([1, 8, 4, 3, 3]), True)
    """

    def __init__(self, in_channels: int, channels: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(in_channels * patch * patch, channels)

    def forward(self, video: Tensor) -> Tensor:
        p = self.patch
        right, bottom = -video.shape[-1] % p, -video.shape[-2] % p
        if right or bottom:  # F.pad copies even when it adds nothing
            video = F.pad(video, (0, right, 0, bottom))
        b, c, t, h, w = video.shape
        patches = video.reshape(b, c, t, h // p, p, w // p, p).permute(0, 2, 3, 5, 1, 4, 6)
        embedded = self.proj(patches.reshape(b, t, h // p, w // p, c * p * p))
        return embedded.permute(0, 4, 1, 2, 3)


class TinyVideoNet(nn.Module):
    """A patch embedding, two 3D convolutions, leaky ReLUs, global average pooling and a linear classifier.

    Small enough to train on a laptop CPU in minutes (about 250 k parameters for 5 classes). 2 x 2 patches
    keep the fine motion the prompts show; the convolutions then mix space and time. Leaky ReLUs (slope
    0.1): with plain ReLUs one demo run in three at λ = 10 never left chance, every unit dead from the first
    steps. No batch norm: batch statistics differ per process, so two processes would not train like one.
    (Group norm before the average pooling learned slower on the demo dataset: it normalises away the
    amount of motion.)

    Args:
        num_classes: logits per clip.
        width: channels of the patch embedding (the convolutions have 4x and 8x as many).
        patch: side of the square patches.

    Shape:
        - Input: ``(B, 3, T, H, W)``, T >= 1.
        - Output: ``(B, num_classes)``.

    Example:
        >>> net = TinyVideoNet(num_classes=5)
        >>> net(torch.zeros(2, 3, 7, 64, 64)).shape
        torch.Size([2, 5])
    """

    def __init__(self, num_classes: int, width: int = 16, patch: int = 2) -> None:
        super().__init__()
        self.embed = PatchEmbedding(3, width, patch)
        self.features = nn.Sequential(
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv3d(width, 4 * width, kernel_size=3, stride=(1, 2, 2), padding=1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv3d(4 * width, 8 * width, kernel_size=3, stride=2, padding=1),
            nn.LeakyReLU(0.1, inplace=True),
        )
        self.head = nn.Linear(8 * width, num_classes)

    def forward(self, video: Tensor) -> Tensor:
        return self.head(self.features(self.embed(video)).mean(dim=(2, 3, 4)))


class LaterFrames(nn.Module):
    """The baseline in the layer's place: the raw later frames ``X_{t+1}`` and R = 0, no parameters.

    ``python -m mp_core.train --no-prompts`` trains the backbone on what the prompts would multiply, so
    accuracy and time per epoch compare with and without the layer.

    Shape:
        - Input: ``(B, C, T, H, W)``.
        - Output: ``((B, C, T-1, H, W), ())``.
    """

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        return video[:, :, 1:], video.new_zeros(())


class PromptedClassifier(nn.Module):
    """``vmps`` (a :class:`MotionPromptLayer`) then ``backbone``: the authors' model layout.

    The layer's keys are ``vmps.m`` and ``vmps.n`` in the state dict, as in the reference checkpoints.
    ``prompts=False`` puts :class:`LaterFrames` in the layer's place: the baseline without motion prompts.
    The layer computes the unweighted variation R (``penalty_weight=1``) and the caller weights it by λ:
    the same loss CE + λR as the reference layer built with ``penalty_weight=λ``, and R stays measurable
    at λ = 0.

    Shape:
        - Input: normalised BGR ``(B, 3, T, H, W)``.
        - Output: ``(logits, R)``: ``(B, classes)`` and ``()``.

    Example:
        >>> model = PromptedClassifier(TinyVideoNet(3))
        >>> logits, variation = model(torch.zeros(2, 3, 8, 32, 32))
        >>> logits.shape, variation.shape
        (torch.Size([2, 3]), torch.Size([]))
    """

    def __init__(self, backbone: nn.Module, prompts: bool = True) -> None:
        super().__init__()
        # fuse=False: the compiled CPU kernels pay a compile per shape; training shapes are small
        self.vmps: nn.Module = MotionPromptLayer(penalty_weight=1.0, fuse=False) if prompts else LaterFrames()
        self.backbone = backbone

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        prompts, variation = self.vmps(video)
        return self.backbone(prompts), variation


@functools.cache
def _torchvision_op_schemas() -> torch.library.Library:
    """Declare the two operators whose fake kernels ``import torchvision`` registers.

    The registry's torchvision 0.28.0 wheel is a CUDA build: next to a CPU torch its C++ library (which
    defines ``torchvision::nms`` and ``qnms``) does not load, and registering the fake kernels for the
    undeclared operators makes the import fail. Video models use neither operator. Cached: the library
    object must stay alive for the declarations to stay.
    """
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return library


def import_torchvision_video() -> object:
    """``torchvision.models.video``, importable beside a CPU torch (see :func:`_torchvision_op_schemas`)."""
    try:
        return importlib.import_module("torchvision.models.video")
    except RuntimeError as err:
        if "torchvision::nms" not in str(err):
            raise
        for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
            del sys.modules[name]  # the failed import left half-initialised modules behind
        _torchvision_op_schemas()
        return importlib.import_module("torchvision.models.video")


def torchvision_video_models() -> tuple[str, ...]:
    """Names ``--model`` accepts besides ``tiny`` and ``package.module:factory``.

    Example:
        >>> "r3d_18" in torchvision_video_models()
        True
    """
    return _TORCHVISION_MODELS


def _factory(name: str) -> Callable[..., nn.Module]:
    if name in _TORCHVISION_MODELS:
        try:
            video = import_torchvision_video()
        except ModuleNotFoundError as err:
            raise ModelError(f"--model {name} needs torchvision: pip install 'torchvision==0.28.0'") from err
        return getattr(video, name)
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ModelError(f"--model {name}: cannot import {module_name!r} ({err})") from err
        factory = getattr(module, attribute, None)
        if not callable(factory):
            raise ModelError(f"--model {name}: {module_name} has no callable {attribute!r}")
        return factory
    raise ModelError(
        f"--model {name!r}: expected 'tiny', a torchvision video model ({', '.join(_TORCHVISION_MODELS)}) "
        "or 'package.module:factory'"
    )


def build_backbone(name: str, num_classes: int, weights: str | None = None) -> nn.Module:
    """A backbone by name with ``num_classes`` outputs; ``weights``: a local state dict file to load first.

    Weights are loaded with ``weights_only=True``; a classifier layer whose shape differs (a model trained
    on other classes) is left at its fresh initialisation, everything else must match.

    Raises:
        ModelError: unknown name, a factory that fails, weights that do not fit the network.

    Example:
        >>> build_backbone("tiny", 4).head.out_features
        4
    """
    if name == "tiny":
        backbone: nn.Module = TinyVideoNet(num_classes)
    else:
        factory = _factory(name)
        try:
            backbone = factory(num_classes=num_classes)
        except TypeError as err:
            raise ModelError(f"--model {name}: the factory must accept num_classes= ({err})") from err
        if not isinstance(backbone, nn.Module):
            raise ModelError(f"--model {name}: the factory returned {type(backbone).__name__}, not a Module")
    if weights:
        _load_weights(backbone, weights, name)
    return backbone


def _load_weights(backbone: nn.Module, weights: str, name: str) -> None:
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelError(f"--weights {weights}: not a readable state dict ({err})") from err
    state = state.get("model_state", state.get("state_dict", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ModelError(f"--weights {weights}: expected a state dict, got {type(state).__name__}")
    own = backbone.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in fitting]
    head_only = all(own[k].ndim <= 2 for k in missing) and len(missing) <= 2
    if missing and not head_only:
        raise ModelError(
            f"--weights {weights}: {len(missing)} of {len(own)} tensors of {name} are missing or "
            f"have another shape (e.g. {', '.join(missing[:3])})"
        )
    backbone.load_state_dict(fitting, strict=False)


def check_fits(model: nn.Module, sample: Tensor, num_classes: int, name: str) -> None:
    """Run one clip through ``model`` and say clearly when the backbone does not take it.

    Raises:
        ModelError: the forward fails or the logits are not ``(1, num_classes)``.
    """
    shape = list(sample.shape)
    try:
        with torch.no_grad():
            logits, _ = model(sample)
    except (RuntimeError, ValueError, IndexError) as err:
        raise ModelError(
            f"--model {name} does not take clips of shape {shape} (B, C, T, H, W) as prompts of "
            f"{shape[2] - 1} frames: {str(err).splitlines()[0]}. Try more --frames or a larger --side."
        ) from err
    if tuple(logits.shape) != (shape[0], num_classes):
        raise ModelError(
            f"--model {name} returned shape {list(logits.shape)} for {shape[0]} clips; expected "
            f"[{shape[0]}, {num_classes}] logits ({num_classes} classes)"
        )
