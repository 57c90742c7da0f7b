"""The Qt-free COCO keypoint annotation document shared by the app and the training loader.

Data model (plain dataclasses + numpy):

- :class:`Category` — keypoint names and a 0-based skeleton (COCO files store it 1-based).
- :class:`Instance` — one person: ``keypoints`` (K, 3) float64 of x, y, visibility (0 not
  labelled, 1 labelled but occluded, 2 visible), ``bbox`` xywh, detector/pose ``score``,
  ``track_id``, per-joint ``edited`` flags (True = placed or corrected by hand, False = predicted
  or imported), ``joint_scores`` (K,) model confidences where predicted.
- :class:`Frame` — one image or one video frame, its people, crowd regions and ``reviewed`` flag.
- :class:`PoseDocument` — frames + category + everything else of the file (info, licenses,
  unknown fields), preserved on save.

``load_coco(path)`` / ``save_coco(document, path)`` read and write COCO keypoint JSON.

File format
-----------
The file is plain COCO keypoint JSON (``images``, ``annotations``, ``categories``) that
pycocotools and the training loader read as is. What plain COCO has no field for is stored under
one extra key, ``"hrnet_annotator"``, which other tools ignore. It appears at three levels, each
holding the state of the record it sits in, and only where that state is not the default::

    {"hrnet_annotator": {"version": 1, "image_root": "images"},          # top level
     "images": [{"id": 1, "file_name": "clip_000012.png", "width": 640, "height": 480,
                 "hrnet_annotator": {"reviewed": true,                   # frame marked reviewed
                                     "video": "clip.mp4", "frame_index": 12}}],
     "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "keypoints": [...],
                      "num_keypoints": 15, "bbox": [...], "area": 1234.0, "iscrowd": 0,
                      "score": 0.93, "track_id": 3,                      # see below
                      "hrnet_annotator": {"edited": [0, 5],              # joints edited by hand
                                          "joint_scores": [0.9, ...],    # model confidences
                                          "auto_bbox": true}}]}          # bbox derived on save

- ``image_root`` is the folder that image file names (and relative video paths) are relative
  to, written relative to the JSON file's folder (absolute with ``absolute_paths=True``).
- ``score`` and ``track_id`` are written as plain annotation fields because both are already
  established in the COCO family (COCO results files, PoseTrack) and ignored by COCO readers;
  a PoseTrack-style ``track_id`` is therefore read too.
- ``auto_bbox`` marks an instance whose box was not set (``Instance.bbox is None``): the file
  holds a box computed from the labelled keypoints (:func:`bbox_from_keypoints`) so that COCO
  readers get one, and reading it back gives ``bbox=None`` again.

Writing: float coordinates, integer visibilities, ``num_keypoints`` (joints with v > 0),
``bbox`` (the instance's, else from keypoints), ``area`` (the value read from the file when the
annotation had one and its box was not changed since, else box width x height), ``iscrowd`` 0,
the 1-based skeleton, image ``width``/``height``. Unknown fields of the file, its images,
annotations and categories are kept (``extra`` dicts); crowd regions (``iscrowd`` 1) and the
annotations and categories of other (non-keypoint) categories are kept verbatim. Instances
without an id get a fresh one on save (written back into the document, so ids stay stable
across saves). The write is atomic: a temp file in the same folder, fsync, ``os.replace``.

Round trip: ``load_coco(p) == doc`` after ``save_coco(doc, p)``; ``save_coco(load_coco(f))``
keeps all unknown fields of ``f``. Reading validates everything it uses and raises
:class:`~hrnet.errors.AnnotationError` naming the file, the record and the field.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from hrnet import fastjson
from hrnet.errors import AnnotationError
from hrnet.keypoints import APP_KEY, COCO_KEYPOINTS, COCO_SKELETON, KeypointSet, KeypointSetError
from hrnet.utils.io import atomic_open, read_json, write_json

__all__ = [
    "APP_KEY",
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "AnnotationError",
    "Category",
    "Frame",
    "Instance",
    "PoseDocument",
    "bbox_from_keypoints",
    "from_coco_dict",
    "iter_instances",
    "load_coco",
    "save_coco",
    "subset",
    "to_coco_dict",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

#: APP_KEY (from hrnet.keypoints): the one extra key under which the app's own state is stored
#: (top level, images, annotations, the keypoint category).
FORMAT_VERSION = 1

# The 17 COCO person keypoints and the official 0-based COCO skeleton live in hrnet.keypoints
# (re-exported here for compatibility).

_IMAGE_KEYS = {"id", "file_name", "width", "height", APP_KEY}
_ANN_KEYS = {"id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "iscrowd",
             "score", "track_id", APP_KEY}
_CAT_KEYS = {"id", "name", "supercategory", "keypoints", "skeleton"}
_TOP_KEYS = {"images", "annotations", "categories", APP_KEY}


_NUMBER_TYPES = {int, float}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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


class _Reader:
    """Validating COCO -> PoseDocument conversion with error messages that name the record."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> AnnotationError:
        return AnnotationError(f"{self.source}: {where}: {what}")

    def number(self, v: Any, where: str, name: str) -> float:
        if not _is_number(v):
            raise self.fail(where, f"'{name}' must be a number, got {type(v).__name__} {v!r}")
        f = float(v)
        if not math.isfinite(f):
            raise self.fail(where, f"'{name}' must be finite, got {v!r}")
        return f

    def integer(self, v: Any, where: str, name: str) -> int:
        if _is_int(v):
            return int(v)
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise self.fail(where, f"'{name}' must be an integer, got {type(v).__name__} {v!r}")

    def category(self, cat: Any, i: int) -> Category:
        where = f"categories[{i}]"
        if not isinstance(cat, dict):
            raise self.fail(where, f"expected an object, got {type(cat).__name__}")
        if "id" not in cat:
            raise self.fail(where, "missing field 'id'")
        cid = self.integer(cat["id"], where, "id")
        names = cat.get("keypoints")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise self.fail(where + f" (id {cid})", f"'keypoints' must be a list of joint names, got {names!r}")
        skel_raw = cat.get("skeleton", [])
        if not isinstance(skel_raw, list):
            raise self.fail(where + f" (id {cid})", f"'skeleton' must be a list of [a, b] pairs, got {skel_raw!r}")
        skeleton = []
        for j, pair in enumerate(skel_raw):
            if (not isinstance(pair, list) or len(pair) != 2 or not all(_is_int(a) for a in pair)
                    or not all(1 <= a <= len(names) for a in pair)):
                raise self.fail(
                    where + f" (id {cid})",
                    f"'skeleton'[{j}] must be a pair of 1-based joint numbers in 1..{len(names)}, got {pair!r}",
                )
            skeleton.append((pair[0] - 1, pair[1] - 1))
        name = cat.get("name", "person")
        sup = cat.get("supercategory", name)
        extra = {k: v for k, v in cat.items() if k not in _CAT_KEYS}
        return Category(keypoints=names, skeleton=skeleton, id=cid, name=name, supercategory=sup, extra=extra)

    def frame(self, img: Any, i: int) -> Frame:
        where = f"images[{i}]"
        if not isinstance(img, dict):
            raise self.fail(where, f"expected an object, got {type(img).__name__}")
        if "id" not in img:
            raise self.fail(where, "missing field 'id'")
        if not _is_int(img["id"]):
            raise self.fail(where, f"'id' must be an integer, got {img['id']!r}")
        where = f"images[{i}] (id {img['id']})"
        file_name = img.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            raise self.fail(where, f"'file_name' must be a non-empty string, got {file_name!r}")
        size = []
        for key in ("width", "height"):
            v = img.get(key, 0)
            v = self.integer(v, where, key)
            if v < 0:
                raise self.fail(where, f"'{key}' must be >= 0, got {v}")
            size.append(v)
        app = img.get(APP_KEY, {})
        if not isinstance(app, dict):
            raise self.fail(where, f"'{APP_KEY}' must be an object, got {app!r}")
        reviewed = app.get("reviewed", False)
        if not isinstance(reviewed, bool):
            raise self.fail(where, f"'{APP_KEY}.reviewed' must be true or false, got {reviewed!r}")
        video = app.get("video")
        if video is not None and not isinstance(video, str):
            raise self.fail(where, f"'{APP_KEY}.video' must be a path string, got {video!r}")
        frame_index = app.get("frame_index")
        if frame_index is not None and (not _is_int(frame_index) or frame_index < 0):
            raise self.fail(where, f"'{APP_KEY}.frame_index' must be an integer >= 0, got {frame_index!r}")
        extra = {k: v for k, v in img.items() if k not in _IMAGE_KEYS}
        return Frame(
            id=img["id"], file_name=file_name, width=size[0], height=size[1], reviewed=reviewed,
            video=video, frame_index=frame_index, extra=extra,
        )

    def instance(self, ann: dict[str, Any], where: str, num_joints: int) -> Instance:
        kps = ann.get("keypoints")
        if not isinstance(kps, list):
            raise self.fail(where, f"'keypoints' must be a list of {3 * num_joints} numbers, got {type(kps).__name__}")
        if len(kps) != 3 * num_joints:
            raise self.fail(
                where, f"'keypoints' has {len(kps)} values, expected {3 * num_joints} (x, y, v for {num_joints} joints)"
            )
        if not set(map(type, kps)) <= _NUMBER_TYPES:  # fast check; find the culprit only on failure
            for j, v in enumerate(kps):
                if not _is_number(v):
                    raise self.fail(
                        where, f"'keypoints'[{j}] (joint {j // 3}, {'xyv'[j % 3]}) must be a number, got {v!r}"
                    )
        arr = np.array(kps, dtype=np.float64).reshape(num_joints, 3)
        if not np.isfinite(arr).all():
            j = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise self.fail(where, f"'keypoints' of joint {j} must be finite, got {arr[j].tolist()}")
        vis = arr[:, 2]
        bad = (vis != 0.0) & (vis != 1.0) & (vis != 2.0)
        if bad.any():
            j = int(np.argmax(bad))
            raise self.fail(where, f"visibility of joint {j} must be 0, 1 or 2, got {kps[3 * j + 2]!r}")
        app = ann.get(APP_KEY, {})
        if not isinstance(app, dict):
            raise self.fail(where, f"'{APP_KEY}' must be an object, got {app!r}")
        extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS}
        bbox = None
        if "bbox" in ann and not app.get("auto_bbox", False):
            b = ann["bbox"]
            if not isinstance(b, list) or len(b) != 4:
                raise self.fail(where, f"'bbox' must be [x, y, width, height], got {b!r}")
            bbox = np.array([self.number(v, where, "bbox") for v in b])
            if bbox[2] < 0 or bbox[3] < 0:
                raise self.fail(where, f"'bbox' width and height must be >= 0, got {b!r}")
            if "area" in extra and extra["area"] == bbox[2] * bbox[3]:
                extra.pop("area")  # the box area we write anyway; a different one (segmentation) is kept
        elif "bbox" in ann:
            extra.pop("area", None)  # derived together with the auto box
        score = ann.get("score")
        if score is not None:
            score = self.number(score, where, "score")
        track_id = ann.get("track_id")
        if track_id is not None and not _is_int(track_id):
            raise self.fail(where, f"'track_id' must be an integer, got {track_id!r}")
        edited = np.zeros(num_joints, dtype=bool)
        e = app.get("edited", [])
        if not isinstance(e, list) or not all(_is_int(j) and 0 <= j < num_joints for j in e):
            raise self.fail(where, f"'{APP_KEY}.edited' must be a list of joint indices in 0..{num_joints - 1}, "
                                   f"got {e!r}")
        edited[e] = True
        js = app.get("joint_scores")
        joint_scores = None
        if js is not None:
            if not isinstance(js, list) or len(js) != num_joints or not set(map(type, js)) <= _NUMBER_TYPES:
                raise self.fail(where, f"'{APP_KEY}.joint_scores' must be a list of {num_joints} numbers, got {js!r}")
            joint_scores = np.array(js, dtype=np.float64)
        category_id = ann["category_id"]
        return Instance(
            keypoints=arr, bbox=bbox, score=score, track_id=track_id, edited=edited, joint_scores=joint_scores,
            id=ann.get("id"), category_id=category_id, extra=extra,
        )


