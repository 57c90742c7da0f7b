"""Ctrl+S without freezing the window: the document is written on a worker thread.

:func:`save_without_blocking` is what the Save action runs: the GUI thread takes a
copy-on-write snapshot (:meth:`AnnotationDocument.save_in_background`) and goes on; the result
is reported by :func:`connect_save_reports` (status bar, recent files, or an error message).
Save As, and saving before closing, stay synchronous (``MainWindow.save``/``_save_to``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.model_manager import describe_error
from hrnet.errors import HRNetError

__all__ = ["connect_save_reports", "save_without_blocking"]


def save_without_blocking(window: Any) -> bool:
    """Start saving ``window.document`` to its file (Save As when it has none). True when started."""
    doc = window.document
    if doc.num_frames() == 0:
        return False
    if doc.path is None:
        return bool(window.save_as())
    try:
        target = doc.save_in_background()
    except (HRNetError, OSError, ValueError) as e:
        window.show_error("Cannot save", f"{doc.path}: {describe_error(e)}\nYour changes are still here and in the "
                                         "autosave recovery file.")
        return False
    window.statusBar().showMessage(f"Saving {target}…")
    return True


def connect_save_reports(window: Any) -> None:
    doc = window.document

    def saved(path: Path) -> None:
        window.settings.add_recent_file(path)
        window.settings.set_last_dir(path)
        window._rebuild_recent_menu()
        window.statusBar().showMessage(f"Saved {path}", 5000)

    def failed(path: Path, message: str) -> None:
        window.show_error("Cannot save", f"{path}: {message}\nYour changes are still here and in the "
                                         "autosave recovery file.")

    doc.saved.connect(saved)
    doc.save_failed.connect(failed)
