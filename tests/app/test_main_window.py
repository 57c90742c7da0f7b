"""The real MainWindow, offscreen: open, navigate and edit with the keyboard and mouse, undo/redo,
save and reload, video, errors as messages, closing with unsaved changes, help, drag and drop."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from hrnet.annotations import load_coco
from hrnet.media import VideoReader
from tests.app.gui_support import drag, key, make_window, synthetic_project, synthetic_video, view_pos, wait_frame


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = make_window(qtbot, tmp_path, monkeypatch)
    yield w
    w.close()


@pytest.fixture
def project(tmp_path):
    return synthetic_project(tmp_path, num_images=5)


def _first_visible_joint(window, person=0):
    kp = window.document.current_frame().instances[person].keypoints
    j = int(np.flatnonzero(kp[:, 2] == 2)[0])
    return j, kp[j, :2].copy()


def test_start_view_then_open_folder_lazily(qtbot, window, project):
    assert window.stack.currentIndex() == 0  # start view
    assert window.windowTitle() == "HRNet Pose Annotator"
    ann, images = project
    assert window.open_paths([images])
    assert window.stack.currentIndex() == 1
    assert window.document.num_frames() == 5
    assert window.document.path is None and "untitled project" in window.windowTitle()
    wait_frame(qtbot, window.view, 0)
    assert window.frame_list.model.rowCount() == 5
    assert str(images.resolve()) in window.settings.recent_files()


def test_keyboard_navigation_visibility_undo_redo(qtbot, window, project):
    ann, _ = project
    assert window.open_paths([ann])
    view, doc = window.view, window.document
    wait_frame(qtbot, view, 0)
    key(window, Qt.Key.Key_N)
    assert doc.current_index() == 1
    key(window, Qt.Key.Key_Right)
    assert doc.current_index() == 2
    key(window, Qt.Key.Key_P)
    key(window, Qt.Key.Key_Left)
    assert doc.current_index() == 0
    wait_frame(qtbot, view, 0)

    j, (x, y) = _first_visible_joint(window)
    from PySide6.QtTest import QTest

    QTest.mouseMove(view.viewport(), view_pos(view, x, y))  # hover: keys act on the hovered joint
    assert view._hover == (0, j)
    key(window, Qt.Key.Key_2)
    assert doc.frame(0).instances[0].keypoints[j, 2] == 1
    key(window, Qt.Key.Key_3)
    assert doc.frame(0).instances[0].keypoints[j, 2] == 0
    assert window.isWindowModified() and window.windowTitle().startswith("person_keypoints_train.json[*]")
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.frame(0).instances[0].keypoints[j, 2] == 1
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.frame(0).instances[0].keypoints[j, 2] == 2
    assert not doc.is_dirty and not window.isWindowModified()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.frame(0).instances[0].keypoints[j, 2] == 1

    # person-level edits: Tab selects, S swaps left/right, R reviews, Delete removes
    key(window, Qt.Key.Key_Tab)
    assert view.selected_person == 0
    before = doc.frame(0).instances[0].keypoints.copy()
    key(window, Qt.Key.Key_S)
    after = doc.frame(0).instances[0].keypoints
    assert np.allclose(after[1], before[2]) and np.allclose(after[2], before[1])  # left/right eye swapped
    key(window, Qt.Key.Key_R)
    assert doc.frame(0).reviewed
    n = len(doc.frame(0).instances)
    key(window, Qt.Key.Key_Delete)
    assert len(doc.frame(0).instances) == n - 1
    for _ in range(3):
        key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(doc.frame(0).instances) == n and not doc.frame(0).reviewed
    assert np.allclose(doc.frame(0).instances[0].keypoints[:, :2], before[:, :2])


def test_drag_joint_save_and_reload(qtbot, window, project, tmp_path):
    ann, _ = project
    window.open_paths([ann])
    view, doc = window.view, window.document
    wait_frame(qtbot, view, 0)
    j, (x, y) = _first_visible_joint(window)
    drag(view, view_pos(view, x, y), view_pos(view, x + 30, y - 20))
    moved = doc.frame(0).instances[0].keypoints[j, :2].copy()
    assert np.hypot(*(moved - (x + 30, y - 20))) <= 3 * view.pixel_size()
    assert doc.undo_stack.count() == 1 and window.isWindowModified()
    with qtbot.waitSignal(doc.saved, timeout=10000):  # Ctrl+S writes on a worker thread
        key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # saves to the opened JSON
    assert not doc.is_dirty and not window.isWindowModified()
    reloaded = load_coco(ann)
    assert np.allclose(reloaded.frames[0].instances[0].keypoints[j, :2], moved, atol=1e-3)
    assert reloaded.frames[0].instances[0].edited[j]
    # Save As for a project opened from plain images
    target = tmp_path / "out" / "mine.json"
    target.parent.mkdir()
    window.open_paths([ann.parent.parent / "images" / "train"])
    monkey_path = str(target.with_suffix(""))  # the window adds .json
    QFileDialog_get = QFileDialog.getSaveFileName
    try:
        QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (monkey_path, ""))
        assert window.save()
    finally:
        QFileDialog.getSaveFileName = QFileDialog_get
    assert target.is_file() and window.document.path == target
    assert json.loads(target.read_text())["images"]


def test_video_is_frame_accurate(qtbot, window, tmp_path):
    video = synthetic_video(tmp_path, num_frames=20)
    assert window.open_paths([video])
    view = window.view
    assert window.document.num_frames() == 20
    wait_frame(qtbot, view, 0)
    for _ in range(3):
        key(window, Qt.Key.Key_N)
    key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # +10
    assert window.document.current_index() == 13
    wait_frame(qtbot, view, 13)
    shown = view.image_item.pixmap().toImage()
    with VideoReader(video) as reader:
        expected = reader.read(13)
    for px, py in ((5, 5), (160, 120), (300, 200), (50, 190)):
        c = shown.pixelColor(px, py)
        assert (c.blue(), c.green(), c.red()) == tuple(int(v) for v in expected[py, px])
    key(window, Qt.Key.Key_Home)
    wait_frame(qtbot, view, 0)


def test_errors_are_messages_and_the_app_survives(qtbot, window, project, tmp_path):
    ann, _ = project
    window.open_paths([ann])
    n = window.document.num_frames()
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [{"id": 1}], "annotations": [], "categories": []}')
    assert not window.open_paths([bad], confirm=False)
    assert window.last_error[0] == "Cannot open" and "bad.json" in window.last_error[1]
    assert not window.open_paths([tmp_path / "missing.mp4"], confirm=False)
    assert window.document.num_frames() == n  # the open project is untouched
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert not window.open_paths([broken], confirm=False)
    with qtbot.waitSignal(window.error_shown, timeout=2000) as blocker:
        try:
            raise RuntimeError("boom")
        except RuntimeError as e:
            window.handle_exception(type(e), e, e.__traceback__)
    assert "boom" in blocker.args[1] and window.document.num_frames() == n
    # no model: predicting explains how to get weights
    window.run_inference("current")
    assert window.last_error[0] == "No pose model" and "weights" in window.last_error[1].lower()


def test_close_with_unsaved_changes_asks(qtbot, tmp_path, monkeypatch, project):
    w = make_window(qtbot, tmp_path, monkeypatch)
    ann, _ = project
    w.open_paths([ann])
    wait_frame(qtbot, w.view, 0)
    key(w, Qt.Key.Key_R)
    assert w.document.is_dirty
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Cancel))
    assert not w.close()
    assert w.isVisible() and asked
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Save))
    assert w.close()
    assert load_coco(ann).frames[0].reviewed  # "Save" saved before closing


def test_help_lists_shortcuts_and_drop_opens(qtbot, window, project):
    key(window, Qt.Key.Key_F1)
    dialog = window.help_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.browser.toPlainText()
    for expected in ("Ctrl+Z", "Next frame", "Swap left/right", "Joint occluded", "Add person", "Heatmap"):
        assert expected in text
    dialog.close()
    ann, _ = project
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(ann))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.document.num_frames() == 5, timeout=3000)
    assert window.document.path == ann


def test_add_person_by_hand_and_copy_from_previous(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    view, doc = window.view, window.document
    wait_frame(qtbot, view, 0)
    n0 = len(doc.frame(0).instances)
    key(window, Qt.Key.Key_B)
    assert view.mode == "box"
    drag(view, view_pos(view, 10, 10), view_pos(view, 90, 200))
    assert len(doc.frame(0).instances) == n0 + 1 and view.mode == "place"  # no model: click the joints
    from PySide6.QtTest import QTest

    for k in range(3):
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         view_pos(view, 40 + 5 * k, 30))
    assert (doc.frame(0).instances[n0].keypoints[:3, 2] == 2).all()
    key(window, Qt.Key.Key_Escape)
    assert view.mode == "edit"
    key(window, Qt.Key.Key_N)
    n1 = len(doc.frame(1).instances)
    key(window, Qt.Key.Key_C)
    assert len(doc.frame(1).instances) == n1 + n0 + 1
    QApplication.processEvents()
    assert QPoint(0, 0) is not None


def test_sample_project_opens_from_the_start_view(qtbot, window):
    window.start_view.sample_button.click()
    doc = window.document
    assert window.stack.currentIndex() == 1 and window.last_error is None
    assert doc.num_frames() >= 10
    assert doc.path is not None and doc.path.name == "project.json"
    assert "resources" not in str(doc.path)  # a writable copy, never the bundled files
    assert doc.frame(0).instances  # synthetic scenes come with their ground truth
    videos = [i for i, f in enumerate(doc.data.frames) if f.video]
    assert videos and doc.frame(videos[0]).instances
    window.go_to_frame(videos[1])
    wait_frame(qtbot, window.view, videos[1])
    assert window.document.source.missing() == []
    # the sample comes with the bundled demo model (trained on synthetic people): loaded at once
    from app.model_manager import demo_spec

    spec = demo_spec()
    if spec is not None:
        qtbot.waitUntil(lambda: window.model.is_loaded, timeout=60000)
        assert window.model.spec.weights == spec.weights and window.model.spec.experiment == spec.experiment
        assert "RANDOM" not in window.device_label.text()


def test_nudge_selected_joint_with_alt_arrows(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    j, (x, y) = _first_visible_joint(window)
    window.view.select(0, j)
    for _ in range(3):
        key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    key(window, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier)
    kp = window.document.frame(0).instances[0].keypoints
    assert np.allclose(kp[j, :2], (x + 3, y - 10))
    assert window.document.current_index() == 0  # Alt+arrows do not change the frame
    assert window.document.undo_stack.count() == 1  # a burst of nudges is one undo step


def test_filters_and_review_navigation(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    doc = window.document
    wait_frame(qtbot, window.view, 0)
    # pretend frames 1 and 3 were predicted with low confidence
    for f, conf in ((1, 0.1), (3, 0.2), (2, 0.9)):
        for p in doc.frame(f).instances:
            p.joint_scores = np.full(p.num_joints, conf)
        doc.instances_changed.emit(f)
    window.frame_list.set_filter("low")
    assert list(window.frame_list.visible_frames()) == [1, 3]
    key(window, Qt.Key.Key_L)  # weakest unreviewed frame first, its weakest person selected
    assert doc.current_index() == 1 and window.view.selected_person is not None
    key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)  # reviewed, next unreviewed
    assert doc.frame(1).reviewed and doc.current_index() == 2
    window.frame_list.set_filter("unreviewed")
    qtbot.waitUntil(lambda: 1 not in list(window.frame_list.visible_frames()), timeout=3000)
    window.go_to_frame(0)
    key(window, Qt.Key.Key_N)  # with a filter on, N walks the filtered list
    assert doc.current_index() == 2
    window.frame_list.set_filter("reviewed")
    assert list(window.frame_list.visible_frames()) == [1]


def test_installed_excepthook_keeps_the_app_alive(qtbot, window, monkeypatch):
    import sys
    import threading

    from app.main import install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_excepthook(window)
    with qtbot.waitSignal(window.error_shown, timeout=2000) as blocker:
        try:
            raise ZeroDivisionError("in a slot")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
    assert blocker.args[0] == "Unexpected error" and "in a slot" in blocker.args[1]
    assert window.isVisible()


def test_backtick_cycles_people_anywhere_and_tab_on_the_canvas(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    window.view.setFocus()
    key(window, Qt.Key.Key_Tab)
    assert window.view.selected_person == 0
    window.frame_list.list.setFocus()  # (text fields keep printable keys for typing)
    key(window, Qt.Key.Key_QuoteLeft)
    assert window.view.selected_person == 1


def test_person_panel_lists_joints_and_edits(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    doc, view, panel = window.document, window.view, window.person_panel
    wait_frame(qtbot, view, 0)
    view.select(0)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 17, timeout=2000)
    assert "Person #1" in panel.title.text()
    j, _ = _first_visible_joint(window)
    panel.table.selectRow(j)
    assert view.selected_joint == j
    combo = panel.table.cellWidget(j, 1)
    combo.setCurrentIndex(combo.findData(1))  # occluded
    assert doc.frame(0).instances[0].keypoints[j, 2] == 1
    qtbot.waitUntil(lambda: panel.table.cellWidget(j, 1).currentData() == 1, timeout=2000)
    missing = [k for k in range(17) if doc.frame(0).instances[0].keypoints[k, 2] == 0]
    if missing:
        panel.place_button.click()
        assert view.mode == "place" and view.placement_joint() == missing[0]


def test_layout_survives_a_restart_from_the_start_page(qtbot, tmp_path, monkeypatch, project):
    w = make_window(qtbot, tmp_path, monkeypatch)
    w.close()  # closed while the start page (docks hidden) is shown
    w2 = make_window(qtbot, tmp_path, monkeypatch)  # same settings file
    ann, _ = project
    w2.open_paths([ann])
    assert w2.frames_dock.isVisible() and w2.heatmap_dock.isVisible()
    w2.close()


def test_close_project_returns_to_the_start_page(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    window.go_to_frame(2)
    window.act_close.trigger()  # an exception in a slot here fails the test (pytest-qt)
    assert window.document.num_frames() == 0 and window.stack.currentIndex() == 0
    assert not window.act_save.isEnabled() and window.windowTitle() == "HRNet Pose Annotator"


def test_opening_a_project_loads_the_bundled_model_or_the_remembered_one(qtbot, tmp_path, monkeypatch):
    """Seen walking the sample: opened by path (not from the start view), the app had no model and
    its panel offered random weights. Now the app loads the remembered model, else the bundled demo
    model for a COCO-17 project; the Model menu offers the bundled model."""
    import shutil

    from app.bundled import sample_dir
    from app.main_window import MainWindow
    from app.model_manager import demo_spec
    from app.settings import AppSettings

    spec = demo_spec()
    if spec is None:
        pytest.skip("the bundled demo model is not in this checkout")
    copy = tmp_path / "sample"
    shutil.copytree(sample_dir(), copy)

    w = make_window(qtbot, tmp_path, monkeypatch)
    try:
        assert w.model_panel.spec().weights == spec.weights  # offered, not yet loaded
        assert not w.model.is_loaded and not w.model.is_loading
        w.auto_load_model = True
        assert w.open_paths([copy / "project.json"])
        qtbot.waitUntil(lambda: w.model.is_loaded, timeout=60000)
        assert w.model.spec.weights == spec.weights and w.model.spec.experiment == spec.experiment
        menu_texts = [a.text() for m in w.menuBar().actions() for a in m.menu().actions()]
        assert "Load the &bundled demo model" in menu_texts
    finally:
        w.close()

    # the next session remembers the choice: a random-weights model chosen by the user is loaded again
    settings = AppSettings(tmp_path / "settings.ini")
    settings.set_model_spec("synthetic/hrnet_w16_128x96", None, "cpu")
    w2 = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery2", auto_load_model=True)
    qtbot.addWidget(w2)
    try:
        assert w2.open_paths([copy / "project.json"], confirm=False)
        qtbot.waitUntil(lambda: w2.model.is_loaded, timeout=60000)
        assert w2.model.spec.weights is None
    finally:
        w2.close()
