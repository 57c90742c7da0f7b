"""The Qt-free navigation and review queries of app.review (no widgets, no QApplication)."""

from __future__ import annotations

import numpy as np
import pytest

from app import review
from hrnet.annotations import Frame, Instance


def _person(conf: float | None, box=(10.0, 20.0, 30.0, 40.0), edited: bool = False) -> Instance:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = 20, 30, 2
    inst = Instance(kp, bbox=np.array(box), joint_scores=None if conf is None else np.full(17, conf))
    if edited:
        inst.edited[:] = True
    return inst


def _frames(confs, reviewed=()) -> list[Frame]:
    frames = []
    for i, people in enumerate(confs):
        frames.append(Frame(i, f"{i}.png", 100, 80, [_person(c) for c in people], reviewed=i in reviewed))
    return frames


def test_confidences_ignore_hand_edits_and_take_the_weakest_person():
    assert review.person_confidence(_person(0.4)) == pytest.approx(0.4)
    assert review.person_confidence(_person(None)) is None
    assert review.person_confidence(_person(0.4, edited=True)) is None  # every joint corrected by hand
    frame = _frames([[0.7, 0.2, None]])[0]
    assert review.frame_confidence(frame) == pytest.approx(0.2)
    assert review.frame_confidence(_frames([[None]])[0]) is None


def test_filters():
    frames = _frames([[0.1], [], [0.9], [0.2, None], [None]], reviewed={2, 4})
    assert review.filter_frames(frames, "all").tolist() == [0, 1, 2, 3, 4]
    assert review.filter_frames(frames, "reviewed").tolist() == [2, 4]
    assert review.filter_frames(frames, "unreviewed").tolist() == [0, 1, 3]
    assert review.filter_frames(frames, "people").tolist() == [0, 2, 3, 4]
    assert review.filter_frames(frames, "empty").tolist() == [1]
    assert review.filter_frames(frames, "low", threshold=0.3).tolist() == [0, 3]
    assert review.filter_frames(frames, "low", 0.3, confidence=lambda i: 0.0).tolist() == [0, 1, 2, 3, 4]
    assert review.filter_frames([], "reviewed").dtype == np.int64
    with pytest.raises(ValueError, match="unknown frame filter"):
        review.filter_frames(frames, "blurry")


def test_scopes():
    frames = _frames([[], [], [], []], reviewed={1})
    assert review.frames_for_scope(frames, "current", 2) == [2]
    assert review.frames_for_scope(frames, "selected", 2, [3, 0]) == [3, 0]
    assert review.frames_for_scope(frames, "selected", 2, []) == [2]  # nothing selected: this frame
    assert review.frames_for_scope(frames, "unreviewed", 2) == [0, 2, 3]
    assert review.frames_for_scope(frames, "all", 2) == [0, 1, 2, 3]
    assert review.frames_for_scope([], "current", 0) == [] and review.frames_for_scope([], "selected", 0) == []


def test_step_walks_the_filtered_list_from_anywhere():
    assert review.step_target(3, 1, 10) == 4
    assert review.step_target(9, 1, 10) == 9 and review.step_target(0, -10, 10) == 0  # clamped
    assert review.step_target(0, 1, 0) is None
    rows = [2, 5, 7]
    assert review.step_target(2, 1, 10, rows) == 5
    assert review.step_target(3, 1, 10, rows) == 5  # current frame not in the list
    assert review.step_target(3, -1, 10, rows) == 2
    assert review.step_target(5, 10, 10, rows) == 7 and review.step_target(5, -10, 10, rows) == 2
    assert review.step_target(4, 1, 10, []) == 5  # an empty filtered list: plain stepping


def test_review_queries():
    frames = _frames([[0.5], [0.1, 0.8], [0.05], [None], [0.3]], reviewed={2})
    assert review.next_unreviewed(frames, 0) == 1
    assert review.next_unreviewed(frames, 1) == 3  # 2 is reviewed
    assert review.next_unreviewed(frames, 4) == 0  # wraps
    assert review.next_unreviewed(_frames([[]], reviewed={0}), 0) is None
    best, conf = review.weakest_unreviewed_frame(frames, current=0)
    assert best == 1 and conf == pytest.approx(0.1)  # 2 is weaker but reviewed
    assert review.weakest_unreviewed_frame(frames, current=1)[0] == 1  # the current frame counts (issue 13)
    only_current = _frames([[0.5], []])
    assert review.weakest_unreviewed_frame(only_current, current=0) == (0, pytest.approx(0.5))
    assert review.weakest_unreviewed_frame(_frames([[None], []]), 0) is None
    people = [_person(0.6), _person(None), _person(0.2)]
    assert review.people_weakest_first(people) == [2, 0, 1]
    assert review.next_weak_person(people, None) == 2
    assert review.next_weak_person(people, 2) == 0 and review.next_weak_person(people, 1) == 2  # wraps
    assert review.next_weak_person(people, 0, first=True) == 2
    assert review.next_weak_person([], None) is None


def test_existing_boxes_and_missing_joints():
    frame = Frame(0, "0.png", 100, 80, [_person(0.5, box=(10, 20, 30, 40)), _person(None, box=(0, 0, 5, 5))])
    assert review.existing_boxes(frame).tolist() == [[10, 20, 40, 60], [0, 0, 5, 5]]
    assert review.existing_boxes(frame, predictions_only=True).tolist() == [[10, 20, 40, 60]]
    assert review.existing_boxes(Frame(0, "0.png", 0, 0)).shape == (0, 4)
    inst = _person(0.5)
    inst.keypoints[[3, 7], 2] = 0
    assert review.missing_joints(inst) == [3, 7]


def test_weakest_frame_from_an_array_matches_the_per_frame_walk():
    from app.widgets.frame_list import frame_confidence_array

    rng = np.random.default_rng(3)
    spec = [[None if rng.random() < 0.2 else float(rng.choice([0.1, 0.3, 0.5, 0.7])) for _ in range(int(k))]
            for k in rng.integers(0, 3, 300)]
    frames = _frames(spec, reviewed={int(i) for i in rng.integers(0, 300, 60)})
    arr = frame_confidence_array(frames)
    for current in (0, 5, 17, 299, -1):
        want = review.weakest_unreviewed_frame(frames, current)
        got = review.weakest_unreviewed_frame(frames, current, arr)
        assert got[0] == want[0] and got[1] == pytest.approx(want[1])
    assert review.weakest_unreviewed_frame(_frames([[None], []]), 0, np.full(2, np.nan)) is None
    rv = review.reviewed_array(frames)
    assert review.filter_frames(frames, "reviewed").tolist() == np.flatnonzero(rv).tolist()
    with pytest.raises(ValueError):
        review.weakest_unreviewed_frame(frames, 0, arr[:-1])
