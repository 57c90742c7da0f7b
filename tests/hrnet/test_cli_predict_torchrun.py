"""``torchrun --nproc_per_node=2 -m hrnet.cli.predict``: two gloo CPU processes share the inputs and
rank 0 writes ONE results JSON, byte for byte the JSON of a single process (ids, order, numbers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from hrnet.cli.predict_io import Input
from hrnet.cli.predict_shard import Shard, make_units, merge, shard_units

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "models" / "hrnet_w16_synthetic.pth"
EXPERIMENT = "synthetic/hrnet_w16_128x96"


def _cli(args: list[str], torchrun: bool) -> subprocess.CompletedProcess:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"] if torchrun else []
    cmd = [sys.executable, *launcher, "-m", "hrnet.cli.predict", *args, "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Five synthetic scenes (2-4 people each, their true boxes in a detections file), an unreadable
    image and a 9-frame crossing clip (true boxes by frame index)."""
    from hrnet.dataset.synthetic import render_scene, write_video

    root = tmp_path_factory.mktemp("shard")
    images = root / "images"
    images.mkdir()
    dets = []
    for i in range(5):
        scene = render_scene(np.random.default_rng(10 + i), image_size=(192, 144), people=(2, 4))
        name = f"scene_{i}.jpg"
        cv2.imwrite(str(images / name), scene.image)
        for a in scene.annotations(1000 + i):
            dets.append({"image_id": 1000 + i, "file_name": name, "category_id": 1, "bbox": a["bbox"], "score": 0.9})
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    video = write_video(root / "cross.avi", num_frames=9, fps=12, image_size=(192, 144), people=2, seed=0,
                        scenario="crossing")
    for t, people in enumerate(video.frames):
        for p in people:
            dets.append({"image_id": t, "category_id": 1, "bbox": [float(v) for v in p.bbox], "score": 0.9})
    det_file = root / "dets.json"
    det_file.write_text(json.dumps(dets))
    return root, images, video.path, det_file


@pytest.mark.skipif(not DEMO.is_file(), reason="the bundled demo model is not in this checkout")
def test_two_processes_write_the_single_process_json(inputs, tmp_path):
    root, images, video, det_file = inputs
    common = ["--experiment", EXPERIMENT, "--weights", str(DEMO), "--detector", f"json:{det_file}",
              "--batch-frames", "2", str(images), str(video)]
    single = _cli([*common, "--out", str(tmp_path / "single.json")], torchrun=False)
    assert single.returncode == 0, single.stderr
    double = _cli([*common, "--out", str(tmp_path / "double.json")], torchrun=True)
    assert double.returncode == 0, double.stderr[-3000:]
    one = (tmp_path / "single.json").read_bytes()
    assert one == (tmp_path / "double.json").read_bytes()
    results = json.loads(one)
    assert {r["file_name"] for r in results} == {f"scene_{i}.jpg" for i in range(5)} | {"cross.avi"}
    assert sorted({r["image_id"] for r in results}) == list(range(1, 15))  # 5 images + 9 frames, running ids
    assert "broken.jpg" in double.stderr and "1 input(s) skipped" in double.stderr
    assert "5 image(s) and 9 video frame(s) processed" in double.stderr
    # units of 2 in order: [broken, scene_0] [scene_1, scene_2] [scene_3, scene_4], frames [0, 1] ... [8]
    assert "shared by 2 processes: rank 0 7, rank 1 7" in double.stderr


@pytest.mark.skipif(not DEMO.is_file(), reason="the bundled demo model is not in this checkout")
def test_track_shards_whole_videos(inputs, tmp_path):
    """--track follows people through a whole clip: each video goes to one process, whole; the merged
    JSON (track ids per video) equals the single process's."""
    root, images, video, det_file = inputs
    second = root / "cross_copy.avi"
    second.write_bytes(video.read_bytes())
    common = ["--experiment", EXPERIMENT, "--weights", str(DEMO), "--detector", f"json:{det_file}", "--track",
              "--detect-every", "4", str(video), str(second)]
    single = _cli([*common, "--out", str(tmp_path / "single.json")], torchrun=False)
    assert single.returncode == 0, single.stderr
    double = _cli([*common, "--out", str(tmp_path / "double.json")], torchrun=True)
    assert double.returncode == 0, double.stderr[-3000:]
    assert (tmp_path / "single.json").read_bytes() == (tmp_path / "double.json").read_bytes()
    results = json.loads((tmp_path / "single.json").read_text())
    assert all(isinstance(r["track_id"], int) for r in results)
    assert {r["file_name"] for r in results} == {"cross.avi", "cross_copy.avi"}
    assert "shared by 2 processes: rank 0 9, rank 1 9" in double.stderr


def test_render_into_one_video_is_refused_under_torchrun(inputs, tmp_path, monkeypatch, capsys):
    from hrnet.cli.predict import main

    root, images, video, det_file = inputs
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(SystemExit) as e:
        main(["--experiment", EXPERIMENT, str(video), "--render", str(tmp_path / "all.mp4")])
    assert e.value.code == 2 and "torchrun" in capsys.readouterr().err


def test_units_partition_the_run_and_merge_numbers_as_one_process():
    """Every unit is done by exactly one rank; merging the ranks' shards numbers images and frames in
    unit order whoever did them."""
    plan = [Input(Path(f"im{i}.jpg"), "image") for i in range(5)]
    plan.insert(2, Input(Path("clip.mp4"), "video", frames=list(range(7))))
    units = make_units(plan, batch=2, whole_videos=False)
    assert [(u.kind, u.size) for u in units] == [("images", 2)] * 2 + [("images", 1)] + [("frames", 2)] * 3 + [
        ("frames", 1)]
    assert make_units(plan, batch=2, whole_videos=True)[-1].frames == list(range(7))
    for world in (1, 2, 3, 5):
        shares = [shard_units(units, r, world) for r in range(world)]
        assert sorted(u.index for s in shares for u in s) == list(range(len(units)))
        shards = []
        for share in shares:
            s = Shard()
            for u in share:
                keys = [str(p.path) for p in u.items] if u.kind == "images" else [f"clip.mp4#{f}" for f in u.frames]
                s.outputs[u.index] = [(k, [{"image_id": 0, "key": k}]) for k in keys]
            shards.append(s)
        merged = merge(shards[::-1], None)  # the order shards arrive in does not matter
        assert [r["image_id"] for r in merged] == list(range(1, 13))
        assert [r["key"] for r in merged][:6] == ["im0.jpg", "im1.jpg", "im2.jpg", "im3.jpg", "im4.jpg", "clip.mp4#0"]
    with pytest.raises(ValueError):
        merge([shards[0], shards[0]], None)
