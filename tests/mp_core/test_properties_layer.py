"""Property tests: MotionPromptLayer against the authors' layer (tests/reference_vmps.py) over random
shapes, layouts, dtypes, parameters and penalty weights (hypothesis; profile in tests/conftest.py)."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers_layer import normalised_video, pair

LAYOUTS = {"BCTHW": (0, 1, 2, 3, 4), "BTCHW": (0, 2, 1, 3, 4)}
#: float32 tolerances of the reference comparisons in tests/mp_core/test_layer.py; float64 much tighter
TOL = {torch.float32: (1e-5, 1e-4), torch.float64: (1e-12, 1e-10)}


@given(
    batch=st.integers(1, 3),
    frames=st.integers(3, 7),  # T = 2: the reference divides by T - 2 (test_layer checks our R = 0)
    height=st.integers(1, 13),
    width=st.integers(1, 13),
    layout=st.sampled_from(sorted(LAYOUTS)),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    m=st.floats(-3.0, 3.0),
    n=st.floats(-3.0, 3.0),
    penalty_weight=st.sampled_from([0.0, 0.5, 2.0]),
    seed=st.integers(0, 2**16),
)
def test_layer_equals_the_authors_layer(
    batch, frames, height, width, layout, dtype, m, n, penalty_weight, seed
):
    ours, ref = pair(penalty_weight, m, n, layout=layout, fuse=False)
    ours, ref = ours.to(dtype), ref.to(dtype)
    video = normalised_video((batch, 3, frames, height, width), seed=seed, dtype=dtype)  # B, C, T, H, W
    weights = torch.randn(
        (batch, 3, frames - 1, height, width), generator=torch.Generator().manual_seed(seed)
    )
    weights = weights.to(dtype)
    results = []
    for layer, given_video, given_weights in (
        (ours, video.permute(LAYOUTS[layout]), weights.permute(LAYOUTS[layout])),
        (ref, video, weights),
    ):
        x = given_video.clone().requires_grad_(True)
        prompts, reg = layer(x)
        ((prompts * given_weights).sum() + reg).backward()
        results.append(
            (prompts.permute(LAYOUTS[layout]) if layer is ours else prompts, reg, x.grad, layer.m.grad)
        )
    (p, r, dx, dm), (p_ref, r_ref, dx_ref, dm_ref) = results
    if layout == "BTCHW":
        dx = dx.permute(LAYOUTS[layout])
    atol, rtol = TOL[dtype]
    assert p.dtype == dtype and p.shape == p_ref.shape
    torch.testing.assert_close(p, p_ref, atol=atol, rtol=0)
    torch.testing.assert_close(
        torch.as_tensor(r, dtype=dtype), torch.as_tensor(r_ref, dtype=dtype), atol=atol, rtol=rtol
    )
    torch.testing.assert_close(dx, dx_ref, atol=10 * atol, rtol=rtol)
    torch.testing.assert_close(dm, dm_ref, atol=10 * atol * video.numel() ** 0.5, rtol=rtol)
