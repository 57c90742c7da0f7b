"""GUI test set-up: the PySide6 work-arounds of app.qt_fixes, applied once as app.main does."""

from __future__ import annotations

from app import qt_fixes

qt_fixes.apply()


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_network_probe(monkeypatch):
    """The window asks whether the detector weights' server answers when they are not cached; tests
    never touch the network: the server is taken as unreachable unless a test says otherwise."""
    from app.controllers import detector_check

    monkeypatch.setattr(detector_check, "can_download", lambda timeout_s=3.0: False)
