"""Inference from the window with the tiny random-weight HRNet: one undo step, heatmaps in the GUI,
pose inside a hand-drawn box, cancel."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.model_manager import ModelSpec
from tests.app.gui_support import drag, key, make_window, synthetic_project, view_pos, wait_frame

TINY = ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu")


def _not_heatmaps(mode: str) -> bool:  # selecting a person may start a quiet heatmap request first
    return mode != "heatmaps"


@pytest.fixture(scope="module")
def predictor():
    from hrnet.predictor import Predictor

    return Predictor(TINY.experiment, weights=None, device="cpu")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, predictor):
    w = make_window(qtbot, tmp_path, monkeypatch)
    ann, _ = synthetic_project(tmp_path, num_images=4)
    w.open_paths([ann])
    wait_frame(qtbot, w.view, 0)
    for frame in w.document.data.frames:  # as if predicted before: untouched model output
        for p in frame.instances:
            p.joint_scores = np.full(p.num_joints, 0.5)
    w.model.set_predictor(TINY, predictor)
    w.model_panel.set_detector("full_image")
    yield w
    w.close()


def test_predict_frame_is_one_undo_step_with_heatmaps(qtbot, window):
    doc, view = window.document, window.view
    assert "RANDOM" in window.device_label.text() or "cpu" in window.device_label.text()
    assert window.act_predict_frame.isEnabled()
    before = [p.copy() for p in doc.frame(0).instances]
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps) as blocker:
        key(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == ["apply"]
    people = doc.frame(0).instances
    predicted = [p for p in people if p.joint_scores is not None and not p.is_edited]
    # 'whole image' on a frame with people predicts inside their boxes: the same number of people
    assert len(predicted) == len(before) and all(p.joint_scores is not None for p in people)
    assert not any(np.allclose(a.keypoints, b.keypoints) for a, b in zip(people, before))
    assert doc.undo_stack.count() == 1
    # heatmaps of the selected person: overlay on the canvas + the dock grid
    idx = people.index(predicted[0])
    view.select(idx, 5)
    assert window.heatmap_panel.heatmaps is not None and window.heatmap_panel.heatmaps.shape == (17, 32, 24)
    assert view.heatmap_item.isVisible() and not view.heatmap_item.pixmap().isNull()
    rect = view.heatmap_item.mapRectToScene(view.heatmap_item.boundingRect())
    assert rect.width() > 50  # mapped into image space (the 24x32 map covers the person box, not 24 px)
    key(window, Qt.Key.Key_H, Qt.KeyboardModifier.ShiftModifier)  # max over joints
    assert window.heatmap_panel.overlay_mode() == "max" and view.heatmap_item.isVisible()
    key(window, Qt.Key.Key_H)  # overlay off
    assert not view.heatmap_item.isVisible()
    window.heatmap_panel.joint_clicked.emit(7)
    assert view.selected_joint == 7
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [p.keypoints.tolist() for p in doc.frame(0).instances] == [p.keypoints.tolist() for p in before]


def test_hand_edits_survive_rerun_and_pose_inside_drawn_box(qtbot, window):
    doc, view = window.document, window.view
    kp = doc.frame(0).instances[0].keypoints
    j = int(np.flatnonzero(kp[:, 2] == 2)[0])
    x, y = kp[j, :2]
    drag(view, view_pos(view, x, y), view_pos(view, x + 12, y + 8))  # person 0 is now hand-edited
    edited = doc.frame(0).instances[0].keypoints.copy()
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps):
        window.run_inference("all")
    assert any(np.allclose(p.keypoints, edited) for p in doc.frame(0).instances)
    assert all(any(p.joint_scores is not None for p in doc.frame(i).instances) for i in range(4))
    n = len(doc.frame(0).instances)
    steps = doc.undo_stack.count()
    key(window, Qt.Key.Key_B)
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps) as blocker:
        drag(view, view_pos(view, 150, 20), view_pos(view, 230, 220))
    assert blocker.args == ["add"]
    people = doc.frame(0).instances
    assert len(people) == n + 1 and doc.undo_stack.count() == steps + 1
    new = people[-1]
    assert np.allclose(new.bbox, (150, 20, 80, 200), atol=3 * view.pixel_size() + 0.5)
    assert new.joint_scores is not None and view.selected_person == n


def test_cancel_keeps_finished_frames_as_one_step(qtbot, window):
    doc = window.document
    inference = window.inference
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps):
        assert inference.predict([0, 1, 2, 3] * 10, scope="all", detector="full_image")  # a long run
        qtbot.waitUntil(lambda: inference.worker is not None and inference.worker.frames_done >= 1, timeout=30000)
        window.cancel_inference()
    assert doc.undo_stack.count() == 1
    assert "Cancelled" in window.statusBar().currentMessage()


def test_box_without_model_when_model_busy_is_not_lost(qtbot, window):
    # errors in the worker are messages; the document is untouched
    window.model.predictor = None
    window.model.spec = None
    window.run_inference("current")
    assert window.last_error[0] == "No pose model"


def test_train_dialog_rerun_loads_the_model_and_predicts_unreviewed(qtbot, window):
    from app.training import TrainDialog

    doc = window.document
    doc.push(__import__("app.commands", fromlist=["SetReviewed"]).SetReviewed(doc, 0, True))
    reviewed_people = [p.copy() for p in doc.frame(0).instances]
    window.model.clear()
    window.act_train.trigger()
    dialog = window.train_dialog
    assert isinstance(dialog, TrainDialog) and dialog.isVisible()
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps):
        dialog.rerun_requested.emit(TINY)
    assert window.model.spec == TINY and window.model.is_loaded
    assert [p.keypoints.tolist() for p in doc.frame(0).instances] == [p.keypoints.tolist() for p in reviewed_people]
    assert all(any(p.joint_scores is not None for p in doc.frame(i).instances) for i in range(1, 4))
    dialog.close()


def test_rerun_reuses_boxes_of_earlier_predictions_without_a_detector(qtbot, window, monkeypatch):
    from app.commands import ApplyPredictions
    from hrnet.annotations import Instance

    doc = window.document
    # every frame holds untouched model output (old model) inside a known box
    box = np.array([10.0, 12.0, 60.0, 110.0])  # xywh
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = 30, 50, 2
    old = {f: [Instance(kp.copy(), bbox=box.copy(), score=0.5, joint_scores=np.full(17, 0.5))]
           for f in range(doc.num_frames())}
    doc.push(ApplyPredictions(doc, old))
    steps = doc.undo_stack.count()

    def no_detector(_name):  # a re-run must not need one: frames already have people boxes
        raise AssertionError("detector requested")

    monkeypatch.setattr(window.inference, "detector_for_run", no_detector)
    window.model_panel.set_detector("fasterrcnn")
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=_not_heatmaps):
        window.rerun_unreviewed(TINY)
    assert doc.undo_stack.count() == steps + 1  # the re-run is one undo step
    for f in range(doc.num_frames()):
        new = [p for p in doc.frame(f).instances if p.is_prediction]
        assert len(new) == 1
        assert not np.allclose(new[0].keypoints[:, :2], kp[:, :2])  # replaced by the new model's pose
