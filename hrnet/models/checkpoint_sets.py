"""The keypoint set a checkpoint predicts, and starting a model for one set from a model of another.

Checkpoints that ``hrnet-train`` writes carry their keypoint set (``"keypoint_set"``, a plain dict of
:meth:`hrnet.keypoints.KeypointSet.to_dict`): :func:`checkpoint_keypoint_set` reads it back; MMPose
1.x files carry theirs in ``meta.dataset_meta`` (:func:`keypoint_set_from_mmpose`).
:func:`load_for_keypoint_set` starts a model for one keypoint set from a model of another: every
tensor that fits is loaded, the final layer is re-initialised for the new joints, and the output
channels of joints that the base model knows by name are copied.

Split from :mod:`hrnet.models.checkpoint` (reading and strict loading), which re-exports every name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hrnet.errors import CheckpointError
from hrnet.keypoints import COCO_17, MPII_16, KeypointSet, KeypointSetError
from hrnet.models.checkpoint import (
    _NBT,
    CheckpointInfo,
    _describe,
    extract_state_dict,
    infer_architecture,
    load_checkpoint,
    normalize_state_dict,
    read_checkpoint,
)

__all__ = [
    "PartialLoad",
    "checkpoint_keypoint_set",
    "keypoint_set_from_mmpose",
    "load_for_keypoint_set",
    "predicted_keypoint_set",
    "read_keypoint_set",
    "starts_new_head",
]

log = logging.getLogger(__name__)

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
