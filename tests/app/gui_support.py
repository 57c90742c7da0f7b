"""Helpers shared by the GUI tests: synthetic data on disk, waiting for frames, real mouse drags."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from hrnet.dataset.synthetic import generate_dataset, write_video


def synthetic_project(tmp_path: Path, num_images: int = 5, seed: int = 3, people=(2, 3)) -> tuple[Path, Path]:
    """A COCO keypoint JSON + image folder of rendered people; returns (json path, images folder)."""
    ann = generate_dataset(tmp_path / "synth", num_images, image_size=(320, 240), people=people, seed=seed)
    return ann, tmp_path / "synth" / "images" / "train"


def synthetic_video(tmp_path: Path, num_frames: int = 20) -> Path:
    return write_video(tmp_path / "walk.mp4", num_frames=num_frames, image_size=(320, 240), people=2).path


def wait_frame(qtbot, view, index: int, timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: view.shown_index == index, timeout=timeout)


def view_pos(view, x: float, y: float) -> QPoint:
    """Viewport position of image point (x, y)."""
    return view.mapFromScene(QPointF(x, y))


def drag(view, start: QPoint, end: QPoint, steps: int = 6, button=Qt.MouseButton.LeftButton) -> None:
    """A real press-move-release on the view's viewport, moving in ``steps`` increments."""
    vp = view.viewport()
    QTest.mouseMove(vp, start)
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, steps + 1):
        p = QPoint(start.x() + (end.x() - start.x()) * k // steps, start.y() + (end.y() - start.y()) * k // steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, end)


def make_window(qtbot, tmp_path: Path, monkeypatch, autosave_delay_ms: int = 150):
    """A real MainWindow with throw-away settings/recovery folders, shown and active."""
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QMessageBox

    from app.main_window import MainWindow
    from app.settings import AppSettings

    QStandardPaths.setTestModeEnabled(True)
    # closing at the end of a test never blocks on "save changes?"
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    window = MainWindow(settings=AppSettings(tmp_path / "settings.ini"), recovery_dir=tmp_path / "recovery",
                        autosave_delay_ms=autosave_delay_ms)
    qtbot.addWidget(window)
    window.resize(1280, 860)
    window.show()
    qtbot.waitExposed(window)
    window.raise_()
    window.activateWindow()  # window shortcuts only fire in the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    return window


def key(window, k, modifier=None) -> None:
    """A key press delivered like a user's: to the focus widget, through the shortcut map."""
    from PySide6.QtCore import Qt as _Qt

    target = window.focusWidget() or window.view
    QTest.keyClick(target, k, modifier if modifier is not None else _Qt.KeyboardModifier.NoModifier)
