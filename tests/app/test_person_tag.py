"""Labels on the canvas stay on screen: the person tag ("#1 0.34") of a box touching the image's top
edge goes inside the box instead of above it, where the top of the view cut it off; the hover label
of a joint at the view's right or bottom edge flips to the joint's left / above it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtTest import QTest

from app import commands as C
from app.canvas.view import PoseView
from app.document import AnnotationDocument
from tests.app.gui_support import synthetic_project, wait_frame


@pytest.fixture
def doc_view(qtbot, tmp_path):
    ann, _ = synthetic_project(tmp_path, num_images=2)
    doc = AnnotationDocument()
    doc.open([ann])
    view = PoseView()
    qtbot.addWidget(view)
    view.resize(900, 400)  # 320 x 240 images: the height limits the fit, ~12 px above the image
    view.show()
    view.set_document(doc)
    wait_frame(qtbot, view, 0)
    view.fit()
    yield doc, view
    view.shutdown()


def _on_screen(view, rect) -> QRect:
    return view.mapFromScene(rect).boundingRect()


def _tag_colour_shown(view, item, qtbot) -> bool:
    """The viewport shows the person's colour at the tag's left end (the tag is painted where
    tag_rect() says, not clipped away)."""
    qtbot.wait(30)
    image = view.viewport().grab().toImage()
    r = _on_screen(view, item.tag_rect())
    dpr = image.devicePixelRatio()
    c = image.pixelColor(int((r.left() + 2) * dpr), int(r.center().y() * dpr))
    want = item.colour
    return abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue() - want.blue()) < 40


@pytest.mark.parametrize("top", [0.0, -25.0, 3.0])
def test_tag_of_a_box_at_the_top_edge_is_drawn_inside_the_box(qtbot, doc_view, top):
    doc, view = doc_view
    x, _, w, h = doc.frame(0).instances[0].box_or_auto((320, 240))
    doc.push(C.SetBox(doc, 0, 0, [x, top, w, 120]))
    qtbot.waitUntil(lambda: view.persons[0].bbox is not None and view.persons[0].bbox[1] == top, timeout=3000)
    item = view.persons[0]
    tag = item.tag_rect()
    assert tag is not None
    assert tag.top() == pytest.approx(max(top, 0.0))  # under the box's top edge, inside the image
    assert tag.left() >= x - 1e-6 and tag.bottom() <= top + 120
    assert view.viewport().rect().contains(_on_screen(view, tag))  # all of it on screen
    assert item.boundingRect().contains(tag)  # painted inside the item's bounds (no smear on redraw)
    assert _tag_colour_shown(view, item, qtbot)
    # the tag inside the box still names the person: a click on it selects them
    view.clear_selection()
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _on_screen(view, tag).adjusted(2, 2, -2, -2).topLeft())
    assert view.selected_person == 0


def test_tag_stays_above_a_box_with_room_over_it(qtbot, doc_view):
    doc, view = doc_view
    doc.push(C.SetBox(doc, 0, 0, [-30.0, 100.0, 80.0, 100.0]))  # also: the box starts left of the image
    qtbot.waitUntil(lambda: view.persons[0].bbox is not None and view.persons[0].bbox[1] == 100.0, timeout=3000)
    item = view.persons[0]
    tag = item.tag_rect()
    assert tag.bottom() == pytest.approx(100.0) and tag.height() == pytest.approx(17 * view.pixel_size())
    assert tag.left() == pytest.approx(0.0)  # not left of the image, where the view cuts it off too
    assert view.viewport().rect().contains(_on_screen(view, tag))
    assert _tag_colour_shown(view, item, qtbot)
    # zooming keeps the rule (the tag's size is in screen pixels)
    view.zoom_by(2.0)
    assert np.isclose(item.tag_rect().height(), 17 * view.pixel_size())


@pytest.mark.parametrize("xy", [(318.0, 120.0), (318.0, 238.0), (2.0, 238.0)])
def test_hover_label_of_a_joint_at_the_view_edge_stays_on_screen(qtbot, doc_view, xy):
    doc, view = doc_view
    kp = doc.frame(0).instances[0].keypoints
    j = int(np.flatnonzero(kp[:, 2] > 0)[0])
    doc.push(C.MoveKeypoint(doc, 0, 0, j, xy))
    qtbot.waitUntil(lambda: tuple(view.persons[0].keypoints[j, :2]) == xy, timeout=3000)
    QTest.mouseMove(view.viewport(), view.mapFromScene(*xy))
    label = view.hover_label
    assert label.isVisible() and doc.keypoint_names()[j] in label.text()
    top_left = view.mapFromScene(label.pos())
    size = label.boundingRect()  # screen pixels (the label ignores the zoom)
    on_screen = QRect(top_left.x() - 4, top_left.y() - 2, int(size.width()) + 8, int(size.height()) + 4)
    assert view.viewport().rect().contains(on_screen), (on_screen, view.viewport().rect())
    assert not on_screen.contains(view.mapFromScene(*xy))  # next to the joint, not over it
