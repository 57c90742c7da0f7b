"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def realistic_weights(model: nn.Module, seed: int = 0) -> None:
    """Random weights with BatchNorm statistics and scales of a trained network (no denormals,
    realistic activation ranges), so that timings are those of real weights."""
    g = torch.Generator().manual_seed(seed)
    for name, t in model.state_dict().items():
        if not t.dtype.is_floating_point:
            continue
        if name.endswith("running_var"):
            t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
        elif t.ndim == 1 and name.endswith("weight"):
            t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.25)
        elif t.ndim == 4:
            t.copy_(torch.randn(t.shape, generator=g) * math.sqrt(1.0 / t[0].numel()))
        else:
            t.copy_(torch.randn(t.shape, generator=g) * 0.1)
