"""Dataset evaluation: COCO AP through pycocotools (results JSON, rescoring, OKS NMS), coco_json
with a non-COCO keypoint set (its own sigmas), detection boxes, the official COCO layout, MPII
PCKh."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from hrnet.dataset import COCODataset, COCOJsonDataset
from hrnet.dataset.coco import COCO_STATS_NAMES
from hrnet.dataset.coco_json import DEFAULT_SIGMA
from hrnet.dataset.mpii import MPII_JOINT_NAMES, pckh
from hrnet.dataset.synthetic import generate_dataset
from hrnet.errors import DatasetError

from .test_dataset import SIZE, coco_document, person, write_image

COCO_SIGMA_NOSE = 0.026


def ground_truth_predictions(ds, noise: float = 0.0, seed: int = 0):
    """Predictions equal to the ground truth of every sample, in the validate() layout."""
    rng = np.random.default_rng(seed)
    n = len(ds)
    preds = np.zeros((n, ds.num_joints, 3), dtype=np.float32)
    boxes = np.zeros((n, 6))
    paths = []
    for i, rec in enumerate(ds.db):
        preds[i, :, :2] = rec["joints_3d"][:, :2] + rng.normal(0, noise, (ds.num_joints, 2))
        preds[i, :, 2] = 0.9
        boxes[i, :2], boxes[i, 2:4] = rec["center"], rec["scale"]
        boxes[i, 4], boxes[i, 5] = np.prod(rec["scale"] * 200), rec.get("score", 1)
        paths.append(rec["image"])
    return preds, boxes, paths


@pytest.fixture(scope="module")
def val_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth_val")
    generate_dataset(root, 8, image_size=(200, 150), people=(1, 3), seed=5, split_name="val2017", image_format="jpg")
    return root


def test_coco_ap_is_one_when_predictions_equal_ground_truth(val_set, tmp_path):
    ds = COCOJsonDataset(val_set / "annotations" / "person_keypoints_val2017.json", val_set / "images" / "val2017",
                         is_train=False, **SIZE)
    preds, boxes, paths = ground_truth_predictions(ds)
    name_value, ap = ds.evaluate(preds, tmp_path, boxes, paths)
    assert list(name_value) == list(COCO_STATS_NAMES)
    assert ap == 1.0 and name_value["AP .5"] == 1.0 and name_value["AR"] == 1.0
    results = json.loads((tmp_path / "results" / "keypoints_val2017_results_0.json").read_text())
    assert len(results) == len(ds) and set(results[0]) >= {"image_id", "category_id", "keypoints", "score"}
    assert results[0]["score"] == pytest.approx(0.9)  # rescored: box score 1 x mean keypoint confidence
    # noisy predictions score lower; an exact duplicate of a person is removed by OKS NMS
    noisy_preds, _, _ = ground_truth_predictions(ds, noise=4.0)
    noisy = ds.evaluate(noisy_preds, None, boxes, paths)[1]
    assert 0.0 < noisy < 1.0
    dup = (np.concatenate([preds, preds[:1]]), np.concatenate([boxes, boxes[:1]]), paths + paths[:1])
    assert ds.evaluate(dup[0], tmp_path, dup[1], dup[2])[1] == 1.0
    assert len(json.loads((tmp_path / "results" / "keypoints_val2017_results_0.json").read_text())) == len(ds)


def test_official_coco_layout(val_set):
    ds = COCODataset(val_set, "val2017", is_train=False, **SIZE)
    assert ds.num_joints == 17 and len(ds) > 0
    assert Path(ds.db[0]["image"]) == val_set / "images" / "val2017" / "000000000001.jpg"
    preds, boxes, paths = ground_truth_predictions(ds)
    assert ds.evaluate(preds, None, boxes, paths)[1] == 1.0
    # DataLoader workers get the dataset without the pycocotools index; it is rebuilt when needed
    copy = pickle.loads(pickle.dumps(ds))
    assert copy._coco is None and copy.evaluate(preds, None, boxes, paths)[1] == 1.0


def test_detection_boxes_for_testing(val_set, tmp_path):
    gt = json.loads((val_set / "annotations" / "person_keypoints_val2017.json").read_text())
    dets = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": s}
            for a, s in zip(gt["annotations"], np.linspace(0.05, 1.0, len(gt["annotations"])))]
    dets.append({"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 1.0})  # not a person
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    ds = COCODataset(val_set, "val2017", is_train=False, use_gt_bbox=False, bbox_file=det_file, image_thre=0.5,
                     **SIZE)
    kept = [d for d in dets[:-1] if d["score"] >= 0.5]
    assert len(ds) == len(kept)
    assert [r["score"] for r in ds.db] == pytest.approx([d["score"] for d in kept])
    _, _, weight, meta = ds[0]
    assert meta["score"] == pytest.approx(kept[0]["score"]) and weight.shape == (17, 1)
    with pytest.raises(DatasetError, match="TEST.COCO_BBOX_FILE"):
        COCODataset(val_set, "val2017", is_train=False, use_gt_bbox=False, **SIZE)
    det_file.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0], "score": 1}]))
    with pytest.raises(DatasetError, match=r"dets\.json: \[0\]\.bbox"):
        COCODataset(val_set, "val2017", is_train=False, use_gt_bbox=False, bbox_file=det_file, **SIZE)


def five_joint_dataset(tmp_path: Path) -> Path:
    names = ["nose", "left_paw", "right_paw", "tail_base", "tail_tip"]
    category = {"id": 7, "name": "critter", "keypoints": names, "skeleton": [[1, 4], [4, 5], [2, 4], [3, 4]]}
    rng = np.random.default_rng(0)
    anns = []
    for i in range(6):
        kp = np.zeros((5, 3))
        x0, y0 = 20 + 60 * (i % 3), 15 + 70 * (i // 3)
        kp[:, 0] = x0 + rng.uniform(0, 40, 5)
        kp[:, 1] = y0 + rng.uniform(0, 50, 5)
        kp[:, 2] = 2
        kp[4] = (0, 0, 0) if i == 0 else kp[4]
        lab = kp[kp[:, 2] > 0]
        box = [lab[:, 0].min() - 3, lab[:, 1].min() - 3, np.ptp(lab[:, 0]) + 6, np.ptp(lab[:, 1]) + 6]
        anns.append(person(kp, [float(v) for v in box], category_id=7, id=i + 1))
    doc = coco_document(anns, width=200, height=150, category=category)
    write_image(tmp_path / "img" / "a.png", 200, 150)
    path = tmp_path / "critters.json"
    path.write_text(json.dumps(doc))
    return path


def test_coco_json_with_a_five_joint_keypoint_set(tmp_path):
    ds = COCOJsonDataset(five_joint_dataset(tmp_path), tmp_path / "img", is_train=True, image_size=(64, 64),
                         heatmap_size=(16, 16), sigma=1.0)
    assert ds.num_joints == 5 and ds.keypoint_names[1] == "left_paw"
    assert ds.flip_pairs == [[1, 2]]
    assert ds.upper_body_ids == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(ds.sigmas, [COCO_SIGMA_NOSE, DEFAULT_SIGMA, DEFAULT_SIGMA, DEFAULT_SIGMA, DEFAULT_SIGMA])
    assert ds.keypoint_set.skeleton == ((0, 3), (3, 4), (1, 3), (2, 3))
    _, target, weight, _ = ds[0]
    assert target.shape == (5, 16, 16) and weight.shape == (5, 1)

    val = COCOJsonDataset(tmp_path / "critters.json", tmp_path / "img", is_train=False, image_size=(64, 64),
                          heatmap_size=(16, 16), sigma=1.0)
    preds, boxes, paths = ground_truth_predictions(val)
    name_value, ap = val.evaluate(preds, tmp_path / "out", boxes, paths)
    assert ap == 1.0 and name_value["AR"] == 1.0
    results = json.loads((tmp_path / "out" / "results" / "keypoints_critters_results_0.json").read_text())
    assert len(results[0]["keypoints"]) == 15 and results[0]["category_id"] == 7
    # the sigmas reach COCOeval: a shift of the nose alone costs more than the same shift of a paw
    shifted_nose, shifted_paw = preds.copy(), preds.copy()
    shifted_nose[:, 0, 0] += 3.0
    shifted_paw[:, 1, 0] += 3.0
    ap_nose = val.evaluate(shifted_nose, None, boxes, paths)[1]
    ap_paw = val.evaluate(shifted_paw, None, boxes, paths)[1]
    assert ap_nose < ap_paw


def test_category_sigmas_override(tmp_path):
    path = five_joint_dataset(tmp_path)
    doc = json.loads(path.read_text())
    doc["categories"][0]["sigmas"] = [0.1, 0.2, 0.2, 0.3, 0.4]
    path.write_text(json.dumps(doc))
    ds = COCOJsonDataset(path, tmp_path / "img", is_train=False, **SIZE)
    assert list(ds.sigmas) == [0.1, 0.2, 0.2, 0.3, 0.4]
    doc["categories"][0]["sigmas"] = [0.1]
    path.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="'sigmas' must be 5 positive numbers"):
        COCOJsonDataset(path, tmp_path / "img", is_train=False, **SIZE)


def test_mpii_pckh_official_arithmetic():
    rng = np.random.default_rng(0)
    n = 40
    gt = rng.uniform(0, 300, (16, 2, n))
    missing = (rng.random((16, n)) < 0.2).astype(float)
    head = np.zeros((2, 2, n))
    head[1] = 60.0  # head size 60 * sqrt(2) * 0.6 ~ 50.9 px
    preds = np.transpose(gt, [2, 0, 1]).copy()
    perfect = pckh(preds, gt, missing, head)
    assert all(v == pytest.approx(100.0) for v in perfect.values())
    assert list(perfect) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]
    off = preds.copy()
    off[:, :, 0] += 20.0  # 20 px < 0.5 * 50.9: still correct at 0.5, wrong at 0.1
    shifted = pckh(off, gt, missing, head)
    assert shifted["Mean"] == pytest.approx(100.0) and shifted["Mean@0.1"] == pytest.approx(0.0)
    far = preds.copy()
    far[:, MPII_JOINT_NAMES.index("head"), 0] += 100.0
    assert pckh(far, gt, missing, head)["Head"] == 0.0


def test_mpii_dataset_reads_the_official_layout(tmp_path):
    from hrnet.dataset import MPIIDataset

    (tmp_path / "annot").mkdir()
    write_image(tmp_path / "images" / "x.jpg", 200, 150)
    joints = np.stack([np.linspace(50, 150, 16), np.linspace(20, 130, 16)], axis=1)
    anno = [{"image": "x.jpg", "center": [101, 76], "scale": 0.6, "joints": joints.tolist(), "joints_vis": [1] * 16}]
    (tmp_path / "annot" / "valid.json").write_text(json.dumps(anno))
    ds = MPIIDataset(tmp_path, "valid", is_train=False, image_size=(64, 64), heatmap_size=(16, 16), sigma=1.0)
    rec = ds.db[0]
    np.testing.assert_allclose(rec["center"], [100, 75 + 15 * 0.6])  # 0-based, moved down 15 * scale
    np.testing.assert_allclose(rec["scale"], [0.75, 0.75])
    np.testing.assert_allclose(rec["joints_3d"][:, :2], joints - 1)
    assert ds.flip_pairs[0] == [0, 5] and ds[0][1].shape == (16, 16, 16)
    anno[0]["joints"] = anno[0]["joints"][:3]
    (tmp_path / "annot" / "valid.json").write_text(json.dumps(anno))
    with pytest.raises(DatasetError, match=r"valid\.json: \[0\]: joints must be 16"):
        MPIIDataset(tmp_path, "valid", is_train=False, image_size=(64, 64), heatmap_size=(16, 16))


def test_mpii_evaluate_without_scipy_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    from hrnet.dataset import MPIIDataset

    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    (tmp_path / "annot").mkdir()
    (tmp_path / "annot" / "valid.json").write_text("[]")
    ds = MPIIDataset(tmp_path, "valid", is_train=False, image_size=(64, 64), heatmap_size=(16, 16))
    with pytest.raises(DatasetError, match="needs scipy"):
        ds.evaluate(np.zeros((0, 16, 3)), None)
