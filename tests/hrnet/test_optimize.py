from __future__ import annotations

import pytest
import torch
from torch import nn

from hrnet.config import load_config
from hrnet.models import PoseResNet, build_model, create_variant
from hrnet.models.optimize import fold_batchnorm, fuse_conv_bn, optimize_for_inference
from tests.hrnet.model_utils import deterministic_state


@pytest.fixture(autouse=True)
def _few_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _num_bn(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


def _models():
    yield "synthetic_w16", build_model(load_config("synthetic/hrnet_w16_128x96"), is_train=False)
    yield "resnet_18", create_variant("resnet_18", init=False)
    yield "resnet_18_deconv_bias", PoseResNet(18, deconv_filters=(64, 32), deconv_kernels=(4, 3), deconv_with_bias=True)


@pytest.mark.parametrize(("name", "model"), list(_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_optimized_matches_eval_model(name, model):
    model.load_state_dict(deterministic_state(model.state_dict()))
    model.train()
    n_bn = _num_bn(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)

    assert _num_bn(fast) == 0
    assert not any(p.requires_grad for p in fast.parameters())
    assert not fast.training
    convs = [m for m in fast.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    # the original is untouched
    assert model.training and _num_bn(model) == n_bn
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())

    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(5))
    model.eval()
    with torch.inference_mode():
        ref = model(x)
        out = fast(x.to(memory_format=torch.channels_last))
        out_plain_input = fast(x)
    assert out.shape == ref.shape
    assert _rel_diff(ref, out) < 1e-5
    assert _rel_diff(ref, out_plain_input) < 1e-5


def test_fold_counts_every_pair():
    model = build_model(load_config("synthetic/hrnet_w16_128x96"), is_train=False).eval()
    n_bn = _num_bn(model)
    assert fold_batchnorm(model) == n_bn
    assert fold_batchnorm(model) == 0


def test_fold_needs_eval_mode():
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(create_variant("resnet_18", init=False).train())


def test_inplace():
    model = create_variant("resnet_18", init=False)
    assert optimize_for_inference(model, inplace=True, channels_last=False) is model
    assert _num_bn(model) == 0


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_fuse_conv_bn(transpose, bias):
    g = torch.Generator().manual_seed(0)
    cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = cls(6, 5, 3, stride=2, padding=1, bias=bias)
    bn = nn.BatchNorm2d(5)
    with torch.no_grad():
        for t in (*conv.parameters(), bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.randn(t.shape, generator=g))
        bn.running_var.copy_(torch.rand(5, generator=g) + 0.1)
    seq = nn.Sequential(conv, bn).eval()
    fused = fuse_conv_bn(conv, bn)
    x = torch.randn(2, 6, 9, 9, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), seq(x), rtol=1e-5, atol=1e-5)
