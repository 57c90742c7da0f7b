"""The Predictor against a step-by-step official test pipeline (hrnet.utils / hrnet.core functions
that mirror the official ones), plus its API contract."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hrnet import PoseResult, Predictor
from hrnet.config import load_config
from hrnet.core.inference import get_final_preds
from hrnet.detect import FullImageDetector
from hrnet.errors import CheckpointError, ConfigError, WeightsError
from hrnet.models import build_model
from hrnet.utils.transforms import affine_transform_points, box_to_center_scale, flip_back, get_affine_transform

EXPERIMENT = "synthetic/hrnet_w16_128x96"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _image(seed: int = 0, h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.circle(img, (100, 80), 25, (250, 250, 250), -1)
    cv2.line(img, (100, 100), (110, 200), (20, 200, 30), 6)
    return img


BOXES = np.array([[60.0, 40.0, 150.0, 220.0], [200.5, 10.25, 310.0, 120.0], [-20.0, 150.0, 40.0, 260.0]])
SCORES = np.array([0.9, 0.6, 0.3])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A W16 model with PyTorch's default init and non-trivial BatchNorm statistics, saved to disk."""
    torch.manual_seed(0)
    cfg = load_config(EXPERIMENT)
    model = build_model(cfg, is_train=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("ckpt") / "w16.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def reference_pipeline(model, cfg, image, boxes, box_scores, flip: bool):
    """The official validate() + COCODataset.evaluate() path, one box at a time."""
    w, h = (int(v) for v in cfg.MODEL.IMAGE_SIZE)
    data = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if cfg.DATASET.COLOR_RGB else image
    inputs, centers, scales = [], [], []
    for x1, y1, x2, y2 in boxes:
        c, s = box_to_center_scale([x1, y1, x2 - x1, y2 - y1], w / h)  # _box2cs with 1.25 padding
        trans = get_affine_transform(c, s, 0, (w, h))
        crop = cv2.warpAffine(data, trans, (w, h), flags=cv2.INTER_LINEAR)
        t = torch.from_numpy(crop).permute(2, 0, 1).contiguous().float().div(255)  # ToTensor
        t = (t - torch.from_numpy(MEAN)[:, None, None]) / torch.from_numpy(STD)[:, None, None]  # Normalize
        inputs.append(t)
        centers.append(c)
        scales.append(s)
    x = torch.stack(inputs)
    with torch.no_grad():
        output = model(x)
        if flip:
            flip_pairs = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]
            out_f = flip_back(model(x.flip(3)).numpy(), flip_pairs)
            out_f = torch.from_numpy(out_f.copy())
            if cfg.TEST.SHIFT_HEATMAP:
                out_f[:, :, :, 1:] = out_f.clone()[:, :, :, 0:-1]
            output = (output + out_f) * 0.5
    heatmaps = output.numpy()
    preds, maxvals = get_final_preds(
        heatmaps, np.array(centers), np.array(scales), post_process=cfg.TEST.POST_PROCESS,
        decode=cfg.TEST.DECODE, sigma=cfg.MODEL.SIGMA,
    )
    scores = []
    for n in range(len(boxes)):
        kpt_score, valid = 0.0, 0
        for j in range(cfg.MODEL.NUM_JOINTS):
            if maxvals[n, j, 0] > cfg.TEST.IN_VIS_THRE:
                kpt_score += float(maxvals[n, j, 0])
                valid += 1
        if valid:
            kpt_score /= valid
        scores.append(kpt_score * box_scores[n])
    return preds, maxvals, np.array(scores), heatmaps


@pytest.mark.parametrize("flip", [False, True])
def test_matches_official_pipeline_exactly(checkpoint, flip):
    path, model = checkpoint
    cfg = load_config(EXPERIMENT)
    image = _image()
    predictor = Predictor(EXPERIMENT, weights=path, device="cpu", flip_test=flip, optimize=False)
    results = predictor.predict(image, BOXES, SCORES, return_heatmaps=True)
    preds, maxvals, scores, heatmaps = reference_pipeline(model, cfg, image, BOXES, SCORES, flip)
    assert len(results) == len(BOXES)
    for i, r in enumerate(results):
        np.testing.assert_allclose(r.heatmaps, heatmaps[i], rtol=0, atol=1e-6)
        np.testing.assert_allclose(r.keypoints[:, :2], preds[i], atol=1e-6)
        np.testing.assert_allclose(r.keypoints[:, 2], maxvals[i, :, 0], atol=1e-6)
        assert r.score == pytest.approx(scores[i], abs=1e-6)
        np.testing.assert_array_equal(r.box, BOXES[i])
        assert r.box_score == pytest.approx(SCORES[i])


