"""Pose tracking: the same person keeps the same id from frame to frame.

Top-down pose tracking in the spirit of the Simple Baselines PoseTrack entry and ByteTrack:

- every track predicts where its person is now: the last pose moved by a constant-velocity
  estimate of the body's motion (so a camera pan of 30 px per frame or people walking into each
  other are followed by where they are going, not where they were);
- detections and predicted tracks are compared by OKS (the COCO keypoint similarity, per-joint
  sigmas, scaled by the person's size) and by box IoU, and matched one-to-one by the Hungarian
  algorithm (``scipy.optimize.linear_sum_assignment``);
- confident poses are matched first; weaker ones (a person half hidden) may only continue an
  existing track, never start one; poses below ``min_pose_score`` are spurious and get ``-1``;
- a track that finds no pose coasts on its velocity for up to ``max_age`` frames (about a second
  at 30 fps) with a gate that widens with the time it has been lost, so a person who walks behind
  a pillar comes back with the same id.

:func:`track_poses` tracks a whole sequence offline (and drops tracks too short to be people);
:class:`PoseTracker` is the online form, one frame at a time. :func:`identity_metrics` scores ids
against the truth (IDF1, identity switches) for benchmarks and tests.

The defaults were chosen on the synthetic scenarios of ``benchmarks/tracking.py`` (crossings,
occlusion gaps, entries and exits, a 30 px/frame pan, spurious poses, missed detections).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["PoseTracker", "Track", "box_iou", "identity_metrics", "keypoint_box", "track_poses"]

_COCO_SIGMAS = np.array([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
                         0.107, 0.087, 0.087, 0.089, 0.089])


def _sigmas(num_joints: int, sigmas: Sequence[float] | None) -> np.ndarray:
    if sigmas is not None:
        s = np.asarray(sigmas, dtype=np.float64).reshape(-1)
        if s.shape[0] != num_joints:
            raise ValueError(f"tracking needs one OKS sigma per joint: {num_joints} joints, {s.shape[0]} sigmas")
        return s
    return _COCO_SIGMAS.copy() if num_joints == 17 else np.full(num_joints, 0.07)


def keypoint_box(keypoints: np.ndarray, min_score: float = 0.0, enlarge: float = 1.0) -> np.ndarray | None:
    """The ``x0, y0, x1, y1`` box of a pose's joints whose score exceeds ``min_score`` (all joints
    when none does), grown by ``enlarge`` about its centre; None for a pose with no joints."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    sel = kp[kp[:, 2] > min_score]
    if len(sel) == 0:
        sel = kp
    if len(sel) == 0:
        return None
    x0, y0 = sel[:, 0].min(), sel[:, 1].min()
    x1, y1 = sel[:, 0].max(), sel[:, 1].max()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = max(x1 - x0, 1.0) / 2 * enlarge, max(y1 - y0, 1.0) / 2 * enlarge
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes a (N, 4) and b (M, 4) -> (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class Track:
    """One person's track: id, last pose and box, motion estimate, bookkeeping."""

    id: int
    keypoints: np.ndarray  # (K, 3) at the last frame it was seen
    box: np.ndarray  # (4,) xyxy at the last frame it was seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px / frame
    lost: int = 0  # frames since it was last seen
    hits: int = 1
    score: float = 0.0

    def predicted(self, frames_ahead: int) -> tuple[np.ndarray, np.ndarray]:
        """Pose (K, 3) and box predicted ``frames_ahead`` frames after the last sighting."""
        shift = self.velocity * frames_ahead
        kp = self.keypoints.copy()
        kp[:, :2] += shift
        return kp, self.box + np.concatenate([shift, shift])


class PoseTracker:
    """Online pose tracker: call :meth:`update` with each frame's poses, in frame order.

    Options (the defaults work for people of any size at 10-60 fps):

    - ``sigmas``: per-joint OKS sigmas (COCO's for 17 joints, 0.07 otherwise);
    - ``min_pose_score``: poses whose mean joint score is below this are spurious (id -1);
    - ``new_track_score``: the mean joint score a pose needs to start a new track (weaker poses
      may only continue tracks);
    - ``joint_score``: joints above this score count for OKS, boxes and motion;
    - ``match_threshold``: the least similarity for a pose to continue a track; the similarity is
      the mean of OKS, box IoU and a centre-distance term (``exp(-d^2 / 2r^2)`` with ``r`` =
      ``distance_scale`` x the person's size) between the track's predicted pose and the pose;
    - ``unknown_motion``: how much wider the gate is for a track seen once (no velocity yet);
    - ``max_age``: frames a lost track is kept (and predicted forward) before it ends;
    - ``velocity_smoothing``: weight of the old velocity in its running estimate (0: last motion
      only);
    - ``first_id``: the id of the first new track (continue the numbering of an existing project);
    - ``image_size``: ``(width, height)``; lost tracks whose predicted box leaves the image end;
    - ``cascade``: match confident poses first, then the weak ones (ByteTrack); by default all
      poses compete in one assignment, which measured better (see ``benchmarks/tracking.py``).
    """

    def __init__(
        self,
        *,
        sigmas: Sequence[float] | None = None,
        min_pose_score: float = 0.2,
        new_track_score: float = 0.35,
        joint_score: float = 0.2,
        match_threshold: float = 0.15,
        max_age: int = 30,
        velocity_smoothing: float = 0.5,
        distance_scale: float = 0.3,
        unknown_motion: float = 0.5,
        first_id: int = 0,
        image_size: tuple[int, int] | None = None,
        cascade: bool = False,
    ) -> None:
        if max_age < 0:
            raise ValueError("max_age must be >= 0")
        if not 0.0 <= velocity_smoothing < 1.0:
            raise ValueError("velocity_smoothing must be in [0, 1)")
        self._sigmas_arg = sigmas
        self.min_pose_score = float(min_pose_score)
        self.new_track_score = float(new_track_score)
        self.joint_score = float(joint_score)
        self.match_threshold = float(match_threshold)
        self.max_age = int(max_age)
        self.velocity_smoothing = float(velocity_smoothing)
        self.distance_scale = float(distance_scale)
        self.unknown_motion = float(unknown_motion)
        self.next_id = int(first_id)
        self.cascade = bool(cascade)
        self.image_size = None if image_size is None else (float(image_size[0]), float(image_size[1]))
        self.tracks: list[Track] = []
        self.frame = -1
        self._sigmas: np.ndarray | None = None

    def reset(self) -> None:
        """Forget every track (a cut in the video); ids keep counting up."""
        self.tracks.clear()
        self.frame = -1

    # ------------------------------------------------------------------------------------------
    def update(self, keypoints: np.ndarray | Sequence[np.ndarray], boxes: np.ndarray | None = None, *,
               certain: Sequence[bool] | None = None) -> np.ndarray:
        """Track one frame. ``keypoints`` (N, K, 3): x, y, score per joint in image pixels, rows in
        any order; ``boxes`` (N, 4) xyxy person boxes (default: from the confident joints);
        ``certain``: rows known to be people whatever their score (e.g. inside a box drawn by hand:
        they may start a track). Returns (N,) int ids: the same id for the same person across
        frames, -1 for a pose too weak to be a person."""
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.size == 0:
            kp = kp.reshape(0, 0, 3)
        if kp.ndim != 3 or kp.shape[-1] != 3:
            raise ValueError(f"keypoints must be (N, K, 3), not {kp.shape}")
        n, k = kp.shape[0], kp.shape[1]
        if self._sigmas is None and n:
            self._sigmas = _sigmas(k, self._sigmas_arg)
        elif n and self._sigmas is not None and self._sigmas.shape[0] != k:
            raise ValueError(f"this tracker follows {self._sigmas.shape[0]}-joint poses, got {k} joints")
        self.frame += 1
        ids = np.full(n, -1, dtype=np.int64)
        det_boxes = self._boxes(kp, boxes)
        scores = self._pose_scores(kp)
        valid = np.array([s >= self.min_pose_score and b is not None for s, b in zip(scores, det_boxes)],
                         dtype=bool) if n else np.zeros(0, dtype=bool)
        for t in self.tracks:
            t.lost += 1  # frames since last seen, counting this one
        sure = np.zeros(n, dtype=bool) if certain is None else np.asarray(certain, dtype=bool).reshape(-1)
        if len(sure) != n:
            raise ValueError(f"{n} poses but {len(sure)} certain flags")
        valid = valid | (sure & np.array([b is not None for b in det_boxes], dtype=bool)) if n else valid
        strong = [i for i in range(n) if valid[i] and (scores[i] >= self.new_track_score or sure[i])]
        weak = [i for i in range(n) if valid[i] and not (scores[i] >= self.new_track_score or sure[i])]
        free = list(range(len(self.tracks)))
        # One assignment over every valid pose (a weak pose that continues a track's motion beats a
        # strong one that merely stands where the track was), or ByteTrack's cascade (strong first).
        groups = (strong, weak) if self.cascade else (strong + weak,)
        for group in groups:
            if not group or not free:
                continue
            sim = self._similarity([self.tracks[j] for j in free], kp[group], [det_boxes[i] for i in group])
            matched = self._assign(sim)
            used = set()
            for r, c in matched:
                track = self.tracks[free[r]]
                self._advance(track, kp[group[c]], det_boxes[group[c]], scores[group[c]])
                ids[group[c]] = track.id
                used.add(free[r])
            free = [j for j in free if j not in used]
        for i in strong:
            if ids[i] < 0:
                self.tracks.append(Track(id=self.next_id, keypoints=kp[i].copy(), box=det_boxes[i],
                                         score=float(scores[i]), lost=0))
                ids[i] = self.next_id
                self.next_id += 1
        self.tracks = [t for t in self.tracks if t.lost <= self.max_age and not self._left_the_image(t)]
        return ids

    def _left_the_image(self, track: Track) -> bool:
        """A lost track whose predicted box is mostly outside the image has walked out: it ends, so
        that someone entering there later is not taken for it."""
        if self.image_size is None or track.lost == 0:
            return False
        _, b = track.predicted(track.lost)
        w, h = self.image_size
        inside = max(min(b[2], w) - max(b[0], 0), 0) * max(min(b[3], h) - max(b[1], 0), 0)
        area = max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
        return bool(inside / area < 0.5)

    # ------------------------------------------------------------------------------------------
    def _pose_scores(self, kp: np.ndarray) -> np.ndarray:
        return kp[:, :, 2].mean(axis=1) if kp.shape[1] else np.zeros(len(kp))

    def _boxes(self, kp: np.ndarray, boxes: np.ndarray | None) -> list[np.ndarray | None]:
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            if len(b) != len(kp):
                raise ValueError(f"{len(kp)} poses but {len(b)} boxes")
            return [row.copy() for row in b]
        return [keypoint_box(p, self.joint_score, enlarge=1.1) for p in kp]

    def _similarity(self, tracks: list[Track], kp: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
        """(T, D) similarity: mean of OKS and IoU between each track's predicted pose/box and each pose,
        with the gate widened for tracks lost for a while (their position is less certain)."""
        assert self._sigmas is not None
        var = (2 * self._sigmas) ** 2
        t_kp, t_box, widen, reach = [], [], [], []
        for t in tracks:
            p, b = t.predicted(t.lost)
            t_kp.append(p)
            # the prediction's uncertainty grows with the gap, and is large before any motion is known
            grow = min(1.0 + 0.15 * max(t.lost - 1, 0), 2.5) + (self.unknown_motion if t.hits < 2 else 0.0)
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            hw, hh = (b[2] - b[0]) / 2 * grow, (b[3] - b[1]) / 2 * grow
            t_box.append(np.array([cx - hw, cy - hh, cx + hw, cy + hh]))
            widen.append(grow**2)
            reach.append(self.distance_scale * max(b[3] - b[1], b[2] - b[0], 1.0) * grow)
        tk = np.stack(t_kp)  # (T, K, 3)
        d_box = np.stack(boxes)
        tb = np.stack(t_box)
        iou = box_iou(tb, d_box)
        t_ctr = (tb[:, :2] + tb[:, 2:]) / 2
        d_ctr = (d_box[:, :2] + d_box[:, 2:]) / 2
        d2 = ((t_ctr[:, None, :] - d_ctr[None, :, :]) ** 2).sum(axis=2)
        near = np.exp(-d2 / (2 * np.asarray(reach)[:, None] ** 2))
        area_t = np.prod(np.clip(tb[:, 2:] - tb[:, :2], 1, None), axis=1) / np.asarray(widen)
        area_d = np.prod(np.clip(d_box[:, 2:] - d_box[:, :2], 1, None), axis=1)
        dx = tk[:, None, :, 0] - kp[None, :, :, 0]
        dy = tk[:, None, :, 1] - kp[None, :, :, 1]
        scale = (area_t[:, None] + area_d[None, :]) / 2 * np.asarray(widen)[:, None]
        e = (dx**2 + dy**2) / var[None, None, :] / (scale[:, :, None] + np.spacing(1)) / 2
        both = (tk[:, None, :, 2] > self.joint_score) & (kp[None, :, :, 2] > self.joint_score)
        count = both.sum(axis=2)
        oks = np.where(count > 0, np.where(both, np.exp(-e), 0).sum(axis=2) / np.maximum(count, 1), 0.0)
        return (oks + iou + near) / 3

    def _assign(self, sim: np.ndarray) -> list[tuple[int, int]]:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-sim)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if sim[r, c] >= self.match_threshold]

    def _advance(self, track: Track, kp: np.ndarray, box: np.ndarray, score: float) -> None:
        gap = max(track.lost, 1)
        both = (track.keypoints[:, 2] > self.joint_score) & (kp[:, 2] > self.joint_score)
        if both.sum() >= 2:
            motion = np.median(kp[both, :2] - track.keypoints[both, :2], axis=0) / gap
        else:
            motion = ((box[:2] + box[2:]) - (track.box[:2] + track.box[2:])) / 2 / gap
        a = self.velocity_smoothing if track.hits > 1 else 0.0
        track.velocity = a * track.velocity + (1 - a) * motion
        track.keypoints = kp.copy()
        track.box = np.asarray(box, dtype=np.float64).copy()
        track.lost = 0
        track.hits += 1
        track.score = float(score)


