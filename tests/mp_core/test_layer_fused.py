"""The layer's fused CPU kernels (Inductor-compiled) against the authors' layer, and their fallback."""

from __future__ import annotations

import pytest
import torch

import mp_core._layer_eager as eager_kernel
import mp_core._layer_fused as fused_kernels
from mp_core._layer_fused import FusedKernels
from tests.helpers_layer import assert_reg_alone_matches, normalised_video, pair, run_with_grads

pytestmark = [
    pytest.mark.filterwarnings("error"),
    # raised inside Inductor's own imports in torch 2.13, not by this code
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]


@pytest.fixture
def fused_always(monkeypatch):
    """The fused kernels for every float32 CPU video, however small (2^20 elements otherwise), compiled
    afresh: the variants of earlier tests do not count towards Dynamo's recompile limit."""
    monkeypatch.setattr(FusedKernels, "min_elements", 0)
    torch._dynamo.reset()


@pytest.mark.parametrize(
    ("layout", "penalty_weight", "frames"),
    [("BCTHW", 0.0, 5), ("BCTHW", 1.7, 6), ("BTCHW", 0.6, 4), ("BCTHW", 2.0, 3)],
)
def test_fused_kernels_match_reference(fused_always, layout, penalty_weight, frames):
    ours, ref = pair(penalty_weight, 0.8, -0.3, layout=layout)
    video = normalised_video((2, 3, frames, 12, 10), seed=frames)
    weights = torch.randn(2, 3, frames - 1, 12, 10, generator=torch.Generator().manual_seed(4))
    to_layout = ["BCTHW".index(axis) for axis in layout]
    got = run_with_grads(ours, video.permute(to_layout).contiguous(), weights.permute(to_layout))
    want = run_with_grads(ref, video, weights)
    assert ours._fused.failed is None and ours._fused.runs >= 2  # forward and backward ran fused
    assert (got[0] - want[0].permute(to_layout)).abs().max() <= 1e-5
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got[2], want[2].permute(to_layout), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[3], want[3], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[4], want[4], rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # inference, the forward kernel alone: the reference's prompts too
        inferred = ours(video.permute(to_layout).contiguous())[0]
    assert (inferred - want[0].permute(to_layout)).abs().max() <= 1e-5


def _compile_fails_for(monkeypatch, names):
    real = torch.compile

    def compile_or_fail(kernel, **options):
        if kernel.__name__ not in names:
            return real(kernel, **options)

        def failing(*args):
            raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found\nsecond line")

        return failing

    monkeypatch.setattr(fused_kernels.torch, "compile", compile_or_fail)


@pytest.mark.parametrize("failing", [{"forward_kernel", "backward_kernel"}, {"backward_kernel"}])
def test_fused_kernels_that_cannot_compile_warn_once_and_fall_back(fused_always, monkeypatch, failing):
    _compile_fails_for(monkeypatch, failing)
    ours, ref = pair(1.2, 0.5, 0.2)
    video = normalised_video((2, 3, 5, 8, 8), seed=9)
    weights = torch.randn(2, 3, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    with pytest.warns(RuntimeWarning, match=r"could not be compiled \(RuntimeError: InvalidCxxCompiler: no"):
        got = run_with_grads(ours, video, weights)
    want = run_with_grads(ref, video, weights)
    assert ours._fused.failed == "RuntimeError: InvalidCxxCompiler: no working C++ compiler found"
    for ours_value, ref_value in zip(got, want, strict=True):  # the chunked kernel took over mid-step
        torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)
    ours.zero_grad()
    again = run_with_grads(ours, video, weights)  # no second warning (filterwarnings=error would raise)
    torch.testing.assert_close(again[3], want[3], rtol=1e-4, atol=1e-5)


def test_fuse_false_never_compiles(fused_always, monkeypatch):
    _compile_fails_for(monkeypatch, {"forward_kernel", "backward_kernel"})
    layer, ref = pair(1.0, 0.3, 0.2, fuse=False)  # compiling would raise: the warning would fail the test
    video = normalised_video((1, 3, 4, 8, 8))
    weights = torch.randn(1, 3, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    got, want = run_with_grads(layer, video, weights), run_with_grads(ref, video, weights)
    assert layer._fused is None
    for ours_value, ref_value in zip(got, want, strict=True):
        torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)


