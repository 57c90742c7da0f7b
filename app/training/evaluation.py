"""Compare pose models on the exported validation frames (AP / PCK side by side), off the GUI thread.

Both models are measured by hrnet's one evaluation, :func:`hrnet.evaluate_model`: the same code
``hrnet-train`` validates with and ``hrnet-test`` runs (flip test, decoding, the dataset's OKS
sigmas, COCO AP with pycocotools, the official heatmap PCK), on the exported validation frames
with their ground-truth person boxes. So the AP shown for a run's ``model_best.pth`` is the best
validation AP of that run, and the metric names are hrnet's (``"AP"``, ``"AP .5"``, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from hrnet import SUMMARY_METRICS, EvaluationCancelled, EvaluationResult
from hrnet import evaluate_model as _hrnet_evaluate_model

__all__ = ["METRIC_NAMES", "CompareWorker", "EvaluationCancelled", "ModelEvaluation", "evaluate_model"]

log = logging.getLogger(__name__)

METRIC_NAMES = SUMMARY_METRICS
ModelEvaluation = EvaluationResult


def evaluate_model(
    experiment: str,
    weights: str | None,
    val_json: str | Path,
    images_dir: str | Path,
    *,
    opts: Sequence[tuple[str, str]] = (),
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ModelEvaluation:
    """AP / PCK of ``experiment`` + ``weights`` on a COCO keypoint file: :func:`hrnet.evaluate_model`
    with that file as the validation set, its ground-truth boxes, and ``opts`` (e.g. the run's
    training options) in between."""
    data = [("DATASET.DATASET", "coco_json"), ("DATASET.TEST_ANNOTATIONS", str(val_json)),
            ("DATASET.TEST_IMAGES", str(images_dir))]
    return _hrnet_evaluate_model(experiment, weights, opts=[*data, *opts, ("TEST.USE_GT_BBOX", "True")],
                                 device=device, progress=progress, should_stop=should_stop)


class CompareWorker(QThread):
    """Evaluates several models (``name -> (experiment, weights)``) one after the other.

    Signals: ``progress(name, done, total)``, ``evaluated(name, ModelEvaluation)``,
    ``failed(name, message)`` (for one model; the others still run), ``all_done()``.
    Cancel with ``requestInterruption()``.
    """

    progress = Signal(str, int, int)
    evaluated = Signal(str, object)
    failed = Signal(str, str)
    all_done = Signal()

    def __init__(self, models: Mapping[str, tuple[str, str | None]], val_json: Path, images_dir: Path,
                 device: str = "auto", parent=None, opts: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(parent)
        self.opts = list(opts)
        self.models = dict(models)
        self.val_json = Path(val_json)
        self.images_dir = Path(images_dir)
        self.device = device

    def run(self) -> None:
        try:
            for name, (experiment, weights) in self.models.items():
                if self.isInterruptionRequested():
                    return
                try:
                    result = evaluate_model(
                        experiment, weights, self.val_json, self.images_dir, opts=self.opts, device=self.device,
                        progress=lambda done, total, n=name: self.progress.emit(n, done, total),
                        should_stop=self.isInterruptionRequested,
                    )
                except EvaluationCancelled:
                    return
                except Exception as e:  # shown in the dialog next to the model's column
                    log.exception("evaluating %s failed", name)
                    self.failed.emit(name, f"{type(e).__name__}: {e}")
                    continue
                self.evaluated.emit(name, result)
        finally:
            self.all_done.emit()
