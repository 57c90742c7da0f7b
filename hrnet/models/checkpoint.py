"""Reading pose checkpoints safely and loading them strictly.

:func:`load_checkpoint` accepts every format a user is likely to have:

- a bare ``state_dict`` (the official released ``pose_hrnet_w32_256x192.pth``, ``final_state.pth``);
- a training checkpoint: a dict holding the weights under ``state_dict`` (the official
  ``checkpoint.pth`` and this project's ``hrnet-train`` checkpoints), ``model`` (when that is a
  mapping of tensors) or ``best_state_dict``; other entries (epoch, optimizer, perf, config...) are
  returned as metadata;
- ``module.``-prefixed DataParallel / DistributedDataParallel weights;
- MMPose 0.x (``backbone.*`` + ``keypoint_head.*``) and 1.x (``backbone.*`` + ``head.*``) top-down
  heatmap checkpoints of the same networks.

Files are read with ``torch.load(weights_only=True)``, or, for MMPose 1.x / mmengine files that hold
other objects next to the weights, with a restricted unpickler that never runs anything
(:mod:`hrnet.models.safe_pickle`): a pickle that would run code is refused.
Anything that does not match the model exactly (missing, unexpected or mis-shaped keys) is refused
with a :class:`~hrnet.errors.CheckpointError` that summarises the difference; nothing is loaded
partially.

The keypoint set a checkpoint predicts and loading a model of another set live in
:mod:`hrnet.models.checkpoint_sets`; their names are importable from here too.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hrnet.errors import CheckpointError

__all__ = [
    "CheckpointInfo",
    "check_state_dict",
    "extract_state_dict",
    "infer_architecture",
    "load_checkpoint",
    "normalize_state_dict",
    "read_checkpoint",
]

log = logging.getLogger(__name__)

_WEIGHT_KEYS = ("state_dict", "model", "model_state_dict", "best_state_dict", "module")
_NBT = "num_batches_tracked"


@dataclass
class CheckpointInfo:
    """What :func:`load_checkpoint` found: the path, the detected format and the non-weight entries of
    a training checkpoint (``epoch``, ``perf``, ``best_metric``, ``config``...; optimizer states are left out)."""

    path: str
    format: str
    epoch: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    num_tensors: int = 0


def read_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """Read a checkpoint without ever running code from it; every failure is a :class:`CheckpointError`
    that names the file.

    ``torch.load(weights_only=True)`` first. Files it refuses only because they hold other Python
    objects next to the weights (MMPose 1.x / mmengine checkpoints: numpy arrays in ``meta``,
    ``HistoryBuffer`` objects in ``message_hub``, a ``Counter`` in ``param_schedulers``) are read
    again through :mod:`hrnet.models.safe_pickle`, which rebuilds tensors and numpy arrays and
    replaces every other object by an inert placeholder. A file naming a code-running global
    (``os.system``, ``builtins.exec``...) is refused, and nothing from it runs either way.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"Checkpoint file not found: {p}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _unpickling_detail(str(e))
        if not _refused_for_globals(detail):
            raise CheckpointError(f"Cannot read checkpoint {p}: not a valid PyTorch file ({detail})") from e
        return _read_restricted(p, map_location, detail, e)
    except Exception as e:  # torch raises many types for bad files
        detail = str(e).split(". ")[0] if str(e) else "file is empty or truncated"
        raise CheckpointError(
            f"Cannot read checkpoint {p}: not a valid PyTorch file ({type(e).__name__}: {detail})"
        ) from e


def _refused_for_globals(detail: str) -> bool:
    """Whether torch's weights-only refusal is about a global (class or function) in the file. The
    wording differs: "Unsupported global: GLOBAL x.y ..." (torch >= 2.4), "Unsupported class x.y"
    (torch 2.2/2.3)."""
    return any(w in detail for w in ("GLOBAL", "global", "Unsupported class", "unsupported class"))


def _read_restricted(p: Path, map_location: Any, detail: str, cause: Exception) -> Any:
    from hrnet.models.safe_pickle import UnsafeCheckpointError, load_restricted

    try:
        obj, placeholders = load_restricted(p, map_location=map_location)
    except UnsafeCheckpointError as e:
        raise CheckpointError(
            f"Refused to load {p}: it holds an object that would call {', '.join(e.names)} when unpickled, "
            "which could run code (nothing from the file was run)"
        ) from e
    except Exception as e:  # report torch's own reason for the refusal
        raise CheckpointError(
            f"Refused to load {p}: it holds Python objects other than tensors and plain containers, which "
            f"could run code when unpickled (torch.load weights_only=True): {detail}"
        ) from e
    if placeholders:
        log.info("%s: read with inert placeholders for %s", p.name, ", ".join(placeholders[:6]))
    return obj