def _person_where(row: int, ann: dict[str, Any], fr: Frame) -> str:
    where = f"annotations[{row}]"
    if ann.get("id") is not None:
        where += f" (id {ann['id']})"
    return where + f" of image {fr.id} ({fr.file_name})"


def _dispatch_annotations(
    r: _Reader, anns: list[Any], by_id: dict[int, Frame], cat_id: int, known_cats: set[int]
) -> tuple[list[dict[str, Any]], list[Frame], list[int]]:
    """Check the record-level fields of every annotation; keep crowd regions and other
    categories' annotations raw on their frames; return the people (annotation, frame, row)."""
    ann_ids: set[Any] = set()
    people: list[dict[str, Any]] = []
    owners: list[Frame] = []
    rows: list[int] = []
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise r.fail(f"annotations[{i}]", f"expected an object, got {type(ann).__name__}")
        aid = ann.get("id")
        if aid is not None:
            if not _is_int(aid):
                raise r.fail(f"annotations[{i}]", f"'id' must be an integer, got {aid!r}")
            if aid in ann_ids:
                raise r.fail(f"annotations[{i}] (id {aid})", f"duplicate annotation id {aid}")
            ann_ids.add(aid)
        image_id = ann.get("image_id")
        try:
            fr = by_id.get(image_id)  # type: ignore[arg-type]
        except TypeError:  # unhashable
            fr = None
        if fr is None:
            where = f"annotations[{i}]" + (f" (id {aid})" if aid is not None else "")
            if "image_id" not in ann:
                raise r.fail(where, "missing field 'image_id'")
            raise r.fail(where, f"'image_id' {image_id!r} refers to no image")
        cid = ann.get("category_id", cat_id)
        iscrowd = ann.get("iscrowd", 0)
        if cid == cat_id and type(iscrowd) in (int, bool) and not iscrowd:  # the common case: a person
            people.append(ann)
            owners.append(fr)
            rows.append(i)
            continue
        where = _person_where(i, ann, fr)
        if cid not in known_cats:
            raise r.fail(where, f"'category_id' {cid!r} refers to no category")
        if iscrowd not in (0, 1, False, True):
            raise r.fail(where, f"'iscrowd' must be 0 or 1, got {iscrowd!r}")
        if iscrowd:
            fr.crowd.append(ann)
        elif cid != cat_id:
            fr.other.append(ann)
        else:  # e.g. iscrowd 0.0
            people.append(ann)
            owners.append(fr)
            rows.append(i)
    return people, owners, rows


