"""app.track_commands without widgets: every track edit does, undoes and redoes exactly, and
refuses edits that make no sense with a message; app.tracks' queries."""

from __future__ import annotations

import numpy as np
import pytest

from app import tracks
from app.document import AnnotationDocument
from app.track_commands import (
    AssignTrack,
    DeleteTrack,
    InterpolateTrack,
    MergeTracks,
    PropagatePose,
    SetTrackIds,
    SplitTrack,
    SwapTracks,
)
from hrnet.annotations import Frame, Instance, PoseDocument

K = 17
T = 8


def person(x: float, track: int | None, scores: bool = True) -> Instance:
    kp = np.c_[x + np.arange(K) * 2.0, 50 + np.arange(K) * 3.0, np.full(K, 2.0)]
    return Instance(kp, track_id=track, joint_scores=np.full(K, 0.8) if scores else None)


@pytest.fixture
def doc(qtbot) -> AnnotationDocument:
    # a video of T frames: track 0 walks right from x=10, track 1 stands at x=300; an image frame after
    frames = [Frame(i + 1, f"v_{i:06d}.png", 640, 480, [person(10 + 10 * i, 0), person(300, 1)],
                    video="v.mp4", frame_index=i) for i in range(T)]
    frames.append(Frame(T + 1, "still.png", 640, 480, [person(5, 0)]))
    return AnnotationDocument(PoseDocument(frames=frames))


def ids(doc: AnnotationDocument) -> list[list[int | None]]:
    return [[p.track_id for p in fr.instances] for fr in doc.data.frames]


def snapshot(doc: AnnotationDocument) -> list[list[Instance]]:
    return [[p.copy() for p in fr.instances] for fr in doc.data.frames]


def check_undo_redo(doc: AnnotationDocument, cmd) -> list[list[Instance]]:
    before = snapshot(doc)
    doc.push(cmd)
    after = snapshot(doc)
    assert after != before
    doc.undo()
    assert snapshot(doc) == before
    doc.redo()
    assert snapshot(doc) == after
    return after


def test_sequences_and_runs(doc):
    frames = doc.data.frames
    assert tracks.sequences(frames) == [list(range(T)), [T]]
    assert tracks.frames_after(frames, 5) == [5, 6, 7]
    assert tracks.consecutive_runs(frames, [0, 1, 2, 4, 5, T]) == [[0, 1, 2], [4, 5], [T]]
    assert tracks.track_ids(frames) == [0, 1]
    assert tracks.next_track_id(frames) == 2


def test_set_track_ids_one_step(doc):
    check_undo_redo(doc, SetTrackIds(doc, {(0, 0): 7, (1, 0): 7}))
    assert ids(doc)[0] == [7, 1] and ids(doc)[1] == [7, 1]
    assert doc.undo_stack.count() == 1
    assert SetTrackIds(doc, {(0, 0): 7}).isObsolete()


def test_swap_from_frame_onwards(doc):
    check_undo_redo(doc, SwapTracks(doc, 3, 0, 1))
    got = ids(doc)
    assert got[:3] == [[0, 1]] * 3
    assert got[3:T] == [[1, 0]] * (T - 3)
    assert got[T] == [0]  # the still image is another sequence
    with pytest.raises(ValueError):
        SwapTracks(doc, 3, 1, 1)


def test_swap_with_untracked_person(doc):
    doc.push(SetTrackIds(doc, {(f, 1): None for f in range(T)}))
    doc.push(SwapTracks(doc, 4, 0, 1))
    got = ids(doc)
    assert got[3] == [0, None]
    assert got[4] == [1, 0] and got[7] == [1, None]  # a new id for the untracked person


def test_merge(doc):
    doc.push(SplitTrack(doc, 0, 4))
    assert ids(doc)[4][0] == 2
    with pytest.raises(ValueError, match="both in frame"):
        MergeTracks(doc, 0, 1)
    with pytest.raises(ValueError, match="no track #9"):
        MergeTracks(doc, 0, 9)
    check_undo_redo(doc, MergeTracks(doc, 0, 2))
    assert [r[0] for r in ids(doc)] == [0] * (T + 1)


def test_split(doc):
    cmd = SplitTrack(doc, 1, 5)
    check_undo_redo(doc, cmd)
    assert cmd.new_track == 2
    assert [r[1] for r in ids(doc)[:T]] == [1] * 5 + [2] * 3
    with pytest.raises(ValueError):
        SplitTrack(doc, 5, 0)


def test_delete_track(doc):
    cmd = DeleteTrack(doc, 1)
    check_undo_redo(doc, cmd)
    assert cmd.deleted == T
    assert all(len(fr.instances) == 1 for fr in doc.data.frames)
    with pytest.raises(ValueError):
        DeleteTrack(doc, 1)


