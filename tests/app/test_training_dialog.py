"""TrainDialog end to end: a REAL short hrnet-train run from the dialog on a synthetic project
(tiny W16 experiment, few images, 3 short epochs): progress events and curves, Stop (finish the
epoch, keep the checkpoint), Resume, the old/new comparison, then "use the new model and re-run it
on the unreviewed frames" through the main window's own inference path, landing as ONE undo step.
Plus the checks before starting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.commands import SetReviewed
from app.document import AnnotationDocument
from app.model_manager import ModelSpec
from app.training.dialog import TrainDialog
from app.training.events import RunFinished, StepProgress
from app.training.verdict import TrainingVerdict
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


@pytest.fixture(autouse=True)
def no_unanswered_question(monkeypatch):
    """Offscreen nobody answers a modal question: one a test did not expect (e.g. "Training is
    running — cancel it and close?" when a failed test's dialog is closed at teardown) is answered
    Yes instead of hanging the run. Tests that check a question patch it themselves."""
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)


@pytest.fixture
def project(tmp_path: Path) -> AnnotationDocument:
    return make_project(tmp_path)


def make_dialog(qtbot, doc: AnnotationDocument, run_dir: Path, current: ModelSpec | None = None) -> TrainDialog:
    dlg = TrainDialog(doc, current)
    qtbot.addWidget(dlg, before_close_func=lambda d: d.shutdown())  # never a modal question
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
    qtbot.addWidget(dlg, before_close_func=lambda d: d.shutdown())  # never a modal question
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
    qtbot.addWidget(dlg, before_close_func=lambda d: d.shutdown())  # never a modal question
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
    qtbot.waitUntil(lambda: bool(finished), timeout=300000)
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
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=300000)
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
    qtbot.waitUntil(lambda: not dlg.is_busy(), timeout=180000)
    new = dlg.comparison.get("new")
    assert not isinstance(new, str), new
    assert new is not None and "AP" in new.metrics and "PCK" in new.metrics
    assert dlg.compare_table.item(0, 1).text() not in ("", "failed")
    spec = dlg.new_model
    assert spec is not None and spec.weights == str(run / "model_best.pth")
    assert spec.experiment == str(run / "config.yaml")

    # "use" and "re-run" hand the new model to the main window (which loads / runs it: see
    # test_rerun_through_the_main_window_keeps_hand_edits); with no current model nothing is asked
    ready: list[ModelSpec] = []
    reruns: list[ModelSpec] = []
    dlg.model_ready.connect(ready.append)
    dlg.rerun_requested.connect(reruns.append)
    assert dlg.verdict is not None and dlg.verdict.default_action == "use"
    assert dlg.rerun_button.isEnabled()
    dlg.use_button.click()
    assert ready == [spec] and not reruns
    dlg.rerun_button.click()
    assert ready == [spec] and reruns == [spec]
    assert spec.title.startswith("hrnet_w16_128x96") or spec.title.startswith(EXPERIMENT)
    assert "config" not in spec.label().split(" — ")[0] and spec.label().endswith("model_best.pth")
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


def test_rerun_through_the_main_window_keeps_hand_edits(qtbot, tmp_path: Path, monkeypatch) -> None:
    """The path the app really runs for "re-run on unreviewed frames": the dialog's ``rerun_requested``
    -> ``MainWindow.rerun_unreviewed`` (load the model, predict the unreviewed frames as one undo step)."""
    import torch

    from hrnet import build_model, load_config
    from tests.app.gui_support import make_window, synthetic_project, wait_frame

    torch.manual_seed(0)
    weights = tmp_path / "current.pth"
    torch.save(build_model(load_config(EXPERIMENT)).state_dict(), weights)
    window = make_window(qtbot, tmp_path, monkeypatch)
    ann, _ = synthetic_project(tmp_path, num_images=4, people=(1, 2))
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    window.model_panel.set_detector("full_image")
    doc = window.document
    doc.push(SetReviewed(doc, [0, 1], True))
    reviewed = {i: [p.copy() for p in doc.frame(i).instances] for i in (0, 1)}
    doc.frame(3).instances[0].edited[:] = True  # a person corrected by hand on an unreviewed frame is kept
    kept = doc.frame(3).instances[0].copy()
    before = {i: [p.copy() for p in doc.frame(i).instances] for i in (2, 3)}
    steps = doc.undo_stack.count()
    window.act_train.trigger()
    dialog = window.train_dialog
    spec = ModelSpec(EXPERIMENT, str(weights), "cpu", name="trained")
    dialog.new_model = spec
    dialog.verdict = TrainingVerdict({"AP": 0.5}, {"AP": 0.6}, num_val_frames=2)  # better: nothing to confirm
    with qtbot.waitSignal(window.inference_finished, timeout=60000, check_params_cb=lambda m: m != "heatmaps"):
        assert dialog.rerun_new_model()
    assert window.model.spec == spec and doc.undo_stack.count() == steps + 1
    assert "trained on" in window.device_label.text()  # the model's name, not "config"
    for i in (0, 1):
        assert doc.frame(i).instances == reviewed[i]
    assert any(p == kept for p in doc.frame(3).instances)
    assert doc.frame(2).instances != before[2]
    assert all(np.isfinite(p.keypoints).all() for p in doc.frame(2).instances)
    doc.undo()
    assert doc.frame(2).instances == before[2]
    dialog.close()
    window.close()


def fake_dialog(qtbot, doc: AnnotationDocument, tmp_path: Path, current: ModelSpec | None = None, **env: str):
    import sys

    from app.training.process import TrainingProcess
    from tests.app.test_training_process import FAKE_TRAIN

    fake = tmp_path / "fake_train.py"
    fake.write_text(FAKE_TRAIN)
    proc = TrainingProcess(launcher=lambda cmd: (sys.executable, [str(fake), *cmd.args()]),
                           extra_env={"FAKE_MODE": "normal", **env}, kill_timeout_ms=1000)
    dlg = TrainDialog(doc, current, process=proc)
    qtbot.addWidget(dlg, before_close_func=lambda d: d.shutdown())  # never a modal question
    dlg.output_edit.setText(str(tmp_path / "run"))
    return dlg, proc


def test_run_end_disables_stop_and_cancel_and_epochs_are_one_based(qtbot, project, tmp_path: Path) -> None:
    dlg, proc = fake_dialog(qtbot, project, tmp_path, FAKE_EPOCHS="2")
    seen: list[tuple[bool, bool]] = []
    proc.step.connect(lambda _ev: seen.append((dlg.stop_button.isEnabled(), dlg.cancel_button.isEnabled())))
    with qtbot.waitSignal(proc.finished, timeout=30000):
        assert dlg.start_training()
    assert seen and all(stop and cancel for stop, cancel in seen)  # enabled while it runs
    assert not dlg.stop_button.isEnabled() and not dlg.cancel_button.isEnabled()  # not after its end
    log = dlg.log_view.toPlainText()
    assert "Epoch 1 done" in log and "Epoch 2 done" in log and "Epoch 0" not in log
    assert "Checkpoint saved after epoch 1" in log and "after epoch 0" not in log
    assert "Training epochs 1–2" in dlg.status_label.text() or "completed" in dlg.status_label.text()
    assert list(dlg.ap_curve.getData()[0]) == [1, 2]


def test_long_frame_names_are_not_cut_off(qtbot, project, tmp_path: Path) -> None:
    dlg, _ = fake_dialog(qtbot, project, tmp_path)
    dlg.show()
    name = "1: " + "a_rather_long_frame_name_from_a_camera_" * 3 + "0001.jpg"
    dlg.setup.fill_split_table([(name, 1, "train"), ("2: short.jpg", 2, "validation")])
    fm = dlg.split_table.fontMetrics()
    assert dlg.split_table.columnWidth(0) >= fm.horizontalAdvance(name)
    assert dlg.split_table.item(0, 0).toolTip() == name


def test_trained_weights_default_to_the_recipe_in_the_dialog(qtbot, project, tmp_path: Path, monkeypatch) -> None:
    import torch

    import hrnet
    from hrnet import build_model

    monkeypatch.setattr(hrnet, "finetune_overrides", lambda cfg, n: [("TRAIN.LR", "0.0001"), ("TRAIN.END_EPOCH", "6")],
                        raising=False)
    weights = tmp_path / "current.pth"
    torch.save(build_model(load_config(EXPERIMENT)).state_dict(), weights)
    dlg, _ = fake_dialog(qtbot, project, tmp_path, ModelSpec(EXPERIMENT, str(weights), "cpu"))
    assert dlg.base_combo.currentData() == "current" and dlg.plan.uses_finetune
    assert dlg.finetune_check.isChecked()
    assert dlg.epochs_spin.value() == 6 and dlg.lr_spin.value() == pytest.approx(1e-4)  # the recipe's values
    table = {dlg.effective_table.item(r, 0).text(): (dlg.effective_table.item(r, 1).text(),
                                                      dlg.effective_table.item(r, 2).text())
             for r in range(dlg.effective_table.rowCount())}
    assert table["Epochs"] == ("6", "fine-tuning recipe") and table["Learning rate"] == ("0.0001", "fine-tuning recipe")
    if any(a.dest == "finetune" for a in __import__("app.training.command", fromlist=["x"]).train_parser()._actions):
        assert "--finetune" in dlg.command_view.toPlainText()
    dlg.epochs_spin.setValue(2)  # a user override: explicit opts, marked as such
    assert ("TRAIN.END_EPOCH", "2") in dlg.build_command().opts
    assert dlg.plan.effective("TRAIN.END_EPOCH") == "2" and dlg.reset_button.isEnabled()
    dlg.reset_button.click()
    assert dlg.epochs_spin.value() == 6 and "TRAIN.END_EPOCH" not in dict(dlg.build_command().opts)
    dlg.base_combo.setCurrentIndex(dlg.base_combo.findData("random"))  # from scratch: the full schedule
    assert not dlg.plan.uses_finetune and not dlg.finetune_check.isChecked() and dlg.epochs_spin.value() == 30
    assert "--finetune" not in dlg.command_view.toPlainText()


def test_few_training_frames_are_allowed_with_a_warning(qtbot, tmp_path: Path) -> None:
    doc = make_project(tmp_path)
    doc.push(SetReviewed(doc, list(range(NUM_IMAGES)), False))
    doc.push(SetReviewed(doc, [0, 1, 2], True))
    dlg, _ = fake_dialog(qtbot, doc, tmp_path)
    qtbot.waitUntil(lambda: "noisy" in dlg.warnings_label.text(), timeout=5000)
    assert dlg.start_button.isEnabled() and dlg.validate() == []


@pytest.mark.parametrize(("old_ap", "new_ap"), [(0.766, 0.022), (0.5, 0.7)])
def test_guarded_result(qtbot, project, tmp_path: Path, monkeypatch, old_ap: float, new_ap: float) -> None:
    from PySide6.QtWidgets import QMessageBox

    from app.training.evaluation import ModelEvaluation

    current = ModelSpec(EXPERIMENT, str(tmp_path / "current.pth"), "cpu")
    dlg, _ = fake_dialog(qtbot, project, tmp_path, current)
    dlg.new_model = ModelSpec(str(tmp_path / "run" / "config.yaml"), str(tmp_path / "run" / "model_best.pth"), "cpu",
                              name="hrnet_w16 (trained: run)")
    dlg.comparison = {"old": ModelEvaluation({"AP": old_ap, "PCK": 0.8}, 2, 2),
                      "new": ModelEvaluation({"AP": new_ap, "PCK": 0.7}, 2, 2)}
    dlg._on_compare_done()
    ready: list[ModelSpec] = []
    reruns: list[ModelSpec] = []
    dlg.model_ready.connect(ready.append)
    dlg.rerun_requested.connect(reruns.append)
    asked: list[str] = []

    def answer(reply):
        def question(parent, title, text, *a, **k):
            asked.append(text)
            return reply
        return question

    text = dlg.verdict_label.text()
    assert f"{new_ap:.3f}" in text and f"{old_ap:.3f}" in text and f"{new_ap - old_ap:+.3f}" in text
    if new_ap < old_ap:
        assert "WORSE" in text and dlg.keep_button.isDefault() and not dlg.use_button.isDefault()
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
        assert not dlg.use_new_model() and not dlg.rerun_new_model() and not ready and not reruns
        assert len(asked) == 2 and "WORSE" in asked[0] and f"{NUM_IMAGES - NUM_REVIEWED} unreviewed" in asked[1]
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
        dlg.use_button.click()
        dlg.rerun_button.click()
        assert ready == [dlg.new_model] and reruns == [dlg.new_model]
    else:
        assert "better" in text and dlg.use_button.isDefault() and not dlg.keep_button.isDefault()
        monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
        dlg.use_button.click()
        dlg.rerun_button.click()
        assert not asked and ready == [dlg.new_model] and reruns == [dlg.new_model]
    dlg.keep_button.click()
    assert "Kept the current model" in dlg.compare_label.text()
