"""Predict all frames of a video: the detector on every frame against boxes propagated from the tracked
poses (hrnet.propagation.VideoPoseTracker), on a synthetic 1080p clip with ground truth.

Accuracy: COCO keypoint AP (pycocotools) of each mode against the clip's truth. The detector is an
oracle (the true person boxes, jittered by 3 %, 2 % missed), so the AP difference is what
propagation costs, not what a detector misses. Time: process CPU time on one thread of the pose
estimation actually run, plus the detector calls each mode makes times the CPU time of one Faster
R-CNN R50-FPN v2 call on a 1080p frame (measured here with random weights: its cost does not
depend on them; no weights can be downloaded here). ``--w32`` adds the same sums for HRNet-W32
(0.13 s per person, measured by benchmarks/predictor_cpu.py) instead of the small demo model.

    python benchmarks/propagation.py [--frames 60] [--people 3] [--detect-every 30 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hrnet import Predictor
from hrnet.dataset.synthetic import write_video
from hrnet.detect import Detections, TorchvisionDetector
from hrnet.propagation import VideoPoseTracker

DEMO = Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth"
W32_SECONDS_PER_PERSON = 0.13


class OracleDetector:
    def __init__(self, video, seed=0):
        self.video = video
        self.rng = np.random.default_rng(seed)
        self.frame = 0

    def __call__(self, image, *, image_key=None):
        people = self.video.frames[self.frame]
        boxes = []
        for p in people:
            if (p.keypoints[:, 2] == 2).sum() < 3 or self.rng.random() < 0.02:
                continue
            x, y, w, h = p.bbox
            j = self.rng.normal(0, 0.03, 4) * [w, h, w, h]
            boxes.append([x + j[0], y + j[1], x + w + j[2], y + h + j[3]])
        boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        return Detections(boxes=boxes, scores=np.ones(len(boxes)))


def coco_ap(video, results):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = video.to_coco()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        if not results:
            return 0.0
        dt = coco.loadRes(results)
        ev = COCOeval(coco, dt, "keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def run(mode, video, frames, predictor, detect_every, enlarge=1.1):
    """``mode`` "every frame": the detector's boxes on every frame, nothing propagated (today's
    predict-all-frames); else VideoPoseTracker with ``detect_every``."""
    oracle = OracleDetector(video)
    vt = VideoPoseTracker(predictor, oracle, detect_every=detect_every, box_enlarge=enlarge)
    results = []
    pose_cpu = 0.0
    people = 0
    calls = 0
    for t, image in enumerate(frames):
        oracle.frame = t
        t0 = time.process_time()
        if mode == "every frame":
            dets = oracle(image)
            calls += 1
            out = predictor.predict(image, dets.boxes, dets.scores) if len(dets) else []
        else:
            out = [p.result for p in vt.process(image)]
        pose_cpu += time.process_time() - t0
        people += len(out)
        for r in out:
            results.append({"image_id": t + 1, "category_id": 1, "score": float(r.score),
                            "keypoints": [float(v) for v in r.keypoints.reshape(-1)]})
    if mode != "every frame":
        calls = vt.stats.detector_calls
    return results, pose_cpu, calls, dict(vt.stats.reasons), people


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--fps", type=float, default=15)
    ap.add_argument("--people", type=int, default=3)
    ap.add_argument("--detect-every", type=int, nargs="+", default=[30, 10])
    ap.add_argument("--enlarge", type=float, nargs="+", default=[1.1])
    ap.add_argument("--scenario", default="crossing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    predictor = Predictor("synthetic/hrnet_w16_128x96", weights=DEMO, device="cpu")
    det = TorchvisionDetector("fasterrcnn", weights=None, device="cpu")
    probe = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    det(probe)
    t0 = time.process_time()
    det(probe)
    det_seconds = time.process_time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "clip.avi", num_frames=args.frames, fps=args.fps, image_size=(1920, 1080),
                            people=args.people, seed=0, scenario=args.scenario)
        import cv2

        cap = cv2.VideoCapture(str(video.path))
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
    print(f"{len(frames)} frames 1920x1080 '{args.scenario}', {args.people} people; Faster R-CNN R50 v2 "
          f"{det_seconds:.2f} s CPU per frame (1 thread)")
    rows = {}
    modes = [("every frame", 0, 0)] + [(f"propagation, every {n}, box x{e:g}", n, e)
                                      for n in args.detect_every for e in args.enlarge]
    for mode, every, enlarge in modes:
        results, pose_cpu, calls, reasons, people = run(mode, video, frames, predictor, every, enlarge)
        ap_ = coco_ap(video, results)
        total = pose_cpu + calls * det_seconds
        w32 = people * W32_SECONDS_PER_PERSON + calls * det_seconds
        rows[mode] = (ap_, calls, pose_cpu, total, w32)
        print(f"{mode:<34} AP {ap_:.3f}  detector calls {calls:3d} {reasons}  "
              f"pose CPU {pose_cpu:6.1f} s  total {total:7.1f} s  (with W32: {w32:7.1f} s)")
    e = rows["every frame"]
    for mode, p in rows.items():
        if mode != "every frame":
            print(f"{mode}: {e[3] / p[3]:.1f}x faster ({e[4] / p[4]:.1f}x with W32), AP {p[0] - e[0]:+.3f}")


if __name__ == "__main__":
    main()
