"""The selected person's joints as a table: visibility, confidence, who placed them; quick edits.

Every row is a joint: its visibility (a combo box: visible / occluded / not labelled), the model's
confidence, its source (by hand / predicted / imported) and position. Clicking a row selects
the joint on the canvas; changing a visibility asks the window for the command (a joint that
has no position yet is placed by clicking instead). The table is rebuilt from the document on
every change of that person (17 rows: cheap), so it never holds its own copy of the data.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QComboBox, QPushButton, QTableWidgetItem, QWidget

from app.canvas import style
from app.widgets.table_panel import TablePanel
from hrnet import KeypointSet

VISIBILITY_TEXT = {2: "visible", 1: "occluded", 0: "not labelled"}
COLUMNS = ("Joint", "Visibility", "Conf.", "Source", "x", "y")


class PersonPanelWidget(TablePanel):
    joint_selected = Signal(int)
    visibility_requested = Signal(int, int)  # joint, visibility
    place_requested = Signal(object)  # list of joints to place by clicking
    swap_requested = Signal()
    delete_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("No person selected", COLUMNS, parent)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.place_button = QPushButton("Place missing (M)")
        self.place_button.clicked.connect(self._place_missing)
        swap = QPushButton("Swap L/R (S)")
        swap.clicked.connect(self.swap_requested)
        delete = QPushButton("Delete person")
        delete.clicked.connect(self.delete_requested)
        self.buttons.addWidget(self.place_button)
        self.buttons.addWidget(swap)
        self.buttons.addWidget(delete)
        self._names: list[str] = []
        self._keypoints: np.ndarray | None = None
        self.set_person(None, None)

    def set_person(self, names: list[str] | KeypointSet | None, instance, index: int | None = None,
                   selected_joint: int | None = None, threshold: float = 0.3) -> None:
        """Show ``instance`` (an hrnet.annotations.Instance) or nothing. ``names``: the project's
        :class:`~hrnet.keypoints.KeypointSet` (its left/right pairs colour the names) or a name list."""
        self._syncing = True
        try:
            self.table.setRowCount(0)
            if instance is None or names is None:
                self._keypoints = None
                self.title.setText("No person selected — click a person or press `")
                for w in self.findChildren(QPushButton):
                    w.setEnabled(False)
                return
            for w in self.findChildren(QPushButton):
                w.setEnabled(True)
            kset = names if isinstance(names, KeypointSet) else KeypointSet.from_names(names)
            self._names = list(kset.names)
            sides = kset.sides()
            kp = np.asarray(instance.keypoints)
            self._keypoints = kp
            scores = instance.joint_scores
            edited = np.asarray(instance.edited, bool)
            n_lab = int((kp[:, 2] > 0).sum())
            score = f", score {instance.score:.2f}" if instance.score is not None else ""
            self.title.setText(f"Person #{(index or 0) + 1}: {n_lab}/{len(kp)} joints labelled{score}")
            self.table.setRowCount(len(kp))
            for j, name in enumerate(self._names):
                item = QTableWidgetItem(name)
                item.setForeground(QBrush(style.SIDE_OUTLINE[sides[j]]))
                self.table.setItem(j, 0, item)
                combo = QComboBox()
                for v in (2, 1, 0):
                    combo.addItem(VISIBILITY_TEXT[v], v)
                combo.setCurrentIndex(combo.findData(int(kp[j, 2])))
                combo.currentIndexChanged.connect(lambda _i, j=j, c=combo: self._on_visibility(j, c.currentData()))
                self.table.setCellWidget(j, 1, combo)
                if scores is not None and not edited[j]:
                    conf = QTableWidgetItem(f"{float(scores[j]):.2f}")
                    conf.setForeground(QBrush(style.confidence_colour(float(scores[j]))))
                    if float(scores[j]) < threshold:
                        conf.setToolTip("below the confidence threshold")
                else:
                    conf = QTableWidgetItem("—")
                self.table.setItem(j, 2, conf)
                source = "by hand" if edited[j] else ("predicted" if scores is not None else "imported")
                self.table.setItem(j, 3, QTableWidgetItem(source))
                labelled = kp[j, 2] > 0
                self.table.setItem(j, 4, QTableWidgetItem(f"{kp[j, 0]:.1f}" if labelled else ""))
                self.table.setItem(j, 5, QTableWidgetItem(f"{kp[j, 1]:.1f}" if labelled else ""))
                if not labelled:
                    for c in (0, 2, 3):
                        self.table.item(j, c).setForeground(QBrush(QColor(130, 130, 130)))
            self.place_button.setEnabled(n_lab < len(kp))
            if selected_joint is not None and 0 <= selected_joint < len(kp):
                self.table.selectRow(selected_joint)
        finally:
            self._syncing = False

    def _on_row_selected(self) -> None:
        row = self.selected_row()
        if not self._syncing and row is not None:
            self.joint_selected.emit(row)

    def _on_visibility(self, joint: int, visibility: int) -> None:
        if self._syncing or self._keypoints is None:
            return
        kp = self._keypoints
        if visibility > 0 and kp[joint, 2] <= 0 and not np.any(kp[joint, :2]):
            self.place_requested.emit([joint])  # no position yet: click where it is
            return
        self.visibility_requested.emit(joint, int(visibility))

    def _place_missing(self) -> None:
        if self._keypoints is None:
            return
        missing = [j for j in range(len(self._keypoints)) if self._keypoints[j, 2] <= 0]
        if missing:
            self.place_requested.emit(missing)
