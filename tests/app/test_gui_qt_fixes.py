"""The PySide6 emit() reference leak of True is neutralised (tests/app/conftest.py applies the fix
once, as app.main does at start-up)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from app import qt_fixes


class _Emitter(QObject):
    fired = Signal(object)


def test_many_emits_do_not_exhaust_true():
    emitter = _Emitter()
    got = []
    emitter.fired.connect(got.append)
    for i in range(20000):  # far more than the ~3000 references True starts with
        emitter.fired.emit(i)
    assert len(got) == 20000
    if qt_fixes.signal_emit_leaks_true():
        assert qt_fixes.apply() and sys.getrefcount(True) > 1 << 39
