"""The Qt-free COCO keypoint annotation document shared by the app and the training loader.

The package is split by responsibility (each name stays importable from ``hrnet.annotations``):
:mod:`~hrnet.annotations.model` (the dataclasses), :mod:`~hrnet.annotations.schema` (the COCO
keys and number checks), :mod:`~hrnet.annotations.reader` (validation and the columnar build of
the people), :mod:`~hrnet.annotations.writer` (id planning, columnar conversion, atomic write).

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

from hrnet.annotations.model import (
    Category,
    Frame,
    Instance,
    PoseDocument,
    bbox_from_keypoints,
    iter_instances,
    subset,
)
from hrnet.annotations.reader import from_coco_dict, load_coco
from hrnet.annotations.schema import FORMAT_VERSION
from hrnet.annotations.writer import (
    _assign_ids,
    _plan_ids,
    _write_chunks_atomic,
    apply_ids,
    save_coco,
    to_coco_dict,
    write_coco_snapshot,
    write_json_atomic,
)
from hrnet.errors import AnnotationError
from hrnet.keypoints import APP_KEY, COCO_KEYPOINTS, COCO_SKELETON

__all__ = [
    "APP_KEY",
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "FORMAT_VERSION",
    "AnnotationError",
    "Category",
    "Frame",
    "Instance",
    "PoseDocument",
    "_assign_ids",
    "_plan_ids",
    "_write_chunks_atomic",
    "apply_ids",
    "bbox_from_keypoints",
    "from_coco_dict",
    "iter_instances",
    "load_coco",
    "save_coco",
    "subset",
    "to_coco_dict",
    "write_coco_snapshot",
    "write_json_atomic",
]
