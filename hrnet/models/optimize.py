"""An inference-only copy of a pose network: eval mode, BatchNorm folded into the convolutions that
precede it, weights in channels_last memory format, no autograd.

>>> fast = optimize_for_inference(model)
>>> with torch.inference_mode():
...     heatmaps = fast(images.to(memory_format=torch.channels_last))

Folding is exact algebra (``bn(conv(x)) == conv'(x)`` with ``w' = w * g / sqrt(var + eps)`` and
``b' = (b - mean) * g / sqrt(var + eps) + beta``, computed in float64), so heatmaps differ from the
eval-mode network only by float32 rounding. It covers every Conv/ConvTranspose + BatchNorm pair of
:class:`~hrnet.models.PoseHighResolutionNet` and :class:`~hrnet.models.PoseResNet`, including the
deconv + BN pairs of the SimpleBaseline head.
"""

from __future__ import annotations

import copy
import logging
import re

import torch
from torch import nn

__all__ = ["fold_batchnorm", "fuse_conv_bn", "optimize_for_inference"]

log = logging.getLogger(__name__)

_BN_NAME = re.compile(r"bn(\d+)")


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None or bn.running_var is None:
        return False
    if isinstance(conv, nn.ConvTranspose2d):
        return conv.groups == 1 and conv.out_channels == bn.num_features
    return isinstance(conv, nn.Conv2d) and conv.out_channels == bn.num_features


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> nn.Conv2d | nn.ConvTranspose2d:
    """A new conv (or deconv) equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    fused = copy.deepcopy(conv)
    w64 = conv.weight.double()
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    bias = shift if conv.bias is None else conv.bias.double() * scale + shift
    # Conv2d weights are (out, in, kh, kw); ConvTranspose2d weights are (in, out, kh, kw).
    shape = (1, -1, 1, 1) if isinstance(conv, nn.ConvTranspose2d) else (-1, 1, 1, 1)
    dtype = conv.weight.dtype
    fused.weight = nn.Parameter((w64 * scale.reshape(shape)).to(dtype), requires_grad=False)
    fused.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
    return fused


def fold_batchnorm(model: nn.Module) -> int:
    """Fold, in place, every BatchNorm2d into the conv that feeds it; return how many were folded.

    Pairs are found structurally: consecutive ``(conv, bn)`` children of an ``nn.Sequential``, and
    ``convN`` / ``bnN`` children of any other module (the convention of the residual blocks and stems,
    whose ``forward`` always applies ``bnN`` right after ``convN``). The folded BN becomes ``nn.Identity``.
    """
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (BatchNorm running statistics)")
    count = 0
    for parent in list(model.modules()):
        children = dict(parent.named_children())
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs = list(zip(names, names[1:]))
        else:
            pairs = [(f"conv{m.group(1)}", name) for name in children if (m := _BN_NAME.fullmatch(name))]
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if conv is None or bn is None or not _foldable(conv, bn):
                continue
            setattr(parent, conv_name, fuse_conv_bn(conv, bn))
            setattr(parent, bn_name, nn.Identity())
            children[conv_name] = getattr(parent, conv_name)
            children[bn_name] = getattr(parent, bn_name)
            count += 1
    remaining = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    if remaining:
        log.warning("fold_batchnorm: %d BatchNorm2d layer(s) could not be folded", remaining)
    return count


def optimize_for_inference(model: nn.Module, *, channels_last: bool = True, inplace: bool = False) -> nn.Module:
    """An inference-only version of ``model`` (a copy unless ``inplace``): eval mode, BatchNorm folded into
    the preceding conv/deconv, parameters frozen and, with ``channels_last``, weights in channels_last
    memory format (feed ``x.to(memory_format=torch.channels_last)``; the output is channels_last too).
    Run it under ``torch.inference_mode()``. Its state_dict no longer has the official keys: keep the
    original model for saving and training."""
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    n = fold_batchnorm(model)
    for p in model.parameters():
        p.requires_grad_(False)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    log.debug("optimize_for_inference: folded %d BatchNorm layers", n)
    return model
