"""The timeline dock: one row per track over the frames, a row of reviewed frames, the current frame.

Each track's row is drawn in the track's colour (the canvas' :func:`app.canvas.style.person_colour`)
where the track is present, brighter where the model was more confident (people labelled by hand
count as fully confident); the top row marks the reviewed frames in green. A click anywhere jumps
to that frame (``frame_requested``); on a track's row it also asks to select that track's person
there (``track_requested``). The rows are one RGBA image (an ``ImageItem``), so a video of
thousands of frames and dozens of tracks draws as fast as a handful.

The widget reads the document through :func:`app.tracks.track_table`, rebuilt at most every
``REFRESH_MS`` after a change and only while visible.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app import tracks
from app.canvas import style

REFRESH_MS = 150
REVIEWED_RGBA = (60, 200, 90, 255)


class TimelineWidget(QWidget):
    frame_requested = Signal(int)
    track_requested = Signal(int, int)  # frame, track id: a click on a track's row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = None
        self.track_ids: list[int] = []
        self.plot = pg.PlotWidget(background=None)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getPlotItem().setLabel("bottom", "frame")
        self.plot.getPlotItem().getAxis("left").setWidth(44)
        self.plot.setMinimumHeight(90)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("w", width=1))
        self.plot.addItem(self.cursor)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.hint = QLabel("No tracks yet: Predict all frames on a video, or Tracks > Track people.")
        self.hint.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.hint)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._stale = True

    def set_document(self, document) -> None:
        self.document = document
        document.frames_changed.connect(self._schedule)
        document.instances_changed.connect(self._schedule)
        document.instance_changed.connect(self._schedule)
        document.reviewed_changed.connect(self._schedule)
        document.frame_changed.connect(self.set_current)
        self._schedule()

    def _schedule(self, *_args) -> None:
        self._stale = True
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def set_current(self, index: int) -> None:
        self.cursor.setValue(int(index) + 0.5)

    def rows(self) -> np.ndarray:
        """The (1 + tracks, frames, 4) uint8 RGBA image: reviewed frames on top, then one row per track."""
        doc = self.document
        n = doc.num_frames() if doc is not None else 0
        table = tracks.track_table(doc.data.frames) if n else {}
        self.track_ids = sorted(table)
        img = np.zeros((1 + len(self.track_ids), max(n, 1), 4), np.uint8)
        for f in range(n):
            if doc.frame(f).reviewed:
                img[0, f] = REVIEWED_RGBA
        for r, t in enumerate(self.track_ids, start=1):
            c = QColor(style.person_colour(t))
            rgb = np.array([c.red(), c.green(), c.blue()], np.float64)
            for f, conf in table[t].items():
                shade = 0.35 + 0.65 * float(np.clip(conf, 0.0, 1.0))
                img[r, f, :3] = (rgb * shade).astype(np.uint8)
                img[r, f, 3] = 255
        return img

    def refresh(self) -> None:
        self._stale = False
        img = self.rows()
        self.image.setImage(img, autoLevels=False)
        self.image.setRect(0, 0, img.shape[1], img.shape[0])
        axis = self.plot.getPlotItem().getAxis("left")
        ticks = [(0.5, "rev.")] + [(r + 0.5, f"#{t}") for r, t in enumerate(self.track_ids, start=1)]
        axis.setTicks([ticks])
        self.plot.getPlotItem().invertY(True)
        self.plot.setYRange(0, img.shape[0], padding=0)
        self.plot.setLimits(xMin=0, xMax=img.shape[1], yMin=0, yMax=img.shape[0])
        self.hint.setVisible(not self.track_ids)
        if self.document is not None and self.document.num_frames():
            self.set_current(self.document.current_index())

    def frame_at(self, x: float) -> int | None:
        """The frame under view x coordinate ``x`` (None outside the frames)."""
        n = self.document.num_frames() if self.document is not None else 0
        f = int(np.floor(x))
        return f if 0 <= f < n else None

    def _on_click(self, event) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        pt = vb.mapSceneToView(event.scenePos())
        f = self.frame_at(pt.x())
        if f is None:
            return
        self.frame_requested.emit(f)
        row = int(np.floor(pt.y())) - 1
        if 0 <= row < len(self.track_ids):
            self.track_requested.emit(f, self.track_ids[row])
