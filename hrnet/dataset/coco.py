"""COCO keypoint datasets: the machinery shared by every COCO-format dataset
(:class:`COCOFormatDataset`) and the official COCO layout (:class:`COCODataset`).

Semantics follow the official ``lib/dataset/coco.py``:

- training (and testing with ``use_gt_bbox``): one sample per non-crowd annotation of the
  keypoint category that has at least one labelled keypoint; its box is cleaned up and clipped to
  the image as ``_load_coco_keypoint_annotation_kernal`` does, and turned into centre/scale with
  the aspect-ratio fix and 1.25 padding (``pixel_std`` 200);
- testing with detections: one sample per person box of a COCO detection results JSON whose
  score is at least ``image_thre``;
- :meth:`COCOFormatDataset.evaluate`: rescoring (mean keypoint confidence above ``in_vis_thre``
  times the box score), OKS NMS (or soft OKS NMS), a results JSON, and pycocotools' COCOeval
  statistics (AP, AP .5, AP .75, AP (M), AP (L), AR, AR .5, AR .75, AR (M), AR (L)).

pycocotools prints progress to stdout; here that output is captured and sent to the log, so a
program whose stdout carries JSON lines stays clean.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.dataset.joints_dataset import JointsDataset, KeypointSet, Record
from hrnet.errors import DatasetError
from hrnet.keypoints import COCO_17, COCO_KEYPOINTS, COCO_SIGMAS
from hrnet.utils.io import read_json, write_json

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_KEYPOINT_SET",
    "COCO_SIGMAS",
    "COCO_STATS_NAMES",
    "COCODataset",
    "COCOFormatDataset",
    "read_coco_keypoints_json",
]

log = logging.getLogger(__name__)

# The COCO keypoint set (names, flip pairs, half body, loss weights, sigmas) is hrnet.keypoints.COCO_17.
COCO_KEYPOINT_SET = COCO_17
# Names of COCOeval.stats for keypoints, in order (the official list spells the second 'Ap .5').
COCO_STATS_NAMES: tuple[str, ...] = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)",
)


# ---------------------------------------------------------------------------------------------
# Reading and validating a COCO keypoint JSON
# ---------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _load_json(path: Path, what: str) -> Any:
    return read_json(path, what=what, error=DatasetError)


def _keypoint_category(categories: list[dict], path: Path, category_id: int | None) -> dict:
    if category_id is not None:
        for cat in categories:
            if cat["id"] == category_id:
                return cat
        raise DatasetError(f"{path}: no category with id {category_id} in 'categories'")
    with_keypoints = [c for c in categories if isinstance(c.get("keypoints"), list) and c["keypoints"]]
    if len(with_keypoints) > 1:
        log.warning("%s: %d categories have keypoints; using the first, %r (id %s)", path, len(with_keypoints),
                    with_keypoints[0].get("name"), with_keypoints[0]["id"])
    if with_keypoints:
        return with_keypoints[0]
    if categories:
        return categories[0]
    raise DatasetError(f"{path}: 'categories' is empty; a COCO keypoint file needs a category with 'keypoints'")


def read_coco_keypoints_json(
    path: str | os.PathLike[str],
    num_joints: int | None = None,
    category_id: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and validate a COCO keypoint annotation file.

    Returns ``(document, category)``: the document with every annotation normalised for
    pycocotools (``iscrowd`` 0, ``area`` = box area, ``num_keypoints`` counted and ``id``
    numbered where missing; a missing ``bbox`` becomes the box around the labelled keypoints) and
    the keypoint category (``category_id``, else the first category that lists keypoints). The
    keypoint count is ``num_joints`` when given, else that category's. Raises
    :class:`DatasetError` naming the file and the offending field.
    """
    path = Path(path)
    data = _load_json(path, "Annotation file")
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: a COCO annotation file must hold a JSON object, not {type(data).__name__}")

    def need_list(key: str, required: bool = True) -> list:
        value = data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            missing = "is missing" if key not in data else f"must be a list, not {type(value).__name__}"
            raise DatasetError(f"{path}: field '{key}' {missing}")
        return value

    images = need_list("images")
    annotations = need_list("annotations", required=False)
    categories = need_list("categories", required=num_joints is None)

    for i, cat in enumerate(categories):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int):
            raise DatasetError(f"{path}: categories[{i}].id must be an integer")
        kps = cat.get("keypoints")
        if kps is not None and (not isinstance(kps, list) or not all(isinstance(k, str) for k in kps)):
            raise DatasetError(f"{path}: categories[{i}].keypoints must be a list of names")
    category = _keypoint_category(categories, path, category_id) if categories else {"id": 1, "name": "person"}
    if num_joints is None:
        names = category.get("keypoints")
        if not names:
            raise DatasetError(f"{path}: category {category.get('name')!r} has no 'keypoints' list")
        num_joints = len(names)

    image_ids: set[int] = set()
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise DatasetError(f"{path}: images[{i}] must be an object")
        if not isinstance(img.get("id"), int) or isinstance(img.get("id"), bool):
            raise DatasetError(f"{path}: images[{i}].id must be an integer")
        if not isinstance(img.get("file_name"), str) or not img["file_name"]:
            raise DatasetError(f"{path}: images[{i}].file_name must be a non-empty string")
        for key in ("width", "height"):
            if not _is_number(img.get(key)) or img[key] <= 0:
                raise DatasetError(f"{path}: images[{i}].{key} must be a positive number")
        if img["id"] in image_ids:
            raise DatasetError(f"{path}: images[{i}].id {img['id']} is used twice")
        image_ids.add(img["id"])

    normalised = []
    used_ids = {a.get("id") for a in annotations if isinstance(a, dict)}
    next_id = max([x for x in used_ids if isinstance(x, int)], default=0) + 1
    for i, ann in enumerate(annotations):
        where = f"{path}: annotations[{i}]"
        if not isinstance(ann, dict):
            raise DatasetError(f"{where} must be an object")
        ann = dict(ann)
        if ann.get("image_id") not in image_ids:
            raise DatasetError(f"{where}.image_id {ann.get('image_id')!r} is not the id of an entry of 'images'")
        if not isinstance(ann.get("category_id"), int):
            ann["category_id"] = category["id"] if "category_id" not in ann else ann["category_id"]
            if not isinstance(ann["category_id"], int):
                raise DatasetError(f"{where}.category_id must be an integer")
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1, True, False):
            raise DatasetError(f"{where}.iscrowd must be 0 or 1, not {crowd!r}")
        ann["iscrowd"] = int(crowd)
        kps = ann.get("keypoints")
        if kps is not None:
            if not isinstance(kps, list) or not all(_is_number(v) for v in kps):
                raise DatasetError(f"{where}.keypoints must be a list of numbers")
            if ann["category_id"] == category["id"] and len(kps) != 3 * num_joints:
                raise DatasetError(
                    f"{where}.keypoints has {len(kps)} values; expected 3 x {num_joints} (x, y, visibility per joint)"
                )
        bbox = ann.get("bbox")
        if bbox is None:
            if kps:
                k = np.asarray(kps, dtype=np.float64).reshape(-1, 3)
                k = k[k[:, 2] > 0]
                if len(k):
                    x0, y0 = k[:, :2].min(axis=0)
                    x1, y1 = k[:, :2].max(axis=0)
                    bbox = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            if bbox is None:
                bbox = [0.0, 0.0, 0.0, 0.0]
            ann["bbox"] = bbox
        elif not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            raise DatasetError(f"{where}.bbox must be [x, y, width, height] numbers")
        if "area" not in ann:
            ann["area"] = float(bbox[2] * bbox[3])
        elif not _is_number(ann["area"]):
            raise DatasetError(f"{where}.area must be a number")
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(sum(1 for v in (kps or [])[2::3] if v > 0))
        if not isinstance(ann.get("id"), int):
            ann["id"] = next_id
            next_id += 1
        normalised.append(ann)

    document = dict(data)
    document["annotations"] = normalised
    document["categories"] = categories if categories else [category]
    return document, category


