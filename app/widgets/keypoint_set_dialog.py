"""Choose and edit a keypoint set: templates and a skeleton editor.

The widgets only show and edit a :class:`~app.keypoint_set_editor.KeypointSetDraft`; every
decision (what the set is, which labels each joint keeps, what is wrong) lives there. The dialog
asks before joints with labels are removed; the caller turns the accepted draft into an undoable
:class:`~app.keypoint_commands.SetKeypointSet`.

- Template: COCO-17, MPII-16, hand-21, AP-10K animal-17 (joints with the same name keep labels).
- The picture (:class:`~app.widgets.skeleton_picture.SkeletonPictureWidget`): the joints laid out
  as a figure; click one joint then another to connect or disconnect them (a chain: one click per
  joint), Shift+click for a left/right pair, drag to move a joint, double-click to rename it.
- The table, the precise way: add, rename (double-click the name), remove, move up/down, OKS sigma
  per joint; *Connect / disconnect* two selected joints (or double-click an edge to drop it);
  *Make left/right pair* of two selected joints, or *Pair by names*.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTableWidgetSelectionRange,
    QVBoxLayout,
    QWidget,
)

from app.keypoint_set_editor import KeypointSetDraft
from app.texts import people as n_people
from app.widgets.skeleton_picture import SkeletonPictureWidget

__all__ = ["KeypointSetDialog"]

_NAME, _SIGMA, _PARTNER = range(3)


class KeypointSetDialog(QDialog):
    """Edit ``draft`` in place. ``labelled`` = how many people have labels (for the warning);
    ``confirm`` asks before labelled joints are removed (replaceable in tests)."""

    def __init__(self, draft: KeypointSetDraft, parent: QWidget | None = None, *, new_project: bool = False,
                 labelled: int = 0, confirm: Callable[[str, str], bool] | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self.labelled = labelled
        self._confirm = confirm or self._ask
        self._syncing = False
        self.setWindowTitle("New project: keypoint set" if new_project else "Keypoint set of this project")
        self.resize(1120, 620)

        self.template_combo = QComboBox()
        self.template_combo.addItem("— keep the current set —", "")
        for name in draft.template_names():
            self.template_combo.addItem(name, name)
        use = self.use_template_button = QPushButton("Use template")
        use.clicked.connect(self._use_template)
        top = QHBoxLayout()
        top.addWidget(QLabel("Start from"))
        top.addWidget(self.template_combo, 1)
        top.addWidget(use)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Joint", "OKS sigma", "Left/right partner"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        self.picture = SkeletonPictureWidget(draft)
        self.picture.joint_selected.connect(self._on_picture_selection)
        self.picture.rename_requested.connect(self._rename_in_table)
        self.picture.edited.connect(self.refresh)

        buttons = QVBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, slot in (
            ("add", "Add joint", self._add), ("mirror", "Add other side", self._mirror),
            ("remove", "Remove", self._remove), ("up", "Move up", lambda: self._move(-1)),
            ("down", "Move down", lambda: self._move(1)), ("edge", "Connect / disconnect", self._edge),
            ("pair", "Make left/right pair", self._pair), ("unpair", "Unpair", self._unpair),
            ("auto", "Pair by names", self._auto_pair),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
            self.buttons[key] = b
        buttons.addStretch(1)

        self.edge_list = QListWidget()
        self.edge_list.setToolTip("Skeleton edges; double-click one to remove it")
        self.edge_list.itemDoubleClicked.connect(self._drop_edge)
        edges = QVBoxLayout()
        edges.addWidget(QLabel("Edges"))
        edges.addWidget(self.edge_list)

        hint = QLabel("Click a joint, then another to connect / disconnect them · Shift+click: left/right pair · "
                      "drag: move · double-click: rename")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")
        picture_box = QVBoxLayout()
        picture_box.addWidget(self.picture, 1)
        picture_box.addWidget(hint)
        middle = QHBoxLayout()
        middle.addLayout(picture_box, 4)
        middle.addWidget(self.table, 3)
        middle.addLayout(buttons)
        middle.addLayout(edges, 2)

        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #ffb070;")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.box.accepted.connect(self.accept)
        self.box.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.box)
        self.refresh()

    # -- view of the draft -------------------------------------------------------------------
    def refresh(self) -> None:
        d = self.draft
        self._syncing = True
        try:
            selected = self.selected_rows()
            self.table.setRowCount(len(d))
            names = d.names()
            for row, joint in enumerate(d.joints):
                item = QTableWidgetItem(joint.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                if joint.origin is None:
                    item.setToolTip("new joint: unlabelled (v=0) on every person")
                self.table.setItem(row, _NAME, item)
                spin = QDoubleSpinBox()
                spin.setDecimals(3)
                spin.setRange(0.001, 1.0)
                spin.setSingleStep(0.005)
                spin.setValue(joint.sigma)
                spin.valueChanged.connect(lambda v, r=row: self.draft.set_sigma(r, v))
                self.table.setCellWidget(row, _SIGMA, spin)
                partner = d.partner(row)
                p_item = QTableWidgetItem("" if partner is None else names[partner])
                p_item.setFlags(p_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, _PARTNER, p_item)
            self.edge_list.clear()
            for a, b in d.edge_rows():
                self.edge_list.addItem(f"{names[a]} — {names[b]}")
            self.select_rows([r for r in selected if r < len(d)])
            if self.picture.selected is not None and self.picture.selected >= len(d):
                self.picture.set_selected(None)
        finally:
            self._syncing = False
        self.picture.update()
        problems = d.problems()
        self.problems_label.setText("\n".join(problems))
        self.box.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)
        parts = [f"{len(d)} joints, {len(d.edges)} edges, {len(d.pairs)} left/right pairs"]
        if d.added_joints():
            parts.append("new (unlabelled on every person): " + ", ".join(d.added_joints()))
        if d.removed_joints():
            parts.append("removed: " + ", ".join(d.removed_joints()))
        self.summary_label.setText("; ".join(parts))

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def select_rows(self, rows: list[int]) -> None:
        """Select these joints (what a click / ctrl-click on the rows does)."""
        self.table.clearSelection()
        for r in rows:
            self.table.setRangeSelected(QTableWidgetSelectionRange(r, 0, r, 2), True)

    # -- the picture <-> the table --------------------------------------------------------------
    def _on_table_selection(self) -> None:
        if self._syncing:
            return
        rows = self.selected_rows()
        self.picture.set_selected(rows[0] if len(rows) == 1 else None)

    def _on_picture_selection(self, row: int) -> None:
        self._syncing = True
        try:
            self.select_rows([row] if row >= 0 else [])
            if row >= 0:
                self.table.scrollToItem(self.table.item(row, _NAME))
        finally:
            self._syncing = False

    def _rename_in_table(self, row: int) -> None:
        item = self.table.item(row, _NAME)
        if item is not None:
            self.table.setCurrentItem(item)
            self.table.editItem(item)

    # -- edits ---------------------------------------------------------------------------------
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._syncing or item.column() != _NAME:
            return
        self.draft.rename_joint(item.row(), item.text())
        self.refresh()

    def _use_template(self) -> None:
        name = self.template_combo.currentData()
        if name:
            self.draft.use_template(name)
            self.refresh()

    def _add(self) -> None:
        rows = self.selected_rows()
        row = self.draft.add_joint(after=rows[-1] if rows else None)
        self.refresh()
        self.select_rows([row])

    def _mirror(self) -> None:
        for r in self.selected_rows():
            self.draft.add_mirror(r)
        self.refresh()

    def _remove(self) -> None:
        for r in reversed(self.selected_rows()):
            self.draft.remove_joint(r)
        self.refresh()

    def _move(self, step: int) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            self.draft.move_joint(rows[0], rows[0] + step)
            self.refresh()
            self.select_rows([max(0, min(rows[0] + step, len(self.draft) - 1))])

    def _edge(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 2:
            self.draft.toggle_edge(*rows)
            self.refresh()

    def _drop_edge(self, item) -> None:
        a, b = self.draft.edge_rows()[self.edge_list.row(item)]
        self.draft.toggle_edge(a, b)
        self.refresh()

    def _pair(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 2:
            self.draft.set_pair(*rows)
            self.refresh()

    def _unpair(self) -> None:
        for r in self.selected_rows():
            self.draft.unpair(r)
        self.refresh()

    def _auto_pair(self) -> None:
        self.draft.pair_by_names()
        self.refresh()

    # -- accepting -----------------------------------------------------------------------------
    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        if self.draft.problems():
            return
        removed = self.draft.removed_joints()
        if removed and self.labelled:
            text = (f"Remove {len(removed)} joint(s): {', '.join(removed[:10])}{' …' if len(removed) > 10 else ''}?\n"
                    f"Their labels on {n_people(self.labelled)} are dropped (Edit > Undo brings them back).")
            if not self._confirm("Remove joints?", text):
                return
        super().accept()
