"""What applying each frame's prediction as it arrives costs (issue 13, item 14).

    nice -n 10 python benchmarks/live_apply.py [--repeats 5] [--interval SECONDS]

The real window (offscreen, shown) with the bundled sample project and the bundled demo model
(W16 128x96, one torch thread) runs "Predict all frames" with the offline detector choice
("Whole image = one person": inside the people's boxes where a frame has some, the whole image
elsewhere) - 42 frames, not tracked - and predicts the 34 video frames without people as one
selection, which goes through the tracker. Each run is made twice, once applying every frame's
result as the worker reports it (live, the default) and once applying everything at the end (the
behaviour before), alternating, and undone after each run so that every run does the same work.

Per run it prints the wall time, the process CPU time (both threads), the GUI thread's CPU time
(applying, merging the undo step, the frame list and canvas repaints, the progress bar) and the
CPU time inside the controller's apply step. The figures that matter are the ratios live/batch
of the run time and the GUI thread's extra CPU time per frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


DRAIN_MS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per mode and scenario (alternating)")
    parser.add_argument("--interval", type=float, default=None,
                        help="seconds between live updates (default: InferenceController.live_interval_s)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive for the run
    from app.bundled import DEMO_EXPERIMENT, demo_weights, sample_project
    from app.controllers.inference import InferenceController
    from app.main_window import MainWindow
    from app.model_manager import ModelSpec
    from app.settings import AppSettings
    from hrnet import Predictor

    tmp = Path(tempfile.mkdtemp(prefix="live_apply_"))
    window = MainWindow(settings=AppSettings(str(tmp / "settings.ini")), recovery_dir=tmp / "recovery",
                        autosave_delay_ms=3000)
    window.resize(1400, 900)
    window.show()
    if not window.open_paths([sample_project()]):
        raise SystemExit("cannot open the sample project")
    spec = ModelSpec(DEMO_EXPERIMENT, str(demo_weights()), "cpu")
    window.model.set_predictor(spec, Predictor(DEMO_EXPERIMENT, weights=demo_weights(), device="cpu"))
    doc, inf = window.document, window.inference
    frames = list(range(doc.num_frames()))
    empty_video = [f for f in frames if doc.frame(f).video and not doc.frame(f).instances]

    applied_cpu = [0.0]
    original = InferenceController._apply_pending

    def timed(self, run):
        t0 = time.thread_time()
        try:
            original(self, run)
        finally:
            applied_cpu[0] += time.thread_time() - t0

    InferenceController._apply_pending = timed
    if args.interval is not None:
        InferenceController.live_interval_s = args.interval

    from app.workers import InferenceWorker

    worker_cpu = [0.0]
    worker_run = InferenceWorker.run

    def timed_run(self):
        t0 = time.thread_time()
        try:
            worker_run(self)
        finally:
            worker_cpu[0] += time.thread_time() - t0

    InferenceWorker.run = timed_run

    def one_run(live: bool, which: list[int], scope: str) -> dict:
        InferenceController.live_apply = live
        applied_cpu[0] = worker_cpu[0] = 0.0
        loop = QEventLoop()
        inf.finished.connect(loop.quit)
        steps = doc.undo_stack.index()
        wall, cpu, gui = time.perf_counter(), time.process_time(), time.thread_time()
        if not inf.predict(which, scope, "full_image", 0.5):
            raise SystemExit("the prediction did not start")
        loop.exec()
        inf.finished.disconnect(loop.quit)
        settle(DRAIN_MS)  # the repaints the last changes asked for, in both modes
        wall, cpu, gui = (time.perf_counter() - wall - DRAIN_MS / 1000, time.process_time() - cpu,
                          time.thread_time() - gui)
        if doc.undo_stack.index() != steps + 1:
            raise SystemExit(f"expected one undo step, got {doc.undo_stack.index() - steps}")
        doc.undo()  # back to the opened state: every run does the same work
        settle(DRAIN_MS)
        return {"wall": wall, "cpu": cpu, "gui": gui, "apply": applied_cpu[0], "worker": worker_cpu[0]}

    def settle(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    scenarios = [("Predict all frames (42 frames, untracked)", frames, "all"),
                 (f"video frames without people ({len(empty_video)} frames, tracked)", empty_video, "selected")]
    one_run(True, empty_video[:2], "selected")  # warm-up: model, caches
    print(f"torch threads: {torch.get_num_threads()}, model {DEMO_EXPERIMENT}, detector: whole image / boxes, "
          f"live updates at most every {InferenceController.live_interval_s * 1000:.0f} ms, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for title, which, scope in scenarios:
        results: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(args.repeats):
            for live in (True, False):
                results[live].append(one_run(live, which, scope))
        n = len(which)
        print(f"\n{title}")
        print(f"{'mode':8} {'wall s':>8} {'process CPU s':>14} {'worker CPU s':>13} {'GUI CPU s':>10} "
              f"{'apply CPU ms/frame':>19}   (medians of {args.repeats}; all walls)")
        best = {}
        for live in (True, False):
            rs = results[live]
            best[live] = {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "worker", "gui", "apply")}
            b = best[live]
            walls = " ".join(f"{r['wall']:.2f}" for r in rs)
            print(f"{'live' if live else 'at end':8} {b['wall']:8.2f} {b['cpu']:14.2f} {b['worker']:13.2f} "
                  f"{b['gui']:10.3f} {1000 * b['apply'] / n:19.3f}   ({walls})")
        live, batch = best[True], best[False]
        print(f"run time live/at end: wall {live['wall'] / batch['wall']:.3f}, process CPU "
              f"{live['cpu'] / batch['cpu']:.3f}, worker CPU {live['worker'] / batch['worker']:.3f}; "
              f"GUI thread extra CPU per frame "
              f"{1000 * (live['gui'] - batch['gui']) / n:.2f} ms against {1000 * batch['cpu'] / n:.0f} ms "
              f"CPU per frame of prediction")
    InferenceController.live_apply = True
    window.close()


if __name__ == "__main__":
    main()
