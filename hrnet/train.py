"""The training program (official ``tools/train.py``): ``hrnet-train`` / ``python -m hrnet.train``.

::

    hrnet-train --cfg EXPERIMENT [--device auto|cpu|cuda|cuda:N|mps] [--output-dir DIR]
                [--weights POSE_CKPT] [--resume [CKPT]] [--progress bar|jsonl] [--stop-file PATH]
                [--modelDir D] [--logDir D] [--dataDir D] [KEY VALUE ...]
    torchrun --nproc_per_node=N [--nnodes ...] -m hrnet.train --cfg EXPERIMENT ...

What it does, per the official recipe: Adam (lr) or SGD (lr, momentum, weight decay, nesterov)
as ``TRAIN.OPTIMIZER`` says, ``MultiStepLR(TRAIN.LR_STEP, TRAIN.LR_FACTOR)`` stepped at the start
of every epoch (so epoch ``e`` runs at ``LR * LR_FACTOR ** #{m in LR_STEP: m <= e + 1}``, exactly
as the official loop), JointsMSELoss (or OHKM with ``LOSS.USE_OHKM``), validation every epoch
(official PCK ``accuracy`` and the dataset's metric: COCO AP / MPII PCKh) and, in the run folder,
``checkpoint.pth`` (every epoch), ``model_best.pth`` (bare state_dict, when the metric is at
least the best so far) and ``final_state.pth`` (bare state_dict, at the end).

Beyond the official code: any device, AMP on CUDA (``TRAIN.AMP``), channels_last
(``TRAIN.CHANNELS_LAST``), DistributedDataParallel under torchrun (NCCL on GPUs, gloo on CPU;
``TRAIN.SYNC_BN``), exact ``--resume`` (optimizer, scheduler and scaler state), atomic checkpoint
writes, graceful stop (``--stop-file`` or the first SIGINT/SIGTERM: finish the epoch, then exit
with status ``stopped``), NaN detection (status ``diverged``; the last good checkpoint is kept),
and ``--progress jsonl``: one JSON object per stdout line for the app (events start, step,
epoch_end, checkpoint, log, error, end; see :mod:`hrnet.core.progress`).

Exit codes: 0 completed or stopped, 1 failed, 2 bad config / arguments, 3 diverged, 130 aborted.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.config import check_training_sizes
from hrnet.core.progress import BarReporter, EtaEstimator, JsonlReporter, ProgressReporter
from hrnet.distributed import DistInfo
from hrnet.errors import CheckpointError, ConfigError, DatasetError, HRNetError, MediaError, WeightsError
from hrnet.utils.io import atomic_open
from hrnet.utils.io import atomic_write_text as _atomic_write_text

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CONFIG",
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "TrainingState",
    "atomic_save",
    "build_criterion",
    "build_optimizer",
    "build_parser",
    "build_scheduler",
    "error_kind",
    "error_message",
    "main",
    "resolve_config",
    "run_directory",
]

log = logging.getLogger("hrnet.train")

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DIVERGED = 3
EXIT_ABORTED = 130

_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


# ----------------------------------------------------------------------------------------------
# Command line and config
# ----------------------------------------------------------------------------------------------
def add_official_arguments(parser: argparse.ArgumentParser) -> None:
    """The official ``--cfg`` / ``opts`` / ``--modelDir`` / ``--logDir`` / ``--dataDir`` / ``--prevModelDir``."""
    parser.add_argument("--cfg", required=True, help="experiment file or shipped experiment name "
                        "(e.g. coco/hrnet/w32_256x192_adam_lr1e-3)")
    parser.add_argument("--modelDir", default="", help="model directory (sets OUTPUT_DIR, as official)")
    parser.add_argument("--logDir", default="", help="log directory (sets LOG_DIR, as official)")
    parser.add_argument("--dataDir", default="", help="data directory (sets DATA_DIR; DATASET.ROOT, "
                        "MODEL.PRETRAINED and TEST.MODEL_FILE are relative to it, as official)")
    parser.add_argument("--prevModelDir", default="", help="accepted for compatibility (unused, as official)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--output-dir", default=None, help="the run folder (default: the official "
                        "OUTPUT_DIR/dataset/model/cfg_name)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    # torch.distributed.launch passes --local-rank; torchrun uses the LOCAL_RANK variable instead.
    parser.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs="*", default=[], metavar="KEY VALUE",
                        help="config overrides, e.g. TRAIN.LR 0.0005 TRAIN.END_EPOCH 10")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrnet-train",
        description="Train an HRNet / SimpleBaseline pose network (official tools/train.py semantics).",
    )
    add_official_arguments(parser)
    parser.add_argument("--weights", default=None, help="initialise the whole pose model from this checkpoint "
                        "(fine-tuning)")
    parser.add_argument("--resume", nargs="?", const="", default=None, metavar="CKPT",
                        help="resume from CKPT (default: RUN_DIR/checkpoint.pth): weights, optimizer, LR "
                        "schedule, epoch and best metric")
    parser.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                        help="bar: progress bar with ETA on stderr (default); jsonl: one JSON event per "
                        "stdout line (for programs)")
    parser.add_argument("--stop-file", default=None, help="stop after the current epoch once this file exists")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse with options and ``KEY VALUE`` overrides in any order."""
    argv = list(argv)
    for i, token in enumerate(argv[:-1]):
        nxt = argv[i + 1]
        if token == "--resume" and _KEY_RE.match(nxt) and not Path(nxt).exists():
            # "--resume TRAIN.LR 0.1": the key belongs to the overrides, --resume has no value
            argv[i] = "--resume="
    return parser.parse_intermixed_args(argv)


