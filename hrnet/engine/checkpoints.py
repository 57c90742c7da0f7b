"""Checkpoint restore for ``--resume`` and ``TRAIN.AUTO_RESUME``: weights, optimizer, scaler and
the LR schedule of an interrupted run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.engine.builders import build_scheduler, step_scheduler
from hrnet.errors import CheckpointError

__all__ = ["checkpoint_path_for_resume", "load_training_checkpoint", "restore_scheduler"]

log = logging.getLogger(__name__)

def checkpoint_path_for_resume(args: argparse.Namespace, cfg: CfgNode, run_dir: Path) -> Path | None:
    if args.resume is not None:
        return Path(args.resume).expanduser() if args.resume else run_dir / "checkpoint.pth"
    if cfg.AUTO_RESUME and (run_dir / "checkpoint.pth").is_file():
        return run_dir / "checkpoint.pth"
    return None


def load_training_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
) -> dict[str, Any]:
    """Restore weights, optimizer and scaler from a training checkpoint; return its dict."""
    from hrnet.models.checkpoint import check_state_dict, extract_state_dict, normalize_state_dict, read_checkpoint

    if not path.is_file():
        raise CheckpointError(f"Cannot resume: checkpoint not found: {path}")
    obj = read_checkpoint(path)
    if not isinstance(obj, dict) or "epoch" not in obj or "optimizer" not in obj:
        raise CheckpointError(
            f"Cannot resume from {path}: it is not a training checkpoint (no epoch/optimizer state); "
            "use --weights to start a new run from these weights"
        )
    state_dict, _, _ = extract_state_dict(obj, source=str(path))
    state_dict, _ = normalize_state_dict(state_dict)
    state_dict = check_state_dict(model, state_dict, source=f"Checkpoint {path}")
    model.load_state_dict(state_dict, strict=True)
    try:
        optimizer.load_state_dict(obj["optimizer"])
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"Cannot resume from {path}: its optimizer state does not fit "
                              f"TRAIN.OPTIMIZER {type(optimizer).__name__}: {e}") from e
    if scaler is not None and obj.get("scaler"):
        scaler.load_state_dict(obj["scaler"])
    return obj


def restore_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer, ckpt: dict[str, Any], begin_epoch: int
                       ) -> torch.optim.lr_scheduler.LRScheduler:
    """The scheduler of a resumed run, so that every epoch runs at the LR of an uninterrupted run.

    This project's checkpoints carry the scheduler state. For official checkpoints (no scheduler
    state) the schedule is replayed from the initial LR: the official resume,
    ``MultiStepLR(..., last_epoch=epoch)`` on current PyTorch, steps once too often and applies a
    decay one epoch early (or skips it), which this avoids.
    """
    sched_state = ckpt.get("scheduler")
    if isinstance(sched_state, dict):
        scheduler = build_scheduler(cfg, optimizer)
        scheduler.load_state_dict(sched_state)
        ck_steps = sorted(int(m) for m in dict(sched_state.get("milestones", {})).keys())
        if "milestones" in sched_state and ck_steps != [int(s) for s in cfg.TRAIN.LR_STEP]:
            log.warning("TRAIN.LR_STEP %s differs from the checkpoint's %s; continuing with the checkpoint's "
                        "schedule", list(cfg.TRAIN.LR_STEP), ck_steps)
        return scheduler
    for group in optimizer.param_groups:
        group["lr"] = group.get("initial_lr", cfg.TRAIN.LR)
    scheduler = build_scheduler(cfg, optimizer)
    for _ in range(begin_epoch):
        step_scheduler(scheduler)
    return scheduler

