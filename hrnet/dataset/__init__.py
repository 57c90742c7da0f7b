"""Top-down keypoint datasets (official COCO and MPII layouts, any COCO keypoint JSON), their
augmentation and targets, and a synthetic data generator.

- :func:`build_dataset` — ``cfg`` -> dataset (the only place that reads dataset config keys)
- :class:`COCODataset`, :class:`MPIIDataset`, :class:`COCOJsonDataset` — explicit arguments
- :class:`JointsDataset`, :class:`KeypointSet`, :class:`Augmentation`, :class:`ImageNetNormalize`
- :mod:`hrnet.dataset.synthetic` — rendered stick-figure people as a COCO keypoint dataset

Names are imported lazily, so ``import hrnet.dataset.synthetic`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "build_dataset": "hrnet.dataset.build",
    "dataset_kwargs": "hrnet.dataset.build",
    "JointsDataset": "hrnet.dataset.joints_dataset",
    "KeypointSet": "hrnet.dataset.joints_dataset",
    "Augmentation": "hrnet.dataset.joints_dataset",
    "ImageNetNormalize": "hrnet.dataset.joints_dataset",
    "COCODataset": "hrnet.dataset.coco",
    "COCOFormatDataset": "hrnet.dataset.coco",
    "COCO_KEYPOINT_SET": "hrnet.dataset.coco",
    "COCOJsonDataset": "hrnet.dataset.coco_json",
    "keypoint_set_from_category": "hrnet.dataset.coco_json",
    "MPIIDataset": "hrnet.dataset.mpii",
    "MPII_KEYPOINT_SET": "hrnet.dataset.mpii",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hrnet.dataset' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