def test_assign_swaps_within_the_frame(doc):
    check_undo_redo(doc, AssignTrack(doc, 2, 0, 1))
    assert ids(doc)[2] == [1, 0]
    doc.push(AssignTrack(doc, 3, 1, None))
    assert ids(doc)[3] == [0, None]


def test_interpolate_between_two_keyframes(doc):
    frames = doc.data.frames
    for f, x in ((1, 100.0), (6, 200.0)):
        inst = frames[f].instances[0]
        inst.keypoints[0, :2] = (x, 20.0)
        inst.edited[0] = True
    frames[4].instances[0].keypoints[0, :2] = (999.0, 999.0)
    frames[4].instances[0].edited[0] = True  # a keyframe too: it splits the interval
    del frames[3].instances[0]  # the person is missing there: interpolation adds them
    cmd = InterpolateTrack(doc, 0, 2)
    check_undo_redo(doc, cmd)
    assert frames[2].instances[0].keypoints[0, 0] == pytest.approx(100 + (999 - 100) / 3)
    added = [p for p in frames[3].instances if p.track_id == 0]
    assert len(added) == 1 and added[0].keypoints[0, 0] == pytest.approx(100 + 2 * (999 - 100) / 3)
    assert added[0].keypoints[1, 2] == 0  # only the corrected joint is filled
    assert frames[5].instances[0].keypoints[0, 0] == pytest.approx((999 + 200) / 2)
    assert not frames[5].instances[0].edited[0]  # filled, not a keyframe
    assert frames[5].instances[0].joint_scores is None  # a later Predict keeps it
    assert frames[7].instances[0].keypoints[0, 0] == 10 + 70  # outside the keyframes: untouched
    assert doc.undo_stack.count() == 1
    with pytest.raises(ValueError, match="two frames"):
        InterpolateTrack(doc, 1, 0)


def test_propagate_forward_as_predictions(doc):
    frames = doc.data.frames
    frames[2].instances[0].edited[3] = True  # hand work in frame 2 is left alone
    src = frames[0].instances[0].copy()
    cmd = PropagatePose(doc, 0, 0, 3)
    check_undo_redo(doc, cmd)
    assert cmd.skipped == [2]
    for f in (1, 3):
        copy = next(p for p in frames[f].instances if p.track_id == 0)
        np.testing.assert_array_equal(copy.keypoints, src.keypoints)
        assert copy.is_prediction and copy.bbox is None
        assert len(frames[f].instances) == 2
    assert frames[4].instances[0].keypoints[0, 0] == 10 + 40
    with pytest.raises(ValueError):
        PropagatePose(doc, T - 1, 0, 5)


def test_weakest_track_frames(doc):
    frames = doc.data.frames
    frames[5].instances[1].joint_scores[:] = 0.1
    frames[2].instances[1].joint_scores[:] = 0.3
    frames[2].reviewed = True
    assert tracks.weakest_track_frames(frames, 1)[0] == (5, 1)
    assert (2, 1) not in tracks.weakest_track_frames(frames, 1)
    assert tracks.weakest_track_frames(frames, 1, unreviewed_only=False)[:2] == [(5, 1), (2, 1)]
    table = tracks.track_table(frames)
    assert set(table[1]) == set(range(T)) and table[1][5] == pytest.approx(0.1)


def test_reconcile_new_ids_with_kept_people(doc):
    frames = doc.data.frames
    frames[2].instances[0].edited[0] = True  # track 0 corrected by hand in frame 2: kept by a re-run
    frames[3].reviewed = True  # and frame 3 is reviewed: everyone there is kept
    new = {f: [person(10 + 10 * f, 7), person(300, 8), person(600, 9)] for f in range(T)}
    assert tracks.reconcile_track_ids(frames, new) == {7: 0}
    assert tracks.reconcile_track_ids(frames, new, keep_reviewed=True) == {7: 0, 8: 1}


def test_ids_from_neighbours_for_a_lone_predicted_frame(doc):
    frames = doc.data.frames
    new = [person(300, None), person(10 + 10 * 4 + 3, None), person(600, None)]
    assert tracks.ids_from_neighbours(frames, 4, new) == [1, 0, None]
    near = tracks.video_neighbours(frames)  # every video frame's neighbours at once (a run of many frames)
    assert near[4] == (3, 5) and near[0] == (None, 1) and T not in near
    assert tracks.ids_from_neighbours(frames, 4, new, neighbours=near[4]) == [1, 0, None]
    frames[4].instances[1].edited[0] = True  # a kept person of frame 4 holds track 1: not given twice
    assert tracks.ids_from_neighbours(frames, 4, new) == [None, 0, None]
    assert tracks.ids_from_neighbours(frames, T, [person(5, None)]) == [None]  # a still image