def _numbers_ok(lists: list[Any], length: int) -> bool:
    """Every item is a list of ``length`` JSON numbers (no booleans, strings, nulls)."""
    return (all(type(v) is list and len(v) == length for v in lists)
            and set(map(type, chain.from_iterable(lists))) <= _NUMBER_TYPES)


def _build_instances(
    r: _Reader, people: list[dict[str, Any]], owners: list[Frame], rows: list[int], K: int, cat_id: int,
    progress: Callable[[float], None] | None = None,
) -> list[Instance]:
    """The people as :class:`Instance` objects, validated column by column (numpy) rather than
    one number at a time. Each person's arrays are rows of one array per field. On any invalid
    value the slow per-record validation runs to name the record and the field."""
    n = len(people)
    if n == 0:
        return []

    def slow_path() -> AnnotationError:
        for j, a in enumerate(people):
            r.instance({**a, "category_id": a.get("category_id", cat_id)}, _person_where(rows[j], a, owners[j]), K)
        return r.fail("annotations", "invalid values")  # not reached: the loop raises at the culprit

    kl = [a.get("keypoints") for a in people]
    arr = None
    # in slices of _ROWS people: a reader thread never holds the GIL for long (same cost)
    if all(_numbers_ok(kl[s:s + _ROWS], 3 * K) for s in range(0, n, _ROWS)):
        try:
            arr = np.empty((n, 3 * K), dtype=np.float64)
            for s in range(0, n, _ROWS):
                arr[s:s + _ROWS] = kl[s:s + _ROWS]
            arr = arr.reshape(n, K, 3)
        except (ValueError, TypeError, OverflowError):
            arr = None
        if arr is not None:
            vis = arr[:, :, 2]
            if not (np.isfinite(arr).all() and ((vis == 0.0) | (vis == 1.0) | (vis == 2.0)).all()):
                arr = None
    if arr is None:
        raise slow_path()

    edited = np.zeros((n, K), dtype=bool)
    auto = np.zeros(n, dtype=bool)
    js_rows: list[int] = []
    js_lists: list[Any] = []
    for j, a in enumerate(people):
        app = a.get(APP_KEY)
        if app is None:
            continue
        if not isinstance(app, dict):
            raise r.fail(_person_where(rows[j], a, owners[j]), f"'{APP_KEY}' must be an object, got {app!r}")
        if not app:
            continue
        e = app.get("edited")
        if e is not None:
            if not isinstance(e, list) or not all(_is_int(x) and 0 <= x < K for x in e):
                raise r.fail(_person_where(rows[j], a, owners[j]),
                             f"'{APP_KEY}.edited' must be a list of joint indices in 0..{K - 1}, got {e!r}")
            if e:
                edited[j, e] = True
        js = app.get("joint_scores")
        if js is not None:
            js_rows.append(j)
            js_lists.append(js)
        if app.get("auto_bbox", False):
            auto[j] = True
    js_of: dict[int, np.ndarray] = {}
    if js_rows:
        if not _numbers_ok(js_lists, K):
            for j, js in zip(js_rows, js_lists):
                if not isinstance(js, list) or len(js) != K or not set(map(type, js)) <= _NUMBER_TYPES:
                    raise r.fail(_person_where(rows[j], people[j], owners[j]),
                                 f"'{APP_KEY}.joint_scores' must be a list of {K} numbers, got {js!r}")
        js_arr = np.array(js_lists, dtype=np.float64)
        js_of = dict(zip(js_rows, js_arr))

    box_rows = [j for j, a in enumerate(people) if "bbox" in a and not auto[j]]
    box_of: dict[int, np.ndarray] = {}
    if box_rows:
        bl = [people[j]["bbox"] for j in box_rows]
        boxes = None
        if _numbers_ok(bl, 4):
            try:
                boxes = np.array(bl, dtype=np.float64)
            except OverflowError:
                boxes = None
            if boxes is not None and not (np.isfinite(boxes).all() and (boxes[:, 2:] >= 0).all()):
                boxes = None
        if boxes is None:
            for j in box_rows:
                a = people[j]
                where = _person_where(rows[j], a, owners[j])
                b = a["bbox"]
                if not isinstance(b, list) or len(b) != 4:
                    raise r.fail(where, f"'bbox' must be [x, y, width, height], got {b!r}")
                box = [r.number(v, where, "bbox") for v in b]
                if box[2] < 0 or box[3] < 0:
                    raise r.fail(where, f"'bbox' width and height must be >= 0, got {b!r}")
            raise r.fail("annotations", "invalid 'bbox'")  # not reached
        box_of = dict(zip(box_rows, boxes))

    out: list[Instance] = []
    keys = _ANN_KEYS
    new = Instance.__new__
    step = _ROWS if progress is not None else n + 1
    for j, a in enumerate(people):
        if j % step == 0 and progress is not None:
            progress(0.4 + 0.6 * j / n)
        extra = {k: v for k, v in a.items() if k not in keys}
        bbox = box_of.get(j)
        if bbox is not None:
            if "area" in extra and extra["area"] == bbox[2] * bbox[3]:
                del extra["area"]  # the box area we write anyway; a different one (segmentation) is kept
        elif "bbox" in a:
            extra.pop("area", None)  # derived together with the auto box
        score = a.get("score")
        if score is not None and (type(score) is not float or not math.isfinite(score)):
            score = r.number(score, _person_where(rows[j], a, owners[j]), "score")
        track_id = a.get("track_id")
        if track_id is not None and not _is_int(track_id):
            raise r.fail(_person_where(rows[j], a, owners[j]), f"'track_id' must be an integer, got {track_id!r}")
        inst = new(Instance)
        inst.__dict__ = {"keypoints": arr[j], "bbox": bbox, "score": score, "track_id": track_id,
                         "edited": edited[j], "joint_scores": js_of.get(j), "id": a.get("id"),
                         "category_id": a.get("category_id", cat_id), "extra": extra}
        out.append(inst)
    return out


