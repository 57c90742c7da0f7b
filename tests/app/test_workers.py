"""InferenceWorker and ModelManager: off the GUI thread, typed signals, cancel, errors as messages."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest

from app.model_manager import ModelManager, ModelSpec, describe_error
from app.workers import InferenceJob, InferenceWorker
from hrnet.errors import MediaError, WeightsError


@dataclass
class FakeResult:
    keypoints: np.ndarray
    score: float
    box: np.ndarray
    heatmaps: np.ndarray | None = None
    heatmap_to_image: np.ndarray | None = None


class FakePredictor:
    def __init__(self, delay: float = 0.0, fail_on: int | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.calls = 0
        self.threads: set[int] = set()

    def predict(self, image, boxes, box_scores=None, return_heatmaps=False):
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.fail_on is not None and self.calls == self.fail_on:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        time.sleep(self.delay)
        out = []
        for b in np.asarray(boxes).reshape(-1, 4):
            kp = np.zeros((17, 3))
            kp[:, 0], kp[:, 1], kp[:, 2] = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 0.5
            out.append(FakeResult(kp, 0.5, b, np.zeros((17, 8, 6), np.float32), np.eye(2, 3)))
        return out


def _read(i: int) -> np.ndarray:
    if i == 3:
        raise MediaError("Image not found: frame3.png")
    return np.zeros((60, 80, 3), np.uint8)


@dataclass
class FakeDetections:
    boxes: np.ndarray
    scores: np.ndarray


class FakeDetector:
    def __call__(self, image):
        return FakeDetections(np.array([[1, 2, 30, 50], [40, 5, 70, 55]], np.float32), np.array([0.9, 0.2], np.float32))


def test_worker_runs_off_thread_with_progress_and_results(qtbot):
    predictor = FakePredictor()
    jobs = [InferenceJob(0), InferenceJob(1, boxes=np.array([[0, 0, 10, 10]], np.float32)), InferenceJob(2)]
    worker = InferenceWorker(predictor, jobs, _read, detector_factory=FakeDetector, min_box_score=0.5)
    results, progress, built = {}, [], []
    worker.result.connect(lambda f, r: results.__setitem__(f, r))
    worker.progress.connect(lambda d, t, s: progress.append((d, t)))
    worker.detector_ready.connect(built.append)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert sorted(results) == [0, 1, 2]
    assert len(results[0]) == 1  # the 0.2-score box is filtered out
    assert np.allclose(results[1][0].box, (0, 0, 10, 10))  # given boxes skip the detector
    assert progress[-1] == (3, 3)
    assert len(built) == 1  # the detector is built once, on the worker thread, and handed back
    assert threading.get_ident() not in predictor.threads


def test_worker_without_detector_uses_the_whole_image(qtbot):
    worker = InferenceWorker(FakePredictor(), [InferenceJob(0)], _read)
    got = []
    worker.result.connect(lambda f, r: got.append(r))
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert np.allclose(got[0][0].box, (0, 0, 80, 60))


def test_cancel_stops_between_frames(qtbot):
    worker = InferenceWorker(FakePredictor(delay=0.05), [InferenceJob(i) for i in range(5, 60)], _read)
    worker.result.connect(lambda f, r: worker.requestInterruption())
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert worker.cancelled and 1 <= worker.frames_done < 5


def test_unreadable_frame_is_skipped_and_errors_become_messages(qtbot):
    worker = InferenceWorker(FakePredictor(fail_on=2), [InferenceJob(i) for i in range(3, 8)], _read)
    skipped, failed = [], []
    worker.frame_failed.connect(lambda f, m: skipped.append((f, m)))
    worker.failed.connect(failed.append)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert skipped and skipped[0][0] == 3 and "frame3.png" in skipped[0][1]
    assert failed and failed[0].startswith("Out of memory")
    assert worker.frames_done == 2  # frame 3 skipped, frame 4 done, frame 5 hit the error


def test_describe_error_for_missing_weights():
    text = describe_error(WeightsError("Weights file not found: x.pth"))
    assert "x.pth" in text and "Choose model" in text


def test_real_predictor_on_worker_and_model_manager(qtbot):
    manager = ModelManager()
    spec = ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu")
    assert spec.is_random and "RANDOM" in spec.label()
    with qtbot.waitSignal(manager.model_loaded, timeout=60000):
        manager.load(spec)
    assert manager.is_loaded and manager.spec == spec and manager.device_text() == "cpu, fp32"
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    worker = InferenceWorker(manager.predictor, [InferenceJob(0, boxes=np.array([[10, 10, 90, 110]], np.float32))],
                             lambda i: image)
    got = []
    worker.result.connect(lambda f, r: got.append(r))
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    r = got[0][0]
    assert r.keypoints.shape == (17, 3) and r.heatmaps.shape == (17, 32, 24)
    assert r.heatmap_to_image.shape == (2, 3)
    manager.wait()


def test_model_manager_reports_bad_experiment(qtbot):
    manager = ModelManager()
    with qtbot.waitSignal(manager.model_failed, timeout=30000) as blocker:
        manager.load(ModelSpec("no/such/experiment", None, "cpu"))
    assert "experiment" in blocker.args[1].lower()
    assert not manager.is_loaded
    manager.wait()


@pytest.mark.parametrize("weights", ["/nonexistent/model.pth"])
def test_model_manager_reports_missing_weights(qtbot, weights):
    manager = ModelManager()
    with qtbot.waitSignal(manager.model_failed, timeout=30000) as blocker:
        manager.load(ModelSpec("synthetic/hrnet_w16_128x96", weights, "cpu"))
    assert "not found" in blocker.args[1] and "Choose model" in blocker.args[1]
    manager.wait()


def test_detector_that_cannot_load_says_what_to_do(qtbot):
    def factory():
        raise WeightsError("Faster R-CNN weights are not in the torch cache (offline)")

    worker = InferenceWorker(FakePredictor(), [InferenceJob(0)], _read, detector_factory=factory)
    failed = []
    worker.failed.connect(failed.append)
    with qtbot.waitSignal(worker.finished, timeout=30000):
        worker.start()
    assert failed and "person detector" in failed[0] and "Whole image" in failed[0]


def test_model_manager_releases_gpu_memory_and_describes_the_device(qtbot, monkeypatch):
    import weakref

    import torch

    import hrnet

    class P:
        def __init__(self, device, half, precision=None):
            self.device, self.half = device, half
            if precision:
                self.precision = precision

    released = []
    monkeypatch.setattr(hrnet, "release_memory", lambda device=None: released.append(device), raising=False)
    monkeypatch.setattr(hrnet, "device_label", lambda d: f"{d} (Fake GPU)", raising=False)
    manager = ModelManager()
    first = P(torch.device("cuda", 0), True)
    alive = weakref.ref(first)
    spec = ModelSpec("synthetic/hrnet_w16_128x96", None, "cuda:0")
    manager.set_predictor(spec, first)
    assert manager.device_text() == "cuda:0 (Fake GPU), fp16" and released == []
    del first
    manager.set_predictor(spec, P(torch.device("cpu"), False))
    assert alive() is None  # nothing in the manager keeps the swapped-out model
    assert released == [torch.device("cuda", 0)]
    assert manager.device_text() == "cpu (Fake GPU), fp32"
    manager.clear()
    assert released == [torch.device("cuda", 0)]  # a CPU model holds no GPU memory
    manager.set_predictor(spec, P(torch.device("cuda", 1), False, "int8"))
    assert manager.device_text().endswith(", int8")
    manager.clear()
    assert released[-1] == torch.device("cuda", 1) and manager.device_text() == "no model"


def test_model_panel_lists_the_real_devices(qtbot, monkeypatch):
    import hrnet
    from app.widgets.model_panel import ModelPanelWidget
    from hrnet.utils.device import DeviceInfo

    fake = [DeviceInfo("cpu", "CPU"), DeviceInfo("cuda:0", "Fake A100", 40 * 10**9), DeviceInfo("cuda:1", "Fake L4")]
    monkeypatch.setattr(hrnet, "available_devices", lambda: fake, raising=False)
    panel = ModelPanelWidget()
    qtbot.addWidget(panel)
    combo = panel.device_combo
    items = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
    assert [d for _, d in items] == ["auto", "cpu", "cuda:0", "cuda:1"]  # no mps: it is not there
    assert "Fake A100, 40 GB" in items[2][0] and items[0][0] == "auto (cuda:0)"
    panel.set_spec(ModelSpec("synthetic/hrnet_w16_128x96", None, "cuda:1"))
    assert panel.device() == "cuda:1" and panel.spec().device == "cuda:1"
    panel.set_spec(ModelSpec("synthetic/hrnet_w16_128x96", None, "cuda:7"))  # saved on another machine
    assert panel.device() == "cuda:7" and "not found" in combo.currentText()
