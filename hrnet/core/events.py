"""The ``hrnet-train --progress jsonl`` protocol, defined once: one JSON object per stdout line.

Every line is ``{"event": NAME, **fields}`` with strict JSON (non-finite floats written as
``null``). The writer (:class:`hrnet.core.progress.JsonlReporter`) builds the dataclasses below
and serialises them with :func:`to_wire`; readers (the app's training dialog) call
:func:`parse_event`, which turns one decoded object back into the same dataclass.

Events, in the order a run sends them (epochs are 0-based training epochs; "after N epochs" is
``epoch + 1``):

- ``start`` (:class:`RunStarted`): run_dir, begin_epoch, end_epoch, steps_per_epoch,
  train_samples, val_samples, device, command.
- ``base_validation`` (:class:`BaseValidated`, only with ``TRAIN.VALIDATE_BASE``, which
  ``--finetune`` sets): the starting weights validated before any update ("after 0 epochs"):
  metrics, val_loss, metric_name (the main metric, e.g. ``"AP"``), metric (its value), time_s.
- ``step`` (:class:`StepProgress`): epoch, step (0-based), steps, loss (mean since the previous
  step event), lr, images_per_s, eta_s (whole run). Rate-limited.
- ``epoch_end`` (:class:`EpochEnded`): epoch, train_loss, val_loss, metrics (names as the
  evaluation reports them: ``"AP"``, ``"AP .5"``, ``"AP .75"``, ..., ``"AR"``, ``"PCK"``),
  best_metric (best so far, the base included), is_best (``model_best.pth`` was written), time_s.
- ``checkpoint`` (:class:`CheckpointWritten`): epoch, path, best_path (when model_best.pth was
  written this epoch).
- ``log`` (:class:`LogMessage`): level (info, warning), message.
- ``error`` (:class:`TrainError`): kind (config, data, checkpoint, oom, nan, other), message.
- ``end`` (:class:`RunFinished`): status (completed, stopped, diverged, failed), epochs_done,
  best_metric (value of the main metric for ``model_best.pth``), best_path, final_path, and
  ``metric_name``, ``best_epoch`` (0-based epoch whose weights ``model_best.pth`` holds; ``null``
  when it holds the base weights or none was written), ``best_is_base`` (true when no epoch beat
  the validated base: ``model_best.pth`` holds the starting weights unchanged), ``base_metric``
  (the base's main metric, ``null`` without base validation).

:func:`parse_event` is tolerant on purpose: a missing or mistyped field gets a neutral default
instead of raising, and an unknown ``"event"`` returns ``None`` (the caller shows the line in the
log), so a newer ``hrnet-train`` never breaks an older reader.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENT_NAMES",
    "BaseValidated",
    "CheckpointWritten",
    "EpochEnded",
    "Event",
    "LogMessage",
    "RunFinished",
    "RunStarted",
    "StepProgress",
    "TrainError",
    "parse_event",
    "ProgressEvent",
    "parse_progress_event",
    "to_wire",
]

def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float | None = None) -> float | None:
    if value is None or isinstance(value, bool):
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    begin_epoch: int
    end_epoch: int
    steps_per_epoch: int
    train_samples: int
    val_samples: int
    device: str
    command: str


@dataclass(frozen=True)
class BaseValidated:
    """The starting weights, validated before any update (``TRAIN.VALIDATE_BASE``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    val_loss: float | None = None
    metric_name: str = ""
    metric: float | None = None
    time_s: float = 0.0


@dataclass(frozen=True)
class StepProgress:
    epoch: int
    step: int
    steps: int
    loss: float
    lr: float
    images_per_s: float
    eta_s: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    train_loss: float | None
    val_loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    best_metric: float | None = None
    is_best: bool = False
    time_s: float = 0.0


@dataclass(frozen=True)
class CheckpointWritten:
    epoch: int
    path: str
    best_path: str | None


@dataclass(frozen=True)
class LogMessage:
    level: str  # "info" | "warning" from hrnet-train; "stderr" | "stdout" for raw output lines
    message: str


@dataclass(frozen=True)
class TrainError:
    """An error of the training run.

    ``kind`` is one of hrnet-train's kinds (config, data, checkpoint, oom, nan, other) or one the
    app adds: ``start`` (the process could not be started), ``crash`` (it ended without an
    ``end`` event: non-JSON crash output, a signal, a non-zero exit code).
    """

    kind: str
    message: str

    @property
    def title(self) -> str:
        return {
            "config": "Invalid training configuration",
            "data": "Problem with the training data",
            "checkpoint": "Problem with a checkpoint",
            "oom": "Out of memory",
            "nan": "Training diverged (loss is NaN)",
            "start": "Training could not be started",
            "crash": "Training process crashed",
        }.get(self.kind, "Training failed")

    @property
    def hint(self) -> str:
        return {
            "oom": "Lower the batch size or the input size, or train on the CPU.",
            "nan": "Lower the learning rate, or check the annotations of the reviewed frames.",
            "data": "Check the reviewed frames (boxes and keypoints) and the exported data folder.",
            "checkpoint": "Choose other base weights that match the experiment's architecture.",
            "config": "Check the experiment file and the overrides.",
        }.get(self.kind, "")


@dataclass(frozen=True)
class RunFinished:
    """The run is over. ``status`` is hrnet-train's (completed, stopped, diverged, failed) or
    ``cancelled`` (the user cancelled and no ``end`` event came) or ``failed`` (crash)."""

    status: str
    epochs_done: int = 0
    best_metric: float | None = None
    best_path: str | None = None
    final_path: str | None = None
    metric_name: str = ""
    best_epoch: int | None = None  # 0-based epoch held by model_best.pth; None: the base (or none)
    best_is_base: bool = False  # no epoch beat the validated base: model_best.pth holds the base weights
    base_metric: float | None = None
    # set by the reader, never written by hrnet-train:
    exit_code: int | None = field(default=None, metadata={"wire": False})
    ended_cleanly: bool = field(default=False, metadata={"wire": False})  # True when the "end" event came

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "stopped")


