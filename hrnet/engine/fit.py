"""The training run proper (:func:`fit`): data, model, optimizer, the epoch loop with validation,
checkpoints and ``model_best.pth``; graceful stop requests (:class:`StopRequest`)."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.core.progress import EtaEstimator, ProgressReporter
from hrnet.distributed import DistInfo
from hrnet.engine.builders import (
    _all_finite,
    _plain_state_dict,
    atomic_save,
    atomic_write_text,
    build_criterion,
    build_datasets,
    build_loader,
    build_optimizer,
    build_scheduler,
    configure_cudnn,
    seed_everything,
    step_scheduler,
)
from hrnet.engine.checkpoints import checkpoint_path_for_resume, load_training_checkpoint, restore_scheduler
from hrnet.engine.common import run_directory, tensorboard_directory
from hrnet.engine.evaluation import main_metric, validate_with_config

__all__ = ["StopRequest", "TrainingState", "fit"]

log = logging.getLogger(__name__)

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
    base_perf: float | None = None  # the starting weights' main metric (TRAIN.VALIDATE_BASE)
    best_epoch: int | None = None  # 0-based epoch held by model_best.pth (None: the base, or none yet)
    best_is_base: bool = False  # model_best.pth holds the validated starting weights
    epochs_since_best: int = 0

    def end_fields(self) -> dict[str, Any]:
        """The ``end`` event's fields about model_best.pth."""
        return {"best_metric": self.best_perf if self.best_path else None, "best_path": self.best_path,
                "metric_name": self.best_metric_name, "best_epoch": self.best_epoch,
                "best_is_base": bool(self.best_is_base and self.best_path), "base_metric": self.base_perf}


def _best_entry(sd: dict[str, torch.Tensor], kset_entry: dict[str, Any] | None, epoch: int, perf: float | None,
                cfg: CfgNode) -> dict[str, Any]:
    """model_best.pth: the weights and the keypoint set they predict (epoch 0 = the starting weights)."""
    return {"state_dict": sd, "keypoint_set": kset_entry, "epoch": epoch, "perf": perf, "model": cfg.MODEL.NAME}


