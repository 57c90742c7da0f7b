"""The one keypoint-set module: the left/right rule, the built-in sets, sigmas, category and
checkpoint round trips, and starting a model for one set from a model of another."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hrnet.annotations import Category, PoseDocument, load_coco, save_coco
from hrnet.config import load_config
from hrnet.dataset.coco import COCO_KEYPOINT_SET
from hrnet.dataset.coco_json import keypoint_set_from_category
from hrnet.dataset.mpii import MPII_KEYPOINT_SET
from hrnet.errors import CheckpointError, DatasetError
from hrnet.keypoints import (
    AP10K_17,
    APP_KEY,
    CENTRE,
    COCO_17,
    COCO_SIGMAS,
    DEFAULT_SIGMA,
    HAND_21,
    LEFT,
    MPII_16,
    RIGHT,
    TEMPLATES,
    KeypointSet,
    KeypointSetError,
    default_sigma,
    flip_pairs_from_names,
    mirror_name,
    side_of,
    split_side,
)
from hrnet.models import build_model
from hrnet.models.checkpoint import (
    checkpoint_keypoint_set,
    load_checkpoint,
    load_for_keypoint_set,
    read_keypoint_set,
)

SYNTH = "synthetic/hrnet_w16_128x96"


# -- the left/right rule ---------------------------------------------------------------------------
@pytest.mark.parametrize(("left", "right"), [
    ("left_eye", "right_eye"), ("l_paw", "r_paw"), ("paw_l", "paw_r"), ("wing_left", "wing_right"),
    ("LeftEar", "RightEar"), ("Left_eye", "Right_eye"), ("LEFT_HAND", "RIGHT_HAND"), ("L_foot", "R_foot"),
    ("paw_L", "paw_R"), ("leftHand", "rightHand"), ("wingLeft", "wingRight"), ("front_left_paw", "front_right_paw"),
    ("left-ear", "right-ear"), ("hand.l", "hand.r"),
])
def test_every_name_pattern_pairs(left, right):
    assert side_of(left) == LEFT and side_of(right) == RIGHT
    assert mirror_name(left) == right and mirror_name(right) == left
    assert flip_pairs_from_names(["nose", left, "tail", right]) == [(1, 3)]


def test_split_side_names_the_marker_the_rule_finds():
    assert split_side("front_left_paw") == ("front_", "left", "_paw")
    assert split_side("LeftEar") == ("", "Left", "Ear") and split_side("paw_L") == ("paw_", "L", "")
    assert split_side("nose") is None and split_side("lhand") is None


def test_pairs_ignore_case_and_centre_joints_have_no_side():
    assert flip_pairs_from_names(["Left_eye", "RIGHT_EYE"]) == [(0, 1)]
    assert flip_pairs_from_names(["wing_left", "Wing_Right"]) == [(0, 1)]
    for name in ("nose", "tail", "neck", "root_of_tail", "lip", "ring_finger1", "leftover_only"):
        assert mirror_name(name) is None or flip_pairs_from_names([name]) == []
    assert side_of("nose") == CENTRE and side_of("lip") == CENTRE and side_of("l") == CENTRE
    # unpaired sides and joints in one pair at most
    assert flip_pairs_from_names(["left_only", "tail"]) == []
    assert flip_pairs_from_names(["left_a", "right_a", "l_b"]) == [(0, 1)]
    # the stickman: lhand/rhand pair, though "leg" alone has no side
    assert flip_pairs_from_names(["head", "hip", "lhand", "rhand", "neck"]) == [(2, 3)]
    assert flip_pairs_from_names(["leg", "lip", "neck"]) == [] and side_of("leg") == CENTRE


def test_the_dataset_and_the_app_category_use_the_same_rule():
    names = ["nose", "wing_left", "wing_right", "paw_l", "paw_r", "Left_eye", "Right_eye"]
    cat = Category(keypoints=names, skeleton=[(1, 2)])
    ds = keypoint_set_from_category({"name": "bird", "keypoints": names, "skeleton": [[2, 3]]})
    assert cat.flip_pairs() == list(ds.flip_pairs) == [(1, 2), (3, 4), (5, 6)]


# -- the sets --------------------------------------------------------------------------------------
def test_coco_and_mpii_are_written_once():
    assert COCO_KEYPOINT_SET is COCO_17 and MPII_KEYPOINT_SET is MPII_16
    assert COCO_17.flip_pairs == tuple(flip_pairs_from_names(COCO_17.names))
    assert {frozenset(p) for p in MPII_16.flip_pairs} == {frozenset(p) for p in flip_pairs_from_names(MPII_16.names)}
    assert COCO_17.oks_sigmas() == COCO_SIGMAS and len(MPII_16.oks_sigmas()) == 16
    from hrnet.annotations import COCO_SKELETON
    from hrnet.dataset import synthetic
    from hrnet.utils import vis

    assert synthetic.SKELETON is COCO_SKELETON is vis.COCO_SKELETON and COCO_17.skeleton == COCO_SKELETON


@pytest.mark.parametrize("kset", list(TEMPLATES.values()), ids=list(TEMPLATES))
def test_templates_are_consistent(kset):
    k = len(kset)
    assert len(kset.oks_sigmas()) == k and all(0 < s < 0.2 for s in kset.oks_sigmas())
    assert kset.skeleton and all(0 <= a < k and 0 <= b < k for a, b in kset.skeleton)
    assert sorted(kset.flip_permutation()) == list(range(k))
    assert len(kset.joint_colours()) == k
    # every joint is reachable through the skeleton (one connected figure)
    adj = {i: set() for i in range(k)}
    for a, b in kset.skeleton:
        adj[a].add(b)
        adj[b].add(a)
    seen, todo = {0}, [0]
    while todo:
        for n in adj[todo.pop()] - seen:
            seen.add(n)
            todo.append(n)
    assert seen == set(range(k))
    assert KeypointSet.from_dict(kset.to_dict()) == kset
    assert KeypointSet.from_category(kset.to_category()) == kset


def test_template_sizes():
    assert [len(TEMPLATES[n]) for n in ("COCO-17", "MPII-16", "hand-21", "AP-10K animal-17")] == [17, 16, 21, 17]
    assert HAND_21.flip_pairs == ()
    assert len(AP10K_17.flip_pairs) == 7 and AP10K_17.names[AP10K_17.flip_pairs[1][1]] == "right_shoulder"


def test_sigmas_given_or_defaults_per_name():
    assert default_sigma("left_knee") == default_sigma("KneeR") == default_sigma("front_left_knee") == 0.087
    assert default_sigma("nose") == 0.026 and default_sigma("tail_tip") == DEFAULT_SIGMA
    kset = KeypointSet.from_names(["nose", "tail"])
    assert kset.sigmas == kset.oks_sigmas() == (0.026, DEFAULT_SIGMA)
    assert KeypointSet.from_names(["nose", "tail"], sigmas=[0.05, 0.06]).oks_sigmas() == (0.05, 0.06)
    with pytest.raises(KeypointSetError, match="sigmas"):
        KeypointSet.from_names(["nose", "tail"], sigmas=[0.05])
    with pytest.raises(KeypointSetError, match="positive"):
        KeypointSet.from_names(["nose", "tail"], sigmas=[0.05, 0])


def test_invalid_sets_are_refused_with_a_reason():
    with pytest.raises(KeypointSetError, match="unique"):
        KeypointSet.from_names(["a", "A"])
    with pytest.raises(KeypointSetError, match="edge"):
        KeypointSet.from_names(["a", "b"], skeleton=[(0, 2)])
    with pytest.raises(KeypointSetError, match="two"):
        KeypointSet.from_names(["a", "b", "c"], flip_pairs=[(0, 1), (1, 2)])
    with pytest.raises(DatasetError, match="sigmas"):
        keypoint_set_from_category({"name": "x", "keypoints": ["a"], APP_KEY: {"sigmas": ["big"]}})


def test_mismatch_says_why():
    body = KeypointSet.from_names([n for n in COCO_17.names if "eye" not in n and "ear" not in n])
    assert COCO_17.mismatch(COCO_17) == ""
    text = COCO_17.mismatch(body)
    assert "13 joints instead of 17" in text and "left_eye" in text
    back = COCO_17.channel_map(body)  # COCO joints the body set lacks map nowhere
    assert len(back) == 13 and COCO_17.index("left_eye") not in back
    assert body.channel_map(COCO_17) == {i: COCO_17.index(n) for i, n in enumerate(body.names)}


# -- stored in the project's COCO category ---------------------------------------------------------
def test_custom_set_round_trips_through_the_project_file(tmp_path):
    kset = KeypointSet.from_names(["head", "neck", "hip", "lhand", "rhand"], skeleton=[(0, 1), (1, 2), (1, 3), (1, 4)],
                                  flip_pairs=[(3, 4)], sigmas=[0.03, 0.04, 0.1, 0.06, 0.06], name="stickman")
    doc = PoseDocument(category=Category(keypoints=list(kset.names), name="stickman"))
    doc.category.set_keypoint_set(kset)
    path = tmp_path / "p.json"
    save_coco(doc, path)
    raw = json.loads(path.read_text())["categories"][0]
    assert raw["keypoints"] == list(kset.names) and raw["skeleton"] == [[1, 2], [2, 3], [2, 4], [2, 5]]
    assert raw[APP_KEY]["flip_pairs"] == [["lhand", "rhand"]] and raw[APP_KEY]["sigmas"][2] == 0.1
    back = load_coco(path).category.keypoint_set()
    assert back == kset and back.flip_pairs == ((3, 4),)
    # a training tool reading the same file sees the same set
    assert keypoint_set_from_category(raw) == kset


# -- checkpoints -----------------------------------------------------------------------------------
def _model(k: int):
    return build_model(load_config(SYNTH, ["MODEL.NUM_JOINTS", str(k)]), is_train=False)


@pytest.fixture(scope="module")
def coco_model():
    torch.manual_seed(0)
    model = _model(17)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model


def test_checkpoint_carries_its_keypoint_set(tmp_path, coco_model):
    kset = KeypointSet.from_names(["head", "neck", "tail"], skeleton=[(0, 1), (1, 2)], name="worm")
    model = _model(3)
    path = tmp_path / "m.pth"
    torch.save({"state_dict": model.state_dict(), "keypoint_set": kset.to_dict(), "epoch": 3}, path)
    assert read_keypoint_set(path) == kset
    info = load_checkpoint(_model(3), path)
    assert checkpoint_keypoint_set(info.metadata) == kset
    torch.save(coco_model.state_dict(), tmp_path / "bare.pth")
    assert read_keypoint_set(tmp_path / "bare.pth") is None


def test_partial_loading_copies_name_matched_channels(tmp_path, coco_model):
    path = tmp_path / "coco.pth"
    torch.save(coco_model.state_dict(), path)  # a bare 17-joint state_dict: taken as COCO-17
    body_names = [n for n in COCO_17.names if n not in ("left_eye", "right_eye", "left_ear", "right_ear", "nose")]
    body = KeypointSet.from_names([*body_names, "neck", "tail"])  # 12 COCO joints + 2 new ones
    model = _model(len(body))
    res = load_for_keypoint_set(model, path, body)
    src, dst = coco_model.state_dict(), model.state_dict()
    for k, v in dst.items():
        if not k.startswith("final_layer."):
            assert torch.equal(v, src[k]), k
    for j, name in enumerate(body.names):
        if name in COCO_17.names:
            i = COCO_17.index(name)
            assert torch.equal(dst["final_layer.weight"][j], src["final_layer.weight"][i])
            assert dst["final_layer.bias"][j] == src["final_layer.bias"][i]
        else:  # re-initialised as the official code does
            assert dst["final_layer.weight"][j].abs().max() < 0.01 and dst["final_layer.bias"][j] == 0
    assert res.copied_joints == body_names and res.new_joints == ["neck", "tail"] and not res.exact
    assert "12 of them copied" in res.summary()


def test_partial_loading_uses_the_stored_set_and_loads_exact_fits_strictly(tmp_path, coco_model):
    # a 17-joint checkpoint of another 17-joint set: the channels follow names, not positions
    path = tmp_path / "coco.pth"
    torch.save({"state_dict": coco_model.state_dict(), "keypoint_set": COCO_17.to_dict()}, path)
    model = _model(17)
    res = load_for_keypoint_set(model, path, AP10K_17)
    w, src = model.state_dict()["final_layer.weight"], coco_model.state_dict()["final_layer.weight"]
    assert torch.equal(w[AP10K_17.index("nose")], src[COCO_17.index("nose")])
    assert torch.equal(w[AP10K_17.index("left_hip")], src[COCO_17.index("left_hip")])
    assert "neck" in res.new_joints and "left_front_paw" in res.new_joints
    same = _model(17)
    exact = load_for_keypoint_set(same, path, COCO_17)
    assert exact.exact and torch.equal(same.state_dict()["final_layer.weight"], src)


def test_partial_loading_refuses_another_architecture(tmp_path):
    big = build_model(load_config("coco/hrnet/w32_256x192_adam_lr1e-3"), is_train=False)
    path = tmp_path / "w32.pth"
    torch.save(big.state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit this model.*W32"):
        load_for_keypoint_set(_model(5), path, KeypointSet.from_names(list("abcde")))


def test_predictor_knows_what_a_model_predicts(tmp_path):
    from hrnet.predictor import Predictor

    kset = KeypointSet.from_names(["head", "l_hand", "r_hand"], skeleton=[(0, 1), (0, 2)], name="tri")
    cfg = load_config(SYNTH, ["MODEL.NUM_JOINTS", "3"])
    path = tmp_path / "tri.pth"
    torch.save({"state_dict": build_model(cfg, is_train=False).state_dict(), "keypoint_set": kset.to_dict()}, path)
    p = Predictor(cfg, weights=path, device="cpu", optimize=False)
    assert p.keypoint_names == ["head", "l_hand", "r_hand"] and p.skeleton == [(0, 1), (0, 2)]
    assert p.flip_pairs == [(1, 2)]
    np.testing.assert_equal(p.keypoint_set.flip_permutation(), [0, 2, 1])


# -- synthetic data of other sets, and hrnet-train from a model of another set -----------------------
def test_synthetic_sets_write_their_keypoint_set(tmp_path):
    from hrnet.dataset.synthetic import generate_dataset
    from hrnet.dataset.synthetic_sets import BODY_12, QUADRUPED_15

    for name, kset in (("body12", BODY_12), ("quadruped", QUADRUPED_15)):
        ann = generate_dataset(tmp_path / name, 3, image_size=(160, 120), keypoints=name)
        doc = json.loads(ann.read_text())
        assert keypoint_set_from_category(doc["categories"][0]) == kset
        assert doc["annotations"] and all(len(a["keypoints"]) == 3 * len(kset) for a in doc["annotations"])
        assert any(a["num_keypoints"] >= len(kset) // 2 for a in doc["annotations"])
    assert len(BODY_12) == 12 and len(QUADRUPED_15) == 15
    assert len(QUADRUPED_15.channel_map(COCO_17)) == 9 and len(BODY_12.channel_map(COCO_17)) == 12
    # the default output is unchanged: COCO people
    ann = generate_dataset(tmp_path / "coco", 1, image_size=(160, 120))
    assert json.loads(ann.read_text())["categories"][0]["keypoints"] == list(COCO_17.names)


def test_hrnet_train_starts_a_new_set_from_a_model_of_another(tmp_path, capsys):
    from hrnet.dataset.synthetic import generate_dataset
    from hrnet.dataset.synthetic_sets import QUADRUPED_15
    from hrnet.predictor import Predictor
    from hrnet.train import main
    from tests.hrnet.test_train_helpers import EXPERIMENT, TINY_OPTS

    base = tmp_path / "coco.pth"
    torch.manual_seed(1)
    coco = build_model(load_config(EXPERIMENT, TINY_OPTS), is_train=False)
    torch.save(coco.state_dict(), base)
    train = generate_dataset(tmp_path, 4, image_size=(160, 120), split_name="train", keypoints="quadruped")
    val = generate_dataset(tmp_path, 2, image_size=(160, 120), split_name="val", keypoints="quadruped")
    run = tmp_path / "run"
    code = main(["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run), "--progress", "jsonl",
                 "--weights", str(base), *TINY_OPTS, "MODEL.NUM_JOINTS", "15", "TRAIN.END_EPOCH", "1",
                 "DATASET.TRAIN_ANNOTATIONS", str(train), "DATASET.TRAIN_IMAGES", str(tmp_path / "images" / "train"),
                 "DATASET.TEST_ANNOTATIONS", str(val), "DATASET.TEST_IMAGES", str(tmp_path / "images" / "val")])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    assert "9 of them copied" in out + err
    for name in ("checkpoint.pth", "model_best.pth"):
        assert read_keypoint_set(run / name) == QUADRUPED_15
    # the model that hrnet-train wrote knows what it predicts, wherever its data went
    for p in (train, val):
        p.unlink()
    cfg = load_config(str(run / "config.yaml"))
    pred = Predictor(cfg, weights=run / "model_best.pth", device="cpu", optimize=False)
    assert pred.keypoint_set == QUADRUPED_15 and pred.keypoint_names[0] == "nose"


def test_layout_of_the_skeleton_editor_travels_with_the_set(caplog):
    from dataclasses import replace

    from hrnet.keypoints import APP_KEY, HAND_21, KeypointSet, KeypointSetError

    layout = tuple((i / 21, 1 - i / 21) for i in range(21))
    kset = replace(HAND_21, layout=layout)
    assert kset == HAND_21  # presentation only: not compared
    assert KeypointSet.from_dict(kset.to_dict()).layout == layout
    cat = kset.to_category()
    assert cat[APP_KEY]["layout"][3] == list(layout[3])
    back = KeypointSet.from_category(cat)
    assert back == HAND_21 and back.layout == layout
    assert KeypointSet.from_category(HAND_21.to_category()).layout is None
    with pytest.raises(KeypointSetError, match="layout has 2 positions"):
        replace(HAND_21, layout=((0, 0), (1, 1)))
    # a malformed stored layout is dropped (with a warning); the set stands
    cat[APP_KEY]["layout"] = [[0, 0]] * 3
    assert KeypointSet.from_category(cat) == HAND_21 and KeypointSet.from_category(cat).layout is None
    assert "ignoring the stored layout" in caplog.text
