"""Render docs/screenshot.png: the sample project with people, skeletons and a heatmap overlay.

    QT_QPA_PLATFORM=offscreen python resources/make_screenshot.py   (or under xvfb-run)

The poses and heatmaps are real predictions of the bundled demo model (resources/models: a small
HRNet trained by hrnet-train on synthetic people), run inside the people boxes of one sample scene.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "screenshot.png"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    from app.main import _apply_dark_palette

    _apply_dark_palette(app)
    QStandardPaths.setTestModeEnabled(True)
    from app.main_window import MainWindow
    from app.settings import AppSettings

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-shot-"))
    window = MainWindow(settings=AppSettings(tmp / "settings.ini"), recovery_dir=tmp / "recovery")
    window.resize(1600, 1000)
    window.show()

    def spin(cond, timeout=30.0):
        t0 = time.time()
        while not cond() and time.time() - t0 < timeout:
            app.processEvents()
            time.sleep(0.01)

    window.open_sample()  # loads the bundled demo model as well
    doc, view = window.document, window.view
    spin(lambda: window.model.is_loaded, 60)
    from app import commands as C
    from app.workers import InferenceJob

    doc.push(C.SetReviewed(doc, 2, True))
    shown = max(range(4), key=lambda i: len(doc.frame(i).instances))
    window.go_to_frame(shown)
    spin(lambda: view.shown_index == shown)
    # predict inside the people boxes of this scene (the ground truth is replaced by the model's poses)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (p.bbox for p in doc.frame(shown).instances)],
                     np.float32)
    for i in reversed(range(len(doc.frame(shown).instances))):
        doc.push(C.DeleteInstance(doc, shown, i))
    done = []
    window.inference_finished.connect(done.append)
    window._start_worker([InferenceJob(shown, boxes=boxes)], mode="apply")
    spin(lambda: "apply" in done, 60)
    people = doc.frame(shown).instances
    target = max(range(len(people)), key=lambda i: people[i].bbox[2] * people[i].bbox[3])
    joint = doc.keypoint_names().index("left_knee")
    view.select(target, joint)
    spin(lambda: window.heatmap_panel.heatmaps is not None)
    window.heatmap_panel.set_overlay_mode("max")
    window.heatmap_panel.opacity_slider.setValue(70)
    spin(lambda: False, 0.5)
    view.fit()
    spin(lambda: False, 0.3)
    view._set_hover((target, joint))
    window.statusBar().showMessage(view.joint_description(target, joint))
    spin(lambda: False, 0.3)
    image = window.grab().toImage()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(OUT), "PNG", 9)
    try:  # 256-colour PNG keeps the file small (the README embeds it); Pillow comes with torchvision
        from PIL import Image

        Image.open(OUT).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    except ImportError:
        pass
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")
    doc.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
