"""Training-pipeline throughput (samples/s) on the synthetic dataset at 256x192 (the official
COCO W32 experiment's input size and augmentation: half body 0.3, rotation 40, scale 0.35, flip,
RGB), in one process and with 2 DataLoader workers, plus where the time goes in one sample.

    .venv/bin/python benchmarks/data_loading.py [--images 200] [--samples 600] [--image-size 640 480]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from hrnet.config import load_config
from hrnet.dataset import build_dataset
from hrnet.dataset.synthetic import generate_dataset


def samples_per_s_direct(ds, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return n / (time.perf_counter() - start)


def samples_per_s_loader(ds, n: int, workers: int, batch_size: int = 32) -> float:
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True)
    it = iter(loader)
    next(it)  # start-up (worker processes) not counted
    seen, start = 0, time.perf_counter()
    while seen < n:
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        seen += batch[0].shape[0]
    return seen / (time.perf_counter() - start)


def stage_times(ds, n: int = 200) -> dict[str, float]:
    """Mean milliseconds of each stage of one training sample."""
    from hrnet.dataset.target import generate_target
    from hrnet.utils.transforms import get_affine_transform

    t = {"read image": 0.0, "crop (warpAffine)": 0.0, "normalise": 0.0, "target": 0.0}
    for i in range(n):
        rec = ds.db[i % len(ds)]
        s = time.perf_counter()
        image = ds.read_image(rec["image"])
        t["read image"] += time.perf_counter() - s
        s = time.perf_counter()
        trans = get_affine_transform(rec["center"], rec["scale"], 15.0, ds.image_size)
        crop = cv2.warpAffine(image, trans, (int(ds.image_size[0]), int(ds.image_size[1])), flags=cv2.INTER_LINEAR)
        t["crop (warpAffine)"] += time.perf_counter() - s
        s = time.perf_counter()
        ds.transform(crop)
        t["normalise"] += time.perf_counter() - s
        s = time.perf_counter()
        generate_target(rec["joints_3d"], rec["joints_3d_vis"], ds.image_size, ds.heatmap_size, ds.sigma)
        t["target"] += time.perf_counter() - s
    return {k: 1000 * v / n for k, v in t.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="synthetic images to generate")
    parser.add_argument("--samples", type=int, default=600, help="samples timed per measurement")
    parser.add_argument("--image-size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.random.seed(0)
    random.seed(0)

    with tempfile.TemporaryDirectory(prefix="hrnet-bench-") as tmp:
        start = time.perf_counter()
        ann = generate_dataset(tmp, args.images, image_size=tuple(args.image_size), people=(1, 3), seed=0)
        gen_s = time.perf_counter() - start
        cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3", [
            "DATASET.DATASET", "coco_json", "DATASET.TRAIN_ANNOTATIONS", str(ann),
            "DATASET.TRAIN_IMAGES", str(Path(tmp) / "images" / "train")])
        ds = build_dataset(cfg, is_train=True)
        print(f"synthetic dataset: {args.images} images {args.image_size[0]}x{args.image_size[1]} generated in "
              f"{gen_s:.2f} s ({1000 * gen_s / args.images:.1f} ms/image), {len(ds)} person samples")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} (other processes skew the numbers)")
        print(f"pipeline: {cfg.MODEL.IMAGE_SIZE[0]}x{cfg.MODEL.IMAGE_SIZE[1]} input, "
              f"{cfg.MODEL.HEATMAP_SIZE[0]}x{cfg.MODEL.HEATMAP_SIZE[1]} heatmaps, official COCO augmentation")

        direct = samples_per_s_direct(ds, args.samples)
        single = samples_per_s_loader(ds, args.samples, workers=0)
        two = samples_per_s_loader(ds, args.samples, workers=2)
        print(f"dataset[i] loop          : {direct:8.1f} samples/s")
        print(f"DataLoader, 0 workers    : {single:8.1f} samples/s (batch 32)")
        print(f"DataLoader, 2 workers    : {two:8.1f} samples/s (batch 32)  = {two / single:.2f}x single process")
        print("time per sample (ms):")
        for name, ms in stage_times(ds).items():
            print(f"  {name:20s} {ms:6.2f}")


if __name__ == "__main__":
    main()
