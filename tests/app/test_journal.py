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
    assert n == 7  # a copy of the project as the base, then one record per autosave
    want = load_coco(tmp_path / "want.json")
    for fr in (*got.frames, *want.frames):
        for inst in fr.instances:
            inst.id = None
    assert got == want



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
    import gc

    from app.project_opener import settle_gc

    assert not gc.isenabled()  # off while reading, until the receiver has the content in
    settle_gc()
    assert gc.isenabled()

    worker = ProjectOpenWorker([tmp_path / "big.json"])
    results: list[object] = []
    worker.done.connect(results.append)
    worker.progress.connect(lambda p: worker.cancel() if p >= 40 else None)
    with qtbot.waitSignal(worker.cancelled, timeout=60000):
        worker.start()
    worker.wait()
    qtbot.wait(50)
    assert results == [] and gc.isenabled()


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


def opened_doc(tmp_path: Path, n: int = 6) -> tuple[AnnotationDocument, Path]:
    from hrnet.annotations import save_coco

    p = tmp_path / "p.json"
    save_coco(make_doc(n).data, p)
    doc = AnnotationDocument()
    _docs.append(doc)
    doc.set_content(load_coco(p), path=p)
    return doc, p


def test_first_autosave_after_opening_is_a_copy_of_the_project(qtbot, tmp_path: Path) -> None:
    doc, p = opened_doc(tmp_path)
    assert doc.file_match() == (p, 0)
    autosave = AutosaveManager(doc, directory=tmp_path / "rec", delay_ms=10_000)
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    autosave.write_now()
    base = autosave.recovery_path
    assert base.read_bytes() == p.read_bytes()  # the project file itself, copied by the kernel
    assert len(journal_path(base).read_bytes().splitlines()) == 2  # the header + the changed frame
    doc.push(SetReviewed(doc, 4))
    autosave.write_now()
    got, token, n = read_journal_recovery(base)
    assert token is not None and n == 2 and got == doc.data
    # the project changed on disk: the next base is a full write of the document
    p.write_bytes(p.read_bytes() + b" ")
    assert doc.file_match() is None
    autosave.compact_bytes = 0
    doc.push(SetReviewed(doc, 5))
    autosave.write_now()
    assert base.read_bytes() != p.read_bytes()
    got, _, n = read_journal_recovery(base)
    assert n == 0 and got == doc.data
    autosave.close()
    assert not any((tmp_path / "rec").iterdir())


