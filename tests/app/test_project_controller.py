"""ProjectController without a window: open/save/close report through signals, errors are messages,
recent files follow, an export runs on a worker thread, one at a time."""

from __future__ import annotations

from app.autosave import AutosaveManager
from app.controllers.project import ProjectController
from app.document import AnnotationDocument
from app.settings import AppSettings
from tests.app.gui_support import synthetic_project


def _make(tmp_path):
    doc = AnnotationDocument()
    settings = AppSettings(tmp_path / "s.ini")
    autosave = AutosaveManager(doc, directory=tmp_path / "recovery", delay_ms=100000)
    ctrl = ProjectController(doc, settings, autosave, tmp_path / "recovery")
    seen = {"errors": [], "messages": [], "opened": 0, "closing": 0, "closed": 0, "recent": []}
    ctrl.error.connect(lambda t, m: seen["errors"].append((t, m)))
    ctrl.message.connect(lambda m, _ms: seen["messages"].append(m))
    ctrl.opened.connect(lambda: seen.__setitem__("opened", seen["opened"] + 1))
    ctrl.closing.connect(lambda: seen.__setitem__("closing", seen["closing"] + 1))
    ctrl.closed.connect(lambda: seen.__setitem__("closed", seen["closed"] + 1))
    ctrl.recent_changed.connect(lambda r: seen["recent"].append(r))
    return ctrl, doc, autosave, seen


def test_open_save_close_and_errors(qtbot, tmp_path):
    ann, _ = synthetic_project(tmp_path, num_images=3)
    ctrl, doc, autosave, seen = _make(tmp_path)
    try:
        assert not ctrl.open_paths([tmp_path / "missing.json"])
        assert seen["errors"][-1][0] == "Cannot open" and seen["opened"] == 0
        assert ctrl.open_paths([ann]) and doc.num_frames() == 3 and seen["opened"] == 1
        assert seen["recent"][-1][0] == str(ann.resolve()) and seen["messages"][-1].startswith("Opened 3 frames")
        doc.mark_dirty()
        assert ctrl.save() and not doc.is_dirty and seen["messages"][-1].startswith("Saved")
        (tmp_path / "blocked").write_text("a file where a folder should be")
        assert not ctrl.save_to(tmp_path / "blocked" / "p.json")
        assert seen["errors"][-1][0] == "Cannot save" and "autosave" in seen["errors"][-1][1]
        assert ctrl.close_project() and doc.num_frames() == 0 and (seen["closing"], seen["closed"]) == (1, 1)
        assert ctrl.export_dialog() is None and not ctrl.save()  # nothing open
    finally:
        autosave.close()
        doc.close()


def test_export_runs_on_a_worker_one_at_a_time(qtbot, tmp_path):
    ann, _ = synthetic_project(tmp_path, num_images=4)
    ctrl, doc, autosave, seen = _make(tmp_path)
    running = []
    ctrl.export_running.connect(running.append)
    try:
        assert ctrl.open_paths([ann])
        with qtbot.waitSignal(ctrl.export_finished, timeout=60000) as blocker:
            worker = ctrl.export(tmp_path / "out", val_fraction=0.25)
            assert worker is not None and ctrl.export(tmp_path / "out2") is None  # one at a time
        result = blocker.args[0]
        assert len(result.train_frames) + len(result.val_frames) == 4 and result.train_json.is_file()
        assert running == [True, False] and ctrl.export_worker is None
        assert seen["messages"][-1].startswith("Exported 3 train / 1 val frames")
        ctrl.shutdown()
    finally:
        autosave.close()
        doc.close()
