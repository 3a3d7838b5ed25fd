"""mp_core.checkpoints: every format built here the way its tool saves it, and every refusal."""

from __future__ import annotations

import argparse
import io
import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

from mp_core import InputError, MotionParams, MotionPromptLayer
from mp_core.checkpoints import load_params, params_to_json, save_params
from mp_core.errors import CheckpointError
from tests.helpers_pickle import RunsCode

M, N = 1.05, -2.67
#: FineGym's slope and shift worked out by hand: a = 5 / (0.45 tanh 1.05 + 0.1), b = 0.6 tanh(-2.67)
SLOPE, SHIFT = 11.066528716724, -0.594272423862


def model_state() -> dict[str, torch.Tensor]:
    """A small video model with a motion prompt layer called `vmps`, as in the reference code."""
    torch.manual_seed(0)
    layer = MotionPromptLayer()
    with torch.no_grad():
        layer.m.fill_(M)
        layer.n.fill_(N)
    model = torch.nn.ModuleDict(
        {
            "vmps": layer,
            "s1": torch.nn.Sequential(torch.nn.Conv3d(3, 4, 3), torch.nn.BatchNorm3d(4)),
            "head": torch.nn.Linear(4, 2),
        }
    )
    return model.state_dict()  # an OrderedDict, with BatchNorm's int64 num_batches_tracked


def pyslowfast_checkpoint(path: Path) -> Path:
    """As slowfast/utils/checkpoint.py's save_checkpoint: epoch, model_state, optimizer_state, cfg.dump(),
    scaler_state (GradScaler.state_dict()), written through a file handle."""
    state = model_state()
    params = [torch.nn.Parameter(t.clone()) for t in state.values() if t.is_floating_point()]
    groups = [{"params": params[:2], "weight_decay": 0.0}, {"params": params[2:], "weight_decay": 1e-4}]
    optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True)
    sum(p.sum() for p in params).backward()
    optimizer.step()
    checkpoint = {
        "epoch": 50,
        "model_state": state,
        "optimizer_state": optimizer.state_dict(),
        "cfg": "MODEL:\n  ARCH: slowfast\n  NUM_CLASSES: 99\nSOLVER:\n  BASE_LR: 0.1\n",
        "scaler_state": {
            "scale": 65536.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 2000,
            "_growth_tracker": 17,
        },
    }
    with path.open("wb") as handle:
        torch.save(checkpoint, handle)
    return path


def assert_loaded(params: MotionParams) -> None:
    assert params.m == pytest.approx(M, abs=1e-6)
    assert params.n == pytest.approx(N, abs=1e-6)


def test_pyslowfast_pyth(tmp_path: Path) -> None:
    assert_loaded(load_params(pyslowfast_checkpoint(tmp_path / "checkpoint_epoch_00050.pyth")))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_plain_and_ddp_state_dicts(tmp_path: Path, suffix: str) -> None:
    plain = tmp_path / f"plain{suffix}"
    torch.save(model_state(), plain)
    ddp = tmp_path / f"ddp{suffix}"
    torch.save({f"module.{k}": v for k, v in model_state().items()}, ddp)
    assert_loaded(load_params(plain))
    assert_loaded(load_params(ddp))


def test_lightning_style_and_bare_layer(tmp_path: Path) -> None:
    lightning = tmp_path / "last.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model_state().items()}, "epoch": 3}, lightning)
    bare = tmp_path / "layer.pt"
    torch.save({"m": torch.tensor([M]), "n": torch.tensor([N])}, bare)
    assert_loaded(load_params(lightning))
    assert_loaded(load_params(bare))


def test_loaded_values_go_straight_into_the_layer(tmp_path: Path) -> None:
    path = pyslowfast_checkpoint(tmp_path / "c.pyth")
    state = torch.load(path, weights_only=True)["model_state"]
    layer = MotionPromptLayer()
    layer.load_state_dict({k.removeprefix("vmps."): v for k, v in state.items() if k.startswith("vmps.")})
    assert layer.params == load_params(path)


