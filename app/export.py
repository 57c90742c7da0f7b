"""Export the labelled frames for training: COCO keypoint JSON (train/val) + an image folder.

``export_for_training(document, source, out_dir)`` writes::

    out_dir/images/       one image file per exported frame (video frames decoded and written
                          as PNG/JPEG, still images copied byte for byte), unique flat names
    out_dir/train.json    COCO keypoint JSON of the training frames
    out_dir/val.json      COCO keypoint JSON of the validation frames

which is exactly what ``hrnet-train``'s ``coco_json`` dataset reads::

    hrnet-train --cfg ... DATASET.DATASET coco_json \\
        DATASET.TRAIN_ANNOTATIONS out_dir/train.json DATASET.TRAIN_IMAGES out_dir/images \\
        DATASET.TEST_ANNOTATIONS out_dir/val.json DATASET.TEST_IMAGES out_dir/images

(:meth:`ExportResult.training_opts` gives those options). The JSON files are plain COCO (no app
state): the keypoint category, labelled people only (at least one joint with v > 0; boxes from
the person's box or its keypoints, ``area`` > 0), crowd regions kept; other categories left out
(they would shift the loader's class indices).

Frames: only frames with at least one labelled person; with ``only_reviewed`` only those marked
reviewed. Frames whose image cannot be read are skipped and listed in ``ExportResult.skipped``.

Split (deterministic for a given ``seed``): frames are grouped, groups are shuffled with
``numpy.random.default_rng(seed)`` and taken into val, in that order, while a group brings val
closer to ``val_fraction`` of the frames (at least one group when ``val_fraction`` > 0 and
there are two or more groups; train never ends empty). A still image is a group of its own.
A video's exported frames are cut, in frame order, into contiguous chunks of ``chunk_frames``
(default: a tenth of that video's exported frames, at least 1), so that nearly identical
neighbouring frames do not end up on both sides of the split.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.sources import FrameSource, video_frame_name
from hrnet import MediaError, PoseDocument, save_coco, subset

__all__ = ["ExportResult", "export_for_training", "split_frames"]

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """Where the export went; unpacks as ``train_json, val_json, images_dir``."""

    train_json: Path
    val_json: Path
    images_dir: Path
    train_frames: list[int] = field(default_factory=list)  # document frame indices
    val_frames: list[int] = field(default_factory=list)
    num_train_people: int = 0
    num_val_people: int = 0
    num_joints: int = 17
    skipped: list[str] = field(default_factory=list)  # "file: reason" of frames left out

    def __iter__(self) -> Iterator[Path]:
        return iter((self.train_json, self.val_json, self.images_dir))

    def training_opts(self) -> list[str]:
        """``hrnet-train`` ``opts KEY VALUE ...`` that point a coco_json experiment at this export."""
        opts = [
            "DATASET.DATASET", "coco_json",
            "DATASET.TRAIN_ANNOTATIONS", str(self.train_json),
            "DATASET.TRAIN_IMAGES", str(self.images_dir),
            "DATASET.TEST_ANNOTATIONS", str(self.val_json),
            "DATASET.TEST_IMAGES", str(self.images_dir),
        ]
        if self.num_joints != 17:
            opts += ["MODEL.NUM_JOINTS", str(self.num_joints)]
        return opts


def split_frames(
    document: PoseDocument, frames: list[int], val_fraction: float, seed: int = 0, chunk_frames: int | None = None
) -> tuple[list[int], list[int]]:
    """Split frame indices into (train, val) by groups (see the module docstring); both sorted."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    groups: list[list[int]] = []
    by_video: dict[str, list[int]] = {}
    for i in frames:
        fr = document.frames[i]
        if fr.video is not None:
            by_video.setdefault(fr.video, []).append(i)
        else:
            groups.append([i])
    for video in sorted(by_video):
        idx = sorted(by_video[video], key=lambda i: (document.frames[i].frame_index or 0, i))
        size = chunk_frames or max(1, math.ceil(len(idx) / 10))
        groups += [idx[k:k + size] for k in range(0, len(idx), size)]
    groups.sort(key=lambda g: g[0])
    target = round(val_fraction * len(frames))
    if val_fraction > 0 and target == 0 and len(groups) >= 2:
        target = 1
    order = np.random.default_rng(seed).permutation(len(groups))
    val: list[int] = []
    train: list[int] = []
    for gi in order:
        g = groups[gi]
        short = target - len(val)
        # take the group when it brings val closer to the target (and train keeps a frame)
        if short > 0 and len(g) - short < short and len(val) + len(g) < len(frames):
            val += g
        else:
            train += g
    if not val and target > 0 and len(groups) >= 2:  # groups bigger than the target: still validate on one
        g = groups[order[0]]
        val = list(g)
        train = [i for i in train if i not in set(g)]
    return sorted(train), sorted(val)


def _unique(name: str, used: set[str]) -> str:
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while candidate.lower() in used:
        candidate = f"{stem}_{n}{ext}"
        n += 1
    used.add(candidate.lower())
    return candidate


