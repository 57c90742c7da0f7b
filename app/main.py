"""Application entry point: ``python main.py [images | folders | video | project.json ...]``.

Configures logging, creates the QApplication and the main window, opens command-line paths,
and installs a ``sys.excepthook`` that shows unexpected errors in a dialog instead of killing the
app (the document and its autosave stay intact).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("app")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hrnet-annotator",
        description="Pose annotation with HRNet: open images, a folder, a video or a COCO keypoint JSON.")
    parser.add_argument("paths", nargs="*", help="images, folders, videos, or one project / COCO JSON")
    parser.add_argument("--images", metavar="DIR", help="image folder of a COCO JSON given as path")
    parser.add_argument("--model", metavar="EXPERIMENT", help="load this experiment at start")
    parser.add_argument("--weights", metavar="PTH", help="checkpoint (file or registry name) for --model")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample project")
    parser.add_argument("--log-level", default=os.environ.get("HRNET_LOG_LEVEL", "INFO"))
    return parser.parse_args(list(argv))


def install_excepthook(window) -> None:
    """Route uncaught exceptions (GUI thread and worker threads) to the window's error dialog."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        window.handle_exception(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        log.error("Uncaught exception in thread %s", args.thread, exc_info=(args.exc_type, args.exc_value,
                                                                           args.exc_traceback))

    sys.excepthook = hook
    threading.excepthook = thread_hook


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import qt_fixes
    from app.settings import APPLICATION, ORGANIZATION

    qt_fixes.apply()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "hrnet-annotator"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    _apply_dark_palette(app)

    from app.main_window import MainWindow
    from app.model_manager import ModelSpec

    window = MainWindow(auto_load_model=not args.model)
    install_excepthook(window)
    window.show()
    if args.sample:
        QTimer.singleShot(0, window.open_sample)
    elif args.paths:
        paths = [Path(p) for p in args.paths]
        QTimer.singleShot(0, lambda: window.open_paths(paths, image_root=args.images))
    if args.model:
        spec = ModelSpec(args.model, args.weights, args.device)
        window.model_panel.set_spec(spec)
        QTimer.singleShot(0, lambda: window.load_model(spec))
    return app.exec()


def _apply_dark_palette(app) -> None:
    """A calm dark theme: images and colour-coded skeletons read better on dark chrome."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    base, alt, text = QColor(37, 37, 41), QColor(48, 48, 53), QColor(225, 225, 228)
    p.setColor(QPalette.ColorRole.Window, alt)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, alt)
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(20, 20, 22))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, alt)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.Highlight, QColor(42, 130, 218))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.Link, QColor(90, 170, 255))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 125))
    app.setPalette(p)


if __name__ == "__main__":
    sys.exit(main())
