"""Graphics items of the canvas: one item per person, the heatmap overlay, the hover label.

A person is ONE item that paints its box, limbs and joints itself (an item per joint and per
limb, as SLEAP does, costs ~40 items per person and makes 20+ people sluggish). Sizes of joints,
lines and handles are given in screen pixels and converted with the view's zoom, so they stay
readable at every zoom level. Hit testing (which joint / handle is under the mouse) is done by
the view with numpy on the item's arrays, not by Qt's per-item shape tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsSimpleTextItem, QStyleOptionGraphicsItem

from app.canvas import style

JOINT_RADIUS_PX = 4.5
JOINT_RADIUS_ACTIVE_PX = 7.0
LIMB_WIDTH_PX = 2.5
HANDLE_PX = 7.0
MARGIN_PX = 24.0
TAG_HEIGHT_PX = 17.0

# Box handles: name -> (fx, fy) position as fraction of the box.
HANDLES: dict[str, tuple[float, float]] = {
    "tl": (0.0, 0.0), "t": (0.5, 0.0), "tr": (1.0, 0.0), "r": (1.0, 0.5),
    "br": (1.0, 1.0), "b": (0.5, 1.0), "bl": (0.0, 1.0), "l": (0.0, 0.5),
}


class PersonItem(QGraphicsItem):
    """Box + skeleton + joints of one person; all state is a copy of the document's instance."""

    def __init__(self, index: int, names: Sequence[str], skeleton: Sequence[tuple[int, int]],
                 limb_colours: Sequence[QColor], joint_outlines: Sequence[QColor]) -> None:
        super().__init__()
        self.index = index
        self.names = list(names)
        self.skeleton = [(int(a), int(b)) for a, b in skeleton]
        self._limb_colours = list(limb_colours)
        self._joint_outlines = list(joint_outlines)
        k = len(self.names)
        self.keypoints = np.zeros((k, 3), dtype=np.float64)
        self.bbox: np.ndarray | None = None  # xywh
        self.scores: np.ndarray | None = None
        self.edited = np.zeros(k, dtype=bool)
        self.person_score: float | None = None
        self.track_id: int | None = None
        self.colour = style.person_colour(index)
        self.selected = False
        self.selected_joint: int | None = None
        self.hovered_joint: int | None = None
        self.threshold = 0.3
        self.pixel_size = 1.0
        self.image_size: tuple[int, int] | None = None  # (w, h): model joints outside it are dimmed
        self.show_box = True
        self.dimmed = False
        self._rect = QRectF()
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(False)
        # Rendered once into a device-pixel cache and blitted afterwards: dragging one person or
        # hovering a joint repaints that person only, not all 20+ (zooming re-renders them).
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    # -- state -------------------------------------------------------------------------------
    def set_instance(self, instance) -> None:  # hrnet.annotations.Instance
        self.keypoints = np.array(instance.keypoints, dtype=np.float64).reshape(-1, 3)
        self.bbox = None if instance.bbox is None else np.array(instance.bbox, dtype=np.float64).reshape(4)
        self.scores = None if instance.joint_scores is None else np.array(instance.joint_scores, dtype=np.float64)
        edited = getattr(instance, "edited", None)
        self.edited = np.zeros(len(self.keypoints), bool) if edited is None else np.array(edited, dtype=bool)
        self.person_score = instance.score
        self.track_id = getattr(instance, "track_id", None)
        self._update_geometry()

    def set_pixel_size(self, pixel_size: float) -> None:
        if pixel_size != self.pixel_size:
            self.pixel_size = pixel_size
            self._update_geometry()

    def set_selected(self, selected: bool, joint: int | None = None) -> None:
        self.selected = selected
        self.selected_joint = joint if selected else None
        self.setZValue(3 if selected else 2)
        self.update()

    def set_hovered_joint(self, joint: int | None) -> None:
        if joint != self.hovered_joint:
            self.hovered_joint = joint
            self.update()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        self.update()

    def labelled(self) -> np.ndarray:
        return self.keypoints[:, 2] > 0

    def joint_confidence(self, j: int) -> float | None:
        """Model confidence of joint j, None for hand-placed or imported joints."""
        if self.edited[j] or self.scores is None:
            return None
        return float(self.scores[j])

    def low_confidence(self) -> np.ndarray:
        """Joints drawn dimmed/dotted: predictions under the threshold, and model joints outside the
        image (export writes those as unlabelled)."""
        if self.scores is None:
            return np.zeros(len(self.keypoints), bool)
        return ((self.scores < self.threshold) | self.outside_image()) & ~self.edited

    def outside_image(self) -> np.ndarray:
        kp = self.keypoints
        if self.image_size is None:
            return np.zeros(len(kp), bool)
        w, h = self.image_size
        return (kp[:, 2] > 0) & ((kp[:, 0] < 0) | (kp[:, 1] < 0) | (kp[:, 0] >= w) | (kp[:, 1] >= h))

    def extent(self) -> QRectF | None:
        """Box (or the labelled joints' extent when there is no box) in image coordinates."""
        if self.bbox is not None:
            x, y, w, h = self.bbox
            return QRectF(x, y, w, h)
        pts = self.keypoints[self.labelled(), :2]
        if len(pts) == 0:
            return None
        lo, hi = pts.min(0), pts.max(0)
        return QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])

    def handle_positions(self) -> dict[str, tuple[float, float]]:
        if self.bbox is None:
            return {}
        x, y, w, h = self.bbox
        return {name: (x + fx * w, y + fy * h) for name, (fx, fy) in HANDLES.items()}

    def _update_geometry(self) -> None:
        self.prepareGeometryChange()
        rect = self.extent() or QRectF()
        pts = self.keypoints[self.labelled(), :2]
        if len(pts):
            lo, hi = pts.min(0), pts.max(0)
            rect = rect.united(QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        m = MARGIN_PX * self.pixel_size
        self._rect = rect.adjusted(-m, -m, m, m)
        if (tag := self._tag_geometry()) is not None:
            self._rect = self._rect.united(tag.adjusted(-1, -1, 1, 1))
        self.update()

    # -- painting ----------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._rect

    def label_text(self) -> str:
        """"#<track id>" for a tracked person (the same in every frame), else "#<person number>"."""
        name = f"#{self.track_id}" if self.track_id is not None else f"#{self.index + 1}"
        return name + (f"  {self.person_score:.2f}" if self.person_score is not None else "")

    def _tag_anchor(self) -> tuple[float, float] | None:
        """Top-left corner of the box (or of a tracked person's joints), where the tag hangs."""
        if self.bbox is not None:
            return float(self.bbox[0]), float(self.bbox[1])
        if self.track_id is not None and (rect := self.extent()) is not None:
            return rect.x(), rect.y()
        return None

    def _tag_geometry(self) -> QRectF | None:
        """The "#3" tag's rect in image coordinates, whether or not it is drawn: above the box's
        top-left corner, or inside the box under its top edge when above would leave the image (a
        box touching the image's top edge: the tag was cut off by the top of the view). It never
        starts left of the image either."""
        anchor = self._tag_anchor()
        if anchor is None:
            return None
        x, y = anchor
        ps = self.pixel_size
        w, h = (7.5 * len(self.label_text()) + 8) * ps, TAG_HEIGHT_PX * ps
        top = y - h
        if self.image_size is not None:
            if top < 0:
                top = max(y, 0.0)  # inside the box, at the image's top at the highest
            x = max(x, 0.0)
        return QRectF(x, top, w, h)

    def tag_rect(self) -> QRectF | None:
        """The "#3" tag (see :meth:`_tag_geometry`), in image coordinates (None: no tag drawn)."""
        return self._tag_geometry() if self.show_box else None

    def _paint_label(self, painter: QPainter, rect: QRectF, ps: float) -> None:
        painter.save()
        painter.translate(rect.x(), rect.y())
        painter.scale(ps, ps)
        painter.setFont(_label_font())
        tw, th = rect.width() / ps, rect.height() / ps
        painter.fillRect(QRectF(0, 0, tw, th), self.colour)
        painter.setPen(QColor("black"))
        painter.drawText(QRectF(4, 0, tw, th), Qt.AlignmentFlag.AlignVCenter, self.label_text())
        painter.restore()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        # Cosmetic pens (widths in screen pixels) everywhere: Qt strokes them without building a
        # scaled outline, ~10x cheaper than scaled pens; the box is drawn without antialiasing.
        ps = self.pixel_size
        if self.dimmed:
            painter.setOpacity(0.35)
        kp = self.keypoints.tolist()
        labelled = [v[2] > 0 for v in kp]
        low = self.low_confidence().tolist()
        k = len(kp)

        if self.show_box and self.bbox is not None:
            x, y, w, h = self.bbox.tolist()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            pen = _cosmetic_pen(self.colour, 2.0 if self.selected else 1.0,
                                Qt.PenStyle.SolidLine if self.selected else Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(x, y, w, h))
            if (tag := self.tag_rect()) is not None:
                self._paint_label(painter, tag, ps)
            if self.selected:
                painter.setPen(_cosmetic_pen(QColor("black"), 1.0))
                painter.setBrush(QBrush(self.colour))
                hs = HANDLE_PX * ps
                for hx, hy in self.handle_positions().values():
                    painter.drawRect(QRectF(hx - hs / 2, hy - hs / 2, hs, hs))
        elif (tag := self.tag_rect()) is not None:  # a tracked person is labelled without a box too
            self._paint_label(painter, tag, ps)

        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        width = LIMB_WIDTH_PX + (0.8 if self.selected else 0.0)
        for (a, b), colour in zip(self.skeleton, self._limb_colours):
            if a >= k or b >= k or not (labelled[a] and labelled[b]):
                continue
            if low[a] or low[b]:
                painter.setPen(_cosmetic_pen(colour, width * 0.7, Qt.PenStyle.DotLine))
            else:
                painter.setPen(_cosmetic_pen(colour, width))
            painter.drawLine(QLineF(kp[a][0], kp[a][1], kp[b][0], kp[b][1]))

        edited = self.edited.tolist()
        scores = None if self.scores is None else self.scores.tolist()
        for j in range(k):
            if not labelled[j]:
                continue
            active = j == self.selected_joint or j == self.hovered_joint
            r = (JOINT_RADIUS_ACTIVE_PX if active else JOINT_RADIUS_PX) * ps
            fill = style.HAND_COLOUR if (edited[j] or scores is None) else style.confidence_colour(scores[j])
            outline = style.SELECTION_COLOUR if j == self.selected_joint else self._joint_outlines[j]
            centre = QPointF(kp[j][0], kp[j][1])
            if low[j]:
                painter.setPen(_cosmetic_pen(outline, 2.0 if active else 1.5, Qt.PenStyle.DotLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(centre, r, r)
                continue
            painter.setPen(_cosmetic_pen(outline, 2.0 if active else 1.5))
            if kp[j][2] < 1.5:  # occluded: a ring in the fill colour, hollow centre
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(centre, r, r)
                painter.setPen(_cosmetic_pen(fill, 2.0))
                painter.drawEllipse(centre, r * 0.55, r * 0.55)
            else:
                painter.setBrush(_brush(fill))
                painter.drawEllipse(centre, r, r)


_PENS: dict[tuple, QPen] = {}
_BRUSHES: dict[int, QBrush] = {}
_FONT: list[QFont] = []


def _cosmetic_pen(colour: QColor, width: float, style_: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    key = (colour.rgba(), width, style_)
    pen = _PENS.get(key)
    if pen is None:
        pen = QPen(colour, width, style_)
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if len(_PENS) > 4096:
            _PENS.clear()
        _PENS[key] = pen
    return pen


def _brush(colour: QColor) -> QBrush:
    key = colour.rgba()
    brush = _BRUSHES.get(key)
    if brush is None:
        brush = _BRUSHES[key] = QBrush(colour)
    return brush


def _label_font() -> QFont:
    if not _FONT:
        font = QFont()
        font.setPixelSize(12)
        font.setBold(True)
        _FONT.append(font)
    return _FONT[0]


class HeatmapItem(QGraphicsPixmapItem):
    """A heatmap (h, w) float array drawn in image space through its heatmap->image affine."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(1)
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._lut: np.ndarray | None = None
        self.strength = 0.6  # the opacity slider: how far the colour reaches below the peak
        self.heatmap: np.ndarray | None = None

    def set_lookup_table(self, lut: np.ndarray) -> None:
        """(256, 3|4) uint8 colour table."""
        lut = np.asarray(lut, dtype=np.uint8)
        if lut.shape[1] == 3:
            lut = np.concatenate([lut, np.full((len(lut), 1), 255, np.uint8)], axis=1)
        self._lut = lut
        if self.heatmap is not None:
            self._render()

    def set_strength(self, strength: float) -> None:
        """The overlay's opacity control: the peak stays opaque, lower values fade sooner when weaker."""
        self.strength = float(np.clip(strength, 0.0, 1.0))
        self._render()

    def set_heatmap(self, heatmap: np.ndarray | None, heatmap_to_image: np.ndarray | None = None) -> None:
        self.heatmap = None if heatmap is None else np.asarray(heatmap, dtype=np.float32)
        if self.heatmap is None:
            self.setPixmap(QPixmap())
            self.setVisible(False)
            return
        if heatmap_to_image is not None:
            a = np.asarray(heatmap_to_image, dtype=np.float64).reshape(2, 3)
            # Heatmap value (i, j) sits at heatmap coordinate (j, i), the CENTRE of pixmap pixel (j, i).
            to_image = QTransform(a[0, 0], a[1, 0], a[0, 1], a[1, 1], a[0, 2], a[1, 2])
            self.setTransform(QTransform.fromTranslate(-0.5, -0.5) * to_image)
        self._render()
        self.setVisible(True)

    def _render(self) -> None:
        hm = self.heatmap
        if hm is None:
            return
        # Scaled to the map's own peak: the overlay shows WHERE the model looks (one peak, two
        # candidates, a smear); how confident it is reads from the joint colours and the grid titles.
        peak = float(hm.max())
        values = np.clip(hm / peak, 0.0, 1.0) if peak > 1e-6 else np.zeros_like(hm)
        idx = np.round(values * 255).astype(np.uint8)
        lut = self._lut if self._lut is not None else _grey_lut()
        rgba = lut[idx].copy()
        # Low values fade out so the image stays visible under the cold part of the map; the peak is
        # always fully opaque. ``strength`` (the opacity slider) shapes the ramp between: at 1 the
        # map is nearly solid, at 0.2 only the area around the peak shows.
        ramp = np.clip((values - 0.05) / 0.95, 0.0, 1.0)
        rgba[..., 3] = np.round(ramp ** (0.5 / max(self.strength, 0.05)) * 255).astype(np.uint8)
        h, w = idx.shape
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self.setPixmap(QPixmap.fromImage(image))


def _grey_lut() -> np.ndarray:
    ramp = np.arange(256, dtype=np.uint8)
    return np.stack([ramp, ramp, ramp, np.full(256, 255, np.uint8)], axis=1)


class HoverLabelItem(QGraphicsSimpleTextItem):
    """Joint name + confidence next to the mouse, unaffected by zoom."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(10)
        font = QFont()
        font.setPixelSize(13)
        font.setBold(True)
        self.setFont(font)
        self.setBrush(QBrush(QColor("white")))
        self.setVisible(False)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.fillRect(self.boundingRect().adjusted(-4, -2, 4, 2), QColor(0, 0, 0, 190))
        super().paint(painter, option, widget)
