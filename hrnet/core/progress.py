"""Progress reporting for training: a human progress bar with ETA, or JSON lines for machines.

The trainer talks to one :class:`ProgressReporter`; which one is chosen by ``--progress``:

- :class:`BarReporter` (default) draws a one-line bar with loss, learning rate, speed and the ETA
  of the whole run on stderr (or prints a plain line now and then when stderr is not a terminal).
- :class:`JsonlReporter` writes exactly one JSON object per line, each with an ``"event"`` key
  (``start``, ``base_validation``, ``step``, ``epoch_end``, ``checkpoint``, ``log``, ``error``,
  ``end``): the protocol of :mod:`hrnet.core.events` (fields documented there), whose dataclasses
  it builds and serialises, so writer and reader share one definition. Non-finite floats are
  written as ``null`` so that every line is strict JSON.
- :class:`ProgressReporter` itself reports nothing (used on non-zero ranks).

Field meanings that the protocol leaves open:

- ``step.loss`` is the mean batch loss over the steps since the previous ``step`` event (so a
  curve drawn from the events is neither noisy nor lagging);
- ``step.images_per_s`` is the training throughput over the same steps (all ranks together);
- ``step.eta_s`` is the estimated time left for the whole run (all remaining epochs, their
  validation included), from :class:`EtaEstimator`.

``step`` events are rate-limited (first and last step of an epoch always, otherwise at most one
per ``min_interval`` seconds); every other event is written as it happens.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from hrnet.core import events as ev

__all__ = [
    "BarReporter",
    "EtaEstimator",
    "JsonlReporter",
    "ProgressReporter",
    "format_duration",
]


def format_duration(seconds: float | None) -> str:
    """``3725`` -> ``"1:02:05"``; ``None`` / non-finite -> ``"?"``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


def _clean(value: Any) -> Any:
    """Make a value strict-JSON friendly: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(f):
        return None
    if isinstance(value, float):
        return f
    # numpy / torch scalars: keep integers integral
    return int(f) if f.is_integer() and "int" in type(value).__name__ else f


class EtaEstimator:
    """Estimates the time left for a run of ``end_epoch - begin_epoch`` epochs.

    Within the first epoch it extrapolates the mean step time; once an epoch has finished, it uses
    the measured duration of the last epoch (training + validation) for the epochs still to come.
    """

    def __init__(self, begin_epoch: int, end_epoch: int, steps_per_epoch: int) -> None:
        self.begin_epoch = begin_epoch
        self.end_epoch = end_epoch
        self.steps_per_epoch = max(1, steps_per_epoch)
        self._epoch_start: float | None = None
        self._epoch: int = begin_epoch
        self._last_epoch_time: float | None = None

    def epoch_started(self, epoch: int, now: float | None = None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter() if now is None else now

    def epoch_finished(self, seconds: float) -> None:
        self._last_epoch_time = seconds

    def eta(self, steps_done: int, now: float | None = None) -> float | None:
        """Seconds left in the run after ``steps_done`` steps of the current epoch."""
        if self._epoch_start is None or steps_done <= 0:
            return None
        now = time.perf_counter() if now is None else now
        step_time = (now - self._epoch_start) / steps_done
        left_in_epoch = (self.steps_per_epoch - steps_done) * step_time
        epochs_after = max(0, self.end_epoch - self._epoch - 1)
        per_epoch = self._last_epoch_time if self._last_epoch_time is not None else self.steps_per_epoch * step_time
        return left_in_epoch + epochs_after * per_epoch


class ProgressReporter:
    """Receives the trainer's events; this base class ignores them all."""

    min_interval: float = 0.5  # seconds between two step events the trainer aims for

    def start(self, **info: Any) -> None:
        """Run begins: run_dir, begin_epoch, end_epoch, steps_per_epoch, samples, device, command."""

    def base_validation(self, *, metrics: Mapping[str, float], val_loss: float | None, metric_name: str,
                        metric: float | None, time_s: float) -> None:
        """The starting weights were validated before any update (``TRAIN.VALIDATE_BASE``)."""

    def step(self, *, epoch: int, step: int, steps: int, loss: float, lr: float, images_per_s: float,
             eta_s: float | None, force: bool = False) -> None:
        """A training step finished (``step`` is 0-based; ``force`` bypasses rate limiting)."""

    def epoch_end(self, *, epoch: int, train_loss: float, val_loss: float | None, metrics: Mapping[str, float],
                  best_metric: float | None, is_best: bool, time_s: float) -> None:
        """An epoch (training and validation) finished."""

    def checkpoint(self, *, epoch: int, path: str, best_path: str | None) -> None:
        """A checkpoint was written (``best_path`` when model_best.pth was written too)."""

    def log(self, level: str, message: str) -> None:
        """A message for the user (``level``: info or warning)."""

    def error(self, kind: str, message: str) -> None:
        """The run failed or diverged (``kind``: config, data, checkpoint, oom, nan, other)."""

    def end(self, *, status: str, epochs_done: int, best_metric: float | None, best_path: str | None,
            final_path: str | None, metric_name: str = "", best_epoch: int | None = None,
            best_is_base: bool = False, base_metric: float | None = None) -> None:
        """The run ended (``status``: completed, stopped, diverged, failed)."""

    def close(self) -> None:
        """Release the output (clear a bar line)."""


