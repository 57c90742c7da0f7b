"""Redraw time of the canvas with 20 people on a 1080p frame (full repaint, and a joint drag step).

    python benchmarks/app_redraw.py [--people 20] [--repeats 60]

Prints the median time of: a full repaint of the view; one drag step (a MoveKeypoint command
pushed and merged into the drag's undo step, the person item updated, the view repainted); a
zoom step (wheel) with repaint. The view is 1400x900 (offscreen raster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app import commands as C
    from app.canvas.view import PoseView
    from app.document import AnnotationDocument
    from app.sources import FrameSource
    from hrnet.annotations import Frame, Instance, PoseDocument

    rng = np.random.default_rng(0)
    image = (rng.integers(0, 255, (1080 // 8, 1920 // 8, 3), dtype=np.uint8)).repeat(8, 0).repeat(8, 1)
    people = []
    for _ in range(args.people):
        cx, cy = rng.uniform(150, 1770), rng.uniform(250, 830)
        kp = np.zeros((17, 3))
        kp[:, 0] = cx + rng.normal(0, 40, 17)
        kp[:, 1] = cy + np.linspace(-200, 200, 17) + rng.normal(0, 10, 17)
        kp[:, 2] = 2
        people.append(Instance(kp, bbox=np.array([cx - 120, cy - 230, 240, 460.0]),
                               joint_scores=rng.uniform(0, 1, 17)))
    data = PoseDocument(frames=[Frame(id=1, file_name="synthetic.png", width=1920, height=1080, instances=people)])

    class _Source(FrameSource):
        def image(self, index: int) -> np.ndarray:
            return image

    doc = AnnotationDocument(data, _Source(data))
    view = PoseView()
    view.resize(1400, 900)
    view.show()
    view.set_document(doc)
    while view.shown_index != 0:
        app.processEvents()
    view.fit()
    app.processEvents()

    def timed(fn) -> list[float]:
        out = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            view.viewport().repaint()
            out.append(time.perf_counter() - t0)
        return out

    full = timed(lambda: view.viewport().update())
    drag_id = C.new_drag_id()
    state = {"x": float(people[0].keypoints[9, 0])}

    def drag_step():
        state["x"] += 1.0
        doc.push(C.MoveKeypoint(doc, 0, 0, 9, (state["x"], float(people[0].keypoints[9, 1])), drag_id=drag_id))

    drag = timed(drag_step)
    assert doc.undo_stack.count() == 1  # the whole drag is one undo step
    zoom = timed(lambda: view.zoom_by(1.01))
    view.set_annotations_visible(False)
    image_only = timed(lambda: view.viewport().update())
    view.shutdown()

    ms = lambda v: f"{statistics.median(v) * 1000:.1f} ms"  # noqa: E731
    print(f"{args.people} people (17 joints, 19 limbs, box each) on 1920x1080, view 1400x900")
    print(f"full repaint: median {ms(full)}  (image alone: {ms(image_only)})")
    print(f"drag step (command + merge + repaint): median {ms(drag)}")
    print(f"zoom step + repaint: median {ms(zoom)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
