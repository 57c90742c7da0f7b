"""Predicting consecutive video frames with the person detector only where it is needed.

The top-down tracking of the Simple Baselines PoseTrack entry: a person's box in frame t+1 is taken
from their tracked pose in frame t -- the box of the confident joints, enlarged and moved by the
track's motion estimate -- so HRNet runs on every frame but the detector (7.9 s per 1080p frame on
one CPU thread for Faster R-CNN R50, against 0.13 s per person for HRNet-W32) runs only

- on the first frame,
- every ``detect_every`` frames, to find people who walked in,
- when nobody is being followed, and
- when a followed person's pose collapses (mean joint score below ``redetect_below``: the box has
  lost them) -- then on that same frame, and the frame's people are estimated again;
- when a followed person vanishes (two people crossing: both boxes slide onto the front one and
  one pose is dropped as a duplicate): the detector looks again ``look_again`` frames later
  (1, 2, 4, 8 and 16 by default), so a few calls find them as soon as they step out, and the
  tracker, which keeps the lost track and predicts it forward, gives them back their id.

Without a detector (offline: only boxes given by hand start people) a vanished person is looked
for where their motion says they are: for up to ``coast_frames`` frames the lost track's box is
moved on by its velocity, the pose is estimated there too and accepted when it is confident
(mean joint score >= ``coast_score``), continues that track (tracker similarity) and is not a
duplicate of someone already found.

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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hrnet.tracking import PoseTracker, Track, box_iou, keypoint_box

log = logging.getLogger(__name__)

__all__ = ["COAST_FRAMES", "COAST_SCORE", "LOOK_AGAIN", "TrackedPose", "VideoPoseTracker", "smooth_tracked_frames"]

LOOK_AGAIN = (1, 2, 4, 8, 16)
"""Frames after a followed person vanished at which the detector looks for them again."""
COAST_FRAMES = 12
"""Without a detector: for how many frames a lost track's box is coasted on its motion estimate."""
COAST_SCORE = 0.4
"""The mean joint score a pose found in a coasted box needs to be accepted."""
COAST_HISTORY = 10
"""How many of a track's last sightings the straight line of its coasted box is fitted to."""


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
    coasted: int = 0  # poses estimated in a lost track's coasted box
    reacquired: int = 0  # of them, accepted (the lost person found again)
    reasons: dict[str, int] = field(default_factory=dict)