def _join_data_dir(data_dir: str, value: str) -> str:
    return os.path.join(data_dir, value) if value else value


def resolve_config(args: argparse.Namespace) -> CfgNode:
    """Load ``--cfg`` with the overrides and apply ``--modelDir/--logDir/--dataDir`` as the official
    ``update_config`` does (empty paths stay empty). Raises :class:`ConfigError`."""
    from hrnet.config import load_config

    cfg = load_config(args.cfg, list(args.opts or []))
    cfg = cfg.clone()
    cfg.defrost()
    if args.modelDir:
        cfg.OUTPUT_DIR = args.modelDir
    if args.logDir:
        cfg.LOG_DIR = args.logDir
    if args.dataDir:
        cfg.DATA_DIR = args.dataDir
    if cfg.DATA_DIR:
        cfg.DATASET.ROOT = _join_data_dir(cfg.DATA_DIR, cfg.DATASET.ROOT)
        cfg.MODEL.PRETRAINED = _join_data_dir(cfg.DATA_DIR, cfg.MODEL.PRETRAINED)
        cfg.TEST.MODEL_FILE = _join_data_dir(cfg.DATA_DIR, cfg.TEST.MODEL_FILE)
        for key in ("TRAIN_ANNOTATIONS", "TRAIN_IMAGES", "TEST_ANNOTATIONS", "TEST_IMAGES"):
            cfg.DATASET[key] = _join_data_dir(cfg.DATA_DIR, cfg.DATASET[key])
    cfg.freeze()
    return cfg


def _dataset_model_names(cfg: CfgNode) -> tuple[str, str]:
    dataset = cfg.DATASET.DATASET
    if cfg.DATASET.HYBRID_JOINTS_TYPE:
        dataset = f"{dataset}_{cfg.DATASET.HYBRID_JOINTS_TYPE}"
    return dataset.replace(":", "_"), cfg.MODEL.NAME


def run_directory(cfg: CfgNode, cfg_arg: str, output_dir: str | None = None) -> Path:
    """``--output-dir`` or the official ``OUTPUT_DIR/dataset/model/cfg_name``."""
    if output_dir:
        return Path(output_dir).expanduser()
    dataset, model = _dataset_model_names(cfg)
    cfg_name = os.path.basename(str(cfg_arg)).split(".")[0]
    return Path(cfg.OUTPUT_DIR or ".") / dataset / model / cfg_name


