"""hrnet: a faithful, modern reimplementation of Microsoft's HRNet human pose estimation code.

The public API the app (and users) rely on is re-exported here, imported lazily so that
``import hrnet`` stays cheap:

- :func:`load_config` — official yacs configs and experiment files
- :func:`build_model`, :func:`load_checkpoint` — networks with official state_dict keys
- :class:`Predictor` — image + person boxes -> keypoints, scores, heatmaps
- :func:`load_coco`, :func:`save_coco`, :class:`PoseDocument` — the Qt-free annotation document
- :func:`read_image`, :class:`VideoReader`, :func:`list_images` — images, videos, folders
- :func:`list_weights`, :func:`resolve_weights` — named models (experiment + weights + decode options)
- :func:`write_json`, :func:`read_json` — the atomic writer and the JSON reader with typed errors
- :func:`resolve_device`, :func:`available_devices`, :func:`device_label`, :func:`release_memory` —
  the one device resolver and probe

The app imports hrnet only through these names (an import-linter contract in pyproject.toml).

This package never imports Qt or the app.
"""

# No ``from __future__ import annotations`` here: it would bind the name ``annotations`` in this
# package and shadow the ``hrnet.annotations`` submodule (``from hrnet import annotations``).
import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "load_config": "hrnet.config",
    "list_experiments": "hrnet.config",
    "build_model": "hrnet.models",
    "load_checkpoint": "hrnet.models.checkpoint",
    "Predictor": "hrnet.predictor",
    "PoseResult": "hrnet.predictor",
    "load_coco": "hrnet.annotations",
    "save_coco": "hrnet.annotations",
    "PoseDocument": "hrnet.annotations",
    "Instance": "hrnet.annotations",
    "Frame": "hrnet.annotations",
    "HRNetError": "hrnet.errors",
    "ConfigError": "hrnet.errors",
    "CheckpointError": "hrnet.errors",
    "DatasetError": "hrnet.errors",
    "AnnotationError": "hrnet.errors",
    "WeightsError": "hrnet.errors",
    "MediaError": "hrnet.errors",
    # files: the one atomic writer and JSON reader
    "atomic_write_text": "hrnet.utils.io",
    "write_json": "hrnet.utils.io",
    "read_json": "hrnet.utils.io",
    # the annotation document
    "subset": "hrnet.annotations",
    "apply_ids": "hrnet.annotations",
    "write_coco_snapshot": "hrnet.annotations",
    # the app's autosave files: a base plus an append-only journal of changed frames
    "write_journal_base": "hrnet.journal",
    "append_journal_frames": "hrnet.journal",
    "read_journal_recovery": "hrnet.journal",
    "journal_path": "hrnet.journal",
    "new_journal_token": "hrnet.journal",
    "write_journal_copy_base": "hrnet.journal",
    "write_save_delta": "hrnet.journal",
    "apply_save_delta": "hrnet.journal",
    "file_crc": "hrnet.journal",
    # images and videos
    "IMAGE_EXTS": "hrnet.media",
    "VIDEO_EXTS": "hrnet.media",
    "VideoReader": "hrnet.media",
    "is_image": "hrnet.media",
    "is_video": "hrnet.media",
    "list_image_names": "hrnet.media",
    "list_images": "hrnet.media",
    "natural_sort_key": "hrnet.media",
    "read_image": "hrnet.media",
    # named models and their weights
    "WeightsEntry": "hrnet.weights",
    "find_entry": "hrnet.weights",
    "list_weights": "hrnet.weights",
    "resolve_weights": "hrnet.weights",
    "weights_dir": "hrnet.weights",
    # person detection, crops, progress text
    "build_detector": "hrnet.detect",
    "detector_weights_path": "hrnet.detect",
    "box_to_center_scale": "hrnet.utils.transforms",
    "format_duration": "hrnet.core.progress",
    # int8 on the CPU
    "CalibrationError": "hrnet.quantize",
    "GateReport": "hrnet.quantize",
    "plan_calibration": "hrnet.calibration",
    "read_calibration": "hrnet.calibration",
    "load_calibration": "hrnet.calibration",
    # keypoint sets
    "KeypointSet": "hrnet.keypoints",
    "KeypointSetError": "hrnet.keypoints",
    "KEYPOINT_TEMPLATES": "hrnet.keypoints",
    "COCO_17": "hrnet.keypoints",
    "MPII_16": "hrnet.keypoints",
    "side_of": "hrnet.keypoints",
    "mirror_name": "hrnet.keypoints",
    "split_side": "hrnet.keypoints",
    "default_sigma": "hrnet.keypoints",
    "flip_pairs_from_names": "hrnet.keypoints",
    "Category": "hrnet.annotations",
    "load_for_keypoint_set": "hrnet.models.checkpoint_sets",
    "read_keypoint_set": "hrnet.models.checkpoint_sets",
    "predicted_keypoint_set": "hrnet.models.checkpoint_sets",
    # fine-tuning, evaluation and the training progress protocol
    "finetune_overrides": "hrnet.engine.finetune",
    "build_train_parser": "hrnet.cli.train",
    "evaluate_model": "hrnet.engine.evaluation",
    "EvaluationResult": "hrnet.engine.evaluation",
    "EvaluationCancelled": "hrnet.engine.evaluation",
    "SUMMARY_METRICS": "hrnet.engine.evaluation",
    "parse_progress_event": "hrnet.core.events",
    "ProgressEvent": "hrnet.core.events",
    "RunStarted": "hrnet.core.events",
    "BaseValidated": "hrnet.core.events",
    "StepProgress": "hrnet.core.events",
    "EpochEnded": "hrnet.core.events",
    "CheckpointWritten": "hrnet.core.events",
    "LogMessage": "hrnet.core.events",
    "TrainError": "hrnet.core.events",
    "RunFinished": "hrnet.core.events",
    # video: identities across frames, detector only where needed, keyframes
    "PoseTracker": "hrnet.tracking",
    "track_poses": "hrnet.tracking",
    "TrackedPose": "hrnet.propagation",
    "VideoPoseTracker": "hrnet.propagation",
    "interpolate_keyframes": "hrnet.temporal",
    # devices: the one resolver and probe
    "resolve_device": "hrnet.utils.device",
    "available_devices": "hrnet.utils.device",
    "device_label": "hrnet.utils.device",
    "release_memory": "hrnet.utils.device",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hrnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
