"""The rough edges a new user hits in the first hour (issue 13), each driven through the real window."""

from __future__ import annotations

import shutil
import threading

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.app.gui_support import key, make_window, synthetic_project, wait_frame


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


class _CentreFake:
    """Every joint at the box centre, confidence 0.5 (no network, no weights)."""

    num_joints = 17
    device = "cpu"

    def predict(self, image, boxes, box_scores=None, return_heatmaps=False):
        from hrnet.predictor import PoseResult

        out = []
        for b in np.asarray(boxes, np.float32):
            kp = np.zeros((17, 3))
            kp[:, 0], kp[:, 1], kp[:, 2] = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 0.5
            out.append(PoseResult(kp, 0.5, b.copy(), heatmaps=np.zeros((17, 8, 6), np.float32),
                                  heatmap_to_image=np.array([[1, 0, b[0]], [0, 1, b[1]]], np.float64)))
        return out


def _with_fake_model(window):
    from app.model_manager import ModelSpec

    window.model.set_predictor(ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu"), _CentreFake())


def test_whole_image_keeps_the_people_and_existing_boxes_says_why_nothing_changed(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    _with_fake_model(window)
    doc = window.document
    n = len(doc.frame(0).instances)
    for detector in ("full_image", "existing"):
        window.model_panel.set_detector(detector)
        with qtbot.waitSignal(window.inference_finished, timeout=30000):
            window.run_inference("current")
        assert len(doc.frame(0).instances) == n  # no extra person on a frame that has people
        status = window.statusBar().currentMessage()
        assert "nothing changed" in status and "ground-truth" in status and "Ctrl+Z" not in status
        assert doc.undo_stack.count() == 0
    doc.frame(1).instances.clear()
    window.go_to_frame(1)
    window.model_panel.set_detector("full_image")
    with qtbot.waitSignal(window.inference_finished, timeout=30000):
        window.run_inference("current")
    assert len(doc.frame(1).instances) == 1 and "Ctrl+Z" in window.statusBar().currentMessage()


def test_repredict_selected_person_asks_before_replacing_hand_work(qtbot, window, project, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    _with_fake_model(window)
    doc, view = window.document, window.view
    view.select(0)
    before = doc.frame(0).instances[0].copy()
    qtbot.waitUntil(window.act_repredict_person.isEnabled, timeout=10000)  # (after the quiet heatmap run)
    asked = []

    def answer(value):
        def question(*args, **kwargs):
            asked.append(args[2])
            return value
        return staticmethod(question)

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    with qtbot.waitSignal(window.inference_finished, timeout=30000, check_params_cb=lambda m: m == "replace"):
        window.repredict_selected_person()
    assert "ground-truth" in asked[-1]
    assert doc.frame(0).instances[0] == before and "Nothing changed" in window.statusBar().currentMessage()
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(window.inference_finished, timeout=30000, check_params_cb=lambda m: m == "replace"):
        window.repredict_selected_person()
    after = doc.frame(0).instances[0]
    box = before.box_or_auto((320, 240))
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    assert np.allclose(after.keypoints[:, :2], centre, atol=0.6) and after.joint_scores is not None
    assert not after.is_edited and doc.undo_stack.count() == 1
    # a predicted person with one hand-edited joint: "No" replaces only the model's joints
    after_kp = after.keypoints.copy()
    from app import commands as C

    doc.push(C.MoveKeypoint(doc, 0, 0, 3, (5.0, 6.0)))
    doc.push(C.MoveKeypoint(doc, 0, 0, 4, (after_kp[4, 0] + 9, after_kp[4, 1])))
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    with qtbot.waitSignal(window.inference_finished, timeout=30000, check_params_cb=lambda m: m == "replace"):
        window.repredict_selected_person()
    p = doc.frame(0).instances[0]
    assert "2 hand-edited" in asked[-1]
    assert tuple(p.keypoints[3, :2]) == (5.0, 6.0) and p.edited[3] and p.edited[4]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    steps = doc.undo_stack.count()
    window.repredict_selected_person()
    assert not window.inference.is_running and doc.undo_stack.count() == steps
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Discard))  # for closing


def test_missing_detector_weights_offline_preselect_whole_image_and_say_so(qtbot, tmp_path, monkeypatch):
    import torch

    from app.controllers import detector_check
    from app.settings import AppSettings

    torch_hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(torch_hub))  # an empty weights cache
    monkeypatch.setattr(detector_check, "can_download", lambda timeout_s=3.0: False)  # offline
    AppSettings(tmp_path / "settings.ini").set_detector("fasterrcnn")
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        panel = window.model_panel
        qtbot.waitUntil(lambda: panel.detector() == "full_image", timeout=10000)
        assert "cannot be downloaded" in panel.detector_note.text() and not panel.detector_note.isHidden()
        assert window.settings.detector() == "fasterrcnn"  # a preselection, not the user's choice
        ann, _ = synthetic_project(tmp_path, num_images=2)
        assert window.open_paths([ann])  # the editor's docks are shown
        note = panel.detector_note
        for size in ((1400, 900), (1280, 860)):  # the default window size, the tests' size
            window.resize(*size)
            # the note gets the height its wrapped text needs at its width: nothing is cut off
            qtbot.waitUntil(lambda n=note: n.isVisible() and n.height() >= n.heightForWidth(n.width()) > 0,
                            timeout=5000)
            assert note.heightForWidth(note.width()) > 2 * note.fontMetrics().height()  # it does wrap
            assert note.visibleRegion().boundingRect().height() >= note.heightForWidth(note.width())
        panel.set_detector("ssdlite")  # the user chooses: the note goes
        assert panel.detector_note.isHidden()
    finally:
        window.close()