def from_coco_dict(
    data: Any,
    *,
    source: str = "<COCO data>",
    base_dir: str | os.PathLike[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> PoseDocument:
    """Validate parsed COCO keypoint JSON and build a :class:`PoseDocument`.

    ``progress(fraction)`` is called now and then with the share of the work done (0..1); an
    exception it raises (e.g. the caller's "cancelled") stops the conversion and propagates.

    ``source`` names the data in error messages; ``base_dir`` is the folder a relative
    ``image_root`` stored in the file is resolved against; an explicit ``image_root`` wins.
    """
    r = _Reader(source)
    if not isinstance(data, dict):
        raise r.fail("top level", f"expected a JSON object with 'images', 'annotations', 'categories', "
                                  f"got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise r.fail("top level", f"missing '{key}' (a COCO keypoint file needs images, annotations, categories)")
        if not isinstance(data[key], list):
            raise r.fail("top level", f"'{key}' must be a list, got {type(data[key]).__name__}")

    category: Category | None = None
    others: list[dict[str, Any]] = []
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or not _is_int(c.get("id")):
            raise r.fail(f"categories[{i}]", f"expected an object with an integer 'id', got {c!r}")
        if category is None and "keypoints" in c:
            category = r.category(c, i)  # the first keypoint category is the document's
        else:
            others.append(c)  # kept verbatim, with their annotations
    if category is None:
        raise r.fail("categories", "no category defines 'keypoints' (not a COCO keypoint file)")
    cat_ids = [category.id] + [c["id"] for c in others]
    if len(set(cat_ids)) != len(cat_ids):
        raise r.fail("categories", f"duplicate category ids {cat_ids}")
    known_cats = set(cat_ids)

    frames: list[Frame] = []
    by_id: dict[int, Frame] = {}
    new_frame = Frame.__new__
    for i, img in enumerate(data["images"]):
        # fast path for the common image record: an int id, a file name, int sizes >= 0 and
        # nothing else but our state; anything else goes through the validating reader
        if (type(img) is dict and type(img.get("id")) is int and type(img.get("file_name")) is str
                and img["file_name"] and type(img.get("width", 0)) is int and type(img.get("height", 0)) is int
                and img.get("width", 0) >= 0 and img.get("height", 0) >= 0 and APP_KEY not in img
                and img.keys() <= _IMAGE_KEYS):
            fr = new_frame(Frame)
            fr.__dict__.update(id=img["id"], file_name=img["file_name"], width=img.get("width", 0),
                               height=img.get("height", 0), instances=[], reviewed=False, video=None,
                               frame_index=None, crowd=[], extra={}, other=[])
        else:
            fr = r.frame(img, i)
        if fr.id in by_id:
            raise r.fail(f"images[{i}]", f"duplicate image id {fr.id}")
        by_id[fr.id] = fr
        frames.append(fr)

    K = category.num_keypoints
    if progress is not None:
        progress(0.1)
    people, owners, rows = _dispatch_annotations(r, data["annotations"], by_id, category.id, known_cats)
    if progress is not None:
        progress(0.3)
    for fr, inst in zip(owners, _build_instances(r, people, owners, rows, K, category.id, progress)):
        fr.instances.append(inst)

    app = data.get(APP_KEY, {})
    if not isinstance(app, dict):
        raise r.fail("top level", f"'{APP_KEY}' must be an object, got {app!r}")
    root: Path | None = None
    if image_root is not None:
        root = Path(image_root)
    elif isinstance(app.get("image_root"), str):
        root = Path(app["image_root"])
        if not root.is_absolute() and base_dir is not None:
            root = Path(os.path.normpath(Path(base_dir) / root))
    extra = {k: v for k, v in data.items() if k not in _TOP_KEYS}
    return PoseDocument(frames=frames, category=category, image_root=root, extra=extra, other_categories=others)


def load_coco(
    path: str | os.PathLike[str],
    image_root: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[float], None] | None = None,
) -> PoseDocument:
    """Read a COCO keypoint JSON file into a :class:`PoseDocument` (validated).

    ``progress(fraction)`` (optional) is called with the share done, 0..1, every few thousand
    people while the file is parsed (in pieces then, see :func:`hrnet.fastjson.loads_in_pieces`)
    and converted; an exception it raises stops the reading and propagates (how a caller cancels).
    ``image_root`` overrides the image folder stored in the file (default: the stored one,
    resolved against the file's folder; None when the file stores none).
    Raises :class:`AnnotationError` naming the file, the record and the field on bad input.
    """
    path = Path(path)
    if progress is not None:
        progress(0.0)
    try:
        raw = path.read_bytes()
        if progress is None:
            data = fastjson.loads(raw)
        else:  # a reader thread with progress: parse in pieces (~1.8x the parse time) so the GUI keeps the GIL
            data = fastjson.loads_in_pieces(raw, progress=lambda f: progress(0.4 * f))
    except (OSError, ValueError):  # let the one reader word the error (missing, a folder, not JSON, ...)
        data = read_json(path, what="Annotation file", error=AnnotationError)
    scaled = None if progress is None else (lambda f: progress(0.4 + 0.6 * f))
    doc = from_coco_dict(data, source=str(path), base_dir=path.parent, image_root=image_root, progress=scaled)
    doc.path = path
    logger.debug("read %s: %d frames, %d people", path, len(doc.frames), sum(len(f.instances) for f in doc.frames))
    return doc


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _plan_ids(document: PoseDocument) -> list[tuple[Instance, int | None, int]]:
    """(person, old id, new id) for every person without an id or with an id already taken,
    as :func:`_assign_ids` would number them; changes nothing."""
    raw = [c.get("id") for fr in document.frames for c in (*fr.crowd, *fr.other)]
    ids = [inst.id for fr in document.frames for inst in fr.instances]
    next_id = max((i for i in (*raw, *ids) if _is_int(i)), default=0) + 1
    used: set[Any] = set(raw)
    plan = []
    for fr in document.frames:
        for inst in fr.instances:
            iid = inst.id
            if iid is None or iid in used:
                plan.append((inst, iid, next_id))
                iid = next_id
                next_id += 1
            used.add(iid)
    return plan


def apply_ids(plan: Sequence[tuple[Instance, int | None, int]]) -> None:
    """Give the people of ``plan`` (from :func:`write_coco_snapshot`) their new ids, unless an
    id was set meanwhile."""
    for inst, old, new in plan:
        if inst.id == old:
            inst.id = new


def _assign_ids(document: PoseDocument) -> None:
    """Give every instance without an id, or with an id already taken, a fresh id (in place)."""
    apply_ids(_plan_ids(document))


def _finite_list(values: np.ndarray, where: str, what: str) -> list[float]:
    out = values.astype(np.float64).tolist()
    if not np.isfinite(values).all():
        raise AnnotationError(f"{where}: {what} contains NaN or infinity: {out}")
    return out


_ROWS = 8192  # numpy calls on at most this many people at a time: a writer thread holds the GIL briefly


def _stack(arrays: list[np.ndarray], shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    out = np.empty((len(arrays), *shape), dtype=dtype)
    for s in range(0, len(arrays), _ROWS):
        part = arrays[s:s + _ROWS]
        out[s:s + len(part)] = part
    return out


def _tolist(arr: np.ndarray) -> list[Any]:
    out: list[Any] = []
    for s in range(0, len(arr), _ROWS):
        out.extend(arr[s:s + _ROWS].tolist())
    return out


def _people_columns(
    frames: Sequence[Frame], K: int, include_app_state: bool
) -> tuple[list[Instance], list[list[Any]], list[int], np.ndarray, np.ndarray, list[Any], list[Any], np.ndarray]:
    """Column-wise conversion of all people (numpy, not one number at a time).

    Returns the instances in file order, their flat keypoint lists (x, y floats, v ints),
    ``num_keypoints``, boxes (N, 4), an "auto box" mask, the edited joint lists (or None), the
    joint score lists (or None), and the frame index of each person. Raises
    :class:`AnnotationError` naming the person on values COCO cannot store.
    """
    insts: list[Instance] = []
    owner: list[int] = []
    for fi, fr in enumerate(frames):
        if fr.instances:
            insts.extend(fr.instances)
            owner.extend([fi] * len(fr.instances))
    n = len(insts)
    owner_a = np.asarray(owner, dtype=np.int64)

    def where(j: int) -> str:
        fr = frames[owner[j]]
        return f"image {fr.id} ({fr.file_name}), person {fr.instances.index(insts[j])} (id {insts[j].id})"

    kps = [inst.keypoints for inst in insts]
    for j, kp in enumerate(kps):
        if kp.shape != (K, 3):
            nj = len(kp)
            raise AnnotationError(f"{where(j)}: has {nj} joints, the category has {K}")
    kp_all = _stack(kps, (K, 3))
    vis = kp_all[:, :, 2]
    ok = np.isfinite(kp_all).all(axis=(1, 2)) & ((vis == 0.0) | (vis == 1.0) | (vis == 2.0)).all(axis=1)
    if not ok.all():
        j = int(np.argmin(ok))
        kp = kp_all[j]
        _finite_list(kp[:, :2].reshape(-1), where(j), "keypoints")
        raise AnnotationError(f"{where(j)}: visibility must be 0, 1 or 2, got {kp[:, 2].tolist()}")
    flat = _tolist(kp_all.reshape(n, 3 * K))
    vis_i = vis.astype(np.int64)
    for row, v in zip(flat, vis_i.tolist()):
        row[2::3] = v
    num_kp = np.count_nonzero(vis_i, axis=1).tolist()

    # boxes: the instance's, else derived from the keypoints (vectorised bbox_from_keypoints)
    auto = np.array([inst.bbox is None for inst in insts], dtype=bool)
    boxes = np.zeros((n, 4))
    given = np.flatnonzero(~auto)
    if len(given):
        boxes[given] = np.stack([insts[j].bbox for j in given])  # type: ignore[misc]
    ai = np.flatnonzero(auto)
    if len(ai):
        sizes = np.array([(frames[owner[j]].width, frames[owner[j]].height) for j in ai], dtype=np.float64)
        boxes[ai] = _auto_boxes(kp_all[ai], sizes)
    if not np.isfinite(boxes).all():
        j = int(np.argmin(np.isfinite(boxes).all(axis=1)))
        _finite_list(boxes[j], where(j), "bbox")

    edited: list[Any] = [None] * n
    scores: list[Any] = [None] * n
    if include_app_state:
        ed = _stack([inst.edited for inst in insts], (K,), bool)
        for j in np.flatnonzero(ed.any(axis=1)).tolist():
            edited[j] = np.flatnonzero(ed[j]).tolist()
        js_rows = [j for j, inst in enumerate(insts) if inst.joint_scores is not None]
        if js_rows:
            js = np.stack([insts[j].joint_scores for j in js_rows]).astype(np.float64, copy=False)  # type: ignore[misc]
            fin = np.isfinite(js).all(axis=1)
            if not fin.all():
                j = js_rows[int(np.argmin(fin))]
                _finite_list(insts[j].joint_scores, where(j), "joint_scores")  # type: ignore[arg-type]
            for j, row in zip(js_rows, _tolist(js)):
                scores[j] = row
    return insts, flat, num_kp, boxes, auto, edited, scores, owner_a


def _auto_boxes(kp: np.ndarray, sizes: np.ndarray, margin: float = 0.1, min_size: float = 2.0) -> np.ndarray:
    """:func:`bbox_from_keypoints` for (M, K, 3) keypoints at once (same arithmetic, same
    values); rows without a labelled joint give zeros. ``sizes`` (M, 2) image width, height
    (0 = unknown: not clipped)."""
    lab = kp[:, :, 2] > 0
    has = lab.any(axis=1)
    big = np.inf
    x0 = np.where(lab, kp[:, :, 0], big).min(axis=1)
    y0 = np.where(lab, kp[:, :, 1], big).min(axis=1)
    x1 = np.where(lab, kp[:, :, 0], -big).max(axis=1)
    y1 = np.where(lab, kp[:, :, 1], -big).max(axis=1)
    x0, y0, x1, y1 = (np.where(has, v, 0.0) for v in (x0, y0, x1, y1))
    w, h = x1 - x0, y1 - y0
    x0, x1 = x0 - margin * w, x1 + margin * w
    y0, y1 = y0 - margin * h, y1 + margin * h
    small = x1 - x0 < min_size
    cx = (x0 + x1) / 2
    x0, x1 = np.where(small, cx - min_size / 2, x0), np.where(small, cx + min_size / 2, x1)
    small = y1 - y0 < min_size
    cy = (y0 + y1) / 2
    y0, y1 = np.where(small, cy - min_size / 2, y0), np.where(small, cy + min_size / 2, y1)
    clip = (sizes[:, 0] > 0) & (sizes[:, 1] > 0)
    x0 = np.where(clip, np.maximum(x0, 0.0), x0)
    x1 = np.where(clip, np.minimum(x1, sizes[:, 0]), x1)
    y0 = np.where(clip, np.maximum(y0, 0.0), y0)
    y1 = np.where(clip, np.minimum(y1, sizes[:, 1]), y1)
    out = np.stack([x0, y0, np.maximum(x1 - x0, 0.0), np.maximum(y1 - y0, 0.0)], axis=1)
    out[~has] = 0.0
    return out


def _check_finite(value: Any, where: str) -> None:
    # the fast encoder would write NaN/infinity as null: refuse them as json did
    if fastjson.has_nonfinite(value):
        raise AnnotationError(f"{where}: a field holds NaN or infinity, which JSON cannot store")


def to_coco_dict(
    document: PoseDocument,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    absolute_paths: bool = False,
    include_app_state: bool = True,
    assign_ids: bool = True,
    new_ids: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """The document as a COCO keypoint dict (what :func:`save_coco` writes).

    Instances without an id (or with an id used twice) get fresh ids, written into the document.
    With ``assign_ids=False`` the document is only read (safe on a snapshot that shares people
    with a live document): such instances are written with the id ``new_ids`` gives them (keyed
    by ``id(instance)``), else without an ``id``.
    ``base_dir`` is the folder the file will live in (``image_root`` is stored relative to it
    unless ``absolute_paths``). ``include_app_state=False`` leaves out the ``hrnet_annotator``
    blocks (a plain training export).
    """
    if assign_ids:
        _assign_ids(document)
    K = document.category.num_keypoints
    cat = document.category
    cat_d: dict[str, Any] = {"id": cat.id, "name": cat.name, "supercategory": cat.supercategory,
                             "keypoints": list(cat.keypoints), "skeleton": [[a + 1, b + 1] for a, b in cat.skeleton],
                             **cat.extra}
    frames = document.frames
    insts, flat, num_kp, boxes, auto, edited, jscores, owner = _people_columns(frames, K, include_app_state)
    box_l = boxes.tolist()
    areas = (boxes[:, 2] * boxes[:, 3]).tolist()
    auto_l = auto.tolist()
    starts = np.searchsorted(owner, np.arange(len(frames) + 1)).tolist()
    if not assign_ids:
        used: set[Any] = {c.get("id") for fr in frames for c in (*fr.crowd, *fr.other)}

    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    cat_id = cat.id
    for fi, fr in enumerate(frames):
        img: dict[str, Any] = {"id": fr.id, "file_name": fr.file_name}
        if fr.width > 0 and fr.height > 0:  # 0 = not known: left out rather than written wrong
            img["width"], img["height"] = int(fr.width), int(fr.height)
        if fr.extra:
            _check_finite(fr.extra, f"image {fr.id} ({fr.file_name})")
            img.update(fr.extra)
        if include_app_state and (fr.reviewed or fr.video is not None or fr.frame_index is not None):
            state: dict[str, Any] = {}
            if fr.reviewed:
                state["reviewed"] = True
            if fr.video is not None:
                state["video"] = str(fr.video)
            if fr.frame_index is not None:
                state["frame_index"] = int(fr.frame_index)
            img[APP_KEY] = state
        images.append(img)
        for j in range(starts[fi], starts[fi + 1]):
            inst = insts[j]
            iid = inst.id
            if new_ids is not None:
                iid = new_ids.get(id(inst), iid)
            elif not assign_ids:
                if iid in used:
                    iid = None  # a duplicate: the next save numbers it
                elif iid is not None:
                    used.add(iid)
            if inst.category_id != cat_id:
                inst.category_id = cat_id  # the document's people all belong to its keypoint category
            ann: dict[str, Any] = {"id": iid, "image_id": fr.id, "category_id": cat_id, "keypoints": flat[j],
                                   "num_keypoints": num_kp[j], "bbox": box_l[j], "area": areas[j], "iscrowd": 0}
            if iid is None:
                del ann["id"]
            score = inst.score
            if score is not None:
                score = float(score)
                if not math.isfinite(score):
                    raise AnnotationError(f"image {fr.id} ({fr.file_name}), person {j - starts[fi]} (id {iid}): "
                                          f"score is {score}")
                ann["score"] = score
            if inst.track_id is not None:
                ann["track_id"] = int(inst.track_id)
            if inst.extra:
                _check_finite(inst.extra, f"image {fr.id} ({fr.file_name}), person {j - starts[fi]} (id {iid})")
                ann.update(inst.extra)  # incl. an 'area' read from the file (segmentation area)
            if include_app_state and (edited[j] is not None or jscores[j] is not None or auto_l[j]):
                state = {}
                if edited[j] is not None:
                    state["edited"] = edited[j]
                if jscores[j] is not None:
                    state["joint_scores"] = jscores[j]
                if auto_l[j]:
                    state["auto_bbox"] = True
                ann[APP_KEY] = state
            anns.append(ann)
        if fr.crowd:
            _check_finite(fr.crowd, f"image {fr.id} ({fr.file_name}), crowd regions")
            anns.extend(fr.crowd)
        if fr.other:
            _check_finite(fr.other, f"image {fr.id} ({fr.file_name}), other annotations")
            anns.extend(fr.other)

    out: dict[str, Any] = {}
    if include_app_state:
        block: dict[str, Any] = {"version": FORMAT_VERSION}
        if document.image_root is not None:
            root = Path(document.image_root)
            if not absolute_paths and base_dir is not None:
                try:
                    root = Path(os.path.relpath(os.path.abspath(root), os.path.abspath(base_dir)))
                except ValueError:  # another drive on Windows
                    root = Path(os.path.abspath(root))
            elif absolute_paths:
                root = Path(os.path.abspath(root))
            block["image_root"] = root.as_posix()
        out[APP_KEY] = block
    _check_finite(document.extra, "top level")
    _check_finite(cat_d, "categories")
    _check_finite(document.other_categories, "categories")
    out.update(document.extra)
    out["images"] = images
    out["annotations"] = anns
    out["categories"] = [cat_d, *document.other_categories]
    return out


def write_json_atomic(data: Any, path: str | os.PathLike[str], *, indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` atomically: :func:`hrnet.utils.io.write_json`."""
    write_json(path, data, indent=indent)


def _write_chunks_atomic(chunks: Iterable[bytes], path: Path) -> None:
    """The encoded pieces of a document to ``path`` through the one atomic writer
    (:func:`hrnet.utils.io.atomic_open`: temp file, fsync, the file's mode kept, os.replace)."""
    with atomic_open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk)


def save_coco(
    document: PoseDocument,
    path: str | os.PathLike[str],
    *,
    absolute_paths: bool = False,
    include_app_state: bool = True,
    indent: int | None = None,
    update_path: bool = True,
) -> None:
    """Write ``document`` as COCO keypoint JSON, atomically.

    Raises :class:`AnnotationError` when the document holds values COCO cannot store (NaN
    coordinates, a visibility other than 0/1/2, a person with the wrong number of joints) and
    OSError when the file cannot be written; the previous file is then left untouched.
    ``update_path`` sets ``document.path`` to ``path`` (off for autosave/export copies).
    """
    path = Path(path)
    data = to_coco_dict(document, base_dir=path.parent, absolute_paths=absolute_paths,
                        include_app_state=include_app_state)
    try:
        if indent is None:  # to_coco_dict checked every float: no second walk over the data
            _write_chunks_atomic(fastjson.encode_chunks(data), path)
        else:
            write_json_atomic(data, path, indent=indent)
    except ValueError as e:  # NaN/infinity in a field not checked above (e.g. a score, an extra value)
        raise AnnotationError(f"{path}: cannot write the document: {e}") from e
    if update_path:
        document.path = path
    logger.debug("wrote %s: %d frames", path, len(document.frames))


def write_coco_snapshot(document: PoseDocument, path: str | os.PathLike[str]) -> list[tuple[Instance, int | None, int]]:
    """Write ``document`` like :func:`save_coco` without changing it in any way: for a snapshot
    that shares its people with a live document, written on another thread. People without an
    id (or with one taken) are written with a fresh one; the returned plan of (person, old id,
    new id) gives them these ids with :func:`apply_ids` (on the live document's thread).
    Atomic; raises AnnotationError / OSError like save_coco."""
    path = Path(path)
    plan = _plan_ids(document)
    data = to_coco_dict(document, base_dir=path.parent, assign_ids=False,
                        new_ids={id(inst): new for inst, _, new in plan})
    try:
        _write_chunks_atomic(fastjson.encode_chunks(data), path)
    except ValueError as e:
        raise AnnotationError(f"{path}: cannot write the document: {e}") from e
    logger.debug("wrote %s: %d frames", path, len(document.frames))
    return plan


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
