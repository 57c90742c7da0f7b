"""TrainDialog end to end: a REAL short hrnet-train run from the dialog on a synthetic project
(tiny W16 experiment, few images, 3 short epochs): progress events and curves, Stop (finish the
epoch, keep the checkpoint), Resume, the old/new comparison, then "use the new model and re-run it
on the unreviewed frames" landing as ONE undo step. Plus the checks before starting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.commands import SetReviewed
from app.document import AnnotationDocument
from app.model_manager import ModelSpec
from app.training.dialog import TrainDialog
from app.training.events import RunFinished, StepProgress
from app.training.rerun import RerunJob, rerun_on_unreviewed, unreviewed_frames
from hrnet.config import load_config
from hrnet.dataset.synthetic import generate_dataset

EXPERIMENT = "synthetic/hrnet_w16_128x96"
# Shrink the run: 3 epochs of ~3 steps, no flip test, no data workers, seeded.
EXTRA_OPTS = "WORKERS 0 TEST.FLIP_TEST False TRAIN.SEED 0 PRINT_FREQ 100"
NUM_IMAGES = 10
NUM_REVIEWED = 7


def make_project(root: Path) -> AnnotationDocument:
    ann = generate_dataset(root / "synth", NUM_IMAGES, image_size=(160, 120), people=(1, 2), seed=3)
    doc = AnnotationDocument()
    doc.open([ann], image_root=root / "synth" / "images" / "train")
    doc.push(SetReviewed(doc, list(range(NUM_REVIEWED)), True))
    for fr in doc.data.frames[NUM_REVIEWED:]:  # the unreviewed frames hold earlier model output
        for person in fr.instances:
            person.joint_scores = np.where(person.keypoints[:, 2] > 0, 0.5, 0.0)
            assert person.is_prediction
    doc.undo_stack.clear()
    return doc


@pytest.fixture
def project(tmp_path: Path) -> AnnotationDocument:
    return make_project(tmp_path)


def make_dialog(qtbot, doc: AnnotationDocument, run_dir: Path, current: ModelSpec | None = None) -> TrainDialog:
    dlg = TrainDialog(doc, current)
    qtbot.addWidget(dlg)
    dlg.experiment_combo.setCurrentText(EXPERIMENT)
    dlg.output_edit.setText(str(run_dir))
    dlg.epochs_spin.setValue(3)
    dlg.batch_spin.setValue(4)
    dlg.device_combo.setCurrentText("cpu")
    dlg.val_spin.setValue(30)
    dlg.extra_opts_edit.setText(EXTRA_OPTS)
    return dlg


def test_checks_before_start(qtbot, tmp_path: Path) -> None:
    doc = make_project(tmp_path)
    doc.push(SetReviewed(doc, list(range(NUM_IMAGES)), False))
    dlg = make_dialog(qtbot, doc, tmp_path / "run")
    problems = dlg.validate()
    assert any("no reviewed frames" in p and "mark each such frame as reviewed" in p for p in problems)
    assert not dlg.start_button.isEnabled() and "reviewed" in dlg.problems_label.text()
    assert dlg.start_training() is False and not dlg.process.is_running()

    doc.push(SetReviewed(doc, [0], True))
    qtbot.waitUntil(lambda: "at least two" in dlg.problems_label.text(), timeout=5000)  # debounced refresh

    doc.push(SetReviewed(doc, list(range(NUM_REVIEWED)), True))
    qtbot.waitUntil(lambda: dlg.start_button.isEnabled(), timeout=5000)
    assert dlg.validate() == []
    # the split is visible before the export: counts and which frames
    rows = {dlg.split_table.item(r, 2).text() for r in range(dlg.split_table.rowCount())}
    assert rows == {"train", "validation"} and dlg.split_table.rowCount() == NUM_REVIEWED
    assert "Training:" in dlg.split_label.text() and "Validation:" in dlg.split_label.text()

    dlg.extra_opts_edit.setText("TRAIN.NOT_A_KEY 1")
    assert any("NOT_A_KEY" in p for p in dlg.validate())
    dlg.extra_opts_edit.setText("WORKERS")
    assert any("KEY VALUE" in p for p in dlg.validate())
    dlg.extra_opts_edit.setText("")
    dlg.base_combo.setCurrentIndex(dlg.base_combo.findData("pose_file"))
    dlg.base_path_edit.setText(str(tmp_path / "missing.pth"))
    assert any("does not exist" in p for p in dlg.validate())
    dlg.base_combo.setCurrentIndex(dlg.base_combo.findData("random"))
    dlg.augment_combo.setCurrentText("Off")
    cmd = dlg.build_command()
    opts = dict(cmd.opts)
    assert opts["DATASET.SCALE_FACTOR"] == "0.0" and opts["DATASET.ROT_FACTOR"] == "0"
    assert opts["DATASET.FLIP"] == "False" and opts["DATASET.PROB_HALF_BODY"] == "0.0"
    assert opts["TRAIN.END_EPOCH"] == "3" and opts["TRAIN.BATCH_SIZE_PER_GPU"] == "4"
    assert opts["DATASET.DATASET"] == "coco_json" and cmd.weights is None
    assert dlg.command_view.toPlainText() == cmd.display()
    dlg.copy_command()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text().startswith("hrnet-train --cfg synthetic/hrnet_w16_128x96")


@pytest.mark.parametrize(
    ("mode", "title", "expected"),
    [
        ("error_event", "Out of memory", ["CUDA out of memory", "Lower the batch size"]),
        ("crash", "Training process crashed", ["exited with code 3", "ValueError: image 7 has no keypoints"]),
    ],
)
def test_training_errors_are_shown_in_the_dialog(qtbot, project: AnnotationDocument, tmp_path: Path, mode: str,
                                                 title: str, expected: list[str]) -> None:
    import sys

    from app.training.process import TrainingProcess
    from tests.app.test_training_process import FAKE_TRAIN

    fake = tmp_path / "fake_train.py"
    fake.write_text(FAKE_TRAIN)
    proc = TrainingProcess(launcher=lambda cmd: (sys.executable, [str(fake), *cmd.args()]),
                           extra_env={"FAKE_MODE": mode})
    dlg = TrainDialog(project, None, process=proc)
    qtbot.addWidget(dlg)
    dlg.output_edit.setText(str(tmp_path / "run"))
    with qtbot.waitSignal(proc.finished, timeout=30000):
        assert dlg.start_training()
    assert not dlg.error_frame.isHidden()
    assert dlg.error_title.text() == title
    for text in expected:
        assert text in dlg.error_label.text()
    assert "failed" in dlg.status_label.text().lower()
    assert dlg.tabs.currentIndex() == 1 and dlg.start_button.isEnabled()  # fix and try again
    assert dlg.new_model is None and not dlg.use_button.isEnabled()


def test_cancel_and_close_while_training(qtbot, project: AnnotationDocument, tmp_path: Path, monkeypatch) -> None:
    import sys

    from PySide6.QtWidgets import QMessageBox

    from app.training.process import TrainingProcess
    from tests.app.test_training_process import FAKE_TRAIN

    fake = tmp_path / "fake_train.py"
    fake.write_text(FAKE_TRAIN)
    proc = TrainingProcess(launcher=lambda cmd: (sys.executable, [str(fake), *cmd.args()]),
                           extra_env={"FAKE_MODE": "hang"}, kill_timeout_ms=1000)
    dlg = TrainDialog(project, None, process=proc)
    qtbot.addWidget(dlg)
    dlg.output_edit.setText(str(tmp_path / "run"))
    dlg.start_training()
    qtbot.waitUntil(lambda: "hanging" in dlg.log_view.toPlainText(), timeout=30000)
    assert dlg.cancel_button.isEnabled() and dlg.stop_button.isEnabled()
    assert not dlg.start_button.isEnabled() and not dlg.epochs_spin.isEnabled()  # settings frozen while running
    with qtbot.waitSignal(proc.finished, timeout=10000):
        dlg.cancel_button.click()
    assert "cancelled" in dlg.status_label.text() and dlg.error_frame.isHidden()

    # closing while a run is in progress asks; "No" keeps it running, "Yes" cancels it
    dlg.output_edit.setText(str(tmp_path / "run2"))
    dlg.start_training()
    qtbot.waitUntil(lambda: proc.is_running() and "hanging" in dlg.log_view.toPlainText(), timeout=30000)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    dlg.reject()
    assert proc.is_running()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dlg.reject()
    assert not proc.is_running() and proc.result is not None and proc.result.status == "cancelled"


def test_train_stop_resume_compare_and_rerun(qtbot, project: AnnotationDocument, tmp_path: Path) -> None:
    doc = project
    run = tmp_path / "run"
    dlg = make_dialog(qtbot, doc, run)
    dlg.show()
    assert dlg.validate() == []
    finished: list[RunFinished] = []
    dlg.process.finished.connect(finished.append)

    # Stop as soon as the first step is reported: training finishes that epoch and keeps its checkpoint.
    def stop_once(ev: StepProgress) -> None:
        if dlg.process.state == "running":
            assert dlg.stop_button.isEnabled()
            dlg.stop_button.click()

    dlg.process.step.connect(stop_once)
    dlg.start_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=90000)
    first = finished[-1]
    assert first.status == "stopped", dlg.log_view.toPlainText()[-3000:]
    assert 1 <= first.epochs_done < 3
    assert (run / "checkpoint.pth").is_file() and (run / "config.yaml").is_file()  # config saved next to ckpts
    saved = load_config(run / "config.yaml")  # the resolved config: experiment + the dialog's overrides
    assert saved.TRAIN.END_EPOCH == 3 and saved.TRAIN.BATCH_SIZE_PER_GPU == 4 and saved.WORKERS == 0
    assert saved.DATASET.TRAIN_ANNOTATIONS == str(run / "data" / "train.json")
    assert (run / "data" / "train.json").is_file() and dlg.exported is not None
    assert len(dlg.exported.train) + len(dlg.exported.val) == NUM_REVIEWED and dlg.exported.val
    # live view: progress, loss curve, one AP/PCK point per finished epoch
    assert dlg.progress_bar.value() > 0
    assert len(dlg.loss_curve.getData()[0]) >= 1
    assert len(dlg.ap_curve.getData()[0]) == first.epochs_done == len(dlg.pck_curve.getData()[0])
    assert "Epoch 1" in dlg.progress_label.text() and "ETA" in dlg.progress_label.text()
    assert "stopped" in dlg.status_label.text()
    assert dlg.command_view.toPlainText().startswith("hrnet-train --cfg synthetic/hrnet_w16_128x96")
    assert dlg.resume_button.isEnabled() and not dlg.stop_button.isEnabled()
    assert dlg.new_model is not None  # the stopped run's best checkpoint is usable (its evaluation runs now)

    dlg.process.step.disconnect(stop_once)
    dlg.resume_button.click()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=90000)
    second = finished[-1]
    assert second.status == "completed", dlg.log_view.toPlainText()[-3000:]
    assert dlg.process.run_started.begin_epoch == first.epochs_done
    assert "--resume" in dlg.command.args()
    assert len(dlg.ap_curve.getData()[0]) == 3  # curves continue across the resume
    assert list(dlg.ap_curve.getData()[0]) == [1, 2, 3]
    assert dlg.progress_bar.value() == dlg.progress_bar.maximum()
    assert not dlg.resume_button.isEnabled()
    dlg.epochs_spin.setValue(4)
    assert dlg.resume_button.isEnabled()  # train longer
    dlg.epochs_spin.setValue(3)

    # the comparison (no current model: only the new one is measured)
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=60000)
    new = dlg.comparison.get("new")
    assert not isinstance(new, str), new
    assert new is not None and "AP" in new.metrics and "PCK" in new.metrics
    assert dlg.compare_table.item(0, 1).text() not in ("", "failed")
    spec = dlg.new_model
    assert spec is not None and spec.weights == str(run / "model_best.pth")
    assert spec.experiment == str(run / "config.yaml")

    # one click: load the best checkpoint and re-run it on the unreviewed frames (one undo step)
    ready: list[ModelSpec] = []
    jobs: list[RerunJob] = []
    dlg.model_ready.connect(ready.append)
    dlg.rerun_requested.connect(lambda s: jobs.append(rerun_on_unreviewed(doc, s)))
    todo = unreviewed_frames(doc)
    assert todo == list(range(NUM_REVIEWED, NUM_IMAGES))
    before = {i: [p.copy() for p in doc.frame(i).instances] for i in range(NUM_IMAGES)}
    depth = doc.undo_stack.count()
    assert dlg.rerun_button.isEnabled()
    dlg.use_button.click()
    assert ready == [spec] and not jobs  # "use": the main window loads it
    dlg.rerun_button.click()
    assert ready == [spec] and len(jobs) == 1  # "re-run": the main window loads it and runs it
    outcome: list[object] = []
    jobs[0].finished.connect(outcome.append)
    jobs[0].failed.connect(outcome.append)
    qtbot.waitUntil(lambda: bool(outcome), timeout=60000)
    assert not isinstance(outcome[0], str), outcome[0]
    assert doc.undo_stack.count() == depth + 1
    for i in range(NUM_REVIEWED):  # reviewed frames untouched
        assert doc.frame(i).instances == before[i]
    changed = [i for i in todo if doc.frame(i).instances != before[i]]
    assert changed == todo  # every unreviewed frame got the new model's people
    for i in todo:
        assert len(doc.frame(i).instances) == len(before[i])  # re-estimated in the same boxes
        assert all(p.joint_scores is not None for p in doc.frame(i).instances)
    doc.undo()
    for i in range(NUM_IMAGES):
        assert doc.frame(i).instances == before[i]
    dlg.shutdown()


def test_evaluation_metrics(project: AnnotationDocument, tmp_path: Path) -> None:
    """The comparison is hrnet's one evaluation on the exported validation frames: the same
    numbers as hrnet.evaluate_model (which hrnet-train validates with), under hrnet's names."""
    import torch

    import hrnet
    from app.training.data import export_reviewed
    from app.training.evaluation import METRIC_NAMES, evaluate_model

    data = export_reviewed(project, tmp_path / "data", 0.3, 0)
    torch.manual_seed(0)
    weights = tmp_path / "w.pth"
    torch.save(hrnet.build_model(hrnet.load_config(EXPERIMENT)).state_dict(), weights)
    calls: list[tuple[int, int]] = []
    result = evaluate_model(EXPERIMENT, str(weights), data.val_json, data.images_dir, device="cpu",
                            progress=lambda done, total: calls.append((done, total)))
    direct = hrnet.evaluate_model(EXPERIMENT, weights, device="cpu", opts=[
        ("DATASET.DATASET", "coco_json"), ("DATASET.TEST_ANNOTATIONS", str(data.val_json)),
        ("DATASET.TEST_IMAGES", str(data.images_dir)), ("TEST.USE_GT_BBOX", "True")])
    assert result.metrics == direct.metrics
    assert set(METRIC_NAMES) <= set(result.metrics) and METRIC_NAMES[:2] == ("AP", "AP .5")
    assert result.num_images == len(data.val) and result.num_people == data.val_people
    assert calls and calls[-1][0] == calls[-1][1]
    with pytest.raises(hrnet.EvaluationCancelled):
        evaluate_model(EXPERIMENT, str(weights), data.val_json, data.images_dir, device="cpu",
                       should_stop=lambda: True)


def test_rerun_glue_keeps_hand_edits(qtbot, project: AnnotationDocument, tmp_path: Path) -> None:
    """The glue the main window can call, tested directly against the document."""
    import torch

    from hrnet import build_model, load_config

    torch.manual_seed(0)
    cfg = load_config(EXPERIMENT)
    weights = tmp_path / "current.pth"
    torch.save(build_model(cfg).state_dict(), weights)
    doc = project
    fr = doc.frame(NUM_IMAGES - 1)
    fr.instances[0].edited[:] = True  # a person corrected by hand on an unreviewed frame is kept
    kept = fr.instances[0].copy()
    job = RerunJob(doc, ModelSpec(EXPERIMENT, str(weights), "cpu"))
    with qtbot.waitSignal(job.finished, timeout=60000):
        job.start()
    assert job.command is not None and doc.undo_stack.count() == 1
    assert doc.frame(NUM_IMAGES - 1).instances[0] == kept
    assert sorted(job.results) == unreviewed_frames(doc)
    assert np.isfinite(doc.frame(NUM_REVIEWED).instances[0].keypoints).all()
