"""MotionPromptLayer against the authors' reference layer, the method's formulas, and its own contract."""

from __future__ import annotations

import pytest
import torch

import mp_core._layer_eager as eager_kernel
from mp_core.errors import InputError, ParameterError, ShapeError
from mp_core.layer import MotionPromptLayer, video_motion_prompts
from mp_core.motion import power_normalization, rgb_to_gray, temporal_attention_variation
from mp_core.params import MotionParams
from tests.helpers_layer import (
    DEVICES,
    MEAN,
    STD,
    assert_reg_alone_matches,
    normalised_video,
    pair,
    run_with_grads,
)
from tests.reference_vmps import ReferenceVMPs

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize("penalty_weight", [0.0, 0.3, 2.5])
@pytest.mark.parametrize(
    ("shape", "m", "n"),
    [((2, 3, 5, 12, 10), 0.3, -0.2), ((1, 3, 9, 16, 16), 1.05, -2.67), ((3, 3, 3, 8, 8), -0.1, 0.9)],
)
def test_matches_reference_prompts_reg_and_grads(penalty_weight, shape, m, n):
    ours, ref = pair(penalty_weight, m, n)
    video = normalised_video(shape, seed=sum(shape))
    weights = torch.randn((shape[0], 3, shape[2] - 1, *shape[3:]), generator=torch.Generator().manual_seed(1))
    got, want = run_with_grads(ours, video, weights), run_with_grads(ref, video, weights)
    assert (got[0] - want[0]).abs().max() <= 1e-5
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got[2], want[2], rtol=1e-4, atol=1e-5)  # input
    torch.testing.assert_close(got[3], want[3], rtol=1e-4, atol=1e-5)  # m
    torch.testing.assert_close(got[4], want[4], rtol=1e-4, atol=1e-5)  # n


@pytest.mark.parametrize("device", DEVICES)
def test_matches_reference_on_device(device):
    ours, ref = pair(0.9, 0.6, -0.4)
    ours, ref = ours.to(device), ref.to(device)
    video = normalised_video((2, 3, 6, 20, 24), seed=12, device=device)
    weights = torch.randn((2, 3, 5, 20, 24), generator=torch.Generator().manual_seed(9)).to(device)
    got, want = run_with_grads(ours, video, weights), run_with_grads(ref, video, weights)
    assert got[0].device.type == device and got[1].device.type == device
    assert (got[0] - want[0]).abs().max() <= 1e-5
    for ours_value, ref_value in zip(got[1:], want[1:], strict=True):
        torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("huge_page_min_bytes", [0, 1 << 40])
@pytest.mark.parametrize("chunk_bytes", [1, 3 * 8 * 8 * 4 * 3, 3 * 8 * 8 * 4 * 7 * 2])
def test_cpu_chunking_matches_reference(monkeypatch, chunk_bytes, huge_page_min_bytes):
    # 1 byte: one prompt per chunk; 3 frames: time chunks; 2 clips: batch chunks.
    monkeypatch.setattr(eager_kernel, "_CPU_CHUNK_BYTES", chunk_bytes)
    # 0: every buffer from NumPy's (huge-page) allocator, as large ones are; 1 TiB: all from torch
    monkeypatch.setattr(eager_kernel, "_HUGE_PAGE_MIN_BYTES", huge_page_min_bytes)
    ours, ref = pair(0.7, 0.8, 0.1)
    video = normalised_video((3, 3, 7, 8, 8), seed=3)
    weights = torch.randn(3, 3, 6, 8, 8, generator=torch.Generator().manual_seed(8))  # not the global RNG
    got, want = run_with_grads(ours, video, weights), run_with_grads(ref, video, weights)
    assert (got[0] - want[0]).abs().max() <= 1e-5
    for ours_value, ref_value in zip(got[1:], want[1:], strict=True):
        torch.testing.assert_close(ours_value, ref_value, rtol=1e-4, atol=1e-5)


