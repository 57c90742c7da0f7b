"""Undoable edits of tracks (people's identities across frames), each one ``QUndoCommand``.

Like :mod:`app.commands` they take the document and plain values, never open UI, and raise
``ValueError`` with a message for the user when an edit makes no sense (the caller shows it):

- :class:`SetTrackIds` — any set of (frame, person) -> track id changes as one step (tracking
  results, and the base of the edits below);
- :class:`SwapTracks` — swap the identities of two people from frame f onwards;
- :class:`MergeTracks` — one track takes over another (they must not share a frame);
- :class:`SplitTrack` — from frame f onwards a track gets a new id;
- :class:`DeleteTrack` — delete the people of a track in every frame;
- :class:`AssignTrack` — put one person on a track (whoever held it in that frame gets theirs);
- :class:`InterpolateTrack` — joints corrected by hand at two frames fill the frames between;
- :class:`PropagatePose` — copy a person's pose into the next N frames as predictions.

"From frame f onwards" means the frames after f in f's sequence (:func:`app.tracks.frames_after`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtGui import QUndoCommand

from app import texts, tracks
from app.commands import _DocumentCommand, _FrameListEdit
from app.document import AnnotationDocument
from hrnet import Instance, interpolate_keyframes

__all__ = ["AssignTrack", "DeleteTrack", "InterpolateTrack", "MergeTracks", "PropagatePose", "SetTrackIds",
           "SplitTrack", "SwapTracks"]


def _label(track: int | None) -> str:
    return "untracked" if track is None else f"#{track}"


class SetTrackIds(_DocumentCommand):
    """Set the track ids of many people at once: ``changes`` maps (frame, person index) -> id (None
    clears it). Changes that change nothing are dropped; an empty command is obsolete."""

    def __init__(self, document: AnnotationDocument, changes: Mapping[tuple[int, int], int | None],
                 text: str = "Set tracks", parent: QUndoCommand | None = None) -> None:
        super().__init__(document, text, parent)
        self.changes: dict[tuple[int, int], tuple[int | None, int | None]] = {}
        for (f, i), new in sorted(changes.items()):
            old = document.instance(f, i).track_id
            new = None if new is None else int(new)
            if old != new:
                self.changes[(int(f), int(i))] = (old, new)
        self.frames = sorted({f for f, _i in self.changes})
        if not self.changes:
            self.setObsolete(True)

    def _apply(self, which: int) -> None:
        if len(self.frames) == 1:
            self._show(self.frames[0])
        for (f, i), values in self.changes.items():
            self.document.instance(f, i).track_id = values[which]
        for f in self.frames:
            self.document.instances_changed.emit(f)

    def redo(self) -> None:
        self._apply(1)
        self._done_once = True

    def undo(self) -> None:
        self._apply(0)


def _frames(document: AnnotationDocument):
    return document.data.frames


class SwapTracks(SetTrackIds):
    """Swap the identities of people ``a`` and ``b`` of frame ``frame`` from that frame onwards:
    every later person of a's track takes b's id and the other way round. A person without a
    track swaps with a new id."""

    def __init__(self, document: AnnotationDocument, frame: int, a: int, b: int,
                 parent: QUndoCommand | None = None) -> None:
        frames = _frames(document)
        if a == b:
            raise ValueError("Choose two different people to swap")
        ta, tb = frames[frame].instances[a].track_id, frames[frame].instances[b].track_id
        if ta is None and tb is None:
            raise ValueError("Neither person is on a track: run Track people first, or assign a track")
        changes: dict[tuple[int, int], int | None] = {}
        if ta is None or tb is None:  # the untracked person takes the track from here on
            fresh = tracks.next_track_id(frames)
            ta, tb = (fresh, tb) if ta is None else (ta, fresh)
        for f in tracks.frames_after(frames, frame):
            for i, p in enumerate(frames[f].instances):
                if p.track_id == ta:
                    changes[(f, i)] = tb
                elif p.track_id == tb:
                    changes[(f, i)] = ta
        changes[(frame, a)], changes[(frame, b)] = tb, ta
        super().__init__(document, changes, f"Swap tracks {_label(ta)} and {_label(tb)} from frame {frame + 1}",
                         parent)


class MergeTracks(SetTrackIds):
    """Track ``absorbed`` becomes part of track ``kept`` everywhere. Refused when both tracks have a
    person in the same frame (one of them would be a second copy of the person)."""

    def __init__(self, document: AnnotationDocument, kept: int, absorbed: int,
                 parent: QUndoCommand | None = None) -> None:
        frames = _frames(document)
        if kept == absorbed:
            raise ValueError("Choose two different tracks to merge")
        keep_frames = {f for f, _i in tracks.track_members(frames, kept)}
        members = list(tracks.track_members(frames, absorbed))
        if not keep_frames or not members:
            missing = kept if not keep_frames else absorbed
            raise ValueError(f"There is no track #{missing}")
        both = sorted(keep_frames & {f for f, _i in members})
        if both:
            listed = ", ".join(str(f + 1) for f in both[:8]) + (" …" if len(both) > 8 else "")
            raise ValueError(f"Tracks #{kept} and #{absorbed} are both in frame(s) {listed}: delete or reassign "
                             "the extra person there first, or split a track")
        super().__init__(document, dict.fromkeys(members, kept), f"Merge track #{absorbed} into #{kept}", parent)


class SplitTrack(SetTrackIds):
    """From ``frame`` onwards (in its sequence), the people of ``track`` get a new track id."""

    def __init__(self, document: AnnotationDocument, track: int, frame: int,
                 parent: QUndoCommand | None = None) -> None:
        frames = _frames(document)
        members = list(tracks.track_members(frames, track, tracks.frames_after(frames, frame)))
        if not members:
            raise ValueError(f"Track #{track} has nobody from frame {frame + 1} on")
        self.new_track = tracks.next_track_id(frames)
        super().__init__(document, dict.fromkeys(members, self.new_track),
                         f"Split track #{track} at frame {frame + 1} (new #{self.new_track})", parent)


class AssignTrack(SetTrackIds):
    """Person ``instance`` of ``frame`` joins ``track`` (None: no track). Whoever had that track in
    this frame takes the person's old id, so a frame never holds a track twice."""

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, track: int | None,
                 parent: QUndoCommand | None = None) -> None:
        people = _frames(document)[frame].instances
        old = people[instance].track_id
        changes: dict[tuple[int, int], int | None] = {(frame, instance): track}
        if track is not None:
            for i, p in enumerate(people):
                if i != instance and p.track_id == track:
                    changes[(frame, i)] = old
        super().__init__(document, changes, f"Assign person to track {_label(track)}", parent)


