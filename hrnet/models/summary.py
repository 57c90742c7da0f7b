"""Model summary: parameters and compute at a given input size.

Compute is counted with forward hooks as multiply-accumulates (MACs) of Conv2d, ConvTranspose2d and
Linear layers, per image (identical to ``torch.utils.flop_counter`` / 2). ``gflops`` reports GMACs,
the convention of pose-estimation papers and model zoos ("GFLOPs" that count a multiply-add once;
HRNet-W32 at 256x192 gives 7.65); ``flops`` is 2 x MACs. BatchNorm, ReLU, additions and upsampling
are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["LayerSummary", "ModelSummary", "count_macs", "format_summary", "summarize", "summarize_config"]


@dataclass
class LayerSummary:
    """Parameters and MACs of one top-level child of the model (``stage3``, ``deconv_layers``...)."""

    name: str
    num_params: int
    macs: int


@dataclass
class ModelSummary:
    model: str
    num_params: int
    num_trainable: int
    input_size: tuple[int, int]  # width, height
    output_shape: tuple[int, ...]  # (C, H, W) of one image
    macs: int  # per image
    layers: list[LayerSummary] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)

    @property
    def gflops(self) -> float:
        """GMACs per image (the papers' "GFLOPs")."""
        return self.macs / 1e9

    @property
    def flops(self) -> int:
        return 2 * self.macs


def _layer_macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    batch = output.shape[0]
    if isinstance(module, nn.ConvTranspose2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return inputs[0].numel() // batch * (module.out_channels // module.groups) * k
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return output.numel() // batch * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() // batch * module.in_features
    return 0


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, dict[str, int], Tensor]:
    """Run ``model`` once on zeros of ``input_shape`` (N, C, H, W) and return (MACs per image, MACs per
    top-level child, output)."""
    per_child: dict[str, int] = {name: 0 for name, _ in model.named_children()}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            top = name.split(".")[0]

            def hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor, top: str = top) -> None:
                per_child[top] = per_child.get(top, 0) + _layer_macs(m, inp, out)

            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        with torch.inference_mode():
            out = model(torch.zeros(*input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return sum(per_child.values()), per_child, out


def summarize(model: nn.Module, input_size: Sequence[int], name: str | None = None) -> ModelSummary:
    """Summary of ``model`` for one RGB image of ``input_size`` = (width, height)."""
    w, h = int(input_size[0]), int(input_size[1])
    macs, per_child, out = count_macs(model, (1, 3, h, w))
    layers = [
        LayerSummary(child, sum(p.numel() for p in module.parameters()), per_child.get(child, 0))
        for child, module in model.named_children()
    ]
    layers = [layer for layer in layers if layer.num_params or layer.macs]
    return ModelSummary(
        model=name or type(model).__name__,
        num_params=sum(p.numel() for p in model.parameters()),
        num_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        input_size=(w, h),
        output_shape=tuple(out.shape[1:]),
        macs=macs,
        layers=layers,
    )


def summarize_config(cfg) -> ModelSummary:  # a yacs CfgNode
    """Build the network of ``cfg`` (no pretrained weights) and summarise it at ``MODEL.IMAGE_SIZE``."""
    from hrnet.models import build_model
    from hrnet.models.checkpoint import infer_architecture

    model = build_model(cfg, is_train=False)
    summary = summarize(model, cfg.MODEL.IMAGE_SIZE, name=cfg.MODEL.NAME)
    arch = infer_architecture(model.state_dict())
    summary.details = {
        "architecture": (f"HRNet-W{arch['width']}" if cfg.MODEL.NAME == "pose_hrnet"
                         else f"ResNet-{arch['num_layers']} + {len(arch['deconv_filters'])} deconv"),
        "num_joints": int(cfg.MODEL.NUM_JOINTS),
        "heatmap_size": tuple(int(v) for v in cfg.MODEL.HEATMAP_SIZE),
    }
    return summary


def _human(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(int(n))


def format_summary(summary: ModelSummary, layers: bool = True) -> str:
    """A plain-text table of the summary."""
    w, h = summary.input_size
    lines = [f"Model:        {summary.model}"]
    for key, value in summary.details.items():
        lines.append(f"{key.replace('_', ' ').capitalize() + ':':14s}{value}")
    lines += [
        f"Input:        3 x {h} x {w} (H x W)",
        f"Output:       {' x '.join(str(d) for d in summary.output_shape)}",
        f"Parameters:   {summary.num_params:,} ({_human(summary.num_params)})",
        f"GFLOPs:       {summary.gflops:.2f} (multiply-accumulates per image, as in the papers; "
        f"{summary.flops / 1e9:.2f} G counting mul and add)",
    ]
    if layers and summary.layers:
        lines.append("")
        lines.append(f"{'layer':16s}{'params':>14s}{'GMACs':>10s}")
        for layer in summary.layers:
            lines.append(f"{layer.name:16s}{layer.num_params:>14,}{layer.macs / 1e9:>10.3f}")
    return "\n".join(lines)
