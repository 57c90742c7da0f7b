"""resources/make_screenshot.py keeps running: its set-up drives the real window through public API
only (it broke once when it called a private method the window split removed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.app.gui_support import make_window

SCRIPT = Path(__file__).resolve().parents[2] / "resources" / "make_screenshot.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_screenshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_uses_no_private_window_api():
    text = SCRIPT.read_text(encoding="utf-8")
    for private in ("window._", "view._", "panel._", "inference._", "doc._"):
        assert private not in text, private


def test_screenshot_set_up_runs_offscreen(qtbot, tmp_path, monkeypatch):
    shot = _load_script()
    window = make_window(qtbot, tmp_path, monkeypatch)
    window.resize(*shot.SIZE)
    try:
        frame, person = shot.stage(window)
        doc, view = window.document, window.view
        assert view.shown_index == frame and len(doc.frame(frame).instances) >= 3
        # every person of the scene carries the demo model's pose now (scores), boxes kept
        assert all(p.joint_scores is not None and p.bbox is not None for p in doc.frame(frame).instances)
        assert view.selected_person == person and window.heatmap_panel.heatmaps is not None
        assert window.heatmap_panel.overlay_mode() == "max"
        assert view.hover_label.isVisible() and shot.JOINT in view.hover_label.text()
        out = shot.save(window, tmp_path / "shot.png")
        image = QImage(str(out))
        assert (image.width(), image.height()) == (window.width(), window.height())
    finally:
        window.document.undo_stack.setClean()
        window.close()


def test_script_rejects_an_unknown_option():
    with pytest.raises(SystemExit):
        _load_script().main(["--no-such-option"])