class DeleteTrack(_FrameListEdit):
    """Delete every person of ``track`` in every frame (hand-edited ones too: it is one undo step)."""

    def __init__(self, document: AnnotationDocument, track: int, parent: QUndoCommand | None = None) -> None:
        super().__init__(document, f"Delete track #{track}", parent)
        for f, fr in enumerate(_frames(document)):
            if any(p.track_id == track for p in fr.instances):
                self._stage(f, [p for p in fr.instances if p.track_id != track])
        if not self.new:
            raise ValueError(f"There is no track #{track}")
        self.deleted = sum(len(self.old[f]) - len(self.new[f]) for f in self.new)


def _replace_people(cmd: _FrameListEdit, frame: int, replaced: Mapping[int, Instance],
                    added: list[Instance] = ()) -> None:
    people = list(cmd.document.frame(frame).instances)
    for i, inst in replaced.items():
        people[i] = inst
    cmd._stage(frame, people + list(added))


class InterpolateTrack(_FrameListEdit):
    """Keyframe interpolation of a track over its sequence: each joint placed or corrected by hand
    (``Instance.edited``) at two frames a < b fills the frames strictly between on the straight line,
    except frames where that joint was edited by hand too (:func:`hrnet.interpolate_keyframes`).

    Frames between the track's keyframes where the person is missing get a new person of the track.
    Filled joints are not marked edited (they are not keyframes), and people that received filled
    joints lose their model scores so that a later Predict keeps them instead of replacing them.
    ``filled`` counts the joints filled; none filled raises ValueError (the message says why).
    """

    def __init__(self, document: AnnotationDocument, track: int, frame: int,
                 parent: QUndoCommand | None = None) -> None:
        super().__init__(document, f"Interpolate track #{track}", parent)
        frames = _frames(document)
        seq = tracks.sequence_of(frames, frame)
        where = {f: i for f, i in tracks.track_members(frames, track, seq)}
        if not where:
            raise ValueError(f"Track #{track} has nobody in this video")
        k = document.data.num_joints
        kp = np.zeros((len(seq), k, 3))
        edited = np.zeros((len(seq), k), bool)
        for t, f in enumerate(seq):
            if f in where:
                inst = frames[f].instances[where[f]]
                kp[t] = inst.keypoints
                edited[t] = np.asarray(inst.edited, bool) & (inst.keypoints[:, 2] > 0)
        if np.count_nonzero(edited.any(axis=1)) < 2:
            raise ValueError(f"Correct some joints of track #{track} by hand in two frames first: the frames "
                             "between two corrected frames then follow")
        new_kp, filled = interpolate_keyframes(kp, edited)
        self.filled = int(filled.sum())
        if not self.filled:
            raise ValueError("No joint was corrected by hand at two frames with frames between them")
        for t in np.flatnonzero(filled.any(axis=1)):
            f = seq[int(t)]
            if f in where:
                inst = frames[f].instances[where[f]].copy()
            else:
                inst = Instance.empty(k, track_id=track)
            inst.keypoints[filled[t]] = new_kp[t][filled[t]]
            inst.edited[filled[t]] = False
            inst.joint_scores = None
            inst.bbox = None  # the box follows the joints
            inst.extra.pop("area", None)
            if f in where:
                _replace_people(self, f, {where[f]: inst})
            else:
                _replace_people(self, f, {}, [inst])


