"""One evaluation for every caller: ``hrnet-train`` validation, ``hrnet-test`` and the app's
before/after comparison all run :func:`validate_with_config` (directly or through
:func:`evaluate_model`), so they compute the same numbers with the same names.

The numbers are those of the official validation (:func:`hrnet.core.function.validate`): flip
test, heatmap shift and decoding as the config says, then the dataset's own evaluation — for
COCO-like data (``coco``, ``coco_json``, the app's export) pycocotools' keypoint AP with the
dataset's OKS sigmas (COCO's for COCO joints, the category's ``sigmas`` when it has them, see
:mod:`hrnet.dataset.coco_json`), OKS rescoring and NMS; for MPII, PCKh — and the official
heatmap ``PCK``. Metric names are the dataset's: ``"AP"``, ``"AP .5"``, ``"AP .75"``,
``"AP (M)"``, ``"AP (L)"``, ``"AR"``, ..., then ``"PCK"`` (see :data:`SUMMARY_METRICS`).

Precision: evaluation runs in fp32, also when ``TRAIN.AMP`` is on; ``TEST.AMP True`` asks for
fp16 autocast (CUDA only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.errors import CheckpointError, HRNetError

__all__ = [
    "SUMMARY_METRICS",
    "DecodeOptions",
    "EvaluationCancelled",
    "EvaluationResult",
    "evaluate_model",
    "evaluation_amp",
    "main_metric",
    "validate_with_config",
]

log = logging.getLogger(__name__)

# The metrics a short summary shows (training log, the app's comparison), named as the evaluation names them.
SUMMARY_METRICS: tuple[str, ...] = ("AP", "AP .5", "AP .75", "AR", "PCK")


class EvaluationCancelled(HRNetError):
    """``should_stop`` asked :func:`evaluate_model` to stop."""


@dataclass(frozen=True)
class DecodeOptions:
    """How validation turns heatmaps into keypoints (the ``TEST`` keys), read from a config once."""

    flip_test: bool = True
    shift_heatmap: bool = True
    post_process: bool = True
    decode: str = "default"
    sigma: float = 2.0

    @classmethod
    def from_config(cls, cfg: CfgNode) -> DecodeOptions:
        return cls(flip_test=bool(cfg.TEST.FLIP_TEST), shift_heatmap=bool(cfg.TEST.SHIFT_HEATMAP),
                   post_process=bool(cfg.TEST.POST_PROCESS), decode=str(cfg.TEST.DECODE),
                   sigma=float(cfg.MODEL.SIGMA))

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hrnet.core.function.validate`."""
        return {"flip_test": self.flip_test, "shift_heatmap": self.shift_heatmap, "post_process": self.post_process,
                "decode": self.decode, "sigma": self.sigma}


def evaluation_amp(cfg: CfgNode, device: torch.device) -> bool:
    """fp16 evaluation only when ``TEST.AMP`` asks for it, on CUDA (never because of ``TRAIN.AMP``)."""
    return bool(cfg.TEST.AMP) and torch.device(device).type == "cuda"


def main_metric(metrics: dict[str, float]) -> str:
    """The name of the metric that ranks models: ``AP`` when present, else the first one (PCKh's
    ``Mean`` comes before ``PCK``)."""
    if "AP" in metrics:
        return "AP"
    if "Mean" in metrics:
        return "Mean"
    return next(iter(metrics), "PCK")


def validate_with_config(
    cfg: CfgNode,
    model: nn.Module,
    loader: Any,
    dataset: Any,
    device: torch.device,
    *,
    criterion: nn.Module | None = None,
    output_dir: str | None = None,
    channels_last: bool = False,
    print_freq: int = 0,
    indices: Sequence[int] | None = None,
) -> Any:
    """:func:`hrnet.core.function.validate` with every option taken from ``cfg`` (the one place
    that does it). Returns its :class:`~hrnet.core.function.ValidationResult`."""
    from hrnet.core.function import validate

    return validate(
        model, loader, dataset, device, flip_pairs=getattr(dataset, "flip_pairs", []), criterion=criterion,
        output_dir=output_dir, amp=evaluation_amp(cfg, device), channels_last=channels_last,
        print_freq=print_freq, arch_name=cfg.MODEL.NAME, indices=indices, **DecodeOptions.from_config(cfg).kwargs(),
    )


@dataclass
class EvaluationResult:
    """Metrics of one model on one validation set (names as :data:`SUMMARY_METRICS`)."""

    metrics: dict[str, float] = field(default_factory=dict)
    num_images: int = 0
    num_people: int = 0  # evaluated person instances (samples)
    metric_name: str = "AP"

    @property
    def metric(self) -> float | None:
        return self.metrics.get(self.metric_name)


class _Progress:
    """Wraps a loader: reports batches done and honours ``should_stop`` between batches."""

    def __init__(self, loader: Any, progress: Callable[[int, int], None] | None,
                 should_stop: Callable[[], bool] | None) -> None:
        self.loader = loader
        self.progress = progress
        self.should_stop = should_stop
        self.batch_size = loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        total = len(self.loader)
        for i, batch in enumerate(self.loader):
            if self.should_stop is not None and self.should_stop():
                raise EvaluationCancelled("evaluation cancelled")
            yield batch
            if self.progress is not None:
                self.progress(i + 1, total)


def evaluate_model(
    experiment: str | CfgNode,
    weights: str | Path | None,
    *,
    opts: Sequence[str] | Sequence[tuple[str, str]] = (),
    device: str = "auto",
    output_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationResult:
    """Evaluate ``experiment`` (+ ``KEY VALUE`` ``opts``, flat or as pairs) with ``weights`` on its
    validation set, exactly as ``hrnet-train`` validates and ``hrnet-test`` tests.

    ``weights`` is any checkpoint :func:`hrnet.load_checkpoint` reads (``None``: the config's
    ``TEST.MODEL_FILE``). ``progress(done, total)`` is called per batch; ``should_stop()`` is
    checked between batches (:class:`EvaluationCancelled`). Raises the library's typed errors
    (config, dataset, checkpoint).
    """
    from hrnet.config import load_config
    from hrnet.distributed import resolve_device
    from hrnet.engine.builders import build_datasets, build_loader
    from hrnet.models import build_model, load_checkpoint

    flat: list[str] = []
    for item in opts:
        if isinstance(item, (tuple, list)):
            flat += [str(item[0]), str(item[1])]
        else:
            flat.append(str(item))
    cfg = load_config(experiment, flat)
    dev = resolve_device(device)
    path = Path(weights) if weights else (Path(cfg.TEST.MODEL_FILE) if cfg.TEST.MODEL_FILE else None)
    if path is None:
        raise CheckpointError("No weights to evaluate (pass weights or set TEST.MODEL_FILE)")
    model = build_model(cfg, is_train=False)
    load_checkpoint(model, path)
    model.to(dev).eval()
    _, dataset = build_datasets(cfg, train=False)
    loader = build_loader(dataset, batch_size=cfg.TEST.BATCH_SIZE_PER_GPU, workers=0, shuffle=False, device=dev,
                          pin_memory=False)
    result = validate_with_config(cfg, model, _Progress(loader, progress, should_stop), dataset, dev,
                                  output_dir=str(output_dir) if output_dir else None,
                                  indices=list(range(len(dataset))))
    metrics = {str(k): float(v) for k, v in result.metrics.items()}
    images = {str(p) for p in result.image_paths}
    return EvaluationResult(metrics=metrics, num_images=len(images), num_people=int(result.num_samples),
                            metric_name=main_metric(metrics))
