"""What the Predictor is given, checked: images, boxes, the keypoint set of an experiment, and the
CPU threads torch may use."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from yacs.config import CfgNode

from hrnet.errors import ConfigError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _keypoint_set(cfg: CfgNode) -> Any:
    """The :class:`~hrnet.keypoints.KeypointSet` of the experiment's dataset."""
    from hrnet.keypoints import COCO_17, MPII_16, KeypointSet

    name = str(cfg.DATASET.DATASET)
    k = int(cfg.MODEL.NUM_JOINTS)
    kset = None
    if name == "mpii":
        kset = MPII_16
    elif name == "coco_json":
        for key in ("TEST_ANNOTATIONS", "TRAIN_ANNOTATIONS"):
            kset = _keypoint_set_from_file(cfg, str(cfg.DATASET[key]))
            if kset is not None:
                break
    elif name == "coco":
        kset = COCO_17
    if kset is None and k == len(COCO_17.names):
        kset = COCO_17
    if kset is None:
        kset = KeypointSet(names=tuple(f"joint_{i}" for i in range(k)))
    if len(kset.names) != k:
        raise ConfigError(
            f"MODEL.NUM_JOINTS is {k} but the {name} keypoint set has {len(kset.names)} keypoints"
        )
    return kset


def _keypoint_set_from_file(cfg: CfgNode, path: str) -> Any:
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = Path(cfg.DATA_DIR or "") / (cfg.DATASET.ROOT or "") / p
    if not p.is_file():
        return None
    try:
        from hrnet.dataset.coco_json import keypoint_set_from_category

        with p.open("r", encoding="utf-8") as f:
            doc = json.load(f)
        cats = [c for c in doc.get("categories", []) if c.get("keypoints")]
        return keypoint_set_from_category(cats[0]) if cats else None
    except Exception as e:  # noqa: BLE001 - the keypoint names are a convenience here
        log.warning("Cannot read keypoint names from %s: %s", p, e)
        return None


def _sensible_threads() -> None:
    """Keep torch's intra-op threads within the CPUs this process may use (containers, taskset)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        allowed = os.cpu_count() or 1
    if torch.get_num_threads() > allowed:
        torch.set_num_threads(allowed)


def _as_boxes(boxes: Any) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4), np.float64)
    if b.ndim == 1 and b.shape[0] == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be an (N, 4) array of x1, y1, x2, y2; got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("boxes contain NaN or infinite values")
    return b


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (HxWx3 uint8 BGR), not {type(image).__name__}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be HxWx3 (BGR), got shape {image.shape}")
    if image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    return image
