"""Learned (m, n) from checkpoints: PySlowFast ``.pyth``, torch state_dicts, safetensors and JSON.

Torch files are opened with ``torch.load(..., weights_only=True)``: a pickle that would run code is refused
before anything runs. Every problem raises :class:`mp_core.errors.CheckpointError` (an ``InputError``).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import pickletools
import struct
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch

from mp_core.errors import CheckpointError, ParameterError
from mp_core.params import MotionParams
from mp_core.sources import CHECKPOINT_SUFFIXES, open_source

__all__ = ["CHECKPOINT_SUFFIXES", "load_params", "params_to_json", "save_params"]

_TORCH_SUFFIXES = {".pyth", ".pt", ".pth", ".ckpt", ".bin"}
_ZIP_MAGIC = b"PK\x03\x04"

Source = str | os.PathLike | bytes | BinaryIO | Mapping[str, Any]


def _read(source: str | os.PathLike | bytes | BinaryIO, name: str | None) -> tuple[bytes | Path, str]:
    """The bytes of an upload, or the path of a file (read lazily: a torch zip is memory-mapped)."""
    opened, name = open_source(source, CheckpointError, "checkpoint file", name)
    return (opened if isinstance(opened, (Path, bytes)) else opened.read()), name


def _head(data: bytes | Path, size: int = 4096) -> bytes:
    if isinstance(data, bytes):
        return data[:size]
    with data.open("rb") as handle:
        return handle.read(size)


def _kind(head: bytes, size: int, name: str) -> str:
    """'torch', 'safetensors' or 'json': from the first bytes where they say, else from the extension."""
    if head[:4] == _ZIP_MAGIC or head[:1] == b"\x80":  # torch zip archive or a legacy/raw pickle
        return "torch"
    if len(head) > 8 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= size:
        return "safetensors"  # an 8-byte little-endian header size, then the JSON header
    stripped = head.lstrip()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    try:
        is_json = stripped[:1] == b"{" and bool(utf8.decode(stripped[:512]))
    except UnicodeDecodeError:
        is_json = False
    if is_json:
        return "json"
    suffix = Path(name).suffix.lower()
    if suffix in _TORCH_SUFFIXES:
        return "torch"
    if suffix in {".safetensors", ".json"}:
        return suffix[1:]
    raise CheckpointError(
        f"{name}: not a checkpoint format I know (neither a torch file, safetensors nor JSON); expected one "
        f"of {', '.join(CHECKPOINT_SUFFIXES)}"
    )


def _load_torch(data: bytes | Path, name: str) -> Any:
    source = data if isinstance(data, Path) else io.BytesIO(data)
    # mmap: only m and n of a large checkpoint on disk are ever read
    mmap = isinstance(data, Path) and _head(data, 4) == _ZIP_MAGIC
    try:
        return torch.load(source, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:  # garbage makes the (safe) weights-only unpickler fail in many ways
        # torch names a refused global only for protocols 1-3, and only the first: find them all ourselves
        unsafe, complete = _unsafe_globals(data.read_bytes() if isinstance(data, Path) else data)
        if unsafe:
            raise CheckpointError(
                f"{name}: refused: loading it would run code. It names Python objects "
                f"({', '.join(unsafe[:4])}) that only a full unpickle builds, by importing and calling what "
                "the file says. Nothing from the file was run. If you trust it, load it in your own code and "
                "pass the state_dict to load_params, re-save only the state_dict, or export m and n as JSON."
            ) from err
        if complete and "Unsupported operand" in str(err):
            raise CheckpointError(
                f"{name}: saved with a pickle protocol that torch's weights-only loader cannot read (0, 4 "
                "or 5); re-save it with torch.save's default protocol, or load it in your own code and pass "
                "the state_dict to load_params."
            ) from err
        raise CheckpointError(
            f"{name}: not a readable torch checkpoint (corrupt or truncated?): {_detail(err)}"
        ) from err


def _detail(err: Exception) -> str:
    """The informative part of a loader's error, without torch's weights_only boilerplate."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
    text = " ".join(text.split())
    return text.split(". ", 1)[0].rstrip(".") if text else f"{type(err).__name__}: the data ends early"