def test_reg_is_penalty_times_temporal_attention_variation():
    params = MotionParams(m=0.5, n=0.1)
    layer = MotionPromptLayer(penalty_weight=1.5, color_order="RGB")
    layer.load_state_dict({"m": torch.tensor([params.m]), "n": torch.tensor([params.n])})
    video = normalised_video((2, 3, 6, 9, 7), seed=5)
    prompts, reg = layer(video)
    pixels = (video * STD + MEAN).transpose(1, 2)  # (B, T, 3, H, W), RGB in [0, 1]
    gray = rgb_to_gray(pixels)
    attention = power_normalization(gray[:, 1:] - gray[:, :-1], params.slope, params.shift)
    assert reg.shape == ()
    torch.testing.assert_close(reg, 1.5 * temporal_attention_variation(attention), rtol=1e-5, atol=1e-7)
    # the prompt multiplies the normalised later frame, as the reference does
    torch.testing.assert_close(prompts, attention.unsqueeze(1) * video[:, :, 1:], rtol=1e-5, atol=1e-5)


def test_reg_is_zero_for_two_frames_and_without_penalty():
    _, reg2 = MotionPromptLayer(penalty_weight=1.0)(normalised_video((1, 3, 2, 4, 4)))
    _, reg0 = MotionPromptLayer()(normalised_video((1, 3, 5, 4, 4)))
    assert reg2.shape == reg0.shape == ()
    assert reg2.item() == 0.0 and reg0.item() == 0.0


def test_no_grad_forward_equals_grad_forward_and_keeps_reg():
    layer = MotionPromptLayer(penalty_weight=0.4)
    video = normalised_video((2, 3, 5, 6, 6))
    prompts, reg = layer(video)
    with torch.no_grad():
        prompts_ng, reg_ng = layer(video)
    assert not prompts_ng.requires_grad
    torch.testing.assert_close(prompts_ng, prompts.detach(), rtol=0, atol=0)
    torch.testing.assert_close(reg_ng, reg.detach(), rtol=0, atol=0)
    assert reg_ng.item() > 0


@pytest.mark.parametrize("layout", ["BTCHW", "CTHW", "TCHW", "BTHWC", "bcthw"])
def test_layout_round_trip_equals_bcthw_result_permuted(layout):
    base = normalised_video((2, 3, 5, 6, 7), seed=11)
    base_layer, _ = pair(0.5, 0.4, 0.2)
    batched = "B" in layout.upper()
    video = base if batched else base[0]
    source = "BCTHW" if batched else "CTHW"
    to_layout = [source.index(axis) for axis in layout.upper()]
    layer, _ = pair(0.5, 0.4, 0.2, layout=layout)
    prompts, reg = layer(video.permute(to_layout).contiguous())
    want_prompts, want_reg = base_layer(video if batched else video.unsqueeze(0))
    want_prompts = want_prompts if batched else want_prompts[0]
    assert prompts.is_contiguous()
    torch.testing.assert_close(prompts, want_prompts.permute(to_layout), rtol=0, atol=0)
    torch.testing.assert_close(reg, want_reg, rtol=1e-6, atol=0)


def test_non_contiguous_input_and_grad():
    layer, _ = pair(0.5, 0.4, 0.2)
    video = normalised_video((2, 5, 3, 6, 7)).transpose(1, 2)  # BCTHW view of BTCHW memory
    got = run_with_grads(layer, video, torch.ones(2, 3, 4, 6, 7).transpose(1, 2).contiguous().transpose(1, 2))
    layer.m.grad = layer.n.grad = None
    want = run_with_grads(layer, video.contiguous(), torch.ones(2, 3, 4, 6, 7))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-6)


