"""The one place that knows which devices exist and what a device string means.

>>> resolve_device("auto")            # CUDA (cuda:<current>), then Apple MPS, else the CPU
>>> resolve_device("cuda:1")          # checked: a ConfigError when there is no such GPU
>>> [d.spec for d in available_devices()]   # ['cpu', 'cuda:0', 'cuda:1'] on a 2-GPU machine
>>> device_label(torch.device("cuda:0"))    # 'cuda:0 (NVIDIA H200)'

The Predictor, ``hrnet-predict``, ``hrnet-train`` (with torchrun) and the app all resolve devices
here, so ``auto`` means the same everywhere and a missing GPU is the same clear message.

Under torchrun (``distributed=True``) every process owns one GPU, ``cuda:LOCAL_RANK``: ``auto`` and
``cuda`` resolve to it, and an explicit ``cuda:N`` is refused (all ranks would share GPU N and NCCL
stops with "Duplicate GPU detected"); restrict the GPUs with ``CUDA_VISIBLE_DEVICES`` instead.

TF32: on Ampere and newer GPUs torch runs fp32 convolutions as TF32 by default (about 1e-3
relative error). :func:`cudnn_scope` with ``ieee_fp32=True`` turns that off around one piece of code:
the Predictor's "fp32" is IEEE fp32 (cuda and cpu heatmaps agree to float32 rounding); fp16 is its
fast GPU mode. Training keeps torch's default (TF32 convolutions) for speed.

Out-of-memory errors: :func:`is_out_of_memory` recognises CUDA's and MPS's, and
:func:`release_memory` runs the garbage collector and hands cached blocks back to the driver.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from hrnet.errors import ConfigError

__all__ = [
    "DeviceInfo",
    "available_devices",
    "cudnn_scope",
    "device_label",
    "is_out_of_memory",
    "mps_available",
    "release_memory",
    "resolve_device",
]

log = logging.getLogger(__name__)

_USAGE = "use auto, cpu, cuda, cuda:N or mps"


def mps_available() -> bool:
    """Apple's Metal backend is built into this torch and usable on this machine."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(
    spec: str | torch.device | None = "auto", local_rank: int | None = None, *, distributed: bool = False
) -> torch.device:
    """Turn ``auto | cpu | cuda | cuda:N | mps`` (or a :class:`torch.device`) into a checked device.

    ``auto`` prefers CUDA, then (single process only) Apple MPS, then the CPU. A CUDA device always
    comes back with its index (``cuda`` -> ``cuda:<current device>``). With ``distributed`` (one
    process per GPU under torchrun) ``auto``/``cuda`` mean ``cuda:local_rank`` and an explicit index
    is refused. Raises :class:`~hrnet.errors.ConfigError` for an unknown or absent device.
    """
    if isinstance(spec, torch.device):
        device = spec
        text = str(spec)
    else:
        text = (str(spec) if spec is not None else "auto").strip().lower() or "auto"
        if text == "auto":
            if torch.cuda.is_available():
                text = "cuda"
            elif not distributed and mps_available():
                text = "mps"
            else:
                text = "cpu"
        try:
            device = torch.device(text)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(f"Unknown device {spec!r}; {_USAGE}") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"Device {text!r} requested but CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if distributed:
            rank = 0 if local_rank is None else int(local_rank)
            if device.index is not None:
                raise ConfigError(
                    f"Device {text!r} names one GPU, but under torchrun every process uses its own GPU "
                    f"(cuda:LOCAL_RANK). Pass --device cuda (or auto), and choose the GPUs with "
                    f"CUDA_VISIBLE_DEVICES."
                )
            if rank >= count:
                raise ConfigError(
                    f"LOCAL_RANK {rank} has no GPU: only {count} CUDA device(s) are visible; "
                    f"start at most {count} process(es) per node (torchrun --nproc_per_node)"
                )
            device = torch.device("cuda", rank)
        elif device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.index >= count:
            raise ConfigError(f"Device {device} requested but only {count} CUDA device(s) exist")
    elif device.type == "mps":
        if distributed:
            raise ConfigError("Distributed training on MPS is not supported; use --device cpu or cuda")
        if not mps_available():
            raise ConfigError("Device 'mps' requested but Apple MPS is not available on this machine")
    elif device.type != "cpu":
        raise ConfigError(f"Unsupported device {text!r}; {_USAGE}")
    return device