class JsonlReporter(ProgressReporter):
    """Writes the events as JSON lines to ``stream`` (stdout by default), flushing every line."""

    def __init__(self, stream: TextIO | None = None, *, min_interval: float = 0.5) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.min_interval = min_interval
        self._last_step_emit = -math.inf
        self._lock = threading.RLock()

    def emit(self, event: ev.Event) -> None:
        line = json.dumps(_clean(ev.to_wire(event)), allow_nan=False)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def start(self, **info: Any) -> None:
        self.emit(ev.RunStarted(**{f: info.get(f) for f in ev.RunStarted.__dataclass_fields__}))

    def base_validation(self, *, metrics: Mapping[str, float], val_loss: float | None, metric_name: str,
                        metric: float | None, time_s: float) -> None:
        self.emit(ev.BaseValidated(metrics=dict(metrics), val_loss=val_loss, metric_name=metric_name, metric=metric,
                                   time_s=time_s))

    def step(self, *, epoch: int, step: int, steps: int, loss: float, lr: float, images_per_s: float,
             eta_s: float | None, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or step == 0 or step == steps - 1 or now - self._last_step_emit >= self.min_interval):
            return
        self._last_step_emit = now
        self.emit(ev.StepProgress(epoch=epoch, step=step, steps=steps, loss=loss, lr=lr, images_per_s=images_per_s,
                                  eta_s=eta_s))

    def epoch_end(self, *, epoch: int, train_loss: float, val_loss: float | None, metrics: Mapping[str, float],
                  best_metric: float | None, is_best: bool, time_s: float) -> None:
        self.emit(ev.EpochEnded(epoch=epoch, train_loss=train_loss, val_loss=val_loss, metrics=dict(metrics),
                                best_metric=best_metric, is_best=is_best, time_s=time_s))

    def checkpoint(self, *, epoch: int, path: str, best_path: str | None) -> None:
        self.emit(ev.CheckpointWritten(epoch=epoch, path=path, best_path=best_path))

    def log(self, level: str, message: str) -> None:
        self.emit(ev.LogMessage(level=level, message=message))

    def error(self, kind: str, message: str) -> None:
        self.emit(ev.TrainError(kind=kind, message=message))

    def end(self, *, status: str, epochs_done: int, best_metric: float | None, best_path: str | None,
            final_path: str | None, metric_name: str = "", best_epoch: int | None = None,
            best_is_base: bool = False, base_metric: float | None = None) -> None:
        self.emit(ev.RunFinished(status=status, epochs_done=epochs_done, best_metric=best_metric, best_path=best_path,
                                 final_path=final_path, metric_name=metric_name, best_epoch=best_epoch,
                                 best_is_base=best_is_base, base_metric=base_metric))


