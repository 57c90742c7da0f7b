"""The Predictor's pipeline: crops -> network -> heatmaps -> keypoints, in batches.

:class:`PosePipeline` holds the three stages (``preprocess``, ``forward``, ``decode_heatmaps``)
and the public calls built on them (``predict``, ``predict_batch``, ``predict_image``). It runs
whatever network ``self.model`` is (torch, or ONNX Runtime for int8: :mod:`hrnet.quantize`); the
state it reads is set up by :class:`hrnet.predictor.Predictor`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.predictor.inputs import _as_boxes, _check_image
from hrnet.predictor.results import PoseResult
from hrnet.utils.device import cudnn_scope, is_out_of_memory, release_memory

__all__ = ["PosePipeline", "padded_batch_size"]

log = logging.getLogger(__name__)


class PosePipeline:
    """Batched top-down inference over ``self.model`` (see the module docstring)."""

    cfg: CfgNode
    model: nn.Module
    device: torch.device
    image_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    aspect_ratio: float
    batch_size: int
    flip_test: bool
    shift_heatmap: bool
    post_process: bool
    decode: str
    sigma: float
    in_vis_thre: float
    color_rgb: bool
    half: bool
    channels_last: bool
    pad_batches: bool
    compiled: bool
    timings: dict[str, float]
    _half_weights: bool
    _flip_index: torch.Tensor | None
    _mean: torch.Tensor
    _std: torch.Tensor
    _lock: threading.Lock

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