def test_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(save_safetensors(model_state()))
    assert_loaded(load_params(path))


def test_json_both_forms_and_round_trip(tmp_path: Path) -> None:
    (tmp_path / "mn.json").write_text(json.dumps({"m": M, "n": N}))
    assert_loaded(load_params(tmp_path / "mn.json"))
    params = MotionParams(M, N)
    (tmp_path / "ab.json").write_text(json.dumps({"slope": SLOPE, "shift": SHIFT}))
    assert_loaded(load_params(tmp_path / "ab.json"))
    save_params(tmp_path / "saved.json", params)
    assert load_params(tmp_path / "saved.json") == params
    assert json.loads(params_to_json(params)) == {
        "m": M,
        "n": N,
        "slope": pytest.approx(SLOPE, abs=1e-11),
        "shift": pytest.approx(SHIFT, abs=1e-11),
    }
    buffer = io.BytesIO()
    save_params(buffer, params)
    assert load_params(buffer.getvalue(), name="values.json") == params


def test_bytes_and_uploaded_file_objects(tmp_path: Path) -> None:
    data = pyslowfast_checkpoint(tmp_path / "c.pyth").read_bytes()
    assert_loaded(load_params(data, name="c.pyth"))
    upload = io.BytesIO(data)
    upload.name = "c.pyth"
    upload.read(10)  # a file object that was read before is read from its start
    assert_loaded(load_params(upload))
    assert_loaded(load_params(data))  # no name: the format is recognised from the bytes


