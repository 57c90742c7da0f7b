"""What is under the mouse on the annotation canvas (a mixin of :class:`app.canvas.view.PoseView`).

Hit testing (the joint, box handle or person at a view position, in screen-pixel tolerances
whatever the zoom) and the hover feedback it drives: the highlighted joint, the label next to it,
the cursor shape and the status-bar text (``hover_changed``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

JOINT_HIT_PX = 10.0
HANDLE_HIT_PX = 8.0


class PickingMixin:
    """Hit testing and hover feedback of :class:`PoseView`."""

    def joint_at(self, pos: QPoint | QPointF, tolerance_px: float = JOINT_HIT_PX) -> tuple[int, int] | None:
        """(person, joint) of the labelled joint nearest to view position ``pos`` within tolerance."""
        if not self.annotations_visible:
            return None
        p = self.mapToScene(QPointF(pos).toPoint())
        ps = self.pixel_size()
        best, best_score = None, np.inf
        for i, item in enumerate(self.persons):
            kp = item.keypoints
            if len(kp) == 0:
                continue
            d = np.hypot(kp[:, 0] - p.x(), kp[:, 1] - p.y()) / ps
            d[kp[:, 2] <= 0] = np.inf
            j = int(np.argmin(d))
            if d[j] > tolerance_px:
                continue
            score = d[j] - (3.0 if i == self.selected_person else 0.0)  # the selected person wins near-ties
            if score < best_score:
                best, best_score = (i, j), score
        return best

    def handle_at(self, pos: QPoint | QPointF) -> str | None:
        if self.selected_person is None or not self.annotations_visible:
            return None
        p = self.mapToScene(QPointF(pos).toPoint())
        ps = self.pixel_size()
        for name, (hx, hy) in self.persons[self.selected_person].handle_positions().items():
            if max(abs(hx - p.x()), abs(hy - p.y())) / ps <= HANDLE_HIT_PX:
                return name
        return None

    def person_at(self, pos: QPoint | QPointF) -> int | None:
        """The person whose "#n" tag or box contains ``pos`` (the smallest box), else the one of a
        nearby joint."""
        if not self.annotations_visible:
            return None
        p = self.mapToScene(QPointF(pos).toPoint())
        for i in reversed(range(len(self.persons))):  # a person's "#3" tag (above the box) names them
            tag = self.persons[i].tag_rect()
            if tag is not None and tag.contains(p):
                return i
        best, best_area = None, np.inf
        for i, item in enumerate(self.persons):
            rect = item.extent()
            if rect is not None and rect.adjusted(-2, -2, 2, 2).contains(p):
                area = rect.width() * rect.height()
                if area < best_area:
                    best, best_area = i, area
        if best is None:
            hit = self.joint_at(pos, tolerance_px=2 * JOINT_HIT_PX)
            best = None if hit is None else hit[0]
        return best

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def _update_hover(self, pos: QPointF) -> None:
        if self.mode == "place":
            j = self.placement_joint()
            if j is not None:
                p = self.mapToScene(pos.toPoint())
                self.hover_label.setText(f"place {self._names[j]}")
                self._place_hover_label(p.x(), p.y())
                self.hover_label.setVisible(True)
            return
        hit = self.joint_at(pos)
        self._set_hover(hit)
        if hit is None:
            handle = self.handle_at(pos)
            if handle in ("tl", "br"):
                self.viewport().setCursor(Qt.CursorShape.SizeFDiagCursor)
            elif handle in ("tr", "bl"):
                self.viewport().setCursor(Qt.CursorShape.SizeBDiagCursor)
            elif handle in ("l", "r"):
                self.viewport().setCursor(Qt.CursorShape.SizeHorCursor)
            elif handle in ("t", "b"):
                self.viewport().setCursor(Qt.CursorShape.SizeVerCursor)
            elif self.mode == "edit":
                self.viewport().unsetCursor()
        elif self.mode == "edit":
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)

    def _set_hover(self, hit: tuple[int, int] | None) -> None:
        if hit == self._hover:
            return
        if self._hover is not None and self._hover[0] < len(self.persons):
            self.persons[self._hover[0]].set_hovered_joint(None)
        self._hover = hit
        if hit is None:
            self.hover_label.setVisible(False)
            self.hover_changed.emit("")
            return
        self.persons[hit[0]].set_hovered_joint(hit[1])
        self._show_hover_label(*hit)

    def joint_description(self, person: int, joint: int) -> str:
        item = self.persons[person]
        conf = item.joint_confidence(joint)
        vis = int(item.keypoints[joint, 2])
        state = {2: "visible", 1: "occluded", 0: "not labelled"}.get(vis, str(vis))
        source = "by hand" if item.edited[joint] else ("predicted" if item.scores is not None else "imported")
        conf_text = f"conf {conf:.2f}" if conf is not None else source
        return f"#{person + 1} {self._names[joint]} — {conf_text}, {state}"

    def _show_hover_label(self, person: int, joint: int) -> None:
        item = self.persons[person]
        self.hover_label.setText(self.joint_description(person, joint))
        self._place_hover_label(float(item.keypoints[joint, 0]), float(item.keypoints[joint, 1]))
        self.hover_label.setVisible(True)
        self.hover_changed.emit(self.joint_description(person, joint))

    def _place_hover_label(self, x: float, y: float) -> None:
        """The hover label below-right of the point (x, y); left of it or above it where it would
        leave the visible part of the view (a joint near the view's right edge cut it off)."""
        ps = self.pixel_size()
        size = self.hover_label.boundingRect()  # screen pixels: the label ignores the zoom
        w, h = (size.width() + 8) * ps, (size.height() + 4) * ps  # with its backing's margins
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        px, py = x + 10 * ps, y + 8 * ps
        if px + w > visible.right():
            px = x - 10 * ps - w
        if py + h > visible.bottom():
            py = y - 8 * ps - h
        self.hover_label.setPos(QPointF(max(px, visible.left() + 4 * ps), max(py, visible.top() + 2 * ps)))
