"""The undoable edit of a project's keypoint set (no UI: the dialog asks before it is built).

:class:`SetKeypointSet` replaces the category's set and remaps every person's joints through
``origins`` (per new joint, the old joint whose position, visibility, hand-edit flag and score it
keeps; None: a new joint, unlabelled (v=0) on every person). Crowd regions' keypoint lists are
remapped the same way. Undo restores the old set and every person exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QUndoCommand

from hrnet import Category, Instance, KeypointSet

if TYPE_CHECKING:
    from app.document import AnnotationDocument

__all__ = ["SetKeypointSet", "remap_instance"]

log = logging.getLogger(__name__)


def remap_instance(inst: Instance, origins: Sequence[int | None]) -> Instance:
    """A copy of ``inst`` with joint ``j`` taken from old joint ``origins[j]`` (None: unlabelled)."""
    k = len(origins)
    kp = np.zeros((k, 3), dtype=np.float64)
    edited = np.zeros(k, dtype=bool)
    scores = None if inst.joint_scores is None else np.full(k, np.nan)
    for j, o in enumerate(origins):
        if o is None:
            continue
        kp[j] = inst.keypoints[o]
        edited[j] = bool(inst.edited[o]) if inst.edited is not None else False
        if scores is not None:
            scores[j] = inst.joint_scores[o]
    new = inst.copy()
    new.keypoints, new.edited, new.joint_scores = kp, edited, scores
    return new


def _remap_flat(values: list, origins: Sequence[int | None]) -> list:
    out: list = []
    for o in origins:
        out.extend([0, 0, 0] if o is None else values[3 * o:3 * o + 3])
    return out


def _copy_category(c: Category) -> Category:
    import copy

    return Category(keypoints=list(c.keypoints), skeleton=list(c.skeleton), id=c.id, name=c.name,
                    supercategory=c.supercategory, extra=copy.deepcopy(c.extra))


class SetKeypointSet(QUndoCommand):
    """Make ``kset`` the project's keypoint set; ``origins[j]`` = the old joint that new joint ``j``
    continues (default: joints matched by position when the count is unchanged, else by name)."""

    def __init__(self, document: AnnotationDocument, kset: KeypointSet,
                 origins: Sequence[int | None] | None = None, parent: QUndoCommand | None = None) -> None:
        super().__init__(f"Keypoint set: {kset.name or f'{len(kset)} joints'}", parent)
        self.document = document
        data = document.data
        old_k = data.category.num_keypoints
        if origins is None:
            if len(kset) == old_k:
                origins = list(range(old_k))
            else:
                where = {n.lower(): i for i, n in enumerate(data.category.keypoints)}
                origins = [where.get(n.lower()) for n in kset.names]
        origins = list(origins)
        if len(origins) != len(kset):
            raise ValueError(f"{len(origins)} origins for a set of {len(kset)} joints")
        bad = [o for o in origins if o is not None and not 0 <= o < old_k]
        if bad:
            raise ValueError(f"origins {bad} are not joints of the current set of {old_k}")
        self.kset = kset
        self.origins = origins
        self.old_category = _copy_category(data.category)
        self.new_category = _copy_category(data.category)
        self.new_category.set_keypoint_set(kset)
        identity = origins == list(range(old_k))
        # old and new people lists per frame (only frames with people or crowd regions)
        self.old_people: dict[int, list[Instance]] = {}
        self.new_people: dict[int, list[Instance]] = {}
        self.old_crowd: dict[int, list[dict]] = {}
        self.new_crowd: dict[int, list[dict]] = {}
        if identity:
            return
        for i, fr in enumerate(data.frames):
            if fr.instances:
                self.old_people[i] = list(fr.instances)
                self.new_people[i] = [remap_instance(inst, origins) for inst in fr.instances]
            if fr.crowd:
                self.old_crowd[i] = [dict(c) for c in fr.crowd]
                new = []
                for c in fr.crowd:
                    c2 = dict(c)
                    kp = c.get("keypoints")
                    if isinstance(kp, list) and len(kp) == 3 * old_k:
                        c2["keypoints"] = _remap_flat(kp, origins)
                        c2["num_keypoints"] = sum(1 for v in c2["keypoints"][2::3] if v)
                    new.append(c2)
                self.new_crowd[i] = new

    def _apply(self, category: Category, people: dict[int, list[Instance]], crowd: dict[int, list[dict]]) -> None:
        doc = self.document
        data = doc.data
        data.category = _copy_category(category)
        for i in sorted(set(crowd) | set(people)):
            fr = doc._touch(i)  # copy-on-write: a snapshot being written never sees half the change
            if i in crowd:
                fr.crowd = [dict(c) for c in crowd[i]]
            if i in people:
                fr.instances = list(people[i])
        doc.keypoint_set_changed.emit()
        for i in people:
            doc.instances_changed.emit(i)

    def redo(self) -> None:
        self._apply(self.new_category, self.new_people, self.new_crowd)

    def undo(self) -> None:
        self._apply(self.old_category, self.old_people, self.old_crowd)
