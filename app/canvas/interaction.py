"""Editing on the annotation canvas (a mixin of :class:`app.canvas.view.PoseView`).

The modes ("edit", "box": drag a new person's box, "place": click joints in turn), the mouse
(drag a joint, move or resize a box, pan, double-click to zoom on a person), the keys (Esc,
Space, Enter) and the context menu. Every edit is pushed to the document as a command; a drag
pushes commands with one drag id, which the undo stack merges into one step, and Esc during a
drag undoes that step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QPen
from PySide6.QtWidgets import QApplication, QMenu

from app import commands as C
from app.canvas import style
from app.canvas.items import HANDLES

MIN_BOX_PX = 4.0


class InteractionMixin:
    """Modes, mouse, keys and the context menu of :class:`PoseView`."""

    def start_box_mode(self) -> None:
        self.end_mode()
        self.mode = "box"
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.placement_changed.emit("Drag a box around the person (Esc cancels)")

    def start_placement(self, person: int, joints: Sequence[int]) -> None:
        """Click-to-place ``joints`` of ``person`` one after another."""
        self.end_mode()
        if not joints or not 0 <= person < len(self.persons):
            return
        self.mode = "place"
        self._place_person = person
        self._place_queue = [int(j) for j in joints]
        self.select(person, None)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self._prompt_placement()

    def placement_joint(self) -> int | None:
        return self._place_queue[0] if self.mode == "place" and self._place_queue else None

    def skip_placement_joint(self) -> None:
        if self.mode == "place" and self._place_queue:
            self._place_queue.pop(0)
            if not self._place_queue:
                self.end_mode()
            else:
                self._prompt_placement()

    def _prompt_placement(self) -> None:
        j = self._place_queue[0]
        left = len(self._place_queue)
        self.placement_changed.emit(
            f"Click to place {self._names[j]} of person #{self._place_person + 1} "
            f"({left} left) — Space skips, Esc finishes")

    def end_mode(self) -> None:
        was = self.mode
        self.mode = "edit"
        self._place_queue = []
        self._place_person = None
        self.draft_item.setVisible(False)
        self.viewport().unsetCursor()
        if was != "edit":
            self.placement_changed.emit("")

    # ------------------------------------------------------------------ mouse
    def _clamp_to_image(self, p: QPointF) -> tuple[float, float]:
        if self._image_size is None:
            return p.x(), p.y()
        w, h = self._image_size
        return float(np.clip(p.x(), 0, w - 1e-3)), float(np.clip(p.y(), 0, h - 1e-3))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ControlModifier
                and self.mode == "edit"):
            self._drag = {"kind": "pan", "last": pos}
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.RightButton:
            hit = self.joint_at(pos)
            if hit is not None:
                self.select(*hit)
            else:
                person = self.person_at(pos)
                if person is not None and person != self.selected_person:
                    self.select(person)
            event.accept()
            return  # the context menu follows (contextMenuEvent)
        if button != Qt.MouseButton.LeftButton or self.document is None or self.frame() is None:
            super().mousePressEvent(event)
            return
        scene_pos = self.mapToScene(pos.toPoint())
        if self.mode == "box":
            x, y = self._clamp_to_image(scene_pos)
            self._drag = {"kind": "draw_box", "start": QPointF(x, y)}
            self.draft_item.setRect(QRectF(x, y, 0, 0))
            self.draft_item.setPen(QPen(style.SELECTION_COLOUR, 2 * self.pixel_size(), Qt.PenStyle.DashLine))
            self.draft_item.setVisible(True)
            event.accept()
            return
        if self.mode == "place":
            joint = self.placement_joint()
            if joint is not None and self._place_person is not None:
                x, y = self._clamp_to_image(scene_pos)
                self.document.push(C.PlaceKeypoint(self.document, self.frame_index, self._place_person, joint,
                                                   (x, y)))
                self.skip_placement_joint()
            event.accept()
            return
        hit = self.joint_at(pos)
        if hit is not None:
            p, j = hit
            self.select(p, j)
            item = self.persons[p]
            self._drag = {"kind": "joint", "person": p, "joint": j, "press": pos, "moved": False,
                          "id": C.new_drag_id(), "undo_index": self.document.undo_stack.index(),
                          "origin": (float(item.keypoints[j, 0]), float(item.keypoints[j, 1])),
                          "offset": (float(item.keypoints[j, 0]) - scene_pos.x(),
                                     float(item.keypoints[j, 1]) - scene_pos.y())}
            event.accept()
            return
        handle = self.handle_at(pos)
        if handle is not None:
            self._drag = {"kind": "resize", "person": self.selected_person, "handle": handle, "press": pos,
                          "id": C.new_drag_id(), "undo_index": self.document.undo_stack.index(),
                          "moved": False, "box": self.persons[self.selected_person].bbox.copy(), "start": scene_pos}
            event.accept()
            return
        person = self.person_at(pos)
        if person is not None:
            self.select(person, None)
            box = self.persons[person].bbox
            if box is not None:
                self._drag = {"kind": "move_box", "person": person, "press": pos, "moved": False,
                              "id": C.new_drag_id(), "undo_index": self.document.undo_stack.index(),
                              "box": box.copy(), "start": scene_pos}
            event.accept()
            return
        self.clear_selection()
        self._drag = {"kind": "pan", "last": pos}
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        drag = self._drag
        if drag is None:
            self._update_hover(pos)
            super().mouseMoveEvent(event)
            return
        kind = drag["kind"]
        if kind == "pan":
            self.auto_fit = False
            delta = pos - drag["last"]
            drag["last"] = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(round(delta.x())))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(round(delta.y())))
            event.accept()
            return
        scene_pos = self.mapToScene(pos.toPoint())
        if kind == "draw_box":
            x, y = self._clamp_to_image(scene_pos)
            self.draft_item.setRect(QRectF(drag["start"], QPointF(x, y)).normalized())
            event.accept()
            return
        if not drag["moved"]:
            if (pos - drag["press"]).manhattanLength() < QApplication.startDragDistance():
                return
            drag["moved"] = True
        item = self.persons[drag["person"]] if drag["person"] < len(self.persons) else None
        if item is None:
            self._drag = None
            return
        # Every move pushes a command with the drag's id: the stack merges them into ONE undo step,
        # and the document (not the item) stays the single source of truth during the drag.
        if kind == "joint":
            x, y = self._clamp_to_image(QPointF(scene_pos.x() + drag["offset"][0], scene_pos.y() + drag["offset"][1]))
            self.document.push(C.MoveKeypoint(self.document, self.frame_index, drag["person"], drag["joint"],
                                              (x, y), drag_id=drag["id"]))
            if drag["person"] < len(self.persons):
                self._show_hover_label(drag["person"], drag["joint"])
        elif kind in ("move_box", "resize"):
            self.document.push(C.SetBox(self.document, self.frame_index, drag["person"],
                                        self._dragged_box(drag, scene_pos), drag_id=drag["id"]))
        event.accept()

    def _dragged_box(self, drag: dict, scene_pos: QPointF) -> np.ndarray:
        x, y, w, h = drag["box"]
        dx, dy = scene_pos.x() - drag["start"].x(), scene_pos.y() - drag["start"].y()
        if drag["kind"] == "move_box":
            return np.array([x + dx, y + dy, w, h])
        x0, y0, x1, y1 = x, y, x + w, y + h
        fx, fy = HANDLES[drag["handle"]]
        if fx == 0.0:
            x0 += dx
        elif fx == 1.0:
            x1 += dx
        if fy == 0.0:
            y0 += dy
        elif fy == 1.0:
            y1 += dy
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        return np.array([x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            super().mouseReleaseEvent(event)
            return
        kind = drag["kind"]
        event.accept()
        if kind == "pan":
            self.viewport().setCursor(Qt.CursorShape.CrossCursor if self.mode != "edit" else Qt.CursorShape.ArrowCursor)
            if self.mode == "edit":
                self.viewport().unsetCursor()
            return
        if kind == "draw_box":
            rect = self.draft_item.rect()
            self.draft_item.setVisible(False)
            ps = self.pixel_size()
            self.end_mode()
            if rect.width() / ps >= MIN_BOX_PX and rect.height() / ps >= MIN_BOX_PX:
                xyxy = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float64)
                self.box_drawn.emit(self.frame_index, xyxy)
            return
        if kind in ("joint", "move_box", "resize") and drag["moved"]:
            self._update_hover(event.position())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.mode == "edit" and event.button() == Qt.MouseButton.LeftButton:
            person = self.person_at(event.position())
            if person is not None:
                self.select(person, self.selected_joint if person == self.selected_person else None)
                rect = self.persons[person].extent()
                if rect is not None and not rect.isEmpty():
                    self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
                    self._fit_pending = False
                    self.auto_fit = False
                    self._zoom_updated()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ------------------------------------------------------------------ keys / menu
    def cancel(self) -> None:
        """Esc: abort a drag, else leave box/placement mode, else deselect."""
        if self._drag is not None:
            self._cancel_drag()
        elif self.mode != "edit":
            self.end_mode()
        else:
            self.clear_selection()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.cancel()
            event.accept()
            return
        if self.mode == "place" and key == Qt.Key.Key_Space:
            self.skip_placement_joint()
            event.accept()
            return
        if self.mode == "place" and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.end_mode()
            event.accept()
            return
        super().keyPressEvent(event)

    def _cancel_drag(self) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        if drag["kind"] in ("joint", "move_box", "resize") and drag["moved"]:
            stack = self.document.undo_stack
            if stack.index() > drag["undo_index"]:
                stack.undo()  # the whole drag is one merged step
        self.draft_item.setVisible(False)
        self.viewport().update()

    def contextMenuEvent(self, event) -> None:
        if self.document is None or self.frame() is None:
            return
        menu = QMenu(self)
        for action in self.context_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        p = self.selected_person
        if p is not None and p < len(self.persons):
            missing = [j for j in range(len(self._names)) if self.persons[p].keypoints[j, 2] <= 0]
            if missing:
                sub = menu.addMenu(f"Place joint of #{p + 1} here")
                x, y = self._clamp_to_image(self.mapToScene(event.pos()))
                for j in missing:
                    act = sub.addAction(self._names[j])
                    act.triggered.connect(lambda _=False, j=j, x=x, y=y, p=p: self.document.push(
                        C.PlaceKeypoint(self.document, self.frame_index, p, j, (x, y))))
        if not menu.isEmpty():
            menu.popup(event.globalPos())
        event.accept()
