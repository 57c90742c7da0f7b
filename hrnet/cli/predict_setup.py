"""Setting up ``hrnet-predict`` (:mod:`hrnet.cli.predict`): its logging, the person detector, the
Predictor and the int8 calibration frames."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from hrnet.cli.predict_io import expand_inputs
from hrnet.errors import HRNetError
from hrnet.media import VideoReader, is_image, read_image

__all__ = ["build_detector_for", "calibration_source", "setup_logging", "setup_models"]

log = logging.getLogger("hrnet.predict")


def setup_logging(debug: bool, quiet: bool) -> Callable[[], None]:
    """Configure logging for this run; returns the function that puts it back as it was (main() can be
    called in-process, by tests or a notebook, and must not leave the process's loggers changed)."""
    root = logging.getLogger()
    previous_root = root.level
    for h in [h for h in root.handlers if getattr(h, "_hrnet_predict", False)]:
        root.removeHandler(h)  # main() called again in the same process
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler._hrnet_predict = True  # type: ignore[attr-defined]
    handler.setLevel(logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO))
    handler.setFormatter(logging.Formatter("%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    noisy = ("hrnet.models", "hrnet.models.checkpoint", "hrnet.models.optimize", "hrnet.detect")
    previous = {name: logging.getLogger(name).level for name in noisy}
    if not debug:
        for name in noisy:
            logging.getLogger(name).setLevel(logging.WARNING)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_root)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)

    return restore


def build_detector_for(args: argparse.Namespace, device: Any) -> Any:
    from hrnet.detect import build_detector

    name = args.detector.strip()
    key = name.lower()
    options: dict[str, Any] = {}
    if key in ("full", "full_image"):
        return build_detector("full_image")
    if args.det_threshold is not None:
        options["score_threshold"] = args.det_threshold
    if args.det_nms is not None:
        options["nms_iou"] = args.det_nms
    if args.min_box:
        options["min_size"] = args.min_box
    if args.max_people is not None:
        options["max_detections"] = args.max_people
    if key in ("fasterrcnn", "ssdlite"):
        options["device"] = device
        if args.det_fp16:
            options["autocast"] = True
    return build_detector(name, **options)


def calibration_source(args: argparse.Namespace, detector: Any) -> Any:
    """A callable giving int8 calibration frames (called only when no calibrated model is cached):
    ``--calibration``, else up to 48 images / video frames of the inputs with the detector's boxes."""
    from hrnet.calibration import DEFAULT_FRAMES, load_calibration

    def frames() -> list[tuple[np.ndarray, np.ndarray]]:
        if args.calibration:
            return load_calibration(args.calibration)
        log.info("int8: calibrating on the inputs (detector boxes)")
        found: list[tuple[np.ndarray, np.ndarray]] = []
        for path in expand_inputs(args.inputs, args.recursive, []):
            try:
                if is_image(path):
                    images = [(str(path), read_image(path))]
                else:
                    reader = VideoReader(path)
                    try:
                        n = len(reader)
                        images = [(i, reader.read(i)) for i in range(0, n, max(1, n // 8))[:8]]
                    finally:
                        reader.close()
            except (HRNetError, IndexError):
                continue
            for key, image in images:
                boxes = np.asarray(detector(image, image_key=key).boxes, np.float64).reshape(-1, 4)
                if len(boxes):
                    found.append((image, boxes))
            if len(found) >= DEFAULT_FRAMES:
                break
        return found

    return frames


def setup_models(args: argparse.Namespace, device: Any) -> tuple[Any, Any]:
    """The detector and the Predictor (``device``: torchrun's device for this rank, else None)."""
    from hrnet.config import load_config
    from hrnet.predictor import Predictor
    from hrnet.utils.device import resolve_device
    from hrnet.weights import weights_experiment

    experiment: Any = args.experiment if args.experiment is not None else weights_experiment(args.weights)
    cfg = load_config(experiment, args.opts)
    detector = build_detector_for(args, device if device is not None else resolve_device(args.device))  # fail fast
    calibration = calibration_source(args, detector) if args.precision == "int8" else None
    predictor = Predictor(cfg, weights=args.weights, device=str(device) if device is not None else args.device,
                          flip_test=args.flip, batch_size=args.batch_size, precision=args.precision,
                          calibration=calibration)
    if args.precision == "int8" and predictor.int8_report is not None:
        log.info("int8: %s", predictor.int8_report.summary())
    return detector, predictor