def test_cached_or_reachable_detector_is_left_alone(qtbot, tmp_path, monkeypatch):
    import torch

    from app.controllers import detector_check
    from app.settings import AppSettings

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(detector_check, "can_download", lambda timeout_s=3.0: True)
    AppSettings(tmp_path / "settings.ini").set_detector("fasterrcnn")
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        window.detector_check.shutdown()
        qtbot.wait(50)
        assert window.model_panel.detector() == "fasterrcnn" and window.model_panel.detector_note.isHidden()
    finally:
        window.close()


def test_hover_label_follows_a_key_edit_without_a_mouse_move(qtbot, window, project):
    from PySide6.QtTest import QTest

    from tests.app.gui_support import key, view_pos

    ann, _ = project
    window.open_paths([ann])
    view = window.view
    wait_frame(qtbot, view, 0)
    kp = window.document.current_frame().instances[0].keypoints
    j = int(np.flatnonzero(kp[:, 2] == 2)[0])
    view.setFocus()
    QTest.mouseMove(view.viewport(), view_pos(view, *kp[j, :2]))
    qtbot.waitUntil(lambda: view.hover_label.isVisible(), timeout=3000)
    assert "visible" in view.hover_label.text()
    key(window, Qt.Key.Key_2)  # occluded
    assert window.document.current_frame().instances[0].keypoints[j, 2] == 1
    assert "occluded" in view.hover_label.text() and "by hand" in view.hover_label.text()
    assert "occluded" in window.statusBar().currentMessage()
    QTest.mouseMove(view.viewport(), view.viewport().rect().topLeft())  # (the cursor outlives the test)


