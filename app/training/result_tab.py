"""The Train dialog's third tab: the new model against the current one, in numbers and in words.

The verdict (better / worse / the same, by how much) comes from
:class:`~app.training.verdict.TrainingVerdict`; this widget shows it and makes its default action the
default button: "Keep current model" whenever the new model is not better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.texts import count
from app.training.setup_tab import row
from app.training.verdict import ACTION_KEEP, ACTION_RERUN, ACTION_USE, TrainingVerdict

__all__ = ["TrainResultWidget"]


class TrainResultWidget(QWidget):
    """Comparison table, verdict in words, and Keep / Use / Use and re-run buttons."""

    def __init__(self, metric_names: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metric_names = tuple(metric_names)
        v = QVBoxLayout(self)
        self.result_label = QLabel("No trained model yet.")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.result_label)
        self.verdict_label = QLabel("")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.verdict_label)
        self.compare_table = QTableWidget(len(self.metric_names), 3)
        self.compare_table.setHorizontalHeaderLabels(["Current model", "New model", "Change"])
        self.compare_table.setVerticalHeaderLabels(list(self.metric_names))
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.compare_table)
        self.compare_label = QLabel("")
        self.compare_label.setWordWrap(True)
        v.addWidget(self.compare_label)
        v.addStretch(1)
        self.keep_button = QPushButton("Keep current model")
        self.keep_button.setToolTip("Leave the app's model as it is (the run folder keeps the new model).")
        self.use_button = QPushButton("Use new model")
        self.use_button.setToolTip("Load the best checkpoint of this run as the app's model.")
        self.rerun_button = QPushButton("Use new model and re-run it on the unreviewed frames")
        self.rerun_button.setToolTip("Replace the predicted (not hand-edited) people of every unreviewed frame "
                                     "with the new model's predictions, as one undoable step.")
        self.open_folder_button = QPushButton("Open run folder")
        self._rerun_suffix = ""
        v.addWidget(row(self.open_folder_button, stretch=True, last=self.keep_button))
        v.addWidget(row(stretch=True, last=self.use_button))
        v.addWidget(row(stretch=True, last=self.rerun_button))

    # ------------------------------------------------------------------ table
    def clear(self) -> None:
        for r in range(self.compare_table.rowCount()):
            for c in range(3):
                self.compare_table.setItem(r, c, QTableWidgetItem(""))
        self.compare_table.setHorizontalHeaderItem(0, QTableWidgetItem("Current model"))
        self.compare_label.setText("")
        self.show_verdict(None)

    def show_metrics(self, column: int, metrics: dict[str, float] | None) -> None:
        for r, metric in enumerate(self.metric_names):
            v = None if metrics is None else metrics.get(metric)
            self.compare_table.setItem(r, column, QTableWidgetItem(
                "—" if v is None or not math.isfinite(v) else f"{v:.3f}"))

    def show_failed(self, column: int) -> None:
        self.compare_table.setItem(0, column, QTableWidgetItem("failed"))

    def show_no_current_model(self, label: str = "Current model") -> None:
        self.compare_table.setHorizontalHeaderItem(0, QTableWidgetItem(label))
        self.show_metrics(0, None)

    def show_deltas(self, old: dict[str, float], new: dict[str, float]) -> None:
        for r, metric in enumerate(self.metric_names):
            a, b = old.get(metric), new.get(metric)
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                continue
            item = QTableWidgetItem(f"{b - a:+.3f}")
            item.setForeground(Qt.GlobalColor.darkGreen if b > a else Qt.GlobalColor.red if b < a
                               else Qt.GlobalColor.black)
            self.compare_table.setItem(r, 2, item)

    # ------------------------------------------------------------------ verdict
    def show_verdict(self, verdict: TrainingVerdict | None) -> None:
        """The verdict in words; its default action becomes the default (Enter) button."""
        if verdict is None:
            self.verdict_label.setText("")
            self.verdict_label.setStyleSheet("")
            for b in (self.keep_button, self.use_button, self.rerun_button):
                b.setDefault(False)
            self.use_button.setText("Use new model")
            self._rerun_suffix = ""
            return
        colour = "#1b7f3b" if verdict.default_action == ACTION_USE else "#b00020"
        self.verdict_label.setText(verdict.summary())
        self.verdict_label.setStyleSheet(f"font-weight: bold; color: {colour}")
        default = verdict.default_action
        self.keep_button.setDefault(default == ACTION_KEEP)
        self.use_button.setDefault(default == ACTION_USE)
        self.rerun_button.setDefault(False)
        suffix = " (asks first: not better)" if verdict.needs_confirmation(ACTION_USE) else ""
        self.use_button.setText("Use new model" + suffix)
        self._rerun_suffix = " (asks first: not better)" if verdict.needs_confirmation(ACTION_RERUN) else ""

    def set_actions(self, *, has_model: bool, busy: bool, unreviewed: int, has_current: bool) -> None:
        self.use_button.setEnabled(has_model and not busy)
        self.rerun_button.setEnabled(has_model and not busy)
        self.keep_button.setEnabled(has_model and not busy and has_current)
        suffix = self._rerun_suffix
        self.rerun_button.setText(f"Use new model and re-run it on the {count(unreviewed, 'unreviewed frame')}{suffix}")