def fit(args: argparse.Namespace, cfg: CfgNode, info: DistInfo, device: torch.device, session: Any,
        stop: StopRequest, command: str, state: TrainingState) -> str:
    """The training run proper; returns the end status (completed or stopped)."""
    from hrnet.core.function import TrainingDiverged, train_one_epoch
    from hrnet.distributed import ShardSampler, all_reduce_max, barrier, unwrap
    from hrnet.models import build_model
    from hrnet.models.checkpoint_sets import load_for_keypoint_set

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

    repeats = max(1, int(cfg.TRAIN.EPOCH_REPEATS))
    epoch_ds = torch.utils.data.ConcatDataset([train_ds] * repeats) if repeats > 1 else train_ds
    train_sampler = (DistributedSampler(epoch_ds, num_replicas=info.world_size, rank=info.rank,
                                        shuffle=bool(cfg.TRAIN.SHUFFLE), seed=max(0, int(cfg.TRAIN.SEED)))
                     if info.distributed else None)
    train_loader = build_loader(epoch_ds, batch_size=cfg.TRAIN.BATCH_SIZE_PER_GPU, workers=cfg.WORKERS,
                                shuffle=bool(cfg.TRAIN.SHUFFLE), device=device, pin_memory=cfg.PIN_MEMORY,
                                sampler=train_sampler,
                                seed=int(cfg.TRAIN.SEED) + info.rank if cfg.TRAIN.SEED >= 0 else None)
    val_sampler = ShardSampler(len(val_ds), info.rank, info.world_size)
    val_loader = build_loader(val_ds, batch_size=cfg.TEST.BATCH_SIZE_PER_GPU, workers=cfg.WORKERS, shuffle=False,
                              device=device, pin_memory=cfg.PIN_MEMORY, sampler=val_sampler)

    # model, loss, optimizer
    resume_path = checkpoint_path_for_resume(args, cfg, run_dir)
    weights = args.weights
    if resume_path is not None and weights:
        log.warning("--weights is ignored when resuming (the checkpoint holds the weights)")
        weights = None
    model = build_model(cfg, is_train=not (weights or resume_path))
    keypoint_set = getattr(train_ds, "keypoint_set", None)
    kset_entry = keypoint_set.to_dict() if keypoint_set is not None else None
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
        ckpt = load_training_checkpoint(resume_path, model, optimizer, scaler)
        begin_epoch = int(ckpt["epoch"])
        state.best_perf = float(ckpt.get("best_perf", ckpt.get("perf", 0.0)))
        state.best_metric_name = str(ckpt.get("best_metric_name", ""))
        base = ckpt.get("base_perf")
        state.base_perf = float(base) if base is not None else None
        best_epoch = ckpt.get("best_epoch")
        state.best_epoch = int(best_epoch) if best_epoch is not None else None
        state.best_is_base = bool(ckpt.get("best_is_base", False))
        state.epochs_since_best = int(ckpt.get("epochs_since_best", 0))
        scheduler = restore_scheduler(cfg, optimizer, ckpt, begin_epoch)
        state.resumed_from = str(resume_path)
        if (run_dir / "model_best.pth").is_file():
            state.best_path = str((run_dir / "model_best.pth").resolve())
        log.info("Resumed from %s: next epoch %d, best metric so far %.4f", resume_path, begin_epoch + 1,
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

    def run_validation() -> Any:
        return validate_with_config(cfg, bare, val_loader, val_ds, device, criterion=criterion,
                                    output_dir=str(run_dir), channels_last=channels_last)

    if bool(cfg.TRAIN.VALIDATE_BASE) and resume_path is None:
        # "after 0 epochs": the starting weights compete for model_best.pth like every epoch
        t_base = time.perf_counter()
        val = run_validation()
        state.base_perf = state.best_perf = float(val.perf_indicator)
        state.best_metric_name = main_metric(val.metrics)
        state.best_is_base, state.best_epoch = True, None
        if info.is_main:
            atomic_save(_best_entry(_plain_state_dict(bare), kset_entry, 0, state.base_perf, cfg), best_file)
            state.best_path = str(best_file.resolve())
        barrier()
        log.info("Starting weights: %s %.4f (saved as model_best.pth until an epoch beats them)",
                 state.best_metric_name, state.base_perf)
        reporter.base_validation(metrics=val.metrics, val_loss=val.loss, metric_name=state.best_metric_name,
                                 metric=state.base_perf, time_s=time.perf_counter() - t_base)
    strictly_better = state.base_perf is not None  # the base is kept on ties
    patience = int(cfg.TRAIN.EARLY_STOP_PATIENCE)
    warmup = WarmUp(optimizer, int(cfg.TRAIN.WARMUP_STEPS), float(cfg.TRAIN.WARMUP_FACTOR),
                    done=begin_epoch * steps_per_epoch)
    global_step = 0
    for epoch in range(begin_epoch, end_epoch):
        step_scheduler(scheduler)
        warmup.epoch_started()
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
            before_step=warmup.before_step if warmup.steps else None, freeze_bn=bool(cfg.TRAIN.FREEZE_BN),
        )
        warmup.epoch_finished()
        val = run_validation()
        if not _all_finite(bare):
            raise TrainingDiverged(f"Training diverged: the weights became NaN/inf in epoch {epoch + 1}; "
                                   "try a lower TRAIN.LR", epoch=epoch, step=train_res.steps)
        perf = float(val.perf_indicator)
        if state.best_is_base:  # small validation sets are noisy: the base yields only to a clear gain
            is_best = perf > state.best_perf + float(cfg.TRAIN.BASE_MIN_DELTA)
        else:
            is_best = perf > state.best_perf if strictly_better else perf >= state.best_perf
        if is_best:
            state.best_perf = perf
            state.best_metric_name = main_metric(val.metrics)
            state.best_epoch, state.best_is_base = epoch, False
            state.epochs_since_best = 0
        else:
            state.epochs_since_best += 1

        if info.is_main:
            sd = _plain_state_dict(bare)
            if is_best:  # the weights + what they predict (load_checkpoint reads both)
                atomic_save(_best_entry(sd, kset_entry, epoch + 1, perf, cfg), best_file)
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
                "base_perf": state.base_perf,
                "best_epoch": state.best_epoch,
                "best_is_base": state.best_is_base,
                "epochs_since_best": state.epochs_since_best,
                "metrics": dict(val.metrics),
                "config": cfg.dump(),
                "hrnet_version": _version(),
                "keypoint_set": kset_entry,
            }, ckpt_path)
            log.info("=> saved checkpoint %s (epoch %d%s)", ckpt_path, epoch + 1, ", new best" if is_best else "",
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
            log.warning("Stopping after epoch %d (%s); resume with --resume", epoch + 1,
                        stop.reason() if stop.requested else "another process asked to stop")
            status = "stopped"
            break
        if patience > 0 and state.epochs_since_best >= patience and epoch + 1 < end_epoch:
            log.info("Early stop after epoch %d: no new best in %d epoch(s) (TRAIN.EARLY_STOP_PATIENCE %d)",
                     epoch + 1, state.epochs_since_best, patience)
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
        self.last_loss = math.nan
        self.images = 0
        self.time = 0.0
        self.last_emit = -math.inf

    def __call__(self, s: Any) -> None:
        if math.isfinite(s.loss):  # on CUDA the loss is read on print steps only (NaN between)
            self.loss_sum += s.loss
            self.count += 1
            self.last_loss = s.loss
        self.images += s.batch_size
        self.time += s.step_time
        now = time.monotonic()
        last = s.step == s.steps - 1
        if not (s.step == 0 or last or now - self.last_emit >= self.interval):
            return
        self.last_emit = now
        self.reporter.step(
            epoch=s.epoch, step=s.step, steps=s.steps,
            loss=self.loss_sum / self.count if self.count else self.last_loss, lr=s.lr,
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




class WarmUp:
    """Linear learning-rate warm-up over the first ``steps`` optimizer steps of the run, from
    ``factor`` x the scheduled LR to the scheduled LR, on top of the epoch schedule (which
    :meth:`epoch_finished` restores, so the scheduler never sees a warmed-up LR)."""

    def __init__(self, optimizer: torch.optim.Optimizer, steps: int, factor: float, done: int = 0) -> None:
        self.optimizer = optimizer
        self.steps = max(0, int(steps))
        self.factor = float(factor)
        self.done = int(done)
        self._scheduled: list[float] = []

    def epoch_started(self) -> None:
        self._scheduled = [float(g["lr"]) for g in self.optimizer.param_groups]

    def before_step(self, step: int) -> None:
        if self.done < self.steps:
            scale = self.factor + (1.0 - self.factor) * self.done / self.steps
            for group, lr in zip(self.optimizer.param_groups, self._scheduled):
                group["lr"] = lr * scale
        elif self.done == self.steps:
            self.epoch_finished()
        self.done += 1

    def epoch_finished(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self._scheduled):
            group["lr"] = lr
