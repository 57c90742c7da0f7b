"""hrnet.dataset: official top-down semantics (boxes, skipping, augmentation, flip, targets,
half body), the sample format, build_dataset and error messages."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hrnet.config import load_config
from hrnet.dataset import COCOJsonDataset, ImageNetNormalize, build_dataset
from hrnet.dataset.coco import COCO_KEYPOINT_SET
from hrnet.dataset.coco_json import flip_pairs_from_names
from hrnet.dataset.joints_dataset import Augmentation
from hrnet.dataset.synthetic import coco_category, generate_dataset
from hrnet.errors import ConfigError, DatasetError

EXP = "synthetic/hrnet_w16_128x96"
SIZE = dict(image_size=(96, 128), heatmap_size=(24, 32), sigma=1.0)
NO_AUG = Augmentation(scale_factor=0.0, rotation_factor=0.0, flip=False, prob_half_body=0.0)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth")
    train = generate_dataset(root, 6, image_size=(160, 120), people=(1, 2), seed=1, split_name="train")
    val = generate_dataset(root, 4, image_size=(160, 120), people=(1, 2), seed=1, split_name="val")
    return {"root": root, "train": train, "val": val, "train_images": root / "images" / "train",
            "val_images": root / "images" / "val"}


def synth_cfg(synth, *opts):
    return load_config(EXP, ["DATASET.TRAIN_ANNOTATIONS", str(synth["train"]),
                             "DATASET.TRAIN_IMAGES", str(synth["train_images"]),
                             "DATASET.TEST_ANNOTATIONS", str(synth["val"]),
                             "DATASET.TEST_IMAGES", str(synth["val_images"]), *opts])


def full_keypoints(x0=40.0, y0=10.0) -> np.ndarray:
    """17 labelled COCO joints spread over a 200x100 image (left joints right of right joints)."""
    kp = np.zeros((17, 3))
    kp[:, 0] = x0 + np.arange(17) * 5.0
    kp[:, 1] = y0 + np.arange(17) * 4.0
    kp[:, 2] = 2
    return kp


# -- helpers (also used by test_dataset_eval.py) ------------------------------------------------
def write_image(path: Path, width: int, height: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def coco_document(
    annotations: list[dict[str, Any]],
    width: int = 200,
    height: int = 100,
    category: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": width, "height": height}],
        "annotations": annotations,
        "categories": [category or coco_category()],
    }


def person(keypoints: np.ndarray, bbox: list[float], **extra: Any) -> dict[str, Any]:
    ann = {"image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": bbox, "area": bbox[2] * bbox[3],
           "keypoints": [float(v) for v in np.asarray(keypoints, dtype=np.float64).reshape(-1)]}
    ann.update(extra)
    return ann


def write_dataset(root: Path, document: dict[str, Any], width: int = 200, height: int = 100) -> Path:
    """``root/ann.json`` + ``root/images/a.png``; returns the annotation path."""
    write_image(root / "images" / "a.png", width, height)
    path = root / "ann.json"
    path.write_text(json.dumps(document))
    return path


# -- boxes and records ------------------------------------------------------------------------
def test_box_to_center_scale_with_official_clean_up(tmp_path):
    kp = full_keypoints()
    doc = coco_document([person(kp, [10, 20, 30, 60]), person(kp, [-10, -5, 50, 40])])
    ds = COCOJsonDataset(write_dataset(tmp_path, doc), tmp_path / "images", is_train=False, **SIZE)
    assert len(ds) == 2
    # clean box [10, 20, 29, 59] (x2 = x1 + w - 1); too narrow for 96/128 -> widened
    c, s = ds.db[0]["center"], ds.db[0]["scale"]
    np.testing.assert_allclose(c, [10 + 14.5, 20 + 29.5])
    np.testing.assert_allclose(s, np.array([59 * 0.75, 59]) / 200 * 1.25, rtol=1e-6)
    assert c.dtype == np.float32 and s.dtype == np.float32
    # official clean-up of [-10, -5, 50, 40]: x1, y1 clipped to 0, width/height kept -> [0, 0, 49, 39];
    # too wide -> taller
    c, s = ds.db[1]["center"], ds.db[1]["scale"]
    np.testing.assert_allclose(c, [24.5, 19.5])
    np.testing.assert_allclose(s, np.array([49, 49 / 0.75]) / 200 * 1.25, rtol=1e-6)
    # joints as official: (K, 3) x, y, 0 and visibility clipped to 1
    np.testing.assert_array_equal(ds.db[0]["joints_3d"][:, :2], kp[:, :2])
    np.testing.assert_array_equal(ds.db[0]["joints_3d_vis"][:, :2], np.ones((17, 2)))


def test_crowd_keypointless_empty_and_other_category_people_are_skipped(tmp_path):
    kp = full_keypoints()
    doc = coco_document([
        person(kp, [10, 10, 50, 50]),
        person(kp, [10, 10, 50, 50], iscrowd=1),
        person(np.zeros((17, 3)), [10, 10, 50, 50]),
        person(kp, [10, 10, 50, 50], area=0),
        person(kp, [250, 10, 50, 50]),  # outside the image: x1 > x2 after clipping
        person(kp, [10, 10, 50, 50], category_id=2),
    ])
    doc["categories"].append({"id": 2, "name": "dog", "supercategory": "animal"})
    ds = COCOJsonDataset(write_dataset(tmp_path, doc), tmp_path / "images", is_train=True, **SIZE)
    assert len(ds) == 1
    assert ds.skipped == {"crowd": 1, "no_keypoints": 1, "bad_box": 2, "other_category": 1}


def test_generated_dataset_loads_through_build_dataset(synth):
    cfg = synth_cfg(synth)
    train, val = build_dataset(cfg, is_train=True), build_dataset(cfg, is_train=False)
    ann = json.loads(synth["train"].read_text())
    expected = sum(1 for a in ann["annotations"] if max(a["keypoints"]) > 0)
    assert len(train) == expected and len(val) > 0
    assert train.flip_pairs == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]
    assert train.is_train and not val.is_train
    inp, target, weight, meta = train[0]
    assert inp.shape == (3, 128, 96) and inp.dtype == torch.float32
    assert target.shape == (17, 32, 24) and weight.shape == (17, 1)
    assert set(meta) == {"image", "filename", "imgnum", "joints", "joints_vis", "center", "scale", "rotation",
                         "score"}
    batch = next(iter(DataLoader(train, batch_size=3)))
    assert batch[0].shape == (3, 3, 128, 96) and batch[3]["center"].shape == (3, 2)


def test_build_dataset_config_errors(synth):
    with pytest.raises(ConfigError, match="DATASET.TRAIN_ANNOTATIONS is empty"):
        build_dataset(load_config(EXP), is_train=True)
    with pytest.raises(ConfigError, match="MODEL.NUM_JOINTS 17"):
        build_dataset(synth_cfg(synth, "MODEL.NUM_JOINTS", "5"), is_train=True)
    with pytest.raises(ConfigError, match="DATASET.TEST_IMAGES"):
        build_dataset(synth_cfg(synth, "DATASET.TEST_IMAGES", str(synth["root"] / "nope")), is_train=False)
    with pytest.raises(ConfigError, match="Unknown DATASET.DATASET"):
        build_dataset(synth_cfg(synth, "DATASET.DATASET", "lsp"), is_train=True)


def test_normalisation_equals_torchvision():
    tv = pytest.importorskip("torchvision.transforms")
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    ref = tv.Compose([tv.ToTensor(), tv.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])(image)
    assert torch.equal(ImageNetNormalize()(image), ref)


# -- augmentation -------------------------------------------------------------------------------
def test_augmentation_ranges_and_probabilities(tmp_path):
    doc = coco_document([person(full_keypoints(), [30, 10, 60, 80])])
    aug = Augmentation(scale_factor=0.25, rotation_factor=30, flip=True, prob_half_body=0.0)
    ds = COCOJsonDataset(write_dataset(tmp_path, doc), tmp_path / "images", is_train=True, augmentation=aug, **SIZE)
    rec = ds.db[0]
    np.random.seed(0)
    random.seed(0)
    n = 400
    ratios, rots, flips = [], [], []
    for _ in range(n):
        _, _, _, meta = ds[0]
        ratios.append(meta["scale"][0] / rec["scale"][0])
        rots.append(meta["rotation"])
        flips.append(meta["center"][0] != rec["center"][0])
    ratios, rots = np.array(ratios), np.array(rots)
    assert ratios.min() >= 0.75 - 1e-6 and ratios.max() <= 1.25 + 1e-6 and ratios.std() > 0.1
    assert np.abs(rots).max() <= 60 and np.abs(rots).max() > 30
    assert 0.5 < np.mean(rots != 0) < 0.7  # official: rotation with probability 0.6
    assert 0.4 < np.mean(flips) < 0.6  # flip with probability 0.5
    ds_eval = COCOJsonDataset(tmp_path / "ann.json", tmp_path / "images", is_train=False, augmentation=aug, **SIZE)
    _, _, _, meta = ds_eval[0]
    assert meta["rotation"] == 0 and np.array_equal(meta["scale"], rec["scale"])


def test_flip_swaps_left_and_right_and_joints_follow(tmp_path):
    kp = full_keypoints()
    doc = coco_document([person(kp, [30, 5, 120, 90])])
    path = write_dataset(tmp_path, doc)
    always_flip = Augmentation(scale_factor=0.0, rotation_factor=0.0, flip=True, flip_prob=1.0, prob_half_body=0.0)
    kwargs = dict(is_train=True, transform=None, **SIZE)
    plain = COCOJsonDataset(path, tmp_path / "images", augmentation=NO_AUG, **kwargs)
    flipped = COCOJsonDataset(path, tmp_path / "images", augmentation=always_flip, **kwargs)
    np.random.seed(0)
    random.seed(0)
    img0, _, _, meta0 = plain[0]
    img1, target1, _, meta1 = flipped[0]
    # the crop of the mirrored image around the mirrored centre is the mirrored crop (up to 1 px)
    np.testing.assert_allclose(meta1["center"][0], 200 - meta0["center"][0] - 1)
    diff = img1[:, 1:].astype(int) - img0[:, ::-1][:, :-1].astype(int)
    assert np.abs(diff).max() <= 1
    # the joint called left_wrist (9) now sits where right_wrist (10) appears mirrored in the crop
    w = 96
    for left, right in COCO_KEYPOINT_SET.flip_pairs:
        np.testing.assert_allclose(meta1["joints"][left, 0], w - meta0["joints"][right, 0], atol=1e-3)
        np.testing.assert_allclose(meta1["joints"][left, 1], meta0["joints"][right, 1], atol=1e-3)
    # and its heatmap peak follows it
    peak = np.unravel_index(int(target1[9].argmax()), target1[9].shape)
    assert abs(peak[1] - meta1["joints"][9, 0] / 4) <= 0.5 + 1e-6 and abs(peak[0] - meta1["joints"][9, 1] / 4) <= 0.51


def test_target_weights_visibility_and_per_joint_weights(tmp_path):
    kp = full_keypoints()
    kp[3] = (0, 0, 0)  # not labelled
    kp[4, 2] = 1  # labelled, occluded
    kp[16] = (199, 99, 2)  # far outside the box: outside the crop
    doc = coco_document([person(kp, [30, 5, 80, 60])])
    path = write_dataset(tmp_path, doc)
    ds = COCOJsonDataset(path, tmp_path / "images", is_train=False, **SIZE)
    _, target, weight, meta = ds[0]
    w = weight[:, 0].numpy()
    assert w[3] == 0 and w[4] == 1 and w[16] == 0 and w[0] == 1
    assert target[3].max() == 0 and target[0].max() == 1
    weighted = COCOJsonDataset(path, tmp_path / "images", is_train=False, use_different_joints_weight=True, **SIZE)
    _, _, weight2, _ = weighted[0]
    expected = np.array(COCO_KEYPOINT_SET.joints_weight) * w
    np.testing.assert_allclose(weight2[:, 0].numpy(), expected)
    assert weight2[9, 0] == pytest.approx(1.5)


def test_half_body_crops_the_upper_or_lower_body(tmp_path):
    kp = full_keypoints()
    doc = coco_document([person(kp, [30, 5, 140, 90])])
    path = write_dataset(tmp_path, doc)
    aug = Augmentation(scale_factor=0.0, rotation_factor=0.0, flip=False, prob_half_body=1.0, num_joints_half_body=8)
    ds = COCOJsonDataset(path, tmp_path / "images", is_train=True, augmentation=aug, **SIZE)
    upper, lower = kp[:11, :2], kp[11:, :2]
    seen = set()
    np.random.seed(1)
    random.seed(1)
    for _ in range(30):
        _, _, _, meta = ds[0]
        c, s = meta["center"], meta["scale"]
        part = "upper" if np.allclose(c, upper.mean(0), atol=1e-4) else "lower"
        sel = upper if part == "upper" else lower
        np.testing.assert_allclose(c, sel.mean(0), atol=1e-4)
        w, h = np.ptp(sel, axis=0)
        w, h = max(w, h * 0.75), max(h, w / 0.75)
        np.testing.assert_allclose(s, np.array([w, h]) / 200 * 1.5, rtol=1e-5)
        assert s[1] < ds.db[0]["scale"][1]
        seen.add(part)
    assert seen == {"upper", "lower"}
    # too few labelled joints (<= NUM_JOINTS_HALF_BODY): no half body
    kp2 = kp.copy()
    kp2[8:, 2] = 0
    path2 = write_dataset(tmp_path / "few", coco_document([person(kp2, [30, 5, 140, 90])]))
    ds2 = COCOJsonDataset(path2, tmp_path / "few" / "images", is_train=True, augmentation=aug, **SIZE)
    _, _, _, meta = ds2[0]
    np.testing.assert_array_equal(meta["center"], ds2.db[0]["center"])


def test_color_rgb_reverses_channels(tmp_path):
    path = write_dataset(tmp_path, coco_document([person(full_keypoints(), [30, 5, 120, 90])]))
    bgr = COCOJsonDataset(path, tmp_path / "images", is_train=False, transform=None, **SIZE)[0][0]
    rgb = COCOJsonDataset(path, tmp_path / "images", is_train=False, transform=None, color_rgb=True, **SIZE)[0][0]
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])


# -- keypoint sets ------------------------------------------------------------------------------
def test_flip_pairs_from_names():
    names = ["nose", "left_eye", "right_eye", "l_paw", "r_paw", "LeftEar", "RightEar", "wing_left", "wing_right",
             "tail", "left_only"]
    assert flip_pairs_from_names(names) == [(1, 2), (3, 4), (5, 6), (7, 8)]


# -- errors ---------------------------------------------------------------------------------------
def test_corrupt_and_missing_images_name_the_file(tmp_path):
    doc = coco_document([person(full_keypoints(), [30, 5, 120, 90])])
    doc["images"].append({"id": 2, "file_name": "missing.png", "width": 200, "height": 100})
    doc["annotations"].append(dict(doc["annotations"][0], image_id=2, id=7))
    path = write_dataset(tmp_path, doc)
    (tmp_path / "images" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    ds = COCOJsonDataset(path, tmp_path / "images", is_train=True, **SIZE)
    with pytest.raises(DatasetError, match=r"a\.png"):
        ds[0]
    with pytest.raises(DatasetError, match=r"not found: .*missing\.png"):
        ds[1]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("images"), r"field 'images' is missing"),
        (lambda d: d.__setitem__("annotations", {}), r"field 'annotations' must be a list"),
        (lambda d: d["annotations"][0].__setitem__("keypoints", [1, 2, 3]),
         r"annotations\[0\]\.keypoints has 3 values; expected 3 x 17"),
        (lambda d: d["annotations"][0].__setitem__("bbox", [1, 2]), r"annotations\[0\]\.bbox"),
        (lambda d: d["annotations"][0].__setitem__("image_id", 99), r"annotations\[0\]\.image_id 99"),
        (lambda d: d["images"][0].pop("file_name"), r"images\[0\]\.file_name"),
        (lambda d: d["images"][0].__setitem__("width", "wide"), r"images\[0\]\.width"),
        (lambda d: d["categories"][0].pop("keypoints"), r"has no 'keypoints' list"),
    ],
)
def test_malformed_annotation_json_names_file_and_field(tmp_path, mutate, message):
    doc = coco_document([person(full_keypoints(), [30, 5, 120, 90])])
    mutate(doc)
    path = write_dataset(tmp_path, doc)
    with pytest.raises(DatasetError, match=message) as info:
        COCOJsonDataset(path, tmp_path / "images", is_train=True, **SIZE)
    assert str(path) in str(info.value)


def test_invalid_json_and_missing_files(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"images": [}')
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match=r"bad\.json is not valid JSON: .*line 1"):
        COCOJsonDataset(path, tmp_path / "images", is_train=True, **SIZE)
    with pytest.raises(DatasetError, match=r"Annotation file not found: .*nope\.json"):
        COCOJsonDataset(tmp_path / "nope.json", tmp_path / "images", is_train=True, **SIZE)
    with pytest.raises(DatasetError, match="Image folder not found"):
        COCOJsonDataset(path, tmp_path / "no_images", is_train=True, **SIZE)
