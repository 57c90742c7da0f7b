"""The heatmap grid's tile labels: the short joint name and the peak, whole at the default dock
size, elided with "…" (full name in the tooltip) when the dock is narrower, never cut off."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFontMetricsF

from app.widgets.heatmap_dock import LABEL_INSET_PX, HeatmapDockWidget, short_joint_name
from hrnet.keypoints import COCO_KEYPOINTS as COCO_KEYPOINT_NAMES


def _heatmaps(k: int) -> np.ndarray:
    yy, xx = np.mgrid[0:64, 0:48]
    return np.stack([np.exp(-((xx - 10 - j) ** 2 + (yy - 20) ** 2) / 18.0) * (0.3 + j / 40)
                     for j in range(k)]).astype(np.float32)


def _grid(qtbot, width: int, height: int = 470, names=COCO_KEYPOINT_NAMES) -> HeatmapDockWidget:
    panel = HeatmapDockWidget()
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_joint_names(names)
    panel.set_heatmaps(_heatmaps(len(names)))
    qtbot.wait(50)
    return panel


def _shown_whole(cell) -> bool:
    return cell.view.sceneBoundingRect().contains(cell.label.sceneBoundingRect())


@pytest.mark.parametrize("width", [380, 336])  # the default dock width, and the panel's narrowest
def test_every_coco_name_fits_its_tile(qtbot, width):
    panel = _grid(qtbot, width)
    assert panel.width() == width
    for cell, name in zip(panel._cells, COCO_KEYPOINT_NAMES):
        name_shown, value = cell.label_lines()
        assert name_shown == short_joint_name(name), (width, name_shown)
        assert value == f"{panel.heatmaps[cell.joint].max():.2f}"
        assert _shown_whole(cell)
        assert name in cell.view.toolTip()
    # a short name sits on the heatmap's own top-left corner (the tile is wider than the heatmap)
    nose = panel._cells[0]
    corner = nose.view.mapFromView(QPointF(0, 0))
    assert nose.label.pos().x() == pytest.approx(corner.x() + LABEL_INSET_PX, abs=0.5)
    assert nose.label.pos().y() == pytest.approx(max(corner.y(), 0) + 1, abs=0.5)


def test_a_name_too_long_for_its_tile_is_elided_not_cut(qtbot):
    names = list(COCO_KEYPOINT_NAMES)
    names[6] = "right_front_shoulder_blade"  # a custom keypoint set's long name
    panel = _grid(qtbot, 380, names=names)
    cell = panel._cells[6]
    short = short_joint_name(names[6])
    shown = cell.label_lines()[0]
    assert shown != short and shown.endswith("…") and short.startswith(shown[:-1]), shown
    width = QFontMetricsF(cell.label.font()).horizontalAdvance(shown)
    assert width <= cell.view.width()
    assert _shown_whole(cell) and names[6] in cell.view.toolTip()
    # a wider dock shows more of it
    panel.resize(900, 470)
    qtbot.waitUntil(lambda: len(cell.label_lines()[0]) > len(shown), timeout=3000)
    assert _shown_whole(cell)
    # cleared: no stale labels
    panel.set_heatmaps(None)
    assert cell.label.text() == "" and not cell.label_background.isVisible()
