"""Open, save, recover and export a project: :class:`ProjectController`.

It owns the file dialogs, the recent-files list, the bundled sample project's writable copy, the
recovery files of :mod:`app.autosave` and the export worker. It reports through signals —
``error(title, text)``, ``message(text, ms)``, ``opened()``, ``closed()``, ``recent_changed(list)``,
``recoveries_changed(list)``, ``export_finished(result)`` — and never touches the window's widgets,
so the window only wires it to its status bar, start page and menus.
"""

from __future__ import annotations

import copy
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from app.autosave import AutosaveManager, Recovery, discard_recovery, find_recoveries, read_recovery
from app.bundled import sample_dir
from app.document import AnnotationDocument
from app.model_manager import describe_error
from app.project_opener import BIG_PROJECT_BYTES, ProjectOpenWorker, is_big_project, open_in_background
from app.settings import AppSettings
from app.sources import OPEN_FILTER, PROJECT_FILTER, VIDEO_FILTER, FrameSource
from app.texts import frames as n_frames
from app.widgets.export_dialog import ExportDialog
from app.workers import FunctionWorker
from hrnet import HRNetError, journal_path

log = logging.getLogger(__name__)

SAMPLE_DIR = sample_dir()
SAMPLE_PROJECT = "project.json"


def _journal_bytes(rec: Recovery) -> int:
    try:
        return journal_path(rec.path).stat().st_size
    except OSError:
        return 0


