"""The Predictor on a GPU (or any device): persons/s in fp32 and fp16, fp16 against fp32 keypoints,
what padding saves on new person counts, and the detector with and without fp16 autocast.

    .venv/bin/python benchmarks/predictor_gpu.py [--device auto] [--cfg coco/hrnet/w32_256x192_adam_lr1e-3]
                                                 [--batches 1 32 128] [--repeats 5] [--json OUT.json]
    # a quick check of the script itself on a machine without a GPU:
    .venv/bin/python benchmarks/predictor_gpu.py --device cpu --cfg synthetic/hrnet_w16_128x96 \\
        --batches 1 4 --repeats 1 --counts 3 --det-frames 1

Weights are random but realistic (BatchNorm statistics and scales of a trained network, see
``_common.realistic_weights``), written to a checkpoint and loaded like real ones. Timings are wall
clock of ``Predictor.predict`` on one 640x480 image with N boxes (it synchronises CUDA), medians of
``--repeats`` after two warm-up calls per size, reported as persons/s. Rows:

  fp32            half=False: IEEE fp32 on CUDA (TF32 off), BatchNorm folded, channels_last
  fp16            half=True : the folded weights cast to fp16 once, fp16 crops, float32 heatmaps
  fp16 autocast   the previous fp16 path (autocast over fp32 weights), batch 1 only, CUDA only

Agreement: fp16 keypoints against fp32 ones for ``--agree`` (32) people (share of joints within 1 px and 0.25 px,
max confidence difference). New person counts: the first call for each of ``--counts`` distinct
person counts, with padding to power-of-two sizes (the default on CUDA) and without; on CUDA the
unpadded run autotunes cuDNN for every count. Detector: Faster R-CNN (random weights: the work is
that of real ones, ~1000 proposals) on ``--det-frames`` frames, fp32 and fp16 autocast.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import realistic_weights

from hrnet.config import load_config
from hrnet.models import build_model
from hrnet.predictor import Predictor
from hrnet.utils.device import device_label, resolve_device


def _image_and_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    x1 = rng.uniform(0, 560, n)
    y1 = rng.uniform(0, 300, n)
    w = rng.uniform(40, 160, n)
    h = rng.uniform(120, 300, n)
    boxes = np.stack([x1, y1, np.minimum(x1 + w, 639), np.minimum(y1 + h, 479)], axis=1)
    return image, boxes


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _wall(fn, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def persons_per_s(predictor: Predictor, n: int, repeats: int) -> float:
    image, boxes = _image_and_boxes(n, seed=n)
    for _ in range(2):  # warm-up: cuDNN autotuning of this padded size, allocator
        predictor.predict(image, boxes)
    times = [_wall(lambda: predictor.predict(image, boxes), predictor.device) for _ in range(repeats)]
    return n / statistics.median(times)


def agreement(a: Predictor, b: Predictor, n: int = 32) -> dict[str, float]:
    image, boxes = _image_and_boxes(n, seed=99)
    ka = np.stack([r.keypoints for r in a.predict(image, boxes)])
    kb = np.stack([r.keypoints for r in b.predict(image, boxes)])
    d = np.linalg.norm(ka[..., :2] - kb[..., :2], axis=-1)
    return {
        "within_1px": float((d <= 1.0).mean()),
        "within_0.25px": float((d <= 0.25).mean()),
        "max_dxy_px": float(d.max()),
        "max_dconf": float(np.abs(ka[..., 2] - kb[..., 2]).max()),
    }


def new_counts(predictor: Predictor, counts: int, pad: bool) -> float:
    """Total time of the first call for each of ``counts`` distinct person counts."""
    predictor.pad_batches = pad
    total = 0.0
    for n in range(1, counts + 1):
        image, boxes = _image_and_boxes(n, seed=1000 + n)
        total += _wall(lambda image=image, boxes=boxes: predictor.predict(image, boxes), predictor.device)
    return total


def detector_times(device: torch.device, frames: int, repeats: int) -> dict[str, float]:
    from hrnet.detect import TorchvisionDetector

    images = [_image_and_boxes(0, seed=200 + i)[0] for i in range(frames)]
    out = {}
    for name, autocast in (("fp32", False), ("fp16 autocast", True)):
        if autocast and device.type != "cuda":
            continue
        det = TorchvisionDetector("fasterrcnn", weights=None, device=device, autocast=autocast)
        det.detect_batch(images)
        times = [_wall(lambda det=det: det.detect_batch(images), device) for _ in range(repeats)]
        out[name] = frames / statistics.median(times)
        del det
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agree", type=int, default=32, help="people for the fp16 vs fp32 agreement")
    ap.add_argument("--counts", type=int, default=24, help="distinct person counts for the padding row")
    ap.add_argument("--det-frames", type=int, default=4, help="frames per detector batch (0: skip)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    device = resolve_device(args.device)
    cfg = load_config(args.cfg)
    torch.manual_seed(0)
    model = build_model(cfg, is_train=False)
    realistic_weights(model)
    batch_size = max(args.batches)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "weights.pth"
        torch.save(model.state_dict(), ckpt)
        del model
        fp32 = Predictor(cfg, weights=ckpt, device=device, half=False, batch_size=batch_size)
        fp16 = Predictor(cfg, weights=ckpt, device=device, half=True, batch_size=batch_size)
        old16 = None
        if device.type == "cuda":
            old16 = Predictor(cfg, weights=ckpt, device=device, half=True, batch_size=batch_size)
            old16.model.float()  # the former path: fp32 weights under autocast
            old16._half_weights = False
    print(f"torch {torch.__version__}, {device_label(device)}, {args.cfg}, batch size {batch_size}, "
          f"median of {args.repeats}")
    results: dict[str, object] = {"device": device_label(device), "cfg": args.cfg, "torch": torch.__version__}
    rows: dict[str, dict[int, float]] = {"fp32": {}, "fp16": {}}
    for n in args.batches:
        for name, p in (("fp32", fp32), ("fp16", fp16)):
            rows[name][n] = persons_per_s(p, n, args.repeats)
        line = "  ".join(f"{name} {rows[name][n]:9.1f}" for name in rows)
        print(f"batch {n:4d}: persons/s  {line}   fp16/fp32 {rows['fp16'][n] / rows['fp32'][n]:.2f}x")
    if old16 is not None:
        old = persons_per_s(old16, 1, args.repeats)
        print(f"batch    1: fp16 autocast over fp32 weights {old:9.1f} persons/s; "
              f"fp16 weights are {rows['fp16'].get(1, float('nan')) / old:.2f}x that")
        results["fp16_autocast_batch1"] = old
        del old16
    results["persons_per_s"] = rows
    agree = agreement(fp16, fp32, args.agree)
    print(f"fp16 vs fp32 keypoints ({args.agree} people): {agree['within_1px']:.1%} of joints within 1 px, "
          f"{agree['within_0.25px']:.1%} within 0.25 px, max {agree['max_dxy_px']:.2f} px, "
          f"max |dconf| {agree['max_dconf']:.3g}")
    results["fp16_vs_fp32"] = agree
    if args.counts > 0:
        padded = new_counts(fp32, args.counts, pad=True)
        fresh = Predictor(cfg, weights=None, device=device, half=False, batch_size=batch_size)
        exact = new_counts(fresh, args.counts, pad=False)
        print(f"first calls for person counts 1..{args.counts}: padded {padded:.2f} s, unpadded {exact:.2f} s")
        results["new_counts_s"] = {"padded": padded, "unpadded": exact}
        del fresh
    if args.det_frames > 0:
        det = detector_times(device, args.det_frames, args.repeats)
        print("detector (Faster R-CNN, 640x480): " + ", ".join(f"{k} {v:.1f} frames/s" for k, v in det.items()))
        results["detector_frames_per_s"] = det
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
