"""Calibration frames for the int8 path (:mod:`hrnet.quantize`): ``(image_bgr, boxes_xyxy)``
pairs from the user's own data.

* :func:`plan_from_document` / :func:`read_plan`: a project (:class:`~hrnet.annotations.PoseDocument`):
  the frames that have people, their boxes (stored, else around the labelled joints). Planning is
  cheap (no image is read: do it where the document lives); reading can run on a worker.
* :func:`load_calibration`: a COCO keypoint JSON (a project file, or a training set such as
  ``annotations/person_keypoints_train.json`` next to ``images/train/``), a folder of images or
  image files. Images without boxes are taken as one person each (person crops), or given to a
  ``detector`` (``hrnet.detect``) when there is one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.errors import AnnotationError, HRNetError, MediaError
from hrnet.quantize import CalibrationError

__all__ = ["CalibrationItem", "load_calibration", "plan_calibration", "plan_from_document", "read_calibration",
           "read_plan"]

log = logging.getLogger(__name__)

#: frames read for calibration by default (hrnet.quantize uses at most 128 people)
DEFAULT_FRAMES = 48


@dataclass(frozen=True)
class CalibrationItem:
    """One frame to read: an image file, or frame ``frame_index`` of a video, and its boxes (N, 4) xyxy."""

    path: Path
    boxes: np.ndarray
    frame_index: int | None = None


def _spread(items: list[Any], limit: int) -> list[Any]:
    if len(items) <= limit:
        return items
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


def plan_from_document(document: Any, limit: int = DEFAULT_FRAMES) -> list[CalibrationItem]:
    """Frames of ``document`` with people, spread over the project (at most ``limit``)."""
    from hrnet.annotations import bbox_from_keypoints

    items: list[CalibrationItem] = []
    for frame in document.frames:
        boxes = []
        for inst in frame.instances:
            xywh = inst.bbox if inst.bbox is not None else bbox_from_keypoints(inst.keypoints)
            if xywh is None or xywh[2] < 2 or xywh[3] < 2:
                continue
            boxes.append([xywh[0], xywh[1], xywh[0] + xywh[2], xywh[1] + xywh[3]])
        if not boxes:
            continue
        if frame.video:
            path, index = document.resolve(frame.video), frame.frame_index or 0
        else:
            path, index = document.resolve(frame.file_name), None
        items.append(CalibrationItem(Path(path), np.asarray(boxes, np.float64), index))
    return _spread(items, limit)


def read_plan(items: Sequence[CalibrationItem], progress: Callable[[int, int], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read the frames of ``items``; unreadable ones are skipped with a warning (a
    :class:`CalibrationError` when none can be read)."""
    from hrnet.media import VideoReader, read_image

    frames, failures = [], []
    readers: dict[Path, Any] = {}
    try:
        for i, item in enumerate(items):
            if cancel is not None and cancel():
                raise CalibrationError("calibration cancelled")
            try:
                if item.frame_index is None:
                    image = read_image(item.path)
                else:
                    if item.path not in readers:
                        readers[item.path] = VideoReader(item.path)
                    image = readers[item.path].read(item.frame_index)
                frames.append((image, item.boxes))
            except (HRNetError, OSError) as e:
                failures.append(f"{item.path}: {e}")
            if progress is not None:
                progress(i + 1, len(items))
    finally:
        for r in readers.values():
            r.close()
    if failures:
        log.warning("%d calibration frame(s) could not be read, e.g. %s", len(failures), failures[0])
    if not frames:
        raise CalibrationError("no calibration frame could be read" + (f" ({failures[0]})" if failures else
                                                                        ": no frame has a person box"))
    return frames


def _coco_plan(path: Path, limit: int) -> list[CalibrationItem]:
    from hrnet.annotations import load_coco

    try:
        doc = load_coco(path)
    except (AnnotationError, OSError, ValueError) as e:
        raise CalibrationError(f"{path}: not a readable COCO keypoint file ({e})") from e
    items = plan_from_document(doc, limit)
    if not items:
        raise CalibrationError(f"{path}: no person boxes or labelled people to calibrate on")
    if not items[0].path.is_absolute() and doc.image_root is None:
        # file names relative to the JSON's folder, or the training layout:
        # annotations/person_keypoints_<split>.json next to images/<split>/
        split = path.stem.split("_")[-1]
        for root in (path.parent, path.parent.parent / "images" / split, path.parent / "images" / split):
            if (root / items[0].path).exists():
                return [CalibrationItem(root / it.path, it.boxes, it.frame_index) for it in items]
    return items


def load_calibration(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], limit: int = DEFAULT_FRAMES,
                     detector: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Calibration frames from a COCO keypoint JSON, a folder of images, or image files."""
    from hrnet.media import is_image, natural_sort_key, read_image

    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise CalibrationError("no calibration source given (a COCO keypoint JSON, or images)")
    paths = [Path(s).expanduser() for s in sources]
    if len(paths) == 1 and paths[0].suffix.lower() == ".json":
        if not paths[0].is_file():
            raise CalibrationError(f"calibration file not found: {paths[0]}")
        return read_plan(_coco_plan(paths[0], limit))
    images: list[Path] = []
    for p in paths:
        if p.is_dir():
            images.extend(sorted((f for f in p.iterdir() if f.is_file() and is_image(f)),
                                 key=lambda f: natural_sort_key(f.name)))
        elif p.is_file() and is_image(p):
            images.append(p)
        elif not p.exists():
            raise CalibrationError(f"calibration input not found: {p}")
        else:
            raise CalibrationError(f"calibration input is neither a COCO JSON nor an image or image folder: {p}")
    if not images:
        raise CalibrationError(f"no images in {', '.join(str(p) for p in paths)}")
    frames = []
    for path in _spread(images, limit):
        try:
            image = read_image(path)
        except MediaError as e:
            log.warning("Skipping calibration image %s: %s", path, e)
            continue
        if detector is not None:
            boxes = np.asarray(detector(image, image_key=str(path)).boxes, np.float64).reshape(-1, 4)
        else:  # a person crop: the whole image is the box
            h, w = image.shape[:2]
            boxes = np.array([[0.0, 0.0, w - 1.0, h - 1.0]])
        if len(boxes):
            frames.append((image, boxes))
    if not frames:
        raise CalibrationError("no calibration image could be read, or no person was found in them")
    return frames


#: public names (``hrnet.plan_calibration`` / ``hrnet.read_calibration``)
plan_calibration = plan_from_document
read_calibration = read_plan
