"""The panel shape that the People list and the Person panel share: a bold title, a read-only
table whose rows are selected whole and one at a time (columns fit their contents, the last one
stretches), and a row of buttons below. Written once so that the two docks look and behave alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)


class TablePanel(QWidget):
    """``title`` (a QLabel), ``table`` (the QTableWidget) and ``buttons`` (an empty QHBoxLayout for
    the subclass). ``_syncing`` is True while the subclass refills the table, so that its selection
    handlers can tell the user's clicks from its own updates."""

    def __init__(self, title: str, columns: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._syncing = False
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold; padding: 2px;")
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels(list(columns))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.buttons = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(self.buttons)

    def selected_row(self) -> int | None:
        """The one selected row, else None."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        return next(iter(rows)) if len(rows) == 1 else None
