"""Any keypoint set in the app: drawing and hover names of a custom set, Swap L/R by the one rule,
the Qt-free draft behind the keypoint-set dialog, the undoable set edit, a new project from a
template, and what the app says about a model of another set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtTest import QTest

from app.canvas import style
from app.canvas.view import PoseView
from app.commands import SwapLeftRight
from app.document import AnnotationDocument
from app.keypoint_commands import SetKeypointSet
from app.keypoint_set_controller import apply_new_project_set
from app.keypoint_set_editor import KeypointSetDraft, model_fit
from hrnet.annotations import Frame, Instance, PoseDocument, load_coco
from hrnet.keypoints import APP_KEY, COCO_17, HAND_21, TEMPLATES, KeypointSet
from tests.app.gui_support import view_pos, wait_frame

STICK_NAMES = ["head", "hip", "lhand", "rhand", "neck"]


def stickman_project(tmp_path, names=STICK_NAMES, skeleton=((1, 5), (5, 2), (5, 3), (5, 4))):
    """The issue's 5-keypoint 'stickman' COCO file, with one image."""
    import cv2

    img = np.full((200, 300, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    kp = [150, 40, 2, 150, 140, 2, 100, 90, 2, 200, 90, 2, 150, 70, 2]
    doc = {
        "images": [{"id": 1, "file_name": "a.png", "width": 300, "height": 200}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 5,
                         "bbox": [90, 30, 120, 120], "area": 14400, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "stickman", "supercategory": "stickman", "keypoints": list(names),
                        "skeleton": [list(e) for e in skeleton]}],
    }
    path = tmp_path / "stickman.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def stick_view(qtbot, tmp_path):
    doc = AnnotationDocument()
    doc.open([stickman_project(tmp_path)])
    view = PoseView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    view.set_document(doc)
    wait_frame(qtbot, view, 0)
    yield doc, view
    view.shutdown()


# -- drawing a custom set ---------------------------------------------------------------------------
def test_custom_set_is_drawn_with_its_names_and_lines(qtbot, stick_view):
    doc, view = stick_view
    assert view.names == STICK_NAMES
    item = view.persons[0]
    assert item.names == STICK_NAMES and item.skeleton == [(0, 4), (4, 1), (4, 2), (4, 3)]
    # lhand/rhand are a left/right pair by the rule: their edges get the two side colours
    kset = doc.keypoint_set()
    assert kset.flip_pairs == ((2, 3),)
    sides = kset.edge_sides()
    assert sides == ["centre", "centre", "left", "right"]
    colours = style.limb_colours_for(kset)
    assert colours[2].name() in style._SIDE_PALETTES[style.LEFT] and colours[3].name() in style._SIDE_PALETTES[
        style.RIGHT]
    texts = []
    view.hover_changed.connect(texts.append)
    x, y = doc.frame(0).instances[0].keypoints[0, :2]
    QTest.mouseMove(view.viewport(), view_pos(view, x, y))
    assert texts and texts[-1].startswith("#1 head")
    assert "right_eye" not in texts[-1]


def test_opening_a_custom_set_in_the_window_draws_it(qtbot, tmp_path, monkeypatch):
    """The issue's bug: the window's document was opened into, and the canvas kept COCO's names."""
    from tests.app.gui_support import make_window

    window = make_window(qtbot, tmp_path, monkeypatch)
    window.open_paths([stickman_project(tmp_path)])
    wait_frame(qtbot, window.view, 0)
    view = window.view
    assert view.names == STICK_NAMES and view.persons[0].skeleton == [(0, 4), (4, 1), (4, 2), (4, 3)]
    assert view.joint_description(0, 0).startswith("#1 head")
    assert window.heatmap_panel._names == STICK_NAMES
    view.select(0)
    window.people_panels.refresh_now()
    panel = window.person_panel.table
    assert [panel.item(r, 0).text() for r in range(panel.rowCount())] == STICK_NAMES


def test_swap_left_right_on_a_custom_set(qtbot, stick_view):
    doc, _ = stick_view
    inst = doc.instance(0, 0)
    before = inst.keypoints.copy()
    doc.push(SwapLeftRight(doc, 0, 0))
    assert inst.keypoints[2].tolist() == before[3].tolist() and inst.keypoints[3].tolist() == before[2].tolist()
    assert inst.keypoints[0].tolist() == before[0].tolist()
    doc.undo_stack.undo()
    np.testing.assert_array_equal(inst.keypoints, before)


@pytest.mark.parametrize(("left", "right"), [("wing_left", "wing_right"), ("paw_l", "paw_r"), ("Left_eye", "Right_eye"),
                                             ("l_ear", "r_ear"), ("LeftFoot", "RightFoot")])
def test_swap_uses_the_one_rule(qtbot, left, right):
    names = ["body", left, right]
    data = PoseDocument(frames=[Frame(1, "a.png", 100, 100, [Instance(np.array([[1, 1, 2], [2, 2, 2], [3, 3, 2.]]))])])
    data.category.keypoints, data.category.skeleton = names, [(0, 1), (0, 2)]
    doc = AnnotationDocument(data)
    doc.push(SwapLeftRight(doc, 0, 0))
    assert doc.instance(0, 0).keypoints[:, 0].tolist() == [1, 3, 2]


# -- the draft behind the dialog ---------------------------------------------------------------------
def test_draft_edits_keep_track_of_labels():
    draft = KeypointSetDraft(KeypointSet.from_names(STICK_NAMES, [(0, 4), (4, 1)]))
    draft.rename_joint(0, "nose")
    row = draft.add_joint("tail")
    draft.toggle_edge(1, row)
    draft.remove_joint(draft.names().index("hip"))
    draft.set_pair(draft.names().index("lhand"), draft.names().index("rhand"))
    draft.set_sigma(0, 0.03)
    assert draft.removed_joints() == ["hip"] and draft.added_joints() == ["tail"]
    kset, origins = draft.result()
    assert kset.names == ("nose", "lhand", "rhand", "neck", "tail")
    assert origins == [0, 2, 3, 4, None]
    assert kset.flip_pairs == ((1, 2),) and kset.sigmas[0] == 0.03
    assert kset.skeleton == ((0, 3),)  # edges of the removed hip went with it
    draft.add_joint("neck")
    assert any("both called 'neck'" in p for p in draft.problems())


def test_draft_templates_keep_labels_by_name_and_mirror():
    draft = KeypointSetDraft(KeypointSet.from_names(["nose", "left_eye", "tail"]))
    draft.use_template("COCO-17")
    kset, origins = draft.result()
    assert kset is COCO_17 and origins[0] == 0 and origins[1] == 1 and origins[2] is None
    assert draft.removed_joints() == ["tail"]
    d2 = KeypointSetDraft(KeypointSet.from_names(["body", "wing_left"]))
    row = d2.add_mirror(1)
    assert d2.names()[row] == "wing_right" and d2.partner(1) == row
    assert set(KeypointSetDraft.template_names()) == set(TEMPLATES)


def test_model_fit_says_why():
    stick = KeypointSet.from_names(STICK_NAMES)
    assert model_fit(COCO_17, COCO_17) == ""
    why = model_fit(COCO_17, stick)
    assert why == ("the model predicts COCO-17 (17 joints), this project uses 5 joints; the model has no head, hip, "
                   "lhand, rhand, neck")
    assert model_fit(KeypointSet.from_names([f"joint_{i}" for i in range(5)]), stick) == ""
    assert "17 joints" in model_fit(KeypointSet.from_names([f"joint_{i}" for i in range(17)]), stick)


# -- the undoable set edit ----------------------------------------------------------------------------
def test_set_edit_is_undoable_and_keeps_data(qtbot, tmp_path, stick_view):
    doc, view = stick_view
    inst_before = doc.instance(0, 0).copy()
    draft = KeypointSetDraft(doc.keypoint_set())
    draft.rename_joint(0, "skull")
    draft.add_joint("tail")
    draft.remove_joint(draft.names().index("hip"))
    kset, origins = draft.result()
    signals = []
    doc.keypoint_set_changed.connect(lambda: signals.append(1))
    doc.push(SetKeypointSet(doc, kset, origins))
    inst = doc.instance(0, 0)
    assert doc.keypoint_names() == ["skull", "lhand", "rhand", "neck", "tail"] and signals
    assert inst.keypoints.shape == (5, 3) and inst.keypoints[4, 2] == 0  # the new joint is unlabelled
    np.testing.assert_array_equal(inst.keypoints[:4], inst_before.keypoints[[0, 2, 3, 4]])
    assert view.names == ["skull", "lhand", "rhand", "neck", "tail"] and view.persons[0].names == view.names
    # saved: the set is in the category, extra fields under the app's key
    doc.save(tmp_path / "out.json")
    cat = json.loads((tmp_path / "out.json").read_text())["categories"][0]
    assert cat["keypoints"][-1] == "tail" and cat[APP_KEY]["flip_pairs"] == [["lhand", "rhand"]]
    assert load_coco(tmp_path / "out.json").category.keypoint_set() == kset
    doc.undo_stack.undo()
    assert doc.keypoint_names() == STICK_NAMES and doc.instance(0, 0) == inst_before
    assert view.names == STICK_NAMES
    doc.undo_stack.redo()
    assert doc.keypoint_names()[-1] == "tail"


def test_dialog_asks_before_removing_labelled_joints(qtbot):
    from app.widgets.keypoint_set_dialog import KeypointSetDialog

    asked = []
    draft = KeypointSetDraft(KeypointSet.from_names(STICK_NAMES))
    dlg = KeypointSetDialog(draft, labelled=3, confirm=lambda t, x: asked.append(x) or False)
    qtbot.addWidget(dlg)
    accepted = []
    dlg.accepted.connect(lambda: accepted.append(1))
    dlg.select_rows([1])
    dlg.buttons["remove"].click()
    assert draft.names() == ["head", "lhand", "rhand", "neck"]
    dlg.accept()
    assert asked and "hip" in asked[0] and not accepted
    dlg2 = KeypointSetDialog(KeypointSetDraft(KeypointSet.from_names(STICK_NAMES)), labelled=3,
                             confirm=lambda t, x: True)
    qtbot.addWidget(dlg2)
    dlg2.accepted.connect(lambda: accepted.append(2))
    dlg2.template_combo.setCurrentIndex(dlg2.template_combo.findData("hand-21"))
    dlg2.use_template_button.click()
    assert dlg2.draft.names() == list(HAND_21.names)
    dlg2.select_rows([1, 2])  # thumb1-thumb2: already an edge, so this removes it
    dlg2.buttons["edge"].click()
    assert (1, 2) not in dlg2.draft.edge_rows() and len(dlg2.draft.edges) == 19
    dlg2.accept()
    assert accepted == [2]


# -- a new project from a template -------------------------------------------------------------------
def test_new_project_with_a_template(qtbot, tmp_path, monkeypatch):
    import cv2

    from tests.app.gui_support import make_window

    for i in range(2):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((60, 80, 3), 100, np.uint8))
    window = make_window(qtbot, tmp_path, monkeypatch)
    ctl = window.keypoints

    class FakeDialog:
        def __init__(self, draft, *a, **k):
            draft.use_template("AP-10K animal-17")

        def exec(self):
            from PySide6.QtWidgets import QDialog
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ctl, "_dialog", lambda draft, new, labelled: FakeDialog(draft))
    monkeypatch.setattr(window.project, "open_files_dialog", lambda: window.open_paths([tmp_path]))
    ctl.new_project()
    doc = window.document
    assert doc.num_frames() == 2 and doc.keypoint_set() == TEMPLATES["AP-10K animal-17"]
    assert window.view.names[0] == "left_eye" and window.heatmap_panel._names[7] == "left_front_paw"
    assert doc.data.category.name == "AP-10K animal-17"
    with pytest.raises(ValueError):
        doc.data.frames[0].instances.append(Instance(np.zeros((17, 3))))
        apply_new_project_set(doc, COCO_17)