def _silenced(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a pycocotools call with its stdout chatter sent to the debug log."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = fn(*args, **kwargs)
    text = buffer.getvalue().strip()
    if text:
        log.debug("pycocotools: %s", text)
    return result


def _write_json_atomic(obj: Any, path: Path) -> None:
    write_json(path, obj, indent=4, sort_keys=True, mkdir=True)


# ---------------------------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------------------------
class COCOFormatDataset(JointsDataset):
    """A top-down dataset over any COCO keypoint annotation file (subclasses decide where the
    file and the images are and which keypoint set applies).

    Args:
        annotation_file: COCO keypoint JSON (``images``, ``annotations``, ``categories``).
        is_train: training mode (ground-truth boxes and augmentation).
        keypoints: the keypoint set; its size must match the category's keypoints.
        image_set: split name, used in the results file name; ``'test'`` in it skips scoring.
        use_gt_bbox: at test time, crop around ground-truth boxes instead of detections.
        bbox_file: COCO detection results JSON (test time without ``use_gt_bbox``).
        image_thre: lowest detection score kept (``TEST.IMAGE_THRE``).
        oks_thre: OKS NMS threshold (``TEST.OKS_THRE``).
        in_vis_thre: lowest keypoint confidence counted when rescoring (``TEST.IN_VIS_THRE``).
        soft_nms: soft OKS NMS instead of OKS NMS (``TEST.SOFT_NMS``).
        nms_thre: ``TEST.NMS_THRE`` (kept for completeness; the official evaluation ignores it).
        select_data: apply :meth:`select_data` to the training records (``DATASET.SELECT_DATA``).
        category_id: the keypoint category (default: the first category listing keypoints).
        **kwargs: :class:`JointsDataset` arguments (image_size, heatmap_size, sigma, ...).
    """

    def __init__(
        self,
        annotation_file: str | os.PathLike[str],
        is_train: bool,
        *,
        keypoints: KeypointSet,
        image_set: str = "",
        use_gt_bbox: bool = True,
        bbox_file: str | os.PathLike[str] | None = None,
        image_thre: float = 0.0,
        oks_thre: float = 0.9,
        in_vis_thre: float = 0.2,
        soft_nms: bool = False,
        nms_thre: float = 1.0,
        select_data: bool = False,
        category_id: int | None = None,
        document: tuple[dict[str, Any], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(keypoints=keypoints, is_train=is_train, **kwargs)
        self.annotation_file = Path(annotation_file)
        self.image_set = image_set or self.annotation_file.stem
        self.use_gt_bbox = use_gt_bbox
        self.bbox_file = Path(bbox_file) if bbox_file else None
        self.image_thre = image_thre
        self.oks_thre = oks_thre
        self.in_vis_thre = in_vis_thre
        self.soft_nms = soft_nms
        self.nms_thre = nms_thre
        self.sigmas = np.asarray(keypoints.oks_sigmas(), dtype=np.float64)

        gt, category = document if document is not None else read_coco_keypoints_json(
            self.annotation_file, num_joints=keypoints.num_joints, category_id=category_id)
        names = category.get("keypoints")
        if names and len(names) != keypoints.num_joints:
            raise DatasetError(
                f"{self.annotation_file}: category {category.get('name')!r} has {len(names)} keypoints, "
                f"but this dataset expects {keypoints.num_joints}"
            )
        self.category = category
        self.category_id: int = category["id"]
        self._gt = gt
        self._coco: Any = None
        self.images: dict[int, dict[str, Any]] = {img["id"]: img for img in gt["images"]}
        self.image_set_index: list[int] = list(self.images)
        self.num_images = len(self.image_set_index)
        self._path_to_image_id: dict[str, int] = {}
        self.skipped: dict[str, int] = {"crowd": 0, "no_keypoints": 0, "bad_box": 0, "other_category": 0}

        if is_train or use_gt_bbox:
            self.db = self._load_gt_records()
        else:
            self.db = self._load_detection_records()
        if is_train and select_data:
            self.db = self.select_data(self.db)
        log.info("=> %s %s: %d images, %d samples (skipped %s)", type(self).__name__, self.image_set,
                 self.num_images, len(self.db), self.skipped)

    # -- paths -------------------------------------------------------------------------------
    def image_path(self, image_id: int) -> str:
        """The file of image ``image_id``."""
        raise NotImplementedError

    def _image_path_for(self, image_id: int) -> str:
        path = self.image_path(image_id)
        self._path_to_image_id[path] = image_id
        return path

    def image_id_from_path(self, path: str) -> int:
        try:
            return self._path_to_image_id[path]
        except KeyError as e:
            raise DatasetError(f"{path} is not an image of {self.annotation_file}") from e

    @property
    def has_ground_truth(self) -> bool:
        """Whether :meth:`evaluate` can score predictions (official: ``'test'`` not in the split)."""
        return "test" not in self.image_set and bool(self._gt["annotations"])

    # -- records -------------------------------------------------------------------------------
    def box_to_center_scale(self, box: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Centre and scale of an ``x, y, w, h`` box (official ``_box2cs``)."""
        from hrnet.utils.transforms import box_to_center_scale

        center, scale = box_to_center_scale(box[:4], self.aspect_ratio, pixel_std=self.pixel_std, padding=1.25)
        return np.asarray(center, dtype=np.float32), np.asarray(scale, dtype=np.float32)

    def _load_gt_records(self) -> list[Record]:
        anns_by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for ann in self._gt["annotations"]:
            anns_by_image[ann["image_id"]].append(ann)
        records: list[Record] = []
        k = self.num_joints
        for index in self.image_set_index:
            img = self.images[index]
            width, height = img["width"], img["height"]
            for obj in anns_by_image.get(index, ()):
                if obj["iscrowd"]:
                    self.skipped["crowd"] += 1
                    continue
                # box clean-up as the official _load_coco_keypoint_annotation_kernal
                x, y, w, h = obj["bbox"]
                x1 = np.max((0, x))
                y1 = np.max((0, y))
                x2 = np.min((width - 1, x1 + np.max((0, w - 1))))
                y2 = np.min((height - 1, y1 + np.max((0, h - 1))))
                if not (obj["area"] > 0 and x2 >= x1 and y2 >= y1):
                    self.skipped["bad_box"] += 1
                    continue
                if obj["category_id"] != self.category_id:
                    self.skipped["other_category"] += 1
                    continue
                kps = obj.get("keypoints")
                if not kps or max(kps) == 0:
                    self.skipped["no_keypoints"] += 1
                    continue
                kp = np.asarray(kps, dtype=np.float64).reshape(k, 3)
                joints_3d = np.zeros((k, 3), dtype=np.float64)
                joints_3d[:, :2] = kp[:, :2]
                vis = np.minimum(kp[:, 2], 1)
                joints_3d_vis = np.zeros((k, 3), dtype=np.float64)
                joints_3d_vis[:, 0] = vis
                joints_3d_vis[:, 1] = vis
                center, scale = self.box_to_center_scale([x1, y1, x2 - x1, y2 - y1])
                records.append({
                    "image": self._image_path_for(index),
                    "center": center,
                    "scale": scale,
                    "joints_3d": joints_3d,
                    "joints_3d_vis": joints_3d_vis,
                    "filename": "",
                    "imgnum": 0,
                    "image_id": index,
                })
        return records

    def _load_detection_records(self) -> list[Record]:
        if self.bbox_file is None:
            raise DatasetError(
                f"{type(self).__name__} {self.image_set}: testing with detected boxes needs a detection results "
                "file (TEST.COCO_BBOX_FILE), or use ground-truth boxes (TEST.USE_GT_BBOX True)"
            )
        dets = _load_json(self.bbox_file, "Detection results file")
        if not isinstance(dets, list) or not dets:
            raise DatasetError(f"{self.bbox_file}: a COCO detection results file must be a non-empty JSON list")
        k = self.num_joints
        records: list[Record] = []
        for i, det in enumerate(dets):
            where = f"{self.bbox_file}: [{i}]"
            if not isinstance(det, dict):
                raise DatasetError(f"{where} must be an object")
            if det.get("category_id") != self.category_id:
                continue
            box, score, image_id = det.get("bbox"), det.get("score"), det.get("image_id")
            if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
                raise DatasetError(f"{where}.bbox must be [x, y, width, height] numbers")
            if not _is_number(score):
                raise DatasetError(f"{where}.score must be a number")
            if image_id not in self.images:
                raise DatasetError(f"{where}.image_id {image_id!r} is not an image of {self.annotation_file}")
            if score < self.image_thre:
                continue
            center, scale = self.box_to_center_scale(box)
            records.append({
                "image": self._image_path_for(image_id),
                "center": center,
                "scale": scale,
                "score": float(score),
                "joints_3d": np.zeros((k, 3), dtype=np.float64),
                "joints_3d_vis": np.ones((k, 3), dtype=np.float64),
                "image_id": image_id,
            })
        log.info("=> %d person boxes with score >= %s in %s", len(records), self.image_thre, self.bbox_file)
        return records

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_coco"] = None  # DataLoader workers do not need the pycocotools index; rebuilt on use
        return state

    # -- evaluation ----------------------------------------------------------------------------
    @property
    def coco(self) -> Any:
        """The pycocotools ``COCO`` ground truth (built on first use)."""
        if self._coco is None:
            from pycocotools.coco import COCO

            coco = COCO()
            coco.dataset = self._gt
            _silenced(coco.createIndex)
            self._coco = coco
        return self._coco

    def evaluate(
        self,
        preds: np.ndarray,
        output_dir: str | os.PathLike[str] | None,
        all_boxes: np.ndarray,
        img_path: Sequence[str],
        *args: Any,
        rank: int = 0,
        **kwargs: Any,
    ) -> tuple[OrderedDict[str, float], float]:
        """Score predictions as the official ``COCODataset.evaluate``.

        Args:
            preds: (N, K, 3) image-space x, y and confidence per sample.
            output_dir: folder of ``results/keypoints_<image_set>_results_<rank>.json``
                (a temporary folder when ``None``).
            all_boxes: (N, 6) centre x, y, scale x, y, area (``prod(scale * 200)``), box score.
            img_path: (N,) the samples' ``meta['image']``.
            rank: process rank, in the results file name (``cfg.RANK``).

        Returns ``(OrderedDict(name -> value), AP)``; for a split without ground truth
        ``({'Null': 0}, 0)``.
        """
        preds = np.asarray(preds)  # dtype kept: the official rescoring sums float32 confidences
        all_boxes = np.asarray(all_boxes, dtype=np.float64)
        if preds.ndim != 3 or preds.shape[1] != self.num_joints or preds.shape[2] < 3:
            raise ValueError(f"preds must be (N, {self.num_joints}, 3); got {preds.shape}")
        if len(all_boxes) != len(preds) or len(img_path) != len(preds):
            raise ValueError(f"preds ({len(preds)}), all_boxes ({len(all_boxes)}) and img_path ({len(img_path)}) "
                             "must have the same length")

        with contextlib.ExitStack() as stack:
            if output_dir is None:
                output_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="hrnet-eval-"))
            res_folder = Path(output_dir) / "results"
            res_file = res_folder / f"keypoints_{self.image_set}_results_{rank}.json"
            kept = self._rescore_and_nms(preds, all_boxes, img_path)
            results = self._results(kept)
            log.info("=> writing results json to %s", res_file)
            _write_json_atomic(results, res_file)
            if not self.has_ground_truth:
                return OrderedDict([("Null", 0.0)]), 0.0
            name_value = OrderedDict(self._do_python_keypoint_eval(results))
        return name_value, float(name_value["AP"])

    def _rescore_and_nms(
        self, preds: np.ndarray, all_boxes: np.ndarray, img_path: Sequence[str]
    ) -> list[list[dict[str, Any]]]:
        """Official rescoring (box score x mean keypoint confidence above ``in_vis_thre``) and
        OKS NMS per image; returns the kept people per image (images in order of appearance)."""
        from hrnet.nms import oks_nms, rescore_by_keypoints, soft_oks_nms

        scores = rescore_by_keypoints(preds, all_boxes[:, 5], self.in_vis_thre)
        by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for idx in range(len(preds)):
            image_id = self.image_id_from_path(img_path[idx])
            by_image[image_id].append({
                "keypoints": preds[idx, :, :3],
                "center": all_boxes[idx, 0:2],
                "scale": all_boxes[idx, 2:4],
                "area": all_boxes[idx, 4],
                "score": scores[idx],
                "image": image_id,
            })
        nms = soft_oks_nms if self.soft_nms else oks_nms
        kept: list[list[dict[str, Any]]] = []
        for img_kpts in by_image.values():
            keep = nms(img_kpts, self.oks_thre, sigmas=self.sigmas)
            kept.append(img_kpts if len(keep) == 0 else [img_kpts[i] for i in keep])
        return kept

    def _results(self, kept: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        results = []
        for img_kpts in kept:
            for person in img_kpts:
                results.append({
                    "image_id": int(person["image"]),
                    "category_id": self.category_id,
                    "keypoints": [float(v) for v in person["keypoints"].reshape(-1)],
                    "score": float(person["score"]),
                    "center": [float(v) for v in person["center"]],
                    "scale": [float(v) for v in person["scale"]],
                })
        return results

    def _do_python_keypoint_eval(self, results: list[dict[str, Any]]) -> list[tuple[str, float]]:
        from pycocotools.cocoeval import COCOeval

        if not results:
            log.warning("=> no predictions to evaluate: every COCO metric is 0")
            return [(name, 0.0) for name in COCO_STATS_NAMES]
        coco_dt = _silenced(self.coco.loadRes, [dict(r) for r in results])
        coco_eval = COCOeval(self.coco, coco_dt, "keypoints")
        coco_eval.params.useSegm = None
        if self.sigmas is not None:
            coco_eval.params.kpt_oks_sigmas = self.sigmas
        _silenced(coco_eval.evaluate)
        _silenced(coco_eval.accumulate)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            coco_eval.summarize()
        log.info("COCO keypoint evaluation of %s:\n%s", self.image_set, buffer.getvalue().rstrip())
        return [(name, float(coco_eval.stats[i])) for i, name in enumerate(COCO_STATS_NAMES)]


class COCODataset(COCOFormatDataset):
    """The official COCO layout: ``root/annotations/person_keypoints_<image_set>.json`` (or
    ``image_info_<image_set>.json`` for test sets) and ``root/images/<image_set>/<id:012d>.jpg``
    (``COCO_<image_set>_`` prefixed for 2014 sets; ``test2017`` images for test sets); the 17
    COCO keypoints with the official flip pairs, upper body and per-joint weights."""

    def __init__(self, root: str | os.PathLike[str], image_set: str, is_train: bool, **kwargs: Any) -> None:
        self.root = Path(root)
        prefix = "person_keypoints" if "test" not in image_set else "image_info"
        annotation_file = self.root / "annotations" / f"{prefix}_{image_set}.json"
        kwargs.setdefault("keypoints", COCO_KEYPOINT_SET)
        document = read_coco_keypoints_json(annotation_file, num_joints=kwargs["keypoints"].num_joints)
        # official: the keypoint class is the first category of the file
        gt, _ = document
        category = gt["categories"][0]
        super().__init__(annotation_file, is_train, image_set=image_set, document=(gt, category), **kwargs)

    def image_path(self, image_id: int) -> str:
        file_name = f"{image_id:012d}.jpg"
        if "2014" in self.image_set:
            file_name = f"COCO_{self.image_set}_" + file_name
        folder = "test2017" if "test" in self.image_set else self.image_set
        return str(self.root / "images" / folder / file_name)
