"""The annotation data model: :class:`Category`, :class:`Instance`, :class:`Frame`,
:class:`PoseDocument` (plain dataclasses + numpy; see :mod:`hrnet.annotations`)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.keypoints import APP_KEY, COCO_KEYPOINTS, COCO_SKELETON, KeypointSet, KeypointSetError

logger = logging.getLogger(__name__)


def _opt_array_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


@dataclass
class Category:
    keypoints: list[str] = field(default_factory=lambda: list(COCO_KEYPOINTS))
    skeleton: list[tuple[int, int]] = field(default_factory=lambda: list(COCO_SKELETON))  # 0-based
    id: int = 1
    name: str = "person"
    supercategory: str = "person"
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, preserved

    def __post_init__(self) -> None:
        self.keypoints = [str(n) for n in self.keypoints]
        self.skeleton = [(int(a), int(b)) for a, b in self.skeleton]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def flip_pairs(self) -> list[tuple[int, int]]:
        """(left, right) joint index pairs: those stored under the app's key, else the one
        left/right rule of :mod:`hrnet.keypoints` applied to the names."""
        return list(self.keypoint_set().flip_pairs)

    def keypoint_set(self) -> KeypointSet:
        """The category as a :class:`~hrnet.keypoints.KeypointSet` (names, skeleton, flip pairs,
        sigmas, colours; the last three from ``extra["hrnet_annotator"]`` when stored there).
        A malformed stored field is ignored with a warning (the names and skeleton still hold)."""
        cat = {"name": self.name, "keypoints": list(self.keypoints),
               "skeleton": [[a + 1, b + 1] for a, b in self.skeleton]}
        app = self.extra.get(APP_KEY)
        if isinstance(app, dict):
            cat[APP_KEY] = app
        try:
            return KeypointSet.from_category(cat)
        except KeypointSetError as e:
            logger.warning("category %r: %s; using the left/right rule and default sigmas", self.name, e)
            return KeypointSet.from_names(self.keypoints, self.skeleton, name=self.name)

    def set_keypoint_set(self, kset: KeypointSet) -> None:
        """Make this category describe ``kset`` (names, skeleton; flip pairs, sigmas and colours
        under ``extra["hrnet_annotator"]``, other fields kept). The people's joints are not touched."""
        self.keypoints = list(kset.names)
        self.skeleton = [tuple(e) for e in kset.skeleton]
        app = dict(self.extra.get(APP_KEY) or {}) if isinstance(self.extra.get(APP_KEY), dict) else {}
        for key in ("flip_pairs", "sigmas", "colors", "keypoint_set", "layout"):
            app.pop(key, None)
        app.update(kset.app_fields())
        self.extra[APP_KEY] = app