class VideoPoseTracker:
    """Poses with identities for consecutive frames of one video (see the module docstring).

    ``predictor``: a :class:`hrnet.Predictor`; ``detector``: a :mod:`hrnet.detect` detector (None:
    only the boxes given to :meth:`process` are used to start people). ``detect_every``: run the
    detector at least every that many frames (0: only when needed). ``box_enlarge``: how much the
    box of a pose's confident joints is grown to make the next frame's box (the predictor adds its
    own 1.25 padding). ``look_again``: frames after a followed person vanished at which the
    detector runs again (empty: never). ``coast_frames``: for how many frames a lost track's box is
    coasted on its motion estimate to find them without a detector (None: ``COAST_FRAMES`` when
    there is no detector, 0 with one); ``coast_score``: the mean joint score a pose found there
    needs. ``tracker_options`` go to :class:`~hrnet.tracking.PoseTracker`.
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
        look_again: Sequence[int] = LOOK_AGAIN,
        coast_frames: int | None = None,
        coast_score: float = COAST_SCORE,
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
        self.look_again = frozenset(int(n) for n in look_again if int(n) > 0)
        if coast_frames is None:
            coast_frames = COAST_FRAMES if detector is None else 0
        if coast_frames < 0:
            raise ValueError("coast_frames must be >= 0")
        self.coast_frames = int(coast_frames)
        self.coast_score = float(coast_score)
        self.tracker = PoseTracker(**(tracker_options or {}))
        self.stats = PropagationStats()
        self._since_detection = 0
        self._lost_at: dict[int, int] = {}  # track id -> the frame (stats.frames) where it vanished
        self._history: dict[int, list[tuple[int, np.ndarray]]] = {}  # track id -> (frame, centre) sightings

    def reset(self) -> None:
        """A cut or a jump in the video: forget the people followed so far."""
        self.tracker.reset()
        self._since_detection = 0
        self._lost_at.clear()
        self._history.clear()

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

    def coasted_tracks(self) -> list[Track]:
        """Lost tracks whose box is coasted into the next frame (lost for at most ``coast_frames``)."""
        if self.coast_frames <= 0:
            return []
        return [t for t in self.tracker.tracks if 1 <= t.lost <= self.coast_frames]

    def _coasted_boxes(self, tracks: Sequence[Track]) -> np.ndarray:
        """Where the lost ``tracks`` should be in this frame: their last pose moved to the centre a
        straight line through their last ``COAST_HISTORY`` sightings gives (the last frames'
        velocity is not to be trusted: before a person vanishes behind someone, their box slides
        towards the other person), or by the track's velocity with too few sightings."""
        frame = self.stats.frames  # the frame being processed (counted already)
        boxes = []
        for t in tracks:
            kp, _ = t.predicted(t.lost + 1)
            seen = self._history.get(t.id, [])
            if len(seen) >= 3:
                f = np.array([s[0] for s in seen], np.float64)
                c = np.array([s[1] for s in seen], np.float64)
                a = np.vstack([f - f.mean(), np.ones_like(f)]).T
                coef, *_ = np.linalg.lstsq(a, c, rcond=None)  # (2, 2): slope and mean per axis
                centre = coef[1] + coef[0] * (frame - f.mean())
                last = keypoint_box(t.keypoints, self.joint_score)
                if last is not None:
                    kp = t.keypoints.copy()
                    kp[:, :2] += centre - (last[:2] + last[2:]) / 2
            box = keypoint_box(kp, self.joint_score, enlarge=self.box_enlarge)
            boxes.append(box if box is not None else np.full(4, np.nan))
        return np.array(boxes, dtype=np.float64).reshape(-1, 4)

    def _remember(self, frame: int, results: Sequence[Any], ids: np.ndarray) -> None:
        """The centres of the tracked people in this frame (for coasting lost tracks)."""
        if self.coast_frames <= 0:
            return
        for r, tid in zip(results, ids):
            if tid < 0:
                continue
            box = keypoint_box(r.keypoints, self.joint_score)
            if box is not None:
                seen = self._history.setdefault(int(tid), [])
                seen.append((frame, (box[:2] + box[2:]) / 2))
                del seen[:-COAST_HISTORY]
        alive = {t.id for t in self.tracker.tracks}
        for tid in [t for t in self._history if t not in alive]:
            del self._history[tid]

    # ------------------------------------------------------------------------------------------
    def process(self, image: np.ndarray, boxes: np.ndarray | None = None, *, image_key: Any = None,
                force_detection: bool = False) -> list[TrackedPose]:
        """Poses and track ids of the people in the next frame ``image`` (BGR). ``boxes``: extra
        person boxes (xyxy) to use on this frame, e.g. drawn by hand."""
        self.stats.frames += 1
        frame = self.stats.frames
        propagated = self.propagated_boxes()
        following = {t.id for t in self.tracker.tracks if t.lost == 0}
        coast = self.coasted_tracks()
        reason = None
        if force_detection:
            reason = "asked"
        elif frame == 1:
            reason = "first frame"
        elif len(propagated) == 0 and boxes is None and not coast:
            reason = "nobody followed"
        elif self.detect_every > 0 and self._since_detection >= self.detect_every:
            reason = "periodic"
        elif self.detector is not None and any(frame - f0 in self.look_again for f0 in self._lost_at.values()):
            reason = "look again"
        given = np.zeros((0, 4)) if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        detected = np.zeros((0, 4))
        if reason is not None:
            detected = self._detect(image, image_key, reason)
        results, from_detector, sure = self._estimate(image, propagated, given, detected, coast)
        if reason is None and self.detector is not None and any(
            not det and float(r.keypoints[:, 2].mean()) < self.redetect_below for r, det in zip(results, from_detector)
        ):
            # someone followed by their box was lost in this frame: look for people again
            self.stats.redetections += 1
            detected = self._detect(image, image_key, "pose collapsed")
            results, from_detector, sure = self._estimate(image, propagated, given, detected, coast)
        self._since_detection += 1
        if not results:
            ids = self.tracker.update(np.zeros((0, self.predictor.num_joints, 3)))
        else:  # a person in a box given for this frame (drawn by hand) is a person, however weak the pose
            ids = self.tracker.update(np.stack([r.keypoints for r in results]), certain=sure)
        self._note_vanished(frame, following, {int(i) for i in ids if i >= 0})
        self._remember(frame, results, ids)
        self.stats.poses += len(results)
        return [TrackedPose(r, int(i), bool(d)) for r, i, d in zip(results, ids, from_detector)]

    def _note_vanished(self, frame: int, following: set[int], seen: set[int]) -> None:
        """Remember when followed people vanished (the detector looks again ``look_again`` frames later)."""
        for tid in following - seen:
            self._lost_at[tid] = frame
        alive = {t.id for t in self.tracker.tracks}
        horizon = max(self.look_again, default=0)
        self._lost_at = {t: f for t, f in self._lost_at.items()
                         if t in alive and t not in seen and frame - f < horizon}

    # ------------------------------------------------------------------------------------------
    def _detect(self, image: np.ndarray, image_key: Any, reason: str) -> np.ndarray:
        self._since_detection = 0
        if self.detector is None:
            return np.zeros((0, 4))
        self.stats.detector_calls += 1
        self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        dets = self.detector(image, image_key=image_key)
        return np.asarray(dets.boxes, dtype=np.float64).reshape(-1, 4)

    def _estimate(self, image: np.ndarray, propagated: np.ndarray, given: np.ndarray, detected: np.ndarray,
                  coast: Sequence[Track] = ()) -> tuple[list[Any], list[bool], list[bool]]:
        """Poses in the propagated boxes, the boxes given for this frame and the detector's (those two
        only where no propagated box covers them) and the coasted boxes of lost tracks (kept only when
        they found their person again). Returns the poses, whether each came from a detector box, and
        whether each came from a given box (a person for sure)."""
        new = np.concatenate([given, detected])
        is_given = np.arange(len(new)) < len(given)
        if len(new) and len(propagated):
            fresh = box_iou(new, propagated).max(axis=1) < self.merge_iou
            new, is_given = new[fresh], is_given[fresh]
        coasted = self._coasted_boxes(coast)
        usable = np.isfinite(coasted).all(axis=1)
        coast = [t for t, ok in zip(coast, usable) if ok]
        coasted = coasted[usable]
        boxes = np.concatenate([propagated, new, coasted])
        flags = [False] * len(propagated) + [True] * len(new)
        sure = [False] * len(propagated) + [bool(g) for g in is_given]
        if len(boxes) == 0:
            return [], [], []
        everything = self.predictor.predict(image, boxes)
        results = everything[:len(flags)]
        keep = self._nms(results)
        kept = [results[i] for i in keep]
        kept_flags, kept_sure = [flags[i] for i in keep], [sure[i] for i in keep]
        for track, r in zip(coast, everything[len(flags):]):
            self.stats.coasted += 1
            if self._reacquired(track, r, kept):
                kept.append(r)
                kept_flags.append(False)
                kept_sure.append(False)
                self.stats.reacquired += 1
        return kept, kept_flags, kept_sure

    def _reacquired(self, track: Track, result: Any, found: Sequence[Any]) -> bool:
        """Is the pose estimated in a lost track's coasted box that person, found again? Confident,
        continuing the track's motion, and not a duplicate of a pose already found (while they are
        hidden, their box holds the person in front)."""
        kp = np.asarray(result.keypoints, dtype=np.float64)
        if float(kp[:, 2].mean()) < self.coast_score:
            return False
        box = keypoint_box(kp, self.tracker.joint_score, enlarge=1.1)
        if box is None:
            return False
        if self.tracker._sigmas is None:
            return False
        ahead = replace(track, lost=track.lost + 1)  # where the tracker will look for them in this frame
        if float(self.tracker._similarity([ahead], kp[None], [box])[0, 0]) < self.tracker.match_threshold:
            return False
        if found:
            from hrnet.nms import oks_iou

            others = np.stack([np.asarray(r.keypoints, dtype=np.float64) for r in found])
            area = float((box[2] - box[0]) * (box[3] - box[1]))
            areas = []
            for o in others:
                b = keypoint_box(o, self.tracker.joint_score, enlarge=1.1)
                areas.append(area if b is None else float((b[2] - b[0]) * (b[3] - b[1])))
            oks = oks_iou(kp.reshape(-1), others.reshape(len(others), -1), area, np.array(areas),
                          sigmas=self.tracker._sigmas)
            if float(oks.max()) >= self.nms_oks:
                return False
        return True

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
