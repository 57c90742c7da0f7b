"""Keyboard edits and review steps on the canvas's current frame: :class:`EditController`.

Every edit is a command of :mod:`app.commands` pushed to the document; the target (hovered or
selected joint, selected person) comes from the :class:`~app.canvas.view.PoseView`. The queries
behind the review steps (next unreviewed, weakest frame, people weakest first) are the Qt-free
functions of :mod:`app.review`. Hints for the user go out as ``message(text, ms)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

from app import commands as C
from app import review, texts
from app.canvas.heatmaps import xyxy_to_xywh
from app.canvas.view import PoseView
from app.document import AnnotationDocument
from hrnet import Instance

NUDGE_BURST_S = 1.0  # nudges of one joint closer together than this are one undo step


class EditController(QObject):
    message = Signal(str, int)  # status text, timeout in ms

    def __init__(self, document: AnnotationDocument, view: PoseView,
                 frame_confidence: Callable[[int], float | None] | None = None, parent: QObject | None = None) -> None:
        """``frame_confidence(i)``: a cached :func:`app.review.frame_confidence` (the frame list's)."""
        super().__init__(parent)
        self.document = document
        self.view = view
        self.frame_confidence = frame_confidence
        self.frame_confidences: Callable[[], np.ndarray] | None = None  # all frames at once (NaN: none)
        self.confidences_ready: Callable[[Callable[[], None]], bool] | None = None  # False: callback later
        self._nudge: tuple[tuple[int, int, int], int, float] | None = None  # (frame, person, joint), drag id, time
        # Asked before a frame holding 0.00-confidence predictions is marked reviewed: 'delete' (them,
        # then review), 'keep' (review as is) or 'cancel'. A callable, so tests answer it.
        self.ask_hopeless: Callable[[int, list[int]], str] = self._ask_hopeless

    def frame_ok(self) -> bool:
        """The canvas shows the document's current frame (edits go to the frame the user sees)."""
        return self.document.num_frames() > 0 and self.view.frame_index == self.document.current_index()

    def target_joint(self) -> tuple[int, int] | None:
        """(person, joint) the joint keys act on: the hovered joint, else the selected one."""
        hover = self.view._hover
        if hover is not None:
            return hover
        if self.view.selected_person is not None and self.view.selected_joint is not None:
            return self.view.selected_person, self.view.selected_joint
        return None

    def _push(self, command) -> None:
        self.document.push(command)

    # ------------------------------------------------------------------ joints
    def set_visibility(self, visibility: int) -> None:
        target = self.target_joint()
        if not self.frame_ok() or target is None:
            self.message.emit("Hover over or select a joint first", 3000)
            return
        p, j = target
        self._push(C.SetVisibility(self.document, self.view.frame_index, p, j, visibility))

    def set_joint_visibility(self, joint: int, visibility: int) -> None:
        """The selected person's ``joint`` (from the person panel)."""
        p = self.view.selected_person
        if self.frame_ok() and p is not None:
            self._push(C.SetVisibility(self.document, self.view.frame_index, p, joint, visibility))

    def nudge_joint(self, dx: int, dy: int) -> None:
        """Alt+arrows: move the selected joint by a pixel (x10 with Shift); a burst is one undo step."""
        p, j = self.view.selected_person, self.view.selected_joint
        if not self.frame_ok() or p is None or j is None:
            self.message.emit("Select a joint first", 3000)
            return
        step = 10 if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier else 1
        f = self.view.frame_index
        kp = self.document.frame(f).instances[p].keypoints
        if kp[j, 2] <= 0:
            return
        now = time.monotonic()
        key = (f, p, j)
        if self._nudge is None or self._nudge[0] != key or now - self._nudge[2] > NUDGE_BURST_S:
            self._nudge = (key, C.new_drag_id(), now)
        self._nudge = (key, self._nudge[1], now)
        self._push(C.MoveKeypoint(self.document, f, p, j, (float(kp[j, 0] + dx * step), float(kp[j, 1] + dy * step)),
                                  drag_id=self._nudge[1]))

    def place_missing_joints(self) -> None:
        p = self.view.selected_person
        if not self.frame_ok() or p is None:
            self.message.emit("Select a person first", 3000)
            return
        missing = review.missing_joints(self.document.frame(self.view.frame_index).instances[p])
        if not missing:
            self.message.emit("Every joint of this person is labelled", 3000)
            return
        self.place_joints(missing)

    def place_joints(self, joints: list[int]) -> None:
        """Click ``joints`` of the selected person one after another."""
        p = self.view.selected_person
        if self.frame_ok() and p is not None and joints:
            self.view.start_placement(p, list(joints))
            self.view.setFocus()

    # ------------------------------------------------------------------ people
    def delete_selection(self) -> None:
        if not self.frame_ok():
            return
        p, j = self.view.selected_person, self.view.selected_joint
        if p is None:
            self.message.emit("Select a joint or a person first", 3000)
            return
        if j is not None:
            self._push(C.DeleteKeypoint(self.document, self.view.frame_index, p, j))
            self.view.select(p, None)
        else:
            self.delete_person()

    def delete_person(self) -> None:
        p = self.view.selected_person
        if not self.frame_ok() or p is None:
            return
        self._push(C.DeleteInstance(self.document, self.view.frame_index, p))

    def swap_left_right(self) -> None:
        p = self.view.selected_person
        if not self.frame_ok() or p is None:
            self.message.emit("Select a person first", 3000)
            return
        self._push(C.SwapLeftRight(self.document, self.view.frame_index, p))

    def copy_from_previous(self) -> None:
        if not self.frame_ok():
            return
        f = self.view.frame_index
        if f == 0:
            self.message.emit("No previous frame", 3000)
            return
        if not self.document.frame(f - 1).instances:
            self.message.emit("The previous frame has no people", 3000)
            return
        self._push(C.CopyFromPreviousFrame(self.document, f))

    def add_person(self) -> None:
        """Draw a box (the window predicts the pose inside it, or :meth:`add_empty_person`)."""
        if self.frame_ok():
            self.view.start_box_mode()
            self.view.setFocus()

    def add_empty_person(self, frame: int, xyxy: np.ndarray) -> None:
        """A person with no joints in box ``xyxy``, then click its joints one by one."""
        k = len(self.document.keypoint_names())
        self._push(C.AddInstance(self.document, frame, Instance.empty(k, bbox=xyxy_to_xywh(xyxy))))
        self.view.start_placement(len(self.document.frame(frame).instances) - 1, list(range(k)))

    # ------------------------------------------------------------------ review
    def _ask_hopeless(self, frame: int, people: list[int]) -> str:
        from PySide6.QtWidgets import QMessageBox

        who = ", ".join(f"#{p + 1}" for p in people)
        answer = QMessageBox.question(
            self.view.window(), "Mark frame reviewed",
            f"Frame {frame + 1} holds {len(people)} predicted {texts.plural(len(people), 'person')} "
            f"({who}) at confidence 0.00 that nobody has edited. A reviewed frame goes into training as it "
            "is.\n\nDelete them and mark the frame reviewed?\n(No: mark it reviewed and keep them.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Yes)
        return {QMessageBox.StandardButton.Yes: "delete", QMessageBox.StandardButton.No: "keep"}.get(answer, "cancel")

    def _mark_reviewed(self, f: int) -> bool:
        """Mark frame ``f`` reviewed, asking first about 0.00-confidence predictions. False: cancelled."""
        doc = self.document
        hopeless = review.hopeless_people(doc.frame(f))
        choice = self.ask_hopeless(f, hopeless) if hopeless else "keep"
        if choice == "cancel":
            return False
        if choice == "delete":
            doc.undo_stack.beginMacro(f"Delete {texts.people(len(hopeless))} at confidence 0.00, "
                                      f"mark frame {f + 1} reviewed")
            try:
                for p in sorted(hopeless, reverse=True):
                    self._push(C.DeleteInstance(doc, f, p))
                self._push(C.SetReviewed(doc, f, True))
            finally:
                doc.undo_stack.endMacro()
            self.message.emit(f"Deleted {texts.people(len(hopeless))} at confidence 0.00; frame {f + 1} reviewed", 5000)
        else:
            self._push(C.SetReviewed(doc, f, True))
        return True

    def toggle_reviewed(self) -> None:
        if not self.frame_ok():
            return
        f = self.view.frame_index
        if self.document.frame(f).reviewed:
            self._push(C.SetReviewed(self.document, f, False))
        else:
            self._mark_reviewed(f)

    def reviewed_and_next(self) -> None:
        if not self.frame_ok():
            return
        f = self.view.frame_index
        if not self.document.frame(f).reviewed and not self._mark_reviewed(f):
            return
        nxt = review.next_unreviewed(self.document.data.frames, f)
        if nxt is None:
            self.message.emit("Every frame is reviewed", 5000)
        else:
            self.document.set_current_index(nxt)

    def next_low_confidence_frame(self) -> None:
        doc = self.document
        if doc.num_frames() == 0:
            return
        if self.confidences_ready is not None and not self.confidences_ready(self.next_low_confidence_frame):
            self.message.emit("Computing the frames' confidences… (Weakest follows)", 3000)
            return  # called again when they are in
        conf = self.frame_confidences() if self.frame_confidences is not None else self.frame_confidence
        found = review.weakest_unreviewed_frame(doc.data.frames, doc.current_index(), conf)
        if found is None:
            self.message.emit("No unreviewed frame with predictions left", 5000)
            return
        best, conf = found
        here = best == doc.current_index()
        doc.set_current_index(best)
        self.next_low_confidence_person(first=True)
        where = "This frame is the weakest unreviewed one" if here else f"Frame {best + 1}"
        self.message.emit(f"{where}: weakest person confidence {conf:.2f}", 5000)

    def next_low_confidence_person(self, first: bool = False) -> None:
        frame = self.document.current_frame()
        if frame is None:
            return
        nxt = review.next_weak_person(frame.instances, self.view.selected_person, first)
        if nxt is not None:
            self.view.select(nxt, None)
            self.view.ensure_selection_visible()
