"""Heatmaps the model produced in this session, kept per frame and matched to people by box.

The document stores keypoints, not heatmaps (17 x 64 x 48 floats per person would dwarf the
annotations). The window keeps the heatmaps of the most recent frames here; a person finds its
heatmaps by box overlap with the box the model saw, so they survive re-ordering, deletion of
other people and small edits, and disappear when the person is replaced.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.commands import box_iou


@dataclass
class HeatmapEntry:
    box_xywh: np.ndarray  # the box the model was given (image pixels)
    heatmaps: np.ndarray  # (K, h, w) float32
    heatmap_to_image: np.ndarray  # (2, 3) affine: heatmap pixel coords -> image coords


def xyxy_to_xywh(box) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(4)
    return np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]])


class HeatmapStore:
    """LRU of per-frame heatmap entries."""

    def __init__(self, max_frames: int = 48) -> None:
        self.max_frames = max_frames
        self._frames: OrderedDict[int, list[HeatmapEntry]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        self._frames.clear()

    def put_results(self, frame: int, results) -> int:
        """Store the heatmaps of PoseResults (``.heatmaps``, ``.heatmap_to_image``, ``.box`` xyxy)."""
        entries = []
        for r in results:
            hm = getattr(r, "heatmaps", None)
            affine = getattr(r, "heatmap_to_image", None)
            box = getattr(r, "box", None)
            if hm is None or affine is None or box is None:
                continue
            entries.append(HeatmapEntry(xyxy_to_xywh(box), np.asarray(hm, dtype=np.float32),
                                        np.asarray(affine, dtype=np.float64).reshape(2, 3)))
        if entries:
            self.add(frame, entries)
        return len(entries)

    def add(self, frame: int, entries: list[HeatmapEntry]) -> None:
        old = self._frames.pop(frame, [])
        # new entries replace old ones for the same box
        kept = [o for o in old if all(box_iou(o.box_xywh, e.box_xywh) < 0.9 for e in entries)]
        self._frames[frame] = kept + entries
        while len(self._frames) > self.max_frames:
            self._frames.popitem(last=False)

    def lookup(self, frame: int, box_xywh: np.ndarray | None, min_iou: float = 0.5) -> HeatmapEntry | None:
        entries = self._frames.get(frame)
        if not entries or box_xywh is None:
            return None
        self._frames.move_to_end(frame)
        ious = [box_iou(e.box_xywh, box_xywh) for e in entries]
        best = int(np.argmax(ious))
        return entries[best] if ious[best] >= min_iou else None
