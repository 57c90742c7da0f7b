"""Where a document's pixels come from: image files, folders, videos, COCO JSON + image folder.

:func:`open_paths` turns what the user opened (files, folders, a project/COCO JSON with an
optional image folder) into a :class:`~hrnet.annotations.PoseDocument` with one frame per
image / video frame (frames without annotations are empty frames) and a :class:`FrameSource`
that reads any frame's pixels on demand.

Opening is lazy: a folder is only listed (no image is opened), so thousands of images open at
once; image sizes are read from the file headers when first needed (:meth:`FrameSource.size`,
a few hundred bytes per file, no decoding) and corrected from the decoded image when it is read.
Missing image files of a COCO JSON are reported by :meth:`FrameSource.missing`, not fatal.

Qt-free on purpose (usable from worker threads); reading is thread-safe.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from hrnet import (
    IMAGE_EXTS,
    VIDEO_EXTS,
    Frame,
    MediaError,
    PoseDocument,
    VideoReader,
    is_image,
    is_video,
    list_image_names,
    list_images,
    load_coco,
    read_image,
)

__all__ = [
    "FrameSource",
    "image_size_from_header",
    "open_coco",
    "open_folder",
    "open_images",
    "open_paths",
    "open_video",
    "video_frame_name",
]

logger = logging.getLogger(__name__)


def _patterns(exts: Iterable[str]) -> str:
    return " ".join(f"*{e}" for e in sorted(exts))


# The open dialog's filter, from hrnet.media's extension lists (the one place they are defined).
VIDEO_FILTER = f"Videos ({_patterns(VIDEO_EXTS)})"
PROJECT_FILTER = "COCO JSON / project (*.json)"
OPEN_FILTER = (
    f"Images, videos and projects ({_patterns(IMAGE_EXTS | VIDEO_EXTS)} *.json);;"
    f"Images ({_patterns(IMAGE_EXTS)});;{VIDEO_FILTER};;{PROJECT_FILTER};;All files (*)"
)

StrPath = str | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# image sizes from file headers (no decoding)
# --------------------------------------------------------------------------------------------


def _jpeg_size(f) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        b = f.read(1)
        while b and b != b"\xff":  # skip to the next marker
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            continue
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return w, h
        if marker == 0xD9 or length < 2:
            return None
        f.seek(length - 2, os.SEEK_CUR)


def image_size_from_header(path: StrPath) -> tuple[int, int] | None:
    """(width, height) of a PNG, JPEG, GIF, BMP or WebP file from its header, else None.

    Reads a few hundred bytes (JPEG: walks the markers to the frame header); the size is that
    of the stored pixel grid (EXIF orientation ignored, as :func:`hrnet.media.read_image` does).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head.startswith(b"\xff\xd8"):
                return _jpeg_size(f)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return struct.unpack("<HH", head[6:10])
            if head.startswith(b"BM") and len(head) >= 26:
                header_size = struct.unpack("<I", head[14:18])[0]
                if header_size == 12:
                    w, h = struct.unpack("<HH", head[18:22])
                else:
                    w, h = struct.unpack("<ii", head[18:26])
                return abs(w), abs(h)
            if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
                chunk = head[12:16]
                if chunk == b"VP8 ":
                    w, h = struct.unpack("<HH", head[26:30])
                    return w & 0x3FFF, h & 0x3FFF
                if chunk == b"VP8L":
                    b = head[21:25]
                    w = 1 + (((b[1] & 0x3F) << 8) | b[0])
                    h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
                    return w, h
                if chunk == b"VP8X":
                    w = 1 + int.from_bytes(head[24:27], "little")
                    h = 1 + int.from_bytes(head[27:30], "little")
                    return w, h
    except (OSError, struct.error):
        return None
    return None


def video_frame_name(video: StrPath, index: int, ext: str = ".png") -> str:
    """The file name a video frame gets in the document and in exports: ``<stem>_<index:06d><ext>``."""
    return f"{Path(video).stem}_{index:06d}{ext}"


# --------------------------------------------------------------------------------------------
# FrameSource
# --------------------------------------------------------------------------------------------


