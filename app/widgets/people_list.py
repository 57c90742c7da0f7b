"""The People list: every person on the current frame with id/track, score and state.

One row per person: the "#n" the canvas tags show, the track id, the person's score (the model's
person score, else the mean confidence of their predicted joints), and their state — predicted
(untouched model output), edited (some joints by hand), or ground truth (read from a file without
model scores) — with the frame's reviewed mark in the title. Clicking a row selects that person
on the canvas; Delete (the button or the key) asks the window to delete them. The table is
rebuilt from the document on every change of the frame (a frame holds a few people), so it never
holds its own copy of the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QPushButton, QTableWidgetItem, QWidget

from app.review import person_confidence
from app.widgets.table_panel import TablePanel
from hrnet import Instance

COLUMNS = ("Person", "Track", "Score", "State")
STATE_COLOURS = {"edited": QColor(235, 235, 235), "predicted": QColor(150, 200, 255),
                 "ground truth": QColor(200, 200, 140)}


def person_state(instance: Instance) -> str:
    if instance.is_edited:
        return "edited"
    if instance.joint_scores is not None:
        return "predicted"
    return "ground truth"


def person_score(instance: Instance) -> float | None:
    if instance.score is not None and instance.joint_scores is not None:
        return float(instance.score)
    return person_confidence(instance)


class PeopleListWidget(TablePanel):
    person_selected = Signal(int)
    delete_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("No frame", COLUMNS, parent)
        self.table.setToolTip("People on this frame: click selects on the canvas, Delete removes")
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.delete_button = QPushButton("Delete person")
        self.delete_button.clicked.connect(self._delete_current)
        self.delete_button.setEnabled(False)
        self.buttons.addStretch(1)
        self.buttons.addWidget(self.delete_button)

    def set_people(self, frame_number: int | None, instances: Sequence[Instance], selected: int | None,
                   reviewed: bool = False) -> None:
        """Show ``instances`` of frame ``frame_number`` (0-based; None: no frame) with ``selected``."""
        self._syncing = True
        try:
            if frame_number is None:
                self.title.setText("No frame")
            else:
                mark = " · ✓ reviewed" if reviewed else ""
                who = "person" if len(instances) == 1 else "people"
                self.title.setText(f"Frame {frame_number + 1}: {len(instances)} {who}{mark}")
            self.table.setRowCount(len(instances))
            for i, inst in enumerate(instances):
                score = person_score(inst)
                state = person_state(inst)
                cells = (f"#{i + 1}", "" if inst.track_id is None else str(inst.track_id),
                         "—" if score is None else f"{score:.2f}", state)
                for c, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if c == 3:
                        item.setForeground(QBrush(STATE_COLOURS[state]))
                    if c == 2 and score is not None and score < 0.3:
                        item.setForeground(QBrush(QColor(255, 150, 90)))
                    if c in (1, 2):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(i, c, item)
            if selected is not None and 0 <= selected < len(instances):
                self.table.selectRow(selected)
            else:
                self.table.clearSelection()
            self.delete_button.setEnabled(self.current_person() is not None)
        finally:
            self._syncing = False

    def current_person(self) -> int | None:
        return self.selected_row()

    def _on_row_selected(self) -> None:
        person = self.current_person()
        self.delete_button.setEnabled(person is not None)
        if not self._syncing and person is not None:
            self.person_selected.emit(person)

    def _delete_current(self) -> None:
        person = self.current_person()
        if person is not None:
            self.delete_requested.emit(person)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.current_person() is not None:
            self._delete_current()
            event.accept()
            return
        super().keyPressEvent(event)
