"""Copy-on-write snapshots (app.document) and the autosave journal (app.journal, app.autosave)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.autosave import AutosaveManager, find_recoveries
from app.commands import AddInstance, DeleteInstance, MoveKeypoint, SetReviewed
from app.document import AnnotationDocument
from hrnet import journal_path, read_journal_recovery
from hrnet.annotations import Frame, Instance, PoseDocument, load_coco

K = 17


def person(x: float = 1.0) -> Instance:
    return Instance(np.c_[np.arange(K) + x, np.arange(K) + 2.0, np.full(K, 2.0)], id=None)


_docs: list[AnnotationDocument] = []


@pytest.fixture(autouse=True)
def _release_documents():
    yield
    while _docs:  # commands refer to their document: drop them while both are alive
        doc = _docs.pop()
        doc.undo_stack.clear()
        doc.close()


def make_doc(n: int = 6) -> AnnotationDocument:
    data = PoseDocument(frames=[Frame(i + 1, f"/imgs/{i}.png", 40, 30, [person(i)]) for i in range(n)])
    doc = AnnotationDocument(data)
    _docs.append(doc)
    return doc


def test_snapshot_is_copy_on_write_per_frame(qtbot) -> None:
    doc = make_doc()
    frames_before = list(doc.data.frames)
    snap = doc.snapshot()
    frozen = snap.copy()
    doc.push(MoveKeypoint(doc, 2, 0, 3, (9.5, 8.5)))
    doc.push(SetReviewed(doc, 4))
    doc.push(AddInstance(doc, 4, person(7)))
    assert snap == frozen  # the snapshot did not see the edits
    # only the edited frames were copied; the others are still shared
    assert [a is b for a, b in zip(doc.data.frames, snap.frames)] == [True, True, False, True, False, True]
    assert snap.frames[2] is frames_before[2]
    # a second edit of the same frame before the next snapshot copies nothing more
    copy2 = doc.data.frames[2]
    doc.push(MoveKeypoint(doc, 2, 0, 4, (1.0, 1.0)))
    assert doc.data.frames[2] is copy2
    assert doc.changed_since(0) == [2, 4]
    v = doc.version
    snap2 = doc.snapshot()
    doc.push(DeleteInstance(doc, 0, 0))
    assert doc.changed_since(v) == [0] and len(snap2.frames[0].instances) == 1
    doc.undo()
    doc.undo()
    assert doc.frame(2).instances[0].keypoints[4].tolist() == snap.frames[2].instances[0].keypoints[4].tolist()
    assert snap == frozen


def test_journal_replay_and_compaction(qtbot, tmp_path: Path) -> None:
    doc = make_doc()
    autosave = AutosaveManager(doc, directory=tmp_path, delay_ms=10_000)
    doc.push(SetReviewed(doc, 1))
    autosave.write_now()  # the first write is a base
    base = autosave.recovery_path
    jp = journal_path(base)
    assert base.is_file() and jp.stat().st_size == 0
    base_bytes = base.read_bytes()
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    autosave.write_now()
    doc.push(AddInstance(doc, 5, person(3)))
    doc.push(SetReviewed(doc, 5))
    autosave.write_now()
    assert base.read_bytes() == base_bytes  # later writes only append
    assert len(jp.read_bytes().splitlines()) == 2
    got, token, n = read_journal_recovery(base)
    assert n == 2 and token is not None
    assert got == doc.data and got.frames[5].reviewed and len(got.frames[5].instances) == 2

    autosave.compact_bytes = 0  # the journal is "too big": the next write compacts into a new base
    doc.push(SetReviewed(doc, 0))
    autosave.write_now()
    assert jp.stat().st_size == 0
    got2, token2, n2 = read_journal_recovery(base)
    assert token2 != token and n2 == 0 and got2 == doc.data
    autosave.close()
    assert not base.exists() and not jp.exists()


def test_crash_in_the_middle_of_a_journal_write_recovers_the_last_complete_autosave(qtbot, tmp_path: Path) -> None:
    doc = make_doc()
    autosave = AutosaveManager(doc, directory=tmp_path, delay_ms=10_000)
    doc.push(SetReviewed(doc, 1))
    autosave.write_now()
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    autosave.write_now()
    expected = doc.data.copy()
    doc.push(MoveKeypoint(doc, 2, 0, 0, (7.0, 7.0)))
    autosave.write_now()
    jp = journal_path(autosave.recovery_path)
    lines = jp.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2
    for cut in (1, len(lines[1]) // 2, len(lines[1]) - 1):  # the last append torn at several points
        jp.write_bytes(lines[0] + lines[1][:cut])
        got, _, n = read_journal_recovery(autosave.recovery_path)
        assert n == 1 and got == expected
    damaged = bytearray(lines[1])
    damaged[20] ^= 1  # a flipped byte: the checksum refuses the record
    jp.write_bytes(lines[0] + bytes(damaged))
    got, _, n = read_journal_recovery(autosave.recovery_path)
    assert n == 1 and got == expected
    # a journal of an older base (compaction torn before the truncation) is not applied
    jp.write_bytes(lines[0].replace(lines[0][9:60], lines[0][9:60].replace(b'"t":"', b'"t":"x')))
    got, _, n = read_journal_recovery(autosave.recovery_path)
    assert n == 0
    autosave.close()


CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from PySide6.QtWidgets import QApplication
    from app.autosave import AutosaveManager
    from app.commands import MoveKeypoint, SetReviewed
    from app.document import AnnotationDocument
    from hrnet.annotations import load_coco
    app = QApplication([])
    doc = AnnotationDocument()
    doc.set_content(load_coco(sys.argv[1]), path=sys.argv[1])
    autosave = AutosaveManager(doc, directory=sys.argv[2], delay_ms=10_000)
    for k in range(int(sys.argv[3])):
        doc.push(MoveKeypoint(doc, k % 6, 0, k % 17, (float(k), float(k) + 0.5)))
        doc.push(SetReviewed(doc, (k * 5) % 6, k % 2 == 0))
        autosave.write_now()
    from hrnet.annotations import save_coco
    save_coco(doc.data.copy(), sys.argv[4], update_path=False, absolute_paths=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_kill_9_recovers_the_last_autosave_exactly(qtbot, tmp_path: Path) -> None:
    from hrnet.annotations import save_coco

    doc = make_doc()
    save_coco(doc.data, tmp_path / "p.json")
    rec = tmp_path / "rec"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "QT_QPA_PLATFORM": "offscreen"}
    args = [str(tmp_path / "p.json"), str(rec), "7", str(tmp_path / "want.json")]
    r = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, timeout=120)
    assert r.returncode == -9
    found = find_recoveries(rec)
    assert len(found) == 1
    got, _, n = read_journal_recovery(found[0].path)
    assert n == 6  # one base, then one record per autosave
    want = load_coco(tmp_path / "want.json")
    for fr in (*got.frames, *want.frames):
        for inst in fr.instances:
            inst.id = None
    assert got == want


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


def test_background_save_snapshot_and_results(qtbot, tmp_path: Path) -> None:
    doc = make_doc()
    doc.push(SetReviewed(doc, 1))
    with qtbot.waitSignal(doc.saved, timeout=10000):
        doc.save_in_background(tmp_path / "a.json")
    assert not doc.is_dirty and doc.path == tmp_path / "a.json"
    assert load_coco(tmp_path / "a.json") == doc.data  # ids were numbered in the live document
    # an edit made while the file is written: the file holds the snapshot, the document stays dirty
    doc.push(SetReviewed(doc, 2))
    with qtbot.waitSignal(doc.saved, timeout=10000):
        doc.save_in_background()
        doc.push(SetReviewed(doc, 3))
    assert doc.is_dirty
    saved = load_coco(tmp_path / "a.json")
    assert saved.frames[2].reviewed and not saved.frames[3].reviewed and doc.frame(3).reviewed
    # a failure is reported, the document stays dirty
    (tmp_path / "dir.json").mkdir()
    with qtbot.waitSignal(doc.save_failed, timeout=10000) as failed:
        doc.save_in_background(tmp_path / "dir.json")
    assert failed.args[0] == tmp_path / "dir.json" and doc.is_dirty and doc.path == tmp_path / "a.json"


def test_open_worker_reports_progress_and_cancels(qtbot, tmp_path: Path) -> None:
    from app.project_opener import ProjectOpenWorker, is_big_project
    from hrnet.annotations import save_coco

    rng = np.random.default_rng(0)
    data = PoseDocument(frames=[Frame(i + 1, f"{i}.png", 40, 30, [person(float(rng.random())) for _ in range(3)])
                                for i in range(4000)])
    save_coco(data, tmp_path / "big.json")
    assert is_big_project([tmp_path / "big.json"]) and not is_big_project([tmp_path / "nothing.json"])

    worker = ProjectOpenWorker([tmp_path / "big.json"])
    seen: list[int] = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.done, timeout=60000) as done:
        worker.start()
    worker.wait()
    opened, source = done.args[0]
    assert opened == load_coco(tmp_path / "big.json") and seen[0] == 0 and seen == sorted(seen) and len(seen) >= 3
    source.close()

    worker = ProjectOpenWorker([tmp_path / "big.json"])
    results: list[object] = []
    worker.done.connect(results.append)
    worker.progress.connect(lambda p: worker.cancel() if p >= 40 else None)
    with qtbot.waitSignal(worker.cancelled, timeout=60000):
        worker.start()
    worker.wait()
    qtbot.wait(50)
    assert results == []


def test_forked_writer_returns_results_and_raises_errors(tmp_path: Path) -> None:
    from app.forked_writer import run_forked
    from hrnet.errors import AnnotationError

    assert run_forked(lambda: (tmp_path / "x").write_text("hi") and [1, 2]) == [1, 2]
    assert (tmp_path / "x").read_text() == "hi"  # written by the child
    with pytest.raises(AnnotationError, match="bad"):
        run_forked(lambda: (_ for _ in ()).throw(AnnotationError("bad value")))
    with pytest.raises(FileNotFoundError):
        run_forked(lambda: (tmp_path / "no" / "such").read_text())
    assert run_forked(lambda: 5, use_fork=False) == 5


def test_window_opens_a_big_project_in_the_background(qtbot, tmp_path: Path, monkeypatch) -> None:
    from app import project_opener
    from hrnet.annotations import save_coco
    from tests.app.gui_support import make_window

    data = PoseDocument(frames=[Frame(i + 1, f"{i}.png", 40, 30, [person(1.0)]) for i in range(50)])
    save_coco(data, tmp_path / "p.json")
    monkeypatch.setattr(project_opener, "BIG_PROJECT_BYTES", 1)  # this small file counts as big
    window = make_window(qtbot, tmp_path, monkeypatch)
    with qtbot.waitSignal(window.document.frames_changed, timeout=20000):
        assert window.open_paths([tmp_path / "p.json"], confirm=False)
        assert window.document.num_frames() == 0  # still reading
    doc = window.document
    assert doc.num_frames() == 50 and doc.path == tmp_path / "p.json"
    assert not doc.is_dirty
    # Ctrl+S and Save As from the menu write on a worker
    doc.push(SetReviewed(doc, 4))
    with qtbot.waitSignal(doc.saved, timeout=20000):
        assert window.act_save.trigger() is None and doc.is_dirty  # started, not finished
    assert not doc.is_dirty and load_coco(tmp_path / "p.json").frames[4].reviewed
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "b"), "")))
    doc.push(SetReviewed(doc, 5))
    with qtbot.waitSignal(doc.saved, timeout=20000):
        window.act_save_as.trigger()
    assert doc.path == tmp_path / "b.json" and not doc.is_dirty and load_coco(tmp_path / "b.json").frames[5].reviewed
    doc.undo_stack.clear()
    window.close()


def test_becoming_clean_does_not_wait_for_a_long_autosave_write(qtbot, tmp_path: Path) -> None:
    import threading

    doc = make_doc()
    autosave = AutosaveManager(doc, directory=tmp_path, delay_ms=10_000)
    doc.push(SetReviewed(doc, 1))
    autosave.write_now()
    gate = threading.Event()
    autosave._inflight = autosave._executor.submit(gate.wait)  # a write that takes long
    doc.push(SetReviewed(doc, 2))
    doc.undo()
    doc.undo()  # clean again: the files go, after the write in flight, without blocking here
    assert not doc.is_dirty and autosave.recovery_path.exists()
    gate.set()
    autosave.wait()
    assert not autosave.recovery_path.exists() and not autosave.meta_path.exists()
    doc.push(SetReviewed(doc, 3))
    autosave.write_now()  # a fresh base, not an append to the removed one
    got, _, n = read_journal_recovery(autosave.recovery_path)
    assert n == 0 and got == doc.data
    autosave.close()
