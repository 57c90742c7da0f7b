"""The Train dialog's second tab: a run's progress, curves, log and errors, with Stop / Cancel / Resume.

It shows the events of :class:`~app.training.process.TrainingProcess`. Epochs are numbered from 1
for the user everywhere (hrnet-train's events count from 0); the base model's validation before
any update, when hrnet-train reports one, is epoch 0 of the curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.texts import count
from app.training.events import BaseValidated, CheckpointWritten, EpochEnded, RunStarted, StepProgress, TrainError
from app.training.setup_tab import row
from hrnet import format_duration

__all__ = ["TrainProgressWidget", "user_epoch"]


def user_epoch(epoch: int) -> int:
    """hrnet-train's 0-based epoch index -> the 1-based number users read (0: the base model, before training)."""
    return int(epoch) + 1


@dataclass
class _Curves:
    step_x: list[float]
    step_loss: list[float]
    epoch_x: list[float]
    train_loss: list[float]
    val_x: list[float]
    val_loss: list[float]
    ap_x: list[float]
    ap: list[float]
    pck_x: list[float]
    pck: list[float]

    @classmethod
    def empty(cls) -> _Curves:
        return cls([], [], [], [], [], [], [], [], [], [])

    def series(self) -> list[tuple[list[float], list[float]]]:
        return [(self.step_x, self.step_loss), (self.epoch_x, self.train_loss), (self.val_x, self.val_loss),
                (self.ap_x, self.ap), (self.pck_x, self.pck)]


