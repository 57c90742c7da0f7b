"""Compare pose models on the exported validation frames (AP / PCK side by side), off the GUI thread.

Both models are measured by the same code: :class:`hrnet.Predictor` on every validation image
with the ground-truth person boxes (as the official validation with ``TEST.USE_GT_BBOX``), then

- COCO keypoint AP / AP50 / AP75 / AR with pycocotools' OKS (COCO's per-joint sigmas for the 17
  COCO joints, a uniform 0.079 otherwise),
- PCK: the share of labelled joints whose error, measured per axis in tenths of the padded person
  box the network sees (box fitted to the input aspect ratio, x1.25), is below 0.5 — the image-space
  counterpart of the official heatmap ``accuracy``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

__all__ = ["CompareWorker", "ModelEvaluation", "evaluate_model"]

log = logging.getLogger(__name__)

METRIC_NAMES = ("AP", "AP50", "AP75", "AR", "PCK")


@dataclass
class ModelEvaluation:
    metrics: dict[str, float] = field(default_factory=dict)
    num_images: int = 0
    num_people: int = 0


class EvaluationCancelled(Exception):
    pass


def _people(data: Mapping[str, Any]) -> dict[int, list[dict[str, Any]]]:
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        if ann.get("iscrowd", 0) or not ann.get("bbox"):
            continue
        if int(ann.get("num_keypoints", 1)) <= 0:
            continue
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    return by_image


def evaluate_model(
    experiment: str,
    weights: str | None,
    val_json: str | Path,
    images_dir: str | Path,
    *,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ModelEvaluation:
    """AP / PCK of the model ``experiment`` + ``weights`` on a COCO keypoint file (see module doc)."""
    from hrnet import Predictor, box_to_center_scale, load_config, read_image

    val_json = Path(val_json)
    images_dir = Path(images_dir)
    data = json.loads(val_json.read_text(encoding="utf-8"))
    people = _people(data)
    images = [im for im in data.get("images", []) if int(im["id"]) in people]
    cfg = load_config(experiment)
    w, h = (int(v) for v in cfg.MODEL.IMAGE_SIZE)
    predictor = Predictor(experiment, weights=weights, device=device)
    results: list[dict[str, Any]] = []
    correct = 0
    labelled = 0
    total = len(images)
    for n, im in enumerate(images):
        if should_stop is not None and should_stop():
            raise EvaluationCancelled
        path = Path(im["file_name"])
        image = read_image(path if path.is_absolute() else images_dir / path)
        anns = people[int(im["id"])]
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns], dtype=np.float64)
        poses = predictor.predict(image, boxes)
        for ann, pose in zip(anns, poses):
            kpts = np.asarray(pose.keypoints, dtype=np.float64)
            results.append({
                "image_id": int(im["id"]),
                "category_id": int(ann.get("category_id", 1)),
                "keypoints": [float(v) for v in kpts.reshape(-1)],
                "score": float(pose.score),
            })
            gt = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            vis = gt[:, 2] > 0
            _, scale = box_to_center_scale(np.asarray(ann["bbox"], dtype=np.float64), w / h)
            norm = np.asarray(scale, dtype=np.float64).reshape(-1)[:2] * 200.0 / 10.0
            err = np.linalg.norm((kpts[:, :2] - gt[:, :2]) / norm, axis=1)
            correct += int(np.count_nonzero(err[vis] < 0.5))
            labelled += int(np.count_nonzero(vis))
        if progress is not None:
            progress(n + 1, total)
    metrics = _coco_ap(data, results)
    metrics["PCK"] = correct / labelled if labelled else math.nan
    return ModelEvaluation(metrics=metrics, num_images=total, num_people=sum(len(people[int(i["id"])]) for i in images))


def _coco_ap(gt_data: Mapping[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    if not results:
        return {}
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = dict(gt_data)
    anns = []
    for ann in gt.get("annotations", []):
        ann = dict(ann)
        if "area" not in ann and ann.get("bbox"):
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
        anns.append(ann)
    gt["annotations"] = anns
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        dt = coco.loadRes(results)
        ev = COCOeval(coco, dt, "keypoints")
        k = len(results[0]["keypoints"]) // 3
        if k != 17:
            ev.params.kpt_oks_sigmas = np.full(k, 0.079)
        ev.params.imgIds = sorted({r["image_id"] for r in results})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"AP": float(s[0]), "AP50": float(s[1]), "AP75": float(s[2]), "AR": float(s[5])}


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
                 device: str = "auto", parent=None) -> None:
        super().__init__(parent)
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
                        experiment, weights, self.val_json, self.images_dir, device=self.device,
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