def joints_outside(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    """(K,) bool: labelled joints outside the ``width`` x ``height`` image (none when the size is unknown)."""
    kp = np.asarray(keypoints)
    if width <= 0 or height <= 0:
        return np.zeros(len(kp), bool)
    x, y = kp[:, 0], kp[:, 1]
    return (kp[:, 2] > 0) & ((x < 0) | (y < 0) | (x >= width) | (y >= height))


def outside_as_unlabelled(inst, width: int, height: int) -> int:
    """Write the joints a model put outside the image as COCO's unlabelled (0, 0, 0); joints a person
    placed or corrected there are kept. Returns how many were cleared."""
    mask = joints_outside(inst.keypoints, width, height) & ~np.asarray(inst.edited, bool)
    if mask.any():
        kp = inst.keypoints.copy()
        kp[mask] = 0.0
        inst.keypoints = kp
    return int(mask.sum())


def export_for_training(
    document,
    source: FrameSource | None,
    out_dir: str | os.PathLike[str],
    val_fraction: float = 0.2,
    only_reviewed: bool = False,
    seed: int = 0,
    image_format: str = "png",
    chunk_frames: int | None = None,
) -> ExportResult:
    """Write ``out_dir/train.json``, ``out_dir/val.json`` and ``out_dir/images/`` (see the module docstring).

    ``document`` is an :class:`~app.document.AnnotationDocument` or a
    :class:`~hrnet.annotations.PoseDocument`; ``source`` reads its pixels (default: the
    AnnotationDocument's, or a new FrameSource). ``image_format`` ('png' or 'jpg') is used for
    video frames. Raises ValueError when there is nothing to export, OSError on write failures.
    """
    data: PoseDocument = document.data if hasattr(document, "undo_stack") else document
    if source is None:
        source = getattr(document, "source", None)
        if source is None:
            source = FrameSource(data)
    ext = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg"}.get(image_format.lower())
    if ext is None:
        raise ValueError(f"image_format must be 'png' or 'jpg', got {image_format!r}")
    out = Path(out_dir)
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)

    selected = [
        i for i, fr in enumerate(data.frames)
        if fr.num_labelled > 0 and (fr.reviewed or not only_reviewed)
    ]
    if not selected:
        what = "reviewed frames with labelled people" if only_reviewed else "frames with labelled people"
        raise ValueError(f"Nothing to export: no {what}")

    used: set[str] = set()
    names: dict[int, str] = {}
    skipped: list[str] = []
    for i in selected:
        fr = data.frames[i]
        try:
            if fr.video is not None:
                image = source.image(i)
                name = _unique(video_frame_name(fr.video, fr.frame_index or 0, ext), used)
                params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == ".jpg" else []
                ok, buf = cv2.imencode(ext, image, params)
                if not ok:
                    raise MediaError(f"cannot encode frame {fr.frame_index} of {fr.video}")
                (images_dir / name).write_bytes(buf.tobytes())
            else:
                src = source.path(i)
                if not src.is_file():
                    raise MediaError(f"image not found: {src}")
                w, h = source.size(i)
                if w <= 0 or h <= 0:
                    source.image(i)  # decode to learn the size (and check the file)
                name = _unique(Path(fr.file_name).name, used)
                shutil.copyfile(src, images_dir / name)
        except MediaError as e:
            skipped.append(f"{source.describe(i)}: {e}")
            logger.warning("export: skipping %s: %s", source.describe(i), e)
            continue
        names[i] = name
    exported = [i for i in selected if i in names]
    if not exported:
        raise ValueError("Nothing to export: no frame image could be read (" + "; ".join(skipped[:3]) + ")")

    train, val = split_frames(data, exported, val_fraction, seed=seed, chunk_frames=chunk_frames)
    result = ExportResult(out / "train.json", out / "val.json", images_dir, train, val,
                          num_joints=data.num_joints, skipped=skipped)
    for frames, path, attr in ((train, result.train_json, "num_train_people"),
                               (val, result.val_json, "num_val_people")):
        part = subset(data, frames, rename=names)
        part.image_root = images_dir
        part.other_categories = []
        for fr in part.frames:
            for inst in fr.instances:
                outside_as_unlabelled(inst, fr.width, fr.height)
            fr.instances = [inst for inst in fr.instances if inst.num_keypoints > 0]
            for inst in fr.instances:
                inst.id = None  # fresh ids, unique within the file
                inst.category_id = part.category.id
                if inst.bbox is not None and (inst.bbox[2] <= 0 or inst.bbox[3] <= 0):
                    inst.bbox = None  # an empty box: derive one from the keypoints
            fr.other = []
            fr.video = fr.frame_index = None
            fr.reviewed = False
        part.extra.setdefault("info", {"description": "exported by the HRNet pose annotator"})
        save_coco(part, path, include_app_state=False, update_path=False)
        setattr(result, attr, sum(len(fr.instances) for fr in part.frames))
    logger.info("exported %d train / %d val frames to %s", len(train), len(val), out)
    return result
