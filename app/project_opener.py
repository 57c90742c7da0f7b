"""Opening a big project (or recovering a big autosave) off the GUI thread, with progress and Cancel.

:class:`ProjectOpenWorker` runs :func:`app.sources.open_paths` (or another reader, e.g. the
autosave recovery's) on a ``QThread`` and reports
``progress(percent)``; :meth:`ProjectOpenWorker.cancel` stops it at the next progress point
(every few thousand people) and it then emits ``cancelled`` and nothing else. The document is
not touched by the worker: the caller puts the result in with ``set_content`` on the GUI thread.

:func:`open_in_background` wires a worker to a ``QProgressDialog`` (shown after 300 ms) for the
window. Small files are opened synchronously by the window (:func:`is_big_project`), so opening
stays one call where it takes milliseconds.

The cyclic garbage collector is off while a big project is read, and the objects alive once it
is in the document are moved to the collector's permanent generation (``gc.freeze``). A full
collection walks every tracked object while holding the interpreter lock: with 150,000 people
loaded that is about 800,000 objects and 1.5 s (measured), and reading them triggers several
such collections on the worker, each one a freeze of the window. Frozen objects are never
walked again; the document's people and frames hold no reference cycles, so they are still
freed by reference counting when the document is replaced.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.model_manager import describe_error
from app.sources import open_paths
from hrnet import HRNetError

__all__ = ["BIG_PROJECT_BYTES", "ProjectOpenWorker", "is_big_project", "open_in_background", "settle_gc"]

log = logging.getLogger(__name__)

#: JSON files from this size on open in the background (about 2,500 people; 0.1-0.2 s to read)
BIG_PROJECT_BYTES = 2_000_000


def is_big_project(paths: Sequence[str | os.PathLike[str]]) -> bool:
    """True for one COCO JSON file of at least :data:`BIG_PROJECT_BYTES`."""
    jsons = [Path(p) for p in paths if Path(p).suffix.lower() == ".json"]
    try:
        return len(jsons) == 1 and jsons[0].stat().st_size >= BIG_PROJECT_BYTES
    except OSError:
        return False


class _Cancelled(Exception):
    pass


class ProjectOpenWorker(QThread):
    progress = Signal(int)  # percent
    done = Signal(object)  # (PoseDocument, FrameSource)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, paths: Sequence[str | os.PathLike[str]], image_root: str | os.PathLike[str] | None = None,
                 parent: QObject | None = None,
                 reader: Callable[[Callable[[float], None]], tuple[Any, ...]] | None = None) -> None:
        """``reader(progress)`` (default: :func:`app.sources.open_paths` of ``paths``) returns the
        tuple ``done`` carries; its second item is the frame source (closed on a late Cancel)."""
        super().__init__(parent)
        self.paths = [Path(p) for p in paths]
        self.image_root = image_root
        self.reader = reader
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def _report(self, fraction: float) -> None:
        if self._cancel:
            raise _Cancelled
        self.progress.emit(int(100 * fraction))
        time.sleep(0.001)  # hand the interpreter lock to the GUI thread between batches

    def run(self) -> None:
        gc.disable()  # see the module doc; settle_gc() turns it back on
        try:
            if self.reader is not None:
                result = self.reader(self._report)
            else:
                result = open_paths(self.paths, image_root=self.image_root, progress=self._report)
        except _Cancelled:
            settle_gc(freeze=False)
            log.info("opening %s cancelled", self.paths[0])
            self.cancelled.emit()
            return
        except (HRNetError, OSError, ValueError, MemoryError) as e:
            settle_gc(freeze=False)
            self.failed.emit(describe_error(e))
            return
        except BaseException:
            settle_gc(freeze=False)
            raise
        if self._cancel:  # cancelled after the last progress point: drop the result
            result[1].close()
            settle_gc(freeze=False)
            self.cancelled.emit()
            return
        self.done.emit(result)  # the receiver calls settle_gc() once the content is in


def settle_gc(freeze: bool = True) -> None:
    """Turn the cyclic garbage collector back on after a read; with ``freeze`` first move every
    object alive now (the new document among them) out of its reach (see the module doc)."""
    if freeze:
        gc.freeze()
    gc.enable()


def open_in_background(
    parent: QWidget | None,
    paths: Sequence[str | os.PathLike[str]],
    image_root: str | os.PathLike[str] | None,
    on_done: Callable[..., None],
    on_failed: Callable[[str], None],
    reader: Callable[[Callable[[float], None]], tuple[Any, ...]] | None = None,
    title: str = "Opening project",
) -> ProjectOpenWorker:
    """Start opening ``paths`` (or running ``reader``, see :class:`ProjectOpenWorker`) with a
    progress dialog; ``on_done(data, source, ...)`` or ``on_failed(message)`` run on the GUI
    thread; nothing runs after Cancel."""
    worker = ProjectOpenWorker(paths, image_root, parent, reader=reader)
    dialog = QProgressDialog(f"{title.split()[0]} {Path(paths[0]).name}…", "Cancel", 0, 100, parent)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    worker.progress.connect(dialog.setValue)
    dialog.canceled.connect(worker.cancel)

    def finish() -> None:
        dialog.reset()
        dialog.deleteLater()

    worker.finished.connect(worker.deleteLater)  # once its thread has really ended

    def done(result: tuple[Any, ...]) -> None:
        finish()
        try:
            on_done(*result)
        finally:
            settle_gc()

    worker.done.connect(done)
    worker.failed.connect(lambda m: (finish(), on_failed(m)))
    worker.cancelled.connect(finish)
    worker.start()
    return worker