def tensorboard_directory(cfg: CfgNode, cfg_arg: str, run_dir: Path, explicit_output: bool) -> Path:
    """``RUN_DIR/tensorboard`` with ``--output-dir``, else the official ``LOG_DIR/dataset/model/cfg_name_time``."""
    if explicit_output or not cfg.LOG_DIR:
        return run_dir / "tensorboard"
    dataset, model = _dataset_model_names(cfg)
    cfg_name = os.path.basename(str(cfg_arg)).split(".")[0]
    return Path(cfg.LOG_DIR) / dataset / model / f"{cfg_name}_{time.strftime('%Y-%m-%d-%H-%M')}"


# ----------------------------------------------------------------------------------------------
# Builders: the one place where the config becomes plain arguments
# ----------------------------------------------------------------------------------------------
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


def build_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.MultiStepLR:
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


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# Stop requests
# ----------------------------------------------------------------------------------------------
class StopRequest:
    """Graceful stop: the first SIGINT/SIGTERM or the stop file asks to stop after the current epoch;
    a second signal aborts (KeyboardInterrupt)."""

    def __init__(self, stop_file: str | None = None) -> None:
        self.stop_file = Path(stop_file) if stop_file else None
        self.signalled: str | None = None
        self._announced = False
        self._previous: dict[int, Any] = {}
        self.on_request: Callable[[str], None] | None = None

    def _handler(self, signum: int, frame: Any) -> None:
        # only set flags here: logging from a signal handler could re-enter a handler's lock
        name = signal.Signals(signum).name
        if self.signalled is not None:
            raise KeyboardInterrupt(f"second {name}: aborting")
        self.signalled = name

    def announce(self) -> None:
        """Tell ``on_request`` about a signal, once (called from the training loop, not the handler)."""
        if self.signalled is not None and not self._announced:
            self._announced = True
            if self.on_request is not None:
                self.on_request(self.signalled)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._previous[sig] = signal.signal(sig, self._handler)
                except (ValueError, OSError):  # pragma: no cover - not in the main thread / unsupported
                    pass
        try:
            yield self
        finally:
            for sig, prev in self._previous.items():
                try:
                    signal.signal(sig, prev)
                except (ValueError, OSError):  # pragma: no cover
                    pass
            self._previous.clear()

    def file_present(self) -> bool:
        return self.stop_file is not None and self.stop_file.exists()

    @property
    def requested(self) -> bool:
        return self.signalled is not None or self.file_present()

    def reason(self) -> str:
        if self.signalled is not None:
            return f"{self.signalled} received"
        return f"stop file {self.stop_file} found"


# ----------------------------------------------------------------------------------------------
# Logging and reporting
# ----------------------------------------------------------------------------------------------
class _ReporterLogHandler(logging.Handler):
    """Forwards log records to the JSON-lines reporter as ``log`` events: the trainer's own INFO
    messages and every library WARNING and above."""

    def __init__(self, reporter: ProgressReporter) -> None:
        super().__init__(logging.INFO)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not record.name.startswith("hrnet.train"):
            return
        if getattr(record, "no_event", False):
            return
        try:
            level = "warning" if record.levelno >= logging.WARNING else "info"
            self.reporter.log(level, record.getMessage())
        except Exception:  # noqa: BLE001 # pragma: no cover - logging must never raise (logging.Handler convention)
            self.handleError(record)


