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

This module binds the view to the document (frames, images, people, selection); the rest of the
view is split by responsibility into mixins: :mod:`app.canvas.interaction` (modes, mouse, keys,
context menu), :mod:`app.canvas.picking` (hit testing, hover), :mod:`app.canvas.zoom` (zoom, fit,
item caches) and :mod:`app.canvas.overlays` (heatmap overlay, foreground text). They all work on
the one object's state, which :meth:`PoseView.__init__` creates.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QImage, QPainter, QPixmap, QPixmapCache
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from app.canvas import style
from app.canvas.interaction import MIN_BOX_PX, InteractionMixin
from app.canvas.items import HeatmapItem, HoverLabelItem, PersonItem
from app.canvas.overlays import OverlayMixin
from app.canvas.picking import HANDLE_HIT_PX, JOINT_HIT_PX, PickingMixin
from app.canvas.zoom import MAX_SCALE, MIN_SCALE, ZoomMixin
from app.frame_loader import FrameLoader

__all__ = ["HANDLE_HIT_PX", "JOINT_HIT_PX", "MAX_SCALE", "MIN_BOX_PX", "MIN_SCALE", "PoseView"]

log = logging.getLogger(__name__)


class PoseView(InteractionMixin, PickingMixin, ZoomMixin, OverlayMixin, QGraphicsView):
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

    def shutdown(self) -> None:
        self.loader.shutdown()
