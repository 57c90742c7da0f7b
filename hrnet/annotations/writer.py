"""Writing a :class:`~hrnet.annotations.PoseDocument` as COCO keypoint JSON: id planning, the
columnar conversion of the people (whole arrays at once) and the atomic write."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hrnet import fastjson
from hrnet.annotations.model import Frame, Instance, PoseDocument
from hrnet.annotations.schema import _ROWS, FORMAT_VERSION, _is_int, gc_paused
from hrnet.errors import AnnotationError
from hrnet.keypoints import APP_KEY
from hrnet.utils.io import atomic_open, write_json

logger = logging.getLogger(__name__)


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


@gc_paused
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


@gc_paused
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


@gc_paused
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

