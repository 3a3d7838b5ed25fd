"""Learned (m, n) from checkpoints: PySlowFast ``.pyth``, torch state_dicts, safetensors and JSON.

Torch files are opened with ``torch.load(..., weights_only=True)``: a pickle that would run code is refused
before anything runs. Every problem raises :class:`mp_core.errors.CheckpointError` (an ``InputError``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch

from mp_core.errors import CheckpointError, ParameterError
from mp_core.params import MotionParams

__all__ = ["CHECKPOINT_SUFFIXES", "load_params", "params_to_json", "save_params"]

CHECKPOINT_SUFFIXES = (".pyth", ".pt", ".pth", ".ckpt", ".safetensors", ".json")
_TORCH_SUFFIXES = {".pyth", ".pt", ".pth", ".ckpt", ".bin"}


def _read(source: str | os.PathLike | bytes | BinaryIO, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
        return path.read_bytes(), name or path.name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "upload"
    source.seek(0)
    return source.read(), name or Path(str(getattr(source, "name", "upload"))).name


def _kind(data: bytes, name: str) -> str:
    """'torch', 'safetensors' or 'json', from the extension, else from the first bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in _TORCH_SUFFIXES:
        return "torch"
    if suffix in {".safetensors", ".json"}:
        return suffix[1:]
    if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":  # torch zip archive or a legacy pickle
        return "torch"
    if data.lstrip()[:1] == b"{":
        return "json"
    if len(data) > 8 and data[8:9] == b"{" and struct.unpack("<Q", data[:8])[0] < len(data):
        return "safetensors"
    raise CheckpointError(
        f"{name}: not a checkpoint format I know; expected one of {', '.join(CHECKPOINT_SUFFIXES)}"
    )


def _load_torch(data: bytes, name: str) -> Any:
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(str(err))
        if "GLOBAL" in detail:  # the pickle names a function or class to call: code would run
            raise CheckpointError(
                f"{name}: refused: loading it would run code, not just read tensors ({detail}). Nothing "
                "from the file was run. Re-save only the state_dict, or export m and n as JSON."
            ) from err
        raise CheckpointError(f"{name}: not a readable torch checkpoint (corrupt pickle: {detail})") from err
    except Exception as err:  # garbage makes the (safe) weights-only unpickler fail in many ways
        raise CheckpointError(
            f"{name}: not a readable torch checkpoint (corrupt or truncated?): {str(err).splitlines()[0]}"
        ) from err


def _unpickler_detail(message: str) -> str:
    """The informative line of torch's weights_only error, without its boilerplate."""
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in message.splitlines()]
    useful = [line for line in lines if line and not line.startswith(boilerplate)]
    return " ".join(useful) or lines[0]


