"""Fine-tuning the bundled demo model with ``hrnet-train --finetune`` on N labelled frames.

Two scenarios, each judged on held-out frames that no run trains or selects on:

- ``a``: the model's own synthetic domain (``hrnet.dataset.synthetic``, other seeds). The recipe
  must not make the model worse at any N, and should improve it as N grows;
- ``b``: a domain where the base model does poorly (``style="thin"``: thin limbs, other clothes
  colours, plain backgrounds). AP must rise far above the base.

For each N: N training frames + 8 validation frames (what a user labels; ``model_best.pth`` is
chosen on them), ``hrnet-train --finetune`` in a child process on one thread, then
:func:`hrnet.evaluate_model` of ``model_best.pth`` on the held-out frames (the same evaluation
training uses). Prints AP before / after, whether model_best is the base, epochs run, and the
child's wall and CPU time.

    nice -n 10 python benchmarks/finetune.py                      # N = 8 32 128, both scenarios
    nice -n 10 python benchmarks/finetune.py --sizes 32 --scenarios b TRAIN.LR 0.001
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXPERIMENT = "synthetic/hrnet_w16_128x96"
BASE = ROOT / "resources" / "models" / "hrnet_w16_synthetic.pth"
STYLES = {"a": "default", "b": "thin"}
IMAGE_SIZE = (320, 240)


def _data(root: Path, n: int, seed: int, split: str, style: str) -> tuple[Path, Path]:
    from hrnet.dataset.synthetic import generate_dataset

    ann = generate_dataset(root, n, image_size=IMAGE_SIZE, people=(1, 3), seed=seed, split_name=split, style=style)
    return ann, root / "images" / split


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _finetune(run: Path, train: tuple[Path, Path], val: tuple[Path, Path], extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "hrnet.train", "--cfg", EXPERIMENT, "--weights", str(BASE), "--finetune",
           "--device", "cpu", "--output-dir", str(run), "--progress", "jsonl", "WORKERS", "0", "TRAIN.SEED", "0",
           "DATASET.TRAIN_ANNOTATIONS", str(train[0]), "DATASET.TRAIN_IMAGES", str(train[1]),
           "DATASET.TEST_ANNOTATIONS", str(val[0]), "DATASET.TEST_IMAGES", str(val[1]), *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    end = next((e for e in events if e["event"] == "end"), None)
    if proc.returncode != 0 or end is None:
        raise SystemExit(f"hrnet-train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    recipe = next((e["message"] for e in events if e["event"] == "log" and "recipe" in e["message"]), "")
    curve = [e["metric"] for e in events if e["event"] == "base_validation"]
    curve += [e["metrics"].get("AP") for e in events if e["event"] == "epoch_end"]
    return {"end": end, "wall": wall, "cpu": cpu, "recipe": recipe, "val_curve": curve}


def _held_out_ap(weights: Path, test: tuple[Path, Path]) -> float:
    from hrnet import evaluate_model

    res = evaluate_model(EXPERIMENT, weights, device="cpu", opts=[
        ("DATASET.TEST_ANNOTATIONS", str(test[0])), ("DATASET.TEST_IMAGES", str(test[1])), ("WORKERS", "0")])
    return float(res.metrics["AP"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--scenarios", nargs="+", choices=sorted(STYLES), default=["a", "b"])
    parser.add_argument("--held-out", type=int, default=100, help="held-out frames per scenario")
    parser.add_argument("--val", type=int, default=8, help="validation frames (model selection)")
    parser.add_argument("--keep", default=None, help="keep the data and runs in this folder")
    parser.add_argument("opts", nargs="*", default=[], help="extra KEY VALUE options for hrnet-train")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hrnet_finetune_bench_"))
    rows = []
    for sc in args.scenarios:
        style = STYLES[sc]
        d = work / f"scenario_{sc}"
        test = _data(d / "test", args.held_out, 500, "test", style)
        t0 = time.process_time()
        base_ap = _held_out_ap(BASE, test)
        print(f"[{sc}] base model, held-out AP {base_ap:.3f} ({args.held_out} frames, "
              f"eval {time.process_time() - t0:.0f} s CPU)", flush=True)
        for n in args.sizes:
            train = _data(d / f"n{n}", n, 600 + n, "train", style)
            val = _data(d / f"n{n}", args.val, 700 + n, "val", style)
            out = _finetune(d / f"run{n}", train, val, list(args.opts))
            end = out["end"]
            ap = _held_out_ap(Path(end["best_path"]), test)
            rows.append((sc, n, base_ap, ap, end["best_is_base"], end["epochs_done"], out["wall"], out["cpu"]))
            curve = " ".join(f"{v:.3f}" if v is not None else "?" for v in out["val_curve"])
            print(f"[{sc}] N={n:4d}: held-out AP {base_ap:.3f} -> {ap:.3f} ({ap - base_ap:+.3f}); "
                  f"best_is_base {end['best_is_base']}, best_epoch {end['best_epoch']}, "
                  f"{end['epochs_done']} epochs, {out['wall']:.0f} s wall, {out['cpu']:.0f} s CPU\n"
                  f"        val AP curve (base first): {curve}\n        {out['recipe']}", flush=True)
    print("\nscenario  N     base AP  fine-tuned AP  delta   best=base  epochs  wall s  CPU s")
    for sc, n, b, a, is_base, ep, wall, cpu in rows:
        print(f"{sc:8s}  {n:4d}  {b:7.3f}  {a:13.3f}  {a - b:+6.3f}  {str(is_base):9s}  {ep:6d}  "
              f"{wall:6.0f}  {cpu:5.0f}")
    print(f"(data and runs in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