Event = (RunStarted | BaseValidated | StepProgress | EpochEnded | CheckpointWritten | LogMessage | TrainError
         | RunFinished)


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, float] = {}
    for k, v in value.items():
        f = _float(v)
        if f is not None and math.isfinite(f):
            out[str(k)] = f
    return out


def parse_event(obj: Any) -> Event | None:
    """One protocol object -> a typed event; ``None`` when ``obj`` is not a known event."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("event")
    if kind == "start":
        return RunStarted(
            run_dir=_str(obj.get("run_dir")),
            begin_epoch=_int(obj.get("begin_epoch")),
            end_epoch=_int(obj.get("end_epoch")),
            steps_per_epoch=_int(obj.get("steps_per_epoch")),
            train_samples=_int(obj.get("train_samples")),
            val_samples=_int(obj.get("val_samples")),
            device=_str(obj.get("device")),
            command=_str(obj.get("command")),
        )
    if kind == "base_validation":
        return BaseValidated(
            metrics=_metrics(obj.get("metrics")),
            val_loss=_float(obj.get("val_loss")),
            metric_name=_str(obj.get("metric_name")),
            metric=_float(obj.get("metric")),
            time_s=_float(obj.get("time_s"), 0.0),
        )
    if kind == "step":
        return StepProgress(
            epoch=_int(obj.get("epoch")),
            step=_int(obj.get("step")),
            steps=_int(obj.get("steps")),
            loss=_float(obj.get("loss"), math.nan),
            lr=_float(obj.get("lr"), math.nan),
            images_per_s=_float(obj.get("images_per_s"), 0.0),
            eta_s=_float(obj.get("eta_s"), math.nan),
        )
    if kind == "epoch_end":
        return EpochEnded(
            epoch=_int(obj.get("epoch")),
            train_loss=_float(obj.get("train_loss")),
            val_loss=_float(obj.get("val_loss")),
            metrics=_metrics(obj.get("metrics")),
            best_metric=_float(obj.get("best_metric")),
            is_best=bool(obj.get("is_best", False)),
            time_s=_float(obj.get("time_s"), 0.0),
        )
    if kind == "checkpoint":
        return CheckpointWritten(
            epoch=_int(obj.get("epoch")), path=_str(obj.get("path")), best_path=_opt_str(obj.get("best_path"))
        )
    if kind == "log":
        return LogMessage(level=_str(obj.get("level"), "info"), message=_str(obj.get("message")))
    if kind == "error":
        return TrainError(kind=_str(obj.get("kind"), "other"), message=_str(obj.get("message")))
    if kind == "end":
        return RunFinished(
            status=_str(obj.get("status"), "failed"),
            epochs_done=_int(obj.get("epochs_done")),
            best_metric=_float(obj.get("best_metric")),
            best_path=_opt_str(obj.get("best_path")),
            final_path=_opt_str(obj.get("final_path")),
            metric_name=_str(obj.get("metric_name")),
            best_epoch=None if obj.get("best_epoch") is None else _int(obj.get("best_epoch")),
            best_is_base=bool(obj.get("best_is_base", False)),
            base_metric=_float(obj.get("base_metric")),
            ended_cleanly=True,
        )
    return None


EVENT_NAMES: dict[type, str] = {
    RunStarted: "start",
    BaseValidated: "base_validation",
    StepProgress: "step",
    EpochEnded: "epoch_end",
    CheckpointWritten: "checkpoint",
    LogMessage: "log",
    TrainError: "error",
    RunFinished: "end",
}


def to_wire(event: Event) -> dict[str, Any]:
    """The JSON object of ``event`` (``{"event": NAME, **fields}``), reader-only fields left out."""
    out: dict[str, Any] = {"event": EVENT_NAMES[type(event)]}
    for f in dataclasses.fields(event):
        if f.metadata.get("wire", True):
            out[f.name] = getattr(event, f.name)
    return out


parse_progress_event = parse_event  # the names re-exported by ``hrnet``
ProgressEvent = Event