def _load_safetensors(data: bytes, name: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return load(data)
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(f"{name}: not a readable safetensors file: {err}") from err


def _load_json(data: bytes, name: str) -> MotionParams:
    try:
        content = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{name}: not valid JSON ({err})") from err
    if not isinstance(content, dict):
        raise CheckpointError(f'{name}: expected a JSON object like {{"m": 1.05, "n": -2.67}}')
    try:
        if "m" in content and "n" in content:
            return MotionParams(_number(content["m"], "m", name), _number(content["n"], "n", name))
        if "slope" in content and "shift" in content:
            slope, shift = _number(content["slope"], "slope", name), _number(content["shift"], "shift", name)
            return MotionParams.from_slope_shift(slope, shift)
    except ParameterError as err:
        raise CheckpointError(f"{name}: {err}") from err
    raise CheckpointError(
        f'{name}: the JSON has keys {sorted(content)[:8]}; expected {{"m", "n"}} or {{"slope", "shift"}}'
    )


def _number(value: Any, key: str, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckpointError(f"{name}: {key} has shape {list(value.shape)}; expected a single number")
        return float(value.reshape(()).item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise CheckpointError(f"{name}: {key} is {type(value).__name__}, expected a number")


def _flatten(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted key paths of every leaf in nested mappings (model_state, state_dict, module. ...)."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], tree


def _find_pair(tree: Any, name: str, prefix: str | None) -> MotionParams:
    leaves = dict(_flatten(tree)) if isinstance(tree, Mapping) else {}
    pairs: dict[str, tuple[Any, Any]] = {}
    for key, value in leaves.items():
        head, _, last = key.rpartition(".")
        if last == "m" and (f"{head}.n" if head else "n") in leaves:
            pairs[head] = (value, leaves[f"{head}.n" if head else "n"])
    if prefix is not None:
        if prefix not in pairs:
            raise CheckpointError(f"{name}: no m, n under prefix {prefix!r}; found prefixes {sorted(pairs)}")
        pairs = {prefix: pairs[prefix]}
    if not pairs:
        shown = ", ".join(sorted(leaves)[:6]) or "none"
        raise CheckpointError(
            f"{name}: no motion prompt parameters found ({len(leaves)} entries, e.g. {shown}). Expected keys "
            "ending in 'm' and 'n' (e.g. 'vmps.m', 'vmps.n' in model_state): is this a checkpoint of a model "
            "with a motion prompt layer?"
        )
    values = {
        head: (_number(m, f"{head}.m", name), _number(n, f"{head}.n", name)) for head, (m, n) in pairs.items()
    }
    if len(set(values.values())) > 1:
        listing = "; ".join(
            f"{head or '(top level)'}: m={m:.4g}, n={n:.4g}" for head, (m, n) in values.items()
        )
        raise CheckpointError(
            f"{name}: several different (m, n) pairs found ({listing}); pass prefix= to choose one"
        )
    m, n = next(iter(values.values()))
    try:
        return MotionParams(m, n)
    except ParameterError as err:
        raise CheckpointError(f"{name}: {err}") from err


def load_params(
    source: str | os.PathLike | bytes | BinaryIO, name: str | None = None, *, prefix: str | None = None
) -> MotionParams:
    """Learned (m, n) from a checkpoint file.

    Reads a PySlowFast ``.pyth`` (``model_state`` with ``vmps.m``/``vmps.n``), a plain, DDP (``module.``) or
    Lightning (``state_dict``) state_dict in ``.pt``/``.pth``/``.ckpt``, a bare layer state_dict
    (``m``, ``n``), ``.safetensors``, or JSON (``{"m", "n"}`` or ``{"slope", "shift"}``).

    Args:
        source: path, bytes or binary file object (an upload).
        name: file name for messages and the extension, when ``source`` is bytes.
        prefix: the key prefix to use when a file holds several layers, e.g. ``"model_state.vmps"``.

    Raises:
        CheckpointError: unreadable, refused (would run code), no or several (m, n), non-finite values.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> state = {"vmps.m": torch.tensor([1.05]), "vmps.n": torch.tensor([-2.67])}
        >>> torch.save({"model_state": state, "epoch": 10}, buffer)
        >>> params = load_params(buffer.getvalue(), name="checkpoint_epoch_00010.pyth")
        >>> round(params.m, 6), round(params.n, 6)
        (1.05, -2.67)
    """
    data, name = _read(source, name)
    if not data:
        raise CheckpointError(f"{name}: the file is empty (0 bytes)")
    kind = _kind(data, name)
    if kind == "json":
        return _load_json(data, name)
    tree = _load_safetensors(data, name) if kind == "safetensors" else _load_torch(data, name)
    return _find_pair(tree, name, prefix)


def params_to_json(params: MotionParams) -> str:
    """``{"m", "n", "slope", "shift"}`` as indented JSON (what :func:`save_params` writes).

    Example:
        >>> print(params_to_json(MotionParams(0.0, 0.0)))
        {
          "m": 0.0,
          "n": 0.0,
          "slope": 50.0,
          "shift": 0.0
        }
    """
    return json.dumps(params.as_dict(), indent=2)


def save_params(target: str | os.PathLike | BinaryIO, params: MotionParams) -> None:
    """Write ``params`` as JSON to a path or a binary file; :func:`load_params` reads it back."""
    text = params_to_json(params) + "\n"
    if isinstance(target, (str, os.PathLike)):
        Path(target).write_text(text, encoding="utf-8")
    else:
        target.write(text.encode("utf-8"))
