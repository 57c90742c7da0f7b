"""The detector interface: an image in, person boxes (xyxy, pixels) and scores out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torchvision

__all__ = ["PERSON_LABEL", "Detections", "Detector", "FilteringDetector", "FullImageDetector", "filter_detections"]

# COCO category id of "person" (torchvision's detection label indices equal COCO category ids).
PERSON_LABEL = 1


@dataclass
class Detections:
    """Boxes found in one image: ``boxes`` (N, 4) float32 xyxy in image pixels, ``scores`` (N,)
    float32, ``labels`` (N,) int64 COCO category ids (1 = person)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        n = len(self.boxes)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n)
        if self.labels is None:
            self.labels = np.full(n, PERSON_LABEL, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(n)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def select(self, keep: np.ndarray) -> Detections:
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])

    @property
    def boxes_xywh(self) -> np.ndarray:
        out = self.boxes.copy()
        out[:, 2:] -= out[:, :2]
        return out


@runtime_checkable
class Detector(Protocol):
    """Anything callable as ``detector(image_bgr) -> Detections``.

    ``image_bgr`` is an HxWx3 uint8 array in OpenCV's BGR order. Detectors that look boxes up
    instead of computing them (the COCO detections JSON) also take ``image_key=`` (an image id or
    file name); the others accept and ignore it.
    """

    def __call__(self, image_bgr: np.ndarray, *, image_key: Any = None) -> Detections: ...


def filter_detections(
    detections: Detections,
    *,
    score_threshold: float = 0.0,
    person_only: bool = True,
    nms_iou: float | None = None,
    min_size: float = 0.0,
    max_detections: int | None = None,
) -> Detections:
    """Apply the common options, in this order: class filter (person only), score threshold,
    minimum box side (pixels), class-wise NMS at ``nms_iou`` (None = off), then keep the
    ``max_detections`` best. The result is sorted by descending score."""
    d = detections
    keep = np.ones(len(d), dtype=bool)
    if person_only:
        keep &= d.labels == PERSON_LABEL
    keep &= d.scores >= score_threshold
    if min_size > 0:
        wh = d.boxes[:, 2:] - d.boxes[:, :2]
        keep &= (wh >= min_size).all(axis=1)
    d = d.select(keep)
    if nms_iou is not None and len(d) > 1:
        kept = torchvision.ops.batched_nms(
            torch.from_numpy(d.boxes), torch.from_numpy(d.scores), torch.from_numpy(d.labels), float(nms_iou)
        ).numpy()
        d = d.select(kept)
    order = np.argsort(-d.scores, kind="stable")
    if max_detections is not None:
        order = order[:max_detections]
    return d.select(order)


class FilteringDetector:
    """Mixin of the detectors that keep the :func:`filter_detections` options as attributes."""

    score_threshold: float
    person_only: bool
    nms_iou: float | None
    min_size: float
    max_detections: int | None

    def _filter(self, detections: Detections) -> Detections:
        return filter_detections(
            detections,
            score_threshold=self.score_threshold,
            person_only=self.person_only,
            nms_iou=self.nms_iou,
            min_size=self.min_size,
            max_detections=self.max_detections,
        )


class FullImageDetector:
    """One box covering the whole image, score 1.0 (single-person images, pre-cropped people)."""

    name = "full_image"

    def __call__(self, image_bgr: np.ndarray, *, image_key: Any = None) -> Detections:
        h, w = image_bgr.shape[:2]
        return Detections(np.array([[0.0, 0.0, w, h]], np.float32), np.ones(1, np.float32))

    def __repr__(self) -> str:
        return "FullImageDetector()"
