"""app.commands without widgets: every edit undoes/redoes exactly, drags merge into one step,
ApplyPredictions keeps hand work, commands emit the document's narrow signals."""

from __future__ import annotations

import numpy as np
import pytest

from app.commands import (
    AddInstance,
    ApplyPredictions,
    CopyFromPreviousFrame,
    DeleteInstance,
    DeleteKeypoint,
    MoveKeypoint,
    PlaceKeypoint,
    ReplaceInstance,
    SetBox,
    SetReviewed,
    SetTrackId,
    SetVisibility,
    SwapLeftRight,
    box_iou,
    new_drag_id,
)
from app.document import AnnotationDocument
from hrnet.annotations import Frame, Instance, PoseDocument

K = 17


def person(x0: float = 0.0, y0: float = 0.0, **kw) -> Instance:
    kp = np.c_[x0 + np.arange(K) * 2.0, y0 + np.arange(K) * 3.0, np.full(K, 2.0)]
    return Instance(kp, **kw)


@pytest.fixture
def doc(qtbot) -> AnnotationDocument:
    data = PoseDocument(frames=[
        Frame(1, "a.png", 200, 200, [person(), person(100, 100, bbox=[100, 100, 40, 60])]),
        Frame(2, "b.png", 200, 200, [person(10, 10, track_id=4)]),
        Frame(3, "c.png", 200, 200),
    ])
    return AnnotationDocument(data)


class Recorder:
    def __init__(self, doc: AnnotationDocument) -> None:
        self.events: list[tuple] = []
        doc.instance_changed.connect(lambda f, i: self.events.append(("instance", f, i)))
        doc.instances_changed.connect(lambda f: self.events.append(("instances", f)))
        doc.reviewed_changed.connect(lambda f: self.events.append(("reviewed", f)))
        doc.frame_changed.connect(lambda f: self.events.append(("frame", f)))
        doc.dirty_changed.connect(lambda d: self.events.append(("dirty", d)))

    def take(self) -> list[tuple]:
        out, self.events = self.events, []
        return out


def snapshot(doc: AnnotationDocument) -> list:
    return [([p.copy() for p in fr.instances], fr.reviewed) for fr in doc.data.frames]


def check_undo_redo(doc: AnnotationDocument, cmd) -> None:
    """Push, undo, redo: data is back to before / after each time (twice, to catch stale state)."""
    before = snapshot(doc)
    doc.push(cmd)
    after = snapshot(doc)
    assert after != before
    for _ in range(2):
        doc.undo()
        assert snapshot(doc) == before
        doc.redo()
        assert snapshot(doc) == after


def test_move_keypoint(doc) -> None:
    rec = Recorder(doc)
    live = doc.instance(0, 1)
    check_undo_redo(doc, MoveKeypoint(doc, 0, 1, 5, (150.5, 160.25)))
    assert doc.instance(0, 1) is live  # edited in place: views holding the object stay valid
    assert live.keypoints[5].tolist() == [150.5, 160.25, 2.0]
    assert live.edited.tolist() == [j == 5 for j in range(K)]
    events = rec.take()
    assert ("instance", 0, 1) in events and ("dirty", True) in events
    assert not any(e[0] == "instances" for e in events)
    assert doc.undo_stack.undoText() == "Move: #2 left_shoulder, frame 1"


def test_move_of_unlabelled_joint_makes_it_visible(doc) -> None:
    doc.instance(0, 0).keypoints[3] = 0
    doc.push(MoveKeypoint(doc, 0, 0, 3, (5, 6)))
    assert doc.instance(0, 0).keypoints[3].tolist() == [5, 6, 2]
    occluded = doc.instance(0, 0)
    occluded.keypoints[4, 2] = 1
    doc.push(MoveKeypoint(doc, 0, 0, 4, (7, 8)))
    assert occluded.keypoints[4].tolist() == [7, 8, 1]  # moving keeps "occluded"


def test_drag_merges_into_one_step(doc) -> None:
    start = doc.instance(0, 0).keypoints[2].copy()
    drag = new_drag_id()
    for k in range(20):
        doc.push(MoveKeypoint(doc, 0, 0, 2, (50 + k, 60 + k), drag_id=drag))
    assert doc.undo_stack.count() == 1
    assert doc.instance(0, 0).keypoints[2, :2].tolist() == [69, 79]
    doc.undo()
    assert doc.instance(0, 0).keypoints[2].tolist() == start.tolist()
    assert not doc.instance(0, 0).edited[2]
    doc.redo()
    assert doc.instance(0, 0).keypoints[2, :2].tolist() == [69, 79]


