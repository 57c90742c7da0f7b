"""Inference on a worker thread: detection + pose for a list of frames, with progress and cancel.

:class:`InferenceWorker` is a ``QThread`` with typed signals — ``progress(done, total, text)``,
``result(frame, list[PoseResult])``, ``frame_failed(frame, message)`` (that frame is skipped, the
run goes on) and ``failed(message)`` (the run stops). Cancel is cooperative:
``requestInterruption()`` is checked between frames. The worker never touches the document: the
window collects the results and applies them on the GUI thread as ONE undoable command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from app import texts
from app.model_manager import describe_error

log = logging.getLogger(__name__)


class DetectorUnavailable(RuntimeError):
    """The person detector could not be built (e.g. its weights are not in the cache, offline)."""


@dataclass
class InferenceJob:
    """One frame to process: with ``boxes`` (N, 4) xyxy the detector is skipped (pose in given boxes)."""

    frame: int
    boxes: np.ndarray | None = None
    box_scores: np.ndarray | None = None


class InferenceWorker(QThread):
    progress = Signal(int, int, str)  # frames done, total, text
    result = Signal(int, object)  # frame index, list[PoseResult]
    frame_failed = Signal(int, str)  # frame index, message (the run continues)
    failed = Signal(str)  # message (the run stopped)
    detector_ready = Signal(object)  # the detector built by detector_factory (for reuse)

    def __init__(self, predictor, jobs: Sequence[InferenceJob], read_image: Callable[[int], np.ndarray],
                 detector=None, detector_factory: Callable[[], object] | None = None,
                 min_box_score: float = 0.0, return_heatmaps: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.predictor = predictor
        self.jobs = list(jobs)
        self.read_image = read_image
        self.detector = detector
        self.detector_factory = detector_factory
        self.min_box_score = float(min_box_score)
        self.return_heatmaps = return_heatmaps
        self.frames_done = 0
        self.was_cancelled = False  # isInterruptionRequested() is False again once the thread ended
        self.error: str | None = None
        self.elapsed_s = 0.0

    @property
    def cancelled(self) -> bool:
        return self.was_cancelled or self.isInterruptionRequested()

    def _interrupted(self) -> bool:
        if self.isInterruptionRequested():
            self.was_cancelled = True
        return self.was_cancelled

    def run(self) -> None:
        t0 = time.perf_counter()
        total = len(self.jobs)
        try:
            self._run(total)
        except Exception as e:  # every error becomes a message, the app stays alive
            log.exception("Inference failed")
            self.error = str(e) if isinstance(e, DetectorUnavailable) else describe_error(e)
            self.failed.emit(self.error)
        finally:
            self.elapsed_s = time.perf_counter() - t0

    def _run(self, total: int) -> None:
        self.progress.emit(0, total, "starting")
        for job in self.jobs:
            if self._interrupted():
                return
            try:
                image = self.read_image(job.frame)
            except Exception as e:  # noqa: BLE001 - an unreadable frame is skipped and reported
                self.frame_failed.emit(job.frame, describe_error(e))
                self.frames_done += 1
                self.progress.emit(self.frames_done, total, f"frame {job.frame + 1}: unreadable")
                continue
            boxes, scores = job.boxes, job.box_scores
            if boxes is None:
                boxes, scores = self._detect(image)
            boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
            if self._interrupted():
                return
            if len(boxes):
                results = self.predictor.predict(image, boxes, box_scores=scores,
                                                 return_heatmaps=self.return_heatmaps)
            else:
                results = []
            self.result.emit(job.frame, list(results))
            self.frames_done += 1
            self.progress.emit(self.frames_done, total, f"frame {job.frame + 1}: {texts.people(len(results))}")

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.detector is None and self.detector_factory is not None:
            self.progress.emit(self.frames_done, len(self.jobs), "loading the person detector")
            try:
                self.detector = self.detector_factory()
            except Exception as e:  # say which part failed and what to do instead
                raise DetectorUnavailable(
                    f"The person detector cannot be loaded: {e}\n\nChoose 'Whole image = one person' or "
                    "'Existing boxes only' in the Model panel, or draw a box around a person (B) to "
                    "predict the pose inside it.") from e
            self.detector_ready.emit(self.detector)
        if self.detector is None:  # no detector: the whole image is one person
            h, w = image.shape[:2]
            return np.array([[0, 0, w, h]], np.float32), np.ones(1, np.float32)
        det = self.detector(image)
        boxes = np.asarray(det.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(det.scores, dtype=np.float32).reshape(-1)
        keep = scores >= self.min_box_score
        return boxes[keep], scores[keep]


class FunctionWorker(QThread):
    """Run one blocking call (an export, a save of a huge project) off the GUI thread.

    ``done(result)`` or ``failed(message)``; the caller must hand it data nobody edits meanwhile
    (e.g. a snapshot of the document).
    """

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[..., object], *args, parent: QObject | None = None, **kwargs) -> None:
        super().__init__(parent)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.elapsed_s = 0.0

    def run(self) -> None:
        t0 = time.perf_counter()
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as e:  # reported as a message
            log.exception("%s failed", getattr(self.fn, "__name__", "task"))
            self.elapsed_s = time.perf_counter() - t0
            self.failed.emit(describe_error(e))
            return
        self.elapsed_s = time.perf_counter() - t0
        self.done.emit(result)
