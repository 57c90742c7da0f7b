from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from hrnet.cli.predict import main
from hrnet.config import load_config
from hrnet.models import build_model
from hrnet.predictor import Predictor

EXPERIMENT = "synthetic/hrnet_w16_128x96"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    imgs = root / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in (1, 2, 10):
        cv2.imwrite(str(imgs / f"img{i}.png"), rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    (imgs / "broken.jpg").write_bytes(b"not a jpeg")
    video = root / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for i in range(10):
        writer.write(np.full((96, 128, 3), i * 20, np.uint8))
    writer.release()
    torch.manual_seed(0)
    ckpt = root / "w16.pth"
    torch.save(build_model(load_config(EXPERIMENT), is_train=False).state_dict(), ckpt)
    return root, imgs, video, ckpt


def _run(args, capsys):
    code = main([*args, "--device", "cpu", "--quiet"])
    return code, capsys.readouterr()


def test_images_folder_and_video(data, tmp_path, capsys):
    root, imgs, video, ckpt = data
    out = tmp_path / "res.json"
    code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", "full", str(imgs),
                      str(video), str(root / "missing.png"), "--frame-step", "3", "--out", str(out),
                      "--render", str(tmp_path / "vis")], capsys)
    assert code == 0, cap.err
    results = json.loads(out.read_text())
    images = [r for r in results if "frame_index" not in r]
    frames = [r for r in results if "frame_index" in r]
    assert [r["file_name"] for r in images] == ["img1.png", "img2.png", "img10.png"]  # natural order
    assert [r["frame_index"] for r in frames] == [0, 3, 6, 9]
    assert len({r["image_id"] for r in results}) == 7
    for r in results:
        assert r["category_id"] == 1 and len(r["keypoints"]) == 51 and len(r["bbox"]) == 4
        assert isinstance(r["score"], float)
    assert "broken.jpg" in cap.err and "missing.png" in cap.err and "2 input(s) skipped" in cap.err
    assert "Traceback" not in cap.err
    rendered = sorted(p.name for p in (tmp_path / "vis").iterdir())
    assert rendered == ["clip_poses.mp4", "img1.jpg", "img10.jpg", "img2.jpg"]
    cap_video = cv2.VideoCapture(str(tmp_path / "vis" / "clip_poses.mp4"))
    assert int(cap_video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    # the CLI's keypoints are the Predictor's
    predictor = Predictor(EXPERIMENT, weights=ckpt, device="cpu")
    image = cv2.imread(str(imgs / "img2.png"))
    direct = predictor.predict(image, [[0, 0, 128, 96]])[0]
    np.testing.assert_allclose(np.reshape(images[1]["keypoints"], (17, 3)), direct.keypoints, atol=1e-3)


def test_video_frames_are_exact(data, tmp_path, capsys):
    root, imgs, video, ckpt = data
    out = tmp_path / "v.json"
    code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", "full", str(video),
                      "--max-frames", "3", "--batch-frames", "2", "--out", str(out),
                      "--render", str(tmp_path / "all.mp4")], capsys)
    assert code == 0, cap.err
    results = json.loads(out.read_text())
    assert [r["frame_index"] for r in results] == [0, 1, 2]
    assert (tmp_path / "all.mp4").stat().st_size > 0


def test_json_detector_and_coco_ids(tmp_path, data, capsys):
    root, imgs, video, ckpt = data
    coco = tmp_path / "val2017"
    coco.mkdir()
    img = np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    cv2.imwrite(str(coco / "000000000139.jpg"), img)
    cv2.imwrite(str(coco / "000000000285.jpg"), img)
    dets = [
        {"image_id": 139, "category_id": 1, "bbox": [10, 10, 40, 80], "score": 0.9},
        {"image_id": 139, "category_id": 1, "bbox": [70, 5, 40, 80], "score": 0.8},
        {"image_id": 285, "category_id": 1, "bbox": [5, 5, 50, 50], "score": 0.01},
    ]
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    out = tmp_path / "r.json"
    code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", f"json:{det_file}",
                      "--no-oks-nms", str(coco), "--out", str(out)], capsys)
    assert code == 0, cap.err
    results = json.loads(out.read_text())
    assert sorted(r["image_id"] for r in results) == [139, 139, 285]
    assert sorted(tuple(r["bbox"]) for r in results)[0] == (5.0, 5.0, 50.0, 50.0)
    code, _ = _run(["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", f"json:{det_file}",
                    "--det-threshold", "0.5", str(coco), "--out", str(out)], capsys)
    assert [r["image_id"] for r in json.loads(out.read_text())] == [139, 139]


def test_nothing_processed_and_user_errors(data, tmp_path, capsys):
    root, imgs, video, ckpt = data
    code, cap = _run(["--experiment", EXPERIMENT, "--detector", "full", str(imgs / "broken.jpg"),
                      "--out", str(tmp_path / "x.json")], capsys)
    assert code == 1 and "nothing could be processed" in cap.err
    assert not (tmp_path / "x.json").exists()
    code, cap = _run(["--experiment", "no/such", "--detector", "full", str(imgs)], capsys)
    assert code == 2 and "Config not found" in cap.err and "Traceback" not in cap.err
    code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(tmp_path / "nope.pth"), "--detector", "full",
                      str(imgs)], capsys)
    assert code == 2 and "nope.pth" in cap.err
    code, cap = _run(["--experiment", EXPERIMENT, "--detector", "yolo", str(imgs)], capsys)
    assert code == 2 and "unknown detector" in cap.err


