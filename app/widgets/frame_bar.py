"""The bar under the canvas: frame number, total, slider and the frame's file name."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget


class FrameBar(QWidget):
    frame_requested = Signal(int)  # 0-based frame the user chose (slider or number)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Frame (N/P or arrow keys step, Shift+arrow jumps 10)")
        self.spin = QSpinBox()
        self.spin.setRange(1, 1)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("Go to frame (Ctrl+G)")
        self.total = QLabel("/ 0")
        self.name = QLabel("")
        self.name.setStyleSheet("color: #aaa;")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.spin)
        bar.addWidget(self.total)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.name)
        self.slider.valueChanged.connect(self.frame_requested)
        self.spin.valueChanged.connect(lambda v: self.frame_requested.emit(v - 1))

    def _quietly(self, fn) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        try:
            fn()
        finally:
            for w in (self.slider, self.spin):
                w.blockSignals(False)

    def set_count(self, n: int) -> None:
        def apply() -> None:
            self.slider.setRange(0, max(0, n - 1))
            self.spin.setRange(1, max(1, n))
        self._quietly(apply)
        self.total.setText(f"/ {n}")

    def set_current(self, index: int, name: str | None = None) -> None:
        def apply() -> None:
            self.slider.setValue(index)
            self.spin.setValue(index + 1)
        self._quietly(apply)
        if name is not None:
            self.name.setText(name)

    def focus_number(self) -> None:
        self.spin.setFocus()
        self.spin.selectAll()
