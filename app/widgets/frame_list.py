"""The frame list: every frame with its people count, reviewed mark and lowest confidence; filters.

A flat ``QAbstractListModel`` over the document (no per-frame widgets, so 100k video frames list
instantly); the filter keeps an index array and is recomputed lazily (debounced) when the
document changes. Frame statistics (people, lowest joint confidence) are computed on demand and
cached per frame until that frame changes.

While a prediction runs over many frames, the frames still waiting for their result carry a
small clock icon (:meth:`FrameListWidget.set_queued`); as each result is applied the row shows
its new people count and confidence and the icon goes (:meth:`FrameListWidget.mark_done`).

The view is a one-column ``QTableView`` with fixed, uniform row heights rather than a
``QListView``: a list view lays out every row (one ``index()`` → ``rowCount()`` call into Python
per row) after each reset, filter change or ``dataChanged``, while a table view with a fixed
vertical header only asks for the visible rows. Measured with 60,000 rows (offscreen, wall):
reset + scrollTo + paint 560-670 ms with ``QListView(uniformItemSizes)``, 18-20 ms with this
table; ``dataChanged`` of one row 650 ms vs 0 ms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.review import filter_frames, frame_confidence

FILTERS = (
    ("all", "All frames"),
    ("unreviewed", "Unreviewed"),
    ("reviewed", "Reviewed"),
    ("low", "Low confidence"),
    ("people", "With people"),
    ("empty", "Without people"),
    ("unreadable", "Unreadable images"),
)


def frame_confidence_array(frames, yield_every: int = 0) -> np.ndarray:
    """:func:`frame_confidence` of every frame at once as a float array (NaN: nothing predicted),
    vectorised over all people; the stacking goes in slices of 8,192 people, so a worker thread
    running it never holds the interpreter lock for long. Values equal person_confidence's up to
    rounding in the last bit (sum/count instead of numpy.mean).

    ``yield_every`` > 0 (a worker thread): every that many frames, and after each slice, the
    thread sleeps a moment so that a waiting GUI thread gets the interpreter lock at once
    instead of after the switch interval and the scheduler's delay (on a loaded machine the
    window otherwise froze 0.3-0.5 s while this ran at 150,000 people)."""
    n = len(frames)
    owners: list[int] = []
    kps: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    edited: list[np.ndarray] = []
    for fi, fr in enumerate(frames):
        if yield_every and fi % yield_every == 0:
            time.sleep(0.0005)
        for p in fr.instances:
            s = p.joint_scores
            if s is not None:
                owners.append(fi)
                kps.append(p.keypoints)
                scores.append(s)
                edited.append(p.edited)
    best = np.full(n, np.inf)
    if not owners:
        return np.full(n, np.nan)
    own = np.asarray(owners)
    step = 8192
    try:
        for a in range(0, len(owners), step):
            kp = np.stack(kps[a:a + step])
            js = np.stack(scores[a:a + step]).astype(np.float64, copy=False)
            ed = np.stack(edited[a:a + step]).astype(bool, copy=False)
            if js.shape != kp.shape[:2] or ed.shape != kp.shape[:2]:
                raise ValueError("mixed joint counts")
            mask = (kp[:, :, 2] > 0) & ~ed
            count = mask.sum(axis=1)
            conf = np.where(mask, js, 0.0).sum(axis=1) / np.maximum(count, 1)
            ok = count > 0
            np.minimum.at(best, own[a:a + step][ok], conf[ok])
            if yield_every:
                time.sleep(0.0005)
    except ValueError:  # people with different joint counts: one frame at a time
        return np.array([np.nan if (c := frame_confidence(fr)) is None else c for fr in frames], dtype=np.float64)
    best[best == np.inf] = np.nan
    return best


def frame_confidences(frames) -> list[float | None]:
    """:func:`frame_confidence_array` as a list (None: nothing predicted); 150,000 people: about
    1 s instead of several one person at a time."""
    return [None if v != v else v for v in frame_confidence_array(frames).tolist()]


def queued_icon(size: int = 16) -> QIcon:
    """A small clock: the frame waits for the running prediction."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(140, 180, 250))
    pen.setWidthF(max(1.5, size / 10))
    painter.setPen(pen)
    c = size / 2
    r = size / 2 - pen.widthF()
    painter.drawEllipse(int(round(c - r)), int(round(c - r)), int(round(2 * r)), int(round(2 * r)))
    painter.drawLine(int(c), int(c), int(c), int(round(c - r * 0.65)))
    painter.drawLine(int(c), int(c), int(round(c + r * 0.5)), int(c))
    painter.end()
    return QIcon(pixmap)


