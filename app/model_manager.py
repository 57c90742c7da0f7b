"""Which pose model the app uses, and loading it off the GUI thread.

:class:`ModelSpec` names a model the way a terminal user does: an experiment (a shipped name such
as ``coco/hrnet/w32_256x192_adam_lr1e-3`` or a YAML path), a weights file (``None`` = random
initialisation — a *demo* that shows the loop, never real predictions) and a device.
:class:`ModelManager` loads a :class:`hrnet.predictor.Predictor` for a spec on a worker thread and
keeps the loaded one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from app.bundled import DEMO_EXPERIMENT, demo_weights

log = logging.getLogger(__name__)

# Shown wherever the app has no model; keep in sync with the README.
HOW_TO_GET_WEIGHTS = (
    "No pose model is loaded: you can annotate by hand (B draws a box, then click the joints).\n"
    "To pre-label with HRNet you need trained weights: open Model > Choose model… and pick an official "
    "COCO checkpoint from the Weights list (downloaded into the cache when it has a URL, else the message "
    "says where to put the file), or choose a local .pth file with its experiment — e.g. "
    "pose_hrnet_w32_256x192.pth from the official HRNet model zoo with experiment "
    "coco/hrnet/w32_256x192_adam_lr1e-3. Or train one on your reviewed frames with Model > Train model…"
)


# A small HRNet (experiment synthetic/hrnet_w16_128x96) trained by hrnet-train on the synthetic
# people of hrnet.dataset.synthetic, bundled so that a new user sees real predictions on the sample
# project at once. It knows only rendered stick figures: on photos it is no substitute for COCO weights.
DEMO_WEIGHTS = demo_weights()


def demo_spec(device: str = "auto") -> ModelSpec | None:
    """The bundled demo model, or None where the file is not installed."""
    return ModelSpec(DEMO_EXPERIMENT, str(DEMO_WEIGHTS), device) if DEMO_WEIGHTS.is_file() else None


@dataclass(frozen=True)
class ModelSpec:
    """A pose model: experiment (name or YAML path), weights file (None = random init), device."""

    experiment: str
    weights: str | None = None
    device: str = "auto"

    @property
    def is_random(self) -> bool:
        return not self.weights

    def label(self) -> str:
        exp = Path(self.experiment).stem if self.experiment.endswith((".yaml", ".yml")) else self.experiment
        weights = "RANDOM weights (demo)" if self.is_random else Path(str(self.weights)).name
        return f"{exp} — {weights}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        return cls(str(d["experiment"]), d.get("weights") or None, str(d.get("device") or "auto"))


def list_experiments() -> list[str]:
    try:
        from hrnet import list_experiments as _list
    except ImportError:  # pragma: no cover
        return []
    try:
        return list(_list())
    except Exception as e:  # noqa: BLE001 - a broken install must not break the model panel
        log.warning("Cannot list experiments: %s", e)
        return []


def registry_entries() -> list[Any]:
    """Known downloadable checkpoints from :mod:`hrnet.weights` (empty when unavailable)."""
    try:
        from hrnet import list_weights
    except ImportError:
        return []
    try:
        return list(list_weights())
    except Exception as e:  # noqa: BLE001 - a broken registry must not break the model panel
        log.warning("Cannot list the weights registry: %s", e)
        return []


def load_predictor(spec: ModelSpec, flip_test: bool = False):
    """Build a :class:`hrnet.predictor.Predictor` for ``spec`` (blocking: call it on a worker)."""
    from hrnet import Predictor

    if spec.weights and not Path(spec.weights).expanduser().is_file():
        from hrnet import find_entry

        entry = find_entry(spec.weights)
        if entry is not None and entry.experiment == spec.experiment:  # a named model, as the registry defines it
            return Predictor.from_pretrained(entry.name, device=spec.device, flip_test=flip_test)
    return Predictor(spec.experiment, weights=spec.weights, device=spec.device, flip_test=flip_test)


_RUNNING: set[QThread] = set()


class LoadPredictorThread(QThread):
    """Builds the Predictor of a ModelSpec off the GUI thread (loading weights can take seconds)."""

    loaded = Signal(object, object)  # spec, predictor
    failed = Signal(object, str)  # spec, message

    def __init__(self, spec: ModelSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec

    def run(self) -> None:
        try:
            predictor = load_predictor(self.spec)
        except Exception as e:  # reported to the GUI as a message
            log.exception("Loading model %s failed", self.spec)
            self.failed.emit(self.spec, describe_error(e))
            return
        self.loaded.emit(self.spec, predictor)


def describe_error(e: BaseException) -> str:
    """A user-facing sentence for an exception (typed hrnet errors carry their own message)."""
    text = str(e) or type(e).__name__
    name = type(e).__name__
    if "out of memory" in text.lower() or name == "OutOfMemoryError":
        return "Out of memory: " + text.splitlines()[0] + "\nTry the CPU, a smaller model or fewer frames at once."
    if name == "WeightsError":
        return text + "\n\n" + HOW_TO_GET_WEIGHTS
    return text if name.endswith("Error") and name not in ("RuntimeError", "ValueError", "TypeError") else (
        f"{name}: {text}")


class ModelManager(QObject):
    """Holds the current model; :meth:`load` replaces it asynchronously."""

    loading_started = Signal(object)  # ModelSpec
    model_loaded = Signal(object)  # ModelSpec
    model_failed = Signal(object, str)  # ModelSpec, message
    model_cleared = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec: ModelSpec | None = None
        self.predictor = None
        self._threads: list[LoadPredictorThread] = []
        self._pending: ModelSpec | None = None

    @property
    def is_loaded(self) -> bool:
        return self.predictor is not None

    @property
    def is_loading(self) -> bool:
        return any(t.isRunning() for t in self._threads)

    @property
    def pending_spec(self) -> ModelSpec | None:
        """The spec being loaded now (None when idle)."""
        return self._pending if self.is_loading else None

    def device_text(self) -> str:
        if self.predictor is None:
            return "no model"
        return str(getattr(self.predictor, "device", "?"))

    def load(self, spec: ModelSpec) -> None:
        self._pending = spec
        # No Qt parent: a running thread must never be destroyed with its manager; _RUNNING keeps
        # it alive until it has finished.
        thread = LoadPredictorThread(spec)
        _RUNNING.add(thread)
        thread.loaded.connect(self._on_loaded)
        thread.failed.connect(self._on_failed)
        thread.finished.connect(lambda t=thread: self._forget(t))
        thread.finished.connect(lambda t=thread: _RUNNING.discard(t))
        self._threads.append(thread)
        self.loading_started.emit(spec)
        thread.start()

    def set_predictor(self, spec: ModelSpec, predictor) -> None:
        """Use an already-built predictor (tests, or a model handed over by another component)."""
        self.spec, self.predictor = spec, predictor
        self.model_loaded.emit(spec)

    def clear(self) -> None:
        self.spec, self.predictor = None, None
        self.model_cleared.emit()

    def wait(self, timeout_ms: int = 60000) -> None:
        for t in list(self._threads):
            t.wait(timeout_ms)

    def _forget(self, thread: LoadPredictorThread) -> None:
        if thread in self._threads:
            self._threads.remove(thread)

    def _on_loaded(self, spec: ModelSpec, predictor) -> None:
        if spec != self._pending:  # a newer request superseded this one
            return
        self.set_predictor(spec, predictor)

    def _on_failed(self, spec: ModelSpec, message: str) -> None:
        if spec == self._pending:
            self.model_failed.emit(spec, message)
