"""InferenceController with a fake predictor: one undo step per run, typed signals, cancel,
re-used boxes, the pose inside a drawn box, failures as messages — no window, no network."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.canvas.heatmaps import HeatmapStore
from app.controllers.inference import InferenceController
from app.document import AnnotationDocument
from hrnet.predictor import PoseResult
from tests.app.gui_support import synthetic_project


class FakePredictor:
    """Puts every joint at the box centre with confidence 0.5; heatmaps of 17 x 8 x 6."""

    num_joints = 17
    device = "cpu"

    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.calls: list[np.ndarray] = []
        self.gate, self.fail = gate, fail

    def predict(self, image, boxes, box_scores=None, return_heatmaps=False):
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise RuntimeError("CUDA out of memory (fake)")
        self.calls.append(np.asarray(boxes).copy())
        out = []
        for b in np.asarray(boxes, np.float32):
            kp = np.zeros((17, 3))
            kp[:, 0], kp[:, 1], kp[:, 2] = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 0.5
            out.append(PoseResult(kp, 0.5, b.copy(), heatmaps=np.zeros((17, 8, 6), np.float32),
                                  heatmap_to_image=np.array([[1, 0, b[0]], [0, 1, b[1]]], np.float64)))
        return out


class FakeModel:
    def __init__(self, predictor) -> None:
        self.predictor, self.spec, self.is_loaded = predictor, None, True


@pytest.fixture
def doc(qtbot, tmp_path):
    ann, _ = synthetic_project(tmp_path, num_images=4)
    document = AnnotationDocument()
    document.open([ann])
    yield document
    document.close()


def _controller(doc, predictor):
    ctrl = InferenceController(doc, FakeModel(predictor), HeatmapStore())
    seen = {"started": [], "progress": [], "errors": [], "messages": []}
    ctrl.started.connect(lambda *a: seen["started"].append(a))
    ctrl.progress.connect(lambda *a: seen["progress"].append(a))
    ctrl.error.connect(lambda *a: seen["errors"].append(a))
    ctrl.message.connect(lambda *a: seen["messages"].append(a))
    return ctrl, seen


def test_predict_applies_one_undo_step_and_reports(qtbot, doc):
    ctrl, seen = _controller(doc, FakePredictor())
    for f in range(3):
        doc.frame(f).instances.clear()  # whole image = one person only where nobody is annotated
    with qtbot.waitSignal(ctrl.finished, timeout=30000) as blocker:
        assert ctrl.predict([0, 1, 2], scope="all", detector="full_image")
        assert ctrl.is_running and ctrl.run.mode == "apply" and ctrl.run.total == 3
    assert blocker.args == ["apply"] and not ctrl.is_running and ctrl.worker is None
    assert doc.undo_stack.count() == 1
    for f in range(3):  # whole image = one person, centred
        new = [p for p in doc.frame(f).instances if p.is_prediction]
        assert len(new) == 1 and np.allclose(new[0].keypoints[0, :2], (160, 120))
    assert seen["started"] == [("apply", 3, False)] and seen["progress"][-1][:2] == (3, 3)
    assert not seen["errors"] and "Predicted 3 people in 3 frames" in seen["messages"][-1][0]
    assert ctrl.heatmaps.lookup(0, np.array([0, 0, 320, 240.0])) is not None


def test_existing_boxes_and_reused_boxes(qtbot, doc):
    predictor = FakePredictor()
    ctrl, seen = _controller(doc, predictor)
    people = len(doc.frame(0).instances)
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([0], detector="existing")  # pose inside every person's box, no detector
    assert len(predictor.calls) == 1 and len(predictor.calls[0]) == people
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([0], detector="full_image")  # a frame with people: inside their boxes, no fifth person
    assert np.allclose(predictor.calls[1], predictor.calls[0]) and len(doc.frame(0).instances) == people
    assert "nothing changed" in seen["messages"][-1][0] and "Ctrl+Z" not in seen["messages"][-1][0]
    assert doc.undo_stack.count() == 0  # ground truth is kept; the status says so instead of offering undo
    gt = doc.frame(0).instances[0].copy()
    doc.frame(1).instances.clear()
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([1], detector="full_image")  # nobody there: one untouched prediction, the whole image
    doc.frame(1).instances.append(gt)
    ctrl.detector_for_run = lambda name: pytest.fail("a re-run must re-use the boxes")
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([1], scope="unreviewed", detector="fasterrcnn", reuse_boxes=True)
    assert predictor.calls[3].tolist() == [[0, 0, 320, 240]]  # only the prediction's box, not the GT's
    assert not ctrl.predict([], detector="full_image") and seen["messages"][-1][0] == "No frames to predict"
    doc.frame(1).instances.clear()
    assert not ctrl.predict([1], detector="existing") and seen["errors"][-1][0] == "No boxes"


class Turnstile:
    """A gate that lets through as many predict calls as it is told to (a fake model that could
    otherwise finish every frame before a cancel lands on a loaded machine)."""

    def __init__(self) -> None:
        self._sem = threading.Semaphore(0)

    def wait(self, timeout: float) -> None:
        self._sem.acquire(timeout=timeout)

    def set(self, n: int = 1) -> None:
        for _ in range(n):
            self._sem.release()


def test_cancel_keeps_the_frames_done(qtbot, doc):
    gate = Turnstile()
    ctrl, seen = _controller(doc, FakePredictor(gate))
    for f in range(4):
        doc.frame(f).instances.clear()
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([0, 1, 2, 3] * 5, scope="all", detector="full_image")
        assert not ctrl.predict([0], detector="full_image")  # one run at a time
        assert seen["messages"][-1][0] == "A prediction is already running"
        gate.set(1)  # one frame, then the cancel
        qtbot.waitUntil(lambda: ctrl.worker is not None and ctrl.worker.frames_done >= 1, timeout=10000)
        ctrl.cancel()
        gate.set(100)  # a call already waiting returns at once
    assert doc.undo_stack.count() == 1 and seen["messages"][-1][0].startswith("Cancelled: kept")


def test_pose_in_a_drawn_box_and_quiet_heatmaps(qtbot, doc):
    ctrl, seen = _controller(doc, FakePredictor())
    n = len(doc.frame(1).instances)
    with qtbot.waitSignal(ctrl.person_added, timeout=30000) as added:
        assert ctrl.predict_in_box(1, np.array([10, 20, 50, 100], np.float32))
    assert added.args == [1, n] and len(doc.frame(1).instances) == n + 1
    assert np.allclose(doc.frame(1).instances[n].bbox, (10, 20, 40, 80))
    qtbot.waitUntil(lambda: not ctrl.is_running, timeout=10000)
    with qtbot.waitSignal(ctrl.finished, timeout=30000) as done:
        ctrl.request_heatmaps(2, np.array([5.0, 5.0, 50.0, 60.0]))
    assert done.args == ["heatmaps"] and doc.undo_stack.count() == 1  # heatmaps change nothing
    assert ("heatmaps", 1, True) in seen["started"]
    ctrl.request_heatmaps(2, np.array([5.0, 5.0, 50.0, 60.0]))  # asked once per person
    assert not ctrl.is_running


def test_failures_are_messages_and_a_mismatched_model_is_named(qtbot, doc):
    ctrl, seen = _controller(doc, FakePredictor(fail=True))
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        ctrl.predict([0], detector="full_image")
    assert seen["errors"][0][0] == "Prediction failed" and "out of memory" in seen["errors"][0][1]
    assert doc.undo_stack.count() == 0
    assert ctrl.mismatch() is None
    ctrl.model.predictor.num_joints = 16
    assert "16 joints" in ctrl.mismatch() and "17" in ctrl.mismatch()


class SteppedPredictor(FakePredictor):
    """Predicts ``free`` frames at once, then one frame per ``step.release()``."""

    def __init__(self, free: int, spread: bool = False) -> None:
        super().__init__()
        self.step = threading.Semaphore(free)
        self.spread = spread

    def predict(self, image, boxes, box_scores=None, return_heatmaps=False):
        assert self.step.acquire(timeout=20)
        out = super().predict(image, boxes, box_scores, return_heatmaps)
        if self.spread:  # joints spread over the box (a pose a tracker can follow), not all at its centre
            u = np.linspace(0.2, 0.8, 17)
            for r in out:
                b = r.box
                r.keypoints[:, 0] = b[0] + (b[2] - b[0]) * u
                r.keypoints[:, 1] = b[1] + (b[3] - b[1]) * u[::-1]
        return out


def _clear(doc, frames):
    for f in frames:
        doc.frame(f).instances.clear()


def test_frames_are_applied_as_they_arrive_and_an_edit_meanwhile_splits_the_step(qtbot, doc):
    from app.commands import MoveKeypoint

    predictor = SteppedPredictor(2)
    ctrl, seen = _controller(doc, predictor)
    _clear(doc, range(4))
    done = []
    ctrl.frame_done.connect(done.append)
    assert ctrl.predict([0, 1, 2, 3], scope="all", detector="full_image")
    qtbot.waitUntil(lambda: len(doc.frame(1).instances) == 1, timeout=10000)
    assert ctrl.is_running and done == [0, 1] and doc.undo_stack.count() == 1 and not doc.frame(2).instances
    doc.push(MoveKeypoint(doc, 0, 0, 0, (5.0, 6.0)))  # the user corrects frame 0 while the run goes on
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        predictor.step.release()
        predictor.step.release()
    assert doc.undo_stack.count() == 3  # the run's frames 1-2, the edit, the run's frames 3-4
    assert "2 undo steps" in seen["messages"][-1][0] and done == [0, 1, 2, 3]
    after = [[p.keypoints.copy() for p in doc.frame(f).instances] for f in range(4)]
    for _ in range(3):
        doc.undo()
    assert all(not doc.frame(f).instances for f in range(4))
    for _ in range(3):
        doc.redo()
    assert [len(doc.frame(f).instances) for f in range(4)] == [1, 1, 1, 1]
    assert all(np.array_equal(a, p.keypoints) for f in range(4) for a, p in zip(after[f], doc.frame(f).instances))
    assert doc.frame(0).instances[0].keypoints[0, :2].tolist() == [5.0, 6.0]


def test_undo_while_a_run_goes_on_stops_it(qtbot, doc):
    predictor = SteppedPredictor(2)
    ctrl, seen = _controller(doc, predictor)
    _clear(doc, range(4))
    assert ctrl.predict([0, 1, 2, 3], scope="all", detector="full_image")
    qtbot.waitUntil(lambda: len(doc.frame(1).instances) == 1, timeout=10000)
    doc.undo()  # the run so far is undone and the run stops: later frames must not appear
    assert not doc.frame(0).instances and not doc.frame(1).instances
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        predictor.step.release()
        predictor.step.release()
    assert all(not doc.frame(f).instances for f in range(4))
    assert "you undid it after 2 frames" in seen["messages"][-1][0]
    doc.redo()
    assert [len(doc.frame(f).instances) for f in range(4)] == [1, 1, 0, 0]


def test_a_tracked_video_run_shows_provisional_people_then_joins_the_known_track(qtbot, tmp_path):
    """Video frames go through the tracker: each frame's people appear as it is done, with the
    tracker's new ids; at the end the track that lands on a person kept from the file takes that
    person's id — in the same undo step."""
    from hrnet import Instance
    from tests.app.gui_support import synthetic_video

    document = AnnotationDocument()
    document.open([synthetic_video(tmp_path, num_frames=6)])
    kp = np.zeros((17, 3))
    u = np.linspace(0.2, 0.8, 17)
    kp[:, 0], kp[:, 1], kp[:, 2] = 320 * u, 240 * u[::-1], 2
    document.frame(0).instances = [Instance(kp, bbox=np.array([0, 0, 320, 240.0]), track_id=7)]  # from a file

    class WholeImage:
        def __call__(self, image, *, image_key=None):
            h, w = image.shape[:2]
            return type("D", (), {"boxes": np.array([[0, 0, w, h]], np.float32), "scores": np.ones(1)})()

    predictor = SteppedPredictor(3, spread=True)
    ctrl, seen = _controller(document, predictor)
    ctrl._detector, ctrl._detector_key = WholeImage(), ("whole", "cpu")
    assert ctrl.predict(list(range(6)), scope="all", detector="whole")
    qtbot.waitUntil(lambda: len(document.frame(2).instances) == 1, timeout=10000)
    assert ctrl.is_running and document.undo_stack.count() == 1
    provisional = document.frame(1).instances[0].track_id
    assert provisional is not None and provisional > 7  # a new id while the run goes on
    with qtbot.waitSignal(ctrl.finished, timeout=30000):
        for _ in range(3):
            predictor.step.release()
    assert document.undo_stack.count() == 1
    assert [[p.track_id for p in document.frame(f).instances] for f in range(6)] == [[7]] * 6
    document.undo()
    assert [p.track_id for p in document.frame(0).instances] == [7]
    assert all(not document.frame(f).instances for f in range(1, 6))
    document.redo()
    assert [[p.track_id for p in document.frame(f).instances] for f in range(6)] == [[7]] * 6
    document.close()


def test_a_video_frame_is_applied_only_once_its_track_ids_are_in(qtbot, tmp_path):
    """The live update (a timer) may fire between a frame's result and its track ids: the frame
    waits until the worker reports it done (result, track ids, then progress arrive in order)."""
    from app.controllers.inference import InferenceRun
    from tests.app.gui_support import synthetic_video

    document = AnnotationDocument()
    document.open([synthetic_video(tmp_path, num_frames=3)])
    ctrl, _seen = _controller(document, FakePredictor())
    run = ctrl.run = InferenceRun("apply", worker=None, total=3, scope="all")
    results = FakePredictor().predict(np.zeros((240, 320, 3), np.uint8), np.array([[10, 10, 100, 200]], np.float32))
    ctrl._on_result(run, 0, results)
    ctrl._apply_live()  # the live-update timer fires now
    assert not document.frame(0).instances
    run.track_ids[0] = [5]  # the worker's tracked(0, [5])
    ctrl._on_progress(run, 1, 3, "frame 1: 1 person")
    assert [p.track_id for p in document.frame(0).instances] == [5]
    ctrl.run = None
    document.close()
