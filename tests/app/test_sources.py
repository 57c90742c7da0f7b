"""app.sources: lazy folders, header sizes, videos, COCO JSON + image folder (Qt-free module)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.sources import (
    FrameSource,
    image_size_from_header,
    open_coco,
    open_folder,
    open_paths,
)
from hrnet.annotations import COCO_KEYPOINTS, save_coco
from hrnet.errors import AnnotationError, MediaError

K = 17


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tif"])
@pytest.mark.parametrize("size", [(37, 21), (640, 480)])
def test_image_size_from_header(tmp_path: Path, ext: str, size: tuple[int, int]) -> None:
    img = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    p = tmp_path / f"x{ext}"
    assert cv2.imwrite(str(p), img)
    got = image_size_from_header(p)
    if ext == ".tif":
        assert got is None  # not parsed: FrameSource.size() decodes once instead
    else:
        assert got == size


def test_grey_and_progressive_jpeg_and_gif(tmp_path: Path) -> None:
    grey = np.zeros((13, 29), np.uint8)
    p = tmp_path / "g.jpg"
    cv2.imwrite(str(p), grey, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert image_size_from_header(p) == (29, 13)
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + (300).to_bytes(2, "little") + (200).to_bytes(2, "little") + b"\x00" * 20)
    assert image_size_from_header(gif) == (300, 200)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert image_size_from_header(junk) is None
    assert image_size_from_header(tmp_path / "missing.png") is None


def test_folder_of_5000_images_opens_lazily_and_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, buf = cv2.imencode(".png", np.zeros((24, 32, 3), np.uint8))
    data = buf.tobytes()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(5000):
        (folder / f"frame_{i}.png").write_bytes(data)
    (folder / "notes.txt").write_text("x")

    decoded = []
    import app.sources as sources

    monkeypatch.setattr(sources, "read_image", lambda p: decoded.append(p))
    t0 = time.perf_counter()
    doc, source = open_paths([folder])
    elapsed = time.perf_counter() - t0
    assert len(doc.frames) == 5000 and not decoded
    assert elapsed < 1.0, f"opening 5000 images took {elapsed:.2f} s"
    assert [f.file_name for f in doc.frames[:3]] == ["frame_0.png", "frame_1.png", "frame_2.png"]  # natural order
    assert doc.frames[10].file_name == "frame_10.png"
    assert doc.frames[0].width == 0  # size not read yet
    assert source.size(7) == (32, 24) and doc.frames[7].width == 32  # read lazily from the header
    assert source.missing() == []


def test_open_images_and_mixed_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cv2.imwrite(str(tmp_path / "a" / "x.png"), np.zeros((10, 20, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b" / "y.jpg"), np.zeros((30, 40, 3), np.uint8))
    doc, source = open_paths([tmp_path / "a" / "x.png", tmp_path / "b" / "y.jpg"])
    assert doc.image_root == tmp_path
    assert [f.file_name for f in doc.frames] == ["a/x.png", "b/y.jpg"]
    assert source.image(1).shape == (30, 40, 3)
    assert (doc.frames[1].width, doc.frames[1].height) == (40, 30)  # filled when decoded
    with pytest.raises(MediaError, match="Not found"):
        open_paths([tmp_path / "nope.png"])
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(MediaError, match="Not an image"):
        open_paths([tmp_path / "t.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="No images"):
        open_folder(tmp_path / "empty")


def write_video(path: Path, n: int = 12, size: tuple[int, int] = (64, 48)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(n):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[:, :, :] = i * 20  # frame i has brightness 20 i
        writer.write(img)
    writer.release()


def test_video_frames(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    write_video(video)
    doc, source = open_paths([video])
    assert len(doc.frames) == 12
    fr = doc.frames[5]
    assert fr.video == "clip.avi" and fr.frame_index == 5 and fr.file_name == "clip_000005.png"
    assert (fr.width, fr.height) == (64, 48)
    for i in (5, 2, 11, 0):  # random access, frame accurate
        assert abs(int(source.image(i).mean()) - 20 * i) <= 3
    assert source.describe(5) == "clip.avi frame 5"
    # a saved video project opens again with its frames
    save_coco(doc, tmp_path / "p.json")
    doc2, source2 = open_paths([tmp_path / "p.json"])
    assert doc2 == doc and abs(int(source2.image(7).mean()) - 140) <= 3
    source.close()
    source2.close()


def coco_file(path: Path, names: list[str]) -> None:
    data = {
        "images": [{"id": i + 1, "file_name": n, "width": 32, "height": 24} for i, n in enumerate(names)],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [5, 5, 2] * K, "bbox": [0, 0, 9, 9],
                         "area": 81, "iscrowd": 0, "num_keypoints": K}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS), "skeleton": []}],
    }
    path.write_text(json.dumps(data))


def test_coco_json_with_image_folder(tmp_path: Path) -> None:
    img_dir = tmp_path / "images" / "val2017"
    img_dir.mkdir(parents=True)
    for n in ("a.png", "b.png"):
        cv2.imwrite(str(img_dir / n), np.zeros((24, 32, 3), np.uint8))
    ann_dir = tmp_path / "annotations"
    ann_dir.mkdir()
    coco_file(ann_dir / "person_keypoints_val2017.json", ["a.png", "b.png", "c.png"])
    # the usual COCO layout is found without help; the missing file is reported, not fatal
    doc, source = open_coco(ann_dir / "person_keypoints_val2017.json")
    assert doc.image_root == img_dir
    assert source.missing() == [2]
    assert len(doc.frames[0].instances) == 1 and doc.frames[1].instances == []
    assert source.image(0).shape == (24, 32, 3)
    with pytest.raises(MediaError):
        source.image(2)
    # JSON + folder given together
    other = tmp_path / "elsewhere"
    other.mkdir()
    cv2.imwrite(str(other / "a.png"), np.zeros((24, 32, 3), np.uint8))
    doc2, source2 = open_paths([ann_dir / "person_keypoints_val2017.json", other])
    assert doc2.image_root == other and source2.missing() == [1, 2]
    with pytest.raises(MediaError, match="one COCO JSON"):
        open_paths([ann_dir / "person_keypoints_val2017.json", img_dir / "a.png"])
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(AnnotationError, match="missing 'images'"):
        open_paths([bad])


def test_frame_source_follows_document(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((5, 6, 3), np.uint8))
    doc, source = open_paths([tmp_path / "a.png"])
    assert isinstance(source, FrameSource) and len(source) == 1
    assert source.path(0) == tmp_path / "a.png"
    doc.frames[0].file_name = "missing.png"
    assert source.size(0) == (0, 0)  # missing file: size unknown, no exception


def test_recursive_folder(tmp_path: Path) -> None:
    for rel in ("b/2.png", "b/10.png", "a.png", "b/c/x.jpg", "b/notes.txt"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x89PNG\r\n\x1a\n" if rel.endswith(".png") else b"x")
    doc, _ = open_folder(tmp_path, recursive=True)
    assert [f.file_name for f in doc.frames] == ["a.png", "b/2.png", "b/10.png", "b/c/x.jpg"]
    doc, _ = open_folder(tmp_path)
    assert [f.file_name for f in doc.frames] == ["a.png"]