class ProjectController(QObject):
    """The document's life cycle on disk: open, save, recover, export."""

    error = Signal(str, str)  # title, text
    message = Signal(str, int)  # status text, timeout in ms (0: until replaced)
    opened = Signal()  # a project, images or a video were opened (or recovered)
    closing = Signal()  # the document is about to be emptied (stop work on it)
    closed = Signal()
    recent_changed = Signal(list)  # the recent files, newest first
    recoveries_changed = Signal(list)  # list[Recovery], newest first
    export_running = Signal(bool)
    export_finished = Signal(object)  # app.export.ExportResult
    model_wanted = Signal(dict)  # a recovered session's pose model (ModelSpec fields): load it

    def __init__(self, document: AnnotationDocument, settings: AppSettings, autosave: AutosaveManager,
                 recovery_dir: str | Path | None = None, dialog_parent: QWidget | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.settings = settings
        self.autosave = autosave
        self.recovery_dir = Path(recovery_dir) if recovery_dir is not None else None
        self.dialog_parent = dialog_parent
        self.recoveries: list[Recovery] = []
        self.export_worker: FunctionWorker | None = None
        self._workers: set[FunctionWorker] = set()  # referenced until their thread has finished
        self.open_worker: ProjectOpenWorker | None = None  # a big project being read
        document.saved.connect(self._on_saved)
        document.save_failed.connect(self._on_save_failed)

    # ------------------------------------------------------------------ opening
    def confirm_discard(self) -> bool:
        """True when it is OK to drop the current document (saved, or the user chose)."""
        if not self.document.is_dirty:
            return True
        answer = QMessageBox.question(
            self.dialog_parent, "Unsaved changes", "The project has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def open_paths(self, paths: Sequence[str | Path], image_root: str | Path | None = None,
                   confirm: bool = True) -> bool:
        """Open images / folders / videos / one project JSON; errors become messages. True on success,
        or when a big project (:func:`app.project_opener.is_big_project`) started opening in the
        background (``opened`` follows)."""
        paths = [Path(p) for p in paths]
        if not paths:
            return False
        if confirm and not self.confirm_discard():
            return False
        if is_big_project(paths):  # read on a worker thread behind a progress dialog with Cancel
            return self._open_in_background(paths, image_root)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            t0 = time.perf_counter()
            self.document.open(paths, image_root=image_root)
            elapsed = time.perf_counter() - t0
        except (HRNetError, OSError, ValueError) as e:
            QApplication.restoreOverrideCursor()
            self.error.emit("Cannot open", describe_error(e))
            return False
        QApplication.restoreOverrideCursor()
        self._after_open(paths, elapsed)
        return True

    def _open_in_background(self, paths: list[Path], image_root: str | Path | None) -> bool:
        """Start reading a big project (app.project_opener); True when started. The document is
        replaced when it is read; Cancel leaves it as it was."""
        if self.open_worker is not None:
            return False  # one at a time (the progress dialog is modal anyway)
        t0 = time.perf_counter()

        def opened(data, source) -> None:
            self.open_worker = None
            self.document.set_content(data, source, path=data.path)
            self._after_open(paths, time.perf_counter() - t0)

        def failed(message: str) -> None:
            self.open_worker = None
            self.error.emit("Cannot open", message)

        self.open_worker = open_in_background(self.dialog_parent, paths, image_root, opened, failed)
        self.open_worker.cancelled.connect(lambda: setattr(self, "open_worker", None))
        return True

    def _after_open(self, paths: list[Path], elapsed: float) -> None:
        if len(paths) == 1:
            self._remember(paths[0])
        self.opened.emit()
        n = self.document.num_frames()
        self.message.emit(f"Opened {n_frames(n)} in {elapsed * 1000:.0f} ms", 5000)
        if any(p.suffix.lower() == ".json" for p in paths):
            missing = self.document.source.missing()
            if missing:
                self.error.emit("Images not found",
                                f"{len(missing)} of {n} images of this project were not found (first: "
                                f"{self.document.source.path(missing[0])}).\nUse File > Locate image folder… "
                                "to point the project at its images.")

    def dialog_dir(self) -> str:
        return self.settings.last_dir()

    def open_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.dialog_parent, "Open images, a video or a project",
                                                self.dialog_dir(), OPEN_FILTER)
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Open a folder of images", self.dialog_dir())
        if folder:
            self.open_paths([folder])

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open a video", self.dialog_dir(),
                                              f"{VIDEO_FILTER};;All files (*)")
        if path:
            self.open_paths([path])

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open a project or COCO keypoint JSON",
                                              self.dialog_dir(), f"{PROJECT_FILTER};;All files (*)")
        if path:
            self.open_paths([path])

    def locate_images_dialog(self) -> None:
        path = self.document.path
        if path is None:
            self.error.emit("Locate images", "Only a project or COCO JSON file has an image folder to locate.")
            return
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Folder with the project's images",
                                                  str(Path(path).parent))
        if folder:
            self.open_paths([path], image_root=folder)

    def sample_project_path(self) -> Path:
        """A writable copy of the bundled sample project (made on first use)."""
        base = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or
                    Path.home() / ".hrnet-pose")
        target = base / "sample-project"
        marker = target / ".version"
        stamp = str((SAMPLE_DIR / SAMPLE_PROJECT).stat().st_mtime_ns) if (SAMPLE_DIR / SAMPLE_PROJECT).exists() else ""
        if not (target / SAMPLE_PROJECT).exists() or not marker.exists() or marker.read_text() != stamp:
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(SAMPLE_DIR, target)
            marker.write_text(stamp)
        return target / SAMPLE_PROJECT

    def open_sample(self) -> bool:
        if not (SAMPLE_DIR / SAMPLE_PROJECT).exists():
            self.error.emit("Sample project missing", f"{SAMPLE_DIR / SAMPLE_PROJECT} is not installed.")
            return False
        try:
            path = self.sample_project_path()
        except OSError as e:
            self.error.emit("Cannot copy the sample project", str(e))
            return False
        return self.open_paths([path])

    def close_project(self) -> bool:
        if not self.confirm_discard():
            return False
        self.closing.emit()
        self.document.set_content(type(self.document.data)())
        self.closed.emit()
        return True

    # ------------------------------------------------------------------ recent files
    def _remember(self, path: Path) -> None:
        self.settings.add_recent_file(path)
        self.settings.set_last_dir(path)
        self.recent_changed.emit(self.settings.recent_files())

    def clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self.recent_changed.emit(self.settings.recent_files())

    # ------------------------------------------------------------------ recovery
    def check_recoveries(self) -> list[Recovery]:
        try:
            self.recoveries = find_recoveries(self.recovery_dir)
        except OSError:
            self.recoveries = []
        self.recoveries_changed.emit(self.recoveries)
        return self.recoveries

    def recover_latest(self) -> bool:
        recoveries = self.check_recoveries()
        if not recoveries:
            self.message.emit("Nothing to recover", 4000)
            return False
        if not self.confirm_discard():
            return False
        rec = recoveries[0]
        if is_big_project([rec.path]) or _journal_bytes(rec) >= BIG_PROJECT_BYTES:
            return self._recover_in_background(rec)
        try:
            self.autosave.recover(rec)
        except (HRNetError, OSError, ValueError) as e:
            self.error.emit("Cannot recover", f"{rec.path}: {describe_error(e)}")
            return False
        self._after_recover(rec)
        return True

    def _recover_in_background(self, rec: Recovery) -> bool:
        """Read a big recovery on a worker behind a progress dialog with Cancel (the path that
        opening a big project takes); the document is replaced when it is read. True: started."""
        if self.open_worker is not None:
            return False

        def read(progress):
            data, token = read_recovery(rec, progress=progress)
            return data, FrameSource(data), token

        def done(data, source, token) -> None:
            self.open_worker = None
            try:
                self.autosave.adopt(rec, data, token, source)
            except (HRNetError, OSError, ValueError) as e:
                self.error.emit("Cannot recover", f"{rec.path}: {describe_error(e)}")
                return
            self._after_recover(rec)

        def failed(message: str) -> None:
            self.open_worker = None
            self.error.emit("Cannot recover", f"{rec.path}: {message}")

        self.open_worker = open_in_background(self.dialog_parent, [rec.path], None, done, failed, reader=read,
                                              title="Recovering unsaved work")
        self.open_worker.cancelled.connect(lambda: setattr(self, "open_worker", None))
        return True

    def _after_recover(self, rec: Recovery) -> None:
        self.check_recoveries()
        self.opened.emit()
        self.message.emit(f"Recovered {rec.describe()} — save it to keep it", 10000)
        model = rec.model or self.settings.model_spec()  # (older recovery files carry no model)
        if model:
            self.model_wanted.emit(model)

    def discard_recoveries(self) -> None:
        for rec in self.recoveries:
            discard_recovery(rec)
        self.check_recoveries()

    # ------------------------------------------------------------------ saving
    def save(self) -> bool:
        doc = self.document
        if doc.num_frames() == 0:
            return False
        if doc.path is None:
            return self.save_as()
        return self.save_to(doc.path)

    def save_in_background(self) -> bool:
        """Ctrl+S: write the document on a worker thread (AnnotationDocument.save_in_background);
        the window stays responsive. Save As when there is no file yet. True when started."""
        doc = self.document
        if doc.num_frames() == 0:
            return False
        if doc.path is None:
            return self.save_as(background=True)
        return self._save_in_background(doc.path)

    def _save_in_background(self, path: Path) -> bool:
        try:
            target = self.document.save_in_background(path)
        except (HRNetError, OSError, ValueError) as e:
            self.error.emit("Cannot save", f"{path}: {describe_error(e)}\nYour changes are still here and in "
                                           "the autosave recovery file.")
            return False
        self.message.emit(f"Saving {target}…", 0)
        return True

    def _on_saved(self, path: Path) -> None:
        self._remember(Path(path))
        self.message.emit(f"Saved {path}", 5000)

    def _on_save_failed(self, path: Path, message: str) -> None:
        self.error.emit("Cannot save", f"{path}: {message}\nYour changes are still here and in the autosave "
                                       "recovery file.")

    def save_as(self, background: bool = False) -> bool:
        """Ask for a file and save there: synchronously (True = saved; saving before closing
        needs that), or with ``background`` on a worker like Ctrl+S (True = started)."""
        doc = self.document
        if doc.num_frames() == 0:
            return False
        if doc.path is not None:
            default = str(doc.path)
        else:
            root = doc.data.image_root or Path(self.dialog_dir())
            default = str(Path(root) / "pose_annotations.json")
        path, _ = QFileDialog.getSaveFileName(self.dialog_parent, "Save project as COCO keypoint JSON", default,
                                              "COCO keypoint JSON (*.json)")
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        if background:
            return self._save_in_background(Path(path))
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except (HRNetError, OSError, ValueError) as e:
            self.error.emit("Cannot save", f"{path}: {describe_error(e)}\nYour changes are still here and in the "
                                           "autosave recovery file.")
            return False
        return True  # remembered and reported by _on_saved

    # ------------------------------------------------------------------ export
    def export_dialog(self) -> ExportDialog | None:
        doc = self.document
        if doc.num_frames() == 0:
            return None
        base = Path(doc.path).parent if doc.path is not None else Path(doc.data.image_root or self.dialog_dir())
        reviewed = sum(1 for f in doc.data.frames if f.reviewed)
        dialog = ExportDialog(str(base / "export"), doc.num_frames(), reviewed, self.dialog_parent)
        dialog.accepted.connect(lambda: self.export(**dialog.options()))
        dialog.open()
        return dialog

    def export(self, out_dir: str | Path, val_fraction: float = 0.2, only_reviewed: bool = False,
               seed: int = 0) -> FunctionWorker | None:
        """Export for training on a worker thread, from a snapshot (editing goes on meanwhile).

        ``export_finished(result)`` follows, or an error message.
        """
        from app.export import export_for_training
        from app.sources import FrameSource

        if self.export_worker is not None:
            self.message.emit("An export is already running", 4000)
            return None
        snapshot = copy.deepcopy(self.document.data)
        # No Qt parent: referenced here until the thread has finished (a QThread destroyed while
        # running aborts the process).
        worker = FunctionWorker(export_for_training, snapshot, FrameSource(snapshot), Path(out_dir),
                                val_fraction=val_fraction, only_reviewed=only_reviewed, seed=seed)
        self.export_worker = worker
        self._workers.add(worker)
        worker.done.connect(lambda result, w=worker: self._on_export_done(w, result))
        worker.failed.connect(lambda message, w=worker: self._on_export_failed(w, message))
        worker.finished.connect(lambda w=worker: self._workers.discard(w))
        self.export_running.emit(True)
        self.message.emit(f"Exporting to {out_dir} …", 0)
        worker.start()
        return worker

    def _end_export(self, worker: FunctionWorker) -> None:
        if worker is self.export_worker:
            self.export_worker = None
        self.export_running.emit(False)

    def _on_export_done(self, worker: FunctionWorker, result) -> None:
        self._end_export(worker)
        note = f"; {n_frames(len(result.skipped))} skipped (unreadable)" if result.skipped else ""
        self.message.emit(
            f"Exported {len(result.train_frames)} train / {len(result.val_frames)} val frames to "
            f"{Path(result.train_json).parent} in {worker.elapsed_s:.1f} s{note}", 15000)
        self.export_finished.emit(result)

    def _on_export_failed(self, worker: FunctionWorker, message: str) -> None:
        self._end_export(worker)
        self.error.emit("Export failed", message)

    def shutdown(self, timeout_ms: int = 60000) -> None:
        """Stop and wait for the export threads and a project being opened (at close)."""
        if self.open_worker is not None:
            self.open_worker.cancel()
            self.open_worker.wait(timeout_ms)
        for worker in list(self._workers):
            worker.requestInterruption()
            worker.wait(timeout_ms)