# -- models of another set ------------------------------------------------------------------------
def test_model_panel_says_why_and_offers_fine_tuning(qtbot, tmp_path, monkeypatch):
    from tests.app.gui_support import make_window

    window = make_window(qtbot, tmp_path, monkeypatch)
    window.open_paths([stickman_project(tmp_path)])
    ctl, panel = window.keypoints, window.model_panel

    class FakePredictor:
        keypoint_set = COCO_17

    monkeypatch.setattr(type(window.model), "is_loaded", property(lambda self: True))
    window.model.predictor = FakePredictor()
    ctl.refresh_model_panel()
    text = panel.keypoints_label.text()
    assert "COCO-17 (17 joints)" in text and "no head, hip, lhand, rhand, neck" in text and "Fine-tune" in text
    assert ctl.model_mismatch(window.model.predictor)
    opened = []
    monkeypatch.setattr(window, "open_train_dialog", lambda: opened.append(1))
    panel.finetune_requested.disconnect()
    panel.finetune_requested.connect(window.open_train_dialog)
    panel.keypoints_label.linkActivated.emit("#finetune")
    assert opened == [1]
    # registry weights of another set are marked, with the reason as tooltip
    combo = panel.weights_combo
    coco_items = [i for i in range(combo.count()) if panel._registry_sets.get(combo.itemData(i)) == "coco"]
    assert coco_items and all("other keypoint set" in combo.itemText(i) for i in coco_items)
    # a COCO project: the same model fits
    window.model.predictor = FakePredictor()
    window.document.data.frames[0].instances.clear()
    apply_new_project_set(window.document, COCO_17)
    assert "matches this project" in panel.keypoints_label.text() and not ctl.model_mismatch(window.model.predictor)


def test_mpii_project_fits_the_official_mpii_experiments():
    from hrnet.config import load_config
    from hrnet.keypoints import MPII_16
    from hrnet.predictor import _keypoint_set

    for exp in ("mpii/hrnet/w32_256x256_adam_lr1e-3", "mpii/resnet/res50_256x256_d256x3_adam_lr1e-3"):
        kset = _keypoint_set(load_config(exp))
        assert kset is MPII_16 and model_fit(kset, TEMPLATES["MPII-16"]) == ""
    assert model_fit(_keypoint_set(load_config("coco/hrnet/w32_256x192_adam_lr1e-3")), MPII_16)


def test_heatmap_tiles_shorten_names_by_hrnets_left_right_rule():
    from app.widgets.heatmap_dock import short_joint_name

    assert short_joint_name("right_shoulder") == "R shoulder" and short_joint_name("l_paw") == "L paw"
    # every pattern of the one rule, not only a left_/right_ prefix
    assert short_joint_name("paw_L") == "L paw" and short_joint_name("front_left_paw") == "L front paw"
    assert short_joint_name("LeftEar") == "L Ear" and short_joint_name("root_of_tail") == "root of tail"