class BarReporter(ProgressReporter):
    """A small text progress bar with ETA on ``stream`` (stderr by default).

    On a terminal the bar is redrawn in place (at most ``refresh`` times a second); otherwise a
    plain line is printed every ``line_interval`` seconds. :meth:`handler` returns a logging handler
    that prints records above the bar without garbling it.
    """

    def __init__(self, stream: TextIO | None = None, *, width: int = 24, refresh: float = 0.1,
                 line_interval: float = 30.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.refresh = refresh
        self.line_interval = line_interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = refresh if self.tty else line_interval  # between step lines
        self._bar = ""
        self._last_draw = -math.inf
        self._end_epoch = 0
        self._lock = threading.RLock()

    # -- drawing ---------------------------------------------------------------------------
    def _clear(self) -> None:
        if self.tty and self._bar:
            self.stream.write("\r" + " " * len(self._bar) + "\r")

    def _redraw(self) -> None:
        if self.tty and self._bar:
            self.stream.write(self._bar)
        self.stream.flush()

    def print_line(self, text: str) -> None:
        """Print a line above the bar."""
        with self._lock:
            self._clear()
            self.stream.write(text + "\n")
            self._redraw()

    def handler(self, level: int = logging.INFO) -> logging.Handler:
        reporter = self

        class _BarHandler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    reporter.print_line(self.format(record))
                except Exception:  # noqa: BLE001 # pragma: no cover - logging must never raise (logging.Handler convention)
                    self.handleError(record)

        h = _BarHandler(level)
        return h

    # -- events ----------------------------------------------------------------------------
    def start(self, **info: Any) -> None:
        self._end_epoch = int(info.get("end_epoch", 0))
        self.print_line(
            f"Training epochs {int(info.get('begin_epoch') or 0) + 1}..{self._end_epoch} on {info.get('device')}: "
            f"{info.get('train_samples')} training / {info.get('val_samples')} validation samples, "
            f"{info.get('steps_per_epoch')} steps per epoch -> {info.get('run_dir')}"
        )

    def base_validation(self, *, metrics: Mapping[str, float], val_loss: float | None, metric_name: str,
                        metric: float | None, time_s: float) -> None:
        value = f"{metric:.4f}" if metric is not None else "?"
        self.print_line(f"Starting weights (before any update): {metric_name or 'metric'} {value}")

    def step(self, *, epoch: int, step: int, steps: int, loss: float, lr: float, images_per_s: float,
             eta_s: float | None, force: bool = False) -> None:
        now = time.monotonic()
        last = step == steps - 1
        interval = self.refresh if self.tty else self.line_interval
        if not (force or last or step == 0 or now - self._last_draw >= interval):
            return
        self._last_draw = now
        done = step + 1
        filled = int(self.width * done / max(1, steps))
        bar = "#" * filled + "-" * (self.width - filled)
        text = (f"Epoch {epoch + 1}/{max(self._end_epoch, epoch + 1)} [{bar}] {done}/{steps} "
                f"loss {loss:.6f} lr {lr:.2e} {images_per_s:.1f} img/s ETA {format_duration(eta_s)}")
        with self._lock:
            if self.tty:
                self._clear()
                self._bar = text
                self._redraw()
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def epoch_end(self, *, epoch: int, train_loss: float, val_loss: float | None, metrics: Mapping[str, float],
                  best_metric: float | None, is_best: bool, time_s: float) -> None:
        with self._lock:
            self._clear()
            self._bar = ""
        keys = [k for k in ("AP", "AP .5", "AR", "Mean", "PCK") if k in metrics] or list(metrics)[:4]
        shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if isinstance(metrics[k], (int, float)))
        best = f"{best_metric:.4f}" if best_metric is not None else "?"
        val = f"{val_loss:.6f}" if val_loss is not None else "n/a"
        self.print_line(f"Epoch {epoch + 1} done in {format_duration(time_s)}: train loss {train_loss:.6f}, "
                        f"val loss {val}, {shown}; best {best}{' (new best)' if is_best else ''}")

    def checkpoint(self, *, epoch: int, path: str, best_path: str | None) -> None:
        pass  # the trainer logs checkpoints itself; one line per epoch is enough for people

    def log(self, level: str, message: str) -> None:
        self.print_line(message if level == "info" else f"{level.upper()}: {message}")

    def error(self, kind: str, message: str) -> None:
        self.print_line(f"ERROR: {message}")

    def end(self, *, status: str, epochs_done: int, best_metric: float | None, best_path: str | None,
            final_path: str | None, metric_name: str = "", best_epoch: int | None = None,
            best_is_base: bool = False, base_metric: float | None = None) -> None:
        best = f", best metric {best_metric:.4f} ({best_path})" if best_metric is not None and best_path else ""
        if best_is_base and best_path:
            best += "; no epoch beat the starting weights, so model_best.pth holds them unchanged"
        self.print_line(f"Training {status} after {epochs_done} epoch(s){best}")

    def close(self) -> None:
        with self._lock:
            self._clear()
            self._bar = ""
            self.stream.flush()
