"""Any COCO keypoint dataset: an annotation JSON + an image folder (``DATASET.DATASET: coco_json``
with ``DATASET.TRAIN_ANNOTATIONS`` / ``TRAIN_IMAGES`` / ``TEST_ANNOTATIONS`` / ``TEST_IMAGES``),
e.g. the app's export or :mod:`hrnet.dataset.synthetic`.

The keypoint set comes from the file's keypoint category:

- joint count = ``len(category['keypoints'])``;
- flip pairs from the names (:func:`flip_pairs_from_names`: ``left_x``/``right_x``,
  ``l_x``/``r_x``, ``leftX``/``rightX``, ``x_left``/``x_right``, ``x_l``/``x_r``, any case);
- upper body for the half-body augmentation = every joint whose name does not mention a lower
  body part (hip, knee, ankle, foot, heel, toe, leg, thigh, shin, calf, pelvis);
- OKS sigmas: the category's own ``sigmas`` list when it has one; else COCO's sigma for every
  joint named like a COCO keypoint, and :data:`DEFAULT_SIGMA` (0.07, about the mean of the 17
  COCO sigmas) for the others;
- per-joint loss weights: the official COCO weights for the 17 COCO keypoints, else all 1.

The 17 COCO keypoints in COCO order give exactly the official COCO keypoint set. Image paths
are ``images_dir / file_name`` (an absolute ``file_name`` is used as is).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hrnet.dataset.coco import (
    COCO_KEYPOINT_SET,
    COCO_KEYPOINTS,
    COCO_SIGMAS,
    COCOFormatDataset,
    read_coco_keypoints_json,
)
from hrnet.dataset.joints_dataset import KeypointSet
from hrnet.errors import DatasetError

__all__ = ["DEFAULT_SIGMA", "COCOJsonDataset", "flip_pairs_from_names", "keypoint_set_from_category"]

log = logging.getLogger(__name__)

DEFAULT_SIGMA = 0.07
_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "foot", "feet", "heel", "toe", "leg", "thigh", "shin", "calf", "pelvis")
# (pattern, index of the group holding the side marker); the other groups are kept as they are
_SIDE_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^(left)(.+)$", re.I), 1),
    (re.compile(r"^(.+)(left)$", re.I), 2),
    (re.compile(r"^(l)([_\-\s].+)$", re.I), 1),
    (re.compile(r"^(.+[_\-\s])(l)$", re.I), 2),
)
_RIGHT = {"left": "right", "l": "r"}


def _same_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word


def _right_name(m: re.Match[str], side_group: int) -> str:
    parts = list(m.groups())
    side = parts[side_group - 1]
    parts[side_group - 1] = _same_case(_RIGHT[side.lower()], side)
    return "".join(parts)


def flip_pairs_from_names(names: Sequence[str]) -> list[tuple[int, int]]:
    """``(left, right)`` index pairs of keypoints whose names differ only by a left/right
    marker: ``left_eye``/``right_eye``, ``l_hand``/``r_hand``, ``leftEar``/``rightEar``,
    ``wing_left``/``wing_right``, ``paw_l``/``paw_r`` (case kept)."""
    index = {n: i for i, n in enumerate(names)}
    lower_index = {n.lower(): i for i, n in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    paired: set[int] = set()
    for i, name in enumerate(names):
        if i in paired:
            continue
        for pattern, side_group in _SIDE_PATTERNS:
            m = pattern.match(name)
            if not m:
                continue
            right = _right_name(m, side_group)
            j = index.get(right, lower_index.get(right.lower()))
            if j is not None and j != i and j not in paired:
                pairs.append((i, j))
                paired.update((i, j))
                break
    return pairs


def _is_lower_body(name: str) -> bool:
    n = name.lower()
    return any(w in n for w in _LOWER_BODY_WORDS)


def keypoint_set_from_category(category: dict[str, Any], default_sigma: float = DEFAULT_SIGMA) -> KeypointSet:
    """The :class:`KeypointSet` of a COCO keypoint category (see the module docstring)."""
    names = tuple(category.get("keypoints") or ())
    if not names:
        raise DatasetError(f"category {category.get('name')!r} lists no keypoints")
    if names == COCO_KEYPOINTS:
        base = COCO_KEYPOINT_SET
    else:
        coco_sigma = dict(zip(COCO_KEYPOINTS, COCO_SIGMAS))
        base = KeypointSet(
            names=names,
            flip_pairs=tuple(flip_pairs_from_names(names)),
            upper_body_ids=tuple(i for i, n in enumerate(names) if not _is_lower_body(n)),
            sigmas=tuple(coco_sigma.get(n.lower(), default_sigma) for n in names),
        )
    sigmas = category.get("sigmas")
    if sigmas is not None:
        if (not isinstance(sigmas, list) or len(sigmas) != len(names)
                or not all(isinstance(s, (int, float)) and s > 0 for s in sigmas)):
            raise DatasetError(f"category {category.get('name')!r}: 'sigmas' must be {len(names)} positive numbers")
        base = KeypointSet(names=base.names, flip_pairs=base.flip_pairs, upper_body_ids=base.upper_body_ids,
                           joints_weight=base.joints_weight, sigmas=tuple(float(s) for s in sigmas),
                           skeleton=base.skeleton, parent_ids=base.parent_ids)
    skeleton = category.get("skeleton")
    if base is not COCO_KEYPOINT_SET and isinstance(skeleton, list):
        try:  # COCO files store the skeleton 1-based
            limbs = tuple((int(a) - 1, int(b) - 1) for a, b in skeleton)
        except (TypeError, ValueError):
            limbs = ()
        if all(0 <= a < len(names) and 0 <= b < len(names) for a, b in limbs):
            base = KeypointSet(names=base.names, flip_pairs=base.flip_pairs, upper_body_ids=base.upper_body_ids,
                               joints_weight=base.joints_weight, sigmas=base.sigmas, skeleton=limbs)
    return base


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
