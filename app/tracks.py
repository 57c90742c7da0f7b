"""Tracks (people with one identity across the frames of a video): Qt-free queries.

A track is the set of people that share a ``track_id`` within one *sequence*: the frames of one
video (ordered by their frame index), or, in a document of still images, all its image frames in
document order. These functions read plain :mod:`hrnet.annotations` frames (``doc.data.frames``),
so they are tested without widgets; the track commands, the timeline and the review walk call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from app.review import person_confidence
from hrnet import Frame, Instance

__all__ = [
    "consecutive_runs",
    "reconcile_track_ids",
    "frames_after",
    "ids_for_kept_people",
    "ids_from_neighbours",
    "next_track_id",
    "pose_array",
    "sequence_of",
    "sequences",
    "track_ids",
    "track_members",
    "track_table",
    "video_neighbours",
    "weakest_track_frames",
]


def _seq_key(frame: Frame) -> str | None:
    return frame.video


def sequences(frames: Sequence[Frame]) -> list[list[int]]:
    """The document's sequences: per video its frames in frame-index order; the image frames (no
    video) in document order form one more sequence."""
    groups: dict[str | None, list[int]] = {}
    for i, fr in enumerate(frames):
        groups.setdefault(_seq_key(fr), []).append(i)
    out = []
    for key, idx in groups.items():
        if key is not None:
            idx = sorted(idx, key=lambda i: (frames[i].frame_index is None, frames[i].frame_index or 0, i))
        out.append(idx)
    return out


def sequence_of(frames: Sequence[Frame], frame: int) -> list[int]:
    """The sequence (see :func:`sequences`) frame ``frame`` belongs to, in order."""
    key = _seq_key(frames[frame])
    return next(s for s in sequences(frames) if _seq_key(frames[s[0]]) == key)


def frames_after(frames: Sequence[Frame], frame: int) -> list[int]:
    """``frame`` and the frames after it in its sequence."""
    seq = sequence_of(frames, frame)
    return seq[seq.index(frame):]


def consecutive_runs(frames: Sequence[Frame], indices: Sequence[int]) -> list[list[int]]:
    """Split ``indices`` into runs of consecutive frames of one video (frame index +1 each step), in
    playback order; image frames and isolated video frames become runs of one."""
    video = sorted((i for i in indices if frames[i].video is not None and frames[i].frame_index is not None),
                   key=lambda i: (frames[i].video, frames[i].frame_index))
    runs: list[list[int]] = []
    for i in video:
        prev = runs[-1][-1] if runs else None
        if (prev is not None and frames[prev].video == frames[i].video
                and frames[i].frame_index == frames[prev].frame_index + 1):
            runs[-1].append(i)
        else:
            runs.append([i])
    taken = set(video)
    runs.extend([i] for i in indices if i not in taken)
    return runs


def track_ids(frames: Sequence[Frame]) -> list[int]:
    """Every track id used in the document, ascending."""
    return sorted({p.track_id for fr in frames for p in fr.instances if p.track_id is not None})


def next_track_id(frames: Sequence[Frame]) -> int:
    """An id no person of the document uses yet."""
    ids = track_ids(frames)
    return ids[-1] + 1 if ids else 0


def track_members(frames: Sequence[Frame], track_id: int,
                  within: Sequence[int] | None = None) -> Iterator[tuple[int, int]]:
    """(frame, person index) of every person of track ``track_id`` (in ``within`` frames, in that
    order; default every frame in document order)."""
    for f in (range(len(frames)) if within is None else within):
        for i, p in enumerate(frames[f].instances):
            if p.track_id == track_id:
                yield f, i


def pose_array(instance: Instance) -> np.ndarray:
    """(K, 3) x, y, score of a person for the tracker: model joint scores where predicted, 1 for
    joints placed by hand or read without scores, 0 for joints that are not labelled."""
    kp = np.asarray(instance.keypoints, dtype=np.float64)
    labelled = kp[:, 2] > 0
    if instance.joint_scores is None:
        score = labelled.astype(np.float64)
    else:
        score = np.where(np.asarray(instance.edited, bool), 1.0, np.nan_to_num(instance.joint_scores))
        score = np.where(labelled, score, 0.0)
    return np.concatenate([kp[:, :2], score[:, None]], axis=1)


def track_table(frames: Sequence[Frame]) -> dict[int, dict[int, float]]:
    """For the timeline: track id -> {frame: confidence} (the person's mean model confidence, or
    1.0 for a person labelled by hand), every frame where the track is present."""
    table: dict[int, dict[int, float]] = {}
    for f, fr in enumerate(frames):
        for p in fr.instances:
            if p.track_id is None:
                continue
            c = person_confidence(p)
            table.setdefault(p.track_id, {})[f] = 1.0 if c is None else c
    return table


def weakest_track_frames(frames: Sequence[Frame], track_id: int, unreviewed_only: bool = True,
                         confidence: Callable[[Instance], float | None] = person_confidence) -> list[tuple[int, int]]:
    """(frame, person index) of track ``track_id``'s predicted people, weakest first (frames marked
    reviewed left out with ``unreviewed_only``); people without a model confidence are left out."""
    found = []
    for f, i in track_members(frames, track_id):
        if unreviewed_only and frames[f].reviewed:
            continue
        c = confidence(frames[f].instances[i])
        if c is not None:
            found.append((c, f, i))
    found.sort()
    return [(f, i) for _c, f, i in found]


def _iou_xywh(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    union = a[2] * a[3] + b[2] * b[3] - iw * ih
    return float(iw * ih / union) if union > 0 else 0.0


def reconcile_track_ids(frames: Sequence[Frame], predictions: dict[int, list[Instance]],
                        min_iou: float = 0.5, keep_reviewed: bool = False) -> dict[int, int]:
    """Which new track ids of a prediction run are tracks the document already has.

    ``predictions``: frame -> the run's new people (with their new ``track_id``). People the run
    does not replace (edited by hand, read from a file) keep their id; where a new prediction lands
    on such a person (box IoU >= ``min_iou``, the same test :class:`app.commands.ApplyPredictions`
    uses to drop it), that vote says "new id n is old id k". Each new id takes the old id it
    matched most often; an old id goes to one new id only (the one with most votes), so a frame
    never gets one id twice from this. ``keep_reviewed``: the run leaves frames marked reviewed as
    they are, so everyone there counts as kept. Returns {new id: old id}.
    """
    votes: dict[tuple[int, int], int] = {}
    for f, preds in predictions.items():
        fr = frames[f]
        size = (fr.width, fr.height) if fr.width > 0 and fr.height > 0 else None
        whole = keep_reviewed and fr.reviewed
        kept = [(p.track_id, p.box_or_auto(size)) for p in fr.instances
                if (whole or not p.is_prediction) and p.track_id is not None]
        if not kept:
            continue
        for p in preds:
            if p.track_id is None:
                continue
            box = p.box_or_auto(size)
            ious = [_iou_xywh(box, kb) for _t, kb in kept]
            best = int(np.argmax(ious))
            if ious[best] >= min_iou:
                key = (p.track_id, kept[best][0])
                votes[key] = votes.get(key, 0) + 1
    mapping: dict[int, int] = {}
    taken: set[int] = set()
    for (new, old), _n in sorted(votes.items(), key=lambda kv: -kv[1]):
        if new not in mapping and old not in taken:
            mapping[new] = old
            taken.add(old)
    return mapping


def video_neighbours(frames: Sequence[Frame]) -> dict[int, tuple[int | None, int | None]]:
    """(previous, next) frame of every video frame in its video (None at the ends), all at once."""
    out: dict[int, tuple[int | None, int | None]] = {}
    for seq in sequences(frames):
        if frames[seq[0]].video is None:
            continue
        for k, f in enumerate(seq):
            out[f] = (seq[k - 1] if k else None, seq[k + 1] if k + 1 < len(seq) else None)
    return out


def ids_from_neighbours(frames: Sequence[Frame], frame: int, people: Sequence[Instance],
                        min_iou: float = 0.3,
                        neighbours: tuple[int | None, int | None] | None = None) -> list[int | None]:
    """Track ids for ``people`` newly predicted on video frame ``frame`` alone (Predict this frame):
    each takes the id of the tracked person of the previous frame of the video (else the next) whose
    box overlaps theirs most (IoU >= ``min_iou``), best overlaps first, an id at most once and never
    one that a person kept on ``frame`` (not an untouched prediction) already has. None: no match.
    ``neighbours``: the (previous, next) frame when the caller has them (:func:`video_neighbours`
    gives every frame's at once; finding them here reads the whole document)."""
    out: list[int | None] = [None] * len(people)
    fr = frames[frame]
    if fr.video is None:
        return out
    if neighbours is None:
        seq = sequence_of(frames, frame)
        pos = seq.index(frame)
        neighbours = (seq[pos - 1] if pos > 0 else None, seq[pos + 1] if pos + 1 < len(seq) else None)
    size = (fr.width, fr.height) if fr.width > 0 and fr.height > 0 else None
    taken = {p.track_id for p in fr.instances if not p.is_prediction and p.track_id is not None}
    boxes = [p.box_or_auto(size) for p in people]
    for nb in neighbours:
        if nb is None:
            continue
        others = [(p.track_id, p.box_or_auto(size)) for p in frames[nb].instances if p.track_id is not None]
        pairs = sorted(((_iou_xywh(b, ob), i, t) for i, b in enumerate(boxes) for t, ob in others), reverse=True)
        for iou, i, t in pairs:
            if iou < min_iou:
                break
            if out[i] is None and t not in taken:
                out[i] = t
                taken.add(t)
    return out


def ids_for_kept_people(frame: Frame, predictions: Sequence[Instance], min_iou: float = 0.5) -> dict[int, int]:
    """{person index: track id} for the untracked people a prediction run keeps on ``frame`` (edited
    by hand, read from a file): each takes the id of the run's tracked prediction that lands on it
    (box IoU >= ``min_iou``, the overlap for which :class:`app.commands.ApplyPredictions` drops the
    prediction as a duplicate), best overlaps first, ids the frame already has left out."""
    size = (frame.width, frame.height) if frame.width > 0 and frame.height > 0 else None
    used = {p.track_id for p in frame.instances if p.track_id is not None}
    kept = [(i, p.box_or_auto(size)) for i, p in enumerate(frame.instances)
            if p.track_id is None and not p.is_prediction]
    preds = [(p.track_id, p.box_or_auto(size)) for p in predictions if p.track_id is not None]
    pairs = sorted(((_iou_xywh(kb, pb), i, t) for i, kb in kept for t, pb in preds), reverse=True)
    out: dict[int, int] = {}
    for iou, i, t in pairs:
        if iou < min_iou:
            break
        if i not in out and t not in used:
            out[i] = t
            used.add(t)
    return out
