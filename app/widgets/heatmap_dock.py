"""Heatmaps of the selected person: overlay controls + a pyqtgraph grid of every joint's heatmap.

The grid shows the model's raw output for each joint (one small image per joint, titled with the
joint name and its peak value, the decoded maximum marked with a cross); clicking a cell selects
that joint on the canvas. The controls choose what the canvas overlays (the selected joint, the
maximum over all joints, or nothing), the colour map and the opacity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from hrnet import split_side

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "turbo", "cividis")
OVERLAY_MODES = (("joint", "Selected joint"), ("max", "All joints (max)"), ("off", "Off"))
LABEL_POINT_SIZE = 7.5
LABEL_INSET_PX = 3.0
LABEL_Z = 10


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a pyqtgraph colour map (inferno when unknown)."""
    try:
        cmap = pg.colormap.get(name)
    except Exception:  # noqa: BLE001 - unknown name: fall back
        cmap = pg.colormap.get("inferno")
    return np.asarray(cmap.getLookupTable(0.0, 1.0, 256, alpha=False), dtype=np.uint8)


def short_joint_name(name: str) -> str:
    """'right_shoulder' -> 'R shoulder', 'paw_l' -> 'L paw' (hrnet's left/right rule): fits a grid
    tile at the default dock size."""
    found = split_side(name)
    if found is not None:
        before, marker, after = found
        rest = " ".join(w for w in re.split(r"[_\-\s.]+", before + " " + after) if w)
        return f"{marker[0].upper()} {rest}"
    return name.replace("_", " ")


class _Cell:
    """One tile of the grid: the joint's heatmap, its decoded peak and a label (short name + peak
    value) at the heatmap's top-left corner. The label is in screen pixels, a child of the tile's
    view box rather than of the heatmap's data space: it starts at the heatmap's left edge when the
    name fits from there, further left (down to the tile's edge) when it needs the room, and is
    elided with "…" only when even the whole tile is too narrow (the full name is in the tooltip).
    As a data item it started at the heatmap's edge whatever its length and the tile's edge cut its
    last letters off ("R shoulde")."""

    def __init__(self, layout: pg.GraphicsLayout, row: int, col: int, joint: int) -> None:
        self.joint = joint
        self.view = layout.addViewBox(row=row, col=col, lockAspect=True, enableMouse=False, invertY=True)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.peak = pg.ScatterPlotItem(size=9, symbol="+", pen=pg.mkPen("c", width=1.5), brush=None)
        self.view.addItem(self.peak)
        self.name = ""  # the short name the label shows when it fits
        self.value = ""
        self.label_background = QGraphicsRectItem(self.view)
        self.label_background.setPen(QPen(Qt.PenStyle.NoPen))
        self.label_background.setBrush(QColor(0, 0, 0, 120))
        self.label_background.setZValue(LABEL_Z)
        self.label = QGraphicsSimpleTextItem(self.view)
        font = QFont(self.label.font())
        font.setPointSizeF(LABEL_POINT_SIZE)
        self.label.setFont(font)
        self.label.setBrush(QColor("white"))
        self.label.setZValue(LABEL_Z + 1)
        self.view.sigResized.connect(lambda _view: self.fit_label())
        self.view.sigTransformChanged.connect(lambda _view: self.fit_label())  # the heatmap moved in the tile
        self.border = None

    def set_label(self, name: str, value: str) -> None:
        self.name, self.value = name, value
        self.fit_label()

    def label_lines(self) -> list[str]:
        """The label's lines as shown (the name elided to the tile's width)."""
        return self.label.text().splitlines()

    def fit_label(self) -> None:
        if not self.name and not self.value:
            self.label.setText("")
            self.label_background.setVisible(False)
            return
        tile = self.view.boundingRect()
        # the heatmap's top-left corner in the tile (aspect locked: it is centred in the tile)
        corner = self.view.mapFromView(QPointF(0.0, 0.0)) if self.image.image is not None else tile.topLeft()
        left = min(max(corner.x(), tile.left()), tile.right())
        metrics = QFontMetricsF(self.label.font())
        room = max(0.0, tile.width() - 2 * LABEL_INSET_PX)
        name = metrics.elidedText(self.name, Qt.TextElideMode.ElideRight, room)
        text = f"{name}\n{self.value}" if self.value else name
        self.label.setText(text)
        width = self.label.boundingRect().width()
        x = min(left + LABEL_INSET_PX, tile.right() - LABEL_INSET_PX - width)  # move left only as far as needed
        y = min(max(corner.y(), tile.top()), tile.bottom()) + 1
        self.label.setPos(max(tile.left() + LABEL_INSET_PX, x), y)
        rect = self.label.mapRectToParent(self.label.boundingRect())
        self.label_background.setRect(rect.adjusted(-LABEL_INSET_PX + 1, -1, 2, 0))
        self.label_background.setVisible(True)


