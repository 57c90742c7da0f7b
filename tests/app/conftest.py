"""GUI test set-up: the PySide6 work-arounds of app.qt_fixes, applied once as app.main does."""

from __future__ import annotations

from app import qt_fixes

qt_fixes.apply()
