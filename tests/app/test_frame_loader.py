"""FrameLoader: decoding off the GUI thread, latest request wins, cache, read-ahead, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.frame_loader import FrameLoader, bgr_to_qimage


def _frame(i: int) -> np.ndarray:
    img = np.zeros((24, 32, 3), np.uint8)
    img[..., 0] = i % 256  # blue channel carries the index
    img[0, 0] = (10, 20, 30)
    return img


class SlowSource:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[int] = []
        self.threads: set[int] = set()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, i: int) -> np.ndarray:
        self.calls.append(i)
        self.threads.add(threading.get_ident())
        self.gate.wait(5)
        time.sleep(self.delay)
        if i == 13:
            raise OSError("cannot read frame 13")
        return _frame(i)


@pytest.fixture
def loader(qtbot):
    source = SlowSource()
    fl = FrameLoader(source, cache_size=4, read_ahead=1, num_frames=100)
    fl.source = source
    yield fl
    fl.shutdown()


def test_bgr_to_qimage_channel_order():
    img = bgr_to_qimage(_frame(7))
    c = img.pixelColor(0, 0)
    assert (c.red(), c.green(), c.blue()) == (30, 20, 10)
    assert img.pixelColor(5, 5).blue() == 7


def test_request_decodes_off_gui_thread_and_caches(qtbot, loader):
    with qtbot.waitSignal(loader.frame_ready, timeout=3000) as blocker:
        assert loader.request(5) is None
    index, image = blocker.args
    assert index == 5 and image.pixelColor(5, 5).blue() == 5
    assert threading.get_ident() not in loader.source.threads
    # cached now: returned synchronously
    assert loader.request(5) is not None
    # read-ahead of the next frame in the direction of travel
    qtbot.waitUntil(lambda: loader.cached(6) is not None, timeout=3000)


def test_latest_request_wins(qtbot, loader):
    src = loader.source
    src.gate.clear()  # block the decoder on the first request
    received = []
    loader.frame_ready.connect(lambda i, img: received.append(i))
    loader.request(1)
    qtbot.waitUntil(lambda: src.calls == [1], timeout=3000)
    for i in range(2, 30):
        loader.request(i)  # all but the last are superseded before the thread is free
    src.gate.set()
    qtbot.waitUntil(lambda: bool(received) and received[-1] == 29, timeout=3000)
    assert received == [29]  # frame 1 finished late: cached but not shown
    assert 2 not in src.calls and 28 not in src.calls
    assert loader.cached(1) is not None


def test_cache_is_bounded(qtbot, loader):
    for i in range(10):
        with qtbot.waitSignal(loader.frame_ready, timeout=3000):
            loader.request(i * 10)
    qtbot.waitUntil(loader.is_idle, timeout=3000)
    assert len(loader._cache) <= 4
    assert loader.cached(90) is not None


def test_failure_is_reported_not_raised(qtbot, loader):
    with qtbot.waitSignal(loader.failed, timeout=3000) as blocker:
        loader.request(13)
    assert blocker.args[0] == 13 and "frame 13" in blocker.args[1]


def test_set_source_drops_old_results(qtbot, loader):
    with qtbot.waitSignal(loader.frame_ready, timeout=3000):
        loader.request(3)
    loader.set_source(lambda i: _frame(200 + i), num_frames=10)
    assert loader.cached(3) is None
    with qtbot.waitSignal(loader.frame_ready, timeout=3000) as blocker:
        loader.request(3)
    assert blocker.args[1].pixelColor(5, 5).blue() == 203
