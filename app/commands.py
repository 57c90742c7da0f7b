"""Every edit of an :class:`~app.document.AnnotationDocument` as an undoable ``QUndoCommand``.

Commands take the document, indices and values; they never open UI, so they are tested without
widgets. Push them with ``document.push(cmd)``: the stack runs ``redo()`` at once. Each command
stores the old and the new values; redo/undo change the document's data and emit its narrow
signals (``instance_changed`` for edits of one person, ``instances_changed`` when people are
added/removed/replaced, ``reviewed_changed``). Undo/redo of a single-frame edit shows that frame
(``set_current_index``) so the user sees what changed.

Joint edits (move, place, delete, visibility, swap) mark the joints as edited by hand
(``Instance.edited``), which :class:`ApplyPredictions` respects.

Drags: a continuous drag is ONE undo step. The canvas calls :func:`new_drag_id` when the mouse
button goes down and passes that id to every :class:`MoveKeypoint` (or :class:`SetBox`) of the
drag; consecutive commands merge (``mergeWith``) only while they have the same drag id and move
the same joint of the same person of the same frame. Commands without a drag id never merge
(e.g. a canvas that pushes one command on release, or keyboard nudges). A drag that ends where
it started leaves no undo step.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from app import texts
from app.document import AnnotationDocument
from hrnet import Instance

__all__ = [
    "AddInstance",
    "ApplyPredictions",
    "CopyFromPreviousFrame",
    "DeleteInstance",
    "DeleteKeypoint",
    "MoveKeypoint",
    "PlaceKeypoint",
    "ReplaceInstance",
    "RepredictPerson",
    "SetBox",
    "SetReviewed",
    "SetRunTrackIds",
    "SetTrackId",
    "SetVisibility",
    "SwapLeftRight",
    "box_iou",
    "new_drag_id",
]

logger = logging.getLogger(__name__)

_drag_counter = itertools.count(1)

VISIBILITY_NAMES = {0: "not labelled", 1: "occluded", 2: "visible"}


def new_drag_id() -> int:
    """A fresh id for one drag (mouse press to release); see the module docstring."""
    return next(_drag_counter)


def _assign(dst: Instance, src: Instance) -> None:
    """Copy every field but the id from ``src`` into the live instance ``dst`` (identity kept)."""
    dst.keypoints = src.keypoints.copy()
    dst.bbox = None if src.bbox is None else src.bbox.copy()
    dst.score = src.score
    dst.track_id = src.track_id
    dst.edited = src.edited.copy()
    dst.joint_scores = None if src.joint_scores is None else src.joint_scores.copy()
    dst.category_id = src.category_id
    dst.extra = dict(src.extra)


def _finite_xy(xy: Sequence[float]) -> tuple[float, float]:
    x, y = float(xy[0]), float(xy[1])
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"joint position must be finite, got ({x}, {y})")
    return x, y


def box_iou(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """IoU of two xywh boxes (0 when either is None or empty)."""
    if a is None or b is None:
        return 0.0
    ax0, ay0, aw, ah = (float(v) for v in a)
    bx0, by0, bw, bh = (float(v) for v in b)
    iw = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    ih = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class _DocumentCommand(QUndoCommand):
    def __init__(self, document: AnnotationDocument, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self.document = document
        self._done_once = False

    def _show(self, frame: int) -> None:
        if self._done_once:  # not on the first redo (push): the edit happened where the user is
            self.document._show(frame)


def describe_target(document: AnnotationDocument, frame: int, instance: int | None = None,
                    joints: Sequence[int] = ()) -> str:
    """What an edit touched, as the History shows it: ``#3 left_knee, frame 12`` (1-based, as the
    canvas tags and the frame list number them)."""
    names = document.data.category.keypoints
    parts = []
    if instance is not None:
        who = f"#{int(instance) + 1}"
        if joints:
            js = [int(j) for j in joints]
            what = ", ".join(names[j] if 0 <= j < len(names) else str(j) for j in js[:3])
            who += f" {what}" + (f" (+{len(js) - 3} more)" if len(js) > 3 else "")
        parts.append(who)
    parts.append(f"frame {int(frame) + 1}")
    return ", ".join(parts)


class _InstanceEdit(_DocumentCommand):
    """Replaces the values of one person (in place, unless a snapshot shares the Instance object:
    then the document puts a copy in its place first, see AnnotationDocument.snapshot).

    ``text`` is the verb ("Set occluded"); the History shows it with what changed:
    "Set occluded: #3 left_knee, frame 12" (``joints`` name the joints)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, text: str,
                 parent: QUndoCommand | None = None, joints: Sequence[int] = ()) -> None:
        super().__init__(document, f"{text}: {describe_target(document, frame, instance, joints)}", parent)
        self.frame = int(frame)
        self.index = int(instance)
        self.before = document.instance(self.frame, self.index).copy()
        self.after = self.before.copy()

    def _apply(self, values: Instance) -> None:
        _assign(self.document._writable_instance(self.frame, self.index), values)
        self.document.instance_changed.emit(self.frame, self.index)

    def redo(self) -> None:
        self._show(self.frame)
        self._apply(self.after)
        self._done_once = True

    def undo(self) -> None:
        self._show(self.frame)
        self._apply(self.before)