def _unpickling_detail(text: str) -> str:
    """The informative line of torch's weights_only error (it starts with a long generic preamble)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "GLOBAL" in ln or "Unsupported" in ln or "unsupported" in ln:
            return ln
    return lines[-1] if lines else "unpickling failed"


def _is_tensor_mapping(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    )


def extract_state_dict(obj: Any, source: str = "checkpoint") -> tuple[dict[str, Tensor], str, dict[str, Any]]:
    """Split a loaded checkpoint into (state_dict, container format, metadata)."""
    if _is_tensor_mapping(obj):
        return dict(obj), "state_dict", {}
    if isinstance(obj, Mapping):
        for key in _WEIGHT_KEYS:
            value = obj.get(key)
            if _is_tensor_mapping(value):
                meta = {
                    k: v for k, v in obj.items()
                    if k not in _WEIGHT_KEYS and k not in ("optimizer", "optimizer_state_dict", "scheduler",
                                                            "lr_scheduler", "scaler", "ema", "message_hub",
                                                            "param_schedulers")
                    and not isinstance(v, Tensor)
                }
                return dict(value), f"training checkpoint ({key!r})", meta
        # a state_dict with private non-tensor entries (e.g. "_metadata")
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, Tensor)}
        if tensors and all(isinstance(k, str) and k.startswith("_") for k in obj if k not in tensors):
            return tensors, "state_dict", {}
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise CheckpointError(
            f"{source}: no model weights found; expected a state_dict or a dict with one of "
            f"{', '.join(_WEIGHT_KEYS)}; found keys {keys}"
        )
    raise CheckpointError(f"{source}: expected a dict of weights, found a {type(obj).__name__}")


_MMPOSE_HEAD = re.compile(r"^(keypoint_head|head)\.")


def normalize_state_dict(state_dict: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Map DataParallel/DDP and MMPose key layouts to the official one. Returns the new dict and the
    list of conversions applied (e.g. ``["module. prefix", "MMPose 1.x"]``)."""
    sd = dict(state_dict)
    applied: list[str] = []
    for prefix in ("module.", "_orig_mod.", "module."):  # DDP, torch.compile, DDP(compile(...))
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
            applied.append(f"{prefix!r} prefix")
    if any(k.startswith("backbone.") for k in sd):
        heads = {m.group(1) for k in sd if (m := _MMPOSE_HEAD.match(k))}
        applied.append("MMPose 1.x" if heads == {"head"} else "MMPose 0.x" if heads else "MMPose backbone")
        out: dict[str, Tensor] = {}
        for k, v in sd.items():
            if k.startswith("backbone."):
                out[k[len("backbone."):]] = v
            elif _MMPOSE_HEAD.match(k):
                out[_MMPOSE_HEAD.sub("", k)] = v
            elif k.startswith("data_preprocessor."):
                continue
            else:
                out[k] = v
        sd = out
    return sd, applied


def _examples(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", ... (+{len(keys) - n} more)" if len(keys) > n else "")


def _describe(arch: Mapping[str, Any]) -> str:
    if not arch:
        return "unknown architecture"
    name = arch.get("model_name", "?")
    if name == "pose_hrnet":
        return f"pose_hrnet W{arch.get('width', '?')}"
    if name == "pose_resnet":
        return f"pose_resnet ResNet-{arch.get('num_layers', '?')}"
    return str(name)


def check_state_dict(
    model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "checkpoint"
) -> dict[str, Tensor]:
    """Return ``state_dict`` completed for a strict load into ``model``, or raise a :class:`CheckpointError`
    summarising every mismatch. Only missing BatchNorm ``num_batches_tracked`` counters (absent from
    checkpoints of old PyTorch versions) are filled in."""
    expected = model.state_dict()
    sd = dict(state_dict)
    missing = [k for k in expected if k not in sd]
    for k in [k for k in missing if k.endswith(_NBT)]:
        sd[k] = expected[k].clone()
    missing = [k for k in missing if not k.endswith(_NBT)]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [k for k in sd if k in expected and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or mismatched):
        return sd
    lines = [f"{source} does not match the model"]
    try:
        ck_arch, model_arch = infer_architecture(sd), infer_architecture(expected)
    except Exception:  # noqa: BLE001 - the summary below is what matters
        ck_arch, model_arch = {}, {}
    if ck_arch.get("num_joints") and model_arch.get("num_joints") and ck_arch["num_joints"] != model_arch["num_joints"]:
        lines[0] += f": checkpoint has {ck_arch['num_joints']} joints, model has {model_arch['num_joints']}"
    ck_desc, model_desc = _describe(ck_arch), _describe(model_arch)
    if ck_arch and ck_desc != model_desc:
        lines.append(f"checkpoint looks like {ck_desc}, model is {model_desc}")
    if missing:
        lines.append(f"{len(missing)} missing key(s): {_examples(missing)}")
    if unexpected:
        lines.append(f"{len(unexpected)} unexpected key(s): {_examples(unexpected)}")
    if mismatched:
        shapes = [f"{k} {list(sd[k].shape)} vs model {list(expected[k].shape)}" for k in mismatched]
        lines.append(f"{len(mismatched)} key(s) of a different shape: {_examples(shapes)}")
    lines.append("nothing was loaded")
    raise CheckpointError("; ".join(lines))


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> CheckpointInfo:
    """Load the pose weights in ``path`` into ``model`` strictly (all keys, all shapes) or not at all.

    Returns a :class:`CheckpointInfo` with the detected format and the checkpoint's epoch/metadata.
    Raises :class:`CheckpointError` for a missing, unreadable or unsafe file, or weights that do not
    match the model (the message summarises missing / unexpected / mis-shaped keys and joint counts).
    """
    obj = read_checkpoint(path)
    state_dict, fmt, meta = extract_state_dict(obj, source=str(path))
    state_dict, applied = normalize_state_dict(state_dict)
    state_dict = check_state_dict(model, state_dict, source=f"Checkpoint {path}")
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:  # pragma: no cover - check_state_dict has caught every mismatch already
        raise CheckpointError(f"Checkpoint {path} does not match the model: {e}") from e
    if applied:
        fmt += " [" + ", ".join(applied) + "]"
    epoch = meta.get("epoch")
    if not isinstance(epoch, int):
        epoch = meta.get("meta", {}).get("epoch") if isinstance(meta.get("meta"), Mapping) else None
    log.info("Loaded %s (%s, %d tensors)", path, fmt, len(state_dict))
    return CheckpointInfo(
        path=str(path), format=fmt, epoch=epoch if isinstance(epoch, int) else None,
        metadata=meta, num_tensors=len(state_dict),
    )