class FrameSource:
    """Reads the pixels of a document's frames: image files, or frames of videos.

    It looks frames up in ``document.frames`` at call time (index = position in that list),
    resolving file names and relative video paths against ``document.image_root``. Video
    readers are opened on first use and shared; all methods are thread-safe.
    """

    def __init__(self, document: PoseDocument) -> None:
        self.document = document
        self._lock = threading.Lock()
        self._videos: dict[Path, VideoReader] = {}
        self._missing: list[int] | None = None

    def __len__(self) -> int:
        return len(self.document.frames)

    @property
    def num_frames(self) -> int:
        return len(self.document.frames)

    def frame(self, index: int) -> Frame:
        return self.document.frames[index]

    def is_video_frame(self, index: int) -> bool:
        return self.document.frames[index].video is not None

    def path(self, index: int) -> Path:
        """The file that holds frame ``index``: its image file, or its video."""
        fr = self.document.frames[index]
        return self.document.resolve(fr.video if fr.video is not None else fr.file_name)

    def describe(self, index: int) -> str:
        fr = self.document.frames[index]
        if fr.video is not None:
            return f"{Path(fr.video).name} frame {fr.frame_index}"
        return fr.file_name

    def missing(self, refresh: bool = False) -> list[int]:
        """Indices of frames whose image or video file does not exist (checked once, cached)."""
        if self._missing is None or refresh:
            seen: dict[Path, bool] = {}
            out = []
            for i in range(len(self.document.frames)):
                p = self.path(i)
                ok = seen.get(p)
                if ok is None:
                    ok = seen[p] = p.is_file()
                if not ok:
                    out.append(i)
            self._missing = out
        return list(self._missing)

    def _video(self, path: Path) -> VideoReader:
        with self._lock:
            reader = self._videos.get(path)
            if reader is None:
                reader = self._videos[path] = VideoReader(path)
            return reader

    def image(self, index: int) -> np.ndarray:
        """Frame ``index`` as HxWx3 uint8 BGR. Raises MediaError (missing/unreadable file) or IndexError."""
        fr = self.document.frames[index]
        if fr.video is not None:
            if fr.frame_index is None:
                raise MediaError(f"Frame {fr.id} of video {fr.video} has no frame index")
            image = self._video(self.document.resolve(fr.video)).read(fr.frame_index)
        else:
            image = read_image(self.path(index))
        h, w = image.shape[:2]
        if (fr.width, fr.height) != (w, h):
            if fr.width or fr.height:
                logger.warning("%s: size in the document %dx%d, image is %dx%d; using the image's",
                               self.describe(index), fr.width, fr.height, w, h)
            fr.width, fr.height = w, h
        return image

    def size(self, index: int) -> tuple[int, int]:
        """(width, height) of frame ``index``; read from the file header when not known yet.

        Returns (0, 0) when the file is missing or unreadable (no exception: sizes are metadata).
        """
        fr = self.document.frames[index]
        if fr.width > 0 and fr.height > 0:
            return fr.width, fr.height
        size: tuple[int, int] | None = None
        try:
            if fr.video is not None:
                size = self._video(self.document.resolve(fr.video)).size
            else:
                p = self.path(index)
                size = image_size_from_header(p)
                if size is None and p.is_file():  # a format without a parsed header: decode once
                    img = cv2.imread(str(p), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
                    size = None if img is None else (img.shape[1], img.shape[0])
        except (MediaError, OSError) as e:
            logger.debug("size of frame %d unknown: %s", index, e)
        if not size:
            return 0, 0
        fr.width, fr.height = int(size[0]), int(size[1])
        return fr.width, fr.height

    def ensure_sizes(self, indices: Iterable[int] | None = None) -> list[int]:
        """Fill in unknown frame sizes (headers only); returns the indices still unknown."""
        idx = range(len(self.document.frames)) if indices is None else indices
        return [i for i in idx if self.size(i) == (0, 0)]

    def close(self) -> None:
        with self._lock:
            for reader in self._videos.values():
                reader.close()
            self._videos.clear()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# opening
# --------------------------------------------------------------------------------------------


def _common_root(paths: Sequence[Path]) -> Path:
    parents = [str(p.parent.absolute()) for p in paths]
    try:
        return Path(os.path.commonpath(parents))
    except ValueError:  # different drives: keep absolute file names
        return Path(parents[0])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root).as_posix()
    except ValueError:
        return str(path.absolute())


def _media_document(items: Sequence[Path]) -> PoseDocument:
    """A new document with one empty frame per image and per video frame of ``items`` (in order)."""
    if not items:
        raise MediaError("Nothing to open: no images or videos given")
    root = _common_root(items)
    doc = PoseDocument(image_root=root)
    fid = 1
    for p in items:
        if is_video(p):
            with VideoReader(p) as reader:
                n, (w, h) = reader.num_frames, reader.size
            rel = _relative(p, root)
            for k in range(n):
                doc.frames.append(Frame(fid, video_frame_name(p, k), w, h, video=rel, frame_index=k))
                fid += 1
        else:
            doc.frames.append(Frame(fid, _relative(p, root), 0, 0))
            fid += 1
    return doc


