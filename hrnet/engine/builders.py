"""Builders: the one place where the config becomes plain arguments (optimizer, scheduler, loss,
data loaders, datasets, seeds, cuDNN), plus the atomic checkpoint writers the engine uses."""

from __future__ import annotations

import os
import signal
import warnings
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.errors import ConfigError, DatasetError
from hrnet.utils.io import atomic_open
from hrnet.utils.io import atomic_write_text as _atomic_write_text

__all__ = [
    "atomic_save",
    "atomic_write_text",
    "build_criterion",
    "build_datasets",
    "build_loader",
    "build_optimizer",
    "build_scheduler",
    "configure_cudnn",
    "seed_everything",
    "step_scheduler",
]

def build_optimizer(cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
    """Official ``get_optimizer``: SGD(lr, momentum, weight decay, nesterov) or Adam(lr) (no weight
    decay for Adam, as official)."""
    name = str(cfg.TRAIN.OPTIMIZER).lower()
    params = [p for p in model.parameters()]
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.TRAIN.LR, momentum=cfg.TRAIN.MOMENTUM, weight_decay=cfg.TRAIN.WD,
                               nesterov=cfg.TRAIN.NESTEROV)
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.TRAIN.LR)
    raise ConfigError(f"TRAIN.OPTIMIZER must be 'adam' or 'sgd', not {cfg.TRAIN.OPTIMIZER!r}")


def build_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """The epoch schedule, stepped at the start of every epoch (:func:`step_scheduler`): official
    ``MultiStepLR(LR_STEP, LR_FACTOR)``, or with ``TRAIN.LR_SCHEDULE cosine`` a cosine decay from
    ``LR`` to ``LR * LR_FACTOR`` reached in the last epoch (``END_EPOCH - 1``)."""
    if str(cfg.TRAIN.LR_SCHEDULE) == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, int(cfg.TRAIN.END_EPOCH)), eta_min=float(cfg.TRAIN.LR) * float(cfg.TRAIN.LR_FACTOR))
    steps = [int(s) for s in cfg.TRAIN.LR_STEP]
    if steps != sorted(steps):
        raise ConfigError(f"TRAIN.LR_STEP must be increasing, not {list(cfg.TRAIN.LR_STEP)}")
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, steps, cfg.TRAIN.LR_FACTOR, last_epoch=-1)


def step_scheduler(scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    """``scheduler.step()`` at the start of an epoch, as the official loop (PyTorch warns about
    that order; here it is on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scheduler.step()


def build_criterion(cfg: CfgNode) -> nn.Module:
    from hrnet.core.loss import JointsMSELoss, JointsOHKMMSELoss

    if cfg.LOSS.USE_OHKM:
        return JointsOHKMMSELoss(use_target_weight=cfg.LOSS.USE_TARGET_WEIGHT, topk=cfg.LOSS.TOPK)
    return JointsMSELoss(use_target_weight=cfg.LOSS.USE_TARGET_WEIGHT)


def _ignore_sigint_in_worker(worker_id: int) -> None:
    """DataLoader workers leave Ctrl+C to the main process, which stops (or aborts) the run and
    shuts them down; otherwise the first Ctrl+C would kill them and fail the epoch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def build_loader(dataset: Any, *, batch_size: int, workers: int, shuffle: bool, device: torch.device,
                 pin_memory: bool, sampler: Any = None, drop_last: bool = False, seed: int | None = None
                 ) -> torch.utils.data.DataLoader:
    workers = max(0, int(workers))
    generator = None
    if seed is not None and seed >= 0:
        generator = torch.Generator()
        generator.manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=workers,
        pin_memory=bool(pin_memory and device.type == "cuda"),
        persistent_workers=workers > 0,
        drop_last=drop_last,
        generator=generator,
        worker_init_fn=_ignore_sigint_in_worker if workers > 0 else None,
    )


def build_datasets(cfg: CfgNode, *, train: bool = True) -> tuple[Any, Any]:
    """(train dataset or None, validation dataset) through ``hrnet.dataset.build_dataset``."""
    from hrnet.dataset import build_dataset

    train_ds = build_dataset(cfg, is_train=True) if train else None
    val_ds = build_dataset(cfg, is_train=False)
    if train_ds is not None and len(train_ds) == 0:
        raise DatasetError(f"The training set has no samples (DATASET {cfg.DATASET.DATASET!r}, "
                           f"TRAIN_SET {cfg.DATASET.TRAIN_SET!r})")
    if len(val_ds) == 0:
        raise DatasetError(f"The validation set has no samples (DATASET {cfg.DATASET.DATASET!r}, "
                           f"TEST_SET {cfg.DATASET.TEST_SET!r})")
    return train_ds, val_ds


def seed_everything(seed: int, rank: int = 0) -> None:
    import random

    import numpy as np

    random.seed(seed + rank)
    np.random.seed((seed + rank) % 2**32)
    torch.manual_seed(seed + rank)


def configure_cudnn(cfg: CfgNode) -> None:
    torch.backends.cudnn.benchmark = bool(cfg.CUDNN.BENCHMARK)
    torch.backends.cudnn.deterministic = bool(cfg.CUDNN.DETERMINISTIC)
    torch.backends.cudnn.enabled = bool(cfg.CUDNN.ENABLED)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` through :func:`hrnet.utils.io.atomic_open`: a crash leaves either the old file
    or the new one, never a truncated one."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def atomic_write_text(text: str, path: str | os.PathLike[str]) -> None:
    _atomic_write_text(path, text)


def _plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The bare model's state_dict, contiguous (channels_last weights saved in the usual layout)."""
    from hrnet.distributed import unwrap

    return {k: v.detach().contiguous() for k, v in unwrap(model).state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())

