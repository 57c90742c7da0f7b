"""Shared test set-up: CPU, few threads, denormals flushed (random BN statistics drive
activations into denormal floats, ~100x slower on CPU)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency
    torch = None

if torch is not None:
    torch.set_flush_denormal(True)
