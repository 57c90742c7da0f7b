"""Application entry point: logging, QApplication, main window."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("HRNet Pose Annotator")
    window = QMainWindow()
    window.setWindowTitle("HRNet Pose Annotator")
    window.resize(1280, 800)
    window.show()
    return app.exec()