class MoveKeypoint(_InstanceEdit):
    """Move joint ``joint`` of a person to ``xy`` (a not-labelled joint becomes visible).

    Consecutive moves with the same ``drag_id`` of the same joint merge into one undo step.
    """

    ID = 1001

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, joint: int,
                 xy: Sequence[float], drag_id: int | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Move", parent, joints=[joint])
        self.joint = int(joint)
        self.drag_id = drag_id
        self._set_xy(xy)

    def _set_xy(self, xy: Sequence[float]) -> None:
        j = self.joint
        self.after.keypoints[j, :2] = _finite_xy(xy)
        if self.before.keypoints[j, 2] == 0:
            self.after.keypoints[j, 2] = 2.0
        self.after.edited[j] = True

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveKeypoint) or self.drag_id is None or other.drag_id != self.drag_id:
            return False
        if (other.frame, other.index, other.joint) != (self.frame, self.index, self.joint):
            return False
        self._set_xy(other.after.keypoints[other.joint, :2])
        if self.after == self.before:
            self.setObsolete(True)  # dragged back to where it started: no step
        return True


class PlaceKeypoint(_InstanceEdit):
    """Place joint ``joint`` (usually a not-labelled one) at ``xy`` with ``visibility`` (1 or 2)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, joint: int,
                 xy: Sequence[float], visibility: int = 2, parent: QUndoCommand | None = None) -> None:
        if visibility not in (1, 2):
            raise ValueError(f"visibility of a placed joint must be 1 or 2, got {visibility}")
        super().__init__(document, frame, instance, "Place", parent, joints=[joint])
        self.after.keypoints[joint] = (*_finite_xy(xy), float(visibility))
        self.after.edited[joint] = True


class SetVisibility(_InstanceEdit):
    """Set the visibility (0 not labelled, 1 occluded, 2 visible) of one or more joints.

    Coordinates are kept (so "not labelled" then "visible" restores the joint); to put a joint
    that was never placed somewhere, use :class:`PlaceKeypoint`.
    """

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, joints: int | Sequence[int],
                 visibility: int, parent: QUndoCommand | None = None) -> None:
        if visibility not in (0, 1, 2):
            raise ValueError(f"visibility must be 0, 1 or 2, got {visibility}")
        js = [int(joints)] if isinstance(joints, (int, np.integer)) else [int(j) for j in joints]
        super().__init__(document, frame, instance, f"Set {VISIBILITY_NAMES[visibility]}", parent, joints=js)
        self.joints = js
        self.after.keypoints[js, 2] = float(visibility)
        self.after.edited[js] = True


class DeleteKeypoint(_InstanceEdit):
    """Remove one joint's label: (0, 0, not labelled)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, joint: int,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Delete", parent, joints=[joint])
        self.joint = int(joint)
        self.after.keypoints[joint] = 0.0
        self.after.edited[joint] = True


