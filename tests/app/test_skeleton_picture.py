"""The skeleton editor's picture: joints laid out as a figure (template positions, a circle for
joints no figure knows), edges drawn by clicking two joints, pairs by Shift+click, joints moved by
dragging (the layout is kept with the set), renaming from the picture, and the table in step."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from app.keypoint_commands import SetKeypointSet
from app.keypoint_layout import CIRCLE_RADIUS, default_layout
from app.keypoint_set_editor import KeypointSetDraft, effective_layout
from app.widgets.keypoint_set_dialog import KeypointSetDialog
from hrnet.keypoints import COCO_17, HAND_21, KeypointSet

STICK = KeypointSet.from_names(["head", "hip", "lhand", "rhand", "neck"], [(0, 4)], name="stickman")


def _on_circle(p) -> bool:
    return abs(math.dist(p, (0.5, 0.5)) - CIRCLE_RADIUS) < 1e-6


def test_default_layout_places_joints_by_name():
    coco = dict(zip(COCO_17.names, default_layout(COCO_17.names)))
    # a person from the front: the person's left on the picture's right, head above hips above ankles
    assert coco["left_shoulder"][0] > 0.5 > coco["right_shoulder"][0]
    assert coco["nose"][1] < coco["left_hip"][1] < coco["left_knee"][1] < coco["left_ankle"][1]
    assert coco["left_knee"] == pytest.approx((1 - coco["right_knee"][0], coco["right_knee"][1]))
    hand = dict(zip(HAND_21.names, default_layout(HAND_21.names)))
    assert hand["wrist"][1] > hand["middle_finger1"][1] > hand["middle_finger4"][1]
    assert hand["thumb4"][0] < hand["forefinger4"][0] < hand["pinky_finger4"][0]
    stick = default_layout(STICK.names)  # lhand/rhand: a bare l/r prefix
    assert stick[2][0] > 0.5 > stick[3][0] and stick[0][1] < stick[4][1] < stick[1][1]
    odd = default_layout(["alpha", "beta", "gamma"])  # nothing known: a circle
    assert all(_on_circle(p) for p in odd) and len({p for p in odd}) == 3
    for names in (COCO_17.names, HAND_21.names, ["a", "b"]):
        assert all(0 <= v <= 1 for p in default_layout(names) for v in p)


def test_draft_positions_travel_with_the_set(qtbot):
    from app.document import AnnotationDocument

    draft = KeypointSetDraft(STICK)
    assert draft.positions() == default_layout(STICK.names)
    kset, _ = draft.result()
    assert kset.layout is None and draft.is_unchanged()  # the default layout is not stored
    row = draft.add_joint("tail")
    assert _on_circle(draft.joints[row].pos)
    assert min(math.dist(draft.joints[row].pos, j.pos) for j in draft.joints[:row]) > 0.2
    draft.remove_joint(row)
    draft.set_position(0, 0.3, 1.7)  # clamped to the picture
    assert draft.joints[0].pos == (0.3, 1.0)
    assert not draft.is_unchanged()  # moving a joint is an edit of the set
    kset, origins = draft.result()
    assert kset.layout[0] == (0.3, 1.0) and kset == STICK
    # stored in the project's category, and back, with undo
    doc = AnnotationDocument()
    doc.data.category.set_keypoint_set(STICK)
    doc.push(SetKeypointSet(doc, kset, origins))
    again = doc.keypoint_set()
    assert again.layout == kset.layout and effective_layout(again)[0] == (0.3, 1.0)
    assert KeypointSetDraft(again).joints[0].pos == (0.3, 1.0)
    doc.undo_stack.undo()
    assert doc.keypoint_set().layout is None
    # a template that the user re-arranged stays that template, with its layout
    hand = KeypointSetDraft(HAND_21)
    hand.set_position(0, 0.5, 0.5)
    kset, _ = hand.result()
    assert kset == HAND_21 and kset.name == "hand-21" and kset.layout[0] == (0.5, 0.5)


def click(widget, pos, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, modifier, pos.toPoint())


@pytest.fixture
def dialog(qtbot):
    dlg = KeypointSetDialog(KeypointSetDraft(STICK))
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    return dlg


def test_clicking_two_joints_in_the_picture_draws_the_edge(dialog):
    dlg, pic = dialog, dialog.picture
    draft = dlg.draft
    head, hip, lhand, rhand, neck = range(5)
    assert draft.edge_rows() == [(head, neck)]
    # click neck, then hip: the edge neck-hip; the table follows the picture's selection
    click(pic, pic.joint_pos(neck))
    assert pic.selected == neck and dlg.selected_rows() == [neck]
    click(pic, pic.joint_pos(hip))
    assert (neck, hip) in draft.edge_rows() and dlg.edge_list.count() == 2
    assert "neck — hip" in [dlg.edge_list.item(i).text() for i in range(dlg.edge_list.count())]
    # ... a chain: the last joint stays selected, so the next click connects it again
    assert pic.selected == hip
    click(pic, pic.joint_pos(lhand))
    assert (hip, lhand) in draft.edge_rows()
    click(pic, pic.joint_pos(lhand))  # the selected joint again: stop
    assert pic.selected is None
    # clicking an existing edge's two joints removes it
    click(pic, pic.joint_pos(neck))
    click(pic, pic.joint_pos(hip))
    assert (neck, hip) not in draft.edge_rows() and (hip, neck) not in draft.edge_rows()
    # empty space clears the selection; nothing else changes
    click(pic, QPoint(2, 2).toPointF())
    assert pic.selected is None and dlg.selected_rows() == []
    # Shift+click: a left/right pair (coloured left and right)
    draft.unpair(lhand)
    assert pic.sides()[lhand] == "centre"
    click(pic, pic.joint_pos(lhand))
    click(pic, pic.joint_pos(rhand), Qt.KeyboardModifier.ShiftModifier)
    assert draft.partner(lhand) == rhand and pic.sides()[lhand] == "left" and pic.sides()[rhand] == "right"
    assert dlg.table.item(lhand, 2).text() == "rhand"
    # selecting a row in the table selects the joint in the picture
    dlg.select_rows([head])
    assert pic.selected == head
    kset, _ = draft.result()
    assert (4, 1) not in kset.skeleton and (1, 2) in kset.skeleton and kset.flip_pairs == ((2, 3),)


def test_dragging_a_joint_moves_it_and_double_click_renames(dialog, qtbot):
    dlg, pic = dialog, dialog.picture
    start = pic.joint_pos(0)
    end = start.toPoint() + QPoint(40, 30)
    QTest.mousePress(pic, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start.toPoint())
    for k in range(1, 6):
        QTest.mouseMove(pic, start.toPoint() + QPoint(8 * k, 6 * k))
    QTest.mouseRelease(pic, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    moved = pic.joint_pos(0)
    assert abs(moved.x() - end.x()) < 1.5 and abs(moved.y() - end.y()) < 1.5
    assert dlg.draft.edge_rows() == [(0, 4)]  # a drag is no click: no edge
    kset, _ = dlg.draft.result()
    assert kset.layout is not None and kset.layout[0] != default_layout(STICK.names)[0]
    # double-click: the joint's name is edited in the table
    QTest.mouseDClick(pic, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pic.joint_pos(4).toPoint())
    assert dlg.table.state() == QAbstractItemView.State.EditingState and dlg.table.currentRow() == 4
    editor = dlg.table.viewport().findChild(QLineEdit)
    assert editor is not None and editor.text() == "neck"
    editor.selectAll()
    QTest.keyClicks(editor, "chest")
    assert editor.text() == "chest", editor.text()
    QTest.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event loop turn
    qtbot.waitUntil(lambda: dlg.draft.names()[4] == "chest", timeout=2000)