class FrameListModel(QAbstractListModel):
    """The rows (frame indices) and a per-frame cache of the lowest person confidence.

    When a document is set (opened, recovered), the confidences of all frames are computed on a
    worker thread (:func:`frame_confidence_array`, about 1 s at 150,000 people, interleaved
    with the GUI thread); a filter or the review queue that needs them sooner waits for that
    pass instead of starting its own. Frames edited meanwhile are recomputed on demand.
    """

    _bulk_done = Signal(object, object)  # (generation, confidences) from the worker

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.document = None
        self.rows = np.zeros(0, dtype=np.int64)  # frame index of each row
        self.threshold = 0.3
        self._conf: dict[int, float | None] = {}
        self.unreadable: dict[int, str] = {}  # frame -> decode error
        self.queued: set[int] = set()  # frames waiting for the running prediction
        self._warning_icon = None
        self._queued_icon = None
        self._blank_icon = None
        self._bulk_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-stats")
        self._bulk: Future | None = None
        self._generation = 0
        self._edited_during_bulk: set[int] = set()
        self._when_ready: list = []  # callbacks waiting for the bulk pass
        self._bulk_done.connect(self._on_bulk_done)  # queued: emitted by the worker

    def set_document(self, document) -> None:
        self.beginResetModel()
        self.document = document
        self._conf.clear()
        self.unreadable = {}
        self.rows = np.arange(document.num_frames() if document is not None else 0, dtype=np.int64)
        self.endResetModel()
        self._start_bulk()

    def _start_bulk(self) -> None:
        """Compute every frame's confidence on the worker (big documents only)."""
        self._generation += 1
        self._bulk = None
        self._when_ready = []
        self._edited_during_bulk = set()
        doc = self.document
        if doc is None or doc.num_frames() <= 256:
            return
        frames = list(doc.data.frames)  # the frame objects of now (edits copy or replace them)
        generation = self._generation

        def job() -> np.ndarray:
            arr = frame_confidence_array(frames, yield_every=512)
            try:
                self._bulk_done.emit(generation, arr)
            except RuntimeError:  # the model is gone
                pass
            return arr

        self._bulk = self._bulk_pool.submit(job)

    def _take_bulk(self, arr: np.ndarray) -> None:
        """Fill the cache from a finished bulk pass, except frames edited since it started."""
        skip = self._edited_during_bulk
        for i, v in enumerate(arr.tolist()):
            if i not in skip and i not in self._conf:
                self._conf[i] = None if v != v else v
        self._bulk = None
        self._edited_during_bulk = set()

    def _on_bulk_done(self, generation: int, arr: np.ndarray) -> None:
        if generation == self._generation and self._bulk is not None:
            self._take_bulk(arr)
        if self._bulk is None:
            waiting, self._when_ready = self._when_ready, []
            for callback in waiting:
                callback()

    def when_ready(self, callback) -> bool:
        """True when every frame's confidence is at hand without waiting; else False, and
        ``callback()`` runs (on this thread) once the pass on the worker has finished, so that
        a caller such as Weakest (L) right after opening never blocks the window meanwhile."""
        if self._bulk is None:
            return True
        if callback not in self._when_ready:
            self._when_ready.append(callback)
        return False

    def _wait_bulk(self) -> bool:
        """Wait for a bulk pass in flight and take its result; False when there is none."""
        fut = self._bulk
        if fut is None:
            return False
        self._take_bulk(fut.result())
        return True

    def forget(self, frame: int) -> None:
        """Frame ``frame`` changed: its cached statistics are stale."""
        self._conf.pop(frame, None)
        if self._bulk is not None:
            self._edited_during_bulk.add(frame)

    def set_rows(self, rows: np.ndarray) -> None:
        self.beginResetModel()
        self.rows = np.asarray(rows, dtype=np.int64)
        self.endResetModel()

    def invalidate_frame(self, frame: int) -> None:
        self.forget(frame)
        pos = np.searchsorted(self.rows, frame)
        if pos < len(self.rows) and self.rows[pos] == frame:
            idx = self.index(int(pos))
            self.dataChanged.emit(idx, idx)

    def confidence(self, frame: int) -> float | None:
        if frame not in self._conf:
            if len(self._conf) < 64 and self.document.num_frames() > 256:  # a cold cache (review queue,
                self.confidence_array()  # filters ask for every frame): all frames in one vectorised pass
            if frame not in self._conf:
                self._conf[frame] = frame_confidence(self.document.frame(frame))
        return self._conf[frame]

    def _visible_confidence(self, frame: int) -> float | None:
        """For painting: the visible rows' frames only, never the whole project at once."""
        if frame not in self._conf:
            self._conf[frame] = frame_confidence(self.document.frame(frame))
        return self._conf[frame]

    def confidence_array(self) -> np.ndarray:
        """:meth:`confidence` of every frame as a float array (NaN where None), for vectorised
        filters and the review queue."""
        n = self.document.num_frames() if self.document is not None else 0
        if len(self._conf) < n:
            self._wait_bulk()  # the pass started on open: its result instead of a second pass
        missing = [i for i in range(n) if i not in self._conf] if len(self._conf) < n else []
        if len(missing) > 256:  # a cold cache: all frames in one vectorised pass
            self._conf.update(enumerate(frame_confidences(self.document.data.frames)))
        else:
            for i in missing:
                self._visible_confidence(i)
        return np.fromiter((np.nan if c is None else c for c in map(self._conf.__getitem__, range(n))),
                           dtype=np.float64, count=n)

    def row_of(self, frame: int) -> int | None:
        pos = int(np.searchsorted(self.rows, frame))
        return pos if pos < len(self.rows) and self.rows[pos] == frame else None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.document is None:
            return None
        f = int(self.rows[index.row()])
        frame = self.document.frame(f)
        if role == Qt.ItemDataRole.DisplayRole:
            name = f"{Path(frame.video).name} #{frame.frame_index}" if frame.video else Path(frame.file_name).name
            n = len(frame.instances)
            conf = self._visible_confidence(f)
            mark = "✓" if frame.reviewed else " "
            conf_text = f"  min {conf:.2f}" if conf is not None else ""
            return f"{mark} {f + 1:>5}  {name}  · {n}{conf_text}"
        if role == Qt.ItemDataRole.ForegroundRole:
            if frame.reviewed:
                return QBrush(QColor(120, 210, 120))
            conf = self._visible_confidence(f)
            if conf is not None and conf < self.threshold:
                return QBrush(QColor(255, 150, 90))
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            if f in self.unreadable:
                if self._warning_icon is None:
                    self._warning_icon = QApplication.style().standardIcon(
                        QStyle.StandardPixmap.SP_MessageBoxWarning)
                return self._warning_icon
            if f in self.queued:
                if self._queued_icon is None:
                    self._queued_icon = queued_icon()
                return self._queued_icon
            if self.queued:  # during a run an empty icon keeps the rows' text aligned as clocks go
                if self._blank_icon is None:
                    blank = QPixmap(16, 16)
                    blank.fill(Qt.GlobalColor.transparent)
                    self._blank_icon = QIcon(blank)
                return self._blank_icon
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            where = frame.file_name if not frame.video else f"{frame.video} frame {frame.frame_index}"
            if f in self.unreadable:
                return f"{where}\nCannot be shown: {self.unreadable[f]}"
            if f in self.queued:
                return f"{where}\nWaiting for the running prediction"
            return where
        if role == Qt.ItemDataRole.UserRole:
            return f
        return None


