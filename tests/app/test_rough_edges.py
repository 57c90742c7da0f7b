"""The rough edges a new user hits in the first hour (issue 13), each driven through the real window."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.app.gui_support import make_window, synthetic_project, wait_frame


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path, monkeypatch)
    yield w
    w.close()


@pytest.fixture
def project(tmp_path):
    return synthetic_project(tmp_path, num_images=5)


def _bad_images_folder(tmp_path, images):
    """Two good images, then random bytes as .jpg, text as .png and a truncated JPEG."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(images.iterdir())
    shutil.copy(good[0], folder / "a_good.jpg")
    shutil.copy(good[1], folder / "b_good.jpg")
    (folder / "c_random.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    (folder / "d_text.png").write_text("this is not an image\n" * 20)
    ok, jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))
    (folder / "e_truncated.jpg").write_bytes(jpeg.tobytes()[:200])
    return folder


def test_unreadable_images_show_the_error_and_are_listed(qtbot, window, project, tmp_path):
    _ann, images = project
    folder = _bad_images_folder(tmp_path, images)
    assert window.open_paths([folder])
    view, frames = window.view, window.frame_list
    wait_frame(qtbot, view, 0)
    for f in (2, 3, 4):
        window.go_to_frame(f)
        qtbot.waitUntil(lambda f=f: f in view.unreadable, timeout=5000)
        assert view.shown_index != f
        # the canvas draws the reason, not the spinner
        assert view.unreadable[f]
        model = frames.model
        row = model.row_of(f)
        idx = model.index(row)
        assert model.data(idx, Qt.ItemDataRole.DecorationRole) is not None
        assert "Cannot be shown" in model.data(idx, Qt.ItemDataRole.ToolTipRole)
    assert frames.model.data(frames.model.index(0), Qt.ItemDataRole.DecorationRole) is None
    frames.set_filter("unreadable")
    assert list(frames.visible_frames()) == [2, 3, 4]
    assert "3 / 5" in frames.count_label.text()
    # drawn on the canvas: the image of the view holds the error box's red, not the loading text
    image = view.viewport().grab().toImage()
    colours = [image.pixelColor(x, y) for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)]
    assert sum(c.red() > c.green() + 25 for c in colours) > 200


def test_model_panel_leaves_loading_when_the_loader_signal_beats_the_thread_end(qtbot, window, monkeypatch):
    """The loader thread's ``loaded`` reaches the GUI while its run() is still returning; the panel
    must show the model and enable Predict then, not only after some later action refreshes it."""
    import time

    from app import model_manager

    original_run = model_manager.LoadPredictorThread.run
    monkeypatch.setattr(model_manager.LoadPredictorThread, "run",
                        lambda self: (original_run(self), time.sleep(1.5)))  # still running after 'loaded'
    window.load_bundled_model()
    qtbot.waitUntil(lambda: window.model.is_loaded, timeout=30000)
    assert any(t.isRunning() for t in window.model._threads)  # the race window is open
    panel = window.model_panel
    assert not window.model.is_loading
    assert "Loading" not in panel.status_label.text()
    assert all(b.isEnabled() for b in panel.run_buttons.values())
    assert panel.load_button.isEnabled()
    window.model.wait()


def test_weakest_frame_includes_the_current_frame(qtbot, window, project):
    from tests.app.gui_support import key

    ann, _ = project
    window.open_paths([ann])
    doc = window.document
    wait_frame(qtbot, window.view, 0)
    window.go_to_frame(2)
    for p in doc.frame(2).instances:  # the only predicted frame, unreviewed, and the current one
        p.joint_scores = np.full(p.num_joints, 0.4)
    doc.instances_changed.emit(2)
    messages = []
    window.edits.message.connect(lambda text, *_: messages.append(text))
    key(window, Qt.Key.Key_L)
    assert doc.current_index() == 2 and window.view.selected_person is not None
    assert "No unreviewed frame" not in messages[-1] and "0.40" in messages[-1]
    window.go_to_frame(4)
    key(window, Qt.Key.Key_L)
    assert doc.current_index() == 2


def _is_fitted(view) -> bool:
    scale, centre = view.transform().m11(), view.mapToScene(view.viewport().rect().center())
    view.fit()
    return (abs(view.transform().m11() - scale) < 1e-6
            and (view.mapToScene(view.viewport().rect().center()) - centre).manhattanLength() < 2)


def test_view_fits_each_new_file_and_new_image_size_but_keeps_video_zoom(qtbot, window, project, tmp_path):
    from tests.app.gui_support import synthetic_video

    _ann, images = project
    assert window.open_paths([images])
    view = window.view
    wait_frame(qtbot, view, 0)
    view.zoom_by(2.5)
    view.translate(40, -30)
    video = synthetic_video(tmp_path, num_frames=6)  # same image size as the folder's images
    assert window.open_paths([video], confirm=False)
    wait_frame(qtbot, view, 0)
    assert _is_fitted(view)
    view.zoom_by(1.7)
    scale = view.transform().m11()
    window.go_to_frame(3)
    wait_frame(qtbot, view, 3)
    assert view.transform().m11() == pytest.approx(scale)  # frames of one video keep the view
    # a folder whose images differ in size: the view fits each new size
    mixed = tmp_path / "sizes"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "a.png"), np.full((240, 320, 3), 90, np.uint8))
    cv2.imwrite(str(mixed / "b.png"), np.full((900, 500, 3), 90, np.uint8))
    assert window.open_paths([mixed], confirm=False)
    wait_frame(qtbot, view, 0)
    view.zoom_by(3.0)
    window.go_to_frame(1)
    wait_frame(qtbot, view, 1)
    assert _is_fitted(view)
