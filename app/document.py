"""The annotation document: the one authoritative copy of the project, its undo stack and signals.

Widgets read from :class:`AnnotationDocument`, change it only by pushing commands
(:mod:`app.commands`) and redraw on its narrow, past-tense signals. Dirty state is the undo
stack's clean state: saving marks it clean; undoing back to the saved state is clean again.
No widget code here.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.forked_writer import run_forked
from app.sources import FrameSource, open_paths
from hrnet import (
    AnnotationError,
    Frame,
    Instance,
    KeypointSet,
    PoseDocument,
    apply_ids,
    file_crc,
    write_coco_snapshot,
    write_save_delta,
)

__all__ = ["AnnotationDocument"]

logger = logging.getLogger(__name__)

#: A save goes through a delta (see :meth:`AnnotationDocument.save_in_background`) while at most
#: this share of the frames changed since the document matched its file (and at least
#: :data:`DELTA_MIN_FRAMES` are always allowed).
DELTA_MAX_SHARE = 0.25
DELTA_MIN_FRAMES = 256


def delta_allowed(changed: int, total: int) -> bool:
    """True when ``changed`` frames of ``total`` are few enough for a delta (save or autosave)."""
    return changed <= max(DELTA_MIN_FRAMES, int(DELTA_MAX_SHARE * total))


class _DeltaUnavailable(Exception):
    """The delta path cannot be used (no Python to run, the file changed): write it all."""


def _run_delta_child(project: Path, delta: Path, target: Path) -> list:
    """``python -m hrnet.journal apply`` in a new process (spawned with vfork: no copy of this
    process's page tables); the id plan it returns."""
    if getattr(sys, "frozen", False) or not sys.executable:  # a bundled app: no interpreter to run
        raise _DeltaUnavailable("no Python interpreter to run the save process")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        r = subprocess.run([sys.executable, "-m", "hrnet.journal", "apply", str(project), str(delta), str(target)],
                           capture_output=True, env=env, timeout=3600, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise _DeltaUnavailable(f"cannot run the save process: {e}") from e
    try:
        out = json.loads(r.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        raise _DeltaUnavailable(f"the save process ended with status {r.returncode}: "
                                f"{r.stderr.decode('utf-8', 'replace')[-500:]}") from e
    if "error" in out:
        if "changed since" in out["error"]:
            raise _DeltaUnavailable(out["error"])
        raise AnnotationError(out["error"])
    return out["plan"]


class AnnotationDocument(QObject):
    """Owns a :class:`~hrnet.annotations.PoseDocument` (``data``), its :class:`FrameSource`
    (``source``), a ``QUndoStack`` (``undo_stack``) and the file it is saved to (``path``).

    Signals (emitted on the GUI thread, after the change):

    - ``frame_changed(int)`` — the current frame index changed.
    - ``frames_changed()`` — the frame list was replaced (open, load, recover).
    - ``instances_changed(int)`` — people of frame i were added, removed or replaced.
    - ``instance_changed(int, int)`` — person (frame, instance) was edited (joints, box, ...).
    - ``reviewed_changed(int)`` — the reviewed flag of frame i changed.
    - ``dirty_changed(bool)`` — unsaved changes appeared / disappeared.
    - ``path_changed(object)`` — the file path (Path or None) changed.
    - ``saved(object)`` — the document was written to this path.
    - ``keypoint_set_changed()`` — the project's keypoint set (names, skeleton, pairs...) changed.
    """

    frame_changed = Signal(int)
    frames_changed = Signal()
    instances_changed = Signal(int)
    instance_changed = Signal(int, int)
    reviewed_changed = Signal(int)
    dirty_changed = Signal(bool)
    path_changed = Signal(object)
    saved = Signal(object)
    save_failed = Signal(object, str)  # (path, message) of a background save that failed
    _save_done = Signal(object, object, int, object)  # (path, error, undo index, token) from the writer
    keypoint_set_changed = Signal()

    def __init__(
        self,
        data: PoseDocument | None = None,
        source: FrameSource | None = None,
        path: str | os.PathLike[str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._data = data if data is not None else PoseDocument()
        self._source = source if source is not None else FrameSource(self._data)
        self._path: Path | None = Path(path) if path is not None else None
        self._current = 0
        self._dirty = False
        self._reset_tracking()
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="save")
        self._save_future: Future | None = None
        self._save_token: object | None = None  # identifies the save whose result is still to be reported
        self._save_done.connect(self._on_save_done)  # queued: emitted by the writer thread
        self.keypoint_set_changed.connect(self._on_keypoint_set_changed)

    # ---------------------------------------------------------------- copy-on-write, change log
    # Frames are shared with snapshots (autosave, background save) and copied before their first
    # change after a snapshot, so a snapshot costs a list copy and an edit costs one frame copy.
    # Every change is logged with a version number, so writers can ask what changed since.
    def _reset_tracking(self) -> None:
        self._shared = False  # True once a snapshot shares the current frame objects
        self._private: set[int] = set()  # frames copied since the last snapshot (safe to change)
        self._own_people: dict[int, Instance] = {}  # people copied since the last snapshot, by id()
        self._version = 0  # bumped by every change
        self._changed: dict[int, int] = {}  # frame index -> version of its last change
        self._file_match: tuple[Path, int, int, int] | None = None  # (file, version, size, mtime_ns)
        self._category_generation = getattr(self, "_category_generation", 0)  # bumped by keypoint set changes

    def _match_file(self, path: Path | None, version: int) -> None:
        """The content at ``version`` is exactly what ``path`` holds (just read or written)."""
        self._file_match = None
        if path is not None:
            try:
                st = Path(path).stat()
            except OSError:
                return
            self._file_match = (Path(path), version, st.st_size, st.st_mtime_ns)

    def file_match(self) -> tuple[Path, int] | None:
        """(file, version): the project file that held exactly the content of :attr:`version`
        ``version`` (opened from it or saved to it since, and the file unchanged on disk since),
        or None. Writers use it to copy that file and add the frames changed since."""
        m = self._file_match
        if m is None:
            return None
        try:
            st = m[0].stat()
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) != (m[2], m[3]):
            return None
        return m[0], m[1]

    def _on_keypoint_set_changed(self) -> None:
        self._file_match = None  # the category is not part of the per-frame change log
        self._category_generation += 1

    def _log_changed(self, frames: Sequence[int]) -> None:
        """Frames changed in place by something other than a command (sizes read from headers)."""
        for f in frames:
            self._version += 1
            self._changed[int(f)] = self._version

    def _touch(self, frame: int) -> Frame:
        """The frame ``frame``, made private (copied if a snapshot shares it), logged as changed."""
        frames = self._data.frames
        fr = frames[frame]
        if self._shared and frame not in self._private:
            fr = fr.cow_copy()
            frames[frame] = fr
            self._private.add(frame)
        self._version += 1
        self._changed[frame] = self._version
        return fr

    @property
    def version(self) -> int:
        """A number that grows with every change of the content (0 after open)."""
        return self._version

    def changed_since(self, version: int) -> list[int]:
        """Indices of the frames changed after ``version`` (see :attr:`version`), sorted."""
        if version >= self._version:
            return []
        return sorted(i for i, v in self._changed.items() if v > version)

    def snapshot(self) -> PoseDocument:
        """A consistent read-only copy of the content for another thread, in O(frames) pointer
        copies: it shares frames and people with this document, which copies a frame before its
        next change. Readers must not modify it (use ``to_coco_dict(..., assign_ids=False)``)."""
        d = self._data
        snap = PoseDocument(frames=list(d.frames), category=d.category, image_root=d.image_root, path=d.path,
                            extra=d.extra, other_categories=d.other_categories)
        self._shared = True
        self._private = set()
        self._own_people = {}
        return snap

    # ---------------------------------------------------------------- state
    @property
    def data(self) -> PoseDocument:
        return self._data

    @property
    def source(self) -> FrameSource:
        return self._source

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def is_dirty(self) -> bool:
        return self._dirty

    def num_frames(self) -> int:
        return len(self._data.frames)

    def frame(self, index: int) -> Frame:
        return self._data.frames[index]

    def instance(self, frame: int, instance: int) -> Instance:
        return self._data.frames[frame].instances[instance]

    def current_index(self) -> int:
        return self._current

    def current_frame(self) -> Frame | None:
        return self._data.frames[self._current] if self._data.frames else None

    def set_current_index(self, index: int) -> None:
        n = len(self._data.frames)
        index = max(0, min(int(index), n - 1)) if n else 0
        if index != self._current:
            self._current = index
            self.frame_changed.emit(index)

    def image(self, index: int) -> np.ndarray:
        """Pixels of frame ``index`` (HxWx3 uint8 BGR), read synchronously; raises MediaError."""
        return self._source.image(index)

    def keypoint_names(self) -> list[str]:
        return list(self._data.category.keypoints)

    def skeleton(self) -> list[tuple[int, int]]:
        return list(self._data.category.skeleton)

    def flip_pairs(self) -> list[tuple[int, int]]:
        return list(self.keypoint_set().flip_pairs)

    def keypoint_set(self) -> KeypointSet:
        """The project's keypoint set (from its COCO category; see :mod:`hrnet.keypoints`)."""
        return self._data.category.keypoint_set()

    # ---------------------------------------------------------------- editing
    def push(self, command: QUndoCommand) -> None:
        """Run ``command`` (its redo) and put it on the undo stack."""
        self.undo_stack.push(command)

    def undo(self) -> None:
        self.undo_stack.undo()

    def redo(self) -> None:
        self.undo_stack.redo()

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def _on_clean_changed(self, clean: bool) -> None:
        self._set_dirty(not clean)

    def mark_dirty(self) -> None:
        """Unsaved although nothing is on the undo stack (e.g. recovered from an autosave)."""
        self.undo_stack.resetClean()
        self._set_dirty(True)

    # Raw mutations for app.commands only (no undo); they emit the narrow signals.
    def _writable_instance(self, frame: int, index: int) -> Instance:
        """Person (frame, index) ready to be changed in place: when a snapshot may share it, a
        shallow copy takes its place first (its arrays are replaced, not written, by commands).
        The caller emits ``instance_changed``."""
        fr = self._touch(frame)
        inst = fr.instances[index]
        if self._shared and id(inst) not in self._own_people:
            new = Instance.__new__(Instance)
            new.__dict__.update(inst.__dict__)
            fr.instances[index] = inst = new
            self._own_people[id(inst)] = inst
        return inst

    def _set_instances(self, frame: int, instances: list[Instance]) -> None:
        self._touch(frame).instances = list(instances)
        self.instances_changed.emit(frame)

    def _set_reviewed(self, frame: int, reviewed: bool) -> None:
        if self._data.frames[frame].reviewed != reviewed:
            self._touch(frame).reviewed = reviewed
            self.reviewed_changed.emit(frame)

    def _show(self, frame: int) -> None:
        """Bring the frame an undo/redo changed into view."""
        self.set_current_index(frame)

    # ---------------------------------------------------------------- files
    def set_content(
        self,
        data: PoseDocument,
        source: FrameSource | None = None,
        path: str | os.PathLike[str] | None = None,
        dirty: bool = False,
    ) -> None:
        """Replace the whole content (open/recover): clears the undo stack, emits frames_changed."""
        old_source = self._source
        self.wait_saved()
        self._save_token = object()  # the result of a save of the old content is not reported
        self._data = data
        self._reset_tracking()
        self._source = source if source is not None else FrameSource(data)
        if old_source is not self._source:
            old_source.close()
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._set_dirty(False)
        if dirty:
            self.mark_dirty()
        self._set_path(Path(path) if path is not None else None)
        if not dirty:  # content read from `path` (open): the file holds it exactly
            self._match_file(self._path, 0)
        self._current = 0
        self.frames_changed.emit()
        self.frame_changed.emit(0)

    def open(self, paths: Sequence[str | os.PathLike[str]], image_root: str | os.PathLike[str] | None = None) -> None:
        """Open images / folders / videos / a project (see :func:`app.sources.open_paths`).

        A project or COCO JSON becomes the document's path; images and videos give an unsaved
        document without a path. Raises MediaError / AnnotationError; the content is unchanged then.
        """
        data, source = open_paths(paths, image_root=image_root)
        self.set_content(data, source, path=data.path)

    def load(self, path: str | os.PathLike[str], image_root: str | os.PathLike[str] | None = None) -> None:
        """Open a saved project or COCO JSON (with its images)."""
        self.open([path], image_root=image_root)

    def _prepare_save(self, path: str | os.PathLike[str] | None) -> tuple[Path, PoseDocument]:
        target = Path(path) if path is not None else self._path
        if target is None:
            raise ValueError("The document has no file yet: give a path (Save As)")
        unknown = [i for i, f in enumerate(self._data.frames) if f.width <= 0 or f.height <= 0]
        if unknown:
            still = set(self._source.ensure_sizes(unknown))
            self._log_changed([i for i in unknown if i not in still])
        return target, self.snapshot()

    def is_saving(self) -> bool:
        """True while a background save is running."""
        return self._save_future is not None and not self._save_future.done()

    def wait_saved(self) -> None:
        """Block until a background save in flight has finished (its result is still delivered)."""
        fut = self._save_future
        if fut is not None:
            fut.result()

    def save_in_background(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Start writing the document to ``path`` (or the current path) on a worker thread.

        The GUI thread only takes a copy-on-write snapshot (:meth:`snapshot`); editing goes on
        while the file is written. When it is done, ``saved`` is emitted (and the document is
        marked clean if nothing changed meanwhile), or ``save_failed`` (the document stays
        dirty, the previous file intact). Raises ValueError when there is no path.

        How the file is made, without ever stalling the GUI thread for long:

        - when the document still matches its project file (:meth:`file_match`) and few frames
          changed since (:func:`delta_allowed`), the worker encodes only those frames into a
          *save delta* and a separate Python process (``python -m hrnet.journal apply``,
          started with vfork) writes the project file with the delta applied;
        - otherwise, or when that process cannot run, a forked copy of this process writes the
          whole snapshot (:func:`app.forked_writer.run_forked`: the fork itself holds the
          interpreter lock while the kernel copies the page tables, tens to hundreds of ms for
          a process of a GB).

        People without an id get one in the file; the live document's people get the same ids
        when the result comes back.
        """
        self.wait_saved()  # one save at a time, in order
        target, snap = self._prepare_save(path)
        index = self.undo_stack.index()
        version = self._version
        generation = self._category_generation
        match = self.file_match()
        changed = self.changed_since(match[1]) if match is not None else None
        use_delta = changed is not None and delta_allowed(len(changed), len(snap.frames))
        token = object()
        self._save_token = token

        def write() -> list[tuple[int, int, int | None, int]]:  # runs in a forked child (POSIX)
            plan = write_coco_snapshot(snap, target)
            where = {id(inst): (fi, ii) for fi, fr in enumerate(snap.frames) for ii, inst in enumerate(fr.instances)}
            return [(*where[id(inst)], old, new) for inst, old, new in plan]

        def by_delta() -> list:
            project = match[0]  # type: ignore[index]
            crc, size = file_crc(project)
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".delta", dir=target.parent)
            os.close(fd)
            delta = Path(name)
            try:
                write_save_delta(snap, changed, project, crc, size, delta)  # type: ignore[arg-type]
                return _run_delta_child(project, delta, target)
            finally:
                try:
                    delta.unlink()
                except OSError:
                    pass

        def job() -> None:
            result: object = None
            try:
                plan = None
                if use_delta:
                    try:
                        plan = by_delta()
                    except _DeltaUnavailable as e:
                        logger.warning("saving %s without a delta: %s", target, e)
                if plan is None:
                    plan = run_forked(write)
                st = target.stat()
                result = {"plan": [(snap.frames[fi].instances[ii], old, new) for fi, ii, old, new in plan],
                          "file": (target, version, st.st_size, st.st_mtime_ns), "generation": generation}
            except (AnnotationError, OSError, RuntimeError) as e:
                result = str(e)
            try:
                self._save_done.emit(target, result, index, token)
            except RuntimeError:  # the document is gone
                pass

        self._save_future = self._saver.submit(job)
        return target

    def _on_save_done(self, target: Path, result: object, index: int, token: object) -> None:
        if token is not self._save_token:
            return  # the content was replaced meanwhile
        if isinstance(result, str):
            logger.warning("saving %s failed: %s", target, result)
            self.save_failed.emit(target, result)
            return
        apply_ids(result["plan"])  # type: ignore[index]  # the ids the file gave new people, so they stay stable
        if result["generation"] == self._category_generation:  # type: ignore[index]
            self._file_match = result["file"]  # type: ignore[index]  # the file holds the snapshot's version
        if self.undo_stack.index() == index:
            self.undo_stack.setClean()
            self._set_dirty(False)
        self._set_path(target)
        self._data.path = target
        logger.info("saved %s (in the background)", target)
        self.saved.emit(target)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the document as COCO JSON (atomically) to ``path`` or the current path.

        Unknown image sizes are read from the image headers first. Marks the undo stack clean.
        Raises ValueError when there is no path, AnnotationError / OSError when writing fails
        (the document stays dirty and the previous file intact).
        """
        self.wait_saved()
        self._save_token = object()  # a background save still to be reported is superseded
        target, snap = self._prepare_save(path)
        version = self._version
        apply_ids(write_coco_snapshot(snap, target))
        self._match_file(target, version)
        self._data.path = target
        self.undo_stack.setClean()
        self._set_dirty(False)
        self._set_path(target)
        logger.info("saved %s", target)
        self.saved.emit(target)
        return target

    def _set_path(self, path: Path | None) -> None:
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)

    def close(self) -> None:
        """Release readers (video files); the document stays usable for reading data.
        Waits for a background save in flight."""
        self.wait_saved()
        self._source.close()
