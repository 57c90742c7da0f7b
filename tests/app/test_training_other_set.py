"""Training a model for the project's keypoint set from a model of ANOTHER set, from the Train dialog:
every registry model is offered (those of another set marked with what the run does: the head
starts fresh, N of K joints copied by name), the command is hrnet-train's cross-set start with the
fine-tuning recipe, and a model of another set is never "compared" on frames it cannot label.

The registry weights are stand-ins (random W32 weights) placed in a throw-away weights cache
(``HRNET_CACHE``), as the other weights tests do: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt

from app.document import AnnotationDocument
from app.training.command import train_parser
from app.training.plan import BASE_CURRENT, BASE_POSE_FILE, BASE_REGISTRY, TrainingPlan, registry_entries
from hrnet import COCO_17, build_model, find_entry, load_coco, load_config, load_for_keypoint_set, weights_dir
from hrnet.dataset.synthetic import generate_dataset
from hrnet.keypoints import HAND_21
from tests.app.hand_data import write_hand_project

COCO_W32 = "pose_hrnet_w32_256x192"  # official COCO weights: no URL, so the cache must hold the file


@pytest.fixture(scope="module")
def w32_state_dict():
    torch.manual_seed(0)
    cfg = load_config(find_entry(COCO_W32).experiment)
    return build_model(cfg, is_train=False).state_dict()


@pytest.fixture
def coco_in_cache(tmp_path, monkeypatch, w32_state_dict) -> Path:
    """The official COCO W32 registry file, a stand-in with random weights, in a fresh weights cache."""
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))
    target = weights_dir() / find_entry(COCO_W32).file_name
    target.parent.mkdir(parents=True)
    torch.save(w32_state_dict, target)
    return target


def reviewed(doc, n: int):
    for i, f in enumerate(doc.frames):
        f.reviewed = i < n
    return doc


def hand_doc(root: Path, n: int = 6):
    return reviewed(load_coco(write_hand_project(root / "hands", n)), n)


def quadruped_doc(root: Path, n: int = 6):
    return reviewed(load_coco(generate_dataset(root / "animals", n, image_size=(160, 120), keypoints="quadruped")), n)


def test_plan_offers_every_registry_model_and_says_what_another_set_means(tmp_path, coco_in_cache):
    hands = TrainingPlan(hand_doc(tmp_path), run_dir=tmp_path / "run", device="cpu")
    assert hands.project_keypoint_set() == HAND_21
    entries = registry_entries()
    assert {e.joint_set for e in entries} == {"coco", "mpii"} and len(entries) == len(registry_entries(None))
    coco = find_entry(COCO_W32)
    transfer = hands.entry_transfer(coco)
    # hand-21 and COCO-17 share no joint name ("wrist" is not "left_wrist"): the head starts fresh
    assert transfer is not None and transfer.copied == []
    assert transfer.short_note() == "another keypoint set: starts the head fresh, 0 of 21 joints copied by name"
    assert "COCO-17 (17 joints)" in transfer.note() and "hand-21 (21 joints)" in transfer.note()

    hands.base_kind = BASE_REGISTRY + COCO_W32
    hands.experiment = coco.experiment  # what the dialog does on choosing a registry model
    assert hands.base_transfer() == transfer and hands.uses_finetune
    assert hands.problems() == []
    cmd = hands.command()
    args = train_parser().parse_intermixed_args(cmd.args())
    assert args.cfg == "coco/hrnet/w32_256x192_adam_lr1e-3" and args.weights == str(coco_in_cache)
    assert args.finetune  # the cross-set start goes through the fine-tuning recipe
    opts = dict(zip(args.opts[0::2], args.opts[1::2]))
    assert opts["MODEL.NUM_JOINTS"] == "21" and opts["DATASET.TRAIN_ANNOTATIONS"].endswith("train.json")
    # the cross-set recipe: a new output layer trains at the experiment's LR (hrnet-train decides the same)
    from hrnet.engine.finetune import NEW_HEAD_LR_SCALE

    lr = float(load_config(coco.experiment).TRAIN.LR) * NEW_HEAD_LR_SCALE
    assert float(hands.effective("TRAIN.LR")) == pytest.approx(lr)
    assert dict(hands.recipe())["TRAIN.FREEZE_BN"] == "False"
    # the COCO model cannot label hand frames: nothing to compare the new model with, and the plan says why
    assert hands.old_model() is None
    assert "COCO-17" in hands.no_comparison_reason()

    # an animal project: the joints COCO knows by name start trained, with the very channels hrnet-train copies
    animals = TrainingPlan(quadruped_doc(tmp_path), run_dir=tmp_path / "run2", device="cpu",
                           base_kind=BASE_REGISTRY + COCO_W32, experiment=coco.experiment)
    transfer = animals.base_transfer()
    assert transfer is not None and len(transfer.copied) == 9 and "9 of 15 joints" in transfer.short_note()
    assert animals.problems() == []
    model = build_model(animals.resolved_cfg(), is_train=False)  # the run's own config: 15 joints
    loaded = load_for_keypoint_set(model, animals.base_weights(), animals.project_keypoint_set())
    assert loaded.copied_joints == transfer.copied and not loaded.exact


def test_a_checkpoint_file_of_another_set_and_a_current_model_of_this_set(tmp_path, coco_in_cache):
    hands = TrainingPlan(hand_doc(tmp_path), run_dir=tmp_path / "run", device="cpu")
    # a pose file: what it predicts is read from the file (its stored set, else by its output channels)
    hands.base_kind, hands.base_path = BASE_POSE_FILE, str(coco_in_cache)
    assert hands.base_keypoint_set() == COCO_17 and hands.base_transfer() is not None
    # a current model trained for this project's set fits: it is compared, nothing is transferred
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.NUM_JOINTS", "21"])
    mine = tmp_path / "hand_model.pth"
    torch.save({"state_dict": build_model(cfg, is_train=False).state_dict(), "keypoint_set": HAND_21.to_dict()},
               mine)
    hands = TrainingPlan(hands.pose_document, run_dir=tmp_path / "run", device="cpu",
                         current_experiment="synthetic/hrnet_w16_128x96", current_weights=str(mine),
                         base_kind=BASE_CURRENT)
    assert hands.current_transfer() is None and hands.base_transfer() is None
    assert hands.old_model() == ("synthetic/hrnet_w16_128x96", str(mine)) and hands.no_comparison_reason() == ""
    # ... and a current COCO model is a base of another set, not a model to compare with
    hands.current_weights = str(coco_in_cache)
    assert hands.current_transfer() is not None and hands.base_transfer() is not None
    assert hands.old_model() is None and "The current model predicts COCO-17" in hands.no_comparison_reason()


def test_train_dialog_picks_a_coco_registry_model_for_a_hand_project(qtbot, tmp_path, coco_in_cache):
    from app.training.dialog import TrainDialog
    from app.training.verdict import TrainingVerdict

    hands = write_hand_project(tmp_path / "hands", 6)
    doc = AnnotationDocument()
    doc.open([hands])
    for f in doc.data.frames:
        f.reviewed = True
    dlg = TrainDialog(doc, None)
    qtbot.addWidget(dlg, before_close_func=lambda d: d.shutdown())
    dlg.output_edit.setText(str(tmp_path / "run"))
    combo = dlg.base_combo
    kinds = [combo.itemData(i) for i in range(combo.count())]
    # every registry model is offered, COCO and MPII alike, plus a checkpoint file
    assert {BASE_REGISTRY + e.name for e in registry_entries()} <= set(kinds) and BASE_POSE_FILE in kinds
    i = combo.findData(BASE_REGISTRY + COCO_W32)
    assert "starts the head fresh, 0 of 21 joints copied by name" in combo.itemText(i)
    assert "(in the cache)" in combo.itemText(i)
    assert "hand-21" in combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    assert not dlg.setup.base_note_label.isVisibleTo(dlg)
    combo.setCurrentIndex(i)
    assert dlg.experiment_combo.currentText() == "coco/hrnet/w32_256x192_adam_lr1e-3"
    assert dlg.setup.base_note_label.isVisibleTo(dlg) and "0 of 21 joints" in dlg.setup.base_note_label.text()
    assert dlg.finetune_check.isChecked() and dlg.validate() == []
    text = dlg.command_view.toPlainText()
    assert f"--weights {coco_in_cache}" in text and "--finetune" in text and "MODEL.NUM_JOINTS 21" in text
    # the verdict of such a run: nothing to compare with, so the new model is the default
    verdict = TrainingVerdict(old=None, new={"AP": 0.1}, num_val_frames=2,
                              no_old_reason=dlg.plan.no_comparison_reason())
    assert verdict.default_action == "use" and "no model of this keypoint set" in verdict.summary()
    # no epoch beat the starting point: its head is untrained for these joints, and the words say so
    stuck = TrainingVerdict(old=None, new={"AP": 0.0}, num_val_frames=2, best_is_base=True, fresh_head=True,
                            no_old_reason=dlg.plan.no_comparison_reason())
    assert stuck.default_action == "keep" and "has not learnt these joints yet" in stuck.summary()
    assert "base model itself" not in stuck.summary()
    dlg.shutdown()
