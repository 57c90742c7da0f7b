"""The one place where the yacs config becomes dataset arguments (DESIGN.md rule 3).

``build_dataset(cfg, is_train, transform=None)`` picks the dataset of ``DATASET.DATASET``:

- ``coco``: :class:`~hrnet.dataset.coco.COCODataset` at ``DATASET.ROOT`` (official);
- ``mpii``: :class:`~hrnet.dataset.mpii.MPIIDataset` at ``DATASET.ROOT`` (official);
- ``coco_json``: :class:`~hrnet.dataset.coco_json.COCOJsonDataset` over
  ``DATASET.TRAIN_ANNOTATIONS`` + ``DATASET.TRAIN_IMAGES`` (training) or ``TEST_ANNOTATIONS`` +
  ``TEST_IMAGES`` (validation / testing). An empty images key means the annotation file's folder.

Paths are used as they are in ``cfg``: like the official ``update_config``, the CLI
(``hrnet.train.resolve_config``) has already prefixed ``DATA_DIR`` where one is set.

``transform=None`` gives the official input normalisation (:class:`ImageNetNormalize`, the
same numbers as ``ToTensor()`` + ``Normalize(ImageNet mean, std)``); pass a callable to replace it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from hrnet.dataset.joints_dataset import Augmentation, ImageNetNormalize, JointsDataset
from hrnet.errors import ConfigError

__all__ = ["DATASETS", "build_dataset", "dataset_kwargs"]

log = logging.getLogger(__name__)

DATASETS = ("coco", "mpii", "coco_json")


def dataset_kwargs(cfg: Any, is_train: bool, transform: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The :class:`JointsDataset` keyword arguments of a config (input/heatmap size, sigma,
    augmentation, colour order, per-joint weights)."""
    d = cfg.DATASET
    return {
        "image_size": tuple(int(v) for v in cfg.MODEL.IMAGE_SIZE),
        "heatmap_size": tuple(int(v) for v in cfg.MODEL.HEATMAP_SIZE),
        "sigma": float(cfg.MODEL.SIGMA),
        "is_train": bool(is_train),
        "transform": transform if transform is not None else ImageNetNormalize(),
        "augmentation": Augmentation(
            scale_factor=float(d.SCALE_FACTOR),
            rotation_factor=float(d.ROT_FACTOR),
            flip=bool(d.FLIP),
            prob_half_body=float(d.PROB_HALF_BODY),
            num_joints_half_body=int(d.NUM_JOINTS_HALF_BODY),
        ),
        "color_rgb": bool(d.COLOR_RGB),
        "use_different_joints_weight": bool(cfg.LOSS.USE_DIFFERENT_JOINTS_WEIGHT),
        "target_type": str(cfg.MODEL.TARGET_TYPE),
    }


def _coco_test_kwargs(cfg: Any) -> dict[str, Any]:
    t = cfg.TEST
    return {
        "use_gt_bbox": bool(t.USE_GT_BBOX),
        "bbox_file": t.COCO_BBOX_FILE or None,
        "image_thre": float(t.IMAGE_THRE),
        "oks_thre": float(t.OKS_THRE),
        "in_vis_thre": float(t.IN_VIS_THRE),
        "soft_nms": bool(t.SOFT_NMS),
        "nms_thre": float(t.NMS_THRE),
        "select_data": bool(cfg.DATASET.SELECT_DATA),
    }


def build_dataset(cfg: Any, is_train: bool, transform: Callable[[Any], Any] | None = None) -> JointsDataset:
    """The training (``is_train``) or validation/test dataset of ``cfg``.

    Raises :class:`ConfigError` for an unknown ``DATASET.DATASET``, missing ``coco_json`` keys or a
    keypoint count that differs from ``MODEL.NUM_JOINTS``; :class:`~hrnet.errors.DatasetError`
    for missing or malformed files.
    """
    name = str(cfg.DATASET.DATASET)
    if cfg.DATASET.DATA_FORMAT == "zip":
        raise ConfigError("DATASET.DATA_FORMAT 'zip' is not supported: unpack the images and use 'jpg'")
    root = cfg.DATASET.ROOT
    image_set = cfg.DATASET.TRAIN_SET if is_train else cfg.DATASET.TEST_SET
    common = dataset_kwargs(cfg, is_train, transform)

    dataset: JointsDataset
    if name == "coco":
        from hrnet.dataset.coco import COCODataset

        dataset = COCODataset(root, image_set, **common, **_coco_test_kwargs(cfg))
    elif name == "mpii":
        from hrnet.dataset.mpii import MPIIDataset

        dataset = MPIIDataset(root, image_set, select_data=bool(cfg.DATASET.SELECT_DATA), **common)
    elif name == "coco_json":
        from hrnet.dataset.coco_json import COCOJsonDataset

        ann_key, img_key = ("TRAIN_ANNOTATIONS", "TRAIN_IMAGES") if is_train else ("TEST_ANNOTATIONS", "TEST_IMAGES")
        ann = str(cfg.DATASET[ann_key])
        images = str(cfg.DATASET[img_key])
        if not ann:
            raise ConfigError(
                f"DATASET.DATASET is 'coco_json' but DATASET.{ann_key} is empty: set it to a COCO keypoint "
                f"JSON file (and DATASET.{img_key} to its image folder)"
            )
        if not os.path.isfile(ann):
            raise ConfigError(f"DATASET.{ann_key}: annotation file not found: {ann}")
        if images and not os.path.isdir(images):
            raise ConfigError(f"DATASET.{img_key}: image folder not found: {images}")
        dataset = COCOJsonDataset(ann, images or None, image_set=image_set, **common, **_coco_test_kwargs(cfg))
    else:
        raise ConfigError(f"Unknown DATASET.DATASET {name!r}; known: {', '.join(DATASETS)}")

    if dataset.num_joints != int(cfg.MODEL.NUM_JOINTS):
        raise ConfigError(
            f"The {name} dataset has {dataset.num_joints} keypoints but MODEL.NUM_JOINTS is {cfg.MODEL.NUM_JOINTS}: "
            f"add 'MODEL.NUM_JOINTS {dataset.num_joints}' to the options"
        )
    return dataset