@dataclass
class _Session:
    """Logging set-up of one run (undone by :meth:`close`)."""

    reporter: ProgressReporter
    handlers: list[logging.Handler] = field(default_factory=list)
    file_handler: logging.Handler | None = None
    stdout: TextIO | None = None
    previous_level: int = logging.WARNING

    def add_file(self, path: Path) -> None:
        if self.file_handler is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        h = logging.FileHandler(path, encoding="utf-8")
        h.setLevel(logging.DEBUG)
        h.setFormatter(logging.Formatter("%(asctime)-15s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(h)
        self.handlers.append(h)
        self.file_handler = h

    def close(self) -> None:
        root = logging.getLogger()
        for h in self.handlers:
            root.removeHandler(h)
            try:
                h.close()
            except (OSError, ValueError):  # pragma: no cover - a file handler whose disk went away
                pass
        self.handlers.clear()
        root.setLevel(self.previous_level)
        self.reporter.close()
        if self.stdout is not None:
            sys.stdout = self.stdout
            self.stdout = None


def _open_session(progress: str, info: DistInfo, debug: bool) -> _Session:
    root = logging.getLogger()
    session = _Session(reporter=ProgressReporter(), previous_level=root.level)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not info.is_main:
        # torchrun merges every rank's stdout: keep the JSON-lines stream of rank 0 clean
        session.stdout = sys.stdout
        sys.stdout = sys.stderr
        h: logging.Handler = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.WARNING)
        h.setFormatter(logging.Formatter(f"[rank {info.rank}] %(levelname)s: %(message)s"))
        root.addHandler(h)
        session.handlers.append(h)
        return session
    if progress == "jsonl":
        # stdout carries the JSON lines only: everything else printed (pycocotools' tables...) goes
        # to stderr for as long as the run lasts.
        reporter: ProgressReporter = JsonlReporter(sys.stdout)
        session.stdout = sys.stdout
        sys.stdout = sys.stderr
        console: logging.Handler = logging.StreamHandler(sys.stderr)
        forward = _ReporterLogHandler(reporter)
        root.addHandler(forward)
        session.handlers.append(forward)
    else:
        bar = BarReporter(sys.stderr)
        reporter = bar
        console = bar.handler()
    console.setLevel(logging.DEBUG if debug else logging.INFO)
    console.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(console)
    session.handlers.append(console)
    session.reporter = reporter
    return session


def error_message(e: BaseException) -> str:
    """A one-line message for an exception (for DataLoader worker errors, the original message)."""
    text = str(e).strip() or type(e).__name__
    if "Original Traceback" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = lines[-1] if lines else text
        text = re.sub(r"^[\w.]+(Error|Exception): ", "", last)
    return " ".join(text.split())


def error_kind(e: BaseException) -> str:
    oom_types: tuple[type[BaseException], ...] = (MemoryError,)
    for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)):
        if isinstance(t, type):
            oom_types += (t,)
    text = str(e)
    if isinstance(e, oom_types) or "out of memory" in text.lower():
        return "oom"
    if isinstance(e, ConfigError):
        return "config"
    if isinstance(e, (DatasetError, MediaError)) or "DatasetError" in text or "MediaError" in text:
        return "data"
    if isinstance(e, (CheckpointError, WeightsError)):
        return "checkpoint"
    from hrnet.core.function import TrainingDiverged

    if isinstance(e, TrainingDiverged):
        return "nan"
    return "other"


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainingState:
    begin_epoch: int = 0
    best_perf: float = 0.0
    best_metric_name: str = ""
    epochs_done: int = 0
    last_epoch_done: int | None = None
    best_path: str | None = None
    final_path: str | None = None
    resumed_from: str | None = None


def _command_line(argv: Sequence[str] | None) -> str:
    if argv is None:
        prog = os.path.basename(sys.argv[0])
        if prog in ("__main__.py", "train.py") or prog.endswith(".py"):
            return shlex.join([sys.executable, "-m", "hrnet.train", *sys.argv[1:]])
        return shlex.join(sys.argv)
    return shlex.join(["hrnet-train", *argv])


def _checkpoint_path_for_resume(args: argparse.Namespace, cfg: CfgNode, run_dir: Path) -> Path | None:
    if args.resume is not None:
        return Path(args.resume).expanduser() if args.resume else run_dir / "checkpoint.pth"
    if cfg.AUTO_RESUME and (run_dir / "checkpoint.pth").is_file():
        return run_dir / "checkpoint.pth"
    return None


def _load_training_checkpoint(
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


def _restore_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer, ckpt: dict[str, Any], begin_epoch: int
                       ) -> torch.optim.lr_scheduler.MultiStepLR:
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
        if ck_steps != [int(s) for s in cfg.TRAIN.LR_STEP]:
            log.warning("TRAIN.LR_STEP %s differs from the checkpoint's %s; continuing with the checkpoint's "
                        "schedule", list(cfg.TRAIN.LR_STEP), ck_steps)
        return scheduler
    for group in optimizer.param_groups:
        group["lr"] = group.get("initial_lr", cfg.TRAIN.LR)
    scheduler = build_scheduler(cfg, optimizer)
    for _ in range(begin_epoch):
        step_scheduler(scheduler)
    return scheduler


