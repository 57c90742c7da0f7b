"""Decode frames off the GUI thread: the latest request wins, a small cache, one-frame read-ahead.

The GUI asks :meth:`FrameLoader.request` for frame ``i``. A cached frame comes back at once
(return value, plus the :attr:`FrameLoader.frame_ready` signal); otherwise the index becomes *the*
pending request, replacing any older one that has not started, and a decode thread reads it.
When a result arrives that is no longer the latest request it goes to the cache only, so holding
an arrow key never queues up a backlog of stale frames. After serving a request the thread reads
ahead the next frame in the direction of travel (stepping through a video then costs one
sequential decode, which is cheap, instead of a seek).

Frames become ``QImage`` (``Format_RGB32``, the raster engine's native format) in the decode
thread, so the GUI thread only wraps and paints them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

ReadFn = Callable[[int], np.ndarray]


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """HxWx3 (BGR) / HxW (grey) / HxWx4 (BGRA) uint8 array -> a QImage that owns its pixels."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image)
    h, w = image.shape[:2]
    qimage = QImage(w, h, QImage.Format.Format_RGB32)
    if w == 0 or h == 0:
        return qimage
    stride = qimage.bytesPerLine()
    view = np.ndarray((h, stride // 4, 4), dtype=np.uint8, buffer=qimage.bits())[:, :w]
    if image.ndim == 2:
        cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA, dst=view)
    elif image.shape[2] == 3:
        cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=view)
    else:
        view[...] = image[..., :4]
        view[..., 3] = 255
    return qimage


class _DecodeThread(QThread):
    decoded = Signal(int, int, object)  # generation, index, QImage
    failed = Signal(int, int, str)  # generation, index, message

    def __init__(self, owner: FrameLoader) -> None:
        super().__init__()
        self._owner = owner

    def run(self) -> None:
        owner = self._owner
        while True:
            job = owner._next_job()
            if job is None:
                return
            generation, index, read, prefetch = job
            try:
                image = read(index)
                qimage = bgr_to_qimage(np.asarray(image))
            except Exception as e:  # noqa: BLE001 - any decode error is reported, never raised in a thread
                waiting = not prefetch or index == owner.latest_request  # someone is waiting for it
                if waiting:
                    log.warning("Cannot decode frame %d: %s", index, e)
                self.failed.emit(generation, index, str(e) or type(e).__name__)
                continue
            owner._store(generation, index, qimage)  # cached at once: a request for it never decodes twice
            self.decoded.emit(generation, index, qimage)


class FrameLoader(QObject):
    """Asynchronous frame decoder for one frame source at a time."""

    frame_ready = Signal(int, QImage)  # index, image (only for the latest request)
    failed = Signal(int, str)  # index, message (only for the latest request)
    unreadable = Signal(int, str)  # index, message: any frame that failed to decode (read-ahead too)

    def __init__(self, read: ReadFn | None = None, cache_size: int = 16, read_ahead: int = 1,
                 num_frames: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._read: ReadFn | None = read
        self._num_frames = num_frames
        self._generation = 0
        self._pending: int | None = None  # index waiting to be decoded
        self._prefetch: list[int] = []
        self._busy_index: int | None = None
        self._latest: int | None = None  # last index the GUI asked for
        self._direction = 1
        self._emitted: tuple[int, int] | None = None  # (generation, index) last sent by frame_ready
        self._stop = False
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self.cache_size = max(1, int(cache_size))
        self.read_ahead = max(0, int(read_ahead))
        self._thread = _DecodeThread(self)
        self._thread.decoded.connect(self._on_decoded)
        self._thread.failed.connect(self._on_failed)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:  # never leave a running QThread behind at exit
            app.aboutToQuit.connect(self.shutdown)

    # -- public API --------------------------------------------------------------------------
    def set_source(self, read: ReadFn | None, num_frames: int | None = None) -> None:
        """Switch to a new frame source: clears the cache and forgets pending requests."""
        with self._cond:
            self._generation += 1
            self._read = read
            self._num_frames = num_frames
            self._pending = None
            self._prefetch = []
            self._latest = None
            self._cache.clear()

    def cached(self, index: int) -> QImage | None:
        with self._cond:
            image = self._cache.get(index)
            if image is not None:
                self._cache.move_to_end(index)
            return image

    def request(self, index: int) -> QImage | None:
        """Ask for frame ``index``; returns the image at once when cached (and emits frame_ready)."""
        index = int(index)
        with self._cond:
            if self._latest is not None and index != self._latest:
                self._direction = 1 if index > self._latest else -1
            self._latest = index
            image = self._cache.get(index)
            if image is not None:
                self._cache.move_to_end(index)
                self._plan_prefetch(index)
                self._cond.notify_all()
            elif self._read is not None:
                self._prefetch = []
                if index != self._busy_index:  # else: being decoded now, frame_ready follows
                    self._pending = index
                self._cond.notify_all()
        if image is not None:
            self._emitted = (self._generation, index)
            self.frame_ready.emit(index, image)
        return image

    @property
    def latest_request(self) -> int | None:
        return self._latest

    def is_idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._prefetch and self._busy_index is None

    def shutdown(self) -> None:
        """Stop the decode thread (waits for the frame being decoded)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.isRunning():
            self._thread.wait(5000)

    # -- decode thread side ------------------------------------------------------------------
    def _plan_prefetch(self, index: int) -> None:
        # called with the lock held
        self._prefetch = []
        for k in range(1, self.read_ahead + 1):
            j = index + k * self._direction
            if j < 0 or (self._num_frames is not None and j >= self._num_frames):
                break
            if j not in self._cache:
                self._prefetch.append(j)

    def _next_job(self) -> tuple[int, int, ReadFn, bool] | None:
        with self._cond:
            self._busy_index = None
            while True:
                if self._stop:
                    return None
                if self._read is not None and self._pending is not None:
                    index, self._pending = self._pending, None
                    if index not in self._cache:
                        self._busy_index = index
                        return self._generation, index, self._read, False
                    continue
                if self._read is not None and self._prefetch:
                    index = self._prefetch.pop(0)
                    if index not in self._cache:
                        self._busy_index = index
                        return self._generation, index, self._read, True
                    continue
                self._cond.wait()

    def _store(self, generation: int, index: int, image: QImage) -> None:
        # decode thread: put a finished frame into the cache (bounded, the latest request kept)
        with self._cond:
            if generation != self._generation:
                return
            self._cache[index] = image
            self._cache.move_to_end(index)
            while len(self._cache) > self.cache_size:
                oldest = next(iter(self._cache))
                if oldest == self._latest:
                    self._cache.move_to_end(oldest)
                    oldest = next(iter(self._cache))
                del self._cache[oldest]

    # -- GUI thread side ---------------------------------------------------------------------
    def _on_decoded(self, generation: int, index: int, image: QImage) -> None:
        with self._cond:
            if generation != self._generation:
                return
            is_latest = index == self._latest and self._emitted != (generation, index)
            if is_latest:
                self._plan_prefetch(index)
                self._cond.notify_all()
        if is_latest:
            self._emitted = (generation, index)
            self.frame_ready.emit(index, image)

    def _on_failed(self, generation: int, index: int, message: str) -> None:
        if generation != self._generation:
            return
        self.unreadable.emit(index, message)
        if index == self._latest:
            self.failed.emit(index, message)