def test_merging_only_within_one_drag_of_one_joint(doc) -> None:
    d1, d2 = new_drag_id(), new_drag_id()
    doc.push(MoveKeypoint(doc, 0, 0, 2, (1, 1), drag_id=d1))
    doc.push(MoveKeypoint(doc, 0, 0, 2, (2, 2), drag_id=d1))
    assert doc.undo_stack.count() == 1
    doc.push(MoveKeypoint(doc, 0, 0, 2, (3, 3), drag_id=d2))  # a second drag of the same joint
    assert doc.undo_stack.count() == 2
    doc.push(MoveKeypoint(doc, 0, 0, 3, (4, 4), drag_id=d2))  # another joint
    doc.push(MoveKeypoint(doc, 0, 1, 3, (4, 4), drag_id=d2))  # another person
    doc.push(MoveKeypoint(doc, 1, 0, 3, (4, 4), drag_id=d2))  # another frame
    assert doc.undo_stack.count() == 5
    doc.push(MoveKeypoint(doc, 1, 0, 3, (5, 5)))  # no drag id: never merges
    doc.push(MoveKeypoint(doc, 1, 0, 3, (6, 6)))
    assert doc.undo_stack.count() == 7
    # undo the steps one by one
    doc.undo()
    assert doc.instance(1, 0).keypoints[3, :2].tolist() == [5, 5]
    for _ in range(5):
        doc.undo()
    assert doc.instance(0, 0).keypoints[2, :2].tolist() == [2, 2]  # first drag's end
    doc.undo()
    assert doc.instance(0, 0).keypoints[2, :2].tolist() == [4, 6]  # the original position


def test_drag_back_to_start_leaves_no_step(doc) -> None:
    start = tuple(doc.instance(0, 0).keypoints[2, :2])
    doc.instance(0, 0).edited[2] = True  # already edited: returning leaves the instance unchanged
    drag = new_drag_id()
    doc.push(MoveKeypoint(doc, 0, 0, 2, (90, 90), drag_id=drag))
    doc.push(MoveKeypoint(doc, 0, 0, 2, start, drag_id=drag))
    assert doc.undo_stack.count() == 0
    assert not doc.is_dirty


def test_place_delete_visibility(doc) -> None:
    check_undo_redo(doc, DeleteKeypoint(doc, 0, 0, 7))
    assert doc.instance(0, 0).keypoints[7].tolist() == [0, 0, 0] and doc.instance(0, 0).edited[7]
    check_undo_redo(doc, PlaceKeypoint(doc, 0, 0, 7, (12, 13), visibility=1))
    assert doc.instance(0, 0).keypoints[7].tolist() == [12, 13, 1]
    check_undo_redo(doc, SetVisibility(doc, 0, 0, [1, 2], 0))
    assert doc.instance(0, 0).keypoints[[1, 2], 2].tolist() == [0, 0]
    assert doc.instance(0, 0).keypoints[1, :2].tolist() == [2, 3]  # position kept
    check_undo_redo(doc, SetVisibility(doc, 0, 0, 1, 2))
    assert doc.instance(0, 0).keypoints[1].tolist() == [2, 3, 2]
    with pytest.raises(ValueError):
        SetVisibility(doc, 0, 0, 1, 3)
    with pytest.raises(ValueError):
        PlaceKeypoint(doc, 0, 0, 1, (0, 0), visibility=0)


def test_set_box_and_box_drag(doc) -> None:
    doc.instance(0, 1).extra["area"] = 77.0
    check_undo_redo(doc, SetBox(doc, 0, 1, [1, 2, 3, 4]))
    assert doc.instance(0, 1).bbox.tolist() == [1, 2, 3, 4] and "area" not in doc.instance(0, 1).extra
    doc.undo()
    assert doc.instance(0, 1).extra["area"] == 77.0
    doc.redo()
    drag = new_drag_id()
    for k in range(5):
        doc.push(SetBox(doc, 0, 1, [1 + k, 2, 3, 4], drag_id=drag))
    assert doc.undo_stack.count() == 2
    doc.push(SetBox(doc, 0, 1, None))
    assert doc.instance(0, 1).bbox is None


