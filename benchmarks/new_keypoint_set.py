"""Fine-tuning the bundled demo model (COCO-17 synthetic people) for another keypoint set:
PCK and AP against the number of labelled frames.

    nice -n 10 .venv/bin/python benchmarks/new_keypoint_set.py [--frames 8 32 128] [--steps 80]
                                                               [--sets body12 quadruped] [--val 48]

Sets (:mod:`hrnet.dataset.synthetic_sets`): ``body12`` (COCO's 12 body joints, no face: every
joint known to the base model by name) and ``quadruped`` (15 AP-10K animal joints on four-legged
figures; 9 known by name). For each set and each number of labelled training frames, the same
number of optimizer steps (Adam, the experiment's LR, batch 16, the official augmentation) from:

  scratch      random initialisation (the official init)
  base         the demo model: every tensor that fits, output layer re-initialised, no channel copied
  base+names   the same, plus the output channels of joints the base model knows by name
               (hrnet.models.checkpoint.load_for_keypoint_set, what ``hrnet-train --weights`` does)

Validation on held-out frames (never trained on) of the same set: COCO AP with the set's OKS
sigmas (pycocotools) and the official PCK@0.5 of the heatmaps (``accuracy``), no flip test.
One thread, process CPU time reported per run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _common import coco_subset

from hrnet.config import load_config
from hrnet.core.function import train_one_epoch, validate
from hrnet.core.loss import JointsMSELoss
from hrnet.dataset.build import build_dataset
from hrnet.dataset.synthetic_sets import SYNTHETIC_SETS, generate_set_dataset
from hrnet.keypoints import KeypointSet
from hrnet.models import build_model
from hrnet.models.checkpoint_sets import load_for_keypoint_set

DEMO = Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth"
EXPERIMENT = "synthetic/hrnet_w16_128x96"


def _cfg(kset: KeypointSet, train_ann: Path, val_ann: Path, images: Path, val_images: Path):
    return load_config(EXPERIMENT, [
        "MODEL.NUM_JOINTS", str(len(kset)), "DATASET.TRAIN_ANNOTATIONS", str(train_ann),
        "DATASET.TRAIN_IMAGES", str(images), "DATASET.TEST_ANNOTATIONS", str(val_ann),
        "DATASET.TEST_IMAGES", str(val_images), "TEST.FLIP_TEST", "False", "WORKERS", "0",
    ])


def run(cfg, init: str, kset: KeypointSet, steps: int, seed: int, out_dir: Path) -> dict[str, float]:
    torch.manual_seed(seed)
    train_ds, val_ds = build_dataset(cfg, is_train=True), build_dataset(cfg, is_train=False)
    model = build_model(cfg, is_train=init == "scratch")
    if init != "scratch":
        generic = KeypointSet.from_names([f"joint_{i}" for i in range(17)])
        load_for_keypoint_set(model, DEMO, kset, source_keypoints=generic if init == "base" else None)
    batch = int(cfg.TRAIN.BATCH_SIZE_PER_GPU)
    sampler = torch.utils.data.RandomSampler(train_ds, replacement=True, num_samples=steps * batch,
                                             generator=torch.Generator().manual_seed(seed))
    loader = torch.utils.data.DataLoader(train_ds, batch_size=batch, sampler=sampler, num_workers=0, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=32, shuffle=False, num_workers=0)
    criterion = JointsMSELoss(use_target_weight=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(cfg.TRAIN.LR))
    t0 = time.process_time()
    train_one_epoch(model, loader, criterion, optimizer, "cpu", 0, print_freq=10**9)
    t_train = time.process_time() - t0
    res = validate(model, val_loader, val_ds, "cpu", flip_test=False, output_dir=str(out_dir),
                   sigma=float(cfg.MODEL.SIGMA))
    return {"AP": float(res.metrics.get("AP", float("nan"))), "PCK": float(res.accuracy), "cpu_s": t_train}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--steps", type=int, default=80, help="optimizer steps per run (batch 16)")
    p.add_argument("--sets", nargs="+", default=list(SYNTHETIC_SETS), choices=list(SYNTHETIC_SETS))
    p.add_argument("--inits", nargs="+", default=["scratch", "base", "base+names"])
    p.add_argument("--val", type=int, default=48, help="held-out validation images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    print(f"{'set':10} {'frames':>6} {'init':>11} {'AP':>6} {'PCK':>6} {'cpu s':>6}")
    with tempfile.TemporaryDirectory(prefix="hrnet-newset-") as tmp:
        root = Path(tmp)
        for name in args.sets:
            kset = SYNTHETIC_SETS[name]
            pool = generate_set_dataset(root / name, max(args.frames), name, seed=args.seed, split_name="train")
            val = generate_set_dataset(root / name, args.val, name, seed=args.seed, split_name="val")
            for n in args.frames:
                sub = coco_subset(pool, n, root / name / f"train_{n}.json")
                cfg = _cfg(kset, sub, val, root / name / "images" / "train", root / name / "images" / "val")
                for init in args.inits:
                    r = run(cfg, init, kset, args.steps, args.seed, root / name / f"run_{n}_{init}")
                    print(f"{name:10} {n:6d} {init:>11} {r['AP']:6.3f} {r['PCK']:6.3f} {r['cpu_s']:6.1f}", flush=True)


if __name__ == "__main__":
    main()
