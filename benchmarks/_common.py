"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

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


def coco_subset(ann: Path, n: int, out: Path) -> Path:
    """The first ``n`` images of a COCO keypoints file and their people, written to ``out``."""
    doc = json.loads(ann.read_text())
    keep = {im["id"] for im in doc["images"][:n]}
    doc["images"] = [im for im in doc["images"] if im["id"] in keep]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] in keep]
    out.write_text(json.dumps(doc))
    return out
