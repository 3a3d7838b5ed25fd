"""MotionPromptLayer inside compiled, exported and mixed-precision models, against the authors' layer.

Compiling costs seconds per graph on 2 CPU cores, so each compiled model is built once per module and
shared by the asserts on it; shapes are small.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mp_core.layer import MotionPromptLayer
from tests.helpers_layer import DEVICES, normalised_video, pair
from tests.reference_vmps import ReferenceVMPs

pytestmark = [
    pytest.mark.filterwarnings("error"),
    # Inductor's own code generation still touches torch.jit in torch 2.13: not ours to fix
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]

SHAPE = (2, 3, 5, 12, 10)  # B, C, T, H, W
M, N, PENALTY = 0.6, -0.4, 0.7


class TinyVideoModel(nn.Module):
    """A video model as training code has it: the layer (named ``vmps`` as in the reference) then a head."""

    def __init__(self, vmps: nn.Module) -> None:
        super().__init__()
        self.vmps = vmps
        self.head = nn.Linear(3, 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
            self.head.bias.copy_(torch.tensor([0.1, -0.2]))

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        prompts, reg = self.vmps(video)
        channels_last = prompts.movedim(self.vmps.layout.index("C"), -1)  # (B, ..., C)
        logits = self.head(channels_last.float().mean(dim=(1, 2, 3)))
        return logits, prompts, reg


def models(device: str, **kwargs) -> tuple[TinyVideoModel, TinyVideoModel]:
    ours, ref = pair(PENALTY, M, N, **kwargs)
    return TinyVideoModel(ours).to(device), TinyVideoModel(ref).to(device)


def train_step(model: nn.Module, video: torch.Tensor, weights: torch.Tensor) -> dict[str, torch.Tensor]:
    """Loss = logits' task term + weighted prompts + reg; returns outputs and the gradients of m, n, video."""
    model.zero_grad(set_to_none=True)
    video = video.detach().clone().requires_grad_(True)
    logits, prompts, reg = model(video)
    loss = logits.square().sum() + (prompts.float() * weights).sum() + reg
    loss.backward()
    return {
        "prompts": prompts.detach(),
        "reg": torch.as_tensor(reg).detach(),
        "m": model.vmps.m.grad,
        "n": model.vmps.n.grad,
        "video": video.grad,
    }


def assert_step_close(
    got: dict[str, torch.Tensor], want: dict[str, torch.Tensor], atol: float = 1e-5
) -> None:
    assert (got["prompts"] - want["prompts"]).abs().max() <= atol
    torch.testing.assert_close(got["reg"], want["reg"], rtol=atol, atol=1e-7)
    for key in ("m", "n", "video"):
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=atol, msg=key)


@pytest.fixture(scope="module", params=DEVICES)
def fullgraph_case(request):
    """(compiled model, eager twin, reference model, video, weights), ``fullgraph=True``, compiled once."""
    device = request.param
    torch._dynamo.reset()
    ours, ref = models(device)
    eager, _ = models(device)
    video = normalised_video(SHAPE, seed=3, device=device)
    weights = torch.randn((2, 3, 4, 12, 10), generator=torch.Generator().manual_seed(4)).to(device)
    yield torch.compile(ours, fullgraph=True), eager, ref, video, weights
    torch._dynamo.reset()


def test_fullgraph_compile_forward_backward_equals_eager_and_reference(fullgraph_case):
    compiled, eager, ref, video, weights = fullgraph_case
    got = train_step(compiled, video, weights)
    assert_step_close(got, train_step(eager, video, weights))
    assert_step_close(got, train_step(ref, video, weights))
    assert got["reg"].item() > 0  # the regulariser is in the compiled graph, not skipped
    again = train_step(compiled, video * 0.5, weights)  # a second step runs the same graph on new data
    assert_step_close(again, train_step(ref, video * 0.5, weights))


def test_fullgraph_compile_inference_under_no_grad(fullgraph_case):
    compiled, _, ref, video, _ = fullgraph_case
    with torch.no_grad():
        logits, prompts, reg = compiled(video)
        want_logits, want_prompts, _ = ref(video)
    assert (prompts - want_prompts).abs().max() <= 1e-5
    torch.testing.assert_close(logits, want_logits, rtol=1e-5, atol=1e-6)
    assert reg.item() > 0  # unlike the reference, reg is computed without autograd too


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["BCTHW", "TCHW"])
def test_no_graph_breaks(device, layout):
    layer = MotionPromptLayer(PENALTY, layout=layout).to(device)
    video = normalised_video((4, 3, 6, 6)) if layout == "TCHW" else normalised_video(SHAPE)
    module = TinyVideoModel(layer).to(device) if layout == "BCTHW" else layer
    explained = torch._dynamo.explain(module)(video.to(device))  # traces only: no Inductor compile
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.parametrize("device", DEVICES)
def test_default_compile_with_other_layout(device):
    torch._dynamo.reset()
    ours, ref = models(device, layout="BTCHW")
    compiled = torch.compile(ours)
    video = normalised_video(SHAPE, seed=5, device=device)
    weights = torch.randn((2, 3, 4, 12, 10), generator=torch.Generator().manual_seed(6)).to(device)
    got = train_step(compiled, video.transpose(1, 2).contiguous(), weights.transpose(1, 2))
    assert got["prompts"].shape == (2, 4, 3, 12, 10) and got["prompts"].is_contiguous()
    want = train_step(ref, video, weights)
    got["prompts"], got["video"] = got["prompts"].transpose(1, 2), got["video"].transpose(1, 2)
    assert_step_close(got, want)
    torch._dynamo.reset()


