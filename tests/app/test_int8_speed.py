"""The model panel's speed choice: fast (int8, CPU) calibrated on the project's frames on the loading
thread, with progress, and the gate's verdict shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from app.int8_calibration import NO_FRAMES, project_plan
from app.model_manager import DEMO_WEIGHTS, ModelManager, ModelSpec
from app.widgets.model_panel import ModelPanelWidget
from hrnet.annotations import load_coco
from hrnet.dataset.synthetic import generate_dataset

EXPERIMENT = "synthetic/hrnet_w16_128x96"


@pytest.fixture()
def weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))
    w = tmp_path / "demo.pth"
    shutil.copyfile(DEMO_WEIGHTS, w)
    return w


def test_spec_keeps_the_precision():
    spec = ModelSpec(EXPERIMENT, "w.pth", "cpu", "int8")
    assert ModelSpec.from_dict({"experiment": EXPERIMENT, "weights": "w.pth", "device": "cpu",
                                "precision": "int8"}) == spec
    assert "int8" in spec.label()
    assert ModelSpec.from_dict({"experiment": EXPERIMENT}).precision == "fp32"
    assert ModelSpec.from_dict({"experiment": EXPERIMENT, "precision": "int3"}).precision == "fp32"


def test_panel_speed_choice_and_progress(qtbot):
    panel = ModelPanelWidget()
    qtbot.addWidget(panel)
    panel.show()
    assert [panel.speed_combo.itemText(i) for i in range(panel.speed_combo.count())] == [
        "standard", "fast (int8, CPU)"]
    panel.set_spec(ModelSpec(EXPERIMENT, str(DEMO_WEIGHTS), "cpu", "int8"))
    assert panel.spec().precision == "int8"
    panel.set_model_state(panel.spec(), loaded=False, loading=True)
    panel.set_loading_progress("calibrating", 0.5)
    assert panel.calibration_bar.isVisible() and panel.calibration_bar.value() == 50
    assert "calibrating" in panel.calibration_bar.format()
    with qtbot.waitSignal(panel.cancel_load_requested, timeout=1000):
        panel.calibration_cancel.click()
    panel.set_model_state(panel.spec(), loaded=True, device="cpu, fast int8 (97% of joints agree with fp32)")
    assert not panel.calibration_bar.isVisible()
    assert "int8" in panel.status_label.text()


def test_manager_calibrates_on_project_frames_off_the_gui_thread(qtbot, weights, tmp_path):
    ann = generate_dataset(tmp_path / "project", 10, seed=5, split_name="train")
    doc = load_coco(ann, image_root=tmp_path / "project" / "images" / "train")
    manager = ModelManager()
    manager.calibration_provider = lambda: project_plan(doc)
    stages = []
    manager.loading_progress.connect(lambda s, f: stages.append(s))
    with qtbot.waitSignal(manager.model_loaded, timeout=240000):
        manager.load(ModelSpec(EXPERIMENT, str(weights), "cpu", "int8"))
    assert {"reading frames", "calibrating", "checking"} <= set(stages)
    assert manager.predictor.precision == "int8"
    assert "int8" in manager.device_text() and "agree" in manager.device_text()
    manager.wait()


def test_manager_without_project_frames_says_what_to_do(qtbot, weights):
    manager = ModelManager()
    manager.calibration_provider = lambda: []
    with qtbot.waitSignal(manager.model_failed, timeout=60000) as blocker:
        manager.load(ModelSpec(EXPERIMENT, str(weights), "cpu", "int8"))
    assert blocker.args[1] == NO_FRAMES
    manager.wait()


def test_cancel_stops_the_calibration(qtbot, weights, tmp_path):
    ann = generate_dataset(tmp_path / "project", 10, seed=5, split_name="train")
    doc = load_coco(ann, image_root=tmp_path / "project" / "images" / "train")
    manager = ModelManager()
    manager.calibration_provider = lambda: project_plan(doc)
    manager.loading_progress.connect(lambda s, f: manager.cancel_loading())
    with qtbot.waitSignal(manager.model_failed, timeout=60000) as blocker:
        manager.load(ModelSpec(EXPERIMENT, str(weights), "cpu", "int8"))
    assert "cancelled" in blocker.args[1]
    assert not list(Path(weights).parent.glob("demo.int8-*"))
    manager.wait()


def test_speed_choice_is_remembered_across_sessions(qtbot, tmp_path, monkeypatch):
    from app.settings import AppSettings
    from tests.app.gui_support import make_window

    settings = AppSettings(tmp_path / "s.ini")
    assert settings.speed() == "fp32"  # standard until chosen
    settings.set_model_spec(EXPERIMENT, "w.pth", "cpu", "int8")
    assert settings.speed() == "int8" and settings.model_spec()["precision"] == "int8"
    settings.set_speed("int3")  # a damaged settings file: standard, not an error
    assert settings.speed() == "fp32" and ModelSpec.from_dict(settings.model_spec()).precision == "fp32"

    window = make_window(qtbot, tmp_path, monkeypatch)  # settings.ini in tmp_path: nothing saved yet
    try:
        assert window.model_panel.speed() == "fp32"
        window.model_panel.speed_combo.setCurrentIndex(window.model_panel.speed_combo.findData("int8"))
        assert window.settings.speed() == "int8"  # saved when chosen, before any model is loaded
    finally:
        window.close()
    window = make_window(qtbot, tmp_path, monkeypatch)  # the next session starts with the choice
    try:
        assert window.model_panel.speed() == "int8" and window.model_panel.spec().precision == "int8"
    finally:
        window.close()
