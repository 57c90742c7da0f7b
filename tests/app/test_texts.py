"""Counted nouns in status texts: "1 person", never "1 people" (app.texts and the texts that use it)."""

from __future__ import annotations

import numpy as np
import pytest

from app import texts
from app.video_workers import VideoInferenceWorker
from app.workers import InferenceJob, InferenceWorker
from tests.app.test_workers import FakePredictor


def test_count_puts_the_noun_in_the_right_number():
    assert texts.people(1) == "1 person" and texts.people(0) == "0 people" and texts.people(3) == "3 people"
    assert texts.frames(1) == "1 frame" and texts.frames(42) == "42 frames"
    assert texts.count(1, "joint") == "1 joint" and texts.count(17, "joint") == "17 joints"
    assert texts.count(2, "box") == "2 boxes" and texts.count(np.int64(1), "track") == "1 track"
    assert texts.plural(1, "person") == "person" and texts.plural(2, "index", "indices") == "indices"


def _image(_frame: int) -> np.ndarray:
    return np.zeros((60, 80, 3), np.uint8)


@pytest.mark.parametrize("worker_class", [InferenceWorker, VideoInferenceWorker])
def test_worker_status_says_1_person(qtbot, worker_class):
    one = np.array([[0, 0, 10, 10]], np.float32)
    two = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32)
    jobs = [InferenceJob(7, boxes=one), InferenceJob(8, boxes=two)]
    if worker_class is VideoInferenceWorker:
        worker = VideoInferenceWorker(FakePredictor(), [[j] for j in jobs], _image)
    else:
        worker = InferenceWorker(FakePredictor(), jobs, _image)
    status = []
    worker.progress.connect(lambda done, total, text: status.append(text))
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert "frame 8: 1 person" in status and "frame 9: 2 people" in status, status
    assert not any("1 people" in s for s in status)


def test_undo_texts_count_one_person_and_one_frame(qtbot):
    from app import commands as C
    from app import track_commands as TC
    from app.document import AnnotationDocument
    from hrnet.annotations import Frame, Instance, PoseDocument

    kp = np.c_[10 + np.arange(17) * 2.0, 10 + np.arange(17) * 3.0, np.full(17, 2.0)]
    frames = [Frame(i + 1, f"walk_{i}.png", 100, 100, [Instance(kp.copy())] if i == 0 else [],
                    video="walk.mp4", frame_index=i) for i in range(3)]
    doc = AnnotationDocument(PoseDocument(frames=frames))
    assert C.CopyFromPreviousFrame(doc, 1).text() == "Copy 1 person from frame 1 to frame 2"
    assert TC.PropagatePose(doc, 0, 0, 1).text() == "Propagate person forward (1 frame)"
    assert TC.PropagatePose(doc, 0, 0, 2).text() == "Propagate person forward (2 frames)"