class PropagatePose(_FrameListEdit):
    """Copy person ``instance`` of ``frame`` into the next ``count`` frames of its sequence as
    *predictions*: model joint scores, nothing marked edited, the box from the pose. A later Predict
    refines them (it replaces untouched predictions), unlike the hand-placed copies of
    :class:`~app.commands.CopyFromPreviousFrame`.

    In a frame where the same track already has an untouched prediction, that prediction is
    replaced; where it has a person edited by hand, the frame is left alone. The copy's joint
    scores are the source's model scores, or 0.5 for joints that had none (placed by hand): they
    read as "to be checked" in the review queue.
    """

    def __init__(self, document: AnnotationDocument, frame: int, instance: int, count: int,
                 parent: QUndoCommand | None = None) -> None:
        if count < 1:
            raise ValueError("Propagate into at least one frame")
        super().__init__(document, f"Propagate person forward ({texts.frames(count)})", parent)
        frames = _frames(document)
        src = frames[frame].instances[instance]
        if src.num_keypoints == 0:
            raise ValueError("This person has no labelled joint to propagate")
        targets = tracks.frames_after(frames, frame)[1:count + 1]
        if not targets:
            raise ValueError("There is no later frame in this video")
        copy = src.copy()
        copy.id = None
        copy.bbox = None
        copy.extra.pop("area", None)
        scores = np.full(copy.num_joints, 0.5) if src.joint_scores is None else src.joint_scores.copy()
        scores[np.asarray(src.edited, bool)] = 0.5
        scores[copy.keypoints[:, 2] <= 0] = 0.0
        copy.joint_scores = scores
        copy.edited = np.zeros(copy.num_joints, bool)
        self.skipped: list[int] = []
        for f in targets:
            people = frames[f].instances
            same = [i for i, p in enumerate(people) if src.track_id is not None and p.track_id == src.track_id]
            if same and not people[same[0]].is_prediction:
                self.skipped.append(f)
                continue
            if same:
                _replace_people(self, f, {same[0]: copy.copy()})
            else:
                _replace_people(self, f, {}, [copy.copy()])
        if not self.new:
            raise ValueError("Every following frame already has this person corrected by hand")
