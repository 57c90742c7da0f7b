"""app.autosave: debounced recovery files, kill-and-recover, cleanup on save/close."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.autosave import AutosaveManager, discard_recovery, find_recoveries
from app.commands import AddInstance, MoveKeypoint, SetReviewed
from app.document import AnnotationDocument
from hrnet import read_journal_recovery
from hrnet.annotations import Instance

K = 17


@pytest.fixture
def project(tmp_path: Path) -> Path:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(3):
        cv2.imwrite(str(imgs / f"{i}.png"), np.full((20, 30, 3), i * 50, np.uint8))
    doc = AnnotationDocument()
    doc.open([imgs])
    doc.save(imgs / "project.json")
    return imgs / "project.json"


def without_ids(data):
    data = data.copy()
    for fr in data.frames:
        for inst in fr.instances:
            inst.id = None  # the recovery copy numbers new people; the live document does on save
    return data


def person() -> Instance:
    return Instance(np.c_[np.arange(K) + 1.0, np.arange(K) + 2.0, np.full(K, 2.0)])


def test_kill_and_recover(qtbot, tmp_path: Path, project: Path) -> None:
    rec_dir = tmp_path / "recovery"
    doc = AnnotationDocument()
    doc.load(project)
    autosave = AutosaveManager(doc, directory=rec_dir, delay_ms=50)
    doc.push(AddInstance(doc, 1, person()))
    doc.push(MoveKeypoint(doc, 1, 0, 4, (11.5, 12.5)))
    doc.push(SetReviewed(doc, 2))
    assert autosave.is_pending()
    with qtbot.waitSignal(autosave.recovery_written, timeout=5000):
        pass
    assert autosave.recovery_path.is_file() and autosave.meta_path.is_file()
    expected = doc.data
    # the live session's file is not offered as a crash leftover
    assert find_recoveries(rec_dir) == []

    # "crash": drop everything without closing or saving
    del doc, autosave
    gc.collect()

    found = find_recoveries(rec_dir)
    assert len(found) == 1
    rec = found[0]
    assert rec.original_path == project.absolute() and rec.num_frames == 3
    assert "project.json" in rec.describe()

    doc2 = AnnotationDocument()
    autosave2 = AutosaveManager(doc2, directory=rec_dir, delay_ms=50)
    autosave2.recover(rec)
    assert without_ids(doc2.data) == without_ids(expected)
    assert doc2.instance(1, 0).keypoints[4].tolist() == [11.5, 12.5, 2.0]
    assert doc2.frame(2).reviewed
    assert doc2.is_dirty and doc2.path == project.absolute()
    assert doc2.image(1).shape == (20, 30, 3)  # absolute image root in the recovery file
    assert rec.path.is_file()  # kept until the recovered work is saved
    # saving removes the recovery file
    doc2.save()
    assert not rec.path.exists() and not rec.meta_path.exists()
    assert find_recoveries(rec_dir) == []
    autosave2.close()


def test_nothing_written_when_clean_and_removed_when_clean_again(qtbot, tmp_path: Path, project: Path) -> None:
    rec_dir = tmp_path / "rec"
    doc = AnnotationDocument()
    doc.load(project)
    autosave = AutosaveManager(doc, directory=rec_dir, delay_ms=10_000)
    assert autosave.write_now() is None and not rec_dir.exists()
    doc.push(SetReviewed(doc, 0))
    assert autosave.write_now() == autosave.recovery_path
    doc.undo()  # back to the saved state: nothing to recover
    assert not autosave.recovery_path.exists()
    doc.redo()
    autosave.write_now()
    autosave.close()  # a clean close removes it
    assert not autosave.recovery_path.exists()


def test_debounce_writes_once_per_burst(qtbot, tmp_path: Path, project: Path) -> None:
    doc = AnnotationDocument()
    doc.load(project)
    autosave = AutosaveManager(doc, directory=tmp_path / "rec", delay_ms=100)
    writes = []
    autosave.recovery_written.connect(writes.append)
    doc.push(AddInstance(doc, 0, person()))
    for k in range(10):
        doc.push(MoveKeypoint(doc, 0, 0, 0, (k, k)))
    qtbot.waitUntil(lambda: len(writes) == 1, timeout=5000)
    qtbot.wait(250)
    assert len(writes) == 1
    got, _, _ = read_journal_recovery(autosave.recovery_path)  # a copy of the project + one record
    assert got.frames[0].instances[-1].keypoints[0, :2].tolist() == [9.0, 9.0]
    autosave.close()


def test_unsaved_document_and_failures(qtbot, tmp_path: Path) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    cv2.imwrite(str(imgs / "a.png"), np.zeros((10, 10, 3), np.uint8))
    doc = AnnotationDocument()
    doc.open([imgs])  # never saved: no original path
    blocker_dir = tmp_path / "file-not-dir"
    blocker_dir.write_text("x")
    autosave = AutosaveManager(doc, directory=blocker_dir / "rec", delay_ms=10_000)
    doc.push(AddInstance(doc, 0, person()))
    with qtbot.waitSignal(autosave.failed) as failed:
        assert autosave.write_now() is None
    assert "Autosave" in failed.args[0]
    autosave.close()

    rec_dir = tmp_path / "rec"
    autosave = AutosaveManager(doc, directory=rec_dir, delay_ms=10_000)
    doc.push(SetReviewed(doc, 0))
    autosave.write_now()
    rec = find_recoveries(rec_dir, include_running=True)[0]
    assert rec.original_path is None and "unsaved document" in rec.describe()
    discard_recovery(rec)
    assert find_recoveries(rec_dir, include_running=True) == []
    autosave.close()


def test_other_running_instance_is_skipped(tmp_path: Path) -> None:
    import socket

    rec_dir = tmp_path / "rec"
    rec_dir.mkdir()
    (rec_dir / "autosave-1-abc.json").write_text("{}")
    meta = {"original_path": None, "saved_at": "2024-01-02T03:04:05", "num_frames": 1,
            "pid": os.getppid(), "host": socket.gethostname()}
    (rec_dir / "autosave-1-abc.meta.json").write_text(json.dumps(meta))
    (rec_dir / "autosave-2-def.meta.json").write_text("{broken")
    assert find_recoveries(rec_dir) == []  # parent process is alive: that instance is still running
    assert len(find_recoveries(rec_dir, include_running=True)) == 1
    meta["pid"] = 2**22 + 12345  # no such process
    (rec_dir / "autosave-1-abc.meta.json").write_text(json.dumps(meta))
    assert len(find_recoveries(rec_dir)) == 1


def test_save_during_background_write_leaves_no_recovery_file(qtbot, tmp_path: Path, project: Path) -> None:
    doc = AnnotationDocument()
    doc.load(project)
    autosave = AutosaveManager(doc, directory=tmp_path / "rec", delay_ms=10_000)
    written = []
    autosave.recovery_written.connect(written.append)
    for _ in range(5):
        doc.push(AddInstance(doc, 0, person()))
        autosave._write_in_background()  # what the timer does
        doc.save()
        autosave.wait()  # the removal runs once the write in flight is done (queued, not waited for)
        qtbot.wait(20)
        assert not autosave.recovery_path.exists() and not autosave.meta_path.exists()
    assert written == []  # results of writes overtaken by a save are dropped
    doc.push(AddInstance(doc, 0, person()))
    autosave._write_in_background()
    autosave.wait()
    qtbot.waitUntil(lambda: written == [autosave.recovery_path], timeout=5000)
    assert autosave.recovery_path.exists()
    autosave.close()
    assert not autosave.recovery_path.exists()
