"""Is the chosen person detector usable here? :class:`DetectorFallback`.

The torchvision detectors download their COCO weights on first use. Offline, the first Predict
with such a detector fails (with a good message, but a user should not have to hit it). At start
the window asks this controller: when the chosen detector's weights are not in the torch cache and
the download server cannot be reached, it preselects "Whole image = one person" — which predicts
inside the existing boxes on frames that have people and takes the whole image on the others — and
the model panel says so. The reachability probe runs on a thread (a socket connect with a timeout),
never on the GUI thread.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

TORCHVISION_DETECTORS = ("fasterrcnn", "fasterrcnn_mobilenet", "ssdlite")
FALLBACK = "full_image"
DOWNLOAD_HOST = ("download.pytorch.org", 443)


def weights_cached(detector: str) -> bool:
    """True when ``detector`` needs no download (not a torchvision one, or its weights are cached)."""
    if detector not in TORCHVISION_DETECTORS:
        return True
    from hrnet import detector_weights_path

    try:
        return detector_weights_path(detector).is_file()
    except Exception:  # noqa: BLE001 - an unknown torchvision version: let the real load report it
        return True


def can_download(timeout_s: float = 3.0) -> bool:
    """Whether the weights' server answers (a TCP connect; blocking: call it on a thread)."""
    try:
        with socket.create_connection(DOWNLOAD_HOST, timeout=timeout_s):
            return True
    except OSError:
        return False


class _ProbeThread(QThread):
    done = Signal(bool)

    def __init__(self, probe: Callable[[], bool]) -> None:
        super().__init__()
        self._probe = probe

    def run(self) -> None:
        self.done.emit(bool(self._probe()))


class DetectorFallback(QObject):
    """Checks the model panel's detector once at start; switches to the fallback when needed."""

    note_changed = Signal(str)  # text for the model panel ("" = nothing to say)
    switched = Signal(str, str)  # from detector, to detector

    def __init__(self, panel, probe: Callable[[], bool] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.probe = probe or (lambda: can_download())  # looked up at call time (tests replace it)
        self._thread: _ProbeThread | None = None

    def check(self) -> None:
        detector = self.panel.detector()
        if weights_cached(detector) or self._thread is not None:
            return
        thread = _ProbeThread(self.probe)
        thread.done.connect(lambda ok, d=detector: self._on_probed(d, ok))
        self._thread = thread
        thread.start()

    def _on_probed(self, detector: str, reachable: bool) -> None:
        if reachable or self.panel.detector() != detector:  # (the user chose another one meanwhile)
            return
        label = dict(self.panel.detector_items()).get(detector, detector)
        log.info("%s weights missing and not downloadable: preselecting %s", detector, FALLBACK)
        self.panel.set_detector(FALLBACK, remember=False)
        self.note_changed.emit(
            f"{label}: its weights are not on this computer and cannot be downloaded now, so People is set to "
            "existing boxes on frames that have people and the whole image on the others.")
        self.switched.emit(detector, FALLBACK)

    def shutdown(self) -> None:
        if self._thread is not None:
            self._thread.wait(5000)
