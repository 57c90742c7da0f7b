"""Persistent user preferences (QSettings): recent files, last folders, model, display options.

Everything the app remembers between runs goes through :class:`AppSettings`, so tests can point
it at a throw-away INI file (``AppSettings(path=tmp_path / "settings.ini")``) and never touch the
user's real settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "hrnet-pose"
APPLICATION = "HRNet Pose Annotator"
MAX_RECENT = 12


class AppSettings:
    """Typed accessors over one QSettings store."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        else:
            self._qs = QSettings(os.fspath(path), QSettings.Format.IniFormat)

    @property
    def file_name(self) -> str:
        return self._qs.fileName()

    def sync(self) -> None:
        self._qs.sync()

    # -- generic -----------------------------------------------------------------------------
    def value(self, key: str, default: Any = None, type_: type | None = None) -> Any:
        raw = self._qs.value(key, default)
        if raw is None or type_ is None:
            return raw
        try:
            if type_ is bool:
                if isinstance(raw, str):
                    return raw.strip().lower() in ("1", "true", "yes", "on")
                return bool(raw)
            return type_(raw)
        except (TypeError, ValueError):
            return default

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)

    # -- recent files ------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        raw = self._qs.value("recent/files", [])
        if isinstance(raw, str):
            raw = [raw]
        return [str(p) for p in (raw or []) if p]

    def add_recent_file(self, path: str | os.PathLike[str]) -> None:
        p = str(Path(path).resolve())
        items = [x for x in self.recent_files() if x != p]
        items.insert(0, p)
        self._qs.setValue("recent/files", items[:MAX_RECENT])

    def remove_recent_file(self, path: str) -> None:
        self._qs.setValue("recent/files", [x for x in self.recent_files() if x != path])

    def clear_recent_files(self) -> None:
        self._qs.setValue("recent/files", [])

    # -- folders -----------------------------------------------------------------------------
    def last_dir(self) -> str:
        d = str(self._qs.value("paths/last_dir", "") or "")
        return d if d and Path(d).is_dir() else str(Path.home())

    def set_last_dir(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        self._qs.setValue("paths/last_dir", str(p if p.is_dir() else p.parent))

    # -- window ------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._qs.value("window/geometry"), self._qs.value("window/state")

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    # -- display -----------------------------------------------------------------------------
    def confidence_threshold(self) -> float:
        return float(self.value("display/confidence_threshold", 0.3, float))

    def set_confidence_threshold(self, value: float) -> None:
        self._qs.setValue("display/confidence_threshold", float(value))

    def heatmap_colormap(self) -> str:
        return str(self.value("display/heatmap_colormap", "inferno"))

    def set_heatmap_colormap(self, name: str) -> None:
        self._qs.setValue("display/heatmap_colormap", name)

    def heatmap_opacity(self) -> float:
        return float(self.value("display/heatmap_opacity", 0.6, float))

    def set_heatmap_opacity(self, value: float) -> None:
        self._qs.setValue("display/heatmap_opacity", float(value))

    # -- model -------------------------------------------------------------------------------
    def model_spec(self) -> dict[str, Any] | None:
        experiment = self.value("model/experiment", "")
        if not experiment:
            return None
        return {
            "experiment": str(experiment),
            "weights": self.value("model/weights", "") or None,
            "device": str(self.value("model/device", "auto")),
            "precision": self.speed(),
        }

    def set_model_spec(self, experiment: str, weights: str | None, device: str,
                       precision: str | None = None) -> None:
        self._qs.setValue("model/experiment", experiment)
        self._qs.setValue("model/weights", weights or "")
        self._qs.setValue("model/device", device)
        if precision is not None:
            self.set_speed(precision)

    def speed(self) -> str:
        """The model panel's speed choice: ``fp32`` (standard) or ``int8`` (fast, CPU)."""
        value = str(self.value("model/precision", "fp32"))
        return value if value in ("fp32", "int8") else "fp32"

    def set_speed(self, precision: str) -> None:
        self._qs.setValue("model/precision", precision)

    def detector(self) -> str:
        return str(self.value("model/detector", "fasterrcnn"))

    def set_detector(self, name: str) -> None:
        self._qs.setValue("model/detector", name)
