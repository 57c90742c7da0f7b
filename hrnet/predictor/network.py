"""The network a Predictor runs: the torch model (built, loaded, folded, fused, cast) or the gated
int8 ONNX Runtime model of :mod:`hrnet.quantize`, and the precision that is really used.

In int8 mode the torch model is not built at all when a calibrated model is cached; it is built
only when the gate keeps fp32 (the fallback needs it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.errors import ConfigError

__all__ = ["TorchNetwork", "build_torch_network", "int8_device", "resolve_half", "try_int8"]

log = logging.getLogger(__name__)


def int8_device(device: str | torch.device) -> str:
    """int8 runs on the CPU: ``auto`` means CPU; another device is a :class:`ConfigError`."""
    text = str(device).strip().lower()
    if text in ("", "auto", "cpu"):
        return "cpu"
    raise ConfigError(f"precision='int8' runs on the CPU (ONNX Runtime); device {device!r} is not possible. "
                      "On a GPU use precision='fp16'.")


def resolve_half(half: bool | None, device: torch.device) -> bool:
    """Whether fp16 is really used: the default is fp16 on CUDA only; fp16 asked for on the CPU
    runs fp32 (logged: the CPU has no fast fp16 convolutions, so the request cannot be honoured)."""
    if half is None:
        return device.type == "cuda"
    if half and device.type == "cpu":
        log.warning("fp16 was asked for on the CPU, which has no fast fp16 convolutions: running fp32 "
                    "(for speed on a CPU use precision='int8')")
        return False
    return bool(half)


@dataclass
class TorchNetwork:
    """The built torch model and how the pipeline must feed it."""

    model: nn.Module
    channels_last: bool
    half_weights: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def build_torch_network(cfg: CfgNode, weights: Path | None, device: torch.device, *, optimize: bool,
                        half: bool, compile: bool) -> TorchNetwork:
    """Build the experiment's model, load ``weights`` strictly (none: random, with a warning) and
    make it fast for ``device``: BatchNorm folded and channels_last (``optimize``), convolutions
    fused with their ReLU / residual add on the CPU, fp16 weights on CUDA with ``half``,
    ``torch.compile`` with ``compile``. ``metadata``: the checkpoint's non-weight entries."""
    from hrnet.models import build_model

    model = build_model(cfg, is_train=False)
    metadata: dict[str, Any] = {}
    if weights is None:
        log.warning("Predictor has random weights (no checkpoint given): its keypoints are meaningless")
    else:
        from hrnet.models.checkpoint import load_checkpoint

        metadata = load_checkpoint(model, weights).metadata
    model.eval()
    channels_last = bool(optimize) and device.type in ("cpu", "cuda")
    if optimize:
        from hrnet.models.optimize import optimize_for_inference

        model = optimize_for_inference(model, channels_last=channels_last, inplace=True)
    else:
        for p in model.parameters():
            p.requires_grad_(False)
    model = model.to(device)
    if optimize and device.type == "cpu":
        from hrnet.models.optimize import try_fuse_cpu

        w, h = int(cfg.MODEL.IMAGE_SIZE[0]), int(cfg.MODEL.IMAGE_SIZE[1])
        example = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        if channels_last:
            example = example.contiguous(memory_format=torch.channels_last)
        model = try_fuse_cpu(model, example)
    # fp16 on CUDA: cast the folded weights once (autocast would re-cast every frozen weight on
    # every call, ~590 extra kernels per W32 forward). Unfolded BatchNorm stays under autocast.
    half_weights = False
    if half and device.type == "cuda" and optimize:
        from hrnet.models.optimize import to_half

        half_weights = to_half(model)
    if compile:
        model = torch.compile(model, dynamic=False)
    return TorchNetwork(model, channels_last, half_weights, metadata)


def try_int8(predictor: Any, weights: Path | None, calibration: Any, compiled: bool, progress: Any) -> Any:
    """The gated int8 ONNX Runtime network for ``predictor`` (:func:`hrnet.quantize.build_int8_model`),
    or None when the gate keeps fp32 (logged). Sets ``predictor.int8_report``."""
    from hrnet import quantize

    if weights is None:
        raise ConfigError("precision='int8' needs trained weights (it is calibrated and checked against them)")
    if compiled:
        raise ConfigError("precision='int8' and compile=True do not combine")
    runner, report, _cached = quantize.build_int8_model(predictor, weights, calibration, progress=progress)
    predictor.int8_report = report
    if runner is None:
        log.warning("int8 not used, staying fp32: %s", report.summary())
    return runner