class HeatmapDockWidget(QWidget):
    """Overlay controls and the per-joint heatmap grid for one person."""

    joint_clicked = Signal(int)
    overlay_mode_changed = Signal(str)  # 'joint' | 'max' | 'off'
    colormap_changed = Signal(str)
    opacity_changed = Signal(float)

    def __init__(self, colormap: str = "inferno", opacity: float = 0.6, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._cells: list[_Cell] = []
        self.heatmaps: np.ndarray | None = None
        self.selected_joint: int | None = None

        self.mode_combo = QComboBox()
        for key, text in OVERLAY_MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.setToolTip("What the canvas overlays for the selected person (H toggles)")
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(COLORMAPS)
        if colormap in COLORMAPS:
            self.cmap_combo.setCurrentText(colormap)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(round(opacity * 100)))
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.setMaximumWidth(110)

        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        controls.addWidget(QLabel("Overlay"))
        controls.addWidget(self.mode_combo)
        controls.addWidget(self.cmap_combo)
        controls.addWidget(QLabel("Opacity"))
        controls.addWidget(self.opacity_slider)
        controls.addStretch(1)

        self.message = QLabel("Select a person to see the model's heatmaps.")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #aaa; padding: 4px;")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#1e1e22")
        self.graphics.ci.setSpacing(2)
        self.graphics.scene().sigMouseClicked.connect(self._on_scene_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addWidget(self.graphics, 1)

        self.mode_combo.currentIndexChanged.connect(lambda _: self.overlay_mode_changed.emit(self.overlay_mode()))
        self.cmap_combo.currentTextChanged.connect(self._on_cmap)
        self.opacity_slider.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))

    # -- controls ----------------------------------------------------------------------------
    def overlay_mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_overlay_mode(self, mode: str) -> None:
        i = self.mode_combo.findData(mode)
        if i >= 0:
            self.mode_combo.setCurrentIndex(i)

    def colormap(self) -> str:
        return self.cmap_combo.currentText()

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def _on_cmap(self, name: str) -> None:
        lut = colormap_lut(name)
        for cell in self._cells:
            cell.image.setLookupTable(lut)
        self.colormap_changed.emit(name)

    # -- content -----------------------------------------------------------------------------
    def set_joint_names(self, names: Sequence[str]) -> None:
        """Joint names of the grid; the cells are built on first use (pyqtgraph view boxes are slow to make)."""
        names = list(names)
        if names == self._names:
            return
        self._names = names
        self.graphics.ci.clear()
        self._cells = []

    def _build_cells(self) -> None:
        names = self._names
        k = len(names)
        if k == 0:
            return
        # A near-square grid (17 joints: 5 x 4): at the default dock size (~380 x 400 px) a tile is
        # ~70 x 95 px, room for the short name; 3 rows of 6 made 60 px tiles that cut names off.
        cols = max(1, math.ceil(math.sqrt(k)))
        lut = colormap_lut(self.colormap())
        for j in range(k):
            cell = _Cell(self.graphics.ci, j // cols, j % cols, j)
            cell.image.setLookupTable(lut)
            self._cells.append(cell)

    def set_heatmaps(self, heatmaps: np.ndarray | None, selected_joint: int | None = None, message: str = "") -> None:
        """Show (K, h, w) heatmaps (None clears, with ``message`` explaining why)."""
        self.heatmaps = None if heatmaps is None else np.asarray(heatmaps, dtype=np.float32)
        self.selected_joint = selected_joint
        if self.heatmaps is None:
            self.message.setText(message or "Select a person to see the model's heatmaps.")
            self.message.setVisible(True)
            for cell in self._cells:
                cell.image.clear()
                cell.peak.setData([], [])
                cell.set_label("", "")
                cell.view.setBorder(None)
            return
        self.message.setVisible(bool(message))
        self.message.setText(message)
        if not self._cells:
            self._build_cells()
        for cell in self._cells:
            j = cell.joint
            if j >= len(self.heatmaps):
                continue
            hm = self.heatmaps[j]
            cell.image.setImage(hm, levels=(0.0, max(float(hm.max()), 1e-6)), autoLevels=False)  # own peak
            iy, ix = np.unravel_index(int(np.argmax(hm)), hm.shape)
            cell.peak.setData([ix + 0.5], [iy + 0.5])
            cell.set_label(short_joint_name(self._names[j]), f"{float(hm.max()):.2f}")
            cell.view.setToolTip(f"{self._names[j]}: peak {float(hm.max()):.3f} (click selects the joint)")
            cell.view.setRange(xRange=(0, hm.shape[1]), yRange=(0, hm.shape[0]), padding=0)
            cell.view.setBorder(pg.mkPen("c", width=2) if j == selected_joint else None)

    def set_selected_joint(self, joint: int | None) -> None:
        self.selected_joint = joint
        for cell in self._cells:
            cell.view.setBorder(pg.mkPen("c", width=2) if joint == cell.joint and self.heatmaps is not None else None)

    def _on_scene_clicked(self, event) -> None:
        pos = event.scenePos()
        for cell in self._cells:
            if cell.view.sceneBoundingRect().contains(pos):
                self.joint_clicked.emit(cell.joint)
                return
