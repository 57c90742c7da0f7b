"""Which pose model the app uses, and loading it off the GUI thread.

:class:`ModelSpec` names a model the way a terminal user does: an experiment (a shipped name such
as ``coco/hrnet/w32_256x192_adam_lr1e-3`` or a YAML path), a weights file (``None`` = random
initialisation — a *demo* that shows the loop, never real predictions) and a device.
:class:`ModelManager` loads a :class:`hrnet.predictor.Predictor` for a spec on a worker thread and
keeps the loaded one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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


PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class ModelSpec:
    """A pose model: experiment (name or YAML path), weights file (None = random init), device,
    precision (``fp32`` = standard; ``int8`` = fast on the CPU, calibrated on the project's frames)."""

    experiment: str
    weights: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    # what users read instead of the experiment (e.g. a run's "config.yaml"): not part of the identity
    name: str = field(default="", compare=False)

    @property
    def is_random(self) -> bool:
        return not self.weights

    @property
    def title(self) -> str:
        """The model's name for users: ``name``, else the experiment (a YAML file by its stem)."""
        if self.name:
            return self.name
        return Path(self.experiment).stem if self.experiment.endswith((".yaml", ".yml")) else self.experiment

    def label(self) -> str:
        weights = "RANDOM weights (demo)" if self.is_random else Path(str(self.weights)).name
        return f"{self.title} — {weights}" + (" — fast (int8, CPU)" if self.precision == "int8" else "")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        precision = str(d.get("precision") or "fp32")
        return cls(str(d["experiment"]), d.get("weights") or None, str(d.get("device") or "auto"),
                   precision if precision in PRECISIONS else "fp32")


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


def load_predictor(spec: ModelSpec, flip_test: bool = False, calibration: Any = None,
                   progress: Any = None):
    """Build a :class:`hrnet.predictor.Predictor` for ``spec`` (blocking: call it on a worker).
    For ``int8``: ``calibration`` gives the project's frames (see :mod:`app.int8_calibration`),
    ``progress(stage, fraction)`` reports the first-time calibration."""
    from hrnet import Predictor

    extra: dict[str, Any] = {}
    if spec.precision == "int8":
        extra = {"precision": "int8", "calibration": calibration, "calibration_progress": progress}

    if spec.weights and not Path(spec.weights).expanduser().is_file():
        from hrnet import find_entry

        entry = find_entry(spec.weights)
        if entry is not None and entry.experiment == spec.experiment:  # a named model, as the registry defines it
            return Predictor.from_pretrained(entry.name, device=spec.device, flip_test=flip_test, **extra)
    return Predictor(spec.experiment, weights=spec.weights, device=spec.device, flip_test=flip_test, **extra)


_RUNNING: set[QThread] = set()


class LoadPredictorThread(QThread):
    """Builds the Predictor of a ModelSpec off the GUI thread (loading weights can take seconds)."""

    loaded = Signal(object, object)  # spec, predictor
    failed = Signal(object, str)  # spec, message
    progressed = Signal(str, float)  # int8 calibration: stage, fraction

    def __init__(self, spec: ModelSpec, parent: QObject | None = None, calibration_plan: Any = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.calibration_plan = calibration_plan

    def _progress(self, stage: str, fraction: float) -> None:
        if self.isInterruptionRequested():
            from hrnet import HRNetError

            raise HRNetError("int8 calibration cancelled")
        self.progressed.emit(stage, float(fraction))

    def run(self) -> None:
        try:
            calibration = None
            if self.spec.precision == "int8":
                from app.int8_calibration import calibration_reader

                calibration = calibration_reader(self.calibration_plan, self._progress)
            predictor = load_predictor(self.spec, calibration=calibration, progress=self._progress)
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


def describe_device(predictor: Any) -> str:
    """``cuda:0 (NVIDIA H200), fp16`` / ``cpu, fp32`` / ``cpu, fast int8 (97% of joints agree with fp32)``
    for a loaded predictor (status bar, model panel)."""
    device = getattr(predictor, "device", None)
    if device is None:
        return "?"
    from hrnet import device_label

    precision = getattr(predictor, "precision", None)
    if not isinstance(precision, str):
        half = bool(getattr(predictor, "half", False)) and getattr(device, "type", "") in ("cuda", "mps")
        precision = "fp16" if half else "fp32"
    if getattr(predictor, "int8_report", None) is not None:  # an int8 request: the gate's verdict
        from app.int8_calibration import precision_text

        return device_label(device) + precision_text(predictor)
    return f"{device_label(device)}, {precision}"


def _release_memory(device: Any) -> None:
    """After the manager dropped a predictor: collect it and give its cached GPU memory back, so that
    an ``hrnet-train`` started from the Train dialog can use it (a worker thread still running the
    old predictor keeps it alive; its memory goes at the next release)."""
    if getattr(device, "type", "cpu") in ("cuda", "mps"):
        from hrnet import release_memory

        release_memory(device)


class ModelManager(QObject):
    """Holds the current model; :meth:`load` replaces it asynchronously."""

    loading_started = Signal(object)  # ModelSpec
    loading_progress = Signal(str, float)  # int8 calibration: stage, fraction
    model_loaded = Signal(object)  # ModelSpec
    model_failed = Signal(object, str)  # ModelSpec, message
    model_cleared = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec: ModelSpec | None = None
        self.predictor = None
        self._threads: list[LoadPredictorThread] = []
        self._pending: ModelSpec | None = None
        # int8: a callable giving the project's calibration plan (GUI thread, cheap; images are
        # read on the loading thread)
        self.calibration_provider: Any = None

    @property
    def is_loaded(self) -> bool:
        return self.predictor is not None

    @property
    def is_loading(self) -> bool:
        """A load was asked for and its result (loaded or failed) has not arrived yet.

        Not "a loader thread is running": the thread's ``loaded`` signal reaches the GUI thread
        while the thread may still be finishing its ``run()``, and a panel refreshed then would
        show "Loading…" for good (nothing refreshes it when the thread ends)."""
        return self._pending is not None

    @property
    def pending_spec(self) -> ModelSpec | None:
        """The spec being loaded now (None when idle)."""
        return self._pending

    def device_text(self) -> str:
        """``cuda:0 (NVIDIA H200), fp16`` / ``cpu, fp32``: where the model runs and in what precision."""
        if self.predictor is None:
            return "no model"
        return describe_device(self.predictor)

    def load(self, spec: ModelSpec) -> None:
        self._pending = spec
        # No Qt parent: a running thread must never be destroyed with its manager; _RUNNING keeps
        # it alive until it has finished.
        plan = None
        if spec.precision == "int8" and self.calibration_provider is not None:
            plan = self.calibration_provider()
        thread = LoadPredictorThread(spec, calibration_plan=plan)
        _RUNNING.add(thread)
        thread.progressed.connect(self.loading_progress)
        thread.loaded.connect(self._on_loaded)
        thread.failed.connect(self._on_failed)
        thread.finished.connect(lambda t=thread: self._forget(t))
        thread.finished.connect(lambda t=thread: _RUNNING.discard(t))
        self._threads.append(thread)
        self.loading_started.emit(spec)
        thread.start()

    def cancel_loading(self) -> None:
        """Stop a running int8 calibration (the load then fails with 'cancelled')."""
        for t in self._threads:
            t.requestInterruption()

    def set_predictor(self, spec: ModelSpec, predictor) -> None:
        """Use an already-built predictor (tests, or a model handed over by another component).
        The one it replaces is dropped and its GPU memory handed back to the driver."""
        replaced = self.predictor is not None and self.predictor is not predictor
        device = getattr(self.predictor, "device", None)
        self.spec, self.predictor = spec, predictor  # the last reference to the old one goes here
        self.model_loaded.emit(spec)
        if replaced:
            _release_memory(device)

    def clear(self) -> None:
        device = getattr(self.predictor, "device", None)
        self.spec, self.predictor = None, None
        self.model_cleared.emit()
        _release_memory(device)

    def wait(self, timeout_ms: int = 60000) -> None:
        for t in list(self._threads):
            t.wait(timeout_ms)

    def _forget(self, thread: LoadPredictorThread) -> None:
        if thread in self._threads:
            self._threads.remove(thread)

    def _on_loaded(self, spec: ModelSpec, predictor) -> None:
        if spec != self._pending:  # a newer request superseded this one
            return
        self._pending = None
        self.set_predictor(spec, predictor)

    def _on_failed(self, spec: ModelSpec, message: str) -> None:
        if spec == self._pending:
            self._pending = None
            self.model_failed.emit(spec, message)