class SetBox(_InstanceEdit):
    """Move or resize a person's box (``bbox`` xywh; None = derive from the keypoints).

    Consecutive commands with the same ``drag_id`` for the same person merge into one step.
    An ``area`` read from the file (segmentation area) is dropped: it no longer matches.
    """

    ID = 1002

    def __init__(self, document: AnnotationDocument, frame: int, instance: int,
                 bbox: Sequence[float] | np.ndarray | None, drag_id: int | None = None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Set box" if bbox is not None else "Clear box", parent)
        self.drag_id = drag_id
        self._set_box(bbox)

    def _set_box(self, bbox: Sequence[float] | np.ndarray | None) -> None:
        box = None if bbox is None else np.array(bbox, dtype=np.float64).reshape(4)
        if box is not None and not np.isfinite(box).all():
            raise ValueError(f"box must be finite, got {box.tolist()}")
        self.after.bbox = box
        self.after.extra.pop("area", None)

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetBox) or self.drag_id is None or other.drag_id != self.drag_id:
            return False
        if (other.frame, other.index) != (self.frame, self.index):
            return False
        self._set_box(other.after.bbox)
        if self.after == self.before:
            self.setObsolete(True)
        return True


class SwapLeftRight(_InstanceEdit):
    """Swap the left and right joints of a person: the project's keypoint-set pairs (stored ones, else
    the one left/right rule of :mod:`hrnet.keypoints`)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int,
                 pairs: Sequence[tuple[int, int]] | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Swap left/right", parent)
        pairs = list(pairs) if pairs is not None else document.flip_pairs()
        order = np.arange(self.after.num_joints)
        for a, b in pairs:
            order[a], order[b] = b, a
        self.after.keypoints = self.before.keypoints[order].copy()
        if self.before.joint_scores is not None:
            self.after.joint_scores = self.before.joint_scores[order].copy()
        swapped = order != np.arange(len(order))
        self.after.edited = self.before.edited[order] | swapped


class SetTrackId(_InstanceEdit):
    """Set (or clear, None) the track id of a person."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, track_id: int | None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Set track", parent)
        self.after.track_id = None if track_id is None else int(track_id)


class ReplaceInstance(_InstanceEdit):
    """Replace all values of a person with ``instance`` (its id is kept) — a generic edit."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, new: Instance,
                 text: str = "Edit person", parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, text, parent)
        self.after = new.copy()


def hand_joints(instance: Instance) -> np.ndarray:
    """(K,) bool: the joints a prediction must not replace unasked — those edited by hand, and every
    labelled joint of a person without model scores (ground truth, another tool's labels)."""
    if instance.joint_scores is None:
        return instance.keypoints[:, 2] > 0
    return np.asarray(instance.edited, bool).copy()


class RepredictPerson(_InstanceEdit):
    """Replace a person's model joints with a new prediction ``pose`` (an Instance or PoseResult);
    with ``replace_hand`` also their hand-edited / ground-truth joints (see :func:`hand_joints`).

    The joints replaced take the new position, visibility and confidence and are no longer marked
    edited; the others stay as they were. ``replaced`` counts them (0: the command is obsolete)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, pose: Any,
                 replace_hand: bool = False, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, frame, instance, "Re-predict", parent)
        new = pose.copy() if isinstance(pose, Instance) else Instance.from_pose_result(pose)
        if new.num_joints != self.before.num_joints:
            raise ValueError(f"prediction has {new.num_joints} joints, the person has {self.before.num_joints}")
        mask = np.ones(new.num_joints, bool) if replace_hand else ~hand_joints(self.before)
        a = self.after
        a.keypoints[mask] = new.keypoints[mask]
        old_scores = a.joint_scores if a.joint_scores is not None else np.zeros(a.num_joints)
        new_scores = new.joint_scores if new.joint_scores is not None else np.zeros(a.num_joints)
        a.joint_scores = np.where(mask, new_scores, old_scores)
        a.edited = np.asarray(a.edited, bool) & ~mask
        if self.before.joint_scores is None and not mask.all():
            a.edited = a.edited | ~mask  # kept ground-truth joints count as hand-made from now on
        if new.score is not None:
            a.score = new.score
        self.replaced = int(mask.sum())
        if self.replaced == 0:
            self.setObsolete(True)


class _FrameListEdit(_DocumentCommand):
    """Replaces the people list of one or more frames (old and new lists of the same objects)."""

    def __init__(self, document: AnnotationDocument, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, text, parent)
        self.old: dict[int, list[Instance]] = {}
        self.new: dict[int, list[Instance]] = {}

    def _stage(self, frame: int, instances: list[Instance]) -> None:
        self.old[frame] = list(self.document.frame(frame).instances)
        self.new[frame] = instances

    def _apply(self, lists: dict[int, list[Instance]]) -> None:
        if len(lists) == 1:
            self._show(next(iter(lists)))
        for frame, instances in lists.items():
            self.document._set_instances(frame, list(instances))

    def redo(self) -> None:
        self._apply(self.new)
        self._done_once = True

    def undo(self) -> None:
        self._apply(self.old)


class AddInstance(_FrameListEdit):
    """Add a person to a frame (at ``index``, default: last)."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: Instance, index: int | None = None,
                 parent: QUndoCommand | None = None) -> None:
        people = document.frame(frame).instances
        where = len(people) if index is None else int(index)
        super().__init__(document, f"Add person: {describe_target(document, frame, where)}", parent)
        if instance.num_joints != document.data.num_joints:
            raise ValueError(f"person has {instance.num_joints} joints, the skeleton has {document.data.num_joints}")
        people = list(document.frame(frame).instances)
        self.index = len(people) if index is None else int(index)
        self.instance = instance
        people.insert(self.index, instance)
        self._stage(frame, people)