@pytest.mark.parametrize("how", ["torch.save", "raw-pickle"])
def test_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {
        "model_state": {"vmps.m": torch.tensor([M]), "vmps.n": torch.tensor([N])},
        "x": RunsCode(marker),
    }
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused: loading it would run code.*Nothing"):
        load_params(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.pth", r"empty\.pth: the file is empty"),
        (b"PK\x03\x04 this is not a zip", "broken.pth", r"broken\.pth: not a readable torch checkpoint"),
        *[
            (
                random.Random(seed).randbytes(256),
                "noise.ckpt",
                r"noise\.ckpt: not a readable torch checkpoint",
            )
            for seed in range(20)
        ],
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{bad", "x.safetensors", "not a readable safetensors"),
        (b"{not json", "bad.json", r"bad\.json: not valid JSON"),
        (b'{"alpha": 1}', "keys.json", r'expected \{"m", "n"\} or \{"slope", "shift"\}'),
        (b'{"m": "x", "n": 1}', "types.json", "m is str, expected a number"),
        (b'{"slope": 5, "shift": 0}', "range.json", r"slope must be in \(9.0909, 50\]"),
        (b"hello", "notes.txt", r"notes\.txt: not a checkpoint format I know"),
    ],
)
def test_unreadable_files_say_what_is_wrong(content: bytes, name: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        load_params(content, name=name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_params(tmp_path / "nope.pyth")


def test_no_motion_parameters_lists_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "backbone.pyth"
    torch.save({"model_state": torch.nn.Linear(2, 2).state_dict(), "epoch": 1}, path)
    with pytest.raises(
        CheckpointError, match=r"no motion prompt parameters found \(3 entries.*model_state\.weight"
    ):
        load_params(path)


def test_several_pairs_need_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "two.pt"
    state = {
        "a.m": torch.tensor([0.1]),
        "a.n": torch.tensor([0.2]),
        "b.m": torch.tensor([0.3]),
        "b.n": torch.tensor([0.4]),
    }
    torch.save(state, path)
    with pytest.raises(
        CheckpointError, match=r"several different \(m, n\) pairs.*a: m=0\.1.*b: m=0\.3.*prefix="
    ):
        load_params(path)
    chosen = load_params(path, prefix="b")
    assert (chosen.m, chosen.n) == pytest.approx((0.3, 0.4))
    with pytest.raises(CheckpointError, match=r"no m, n under prefix 'c'"):
        load_params(path, prefix="c")


def test_identical_copies_are_not_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "ema.pt"
    pair = {"vmps.m": torch.tensor([M]), "vmps.n": torch.tensor([N])}
    torch.save({"state_dict": pair, "ema_state": dict(pair)}, path)
    assert_loaded(load_params(path))


@pytest.mark.parametrize(
    ("m", "message"),
    [(torch.tensor([float("nan")]), "must be finite"), (torch.tensor([1.0, 2.0]), r"has shape \[2\]")],
)
def test_bad_values(tmp_path: Path, m: torch.Tensor, message: str) -> None:
    path = tmp_path / "bad.pt"
    torch.save({"vmps.m": m, "vmps.n": torch.tensor([0.0])}, path)
    with pytest.raises(InputError, match=message):
        load_params(path)


def test_format_is_read_from_the_bytes_when_the_extension_is_wrong(tmp_path: Path) -> None:
    state = {"vmps.m": torch.tensor([M]), "vmps.n": torch.tensor([N])}
    (tmp_path / "really_safetensors.pth").write_bytes(save_safetensors(state))
    (tmp_path / "really_json.pt").write_text(json.dumps({"m": M, "n": N}))
    torch.save(state, tmp_path / "really_torch.json")
    for path in sorted(tmp_path.iterdir()):
        assert_loaded(load_params(path))
        assert_loaded(load_params(path.read_bytes()))  # no name at all


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_raw_pickles_of_every_protocol_are_refused_naming_the_call(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps({"vmps.m": 1.0, "vmps.n": 0.0, "x": RunsCode(marker)}, protocol=protocol)
    with pytest.raises(CheckpointError, match=r"refused: loading it would run code.*\((posix|os)\.system\)"):
        load_params(data, name="model.pt")
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_torch_save_with_protocol_4_is_refused_naming_the_call(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pyth"
    torch.save({"model_state": model_state(), "x": RunsCode(marker)}, path, pickle_protocol=4)
    with pytest.raises(CheckpointError, match=r"refused: loading it would run code.*system\)"):
        load_params(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [2, 4])
def test_legacy_torch_files_that_would_run_code_are_refused_naming_the_call(
    tmp_path: Path, protocol: int
) -> None:
    # torch.save's format before 1.6: several pickles in a row, then the storages' raw bytes
    marker = tmp_path / "pwned"
    path = tmp_path / "old.pth"
    checkpoint = {"model_state": model_state(), "x": RunsCode(marker)}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    with pytest.raises(CheckpointError, match=r"refused: loading it would run code.*\((posix|os)\.system\)"):
        load_params(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [4, 5])
def test_harmless_files_of_protocols_torch_cannot_read_say_to_resave(tmp_path: Path, protocol: int) -> None:
    # torch's weights-only loader stops at protocol 4's STACK_GLOBAL ("Unsupported operand 149"): the file
    # is neither corrupt nor dangerous, and the message says what to do
    path = tmp_path / "p.pt"
    torch.save(model_state(), path, pickle_protocol=protocol)
    with pytest.raises(CheckpointError, match=r"p\.pt: saved with a pickle protocol.*re-save it") as raised:
        load_params(path)
    assert "corrupt" not in str(raised.value) and "run code" not in str(raised.value)


def test_objects_outside_weights_only_are_refused_by_name(tmp_path: Path) -> None:
    # numpy scalars (a best accuracy, an epoch) and argparse args are common in checkpoints; torch's
    # weights-only loader does not build them, and neither do we: the message says which and what to do
    path = tmp_path / "train.pth"
    torch.save({"state_dict": model_state(), "best": np.float64(0.9), "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(CheckpointError, match=r"numpy\..*scalar.*argparse\.Namespace.*pass the state_dict"):
        load_params(path)
    # ... which works for a file the user trusts
    assert_loaded(load_params(torch.load(path, weights_only=False)))


def test_already_loaded_dicts() -> None:
    assert_loaded(load_params(model_state()))
    assert load_params({"module.vmps.m": 0.257, "module.vmps.n": 0.053}) == MotionParams(0.257, 0.053)
    with pytest.raises(CheckpointError, match=r"state_dict: no motion prompt parameters found \(0 entries"):
        load_params({})


def test_zero_dim_and_half_precision_values(tmp_path: Path) -> None:
    path = tmp_path / "half.pt"
    torch.save({"vmps.m": torch.tensor(M, dtype=torch.float16), "vmps.n": torch.tensor(N).bfloat16()}, path)
    params = load_params(path)
    assert params.m == float(torch.tensor(M, dtype=torch.float16))
    assert params.n == float(torch.tensor(N).bfloat16())


def test_non_numeric_m_n_entries_are_not_candidates(tmp_path: Path) -> None:
    path = tmp_path / "with_cfg.pt"
    torch.save({"model_state": model_state(), "cfg": {"m": "mixup", "n": "none"}}, path)
    assert_loaded(load_params(path))


def test_checkpoints_on_disk_are_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch zip on disk is memory-mapped, a safetensors file read per key: only m and n are read."""
    seen: list[dict] = []
    real_load = torch.load
    monkeypatch.setattr(
        torch, "load", lambda *args, **kwargs: seen.append(kwargs) or real_load(*args, **kwargs)
    )
    monkeypatch.setattr("safetensors.torch.load", lambda data: pytest.fail("read the whole file"))
    path = tmp_path / "big.pyth"
    torch.save({"model_state": {**model_state(), "big": torch.zeros(2**20)}}, path)
    assert_loaded(load_params(path))
    assert seen[-1]["mmap"] is True and seen[-1]["weights_only"] is True
    st = tmp_path / "big.safetensors"
    st.write_bytes(save_safetensors({**model_state(), "big": torch.zeros(2**20)}))
    assert_loaded(load_params(st))


def test_folder_and_text_mode_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a folder"):
        load_params(tmp_path)
    (tmp_path / "v.json").write_text(json.dumps({"m": M, "n": N}))
    with (tmp_path / "v.json").open() as handle, pytest.raises(CheckpointError, match="opened in text mode"):
        load_params(handle)


def test_save_params_to_a_text_file() -> None:
    text = io.StringIO()
    save_params(text, MotionParams(M, N))
    assert json.loads(text.getvalue()) == {
        "m": M,
        "n": N,
        "slope": pytest.approx(SLOPE),
        "shift": pytest.approx(SHIFT),
    }
    assert load_params(text.getvalue().encode(), name="values.json") == MotionParams(M, N)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x02garbage", "Unsupported operand 103"),
        (b"\x80\x02}q\x00", "the data ends early"),
        (b"PK\x03\x04 this is not a zip", "failed finding central directory"),
    ],
)
def test_corrupt_torch_files_without_torchs_boilerplate(content: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message) as caught:
        load_params(content, name="x.pth")
    assert "PyTorch 2.6" not in str(caught.value) and "file an issue" not in str(caught.value)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    data = pyslowfast_checkpoint(tmp_path / "c.pyth").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        with pytest.raises(CheckpointError, match=r"cut\.pyth: not a readable torch checkpoint"):
            load_params(data[:cut], name="cut.pyth")


def test_safetensors_without_m_n_counts_its_tensors(tmp_path: Path) -> None:
    path = tmp_path / "backbone.safetensors"
    path.write_bytes(save_safetensors(torch.nn.Linear(2, 2).state_dict()))
    with pytest.raises(CheckpointError, match=r"\(2 entries, 2 tensors, e\.g\. bias, weight\)"):
        load_params(path)