def open_images(paths: Sequence[StrPath]) -> tuple[PoseDocument, FrameSource]:
    """Image files (and/or videos) as a new document; the image root is their common folder."""
    doc = _media_document([Path(p) for p in paths])
    return doc, FrameSource(doc)


def open_folder(folder: StrPath, recursive: bool = False) -> tuple[PoseDocument, FrameSource]:
    """Every image of ``folder`` (natural order) as a new document. Only lists the folder."""
    root = Path(folder).absolute()
    names = list_image_names(root, recursive=recursive)
    if not names:
        raise MediaError(f"No images in folder {root}")
    doc = PoseDocument(image_root=root)
    doc.frames = [Frame(i + 1, name, 0, 0) for i, name in enumerate(names)]
    return doc, FrameSource(doc)


def open_video(path: StrPath) -> tuple[PoseDocument, FrameSource]:
    """Every frame of a video as a new document (frame sizes from the video)."""
    return open_images([path])


def _root_candidates(json_path: Path, data: PoseDocument) -> list[Path]:
    d = json_path.parent.absolute()
    cands: list[Path] = []
    if data.image_root is not None:
        cands.append(Path(data.image_root))
    token = json_path.stem.rsplit("_", 1)[-1]  # person_keypoints_val2017 -> val2017
    cands += [d, d / "images", d / json_path.stem, d / token, d / "images" / token,
              d.parent / "images", d.parent / "images" / token, d.parent / token, d.parent]
    return cands


def open_coco(
    json_path: StrPath, image_root: StrPath | None = None, progress: Callable[[float], None] | None = None
) -> tuple[PoseDocument, FrameSource]:
    """A saved project or any COCO keypoint JSON with its images.

    Image file names resolve against ``image_root`` when given, else the folder stored in the
    project, else the first of a few usual places (the JSON's folder, ``images/``, COCO's
    ``images/val2017`` layout, ...) where the first frames' files exist. Missing files are
    reported by ``source.missing()`` (and logged), not fatal. Raises AnnotationError on a
    malformed file. ``progress``: see :func:`hrnet.annotations.load_coco`.
    """
    json_path = Path(json_path)
    doc = load_coco(json_path, image_root=image_root, progress=progress)
    if image_root is None and doc.frames:
        probe = [f.video if f.video is not None else f.file_name for f in doc.frames[:8]]
        best, best_hits = None, -1
        for cand in _root_candidates(json_path, doc):
            hits = sum((cand / p).is_file() for p in probe)
            if hits > best_hits:
                best, best_hits = cand, hits
            if hits == len(probe):
                break
        doc.image_root = best if best_hits > 0 else (doc.image_root or json_path.parent.absolute())
    elif doc.image_root is None:
        doc.image_root = json_path.parent.absolute()
    source = FrameSource(doc)
    missing = source.missing()
    if missing:
        logger.warning("%s: %d of %d image files not found under %s (first: %s)", json_path, len(missing),
                       len(doc.frames), doc.image_root, source.path(missing[0]))
    return doc, source


def open_paths(
    paths: Sequence[StrPath], image_root: StrPath | None = None, recursive: bool = False,
    progress: Callable[[float], None] | None = None,
) -> tuple[PoseDocument, FrameSource]:
    """Open what the user chose: image files, folders, videos, or one COCO JSON (+ its image folder).

    - one ``.json`` (optionally with one folder = its image root, or ``image_root``): the project;
    - otherwise images, videos and the images of folders, in the given order, as a new document.
    Raises MediaError (nothing usable, unreadable video, unknown file type) or AnnotationError.
    """
    ps = [Path(p) for p in paths]
    for p in ps:
        if not p.exists():
            raise MediaError(f"Not found: {p}")
    jsons = [p for p in ps if p.suffix.lower() == ".json"]
    if jsons:
        folders = [p for p in ps if p.is_dir()]
        if len(jsons) > 1 or len(ps) - 1 - len(folders) > 0 or len(folders) > 1:
            raise MediaError("Open one COCO JSON file at a time (optionally with its image folder)")
        return open_coco(jsons[0], image_root=image_root or (folders[0] if folders else None), progress=progress)
    if len(ps) == 1 and ps[0].is_dir():
        return open_folder(ps[0], recursive=recursive)
    items: list[Path] = []
    for p in ps:
        if p.is_dir():
            items += list_images(p, recursive=recursive)
        elif is_image(p) or is_video(p):
            items.append(p)
        else:
            raise MediaError(f"Not an image, a video or a COCO JSON file: {p}")
    return open_images(items)
