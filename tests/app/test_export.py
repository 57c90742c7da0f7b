"""app.export: train/val COCO JSON + images that pycocotools and hrnet-train's coco_json dataset read."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.document import AnnotationDocument
from app.export import export_for_training, split_frames
from app.sources import open_paths
from hrnet.annotations import APP_KEY, Frame, Instance, PoseDocument

K = 17


def person(rng: np.random.Generator, w: int, h: int) -> Instance:
    xy = rng.uniform([4, 4], [w - 4, h - 4], (K, 2))
    v = np.full(K, 2.0)
    v[:3] = 1.0
    return Instance(np.c_[xy, v])


@pytest.fixture
def mixed(tmp_path: Path) -> AnnotationDocument:
    """6 still images (two share a base name in different folders) + a 20-frame video."""
    rng = np.random.default_rng(0)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    paths = []
    for i in range(6):
        p = tmp_path / ("a" if i < 3 else "b") / f"img{i % 3}.png"
        cv2.imwrite(str(p), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        paths.append(p)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()
    data, source = open_paths([*paths, video])
    for i, fr in enumerate(data.frames):
        if i % 7 != 6:  # some frames stay unlabelled
            fr.instances = [person(rng, 64, 48) for _ in range(1 + i % 2)]
        fr.reviewed = i % 2 == 0
    data.frames[0].instances.append(Instance(np.zeros((K, 3))))  # a person without labelled joints
    return AnnotationDocument(data, source)


def test_export_reads_back_with_pycocotools(tmp_path: Path, mixed: AnnotationDocument, qtbot) -> None:
    from pycocotools.coco import COCO

    out = tmp_path / "export"
    result = export_for_training(mixed, mixed.source, out, val_fraction=0.25, seed=3)
    train_json, val_json, images_dir = result
    assert images_dir == out / "images" and train_json.is_file() and val_json.is_file()
    labelled = [i for i, f in enumerate(mixed.data.frames) if f.num_labelled > 0]
    assert sorted(result.train_frames + result.val_frames) == labelled
    assert not set(result.train_frames) & set(result.val_frames)
    assert 0.15 <= len(result.val_frames) / len(labelled) <= 0.4

    names = set()
    for path, frames in ((train_json, result.train_frames), (val_json, result.val_frames)):
        coco = COCO(str(path))
        raw = json.loads(path.read_text())
        assert APP_KEY not in json.dumps(raw)  # a plain COCO file
        assert len(coco.getImgIds()) == len(frames)
        for img in coco.loadImgs(coco.getImgIds()):
            assert (img["width"], img["height"]) == (64, 48)
            file = images_dir / img["file_name"]
            assert cv2.imread(str(file)).shape == (48, 64, 3)
            names.add(img["file_name"])
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], iscrowd=False))
            assert anns and all(a["num_keypoints"] > 0 and a["area"] > 0 for a in anns)
            assert all(len(a["keypoints"]) == 3 * K for a in anns)
        ids = coco.getAnnIds()
        assert len(ids) == len(set(ids))
    assert len(names) == len(labelled)  # unique file names (img0.png twice in the source)
    assert {"img0.png", "img0_1.png"} <= names
    assert any(n.startswith("clip_0000") and n.endswith(".png") for n in names)
    # a video frame was written as an image with the right pixels
    vi = next(i for i in result.train_frames + result.val_frames if mixed.data.frames[i].video)
    fi = mixed.data.frames[vi].frame_index
    img = cv2.imread(str(images_dir / f"clip_{fi:06d}.png"))
    assert abs(int(img.mean()) - 10 * fi) <= 3
    # the unlabelled person of frame 0 is not exported
    assert result.num_train_people + result.num_val_people == sum(
        1 for i in labelled for p in mixed.data.frames[i].instances if p.num_keypoints > 0)
    opts = result.training_opts()
    assert opts[opts.index("DATASET.TRAIN_ANNOTATIONS") + 1] == str(train_json)


def test_export_is_what_the_training_dataset_reads(tmp_path: Path, mixed: AnnotationDocument, qtbot) -> None:
    try:
        from hrnet.config import load_config
        from hrnet.dataset import build_dataset
    except ImportError as e:  # pragma: no cover - until hrnet.dataset lands
        pytest.skip(f"hrnet.dataset not available: {e}")
    result = export_for_training(mixed, mixed.source, tmp_path / "export", val_fraction=0.3, seed=0)
    cfg = load_config("synthetic/hrnet_w16_128x96", opts=result.training_opts())
    train = build_dataset(cfg, is_train=True)
    val = build_dataset(cfg, is_train=False)
    assert len(train) == result.num_train_people and len(val) == result.num_val_people
    inp, target, target_weight, meta = train[0]
    assert tuple(inp.shape[-2:]) == (128, 96) and tuple(target.shape) == (K, 32, 24)
    assert float(np.asarray(target_weight).sum()) > 0
    assert Path(meta["image"]).parent == result.images_dir


def test_only_reviewed_and_missing_images(tmp_path: Path, mixed: AnnotationDocument, qtbot) -> None:
    (tmp_path / "a" / "img1.png").unlink()
    result = export_for_training(mixed, mixed.source, tmp_path / "out", only_reviewed=True, val_fraction=0.0)
    frames = result.train_frames
    assert result.val_frames == [] and all(mixed.data.frames[i].reviewed for i in frames)
    assert len(result.skipped) == (1 if mixed.data.frames[1].reviewed else 0)
    val = json.loads(result.val_json.read_text())
    assert val["images"] == [] and val["categories"][0]["keypoints"]
    with pytest.raises(ValueError, match="Nothing to export"):
        export_for_training(PoseDocument(frames=[Frame(1, "x.png", 5, 5)]), None, tmp_path / "none")


def test_split_is_deterministic_and_keeps_video_chunks_together() -> None:
    frames = [Frame(i + 1, f"v_{i:06d}.png", 10, 10, video="v.mp4", frame_index=i) for i in range(100)]
    frames += [Frame(200 + i, f"s{i}.png", 10, 10) for i in range(20)]
    doc = PoseDocument(frames=frames)
    idx = list(range(120))
    train, val = split_frames(doc, idx, 0.2, seed=5)
    assert (train, val) == split_frames(doc, idx, 0.2, seed=5)
    assert (train, val) != split_frames(doc, idx, 0.2, seed=6)
    assert sorted(train + val) == idx and 20 <= len(val) <= 30
    video_val = [i for i in val if i < 100]
    # video frames go to val in contiguous chunks of 10
    chunks = {i // 10 for i in video_val}
    assert video_val == [i for c in sorted(chunks) for i in range(c * 10, c * 10 + 10)]
    t, v = split_frames(doc, [100, 101], 0.2)
    assert len(t) == 1 and len(v) == 1  # at least one val frame, train never empty
    t, v = split_frames(doc, [100], 0.5)
    assert t == [100] and v == []
    with pytest.raises(ValueError):
        split_frames(doc, idx, 1.0)


def test_split_with_only_big_chunks_still_validates() -> None:
    frames = [Frame(i + 1, f"v_{i:06d}.png", 10, 10, video="v.mp4", frame_index=i) for i in range(14)]
    train, val = split_frames(PoseDocument(frames=frames), list(range(14)), 0.05)  # 7 chunks of 2, target 1
    assert len(val) == 2 and val[1] == val[0] + 1 and len(train) == 12
