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

Checkpoints that ``hrnet-train`` writes carry their keypoint set (``"keypoint_set"``, a plain dict of
:meth:`hrnet.keypoints.KeypointSet.to_dict`): :func:`checkpoint_keypoint_set` reads it back.
:func:`load_for_keypoint_set` starts a model for one keypoint set from a model of another: every
tensor that fits is loaded, the final layer is re-initialised for the new joints, and the output
channels of joints that the base model knows by name are copied.
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
from hrnet.keypoints import COCO_17, MPII_16, KeypointSet, KeypointSetError

__all__ = [
    "CheckpointInfo",
    "PartialLoad",
    "checkpoint_keypoint_set",
    "load_for_keypoint_set",
    "predicted_keypoint_set",
    "read_keypoint_set",
    "starts_new_head",
    "check_state_dict",
    "extract_state_dict",
    "infer_architecture",
    "keypoint_set_from_mmpose",
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


# ---------------------------------------------------------------------------------------------
# Keypoint sets of checkpoints, and starting a model for one set from a model of another
# ---------------------------------------------------------------------------------------------
_FINAL = "final_layer."


def checkpoint_keypoint_set(metadata: Mapping[str, Any] | None) -> KeypointSet | None:
    """The keypoint set stored in a checkpoint's metadata (:attr:`CheckpointInfo.metadata`, or
    the loaded dict), or None when it stores none or a malformed one (logged)."""
    if not isinstance(metadata, Mapping):
        return None
    entry = metadata.get("keypoint_set")
    if entry is None:
        mm = metadata.get("meta")
        dataset_meta = mm.get("dataset_meta") if isinstance(mm, Mapping) else None
        return keypoint_set_from_mmpose(dataset_meta) if isinstance(dataset_meta, Mapping) else None
    try:
        return KeypointSet.from_dict(entry)
    except KeypointSetError as e:
        log.warning("Ignoring the checkpoint's keypoint set: %s", e)
        return None


def _int_pairs(values: Any) -> list[tuple[int, int]] | None:
    try:
        return [(int(a), int(b)) for a, b in values]
    except (TypeError, ValueError):
        return None


def keypoint_set_from_mmpose(dataset_meta: Mapping[str, Any]) -> KeypointSet | None:
    """The keypoint set of an MMPose 1.x checkpoint's ``meta["dataset_meta"]`` (what mmengine's
    runner stores: ``keypoint_id2name`` / ``keypoint_name2id``, ``skeleton_links``, ``flip_pairs`` /
    ``flip_indices``, ``sigmas``, ``upper_body_ids``, ``dataset_keypoint_weights``, ``dataset_name``;
    numpy arrays as the restricted unpickler rebuilds them). Names are required; a malformed optional
    field is left out with a warning (flip pairs then follow the left/right rule, sigmas the defaults).
    A set equal to a template (COCO-17, MPII-16...) in names, edges, pairs and sigmas is that template.
    None when the names cannot be read."""
    from hrnet.keypoints import TEMPLATES

    names: list[str] | None = None
    id2name, name2id = dataset_meta.get("keypoint_id2name"), dataset_meta.get("keypoint_name2id")
    try:
        if isinstance(id2name, Mapping) and id2name:
            by_id = {int(k): str(v) for k, v in id2name.items()}
        elif isinstance(name2id, Mapping) and name2id:
            by_id = {int(v): str(k) for k, v in name2id.items()}
        else:
            by_id = {}
    except (TypeError, ValueError):
        by_id = {}
    if by_id and sorted(by_id) == list(range(len(by_id))):
        names = [by_id[i] for i in range(len(by_id))]
    if not names:
        log.info("The checkpoint's MMPose dataset_meta names no keypoints: its keypoint set is not known")
        return None
    k = len(names)
    what = str(dataset_meta.get("dataset_name") or "MMPose dataset_meta")

    def valid(pairs: list[tuple[int, int]] | None) -> bool:
        return pairs is not None and all(0 <= a < k and 0 <= b < k and a != b for a, b in pairs)

    skeleton = _int_pairs(dataset_meta.get("skeleton_links") or ())
    if not valid(skeleton):
        log.warning("%s: ignoring malformed skeleton_links", what)
        skeleton = []
    flip = _int_pairs(dataset_meta["flip_pairs"]) if dataset_meta.get("flip_pairs") is not None else None
    if flip is None and dataset_meta.get("flip_indices") is not None:
        try:
            idx = [int(i) for i in dataset_meta["flip_indices"]]
            involution = len(idx) == k and all(0 <= j < k and idx[j] == i for i, j in enumerate(idx))
            flip = [(i, j) for i, j in enumerate(idx) if i < j] if involution else None
        except (TypeError, ValueError):
            flip = None
    if flip is not None and not valid(flip):
        flip = None
    if flip is None and (dataset_meta.get("flip_pairs") is not None or dataset_meta.get("flip_indices") is not None):
        log.warning("%s: ignoring malformed flip pairs (the left/right rule pairs the joints)", what)
    sigmas = _floats(dataset_meta.get("sigmas"), k)
    if dataset_meta.get("sigmas") is not None and (sigmas is None or not all(s > 0 for s in sigmas)):
        log.warning("%s: ignoring malformed sigmas", what)
        sigmas = None
    try:
        kset = KeypointSet.from_names(names, skeleton, flip_pairs=flip, sigmas=sigmas, name=what)
    except KeypointSetError as e:
        log.warning("%s: %s; using the names with the left/right rule", what, e)
        try:
            kset = KeypointSet.from_names(names, name=what)
        except KeypointSetError as e2:
            log.warning("Ignoring the checkpoint's MMPose keypoint set: %s", e2)
            return None
    upper = dataset_meta.get("upper_body_ids")
    weights = _floats(dataset_meta.get("dataset_keypoint_weights"), k)
    try:
        extra: dict[str, Any] = {}
        if upper is not None:
            ids = tuple(int(i) for i in upper)
            if all(0 <= i < k for i in ids):
                extra["upper_body_ids"] = ids
        if weights is not None:
            extra["joints_weight"] = weights
        if extra:
            kset = KeypointSet(**{**kset.__dict__, **extra})
    except (TypeError, ValueError):
        pass
    edges = {frozenset(e) for e in kset.skeleton}
    for t in TEMPLATES.values():
        if (t.names == kset.names and {frozenset(e) for e in t.skeleton} == edges
                and set(t.flip_pairs) == set(kset.flip_pairs)
                and all(abs(a - b) < 1e-6 for a, b in zip(t.oks_sigmas(), kset.oks_sigmas()))):
            return t
    return kset


def _floats(values: Any, k: int) -> tuple[float, ...] | None:
    """``k`` floats (rounded to 6 decimals: float32 arrays give 0.025 back as 0.025) or None."""
    if values is None:
        return None
    try:
        out = tuple(round(float(v), 6) for v in (values.reshape(-1) if hasattr(values, "reshape") else values))
    except (TypeError, ValueError):
        return None
    return out if len(out) == k else None


def read_keypoint_set(path: str | os.PathLike[str]) -> KeypointSet | None:
    """The keypoint set a checkpoint file stores (None for a bare state_dict or an older file).
    Memory-maps the file where torch can, so asking is cheap. Raises :class:`CheckpointError`
    for a missing, unreadable or unsafe file."""
    p = Path(path).expanduser()
    obj: Any = None
    if p.is_file():
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - not a zip file (legacy format): read it the usual way
            obj = None
    if obj is None:
        obj = read_checkpoint(p)
    return checkpoint_keypoint_set(obj) if isinstance(obj, Mapping) else None


def predicted_keypoint_set(path: str | os.PathLike[str]) -> KeypointSet | None:
    """The joints the checkpoint at ``path`` predicts, as :func:`load_for_keypoint_set` (and so
    ``hrnet-train --weights``) takes them: its stored set, else COCO-17 for a 17-joint and MPII-16
    for a 16-joint output layer; None when neither is known. Raises :class:`CheckpointError` for a
    missing, unreadable or unsafe file."""
    p = Path(path).expanduser()
    obj: Any = None
    if p.is_file():
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - not a zip file, or mmengine objects: read it the usual way
            obj = None
    if obj is None:
        obj = read_checkpoint(p)
    stored = checkpoint_keypoint_set(obj) if isinstance(obj, Mapping) else None
    try:
        state_dict, _, meta = extract_state_dict(obj, source=str(p))
    except CheckpointError:
        return stored
    stored = stored or checkpoint_keypoint_set(meta)
    final = normalize_state_dict(state_dict)[0].get(_FINAL + "weight")
    num_joints = int(final.shape[0]) if final is not None and final.ndim == 4 else None
    if stored is not None and (num_joints is None or len(stored) == num_joints):
        return stored
    return _guess_source_set(num_joints)


def starts_new_head(path: str | os.PathLike[str], keypoint_set: KeypointSet | None, num_joints: int) -> bool:
    """Whether :func:`load_for_keypoint_set` starts the output layer of a ``num_joints``-joint
    model for ``keypoint_set`` afresh from the checkpoint at ``path``: its output channels differ,
    or the joints it predicts (:func:`predicted_keypoint_set`) are another set. False when the file
    cannot be read (loading it reports why)."""
    try:
        source = predicted_keypoint_set(path)
        if source is None:
            obj = read_checkpoint(path)
            state_dict, _, _ = extract_state_dict(obj, source=str(path))
            final = normalize_state_dict(state_dict)[0].get(_FINAL + "weight")
            return final is not None and final.ndim == 4 and int(final.shape[0]) != int(num_joints)
    except CheckpointError:
        return False
    if len(source) != int(num_joints):
        return True
    return keypoint_set is not None and not source.matches(keypoint_set)


@dataclass
class PartialLoad:
    """What :func:`load_for_keypoint_set` did."""

    info: CheckpointInfo
    source_keypoints: KeypointSet | None  # the base model's set (None: not known)
    loaded: list[str] = field(default_factory=list)  # keys loaded as they are
    skipped: list[str] = field(default_factory=list)  # model keys left as initialised
    copied_joints: list[str] = field(default_factory=list)  # new joints whose channel came from the base
    new_joints: list[str] = field(default_factory=list)  # new joints that start from scratch

    @property
    def exact(self) -> bool:
        """The checkpoint fitted the model and its set as it is (a strict load)."""
        return not self.skipped and not self.new_joints

    def summary(self) -> str:
        if self.exact:
            return f"loaded all {len(self.loaded)} tensors"
        text = (f"loaded {len(self.loaded)} tensors; output layer re-initialised for "
                f"{len(self.copied_joints) + len(self.new_joints)} joints, {len(self.copied_joints)} of them copied "
                "from the base model by name")
        if self.new_joints:
            text += " (new: " + ", ".join(self.new_joints[:8]) + (" ..." if len(self.new_joints) > 8 else "") + ")"
        return text


def _guess_source_set(num_joints: int | None) -> KeypointSet | None:
    return {17: COCO_17, 16: MPII_16}.get(num_joints or -1)


def load_for_keypoint_set(
    model: nn.Module,
    path: str | os.PathLike[str],
    keypoint_set: KeypointSet | None,
    source_keypoints: KeypointSet | None = None,
    *,
    min_fraction: float = 0.5,
    seed: int = 0,
) -> PartialLoad:
    """Initialise ``model`` (built for ``keypoint_set``) from the checkpoint at ``path``, whatever
    set that checkpoint was trained for.

    - When the checkpoint fits the model exactly and predicts the same joints (or its joints are
      not known), it is loaded strictly, as :func:`load_checkpoint`.
    - Otherwise every tensor whose key and shape fit is loaded; the final layer is re-initialised
      as the official code initialises it (normal, std 0.001; bias 0) and the output channel of
      every joint whose name (ignoring case) the base model predicts is copied from it, so that a
      COCO subset starts already trained.

    The base model's joints are the checkpoint's stored set, else ``source_keypoints``, else
    COCO-17 for a 17-joint and MPII-16 for a 16-joint checkpoint. Raises :class:`CheckpointError`
    when the file cannot be read or when less than ``min_fraction`` of the model's tensors (the
    final layer aside) fit: that checkpoint is another architecture, not another keypoint set.
    """
    obj = read_checkpoint(path)
    state_dict, fmt, meta = extract_state_dict(obj, source=str(path))
    state_dict, applied = normalize_state_dict(state_dict)
    expected = model.state_dict()
    stored = checkpoint_keypoint_set(meta)
    final_w = state_dict.get(_FINAL + "weight")
    src_k = int(final_w.shape[0]) if final_w is not None and final_w.ndim == 4 else None
    source = stored or source_keypoints or _guess_source_set(src_k)
    if source is not None and src_k is not None and len(source) != src_k:
        log.warning("Checkpoint %s predicts %d joints, not the %d of %s: joint names are not used",
                    path, src_k, len(source), source.name or "the given set")
        source = None
    target_k = int(expected[_FINAL + "weight"].shape[0]) if _FINAL + "weight" in expected else None
    if keypoint_set is not None and target_k is not None and len(keypoint_set) != target_k:
        raise CheckpointError(f"The model predicts {target_k} joints but the keypoint set has {len(keypoint_set)}")
    same_set = keypoint_set is None or source is None or source.matches(keypoint_set)
    fits = all(k in state_dict and tuple(state_dict[k].shape) == tuple(v.shape)
               for k, v in expected.items() if not k.endswith(_NBT))
    if fits and same_set:
        info = load_checkpoint(model, path)
        return PartialLoad(info=info, source_keypoints=source, loaded=list(expected))

    body = [k for k in expected if not k.startswith(_FINAL) and not k.endswith(_NBT)]
    fitting = {k: v for k, v in state_dict.items()
               if k in expected and not k.startswith(_FINAL) and tuple(v.shape) == tuple(expected[k].shape)}
    n_fit = sum(1 for k in body if k in fitting)
    if body and n_fit < min_fraction * len(body):
        arch = _describe(infer_architecture(state_dict))
        raise CheckpointError(
            f"Checkpoint {path} does not fit this model: only {n_fit} of its {len(body)} tensors (output layer "
            f"aside) have a matching name and shape; it looks like {arch}, the model is "
            f"{_describe(infer_architecture(expected))}. Choose a base model of the same architecture"
        )
    new_sd = dict(expected)
    new_sd.update(fitting)
    copied: list[str] = []
    fresh: list[str] = []
    names = list(keypoint_set.names) if keypoint_set is not None else [f"joint_{i}" for i in range(target_k or 0)]
    if _FINAL + "weight" in expected:
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(expected[_FINAL + "weight"].shape, generator=gen) * 0.001
        b = torch.zeros_like(expected[_FINAL + "bias"]) if _FINAL + "bias" in expected else None
        src_w, src_b = state_dict.get(_FINAL + "weight"), state_dict.get(_FINAL + "bias")
        mapping = keypoint_set.channel_map(source) if keypoint_set is not None and source is not None else {}
        if src_w is not None and tuple(src_w.shape[1:]) != tuple(w.shape[1:]):
            mapping = {}
        for j, name in enumerate(names):
            if j in mapping:
                w[j] = src_w[mapping[j]].to(w.dtype)
                if b is not None and src_b is not None:
                    b[j] = src_b[mapping[j]].to(b.dtype)
                copied.append(name)
            else:
                fresh.append(name)
        new_sd[_FINAL + "weight"] = w
        if b is not None:
            new_sd[_FINAL + "bias"] = b
    model.load_state_dict(new_sd, strict=True)
    loaded = [k for k in expected if k in fitting]
    skipped = [k for k in expected if k not in fitting and not k.endswith(_NBT)]
    if applied:
        fmt += " [" + ", ".join(applied) + "]"
    epoch = meta.get("epoch")
    info = CheckpointInfo(path=str(path), format=fmt, epoch=epoch if isinstance(epoch, int) else None,
                          metadata=meta, num_tensors=len(loaded))
    result = PartialLoad(info=info, source_keypoints=source, loaded=loaded, skipped=skipped,
                         copied_joints=copied, new_joints=fresh)
    log.info("Initialised the model from %s for %s: %s", path, keypoint_set.name if keypoint_set is not None
             and keypoint_set.name else f"{len(names)} joints", result.summary())
    return result