def test_rgb_input_with_rgb_order_gives_flipped_bgr_result():
    bgr = normalised_video((2, 3, 4, 6, 6), seed=2)
    bgr_layer, _ = pair(0.5, 0.7, -0.3)
    rgb_layer, _ = pair(0.5, 0.7, -0.3, color_order="RGB")
    want, want_reg = bgr_layer(bgr)
    got, got_reg = rgb_layer(bgr.flip(1))
    torch.testing.assert_close(got, want.flip(1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(got_reg, want_reg, rtol=1e-6, atol=1e-8)
    wrong, _ = bgr_layer(bgr.flip(1))  # reading RGB as BGR changes the luma, so the result
    assert (wrong - want.flip(1)).abs().max() > 1e-3


def test_per_channel_mean_and_std():
    mean, std = (0.406, 0.456, 0.485), (0.225, 0.224, 0.229)  # BGR order of the ImageNet values
    layer, _ = pair(0.0, 0.2, 0.1, mean=mean, std=std)
    video = normalised_video((1, 3, 4, 5, 5), seed=4)
    prompts, _ = layer(video)
    pixels_bgr = video * torch.tensor(std).view(3, 1, 1, 1) + torch.tensor(mean).view(3, 1, 1, 1)
    gray = rgb_to_gray(pixels_bgr.flip(1).transpose(1, 2))  # (1, T, H, W)
    params = layer.params
    attention = power_normalization(gray[:, 1:] - gray[:, :-1], params.slope, params.shift)
    torch.testing.assert_close(prompts, attention.unsqueeze(1) * video[:, :, 1:], rtol=1e-5, atol=1e-5)
    scalar, _ = pair(0.0, 0.2, 0.1)
    same, _ = pair(0.0, 0.2, 0.1, mean=(MEAN,) * 3, std=[STD] * 3)
    torch.testing.assert_close(same(video)[0], scalar(video)[0], rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float16, 3e-3), (torch.bfloat16, 2e-2)])
def test_half_precision_close_to_float32(device, dtype, atol):
    layer, _ = pair(1.0, 0.0, 0.1)  # m = 0: the steepest slope (50), where half precision would saturate
    layer = layer.to(device)
    video = normalised_video((2, 3, 5, 16, 16), seed=6, device=device).to(dtype)
    prompts, reg = layer(video)
    want, want_reg = layer(video.float())
    assert prompts.dtype == dtype and prompts.device.type == device
    assert reg.dtype == torch.float32
    torch.testing.assert_close(prompts.float(), want, rtol=0, atol=atol)
    torch.testing.assert_close(reg, want_reg, rtol=1e-4, atol=1e-6)
    video.requires_grad_(True)
    prompts, reg = layer(video)
    (prompts.float().sum() + reg).backward()
    assert video.grad.dtype == dtype and torch.isfinite(video.grad).all()
    assert torch.isfinite(layer.m.grad).all() and torch.isfinite(layer.n.grad).all()


def test_does_not_modify_input_in_place():
    layer = MotionPromptLayer(penalty_weight=1.0)
    video = normalised_video((2, 3, 4, 5, 5)).requires_grad_(True)
    before, version = video.detach().clone(), video._version
    prompts, reg = layer(video)
    (prompts.sum() + reg).backward()
    assert video._version == version
    torch.testing.assert_close(video.detach(), before, rtol=0, atol=0)


@pytest.mark.parametrize(("layout", "penalty_weight"), [("BCTHW", 0.0), ("BCTHW", 1.3), ("TCHW", 0.8)])
def test_gradcheck_float64_over_input_m_n(layout, penalty_weight):
    spec = {"penalty_weight": penalty_weight, "layout": layout}
    shape = (2, 3, 4, 3, 4) if layout == "BCTHW" else (4, 3, 3, 2)
    video = normalised_video(shape, seed=8, dtype=torch.float64).requires_grad_(True)
    m = torch.tensor([0.9], dtype=torch.float64, requires_grad=True)
    n = torch.tensor([-0.05], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, a, b: video_motion_prompts(v, a, b, **spec), (video, m, n))
    assert torch.autograd.gradcheck(lambda a, b: video_motion_prompts(video.detach(), a, b, **spec), (m, n))


