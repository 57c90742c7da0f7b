"""Pose tracking on synthetic videos with true identities: IDF1 and identity switches per scenario.

Scenarios (``hrnet.dataset.synthetic.write_video(scenario=...)``): people walking and wrapping
around ("walk"), pairs crossing at the same depth, a pillar hiding everyone for ~0.8 s, people
entering and leaving, a 30 px/frame camera pan. Poses come from

- ``--poses model`` (default): the bundled demo HRNet run on every person box of the truth (as a
  perfect detector would give), people with fewer than 3 visible joints missed (a detector does
  not see someone behind a pillar), 5 % of the others missed at random, and ~0.5 false boxes per
  frame at random places; duplicates removed by OKS NMS as the app does; a pose's true identity is
  the person it lands on (OKS >= 0.5), None when it lands on nobody;
- ``--poses sim``: the truth with 2 % noise, scores by visibility, the same misses and false poses.

``--sweep`` also scores a grid of tracker options, which is how the defaults were chosen.

    python benchmarks/tracking.py [--frames 90] [--fps 15] [--poses model|sim] [--sweep]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hrnet.dataset.synthetic import write_video
from hrnet.nms import COCO_SIGMAS as _SIGMAS
from hrnet.nms import oks_nms
from hrnet.tracking import identity_metrics, track_poses

COCO_SIGMAS = np.asarray(_SIGMAS)

SCENARIOS = ["walk", "crossing", "occlusion", "enter_exit", "pan"]
DEMO = Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth"


def true_identities(video):
    """Per frame, per person: the identity a tracker should report. In the "walk" scenario people
    who leave one side re-enter on the other with the same renderer id: that is a new person."""
    w = video.size[0]
    last, epoch, out = {}, {}, []
    for people in video.frames:
        ids = []
        for p in people:
            x = p.bbox[0] + p.bbox[2] / 2
            if p.track_id in last and abs(x - last[p.track_id]) > 0.4 * w:
                epoch[p.track_id] = epoch.get(p.track_id, 0) + 1
            last[p.track_id] = x
            ids.append((p.track_id, epoch.get(p.track_id, 0)))
        out.append(ids)
    return out


def _identity_by_oks(kp, people, identities):
    best, best_oks = None, 0.5
    for p, ident in zip(people, identities):
        vis = p.keypoints[:, 2] > 0
        if vis.sum() < 3:
            continue
        area = p.bbox[2] * p.bbox[3] * 0.53
        d2 = ((kp[vis, :2] - p.keypoints[vis, :2]) ** 2).sum(axis=1)
        oks = float(np.mean(np.exp(-d2 / (2 * area * (2 * COCO_SIGMAS[vis]) ** 2 + 1e-9))))
        if oks > best_oks:
            best, best_oks = ident, oks
    return best


def detections(video, rng, mode, predictor=None, frames_bgr=None):
    """Per frame: poses (N, 17, 3) in random order and their true ids (None = false pose)."""
    out_kp, out_ids = [], []
    w, h = video.size
    identities = true_identities(video)
    for t, people in enumerate(video.frames):
        boxes, ids, gts = [], [], []
        for p, ident in zip(people, identities[t]):
            visible = int((p.keypoints[:, 2] == 2).sum())
            if visible < 3 or rng.random() < 0.05:
                continue
            x, y, bw, bh = p.bbox
            boxes.append([x, y, x + bw, y + bh])
            ids.append(ident)
            gts.append(p.keypoints)
        for _ in range(rng.poisson(0.5)):  # false boxes
            bw, bh = rng.uniform(0.1, 0.3) * w, rng.uniform(0.3, 0.6) * h
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            boxes.append([x, y, x + bw, y + bh])
            ids.append(None)
            gts.append(None)
        if not boxes:
            out_kp.append(np.zeros((0, 17, 3)))
            out_ids.append([])
            continue
        if mode == "model":
            # as the app and hrnet-predict do: poses of every box, duplicates removed by OKS NMS; the
            # true identity of a pose is the person it lands on (OKS >= 0.5), not the box it came from
            # (in a crossing both boxes hold both people, and a pose can be the other person's)
            res = predictor.predict(frames_bgr[t], np.array(boxes, dtype=np.float64))
            kp = np.stack([r.keypoints for r in res])
            db = [{"keypoints": k, "score": float(k[:, 2].mean()), "area": float((b[2] - b[0]) * (b[3] - b[1]))}
                  for k, b in zip(kp, boxes)]
            keep = sorted(oks_nms(db, 0.7))
            kp = kp[keep]
            ids = [_identity_by_oks(k, people, identities[t]) for k in kp]
            boxes = [boxes[i] for i in keep]
        else:
            kp = np.zeros((len(boxes), 17, 3))
            for i, (b, g) in enumerate(zip(boxes, gts)):
                if g is None:
                    kp[i, :, 0] = rng.uniform(b[0], b[2], 17)
                    kp[i, :, 1] = rng.uniform(b[1], b[3], 17)
                    kp[i, :, 2] = rng.uniform(0.02, 0.3, 17)
                    continue
                size = b[3] - b[1]
                kp[i, :, :2] = g[:, :2] + rng.normal(0, 0.02 * size, (17, 2))
                v = g[:, 2]
                kp[i, :, 2] = np.where(v == 2, rng.uniform(0.6, 0.95, 17), np.where(v == 1, rng.uniform(0.2, 0.5, 17),
                                                                                     rng.uniform(0.0, 0.15, 17)))
                centre = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
                kp[i, v == 0, :2] = centre + rng.normal(0, 5, (int((v == 0).sum()), 2))
        order = rng.permutation(len(boxes))
        out_kp.append(kp[order])
        out_ids.append([ids[i] for i in order])
    return out_kp, out_ids


def read_frames(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--fps", type=float, default=15)
    ap.add_argument("--size", default="480x270")
    ap.add_argument("--poses", choices=["model", "sim"], default="model")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    predictor = None
    if args.poses == "model":
        import torch

        torch.set_num_threads(1)
        from hrnet import Predictor

        predictor = Predictor(None, weights=DEMO, device="cpu")
    data = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sc in SCENARIOS:
            for seed in range(args.seeds):
                video = write_video(Path(tmp) / f"{sc}{seed}.avi", num_frames=args.frames, fps=args.fps,
                                    image_size=size, people=3 if sc != "crossing" else 2, seed=seed, scenario=sc)
                frames = read_frames(video.path) if predictor else None
                rng = np.random.default_rng(seed)
                data[(sc, seed)] = detections(video, rng, args.poses, predictor, frames)
    print(f"poses: {args.poses}, {args.frames} frames at {args.fps:g} fps, {size[0]}x{size[1]}, {args.seeds} seeds")

    def score(options):
        rows = {}
        for sc in SCENARIOS:
            idf1, sw, secs = [], 0, 0.0
            for seed in range(args.seeds):
                kp, truth = data[(sc, seed)]
                t0 = time.process_time()
                ids = track_poses(kp, **options)
                secs += time.process_time() - t0
                m = identity_metrics(truth, ids)
                idf1.append(m["idf1"])
                sw += m["id_switches"]
            rows[sc] = (float(np.mean(idf1)), sw, secs)
        return rows

    rows = score({})
    print(f"{'scenario':<12} {'IDF1':>6} {'ID switches':>12} {'ms/frame':>9}")
    for sc, (idf1, sw, secs) in rows.items():
        print(f"{sc:<12} {idf1:6.3f} {sw:12d} {1000 * secs / (args.frames * args.seeds):9.2f}")
    print(f"{'mean':<12} {np.mean([r[0] for r in rows.values()]):6.3f} {sum(r[1] for r in rows.values()):12d}")
    if args.sweep:
        grid = {
            "match_threshold": [0.05, 0.15, 0.3],
            "max_age": [10, 30],
            "velocity_smoothing": [0.0, 0.5, 0.8],
            "new_track_score": [0.25, 0.35, 0.5],
            "cascade": [False, True],
        }
        results = []
        for values in itertools.product(*grid.values()):
            opts = dict(zip(grid, values))
            r = score(opts)
            results.append((np.mean([v[0] for v in r.values()]), sum(v[1] for v in r.values()), opts))
        results.sort(key=lambda x: (-x[0], x[1]))
        print("\nsweep (mean IDF1, total switches, options), best first:")
        for m, s, o in results[:8]:
            print(f"  {m:.3f} {s:4d} {o}")
        print("  ...")
        for m, s, o in results[-3:]:
            print(f"  {m:.3f} {s:4d} {o}")


if __name__ == "__main__":
    main()
