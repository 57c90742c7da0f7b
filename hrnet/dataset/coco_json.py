"""Any COCO keypoint dataset: an annotation JSON + an image folder (``DATASET.DATASET: coco_json``
with ``DATASET.TRAIN_ANNOTATIONS`` / ``TRAIN_IMAGES`` / ``TEST_ANNOTATIONS`` / ``TEST_IMAGES``),
e.g. the app's export or :mod:`hrnet.dataset.synthetic`.

The keypoint set comes from the file's keypoint category:

- :meth:`hrnet.keypoints.KeypointSet.from_category` reads it: names, skeleton, flip pairs and
  sigmas stored by the app under ``"hrnet_annotator"`` (else the one left/right rule of
  :mod:`hrnet.keypoints` and sigmas per name: COCO's for COCO body parts, :data:`DEFAULT_SIGMA`
  otherwise); upper body for the half-body augmentation = every joint whose name does not
  mention a lower body part;
- per-joint loss weights: the official COCO weights for the 17 COCO keypoints, else all 1.

The 17 COCO keypoints in COCO order give exactly the official COCO keypoint set. Image paths
are ``images_dir / file_name`` (an absolute ``file_name`` is used as is).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hrnet.dataset.coco import COCOFormatDataset, read_coco_keypoints_json
from hrnet.errors import DatasetError
from hrnet.keypoints import DEFAULT_SIGMA, KeypointSet, KeypointSetError, flip_pairs_from_names

__all__ = ["DEFAULT_SIGMA", "COCOJsonDataset", "flip_pairs_from_names", "keypoint_set_from_category"]

log = logging.getLogger(__name__)


def keypoint_set_from_category(category: dict[str, Any]) -> KeypointSet:
    """The :class:`KeypointSet` of a COCO keypoint category (see the module docstring); a
    :class:`DatasetError` when the category is malformed."""
    try:
        return KeypointSet.from_category(category)
    except KeypointSetError as e:
        raise DatasetError(str(e)) from e


class COCOJsonDataset(COCOFormatDataset):
    """A COCO keypoint JSON + an image folder, with the keypoint set of the file's category.

    Args:
        annotation_file: the COCO keypoint JSON.
        images_dir: folder that ``images[].file_name`` is relative to (default: the JSON's folder).
        is_train: training mode.
        image_set: split name for the results file (default: the JSON's file stem without a
            ``person_keypoints_`` prefix).
        **kwargs: :class:`~hrnet.dataset.coco.COCOFormatDataset` / :class:`JointsDataset` arguments
            (``use_gt_bbox``, ``bbox_file``, ``image_size``, ``heatmap_size``, ``sigma``,
            ``augmentation``, ``transform``, ...). ``keypoints`` overrides the inferred set.
    """

    def __init__(
        self,
        annotation_file: str | os.PathLike[str],
        images_dir: str | os.PathLike[str] | None,
        is_train: bool,
        *,
        category_id: int | None = None,
        **kwargs: Any,
    ) -> None:
        annotation_file = Path(annotation_file)
        self.images_dir = Path(images_dir) if images_dir else annotation_file.parent
        if not self.images_dir.is_dir():
            raise DatasetError(f"Image folder not found: {self.images_dir} (images of {annotation_file})")
        gt, category = read_coco_keypoints_json(annotation_file, category_id=category_id)
        if not kwargs.get("image_set"):
            kwargs["image_set"] = annotation_file.stem.removeprefix("person_keypoints_")
        if "keypoints" not in kwargs:
            kwargs["keypoints"] = keypoint_set_from_category(category)
        super().__init__(annotation_file, is_train, document=(gt, category), **kwargs)

    def image_path(self, image_id: int) -> str:
        return str(self.images_dir / self.images[image_id]["file_name"])

    @property
    def has_ground_truth(self) -> bool:
        return bool(self._gt["annotations"])
