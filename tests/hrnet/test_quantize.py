"""The int8 path (hrnet.quantize): ONNX Runtime static quantisation calibrated on the user's frames,
the cache, the accuracy gate, the CLI flags and clear errors for bad calibration input."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from hrnet import quantize
from hrnet.calibration import load_calibration
from hrnet.dataset.synthetic import render_scene
from hrnet.errors import ConfigError
from hrnet.predictor import Predictor
from hrnet.quantize import CalibrationError

EXPERIMENT = "synthetic/hrnet_w16_128x96"
DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "hrnet_w16_synthetic.pth"


def _frames(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        scene = render_scene(rng, people=(1, 3), occlusion=0.3)
        boxes = np.array([[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in scene.people])
        out.append((scene.image, boxes))
    return out


@pytest.fixture(scope="module")
def calibration():
    return _frames(16, seed=7)


@pytest.fixture()
def weights(tmp_path):
    w = tmp_path / "demo.pth"
    shutil.copyfile(DEMO, w)
    return w


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))


def test_int8_end_to_end_matches_fp32(weights, calibration):
    q = Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=calibration)
    assert q.precision == "int8", q.int8_report.summary()
    report = q.int8_report
    assert report.passed and report.agreement >= quantize.MIN_AGREEMENT
    assert report.crops >= 4 and report.calibration_crops >= 8
    assert isinstance(q.model, quantize.OrtHeatmapModel)
    assert list(weights.parent.glob("demo.int8-*.onnx")), "the int8 model is cached next to the weights"

    fp = Predictor(EXPERIMENT, weights=weights, device="cpu")
    test = _frames(6, seed=11)
    a = fp.predict_batch([im for im, _ in test], [b for _, b in test], return_heatmaps=True)
    b = q.predict_batch([im for im, _ in test], [b for _, b in test], return_heatmaps=True)
    ka = np.concatenate([r.keypoints for rs in a for r in rs])
    kb = np.concatenate([r.keypoints for rs in b for r in rs])
    confident = ka[:, 2] > 0.2
    dist = np.linalg.norm(ka[confident, :2] - kb[confident, :2], axis=1)
    assert np.median(dist) < 2.0
    assert b[0][0].heatmaps.shape == a[0][0].heatmaps.shape and b[0][0].heatmaps.dtype == np.float32
    # pre/post-processing unchanged: same crops' geometry, same decoding
    np.testing.assert_allclose(a[0][0].center, b[0][0].center)
    np.testing.assert_allclose(a[0][0].heatmap_to_image, b[0][0].heatmap_to_image)


def test_second_construction_hits_the_cache(weights, calibration):
    Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=calibration)

    def never():
        raise AssertionError("calibration must not run again")

    q = Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=never)
    assert q.precision == "int8"
    _, _, cached = quantize.build_int8_model(q, weights, never)
    assert cached


def test_int8_builds_no_torch_model_it_does_not_run(weights, calibration, monkeypatch):
    import hrnet.models

    real = hrnet.models.build_model
    built = []

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hrnet.models, "build_model", counting)
    q = Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=calibration)
    assert q.precision == "int8" and len(built) == 1  # the one exported to ONNX; no torch Predictor model
    built.clear()
    q = Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=None)
    assert q.precision == "int8" and built == []  # cached: no torch model at all
    assert q.keypoint_names == Predictor(EXPERIMENT, weights=weights, device="cpu").keypoint_names


def test_cache_falls_back_to_user_dir_when_weights_folder_is_read_only(weights, calibration, tmp_path, monkeypatch):
    real_store = quantize.atomic_write_bytes

    def deny_weights_dir(path, data):
        if path.parent == weights.parent:
            raise PermissionError("read-only")
        real_store(path, data)

    monkeypatch.setattr(quantize, "atomic_write_bytes", deny_weights_dir)
    q = Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=calibration)
    assert q.precision == "int8"
    assert not list(weights.parent.glob("demo.int8-*"))
    assert list((tmp_path / "cache" / "int8").glob("demo.int8-*.onnx"))


def _outlier_checkpoint(src: Path, dst: Path) -> None:
    """The same function in fp32, but one stem channel carries values 1000x larger than the
    others (its BatchNorm scaled up, the next convolution's weights scaled down): a per-tensor
    uint8 activation range cannot represent the other channels any more."""
    sd = {k: v.float() for k, v in torch.load(src, map_location="cpu", weights_only=True).items()}
    c = 0
    sd["bn1.weight"][c] *= 1000.0
    sd["bn1.bias"][c] *= 1000.0
    sd["conv2.weight"][:, c] /= 1000.0
    torch.save(sd, dst)


def test_gate_falls_back_to_fp32_with_a_message(tmp_path, calibration, caplog):
    bad = tmp_path / "outlier.pth"
    _outlier_checkpoint(DEMO, bad)
    fp = Predictor(EXPERIMENT, weights=bad, device="cpu")
    ref = Predictor(EXPERIMENT, weights=DEMO, device="cpu")
    image, boxes = calibration[0]
    np.testing.assert_allclose(fp.predict(image, boxes)[0].keypoints, ref.predict(image, boxes)[0].keypoints,
                               atol=0.05)  # the checkpoint is as good as the original in fp32
    with caplog.at_level(logging.WARNING, logger="hrnet.predictor"):
        q = Predictor(EXPERIMENT, weights=bad, device="cpu", precision="int8", calibration=calibration)
    assert q.precision == "fp32"
    assert not q.int8_report.passed
    assert "int8 not used, staying fp32" in caplog.text and "int8 rejected" in caplog.text
    assert not isinstance(q.model, quantize.OrtHeatmapModel)  # the fallback built the torch model
    np.testing.assert_allclose(q.predict(image, boxes)[0].keypoints, fp.predict(image, boxes)[0].keypoints)
    # the verdict is cached too: no second calibration, same fallback
    q2 = Predictor(EXPERIMENT, weights=bad, device="cpu", precision="int8", calibration=None)
    assert q2.precision == "fp32" and not q2.int8_report.passed


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        (None, "needs calibration frames"),
        ("frames/", "list of (image_bgr, boxes_xyxy) pairs"),
        ([np.zeros((64, 64, 3), np.uint8)], "expected an (image_bgr, boxes_xyxy) pair"),
        ([(np.zeros((64, 64), np.float32), [[0, 0, 10, 10]])], "HxWx3 uint8"),
        ([(np.zeros((64, 64, 3), np.uint8), [[0, 0, 10]])], "(N, 4)"),
        ([(np.zeros((64, 64, 3), np.uint8), [[0, 0, 10, np.nan]])], "NaN"),
        ([(np.zeros((64, 64, 3), np.uint8), [[0, 0, 10, 10]])], "at least 4 person boxes"),
    ],
)
def test_bad_calibration_input_is_a_clear_error(weights, calibration, message):
    with pytest.raises(CalibrationError) as e:
        Predictor(EXPERIMENT, weights=weights, device="cpu", precision="int8", calibration=calibration)
    assert message in str(e.value)


def test_int8_needs_weights_and_the_cpu():
    with pytest.raises(ConfigError, match="trained weights"):
        Predictor(EXPERIMENT, device="cpu", precision="int8", calibration=[])
    with pytest.raises(ConfigError, match="runs on the CPU"):
        Predictor(EXPERIMENT, weights=DEMO, device="cuda", precision="int8")
    with pytest.raises(ConfigError, match="precision"):
        Predictor(EXPERIMENT, weights=DEMO, device="cpu", precision="int4")


def test_load_calibration_sources(tmp_path, calibration):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, (image, boxes) in enumerate(calibration[:5]):
        x1, y1, x2, y2 = boxes[0].astype(int)
        cv2.imwrite(str(folder / f"p{i}.png"), image[y1:y2 + 1, x1:x2 + 1])
    frames = load_calibration(folder)
    assert len(frames) == 5 and all(b.shape == (1, 4) for _, b in frames)
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "missing.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CalibrationError, match="no images"):
        load_calibration(empty)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="bad.json"):
        load_calibration(tmp_path / "bad.json")


def test_load_calibration_from_coco_training_layout(tmp_path):
    from hrnet.dataset.synthetic import generate_dataset

    ann = generate_dataset(tmp_path / "synth", 6, seed=3, split_name="train")
    frames = load_calibration(ann)
    assert len(frames) == 6 and sum(len(b) for _, b in frames) >= 6


def test_cli_predict_and_export_int8(weights, tmp_path, calibration, capsys):
    from hrnet.cli.export import main as export_main
    from hrnet.cli.predict import main as predict_main

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, (image, boxes) in enumerate(calibration[:6]):
        x1, y1, x2, y2 = boxes[0].astype(int)
        cv2.imwrite(str(imgs / f"person{i}.png"), image[y1:y2 + 1, x1:x2 + 1])
    out = tmp_path / "res.json"
    code = predict_main([str(imgs), "--experiment", EXPERIMENT, "--weights", str(weights), "--detector", "full",
                         "--precision", "int8", "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.is_file() and list(weights.parent.glob("demo.int8-*.onnx"))

    onnx_out = tmp_path / "int8.onnx"
    code = export_main(["--experiment", EXPERIMENT, "--weights", str(weights), "--format", "onnx", "--int8",
                        "--calibration", str(imgs), "--out", str(onnx_out)])
    printed = capsys.readouterr().out
    assert code == 0 and "int8 in use" in printed
    session = quantize.ort_session(onnx_out, 1)
    (hm,) = session.run(["heatmaps"], {"input": np.zeros((2, 3, 128, 96), np.float32)})
    assert hm.shape == (2, 17, 32, 24)
    assert any(n.op_type == "QuantizeLinear" for n in __import__("onnx").load(str(onnx_out)).graph.node)

    with pytest.raises(SystemExit):
        export_main(["--experiment", EXPERIMENT, "--weights", str(weights), "--format", "onnx", "--int8",
                     "--out", str(onnx_out)])
    assert "--calibration" in capsys.readouterr().err
    code = export_main(["--experiment", EXPERIMENT, "--weights", str(weights), "--format", "onnx", "--int8",
                        "--calibration", str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")])
    assert code == 2 and "not found" in capsys.readouterr().err