def _train(args: argparse.Namespace, cfg: CfgNode, info: DistInfo, device: torch.device, session: _Session,
           stop: StopRequest, command: str, state: TrainingState) -> str:
    """The training run proper; returns the end status (completed or stopped)."""
    from hrnet.core.function import TrainingDiverged, train_one_epoch, validate
    from hrnet.distributed import ShardSampler, all_reduce_max, barrier, unwrap
    from hrnet.models import build_model
    from hrnet.models.checkpoint import load_for_keypoint_set

    reporter = session.reporter
    explicit_output = bool(args.output_dir)
    run_dir = run_directory(cfg, args.cfg, args.output_dir)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        session.add_file(run_dir / "train.log")
        atomic_write_text(cfg.dump(), run_dir / "config.yaml")
    log.info("Command: %s", command)
    log.debug("Resolved config:\n%s", cfg.dump())
    if info.distributed:
        log.info("Distributed training: %d processes (%s)", info.world_size, "NCCL" if device.type == "cuda"
                 else "gloo")
    elif len(cfg.GPUS) > 1 and device.type == "cuda":
        log.warning("GPUS lists %d GPUs but this process trains on one (%s); launch with torchrun "
                    "--nproc_per_node=%d for all of them", len(cfg.GPUS), device, len(cfg.GPUS))

    if cfg.TRAIN.SEED >= 0:
        seed_everything(int(cfg.TRAIN.SEED), info.rank)
    configure_cudnn(cfg)
    if stop.stop_file is not None and info.is_main and stop.file_present():
        log.warning("Removing the stop file %s left over from an earlier run", stop.stop_file)
        stop.stop_file.unlink(missing_ok=True)
    barrier()

    # data
    train_ds, val_ds = build_datasets(cfg)
    from torch.utils.data.distributed import DistributedSampler

    train_sampler = (DistributedSampler(train_ds, num_replicas=info.world_size, rank=info.rank,
                                        shuffle=bool(cfg.TRAIN.SHUFFLE), seed=max(0, int(cfg.TRAIN.SEED)))
                     if info.distributed else None)
    train_loader = build_loader(train_ds, batch_size=cfg.TRAIN.BATCH_SIZE_PER_GPU, workers=cfg.WORKERS,
                                shuffle=bool(cfg.TRAIN.SHUFFLE), device=device, pin_memory=cfg.PIN_MEMORY,
                                sampler=train_sampler,
                                seed=int(cfg.TRAIN.SEED) + info.rank if cfg.TRAIN.SEED >= 0 else None)
    val_sampler = ShardSampler(len(val_ds), info.rank, info.world_size)
    val_loader = build_loader(val_ds, batch_size=cfg.TEST.BATCH_SIZE_PER_GPU, workers=cfg.WORKERS, shuffle=False,
                              device=device, pin_memory=cfg.PIN_MEMORY, sampler=val_sampler)
    flip_pairs = getattr(val_ds, "flip_pairs", [])

    # model, loss, optimizer
    resume_path = _checkpoint_path_for_resume(args, cfg, run_dir)
    weights = args.weights
    if resume_path is not None and weights:
        log.warning("--weights is ignored when resuming (the checkpoint holds the weights)")
        weights = None
    model = build_model(cfg, is_train=not (weights or resume_path))
    keypoint_set = getattr(train_ds, "keypoint_set", None)
    if weights:  # a model of another keypoint set: what fits is loaded, joints matched by name
        ck = load_for_keypoint_set(model, weights, keypoint_set).info
        log.info("Initialised the model from %s (%s)", weights, ck.format)
    num_params = sum(p.numel() for p in model.parameters())
    log.info("Model %s: %.2f M parameters, input %dx%d, heatmaps %dx%d", cfg.MODEL.NAME, num_params / 1e6,
             cfg.MODEL.IMAGE_SIZE[0], cfg.MODEL.IMAGE_SIZE[1], cfg.MODEL.HEATMAP_SIZE[0], cfg.MODEL.HEATMAP_SIZE[1])
    model.to(device)
    channels_last = bool(cfg.TRAIN.CHANNELS_LAST)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if info.distributed and cfg.TRAIN.SYNC_BN:
        if device.type != "cpu":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # same parameters, same state_dict keys
        else:  # PyTorch's SyncBatchNorm does not run on CPU tensors
            log.warning("TRAIN.SYNC_BN needs GPUs; training on CPU with per-process BatchNorm statistics")
    criterion = build_criterion(cfg).to(device)
    optimizer = build_optimizer(cfg, model)
    use_amp = bool(cfg.TRAIN.AMP) and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None

    begin_epoch = int(cfg.TRAIN.BEGIN_EPOCH)
    end_epoch = int(cfg.TRAIN.END_EPOCH)
    if resume_path is not None:
        ckpt = _load_training_checkpoint(resume_path, model, optimizer, scaler)
        begin_epoch = int(ckpt["epoch"])
        state.best_perf = float(ckpt.get("best_perf", ckpt.get("perf", 0.0)))
        state.best_metric_name = str(ckpt.get("best_metric_name", ""))
        scheduler = _restore_scheduler(cfg, optimizer, ckpt, begin_epoch)
        state.resumed_from = str(resume_path)
        if (run_dir / "model_best.pth").is_file():
            state.best_path = str((run_dir / "model_best.pth").resolve())
        log.info("Resumed from %s: next epoch %d, best metric so far %.4f", resume_path, begin_epoch,
                 state.best_perf)
    else:
        scheduler = build_scheduler(cfg, optimizer)
    state.begin_epoch = begin_epoch

    if info.distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
        )
    bare = unwrap(model)

    writer = _tensorboard_writer(cfg, args, run_dir, explicit_output) if info.is_main else None

    steps_per_epoch = len(train_loader)
    world_batch = int(cfg.TRAIN.BATCH_SIZE_PER_GPU) * info.world_size
    reporter.start(
        run_dir=str(run_dir.resolve()), begin_epoch=begin_epoch, end_epoch=end_epoch,
        steps_per_epoch=steps_per_epoch, train_samples=len(train_ds), val_samples=len(val_ds),
        device=str(device) if not info.distributed else f"{device.type} x{info.world_size}",
        command=command,
    )
    log.info("Training %d samples (%d steps of %d images per epoch), validating on %d samples, on %s",
             len(train_ds), steps_per_epoch, world_batch, len(val_ds), device)
    eta = EtaEstimator(begin_epoch, end_epoch, steps_per_epoch)
    stop.on_request = lambda name: log.warning(
        "%s received: stopping after this epoch (validation and checkpoint); send it again to abort", name)

    status = "completed"
    ckpt_path = run_dir / "checkpoint.pth"
    best_file = run_dir / "model_best.pth"
    global_step = 0
    for epoch in range(begin_epoch, end_epoch):
        step_scheduler(scheduler)
        if train_sampler is not None:
            train_sampler.set_epoch(epoch)
        t_epoch = time.perf_counter()
        eta.epoch_started(epoch)
        window = _StepWindow(reporter, eta, interval=reporter.min_interval)

        def on_step(s: Any, _w: _StepWindow = window) -> None:
            nonlocal global_step
            stop.announce()
            _w(s)
            global_step += 1
            if writer is not None and s.step % max(1, int(cfg.PRINT_FREQ)) == 0:
                writer.add_scalar("train_loss", s.loss, global_step)
                writer.add_scalar("lr", s.lr, global_step)

        train_res = train_one_epoch(
            model, train_loader, criterion, optimizer, device, epoch, scaler=scaler, amp=use_amp,
            channels_last=channels_last, print_freq=int(cfg.PRINT_FREQ), on_step=on_step,
        )
        val = validate(
            bare, val_loader, val_ds, device, flip_test=bool(cfg.TEST.FLIP_TEST),
            shift_heatmap=bool(cfg.TEST.SHIFT_HEATMAP), flip_pairs=flip_pairs, criterion=criterion,
            post_process=bool(cfg.TEST.POST_PROCESS), decode=str(cfg.TEST.DECODE), sigma=float(cfg.MODEL.SIGMA),
            output_dir=str(run_dir), amp=use_amp, channels_last=channels_last, arch_name=cfg.MODEL.NAME,
        )
        if not _all_finite(bare):
            raise TrainingDiverged(f"Training diverged: the weights became NaN/inf in epoch {epoch}; "
                                   "try a lower TRAIN.LR", epoch=epoch, step=train_res.steps)
        perf = float(val.perf_indicator)
        metric_name = "AP" if "AP" in val.metrics else next(iter(val.metrics), "PCK")
        is_best = perf >= state.best_perf
        if is_best:
            state.best_perf = perf
            state.best_metric_name = metric_name

        if info.is_main:
            sd = _plain_state_dict(bare)
            kset_entry = keypoint_set.to_dict() if keypoint_set is not None else None
            if is_best:  # the weights + what they predict (load_checkpoint reads both)
                atomic_save({"state_dict": sd, "keypoint_set": kset_entry, "epoch": epoch + 1, "perf": perf,
                             "model": cfg.MODEL.NAME}, best_file)
                state.best_path = str(best_file.resolve())
            atomic_save({
                "epoch": epoch + 1,
                "model": cfg.MODEL.NAME,
                "state_dict": sd,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "perf": perf,
                "best_perf": state.best_perf,
                "best_metric_name": state.best_metric_name,
                "metrics": dict(val.metrics),
                "config": cfg.dump(),
                "hrnet_version": _version(),
                "keypoint_set": kset_entry,
            }, ckpt_path)
            log.info("=> saved checkpoint %s (epoch %d%s)", ckpt_path, epoch, ", new best" if is_best else "",
                     extra={"no_event": True})
        barrier()
        time_s = time.perf_counter() - t_epoch
        eta.epoch_finished(time_s)
        state.epochs_done += 1
        state.last_epoch_done = epoch
        if writer is not None:
            writer.add_scalar("valid_loss", val.loss if val.loss is not None else float("nan"), epoch)
            writer.add_scalar("valid_acc", val.accuracy, epoch)
            for k, v in val.metrics.items():
                writer.add_scalar(f"valid/{k}", v, epoch)
            writer.flush()
        reporter.epoch_end(epoch=epoch, train_loss=train_res.loss, val_loss=val.loss, metrics=val.metrics,
                           best_metric=state.best_perf, is_best=is_best, time_s=time_s)
        reporter.checkpoint(epoch=epoch, path=str(ckpt_path.resolve()),
                            best_path=str(best_file.resolve()) if is_best else None)
        # every rank must agree to stop at the same epoch
        (stop_flag,) = all_reduce_max([1.0 if stop.requested else 0.0])
        if stop_flag and epoch + 1 < end_epoch:
            log.warning("Stopping after epoch %d (%s); resume with --resume", epoch,
                        stop.reason() if stop.requested else "another process asked to stop")
            status = "stopped"
            break

    if status == "completed" and info.is_main:
        final = run_dir / "final_state.pth"
        atomic_save(_plain_state_dict(bare), final)
        state.final_path = str(final.resolve())
        log.info("=> saved final model state %s", final, extra={"no_event": True})
    if writer is not None:
        writer.close()
    barrier()
    return status