class FrameListWidget(QWidget):
    """Filterable list of frames; selecting a row shows that frame."""

    frame_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = None
        self.model = FrameListModel(self)
        self.filter_combo = QComboBox()
        for key, text in FILTERS:
            self.filter_combo.addItem(text, key)
        self.count_label = QLabel("")
        self.count_label.setStyleSheet("color: #999;")
        self.list = QTableView()  # one column, fixed row height: see the module doc
        self.list.setModel(self.model)
        self.list.horizontalHeader().hide()
        self.list.horizontalHeader().setStretchLastSection(True)
        vh = self.list.verticalHeader()
        vh.hide()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.list.fontMetrics().height() + 4)
        self.list.setShowGrid(False)
        self.list.setWordWrap(False)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setToolTip("Frames (✓ reviewed; orange: lowest confidence under the threshold). "
                             "Shift/Ctrl-click selects several for 'Predict selected frames'.")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_combo, 1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self._refilter_timer = QTimer(self)
        self._refilter_timer.setSingleShot(True)
        self._refilter_timer.setInterval(400)
        self._refilter_timer.timeout.connect(self.refilter)
        self.filter_combo.currentIndexChanged.connect(lambda _: self.refilter())
        self.list.selectionModel().currentChanged.connect(self._on_current_changed)
        self._syncing = False

    def set_document(self, document) -> None:
        if self.document is not None:
            for sig, slot in self._connections():
                try:
                    sig.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.document = document
        self.model.set_document(document)
        if document is not None:
            for sig, slot in self._connections():
                sig.connect(slot)
        self.refilter()

    def _connections(self):
        d = self.document
        return [
            (d.frames_changed, self._on_frames_changed),
            (d.frame_changed, self.show_current),
            (d.instances_changed, self._on_frame_edited),
            (d.instance_changed, self._on_instance_edited),
            (d.reviewed_changed, self._on_frame_edited),
        ]

    def set_threshold(self, threshold: float) -> None:
        self.model.threshold = float(threshold)
        if self.filter_key() == "low":
            self.refilter()
        else:
            self.model.layoutChanged.emit()

    def filter_key(self) -> str:
        return str(self.filter_combo.currentData())

    def set_filter(self, key: str) -> None:
        i = self.filter_combo.findData(key)
        if i >= 0:
            self.filter_combo.setCurrentIndex(i)

    def visible_frames(self) -> np.ndarray:
        return self.model.rows.copy()

    def selected_frames(self) -> list[int]:
        rows = sorted({i.row() for i in self.list.selectionModel().selectedIndexes()})
        return [int(self.model.rows[r]) for r in rows]

    def refilter(self) -> None:
        doc = self.document
        if doc is None:
            self.model.set_rows(np.zeros(0, np.int64))
            self.count_label.setText("")
            return
        n = doc.num_frames()
        if self.filter_key() == "low":  # vectorised over the cached confidences (60,000 frames)
            with np.errstate(invalid="ignore"):
                rows = np.flatnonzero(self.model.confidence_array() < self.model.threshold).astype(np.int64)
        else:
            rows = filter_frames(doc.data.frames, self.filter_key(), self.model.threshold, self.model.confidence,
                                 unreadable=self.model.unreadable)
        self.model.set_rows(rows)
        self.count_label.setText(f"{len(rows)} / {n}")
        self.show_current(doc.current_index())

    def show_current(self, frame: int) -> None:
        row = self.model.row_of(frame)
        self._syncing = True
        try:
            sel = self.list.selectionModel()
            if row is None:
                sel.clearCurrentIndex()
            else:
                idx = self.model.index(row)
                if not sel.isSelected(idx) or len(sel.selectedIndexes()) <= 1:
                    sel.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
                else:
                    sel.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.NoUpdate)
                self.list.scrollTo(idx)
        finally:
            self._syncing = False

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        self.frame_activated.emit(int(self.model.rows[current.row()]))

    def set_unreadable(self, frame: int, message: str) -> None:
        """Mark ``frame`` as one whose image cannot be decoded (``message`` = why; "" clears it)."""
        if message:
            self.model.unreadable[int(frame)] = message
        else:
            self.model.unreadable.pop(int(frame), None)
        self.model.invalidate_frame(int(frame))
        if self.filter_key() == "unreadable":
            self._refilter_timer.start()

    def set_queued(self, frames: Sequence[int]) -> None:
        """Mark ``frames`` as waiting for the running prediction (replacing earlier marks; ``[]``
        clears them when the run ends)."""
        self.model.queued = {int(f) for f in frames}
        self.list.viewport().update()

    def mark_done(self, frame: int) -> None:
        """The running prediction applied ``frame``'s result: its row loses the clock."""
        self.model.queued.discard(int(frame))
        self._repaint_row(int(frame))

    def _repaint_row(self, frame: int) -> None:
        row = self.model.row_of(frame)
        if row is not None:
            self.list.viewport().update(self.list.visualRect(self.model.index(row)))

    def _on_frames_changed(self) -> None:
        self.model.set_document(self.document)
        self.refilter()

    def _on_frame_edited(self, frame: int) -> None:
        # Repaint the row instead of emitting dataChanged: QListView answers dataChanged with
        # work over all rows (75-90 ms per edit at 4,000 frames, measured by benchmarks/app_scale.py).
        self.model.forget(frame)
        self._repaint_row(frame)
        if self.filter_key() != "all":
            self._refilter_timer.start()

    def refresh_frames(self, frames: Sequence[int]) -> None:
        """Frames whose people changed outside the document's signals, or many at once (e.g.
        results of Predict all arriving in batches): their cached statistics are dropped, the
        visible ones repainted (one ``dataChanged`` over their rows: the table view repaints
        only what is on screen) and the filter re-run (debounced)."""
        rows = []
        for f in frames:
            self.model.forget(int(f))
            r = self.model.row_of(int(f))
            if r is not None:
                rows.append(r)
        if rows:
            self.model.dataChanged.emit(self.model.index(min(rows)), self.model.index(max(rows)))
        if self.filter_key() != "all":
            self._refilter_timer.start()

    def _on_instance_edited(self, frame: int, _instance: int) -> None:
        self._on_frame_edited(frame)

    def frames_in_order(self, frames: Sequence[int]) -> list[int]:
        return sorted(int(f) for f in frames)
