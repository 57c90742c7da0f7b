"""One person's prediction: :class:`PoseResult` (keypoints, official score, crop geometry, heatmaps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PoseResult"]

@dataclass
class PoseResult:
    """One person.

    ``keypoints`` (K, 3) float64: x, y in image pixels and the heatmap maximum as confidence;
    ``score``: the official rescoring (``box_score`` x mean confidence of the joints above
    ``TEST.IN_VIS_THRE``); ``box`` (4,) xyxy as given; ``center``/``scale``: the official crop
    parameters. With ``return_heatmaps``: ``heatmaps`` (K, h, w) float32 and ``heatmap_to_image``,
    the 2x3 affine map from heatmap pixel coordinates to image coordinates
    (``[x_img, y_img] = M @ [x_hm, y_hm, 1]``, the one ``transform_preds`` applies).
    """

    keypoints: np.ndarray
    score: float
    box: np.ndarray
    box_score: float = 1.0
    center: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    heatmaps: np.ndarray | None = None
    heatmap_to_image: np.ndarray | None = None

    @property
    def bbox_xywh(self) -> np.ndarray:
        b = np.asarray(self.box, dtype=np.float64)
        return np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]])

    def to_coco(self, image_id: Any, category_id: int = 1, decimals: int | None = 4) -> dict[str, Any]:
        """A COCO keypoint *result* entry (``image_id``, ``category_id``, flat ``keypoints``,
        ``score``, ``bbox`` xywh). ``decimals`` rounds the numbers (None: full precision)."""
        kp = self.keypoints.astype(np.float64).reshape(-1)
        bbox = self.bbox_xywh
        if decimals is not None:
            kp = np.round(kp, decimals)
            bbox = np.round(bbox, decimals)
        return {
            "image_id": image_id,
            "category_id": int(category_id),
            "keypoints": [float(v) for v in kp],
            "score": float(self.score) if decimals is None else round(float(self.score), decimals + 2),
            "bbox": [float(v) for v in bbox],
        }

