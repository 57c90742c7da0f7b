"""Image + person boxes -> keypoints, scores and heatmaps, with the official test pipeline.

>>> predictor = Predictor("coco/hrnet/w32_256x192_adam_lr1e-3", weights="pose_hrnet_w32_256x192.pth")
>>> results = predictor.predict(image_bgr, boxes_xyxy, box_scores)
>>> results[0].keypoints          # (K, 3): x, y, confidence (image pixels)
>>> results[0].score              # official rescoring: box score x mean confident joint value

The numbers follow the official ``validate`` + ``COCODataset.evaluate`` path exactly:

1. each xyxy box becomes ``(center, scale)`` as ``_xywh2cs`` does (aspect ratio of the network
   input, ``scale = size / 200 * 1.25``);
2. the crop is ``cv2.warpAffine(image, get_affine_transform(center, scale, 0, IMAGE_SIZE),
   INTER_LINEAR)``, converted to RGB when ``DATASET.COLOR_RGB``, then ``ToTensor`` +
   ``Normalize(ImageNet mean, std)``;
3. the network's heatmaps, optionally averaged with those of the mirrored input (``flip_back``
   and, with ``TEST.SHIFT_HEATMAP``, shifted one pixel to the right);
4. ``get_final_preds``: arg-max + quarter-pixel offset (``TEST.POST_PROCESS``) or DARK
   (``TEST.DECODE 'dark'``), mapped back to the image;
5. score = box score x mean of the joint maxima above ``TEST.IN_VIS_THRE``.

Speed: BatchNorm folded into the convolutions, channels_last and ``inference_mode`` everywhere
(:mod:`hrnet.models.optimize`). On CUDA the folded model's weights are fp16 (cast once, fp16 crops
in, float32 heatmaps out) and cuDNN autotunes the pose forward only; on the CPU each convolution is
fused with its ReLU / residual add and denormals are flushed. All people of all frames of a call
go through the network together, in chunks of ``batch_size``.

Precision on CUDA: ``half=True`` (the default there) is fp16; ``half=False`` is IEEE fp32 (TF32
convolutions are turned off around the pose forward), so cuda and cpu heatmaps agree to float32
rounding (keypoints: >= 99% of joints within 0.05 px).

Fixed shapes on GPUs: on CUDA (and with ``compile``) a chunk of ``n`` people is zero-padded to the
next of a few fixed sizes (powers of two up to ``batch_size``, twice that with the flip test) and
the padding is sliced off the heatmaps, so cuDNN autotunes, and torch.compile compiles, once per
size instead of once per person count. A CUDA out-of-memory error halves ``batch_size`` (after
freeing the cache) and retries, down to one person per pass.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.config import load_config
from hrnet.errors import ConfigError
from hrnet.utils.device import cudnn_scope, is_out_of_memory, release_memory, resolve_device

__all__ = ["PoseResult", "Predictor", "padded_batch_size", "resolve_device"]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class PoseResult:
    """One person.

    ``keypoints`` (K, 3) float64: x, y in image pixels and the heatmap maximum as confidence;
    ``score``: the official rescoring (``box_score`` x mean confidence of the joints above
    ``TEST.IN_VIS_THRE``); ``box`` (4,) xyxy as given; ``center``/``scale``: the official crop
    parameters. With ``return_heatmaps``: ``heatmaps`` (K, h, w) float32 and ``heatmap_to_image``,
    the 2x3 affine map from heatmap pixel coordinates to image coordinates
    (``[x_img, y_img] = M @ [x_hm, y_hm, 1]``, the one ``transform_preds`` applies).
    """

    keypoints: np.ndarray
    score: float
    box: np.ndarray
    box_score: float = 1.0
    center: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    heatmaps: np.ndarray | None = None
    heatmap_to_image: np.ndarray | None = None

    @property
    def bbox_xywh(self) -> np.ndarray:
        b = np.asarray(self.box, dtype=np.float64)
        return np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]])

    def to_coco(self, image_id: Any, category_id: int = 1, decimals: int | None = 4) -> dict[str, Any]:
        """A COCO keypoint *result* entry (``image_id``, ``category_id``, flat ``keypoints``,
        ``score``, ``bbox`` xywh). ``decimals`` rounds the numbers (None: full precision)."""
        kp = self.keypoints.astype(np.float64).reshape(-1)
        bbox = self.bbox_xywh
        if decimals is not None:
            kp = np.round(kp, decimals)
            bbox = np.round(bbox, decimals)
        return {
            "image_id": image_id,
            "category_id": int(category_id),
            "keypoints": [float(v) for v in kp],
            "score": float(self.score) if decimals is None else round(float(self.score), decimals + 2),
            "bbox": [float(v) for v in bbox],
        }


def _int8_device(device: str | torch.device) -> str:
    """int8 runs on the CPU: ``auto`` means CPU; another device is a :class:`ConfigError`."""
    text = str(device).strip().lower()
    if text in ("", "auto", "cpu"):
        return "cpu"
    raise ConfigError(f"precision='int8' runs on the CPU (ONNX Runtime); device {device!r} is not possible. "
                      "On a GPU use precision='fp16'.")


def _keypoint_set(cfg: CfgNode) -> Any:
    """The :class:`~hrnet.keypoints.KeypointSet` of the experiment's dataset."""
    from hrnet.keypoints import COCO_17, MPII_16, KeypointSet

    name = str(cfg.DATASET.DATASET)
    k = int(cfg.MODEL.NUM_JOINTS)
    kset = None
    if name == "mpii":
        kset = MPII_16
    elif name == "coco_json":
        for key in ("TEST_ANNOTATIONS", "TRAIN_ANNOTATIONS"):
            kset = _keypoint_set_from_file(cfg, str(cfg.DATASET[key]))
            if kset is not None:
                break
    elif name == "coco":
        kset = COCO_17
    if kset is None and k == len(COCO_17.names):
        kset = COCO_17
    if kset is None:
        kset = KeypointSet(names=tuple(f"joint_{i}" for i in range(k)))
    if len(kset.names) != k:
        raise ConfigError(
            f"MODEL.NUM_JOINTS is {k} but the {name} keypoint set has {len(kset.names)} keypoints"
        )
    return kset