def test_history_entries_say_what_changed(qtbot, window, project):
    from tests.app.gui_support import key

    ann, _ = project
    window.open_paths([ann])
    view, doc = window.view, window.document
    wait_frame(qtbot, view, 0)
    window.go_to_frame(2)
    wait_frame(qtbot, view, 2)
    names = doc.keypoint_names()
    view.select(1, names.index("left_knee"))
    key(window, Qt.Key.Key_2)
    assert doc.undo_stack.undoText() == "Set occluded: #2 left_knee, frame 3"
    model = window.undo_view.model()
    texts = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert "Set occluded: #2 left_knee, frame 3" in texts
    key(window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert doc.undo_stack.undoText() == "Delete person: #2, frame 3"


def test_clicking_a_person_tag_selects_them(qtbot, window, project):
    from PySide6.QtTest import QTest

    ann, _ = project
    window.open_paths([ann])
    view = window.view
    wait_frame(qtbot, view, 0)
    view.clear_selection()
    for p in (1, 0):
        tag = view.persons[p].tag_rect()
        assert tag is not None
        pos = view.mapFromScene(tag.center())
        for _ in range(2):  # a second click keeps the selection
            QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
            assert view.selected_person == p
    assert window.document.undo_stack.count() == 0  # a click is not a move


def test_help_names_each_action_once(qtbot, window):
    dialog = window.show_help()
    rows = {text for _group, _keys, text in dialog.rows}
    assert "Open images, video or project" in rows
    for text in rows:
        head, _, tail = text.partition(" — ")
        assert head.casefold() != tail.casefold(), text
        assert "(" + "Ctrl" not in tail  # never the tooltip's "(Ctrl+O)"
    dialog.close()


def test_save_and_export_keep_the_file_mode(qtbot, window, project, tmp_path):
    import os
    import stat

    from app import commands as C
    from app.export import export_for_training
    from tests.app.gui_support import key

    ann, _ = project
    os.chmod(ann, 0o640)
    window.open_paths([ann])
    doc = window.document
    wait_frame(qtbot, window.view, 0)
    doc.push(C.SetReviewed(doc, 0, True))
    with qtbot.waitSignal(doc.saved, timeout=10000):  # Ctrl+S: the background writer
        key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert stat.S_IMODE(os.stat(ann).st_mode) == 0o640
    doc.push(C.SetReviewed(doc, 1, True))
    assert window.project.save_to(ann)  # the blocking save (Save As / close) too
    assert stat.S_IMODE(os.stat(ann).st_mode) == 0o640
    out = tmp_path / "export"
    train_json, val_json, _ = export_for_training(doc, doc.source, out, val_fraction=0.5)
    for path in (train_json, val_json):
        os.chmod(path, 0o604)
    export_for_training(doc, doc.source, out, val_fraction=0.5)  # exporting again overwrites in place
    for path in (train_json, val_json):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


def test_people_list_shows_selects_and_deletes(qtbot, window, project):
    from app import commands as C

    ann, _ = project
    window.open_paths([ann])
    doc, view, people = window.document, window.view, window.people_list
    wait_frame(qtbot, view, 0)
    assert not window.people_dock.isHidden()
    n = len(doc.frame(0).instances)
    qtbot.waitUntil(lambda: people.table.rowCount() == n, timeout=3000)
    assert people.table.item(0, 0).text() == "#1" and people.table.item(0, 3).text() == "ground truth"
    assert people.title.text().startswith("Frame 1:")
    # a predicted, then an edited person; the track id column; the reviewed mark
    inst = doc.frame(0).instances[1]
    inst.joint_scores = np.full(inst.num_joints, 0.8)
    doc.push(C.SetTrackId(doc, 0, 1, 7))
    qtbot.waitUntil(lambda: people.table.item(1, 1).text() == "7", timeout=3000)
    assert people.table.item(1, 3).text() == "predicted" and people.table.item(1, 2).text() == "0.80"
    doc.push(C.SetReviewed(doc, 0, True))
    qtbot.waitUntil(lambda: "reviewed" in people.title.text(), timeout=3000)
    # click a row: the person is selected on the canvas; and the other way round
    rect = people.table.visualItemRect(people.table.item(1, 0))
    from PySide6.QtTest import QTest

    QTest.mouseClick(people.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    assert view.selected_person == 1
    view.select(0)
    qtbot.waitUntil(lambda: people.current_person() == 0, timeout=3000)
    people.delete_button.click()
    assert len(doc.frame(0).instances) == n - 1
    qtbot.waitUntil(lambda: people.table.rowCount() == n - 1, timeout=3000)
    # another frame: the list follows
    window.go_to_frame(1)
    qtbot.waitUntil(lambda: people.title.text().startswith("Frame 2:"), timeout=3000)
    assert people.table.rowCount() == len(doc.frame(1).instances)


def test_heatmap_grid_is_legible_and_the_overlay_reaches_full_strength(qtbot, window, project):
    ann, _ = project
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    panel = window.heatmap_panel
    k = len(window.document.keypoint_names())
    yy, xx = np.mgrid[0:64, 0:48]
    hms = np.stack([np.exp(-((xx - 10 - j) ** 2 + (yy - 20) ** 2) / 18.0) * (0.3 + j / 40) for j in range(k)])
    panel.set_heatmaps(hms.astype(np.float32))
    qtbot.wait(50)
    assert panel.graphics.width() < 500  # the default dock size
    for cell in panel._cells:
        tile = cell.view.sceneBoundingRect()
        text = cell.label.text()
        assert "_" not in text  # 'R shoulder', not a cut 'right_shoulde'
        label = cell.label.sceneBoundingRect()
        assert tile.width() >= 60 and tile.contains(label), (text, label, tile)  # nothing cut off
    names = [c.label_lines()[0] for c in panel._cells]
    assert "R shoulder" in names and "L ankle" in names  # whole at the default dock size
    # the overlay: opaque at its peak whatever the slider; the slider shapes the rest
    view = window.view
    for opacity in (0.6, 0.25, 1.0):
        view.set_heatmap_opacity(opacity)
        view.set_heatmap(hms[5], np.array([[2.0, 0, 0], [0, 2.0, 0]]))
        image = view.heatmap_item.pixmap().toImage()
        iy, ix = np.unravel_index(int(np.argmax(hms[5])), hms[5].shape)
        assert view.heatmap_item.opacity() == 1.0 and image.pixelColor(int(ix), int(iy)).alpha() == 255
    weak, strong = [], []
    for opacity, out in ((0.25, weak), (1.0, strong)):
        view.set_heatmap_opacity(opacity)
        img = view.heatmap_item.pixmap().toImage()
        out.append(img.pixelColor(int(ix) + 3, int(iy)).alpha())
    assert strong[0] > weak[0]


def test_shift_r_warns_about_zero_confidence_people(qtbot, window, project):
    from tests.app.gui_support import key

    ann, _ = project
    window.open_paths([ann])
    doc = window.document
    wait_frame(qtbot, window.view, 0)
    people = doc.frame(0).instances
    n = len(people)
    people[0].joint_scores = np.zeros(people[0].num_joints)  # the model saw nobody there
    people[1].joint_scores = np.full(people[1].num_joints, 0.7)
    doc.instances_changed.emit(0)
    answers, asked = ["cancel", "delete"], []
    window.edits.ask_hopeless = lambda f, hopeless: (asked.append((f, hopeless)), answers.pop(0))[1]
    key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert asked == [(0, [0])] and not doc.frame(0).reviewed and doc.current_index() == 0  # cancelled
    key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert doc.frame(0).reviewed and len(doc.frame(0).instances) == n - 1 and doc.current_index() == 1
    assert all(p.joint_scores is None or p.joint_scores.mean() > 0.1 for p in doc.frame(0).instances)
    window.go_to_frame(0)
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one step undoes both
    assert not doc.frame(0).reviewed and len(doc.frame(0).instances) == n
    # an edited person at 0.00 is the user's call: no question
    window.edits.ask_hopeless = lambda f, hopeless: pytest.fail("edited people are not asked about")
    from app import commands as C

    doc.push(C.MoveKeypoint(doc, 0, 0, 0, (10.0, 10.0)))
    key(window, Qt.Key.Key_R)
    assert doc.frame(0).reviewed


def test_joints_outside_the_image_are_dimmed_and_exported_as_unlabelled(qtbot, window, project, tmp_path):
    import json

    from app import commands as C
    from app.export import export_for_training

    ann, _ = project
    window.open_paths([ann])
    doc, view = window.document, window.view
    wait_frame(qtbot, view, 0)
    for f in (0, 1):  # every person predicted with confidence 0.9
        for p in doc.frame(f).instances:
            p.joint_scores = np.full(p.num_joints, 0.9)
        doc.frame(f).reviewed = True
    person = doc.frame(0).instances[0]
    person.keypoints[3] = (-400.0, 50.0, 2)  # far left of the image
    person.keypoints[4] = (5000.0, 60.0, 2)  # far right
    doc.instances_changed.emit(0)
    item = view.persons[0]
    assert item.low_confidence()[3] and item.low_confidence()[4] and not item.low_confidence()[0]
    doc.push(C.MoveKeypoint(doc, 0, 0, 4, (-20.0, 70.0)))  # a person put this one outside: theirs
    assert not view.persons[0].low_confidence()[4]
    out = tmp_path / "export"
    result = export_for_training(doc, doc.source, out, val_fraction=0.0, only_reviewed=True)
    anns = [a for path in (result.train_json, result.val_json) if path.is_file()
            for a in json.loads(path.read_text())["annotations"]]
    moved = [a for a in anns if a["keypoints"][4 * 3:4 * 3 + 3] == [-20.0, 70.0, 2] or
             a["keypoints"][4 * 3:4 * 3 + 3] == [-20, 70, 2]]
    assert len(moved) == 1 and moved[0]["keypoints"][3 * 3:3 * 3 + 3] in ([0, 0, 0], [0.0, 0.0, 0.0])
    assert doc.frame(0).instances[0].keypoints[3].tolist() == [-400.0, 50.0, 2.0]  # the project is untouched


class _SteppedFake(_CentreFake):
    """_CentreFake that predicts ``free`` frames at once, then one frame per ``step.release()``."""

    def __init__(self, free: int) -> None:
        self.step = threading.Semaphore(free)

    def predict(self, image, boxes, box_scores=None, return_heatmaps=False):
        assert self.step.acquire(timeout=20)
        return super().predict(image, boxes, box_scores, return_heatmaps)


def test_predict_all_fills_the_frame_list_frame_by_frame_as_one_undo_step(qtbot, window, project):
    from app.model_manager import ModelSpec

    _ann, images = project
    assert window.open_paths([images])  # images only: nobody annotated yet
    wait_frame(qtbot, window.view, 0)
    fake = _SteppedFake(free=2)
    window.model.set_predictor(ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu"), fake)
    window.model_panel.set_detector("full_image")
    doc, model = window.document, window.frame_list.model

    def row(f, role=Qt.ItemDataRole.DisplayRole):
        return model.data(model.index(model.row_of(f)), role)

    assert row(0).endswith("· 0") and row(1).endswith("· 0")
    window.run_inference("all")
    clock = row(4, Qt.ItemDataRole.DecorationRole).cacheKey()  # every frame waits for its result
    assert all(row(f, Qt.ItemDataRole.DecorationRole).cacheKey() == clock for f in range(5))
    qtbot.waitUntil(lambda: "· 1" in row(1), timeout=10000)  # frames 1 and 2 listed before the run ends
    assert window.inference.is_running and window.run_progress.isVisible()
    assert "· 1  min 0.50" in row(0) and row(0, Qt.ItemDataRole.DecorationRole).cacheKey() != clock
    assert len(doc.frame(0).instances) == 1 and len(doc.frame(1).instances) == 1
    assert row(4).endswith("· 0") and row(4, Qt.ItemDataRole.DecorationRole).cacheKey() == clock  # queued
    assert "Waiting for the running prediction" in row(4, Qt.ItemDataRole.ToolTipRole)
    assert len(window.view.persons) == 1  # the canvas shows the current frame's new person too
    assert doc.undo_stack.count() == 1  # the frames so far are already the run's one step
    with qtbot.waitSignal(window.inference_finished, timeout=30000):
        for _ in range(3):
            fake.step.release()
    assert [len(doc.frame(f).instances) for f in range(5)] == [1] * 5
    assert all(row(f, Qt.ItemDataRole.DecorationRole) is None for f in range(5))
    assert doc.undo_stack.count() == 1 and doc.undo_stack.text(0) == "Apply predictions (5 frames)"
    assert "Ctrl+Z undoes it" in window.statusBar().currentMessage()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one Ctrl+Z undoes the whole run
    assert [len(doc.frame(f).instances) for f in range(5)] == [0] * 5
    assert all(row(f).endswith("· 0") for f in range(5))
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [len(doc.frame(f).instances) for f in range(5)] == [1] * 5


def test_export_dialog_warns_when_unreviewed_model_output_would_become_labels(qtbot):
    """Seen walking the sample: with no frame reviewed, the export writes every frame's predictions
    as training labels without a word. The dialog now says so while unreviewed frames are included."""
    from app.widgets.export_dialog import ExportDialog

    d = ExportDialog("/tmp/export", num_frames=54, num_reviewed=0)
    qtbot.addWidget(d)
    assert not d.only_reviewed.isChecked()
    assert d.unreviewed_note.isVisibleTo(d) and "54 unreviewed frames" in d.unreviewed_note.text()
    d2 = ExportDialog("/tmp/export", num_frames=10, num_reviewed=9)
    qtbot.addWidget(d2)
    assert d2.only_reviewed.isChecked() and not d2.unreviewed_note.isVisibleTo(d2)
    d2.only_reviewed.setChecked(False)
    assert d2.unreviewed_note.isVisibleTo(d2) and "1 unreviewed frame will" in d2.unreviewed_note.text()
