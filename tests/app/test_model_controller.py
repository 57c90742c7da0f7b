"""ModelController over a fake ModelManager: busy refusal, a prediction queued until its model has
loaded (and dropped when loading fails), the choice remembered, the inference caches reset."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.controllers.model import ModelController
from app.model_manager import ModelSpec
from app.settings import AppSettings

A = ModelSpec("synthetic/hrnet_w16_128x96", "a.pth", "cpu")
B = ModelSpec("synthetic/hrnet_w16_128x96", "b.pth", "cpu")


class FakeManager(QObject):
    model_loaded = Signal(object)
    model_failed = Signal(object, str)

    def __init__(self) -> None:
        super().__init__()
        self.spec, self.pending_spec, self.is_loaded, self.is_loading, self.requests = None, None, False, False, []

    def load(self, spec) -> None:
        self.requests.append(spec)
        self.pending_spec, self.is_loading = spec, True

    def finish(self, ok: bool = True) -> None:
        spec, self.pending_spec, self.is_loading = self.pending_spec, None, False
        if ok:
            self.spec, self.is_loaded = spec, True
            self.model_loaded.emit(spec)
        else:
            self.model_failed.emit(spec, "broken checkpoint")


class FakeInference:
    def __init__(self) -> None:
        self.is_running, self.resets = False, 0

    def reset_model_state(self) -> None:
        self.resets += 1


def _make(tmp_path):
    manager, inference = FakeManager(), FakeInference()
    settings = AppSettings(tmp_path / "s.ini")
    ctrl = ModelController(manager, inference, settings)
    events = []
    ctrl.predict_requested.connect(lambda scope, reuse: events.append(("predict", scope, reuse)))
    ctrl.loaded.connect(lambda spec: events.append(("loaded", spec)))
    ctrl.failed.connect(lambda spec, msg: events.append(("failed", msg)))
    ctrl.error.connect(lambda title, text: events.append(("error", title)))
    return ctrl, manager, inference, settings, events


def test_queued_prediction_runs_after_its_model_loaded(qtbot, tmp_path):
    ctrl, manager, inference, settings, events = _make(tmp_path)
    ctrl.predict_with(A, "unreviewed", reuse_boxes=True)
    assert manager.requests == [A] and ctrl.queued == ("unreviewed", True) and events == []
    ctrl.predict_with(A, "unreviewed", reuse_boxes=True)  # already loading: not loaded twice
    assert manager.requests == [A]
    manager.finish()
    assert events == [("loaded", A), ("predict", "unreviewed", True)]  # loaded first, then the run
    assert inference.resets == 1 and ctrl.queued is None
    assert settings.model_spec()["weights"] == "a.pth"
    events.clear()
    ctrl.predict_with(A, "all")  # the loaded model: at once
    assert events == [("predict", "all", False)] and manager.requests == [A]


def test_failed_load_drops_the_queue_and_busy_refuses(qtbot, tmp_path):
    ctrl, manager, inference, settings, events = _make(tmp_path)
    ctrl.predict_with(B, "unreviewed")
    manager.finish(ok=False)
    assert events == [("failed", "broken checkpoint")] and ctrl.queued is None
    inference.is_running = True
    assert not ctrl.load(A) and events[-1] == ("error", "Model busy") and manager.requests == [B]
    assert ctrl.random_spec("cpu").is_random
