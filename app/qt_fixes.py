"""Work-arounds for bugs of the Qt binding that would otherwise crash the app.

PySide6 6.12.0 on CPython < 3.12: every ``SignalInstance.emit()`` called from Python returns
``True`` without taking a reference to it, so each emit drops one reference of the ``True``
singleton. After a few thousand emits (minutes of annotating: every edit, every pyqtgraph range
change) its count reaches zero and the interpreter aborts with "Fatal Python error:
bool_dealloc". CPython 3.12+ makes ``True`` immortal, which hides the bug.

:func:`apply` detects the leak with a probe signal and, only when it is present, raises the
reference count of ``True`` by 2**40 — a reference leak on a singleton that is never freed, so
harmless, and large enough for centuries of emits (``None``, dropped by void calls of the same
release, is topped up too). pyproject.toml now pins PySide6 below 6.12, so the probe normally
finds no leak and this does nothing; it stays as a guard for environments that ignore the pin.

It is applied once per process, before any widget exists: at start-up by :func:`app.main.main`
and for the tests by ``tests/app/conftest.py`` (a script that builds the window itself calls
:func:`apply` first, as ``tests/app/test_gui_recovery_export.py``'s child process does).
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_applied = False


def signal_emit_leaks_true() -> bool:
    """True when emitting a Python-side signal drops a reference of ``True`` (the PySide6 bug)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.fired.emit()
    after = sys.getrefcount(True)
    return after < before - 8


def apply() -> bool:
    """Apply the work-around when needed (idempotent); True when it was applied now or before."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not signal_emit_leaks_true():
        return False
    for singleton in (True, None):  # the same release also drops None from void calls
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40
    _applied = True
    log.info("PySide6 signal emit leaks references to True: compensated (see app/qt_fixes.py)")
    return True