class TrainProgressWidget(QWidget):
    """Status, progress bar, error box, loss / validation curves, log; Stop, Cancel, Resume buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._curves = _Curves.empty()
        self._run: RunStarted | None = None
        v = QVBoxLayout(self)
        self.status_label = QLabel("Not started.")
        self.status_label.setWordWrap(True)
        v.addWidget(self.status_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        self.progress_label = QLabel("")
        v.addWidget(self.progress_bar)
        v.addWidget(self.progress_label)

        self.error_frame = QFrame()
        self.error_frame.setStyleSheet("QFrame { background: #fdecea; border: 1px solid #f5c2c0; }")
        ef = QVBoxLayout(self.error_frame)
        self.error_title = QLabel()
        self.error_title.setStyleSheet("font-weight: bold; color: #b00020; border: none")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("border: none")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ef.addWidget(self.error_title)
        ef.addWidget(self.error_label)
        self.error_frame.hide()
        v.addWidget(self.error_frame)

        plots = QWidget()
        ph = QHBoxLayout(plots)
        ph.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = _plot("Loss")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#9bbcf0", width=1), name="step")
        self.train_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f5fbf", width=2), symbol="o",
                                                    symbolSize=6, symbolBrush="#1f5fbf", name="train (epoch)")
        self.val_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#d95f02", width=2), symbol="s",
                                                  symbolSize=6, symbolBrush="#d95f02", name="validation")
        self.metric_plot = _plot("Validation (epoch 0: the base model)")
        self.metric_plot.setYRange(0, 1)
        self.ap_curve = self.metric_plot.plot([], [], pen=pg.mkPen("#1b9e77", width=2), symbol="o", symbolSize=6,
                                              symbolBrush="#1b9e77", name="AP")
        self.pck_curve = self.metric_plot.plot([], [], pen=pg.mkPen("#7570b3", width=2), symbol="t", symbolSize=7,
                                               symbolBrush="#7570b3", name="PCK")
        ph.addWidget(self.loss_plot)
        ph.addWidget(self.metric_plot)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(plots)
        split.addWidget(self.log_view)
        split.setSizes([380, 200])
        v.addWidget(split, 1)

        self.stop_button = QPushButton("Stop after this epoch")
        self.stop_button.setToolTip("Finish the current epoch (validation and checkpoint included), then stop.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop now: terminate the training process (killed if it does not exit). "
                                      "Checkpoints already written are kept.")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue this run from its last checkpoint.")
        v.addWidget(row(self.stop_button, self.cancel_button, stretch=True, last=self.resume_button))
        self.set_run_buttons(running=False, stopping=False, can_resume=False)

    # ------------------------------------------------------------------ buttons
    def set_run_buttons(self, *, running: bool, stopping: bool, can_resume: bool) -> None:
        """Stop and Cancel only while a run is in progress; Resume only when there is one to resume."""
        self.stop_button.setEnabled(running and not stopping)
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(can_resume and not running)

    # ------------------------------------------------------------------ view
    def reset(self) -> None:
        self._curves = _Curves.empty()
        self._redraw()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_label.setText("")
        self.error_frame.hide()
        self.log_view.clear()

    def _redraw(self) -> None:
        curves = (self.loss_curve, self.train_loss_curve, self.val_loss_curve, self.ap_curve, self.pck_curve)
        for curve, (xs, ys) in zip(curves, self._curves.series()):
            curve.setData(xs, ys)

    def append_log(self, level: str, message: str) -> None:
        prefix = "" if level in ("info", "stdout", "stderr") else f"[{level}] "
        self.log_view.appendPlainText(prefix + message)

    def show_error(self, err: TrainError) -> None:
        self.error_title.setText(err.title)
        text = err.message.strip()
        lines = text.splitlines()
        if len(lines) > 18:
            text = "\n".join(lines[:3] + ["…"] + lines[-14:])
        if err.hint:
            text += f"\n\n{err.hint}"
        self.error_label.setText(text)
        self.error_frame.show()

    # ------------------------------------------------------------------ events
    def on_started(self, ev: RunStarted, resumed: bool) -> None:
        self._run = ev
        if resumed:  # keep the curves up to the resumed epoch, drop what the checkpoint did not keep
            for xs, ys in self._curves.series():
                keep = [i for i, x in enumerate(xs) if x <= ev.begin_epoch]
                xs[:] = [xs[i] for i in keep]
                ys[:] = [ys[i] for i in keep]
            self._redraw()
        total = max(1, (ev.end_epoch - ev.begin_epoch) * max(1, ev.steps_per_epoch))
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(0)
        self.status_label.setText(
            f"Training epochs {user_epoch(ev.begin_epoch)}–{ev.end_epoch} on {ev.device}: {ev.train_samples} "
            f"training and {count(ev.val_samples, 'validation person', 'validation people')}, "
            f"{count(ev.steps_per_epoch, 'step')} per epoch.")

    def on_step(self, ev: StepProgress) -> None:
        run = self._run
        steps = max(1, ev.steps)
        done = ev.step + 1  # hrnet-train's steps are 0-based
        if run is not None:
            value = (ev.epoch - run.begin_epoch) * steps + done
            self.progress_bar.setValue(min(self.progress_bar.maximum(), max(0, value)))
            end = run.end_epoch
        else:
            end = user_epoch(ev.epoch)
        self.progress_label.setText(
            f"Epoch {user_epoch(ev.epoch)}/{end} · step {done}/{steps} · loss {ev.loss:.6g} · lr {ev.lr:.3g} · "
            f"{ev.images_per_s:.1f} img/s · ETA {format_duration(ev.eta_s)}")
        if math.isfinite(ev.loss):
            self._curves.step_x.append(ev.epoch + done / steps)
            self._curves.step_loss.append(ev.loss)
            self.loss_curve.setData(self._curves.step_x, self._curves.step_loss)

    def on_base_validated(self, ev: BaseValidated) -> None:
        """The starting weights before any update: epoch 0 of the validation curves."""
        self._add_validation(0, ev.val_loss, ev.metrics)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in ev.metrics.items())
        self.append_log("info", f"Base model, before training: val loss {_fmt(ev.val_loss)}; {metrics}")

    def _add_validation(self, x: int, val_loss: float | None, metrics: dict[str, float]) -> None:
        c = self._curves
        if val_loss is not None and math.isfinite(val_loss):
            c.val_x.append(x)
            c.val_loss.append(val_loss)
        if "AP" in metrics:
            c.ap_x.append(x)
            c.ap.append(metrics["AP"])
        pck = metrics.get("PCK")
        if pck is not None:
            c.pck_x.append(x)
            c.pck.append(pck)
        self._redraw()

    def on_epoch(self, ev: EpochEnded) -> None:
        c = self._curves
        x = user_epoch(ev.epoch)
        if ev.train_loss is not None and math.isfinite(ev.train_loss):
            c.epoch_x.append(x)
            c.train_loss.append(ev.train_loss)
        self._add_validation(x, ev.val_loss, ev.metrics)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in ev.metrics.items())
        best = " (best so far)" if ev.is_best else ""
        self.append_log("info", f"Epoch {x} done in {format_duration(ev.time_s)}: train loss "
                                f"{_fmt(ev.train_loss)}, val loss {_fmt(ev.val_loss)}; {metrics}{best}")

    def on_checkpoint(self, ev: CheckpointWritten) -> None:
        extra = ", best model so far" if ev.best_path else ""
        self.append_log("info", f"Checkpoint saved after epoch {user_epoch(ev.epoch)}{extra}: {ev.path}")


def _plot(title: str) -> pg.PlotWidget:
    p = pg.PlotWidget(title=title)
    p.setBackground("w")
    p.setLabel("bottom", "epoch")
    p.addLegend(offset=(-10, 10))
    p.showGrid(x=True, y=True, alpha=0.3)
    return p


def _fmt(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.6g}"
