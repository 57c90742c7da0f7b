"""Issue 12's "Done when", walked through the real main window as a user would (offscreen):

1. File › New project with a keypoint set…: the real dialog, template hand-21, then the images;
2. label four frames (people placed, one joint dragged with the real mouse) and mark them reviewed;
3. Model › Train model…: pick the COCO registry model (a stand-in W32 file in a throw-away weights
   cache: nothing is downloaded), which the dialog marks as another keypoint set; a tiny real
   ``hrnet-train`` run (one step at 96x128) fine-tunes it into a hand model; "Use new model";
4. predict an unlabelled frame: the person is drawn with hand-21's names and lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.commands import AddInstance, SetReviewed
from app.controllers.inference import WHOLE_IMAGE
from hrnet import Instance, build_model, find_entry, load_config, read_keypoint_set, weights_dir
from hrnet.keypoints import HAND_21
from tests.app.gui_support import drag, make_window, view_pos, wait_frame
from tests.app.hand_data import write_hand_images

pytestmark = pytest.mark.slow  # a real hrnet-train run of a W32 network on the CPU (1-5 min)

COCO_W32 = "pose_hrnet_w32_256x192"
LABELLED = 4


@pytest.fixture
def coco_in_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))  # hrnet-train (a child process) inherits it
    target = weights_dir() / find_entry(COCO_W32).file_name
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(build_model(load_config(find_entry(COCO_W32).experiment), is_train=False).state_dict(), target)
    return target


def test_hand_project_label_finetune_a_coco_model_and_predict(qtbot, tmp_path, monkeypatch, coco_in_cache):
    images = tmp_path / "hands"
    truth = write_hand_images(images, 6, image_size=(128, 128))
    window = make_window(qtbot, tmp_path, monkeypatch)

    # 1. a new project: the real keypoint-set dialog, template hand-21, OK; then the images
    ctl = window.keypoints
    real_dialog = ctl._dialog
    shown = []

    def dialog(draft, new_project, labelled):
        dlg = real_dialog(draft, new_project, labelled)

        def choose() -> None:
            dlg.template_combo.setCurrentIndex(dlg.template_combo.findData("hand-21"))
            dlg.use_template_button.click()
            shown.append(len(dlg.draft))
            dlg.box.button(QDialogButtonBox.StandardButton.Ok).click()

        QTimer.singleShot(0, choose)
        return dlg

    monkeypatch.setattr(ctl, "_dialog", dialog)
    monkeypatch.setattr(window.project, "open_files_dialog", lambda: window.open_paths([images]))
    window.act_new_project.trigger()
    doc = window.document
    assert shown == [21] and doc.num_frames() == 6 and doc.keypoint_set() == HAND_21
    wait_frame(qtbot, window.view, 0)
    assert window.view.names == list(HAND_21.names)

    # 2. label four frames; one joint corrected with the real mouse; mark them reviewed
    for i in range(LABELLED):
        doc.push(AddInstance(doc, i, Instance(truth[i].copy())))
    wrist = doc.frame(0).instances[0].keypoints[0, :2].copy()
    drag(window.view, view_pos(window.view, *wrist), view_pos(window.view, wrist[0] + 3, wrist[1] - 2))
    assert np.allclose(doc.frame(0).instances[0].keypoints[0, :2], wrist + (3, -2), atol=0.6)
    assert window.view.joint_description(0, 0).startswith("#1 wrist")
    doc.push(SetReviewed(doc, list(range(LABELLED)), True))

    # 3. Train model…: a COCO registry model, marked as another keypoint set; a tiny real run
    window.act_train.trigger()
    dlg = window.train_dialog
    i = dlg.base_combo.findData("registry:" + COCO_W32)
    assert "starts the head fresh, 0 of 21 joints copied by name" in dlg.base_combo.itemText(i)
    dlg.base_combo.setCurrentIndex(i)
    assert dlg.experiment_combo.currentText() == find_entry(COCO_W32).experiment
    dlg.input_combo.setCurrentIndex(dlg.input_combo.findData((96, 128)))
    dlg.device_combo.setCurrentText("cpu")
    dlg.val_spin.setValue(25)
    dlg.epochs_spin.setValue(1)
    dlg.extra_opts_edit.setText("WORKERS 0 TEST.FLIP_TEST False TRAIN.SEED 0 TRAIN.EPOCH_REPEATS 1 PRINT_FREQ 100")
    run = tmp_path / "run"
    dlg.output_edit.setText(str(run))
    assert dlg.validate() == [], dlg.validate()
    command = dlg.command_view.toPlainText()
    assert f"--weights {coco_in_cache}" in command and "--finetune" in command and "MODEL.NUM_JOINTS 21" in command
    finished = []
    dlg.process.finished.connect(finished.append)
    dlg.start_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=900_000)
    log_text = dlg.log_view.toPlainText()
    assert finished[-1].status == "completed", log_text[-3000:]
    assert "0 of them copied" in log_text  # hrnet-train's cross-set start, as the dialog said
    assert read_keypoint_set(run / "model_best.pth") == HAND_21
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=300_000)
    verdict = dlg.verdict
    assert verdict is not None and verdict.old is None and verdict.fresh_head and "COCO-17" in verdict.summary()
    print("\nverdict:", verdict.summary())
    print("compare:", dlg.compare_label.text())
    # "Use new model" (asked first when no epoch beat the base: the walk answers yes)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(window.model.model_loaded, timeout=120_000):
        dlg.use_button.click()
    assert window.model.predictor.keypoint_set == HAND_21
    assert "matches this project" in window.model_panel.keypoints_label.text()

    # 4. predict an unlabelled frame (the whole image as the hand's box): hand-21 names and lines
    window.model_panel.set_detector(WHOLE_IMAGE)
    window.go_to_frame(4)
    wait_frame(qtbot, window.view, 4)
    with qtbot.waitSignal(window.inference_finished, timeout=120_000, check_params_cb=lambda m: m == "apply"):
        assert window.inference.predict([4], "current", WHOLE_IMAGE)
    people = doc.frame(4).instances
    assert len(people) == 1 and people[0].keypoints.shape == (21, 3) and people[0].joint_scores is not None
    person = window.view.persons[0]
    assert person.names == list(HAND_21.names) and person.skeleton == list(HAND_21.skeleton)
    assert window.view.joint_description(0, 5).startswith("#1 forefinger1 — conf")
    window.grab().save(str(tmp_path / "walk.png"))
    print("screenshot:", tmp_path / "walk.png")
    qtbot.waitUntil(lambda: not window.inference.is_running, timeout=60_000)  # the quiet heatmap request
    dlg.shutdown()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    window.close()