def test_fused_two_frames_give_zero_reg_and_the_formulas_prompts(fused_always):
    layer, ref = pair(2.0, 0.8, -0.3)
    video = normalised_video((2, 3, 2, 12, 10), seed=1)
    prompts, reg = layer(video)
    assert reg.item() == 0.0 and layer._fused.runs == 1
    with torch.no_grad():
        ref.penalty_weight = 0.0  # the reference divides by T - 2 = 0
        torch.testing.assert_close(prompts.detach(), ref(video)[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("chunk_bytes", [1, 3 * 8 * 8 * 4 * 3, 3 * 8 * 8 * 4 * 7 * 2])
def test_fused_forward_over_chunks_matches_reference(fused_always, monkeypatch, chunk_bytes):
    # 1 byte: one prompt per chunk; 3 frames: time chunks (each starts a prompt early); 2 clips: batch chunks
    monkeypatch.setattr(eager_kernel, "_CPU_CHUNK_BYTES", chunk_bytes)
    ours, ref = pair(0.7, 0.8, 0.1)
    video = normalised_video((3, 3, 7, 8, 8), seed=3)
    weights = torch.randn(3, 3, 6, 8, 8, generator=torch.Generator().manual_seed(8))  # not the global RNG
    got, want = run_with_grads(ours, video, weights), run_with_grads(ref, video, weights)
    assert ours._fused.failed is None and ours._fused.runs >= 2
    assert (got[0] - want[0]).abs().max() <= 1e-5
    for ours_value, ref_value in zip(got[1:], want[1:], strict=True):
        torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)


def test_past_the_recompile_limit_a_call_runs_chunked_without_giving_up(fused_always):
    layer, ref = pair(0.0, 0.4, 0.1)
    with torch._dynamo.config.patch(recompile_limit=1), torch.no_grad():
        for frames in (4, 5, 6):  # three shapes: the second and third would each need a new graph
            video = normalised_video((1, 3, frames, 8, 8), seed=frames)
            torch.testing.assert_close(layer(video)[0], ref(video)[0], rtol=0, atol=1e-5)
    assert layer._fused.failed is None and layer._fused.runs == 1


def test_the_recompile_limit_is_recognised_under_its_old_name_too(monkeypatch):
    """torch releases before pytorch#143709 raise FailOnCacheLimitHit: without the old name the fallback
    itself would fail (an AttributeError while matching the except clause)."""
    import torch._dynamo.exc as errors

    assert fused_kernels._hit_recompile_limit(errors.FailOnRecompileLimitHit("limit"))
    assert not fused_kernels._hit_recompile_limit(RuntimeError("another failure"))

    class FailOnCacheLimitHit(Exception):
        pass

    monkeypatch.delattr(errors, "FailOnRecompileLimitHit")
    monkeypatch.setattr(errors, "FailOnCacheLimitHit", FailOnCacheLimitHit, raising=False)
    assert fused_kernels._hit_recompile_limit(FailOnCacheLimitHit("limit"))
    assert not fused_kernels._hit_recompile_limit(RuntimeError("another failure"))


def test_applies_only_to_large_float32_cpu_videos_until_a_failure():
    kernels = FusedKernels()
    big = (1, 3, 4, 256, 256)  # 786,432 elements: under 2^20
    assert not kernels.applies(torch.empty(big))
    assert kernels.applies(torch.empty(1, 3, 6, 256, 256))  # 1,179,648 >= 2^20
    assert kernels.applies(torch.empty(1 << 20))  # the threshold itself
    assert not kernels.applies(torch.empty((1 << 20) - 1))
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        assert not kernels.applies(torch.empty(1 << 20, dtype=dtype)), dtype
    assert not kernels.applies(torch.empty(1 << 20, device="meta"))  # not a CPU tensor
    kernels.failed = "RuntimeError: no compiler"
    assert not kernels.applies(torch.empty(1 << 20))


def test_fused_path_with_pooled_buffers_matches_reference_step_after_step(fused_always, monkeypatch):
    monkeypatch.setattr(eager_kernel, "_HUGE_PAGE_MIN_BYTES", 0)  # every buffer from the pool
    ours, ref = pair(1.3, 0.5, -0.2)
    weights = torch.randn(2, 3, 4, 8, 8, generator=torch.Generator().manual_seed(7))
    for step in range(3):  # later steps reuse the buffers the earlier ones gave back
        video = normalised_video((2, 3, 5, 8, 8), seed=step)
        ours.zero_grad()
        ref.zero_grad()
        got, want = run_with_grads(ours, video, weights), run_with_grads(ref, video, weights)
        assert (got[0] - want[0]).abs().max() <= 1e-5
        for ours_value, ref_value in zip(got[1:], want[1:], strict=True):
            torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)
    assert ours._fused.failed is None and ours._fused.runs >= 6
    assert ours._output_pool.idle_bytes > 0  # the pool was used


def test_a_layer_pickles_after_torch_compile_and_after_fused_runs(fused_always):
    import pickle

    ours, ref = pair(0.9, 0.5, -0.2)
    video = normalised_video((1, 3, 4, 8, 8), seed=5)
    compiled = torch.compile(ours)
    with torch.no_grad():
        compiled(video)
        ours(video)  # the fused kernels compiled inside the layer too
        want_prompts = ref(video)[0]
    want_reg = ref(video)[1].detach()  # the reference computes R only with grad enabled
    assert ours._fused.runs >= 1
    clone = pickle.loads(pickle.dumps(ours))
    assert clone._fused.runs == 0 and clone._fused.failed is None  # starts without compiled code
    with torch.no_grad():
        prompts, reg = clone(video)
    assert (prompts - want_prompts).abs().max() <= 1e-5
    torch.testing.assert_close(reg, want_reg, rtol=1e-5, atol=1e-7)


def test_fused_backward_through_the_regulariser_alone(fused_always):
    layer, ref = pair(2.0, 0.6, -0.4)
    assert_reg_alone_matches(layer, ref)
    assert layer._fused.failed is None and layer._fused.runs >= 2  # forward and backward ran fused
