"""Is hrnet-train's --finetune recipe a sound default when the base model predicts ANOTHER keypoint set?

The Train dialog starts a hand or animal project from a COCO model with ``hrnet-train --weights
BASE.pth --finetune`` (the output layer starts fresh, the joints the base knows by name are copied).
The recipe was tuned for a base of the same set (a quarter of the experiment's learning rate, warm-up
and cosine decay, frozen BatchNorm statistics, the base validated first and kept unless beaten by
0.02 AP). A fresh output layer might want the experiment's learning rate instead. This compares, from
the bundled demo model (COCO-17 synthetic people) to the synthetic quadruped-15 set (9 joints known by
name), with N labelled training frames, the same number of optimizer steps and the same batch:

  recipe     hrnet-train --weights demo --finetune           (the recipe as tuned for the same set)
  recipe_lr  the same with TRAIN.LR at the experiment's value (not a quarter of it)
  newhead    the same, and BatchNorm statistics not frozen (TRAIN.FREEZE_BN False)
  plain      hrnet-train --weights demo, the experiment's LR and schedule, the recipe's steps and batch

Each run validates on 8 frames (model selection, as in the app) and is then judged on held-out frames
it never saw (COCO AP with the set's sigmas, heatmap PCK; no flip test). One thread.

Measured (shared 2-core VM, seed 0, one run each: noisy, 8 validation frames pick the best epoch),
held-out AP / PCK on 32 frames:

    set         N   recipe        recipe_lr     newhead       plain
    quadruped   8   0.053/0.435   0.085/0.459   0.073/0.415   0.156/0.527
    quadruped  32   0.104/0.457   0.127/0.438   0.165/0.502   0.178/0.526
    body12      8   0.338/0.604   0.305/0.569   0.366/0.605   0.198/0.468
    body12     32   0.374/0.627   0.366/0.605   0.366/0.605   0.258/0.533
    mean AP         0.217         0.221         0.243         0.198

A new domain (quadruped) wants the experiment's LR and its own BatchNorm statistics; a COCO subset
(body12, every joint copied) is hurt by them without the recipe's base validation (plain), which
``newhead`` keeps (its body12 runs keep the base, 0.366). ``newhead`` has the best mean AP and is
what ``hrnet-train --finetune`` now does for a base of another set (``NEW_HEAD_LR_SCALE``,
``NEW_HEAD_FREEZE_BN`` in :mod:`hrnet.engine.finetune`).

    nice -n 10 python benchmarks/new_set_recipe.py [--frames 8 32] [--test 32] [--sets quadruped body12]
                                                   [--arms recipe recipe_lr newhead plain]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
import time
from pathlib import Path

import torch
from _common import coco_subset

from hrnet import evaluate_model, load_config
from hrnet.dataset.synthetic_sets import SYNTHETIC_SETS, generate_set_dataset
from hrnet.train import main as hrnet_train

DEMO = Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth"
EXPERIMENT = "synthetic/hrnet_w16_128x96"
ARMS = ("recipe", "recipe_lr", "newhead", "plain")


def _train(run: Path, finetune: bool, data: list[str], extra: list[str]) -> dict:
    args = ["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run), "--progress", "jsonl",
            "--weights", str(DEMO), *(["--finetune"] if finetune else []), *data, *extra]
    out, err = io.StringIO(), io.StringIO()
    t0 = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = hrnet_train(args)
    cpu = time.process_time() - t0
    events = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    if code != 0:
        raise SystemExit(f"hrnet-train failed ({code}): {err.getvalue()[-2000:]}")
    end = next(e for e in reversed(events) if e.get("event") == "end")
    start = next(e for e in events if e.get("event") == "start")
    return {"end": end, "start": start, "cpu_s": cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[8, 32])
    p.add_argument("--test", type=int, default=32, help="held-out frames the verdict is on")
    p.add_argument("--sets", nargs="+", default=["quadruped", "body12"], choices=list(SYNTHETIC_SETS))
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    logging.getLogger("hrnet").setLevel(logging.WARNING)  # the evaluation's own log lines
    print(f"{'set':10} {'N':>3} {'init':>9} {'steps':>5} {'lr':>8} {'best ep':>7} {'AP':>6} {'PCK':>6} {'cpu s':>6}")
    exp_lr = repr(float(load_config(EXPERIMENT).TRAIN.LR))
    quarter_lr = repr(float(load_config(EXPERIMENT).TRAIN.LR) * 0.25)  # the same-set recipe's LR_SCALE
    with tempfile.TemporaryDirectory(prefix="hrnet-newset-recipe-") as tmp:
        for set_name in args.sets:
            root = Path(tmp) / set_name
            kset = SYNTHETIC_SETS[set_name]
            pool = generate_set_dataset(root, max(args.frames), set_name, seed=args.seed, split_name="train")
            val = generate_set_dataset(root, 8, set_name, seed=args.seed, split_name="val")
            test = generate_set_dataset(root, args.test, set_name, seed=args.seed, split_name="test")
            for n in args.frames:
                sub = coco_subset(pool, n, root / f"train_{n}.json")
                data = ["MODEL.NUM_JOINTS", str(len(kset)), "DATASET.DATASET", "coco_json",
                        "DATASET.TRAIN_ANNOTATIONS", str(sub), "DATASET.TRAIN_IMAGES", str(root / "images" / "train"),
                        "DATASET.TEST_ANNOTATIONS", str(val), "DATASET.TEST_IMAGES", str(root / "images" / "val"),
                        "TEST.USE_GT_BBOX", "True", "TEST.FLIP_TEST", "False", "WORKERS", "0", "TRAIN.SEED",
                        str(args.seed), "MODEL.PRETRAINED", ""]
                results = {}
                budget: list[str] = []
                for arm in ARMS:
                    if arm not in args.arms and not (arm == "recipe" and "plain" in args.arms):
                        continue
                    if arm == "plain":
                        results[arm] = _train(root / f"{arm}_{n}", False, data, budget)
                    else:
                        # explicit values, whatever the recipe's defaults for a new head are
                        extra = {"recipe": ["TRAIN.LR", quarter_lr, "TRAIN.FREEZE_BN", "True"],
                                 "recipe_lr": ["TRAIN.LR", exp_lr, "TRAIN.FREEZE_BN", "True"],
                                 "newhead": ["TRAIN.LR", exp_lr, "TRAIN.FREEZE_BN", "False"]}[arm]
                        results[arm] = _train(root / f"{arm}_{n}", True, data, extra)
                    if arm == "recipe":  # the plain run gets the recipe's steps and batch
                        rc = load_config(str(root / f"{arm}_{n}" / "config.yaml"))
                        budget = ["TRAIN.END_EPOCH", str(int(rc.TRAIN.END_EPOCH)), "TRAIN.EPOCH_REPEATS",
                                  str(int(rc.TRAIN.EPOCH_REPEATS)), "TRAIN.BATCH_SIZE_PER_GPU",
                                  str(int(rc.TRAIN.BATCH_SIZE_PER_GPU))]
                for arm, res in results.items():
                    if arm not in args.arms:
                        continue
                    run = root / f"{arm}_{n}"
                    cfg = load_config(str(run / "config.yaml"))
                    ev = evaluate_model(cfg, run / "model_best.pth", device="cpu", opts=[
                        "DATASET.TEST_ANNOTATIONS", str(test), "DATASET.TEST_IMAGES", str(root / "images" / "test")])
                    epochs = int(res["end"].get("epochs_done") or 0) or int(cfg.TRAIN.END_EPOCH)
                    steps = int(res["start"].get("steps_per_epoch", 0)) * epochs
                    best = res["end"].get("best_epoch")
                    print(f"{set_name:10} {n:3d} {arm:>9} {steps:5d} {float(cfg.TRAIN.LR):8.5f} {str(best):>7} "
                          f"{ev.metrics.get('AP', float('nan')):6.3f} {ev.metrics.get('PCK', float('nan')):6.3f} "
                          f"{res['cpu_s']:6.0f}", flush=True)


if __name__ == "__main__":
    main()