def _unsafe_globals(data: bytes) -> tuple[list[str], bool]:
    """The globals a pickle names that torch's weights-only loader would refuse, in the order the file names
    them, and whether its first pickle is whole. Nothing in the file is run or imported.

    A torch zip is read by :func:`torch.serialization.get_unsafe_globals_in_checkpoint` (torch's own scan,
    against its own allowlist); a legacy torch file (several pickles in a row, then the storages' raw bytes),
    a raw pickle, and protocols torch's scan stops at (4's ``STACK_GLOBAL``) by :mod:`pickletools`.
    """
    unsafe: set[str] | None = None
    if data[:4] == _ZIP_MAGIC:
        scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch >= 2.5
        try:
            unsafe = set(scan(io.BytesIO(data))) if scan is not None else None
        except Exception:  # not a torch zip, or a protocol torch's scan cannot read (4's STACK_GLOBAL)
            unsafe = None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
        except (zipfile.BadZipFile, StopIteration, OSError, ValueError, EOFError, NotImplementedError):
            return sorted(unsafe or ()), False
    names, complete = _pickle_globals(data)
    if unsafe is None:
        unsafe = set(names) - _torch_allowlist()
    return [name for name in names if name in unsafe] + sorted(unsafe - set(names)), complete


def _torch_allowlist() -> set[str]:
    """What torch's weights-only loader builds: its own list and those added by ``add_safe_globals``
    (the list :func:`torch.serialization.get_unsafe_globals_in_checkpoint` checks against)."""
    from torch import _weights_only_unpickler as weights_only

    user = getattr(weights_only, "_get_user_allowed_globals", dict)
    return set(weights_only._get_allowed_globals()) | set(user())


#: Opcodes that push a string (protocol 0's text and 1-3's bytes strings, then unicode of every size).
_STRING_OPCODES = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
)
#: Opcodes that push nothing the next STACK_GLOBAL could take.
_NO_PUSH = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "MARK", "STOP"})


def _pickle_globals(data: bytes) -> tuple[list[str], bool]:
    """``module.name`` of every global the pickles in ``data`` name (``GLOBAL``, ``INST``, ``STACK_GLOBAL``),
    read with :func:`pickletools.genops` (nothing is built), and whether the first pickle is whole.

    ``STACK_GLOBAL`` takes module and name from the stack: the strings pushed just before it, directly or
    from the memo.
    """
    stream = io.BytesIO(data)
    names: list[str] = []
    complete = False
    try:
        while stream.tell() < len(data):
            memo: dict[int, str | None] = {}  # one per pickle: memo indices start again at 0
            pushed: list[str | None] = []  # what each op pushed, strings only (None: anything else)
            for opcode, arg, _ in pickletools.genops(stream):
                kind = opcode.name
                if kind in {"GLOBAL", "INST"}:
                    names.append(".".join(str(arg).split(" ", 1)))
                elif kind == "STACK_GLOBAL" and len(pushed) >= 2 and None not in pushed[-2:]:
                    names.append(f"{pushed[-2]}.{pushed[-1]}")
                if kind == "MEMOIZE":
                    memo[len(memo)] = pushed[-1] if pushed else None
                elif kind in {"PUT", "BINPUT", "LONG_BINPUT"}:
                    memo[int(arg)] = pushed[-1] if pushed else None  # type: ignore[arg-type]
                elif kind in {"GET", "BINGET", "LONG_BINGET"}:
                    pushed.append(memo.get(int(arg)))  # type: ignore[arg-type]
                elif kind in _STRING_OPCODES:
                    pushed.append(arg if isinstance(arg, str) else None)
                elif kind not in _NO_PUSH:
                    pushed.append(None)
                del pushed[:-2]
            complete = True
    except Exception:  # a truncated or corrupt pickle, or the storages after a legacy file's pickles
        pass
    return list(dict.fromkeys(names)), complete


def _load_safetensors(data: bytes | Path, name: str) -> dict[str, Any]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load

    try:
        if isinstance(data, bytes):
            return load(data)
        with safe_open(data, framework="pt") as archive:  # read only the tensors that could be m or n
            keys = list(archive.keys())
            return {k: archive.get_tensor(k) if k.rpartition(".")[2] in {"m", "n"} else None for k in keys}
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(f"{name}: not a readable safetensors file: {err}") from err