def bbox_from_keypoints(
    keypoints: np.ndarray,
    margin: float = 0.1,
    min_size: float = 2.0,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray | None:
    """Box (x, y, w, h) around the labelled joints (v > 0), or None when none is labelled.

    The tight box is grown by ``margin`` times its width/height on each side and to at least
    ``min_size`` pixels per side (so a single joint still gives a box with a positive area), and
    clipped to ``image_size`` (width, height) when given.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    pts = kp[kp[:, 2] > 0, :2]
    if len(pts) == 0:
        return None
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    x0, x1 = x0 - margin * w, x1 + margin * w
    y0, y1 = y0 - margin * h, y1 + margin * h
    if x1 - x0 < min_size:
        cx = (x0 + x1) / 2
        x0, x1 = cx - min_size / 2, cx + min_size / 2
    if y1 - y0 < min_size:
        cy = (y0 + y1) / 2
        y0, y1 = cy - min_size / 2, cy + min_size / 2
    if image_size is not None and image_size[0] > 0 and image_size[1] > 0:
        x0, x1 = max(x0, 0.0), min(x1, float(image_size[0]))
        y0, y1 = max(y0, 0.0), min(y1, float(image_size[1]))
    return np.array([x0, y0, max(x1 - x0, 0.0), max(y1 - y0, 0.0)], dtype=np.float64)


@dataclass(eq=False)
class Instance:
    keypoints: np.ndarray  # (K, 3) float64: x, y, visibility in {0, 1, 2}
    bbox: np.ndarray | None = None  # (4,) float64 xywh in image pixels
    score: float | None = None
    track_id: int | None = None
    edited: np.ndarray | None = None  # (K,) bool; None = nothing edited by hand
    joint_scores: np.ndarray | None = None  # (K,) float model confidence, where predicted
    id: int | None = None  # COCO annotation id as read; reassigned on save when missing
    category_id: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # unknown annotation fields, preserved

    def __post_init__(self) -> None:
        self.keypoints = np.array(self.keypoints, dtype=np.float64).reshape(-1, 3)
        if self.bbox is not None:
            self.bbox = np.array(self.bbox, dtype=np.float64).reshape(4)
        if self.edited is None:
            self.edited = np.zeros(len(self.keypoints), dtype=bool)
        else:
            self.edited = np.array(self.edited, dtype=bool).reshape(len(self.keypoints))
        if self.joint_scores is not None:
            self.joint_scores = np.array(self.joint_scores, dtype=np.float64).reshape(len(self.keypoints))

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return (
            _opt_array_equal(self.keypoints, other.keypoints)
            and _opt_array_equal(self.bbox, other.bbox)
            and self.score == other.score
            and self.track_id == other.track_id
            and _opt_array_equal(self.edited, other.edited)
            and _opt_array_equal(self.joint_scores, other.joint_scores)
            and self.id == other.id
            and self.category_id == other.category_id
            and self.extra == other.extra
        )

    @property
    def num_joints(self) -> int:
        """K, the number of joints of the skeleton (labelled or not)."""
        return len(self.keypoints)

    @property
    def num_keypoints(self) -> int:
        """Number of labelled joints (visibility > 0), as COCO's ``num_keypoints``."""
        return int(np.count_nonzero(self.keypoints[:, 2] > 0))

    @property
    def is_edited(self) -> bool:
        """True when at least one joint was placed or corrected by hand."""
        return bool(np.any(self.edited))

    @property
    def is_prediction(self) -> bool:
        """True for untouched model output: model joint scores and no joint edited by hand.

        People read from a file without joint scores (ground truth, other tools) are not
        predictions; neither is anyone with a joint placed or corrected by hand.
        """
        return self.joint_scores is not None and not self.is_edited

    def box_or_auto(self, image_size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The box (xywh): ``bbox`` when set, else :func:`bbox_from_keypoints`."""
        if self.bbox is not None:
            return self.bbox.copy()
        return bbox_from_keypoints(self.keypoints, image_size=image_size)

    @classmethod
    def empty(cls, num_joints: int, **kwargs: Any) -> Instance:
        """A person with no labelled joint (all (0, 0, 0))."""
        return cls(keypoints=np.zeros((num_joints, 3)), **kwargs)

    @classmethod
    def from_prediction(
        cls,
        keypoints: np.ndarray,
        score: float | None = None,
        box: Sequence[float] | np.ndarray | None = None,
        box_format: str = "xyxy",
        track_id: int | None = None,
        min_confidence: float = 0.0,
        category_id: int = 1,
    ) -> Instance:
        """A predicted person from model output: ``keypoints`` (K, 3) of x, y, confidence.

        Joints with a finite position and confidence >= ``min_confidence`` become visible
        (v=2); the rest are not labelled ((0, 0, 0)). Confidences go to ``joint_scores`` (NaN
        as 0), nothing is marked edited. ``box`` is the detector box in ``box_format``
        ('xyxy' as the detectors and the predictor use, or 'xywh'); without it the box is
        derived from the keypoints on save.
        """
        pred = np.array(keypoints, dtype=np.float64).reshape(-1, 3)
        conf = np.nan_to_num(pred[:, 2], nan=0.0, posinf=0.0, neginf=0.0)
        ok = np.isfinite(pred[:, :2]).all(axis=1) & (conf >= min_confidence)
        kps = np.zeros_like(pred)
        kps[ok, :2] = pred[ok, :2]
        kps[ok, 2] = 2.0
        bbox = None
        if box is not None:
            b = np.array(box, dtype=np.float64).reshape(4)
            if box_format == "xyxy":
                b = np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]])
            elif box_format != "xywh":
                raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
            bbox = b
        return cls(
            keypoints=kps,
            bbox=bbox,
            score=None if score is None else float(score),
            track_id=track_id,
            joint_scores=conf,
            category_id=category_id,
        )

    @classmethod
    def from_pose_result(cls, result: Any, **kwargs: Any) -> Instance:
        """From a :class:`hrnet.predictor.PoseResult`-like object (``.keypoints``, ``.score``, ``.box`` xyxy)."""
        return cls.from_prediction(
            result.keypoints, score=getattr(result, "score", None), box=getattr(result, "box", None), **kwargs
        )

    def copy(self) -> Instance:
        """A deep copy (arrays and ``extra`` copied)."""
        new = Instance.__new__(Instance)
        new.__dict__.update(self.__dict__)
        new.keypoints = self.keypoints.copy()
        new.bbox = None if self.bbox is None else self.bbox.copy()
        new.edited = self.edited.copy()
        new.joint_scores = None if self.joint_scores is None else self.joint_scores.copy()
        new.extra = _deep(self.extra)
        return new


def _deep(value: Any) -> Any:
    """Deep copy of JSON-like data (dicts, lists, scalars); empty containers are cheap."""
    if not value:
        return type(value)() if isinstance(value, (dict, list)) else value
    return json.loads(json.dumps(value))


@dataclass
class Frame:
    id: int
    file_name: str  # relative to the document's image root, or absolute
    width: int  # 0 = not known yet (read lazily from the image)
    height: int
    instances: list[Instance] = field(default_factory=list)
    reviewed: bool = False
    video: str | None = None  # source video path (absolute, or relative to the image root)
    frame_index: int | None = None  # 0-based frame index within that video
    crowd: list[dict[str, Any]] = field(default_factory=list)  # iscrowd=1 annotations, preserved raw
    extra: dict[str, Any] = field(default_factory=dict)  # unknown image fields, preserved
    other: list[dict[str, Any]] = field(default_factory=list)  # annotations of other categories, raw

    @property
    def num_labelled(self) -> int:
        """Number of people with at least one labelled joint."""
        return sum(1 for inst in self.instances if inst.num_keypoints > 0)

    def cow_copy(self) -> Frame:
        """A shallow copy with its own people list (people, crowd regions and unknown fields are
        shared): what a copy-on-write document changes instead of a frame a snapshot holds."""
        new = Frame.__new__(Frame)
        new.__dict__.update(self.__dict__)
        new.instances = list(self.instances)
        return new

    def copy(self) -> Frame:
        """A deep copy (people, crowd regions and unknown fields copied)."""
        return Frame(
            id=self.id, file_name=self.file_name, width=self.width, height=self.height,
            instances=[inst.copy() for inst in self.instances], reviewed=self.reviewed, video=self.video,
            frame_index=self.frame_index, crowd=_deep(self.crowd), extra=_deep(self.extra), other=_deep(self.other),
        )


@dataclass
class PoseDocument:
    frames: list[Frame] = field(default_factory=list)
    category: Category = field(default_factory=Category)
    image_root: Path | None = field(default=None, compare=False)  # folder frame file names are relative to
    path: Path | None = field(default=None, compare=False)  # the file this was read from / last saved to
    extra: dict[str, Any] = field(default_factory=dict)  # info, licenses, other top-level fields
    other_categories: list[dict[str, Any]] = field(default_factory=list)  # non-keypoint categories, raw

    @property
    def num_joints(self) -> int:
        return self.category.num_keypoints

    def copy(self, share_arrays: bool = False) -> PoseDocument:
        """A deep copy (a consistent snapshot, e.g. for writing on another thread).

        ``share_arrays=True`` makes a cheaper snapshot (about 5x faster) whose people share their
        numpy arrays and ``extra`` dicts with this document: valid as long as those are replaced
        rather than modified in place, which is how the app's commands edit people.
        """
        cat = self.category
        if share_arrays:
            frames = []
            for fr in self.frames:
                f2 = Frame.__new__(Frame)
                f2.__dict__.update(fr.__dict__)
                people = []
                for inst in fr.instances:
                    i2 = Instance.__new__(Instance)
                    i2.__dict__.update(inst.__dict__)
                    people.append(i2)
                f2.instances = people
                frames.append(f2)
        else:
            frames = [fr.copy() for fr in self.frames]
        return PoseDocument(
            frames=frames,
            category=Category(keypoints=list(cat.keypoints), skeleton=list(cat.skeleton), id=cat.id, name=cat.name,
                              supercategory=cat.supercategory, extra=_deep(cat.extra)),
            image_root=self.image_root, path=self.path, extra=_deep(self.extra),
            other_categories=_deep(self.other_categories),
        )

    def next_frame_id(self) -> int:
        return max((f.id for f in self.frames), default=0) + 1

    def resolve(self, name: str | os.PathLike[str]) -> Path:
        """An image file name or video path of a frame as a path (relative ones joined to ``image_root``)."""
        p = Path(name)
        if p.is_absolute() or self.image_root is None:
            return p
        return self.image_root / p


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def iter_instances(document: PoseDocument) -> Iterable[tuple[int, int, Instance]]:
    """(frame index, instance index, instance) over the whole document."""
    for fi, fr in enumerate(document.frames):
        for ii, inst in enumerate(fr.instances):
            yield fi, ii, inst


def subset(
    document: PoseDocument, frame_indices: Iterable[int], rename: Mapping[int, str] | None = None
) -> PoseDocument:
    """A new document with copies of the given frames (optionally renamed: frame index -> file name)."""
    rename = rename or {}
    head = PoseDocument(category=document.category, image_root=document.image_root, extra=document.extra,
                        other_categories=document.other_categories).copy()
    for i in frame_indices:
        fr = document.frames[i].copy()
        fr.file_name = rename.get(i, fr.file_name)
        head.frames.append(fr)
    return head