def test_swap_left_right(doc) -> None:
    inst = doc.instance(0, 0)
    inst.joint_scores = np.linspace(0, 1, K)
    kp = inst.keypoints.copy()
    check_undo_redo(doc, SwapLeftRight(doc, 0, 0))
    assert inst.keypoints[1].tolist() == kp[2].tolist() and inst.keypoints[2].tolist() == kp[1].tolist()
    assert inst.keypoints[0].tolist() == kp[0].tolist()  # nose has no pair
    assert inst.keypoints[15].tolist() == kp[16].tolist()
    assert inst.joint_scores[15] == pytest.approx(np.linspace(0, 1, K)[16])
    assert inst.edited.sum() == 16 and not inst.edited[0]


def test_add_delete_replace_instance(doc) -> None:
    rec = Recorder(doc)
    new = person(50, 50)
    check_undo_redo(doc, AddInstance(doc, 2, new))
    assert doc.frame(2).instances == [new]
    assert ("instances", 2) in rec.take()
    removed = doc.instance(0, 0)
    check_undo_redo(doc, DeleteInstance(doc, 0, 0))
    assert len(doc.frame(0).instances) == 1 and doc.instance(0, 0) is not removed
    doc.undo()
    assert doc.instance(0, 0) is removed  # the same object comes back
    doc.redo()
    check_undo_redo(doc, AddInstance(doc, 0, person(1, 1), index=0))
    check_undo_redo(doc, SetTrackId(doc, 0, 0, 12))
    assert doc.instance(0, 0).track_id == 12
    doc.instance(0, 0).id = 55
    check_undo_redo(doc, ReplaceInstance(doc, 0, 0, person(9, 9, score=0.3)))
    assert doc.instance(0, 0).id == 55 and doc.instance(0, 0).score == 0.3
    with pytest.raises(ValueError):
        AddInstance(doc, 0, Instance(np.zeros((5, 3))))


def test_copy_from_previous_frame(doc) -> None:
    doc.instance(1, 0).id = 31
    check_undo_redo(doc, CopyFromPreviousFrame(doc, 2))
    copy = doc.instance(2, 0)
    src = doc.instance(1, 0)
    assert copy is not src and copy.id is None and copy.track_id == 4
    assert np.array_equal(copy.keypoints, src.keypoints)
    doc.push(CopyFromPreviousFrame(doc, 1, instances=[1], source_frame=0))
    assert len(doc.frame(1).instances) == 2
    with pytest.raises(IndexError):
        CopyFromPreviousFrame(doc, 0)


def test_set_reviewed(doc) -> None:
    rec = Recorder(doc)
    check_undo_redo(doc, SetReviewed(doc, [0, 2], True))
    assert [f.reviewed for f in doc.data.frames] == [True, False, True]
    assert ("reviewed", 0) in rec.events and ("reviewed", 2) in rec.events
    doc.push(SetReviewed(doc, 0, False))
    assert not doc.frame(0).reviewed
    doc.undo()
    assert doc.frame(0).reviewed