def _load_json(data: bytes | Path, name: str) -> MotionParams:
    try:
        content = json.loads((data.read_bytes() if isinstance(data, Path) else data).decode("utf-8"))
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


def _is_number(value: Any) -> bool:
    return isinstance(value, torch.Tensor) or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    )


def _number(value: Any, key: str, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckpointError(
                f"{name}: {key} has shape {list(value.shape)}; expected a single number (shape [1] or [])"
            )
        if value.is_complex():
            raise CheckpointError(f"{name}: {key} is complex; expected a real number")
        return float(value.reshape(()).item())
    if _is_number(value):
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
        partner = f"{head}.n" if head else "n"
        if last == "m" and partner in leaves and _is_number(value) and _is_number(leaves[partner]):
            pairs[head] = (value, leaves[partner])
    if prefix is not None:
        if prefix not in pairs:
            raise CheckpointError(f"{name}: no m, n under prefix {prefix!r}; found prefixes {sorted(pairs)}")
        pairs = {prefix: pairs[prefix]}
    if not pairs:
        shown = ", ".join(sorted(leaves)[:6]) or "none"
        tensors = sum(v is None or isinstance(v, torch.Tensor) for v in leaves.values())  # None: unread
        raise CheckpointError(
            f"{name}: no motion prompt parameters found ({len(leaves)} entries, {tensors} tensors, e.g. "
            f"{shown}). Expected a pair of keys ending in 'm' and 'n' (e.g. 'vmps.m', 'vmps.n' in "
            "model_state): is this a checkpoint of a model with a motion prompt layer?"
        )
    values = {
        head: (_number(m, f"{head}.m", name), _number(n, f"{head}.n", name)) for head, (m, n) in pairs.items()
    }
    if len(set(values.values())) > 1:
        listing = "; ".join(
            f"{head or '(top level)'}: m={m:.4g}, n={n:.4g}" for head, (m, n) in values.items()
        )
        raise CheckpointError(
            f"{name}: several different (m, n) pairs found ({listing}); pass prefix= (one of "
            f"{sorted(values)}) to choose one"
        )
    m, n = next(iter(values.values()))
    try:
        return MotionParams(m, n)
    except ParameterError as err:
        raise CheckpointError(f"{name}: {err}") from err


def load_params(source: Source, name: str | None = None, *, prefix: str | None = None) -> MotionParams:
    """Learned (m, n) from a checkpoint file.

    Reads a PySlowFast ``.pyth`` (``model_state`` with ``vmps.m``/``vmps.n``), a plain, DDP (``module.``) or
    Lightning (``state_dict``) state_dict in ``.pt``/``.pth``/``.ckpt``, a bare layer state_dict
    (``m``, ``n``), ``.safetensors``, or JSON (``{"m", "n"}`` or ``{"slope", "shift"}``). The format is
    recognised from the first bytes, so a missing or wrong extension does not matter. Copies of the same
    pair (an EMA, a second state_dict) are one pair.

    Args:
        source: path, bytes, binary file object (an upload), or an already loaded (state) dict.
        name: file name for messages, when ``source`` is bytes (default: the file's own name).
        prefix: the key path of the layer when a file holds several, e.g. ``"model_state.vmps"``.

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
        >>> load_params({"module.vmps.m": 0.257, "module.vmps.n": 0.053})
        MotionParams(m=0.257, n=0.053)
    """
    if isinstance(source, Mapping):
        return _find_pair(source, name or "state_dict", prefix)
    data, name = _read(source, name)
    head = _head(data)
    if not head:
        raise CheckpointError(f"{name}: the file is empty (0 bytes)")
    kind = _kind(head, len(data) if isinstance(data, bytes) else data.stat().st_size, name)
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


def save_params(target: str | os.PathLike | BinaryIO | io.TextIOBase, params: MotionParams) -> None:
    """Write ``params`` as JSON to a path or a binary or text file; :func:`load_params` reads it back.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> save_params(buffer, MotionParams(1.05, -2.67))
        >>> load_params(buffer.getvalue(), name="values.json")
        MotionParams(m=1.05, n=-2.67)
    """
    text = params_to_json(params) + "\n"
    if isinstance(target, (str, os.PathLike)):
        Path(target).write_text(text, encoding="utf-8")
    elif isinstance(target, io.TextIOBase):
        target.write(text)
    else:
        target.write(text.encode("utf-8"))
