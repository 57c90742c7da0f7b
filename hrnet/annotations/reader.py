"""Reading COCO keypoint JSON into a :class:`~hrnet.annotations.PoseDocument`: validation with
errors that name the record and the field, and the columnar build of the people (whole arrays
at once instead of one person at a time)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from hrnet import fastjson
from hrnet.annotations.model import Category, Frame, Instance, PoseDocument
from hrnet.annotations.schema import (
    _ANN_KEYS,
    _CAT_KEYS,
    _IMAGE_KEYS,
    _NUMBER_TYPES,
    _ROWS,
    _TOP_KEYS,
    _is_int,
    _is_number,
    gc_paused,
)
from hrnet.errors import AnnotationError
from hrnet.keypoints import APP_KEY
from hrnet.utils.io import read_json

logger = logging.getLogger(__name__)


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


@gc_paused
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


@gc_paused
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

