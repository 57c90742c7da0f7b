"""Re-run a (newly trained) model on the frames not yet reviewed, as ONE undoable step.

This is the glue behind the dialog's ``rerun_requested(ModelSpec)``: the main window can call
:func:`rerun_on_unreviewed` (or connect the signal to it). Everything slow happens off the GUI
thread: the predictor is loaded by :func:`app.model_manager.load_predictor` on a ``QThread`` and
run by :class:`app.workers.InferenceWorker`; the results are applied on the GUI thread as one
:class:`app.commands.ApplyPredictions` (hand-edited people are kept, reviewed frames skipped).

Boxes: a frame that already has people is re-estimated inside their boxes (the detector is not
what was trained); a frame without people goes through ``detector_factory`` (the app's person
detector), or — without one — the whole image as one person box.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from app.model_manager import LoadPredictorThread, ModelSpec

__all__ = ["RerunJob", "rerun_on_unreviewed", "unreviewed_frames"]

log = logging.getLogger(__name__)


def unreviewed_frames(document: Any) -> list[int]:
    return [i for i, fr in enumerate(document.data.frames) if not fr.reviewed]


def _jobs(document: Any, frames: Sequence[int]) -> list[Any]:
    from app.workers import InferenceJob

    jobs = []
    for i in frames:
        fr = document.data.frames[i]
        size = (fr.width, fr.height) if fr.width > 0 and fr.height > 0 else None
        boxes = [b for b in (inst.box_or_auto(size) for inst in fr.instances) if b is not None and b[2] > 0 < b[3]]
        if boxes:
            xywh = np.asarray(boxes, dtype=np.float32)
            xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            jobs.append(InferenceJob(i, boxes=xyxy))
        else:
            jobs.append(InferenceJob(i))
    return jobs


class RerunJob(QObject):
    """Load ``spec`` and predict the given frames off the GUI thread, then push one ApplyPredictions.

    Signals: ``progress(done, total, text)``, ``finished(command or None)`` (None: cancelled or
    nothing changed — the command is on the document's undo stack otherwise), ``failed(message)``.
    A ``predictor`` already loaded for ``spec`` may be passed to skip loading.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        document: Any,
        spec: ModelSpec,
        frames: Sequence[int] | None = None,
        *,
        predictor: Any = None,
        detector_factory: Callable[[], object] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.spec = spec
        self.frames = list(unreviewed_frames(document) if frames is None else frames)
        self.predictor = predictor
        self.detector_factory = detector_factory
        self.results: dict[int, list[Any]] = {}
        self.frame_errors: dict[int, str] = {}
        self.command: Any = None
        self._loader: LoadPredictorThread | None = None
        self._worker: QThread | None = None
        self._cancelled = False
        self._done = False

    def start(self) -> None:
        if not self.frames:
            self._finish(None)
            return
        if self.predictor is not None:
            self._run(self.predictor)
            return
        self.progress.emit(0, len(self.frames), f"loading {self.spec.label()}")
        self._loader = LoadPredictorThread(self.spec, self)
        self._loader.loaded.connect(self._on_loaded)  # bound slots: queued to the GUI thread
        self._loader.failed.connect(self._on_load_failed)
        self._loader.start()

    def cancel(self) -> None:
        self._cancelled = True
        if self._worker is not None:
            self._worker.requestInterruption()

    def is_running(self) -> bool:
        return not self._done

    def wait(self, timeout_ms: int = 60000) -> None:
        for t in (self._loader, self._worker):
            if t is not None:
                t.wait(timeout_ms)

    def _on_loaded(self, _spec: ModelSpec, predictor: Any) -> None:
        self._run(predictor)

    def _on_load_failed(self, _spec: ModelSpec, message: str) -> None:
        self._fail(message)

    def _run(self, predictor: Any) -> None:
        self.predictor = predictor
        if self._cancelled:
            self._finish(None)
            return
        from app.workers import InferenceWorker

        source = self.document.source
        worker = InferenceWorker(predictor, _jobs(self.document, self.frames), source.image,
                                 detector_factory=self.detector_factory, return_heatmaps=False, parent=self)
        worker.progress.connect(self.progress)
        worker.result.connect(self._on_result)
        worker.frame_failed.connect(lambda f, msg: self.frame_errors.__setitem__(f, msg))
        worker.failed.connect(self._fail)
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    def _on_result(self, frame: int, results: list[Any]) -> None:
        self.results[frame] = list(results)

    def _on_worker_finished(self) -> None:
        if self._done:
            return
        if self._cancelled or (self._worker is not None and self._worker.isInterruptionRequested()):
            self._finish(None)
            return
        self._finish(apply_results(self.document, self.results, self.spec))

    def _fail(self, message: str) -> None:
        if self._done:
            return
        self._done = True
        self.failed.emit(message)

    def _finish(self, command: Any) -> None:
        if self._done:
            return
        self._done = True
        self.command = command
        self.finished.emit(command)


def apply_results(document: Any, results: dict[int, list[Any]], spec: ModelSpec | None = None) -> Any:
    """Push the predictions as ONE ApplyPredictions (reviewed frames skipped); the command or None."""
    from app.commands import ApplyPredictions

    if not results:
        return None
    name = f" of {spec.label()}" if spec is not None else ""
    cmd = ApplyPredictions(document, results, skip_reviewed=True,
                           text=f"Re-run model{name} on {len(results)} unreviewed frames")
    if cmd.isObsolete():
        return None
    document.push(cmd)
    return cmd


def rerun_on_unreviewed(
    document: Any,
    spec: ModelSpec,
    *,
    predictor: Any = None,
    detector_factory: Callable[[], object] | None = None,
    parent: QObject | None = None,
) -> RerunJob:
    """Start a :class:`RerunJob` for every unreviewed frame of ``document`` and return it."""
    job = RerunJob(document, spec, predictor=predictor, detector_factory=detector_factory, parent=parent)
    job.start()
    return job
