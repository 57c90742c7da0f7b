"""Render docs/screenshot.png: the sample project with people, skeletons and a heatmap overlay.

    QT_QPA_PLATFORM=offscreen python resources/make_screenshot.py [--output PATH]   (or under xvfb-run)

The poses and heatmaps are real predictions of the bundled demo model (resources/models: a small
HRNet trained by hrnet-train on synthetic people): every person of one sample scene is re-predicted
inside their box, the way a user does it (select the person, Model > Re-predict selected person,
answer Yes to replace the ground truth too). Only the window's public API is used: the project and
inference controllers, the view's selection and a real mouse hover over a joint, so the picture
shows what a user sees (tests/app/test_make_screenshot.py runs :func:`stage` offscreen).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "screenshot.png"
SIZE = (1600, 1000)
JOINT = "left_knee"  # the hovered joint of the biggest person
# The scene shown by default. Looked at all four with the demo model: on scene_03 its poses are
# right; scene_01's four overlapping people come out tangled (the model has AP 0.31).
SCENE = "scene_03.jpg"


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Let the event loop run until ``condition()`` holds; TimeoutError names ``what`` otherwise."""
    from PySide6.QtTest import QTest

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        QTest.qWait(20)


def settle(seconds: float) -> None:
    """Let repaints and queued signals through for ``seconds``."""
    from PySide6.QtTest import QTest

    QTest.qWait(int(seconds * 1000))


def stage(window, frame: int | None = None) -> tuple[int, int]:
    """Put ``window`` (a shown MainWindow) into the screenshot's state: the sample project, one
    scene (``frame``, 0-based; default: :data:`SCENE`, else the busiest scene) re-predicted by the demo
    model, the biggest person selected with the heatmaps of all joints overlaid, the mouse over
    their left knee. Returns (frame, person)."""
    from PySide6.QtCore import QPointF
    from PySide6.QtTest import QTest

    from app import commands as C

    window.open_sample()  # loads the bundled demo model as well
    doc, view = window.document, window.view
    wait_until(lambda: doc.num_frames() > 0, 30, "the sample project")
    wait_until(lambda: window.model.is_loaded, 60, "the demo model")
    if frame is None:
        named = [i for i, fr in enumerate(doc.data.frames) if Path(fr.file_name).name == SCENE and fr.instances]
        shown = named[0] if named else max(range(doc.num_frames()), key=lambda i: len(doc.frame(i).instances))
    elif 0 <= frame < doc.num_frames() and doc.frame(frame).instances:
        shown = frame
    else:
        raise ValueError(f"frame {frame + 1} of the sample project has no people to predict")
    doc.push(C.SetReviewed(doc, 1 if shown != 1 else 0, True))  # a reviewed mark in the frame list
    window.go_to_frame(shown)
    wait_until(lambda: view.shown_index == shown, 30, f"frame {shown + 1} on the canvas")
    # the model's poses inside the people's boxes, one person at a time (one run at a time)
    for person in range(len(doc.frame(shown).instances)):
        done = []
        window.inference.finished.connect(done.append)
        try:
            if not window.inference.repredict_person(shown, person, replace_hand=True):
                raise RuntimeError(f"cannot re-predict person #{person + 1}")
            wait_until(lambda done=done: bool(done), 60, f"the prediction of person #{person + 1}")
        finally:
            window.inference.finished.disconnect(done.append)
    people = doc.frame(shown).instances
    if not all(p.joint_scores is not None for p in people):
        raise RuntimeError("the demo model's predictions did not replace the sample's poses")
    target = max(range(len(people)), key=lambda i: people[i].bbox[2] * people[i].bbox[3])
    joint = doc.keypoint_names().index(JOINT)
    view.select(target, joint)
    wait_until(lambda: window.heatmap_panel.heatmaps is not None, 60, "the selected person's heatmaps")
    window.heatmap_panel.set_overlay_mode("max")
    window.heatmap_panel.opacity_slider.setValue(70)
    settle(0.5)
    view.fit()
    settle(0.3)
    x, y = (float(v) for v in people[target].keypoints[joint, :2])
    QTest.mouseMove(view.viewport(), view.mapFromScene(QPointF(x, y)))  # the hover label and status text
    wait_until(lambda: view.hover_label.isVisible(), 10, "the hover label")
    settle(0.3)
    return shown, target


def save(window, out: Path, colors: int = 0) -> Path:
    """Grab the window into ``out`` (PNG; with ``colors``, a palette of that many colours: a smaller
    file, but the sample's colour gradients come out banded, so full colour is the default)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().toImage().save(str(out), "PNG", 9):
        raise OSError(f"cannot write {out}")
    if colors:
        from PIL import Image  # Pillow comes with torchvision

        Image.open(out).convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUT, help=f"PNG to write (default: {OUT})")
    parser.add_argument("--frame", type=int, default=None,
                        help=f"the sample frame to show, 1-based (default: {SCENE})")
    parser.add_argument("--colors", type=int, default=0, choices=range(2, 257), metavar="N",
                        help="write a palette PNG of N colours (smaller, banded gradients; default: full colour)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    from app import qt_fixes

    qt_fixes.apply()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    from app.main import _apply_dark_palette

    _apply_dark_palette(app)
    QStandardPaths.setTestModeEnabled(True)
    from app.main_window import MainWindow
    from app.settings import AppSettings

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-shot-"))
    window = MainWindow(settings=AppSettings(tmp / "settings.ini"), recovery_dir=tmp / "recovery")
    window.resize(*SIZE)
    window.show()
    try:
        stage(window, None if args.frame is None else args.frame - 1)
        out = save(window, args.output, args.colors)
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")
    finally:
        window.document.undo_stack.setClean()  # nothing to save: close without asking
        window.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # this checkout's app, also when it is not installed
    sys.exit(main())