def test_optimized_model_gives_the_same_keypoints(checkpoint):
    path, model = checkpoint
    cfg = load_config(EXPERIMENT)
    image = _image(1)
    predictor = Predictor(EXPERIMENT, weights=path, device="cpu", flip_test=True)  # BN folded, channels_last
    results = predictor.predict(image, BOXES, SCORES, return_heatmaps=True)
    preds, maxvals, scores, heatmaps = reference_pipeline(model, cfg, image, BOXES, SCORES, True)
    got = np.stack([r.keypoints for r in results])
    np.testing.assert_allclose(np.stack([r.heatmaps for r in results]), heatmaps, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(got[..., 2], maxvals[..., 0], atol=1e-4)
    # the arg-max (hence the keypoint) may only move where two heatmap pixels tie within rounding
    same = np.isclose(got[..., :2], preds, atol=1e-3).all(axis=-1)
    assert same.mean() >= 0.95, same


def test_dark_decoding_matches_reference(checkpoint):
    path, model = checkpoint
    cfg = load_config(EXPERIMENT, ["TEST.DECODE", "dark"])
    image = _image(2)
    predictor = Predictor(cfg, weights=path, device="cpu", optimize=False)
    assert predictor.decode == "dark"
    results = predictor.predict(image, BOXES, SCORES)
    preds, maxvals, _, _ = reference_pipeline(model, cfg, image, BOXES, SCORES, False)
    np.testing.assert_allclose(np.stack([r.keypoints[:, :2] for r in results]), preds, atol=1e-4)


def test_bgr_experiment(checkpoint):
    path, model = checkpoint
    cfg = load_config(EXPERIMENT, ["DATASET.COLOR_RGB", "False"])
    image = _image(3)
    results = Predictor(cfg, weights=path, device="cpu", optimize=False).predict(image, BOXES[:1])
    preds, _, _, _ = reference_pipeline(model, cfg, image, BOXES[:1], [1.0], False)
    np.testing.assert_allclose(results[0].keypoints[:, :2], preds[0], atol=1e-6)


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu")


def test_api_contract(predictor):
    assert predictor.num_joints == 17 and predictor.keypoint_names[0] == "nose"
    assert predictor.device == torch.device("cpu")
    assert predictor.predict(_image(), np.zeros((0, 4))) == []
    assert predictor.predict(_image(), []) == []
    results = predictor.predict(_image(), BOXES[0])  # a single box as a flat array
    r = results[0]
    assert isinstance(r, PoseResult)
    assert r.keypoints.shape == (17, 3) and r.heatmaps is None and r.heatmap_to_image is None
    assert r.box_score == 1.0
    entry = r.to_coco(image_id=7)
    assert entry["image_id"] == 7 and entry["category_id"] == 1 and len(entry["keypoints"]) == 51
    np.testing.assert_allclose(entry["bbox"], [60, 40, 90, 180])


def test_heatmap_to_image_maps_heatmap_peaks(predictor):
    image = _image(4)
    cfg = load_config(EXPERIMENT, ["TEST.POST_PROCESS", "False"])
    p = Predictor(cfg, device="cpu")
    checked = 0
    for r in p.predict(image, BOXES, return_heatmaps=True):
        k, h, w = r.heatmaps.shape
        assert (h, w) == (32, 24) and k == 17
        flat = r.heatmaps.reshape(k, -1).argmax(1)
        peaks = np.stack([flat % w, flat // w], axis=1).astype(np.float64)
        positive = r.heatmaps.reshape(k, -1).max(1) > 0  # official get_max_preds zeroes the others
        mapped = affine_transform_points(peaks, r.heatmap_to_image)
        np.testing.assert_allclose(mapped[positive], r.keypoints[positive, :2], atol=1e-6)
        checked += int(positive.sum())
    assert checked > 0


def test_predict_batch_equals_single_calls(predictor):
    images = [_image(5), _image(6), _image(7)]
    boxes = [BOXES[:2], np.zeros((0, 4)), BOXES[1:]]
    scores = [SCORES[:2], None, SCORES[1:]]
    batch = predictor.predict_batch(images, boxes, scores)
    assert [len(b) for b in batch] == [2, 0, 2]
    for img, b, s, got in zip(images, boxes, scores, batch):
        single = predictor.predict(img, b, s)
        for x, y in zip(single, got):
            np.testing.assert_allclose(x.keypoints, y.keypoints, atol=1e-5)
            assert x.score == pytest.approx(y.score, abs=1e-6)


def test_chunked_forward_equals_one_pass(checkpoint):
    image = _image(8)
    many = np.concatenate([BOXES] * 3)
    a = Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu", batch_size=4).predict(image, many)
    b = Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu", batch_size=64).predict(image, many)
    np.testing.assert_allclose(np.stack([r.keypoints for r in a]), np.stack([r.keypoints for r in b]), atol=1e-5)


def test_predict_image_with_detector(predictor):
    image = _image(9)
    results = predictor.predict_image(image, FullImageDetector())
    assert len(results) == 1
    np.testing.assert_array_equal(results[0].box, [0, 0, 320, 240])


def test_input_validation(predictor):
    image = _image()
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        predictor.predict(image, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="box scores"):
        predictor.predict(image, BOXES, [1.0])
    with pytest.raises(ValueError, match="NaN"):
        predictor.predict(image, [[0, 0, np.nan, 4]])
    with pytest.raises(ValueError, match="uint8"):
        predictor.predict(image.astype(np.float32), BOXES)
    grey = predictor.predict(image[:, :, 0], BOXES[:1])  # grey images are accepted
    assert len(grey) == 1
    degenerate = predictor.predict(image, [[10, 10, 10, 10]])  # zero-size box: no crash
    assert np.isfinite(degenerate[0].keypoints).all()


def test_scores_follow_official_rescoring(predictor):
    maxvals = np.array([[[0.9], [0.1], [0.5]], [[0.1], [0.0], [0.15]]], np.float32)
    predictor_thre = predictor.in_vis_thre
    assert predictor_thre == pytest.approx(0.2)
    scores = predictor.rescore(maxvals, np.array([0.5, 1.0]))
    np.testing.assert_allclose(scores, [0.5 * (0.9 + 0.5) / 2, 0.0])


def test_errors(checkpoint, tmp_path):
    with pytest.raises(ConfigError):
        Predictor("no/such/experiment")
    with pytest.raises(ConfigError, match="device"):
        Predictor(EXPERIMENT, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            Predictor(EXPERIMENT, device="cuda")
    with pytest.raises(CheckpointError):
        Predictor("coco/hrnet/w32_256x192_adam_lr1e-3", weights=checkpoint[0], device="cpu")
    with pytest.raises(WeightsError, match="missing.pth"):
        Predictor(EXPERIMENT, weights=tmp_path / "missing.pth", device="cpu")


def test_random_weights_warn(caplog):
    with caplog.at_level("WARNING"):
        Predictor(EXPERIMENT, device="cpu")
    assert "random weights" in caplog.text


def test_fp16_on_the_cpu_reports_the_fp32_it_runs(checkpoint, caplog):
    with caplog.at_level("WARNING", logger="hrnet.predictor"):
        p = Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu", precision="fp16")
    assert p.precision == "fp32" and not p.half
    assert "fp16 was asked for on the CPU" in caplog.text and "running fp32" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="hrnet.predictor"):
        assert Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu", half=True).precision == "fp32"
        assert Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu").precision == "fp32"
    assert caplog.text.count("fp16 was asked for") == 1  # the default (half=None) is fp32 without a word


def test_cpu_model_is_fused_and_unoptimized_is_not(checkpoint):
    from hrnet.models.optimize import FusedConv2d as _FusedConv2d

    fused = Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu")
    plain = Predictor(EXPERIMENT, weights=checkpoint[0], device="cpu", optimize=False)
    if torch.backends.mkldnn.is_available():
        assert sum(isinstance(m, _FusedConv2d) for m in fused.model.modules()) > 50
    assert not any(isinstance(m, _FusedConv2d) for m in plain.model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.model.modules())