def test_apply_predictions_policy(doc) -> None:
    # frame 0: person 0 untouched model output, person 1 predicted then corrected by hand;
    # frame 1: model output; frame 2: a person read from a file (no model scores)
    for f, i in ((0, 0), (0, 1), (1, 0)):
        doc.instance(f, i).joint_scores = np.full(K, 0.5)
    imported = person(30, 30)
    doc.frame(2).instances.append(imported)
    assert doc.instance(0, 0).is_prediction and not imported.is_prediction
    doc.push(MoveKeypoint(doc, 0, 1, 0, (101, 101)))
    hand = doc.instance(0, 1)
    predicted = doc.instance(0, 0)
    same_as_hand = Instance.from_prediction(np.c_[hand.keypoints[:, :2] + 1, np.full(K, 0.9)],
                                            box=[100, 100, 140, 160])
    elsewhere = Instance.from_prediction(np.c_[np.full((K, 2), 20.0) + np.arange(K)[:, None], np.full(K, 0.8)],
                                         box=[15, 15, 45, 45])
    frame1_pred = Instance.from_prediction(np.c_[np.full((K, 2), 5.0), np.full(K, 0.5)])
    n = doc.undo_stack.count()
    rec = Recorder(doc)
    cmd = ApplyPredictions(doc, {0: [same_as_hand, elsewhere], 1: [frame1_pred], 2: []})
    doc.push(cmd)
    assert doc.undo_stack.count() == n + 1  # one step for all frames
    assert cmd.changed_frames == [0, 1]  # frame 2: the imported person is kept, nothing new
    assert doc.frame(2).instances == [imported]
    people = doc.frame(0).instances
    assert hand in people and predicted not in people  # hand work kept, old prediction replaced
    assert len(people) == 2  # the duplicate of the hand-edited person was dropped
    assert people[1] == elsewhere and people[1] is not elsewhere
    assert doc.frame(1).instances == [frame1_pred]
    assert {("instances", 0), ("instances", 1)} <= set(rec.events)
    doc.undo()
    assert doc.frame(0).instances == [predicted, hand] and doc.frame(0).instances[0] is predicted
    assert doc.frame(1).instances[0].track_id == 4
    doc.redo()
    assert len(doc.frame(0).instances) == 2


def test_apply_predictions_skip_reviewed_and_noop(doc) -> None:
    doc.instance(1, 0).joint_scores = np.full(K, 0.5)
    doc.push(SetReviewed(doc, 1))
    pred = Instance.from_prediction(np.c_[np.full((K, 2), 5.0), np.full(K, 0.5)])
    n = doc.undo_stack.count()
    cmd = ApplyPredictions(doc, {1: [pred]}, skip_reviewed=True)
    assert cmd.isObsolete() and cmd.changed_frames == []
    doc.push(cmd)
    assert doc.undo_stack.count() == n  # nothing changed: no undo step
    doc.push(ApplyPredictions(doc, {1: [pred]}))  # reviewed frames are replaced unless asked
    assert doc.frame(1).instances == [pred]

    class Result:  # PoseResult-like objects are accepted too
        keypoints = np.c_[np.full((K, 2), 7.0), np.full(K, 0.5)]
        score = 0.9
        box = np.array([0.0, 0.0, 10.0, 10.0])

    doc.push(ApplyPredictions(doc, {2: [Result()]}))
    assert doc.instance(2, 0).score == 0.9 and doc.instance(2, 0).bbox.tolist() == [0, 0, 10, 10]


def test_undo_shows_the_changed_frame(doc) -> None:
    doc.push(MoveKeypoint(doc, 1, 0, 0, (3, 3)))
    doc.set_current_index(2)
    doc.undo()
    assert doc.current_index() == 1
    doc.set_current_index(0)
    doc.redo()
    assert doc.current_index() == 1


def test_box_iou() -> None:
    assert box_iou(np.array([0, 0, 10, 10]), np.array([0, 0, 10, 10])) == 1.0
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 10, 10])) == pytest.approx(50 / 150)
    assert box_iou(None, np.array([0, 0, 1, 1])) == 0.0
    assert box_iou(np.array([0, 0, 1, 1]), np.array([2, 2, 1, 1])) == 0.0


def test_long_undo_redo_sequence_is_consistent(doc) -> None:
    rng = np.random.default_rng(1)
    states = [snapshot(doc)]
    for _ in range(40):
        f = int(rng.integers(0, 2))
        i = int(rng.integers(0, len(doc.frame(f).instances)))
        kind = rng.integers(0, 4)
        if kind == 0:
            cmd = MoveKeypoint(doc, f, i, int(rng.integers(0, K)), rng.uniform(0, 100, 2))
        elif kind == 1:
            cmd = SetVisibility(doc, f, i, int(rng.integers(0, K)), int(rng.integers(0, 3)))
        elif kind == 2:
            cmd = AddInstance(doc, f, person(*rng.uniform(0, 100, 2)))
        else:
            cmd = SwapLeftRight(doc, f, i)
        doc.push(cmd)
        states.append(snapshot(doc))
    n = doc.undo_stack.count()
    assert n == 40
    for k in range(n, 0, -1):
        doc.undo()
        assert snapshot(doc) == states[k - 1]
    assert snapshot(doc) == states[0]
    for _ in range(n):
        doc.redo()
    assert snapshot(doc) == states[-1]
