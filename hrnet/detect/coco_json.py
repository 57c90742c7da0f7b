"""Boxes read from a COCO detections JSON instead of computed.

Accepted files:

- COCO detection *results*, as the official ``COCO_val2017_detections_AP_H_56_person.json``:
  a list of ``{"image_id": int, "category_id": int, "bbox": [x, y, w, h], "score": float}``
  (entries may also carry ``"file_name"``);
- a COCO *annotation* document (``{"images": [...], "annotations": [...]}``): its boxes with score
  1.0 unless they have one (ground-truth boxes), and its ``images`` map file names to ids.

Boxes are looked up by ``image_key``: an image id (int), or a file name / path, matched by the
``file_name`` fields, else by the file's base name, else by the number in the name
(``000000397133.jpg`` -> id 397133, the COCO naming).
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.detect.base import Detections, FilteringDetector
from hrnet.errors import DatasetError
from hrnet.utils.io import read_json

__all__ = ["CocoJsonDetector"]

log = logging.getLogger(__name__)


class CocoJsonDetector(FilteringDetector):
    """Look up boxes in a COCO detections (or annotations) JSON file.

    Options as in :func:`~hrnet.detect.base.filter_detections`; the default score threshold 0.0
    keeps every box, like the official test (``TEST.IMAGE_THRE`` 0.0 in the COCO experiments).
    ``images_json``: an optional COCO annotation file whose ``images`` map file names to ids.
    """

    name = "json"

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        score_threshold: float = 0.0,
        person_only: bool = True,
        nms_iou: float | None = None,
        min_size: float = 0.0,
        max_detections: int | None = None,
        images_json: str | PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.score_threshold = float(score_threshold)
        self.person_only = person_only
        self.nms_iou = nms_iou
        self.min_size = float(min_size)
        self.max_detections = max_detections
        data = _read_json(self.path)
        self._by_id: dict[Any, list[tuple[list[float], float, int]]] = defaultdict(list)
        self._name_to_id: dict[str, Any] = {}
        if isinstance(data, dict):
            if "annotations" not in data:
                raise DatasetError(f"{self.path}: a COCO document needs an 'annotations' list")
            self._add_images(data.get("images") or [], self.path)
            entries = data["annotations"]
        elif isinstance(data, list):
            entries = data
        else:
            raise DatasetError(f"{self.path}: expected a list of detections or a COCO document")
        if images_json is not None:
            extra = _read_json(Path(images_json))
            if not isinstance(extra, dict) or not isinstance(extra.get("images"), list):
                raise DatasetError(f"{images_json}: expected a COCO document with an 'images' list")
            self._add_images(extra["images"], Path(images_json))
        for i, entry in enumerate(entries):
            try:
                image_id = entry["image_id"]
                x, y, w, h = (float(v) for v in entry["bbox"][:4])
                score = float(entry.get("score", 1.0))
                label = int(entry.get("category_id", 1))
            except (KeyError, TypeError, ValueError) as e:
                raise DatasetError(f"{self.path}: detection #{i} is malformed ({e!r}): {entry!r:.200}") from e
            self._by_id[image_id].append(([x, y, x + w, y + h], score, label))
            if "file_name" in entry:
                self._name_to_id.setdefault(str(entry["file_name"]), image_id)
        log.info("%s: %d boxes for %d images", self.path.name, len(entries), len(self._by_id))

    def _add_images(self, images: list, source: Path) -> None:
        for img in images:
            try:
                self._name_to_id[str(img["file_name"])] = img["id"]
            except (KeyError, TypeError) as e:
                raise DatasetError(f"{source}: image entry without 'id'/'file_name': {img!r:.200}") from e

    def __repr__(self) -> str:
        return f"CocoJsonDetector({str(self.path)!r}, images={len(self._by_id)})"

    @property
    def image_ids(self) -> list[Any]:
        return list(self._by_id)

    def resolve_id(self, image_key: Any) -> Any | None:
        """The image id that ``image_key`` (id, file name or path) refers to, or None."""
        if image_key is None:
            return None
        if isinstance(image_key, (int, np.integer)):
            return int(image_key)
        key = os.fspath(image_key) if isinstance(image_key, PathLike) else str(image_key)
        if key in self._by_id:
            return key
        if key in self._name_to_id:
            return self._name_to_id[key]
        base = Path(key).name
        if base in self._name_to_id:
            return self._name_to_id[base]
        for name, image_id in self._name_to_id.items():  # file_name fields with folders
            if Path(name).name == base:
                return image_id
        digits = re.findall(r"\d+", Path(key).stem)
        if digits:
            return int(digits[-1])
        return None

    def lookup(self, image_key: Any) -> Detections:
        """Filtered boxes of one image (empty when the file has none for it)."""
        image_id = self.resolve_id(image_key)
        rows = self._by_id.get(image_id, []) if image_id is not None else []
        if not rows:
            return Detections.empty()
        det = Detections(
            np.array([r[0] for r in rows], np.float32),
            np.array([r[1] for r in rows], np.float32),
            np.array([r[2] for r in rows], np.int64),
        )
        return self._filter(det)

    def __call__(self, image_bgr: np.ndarray | None = None, *, image_key: Any = None) -> Detections:
        if image_key is None:
            raise ValueError("CocoJsonDetector needs image_key= (an image id or file name) to look boxes up")
        return self.lookup(image_key)


def _read_json(path: Path) -> Any:
    return read_json(path, what="Detections file", error=DatasetError)