class DeleteInstance(_FrameListEdit):
    """Delete a person from a frame."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, f"Delete person: {describe_target(document, frame, instance)}", parent)
        people = list(document.frame(frame).instances)
        self.instance = people.pop(int(instance))
        self._stage(frame, people)


class CopyFromPreviousFrame(_FrameListEdit):
    """Copy people of another frame (default: the previous one) into ``frame``.

    ``instances`` picks people of the source frame by index (default: all). Copies keep
    keypoints, box, track id and edited flags, and get a new annotation id on save.
    """

    def __init__(self, document: AnnotationDocument, frame: int, instances: Sequence[int] | None = None,
                 source_frame: int | None = None, parent: QUndoCommand | None = None) -> None:
        src = frame - 1 if source_frame is None else int(source_frame)
        if not 0 <= src < document.num_frames() or src == frame:
            raise IndexError(f"no frame {src} to copy people from into frame {frame}")
        src_people = document.frame(src).instances
        picked = range(len(src_people)) if instances is None else instances
        copies = []
        for i in picked:
            c = src_people[i].copy()
            c.id = None
            copies.append(c)
        super().__init__(document, f"Copy {texts.people(len(copies))} from frame {src + 1} to frame {int(frame) + 1}",
                         parent)
        self.source_frame = src
        self._stage(frame, list(document.frame(frame).instances) + copies)


PREDICTION_RUN_ID = 1003  # QUndoCommand.id() of the steps of one prediction run (they merge)


class _RunStep(_FrameListEdit):
    """A frame-list edit that belongs to a prediction run: ``run`` is the run's token (any object;
    None: a step on its own). Consecutive edits of the same run merge (``mergeWith``) into ONE undo
    step, so a run can apply each frame as it arrives and still be undone with one Ctrl+Z. Per
    frame the merged step keeps the list from before its first edit and the list after its last.
    Anything pushed between two edits of a run (the user's own edit during the run) ends the merge:
    later frames form a new step above it, so the stack stays consistent."""

    def __init__(self, document: AnnotationDocument, text: str, run: object | None = None,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, text, parent)
        self.run = run

    def id(self) -> int:
        return PREDICTION_RUN_ID if self.run is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _RunStep) or self.run is None or other.run is not self.run:
            return False
        for frame, people in other.new.items():
            self.old.setdefault(frame, other.old[frame])
            self.new[frame] = people
        self._merged(other)
        return True

    def _merged(self, other: _RunStep) -> None:
        """Hook after ``other`` was merged in (e.g. to update the text)."""


class ApplyPredictions(_RunStep):
    """Apply model results to one or many frames as ONE undo step.

    ``predictions`` maps frame index -> the people the model found there (Instances, e.g. from
    ``Instance.from_prediction``, or PoseResult-like objects with ``.keypoints``/``.score``/``.box``).

    Policy, per frame:

    1. Untouched model output (``Instance.is_prediction``: it has model joint scores and no
       joint edited by hand) is removed.
    2. Everyone else is kept unchanged: people with at least one joint placed or corrected by
       hand (hand work is never overwritten by the model), and people read from a file without
       joint scores (ground truth or another tool's labels).
    3. The new predictions are added, except those whose box overlaps a kept person's box with
       IoU >= ``dedupe_iou`` (the model found that same person again).
    4. With ``skip_reviewed`` frames marked reviewed are left as they are.

    Frames where nothing changes are left out; ``changed_frames`` lists the others. A command
    that changes nothing is obsolete (QUndoStack drops it).

    With ``run`` (a token, see :class:`_RunStep`) the commands of one prediction run, one per frame
    as the results arrive, merge into one step ("Apply predictions (N frames)", N frames changed).
    """

    def __init__(self, document: AnnotationDocument, predictions: Mapping[int, Sequence[Any]],
                 dedupe_iou: float = 0.5, skip_reviewed: bool = False, text: str | None = None,
                 parent: QUndoCommand | None = None, run: object | None = None) -> None:
        n = len(predictions)
        one = f"Apply predictions: frame {int(next(iter(predictions))) + 1}" if n == 1 else ""
        super().__init__(document, text or (f"Apply predictions ({n} frames)" if n != 1 else one),
                         run=run, parent=parent)
        self._fixed_text = text is not None
        K = document.data.num_joints
        for frame, preds in sorted(predictions.items()):
            fr = document.frame(frame)
            if skip_reviewed and fr.reviewed:
                continue
            new_people = [p.copy() if isinstance(p, Instance) else Instance.from_pose_result(p) for p in preds]
            for p in new_people:
                if p.num_joints != K:
                    raise ValueError(f"frame {frame}: prediction has {p.num_joints} joints, the skeleton has {K}")
                p.id = None
            kept = [p for p in fr.instances if not p.is_prediction]
            size = (fr.width, fr.height) if fr.width > 0 and fr.height > 0 else None
            kept_boxes = [p.box_or_auto(size) for p in kept]
            result = list(kept)
            for p in new_people:
                box = p.box_or_auto(size)
                if any(box_iou(box, kb) >= dedupe_iou for kb in kept_boxes):
                    continue
                result.append(p)
            if len(result) == len(fr.instances) and all(
                a is b or (a == b) for a, b in zip(result, fr.instances)
            ):
                continue
            self._stage(frame, result)
        self.changed_frames = sorted(self.new)
        if not self.new:
            self.setObsolete(True)

    def _merged(self, other: _RunStep) -> None:
        self.changed_frames = sorted(self.new)
        if not self._fixed_text and len(self.new) > 1:
            self.setText(f"Apply predictions ({len(self.new)} frames)")


class SetRunTrackIds(_RunStep):
    """Set the track ids of many people (``changes``: (frame, person) -> id, None clears) as an
    edit that can join a prediction run's step (``run``): the people whose id changes are replaced
    by changed copies in their frame's list. (:class:`app.track_commands.SetTrackIds` changes the
    people in place, so a step that restores the lists from before the run would not undo it.)
    Frames where nothing changes are left out; an empty command is obsolete."""

    def __init__(self, document: AnnotationDocument, changes: Mapping[tuple[int, int], int | None],
                 text: str = "Set tracks", run: object | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, text, run=run, parent=parent)
        by_frame: dict[int, dict[int, int | None]] = {}
        for (f, i), t in changes.items():
            by_frame.setdefault(int(f), {})[int(i)] = None if t is None else int(t)
        for f, ids in sorted(by_frame.items()):
            people = list(document.frame(f).instances)
            changed = False
            for i, t in ids.items():
                if people[i].track_id != t:
                    people[i] = people[i].copy()
                    people[i].track_id = t
                    changed = True
            if changed:
                self._stage(f, people)
        if not self.new:
            self.setObsolete(True)


class SetReviewed(_DocumentCommand):
    """Mark one or many frames reviewed (or not)."""

    def __init__(self, document: AnnotationDocument, frames: int | Sequence[int], reviewed: bool = True,
                 parent: QUndoCommand | None = None) -> None:
        fs = [int(frames)] if isinstance(frames, (int, np.integer)) else [int(f) for f in frames]
        what = "reviewed" if reviewed else "not reviewed"
        text = f"Mark {len(fs)} frames {what}" if len(fs) != 1 else f"Mark frame {fs[0] + 1} {what}"
        super().__init__(document, text, parent)
        self.reviewed = bool(reviewed)
        self.old = {f: document.frame(f).reviewed for f in fs}

    def redo(self) -> None:
        if len(self.old) == 1:
            self._show(next(iter(self.old)))
        for f in self.old:
            self.document._set_reviewed(f, self.reviewed)
        self._done_once = True

    def undo(self) -> None:
        if len(self.old) == 1:
            self._show(next(iter(self.old)))
        for f, value in self.old.items():
            self.document._set_reviewed(f, value)