def track_poses(frames: Sequence[np.ndarray], **options: Any) -> list[np.ndarray]:
    """Track a whole sequence. ``frames[i]``: (N_i, K, 3) poses (x, y, score in image pixels) of frame
    i, rows in any order. Returns one (N_i,) int array per frame: the same id for the same person
    across the sequence (numbered 0, 1, ... in order of appearance), -1 for poses that are not
    tracked (spurious low-score poses, tracks shorter than ``min_track_length`` frames).

    ``options`` are :class:`PoseTracker`'s, plus ``boxes`` (a list of (N_i, 4) xyxy arrays) and
    ``min_track_length`` (default 3). Without ``image_size`` the frame is taken to reach as far as
    the furthest joint of the sequence."""
    min_len = int(options.pop("min_track_length", 3))
    boxes = options.pop("boxes", None)
    if "image_size" not in options:  # offline, the poses themselves say how large the frames are
        seen = [np.asarray(f, dtype=np.float64).reshape(-1, 3) for f in frames if np.size(f)]
        if seen:
            pts = np.concatenate(seen)
            pts = pts[pts[:, 2] > 0]
            if len(pts):
                options["image_size"] = (float(pts[:, 0].max()), float(pts[:, 1].max()))
    tracker = PoseTracker(**options)
    raw: list[np.ndarray] = []
    arrays: list[np.ndarray] = []
    for i, poses in enumerate(frames):
        arr = np.asarray(poses, dtype=np.float64)
        if arr.size == 0:
            raw.append(np.zeros(0, dtype=np.int64))
            arrays.append(arr.reshape(0, 0, 3))
            tracker.update(np.zeros((0, 0, 3)))
            continue
        arrays.append(arr)
        raw.append(tracker.update(arr, None if boxes is None else boxes[i]))
    _extend_backwards(tracker, arrays, raw, boxes)
    lengths: dict[int, int] = {}
    for ids in raw:
        for t in ids[ids >= 0]:
            lengths[int(t)] = lengths.get(int(t), 0) + 1
    order: dict[int, int] = {}
    out = []
    for ids in raw:
        new = np.full(len(ids), -1, dtype=np.int64)
        for j, t in enumerate(ids):
            if t >= 0 and lengths[int(t)] >= min_len:
                new[j] = order.setdefault(int(t), len(order))
        out.append(new)
    return out


