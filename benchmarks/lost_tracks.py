"""Finding a followed person again after they vanished (hrnet.propagation.VideoPoseTracker).

Two ways a person followed by their propagated box is lost: in a crossing both boxes slide onto the
front person and one pose is dropped as a duplicate; behind a pillar the pose collapses. This
measures what brings them back, on synthetic clips with true identities (``write_video`` scenarios
"crossing" and "occlusion", the bundled demo HRNet-W16, CPU):

- with a detector (an oracle: the true boxes of people with >= 3 visible joints), ``look_again``:
  the detector runs again 1, 2, 4, 8 and 16 frames after someone vanished, against never;
- without a detector (offline, "Existing boxes only" / the app's whole-image fallback: the people
  labelled on the first frame start the tracks), ``coast_frames``: the lost track's box moves on
  by its motion estimate and the pose found there is accepted when confident, against not at all.

Scores: IDF1 and identity switches (hrnet.tracking.identity_metrics) over every true person with
>= 8 visible joints (a true person no pose lands on counts as a miss: IDF1 falls when people stay
lost), coverage (the share of those person-frames with a pose on them), detector calls, HRNet
person crops per frame, and process CPU time per frame on one thread.

    nice -n 10 python benchmarks/lost_tracks.py [--frames 48] [--seeds 3] [--coast 0 4 8 12 20] [--coast-score 0.4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hrnet import Predictor
from hrnet.dataset.synthetic import write_video
from hrnet.detect import Detections
from hrnet.nms import COCO_SIGMAS
from hrnet.propagation import VideoPoseTracker
from hrnet.tracking import identity_metrics

DEMO = Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth"
SIGMAS = np.asarray(COCO_SIGMAS)


def xyxy(p) -> list[float]:
    x, y, w, h = p.bbox
    return [x, y, x + w, y + h]


class Oracle:
    """The true boxes of the current frame (people with >= 3 visible joints)."""

    def __init__(self, video) -> None:
        self.video, self.frame = video, 0

    def __call__(self, image, *, image_key=None):
        b = np.array([xyxy(p) for p in self.video.frames[self.frame] if (p.keypoints[:, 2] == 2).sum() >= 3],
                     np.float64).reshape(-1, 4)
        return Detections(boxes=b, scores=np.ones(len(b)))


def match(people, poses) -> list[int | None]:
    """For each true person (>= 8 visible joints), the index of the pose on them (OKS >= 0.5), one to one."""
    from scipy.optimize import linear_sum_assignment

    out: list[int | None] = [None] * len(people)
    if not poses:
        return out
    oks = np.zeros((len(people), len(poses)))
    for i, p in enumerate(people):
        vis = p.keypoints[:, 2] > 0
        area = p.bbox[2] * p.bbox[3] * 0.53
        for j, kp in enumerate(poses):
            d2 = ((kp[vis, :2] - p.keypoints[vis, :2]) ** 2).sum(axis=1)
            oks[i, j] = float(np.mean(np.exp(-d2 / (2 * area * (2 * SIGMAS[vis]) ** 2 + 1e-9))))
    for r, c in zip(*linear_sum_assignment(-oks)):
        if oks[r, c] >= 0.5:
            out[r] = int(c)
    return out


def run(video, frames, predictor, *, detector: bool, look_again=(), coast_frames=0, coast_score=0.4):
    oracle = Oracle(video) if detector else None
    vt = VideoPoseTracker(predictor, oracle, detect_every=0 if detector else 30, look_again=look_again,
                          coast_frames=coast_frames, coast_score=coast_score)
    crops = 0
    counting = predictor.predict

    def predict(image, boxes, *a, **k):
        nonlocal crops
        crops += len(boxes)
        return counting(image, boxes, *a, **k)

    predictor.predict = predict
    truth, predicted = [], []
    covered = total = 0
    t0 = time.process_time()
    try:
        for t, image in enumerate(frames):
            if oracle is not None:
                oracle.frame = t
            seeds = np.array([xyxy(p) for p in video.frames[0]]) if (t == 0 and not detector) else None
            people = vt.process(image, seeds)
            gts = [p for p in video.frames[t] if (p.keypoints[:, 2] > 0).sum() >= 8]
            m = match(gts, [p.result.keypoints for p in people])
            row_t, row_p = [], []
            for g, j in zip(gts, m):
                row_t.append(g.track_id)
                row_p.append(-1 if j is None else people[j].track_id)
                covered += j is not None
                total += 1
            taken = {j for j in m if j is not None}
            for j, p in enumerate(people):  # poses on nobody: false positives for IDF1
                if j not in taken:
                    row_t.append(None)
                    row_p.append(p.track_id)
            truth.append(row_t)
            predicted.append(row_p)
    finally:
        cpu = time.process_time() - t0
        del predictor.predict
    metrics = identity_metrics(truth, predicted)
    return {"idf1": metrics["idf1"], "switches": metrics["id_switches"], "coverage": covered / max(total, 1),
            "calls": vt.stats.detector_calls, "crops": crops / len(frames), "ms": 1000 * cpu / len(frames),
            "ids": metrics["predicted_ids"], "reacquired": vt.stats.reacquired}


def read_frames(path) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--fps", type=float, default=12)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scenarios", nargs="+", default=["crossing", "occlusion"])
    ap.add_argument("--coast", type=int, nargs="+", default=[0, 4, 8, 12, 20])
    ap.add_argument("--coast-score", type=float, nargs="+", default=[0.4],
                    help="with coasting, the mean joint score a pose found in a coasted box needs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    size = tuple(int(v) for v in args.size.split("x"))
    predictor = Predictor("synthetic/hrnet_w16_128x96", weights=DEMO, device="cpu")
    modes = [("detector, never look again", dict(detector=True, look_again=())),
             ("detector, look again 1,2,4,8,16", dict(detector=True, look_again=(1, 2, 4, 8, 16)))]
    modes += [(f"no detector, coast {n}" + (f", score {c:g}" if n else ""), dict(detector=False, coast_frames=n,
                                                                                coast_score=c))
              for n in args.coast for c in (args.coast_score if n else args.coast_score[:1])]
    print(f"{args.frames} frames {size[0]}x{size[1]} at {args.fps:g} fps, 2 people, seeds 0..{args.seeds - 1}")
    print(f"{'scenario':<10} {'mode':<34} {'IDF1':>6} {'switches':>8} {'coverage':>8} {'det calls':>9} "
          f"{'crops/fr':>8} {'ms/frame':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for sc in args.scenarios:
            clips = []
            for seed in range(args.seeds):
                v = write_video(Path(tmp) / f"{sc}{seed}.avi", num_frames=args.frames, fps=args.fps, image_size=size,
                                people=2, seed=seed, scenario=sc)
                clips.append((v, read_frames(v.path)))
            for name, options in modes:
                rows = [run(v, f, predictor, **options) for v, f in clips]
                print(f"{sc:<10} {name:<34} {np.mean([r['idf1'] for r in rows]):6.3f} "
                      f"{sum(r['switches'] for r in rows):8d} {np.mean([r['coverage'] for r in rows]):8.3f} "
                      f"{np.mean([r['calls'] for r in rows]):9.1f} {np.mean([r['crops'] for r in rows]):8.2f} "
                      f"{np.mean([r['ms'] for r in rows]):8.1f}", flush=True)


if __name__ == "__main__":
    main()
