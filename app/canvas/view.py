"""The annotation canvas: a QGraphicsView showing one frame of the document and its people.

Interaction (the "edit" mode unless noted):

- left-drag a joint: move it (live preview, one undoable MoveKeypoint step per drag);
- left-drag a handle of the selected person's box: resize; inside a box: move it (SetBox);
- click a joint / a box: select; click empty space: deselect; drag empty space / middle-drag: pan;
- wheel: zoom about the cursor; ``fit()`` / ``actual_size()``;
- "box" mode: drag a rectangle -> :attr:`PoseView.box_drawn` (the window adds a person);
- "place" mode: each click places the next joint of a queue (Space skips, Esc ends);
- right click: the context menu given by the window (plus "place joint here").

The view never edits instances itself: it pushes commands to the document and redraws on the
document's signals (its items are read-only copies).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QPixmapCache,
    QTransform,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QMenu,
    QWidget,
)

from app import commands as C
from app.canvas import style
from app.canvas.items import HANDLES, HeatmapItem, HoverLabelItem, PersonItem
from app.frame_loader import FrameLoader

log = logging.getLogger(__name__)

JOINT_HIT_PX = 10.0
HANDLE_HIT_PX = 8.0
MIN_SCALE, MAX_SCALE = 0.01, 64.0
MIN_BOX_PX = 4.0


class PoseView(QGraphicsView):
    """Image + people of the document's current frame, with direct manipulation."""

    selection_changed = Signal(int, int)  # person, joint (-1 = none)
    hover_changed = Signal(str)  # text for the status bar ("" = nothing under the mouse)
    box_drawn = Signal(int, object)  # frame index, (4,) xyxy float array in image pixels
    placement_changed = Signal(str)  # prompt while placing joints ("" when placement ended)
    frame_shown = Signal(int)  # the image of frame i is on screen
    frame_failed = Signal(int, str)
    frame_unreadable = Signal(int, str)  # frame, decode error ("" = it decodes again)
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None, loader: FrameLoader | None = None) -> None:
        super().__init__(parent)
        if QPixmapCache.cacheLimit() < 256 * 1024:  # room for the person items' render caches (KB)
            QPixmapCache.setCacheLimit(256 * 1024)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # pan by dragging
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        scene = self.scene()
        self.image_item = QGraphicsPixmapItem()
        self.image_item.setZValue(0)
        self.image_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        scene.addItem(self.image_item)
        self.heatmap_item = HeatmapItem()
        self.heatmap_item.setVisible(False)
        scene.addItem(self.heatmap_item)
        self.hover_label = HoverLabelItem()
        scene.addItem(self.hover_label)
        self.draft_item = QGraphicsRectItem()
        self.draft_item.setZValue(5)
        self.draft_item.setVisible(False)
        scene.addItem(self.draft_item)

        self.loader = loader or FrameLoader(parent=self)
        self.loader.frame_ready.connect(self._on_frame_ready)
        self.loader.failed.connect(self._on_frame_failed)
        self.loader.unreadable.connect(self._on_frame_unreadable)
        self.unreadable: dict[int, str] = {}  # frame -> why its image cannot be decoded

        self.document = None
        self.frame_index = -1
        self.shown_index = -1  # frame whose image is on screen
        self.persons: list[PersonItem] = []
        self.selected_person: int | None = None
        self.selected_joint: int | None = None
        self.threshold = 0.3
        self.annotations_visible = True
        self.context_actions: list[QAction | None] = []
        self.mode = "edit"
        self._place_queue: list[int] = []
        self._place_person: int | None = None
        self._drag: dict | None = None
        self._hover: tuple[int, int] | None = None
        self._image_size: tuple[int, int] | None = None
        self._limb_colours: list[QColor] = []
        self._joint_outlines: list[QColor] = []
        self._names: list[str] = []
        self._skeleton: list[tuple[int, int]] = []
        self._fit_pending = True
        self.auto_fit = True  # keep fitting on resize until the user zooms or pans
        self._caches_suspended = False
        self._cache_timer = QTimer(self)
        self._cache_timer.setSingleShot(True)
        self._cache_timer.setInterval(250)
        self._cache_timer.timeout.connect(self._restore_item_caches)
        self._status_font = QFont()
        self._status_font.setPixelSize(13)
        self._status_font.setBold(True)

    # ------------------------------------------------------------------ document binding
    def set_document(self, document) -> None:
        if self.document is not None:
            for sig, slot in self._doc_connections():
                try:
                    sig.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.document = document
        self.frame_index = -1
        self.shown_index = -1
        self._image_size = None
        self._fit_pending = True
        self.unreadable = {}
        self.clear_selection()
        self.end_mode()
        self.set_heatmap(None)
        if document is None:
            self.loader.set_source(None)
            self._clear_persons()
            self.image_item.setPixmap(QPixmap())
            return
        self._apply_keypoint_set()
        for sig, slot in self._doc_connections():
            sig.connect(slot)
        self.loader.set_source(document.image, num_frames=document.num_frames())
        if document.num_frames():
            self.show_frame(document.current_index())

    def _doc_connections(self):
        d = self.document
        return [
            (d.frame_changed, self.show_frame),
            (d.instances_changed, self._on_instances_changed),
            (d.instance_changed, self._on_instance_changed),
            (d.frames_changed, self._on_frames_changed),
            (d.reviewed_changed, self._on_reviewed_changed),
            (d.keypoint_set_changed, self._on_keypoint_set_changed),
        ]

    def _apply_keypoint_set(self) -> None:
        """Names, edges and colours of the project's keypoint set (whatever set it is)."""
        kset = self.document.keypoint_set()
        self._names = list(kset.names)
        self._skeleton = [tuple(e) for e in kset.skeleton]
        self._limb_colours = style.limb_colours_for(kset)
        self._joint_outlines = style.joint_outlines_for(kset)

    def _on_keypoint_set_changed(self) -> None:
        self._drag = None
        self.end_mode()
        self._clear_persons()  # person items hold the old names and edges: rebuild them
        self._apply_keypoint_set()
        self.clear_selection()
        self._rebuild_persons()
        self.viewport().update()

    @property
    def names(self) -> list[str]:
        return self._names

    def frame(self):
        if self.document is None or not 0 <= self.frame_index < self.document.num_frames():
            return None
        return self.document.frame(self.frame_index)

    def show_frame(self, index: int) -> None:
        """Display frame ``index`` (normally called through the document's frame_changed)."""
        if self.document is None or not 0 <= index < self.document.num_frames():  # (emptied: Close project)
            return
        changed = index != self.frame_index
        self.frame_index = index
        if changed:
            self.clear_selection()
            self.end_mode()
            self.set_heatmap(None)
        frame = self.document.frame(index)
        if frame.width and frame.height and self._image_size != (frame.width, frame.height):
            self._set_image_size(frame.width, frame.height)
        self._rebuild_persons()
        if self.shown_index != index:
            image = self.loader.request(index)
            if image is None:
                self.viewport().update()

    def _on_frames_changed(self) -> None:
        if self.document is None:
            return
        if list(self.document.keypoint_set().names) != self._names or self._skeleton != [
                tuple(e) for e in self.document.keypoint_set().skeleton]:
            self._on_keypoint_set_changed()  # another project was opened into this document
        self.loader.set_source(self.document.image, num_frames=self.document.num_frames())
        self.shown_index = -1
        self.unreadable = {}
        self._image_size = None  # a new file: fit its first image, whatever the last file's zoom was
        self._fit_pending = True
        self.auto_fit = True
        if self.document.num_frames():
            self.show_frame(min(max(self.document.current_index(), 0), self.document.num_frames() - 1))
        else:
            self._clear_persons()

    def _on_reviewed_changed(self, frame_index: int) -> None:
        if frame_index == self.frame_index:
            self.viewport().update()

    def _on_instances_changed(self, frame_index: int) -> None:
        if frame_index == self.frame_index and self._drag is not None and "person" in self._drag:
            self._drag = None  # people were added/removed under the mouse: indices changed, stop the drag
        if frame_index == self.frame_index:
            keep = (self.selected_person, self.selected_joint)
            self._rebuild_persons()
            p, j = keep
            frame = self.frame()
            if p is not None and frame is not None and p < len(frame.instances):
                self.select(p, j)
            else:
                self.clear_selection()
            self.viewport().update()

    def _on_instance_changed(self, frame_index: int, instance_index: int) -> None:
        if frame_index != self.frame_index:
            return
        frame = self.frame()
        if frame is None:
            return
        if instance_index >= len(self.persons) or len(self.persons) != len(frame.instances):
            self._on_instances_changed(frame_index)
            return
        self.persons[instance_index].set_instance(frame.instances[instance_index])
        if self._hover is not None and self._hover[0] == instance_index and self.mode == "edit":
            self._show_hover_label(*self._hover)  # a key changed the hovered joint: say so without a mouse move
        self.viewport().update()

    # ------------------------------------------------------------------ image
    def _on_frame_ready(self, index: int, image: QImage) -> None:
        if index != self.frame_index:
            return
        self.image_item.setPixmap(QPixmap.fromImage(image))
        if self.unreadable.pop(index, None) is not None:  # the file was fixed or replaced
            self.frame_unreadable.emit(index, "")
        size = (image.width(), image.height())
        if size != self._image_size:
            self._set_image_size(*size)
        self.shown_index = index
        if self._fit_pending:
            self.fit()
        self.viewport().update()
        self.frame_shown.emit(index)

    def _on_frame_failed(self, index: int, message: str) -> None:
        if index == self.frame_index:
            self.image_item.setPixmap(QPixmap())
            self.shown_index = -1
            self.frame_failed.emit(index, message)
            self.viewport().update()

    def _on_frame_unreadable(self, index: int, message: str) -> None:
        if self.document is None or not 0 <= index < self.document.num_frames():
            return
        if self.unreadable.get(index) != message:
            self.unreadable[index] = message
            self.frame_unreadable.emit(index, message)
        if index == self.frame_index:
            self.viewport().update()

    def _set_image_size(self, w: int, h: int) -> None:
        """A new image size (a new file, or the next image of a folder being another size): fit it.
        Frames of one size (a video) keep the user's zoom and pan."""
        changed = self._image_size != (int(w), int(h))
        self._image_size = (int(w), int(h))
        margin = 2.0 * max(w, h)  # room to pan the image's edges to the middle of the view
        self.scene().setSceneRect(QRectF(-margin, -margin, w + 2 * margin, h + 2 * margin))
        if changed or self._fit_pending:
            self._fit_pending = True
            self.fit()

    def image_rect(self) -> QRectF:
        if self._image_size is None:
            return QRectF()
        return QRectF(0, 0, *self._image_size)

    # ------------------------------------------------------------------ people
    def _clear_persons(self) -> None:
        scene = self.scene()
        for item in self.persons:
            scene.removeItem(item)
        self.persons = []
        self._hover = None
        self.hover_label.setVisible(False)

    def _rebuild_persons(self) -> None:
        frame = self.frame()
        instances = [] if frame is None else frame.instances
        scene = self.scene()
        # reuse items: creating/removing QGraphicsItems is the expensive part with many people
        while len(self.persons) > len(instances):
            scene.removeItem(self.persons.pop())
        ps = self.pixel_size()
        while len(self.persons) < len(instances):
            item = PersonItem(len(self.persons), self._names, self._skeleton, self._limb_colours,
                              self._joint_outlines)
            if self._caches_suspended:
                item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
            item.set_pixel_size(ps)
            scene.addItem(item)
            self.persons.append(item)
        for i, (item, inst) in enumerate(zip(self.persons, instances)):
            item.index = i
            # a tracked person keeps its colour from frame to frame
            item.colour = style.person_colour(inst.track_id if inst.track_id is not None else i)
            item.threshold = self.threshold
            item.image_size = (frame.width, frame.height) if frame is not None and frame.width > 0 else None
            item.set_pixel_size(ps)
            item.set_instance(inst)
            item.set_selected(i == self.selected_person, self.selected_joint if i == self.selected_person else None)
            item.set_hovered_joint(None)
            item.setVisible(self.annotations_visible)
        self._hover = None
        self.hover_label.setVisible(False)

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        for item in self.persons:
            item.set_threshold(self.threshold)

    def set_annotations_visible(self, visible: bool) -> None:
        self.annotations_visible = visible
        for item in self.persons:
            item.setVisible(visible)

    # ------------------------------------------------------------------ selection
    def select(self, person: int | None, joint: int | None = None) -> None:
        if person is not None and not 0 <= person < len(self.persons):
            person, joint = None, None
        if joint is not None and (person is None or not 0 <= joint < len(self._names)):
            joint = None
        if (person, joint) == (self.selected_person, self.selected_joint):
            return
        for i, item in enumerate(self.persons):
            item.set_selected(i == person, joint if i == person else None)
        self.selected_person, self.selected_joint = person, joint
        self.selection_changed.emit(-1 if person is None else person, -1 if joint is None else joint)

    def clear_selection(self) -> None:
        self.select(None, None)

    def select_next_person(self, step: int = 1) -> None:
        n = len(self.persons)
        if n == 0:
            return
        if self.selected_person is None:
            self.select(0 if step > 0 else n - 1)
        else:
            self.select((self.selected_person + step) % n)
        self.ensure_selection_visible()

    def select_next_joint(self, step: int = 1) -> None:
        if self.selected_person is None:
            return
        item = self.persons[self.selected_person]
        labelled = np.flatnonzero(item.labelled())
        if len(labelled) == 0:
            return
        order = [int(j) for j in labelled]
        if self.selected_joint in order:
            j = order[(order.index(self.selected_joint) + step) % len(order)]
        else:
            j = order[0] if step > 0 else order[-1]
        self.select(self.selected_person, int(j))

    def ensure_selection_visible(self) -> None:
        if self.selected_person is None:
            return
        rect = self.persons[self.selected_person].extent()
        if rect is not None and not rect.isEmpty():
            self.ensureVisible(rect, 40, 40)

    # ------------------------------------------------------------------ heatmap overlay
    def set_heatmap(self, heatmap: np.ndarray | None, heatmap_to_image: np.ndarray | None = None) -> None:
        self.heatmap_item.set_heatmap(heatmap, heatmap_to_image)

    def set_heatmap_lut(self, lut: np.ndarray) -> None:
        self.heatmap_item.set_lookup_table(lut)

    def set_heatmap_opacity(self, opacity: float) -> None:
        """The overlay reaches full strength at its peak whatever the slider; the slider sets how
        far below the peak the colour reaches (see HeatmapItem.set_strength)."""
        self.heatmap_item.setOpacity(1.0)
        self.heatmap_item.set_strength(opacity)

    # ------------------------------------------------------------------ zoom
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

    # ------------------------------------------------------------------ hit testing
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

    # ------------------------------------------------------------------ modes
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

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def _update_hover(self, pos: QPointF) -> None:
        if self.mode == "place":
            j = self.placement_joint()
            if j is not None:
                p = self.mapToScene(pos.toPoint())
                self.hover_label.setText(f"place {self._names[j]}")
                self.hover_label.setPos(p + QPointF(10 * self.pixel_size(), 10 * self.pixel_size()))
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
        ps = self.pixel_size()
        self.hover_label.setPos(QPointF(item.keypoints[joint, 0] + 10 * ps, item.keypoints[joint, 1] + 8 * ps))
        self.hover_label.setVisible(True)
        self.hover_changed.emit(self.joint_description(person, joint))

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

    # ------------------------------------------------------------------ overlay text
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

    def shutdown(self) -> None:
        self.loader.shutdown()
