"""``hrnet-info``: what an experiment builds — parameters, GFLOPs, layer table.

    hrnet-info --list
    hrnet-info --cfg coco/hrnet/w32_256x192_adam_lr1e-3 [--weights POSE.pth] [--json] [KEY VALUE ...]

``--cfg`` takes a shipped experiment name or a YAML path; trailing ``KEY VALUE`` pairs override the
config as in the official tools (``MODEL.IMAGE_SIZE "[288, 384]"``). ``--weights`` also checks that a
pose checkpoint loads into the network (strictly) and prints what it holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hrnet-info",
        description="Summarise the pose network of an experiment: parameters, GFLOPs at the configured input "
        "size, per-layer table.",
    )
    p.add_argument("--cfg", help="shipped experiment name (see --list) or YAML path")
    p.add_argument("--list", action="store_true", help="list the shipped experiments and exit")
    p.add_argument("--weights", help="pose checkpoint to load strictly into the network (checks it fits)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-layers", action="store_true", help="omit the per-layer table")
    p.add_argument("opts", nargs="*", metavar="KEY VALUE", help="config overrides, e.g. MODEL.NUM_JOINTS 16")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import torch

    from hrnet.config import list_experiments, load_config
    from hrnet.errors import HRNetError

    if args.list:
        for name in list_experiments():
            print(name)
        return 0
    if not args.cfg:
        print("hrnet-info: error: --cfg EXPERIMENT is required (or --list)", file=sys.stderr)
        return 2

    from hrnet.models import build_model
    from hrnet.models.checkpoint import load_checkpoint
    from hrnet.models.summary import format_summary, summarize_config

    torch.set_flush_denormal(True)
    opts = list(args.opts)
    try:
        cfg = load_config(args.cfg, opts)
        summary = summarize_config(cfg)
        ckpt = None
        if args.weights:
            ckpt = load_checkpoint(build_model(cfg, is_train=False), args.weights)
    except HRNetError as e:
        print(f"hrnet-info: error: {e}", file=sys.stderr)
        return 1

    if args.json:
        data = dataclasses.asdict(summary) | {"gflops": summary.gflops, "experiment": args.cfg}
        if ckpt is not None:
            data["checkpoint"] = {"path": ckpt.path, "format": ckpt.format, "epoch": ckpt.epoch,
                                  "num_tensors": ckpt.num_tensors}
        print(json.dumps(data, indent=1, default=str))
        return 0
    print(f"Experiment:   {args.cfg}")
    print(format_summary(summary, layers=not args.no_layers))
    if ckpt is not None:
        epoch = f", epoch {ckpt.epoch}" if ckpt.epoch is not None else ""
        print(f"\nCheckpoint:   {ckpt.path} loads ({ckpt.format}, {ckpt.num_tensors} tensors{epoch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
