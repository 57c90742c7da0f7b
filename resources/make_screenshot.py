"""Render docs/screenshot.png: the sample project with people, skeletons and a heatmap overlay.

    QT_QPA_PLATFORM=offscreen python resources/make_screenshot.py   (or under xvfb-run)

The heatmaps come from the tiny random-weight demo model (the app says so in the status bar):
they show where the overlay goes and how it looks, not a trained model's output.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

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
    from app.model_manager import ModelSpec
    from app.settings import AppSettings
    from hrnet.predictor import Predictor

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-shot-"))
    window = MainWindow(settings=AppSettings(tmp / "settings.ini"), recovery_dir=tmp / "recovery")
    window.resize(1600, 1000)
    window.show()

    def spin(cond, timeout=30.0):
        t0 = time.time()
        while not cond() and time.time() - t0 < timeout:
            app.processEvents()
            time.sleep(0.01)

    window.open_sample()
    doc, view = window.document, window.view
    spec = ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu")
    window.model.set_predictor(spec, Predictor(spec.experiment, device="cpu"))
    from app import commands as C

    doc.push(C.SetReviewed(doc, 2, True))
    shown = max(range(4), key=lambda i: len(doc.frame(i).instances))
    window.go_to_frame(shown)
    spin(lambda: view.shown_index == shown)
    people = doc.frame(shown).instances
    target = max(range(len(people)), key=lambda i: people[i].bbox[2] * people[i].bbox[3])
    view.select(target, doc.keypoint_names().index("left_wrist"))
    spin(lambda: window.heatmap_panel.heatmaps is not None)
    window.heatmap_panel.set_overlay_mode("max")
    window.heatmap_panel.opacity_slider.setValue(45)
    spin(lambda: False, 0.5)
    view.fit()
    spin(lambda: False, 0.3)
    view._set_hover((target, doc.keypoint_names().index("left_wrist")))
    window.statusBar().showMessage(view.joint_description(target, doc.keypoint_names().index("left_wrist")))
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