def test_reg_alone_backpropagates_as_the_references():
    # backward through R alone: no gradient reaches the prompts, only the regulariser's path runs
    # (the fused kernels' version: tests/mp_core/test_layer_fused.py)
    layer, ref = pair(2.0, 0.6, -0.4, fuse=False)
    assert_reg_alone_matches(layer, ref)


def test_state_dict_and_reference_checkpoint_loading():
    layer = MotionPromptLayer()
    assert set(layer.state_dict()) == {"m", "n"}
    assert layer.m.shape == layer.n.shape == (1,)
    model_state = {
        "backbone.fc.weight": torch.zeros(2, 2),
        "vmps.m": torch.tensor([1.05]),
        "vmps.n": torch.tensor([-2.67]),
    }
    # as in the reference model: the layer is the model's `vmps` attribute, and torch routes the keys
    model = torch.nn.ModuleDict({"backbone": torch.nn.ModuleDict({"fc": torch.nn.Linear(2, 2, bias=False)})})
    model["vmps"] = layer
    model.load_state_dict(model_state)  # strict: every key found, none missing
    assert layer.params.m == pytest.approx(1.05) and layer.params.n == pytest.approx(-2.67)
    # by hand: a = 5 / (0.45 tanh 1.05 + 0.1) = 5 / (0.45 * 0.781806 + 0.1), b = 0.6 tanh(-2.67)
    assert layer.params.slope == pytest.approx(11.066529, rel=1e-6)
    assert layer.params.shift == pytest.approx(-0.594272, abs=1e-6)
    ref = ReferenceVMPs()
    ref.load_state_dict(layer.state_dict())  # and the reverse direction


