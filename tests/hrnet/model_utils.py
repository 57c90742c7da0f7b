"""Helpers shared by the model tests (and by the scratch script that generated the fixtures in
tests/hrnet/data from the official deep-high-resolution-net.pytorch networks)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping

import torch
from torch import Tensor


def key_shapes(state_dict: Mapping[str, Tensor]) -> list[list]:
    """The ordered ``[key, shape]`` list of a state_dict."""
    return [[k, list(v.shape)] for k, v in state_dict.items()]


def key_shapes_sha256(state_dict: Mapping[str, Tensor]) -> str:
    """sha256 of the ordered ``[key, shape]`` list (JSON, default separators)."""
    return hashlib.sha256(json.dumps(key_shapes(state_dict)).encode()).hexdigest()


@torch.no_grad()
def deterministic_state(state_dict: Mapping[str, Tensor], seed: int = 0) -> dict[str, Tensor]:
    """Well-scaled pseudo-random weights and BN statistics for every float tensor, in key order, so a
    forward pass exercises every layer (the official init has zero BN biases and tiny convs)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in state_dict.items():
        if not v.dtype.is_floating_point:
            out[k] = v.clone()
        elif k.endswith("running_var") or (v.ndim == 1 and k.endswith("weight")):
            out[k] = torch.rand(v.shape, generator=g) * 0.5 + (0.75 if k.endswith("running_var") else 0.25)
        elif v.ndim == 4:
            out[k] = torch.randn(v.shape, generator=g) * math.sqrt(1.0 / v[0].numel())
        else:
            out[k] = torch.randn(v.shape, generator=g) * 0.1
    return out


def deterministic_input(shape: tuple[int, ...], seed: int = 1) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))
