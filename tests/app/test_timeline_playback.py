"""The window's video side: the timeline dock shows tracks and jumps on click, play advances the
frames (skipping when decoding is slower), the canvas labels tracked people "#id", and the Tracks
menu's actions act on the selected person as one undo step each."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from hrnet import Instance
from tests.app.gui_support import key, make_window, synthetic_video, wait_frame

N = 20


def _open_video(qtbot, window, tmp_path):
    video = synthetic_video(tmp_path, num_frames=N)
    assert window.open_paths([video])
    wait_frame(qtbot, window.view, 0)
    k = len(window.document.keypoint_names())
    for f in range(N):  # two tracked people, as a tracked prediction leaves them
        fr = window.document.frame(f)
        for t, x in ((0, 40.0 + f), (1, 200.0 - f)):
            kp = np.c_[x + np.arange(k), 60 + 5 * np.arange(k), np.full(k, 2.0)]
            fr.instances.append(Instance(kp, track_id=t, joint_scores=np.full(k, 0.3 + 0.5 * t)))
    window.document.frames_changed.emit()
    wait_frame(qtbot, window.view, 0)
    return window


def test_timeline_rows_and_click_jumps(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        assert window.timeline_dock.isVisible()  # a video opens with its timeline
        tl = window.timeline
        qtbot.waitUntil(lambda: tl.track_ids == [0, 1], timeout=5000)
        img = tl.rows()
        assert img.shape == (3, N, 4)
        assert (img[1:, :, 3] == 255).all() and not img[0, :, 3].any()  # present everywhere, nothing reviewed
        vb = tl.plot.getPlotItem().getViewBox()
        scene_pt = vb.mapViewToScene(QPointF(12.5, 1.5))
        pos = tl.plot.mapFromScene(scene_pt)
        QTest.mouseClick(tl.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        qtbot.waitUntil(lambda: window.document.current_index() == 12, timeout=5000)
        assert window.view.selected_person == 0  # row 1 is track 0: its person is selected
        qtbot.wait(QApplication.doubleClickInterval() + 100)  # (else the second click is a double click)
        pos = tl.plot.mapFromScene(vb.mapViewToScene(QPointF(7.5, 2.5)))
        QTest.mouseClick(tl.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        qtbot.waitUntil(lambda: window.document.current_index() == 7, timeout=5000)
        assert window.view.selected_person == 1
        window.edits.toggle_reviewed()
        qtbot.waitUntil(lambda: tl.rows()[0, 7, 3] == 255, timeout=5000)  # the reviewed row
    finally:
        window.close()


def test_play_advances_frames_and_pauses(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        pb = window.playback
        assert pb.frame_rate(0) == 12.0  # the synthetic video's
        window.act_play.trigger()
        assert pb.is_playing
        qtbot.waitUntil(lambda: window.document.current_index() >= 3, timeout=5000)
        window.act_play.trigger()
        assert not pb.is_playing
        stopped = window.document.current_index()
        qtbot.wait(300)
        assert window.document.current_index() == stopped
        pb.play()  # to the end, where it stops by itself
        qtbot.waitUntil(lambda: not pb.is_playing, timeout=10000)
        assert window.document.current_index() == N - 1
        assert pb.shown + pb.skipped >= N - 1 - stopped - 1
    finally:
        window.close()


def test_play_skips_frames_when_decoding_is_slow(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        pb = window.playback
        pb.fps = 200.0
        monkeypatch.setattr(pb, "frame_rate", lambda _i: 200.0)  # faster than any decoder here
        pb.play()
        qtbot.waitUntil(lambda: not pb.is_playing, timeout=10000)
        assert window.document.current_index() == N - 1
        assert pb.skipped > 0 and pb.shown < N - 1
    finally:
        window.close()


def test_track_label_and_track_actions(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        doc = window.document
        window.go_to_frame(5)
        wait_frame(qtbot, window.view, 5)
        assert [p.label_text() for p in window.view.persons] == ["#0", "#1"]  # the track ids
        window.view.select(0, None)
        window.view.setFocus()
        key(window, Qt.Key.Key_X)  # swap identities from here on (the only other person)
        assert [p.track_id for p in doc.frame(5).instances] == [1, 0]
        assert [p.track_id for p in doc.frame(4).instances] == [0, 1]
        assert doc.undo_stack.count() == 1
        window.act_split_track.trigger()  # person 0 (now track 1) splits at frame 5
        assert doc.frame(5).instances[0].track_id == 2
        window.act_delete_track.trigger()
        assert all(len(doc.frame(f).instances) == (2 if f < 5 else 1) for f in range(N))
        doc.undo()
        doc.undo()
        doc.undo()
        assert [p.track_id for p in doc.frame(5).instances] == [0, 1]
        assert "Tracks" in {a.text().replace("&", "") for a in window.menuBar().actions()}
    finally:
        window.close()


def test_interpolate_propagate_and_track_walk_from_the_window(qtbot, tmp_path, monkeypatch):
    from app.commands import MoveKeypoint

    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        doc = window.document
        # correct the left wrist (joint 9) of track 1 at frames 2 and 8: the frames between follow
        doc.push(MoveKeypoint(doc, 2, 1, 9, (100.0, 100.0)))
        doc.push(MoveKeypoint(doc, 8, 1, 9, (160.0, 130.0)))
        window.view.select(1, None)
        window.act_interpolate.trigger()
        assert doc.undo_stack.count() == 3
        for f in range(3, 8):
            x, y = doc.frame(f).instances[1].keypoints[9, :2]
            assert (x, y) == (100.0 + 10 * (f - 2), 100.0 + 5 * (f - 2))
        doc.undo()
        assert doc.frame(5).instances[1].keypoints[9, 0] == 200.0 - 5 + 9

        # propagate forward: the count is asked in a dialog opened with open()
        window.go_to_frame(10)
        wait_frame(qtbot, window.view, 10)
        window.view.select(0, None)
        window.act_propagate.trigger()
        dialog = window.tracking.dialog
        assert dialog is not None and dialog.isVisible()
        dialog.setIntValue(3)
        dialog.accept()
        for f in (11, 12, 13):
            copy = doc.frame(f).instances[0]
            assert copy.is_prediction and copy.keypoints[0, 0] == 40.0 + 10
        assert doc.frame(14).instances[0].keypoints[0, 0] == 40.0 + 14

        # the weakest frames of one track: track 0 (confidence 0.3) where it is weakest
        doc.frame(16).instances[0].joint_scores[:] = 0.05
        doc.frame(4).instances[0].joint_scores[:] = 0.1
        window.go_to_frame(0)
        wait_frame(qtbot, window.view, 0)
        window.view.select(0, None)
        window.act_track_weak.trigger()
        assert doc.current_index() == 16 and window.view.selected_person == 0
        window.act_track_weak.trigger()
        assert doc.current_index() == 4 and window.view.selected_person == 0
    finally:
        window.close()


def test_swap_asks_which_person_when_there_are_several(qtbot, tmp_path, monkeypatch):
    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        _open_video(qtbot, window, tmp_path)
        doc = window.document
        k = len(doc.keypoint_names())
        for f in range(N):
            kp = np.c_[300 + np.arange(k), 20 + np.arange(k), np.full(k, 2.0)]
            doc.frame(f).instances.append(Instance(kp, track_id=2, joint_scores=np.full(k, 0.9)))
        doc.frames_changed.emit()
        window.go_to_frame(6)
        wait_frame(qtbot, window.view, 6)
        window.view.select(0, None)
        window.act_swap_ids.trigger()
        dialog = window.tracking.dialog
        assert dialog.comboBoxItems() == ["person 2 (#1)", "person 3 (#2)"]
        dialog.setTextValue("person 3 (#2)")
        dialog.accept()
        assert [p.track_id for p in doc.frame(6).instances] == [2, 1, 0]
        assert [p.track_id for p in doc.frame(5).instances] == [0, 1, 2]
        window.view.select(0, None)
        window.act_merge_track.trigger()  # merging overlapping tracks is refused with a message
        window.tracking.dialog.setTextValue("#1")
        window.tracking.dialog.accept()
        assert "both in frame" in window.statusBar().currentMessage()
        assert doc.undo_stack.count() == 1
    finally:
        window.close()