def _version() -> str:
    from hrnet import __version__

    return __version__


class _StepWindow:
    """Turns per-step callbacks into rate-limited ``step`` events (mean loss and speed since the
    last event)."""

    def __init__(self, reporter: ProgressReporter, eta: EtaEstimator, interval: float) -> None:
        self.reporter = reporter
        self.eta = eta
        self.interval = interval
        self.loss_sum = 0.0
        self.count = 0
        self.images = 0
        self.time = 0.0
        self.last_emit = -math.inf

    def __call__(self, s: Any) -> None:
        self.loss_sum += s.loss
        self.count += 1
        self.images += s.batch_size
        self.time += s.step_time
        now = time.monotonic()
        last = s.step == s.steps - 1
        if not (s.step == 0 or last or now - self.last_emit >= self.interval):
            return
        self.last_emit = now
        self.reporter.step(
            epoch=s.epoch, step=s.step, steps=s.steps, loss=self.loss_sum / max(1, self.count), lr=s.lr,
            images_per_s=self.images / self.time if self.time > 0 else 0.0,
            eta_s=self.eta.eta(s.step + 1), force=True,
        )
        self.loss_sum, self.count, self.images, self.time = 0.0, 0, 0, 0.0


def _tensorboard_writer(cfg: CfgNode, args: argparse.Namespace, run_dir: Path, explicit_output: bool) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: optional
        log.debug("TensorBoard not available (pip install tensorboard); not writing event files")
        return None
    tb_dir = tensorboard_directory(cfg, args.cfg, run_dir, explicit_output)
    tb_dir.mkdir(parents=True, exist_ok=True)
    log.info("TensorBoard logs: %s", tb_dir)
    return SummaryWriter(log_dir=str(tb_dir))


