"""Run by ``tests/mp_core/test_install.py`` in a fresh venv holding only torch and ``pip install .``.

What training code does with the library: build the layer, train a step, load learned values from a
PySlowFast checkpoint; and none of the app's packages is installed or imported on the way.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

APP_ONLY = ("streamlit", "plotly", "matplotlib", "PIL", "av", "h5py", "safetensors", "pyarrow", "ray")


def main() -> None:
    import torch

    import mp_core
    from mp_core import MotionPromptLayer, load_params

    assert "site-packages" in mp_core.__file__, f"mp_core imported from the source tree: {mp_core.__file__}"
    layer = MotionPromptLayer(penalty_weight=2.5)
    video = torch.rand(2, 3, 5, 16, 16)
    prompts, reg = layer(video)
    assert prompts.shape == (2, 3, 4, 16, 16) and reg.shape == ()
    (prompts.mean() + reg).backward()
    assert layer.m.grad is not None and torch.isfinite(layer.m.grad).all() and layer.n.grad is not None

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint_epoch_00050.pyth"
        state = {
            "vmps.m": torch.tensor([1.05]),
            "vmps.n": torch.tensor([-2.67]),
            "head.weight": torch.ones(2),
        }
        torch.save({"epoch": 50, "model_state": state}, path)
        params = load_params(path)
    assert abs(params.m - 1.05) < 1e-6 and abs(params.n + 2.67) < 1e-6, params
    assert abs(params.slope - 11.066529) < 1e-5, params.slope  # 5 / (0.45 tanh 1.05 + 0.1), by hand

    try:
        mp_core.read_clip  # noqa: B018 (the lazy name is what is tested)
    except ModuleNotFoundError as err:
        assert "[video]" in str(err), err
    else:
        raise AssertionError("mp_core.read_clip imported without PyAV installed")

    installed = [name for name in APP_ONLY if importlib.util.find_spec(name) is not None]
    assert not installed, f"a core install brought {installed}"
    imported = [name for name in APP_ONLY if name in sys.modules]
    assert not imported, f"mp_core imported {imported}"
    print("bare install ok: layer forward/backward, checkpoint", params)


if __name__ == "__main__":
    main()