def test_export_gives_the_same_prompts():
    ours, ref = models("cpu")
    video = normalised_video(SHAPE, seed=7)
    exported = torch.export.export(ours.eval(), (video,))
    called = {node.target.__module__ for node in exported.graph.nodes if node.op == "call_function"}
    assert called <= {"torch._ops.aten"}, called  # plain aten ops: portable to AOTInductor and friends
    other = normalised_video(SHAPE, seed=8)  # not constants baked in at export time
    for clip in (video, other):
        with torch.no_grad():
            logits, prompts, reg = exported.module()(clip)
            want_logits, want_prompts, _ = ref(clip)
            eager_prompts, eager_reg = ours.vmps(clip)
        assert (prompts - want_prompts).abs().max() <= 1e-5
        assert (prompts - eager_prompts).abs().max() <= 1e-6
        torch.testing.assert_close(logits, want_logits, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(reg, eager_reg, rtol=1e-5, atol=1e-8)


def reference_float64(video: torch.Tensor, penalty_weight: float, m: float, n: float):
    """The authors' layer in float64 on the CPU: the truth mixed-precision results are held to."""
    ref = ReferenceVMPs(penalty_weight).double()
    with torch.no_grad():
        ref.m.fill_(m)
        ref.n.fill_(n)
    video = video.detach().double().cpu().requires_grad_(True)
    return ref, video


def assert_rounded_from_float64(got: torch.Tensor, want: torch.Tensor) -> None:
    """``got`` is ``want`` rounded once to got's dtype: within half a unit in the last place (plus 1e-5 rel.).

    Half an ulp is at most eps / 2 relative: 2^-8 for bfloat16, 2^-11 for float16 (normal numbers); a sigmoid
    evaluated in half precision, or a second rounding, lands outside it.
    """
    half_ulp = torch.finfo(got.dtype).eps / 2
    error = (got.double().cpu() - want).abs()
    bound = want.abs() * (half_ulp + 1e-5) + 1e-30
    tiny = want.abs() < torch.finfo(got.dtype).tiny / torch.finfo(got.dtype).eps  # subnormal in got's dtype
    assert bool((error <= bound)[~tiny].all()), float((error / want.abs().clamp_min(1e-30))[~tiny].max())


AUTOCAST = [
    ("cpu", torch.bfloat16),
    pytest.param("cuda", torch.float16, marks=DEVICES[1].marks),
    pytest.param("cuda", torch.bfloat16, marks=DEVICES[1].marks),
]


@pytest.mark.parametrize(("device", "dtype"), AUTOCAST)
@pytest.mark.parametrize("m", [0.0, 1.05])  # m = 0: slope 50, where a half-precision sigmoid saturates
def test_autocast_eager_prompts_in_autocast_dtype_sigmoid_and_reg_in_float32(device, dtype, m):
    layer, _ = pair(PENALTY, m, N)
    layer = layer.to(device)
    video = normalised_video(SHAPE, seed=9, device=device).requires_grad_(True)
    weights = torch.randn((2, 3, 4, 12, 10), generator=torch.Generator().manual_seed(10))
    with torch.autocast(device, dtype=dtype):
        prompts, reg = layer(video)
    assert prompts.dtype == dtype and reg.dtype == torch.float32
    ref, video64 = reference_float64(video, PENALTY, m, N)
    want, want_reg = ref(video64)
    assert_rounded_from_float64(prompts.detach(), want.detach())
    torch.testing.assert_close(reg.detach().double().cpu(), want_reg.detach(), rtol=1e-5, atol=1e-9)
    ((prompts.float() * weights.to(device)).sum() + reg).backward()
    # prompts in `dtype` get their incoming gradient rounded to `dtype`: the reference gets the same one
    ((want * weights.to(dtype).double()).sum() + want_reg).backward()
    assert video.grad.dtype == torch.float32 and layer.m.grad.dtype == torch.float32
    for got, truth in ((video.grad, video64.grad), (layer.m.grad, ref.m.grad), (layer.n.grad, ref.n.grad)):
        torch.testing.assert_close(got.double().cpu(), truth, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("device", "dtype"), AUTOCAST)
def test_autocast_compiled_model(device, dtype):
    torch._dynamo.reset()
    ours, _ = models(device)
    compiled = torch.compile(ours, fullgraph=True)
    video = normalised_video(SHAPE, seed=11, device=device)
    with torch.autocast(device, dtype=dtype), torch.no_grad():
        _, prompts, reg = compiled(video)
    assert prompts.dtype == dtype and reg.dtype == torch.float32
    ref, video64 = reference_float64(video, PENALTY, M, N)
    with torch.no_grad():
        want, _ = ref(video64)
    assert_rounded_from_float64(prompts, want)
    with torch.autocast(device, dtype=dtype), torch.no_grad():
        eager_prompts, eager_reg = ours.vmps(video)
    assert eager_prompts.dtype == dtype
    torch.testing.assert_close(prompts.float(), eager_prompts.float(), rtol=2.0**-7, atol=1e-6)
    torch.testing.assert_close(reg, eager_reg, rtol=1e-5, atol=1e-9)
    torch._dynamo.reset()
