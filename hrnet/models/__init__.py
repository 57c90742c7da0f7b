"""Pose networks with the official state_dict layout, and the one place that maps a config to them.

>>> from hrnet.config import load_config
>>> cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3")
>>> model = build_model(cfg)                 # for inference: the weights come from load_checkpoint
>>> model = build_model(cfg, is_train=True)  # official random init + the MODEL.PRETRAINED backbone
>>> model = build_model(cfg, pretrained="hrnet_w32-36af842e.pth")  # ... with this backbone file

``MODELS`` is the registry ``MODEL.NAME -> builder``; ``VARIANTS`` names the standard networks
(``hrnet_w32``, ``resnet_50``...) with their constructor arguments, for code that wants a network
without a config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from yacs.config import CfgNode

from hrnet.errors import CheckpointError, ConfigError
from hrnet.models import pose_hrnet, pose_resnet
from hrnet.models.checkpoint import extract_state_dict, load_checkpoint, normalize_state_dict, read_checkpoint
from hrnet.models.pose_hrnet import PoseHighResolutionNet, StageSpec, hrnet_stages
from hrnet.models.pose_resnet import PoseResNet

__all__ = [
    "MODELS",
    "VARIANTS",
    "PoseHighResolutionNet",
    "PoseResNet",
    "build_model",
    "create_variant",
    "list_models",
    "load_checkpoint",
    "load_pretrained_backbone",
    "model_kwargs",
]

log = logging.getLogger(__name__)


def _hrnet_kwargs(cfg: CfgNode) -> dict[str, Any]:
    extra = cfg.MODEL.EXTRA
    stages = tuple(
        StageSpec(
            num_modules=int(extra[s].NUM_MODULES),
            num_branches=int(extra[s].NUM_BRANCHES),
            block=str(extra[s].BLOCK),
            num_blocks=tuple(int(b) for b in extra[s].NUM_BLOCKS),
            num_channels=tuple(int(c) for c in extra[s].NUM_CHANNELS),
            fuse_method=str(extra[s].FUSE_METHOD),
        )
        for s in ("STAGE2", "STAGE3", "STAGE4")
    )
    return {
        "stages": stages,
        "num_joints": int(cfg.MODEL.NUM_JOINTS),
        "final_conv_kernel": int(extra.FINAL_CONV_KERNEL),
        "stem_channels": int(extra.get("STEM_INPLANES", 64)),
    }


def _resnet_kwargs(cfg: CfgNode) -> dict[str, Any]:
    extra = cfg.MODEL.EXTRA
    if extra.NUM_DECONV_LAYERS != len(extra.NUM_DECONV_FILTERS) or extra.NUM_DECONV_LAYERS != len(
        extra.NUM_DECONV_KERNELS
    ):
        raise ConfigError(
            f"MODEL.EXTRA.NUM_DECONV_LAYERS is {extra.NUM_DECONV_LAYERS} but NUM_DECONV_FILTERS has "
            f"{len(extra.NUM_DECONV_FILTERS)} and NUM_DECONV_KERNELS {len(extra.NUM_DECONV_KERNELS)} entries"
        )
    return {
        "num_layers": int(extra.NUM_LAYERS),
        "num_joints": int(cfg.MODEL.NUM_JOINTS),
        "deconv_filters": tuple(int(f) for f in extra.NUM_DECONV_FILTERS),
        "deconv_kernels": tuple(int(k) for k in extra.NUM_DECONV_KERNELS),
        "deconv_with_bias": bool(extra.DECONV_WITH_BIAS),
        "final_conv_kernel": int(extra.FINAL_CONV_KERNEL),
    }


_KWARGS: dict[str, Callable[[CfgNode], dict[str, Any]]] = {"pose_hrnet": _hrnet_kwargs, "pose_resnet": _resnet_kwargs}
MODELS: dict[str, type[nn.Module]] = {"pose_hrnet": PoseHighResolutionNet, "pose_resnet": PoseResNet}

# Standard networks by name -> (MODEL.NAME, constructor kwargs other than num_joints).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"hrnet_w{w}": ("pose_hrnet", {"stages": hrnet_stages(w)}) for w in (18, 32, 48)},
    **{f"resnet_{d}": ("pose_resnet", {"num_layers": d}) for d in sorted(pose_resnet.RESNET_SPECS)},
}


def list_models() -> list[str]:
    """Names accepted as ``MODEL.NAME``."""
    return sorted(MODELS)


def model_kwargs(cfg: CfgNode) -> tuple[str, dict[str, Any]]:
    """``(MODEL.NAME, constructor kwargs)`` for a config: the one translation from config to arguments."""
    name = cfg.MODEL.NAME
    if name not in _KWARGS:
        raise ConfigError(f"Unknown MODEL.NAME {name!r}; known: {', '.join(list_models())}")
    try:
        return name, _KWARGS[name](cfg)
    except (KeyError, AttributeError, TypeError) as e:
        raise ConfigError(f"MODEL.EXTRA does not describe a {name} network: {e}") from e


def create_variant(variant: str, num_joints: int = 17, init: bool = True) -> nn.Module:
    """A standard network by name (``hrnet_w32``, ``resnet_50``, see ``VARIANTS``), official random init."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; known: {', '.join(sorted(VARIANTS))}")
    name, kwargs = VARIANTS[variant]
    model = MODELS[name](num_joints=num_joints, **kwargs)
    if init:
        _random_init(name, model)
    return model


