"""Crash safety: a recovery copy of the document written a few seconds after each change.

:class:`AutosaveManager` watches an :class:`~app.document.AnnotationDocument`. After an edit
(undo stack index change) it starts a single-shot timer (``delay_ms``, default 3 s; not restarted
by further edits, so a long editing burst is still saved every few seconds) and then writes the
document, if it has unsaved changes, to its recovery file in the recovery folder
(``QStandardPaths.AppDataLocation/recovery`` or a given folder):

- ``autosave-<pid>-<random>.json`` — the *base*: while the document still matches its project
  file up to a few changed frames (:meth:`AnnotationDocument.file_match`), a kernel copy of that
  file (made on the writer thread, no interpreter lock held) with the changed frames as the
  journal's first record; otherwise the whole document as COCO JSON with absolute image/video
  paths, written atomically in a forked process;
- ``autosave-<pid>-<random>.journal`` — after the base, each autosave appends only the frames
  changed since the previous one (format and crash safety: :mod:`hrnet.journal`); once the journal
  passes ``compact_bytes`` (64 MB) the next autosave writes a new base instead;
- ``autosave-<pid>-<random>.meta.json`` — original path, time, frame count, pid (written after
  the data, atomically).

The files are removed when the document becomes clean (saved, or undone back to the saved
state), when another document is opened, and on :meth:`AutosaveManager.close` (a clean close).
After a crash they stay; on the next start :func:`find_recoveries` lists them (newest first,
skipping those of other app instances still running) and :meth:`AutosaveManager.recover` loads
one into the document as unsaved changes, taking over its file.

Timer-driven writes keep the GUI responsive: the GUI thread only takes a copy-on-write snapshot
(:meth:`AnnotationDocument.snapshot`: a list copy, about 0.3 ms at 60,000 frames) and the list
of frames changed since the last write; a single background thread converts and writes them (in
batches, so the GUI thread gets the interpreter in between); the result comes back as a queued
signal.
Removing the files waits for a write in flight, so a finished save never leaves a stale
recovery file behind. :meth:`AutosaveManager.write_now` writes synchronously.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from app.document import AnnotationDocument, delta_allowed
from app.forked_writer import run_forked
from app.sources import FrameSource
from app.texts import frames as n_frames
from hrnet import (
    AnnotationError,
    PoseDocument,
    append_journal_frames,
    journal_path,
    new_journal_token,
    read_journal_recovery,
    write_journal_base,
    write_journal_copy_base,
    write_json,
)

__all__ = [
    "AutosaveManager",
    "Recovery",
    "default_recovery_dir",
    "discard_recovery",
    "find_recoveries",
    "read_recovery",
]

logger = logging.getLogger(__name__)

_META_SUFFIX = ".meta.json"
# recovery files written by live managers of this process (they are not crash leftovers)
_live: weakref.WeakValueDictionary[str, AutosaveManager] = weakref.WeakValueDictionary()


def default_recovery_dir() -> Path:
    """``<AppDataLocation>/recovery`` (e.g. ~/.local/share/<app>/recovery)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not base:
        base = str(Path.home() / ".hrnet-annotator")
    return Path(base) / "recovery"


@dataclass(frozen=True)
class _State:
    """What the recovery files on disk hold: the base's journal token (None: no base yet), the
    document version written last, the sizes of base and journal."""

    token: str | None = None
    version: int = 0
    base_bytes: int = 0
    journal_bytes: int = 0


@dataclass(frozen=True)
class Recovery:
    """One recovery file left by an earlier session."""

    path: Path  # the recovery document (COCO JSON)
    meta_path: Path
    original_path: Path | None  # the project it is a copy of (None: never saved)
    saved_at: datetime
    num_frames: int
    pid: int
    model: dict | None = None  # the pose model the crashed session used (ModelSpec.to_dict-like), if any

    def describe(self) -> str:
        name = str(self.original_path) if self.original_path else "unsaved document"
        return f"{name} — {n_frames(self.num_frames)}, autosaved {self.saved_at:%Y-%m-%d %H:%M:%S}"


