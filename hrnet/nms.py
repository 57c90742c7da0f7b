"""Pose non-maximum suppression by object keypoint similarity (OKS), and keypoint rescoring.

Same semantics as the official ``lib/nms/nms.py`` (greedy OKS NMS, Gaussian soft OKS NMS with
its 20-detection cap) and the OKS rescoring of ``COCODataset.evaluate``; the OKS of one pose
against all remaining poses is computed in one numpy expression instead of a Python loop over
poses. Box NMS is :func:`torchvision.ops.nms` (see :func:`box_nms`).

``kpts_db`` is a list of dicts with ``'keypoints'`` (K, 3) x, y, score, ``'score'`` and
``'area'`` (the box area, ``scale[0] * scale[1] * 200**2`` in the official pipeline). NMS
functions return the kept indices into ``kpts_db``, highest score first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hrnet.keypoints import COCO_SIGMAS as _COCO_SIGMAS

logger = logging.getLogger(__name__)

__all__ = [
    "COCO_SIGMAS",
    "box_nms",
    "oks_iou",
    "oks_matrix",
    "oks_nms",
    "rescore",
    "rescore_by_keypoints",
    "soft_oks_nms",
]

COCO_SIGMAS = np.array(_COCO_SIGMAS)
"""Per-keypoint OKS falloff of the 17 COCO keypoints (pycocotools' ``kpt_oks_sigmas``)."""


def _variances(sigmas: np.ndarray | Sequence[float] | None, num_joints: int) -> np.ndarray:
    s = COCO_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    if s.shape != (num_joints,):
        raise ValueError(
            f"OKS needs one sigma per keypoint: {num_joints} keypoints but sigmas of shape {s.shape}"
            + (" (the default sigmas are COCO's 17; pass sigmas for other keypoint sets)" if sigmas is None else "")
        )
    return (s * 2) ** 2


def oks_iou(
    g: np.ndarray,
    d: np.ndarray,
    a_g: float,
    a_d: np.ndarray,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
) -> np.ndarray:
    """OKS between one pose ``g`` (flat ``3K`` x, y, v) and poses ``d`` (M, 3K), with areas
    ``a_g`` and ``a_d`` (M,). With ``in_vis_thre`` only keypoints of ``d`` whose score exceeds it
    count (the official expression ``list(vg > t) and list(vd > t)`` evaluates to the ``d`` mask);
    a pose with none gets 0. Returns (M,) float64."""
    # keypoints keep their dtype: with float32 keypoints the differences are float32, as official
    g = np.asarray(g).reshape(-1)
    d = np.asarray(d).reshape(-1, g.shape[0])
    a_d = np.asarray(a_d).reshape(-1)
    variances = _variances(sigmas, g.shape[0] // 3)
    dx = d[:, 0::3] - g[0::3]
    dy = d[:, 1::3] - g[1::3]
    e = (dx**2 + dy**2) / variances / ((a_g + a_d[:, None]) / 2 + np.spacing(1)) / 2
    if in_vis_thre is None:
        return np.sum(np.exp(-e), axis=1) / e.shape[1] if e.shape[1] else np.zeros(d.shape[0])
    mask = d[:, 2::3] > in_vis_thre
    count = mask.sum(axis=1)
    total = np.sum(np.where(mask, np.exp(-e), 0.0), axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def oks_matrix(
    keypoints: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
) -> np.ndarray:
    """All-pairs OKS: ``keypoints`` (N, K, 3), ``areas`` (N,) -> (N, N) with ``[i, j] =
    oks_iou(keypoints[i], keypoints[j:j+1], ...)``."""
    k = np.asarray(keypoints)
    n = k.shape[0]
    flat = k.reshape(n, -1)
    a = np.asarray(areas).reshape(n)
    return np.stack([oks_iou(flat[i], flat, a[i], a, sigmas, in_vis_thre) for i in range(n)]) if n else np.zeros((0, 0))


_MATRIX_MAX = 256
"""Up to this many poses, OKS NMS computes the all-pairs OKS matrix in one go."""


def _oks_rows(
    kpts: np.ndarray, areas: np.ndarray, sigmas: np.ndarray | Sequence[float] | None, in_vis_thre: float | None
) -> np.ndarray:
    """(N, N) matrix whose row i is ``oks_iou(kpts[i], kpts, areas[i], areas)`` (flat (N, 3K) kpts)."""
    n = kpts.shape[0]
    variances = _variances(sigmas, kpts.shape[1] // 3)
    dx = kpts[None, :, 0::3] - kpts[:, None, 0::3]
    dy = kpts[None, :, 1::3] - kpts[:, None, 1::3]
    e = (dx**2 + dy**2) / variances / ((areas[:, None, None] + areas[None, :, None]) / 2 + np.spacing(1)) / 2
    if in_vis_thre is None:
        return np.sum(np.exp(-e), axis=2) / e.shape[2] if e.shape[2] else np.zeros((n, n))
    mask = np.broadcast_to(kpts[None, :, 2::3] > in_vis_thre, e.shape)
    count = mask.sum(axis=2)
    total = np.sum(np.where(mask, np.exp(-e), 0.0), axis=2)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _unpack(kpts_db: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.array([p["score"] for p in kpts_db])
    kpts = np.array([np.asarray(p["keypoints"]).flatten() for p in kpts_db])
    areas = np.array([p["area"] for p in kpts_db])
    return scores, kpts, areas


def oks_nms(
    kpts_db: Sequence[Mapping[str, Any]],
    thresh: float,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
) -> list[int]:
    """Greedy OKS NMS: repeatedly keep the highest-scoring pose and drop the remaining poses
    whose OKS with it exceeds ``thresh``. Returns kept indices (highest score first)."""
    if len(kpts_db) == 0:
        return []
    scores, kpts, areas = _unpack(kpts_db)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    if len(order) <= _MATRIX_MAX:
        # all pairs at once (the same element-wise operations and row sums as one row at a time),
        # then the greedy pass: a pose is kept unless a kept, higher-scoring pose overlaps it
        ovr = _oks_rows(kpts, areas, sigmas, in_vis_thre)
        suppressed = np.zeros(len(order), dtype=bool)
        for i in order.tolist():
            if suppressed[i]:
                continue
            keep.append(i)
            suppressed |= ~(ovr[i] <= thresh)
        return keep
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        if rest.size == 0:
            break
        ovr = oks_iou(kpts[i], kpts[rest], areas[i], areas[rest], sigmas, in_vis_thre)
        order = rest[ovr <= thresh]
    return keep


def rescore(overlap: np.ndarray, scores: np.ndarray, thresh: float, type: str = "gaussian") -> np.ndarray:
    """Soft-NMS score decay: Gaussian ``s * exp(-oks^2 / thresh)`` or linear ``s * (1 - oks)``
    for overlaps >= ``thresh``. Returns new scores."""
    if overlap.shape[0] != scores.shape[0]:
        raise ValueError("overlap and scores must have the same length")
    if type == "linear":
        out = np.array(scores, copy=True)
        hit = overlap >= thresh
        out[hit] = out[hit] * (1 - overlap[hit])
        return out
    return scores * np.exp(-(overlap**2) / thresh)


def soft_oks_nms(
    kpts_db: Sequence[Mapping[str, Any]],
    thresh: float,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
    max_dets: int = 20,
) -> np.ndarray:
    """Soft OKS NMS (Gaussian decay of the remaining scores by their OKS with each kept pose),
    at most ``max_dets`` poses kept (20, as the official code hard-codes). Returns kept indices
    (np.intp array) in selection order."""
    if len(kpts_db) == 0:
        return np.zeros(0, dtype=np.intp)
    scores, kpts, areas = _unpack(kpts_db)
    order = scores.argsort()[::-1]
    scores = scores[order]
    keep: list[int] = []
    while order.size > 0 and len(keep) < max_dets:
        i = order[0]
        rest = order[1:]
        ovr = oks_iou(kpts[i], kpts[rest], areas[i], areas[rest], sigmas, in_vis_thre)
        scores = rescore(ovr, scores[1:], thresh)
        tmp = scores.argsort()[::-1]
        order = rest[tmp]
        scores = scores[tmp]
        keep.append(int(i))
    return np.array(keep, dtype=np.intp)


def rescore_by_keypoints(
    keypoints: np.ndarray, box_scores: np.ndarray | Sequence[float], in_vis_thre: float
) -> np.ndarray:
    """Official COCO rescoring before NMS: box score times the mean keypoint score over the
    keypoints scoring above ``in_vis_thre`` (0 where none does). ``keypoints`` (N, K, 3) ->
    (N,) scores. The keypoint scores are summed in their own dtype, in joint order, as the
    official loop does."""
    k = np.asarray(keypoints)
    s = k[..., 2]
    valid = s > in_vis_thre
    if s.shape[1] == 0:
        return np.zeros(len(k)) * np.asarray(box_scores)
    # cumsum is sequential, as the official loop; skipped joints add an exact 0
    total = np.cumsum(np.where(valid, s, np.zeros((), dtype=s.dtype)), axis=1)[:, -1]
    count = valid.sum(axis=1)
    # the official loop divides a numpy scalar by a Python int: the division stays in that dtype
    mean = np.where(count > 0, total / np.maximum(count, 1).astype(total.dtype), 0).astype(total.dtype)
    return mean * np.asarray(box_scores)


def box_nms(boxes_xyxy: Any, scores: Any, iou_threshold: float) -> np.ndarray:
    """Plain box NMS (``torchvision.ops.nms``): kept indices, highest score first."""
    import torch
    from torchvision.ops import nms

    b = torch.as_tensor(np.asarray(boxes_xyxy, dtype=np.float32)).reshape(-1, 4)
    s = torch.as_tensor(np.asarray(scores, dtype=np.float32)).reshape(-1)
    return nms(b, s, float(iou_threshold)).numpy()