def _usage_error_events(argv: Sequence[str], code: int) -> None:
    """A bad command line in ``--progress jsonl`` mode still ends with error + end events."""
    argv = list(argv)
    jsonl = "--progress=jsonl" in argv or any(a == "--progress" and b == "jsonl" for a, b in zip(argv, argv[1:]))
    if jsonl and code != 0:
        reporter = JsonlReporter(sys.stdout)
        reporter.error("config", "invalid command line (see the usage message on stderr)")
        reporter.end(status="failed", epochs_done=0, best_metric=None, best_path=None, final_path=None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hrnet-train``; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    raw = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(parser, raw)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed on stderr
        code = e.code if isinstance(e.code, int) else EXIT_CONFIG
        _usage_error_events(raw, code)
        return code
    if args.local_rank is not None and "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    command = _command_line(argv)

    from hrnet.distributed import cleanup, env_info, init_distributed

    info = env_info()
    session = _open_session(args.progress, info, args.debug)
    reporter = session.reporter
    state = TrainingState()
    stop = StopRequest(args.stop_file)
    status, code = "failed", EXIT_FAILED
    try:
        with stop.installed():
            try:
                cfg = resolve_config(args)
                check_training_sizes(cfg)
                info, device = init_distributed(args.device)
                status = _train(args, cfg, info, device, session, stop, command, state)
                code = 0
            except KeyboardInterrupt:
                log.error("Aborted", extra={"no_event": True})
                reporter.error("other", "Training aborted by a second interrupt; the last checkpoint is kept")
                status, code = "failed", EXIT_ABORTED
            except Exception as e:  # noqa: BLE001 - reported as an event, a message and an exit code
                kind = error_kind(e)
                message = error_message(e)
                if kind == "oom" and "out of memory" not in message.lower():
                    message = f"Out of memory: {message}"
                status = "diverged" if kind == "nan" else "failed"
                code = {"nan": EXIT_DIVERGED, "config": EXIT_CONFIG}.get(kind, EXIT_FAILED)
                user_error = isinstance(e, HRNetError) or kind == "oom"
                if session.file_handler is not None:
                    # the full story goes to train.log only
                    record = logging.LogRecord("hrnet.train", logging.ERROR, __file__, 0, "%s",
                                               (traceback.format_exc(),), None)
                    session.file_handler.handle(record)
                if args.debug or (not user_error and session.file_handler is None):
                    print(traceback.format_exc(), file=sys.stderr, end="")
                elif not user_error:
                    message += " (details in train.log)"
                if info.is_main:
                    reporter.error(kind, message)
                    if isinstance(reporter, JsonlReporter):
                        print(f"hrnet-train: error: {message}", file=sys.stderr)
                else:
                    print(f"[rank {info.rank}] hrnet-train: error: {message}", file=sys.stderr)
                if kind == "nan" and state.last_epoch_done is not None:
                    log.warning("The last good checkpoint (epoch %d) is kept; resume it with a lower TRAIN.LR",
                                state.last_epoch_done, extra={"no_event": True})
            reporter.end(status=status, epochs_done=state.epochs_done,
                         best_metric=state.best_perf if state.best_path else None,
                         best_path=state.best_path, final_path=state.final_path)
    finally:
        session.close()
        cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