def _pid_running(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    if os.name != "posix":
        return False  # no cheap check: offer the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def find_recoveries(directory: str | os.PathLike[str] | None = None, include_running: bool = False) -> list[Recovery]:
    """Recovery files in ``directory`` (default :func:`default_recovery_dir`), newest first.

    Files still being written by a live :class:`AutosaveManager` of this process, or by another
    app instance that is still running on this machine, are left out unless ``include_running``.
    Unreadable meta files are skipped (logged).
    """
    folder = Path(directory) if directory is not None else default_recovery_dir()
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    out: list[Recovery] = []
    for meta_path in folder.glob(f"*{_META_SUFFIX}"):
        data_path = meta_path.with_name(meta_path.name[: -len(_META_SUFFIX)] + ".json")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            rec = Recovery(
                path=data_path,
                meta_path=meta_path,
                original_path=Path(meta["original_path"]) if meta.get("original_path") else None,
                saved_at=datetime.fromisoformat(meta["saved_at"]),
                num_frames=int(meta.get("num_frames", 0)),
                pid=int(meta.get("pid", 0)),
                model=meta.get("model") if isinstance(meta.get("model"), dict) else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("skipping unreadable recovery file %s: %s", meta_path, e)
            continue
        if not data_path.is_file():
            continue
        if not include_running:
            if str(data_path) in _live:
                continue
            if meta.get("host") == host and _pid_running(rec.pid):
                continue
        out.append(rec)
    out.sort(key=lambda r: r.saved_at, reverse=True)
    return out


def _recovery_files(meta_path: Path, path: Path) -> tuple[Path, ...]:
    """Every file of one recovery (those of an interrupted new base included)."""
    jp = journal_path(path)
    return (meta_path, path, jp, jp.with_name(jp.name + ".tmp"), path.with_name(path.name + ".tmp"))


def discard_recovery(recovery: Recovery) -> None:
    """Delete a recovery file (the user declined it)."""
    for p in _recovery_files(recovery.meta_path, recovery.path):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


class AutosaveManager(QObject):
    """Writes ``document`` to a recovery file ``delay_ms`` after changes (see the module docstring).

    Signals: ``recovery_written(object)`` (the recovery file path), ``failed(str)`` (a write
    failed; the app shows it, editing goes on).
    """

    recovery_written = Signal(object)
    failed = Signal(str)
    _write_done = Signal(object, object, int)  # (path or None, error or None, generation), from the writer

    def __init__(
        self,
        document: AnnotationDocument,
        directory: str | os.PathLike[str] | None = None,
        delay_ms: int = 3000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.directory = Path(directory) if directory is not None else default_recovery_dir()
        self._new_file_name()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(delay_ms))
        self._timer.timeout.connect(self._write_in_background)
        self._enabled = True
        self._adopting = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._inflight: Future | None = None
        self._generation = 0  # bumped when the files are removed: later results are stale
        self._holder: list[_State] = [_State()]  # what the files on disk hold
        self.compact_bytes = 64 * 1024 * 1024
        self.model: dict | None = None  # the pose model in use, kept in the meta so recovery reloads it
        self._write_done.connect(self._on_write_done)  # queued: emitted by the writer thread
        document.undo_stack.indexChanged.connect(self._on_change)
        document.dirty_changed.connect(self._on_dirty_changed)
        document.frames_changed.connect(self._on_content_replaced)
        document.keypoint_set_changed.connect(self._on_keypoint_set_changed)

    def _new_file_name(self) -> None:
        self.recovery_path = self.directory / f"autosave-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        _live[str(self.recovery_path)] = self

    @property
    def meta_path(self) -> Path:
        return self.recovery_path.with_name(self.recovery_path.stem + _META_SUFFIX)

    @property
    def delay_ms(self) -> int:
        return self._timer.interval()

    def is_pending(self) -> bool:
        """True while a write is scheduled."""
        return self._timer.isActive()

    # ------------------------------------------------------------ reactions
    def _on_change(self, *_: object) -> None:
        if self._enabled and self.document.is_dirty and not self._timer.isActive():
            self._timer.start()

    def _on_dirty_changed(self, dirty: bool) -> None:
        if self._adopting:
            return
        if dirty:
            self._on_change()
        else:
            self._timer.stop()
            self.discard(wait=False)

    def _on_keypoint_set_changed(self) -> None:
        """The category is not in the journal's frame records: the next autosave writes a new base."""
        holder = self._holder
        fut = self._inflight
        if fut is not None and not fut.done():  # after the write in flight has set its state
            self._inflight = self._executor.submit(lambda: holder.__setitem__(0, _State()))
        else:
            holder[0] = _State()

    def _on_content_replaced(self) -> None:
        if self._adopting:
            return
        self._timer.stop()
        self.discard()
        if self.document.is_dirty:
            self._on_change()

    # ------------------------------------------------------------ actions
    def _job(self) -> Callable[[], tuple[Path | None, str | None]]:
        """Snapshot the document now (GUI thread: a list copy, see
        :meth:`AnnotationDocument.snapshot`); the returned job writes it (any thread): the whole
        document as a new base when there is none yet or the journal has grown past
        ``compact_bytes``, else only the frames changed since the last write,
        appended to the journal."""
        doc = self.document
        version = doc.version
        snap = doc.snapshot()
        meta = {
            "original_path": str(Path(doc.path).absolute()) if doc.path is not None else None,
            "saved_at": datetime.now().isoformat(timespec="seconds"),
            "num_frames": doc.num_frames(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "format": 2,
            "model": self.model,
        }
        holder = self._holder  # not self: a pending job must not keep the manager alive
        state = holder[0]
        full = state.token is None or state.journal_bytes > self.compact_bytes
        changed = [] if full else doc.changed_since(state.version)
        copy_of = None  # a new base as a kernel copy of the project file + the frames changed since
        if full and (match := doc.file_match()) is not None:
            since = doc.changed_since(match[1])
            if delta_allowed(len(since), len(snap.frames)):
                copy_of, changed = match[0], since
        path, meta_path, directory = self.recovery_path, self.meta_path, self.directory

        def job() -> tuple[Path | None, str | None]:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                if copy_of is not None:
                    token = new_journal_token()
                    size, added = write_journal_copy_base(copy_of, path, token, snap, changed)
                    new = _State(token, version, size, added)
                elif full:
                    token = new_journal_token()
                    size = run_forked(lambda: write_journal_base(snap, path, token))  # no GIL contention
                    new = _State(token, version, size, 0)
                else:
                    added = append_journal_frames(snap, changed, path, state.token) if changed else 0
                    new = _State(state.token, version, state.base_bytes, state.journal_bytes + added)
                write_json(meta_path, meta)
            except (OSError, AnnotationError) as e:
                holder[0] = _State()  # a half-written record may end the journal: next time a new base
                return None, f"Autosave to {path} failed: {e}"
            holder[0] = new  # set here, before the future completes, so the next job sees it
            return path, None

        return job

    def _report(self, path: Path | None, error: str | None) -> None:
        if error is not None:
            logger.warning(error)
            self.failed.emit(error)
        elif path is not None:
            logger.debug("autosaved %s", path)
            self.recovery_written.emit(path)

    def _wait_idle(self) -> None:
        fut = self._inflight
        if fut is not None:
            fut.result()
            self._inflight = None

    def _write_in_background(self) -> None:
        if not self._enabled or not self.document.is_dirty:
            return
        if self._inflight is not None and not self._inflight.done():
            self._timer.start()  # the previous write is still running: try again a little later
            return
        job = self._job()
        generation = self._generation
        fut = self._executor.submit(job)
        self._inflight = fut

        def done(f: Future) -> None:
            try:
                self._write_done.emit(*f.result(), generation)
            except RuntimeError:  # the manager is gone (e.g. the app is being torn down)
                pass

        fut.add_done_callback(done)

    def _on_write_done(self, path: object, error: object, generation: int) -> None:
        if generation == self._generation:
            self._report(path, error)  # type: ignore[arg-type]

    def wait(self) -> None:
        """Block until a background write in flight has finished."""
        self._wait_idle()

    def write_now(self) -> Path | None:
        """Write the recovery file now (synchronously) if the document has unsaved changes.

        Returns its path, or None (clean document, or the write failed: logged and reported by
        ``failed``; never raises).
        """
        self._timer.stop()
        self._wait_idle()
        if not self.document.is_dirty:
            return None
        path, error = self._job()()
        self._report(path, error)
        return path

    def discard(self, wait: bool = True) -> None:
        """Remove this session's recovery files (nothing left to recover).

        A write in flight finishes first. With ``wait=False`` (a save just made the document
        clean) the GUI thread waits for it at most 50 ms: the removal is then queued behind it on
        the writer thread, so a big autosave base being written never stalls the window.
        """
        self._generation += 1
        holder = self._holder
        files = _recovery_files(self.meta_path, self.recovery_path)

        def remove() -> None:
            holder[0] = _State()
            for p in files:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
                except OSError as e:
                    logger.warning("cannot remove recovery file %s: %s", p, e)

        fut = self._inflight
        if not wait and fut is not None and not fut.done():
            try:
                fut.result(timeout=0.05)
            except FutureTimeoutError:
                self._inflight = self._executor.submit(remove)
                return
        self._wait_idle()
        remove()

    def close(self) -> None:
        """A clean close (the user saved or chose to discard changes): stop and remove the files.
        Closing again does nothing."""
        if not self._enabled:
            return
        self._timer.stop()
        self._enabled = False
        self.discard()
        self._executor.shutdown(wait=True)
        for sig, slot in ((self.document.undo_stack.indexChanged, self._on_change),
                          (self.document.dirty_changed, self._on_dirty_changed),
                          (self.document.frames_changed, self._on_content_replaced),
                          (self.document.keypoint_set_changed, self._on_keypoint_set_changed)):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        _live.pop(str(self.recovery_path), None)

    def recover(self, recovery: Recovery) -> None:
        """Load ``recovery`` into the document as unsaved changes (path = its original file).

        This manager takes the recovery file over: it is rewritten on the next change and
        removed on save or clean close. Raises AnnotationError when the file is unreadable.
        Reads on the calling thread: :func:`read_recovery` (any thread) + :meth:`adopt` (GUI
        thread) is the same in two steps.
        """
        data, token = read_recovery(recovery)
        self.adopt(recovery, data, token)

    def adopt(self, recovery: Recovery, data: PoseDocument, token: str | None,
              source: FrameSource | None = None) -> None:
        """Put ``data`` read by :func:`read_recovery` into the document and take the recovery
        files over (see :meth:`recover`)."""
        self._timer.stop()
        self.discard()  # our own (empty) file
        _live.pop(str(self.recovery_path), None)
        self.recovery_path = recovery.path
        _live[str(self.recovery_path)] = self
        if token is not None:  # go on appending to the adopted journal
            jp = journal_path(recovery.path)
            self._holder[0] = _State(token, 0, recovery.path.stat().st_size, jp.stat().st_size if jp.exists() else 0)
        self._adopting = True  # set_content must not discard the adopted file
        try:
            self.document.set_content(data, source if source is not None else FrameSource(data),
                                      path=recovery.original_path, dirty=True)
        finally:
            self._adopting = False
        logger.info("recovered %s from %s", recovery.original_path or "an unsaved document", recovery.path)


def read_recovery(recovery: Recovery, progress: Callable[[float], None] | None = None
                  ) -> tuple[PoseDocument, str | None]:
    """The document ``recovery`` holds (base + journal; any thread) and its journal token.
    ``progress(fraction)``: see :func:`hrnet.read_journal_recovery`. Raises AnnotationError."""
    data, token, _ = read_journal_recovery(recovery.path, progress=progress)
    data.path = recovery.original_path
    return data, token
