"""PoseTrack 2018 style JSON: import and export with track ids.

A PoseTrack 2018 file is COCO keypoint JSON with video fields: each image carries ``vid_id`` (the
sequence), ``frame_id`` (unique, also its ``id``), ``nframes`` and ``is_labeled``; each annotation a
``track_id`` (the person's identity within the sequence). :func:`load_posetrack` reads one into a
:class:`~hrnet.annotations.PoseDocument` (frames ordered by sequence and frame, track ids kept);
:func:`to_posetrack` / :func:`save_posetrack` write a document in that layout: frames of a video file
become ``<video stem>/<frame index:06d>.jpg`` entries (:func:`save_posetrack` can write those frame
images next to the JSON), people without a track get a fresh id of their own.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hrnet.annotations import PoseDocument, from_coco_dict, to_coco_dict
from hrnet.errors import AnnotationError

log = logging.getLogger(__name__)

__all__ = ["load_posetrack", "save_posetrack", "to_posetrack"]


def _sequence_of(image: dict[str, Any], frame: Any) -> tuple[str, int]:
    """(sequence name, 0-based frame index) of a document frame."""
    if frame.video is not None and frame.frame_index is not None:
        return Path(str(frame.video)).stem, int(frame.frame_index)
    path = Path(str(image["file_name"]))
    stem = path.stem
    index = int(stem) if stem.isdigit() else None
    return (path.parent.name or "images"), (index if index is not None else -1)


def to_posetrack(document: PoseDocument) -> dict[str, Any]:
    """The document as a PoseTrack 2018 style dict (COCO keypoint JSON plus the video fields)."""
    data = to_coco_dict(document, include_app_state=False)
    seqs: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for image, frame in zip(data["images"], document.frames):
        name, index = _sequence_of(image, frame)
        seqs.setdefault(name, []).append((index, image))
        if frame.video is not None and frame.frame_index is not None:
            image["file_name"] = f"{name}/{int(frame.frame_index):06d}.jpg"
    vid_numbers = {name: n + 1 for n, name in enumerate(sorted(seqs))}
    new_id: dict[Any, int] = {}
    for name, items in seqs.items():
        items.sort(key=lambda item: item[0])
        for order, (index, image) in enumerate(items):
            frame_no = index if index >= 0 else order
            frame_id = 10_000_000_000 + vid_numbers[name] * 10_000 + frame_no
            new_id[image["id"]] = frame_id
            image.update(id=frame_id, frame_id=frame_id, vid_id=f"{vid_numbers[name]:06d}", nframes=len(items),
                         is_labeled=True)
    used = {int(a["track_id"]) for a in data["annotations"] if a.get("track_id") is not None}
    fresh = max(used, default=-1) + 1
    for ann in data["annotations"]:
        ann["image_id"] = new_id[ann["image_id"]]
        if ann.get("track_id") is None:
            ann["track_id"] = fresh
            fresh += 1
    data["images"].sort(key=lambda im: im["frame_id"])
    return data


def save_posetrack(document: PoseDocument, path: str | os.PathLike[str], *, write_frames: bool = False) -> Path:
    """Write :func:`to_posetrack` of ``document`` to ``path`` (atomically). With ``write_frames``, frames
    of video files are written as JPEG images at their ``file_name`` relative to the JSON's folder."""
    from hrnet.utils.io import write_json

    path = Path(path)
    data = to_posetrack(document)
    if write_frames:
        import cv2

        from hrnet.media import VideoReader

        readers: dict[str, Any] = {}
        for frame in document.frames:
            if frame.video is None or frame.frame_index is None:
                continue
            name = Path(str(frame.video)).stem
            target = path.parent / f"{name}/{int(frame.frame_index):06d}.jpg"
            if target.exists():
                continue
            video = document.resolve(frame.video)
            reader = readers.get(str(video))
            if reader is None:
                reader = readers[str(video)] = VideoReader(video)
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(target), reader.read(int(frame.frame_index)))
        for reader in readers.values():
            close = getattr(reader, "close", None)
            if close is not None:
                close()
    write_json(path, data, mkdir=True)
    return path


def load_posetrack(path: str | os.PathLike[str], image_root: str | os.PathLike[str] | None = None) -> PoseDocument:
    """Read a PoseTrack 2018 style file (frames ordered by sequence and frame id, track ids kept).
    Raises :class:`~hrnet.errors.AnnotationError` naming the file and field when it is malformed."""
    from hrnet.utils.io import read_json

    path = Path(path)
    data = read_json(path, what="PoseTrack file", error=AnnotationError)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(f"{path}: not a PoseTrack/COCO keypoint file (no 'images' list)")
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "vid_id" not in image:
            raise AnnotationError(f"{path}: images[{i}] has no 'vid_id' (not a PoseTrack 2018 file?)")
    data["images"].sort(key=lambda im: (str(im["vid_id"]), im.get("frame_id", im.get("id", 0))))
    return from_coco_dict(data, source=str(path), base_dir=path.parent, image_root=image_root)
