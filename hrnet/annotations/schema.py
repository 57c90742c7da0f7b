"""The COCO keypoint schema as this package reads and writes it: the known keys of each record
and the number checks shared by the reader and the writer (see :mod:`hrnet.annotations` for the format)."""

from __future__ import annotations

from typing import Any

from hrnet.keypoints import APP_KEY

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


_ROWS = 8192  # numpy calls on at most this many people at a time: a writer thread holds the GIL briefly
