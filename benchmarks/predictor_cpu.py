"""The whole Predictor.predict on CPU vs the plain eager fp32 forward pass alone.

    .venv/bin/python benchmarks/predictor_cpu.py [--cfg coco/hrnet/w32_256x192] [--threads 1] [--repeats 7]

Measured side by side in one run, interleaved (so that load from other processes hits both alike):

  eager forward   build_model + load weights, model.eval(), torch.no_grad(), contiguous NCHW float32
                  crops: the network alone, what the official test loop runs; nothing else timed
  predict         Predictor.predict(image, boxes): affine crops + normalisation, the optimised
                  network (BatchNorm folded, channels_last, conv+ReLU/add fused, inference_mode),
                  decoding and rescoring, for 8 people in a 640x480 image

Both wall-clock time and process CPU time are reported (medians and best of the runs). On a
machine shared with other jobs the wall-clock numbers swing with the load; CPU time at one
thread is the stable measure of the work done. Then persons/s of predict at batch 1 and 32, and
the share of preprocessing / forward / decoding in predict. Keypoints are checked to be unchanged:
the eager heatmaps decoded the same way must give the same keypoints.
Weights are random but well scaled (realistic BatchNorm statistics), so no layer runs on
denormal floats; they are written to a temporary checkpoint and loaded like real ones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import realistic_weights

from hrnet.config import load_config
from hrnet.models import build_model
from hrnet.predictor import Predictor


def _image_and_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    x1 = rng.uniform(0, 560, n)
    y1 = rng.uniform(0, 300, n)
    w = rng.uniform(40, 160, n)
    h = rng.uniform(120, 300, n)
    boxes = np.stack([x1, y1, np.minimum(x1 + w, 639), np.minimum(y1 + h, 479)], axis=1)
    return image, boxes


def _time(fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _fmt(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms   best {min(values) * 1000:8.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--people", type=int, default=8)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cfg = load_config(args.cfg)
    torch.manual_seed(0)
    eager = build_model(cfg, is_train=False)
    realistic_weights(eager)
    eager.eval()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "weights.pth"
        torch.save(eager.state_dict(), ckpt)
        predictor = Predictor(cfg, weights=ckpt, device="cpu", num_threads=args.threads)

    image, boxes = _image_and_boxes(args.people)
    crops, centers, scales = predictor.preprocess([image], [boxes])
    crops_nchw = crops.contiguous()  # the same crops, plain layout

    def eager_forward() -> torch.Tensor:
        with torch.no_grad():
            return eager(crops_nchw)

    def predict() -> list:
        return predictor.predict(image, boxes)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.cfg}, "
          f"{args.people} people in a 640x480 image, {args.repeats} interleaved runs")
    for _ in range(2):  # warm-up (oneDNN primitive caches, allocator)
        eager_forward()
        predict()
    wall = {"eager": [], "predict": []}
    cpu = {"eager": [], "predict": []}
    stages: dict[str, list[float]] = {"preprocess": [], "forward": [], "decode": []}
    for _ in range(args.repeats):
        for name, fn in (("eager", eager_forward), ("predict", predict)):
            w, c = _time(fn)
            wall[name].append(w)
            cpu[name].append(c)
            if name == "predict":
                for k, v in predictor.timings.items():
                    stages[k].append(v)

    # keypoints unchanged: eager heatmaps through the same decoding
    ref_preds, ref_maxvals = predictor.decode_heatmaps(eager_forward(), centers, scales)
    got = np.stack([r.keypoints for r in predict()])
    dxy = np.abs(got[..., :2] - ref_preds).max()
    same = np.isclose(got[..., :2], ref_preds, atol=1e-3).all(axis=-1).mean()
    dconf = np.abs(got[..., 2] - ref_maxvals[..., 0]).max()

    print(f"\n== {args.people} people ==")
    for name in ("eager", "predict"):
        label = "eager forward alone" if name == "eager" else "whole predict      "
        print(f"{label}  wall {_fmt(wall[name])}   cpu {_fmt(cpu[name])}")
    r_wall = statistics.median(wall["eager"]) / statistics.median(wall["predict"])
    r_cpu = statistics.median(cpu["eager"]) / statistics.median(cpu["predict"])
    r_best = min(wall["eager"]) / min(wall["predict"])
    print(f"speed-up of predict over the eager forward: wall median {r_wall:.2f}x, best {r_best:.2f}x, "
          f"cpu-time median {r_cpu:.2f}x")
    print(f"keypoints unchanged: {same:.1%} of joints equal (max |dxy| {dxy:.2g} px, max |dconf| {dconf:.2g})")
    total = sum(statistics.median(v) for v in stages.values())
    share = ", ".join(f"{k} {statistics.median(v) / total:.1%} ({statistics.median(v) * 1000:.1f} ms)"
                      for k, v in stages.items())
    print(f"time share in predict: {share}")

    print("\n== persons/s of predict ==")
    for n, repeats in ((1, max(args.repeats, 5)), (32, max(2, args.repeats // 2))):
        img, bxs = _image_and_boxes(n, seed=n)
        predictor.predict(img, bxs)
        w = [_time(lambda img=img, bxs=bxs: predictor.predict(img, bxs)) for _ in range(repeats)]
        wm = statistics.median(x[0] for x in w)
        cm = statistics.median(x[1] for x in w)
        print(f"batch {n:3d}: {n / wm:7.2f} persons/s wall (median of {repeats}), {n / cm:7.2f} persons/s cpu-time")


if __name__ == "__main__":
    main()
