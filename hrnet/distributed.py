"""Distributed helpers: device choice, process-group set-up from torchrun's environment, and the few
collectives the trainer needs (reduce numbers, gather Python objects, broadcast).

Everything degrades to a no-op in a single process, so the training code calls these helpers
unconditionally. ``torchrun --nproc_per_node=N [--nnodes ...] -m hrnet.train ...`` sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`init_distributed` reads them and picks
NCCL for CUDA devices and gloo otherwise.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from hrnet.errors import ConfigError
from hrnet.utils.device import resolve_device  # re-exported: the one device resolver

__all__ = [
    "DistInfo",
    "ShardSampler",
    "all_gather_object",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "cleanup",
    "env_info",
    "init_distributed",
    "is_main_process",
    "resolve_device",
    "unwrap",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its global rank, the number of processes, its rank on the node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """Read the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK); a plain process is rank 0 of 1."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as e:
        raise ConfigError(f"Bad distributed environment (RANK/WORLD_SIZE/LOCAL_RANK): {e}") from e
    return DistInfo(rank=rank, world_size=max(1, world), local_rank=local)


def init_distributed(device_spec: str = "auto", *, timeout_s: float = 1800.0) -> tuple[DistInfo, torch.device]:
    """Set up the process group when launched by torchrun (WORLD_SIZE > 1) and choose the device.

    NCCL for CUDA devices, gloo otherwise. Returns this process's :class:`DistInfo` and device.
    """
    info = env_info()
    # Under torchrun each process owns cuda:LOCAL_RANK; an explicit cuda:N is refused there (every
    # rank would open GPU N and NCCL would stop with "Duplicate GPU detected").
    device = resolve_device(device_spec, info.local_rank, distributed=info.distributed)
    if device.type == "cpu":
        # Denormal floats are ~100x slower on x86 CPUs; they appear where BatchNorm statistics are still
        # untrained (eval-mode validation of a fresh model) and in the far tails of Gaussian targets.
        # Flushing them to zero changes nothing measurable in fp32 (the Predictor does the same).
        torch.set_flush_denormal(True)
    if not info.distributed:
        return info, device
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {}
        if backend == "nccl":
            kwargs["device_id"] = device
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s), **kwargs)
    log.debug("rank %d/%d (local %d) on %s, backend %s", info.rank, info.world_size, info.local_rank, device, backend)
    return info, device


def cleanup() -> None:
    """Destroy the process group if there is one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    return not _active() or dist.get_rank() == 0


def barrier() -> None:
    if _active():
        dist.barrier()


def _reduce_device() -> torch.device:
    if _active() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Sum a few numbers over all processes (float64); the identity in a single process."""
    if not _active():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.tolist()]


def all_reduce_max(values: Sequence[float]) -> list[float]:
    """Maximum of a few numbers over all processes (used to agree on flags such as 'stop')."""
    if not _active():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [float(v) for v in t.tolist()]


def all_gather_object(obj: T) -> list[T]:
    """Every process's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` from rank ``src`` on every process."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DistributedDataParallel / DataParallel (state_dict keys without ``module.``)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


class ShardSampler(Sampler[int]):
    """Evaluation sampler: rank ``r`` of ``n`` gets indices ``r, r+n, r+2n, ...`` of the dataset.

    Unlike :class:`torch.utils.data.DistributedSampler` it never pads or repeats samples, so the
    gathered predictions are exactly the dataset once and the metrics equal a single-process run.
    """

    def __init__(self, length: int, rank: int = 0, world_size: int = 1) -> None:
        self.length = length
        self.rank = rank
        self.world_size = max(1, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return max(0, math.ceil((self.length - self.rank) / self.world_size))