def _count_blocks(sd: Mapping[str, Tensor], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m.group(1)) for k in sd if (m := pat.match(k))}
    return max(idx) + 1 if idx else 0


def infer_architecture(state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
    """Guess the architecture of a pose state_dict (official, ``module.`` or MMPose keys).

    Returns e.g. ``{"model_name": "pose_hrnet", "width": 32, "num_joints": 17, "final_conv_kernel": 1,
    "num_modules": [1, 1, 4, 3], "num_blocks": 4, "block": "BASIC"}`` or ``{"model_name": "pose_resnet",
    "num_layers": 50, "num_joints": 17, "deconv_filters": [256, 256, 256], "deconv_kernels": [4, 4, 4],
    "deconv_with_bias": False, "final_conv_kernel": 1}``; ``{}`` when it recognises neither.
    """
    sd, _ = normalize_state_dict(state_dict)
    arch: dict[str, Any] = {}
    final = sd.get("final_layer.weight")
    if final is not None and final.ndim == 4:
        arch["num_joints"] = int(final.shape[0])
        arch["final_conv_kernel"] = int(final.shape[-1])
    if "stage2.0.branches.0.0.conv1.weight" in sd:
        arch["model_name"] = "pose_hrnet"
        arch["width"] = int(sd["stage2.0.branches.0.0.conv1.weight"].shape[0])
        arch["num_modules"] = [1] + [_count_blocks(sd, f"stage{s}.") for s in (2, 3, 4)]
        arch["num_branches"] = [1] + [_count_blocks(sd, f"stage{s}.0.branches.") for s in (2, 3, 4)]
        arch["num_blocks"] = _count_blocks(sd, "stage2.0.branches.0.")
        arch["block"] = "BOTTLENECK" if "stage2.0.branches.0.0.conv3.weight" in sd else "BASIC"
        arch["stem_channels"] = int(sd["conv1.weight"].shape[0]) if "conv1.weight" in sd else None
        return arch
    if "layer4.0.conv1.weight" in sd:
        from hrnet.models.pose_resnet import RESNET_SPECS

        counts = tuple(_count_blocks(sd, f"layer{i}.") for i in (1, 2, 3, 4))
        bottleneck = "layer1.0.conv3.weight" in sd
        depth = next((d for d, (blk, c) in RESNET_SPECS.items()
                      if c == counts and (blk.expansion == 4) == bottleneck), None)
        arch["model_name"] = "pose_resnet"
        arch["num_layers"] = depth
        arch["layer_blocks"] = list(counts)
        deconvs = sorted(
            int(m.group(1)) for k in sd if (m := re.match(r"deconv_layers\.(\d+)\.weight$", k)) and sd[k].ndim == 4
        )
        arch["deconv_filters"] = [int(sd[f"deconv_layers.{i}.weight"].shape[1]) for i in deconvs]
        arch["deconv_kernels"] = [int(sd[f"deconv_layers.{i}.weight"].shape[-1]) for i in deconvs]
        arch["deconv_with_bias"] = any(f"deconv_layers.{i}.bias" in sd for i in deconvs)
        return arch
    return arch if "num_joints" in arch else {}


_MOVED = frozenset({
    "PartialLoad",
    "checkpoint_keypoint_set",
    "load_for_keypoint_set",
    "predicted_keypoint_set",
    "read_keypoint_set",
    "starts_new_head",
    "keypoint_set_from_mmpose",
})


def __getattr__(name: str) -> Any:
    """The keypoint-set functions, importable from here as before (loaded on first use: that
    module imports this one)."""
    if name in _MOVED:
        from hrnet.models import checkpoint_sets

        return getattr(checkpoint_sets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