def test_missing_detector_weights_message(data, tmp_path, capsys, monkeypatch):
    root, imgs, video, ckpt = data
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    code, cap = _run(["--experiment", EXPERIMENT, "--detector", "ssdlite", str(imgs)], capsys)
    assert code == 2
    assert str(tmp_path / "hub" / "checkpoints") in cap.err and "ssdlite320" in cap.err


def test_list_weights(capsys):
    assert main(["--list-weights"]) == 0
    out = capsys.readouterr().out
    assert "pose_hrnet_w32_256x192" in out and "mmpose_hrnet_w32_coco_256x192" in out
    with pytest.raises(SystemExit):
        main([])


def _inject(monkeypatch, fail):
    """Wrap Predictor.predict_batch: ``fail(images)`` returns an exception to raise, or None."""
    real = Predictor.predict_batch
    calls = []

    def predict_batch(self, images, *args, **kwargs):
        calls.append(len(images))
        error = fail(images)
        if error is not None:
            raise error
        return real(self, images, *args, **kwargs)

    monkeypatch.setattr(Predictor, "predict_batch", predict_batch)
    return calls


def test_out_of_memory_halves_the_frame_batches(data, tmp_path, capsys, monkeypatch):
    root, imgs, video, ckpt = data
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
    calls = _inject(monkeypatch, lambda images: oom if len(images) > 2 else None)
    out = tmp_path / "oom.json"
    code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", "full", str(video),
                      "--batch-frames", "8", "--out", str(out)], capsys)
    assert code == 0, cap.err
    assert [r["frame_index"] for r in json.loads(out.read_text())] == list(range(10))
    assert "Out of memory" in cap.err and "Traceback" not in cap.err
    assert calls[:4] == [8, 4, 2, 2] and max(calls[4:]) <= 2  # later batches stay small


@pytest.mark.parametrize("error", ["oom", "interrupt", "bug"])
def test_partial_results_are_written_when_the_run_stops(data, tmp_path, capsys, monkeypatch, error):
    root, imgs, video, ckpt = data
    done = []

    def fail(images):
        if len(done) >= 2:
            return {"oom": torch.OutOfMemoryError("CUDA out of memory (injected)"),
                    "interrupt": KeyboardInterrupt(), "bug": ZeroDivisionError("a bug")}[error]
        done.append(len(images))
        return None

    _inject(monkeypatch, fail)
    out = tmp_path / "partial.json"
    args = ["--experiment", EXPERIMENT, "--weights", str(ckpt), "--detector", "full", str(video),
            "--batch-frames", "3", "--out", str(out)]
    if error == "bug":
        with pytest.raises(ZeroDivisionError):
            _run(args, capsys)
        cap = capsys.readouterr()
    else:
        code, cap = _run(args, capsys)
        assert code == {"oom": 3, "interrupt": 130}[error]
    assert [r["frame_index"] for r in json.loads(out.read_text())] == list(range(6))
    assert "stopped early" in cap.err and "6 video frame(s)" in cap.err
    if error == "oom":
        assert "even for one frame" in cap.err and "Traceback" not in cap.err


def test_track_and_smooth_a_video(tmp_path, capsys):
    """--track: every pose of a crossing clip carries a track_id and the two people keep theirs; the
    detector (here a detections file of the true boxes) is not needed on every frame; --smooth runs."""
    from pathlib import Path

    from hrnet.dataset.synthetic import write_video

    demo = Path(__file__).resolve().parents[2] / "resources" / "models" / "hrnet_w16_synthetic.pth"
    video = write_video(tmp_path / "cross.avi", num_frames=16, fps=12, image_size=(320, 240), people=2, seed=0,
                        scenario="crossing")
    dets = [{"image_id": t, "category_id": 1, "bbox": [float(v) for v in p.bbox], "score": 1.0}
            for t, people in enumerate(video.frames) for p in people if (p.keypoints[:, 2] == 2).sum() >= 3]
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    for extra in ([], ["--smooth"]):
        out = tmp_path / f"t{len(extra)}.json"
        code, cap = _run(["--experiment", EXPERIMENT, "--weights", str(demo), "--detector", f"json:{det_file}",
                          "--track", "--detect-every", "8", *extra, str(video.path), "--out", str(out)], capsys)
        assert code == 0, cap.err
        results = json.loads(out.read_text())
        assert sorted({r["frame_index"] for r in results}) == list(range(16))
        assert all(isinstance(r["track_id"], int) for r in results)
        ids = {r["track_id"] for r in results if r["track_id"] >= 0}
        assert 2 <= len(ids) <= 3, ids
    with pytest.raises(SystemExit) as e:
        _run(["--experiment", EXPERIMENT, "--weights", str(demo), "--smooth", str(video.path)], capsys)
    assert e.value.code == 2 and "--smooth" in capsys.readouterr().err
