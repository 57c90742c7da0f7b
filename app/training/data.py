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

from app.texts import frames as n_frames
from app.texts import people as n_people

__all__ = [
    "entry_label",
    "frame_label",
    "split_summary",
    "ExportedData",
    "ReviewedSummary",
    "SplitEntry",
    "export_reviewed",
    "planned_data",
    "planned_split",
    "read_split",
    "summarize_reviewed",
]


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
    name: str  # the frame's file name (or exported image name)
    people: int
    frame: int | None = None  # document frame index, when known


@dataclass
class ExportedData:
    """The files of one export and the split they hold."""

    train_json: Path
    val_json: Path
    images_dir: Path
    train: list[SplitEntry] = field(default_factory=list)
    val: list[SplitEntry] = field(default_factory=list)
    num_joints: int = 17
    skipped: list[str] = field(default_factory=list)

    @property
    def train_people(self) -> int:
        return sum(e.people for e in self.train)

    @property
    def val_people(self) -> int:
        return sum(e.people for e in self.val)

    def opts(self) -> list[tuple[str, str]]:
        """The ``hrnet-train`` overrides that point the ``coco_json`` dataset at these files."""
        from app.export import ExportResult

        flat = ExportResult(self.train_json, self.val_json, self.images_dir, num_joints=self.num_joints).training_opts()
        return list(zip(flat[0::2], flat[1::2]))


def planned_data(data_dir: Path, num_joints: int = 17) -> ExportedData:
    """Where :func:`export_reviewed` into ``data_dir`` puts its files (for the command preview and resume)."""
    data_dir = Path(data_dir)
    return ExportedData(data_dir / "train.json", data_dir / "val.json", data_dir / "images", num_joints=num_joints)


def planned_split(pose_document: Any, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) frame indices the export will use (frames whose image cannot be read aside)."""
    from app.export import split_frames

    usable = summarize_reviewed(pose_document).usable_frames
    if len(usable) < 2:
        return list(usable), []
    return split_frames(pose_document, usable, val_fraction, seed=seed)


def _entries(path: Path) -> list[SplitEntry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    people: dict[int, int] = {}
    for ann in data.get("annotations", []):
        if ann.get("iscrowd", 0):
            continue
        if int(ann.get("num_keypoints", 0) or 0) <= 0:
            continue
        people[int(ann["image_id"])] = people.get(int(ann["image_id"]), 0) + 1
    return [SplitEntry(str(im.get("file_name", "")), people.get(int(im["id"]), 0))
            for im in data.get("images", [])]


def read_split(data: ExportedData) -> ExportedData:
    """Fill ``data``'s split from its exported JSON files (e.g. to resume a run of an earlier session)."""
    out = ExportedData(data.train_json, data.val_json, data.images_dir, _entries(data.train_json),
                       _entries(data.val_json), num_joints=data.num_joints)
    return out


def export_reviewed(document: Any, out_dir: Path, val_fraction: float, seed: int) -> ExportedData:
    """Export the reviewed frames of ``document`` (an AnnotationDocument) into ``out_dir``."""
    from app.export import export_for_training

    res = export_for_training(document, document.source, out_dir, val_fraction=val_fraction, only_reviewed=True,
                              seed=seed)
    frames = document.data.frames

    def entries(indices: list[int]) -> list[SplitEntry]:
        return [SplitEntry(frames[i].file_name if frames[i].video is None
                           else f"{Path(frames[i].video).name} #{(frames[i].frame_index or 0) + 1}",
                           frames[i].num_labelled, i) for i in indices]

    return ExportedData(res.train_json, res.val_json, res.images_dir, entries(res.train_frames),
                        entries(res.val_frames), num_joints=res.num_joints, skipped=list(res.skipped))


def frame_label(index: int, frame: Any) -> str:
    """A frame's row in the split table: its number and its file (or video and frame number)."""
    name = (f"{Path(frame.video).name} #{(frame.frame_index or 0) + 1}" if frame.video is not None
            else str(frame.file_name))
    return f"{index + 1}: {name}"


def entry_label(e: Any) -> str:
    """An exported entry's row in the split table."""
    return f"{e.frame + 1}: {e.name}" if e.frame is not None else e.name


def split_summary(train: int, train_people: int, val: int, val_people: int, skipped: list[str] | None = None) -> str:
    """"Training: 30 frames, 41 people — Validation: 6 frames, 9 people." (+ the unreadable ones)."""
    text = (f"Training: {n_frames(train)}, {n_people(train_people)} — "
            f"Validation: {n_frames(val)}, {n_people(val_people)}.")
    if skipped:
        text += f"\n{n_frames(len(skipped))} left out (image unreadable): " + "; ".join(skipped[:3])
    return text
