"""The window's video side: the timeline dock shows tracks and jumps on click, play advances the
frames (skipping when decoding is slower), the canvas labels tracked people "#id", and the Tracks
menu's actions act on the selected person as one undo step each."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

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
        window.timeline_dock.show()
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
        window.edits.toggle_reviewed()
        qtbot.waitUntil(lambda: tl.rows()[0, 12, 3] == 255, timeout=5000)
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
