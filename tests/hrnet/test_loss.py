"""hrnet.core.loss: official golden values, a per-joint loop reference (values and gradients)
and invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hrnet.core.loss import JointsMSELoss, JointsOHKMMSELoss

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: torch.from_numpy(g[k]) for k in g.files}


def loop_mse(output, target, weight, use_target_weight):
    n, k = output.shape[:2]
    pred = output.reshape(n, k, -1)
    gt = target.reshape(n, k, -1)
    mse = nn.MSELoss(reduction="mean")
    loss = 0
    for j in range(k):
        if use_target_weight:
            loss = loss + 0.5 * mse(pred[:, j] * weight[:, j], gt[:, j] * weight[:, j])
        else:
            loss = loss + 0.5 * mse(pred[:, j], gt[:, j])
    return loss / k


def loop_ohkm(output, target, weight, use_target_weight, topk):
    n, k = output.shape[:2]
    pred = output.reshape(n, k, -1)
    gt = target.reshape(n, k, -1)
    total = 0
    for i in range(n):
        per_joint = []
        for j in range(k):
            p, g = pred[i, j], gt[i, j]
            if use_target_weight:
                p, g = p * weight[i, j], g * weight[i, j]
            per_joint.append(0.5 * ((p - g) ** 2).mean())
        total = total + torch.stack(per_joint).topk(topk).values.sum() / topk
    return total / n


@pytest.mark.parametrize("use_tw", [True, False])
def test_matches_official(golden, use_tw):
    i = 0 if use_tw else 1
    out, tgt, w = golden["loss_out"], golden["loss_tgt"], golden["loss_w"]
    assert float(JointsMSELoss(use_tw)(out, tgt, w)) == pytest.approx(float(golden["loss_mse"][i]), rel=1e-6)
    assert float(JointsOHKMMSELoss(use_tw)(out, tgt, w)) == pytest.approx(float(golden["loss_ohkm"][i]), rel=1e-6)


@pytest.mark.parametrize("use_tw", [True, False])
def test_equals_loop_reference_with_gradients(use_tw):
    torch.manual_seed(0)
    out = torch.randn(3, 5, 8, 6, requires_grad=True)
    tgt = torch.rand(3, 5, 8, 6)
    w = (torch.rand(3, 5, 1) > 0.3).float()
    for ours, ref in [
        (JointsMSELoss(use_tw)(out, tgt, w), loop_mse(out, tgt, w, use_tw)),
        (JointsOHKMMSELoss(use_tw, topk=3)(out, tgt, w), loop_ohkm(out, tgt, w, use_tw, 3)),
    ]:
        (g_ours,) = torch.autograd.grad(ours, out)
        (g_ref,) = torch.autograd.grad(ref, out)
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-5, atol=1e-9)


def test_invariants():
    torch.manual_seed(1)
    out = torch.randn(2, 4, 6, 5)
    w = torch.ones(2, 4, 1)
    assert float(JointsMSELoss(True)(out, out.clone(), w)) == 0.0
    # a zero weight hides a joint completely
    tgt = out.clone()
    tgt[:, 2] += 1.0
    w0 = w.clone()
    w0[:, 2] = 0
    assert float(JointsMSELoss(True)(out, tgt, w0)) == 0.0
    assert float(JointsMSELoss(False)(out, tgt, w0)) == pytest.approx(0.5 / 4)
    # (N, K) weights work as (N, K, 1)
    assert float(JointsMSELoss(True)(out, tgt, w0[..., 0])) == 0.0
    # OHKM over all joints is the plain loss
    tgt = torch.randn_like(out)
    mse = JointsMSELoss(True)(out, tgt, w)
    torch.testing.assert_close(JointsOHKMMSELoss(True, topk=4)(out, tgt, w), mse)
    # more topk than joints: all joints are used
    torch.testing.assert_close(JointsOHKMMSELoss(True, topk=8)(out, tgt, w), mse)
    # the hardest joint alone
    hard = JointsOHKMMSELoss(False, topk=1)(out, tgt, w)
    per_joint = 0.5 * ((out - tgt) ** 2).reshape(2, 4, -1).mean(-1)
    torch.testing.assert_close(hard, per_joint.max(dim=1).values.mean())
    with pytest.raises(ValueError):
        JointsOHKMMSELoss(True, topk=0)


def test_half_precision_inputs_are_computed_in_float32():
    out = torch.randn(2, 3, 4, 4).half()
    loss = JointsMSELoss(True)(out, out.float() + 1, torch.ones(2, 3, 1))
    assert loss.dtype == torch.float32
    assert float(loss) == pytest.approx(0.5, rel=1e-3)
