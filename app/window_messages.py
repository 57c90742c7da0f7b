"""Messages the window shows without blocking: window-modal boxes opened with ``open()`` (never
``exec()``), so no modal loop stalls the event loop or a test; and the text shown for an
unexpected exception, which keeps the app and the document alive.
"""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


class MessageBoxes:
    """Opens message boxes over ``parent`` and keeps each alive until it is closed."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent
        self.open_boxes: list[QMessageBox] = []

    def show(self, icon: QMessageBox.Icon, title: str, text: str, details: str = "") -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.parent)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _r, b=box: self.open_boxes.remove(b) if b in self.open_boxes else None)
        self.open_boxes.append(box)
        box.open()
        return box


def unexpected_error(exc_type, exc, tb) -> tuple[str, str]:
    """(text, details) for an exception that reached ``sys.excepthook``; logs the traceback."""
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("Unexpected error:\n%s", details)
    text = (f"{exc_type.__name__}: {exc}\n\nThe app keeps running and your annotations are intact "
            "(autosave keeps a recovery copy). Please save your work and report this error.")
    return text, details
