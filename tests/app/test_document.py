"""app.document.AnnotationDocument: signals, dirty state from the undo stack, open/save."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.commands import MoveKeypoint, SetReviewed
from app.document import AnnotationDocument
from hrnet.annotations import Frame, Instance, PoseDocument, load_coco

K = 17


def make_folder(folder: Path, n: int = 3, size: tuple[int, int] = (64, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40 * i, np.uint8)
        p = folder / f"img{i}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def test_open_folder_edit_save_reload(qtbot, tmp_path: Path) -> None:
    make_folder(tmp_path / "imgs")
    doc = AnnotationDocument()
    frames_changed = []
    doc.frames_changed.connect(lambda: frames_changed.append(1))
    doc.open([tmp_path / "imgs"])
    assert frames_changed and doc.num_frames() == 3 and doc.path is None and not doc.is_dirty
    assert doc.frame(1).instances == []  # frames without annotations are empty frames
    assert doc.image(1).shape == (48, 64, 3)

    kp = np.c_[np.arange(K) * 2.0, np.arange(K) * 2.0, np.full(K, 2.0)]
    from app.commands import AddInstance

    with qtbot.waitSignal(doc.dirty_changed) as blocker:
        doc.push(AddInstance(doc, 1, Instance(kp)))
    assert blocker.args == [True] and doc.is_dirty

    with pytest.raises(ValueError, match="Save As"):
        doc.save()
    target = tmp_path / "imgs" / "project.json"
    paths, saved = [], []
    doc.path_changed.connect(paths.append)
    doc.saved.connect(saved.append)
    with qtbot.waitSignal(doc.dirty_changed) as blocker:
        doc.save(target)
    assert blocker.args == [False] and not doc.is_dirty
    assert paths == [target] and saved == [target] and doc.path == target
    raw = json.loads(target.read_text())
    assert [(i["width"], i["height"]) for i in raw["images"]] == [(64, 48)] * 3  # sizes read from headers

    # undo after save -> dirty; redo back to the saved state -> clean again
    doc.undo()
    assert doc.is_dirty
    doc.redo()
    assert not doc.is_dirty

    other = AnnotationDocument()
    other.load(target)
    assert other.data == doc.data and other.path == target and not other.is_dirty
    assert other.image(0).shape == (48, 64, 3)


def test_current_index(qtbot) -> None:
    doc = AnnotationDocument(PoseDocument(frames=[Frame(i + 1, f"{i}.png", 10, 10) for i in range(4)]))
    seen = []
    doc.frame_changed.connect(seen.append)
    doc.set_current_index(2)
    doc.set_current_index(2)  # no change: no signal
    doc.set_current_index(99)  # clamped
    doc.set_current_index(-5)
    assert seen == [2, 3, 0] and doc.current_index() == 0
    assert doc.current_frame() is doc.frame(0)


def test_mark_dirty_and_set_content(qtbot, tmp_path: Path) -> None:
    data = PoseDocument(frames=[Frame(1, "a.png", 10, 10)])
    doc = AnnotationDocument(data)
    doc.mark_dirty()
    assert doc.is_dirty
    doc.push(SetReviewed(doc, 0))
    doc.undo()
    assert doc.is_dirty  # recovered content stays unsaved even when the stack is undone
    doc.save(tmp_path / "x.json")
    assert not doc.is_dirty
    doc.set_content(PoseDocument(frames=[Frame(1, "b.png", 5, 5)]), path=None, dirty=True)
    assert doc.is_dirty and doc.undo_stack.count() == 0 and doc.path is None
    assert load_coco(tmp_path / "x.json").frames[0].file_name == "a.png"


def test_failed_open_keeps_content(qtbot, tmp_path: Path) -> None:
    doc = AnnotationDocument(PoseDocument(frames=[Frame(1, "a.png", 10, 10)]))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    from hrnet.errors import AnnotationError

    with pytest.raises(AnnotationError):
        doc.load(bad)
    assert doc.num_frames() == 1


def test_failed_save_stays_dirty(qtbot, tmp_path: Path) -> None:
    kp = np.ones((K, 3)) * 2
    doc = AnnotationDocument(PoseDocument(frames=[Frame(1, "a.png", 10, 10, [Instance(kp)])]))
    doc.push(MoveKeypoint(doc, 0, 0, 0, (5.0, 1.0)))
    with pytest.raises(OSError):
        doc.save(tmp_path / "missing-dir" / "x.json")
    assert doc.is_dirty and doc.path is None
    doc.data.frames[0].instances[0].keypoints[1, 0] = np.nan  # not reachable through commands
    from hrnet.errors import AnnotationError

    with pytest.raises(AnnotationError, match="NaN"):
        doc.save(tmp_path / "x.json")
    assert doc.is_dirty and not (tmp_path / "x.json").exists()
    with pytest.raises(ValueError, match="finite"):
        MoveKeypoint(doc, 0, 0, 0, (float("nan"), 1.0))