def _random_init(name: str, model: nn.Module) -> None:
    if name == "pose_hrnet":
        pose_hrnet.init_weights(model)
    else:
        pose_resnet.init_weights(model)  # type: ignore[arg-type]


def load_pretrained_backbone(
    model: nn.Module, path: str | os.PathLike[str], pretrained_layers: Sequence[str] = ("*",)
) -> list[str]:
    """Load ImageNet weights (e.g. ``hrnet_w32-36af842e.pth``, ``resnet50-19c8e357.pth``) into the
    backbone, as the official ``init_weights`` does: keep the entries whose first name component is in
    ``pretrained_layers`` (``'*'`` = all; pose_resnet always uses all), then a non-strict load that
    ignores keys the pose network lacks (classifier, incre_modules, fc, ...).

    Returns the loaded keys. Raises :class:`CheckpointError` when the file cannot be read, a kept entry
    has the wrong shape, or not a single entry matches the model (the file is not a backbone of it).
    """
    obj = read_checkpoint(path)
    state_dict, _, _ = extract_state_dict(obj, source=str(path))
    state_dict, _ = normalize_state_dict(state_dict)
    if isinstance(model, PoseHighResolutionNet):
        state_dict = pose_hrnet.filter_pretrained(state_dict, pretrained_layers)
    own = model.state_dict()
    matched = [k for k in state_dict if k in own]
    bad = [f"{k} {list(state_dict[k].shape)} vs model {list(own[k].shape)}"
           for k in matched if state_dict[k].shape != own[k].shape]
    if bad:
        raise CheckpointError(
            f"Pretrained backbone {path} does not fit the model: {len(bad)} key(s) of a different shape, "
            f"e.g. {'; '.join(bad[:3])}"
        )
    if not matched:
        raise CheckpointError(
            f"Pretrained backbone {path} has no weights for this model (first keys: {', '.join(list(state_dict)[:3])})"
        )
    model.load_state_dict({k: state_dict[k] for k in matched}, strict=False)
    not_loaded = [k for k in own if k not in state_dict and not k.endswith("num_batches_tracked")]
    log.info("Loaded %d tensors of the pretrained backbone %s; %d model tensors keep their initialisation",
             len(matched), path, len(not_loaded))
    return matched


def build_model(
    cfg: CfgNode, *, is_train: bool = False, pretrained: str | os.PathLike[str] | None = None
) -> nn.Module:
    """The network that ``cfg.MODEL`` describes.

    By default it is built for inference: PyTorch's default init and no file read, because the
    weights come next from :func:`load_checkpoint` (so ``build_model(cfg)`` works for every shipped
    experiment, whose ``MODEL.PRETRAINED`` names an ImageNet file most users do not have).

    ``is_train=True`` initialises it for training as the official ``get_pose_net(cfg, is_train=True)``
    does when ``MODEL.INIT_WEIGHTS`` is set: official random init and, when ``MODEL.PRETRAINED`` is
    not empty, the ImageNet backbone from that file (:func:`load_pretrained_backbone`); a
    PRETRAINED file that does not exist is a :class:`CheckpointError` (the official code would go on
    with a random backbone). ``pretrained=`` does the same with that file instead of
    ``MODEL.PRETRAINED`` (``""``: official random init, no backbone), whatever ``is_train`` says.
    """
    name, kwargs = model_kwargs(cfg)
    model = MODELS[name](**kwargs)
    if pretrained is None:
        if not (is_train and cfg.MODEL.INIT_WEIGHTS):
            return model
        pretrained = str(cfg.MODEL.PRETRAINED or "")
        where = "MODEL.PRETRAINED file"
    else:
        pretrained = os.fspath(pretrained)
        where = "Pretrained backbone file"
    if pretrained and not Path(pretrained).is_file():
        raise CheckpointError(
            f"{where} not found: {pretrained} (download the ImageNet weights there, or build without them: "
            "MODEL.PRETRAINED '' for a random init, or is_train=False for inference)"
        )
    if name == "pose_resnet" and pretrained:
        pose_resnet.init_head_weights(model)  # type: ignore[arg-type]
    else:
        _random_init(name, model)
    if pretrained:
        layers: Sequence[str] = cfg.MODEL.EXTRA.get("PRETRAINED_LAYERS", ["*"]) if name == "pose_hrnet" else ["*"]
        load_pretrained_backbone(model, pretrained, layers)
    return model