@dataclass(frozen=True)
class DeviceInfo:
    """One device of this machine: ``spec`` (what :func:`resolve_device` takes), a human ``name``
    and, for GPUs, the total memory in bytes (0 when unknown)."""

    spec: str
    name: str
    total_memory: int = 0

    @property
    def label(self) -> str:
        """``cuda:0 — NVIDIA H200, 140 GB`` / ``cpu — CPU`` (for device lists)."""
        mem = f", {self.total_memory / 1e9:.0f} GB" if self.total_memory else ""
        return f"{self.spec} — {self.name}{mem}"


def available_devices() -> list[DeviceInfo]:
    """The devices this process can use, CPU first, then every visible GPU (``cuda:N``), then MPS
    when present. Never raises: a broken driver only shortens the list (and logs why)."""
    out = [DeviceInfo("cpu", "CPU")]
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                out.append(DeviceInfo(f"cuda:{i}", str(props.name), int(getattr(props, "total_memory", 0))))
    except (RuntimeError, AssertionError) as e:  # a driver that fails after is_available()
        log.warning("Cannot list CUDA devices: %s", e)
    if mps_available():
        out.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    return out


def device_label(device: torch.device | str) -> str:
    """``cuda:0 (NVIDIA H200)`` for a GPU, ``cpu`` / ``mps`` otherwise (for status lines and logs)."""
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else 0
        try:
            return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
        except (RuntimeError, AssertionError):
            return f"cuda:{index}"
    return str(dev)


def is_out_of_memory(error: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA's ``torch.OutOfMemoryError``, or the
    RuntimeError that MPS and some CUDA paths, cuDNN workspace allocation for one, raise)."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    if not isinstance(error, RuntimeError):
        return False
    text = str(error).lower()
    return "out of memory" in text or "cudnn_status_alloc_failed" in text or "cudnn_status_not_enough_workspace" in text


def release_memory(device: torch.device | str | None = None) -> None:
    """Collect garbage (drops tensors only held by reference cycles) and return the cached, now
    unused GPU blocks to the driver, so that another process (hrnet-train) can use them.
    Does nothing for the CPU; safe to call when CUDA was never initialised."""
    gc.collect()
    kind = None if device is None else torch.device(device).type
    if kind in (None, "cuda") and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    if kind in (None, "mps") and mps_available():
        mps = getattr(torch, "mps", None)
        if mps is not None and hasattr(mps, "empty_cache"):
            mps.empty_cache()


@contextmanager
def cudnn_scope(*, benchmark: bool | None = None, ieee_fp32: bool | None = None) -> Iterator[None]:
    """Set cuDNN autotuning and the fp32 convolution precision for the code inside, then restore them.

    The settings are process-wide in torch, so scoping them to the pose forward keeps other models
    (a Faster R-CNN that sees a new image size every image) from being autotuned. ``None`` leaves a
    setting as it is. Uses torch's ``cudnn.conv.fp32_precision`` (``"ieee"``/``"tf32"``) where it
    exists (it must not be mixed with the legacy ``allow_tf32`` flag), else ``allow_tf32``.
    Not thread-safe across threads that use cuDNN at the same time (torch's flags are global)."""
    cudnn = torch.backends.cudnn
    old_benchmark = cudnn.benchmark
    conv = getattr(cudnn, "conv", None)
    new_api = conv is not None
    old_precision = None
    if ieee_fp32 is not None:
        old_precision = conv.fp32_precision if new_api else cudnn.allow_tf32
    try:
        if benchmark is not None:
            cudnn.benchmark = bool(benchmark)
        if ieee_fp32 is not None:
            if new_api:
                conv.fp32_precision = "ieee" if ieee_fp32 else "tf32"
            else:  # pragma: no cover - torch before the fp32_precision API
                cudnn.allow_tf32 = not ieee_fp32
        yield
    finally:
        if benchmark is not None:
            cudnn.benchmark = old_benchmark
        if old_precision is not None:
            if new_api:
                conv.fp32_precision = old_precision
            else:  # pragma: no cover
                cudnn.allow_tf32 = old_precision
