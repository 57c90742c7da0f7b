"""CPU forward pass of a pose network: plain eager fp32 vs the inference-optimised path.

    .venv/bin/python benchmarks/forward_cpu.py [--cfg coco/hrnet/w32_256x192] [--threads 2] [--batch 1 8]

Paths compared, on the same weights and inputs, in one run:
  eager       model.eval() under torch.no_grad(), contiguous NCHW input (what the official test code does)
  optimised   hrnet.models.optimize.optimize_for_inference (BatchNorm folded into the convs and the
              deconvs, channels_last weights and input) under torch.inference_mode()
It prints persons/s (person crops per second; median and best of interleaved runs), the speed-up
ratio of the medians and the max relative difference of the heatmaps (max |a - b| / max |a|).
On a machine shared with other processes, multi-threaded runs can be dominated by contention
(OpenMP threads waiting for a descheduled peer); compare with --threads 1 --clock cpu there.
Weights are random but well scaled (realistic BN statistics), so no layer runs on denormal floats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import realistic_weights

from hrnet.config import load_config
from hrnet.models import build_model
from hrnet.models.optimize import optimize_for_inference

_CLOCK = time.perf_counter


def _timed(fn, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    t0 = _CLOCK()
    out = fn(x)
    return _CLOCK() - t0, out


def _compare(fns, x: torch.Tensor, iters: int, warmup: int) -> list[tuple[float, float, torch.Tensor]]:
    """Interleave the timed runs of every path (so that load from other processes hits them alike);
    return (median s, best s, output) per path."""
    for _ in range(warmup):
        for fn in fns:
            fn(x)
    times: list[list[float]] = [[] for _ in fns]
    outs: list[torch.Tensor] = [x] * len(fns)
    for _ in range(iters):
        for i, fn in enumerate(fns):
            dt, outs[i] = _timed(fn, x)
            times[i].append(dt)
    return [(statistics.median(t), min(t), o) for t, o in zip(times, outs)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--iters", type=int, default=5, help="timed iterations per measurement (median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="'cpu' times the main thread's CPU time (needs --threads 1): robust to other load")
    args = p.parse_args()
    if args.clock == "cpu":
        if args.threads != 1:
            p.error("--clock cpu needs --threads 1")
        global _CLOCK
        _CLOCK = time.thread_time

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cfg = load_config(args.cfg, ["MODEL.PRETRAINED", ""])
    w, h = cfg.MODEL.IMAGE_SIZE
    model = build_model(cfg, is_train=False)
    realistic_weights(model)
    model.eval()
    fast = optimize_for_inference(model)

    def eager(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    def optimised(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return fast(x.to(memory_format=torch.channels_last)).contiguous()

    print(f"{args.cfg}: input {h}x{w}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{args.clock} clock, {args.iters} interleaved runs after {args.warmup} warm-up; "
          "persons/s from the median (best)")
    print(f"{'batch':>5s} {'eager p/s':>16s} {'optimised p/s':>16s} {'speed-up':>9s} {'max rel diff':>13s}")
    for batch in args.batch:
        x = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(1))
        (t_eager, b_eager, ref), (t_fast, b_fast, out) = _compare([eager, optimised], x, args.iters, args.warmup)
        rel = float((ref - out).abs().max() / ref.abs().max())
        print(f"{batch:5d} {batch / t_eager:8.2f} ({batch / b_eager:5.2f}) "
              f"{batch / t_fast:8.2f} ({batch / b_fast:5.2f}) {t_eager / t_fast:8.2f}x {rel:13.2e}", flush=True)

if __name__ == "__main__":
    main()
