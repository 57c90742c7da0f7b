"""Play/pause: a QTimer walks the frames at the video's frame rate through the canvas' frame loader.

The frame to show follows the wall clock (``start + elapsed x fps``). On each tick the next frame is
asked for only once the canvas shows the frame asked for last: when decoding is slower than the
frame rate, the frames in between are skipped (``skipped`` counts them) instead of playback
falling behind, and the GUI thread never waits for a decode. A jump by the user while playing
plays on from there. Playback stops at the end of the frames, or when the user pauses
(``toggle``/``stop``).

Signals: ``playing_changed(bool)``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from hrnet import MediaError, VideoReader

log = logging.getLogger(__name__)

DEFAULT_FPS = 10.0  # image folders have no frame rate


class PlaybackController(QObject):
    playing_changed = Signal(bool)

    def __init__(self, document, view, parent: QObject | None = None) -> None:
        """``view``: the canvas (``shown_index``, ``frame_shown``)."""
        super().__init__(parent)
        self.document = document
        self.view = view
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.fps = DEFAULT_FPS
        self.skipped = 0
        self.shown = 0
        self._start_frame = 0
        self._last = 0  # the frame playback showed last
        self._t0 = 0.0
        self._fps_cache: dict[str, float] = {}
        document.frames_changed.connect(self.stop)

    @property
    def is_playing(self) -> bool:
        return self.timer.isActive()

    def frame_rate(self, index: int) -> float:
        """The frame rate of the video frame ``index`` belongs to (:data:`DEFAULT_FPS` for images)."""
        fr = self.document.frame(index)
        if fr.video is None:
            return DEFAULT_FPS
        path = str(self.document.source.path(index))
        if path not in self._fps_cache:
            fps = 0.0
            try:
                reader = VideoReader(Path(path))
                try:
                    fps = float(reader.fps)
                finally:
                    close = getattr(reader, "close", None)
                    if close is not None:
                        close()
            except (MediaError, OSError) as e:
                log.info("frame rate of %s unknown: %s", path, e)
            self._fps_cache[path] = fps if fps > 0 else DEFAULT_FPS
        return self._fps_cache[path]

    def toggle(self) -> None:
        if self.is_playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        doc = self.document
        n = doc.num_frames()
        if n == 0 or self.is_playing:
            return
        start = doc.current_index()
        if start >= n - 1:  # at the end: play from the start
            start = 0
            doc.set_current_index(0)
        self.fps = self.frame_rate(start)
        self._start_frame = self._last = start
        self._t0 = time.monotonic()
        self.skipped = self.shown = 0
        self.timer.start(max(1, int(round(1000.0 / self.fps))))
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.playing_changed.emit(False)
            log.debug("playback: %d frames shown, %d skipped at %.1f fps", self.shown, self.skipped, self.fps)

    def _tick(self) -> None:
        doc = self.document
        n = doc.num_frames()
        current = doc.current_index()
        if n == 0:
            self.stop()
            return
        if current != self._last:  # the user moved meanwhile: play on from there
            self._start_frame = self._last = current
            self._t0 = time.monotonic()
            return
        if self.view.shown_index != current:  # still decoding the last frame: skip this tick
            return
        target = self._start_frame + int((time.monotonic() - self._t0) * self.fps)
        target = min(max(target, current + 1), n - 1)
        if target <= current:
            self.stop()
            return
        self.skipped += target - current - 1
        self.shown += 1
        self._last = target
        doc.set_current_index(target)
        if target >= n - 1:
            self.stop()