@pytest.mark.parametrize(
    ("video", "match"),
    [
        (torch.zeros(3, 4, 5, 5), r"5 dimensions \(BCTHW\), got shape \[3, 4, 5, 5\]"),
        (torch.zeros(1, 4, 3, 5, 5), r"3 channels .* got shape \[1, 4, 3, 5, 5\]"),
        (torch.zeros(1, 3, 1, 5, 5), r"at least 2 frames .* got shape \[1, 3, 1, 5, 5\]"),
        (torch.zeros(1, 3, 3, 5, 5, dtype=torch.uint8), r"floating .* \(shape \[1, 3, 3, 5, 5\]\)"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_input_raises_shape_error_with_shape(video, match):
    with pytest.raises(ShapeError, match=match) as info:
        MotionPromptLayer()(video)
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layout": "BCTHX"},
        {"layout": "BCTH"},
        {"layout": 5},
        {"color_order": "RGBA"},
        {"color_order": "RRB"},
        {"std": 0.0},
        {"std": (0.2, 0.2)},
        {"mean": float("nan")},
        {"penalty_weight": float("inf")},
    ],
)
def test_bad_configuration_raises_parameter_error(kwargs):
    with pytest.raises(ParameterError):
        MotionPromptLayer(**kwargs)


def test_params_property_and_repr():
    layer, _ = pair(0.0, 1.05, -2.67, layout="btchw")
    assert layer.params.m == pytest.approx(1.05) and layer.params.n == pytest.approx(-2.67)
    assert "layout='BTCHW'" in repr(layer) and "color_order='BGR'" in repr(layer)


@pytest.fixture
def pooled(monkeypatch):
    """Every buffer is large enough to come from the layer's pool (the threshold is 4 MiB otherwise)."""
    monkeypatch.setattr(eager_kernel, "_HUGE_PAGE_MIN_BYTES", 0)


def test_pool_reuses_a_dropped_output_and_never_one_still_viewed(pooled):
    layer, _ = pair(0.0, 0.4, -0.1)
    first, second = normalised_video((2, 3, 4, 8, 8), seed=1), normalised_video((2, 3, 4, 8, 8), seed=2)
    with torch.no_grad():
        kept = layer(first)[0][:, 1]  # a view of the output keeps its buffer in use
        want = kept.clone()
        again = layer(second)[0]
        assert again.data_ptr() != kept.data_ptr()
        torch.testing.assert_close(kept, want, rtol=0, atol=0)  # not overwritten by the second call
        address = again.data_ptr()
        del again
        assert layer(first)[0].data_ptr() == address  # dropped: its buffer serves the next call
        del kept
        assert layer._output_pool.idle_bytes == 2 * 2 * 3 * 3 * 8 * 8 * 4  # both outputs' buffers are idle


def test_pool_keeps_saved_logits_until_backward_and_holds_a_bounded_idle_set(pooled):
    layer, ref = pair(1.0, 0.4, -0.1)
    videos = [normalised_video((1, 3, 5, 6, 6), seed=s) for s in range(6)]
    outputs = [layer(video) for video in videos]  # six graphs alive: outputs and saved logits all in use
    assert layer._output_pool.idle_bytes == 0
    for (prompts, reg), video in zip(outputs, videos, strict=True):  # each backward sees its own logits
        layer.zero_grad()
        ref.zero_grad()
        (prompts.sum() + reg).backward()
        want_prompts, want_reg = ref(video)
        (want_prompts.sum() + want_reg).backward()
        torch.testing.assert_close(layer.m.grad, ref.m.grad, rtol=1e-4, atol=1e-6)
    del outputs, prompts, reg
    # max_idle = 3: the logits came back at each backward, the six prompts last, so three prompts stay
    assert layer._output_pool.idle_bytes == 3 * 3 * 4 * 6 * 6 * 4
    layer.empty_cache()
    assert layer._output_pool.idle_bytes == 0


def test_copied_and_pickled_layers_have_their_own_empty_pool(pooled):
    import copy
    import pickle

    layer, ref = pair(0.0, 0.4, -0.1)
    video = normalised_video((1, 3, 3, 8, 8))
    with torch.no_grad():
        layer(video)
        want = ref(video)[0]
    assert layer._output_pool.idle_bytes > 0
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone._output_pool is not layer._output_pool and clone._output_pool.idle_bytes == 0
        with torch.no_grad():  # the copy computes with its own m, n (checked against the reference layer)
            assert (clone(video)[0] - want).abs().max() <= 1e-5


def test_pool_across_threads_gives_each_call_its_own_output(pooled):
    from concurrent.futures import ThreadPoolExecutor

    layer, ref = pair(0.0, 0.4, -0.1, fuse=False)
    videos = [normalised_video((1, 3, 4, 8, 8), seed=s) for s in range(4)]
    with torch.no_grad():
        wanted = [ref(video)[0] for video in videos]

    def run(index: int) -> float:
        worst = 0.0
        for _ in range(20):
            with torch.no_grad():
                prompts = layer(videos[index])[0]
                worst = max(worst, (prompts - wanted[index]).abs().max().item())
        return worst

    with ThreadPoolExecutor(4) as pool:
        assert max(pool.map(run, [0, 1, 2, 3, 0, 1, 2, 3])) <= 1e-5  # no output handed to two calls
    assert layer._output_pool.idle_bytes <= layer._output_pool.max_idle * 3 * 3 * 8 * 8 * 4


def test_pool_in_half_precision_keeps_each_dtype_apart(pooled):
    layer, _ = pair(0.0, 0.4, -0.1, fuse=False)
    video = normalised_video((2, 3, 5, 8, 8), seed=3)
    with torch.no_grad():
        want_half = layer(video.half())[0].clone()
        want_float = layer(video)[0].clone()
        for _ in range(3):  # interleaved: same element count, different sizes in bytes
            half, single = layer(video.half())[0], layer(video)[0]
            assert half.dtype == torch.float16 and single.dtype == torch.float32
            torch.testing.assert_close(half, want_half, rtol=0, atol=0)
            torch.testing.assert_close(single, want_float, rtol=0, atol=0)
            del half, single
    torch.testing.assert_close(want_half.float(), want_float, rtol=0, atol=3e-3)
