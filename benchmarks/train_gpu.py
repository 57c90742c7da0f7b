"""GPU training throughput of hrnet's ``train_one_epoch``: AMP and channels_last, at batch 32 and 64.

    .venv/bin/python benchmarks/train_gpu.py [--cfg coco/hrnet/w32_256x192] [--batch 32 64]
                                             [--steps 30] [--warmup 10] [--device cuda] [--json OUT.json]
    # a quick check of the script itself on a machine without a GPU:
    .venv/bin/python benchmarks/train_gpu.py --device cpu --cfg synthetic/hrnet_w16_128x96 --batch 2 4 \\
        --steps 2 --warmup 1

For every batch size, four variants train the same network (official random init, Adam,
JointsMSELoss with target weights) through ``train_one_epoch`` exactly as ``hrnet-train`` does:

  fp32  / NCHW              TRAIN.AMP False, TRAIN.CHANNELS_LAST False (the official set-up)
  fp32  / channels_last     TRAIN.AMP False, TRAIN.CHANNELS_LAST True
  AMP   / NCHW              TRAIN.AMP True  (float16 autocast + GradScaler), TRAIN.CHANNELS_LAST False
  AMP   / channels_last     TRAIN.AMP True,  TRAIN.CHANNELS_LAST True (hrnet-train's default on CUDA)

plus ``plain``: the straightforward loop without the per-step loss check (fp32 / NCHW), to show
what the loop itself costs. Inputs are random tensors already on the device (data loading is
not measured); ``cudnn.benchmark`` is on as in the official configs. Images/s = batch * steps /
time of the ``--steps`` timed steps after ``--warmup`` untimed ones (CUDA synchronised). A
variant that runs out of memory is reported as OOM and the others go on. ``--json`` also writes
the results as JSON (for $OUT on a device machine).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable

import torch

from hrnet.config import load_config
from hrnet.core.function import train_one_epoch
from hrnet.core.loss import JointsMSELoss
from hrnet.models import build_model

VARIANTS = (
    ("fp32 / NCHW", False, False),
    ("fp32 / channels_last", False, True),
    ("AMP / NCHW", True, False),
    ("AMP / channels_last", True, True),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _make_batches(cfg, batch: int, n: int, device: torch.device) -> list[tuple]:
    g = torch.Generator(device="cpu").manual_seed(0)
    w, h = cfg.MODEL.IMAGE_SIZE
    hw, hh = cfg.MODEL.HEATMAP_SIZE
    k = cfg.MODEL.NUM_JOINTS
    out = []
    for _ in range(n):
        x = torch.randn(batch, 3, h, w, generator=g).to(device)
        t = torch.rand(batch, k, hh, hw, generator=g).mul_(0.1).to(device)
        tw = torch.ones(batch, k, 1).to(device)
        out.append((x, t, tw, {}))
    return out


def _measure(run: Callable[[list], None], batches: list, steps: int, warmup: int, device: torch.device) -> float:
    """images/s over ``steps`` steps after ``warmup`` steps."""
    cycle = [batches[i % len(batches)] for i in range(warmup)]
    if cycle:
        run(cycle)
    _sync(device)
    timed = [batches[i % len(batches)] for i in range(steps)]
    t0 = time.perf_counter()
    run(timed)
    _sync(device)
    return len(timed) * timed[0][0].shape[0] / (time.perf_counter() - t0)


def _plain_loop(model: torch.nn.Module, opt: torch.optim.Optimizer, criterion: torch.nn.Module
                ) -> Callable[[list], None]:
    def loop(bs: list) -> None:
        model.train()
        for x, t, w, _ in bs:
            loss = criterion(model(x), t, w)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return loop


def _our_loop(model: torch.nn.Module, opt: torch.optim.Optimizer, criterion: torch.nn.Module, device: torch.device,
              amp: bool, channels_last: bool) -> Callable[[list], None]:
    scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None

    def loop(bs: list) -> None:
        train_one_epoch(model, bs, criterion, opt, device, 0, scaler=scaler, amp=amp, channels_last=channels_last,
                        print_freq=0)
    return loop


def _oom_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [MemoryError]
    for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)):
        if isinstance(t, type):
            types.append(t)
    return tuple(types)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
    p.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--json", default=None, help="write the results to this JSON file too")
    args = p.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA is not available; use --device cpu for a quick check of the script")
    torch.backends.cudnn.benchmark = True
    torch.set_flush_denormal(True)
    cfg = load_config(args.cfg, ["MODEL.PRETRAINED", ""])
    torch.manual_seed(0)
    base_state = build_model(cfg, is_train=True).state_dict()
    criterion = JointsMSELoss(use_target_weight=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{args.cfg}: input {cfg.MODEL.IMAGE_SIZE[0]}x{cfg.MODEL.IMAGE_SIZE[1]} on {name}, "
          f"torch {torch.__version__}, {args.steps} timed steps after {args.warmup}")
    results: list[dict] = []

    for batch in args.batch:
        batches = _make_batches(cfg, batch, 4, device)
        rows: list[tuple[str, float | None]] = []

        specs: list[tuple[str, bool, bool, bool]] = [("plain fp32 / NCHW", False, False, True)]
        specs += [(label, amp, cl, False) for label, amp, cl in VARIANTS]
        for label, amp, cl, is_plain in specs:
            model = build_model(cfg, is_train=False)
            model.load_state_dict(base_state)
            model.to(device)
            if cl:
                model.to(memory_format=torch.channels_last)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            loop = _plain_loop(model, opt, criterion) if is_plain else _our_loop(model, opt, criterion, device, amp, cl)
            try:
                ips: float | None = _measure(loop, batches, args.steps, args.warmup, device)
            except _oom_types():
                ips = None
            rows.append((label, ips))
            del model, opt, loop
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        base = dict(rows).get("fp32 / NCHW")
        print(f"batch {batch}:")
        for label, ips in rows:
            if ips is None:
                print(f"  {label:22s}     OOM")
            else:
                ratio = f"x{ips / base:.2f} vs fp32/NCHW" if base else ""
                print(f"  {label:22s} {ips:8.1f} images/s  {ratio}")
            results.append({"batch": batch, "variant": label, "images_per_s": ips})
        if device.type == "cuda":
            print(f"  peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
            torch.cuda.reset_peak_memory_stats(device)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"cfg": args.cfg, "device": name, "torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
