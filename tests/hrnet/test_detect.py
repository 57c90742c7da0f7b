from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hrnet.detect import (
    CocoJsonDetector,
    Detections,
    Detector,
    FullImageDetector,
    TorchvisionDetector,
    build_detector,
    detector_weights_path,
    filter_detections,
)
from hrnet.errors import DatasetError, WeightsError


def _dets() -> Detections:
    boxes = np.array(
        [
            [0, 0, 100, 200],  # person 0.9
            [2, 2, 102, 202],  # person 0.8, overlaps the first
            [300, 300, 310, 305],  # person 0.7, tiny
            [50, 50, 150, 150],  # car 0.95
            [400, 0, 500, 100],  # person 0.2
        ],
        np.float32,
    )
    return Detections(boxes, [0.9, 0.8, 0.7, 0.95, 0.2], [1, 1, 1, 3, 1])


def test_detections_container():
    d = Detections([[1, 2, 3, 4]], [0.5])
    assert d.boxes.dtype == np.float32 and d.labels.tolist() == [1] and len(d) == 1
    np.testing.assert_array_equal(d.boxes_xywh, [[1, 2, 2, 2]])
    assert len(Detections.empty()) == 0 and Detections.empty().boxes.shape == (0, 4)


def test_filter_options():
    d = _dets()
    assert filter_detections(d, person_only=True).scores.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.2])
    assert filter_detections(d, person_only=False).scores.tolist()[0] == pytest.approx(0.95)
    assert filter_detections(d, score_threshold=0.5).scores.tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert filter_detections(d, min_size=20).scores.tolist() == pytest.approx([0.9, 0.8, 0.2])
    assert filter_detections(d, nms_iou=0.5).scores.tolist() == pytest.approx([0.9, 0.7, 0.2])
    assert filter_detections(d, max_detections=2).scores.tolist() == pytest.approx([0.9, 0.8])
    # class-wise NMS: the car does not suppress the overlapping person
    assert len(filter_detections(d, person_only=False, nms_iou=0.1)) == 4


def test_full_image():
    det = build_detector("full")
    assert isinstance(det, FullImageDetector) and isinstance(det, Detector)
    out = det(np.zeros((48, 64, 3), np.uint8))
    np.testing.assert_array_equal(out.boxes, [[0, 0, 64, 48]])
    assert out.scores.tolist() == [1.0]


def _write_results(tmp_path):
    entries = [
        {"image_id": 397133, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"image_id": 397133, "category_id": 1, "bbox": [100, 20, 30, 40], "score": 0.1},
        {"image_id": 397133, "category_id": 2, "bbox": [0, 0, 5, 5], "score": 0.99},
        {"image_id": 42, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5, "file_name": "a/frame.png"},
    ]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(entries))
    return path


def test_json_detector_official_format(tmp_path):
    path = _write_results(tmp_path)
    det = build_detector(f"json:{path}")
    assert isinstance(det, CocoJsonDetector)
    out = det(None, image_key=397133)
    np.testing.assert_allclose(out.boxes, [[10, 20, 40, 60], [100, 20, 130, 60]])
    assert out.scores.tolist() == pytest.approx([0.9, 0.1])
    # by COCO file name, and by path
    assert len(det(None, image_key="000000397133.jpg")) == 2
    assert len(det(None, image_key=tmp_path / "val2017" / "000000397133.jpg")) == 2
    # by file_name field (also with a different folder)
    assert len(det(None, image_key="a/frame.png")) == 1
    assert len(det(None, image_key="/elsewhere/frame.png")) == 1
    assert len(det(None, image_key=7)) == 0
    assert len(build_detector("json", path=path, score_threshold=0.5)(None, image_key=397133)) == 1
    with pytest.raises(ValueError, match="image_key"):
        det(np.zeros((4, 4, 3), np.uint8))


def test_json_detector_coco_document(tmp_path):
    doc = {
        "images": [{"id": 5, "file_name": "walk.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 1, "bbox": [1, 1, 10, 20]}],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc))
    out = CocoJsonDetector(path)(None, image_key="walk.jpg")
    np.testing.assert_allclose(out.boxes, [[1, 1, 11, 21]])
    assert out.scores.tolist() == [1.0]


@pytest.mark.parametrize("content", [None, "{not json", '{"images": []}', '[{"image_id": 1}]'])
def test_json_detector_errors(tmp_path, content):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError, match="bad.json"):
        CocoJsonDetector(path)


def test_unknown_detector():
    with pytest.raises(ValueError, match="unknown detector"):
        build_detector("yolo")
    with pytest.raises(ValueError, match="needs a file"):
        build_detector("json")


@pytest.mark.parametrize("name", ["fasterrcnn", "ssdlite"])
def test_missing_weights_message(name, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    path = detector_weights_path(name)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    with pytest.raises(WeightsError) as info:
        TorchvisionDetector(name, download=False, device="cpu")
    message = str(info.value)
    assert path.name in message and str(path) in message and "https://" in message


def test_failed_download_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError, match="could not be downloaded.*network is unreachable"):
        TorchvisionDetector("ssdlite", device="cpu")


def test_weights_from_a_file_and_random_forward(tmp_path):
    torch.manual_seed(0)
    det = TorchvisionDetector("ssdlite", weights=None, score_threshold=0.0, max_detections=5)
    path = tmp_path / "ssd.pth"
    torch.save(det.model.state_dict(), path)
    det2 = TorchvisionDetector("ssdlite", weights=path, score_threshold=0.0, max_detections=5)
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    a, b = det(image), det2(image)
    assert a.boxes.shape[1] == 4 and len(a) <= 5
    assert (a.labels == 1).all()
    assert (np.diff(a.scores) <= 0).all()
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)
    both = det.detect_batch([image, image[:60]])
    assert len(both) == 2
    with pytest.raises(WeightsError):
        TorchvisionDetector("ssdlite", weights=tmp_path / "missing.pth")


def test_fasterrcnn_random_weights_shapes():
    torch.manual_seed(0)
    det = build_detector(
        "fasterrcnn", weights=None, score_threshold=0.0, person_only=False, nms_iou=0.3,
        model_kwargs={"min_size": 96, "max_size": 128, "rpn_post_nms_top_n_test": 50, "box_detections_per_img": 20},
    )
    out = det(np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    assert out.boxes.shape == (len(out), 4) and out.scores.shape == (len(out),)
    if len(out):
        assert (out.boxes[:, 2] <= 128 + 1e-3).all() and (out.boxes[:, 3] <= 96 + 1e-3).all()