def _keypoint_set_from_file(cfg: CfgNode, path: str) -> Any:
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = Path(cfg.DATA_DIR or "") / (cfg.DATASET.ROOT or "") / p
    if not p.is_file():
        return None
    try:
        from hrnet.dataset.coco_json import keypoint_set_from_category

        with p.open("r", encoding="utf-8") as f:
            doc = json.load(f)
        cats = [c for c in doc.get("categories", []) if c.get("keypoints")]
        return keypoint_set_from_category(cats[0]) if cats else None
    except Exception as e:  # noqa: BLE001 - the keypoint names are a convenience here
        log.warning("Cannot read keypoint names from %s: %s", p, e)
        return None


def _sensible_threads() -> None:
    """Keep torch's intra-op threads within the CPUs this process may use (containers, taskset)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        allowed = os.cpu_count() or 1
    if torch.get_num_threads() > allowed:
        torch.set_num_threads(allowed)


class Predictor:
    """Top-down pose estimation with an HRNet / SimpleBaseline experiment.

    Args:
        experiment: a config (CfgNode), a shipped experiment name (``coco/hrnet/w32_256x192``) or
            a YAML path. ``None`` takes the experiment of a registry ``weights`` name.
        weights: a pose checkpoint path or a name of :mod:`hrnet.weights` (downloaded into the
            cache when needed). ``None``: random weights (a warning is logged; for tests).
        device: ``"auto"`` (CUDA, then MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        flip_test: average with the heatmaps of the mirrored crop (official ``TEST.FLIP_TEST``;
            shifted by ``TEST.SHIFT_HEATMAP`` of the experiment).
        batch_size: people per forward pass (default ``TEST.BATCH_SIZE_PER_GPU``).
        half: fp16 (default: on for CUDA, off elsewhere). On CUDA with ``optimize`` the folded
            weights are cast to fp16 once (no per-call casts); on MPS or without ``optimize``,
            autocast. ``False`` on CUDA is IEEE fp32 (no TF32).
        optimize: fold BatchNorm and use channels_last; on CPU also fuse each convolution with the
            ReLU / residual add after it (oneDNN post-ops, checked against the unfused model).
        compile: wrap the model in ``torch.compile`` (opt-in: the first call of each of at most four
            padded batch sizes compiles for a minute or more; pays for long videos, on CUDA especially).
        precision: ``"fp32"`` (default), ``"fp16"`` (same as ``half=True``) or ``"int8"``: the
            network runs in ONNX Runtime on the CPU, statically quantised and calibrated on
            ``calibration``, checked against fp32 by a gate (see :mod:`hrnet.quantize`); when the
            gate rejects it the Predictor stays fp32 and ``int8_report`` says why.
        calibration: for ``"int8"``: ``(image_bgr, boxes_xyxy)`` pairs from the user's own data
            (or a callable returning them, called only when no calibrated model is cached).
        calibration_progress: ``progress(stage, fraction)`` during a first-time int8 calibration.
        decode: ``"default"`` or ``"dark"`` (default ``TEST.DECODE``).
        keypoint_set: names and flip pairs of the joints (default: those of the experiment's dataset).
        num_threads: CPU threads for torch (default: torch's, capped to the CPUs this process may use).
    """

    def __init__(
        self,
        experiment: CfgNode | str | PathLike[str] | None,
        weights: str | PathLike[str] | None = None,
        device: str | torch.device = "auto",
        flip_test: bool = False,
        *,
        batch_size: int | None = None,
        half: bool | None = None,
        optimize: bool = True,
        decode: str | None = None,
        keypoint_set: Any = None,
        num_threads: int | None = None,
        compile: bool = False,
        precision: str = "fp32",
        calibration: Any = None,
        calibration_progress: Any = None,
    ) -> None:
        precision = str(precision).strip().lower()
        if precision not in ("fp32", "fp16", "int8"):
            raise ConfigError(f"precision must be 'fp32', 'fp16' or 'int8', not {precision!r}")
        if precision == "fp16":
            half = True
        if precision == "int8":
            device = _int8_device(device)
        weights_path: Path | None = None
        if weights is not None:
            from hrnet.weights import resolve_weights, weights_experiment

            if experiment is None:
                experiment = weights_experiment(weights)
            weights_path = resolve_weights(weights)
        if experiment is None:
            raise ConfigError(
                "No experiment given: pass a config, an experiment name or YAML path (or a registry weights name)"
            )
        self.cfg: CfgNode = load_config(experiment)
        cfg = self.cfg
        self.device = resolve_device(device)
        self.flip_test = bool(flip_test)
        self.shift_heatmap = bool(cfg.TEST.SHIFT_HEATMAP)
        self.post_process = bool(cfg.TEST.POST_PROCESS)
        self.decode = str(decode or cfg.TEST.DECODE)
        if self.decode not in ("default", "dark"):
            raise ConfigError(f"decode must be 'default' or 'dark', not {self.decode!r}")
        self.sigma = float(cfg.MODEL.SIGMA)
        self.in_vis_thre = float(cfg.TEST.IN_VIS_THRE)
        self.color_rgb = bool(cfg.DATASET.COLOR_RGB)
        self.image_size = (int(cfg.MODEL.IMAGE_SIZE[0]), int(cfg.MODEL.IMAGE_SIZE[1]))  # (w, h)
        self.heatmap_size = (int(cfg.MODEL.HEATMAP_SIZE[0]), int(cfg.MODEL.HEATMAP_SIZE[1]))
        self.aspect_ratio = self.image_size[0] / self.image_size[1]
        self.batch_size = int(batch_size or cfg.TEST.BATCH_SIZE_PER_GPU or 32)
        self.keypoint_set = keypoint_set if keypoint_set is not None else _keypoint_set(cfg)
        self.flip_pairs = [tuple(p) for p in self.keypoint_set.flip_pairs]
        if self.flip_test and not self.flip_pairs and self.num_joints > 1:
            log.warning("flip test without left/right joint pairs: joints are averaged unswapped")
        self.half = self.device.type == "cuda" if half is None else bool(half)
        self.weights = str(weights_path) if weights_path is not None else None
        self._lock = threading.Lock()

        if self.device.type == "cpu":
            torch.set_flush_denormal(True)
            if num_threads:
                torch.set_num_threads(int(num_threads))
            else:
                _sensible_threads()

        from hrnet.models import build_model

        model = build_model(cfg, is_train=False)
        if weights_path is None:
            log.warning("Predictor has random weights (no checkpoint given): its keypoints are meaningless")
        else:
            from hrnet.models.checkpoint import checkpoint_keypoint_set, load_checkpoint

            ck = load_checkpoint(model, weights_path)
            stored = checkpoint_keypoint_set(ck.metadata)  # what the model predicts, as trained
            if keypoint_set is None and stored is not None and len(stored) == self.num_joints:
                self.keypoint_set = stored
                self.flip_pairs = [tuple(p) for p in stored.flip_pairs]
        model.eval()
        self.channels_last = bool(optimize) and self.device.type in ("cpu", "cuda")
        if optimize:
            from hrnet.models.optimize import optimize_for_inference

            model = optimize_for_inference(model, channels_last=self.channels_last, inplace=True)
        else:
            for p in model.parameters():
                p.requires_grad_(False)
        model = model.to(self.device)
        if optimize and self.device.type == "cpu":
            from hrnet.models.optimize import try_fuse_cpu

            gen = torch.Generator().manual_seed(0)
            example = torch.randn(1, 3, self.image_size[1], self.image_size[0], generator=gen)
            if self.channels_last:
                example = example.contiguous(memory_format=torch.channels_last)
            model = try_fuse_cpu(model, example)
        # fp16 on CUDA: cast the folded weights once (autocast would re-cast every frozen weight on
        # every call, ~590 extra kernels per W32 forward). Unfolded BatchNorm stays under autocast.
        self._half_weights = False
        if self.half and self.device.type == "cuda" and optimize:
            from hrnet.models.optimize import to_half

            self._half_weights = to_half(model)
        self.compiled = bool(compile)
        if compile:
            model = torch.compile(model, dynamic=False)
        # Pad chunks to a few fixed sizes where a new shape costs (cuDNN autotuning, compilation);
        # on the CPU padding would only add work.
        self.pad_batches = self.device.type == "cuda" or self.compiled
        self.model: nn.Module = model
        self._mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._flip_index = None
        if self.flip_pairs:
            from hrnet.utils.transforms import flip_permutation

            perm = flip_permutation(self.num_joints, self.flip_pairs)
            self._flip_index = torch.as_tensor(perm, device=self.device)
        self.timings: dict[str, float] = {"preprocess": 0.0, "forward": 0.0, "decode": 0.0}
        self.precision = "fp16" if self.half else "fp32"
        self.int8_report: Any = None  # hrnet.quantize.GateReport when int8 was asked for
        if precision == "int8":
            self._use_int8(weights_path, calibration, compile, calibration_progress)
        log.info(
            "Predictor: %s %dx%d, %d joints, device %s%s, flip test %s, decode %s",
            cfg.MODEL.NAME, self.image_size[0], self.image_size[1], self.num_joints, self.device,
            " fp16" if self.half else "", "on" if self.flip_test else "off", self.decode,
        )

    # -- named models --------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name: str, **kwargs: Any) -> Predictor:
        """The named model ``name`` of :mod:`hrnet.weights` (``pose_hrnet_w32_256x192``,
        ``mmpose_hrnet_w32_coco_256x192_dark``, ...): its experiment with the entry's decode options
        and its weights (from the cache; downloaded when the entry has a URL). ``kwargs`` as for
        :class:`Predictor` (``device``, ``flip_test``, ...). Raises :class:`WeightsError` for an unknown name.
        """
        from hrnet.errors import WeightsError
        from hrnet.weights import REGISTRY, find_entry, resolve_weights

        entry = find_entry(name)
        if entry is None:
            raise WeightsError(f"Unknown model {name!r}; known: {', '.join(REGISTRY)}")
        return cls(entry.config(), weights=resolve_weights(entry.name), **kwargs)

    def _use_int8(self, weights_path: Path | None, calibration: Any, compiled: bool, progress: Any) -> None:
        """Swap the network for the gated int8 ONNX Runtime model (hrnet.quantize)."""
        from hrnet import quantize

        if weights_path is None:
            raise ConfigError("precision='int8' needs trained weights (it is calibrated and checked against them)")
        if compiled:
            raise ConfigError("precision='int8' and compile=True do not combine")
        runner, report, _cached = quantize.build_int8_model(self, weights_path, calibration, progress=progress)
        self.int8_report = report
        if runner is None:
            log.warning("int8 not used, staying fp32: %s", report.summary())
            return
        self.model = runner
        self.channels_last = False  # ONNX Runtime takes contiguous NCHW crops
        self.precision = "int8"

    # -- description ---------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return int(self.cfg.MODEL.NUM_JOINTS)

    @property
    def keypoint_names(self) -> list[str]:
        return list(self.keypoint_set.names)

    @property
    def skeleton(self) -> list[tuple[int, int]]:
        """0-based limb pairs for drawing (empty when the keypoint set has none)."""
        return [tuple(p) for p in self.keypoint_set.skeleton]

    def __repr__(self) -> str:
        return (
            f"Predictor({self.cfg.MODEL.NAME}, input {self.image_size[0]}x{self.image_size[1]}, "
            f"device={self.device}, flip_test={self.flip_test}, weights={self.weights!r})"
        )

    # -- public prediction API -----------------------------------------------------------------
    def predict(
        self,
        image: np.ndarray,
        boxes: np.ndarray | Sequence[Sequence[float]],
        box_scores: np.ndarray | Sequence[float] | None = None,
        return_heatmaps: bool = False,
    ) -> list[PoseResult]:
        """Pose of each person box in one image.

        ``image``: HxWx3 uint8 BGR; ``boxes``: (N, 4) xyxy pixels; ``box_scores``: (N,) detector
        scores (default 1). Returns N :class:`PoseResult` in box order ([] for no boxes).
        """
        return self.predict_batch([image], [boxes], None if box_scores is None else [box_scores], return_heatmaps)[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray | Sequence[Sequence[float]]],
        box_scores: Sequence[np.ndarray | Sequence[float] | None] | None = None,
        return_heatmaps: bool = False,
    ) -> list[list[PoseResult]]:
        """:meth:`predict` for many images (e.g. video frames) with the people of all of them in
        the same forward passes. Returns one list of results per image."""
        if len(boxes) != len(images):
            raise ValueError(f"got {len(images)} images but {len(boxes)} box arrays")
        if box_scores is not None and len(box_scores) != len(images):
            raise ValueError(f"got {len(images)} images but {len(box_scores)} box score arrays")
        box_arrays = [_as_boxes(b) for b in boxes]
        score_arrays = []
        for i, b in enumerate(box_arrays):
            s = None if box_scores is None else box_scores[i]
            s = np.ones(len(b), np.float64) if s is None else np.asarray(s, dtype=np.float64).reshape(-1)
            if len(s) != len(b):
                raise ValueError(f"image {i}: {len(b)} boxes but {len(s)} box scores")
            score_arrays.append(s)
        total = sum(len(b) for b in box_arrays)
        if total == 0:
            return [[] for _ in images]
        if self.device.type == "cpu":
            torch.set_flush_denormal(True)  # a per-thread CPU flag: the caller may be a worker thread
        with self._lock:
            t0 = time.perf_counter()
            crops, centers, scales = self.preprocess(images, box_arrays)
            t1 = time.perf_counter()
            heatmaps = self.forward(crops)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            t2 = time.perf_counter()
            preds, maxvals = self.decode_heatmaps(heatmaps, centers, scales)
            t3 = time.perf_counter()
        self.timings = {"preprocess": t1 - t0, "forward": t2 - t1, "decode": t3 - t2}
        all_scores = np.concatenate(score_arrays)
        pose_scores = self.rescore(maxvals, all_scores)
        hm_np = trans = None
        if return_heatmaps:
            from hrnet.utils.transforms import get_affine_transforms

            hm_np = heatmaps.float().cpu().numpy()
            trans = get_affine_transforms(centers, scales, self.heatmap_size, inv=True)
        all_boxes = np.concatenate(box_arrays)
        results: list[list[PoseResult]] = []
        i = 0
        for b in box_arrays:
            frame_results = []
            for _ in range(len(b)):
                kp = np.concatenate([preds[i], maxvals[i].astype(np.float64)], axis=1)
                frame_results.append(
                    PoseResult(
                        keypoints=kp,
                        score=float(pose_scores[i]),
                        box=all_boxes[i].copy(),
                        box_score=float(all_scores[i]),
                        center=centers[i].copy(),
                        scale=scales[i].copy(),
                        heatmaps=None if hm_np is None else np.ascontiguousarray(hm_np[i]),
                        heatmap_to_image=None if trans is None else trans[i].copy(),
                    )
                )
                i += 1
            results.append(frame_results)
        return results

    def predict_image(
        self,
        image: np.ndarray,
        detector: Any,
        image_key: Any = None,
        return_heatmaps: bool = False,
    ) -> list[PoseResult]:
        """Run ``detector`` (see :mod:`hrnet.detect`) on ``image``, then :meth:`predict` on its
        boxes with their scores. ``image_key`` goes to detectors that look boxes up by image."""
        detections = detector(image, image_key=image_key)
        return self.predict(image, detections.boxes, detections.scores, return_heatmaps)

    # -- the three stages (public for benchmarks and custom pipelines) ---------------------------
    def preprocess(
        self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Crops of all boxes as a normalised (N, 3, H, W) float tensor on the device
        (channels_last where the model is), with their official ``center`` and ``scale`` (N, 2)."""
        from hrnet.utils.transforms import boxes_to_center_scale, get_affine_transforms

        w, h = self.image_size
        n = sum(len(b) for b in boxes)
        crops = np.empty((n, h, w, 3), np.uint8)
        centers = np.empty((n, 2), np.float32)
        scales = np.empty((n, 2), np.float32)
        i = 0
        for image, b in zip(images, boxes):
            if len(b) == 0:
                continue
            image = _check_image(image)
            xywh = b.astype(np.float64)
            xywh[:, 2:] = np.maximum(xywh[:, 2:] - xywh[:, :2], 1.0)  # degenerate boxes -> 1 px
            c, s = boxes_to_center_scale(xywh, self.aspect_ratio)
            trans = get_affine_transforms(c, s, self.image_size)
            for j in range(len(b)):
                cv2.warpAffine(image, trans[j], (w, h), dst=crops[i + j], flags=cv2.INTER_LINEAR)
            centers[i:i + len(b)] = c
            scales[i:i + len(b)] = s
            i += len(b)
        if self.color_rgb:
            crops = crops[..., ::-1]
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, non_blocking=True)
        # ToTensor() + Normalize(mean, std) with the same float32 operations; NHWC data permuted
        # to NCHW is channels_last already.
        x = x.permute(0, 3, 1, 2).float().div_(255.0).sub_(self._mean).div_(self._std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        else:
            x = x.contiguous()
        return x, centers, scales

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Heatmaps (N, K, h, w) float32 of normalised crops, flip-averaged when ``flip_test``,
        in chunks of ``batch_size``. On a device out-of-memory error the cache is emptied and
        ``batch_size`` halved (it stays halved for later calls) until one person per pass fails."""
        outs = []
        start, n = 0, crops.shape[0]
        while start < n:
            size = max(1, int(self.batch_size))
            out_of_memory = False
            try:
                outs.append(self._forward_chunk(crops[start:start + size]))
            except (RuntimeError, MemoryError) as e:
                if size <= 1 or not is_out_of_memory(e):
                    raise
                out_of_memory = True  # free memory outside the except block (its traceback holds tensors)
            if out_of_memory:
                release_memory(self.device)
                self.batch_size = size // 2
                log.warning("Out of memory on %s with %d people per forward pass; retrying with %d",
                            self.device, size, self.batch_size)
                continue
            start += size
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def padded_size(self, n: int) -> int:
        """The batch size a forward pass of ``n`` inputs runs at (``n`` itself when padding is off)."""
        if not self.pad_batches:
            return n
        limit = max(1, int(self.batch_size)) * (2 if self.flip_test else 1)
        return padded_batch_size(n, limit, max_sizes=4 if self.compiled else None)

    def _run_model(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        size = self.padded_size(n)
        with torch.inference_mode():
            dtype = torch.float16 if self._half_weights else x.dtype
            if size != n or dtype != x.dtype:
                fmt = torch.channels_last if self.channels_last else torch.contiguous_format
                buf = torch.empty((size, *x.shape[1:]), dtype=dtype, device=x.device, memory_format=fmt)
                buf[:n].copy_(x)
                if size > n:
                    buf[n:].zero_()
                x = buf
            # cuDNN autotuning for the pose network only (padded sizes: once per size); fp32 is IEEE
            # fp32 (no TF32), fp16 leaves the precision setting alone.
            cuda = self.device.type == "cuda"
            with cudnn_scope(benchmark=True if cuda else None, ieee_fp32=True if cuda and not self.half else None):
                if self.half and not self._half_weights and self.device.type in ("cuda", "mps"):
                    with torch.autocast(self.device.type, dtype=torch.float16):
                        out = self.model(x)
                else:
                    out = self.model(x)
            if isinstance(out, (list, tuple)):
                out = out[-1]
            return out[:n].float()

    def _forward_chunk(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if not self.flip_test:
            return self._run_model(x).contiguous()
        with torch.inference_mode():
            both = torch.cat([x, x.flip(3)])
            if self.channels_last:
                both = both.contiguous(memory_format=torch.channels_last)
        out = self._run_model(both)
        with torch.inference_mode():
            output, flipped = out[:n], out[n:]
            flipped = flipped.flip(3)  # official flip_back: mirror, then swap left/right joints
            if self._flip_index is not None:
                flipped = flipped.index_select(1, self._flip_index)
            if self.shift_heatmap:  # "feature is not aligned, shift flipped heatmap for higher accuracy"
                flipped = flipped.clone()
                flipped[:, :, :, 1:] = flipped.clone()[:, :, :, 0:-1]
            return ((output + flipped) * 0.5).contiguous()

    def decode_heatmaps(
        self, heatmaps: torch.Tensor, centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Official ``get_final_preds`` (or DARK): ``preds`` (N, K, 2) float64 image pixels and
        ``maxvals`` (N, K, 1) float32."""
        from hrnet.core.inference import decode_heatmaps_torch

        with torch.inference_mode():
            return decode_heatmaps_torch(
                heatmaps, centers, scales, post_process=self.post_process, decode=self.decode, sigma=self.sigma
            )

    def rescore(self, maxvals: np.ndarray, box_scores: np.ndarray) -> np.ndarray:
        """Official COCO rescoring: ``box_score * mean(maxvals > TEST.IN_VIS_THRE)`` (the mean
        is 0 when no joint is above the threshold)."""
        mv = np.asarray(maxvals, dtype=np.float64).reshape(len(box_scores), -1)
        valid = mv > self.in_vis_thre
        count = valid.sum(axis=1)
        kpt_score = np.where(count > 0, (mv * valid).sum(axis=1) / np.maximum(count, 1), 0.0)
        return kpt_score * np.asarray(box_scores, dtype=np.float64)


def padded_batch_size(n: int, limit: int, max_sizes: int | None = None) -> int:
    """The fixed size a batch of ``n`` is padded to: the smallest power of two >= ``n``, or ``limit``
    itself (``limit`` need not be a power of two), so that only ~log2(limit) + 1 shapes ever run.
    ``max_sizes`` keeps only the largest that many sizes (torch.compile recompiles per size).
    ``n >= limit`` is returned unchanged."""
    if n >= limit or n <= 0:
        return n
    sizes = [limit]
    p = 1 << ((limit - 1).bit_length() - 1)  # the largest power of two below limit
    while p >= 1:
        sizes.append(p)
        p >>= 1
    sizes.sort()
    if max_sizes is not None:
        sizes = sizes[-max(1, int(max_sizes)):]
    return next(s for s in sizes if s >= n)


def _as_boxes(boxes: Any) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4), np.float64)
    if b.ndim == 1 and b.shape[0] == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be an (N, 4) array of x1, y1, x2, y2; got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("boxes contain NaN or infinite values")
    return b


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (HxWx3 uint8 BGR), not {type(image).__name__}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be HxWx3 (BGR), got shape {image.shape}")
    if image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    return image
