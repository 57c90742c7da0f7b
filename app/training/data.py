"""The training data of a run: the project's reviewed frames, exported for ``hrnet-train``.

The export itself is :func:`app.export.export_for_training` (COCO keypoint JSON + image files,
exactly what the ``coco_json`` dataset reads); this module summarises the reviewed frames for the
dialog and reads back which frames went to training and which to validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ExportedData", "ReviewedSummary", "SplitEntry", "export_reviewed", "read_split", "summarize_reviewed"]


@dataclass(frozen=True)
class ReviewedSummary:
    """Reviewed frames of a document (frame indices) and how many people they label."""

    frames: list[int]
    people: int
    usable_frames: list[int]  # reviewed frames with at least one labelled person
    unreviewed: int
    num_joints: int

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def summarize_reviewed(pose_document: Any) -> ReviewedSummary:
    frames = [i for i, f in enumerate(pose_document.frames) if f.reviewed]
    usable = [i for i in frames if pose_document.frames[i].num_labelled > 0]
    people = sum(pose_document.frames[i].num_labelled for i in frames)
    return ReviewedSummary(
        frames=frames,
        people=people,
        usable_frames=usable,
        unreviewed=len(pose_document.frames) - len(frames),
        num_joints=int(pose_document.num_joints),
    )


@dataclass(frozen=True)
class SplitEntry:
    image_id: int
    file_name: str
    people: int


@dataclass
class ExportedData:
    """The files of one export and the split they hold."""

    train_json: Path
    val_json: Path
    images_dir: Path
    train: list[SplitEntry] = field(default_factory=list)
    val: list[SplitEntry] = field(default_factory=list)

    @property
    def train_people(self) -> int:
        return sum(e.people for e in self.train)

    @property
    def val_people(self) -> int:
        return sum(e.people for e in self.val)

    def opts(self) -> list[tuple[str, str]]:
        """The ``hrnet-train`` overrides that point the ``coco_json`` dataset at these files."""
        return [
            ("DATASET.DATASET", "coco_json"),
            ("DATASET.TRAIN_ANNOTATIONS", str(self.train_json)),
            ("DATASET.TRAIN_IMAGES", str(self.images_dir)),
            ("DATASET.TEST_ANNOTATIONS", str(self.val_json)),
            ("DATASET.TEST_IMAGES", str(self.images_dir)),
        ]


def _entries(path: Path) -> list[SplitEntry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    people: dict[int, int] = {}
    for ann in data.get("annotations", []):
        if ann.get("iscrowd", 0):
            continue
        if int(ann.get("num_keypoints", 0) or 0) <= 0:
            continue
        people[int(ann["image_id"])] = people.get(int(ann["image_id"]), 0) + 1
    return [SplitEntry(int(im["id"]), str(im.get("file_name", "")), people.get(int(im["id"]), 0))
            for im in data.get("images", [])]


def read_split(train_json: Path, val_json: Path, images_dir: Path) -> ExportedData:
    """Which frames (and how many people) an export put in training and in validation."""
    train_json, val_json, images_dir = Path(train_json), Path(val_json), Path(images_dir)
    return ExportedData(train_json, val_json, images_dir, _entries(train_json), _entries(val_json))


def export_reviewed(document: Any, out_dir: Path, val_fraction: float, seed: int) -> ExportedData:
    """Export the reviewed frames of ``document`` (an AnnotationDocument) into ``out_dir``."""
    from app.export import export_for_training

    paths = export_for_training(
        document.data, document.source, out_dir, val_fraction=val_fraction, only_reviewed=True, seed=seed
    )
    train_json, val_json, images_dir = _unpack(paths)
    return read_split(train_json, val_json, images_dir)


def _unpack(paths: Any) -> tuple[Path, Path, Path]:
    if isinstance(paths, (tuple, list)) and len(paths) >= 3:
        return Path(paths[0]), Path(paths[1]), Path(paths[2])
    for names in (("train_json", "val_json", "images_dir"), ("train", "val", "images")):
        if all(hasattr(paths, n) for n in names):
            return tuple(Path(getattr(paths, n)) for n in names)  # type: ignore[return-value]
    raise TypeError(f"unexpected result of export_for_training: {paths!r}")
