"""The skeleton editor's picture: the joints of a :class:`~app.keypoint_set_editor.KeypointSetDraft`
laid out as a figure, edited with the mouse.

- **Click** a joint: select it (the dialog selects its table row, where it can be renamed).
- **Click another joint** while one is selected: connect the two, or disconnect them when they
  are connected; the clicked joint becomes the selected one, so a chain (a finger, a leg) is drawn
  with one click per joint. Click the selected joint again, or empty space, to stop.
- **Shift+click** another joint: make the two a left/right pair.
- **Drag** a joint: move it in the picture (the layout is kept with the set).
- **Double-click** a joint: rename it (the dialog edits its name in the table).

Joints and edges are coloured by side as on the canvas (left warm, right cool, centre green);
left/right partners are joined by a dotted line. The widget only edits the draft and says so
(``edited``); the dialog refreshes everything else.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.keypoint_set_editor import KeypointSetDraft
from hrnet import side_of

__all__ = ["SkeletonPictureWidget"]

_SIDE_COLOURS = {"left": QColor("#ff8c1a"), "right": QColor("#1a8cff"), "centre": QColor("#33cc33")}
_RADIUS = 7.0
_HIT = 11.0  # px: a press this close to a joint hits it
_DRAG_START = 4.0  # px of movement before a press becomes a drag
_MARGIN = 18.0


class SkeletonPictureWidget(QWidget):
    """Signals: ``joint_selected(row)`` (-1: none), ``rename_requested(row)``, ``edited()``."""

    joint_selected = Signal(int)
    rename_requested = Signal(int)
    edited = Signal()

    def __init__(self, draft: KeypointSetDraft, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self.selected: int | None = None
        self.hovered: int | None = None
        self._press: tuple[int, QPointF] | None = None  # (row, press position) of a press on a joint
        self._dragging = False
        self._after_double_click = False
        self.setMouseTracking(True)
        self.setMinimumSize(260, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Click a joint to select it, then click another to connect or disconnect the two "
                        "(Shift+click: a left/right pair). Drag a joint to move it; double-click to rename it.")

    def sizeHint(self) -> QSize:
        return QSize(360, 400)

    # -- geometry ------------------------------------------------------------------------------
    def _frame(self) -> QRectF:
        side = max(10.0, min(self.width(), self.height()) - 2 * _MARGIN)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def joint_pos(self, row: int) -> QPointF:
        """Widget position of joint ``row``."""
        f = self._frame()
        x, y = self.draft.joints[row].pos
        return QPointF(f.left() + x * f.width(), f.top() + y * f.height())

    def _to_layout(self, p: QPointF) -> tuple[float, float]:
        f = self._frame()
        return (p.x() - f.left()) / f.width(), (p.y() - f.top()) / f.height()

    def joint_at(self, p: QPointF) -> int | None:
        """The joint under widget position ``p`` (the nearest within reach), or None."""
        best, best_d = None, _HIT
        for row in range(len(self.draft)):
            q = self.joint_pos(row)
            d = math.hypot(q.x() - p.x(), q.y() - p.y())
            if d <= best_d:
                best, best_d = row, d
        return best

    def sides(self) -> list[str]:
        """left/right/centre per joint: partners by the draft's pairs (the one whose name says
        right is right, else the second of the pair), every other joint centre."""
        out = ["centre"] * len(self.draft)
        names = self.draft.names()
        for a, b in self.draft.pair_rows():
            if side_of(names[a]) == "right" or side_of(names[b]) == "left":
                a, b = b, a
            out[a], out[b] = "left", "right"
        return out

    # -- selection -----------------------------------------------------------------------------
    def set_selected(self, row: int | None) -> None:
        """Select a joint without telling anyone (the dialog's table selection calls this)."""
        row = row if row is not None and 0 <= row < len(self.draft) else None
        if row != self.selected:
            self.selected = row
            self.update()

    def _select(self, row: int | None) -> None:
        self.set_selected(row)
        self.joint_selected.emit(-1 if self.selected is None else self.selected)

    # -- mouse ---------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        row = self.joint_at(event.position())
        self._press = (row, event.position()) if row is not None else None
        self._dragging = False
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            row, start = self._press
            if not self._dragging and math.hypot(event.position().x() - start.x(),
                                                 event.position().y() - start.y()) >= _DRAG_START:
                self._dragging = True
            if self._dragging:
                self.draft.set_position(row, *self._to_layout(event.position()))
                self.update()
            return
        hovered = self.joint_at(event.position())
        if hovered != self.hovered:
            self.hovered = hovered
            names = self.draft.names()
            self.setCursor(Qt.CursorShape.PointingHandCursor if hovered is not None else Qt.CursorShape.ArrowCursor)
            self.setStatusTip(names[hovered] if hovered is not None else "")
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mouseReleaseEvent(event)
        press, dragging = self._press, self._dragging
        self._press, self._dragging = None, False
        if self._after_double_click:
            self._after_double_click = False
            return
        if dragging and press is not None:
            self._select(press[0])
            self.edited.emit()
            return
        row = self.joint_at(event.position())
        if press is None or row is None or row != press[0]:
            self._select(None)  # a click on empty space stops the chain
            return
        self.click_joint(row, bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        row = self.joint_at(event.position())
        if row is not None and event.button() == Qt.MouseButton.LeftButton:
            self._after_double_click = True
            self._select(row)
            self.rename_requested.emit(row)
            return
        super().mouseDoubleClickEvent(event)

    def click_joint(self, row: int, shift: bool = False) -> None:
        """What a click on joint ``row`` does (see the module doc)."""
        first = self.selected
        if first is None or first == row:
            self._select(None if first == row else row)
            return
        if shift:
            self.draft.set_pair(first, row)
        else:
            self.draft.toggle_edge(first, row)
        self._select(row)
        self.edited.emit()

    def leaveEvent(self, event) -> None:  # Qt's QEvent
        self.hovered = None
        self.update()
        super().leaveEvent(event)

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#202428"))
        frame = self._frame()
        p.setPen(QPen(QColor("#3a4048"), 1, Qt.PenStyle.DashLine))
        p.drawRect(frame)
        d = self.draft
        if not len(d):
            p.setPen(QColor("#c0c0c0"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No joints: press “Add joint”")
            return
        sides = self.sides()
        pts = [self.joint_pos(r) for r in range(len(d))]
        for a, b in d.pair_rows():  # left/right partners: a dotted grey line
            p.setPen(QPen(QColor("#8a8f98"), 1, Qt.PenStyle.DotLine))
            p.drawLine(pts[a], pts[b])
        for a, b in d.edge_rows():
            pair = {sides[a], sides[b]}
            side = ("left" if "left" in pair and "right" not in pair else
                    "right" if "right" in pair and "left" not in pair else "centre")
            p.setPen(QPen(_SIDE_COLOURS[side], 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawLine(pts[a], pts[b])
        if self.selected is not None and self.hovered is not None and self.hovered != self.selected:
            p.setPen(QPen(QColor("#ffffff"), 1, Qt.PenStyle.DashLine))  # the edge a click would toggle
            p.drawLine(pts[self.selected], pts[self.hovered])
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        for r, joint in enumerate(d.joints):
            c = pts[r]
            ring = QColor("#ffffff") if r == self.selected else QColor("#101010")
            p.setPen(QPen(ring, 3 if r == self.selected else 1))
            p.setBrush(_SIDE_COLOURS[sides[r]].lighter(130) if r == self.hovered else _SIDE_COLOURS[sides[r]])
            p.drawEllipse(c, _RADIUS, _RADIUS)
            p.setPen(QColor("#ffffff") if r == self.selected else QColor("#d8d8d8"))
            p.drawText(QPointF(c.x() + _RADIUS + 3, c.y() - 3), joint.name)
        p.end()
