from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hrnet.errors import MediaError
from hrnet.media import (
    IMAGE_EXTS,
    VIDEO_EXTS,
    VideoReader,
    is_image,
    is_video,
    list_images,
    natural_sort_key,
    read_image,
)

N_FRAMES = 60


def _frame(i: int) -> np.ndarray:
    f = np.zeros((48, 64, 3), np.uint8)
    f[:, :] = ((i * 4) % 256, 255 - (i * 4) % 256, 128)
    cv2.putText(f, str(i), (2, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    return f


def _write_video(path: Path, fourcc: str, n: int = N_FRAMES) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (64, 48))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {fourcc}")
    for i in range(n):
        writer.write(_frame(i))
    writer.release()
    return path


def _decode_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


@pytest.fixture(scope="module", params=[("mp4v", ".mp4"), ("MJPG", ".avi")])
def video(request, tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    fourcc, ext = request.param
    path = _write_video(tmp_path_factory.mktemp("vid") / f"clip_{fourcc}{ext}", fourcc)
    return path, _decode_all(path)


def test_extensions_and_predicates():
    assert ".jpg" in IMAGE_EXTS and ".png" in IMAGE_EXTS and ".mp4" in VIDEO_EXTS
    assert is_image("a/B.JPG") and not is_image("a.mp4")
    assert is_video("x.MOV") and not is_video("x.png")


def test_read_image_roundtrip_unicode_path(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "bilder_ñ_图像.png"
    ok, buf = cv2.imencode(".png", img)
    path.write_bytes(buf.tobytes())
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, img)


def test_read_image_grey_and_alpha_become_bgr(tmp_path):
    grey = np.full((5, 7), 77, np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    assert read_image(tmp_path / "g.png").shape == (5, 7, 3)
    rgba = np.zeros((5, 7, 4), np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    assert read_image(tmp_path / "a.png").shape == (5, 7, 3)


@pytest.mark.parametrize("content", [None, b"", b"not an image at all", b"\x89PNG\r\n\x1a\n garbage"])
def test_read_image_errors_name_the_file(tmp_path, content):
    path = tmp_path / "broken.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match="broken.png"):
        read_image(path)


def test_read_image_folder_is_error(tmp_path):
    with pytest.raises(MediaError):
        read_image(tmp_path)


def test_list_images_natural_order(tmp_path):
    for name in ["img10.png", "img2.png", "img1.png", "notes.txt", "Img3.JPG"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "img0.png").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["img1.png", "img2.png", "Img3.JPG", "img10.png"]
    assert [p.name for p in list_images(tmp_path, recursive=True)][-1] == "img0.png"
    assert natural_sort_key("a2") < natural_sort_key("a10")
    with pytest.raises(MediaError):
        list_images(tmp_path / "missing")


def test_video_metadata(video):
    path, frames = video
    with VideoReader(path) as r:
        assert r.num_frames == len(frames) == N_FRAMES
        assert len(r) == N_FRAMES
        assert r.fps == pytest.approx(25.0)
        assert r.size == (64, 48)


def test_video_random_access_is_frame_accurate(video):
    path, frames = video
    rng = np.random.default_rng(1)
    order = [0, 1, 2, N_FRAMES - 1, 30, 29, 5, *rng.integers(0, N_FRAMES, 25).tolist(), -1]
    with VideoReader(path) as r:
        for i in order:
            np.testing.assert_array_equal(r.read(i), frames[i], err_msg=f"frame {i}")
        assert r._seek_ok  # OpenCV seeks these files exactly: no fallback needed


def test_video_iteration(video):
    path, frames = video
    with VideoReader(path) as r:
        got = list(r.iter_frames(10, 20, 3))
        assert [i for i, _ in got] == [10, 13, 16, 19]
        for i, f in got:
            np.testing.assert_array_equal(f, frames[i])
        assert sum(1 for _ in r) == N_FRAMES


def test_video_index_errors(video):
    path, _ = video
    with VideoReader(path) as r:
        with pytest.raises(IndexError):
            r.read(N_FRAMES)
    with pytest.raises(MediaError, match="closed"):
        r.read(0)


class _OffByOneSeek:
    """Wraps a VideoCapture so that seeking lands two frames early (as broken containers do)."""

    def __init__(self, cap):
        self._cap = cap

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_POS_FRAMES:
            value = max(value - 2, 0)
        return self._cap.set(prop, value)

    def __getattr__(self, name):
        return getattr(self._cap, name)


def test_video_inaccurate_seek_falls_back_to_exact_decoding(video, monkeypatch):
    path, frames = video
    original_open = VideoReader._open
    monkeypatch.setattr(VideoReader, "_open", lambda self: _OffByOneSeek(original_open(self)))
    with VideoReader(path) as r:
        for i in [50, 40, 45, 10]:
            np.testing.assert_array_equal(r.read(i), frames[i], err_msg=f"frame {i}")
        assert not r._seek_ok


def test_video_errors(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        VideoReader(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="bad.mp4"):
        VideoReader(bad)
