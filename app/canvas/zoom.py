"""Zoom and pan of the annotation canvas (a mixin of :class:`app.canvas.view.PoseView`).

Wheel zoom about the cursor, fit / 1:1, auto-fit on resize until the user zooms or pans, and the
person items' render caches suspended while a zoom is under way. Everything here works on the
view's own state (``persons``, ``_fit_pending``, ``auto_fit``...), which ``PoseView.__init__`` sets.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView

MIN_SCALE, MAX_SCALE = 0.01, 64.0


class ZoomMixin:
    """Zoom, fit and the item caches of :class:`PoseView` (a QGraphicsView)."""

    def pixel_size(self) -> float:
        """Image pixels per screen pixel."""
        m = self.transform().m11()
        return 1.0 / m if m > 0 else 1.0

    def _suspend_item_caches(self) -> None:
        """While zooming, paint people directly: re-rendering 20 item caches per wheel step costs
        more than drawing them; the caches come back once the zoom has settled."""
        if not self._caches_suspended:
            self._caches_suspended = True
            for item in self.persons:
                item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        self._cache_timer.start()

    def _restore_item_caches(self) -> None:
        self._caches_suspended = False
        for item in self.persons:
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def _zoom_updated(self) -> None:
        ps = self.pixel_size()
        for item in self.persons:
            item.set_pixel_size(ps)
        self.zoom_changed.emit(1.0 / ps)

    def fit(self) -> None:
        self.auto_fit = True
        rect = self.image_rect()
        if rect.isEmpty():
            return
        if self.viewport().width() < 10 or self.viewport().height() < 10:
            return
        self.fitInView(rect.adjusted(-8, -8, 8, 8), Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_pending = False
        self._zoom_updated()

    def actual_size(self) -> None:
        self.auto_fit = False
        centre = self.mapToScene(self.viewport().rect().center())
        self.setTransform(QTransform())
        self.centerOn(centre)
        self._fit_pending = False
        self._zoom_updated()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.auto_fit = False
        self._suspend_item_caches()
        current = self.transform().m11()
        factor = float(np.clip(current * factor, MIN_SCALE, MAX_SCALE) / current)
        if anchor is not None:
            old = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            before = self.mapToScene(anchor.toPoint())
            self.scale(factor, factor)
            after = self.mapToScene(anchor.toPoint())
            delta = after - before
            self.translate(delta.x(), delta.y())
            self.setTransformationAnchor(old)
        else:
            self.scale(factor, factor)
        self._fit_pending = False
        self._zoom_updated()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015 ** delta, event.position())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_pending or self.auto_fit:
            self.fit()