def _extend_backwards(tracker: PoseTracker, frames: list[np.ndarray], ids: list[np.ndarray],
                      boxes: Sequence[np.ndarray] | None) -> None:
    """Offline only: a person is usually seen weakly for a few frames before their track starts
    (walking in, coming out from behind something). Follow each track back in time from its first
    frame, through the untracked poses that were valid but too weak to start a track."""
    first: dict[int, int] = {}
    for t, row in enumerate(ids):
        for tid in row[row >= 0]:
            first.setdefault(int(tid), t)
    for tid, t0 in sorted(first.items(), key=lambda item: -item[1]):
        row = ids[t0]
        j = int(np.flatnonzero(row == tid)[0])
        kp = frames[t0][j]
        box = tracker._boxes(frames[t0][j:j + 1], None if boxes is None else boxes[t0][j:j + 1])[0]
        nxt = ids[t0 + 1] if t0 + 1 < len(ids) else np.zeros(0)
        velocity = np.zeros(2)
        if tid in nxt:
            k = int(np.flatnonzero(nxt == tid)[0])
            both = (kp[:, 2] > tracker.joint_score) & (frames[t0 + 1][k][:, 2] > tracker.joint_score)
            if both.sum() >= 2:
                velocity = -np.median(frames[t0 + 1][k][both, :2] - kp[both, :2], axis=0)
        track = Track(id=tid, keypoints=kp.copy(), box=box, velocity=velocity, hits=2)
        for t in range(t0 - 1, max(t0 - tracker.max_age, 0) - 1, -1):
            track.lost += 1
            cand = [i for i in range(len(ids[t])) if ids[t][i] < 0]
            if not cand:
                continue
            kp_t = frames[t][cand]
            valid = kp_t[:, :, 2].mean(axis=1) >= tracker.min_pose_score
            cand = [c for c, ok in zip(cand, valid) if ok]
            if not cand:
                continue
            b_t = tracker._boxes(frames[t][cand], None if boxes is None else np.asarray(boxes[t])[cand])
            if any(b is None for b in b_t):
                continue
            sim = tracker._similarity([track], frames[t][cand], b_t)[0]
            best = int(np.argmax(sim))
            if sim[best] < tracker.match_threshold:
                continue
            ids[t][cand[best]] = tid
            track.keypoints, track.box, track.lost = frames[t][cand[best]].copy(), b_t[best], 0


