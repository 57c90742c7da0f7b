"""Predict all frames on a video, the app's way: InferenceController -> VideoInferenceWorker (a worker
thread) -> hrnet.VideoPoseTracker -> one undoable command, on synthetic crossing clips with true
identities and the bundled demo model (CPU, one thread).

Per clip and mode: process CPU time and wall time per frame (the whole run: decoding, HRNet, tracking,
applying the command), detector calls, and IDF1 / identity switches of the track ids the document
ends with against the truth (hrnet.tracking.identity_metrics; a true person with >= 8 visible joints
that no pose lands on (OKS >= 0.5) counts as a miss), plus coverage (the share of those people with
a pose on them). Modes:

- "whole image, frame 1 labelled": the offline default (no detector weights: the model panel's
  "Whole image" fallback) on a video whose people are labelled on the first frame, as in the sample
  project: the labels start the tracks, no detector runs, lost people are found by their motion;
- "detector": an oracle detector (the true boxes of people with >= 3 visible joints, as Faster
  R-CNN would find them), run where VideoPoseTracker asks for it (first frame, every 30 frames,
  where a pose collapses, 1/2/4/8/16 frames after someone vanished).

The first clip is the sample project's (resources/sample/images/walk.mp4: seed 0), the others are
other seeds of the same scenario.

    QT_QPA_PLATFORM=offscreen nice -n 10 python benchmarks/app_video.py [--seeds 0 1 2 3] [--frames 48]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from lost_tracks import match


@dataclass
class _Detections:
    boxes: np.ndarray
    scores: np.ndarray


class Oracle:
    """The true boxes of people with >= 3 visible joints, by frame index (the worker passes it as
    ``image_key``)."""

    def __init__(self, video, first_frame: int) -> None:
        self.video, self.first, self.calls = video, first_frame, 0

    def __call__(self, image, *, image_key=None):
        self.calls += 1
        people = self.video.frames[int(image_key) - self.first]
        b = np.array([[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in people
                      if (p.keypoints[:, 2] == 2).sum() >= 3], np.float32).reshape(-1, 4)
        return _Detections(b, np.ones(len(b), np.float32))


class Model:
    def __init__(self, predictor) -> None:
        self.predictor, self.spec, self.is_loaded = predictor, None, True


def score(doc, frames, video) -> dict:
    from hrnet.tracking import identity_metrics

    truth, predicted = [], []
    covered = total = 0
    for f, people in zip(frames, video.frames):
        preds = doc.frame(f).instances
        gts = [p for p in people if (p.keypoints[:, 2] > 0).sum() >= 8]
        m = match(gts, [p.keypoints for p in preds])
        row_t, row_p = [], []
        for g, j in zip(gts, m):
            row_t.append(g.track_id)
            t = None if j is None else preds[j].track_id
            row_p.append(-1 if t is None else int(t))
            covered += j is not None
            total += 1
        for j, p in enumerate(preds):
            if j not in set(m):
                row_t.append(None)
                row_p.append(-1 if p.track_id is None else int(p.track_id))
        truth.append(row_t)
        predicted.append(row_p)
    out = identity_metrics(truth, predicted)
    out["coverage"] = covered / max(total, 1)
    return out


def run_once(app, predictor, video_path, video, mode: str) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer

    from app.canvas.heatmaps import HeatmapStore
    from app.controllers.inference import InferenceController
    from app.document import AnnotationDocument
    from hrnet import Instance

    doc = AnnotationDocument()
    doc.open([video_path])
    frames = list(range(doc.num_frames()))
    ctrl = InferenceController(doc, Model(predictor), HeatmapStore())
    oracle = None
    if mode == "detector":
        oracle = Oracle(video, 0)
        ctrl._detector, ctrl._detector_key = oracle, ("oracle", str(predictor.device))
        detector = "oracle"
    else:
        doc.frame(0).instances = [Instance(p.keypoints.copy(), bbox=p.bbox.copy()) for p in video.frames[0]]
        detector = "full_image"
    loop = QEventLoop()
    ctrl.finished.connect(lambda _mode: loop.quit())
    QTimer.singleShot(600_000, loop.quit)
    c0, w0 = time.process_time(), time.perf_counter()
    assert ctrl.predict(frames, scope="all", detector=detector)
    loop.exec()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    metrics = score(doc, frames, video)
    worker_calls = oracle.calls if oracle is not None else 0
    doc.close()
    return {"cpu_ms": 1000 * cpu / len(frames), "wall_ms": 1000 * wall / len(frames), "calls": worker_calls,
            "idf1": metrics["idf1"], "switches": metrics["id_switches"], "coverage": metrics["coverage"],
            "tracks": metrics["predicted_ids"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--frames", type=int, default=48)
    args = ap.parse_args()
    import torch
    from PySide6.QtWidgets import QApplication

    from app.bundled import DEMO_EXPERIMENT, demo_weights
    from hrnet import Predictor
    from hrnet.dataset.synthetic import write_video

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([])
    predictor = Predictor(DEMO_EXPERIMENT, weights=demo_weights(), device="cpu")
    print(f"crossing clips 320x240, {args.frames} frames at 12 fps, 2 people; demo W16 on the CPU, 1 thread")
    print(f"{'clip':<18} {'mode':<31} {'CPU ms/fr':>9} {'wall ms/fr':>10} {'det calls':>9} {'IDF1':>6} "
          f"{'switches':>8} {'coverage':>8} {'tracks':>6}")
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            path = Path(tmp) / f"crossing_{seed}.mp4"
            video = write_video(path, num_frames=args.frames, fps=12.0, image_size=(320, 240), people=2, seed=seed,
                                scenario="crossing")
            name = f"seed {seed}" + (" (sample)" if seed == 0 and args.frames == 48 else "")
            for mode in ("whole image, frame 1 labelled", "detector"):
                r = run_once(app, predictor, path, video, "detector" if mode == "detector" else "seeded")
                rows.setdefault(mode, []).append(r)
                print(f"{name:<18} {mode:<31} {r['cpu_ms']:9.1f} {r['wall_ms']:10.1f} {r['calls']:9d} "
                      f"{r['idf1']:6.3f} {r['switches']:8d} {r['coverage']:8.3f} {r['tracks']:6d}", flush=True)
    for mode, rs in rows.items():
        print(f"{'mean':<18} {mode:<31} {np.mean([r['cpu_ms'] for r in rs]):9.1f} "
              f"{np.mean([r['wall_ms'] for r in rs]):10.1f} {np.mean([r['calls'] for r in rs]):9.1f} "
              f"{np.mean([r['idf1'] for r in rs]):6.3f} {sum(r['switches'] for r in rs):8d} "
              f"{np.mean([r['coverage'] for r in rs]):8.3f}")


if __name__ == "__main__":
    main()
