"""CPU training throughput: hrnet's ``train_one_epoch`` vs a plain straightforward loop.

    .venv/bin/python benchmarks/train_cpu.py [--cfg coco/hrnet/w32_256x192] [--batch 4] [--steps 3]
                                             [--rounds 3] [--threads 1] [--clock wall|cpu]

Both loops train the same network (same initial weights, Adam, JointsMSELoss with target
weights) on the same batches: real training samples of synthetic people (rendered by
``hrnet.dataset.synthetic``, cropped, augmented and turned into heatmaps by the training dataset),
prepared in memory beforehand so that only the training step is timed.

  plain            model.train(); for batch: out = model(x); loss = criterion(...);
                   optimizer.zero_grad(); loss.backward(); optimizer.step()   (contiguous NCHW)
  train_one_epoch  hrnet.core.function.train_one_epoch as hrnet-train calls it (TRAIN.CHANNELS_LAST
                   on: channels_last weights and inputs; loss check, progress callback)
  ..._nchw         the same with TRAIN.CHANNELS_LAST False (isolates the loop's own overhead)

Every round runs each path over ``--steps`` batches, interleaved (in a rotating order), so that
load from other processes hits them alike; images/s are the median over rounds. On a shared machine use
``--threads 1 --clock cpu`` (process CPU time: insensitive to being descheduled). Two identical
paths differ by up to ~5% between runs there (measured with a duplicated path), so only larger
ratios mean something.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable

import torch

from hrnet.config import load_config
from hrnet.core.function import train_one_epoch
from hrnet.core.loss import JointsMSELoss
from hrnet.models import build_model


def _batches(cfg, batch: int, steps: int) -> list[tuple]:
    from hrnet.dataset.build import build_dataset
    from hrnet.dataset.synthetic import generate_dataset

    with tempfile.TemporaryDirectory(prefix="hrnet-bench-") as tmp:
        ann = generate_dataset(tmp, max(2, batch * steps // 2 + 1), image_size=(320, 240), seed=0)
        data_cfg = cfg.clone()
        data_cfg.defrost()
        data_cfg.DATASET.DATASET = "coco_json"
        data_cfg.DATASET.TRAIN_ANNOTATIONS = str(ann)
        data_cfg.DATASET.TRAIN_IMAGES = f"{tmp}/images/train"
        data_cfg.freeze()
        ds = build_dataset(data_cfg, is_train=True)
        loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False, num_workers=0)
        out = []
        for b in loader:
            if len(out) == steps:
                break
            if b[0].shape[0] == batch:
                out.append(b)
    if len(out) < steps:
        raise SystemExit(f"only {len(out)} full batches of {batch} could be made")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3, help="batches per round and path")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch default)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    cfg = load_config(args.cfg, ["MODEL.PRETRAINED", ""])
    torch.manual_seed(0)
    base = build_model(cfg, is_train=True)  # official random init
    batches = _batches(cfg, args.batch, args.steps)
    criterion = JointsMSELoss(use_target_weight=True)
    device = torch.device("cpu")

    def setup(channels_last: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model = copy.deepcopy(base)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model, torch.optim.Adam(model.parameters(), lr=1e-3)

    def plain() -> Callable[[], None]:
        model, opt = setup(False)

        def run() -> None:
            model.train()
            for x, t, w, _ in batches:
                out = model(x)
                loss = criterion(out, t, w)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return run

    def ours(channels_last: bool) -> Callable[[], None]:
        model, opt = setup(channels_last)

        def run() -> None:
            train_one_epoch(model, batches, criterion, opt, device, 0, channels_last=channels_last, print_freq=0,
                            on_step=lambda s: None)
        return run

    paths = {"plain": plain(), "train_one_epoch": ours(True), "train_one_epoch_nchw": ours(False)}
    times: dict[str, list[float]] = {k: [] for k in paths}
    names = list(paths)
    for r in range(args.warmup + args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate: no path always runs first
        for name in order:
            fn = paths[name]
            t0 = clock()
            fn()
            if r >= args.warmup:
                times[name].append(clock() - t0)

    images = args.batch * args.steps
    print(f"{args.cfg}: input {cfg.MODEL.IMAGE_SIZE[0]}x{cfg.MODEL.IMAGE_SIZE[1]}, batch {args.batch}, "
          f"{args.steps} steps x {args.rounds} rounds, threads {torch.get_num_threads()}, clock {args.clock}, "
          f"torch {torch.__version__}")
    speed = {k: images / statistics.median(v) for k, v in times.items()}
    for name, ips in speed.items():
        print(f"  {name:22s} {ips:7.2f} images/s   x{ips / speed['plain']:.2f} vs plain")


if __name__ == "__main__":
    main()
