"""Which pose model the window uses: :class:`ModelController`.

Over :class:`~app.model_manager.ModelManager` (which loads on a worker thread) it adds the app's
rules: no model change while a prediction runs, the bundled and the random-weights demo models,
the chosen model remembered in the settings, a prediction queued until its model has loaded (the
Train dialog's re-run), and the inference caches reset for each new model. ``loaded(spec)`` follows
the manager's ``model_loaded`` once that bookkeeping is done; ``predict_requested(scope, reuse_boxes)``
then starts a queued prediction.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.controllers.inference import InferenceController
from app.model_manager import DEMO_WEIGHTS, ModelManager, ModelSpec, demo_spec
from app.settings import AppSettings

RANDOM_DEMO_EXPERIMENT = "synthetic/hrnet_w16_128x96"


class ModelController(QObject):
    loaded = Signal(object)  # ModelSpec, after the caches were reset and the choice remembered
    failed = Signal(object, str)  # ModelSpec, message
    predict_requested = Signal(str, bool)  # scope, reuse the boxes of earlier predictions
    error = Signal(str, str)  # title, text

    def __init__(self, manager: ModelManager, inference: InferenceController, settings: AppSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager, self.inference, self.settings = manager, inference, settings
        self.queued: tuple[str, bool] | None = None  # (scope, reuse boxes) to predict once a model loads
        manager.model_loaded.connect(self._on_loaded)
        manager.model_failed.connect(self._on_failed)

    def load(self, spec: ModelSpec) -> bool:
        """Load ``spec`` (on a thread); refused with a message while a prediction runs."""
        if self.inference.is_running:
            self.error.emit("Model busy", "Wait for the running prediction to finish (or cancel it) first.")
            return False
        self.manager.load(spec)
        return True

    def bundled_spec(self, device: str) -> ModelSpec | None:
        """The bundled demo model (trained on synthetic people); None, with a message, when missing."""
        spec = demo_spec(device)
        if spec is None:
            self.error.emit("Demo model missing", f"{DEMO_WEIGHTS} is not installed.")
        return spec

    @staticmethod
    def random_spec(device: str) -> ModelSpec:
        """A tiny HRNet with random weights: shows the loop, predicts nonsense."""
        return ModelSpec(RANDOM_DEMO_EXPERIMENT, None, device)

    def predict_with(self, spec: ModelSpec, scope: str, reuse_boxes: bool = False) -> None:
        """Predict ``scope`` with ``spec``: at once when it is the loaded model, else once it has loaded."""
        m = self.manager
        if m.spec == spec and m.is_loaded and not m.is_loading:
            self.predict_requested.emit(scope, reuse_boxes)
            return
        self.queued = (scope, reuse_boxes)
        if m.pending_spec != spec:  # it may already be loading (e.g. the Train dialog's model_ready)
            self.load(spec)

    def _on_loaded(self, spec: ModelSpec) -> None:
        self.inference.reset_model_state()
        self.settings.set_model_spec(spec.experiment, spec.weights, spec.device, spec.precision)
        queued, self.queued = self.queued, None
        self.loaded.emit(spec)
        if queued:
            self.predict_requested.emit(*queued)

    def _on_failed(self, spec: ModelSpec, message: str) -> None:
        self.queued = None
        self.failed.emit(spec, message)
