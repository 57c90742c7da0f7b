"""Heatmap losses (official ``lib/core/loss.py`` semantics, vectorised over joints).

- :class:`JointsMSELoss`: ``0.5 * mean((w * pred - w * gt)^2)`` per joint over batch and pixels,
  averaged over joints (``w`` = target weight when ``use_target_weight``).
- :class:`JointsOHKMMSELoss`: online hard keypoint mining: per sample, the mean of the ``topk``
  largest per-joint losses, averaged over the batch.

Both compute in float32 (also under autocast) and accept ``target_weight`` of shape (N, K, 1)
or (N, K).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)

__all__ = ["JointsMSELoss", "JointsOHKMMSELoss", "per_joint_mse"]


def per_joint_mse(output: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None) -> torch.Tensor:
    """``0.5 * (w * pred - w * gt)^2`` averaged over pixels: (N, K) float32."""
    n, k = output.shape[0], output.shape[1]
    pred = output.reshape(n, k, -1).float()
    gt = target.reshape(n, k, -1).float()
    if target_weight is not None:
        w = target_weight.reshape(n, k, 1).float()
        pred = pred * w
        gt = gt * w
    return 0.5 * (pred - gt).pow(2).mean(dim=2)


class JointsMSELoss(nn.Module):
    """Official ``JointsMSELoss``: mean over joints of ``0.5 * MSE`` of the (weighted) heatmaps."""

    def __init__(self, use_target_weight: bool) -> None:
        super().__init__()
        self.use_target_weight = bool(use_target_weight)

    def forward(self, output: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        loss = per_joint_mse(output, target, target_weight if self.use_target_weight else None)
        # mean over the batch per joint, then over joints (= the official sum of per-joint means / K)
        return loss.mean(dim=0).sum() / output.shape[1]


class JointsOHKMMSELoss(nn.Module):
    """Official ``JointsOHKMMSELoss``: per sample, the mean of the ``topk`` hardest joints'
    losses, then the batch mean. With fewer than ``topk`` joints all joints are used (the official
    code would fail)."""

    def __init__(self, use_target_weight: bool, topk: int = 8) -> None:
        super().__init__()
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        self.use_target_weight = bool(use_target_weight)
        self.topk = int(topk)

    def ohkm(self, loss: torch.Tensor) -> torch.Tensor:
        """(N, K) per-joint losses -> scalar."""
        k = min(self.topk, loss.shape[1])
        top = torch.topk(loss, k=k, dim=1, sorted=False).values
        return (top.sum(dim=1) / k).mean()

    def forward(self, output: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        return self.ohkm(per_joint_mse(output, target, target_weight if self.use_target_weight else None))