@pytest.mark.parametrize("crash_at", [1, 2])
def test_crash_while_a_copy_base_replaces_the_old_one(qtbot, tmp_path: Path, monkeypatch, crash_at: int) -> None:
    """kill -9 before the new base is in place (1) or between the base and its journal (2):
    recovery gives the last complete autosave exactly."""
    import hrnet.journal as hj

    doc, p = opened_doc(tmp_path)
    autosave = AutosaveManager(doc, directory=tmp_path / "rec", delay_ms=10_000)
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    autosave.write_now()
    doc.push(AddInstance(doc, 1, person(4)))
    autosave.write_now()
    before = doc.data.copy()
    doc.push(SetReviewed(doc, 2))
    autosave.compact_bytes = 0  # the next write makes a new copy base
    calls = []
    real = os.replace

    def replace(a, b):
        calls.append(a)
        if len(calls) == crash_at:
            raise KeyboardInterrupt("killed")  # nothing after this point runs
        real(a, b)

    monkeypatch.setattr(hj.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        autosave._job()()
    monkeypatch.setattr(hj.os, "replace", real)
    got, _, _ = read_journal_recovery(autosave.recovery_path)
    assert got == (before if crash_at == 1 else doc.data)
    autosave.close()


def test_crash_between_base_and_journal_uses_the_pending_journal(qtbot, tmp_path: Path) -> None:
    import shutil

    from hrnet import write_journal_copy_base

    doc, p = opened_doc(tmp_path)
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    base = tmp_path / "rec.json"
    write_journal_copy_base(p, base, "a" * 32, doc.snapshot(), doc.changed_since(0))
    old_journal = journal_path(base).read_bytes()
    doc.push(SetReviewed(doc, 2))
    write_journal_copy_base(p, base, "b" * 32, doc.snapshot(), doc.changed_since(0))
    # the state a kill -9 leaves between the two renames: new base, old journal, pending new one
    shutil.copyfile(journal_path(base), base.with_suffix(".journal.tmp"))
    journal_path(base).write_bytes(old_journal)
    got, token, n = read_journal_recovery(base)
    assert token == "b" * 32 and n == 1 and got == doc.data
    assert not base.with_suffix(".journal.tmp").exists()  # the replacement was finished
    # a kill -9 while the pending journal was written (the old pair still in place): not used
    expected = read_journal_recovery(base)[0]
    doc.push(SetReviewed(doc, 4))
    full = tmp_path / "other.json"
    write_journal_copy_base(p, full, "c" * 32, doc.snapshot(), doc.changed_since(0))
    torn = journal_path(full).read_bytes()
    base.with_suffix(".journal.tmp").write_bytes(torn[:-7])
    got, token, _ = read_journal_recovery(base)
    assert token == "b" * 32 and got == expected


def test_save_writes_a_delta_in_a_separate_process(qtbot, tmp_path: Path, monkeypatch) -> None:
    import app.document as ad

    doc, p = opened_doc(tmp_path)
    forked = []
    real_fork = ad.run_forked
    monkeypatch.setattr(ad, "run_forked", lambda fn: forked.append(1) or real_fork(fn))
    doc.push(AddInstance(doc, 5, person(3)))
    doc.push(MoveKeypoint(doc, 2, 0, 1, (1.5, 2.5)))
    with qtbot.waitSignal(doc.saved, timeout=30000):
        doc.save_in_background()
    assert forked == [] and not doc.is_dirty
    saved = load_coco(p)
    assert saved == doc.data and doc.frame(5).instances[1].id is not None  # the new person got its id
    assert doc.file_match() is not None and not list(tmp_path.glob("*.delta"))
    # the file changed on disk since: the save writes the whole document (forked)
    doc.push(SetReviewed(doc, 0))
    p.write_bytes(p.read_bytes() + b" ")
    with qtbot.waitSignal(doc.saved, timeout=30000):
        doc.save_in_background()
    assert forked == [1] and load_coco(p) == doc.data


def test_window_recovers_a_big_autosave_in_the_background(qtbot, tmp_path: Path, monkeypatch) -> None:
    import gc

    from app import project_opener
    from tests.app.gui_support import make_window

    doc, p = opened_doc(tmp_path, n=40)
    autosave = AutosaveManager(doc, directory=tmp_path / "recovery", delay_ms=10_000)
    doc.push(MoveKeypoint(doc, 3, 0, 0, (5.0, 6.0)))
    doc.push(SetReviewed(doc, 7))
    autosave.write_now()
    expected = doc.data.copy()
    del autosave  # "crash": no clean close, the files stay
    gc.collect()
    monkeypatch.setattr(project_opener, "BIG_PROJECT_BYTES", 1)  # this small file counts as big
    window = make_window(qtbot, tmp_path, monkeypatch)
    with qtbot.waitSignal(window.document.frames_changed, timeout=20000):
        assert window.recover_latest()
        assert window.document.num_frames() == 0  # still reading, on the worker
    got = window.document
    assert got.data == expected and got.is_dirty and got.path == p
    assert window.project.recoveries == []  # adopted: no longer offered
    # the adopted journal goes on: the next autosave appends to it
    got.push(SetReviewed(got, 9))
    window.autosave.write_now()
    again, _, n = read_journal_recovery(window.autosave.recovery_path)
    assert n == 2 and again == got.data
    got.undo_stack.clear()
    window.close()


def test_a_keypoint_set_change_makes_the_next_autosave_a_full_base(qtbot, tmp_path: Path) -> None:
    """The category is not in the journal's frame records: a renamed joint must survive a crash."""
    import dataclasses

    from app.keypoint_commands import SetKeypointSet

    doc, p = opened_doc(tmp_path)
    autosave = AutosaveManager(doc, directory=tmp_path / "rec", delay_ms=10_000)
    doc.push(SetReviewed(doc, 1))
    autosave.write_now()  # a copy base
    kset = doc.keypoint_set()
    names = list(kset.names)
    names[0] = "skull"
    doc.push(SetKeypointSet(doc, dataclasses.replace(kset, names=tuple(names))))
    assert doc.file_match() is None
    autosave.write_now()
    got, _, n = read_journal_recovery(autosave.recovery_path)
    assert n == 0 and got == doc.data and got.category.keypoints[0] == "skull"
    autosave.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