def identity_metrics(truth: Sequence[Sequence[Any]], predicted: Sequence[Sequence[int]]) -> dict[str, float]:
    """IDF1 and identity switches of predicted ids against true ids.

    ``truth[i][j]`` is the true identity of detection j of frame i (None for a spurious detection),
    ``predicted[i][j]`` the tracker's id (-1: not tracked). IDF1 (Ristani et al. 2016) matches true
    and predicted identities one-to-one over the whole sequence to maximise the detections they
    share; an identity switch is a true identity whose predicted id changes from its previous
    tracked detection (CLEAR MOT). Returns ``{"idf1", "id_switches", "idtp", "idfp", "idfn",
    "true_ids", "predicted_ids"}``."""
    from scipy.optimize import linear_sum_assignment

    pairs: dict[tuple[Any, int], int] = {}
    n_true: dict[Any, int] = {}
    n_pred: dict[int, int] = {}
    switches = 0
    last: dict[Any, int] = {}
    for gt_frame, pr_frame in zip(truth, predicted):
        if len(gt_frame) != len(pr_frame):
            raise ValueError("truth and predicted must have the same detections per frame")
        for g, p in zip(gt_frame, pr_frame):
            p = int(p)
            if g is not None:
                n_true[g] = n_true.get(g, 0) + 1
            if p >= 0:
                n_pred[p] = n_pred.get(p, 0) + 1
            if g is not None and p >= 0:
                pairs[(g, p)] = pairs.get((g, p), 0) + 1
                if g in last and last[g] != p:
                    switches += 1
                last[g] = p
    gts, prs = sorted(n_true, key=str), sorted(n_pred)
    idtp = 0
    if gts and prs:
        m = np.zeros((len(gts), len(prs)))
        gi = {g: i for i, g in enumerate(gts)}
        pi = {p: i for i, p in enumerate(prs)}
        for (g, p), c in pairs.items():
            m[gi[g], pi[p]] = c
        r, c = linear_sum_assignment(-m)
        idtp = int(m[r, c].sum())
    total_true, total_pred = sum(n_true.values()), sum(n_pred.values())
    idfn, idfp = total_true - idtp, total_pred - idtp
    idf1 = 2 * idtp / max(2 * idtp + idfp + idfn, 1)
    return {"idf1": idf1, "id_switches": switches, "idtp": idtp, "idfp": idfp, "idfn": idfn,
            "true_ids": len(gts), "predicted_ids": len(prs)}
