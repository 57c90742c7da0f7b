"""Person detectors behind one interface: ``detector(image_bgr) -> Detections``.

>>> detector = build_detector("fasterrcnn", score_threshold=0.6, device="cpu")
>>> detections = detector(image_bgr)          # boxes (N, 4) xyxy pixels, scores (N,)
>>> build_detector("json:COCO_val2017_detections_AP_H_56_person.json")(None, image_key=397133)

Names: ``fasterrcnn`` (Faster R-CNN R50-FPN v2), ``fasterrcnn_mobilenet`` (Faster R-CNN
MobileNetV3-Large FPN, several times faster on CPU), ``ssdlite`` (SSDlite320 MobileNetV3, fastest),
``json`` (``path=`` or ``json:PATH``: boxes from a COCO detections file), ``full_image``
(alias ``full``: the whole image as one box).
"""

from __future__ import annotations

from typing import Any

from hrnet.detect.base import PERSON_LABEL, Detections, Detector, FullImageDetector, filter_detections
from hrnet.detect.coco_json import CocoJsonDetector
from hrnet.detect.torchvision_detectors import TORCHVISION_DETECTORS, TorchvisionDetector, detector_weights_path

__all__ = [
    "DETECTOR_NAMES",
    "PERSON_LABEL",
    "CocoJsonDetector",
    "Detections",
    "Detector",
    "FullImageDetector",
    "TorchvisionDetector",
    "build_detector",
    "detector_weights_path",
    "filter_detections",
]

DETECTOR_NAMES = ("fasterrcnn", "fasterrcnn_mobilenet", "ssdlite", "json", "full_image")


def build_detector(name: str, **options: Any) -> Detector:
    """Create a detector by name with its options (see the module docstring).

    ``json:PATH`` is short for ``build_detector("json", path=PATH)``. Raises ``ValueError`` for an
    unknown name and :class:`~hrnet.errors.WeightsError` when detector weights are missing.
    """
    key = name.strip()
    if key.lower().startswith("json:"):
        options.setdefault("path", key[5:])
        key = "json"
    key = key.lower()
    if key in TORCHVISION_DETECTORS:
        return TorchvisionDetector(key, **options)
    if key == "json":
        if "path" not in options:
            raise ValueError("the json detector needs a file: build_detector('json', path=...) or 'json:PATH'")
        return CocoJsonDetector(options.pop("path"), **options)
    if key in ("full_image", "full"):
        if options:
            raise ValueError(f"the full_image detector takes no options, got {sorted(options)}")
        return FullImageDetector()
    raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTOR_NAMES)} (or json:PATH)")
