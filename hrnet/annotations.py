"""The Qt-free COCO keypoint annotation document shared by the app and the training loader.

Data model (plain dataclasses + numpy):

- :class:`Category` — keypoint names and a 0-based skeleton (COCO files store it 1-based).
- :class:`Instance` — one person: ``keypoints`` (K, 3) float64 of x, y, visibility (0 not
  labelled, 1 labelled but occluded, 2 visible), ``bbox`` xywh, detector/pose ``score``,
  ``track_id``, per-joint ``edited`` flags (True = placed or corrected by hand, False = predicted
  or imported), ``joint_scores`` (K,) model confidences where predicted.
- :class:`Frame` — one image or one video frame, its people, crowd regions and ``reviewed`` flag.
- :class:`PoseDocument` — frames + category + everything else of the file (info, licenses,
  unknown fields), preserved on save.

``load_coco(path)`` / ``save_coco(document, path)`` read and write COCO keypoint JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.errors import AnnotationError

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "AnnotationError",
    "Category",
    "Frame",
    "Instance",
    "PoseDocument",
    "load_coco",
    "save_coco",
]

# The 17 COCO person keypoints and the official 0-based COCO skeleton.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)


@dataclass
class Category:
    keypoints: list[str] = field(default_factory=lambda: list(COCO_KEYPOINTS))
    skeleton: list[tuple[int, int]] = field(default_factory=lambda: list(COCO_SKELETON))  # 0-based
    id: int = 1
    name: str = "person"
    supercategory: str = "person"
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, preserved

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def flip_pairs(self) -> list[tuple[int, int]]:
        """(left, right) joint index pairs matched by ``left_*`` / ``right_*`` names."""
        index = {n: i for i, n in enumerate(self.keypoints)}
        pairs = []
        for i, n in enumerate(self.keypoints):
            for lp, rp in (("left_", "right_"), ("l_", "r_"), ("left", "right")):
                if n.startswith(lp) and n.replace(lp, rp, 1) in index:
                    pairs.append((i, index[n.replace(lp, rp, 1)]))
                    break
        return pairs


@dataclass
class Instance:
    keypoints: np.ndarray  # (K, 3) float64: x, y, visibility in {0, 1, 2}
    bbox: np.ndarray | None = None  # (4,) float64 xywh in image pixels
    score: float | None = None
    track_id: int | None = None
    edited: np.ndarray | None = None  # (K,) bool; None = nothing edited by hand
    joint_scores: np.ndarray | None = None  # (K,) float model confidence, where predicted
    id: int | None = None  # COCO annotation id as read; reassigned on save when missing
    category_id: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # unknown annotation fields, preserved

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64).reshape(-1, 3)
        if self.bbox is not None:
            self.bbox = np.asarray(self.bbox, dtype=np.float64).reshape(4)
        if self.edited is None:
            self.edited = np.zeros(len(self.keypoints), dtype=bool)
        else:
            self.edited = np.asarray(self.edited, dtype=bool).reshape(len(self.keypoints))
        if self.joint_scores is not None:
            self.joint_scores = np.asarray(self.joint_scores, dtype=np.float64).reshape(len(self.keypoints))

    @property
    def num_keypoints(self) -> int:
        """Number of labelled joints (visibility > 0), as COCO's ``num_keypoints``."""
        return int(np.count_nonzero(self.keypoints[:, 2] > 0))

    def copy(self) -> Instance:
        return Instance(
            keypoints=self.keypoints.copy(),
            bbox=None if self.bbox is None else self.bbox.copy(),
            score=self.score,
            track_id=self.track_id,
            edited=self.edited.copy(),
            joint_scores=None if self.joint_scores is None else self.joint_scores.copy(),
            id=self.id,
            category_id=self.category_id,
            extra=dict(self.extra),
        )


@dataclass
class Frame:
    id: int
    file_name: str  # relative to the document's image root, or absolute
    width: int
    height: int
    instances: list[Instance] = field(default_factory=list)
    reviewed: bool = False
    video: str | None = None  # source video path when this frame comes from a video
    frame_index: int | None = None  # 0-based frame index within that video
    crowd: list[dict[str, Any]] = field(default_factory=list)  # iscrowd=1 annotations, preserved raw
    extra: dict[str, Any] = field(default_factory=dict)  # unknown image fields, preserved


@dataclass
class PoseDocument:
    frames: list[Frame] = field(default_factory=list)
    category: Category = field(default_factory=Category)
    image_root: Path | None = None  # folder that frame file names are relative to
    path: Path | None = None  # the file this document was read from / last saved to
    extra: dict[str, Any] = field(default_factory=dict)  # info, licenses, other top-level fields


def load_coco(path: str | Path, image_root: str | Path | None = None) -> PoseDocument:
    """Read a COCO keypoint JSON file into a :class:`PoseDocument` (validated)."""
    raise NotImplementedError  # implemented by the annotations work item


def save_coco(document: PoseDocument, path: str | Path) -> None:
    """Write ``document`` as COCO keypoint JSON, atomically."""
    raise NotImplementedError  # implemented by the annotations work item
