"""The annotation canvas: :class:`PoseView` (QGraphicsView) and its items."""

from app.canvas.view import PoseView

__all__ = ["PoseView"]
