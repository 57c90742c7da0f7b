"""Projects at dataset scale: load/save against the json module, opening, and GUI freezes.

    nice -n 10 python benchmarks/app_scale.py [--people 1000 10000 150000] [--runs 3]

For each size a generated COCO keypoint project (2.5 people per image, predictions with joint
scores, like "Predict all frames" leaves) is measured in a fresh process:

- ``load_coco`` / ``save_coco`` process CPU time as ratios to ``json.load`` / ``json.dumps`` on
  the same file (best of 2);
- the time to open the project in the window (wall clock, ``MainWindow.open_paths`` until the
  frames are in; big projects open on a worker behind a progress dialog) and the longest
  heartbeat stall meanwhile;
- the longest stall of the GUI thread, seen by a 5 ms heartbeat ``QTimer`` (wall-clock gap
  between ticks), from an edit until its autosave has been written (the first autosave writes
  the base, later ones append to the journal), and from Ctrl+S until the save has finished;
- the frame list and review queue: Weakest (L) the first time (right after opening, while the
  frames' confidences are computed on a worker: until it lands, and the longest freeze) and again,
  the low-confidence filter, the slowest of 25 scroll steps through the frame list (wall ms);
- peak memory (``ru_maxrss``) of the process.

With ``--runs N`` each size is measured N times (each in a fresh process) and every figure is
printed as the median and, in brackets, the worst of the runs (the highest time, ratio, freeze
or memory): on a shared, loaded machine single runs vary by a factor of two.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_project(n_people: int, seed: int = 0) -> dict:
    from hrnet.annotations import COCO_KEYPOINTS, COCO_SKELETON

    rng = np.random.default_rng(seed)
    K = 17
    n_images = max(1, n_people * 2 // 5)
    images = [{"id": i + 1, "file_name": f"frame_{i:06d}.jpg", "width": 1920, "height": 1080}
              for i in range(n_images)]
    img_of = np.sort(rng.integers(0, n_images, n_people))
    kp = np.round(rng.uniform(0, 1000, (n_people, K, 3)), 2)
    kp[:, :, 2] = rng.choice([0, 1, 2], (n_people, K), p=[0.1, 0.2, 0.7])
    js = np.round(rng.uniform(0, 1, (n_people, K)), 4).tolist()
    scores = np.round(rng.uniform(0, 1, n_people), 4).tolist()
    anns = []
    for a in range(n_people):
        flat = [c for (x, y, v) in kp[a].tolist() for c in (x, y, int(v))]
        anns.append({"id": a + 1, "image_id": int(img_of[a]) + 1, "category_id": 1, "keypoints": flat,
                     "num_keypoints": int((kp[a, :, 2] > 0).sum()), "bbox": [10.5, 20.25, 300.0, 400.0],
                     "area": 120000.0, "iscrowd": 0, "score": scores[a],
                     "hrnet_annotator": {"joint_scores": js[a]}})
    return {"hrnet_annotator": {"version": 1, "image_root": "images"}, "info": {"description": "generated"},
            "images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_KEYPOINTS),
                            "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]}


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def measure_one(n_people: int) -> dict:
    from hrnet.annotations import load_coco, save_coco

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-bench-scale-"))
    path = tmp / "project.json"
    with open(path, "w") as f:
        json.dump(make_project(n_people), f)
    out: dict = {"people": n_people, "mb": path.stat().st_size / 1e6}

    def jload():
        with open(path, "rb") as f:
            return json.load(f)

    data = jload()
    t_jl = min(cpu(jload) for _ in range(2))
    t_lc = min(cpu(lambda: load_coco(path)) for _ in range(2))
    t_jd = min(cpu(lambda: json.dumps(data)) for _ in range(2))
    data = None  # free it before the window is measured
    doc = load_coco(path)
    t_sc = min(cpu(lambda: save_coco(doc, tmp / "saved.json")) for _ in range(2))
    assert load_coco(tmp / "saved.json") == doc
    del doc
    out.update(json_load=t_jl, load_coco=t_lc, json_dumps=t_jd, save_coco=t_sc)

    from PySide6.QtCore import QEventLoop, QStandardPaths, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    QStandardPaths.setTestModeEnabled(True)
    from app.commands import MoveKeypoint, SetReviewed
    from app.main_window import MainWindow
    from app.settings import AppSettings

    window = MainWindow(settings=AppSettings(str(tmp / "settings.ini")), recovery_dir=tmp / "recovery",
                        autosave_delay_ms=200)
    window.show_error = lambda *a, **k: None  # the images of a generated project do not exist
    window.show()
    app.processEvents()
    ticks: list[float] = []
    beat = QTimer()
    beat.setInterval(5)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    beat.start()

    def spin(ms: int, signal=None) -> None:
        loop = QEventLoop()
        if signal is not None:
            signal.connect(loop.quit)
        QTimer.singleShot(ms, loop.quit)
        loop.exec()
        if signal is not None:
            signal.disconnect(loop.quit)

    doc = window.document
    spin(100)
    ticks.clear()
    t0 = time.perf_counter()
    ok = window.open_paths([path], confirm=False)
    assert ok, "open failed"
    if doc.num_frames() == 0:  # a big project opens in the background
        spin(600_000, doc.frames_changed)
    out["open_s"] = time.perf_counter() - t0
    ts = [t0, *ticks, time.perf_counter()]
    out["freeze_open_ms"] = 1000 * max(y - x for x, y in zip(ts, ts[1:]))
    assert doc.num_frames() > 0, "open failed"

    # frame list, filters, review queue (wall ms on the GUI thread)
    from app.widgets.frame_list import FrameListWidget

    flist = window.findChild(FrameListWidget)

    def wall_ms(fn) -> float:
        t = time.perf_counter()
        fn()
        app.processEvents()
        return 1000 * (time.perf_counter() - t)

    # Weakest (L) right after opening: the frames' confidences are still being computed on a
    # worker, L follows when they are in; wall ms until it has landed, and the longest freeze
    ticks.clear()
    t_l = time.perf_counter()
    window.act_low_frame.trigger()
    while flist.model._bulk is not None and time.perf_counter() - t_l < 120:
        spin(10)
    app.processEvents()
    out["weakest_first_ms"] = 1000 * (time.perf_counter() - t_l)
    ts = [t_l, *ticks, time.perf_counter()]
    out["weakest_first_freeze_ms"] = 1000 * max(y - x for x, y in zip(ts, ts[1:]))
    out["weakest_next_ms"] = wall_ms(window.act_low_frame.trigger)
    out["filter_low_ms"] = wall_ms(lambda: flist.set_filter("low"))
    out["filter_all_ms"] = wall_ms(lambda: flist.set_filter("all"))
    bar = flist.list.verticalScrollBar()
    steps = [wall_ms(lambda v=v: (bar.setValue(v), flist.list.viewport().repaint()))
             for v in np.linspace(0, bar.maximum(), 25).astype(int).tolist()]
    out["scroll_step_ms"] = max(steps)

    def longest_gap(action, signal, timeout_ms: int) -> float:
        spin(100)
        ticks.clear()
        start = time.perf_counter()
        QTimer.singleShot(0, action)
        spin(timeout_ms, signal)
        spin(100)
        ts = [start, *ticks]
        return max(b - a for a, b in zip(ts, ts[1:]))

    mid = doc.num_frames() // 2
    out["freeze_first_edit_ms"] = 1000 * longest_gap(
        lambda: doc.push(SetReviewed(doc, mid)), window.autosave.recovery_written, 120_000)
    gaps = []
    for k in range(3):
        gaps.append(longest_gap(lambda k=k: doc.push(MoveKeypoint(doc, k, 0, 0, (5.0 + k, 6.0))),
                                window.autosave.recovery_written, 60_000))
    out["freeze_edit_ms"] = 1000 * max(gaps)
    # what a restart after kill -9 would recover now: base + journal, read from disk
    from hrnet import read_journal_recovery

    window.autosave.wait()
    recovered, _, records = read_journal_recovery(window.autosave.recovery_path)
    out["recovery_exact"] = bool(recovered == doc.data)
    out["journal_records"] = records
    out["freeze_ctrl_s_ms"] = 1000 * longest_gap(window.act_save.trigger, doc.saved, 120_000)  # Ctrl+S
    out["saved_clean"] = not doc.is_dirty
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    beat.stop()
    window.document.undo_stack.clear()
    window.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=1, help="measure each size this many times (median, worst)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(measure_one(args.one)), flush=True)
        os._exit(0)  # skip Qt teardown
    cols = [("mb", "MB", "{:.1f}"), ("json_load", "json.load", "{:.3f}"), ("load_coco", "load_coco", "{:.3f}"),
            ("load_ratio", "ratio", "{:.2f}x"), ("json_dumps", "dumps", "{:.3f}"), ("save_coco", "save_coco", "{:.3f}"),
            ("save_ratio", "ratio", "{:.2f}x"), ("open_s", "open s", "{:.2f}"),
            ("freeze_open_ms", "open frz", "{:.0f}"),
            ("freeze_first_edit_ms", "1st edit", "{:.0f}"), ("freeze_edit_ms", "edit ms", "{:.0f}"),
            ("freeze_ctrl_s_ms", "Ctrl+S ms", "{:.0f}"), ("peak_mb", "peak MB", "{:.0f}"),
            ("weakest_first_ms", "weakest", "{:.0f}"), ("weakest_first_freeze_ms", "its frz", "{:.0f}"),
            ("weakest_next_ms", "again", "{:.0f}"),
            ("filter_low_ms", "low flt", "{:.0f}"), ("scroll_step_ms", "scroll", "{:.0f}")]
    print("people runs  " + "  ".join(f"{h}" for _, h, _ in cols), flush=True)
    for n in args.people:
        runs = []
        for _ in range(args.runs):
            r = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True)
            line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                print(f"{n}: failed\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
                return 1
            o = json.loads(line[7:])
            o["load_ratio"] = o["load_coco"] / o["json_load"]
            o["save_ratio"] = o["save_coco"] / o["json_dumps"]
            runs.append(o)
            print("  run " + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in o.items()}),
                  flush=True)
        cells = []
        for key, _, fmt in cols:
            vals = [o[key] for o in runs]
            med = fmt.format(float(np.median(vals)))
            cells.append(med if len(runs) == 1 else f"{med} ({fmt.format(max(vals))})")
        exact = all(o["recovery_exact"] for o in runs)
        print(f"{n:>6} {len(runs):>4}  " + "  ".join(cells) + f"  recovery exact in every run: {exact}", flush=True)
    print("times: process CPU s (load/save), wall s (open); freezes: longest gap of a 5 ms heartbeat QTimer "
          "(open: from open_paths until the frames are in; 1st edit: autosave writes the base; edit: later "
          "autosaves, journal appends; Ctrl+S: until saved); weakest (L, first and again), low-confidence "
          "filter, one scroll step of the frame list: wall ms (weakest: the first L, right after opening, until it "
          "has landed; its frz: the longest heartbeat gap meanwhile); cells: median (worst) over the runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
