"""CPU time of the person detectors on one 1080p frame (one thread, process CPU time, random
weights: the network's cost does not depend on them; postprocessing is capped by max detections).

    python benchmarks/detectors.py [--size 1920x1080] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hrnet.detect import TorchvisionDetector
from hrnet.detect.torchvision_detectors import TORCHVISION_DETECTORS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    image = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    times = {}
    for name in TORCHVISION_DETECTORS:
        det = TorchvisionDetector(name, weights=None, device="cpu")
        det(image)  # warm-up
        t0 = time.process_time()
        for _ in range(args.repeats):
            det(image)
        times[name] = (time.process_time() - t0) / args.repeats
    base = times["fasterrcnn"]
    print(f"{w}x{h}, one thread, CPU seconds per frame")
    for name, secs in times.items():
        title = TORCHVISION_DETECTORS[name].title
        print(f"  {name:<22} {secs:6.2f} s  ({base / secs:4.1f}x faster than fasterrcnn)  {title}")


if __name__ == "__main__":
    main()
