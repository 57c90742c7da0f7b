"""Predicting consecutive video frames with the person detector only where it is needed.

The top-down tracking of the Simple Baselines PoseTrack entry: a person's box in frame t+1 is taken
from their tracked pose in frame t -- the box of the confident joints, enlarged and moved by the
track's motion estimate -- so HRNet runs on every frame but the detector (7.9 s per 1080p frame on
one CPU thread for Faster R-CNN R50, against 0.13 s per person for HRNet-W32) runs only

- on the first frame,
- every ``detect_every`` frames, to find people who walked in,
- when nobody is being followed, and
- when a followed person's pose collapses (mean joint score below ``redetect_below``: the box has
  lost them) -- then on that same frame, and the frame's people are estimated again.

Detector boxes that overlap a propagated box (IoU >= ``merge_iou``) are dropped in favour of the
propagated one; duplicates left over are removed by OKS NMS. Identities come from
:class:`hrnet.tracking.PoseTracker`.

>>> video = VideoPoseTracker(predictor, build_detector("fasterrcnn"), detect_every=30)
>>> for index, image in frames:
...     people = video.process(image)          # [TrackedPose(result, track_id, detected)]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hrnet.tracking import PoseTracker, box_iou, keypoint_box

log = logging.getLogger(__name__)

__all__ = ["TrackedPose", "VideoPoseTracker", "smooth_tracked_frames"]


@dataclass
class TrackedPose:
    """One person in one frame: the predictor's :class:`~hrnet.predictor.PoseResult`, the track id
    (-1: not tracked) and whether its box came from the detector (else from the previous frame)."""

    result: Any
    track_id: int
    detected: bool


@dataclass
class PropagationStats:
    frames: int = 0
    detector_calls: int = 0
    redetections: int = 0
    poses: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class VideoPoseTracker:
    """Poses with identities for consecutive frames of one video (see the module docstring).

    ``predictor``: a :class:`hrnet.Predictor`; ``detector``: a :mod:`hrnet.detect` detector (None:
    only the boxes given to :meth:`process` are used to start people). ``detect_every``: run the
    detector at least every that many frames (0: only when needed). ``box_enlarge``: how much the
    box of a pose's confident joints is grown to make the next frame's box (the predictor adds its
    own 1.25 padding). ``tracker_options`` go to :class:`~hrnet.tracking.PoseTracker`.
    """

    def __init__(
        self,
        predictor: Any,
        detector: Any = None,
        *,
        detect_every: int = 30,
        redetect_below: float = 0.3,
        joint_score: float = 0.2,
        box_enlarge: float = 1.1,
        merge_iou: float = 0.5,
        nms_oks: float = 0.7,
        tracker_options: dict[str, Any] | None = None,
    ) -> None:
        self.predictor = predictor
        self.detector = detector
        self.detect_every = int(detect_every)
        self.redetect_below = float(redetect_below)
        self.joint_score = float(joint_score)
        self.box_enlarge = float(box_enlarge)
        self.merge_iou = float(merge_iou)
        self.nms_oks = float(nms_oks)
        self.tracker = PoseTracker(**(tracker_options or {}))
        self.stats = PropagationStats()
        self._since_detection = 0

    def reset(self) -> None:
        """A cut or a jump in the video: forget the people followed so far."""
        self.tracker.reset()
        self._since_detection = 0

    # ------------------------------------------------------------------------------------------
    def propagated_boxes(self) -> np.ndarray:
        """Boxes for the next frame from the people seen in the last one: (N, 4) xyxy."""
        boxes = []
        for t in self.tracker.tracks:
            if t.lost != 0:
                continue
            kp, _ = t.predicted(1)
            box = keypoint_box(kp, self.joint_score, enlarge=self.box_enlarge)
            if box is not None:
                boxes.append(box)
        return np.array(boxes, dtype=np.float64).reshape(-1, 4)

    def process(self, image: np.ndarray, boxes: np.ndarray | None = None, *, image_key: Any = None,
                force_detection: bool = False) -> list[TrackedPose]:
        """Poses and track ids of the people in the next frame ``image`` (BGR). ``boxes``: extra
        person boxes (xyxy) to use on this frame, e.g. drawn by hand."""
        self.stats.frames += 1
        propagated = self.propagated_boxes()
        reason = None
        if force_detection:
            reason = "asked"
        elif self.stats.frames == 1:
            reason = "first frame"
        elif len(propagated) == 0 and boxes is None:
            reason = "nobody followed"
        elif self.detect_every > 0 and self._since_detection >= self.detect_every:
            reason = "periodic"
        extra = np.zeros((0, 4)) if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        detected = np.zeros((0, 4))
        if reason is not None:
            detected = self._detect(image, image_key, reason)
        results, from_detector = self._estimate(image, propagated, np.concatenate([extra, detected]))
        if reason is None and self.detector is not None and any(
            not det and float(r.keypoints[:, 2].mean()) < self.redetect_below for r, det in zip(results, from_detector)
        ):
            # someone followed by their box was lost in this frame: look for people again
            self.stats.redetections += 1
            detected = self._detect(image, image_key, "pose collapsed")
            results, from_detector = self._estimate(image, propagated, np.concatenate([extra, detected]))
        self._since_detection += 1
        if not results:
            self.tracker.update(np.zeros((0, self.predictor.num_joints, 3)))
            return []
        ids = self.tracker.update(np.stack([r.keypoints for r in results]))
        self.stats.poses += len(results)
        return [TrackedPose(r, int(i), bool(d)) for r, i, d in zip(results, ids, from_detector)]

    # ------------------------------------------------------------------------------------------
    def _detect(self, image: np.ndarray, image_key: Any, reason: str) -> np.ndarray:
        self._since_detection = 0
        if self.detector is None:
            return np.zeros((0, 4))
        self.stats.detector_calls += 1
        self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        dets = self.detector(image, image_key=image_key)
        return np.asarray(dets.boxes, dtype=np.float64).reshape(-1, 4)

    def _estimate(self, image: np.ndarray, propagated: np.ndarray, new: np.ndarray) -> tuple[list[Any], list[bool]]:
        if len(new) and len(propagated):
            overlap = box_iou(new, propagated).max(axis=1)
            new = new[overlap < self.merge_iou]
        boxes = np.concatenate([propagated, new])
        flags = [False] * len(propagated) + [True] * len(new)
        if len(boxes) == 0:
            return [], []
        results = self.predictor.predict(image, boxes)
        keep = self._nms(results)
        return [results[i] for i in keep], [flags[i] for i in keep]

    def _nms(self, results: Sequence[Any]) -> list[int]:
        """Drop poses that duplicate a better one (two boxes on one person)."""
        if len(results) < 2:
            return list(range(len(results)))
        from hrnet.nms import oks_nms

        db = []
        for r in results:
            b = r.box
            db.append({"keypoints": r.keypoints, "score": float(r.keypoints[:, 2].mean()),
                       "area": float((b[2] - b[0]) * (b[3] - b[1]))})
        sigmas = None if results[0].keypoints.shape[0] == 17 else np.full(results[0].keypoints.shape[0], 0.07)
        keep = oks_nms(db, self.nms_oks, sigmas=sigmas)
        return sorted(int(i) for i in keep)


def smooth_tracked_frames(frames: Sequence[Sequence[TrackedPose]], fps: float, **options: Any) -> None:
    """One-Euro smoothing (:func:`hrnet.temporal.smooth_track`) of every track's joints across the
    frames, in place on the results' keypoints (untracked poses are left as they are)."""
    from hrnet.temporal import smooth_track

    by_track: dict[int, list[tuple[int, TrackedPose]]] = {}
    for t, people in enumerate(frames):
        for p in people:
            if p.track_id >= 0:
                by_track.setdefault(p.track_id, []).append((t, p))
    for items in by_track.values():
        first, last = items[0][0], items[-1][0]
        k = items[0][1].result.keypoints.shape[0]
        arr = np.full((last - first + 1, k, 3), np.nan)
        for t, p in items:
            arr[t - first] = p.result.keypoints
        out = smooth_track(arr, fps, **options)
        for t, p in items:
            p.result.keypoints = out[t - first]
