"""Tracks in the window: "Track people" on a worker thread, the track edits of the selected person,
keyframe interpolation, propagate forward and the walk through one track's weakest frames.

:class:`TrackController` turns what the user picked (the canvas' selected person, the current
frame) into the commands of :mod:`app.track_commands`; a command that makes no sense raises
ValueError and its message goes out as ``message``. Where an edit needs a second choice (the other
person of a swap, the track to merge, a track number, how many frames) it asks with a window-modal
:class:`QInputDialog` opened with ``open()`` (no nested event loop) and acts on its answer.

Signals: ``started(total)``, ``progress(done, total, text)``, ``finished()`` (tracking runs),
``message(text, ms)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from app import texts, tracks
from app import track_commands as TC
from app.document import AnnotationDocument
from app.video_workers import TrackWorker

log = logging.getLogger(__name__)

PROPAGATE_FRAMES = 10  # the default of "Propagate forward": a third of a second at 30 fps


class TrackController(QObject):
    started = Signal(int)  # frames to track
    progress = Signal(int, int, str)
    finished = Signal()
    message = Signal(str, int)

    def __init__(self, document: AnnotationDocument, view=None, dialog_parent: QWidget | None = None,
                 parent: QObject | None = None) -> None:
        """``view``: the canvas (``selected_person``, ``frame_index``, ``select``); None in tests that
        call the explicit methods."""
        super().__init__(parent)
        self.document = document
        self.view = view
        self.dialog_parent = dialog_parent
        self.worker: TrackWorker | None = None
        self._workers: set[TrackWorker] = set()
        self.worker_factory_hook: Callable[[TrackWorker], None] | None = None  # tests: act on the new worker
        self.dialog: QInputDialog | None = None
        self._walk: tuple[int, list[tuple[int, int]], int] | None = None  # track, queue, position
        self._counts: list[int] = []

    # ------------------------------------------------------------------ tracking run
    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def track_all(self) -> bool:
        """Track the people of every sequence of the document (one undo step). False when it cannot
        start (with a message)."""
        doc = self.document
        if self.worker is not None:
            self.message.emit("Tracking is already running", 4000)
            return False
        frames = doc.data.frames
        if not any(fr.instances for fr in frames):
            self.message.emit("No people to track: predict the frames first", 5000)
            return False
        k = doc.data.num_joints
        seqs = []
        for seq in tracks.sequences(frames):
            rows = []
            for f in seq:
                people = frames[f].instances
                poses = np.stack([tracks.pose_array(p) for p in people]) if people else np.zeros((0, k, 3))
                rows.append((f, poses, (frames[f].width, frames[f].height)))
            seqs.append(rows)
        worker = TrackWorker(seqs)
        self._counts = [len(fr.instances) for fr in frames]
        self.worker = worker
        self._workers.add(worker)
        worker.progress.connect(self.progress)
        worker.done.connect(lambda changes, w=worker: self._apply(w, changes))
        worker.failed.connect(lambda m: self.message.emit(f"Tracking failed: {m}", 10000))
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.started.emit(worker.total)
        if self.worker_factory_hook is not None:
            self.worker_factory_hook(worker)
        worker.start()
        return True

    def cancel(self, wait: bool = False) -> None:
        if self.worker is not None:
            self.worker.cancel()
            if wait:
                self.worker.wait(60000)

    def shutdown(self) -> None:
        for w in list(self._workers):
            w.cancel()
            w.wait(60000)

    def _apply(self, worker: TrackWorker, changes: dict) -> None:
        if worker is not self.worker or worker.was_cancelled:
            return
        if [len(fr.instances) for fr in self.document.data.frames] != self._counts:
            self.message.emit("People were added or deleted while tracking: the result is not applied, run "
                              "Track people again", 10000)
            return
        cmd = TC.SetTrackIds(self.document, changes, f"Track people ({texts.count(worker.tracks, 'track')})")
        self.document.push(cmd)
        self.message.emit(f"Tracked {texts.people(worker.tracks)} over {texts.frames(worker.total)} "
                          f"in {worker.elapsed_s:.1f} s — Ctrl+Z undoes it", 8000)

    def _on_finished(self, worker: TrackWorker) -> None:
        self._workers.discard(worker)
        if worker is not self.worker:
            return
        self.worker = None
        if worker.was_cancelled:
            self.message.emit("Tracking cancelled: nothing changed", 5000)
        self.finished.emit()

    # ------------------------------------------------------------------ the selected person
    def _selected(self) -> tuple[int, int] | None:
        v = self.view
        if v is None or v.selected_person is None or self.document.num_frames() == 0 \
                or v.frame_index != self.document.current_index():
            self.message.emit("Select a person first", 3000)
            return None
        return v.frame_index, v.selected_person

    def _selected_track(self) -> tuple[int, int, int] | None:
        sel = self._selected()
        if sel is None:
            return None
        f, p = sel
        t = self.document.frame(f).instances[p].track_id
        if t is None:
            self.message.emit("This person is not on a track: run Track people, or assign a track", 5000)
            return None
        return f, p, t

    def push(self, make: Callable[[], object]) -> bool:
        """Build a command and push it; its ValueError becomes a message. True when pushed."""
        try:
            cmd = make()
        except ValueError as e:
            self.message.emit(str(e), 6000)
            return False
        self.document.push(cmd)
        self.message.emit(f"{cmd.text()} — Ctrl+Z undoes it", 5000)
        return True

    def _ask(self, title: str, label: str, items: list[str] | None, value: int, done: Callable) -> None:
        dlg = QInputDialog(self.dialog_parent)
        dlg.setWindowTitle(title)
        dlg.setLabelText(label)
        if items is not None:
            dlg.setComboBoxItems(items)
            dlg.textValueSelected.connect(done)
        else:
            dlg.setInputMode(QInputDialog.InputMode.IntInput)
            dlg.setIntRange(0 if "track" in label.lower() else 1, 1_000_000)
            dlg.setIntValue(value)
            dlg.intValueSelected.connect(done)
        self.dialog = dlg
        dlg.open()

    def swap_identities(self) -> None:
        """Swap the selected person's identity with another person's from this frame on (the other
        one of the frame, else asked)."""
        sel = self._selected()
        if sel is None:
            return
        f, p = sel
        people = self.document.frame(f).instances
        others = [i for i in range(len(people)) if i != p]
        if not others:
            self.message.emit("Nobody else in this frame to swap with", 4000)
            return
        if len(others) == 1:
            self.push(lambda: TC.SwapTracks(self.document, f, p, others[0]))
            return
        names = [f"person {i + 1}" + (f" (#{people[i].track_id})" if people[i].track_id is not None else "")
                 for i in others]
        self._ask("Swap identities", "Swap the selected person's identity from this frame on with:", names, 0,
                  lambda text: self.push(lambda: TC.SwapTracks(self.document, f, p, others[names.index(text)])))

    def merge_track(self) -> None:
        sel = self._selected_track()
        if sel is None:
            return
        _f, _p, t = sel
        others = [i for i in tracks.track_ids(self.document.data.frames) if i != t]
        if not others:
            self.message.emit("There is no other track to merge", 4000)
            return
        names = [f"#{i}" for i in others]
        self._ask("Merge tracks", f"Merge this track into #{t}:", names, 0,
                  lambda text: self.push(lambda: TC.MergeTracks(self.document, t, int(text[1:]))))

    def split_track(self) -> None:
        sel = self._selected_track()
        if sel is not None:
            f, _p, t = sel
            self.push(lambda: TC.SplitTrack(self.document, t, f))

    def delete_track(self) -> None:
        sel = self._selected_track()
        if sel is not None:
            self.push(lambda: TC.DeleteTrack(self.document, sel[2]))
            if self.view is not None:
                self.view.select(None, None)

    def assign_track(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        f, p = sel
        current = self.document.frame(f).instances[p].track_id
        value = current if current is not None else tracks.next_track_id(self.document.data.frames)
        self._ask("Assign track", "Put the selected person on track number:", None, value,
                  lambda t: self.push(lambda: TC.AssignTrack(self.document, f, p, int(t))))

    def interpolate(self) -> None:
        sel = self._selected_track()
        if sel is not None:
            f, _p, t = sel
            self.push(lambda: TC.InterpolateTrack(self.document, t, f))

    def propagate_forward(self, count: int | None = None) -> None:
        sel = self._selected()
        if sel is None:
            return
        f, p = sel
        if count is not None:
            self.push(lambda: TC.PropagatePose(self.document, f, p, count))
            return
        self._ask("Propagate forward", "Copy the selected pose into the next frames (as predictions):", None,
                  PROPAGATE_FRAMES, lambda n: self.push(lambda: TC.PropagatePose(self.document, f, p, int(n))))

    def select_track(self, frame: int, track: int) -> None:
        """Select the person of ``track`` on ``frame`` (the current frame: the timeline jumped there)."""
        if self.view is None or not 0 <= frame < self.document.num_frames():
            return
        for i, p in enumerate(self.document.frame(frame).instances):
            if p.track_id == track:
                self.view.select(i, None)
                return

    # ------------------------------------------------------------------ review
    def next_weak_frame_of_track(self) -> None:
        """Walk the selected person's track, weakest unreviewed frame first; the walk goes on from
        where it was while the same track is selected."""
        doc = self.document
        if self._walk is not None and self.view is not None and self.view.selected_person is not None:
            track, queue, pos = self._walk
            cur = doc.frame(doc.current_index()).instances
            sp = self.view.selected_person
            if sp < len(cur) and cur[sp].track_id == track and pos + 1 < len(queue):
                self._go(track, queue, pos + 1)
                return
        sel = self._selected_track()
        if sel is None:
            return
        f, _p, t = sel
        queue = [(ff, i) for ff, i in tracks.weakest_track_frames(doc.data.frames, t) if ff != f]
        if not queue:
            self.message.emit(f"Track #{t} has no other unreviewed predicted frame", 5000)
            return
        self._go(t, queue, 0)

    def _go(self, track: int, queue: list[tuple[int, int]], pos: int) -> None:
        f, i = queue[pos]
        self._walk = (track, queue, pos)
        self.document.set_current_index(f)
        if self.view is not None:
            self.view.select(i, None)
        self.message.emit(f"Track #{track}: weak frame {pos + 1} of {len(queue)} (frame {f + 1})", 5000)
