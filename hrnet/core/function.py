"""The training and validation loops (official ``lib/core/function.py``: ``train`` / ``validate``).

Both functions take everything explicitly — model, loader, criterion, optimizer, device and a
few switches — as torchvision's ``references/classification/train.py`` does; neither reads a
config. The trainer (:mod:`hrnet.train`) and ``hrnet-test`` build the arguments from the config.

Beyond the official loops:

- any device (no ``.cuda()``), optional mixed precision (``torch.autocast`` + a ``GradScaler``,
  CUDA only) and channels_last inputs;
- a non-finite loss stops training with :class:`TrainingDiverged` *before* the optimizer step, so
  the weights in memory (and any checkpoint written later) stay finite;
- distributed: every rank trains on its shard (DDP averages the gradients), the reported loss is
  the mean over ranks; :func:`validate` runs each rank on its shard of the validation set and
  gathers the predictions in dataset order, so the metrics equal a single-process run;
- the per-step training PCK (a logging number only) is computed on logged steps, not on every
  step, to keep the loop lean.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hrnet.core.evaluate import accuracy, calc_dists, dist_acc
from hrnet.core.inference import get_final_preds, get_max_preds
from hrnet.distributed import all_gather_object, all_reduce_sum, broadcast_object, is_main_process
from hrnet.errors import HRNetError
from hrnet.utils.transforms import flip_back

__all__ = [
    "AverageMeter",
    "StepInfo",
    "TrainResult",
    "TrainingDiverged",
    "ValidationResult",
    "train_one_epoch",
    "validate",
]

logger = logging.getLogger(__name__)


class TrainingDiverged(HRNetError):
    """The training loss became NaN or infinite; the optimizer step was not taken."""

    def __init__(self, message: str, *, epoch: int, step: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


class AverageMeter:
    """Running value / sum / count / average (official ``AverageMeter``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.val = 0.0
        self.avg = 0.0
        self.sum = 0.0
        self.count = 0.0

    def update(self, val: float, n: float = 1) -> None:
        self.val = float(val)
        self.sum += float(val) * n
        self.count += n
        self.avg = self.sum / self.count if self.count != 0 else 0.0


@dataclass(frozen=True)
class StepInfo:
    """What ``on_step`` receives after every optimizer step."""

    epoch: int
    step: int  # 0-based index of the step in this epoch
    steps: int  # steps in this epoch (this rank's loader length)
    loss: float  # this step's loss (mean over ranks)
    batch_size: int  # images in this step over all ranks
    step_time: float  # seconds for this step (data loading included)
    data_time: float  # seconds spent waiting for the batch
    lr: float


@dataclass
class TrainResult:
    epoch: int
    loss: float  # mean training loss of the epoch (over ranks, weighted by images)
    steps: int
    images: int  # images seen by all ranks
    time_s: float
    skipped_steps: int = 0  # AMP steps skipped because of a non-finite loss


@dataclass
class ValidationResult:
    """Metrics of one validation pass (identical on every rank)."""

    metrics: OrderedDict[str, float]  # dataset metrics (AP, AP .5, ... or PCKh) then "PCK"
    perf_indicator: float  # the dataset's main metric (official), else the PCK accuracy
    loss: float | None
    accuracy: float  # official accuracy() PCK averaged over validation samples
    num_samples: int
    time_s: float
    preds: np.ndarray | None = None  # (N, K, 3) x, y, maxval in image pixels (rank 0 only)
    boxes: np.ndarray | None = None  # (N, 6) centre, scale, area, score (rank 0 only)
    image_paths: list[str] = field(default_factory=list)


def _to_device(x: Any, device: torch.device, channels_last: bool = False) -> Any:
    if not isinstance(x, torch.Tensor):
        return x
    non_blocking = device.type == "cuda"
    if channels_last and x.ndim == 4:
        return x.to(device, non_blocking=non_blocking, memory_format=torch.channels_last)
    return x.to(device, non_blocking=non_blocking)


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _heatmaps(outputs: Any) -> torch.Tensor:
    """The final heatmaps of a model that returns a tensor or a list of tensors (the last one)."""
    return outputs[-1] if isinstance(outputs, (list, tuple)) else outputs


def train_one_epoch(
    model: nn.Module,
    loader: Any,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    epoch: int,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool | None = None,
    channels_last: bool = False,
    print_freq: int = 20,
    on_step: Callable[[StepInfo], None] | None = None,
    max_skipped_steps: int = 5,
    before_step: Callable[[int], None] | None = None,
    freeze_bn: bool = False,
    lazy_loss: bool | None = None,
) -> TrainResult:
    """Train ``model`` for one pass over ``loader`` (official ``train``).

    ``loader`` yields ``(input, target, target_weight, meta)``. A model returning a list of
    heatmaps is supervised on every element (loss summed, as official). ``scaler`` (a CUDA
    ``GradScaler``) turns on mixed precision unless ``amp`` says otherwise; without it, AMP is
    off. ``on_step`` is called after every step with a :class:`StepInfo`; ``before_step(i)``
    just before the optimizer step (the LR warm-up sets the LR there). ``freeze_bn`` keeps the
    BatchNorm layers in eval mode: their running statistics stay those of the starting weights
    (small fine-tuning batches give noisy statistics), their affine parameters still learn.

    Host syncs: on CUDA the loss stays on the device and is read (``.item()``, all-reduced over
    ranks) only on print steps and at the end of the epoch; a non-finite loss is caught there, and
    the optimizer step of such a step is skipped on the device by the ``GradScaler`` (used for
    fp32 too, at scale 1). On the CPU, where reading a value costs nothing, every step is checked.
    ``lazy_loss`` forces one behaviour or the other (``None``: lazy on CUDA only).

    Raises :class:`TrainingDiverged` when the loss is NaN/inf (with AMP, after
    ``max_skipped_steps`` consecutive non-finite steps; single ones are skipped as the scaler
    would). The optimizer step is never taken with a non-finite loss.
    """
    device = torch.device(device)
    use_amp = (scaler is not None) if amp is None else bool(amp)
    use_amp = use_amp and device.type == "cuda"
    if use_amp and scaler is None:
        scaler = torch.amp.GradScaler("cuda")
    lazy = device.type == "cuda" if lazy_loss is None else bool(lazy_loss)  # no host sync per step (see above)
    if lazy and scaler is None:
        # fp32: a scale-1 GradScaler skips non-finite steps on the device
        scaler = torch.amp.GradScaler(device.type, init_scale=1.0, growth_interval=2**30)
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    try:
        steps = len(loader)
    except TypeError:
        steps = 0
    losses = AverageMeter()
    acc = AverageMeter()
    batch_time = AverageMeter()
    data_time = AverageMeter()
    images = 0
    skipped = 0
    consecutive_bad = 0
    pending_loss = torch.zeros((), device=device)  # lazy: sum of loss * n since the last read
    pending_n = 0
    pending_bad = torch.zeros((), device=device)
    t_epoch = time.perf_counter()
    end = t_epoch
    i = -1
    for i, (input_, target, target_weight, _meta) in enumerate(loader):
        data_time.update(time.perf_counter() - end)
        input_ = _to_device(input_, device, channels_last)
        target = _to_device(target, device)
        target_weight = _to_device(target_weight, device)

        with _autocast(device, use_amp):
            outputs = model(input_)
            if isinstance(outputs, (list, tuple)):
                loss = criterion(outputs[0], target, target_weight)
                for out in outputs[1:]:
                    loss = loss + criterion(out, target, target_weight)
            else:
                loss = criterion(outputs, target, target_weight)

        n = int(input_.shape[0])
        if lazy:
            detached = loss.detach().float()
            finite = torch.isfinite(detached)
            pending_loss += torch.where(finite, detached, torch.zeros_like(detached)) * n
            pending_bad += (~finite).float()
            pending_n += n
            optimizer.zero_grad(set_to_none=True)
            assert scaler is not None
            scaler.scale(loss).backward()
            if before_step is not None:
                before_step(i)
            scaler.step(optimizer)  # skipped on the device when a gradient is not finite
            scaler.update()
            loss_value = math.nan
            total_n = n
            if (print_freq > 0 and i % print_freq == 0) or i == steps - 1:
                total_loss, total_n, bad = all_reduce_sum([float(pending_loss), pending_n, float(pending_bad)])
                loss_value = total_loss / max(total_n, 1) if total_n else math.nan
                skipped += int(bad)
                if bad and (not use_amp or bad > max_skipped_steps):
                    raise TrainingDiverged(
                        f"Training diverged: the loss was not finite in {int(bad)} step(s) up to epoch {epoch + 1}, "
                        f"step {i + 1} (lr {optimizer.param_groups[0]['lr']:.3g}); try a lower TRAIN.LR",
                        epoch=epoch, step=i,
                    )
                pending_loss.zero_()
                pending_bad.zero_()
                pending_n = 0
                losses.update(loss_value, total_n)
            images += n
            batch_time.update(time.perf_counter() - end)
            lr = float(optimizer.param_groups[0]["lr"])
            if print_freq > 0 and i % print_freq == 0:
                _log_step(outputs, target, acc, losses, batch_time, data_time, epoch, i, steps, total_n)
            if on_step is not None:
                on_step(StepInfo(epoch=epoch, step=i, steps=steps, loss=loss_value, batch_size=n,
                                 step_time=batch_time.val, data_time=data_time.val, lr=lr))
            end = time.perf_counter()
            continue

        # CPU / MPS: the loss of every step (averaged over ranks) for logging and the divergence
        # check, agreed on by every rank so that they stop together.
        local = loss.detach().float().item()
        total_loss, total_n, bad = all_reduce_sum([local * n if math.isfinite(local) else 0.0, n,
                                                   0.0 if math.isfinite(local) else 1.0])
        loss_value = total_loss / max(total_n, 1) if bad == 0 else float("nan")
        if bad:
            optimizer.zero_grad(set_to_none=True)
            consecutive_bad += 1
            skipped += 1
            if not use_amp or consecutive_bad > max_skipped_steps:
                raise TrainingDiverged(
                    f"Training diverged: the loss became {local if not math.isfinite(local) else 'non-finite'} "
                    f"at epoch {epoch + 1}, step {i + 1} (lr {optimizer.param_groups[0]['lr']:.3g}); "
                    "try a lower TRAIN.LR",
                    epoch=epoch, step=i,
                )
            logger.warning("Skipping step %d of epoch %d: non-finite loss under AMP", i + 1, epoch + 1)
            end = time.perf_counter()
            continue
        consecutive_bad = 0

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step(i)
        optimizer.step()

        losses.update(loss_value, total_n)
        images += int(total_n)
        batch_time.update(time.perf_counter() - end)
        lr = float(optimizer.param_groups[0]["lr"])

        if print_freq > 0 and i % print_freq == 0:
            _log_step(outputs, target, acc, losses, batch_time, data_time, epoch, i, steps, total_n)
        if on_step is not None:
            on_step(StepInfo(epoch=epoch, step=i, steps=steps, loss=loss_value, batch_size=int(total_n),
                             step_time=batch_time.val, data_time=data_time.val, lr=lr))
        end = time.perf_counter()

    return TrainResult(epoch=epoch, loss=losses.avg, steps=i + 1, images=images,
                       time_s=time.perf_counter() - t_epoch, skipped_steps=skipped)


def _log_step(outputs: Any, target: torch.Tensor, acc: AverageMeter, losses: AverageMeter, batch_time: AverageMeter,
              data_time: AverageMeter, epoch: int, i: int, steps: int, total_n: float) -> None:
    """The official per-print-step line (with the training PCK, computed on these steps only)."""
    output = _heatmaps(outputs).detach().float().cpu().numpy()
    _, avg_acc, cnt, _ = accuracy(output, target.detach().float().cpu().numpy())
    acc.update(avg_acc, cnt)
    if is_main_process():
        logger.info(
            "Epoch: [%d][%d/%d]\tTime %.3fs (%.3fs)\tSpeed %.1f samples/s\tData %.3fs (%.3fs)\t"
            "Loss %.5f (%.5f)\tAccuracy %.3f (%.3f)",
            epoch + 1, i + 1, steps, batch_time.val, batch_time.avg, total_n / max(batch_time.val, 1e-9),
            data_time.val, data_time.avg, losses.val, losses.avg, acc.val, acc.avg,
        )


def _name_value_table(name_value: Mapping[str, float], arch: str) -> str:
    """Markdown table of metrics, as the official ``_print_name_value``."""
    names = list(name_value.keys())
    values = list(name_value.values())
    arch = arch[:8] + "..." if len(arch) > 15 else arch
    return "\n".join([
        "| Arch " + " ".join(f"| {n}" for n in names) + " |",
        "|---" * (len(names) + 1) + "|",
        "| " + arch + " " + " ".join(f"| {float(v):.3f}" for v in values) + " |",
    ])


def validate(
    model: nn.Module,
    loader: Any,
    dataset: Any,
    device: torch.device | str,
    *,
    flip_test: bool,
    shift_heatmap: bool = True,
    flip_pairs: Sequence[Sequence[int]] | None = None,
    criterion: nn.Module | None = None,
    post_process: bool = True,
    decode: str = "default",
    sigma: float = 2.0,
    output_dir: str | None = None,
    evaluate: bool = True,
    amp: bool = False,
    channels_last: bool = False,
    print_freq: int = 0,
    arch_name: str = "pose_hrnet",
    indices: Sequence[int] | None = None,
) -> ValidationResult:
    """Evaluate ``model`` on ``loader`` (official ``validate``).

    Per batch: the heatmaps (with ``flip_test``, averaged with those of the mirrored input
    mapped back by :func:`~hrnet.utils.transforms.flip_back`, shifted one pixel right when
    ``shift_heatmap``), the loss (when ``criterion`` is given), the official PCK ``accuracy`` and
    the decoded keypoints (:func:`~hrnet.core.inference.get_final_preds` with ``post_process``
    and ``decode``/``sigma``). Then, on rank 0, ``dataset.evaluate(preds, output_dir, boxes,
    image_paths)`` (COCO AP with OKS rescoring and NMS / MPII PCKh), when ``evaluate`` and the
    dataset supports it.

    Distributed: ``loader`` must give every rank a disjoint part of the dataset
    (:class:`~hrnet.distributed.ShardSampler`); ``indices`` are the dataset indices this rank
    sees in loader order (taken from the loader's sampler when not given). Predictions are
    gathered in dataset order; the returned metrics are the same on every rank.
    """
    device = torch.device(device)
    t0 = time.perf_counter()
    if flip_test and flip_pairs is None:
        flip_pairs = getattr(dataset, "flip_pairs", [])
    model.eval()
    num_joints: int | None = None
    preds_parts: list[np.ndarray] = []
    boxes_parts: list[np.ndarray] = []
    paths: list[str] = []
    dists_parts: list[np.ndarray] = []
    loss_sum = 0.0
    seen = 0
    with torch.inference_mode():
        for i, (input_, target, target_weight, meta) in enumerate(loader):
            input_ = _to_device(input_, device, channels_last)
            with _autocast(device, amp):
                output = _heatmaps(model(input_))
                if flip_test:
                    output_flipped = _heatmaps(model(input_.flip(3)))
            output = output.float()
            if flip_test:
                output_flipped = flip_back(output_flipped.float(), flip_pairs or [])
                if shift_heatmap:
                    # the flipped features are not aligned: shift the heatmaps one pixel right
                    shifted = output_flipped.clone()
                    shifted[:, :, :, 1:] = output_flipped[:, :, :, :-1]
                    output_flipped = shifted
                output = (output + output_flipped) * 0.5
            num_images = int(input_.shape[0])
            target = _to_device(target, device).float()
            target_weight = _to_device(target_weight, device).float()
            if criterion is not None:
                loss_sum += float(criterion(output, target, target_weight).item()) * num_images
            heatmaps = output.cpu().numpy()
            dists = _sample_dists(heatmaps, target.cpu().numpy())  # (n, K), -1 = no target
            dists_parts.append(dists)
            c = _np(meta["center"])
            s = _np(meta["scale"])
            score = _np(meta["score"]) if "score" in meta else np.ones(num_images)
            preds, maxvals = get_final_preds(heatmaps, c, s, post_process=post_process, decode=decode, sigma=sigma)
            num_joints = preds.shape[1]
            part = np.zeros((num_images, num_joints, 3), dtype=np.float32)
            part[:, :, 0:2] = preds[:, :, 0:2]
            part[:, :, 2:3] = maxvals
            box = np.zeros((num_images, 6), dtype=np.float64)
            box[:, 0:2] = c[:, 0:2]
            box[:, 2:4] = s[:, 0:2]
            box[:, 4] = np.prod(s * 200, 1)
            box[:, 5] = score
            preds_parts.append(part)
            boxes_parts.append(box)
            paths.extend(str(p) for p in meta["image"])
            seen += num_images
            if print_freq > 0 and i % print_freq == 0 and is_main_process():
                logger.info("Test: [%d/%d]\tAccuracy %.3f", i + 1, len(loader), _pck(dists.T)[0])

    if indices is None:
        sampler = getattr(loader, "sampler", None)
        indices = list(iter(sampler)) if sampler is not None else list(range(seen))
    indices = list(indices)[:seen]
    k = num_joints or 0
    local = (
        indices,
        np.concatenate(preds_parts) if preds_parts else np.zeros((0, k, 3), np.float32),
        np.concatenate(boxes_parts) if boxes_parts else np.zeros((0, 6)),
        paths,
        np.concatenate(dists_parts) if dists_parts else np.zeros((0, k)),
    )
    loss_total, n_total = all_reduce_sum([loss_sum, seen])
    batch_size = int(getattr(loader, "batch_size", None) or 1)
    gathered = all_gather_object(local)

    result: ValidationResult | None = None
    failure: BaseException | None = None
    if is_main_process():
        try:
            result = _evaluate_gathered(gathered, k, dataset, output_dir, evaluate, arch_name,
                                        loss_total if criterion is not None else None, batch_size, n_total, t0)
        except Exception as e:  # noqa: BLE001 - re-raised below, after telling the other ranks
            failure = e
    shared = broadcast_object(
        ("error", f"{type(failure).__name__}: {failure}") if failure is not None
        else None if result is None else ("ok", result.metrics, result.perf_indicator, result.loss, result.accuracy)
    )
    if failure is not None:
        raise failure
    if shared is not None and shared[0] == "error":
        raise RuntimeError(f"Evaluation failed on rank 0: {shared[1]}")
    if result is None:
        _, metrics, perf, loss, pck = shared
        result = ValidationResult(metrics=metrics, perf_indicator=perf, loss=loss, accuracy=pck,
                                  num_samples=int(n_total), time_s=time.perf_counter() - t0)
    return result


def _sample_dists(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-sample normalised distances (N, K) between the arg-max of the predicted and target
    heatmaps, -1 where there is no target: the quantities of the official ``accuracy()``."""
    pred, _ = get_max_preds(output)
    target_xy, _ = get_max_preds(target)
    h, w = output.shape[2], output.shape[3]
    norm = np.ones((pred.shape[0], 2)) * np.array([h, w]) / 10
    return calc_dists(pred, target_xy, norm).T


def _pck(dists: np.ndarray, thr: float = 0.5) -> tuple[float, int]:
    """Official ``accuracy()`` average from distances (K, N): mean over joints with a target, count."""
    total, cnt = 0.0, 0
    for row in dists:
        a = dist_acc(row, thr)
        if a >= 0:
            total += a
            cnt += 1
    return (total / cnt if cnt else 0.0), cnt


def _batched_pck(dists: np.ndarray, batch_size: int) -> float:
    """The official validation accuracy: ``accuracy()`` per batch of ``batch_size`` samples in dataset
    order, averaged with the batches' joint counts as weights (``AverageMeter.update(avg, cnt)``).
    Computed from the gathered distances, so it does not depend on how ranks split the data."""
    total, count = 0.0, 0
    for start in range(0, len(dists), max(1, batch_size)):
        avg, cnt = _pck(dists[start:start + batch_size].T)
        total += avg * cnt
        count += cnt
    return total / count if count else 0.0


def _evaluate_gathered(
    gathered: list[tuple[list[int], np.ndarray, np.ndarray, list[str], np.ndarray]],
    k: int,
    dataset: Any,
    output_dir: str | None,
    evaluate: bool,
    arch_name: str,
    loss_total: float | None,
    batch_size: int,
    n_total: float,
    t0: float,
) -> ValidationResult:
    """Rank 0: put every rank's predictions in dataset order and compute the dataset metrics."""
    all_idx = [i for part in gathered for i in part[0]]
    order = np.argsort(np.asarray(all_idx, dtype=np.int64), kind="stable")
    k = max((p[1].shape[1] for p in gathered if p[1].size), default=k)
    all_preds = np.concatenate([p[1].reshape(-1, k, 3) for p in gathered])[order]
    all_boxes = np.concatenate([p[2].reshape(-1, 6) for p in gathered])[order]
    paths = [x for p in gathered for x in p[3]]
    all_paths = [paths[j] for j in order]
    all_dists = np.concatenate([p[4].reshape(-1, k) for p in gathered])[order]
    pck = _batched_pck(all_dists, batch_size)
    metrics: OrderedDict[str, float] = OrderedDict()
    perf = pck
    if evaluate and hasattr(dataset, "evaluate") and len(all_preds):
        try:
            name_values, perf_indicator = dataset.evaluate(all_preds, output_dir, all_boxes, all_paths)
        except NotImplementedError:
            name_values, perf_indicator = None, None
        if name_values is not None and "Null" not in name_values:
            blocks = name_values if isinstance(name_values, list) else [name_values]
            for block in blocks:
                logger.info("\n%s", _name_value_table(block, arch_name))
                metrics.update((str(n), float(v)) for n, v in block.items())
            perf = float(perf_indicator)
    metrics["PCK"] = float(pck)
    return ValidationResult(
        metrics=metrics, perf_indicator=float(perf),
        loss=loss_total / n_total if loss_total is not None and n_total else None,
        accuracy=float(pck), num_samples=int(n_total), time_s=time.perf_counter() - t0,
        preds=all_preds, boxes=all_boxes, image_paths=all_paths,
    )


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
