"""Crash safety and export from the real window: kill the app mid-session and recover the edits;
export for training and read the result back with pycocotools and the training dataset class."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from PySide6.QtCore import Qt

from tests.app.gui_support import key, make_window, synthetic_project, wait_frame

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import sys, time
    from PySide6.QtWidgets import QApplication
    from app import qt_fixes
    qt_fixes.apply()
    app = QApplication([])
    from app import commands as C
    from app.main_window import MainWindow
    from app.settings import AppSettings
    ann, recovery, settings = sys.argv[1:4]
    w = MainWindow(settings=AppSettings(settings), recovery_dir=recovery, autosave_delay_ms=100)
    w.show()
    assert w.open_paths([ann])
    from app.model_manager import ModelSpec
    w.model.set_predictor(ModelSpec("synthetic/hrnet_w16_128x96", None, "cpu"), object())  # the model in use
    doc = w.document
    doc.push(C.SetReviewed(doc, 1, True))
    doc.push(C.MoveKeypoint(doc, 0, 0, 0, (11.5, 22.25)))
    print("edited", flush=True)
    while True:  # an annotator at work, until the process is killed
        app.processEvents()
        time.sleep(0.01)
""")


def test_kill_and_recover_from_autosave(qtbot, tmp_path, monkeypatch):
    ann, _ = synthetic_project(tmp_path, num_images=3)
    recovery = tmp_path / "recovery"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ann), str(recovery), str(tmp_path / "child.ini")],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "edited"
        deadline = time.time() + 60
        while not list(recovery.glob("*.meta.json")) and time.time() < deadline:
            time.sleep(0.05)
        assert list(recovery.glob("*.meta.json")), "no autosave written"
        time.sleep(0.2)
    finally:
        child.kill()  # SIGKILL: no clean close, no chance to remove the recovery file
        child.wait(30)
    assert list(recovery.glob("*.json"))

    window = make_window(qtbot, tmp_path, monkeypatch)  # recovery_dir = tmp_path / "recovery"
    assert window.start_view.recovery_frame.isVisibleTo(window.start_view)
    assert "person_keypoints_train.json" in window.start_view.recovery_label.text()
    assert window.recover_latest()
    doc = window.document
    assert doc.frame(1).reviewed
    assert np.allclose(doc.frame(0).instances[0].keypoints[0, :2], (11.5, 22.25))
    assert doc.is_dirty and window.isWindowModified() and doc.path == ann
    # the crashed session's model comes back too (from the recovery's meta, not this app's settings)
    assert window.model.pending_spec is not None or window.model.is_loaded
    qtbot.waitUntil(lambda: window.model.is_loaded, timeout=60000)
    assert window.model.spec.experiment == "synthetic/hrnet_w16_128x96" and window.model.spec.device == "cpu"
    wait_frame(qtbot, window.view, 0)
    with qtbot.waitSignal(doc.saved, timeout=10000):  # Ctrl+S writes on a worker thread
        key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # saving ends the recovery
    assert not doc.is_dirty
    assert not list(recovery.glob("*.meta.json"))
    window.close()


def test_autosave_written_after_edits_and_removed_on_save(qtbot, tmp_path, monkeypatch):
    ann, _ = synthetic_project(tmp_path, num_images=2)
    window = make_window(qtbot, tmp_path, monkeypatch)
    window.open_paths([ann])
    wait_frame(qtbot, window.view, 0)
    key(window, Qt.Key.Key_R)
    recovery = tmp_path / "recovery"
    qtbot.waitUntil(lambda: bool(list(recovery.glob("*.meta.json"))), timeout=10000)
    window.save()
    assert not list(recovery.glob("*.json"))
    window.close()


def test_export_reads_back_with_pycocotools_and_training_dataset(qtbot, tmp_path, monkeypatch):
    ann, _ = synthetic_project(tmp_path, num_images=6)
    window = make_window(qtbot, tmp_path, monkeypatch)
    window.open_paths([ann])
    doc = window.document
    wait_frame(qtbot, window.view, 0)
    for _ in range(4):  # review 4 frames with the keyboard
        key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert sum(f.reviewed for f in doc.data.frames) == 4
    out = tmp_path / "export"
    dialog = window.export_dialog()
    dialog.folder_edit.setText(str(out))
    dialog.val_spin.setValue(0.25)
    assert dialog.only_reviewed.isChecked()
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        dialog.accept()  # the export runs on a worker thread from a snapshot
    train_json, val_json = out / "train.json", out / "val.json"
    assert train_json.is_file() and val_json.is_file()
    train, val = COCO(str(train_json)), COCO(str(val_json))
    n_images = len(train.getImgIds()) + len(val.getImgIds())
    assert n_images == 4 and len(val.getImgIds()) >= 1
    # keypoints round-trip exactly (per file name)
    by_name = {Path(f.file_name).name: f for f in doc.data.frames}
    for coco in (train, val):
        for img in coco.loadImgs(coco.getImgIds()):
            frame = by_name[Path(img["file_name"]).name]
            assert frame.reviewed
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"], iscrowd=False))
            got = sorted(np.round(np.array(a["keypoints"], float).reshape(-1, 3)[:, :2].sum(), 3) for a in anns)
            want = sorted(np.round(p.keypoints[:, :2].sum(), 3) for p in frame.instances if p.num_keypoints > 0)
            assert got == want
    from hrnet.config import load_config
    from hrnet.dataset import build_dataset

    cfg = load_config("synthetic/hrnet_w16_128x96", opts=[
        "DATASET.TRAIN_ANNOTATIONS", str(train_json), "DATASET.TRAIN_IMAGES", str(out / "images"),
        "DATASET.TEST_ANNOTATIONS", str(val_json), "DATASET.TEST_IMAGES", str(out / "images")])
    dataset = build_dataset(cfg, is_train=True)
    assert len(dataset) == sum(len(train.getAnnIds(imgIds=i, iscrowd=False)) for i in train.getImgIds())
    sample = dataset[0]
    assert tuple(sample[1].shape) == (17, 32, 24)
    window.close()
