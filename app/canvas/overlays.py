"""What the annotation canvas draws over the image besides the people (a mixin of
:class:`app.canvas.view.PoseView`): the heatmap overlay's setters and the status text drawn in
the view's foreground ("loading…", "✓ reviewed", a frame's decode error).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter


class OverlayMixin:
    """Heatmap overlay and foreground text of :class:`PoseView`."""

    def set_heatmap(self, heatmap: np.ndarray | None, heatmap_to_image: np.ndarray | None = None) -> None:
        self.heatmap_item.set_heatmap(heatmap, heatmap_to_image)

    def set_heatmap_lut(self, lut: np.ndarray) -> None:
        self.heatmap_item.set_lookup_table(lut)

    def set_heatmap_opacity(self, opacity: float) -> None:
        """The overlay reaches full strength at its peak whatever the slider; the slider sets how
        far below the peak the colour reaches (see HeatmapItem.set_strength)."""
        self.heatmap_item.setOpacity(1.0)
        self.heatmap_item.set_strength(opacity)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        frame = self.frame()
        if frame is None:
            return
        painter.save()
        painter.resetTransform()
        painter.setFont(self._status_font)
        lines = []
        error = self.unreadable.get(self.frame_index)
        if self.shown_index != self.frame_index:
            if error is not None:
                self._draw_unreadable(painter, error)
            else:
                lines.append(("loading…", QColor(255, 220, 120)))
        if getattr(frame, "reviewed", False):
            lines.append(("✓ reviewed", QColor(120, 230, 120)))
        y = 8
        for text, colour in lines:
            w = painter.fontMetrics().horizontalAdvance(text) + 12
            painter.fillRect(QRectF(8, y, w, 20), QColor(0, 0, 0, 170))
            painter.setPen(colour)
            painter.drawText(QRectF(14, y, w, 20), Qt.AlignmentFlag.AlignVCenter, text)
            y += 24
        painter.restore()

    def _draw_unreadable(self, painter: QPainter, message: str) -> None:
        """The decode error in the middle of the canvas, where the image would be."""
        vp = self.viewport().rect()
        box = QRectF(vp).adjusted(vp.width() * 0.1, vp.height() * 0.3, -vp.width() * 0.1, -vp.height() * 0.3)
        painter.fillRect(box, QColor(60, 20, 20, 220))
        painter.setPen(QColor(255, 120, 110))
        painter.drawRect(box)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.setPen(QColor(255, 200, 190))
        painter.drawText(box.adjusted(16, 12, -16, -12), int(flags),
                         f"⚠ This frame cannot be shown\n\n{message}")
