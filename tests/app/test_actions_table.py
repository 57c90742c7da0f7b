"""The actions table: names unique, menus/toolbar/context menu refer to real actions, no shortcut
bound twice, and the F1 help lists every action that has a shortcut."""

from __future__ import annotations

from collections import Counter

from app.controllers import actions as T
from app.widgets.help_dialog import shortcut_rows


def test_table_is_consistent(qtbot):
    names = [a.name for a in T.ACTIONS]
    assert len(names) == len(set(names))
    known = set(names) | {"undo", "redo"}
    referenced = [n for _title, items in T.MENUS for n in items if n is not None and not n.startswith("-")]
    referenced += [item[0] for item in T.TOOLBAR if item is not None] + [n for n in T.CONTEXT_MENU if n]
    assert set(referenced) <= known
    keys = Counter(k.toString() for a in T.ACTIONS for k in T.key_sequences(a.shortcuts))
    assert not [k for k, n in keys.items() if n > 1], "a shortcut bound to two actions"
    assert all(a.group in (T.FILE, T.NAVIGATE, T.EDIT, T.VIEW, T.MODEL, T.REVIEW, T.TRACKS, T.HELP) for a in T.ACTIONS)


def test_window_actions_and_help_come_from_the_table(qtbot, tmp_path, monkeypatch):
    from tests.app.gui_support import make_window

    window = make_window(qtbot, tmp_path, monkeypatch)
    try:
        for spec in T.ACTIONS:
            action = getattr(window, f"act_{spec.name}")
            assert window.actions_by_name[spec.name] is action
            assert action.text().replace("&", "") == spec.text.replace("&", "")  # (reviewed: toggles its text)
        rows = shortcut_rows(window.actions())
        described = {text.split(" — ")[0] for _g, _k, text in rows}
        for spec in T.ACTIONS:
            if T.key_sequences(spec.shortcuts):  # (a standard key may have no binding on a platform)
                assert spec.text.replace("&", "").rstrip("…").strip() in described
        assert window.act_next_person in window.view.actions()  # Tab: only while the canvas has the focus
        menu_texts = {a.text() for m in window.menuBar().actions() for a in m.menu().actions()}
        assert {"Open &recent", "&Keyboard shortcuts", "Predict this &frame"} <= menu_texts
    finally:
        window.close()
