"""Model optimisation for inference, in one place: BatchNorm folding, channels_last, fp16 weights for
GPUs and, on the CPU, convolutions fused with the ReLU / residual add after them.

:func:`optimize_for_inference` gives an inference-only copy of a pose network: eval mode, BatchNorm
folded into the convolutions that precede it, weights in channels_last memory format, no autograd.

>>> fast = optimize_for_inference(model)
>>> with torch.inference_mode():
...     heatmaps = fast(images.to(memory_format=torch.channels_last))

Folding is exact algebra (``bn(conv(x)) == conv'(x)`` with ``w' = w * g / sqrt(var + eps)`` and
``b' = (b - mean) * g / sqrt(var + eps) + beta``, computed in float64), so heatmaps differ from the
eval-mode network only by float32 rounding. It covers every Conv/ConvTranspose + BatchNorm pair of
:class:`~hrnet.models.PoseHighResolutionNet` and :class:`~hrnet.models.PoseResNet`, including the
deconv + BN pairs of the SimpleBaseline head.

:func:`to_half` casts a folded model to fp16 once (GPU inference: no per-call weight casts as under
autocast) and refuses when a folded weight does not fit fp16. :func:`fuse_conv_pointwise` /
:func:`try_fuse_cpu` replace each conv [+ add] [+ ReLU] chain by one oneDNN primitive on the CPU.
"""

from __future__ import annotations

import copy
import logging
import re

import torch
from torch import nn

__all__ = [
    "FusedConv2d",
    "fold_batchnorm",
    "fuse_conv_bn",
    "fuse_conv_pointwise",
    "optimize_for_inference",
    "to_half",
    "try_fuse_cpu",
]

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


@torch.no_grad()
def to_half(model: nn.Module) -> bool:
    """Cast ``model``'s parameters and buffers to fp16 in place, unless one of them would overflow
    (a folded BatchNorm with a tiny running variance can scale a weight past fp16's 65504); then the
    model is left unchanged. Returns whether it was cast. Feed it fp16 inputs."""
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if t.is_floating_point() and t.numel() and float(t.detach().abs().max()) > 6.0e4:
            log.warning("to_half: %s reaches %.3g, beyond fp16; keeping fp32 weights", name, float(t.abs().max()))
            return False
    model.half()
    return True


# ----------------------------------------------------------------------------------------------
# CPU: convolutions fused with the ReLU / residual add that follow them (oneDNN post-ops)
# ----------------------------------------------------------------------------------------------
class FusedConv2d(nn.Module):
    """``relu?(conv(x) [+ other])`` in one oneDNN primitive (``torch.ops.mkldnn._convolution_pointwise``,
    the kernels torch.compile's CPU backend uses). Same float32 math as the separate ops, without
    the extra passes over memory."""

    def __init__(self, conv: nn.Conv2d, unary: str | None, binary: str | None) -> None:
        super().__init__()
        self.padding = [int(p) for p in conv.padding]
        self.stride = [int(v) for v in conv.stride]
        self.dilation = [int(v) for v in conv.dilation]
        self.groups = int(conv.groups)
        self.unary = unary
        self.binary = binary
        self.weight = nn.Parameter(conv.weight.detach(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        if self.binary is None:
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
                self.unary or "none", [], "",
            )
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, self.weight, self.bias, self.padding, self.stride, self.dilation, self.groups,
            self.binary, None, self.unary, [], "",
        )


def fuse_conv_pointwise(model: nn.Module) -> tuple[nn.Module, int]:
    """Trace ``model`` (BatchNorm already folded) with torch.fx and replace every ``Conv2d``
    [-> Identity] [-> add(other)] [-> ReLU] chain by one :class:`FusedConv2d`.
    Returns the new GraphModule and the number of convolutions replaced."""
    import operator

    import torch.fx as fx
    import torch.nn.functional as F

    gm = fx.symbolic_trace(model)
    graph = gm.graph

    def is_module(node: fx.Node, kind: type) -> bool:
        return node.op == "call_module" and isinstance(gm.get_submodule(str(node.target)), kind)

    def is_relu(node: fx.Node) -> bool:
        return (
            is_module(node, nn.ReLU)
            or (node.op == "call_function" and node.target in (F.relu, torch.relu, torch.relu_))
            or (node.op == "call_method" and node.target in ("relu", "relu_"))
        )

    def is_add(node: fx.Node) -> bool:
        plain = len(node.args) == 2 and not node.kwargs
        return plain and (
            (node.op == "call_function" and node.target in (operator.add, torch.add))
            or (node.op == "call_method" and node.target == "add")
        )

    count = 0
    for node in list(graph.nodes):
        if not is_module(node, nn.Conv2d):
            continue
        conv = gm.get_submodule(str(node.target))
        if type(conv) is not nn.Conv2d or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            continue
        tail = node
        while len(tail.users) == 1 and is_module(next(iter(tail.users)), nn.Identity):
            tail = next(iter(tail.users))
        unary = binary = None
        other = None
        last = tail
        if len(tail.users) == 1:
            user = next(iter(tail.users))
            if is_relu(user):
                unary, last = "relu", user
            elif is_add(user):
                a, b = user.args
                candidate = b if a is tail else a
                if isinstance(candidate, fx.Node) and candidate is not tail:
                    binary, other, last = "add", candidate, user
                    if len(user.users) == 1 and is_relu(next(iter(user.users))):
                        unary, last = "relu", next(iter(user.users))
        name = f"fused_{count}"
        gm.add_submodule(name, FusedConv2d(conv, unary, binary))
        with graph.inserting_after(last):
            args = (node.args[0],) if binary is None else (node.args[0], other)
            new = graph.call_module(name, args)
        last.replace_all_uses_with(new)
        count += 1
    graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm, count


def try_fuse_cpu(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """:func:`fuse_conv_pointwise` when oneDNN is there and the fused model reproduces the
    heatmaps of ``model`` on ``example``; otherwise ``model`` unchanged."""
    if not torch.backends.mkldnn.is_available():
        return model
    try:
        fused, n = fuse_conv_pointwise(model)
        with torch.inference_mode():
            ref = model(example)
            got = fused(example)
        ref = ref[-1] if isinstance(ref, (list, tuple)) else ref
        got = got[-1] if isinstance(got, (list, tuple)) else got
        scale = float(ref.abs().max()) or 1.0
        err = float((got - ref).abs().max()) / scale
        if not err <= 1e-4:
            log.warning("Fused CPU convolutions differ from the model (relative error %.2g); not using them", err)
            return model
        log.debug("Fused %d convolutions with their ReLU/add (relative error %.1g)", n, err)
        return fused
    except Exception as e:  # noqa: BLE001 - an optimisation only: fall back to the plain model
        log.info("Convolution fusion unavailable (%s: %s); using the plain optimised model", type(e).__name__, e)
        return model
