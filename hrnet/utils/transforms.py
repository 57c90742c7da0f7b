"""Geometry of the top-down pipeline: box -> (center, scale), the affine crop, flipping, and
mapping heatmap coordinates back to the image.

Numerically faithful to the official ``lib/utils/transforms.py`` and ``COCODataset._xywh2cs``:
the scalar functions perform the same floating-point operations in the same dtypes (the three
anchor points of the affine transform are rounded to float32 and solved by OpenCV, as the
official code does). The ``*_batch`` / vectorised variants process many boxes or joints at once
and agree with the scalar functions to floating-point rounding (~1e-12 px).

Conventions (as official): ``center`` is the box centre in image pixels, ``scale`` is the box
size divided by ``pixel_std`` (200), ``output_size`` is ``(width, height)``, a transform is a
2x3 float64 matrix mapping ``[x, y, 1]`` to the other frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "PIXEL_STD",
    "affine_transform",
    "affine_transform_points",
    "box_to_center_scale",
    "boxes_to_center_scale",
    "crop",
    "flip_back",
    "flip_permutation",
    "fliplr_joints",
    "get_3rd_point",
    "get_affine_transform",
    "get_affine_transforms",
    "get_dir",
    "transform_preds",
    "transform_preds_batch",
]

PIXEL_STD = 200.0
"""Official ``pixel_std``: ``scale`` is the box size in units of 200 pixels."""


def _to_numpy(x: Any) -> np.ndarray:
    """numpy view of ``x``; torch tensors are detached and moved to the CPU."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


# ----------------------------------------------------------------------------------------------
# Boxes -> center / scale
# ----------------------------------------------------------------------------------------------
def box_to_center_scale(
    box_xywh: Sequence[float] | np.ndarray,
    aspect_ratio: float,
    pixel_std: float = PIXEL_STD,
    padding: float = 1.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Official COCO ``_box2cs``: centre at ``(x + w/2, y + h/2)``, the box widened or heightened
    to ``aspect_ratio`` (= width / height of the network input), divided by ``pixel_std`` and
    padded by ``padding`` (skipped, as official, when the centre x is exactly -1).

    Returns ``(center, scale)``, both float32 arrays of shape (2,). The box is read as float64
    (the official code receives Python floats from the JSON).
    """
    b = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if b.size < 4:
        raise ValueError(f"box must have 4 values (x, y, w, h), got {b.size}")
    center, scale = boxes_to_center_scale(b[None, :4], aspect_ratio, pixel_std, padding)
    return center[0], scale[0]


def boxes_to_center_scale(
    boxes_xywh: np.ndarray | Sequence[Sequence[float]],
    aspect_ratio: float,
    pixel_std: float = PIXEL_STD,
    padding: float = 1.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`box_to_center_scale` for ``(N, 4)`` xywh boxes -> ``(N, 2)``, ``(N, 2)``
    float32 arrays, identical per row to the scalar function."""
    b = np.asarray(_to_numpy(boxes_xywh), dtype=np.float64)
    if b.ndim != 2 or b.shape[1] < 4:
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=1).astype(np.float32)
    ar = float(aspect_ratio)
    wider = w > ar * h
    taller = w < ar * h
    w_fixed = np.where(taller, h * ar, w)
    h_fixed = np.where(wider, w * 1.0 / ar, h)
    scale = np.stack([w_fixed * 1.0 / pixel_std, h_fixed * 1.0 / pixel_std], axis=1).astype(np.float32)
    pad = center[:, 0] != -1
    scale = np.where(pad[:, None], scale * np.float32(padding), scale).astype(np.float32)
    return center, scale


# ----------------------------------------------------------------------------------------------
# Affine transforms
# ----------------------------------------------------------------------------------------------
def get_dir(src_point: Sequence[float], rot_rad: float) -> list[float]:
    """Rotate the 2-vector ``src_point`` by ``rot_rad`` radians (counter-clockwise)."""
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return [src_point[0] * cs - src_point[1] * sn, src_point[0] * sn + src_point[1] * cs]


def get_3rd_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point ``b + R90(a - b)``: with ``a`` and ``b`` it fixes a unique affine transform."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def _scale_pair(scale: Any) -> np.ndarray:
    if isinstance(scale, (np.ndarray, list, tuple)) or hasattr(scale, "detach"):
        s = _to_numpy(scale)
        if s.ndim == 0:
            return np.array([s, s])
        return s
    return np.array([scale, scale])


def get_affine_transform(
    center: Sequence[float] | np.ndarray,
    scale: float | Sequence[float] | np.ndarray,
    rot: float,
    output_size: Sequence[float] | np.ndarray,
    shift: Sequence[float] | np.ndarray = (0, 0),
    inv: bool | int = False,
) -> np.ndarray:
    """2x3 transform from the image region ``(center, scale)`` rotated by ``rot`` degrees to an
    ``output_size`` = (width, height) crop (``inv=True``: the crop back to the image).

    As official: only the width of ``scale`` sets the zoom (the box has the crop's aspect ratio
    already); the anchor points are float32 and solved with ``cv2.getAffineTransform``.
    """
    center_a = _to_numpy(center)
    scale_a = _scale_pair(scale)
    shift_a = np.asarray(shift, dtype=np.float32)
    scale_px = scale_a * 200.0
    src_w = scale_px[0]
    dst_w = output_size[0]
    dst_h = output_size[1]

    rot_rad = np.pi * rot / 180
    src_dir = get_dir([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center_a + scale_px * shift_a
    src[1, :] = center_a + src_dir + scale_px * shift_a
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2:, :] = get_3rd_point(src[0, :], src[1, :])
    dst[2:, :] = get_3rd_point(dst[0, :], dst[1, :])

    if inv:
        return cv2.getAffineTransform(np.float32(dst), np.float32(src))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def _solve_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched ``cv2.getAffineTransform``: ``(N, 3, 2)`` point triples -> ``(N, 2, 3)`` float64."""
    n = src.shape[0]
    a = np.ones((n, 3, 3), dtype=np.float64)
    a[:, :, :2] = src
    # a @ M^T = dst  ->  M^T = solve(a, dst)
    mt = np.linalg.solve(a, dst.astype(np.float64))
    return np.ascontiguousarray(mt.transpose(0, 2, 1))


def get_affine_transforms(
    centers: np.ndarray,
    scales: np.ndarray,
    output_size: Sequence[float] | np.ndarray,
    rot: float | np.ndarray = 0.0,
    shift: Sequence[float] | np.ndarray = (0, 0),
    inv: bool = False,
    exact: bool = True,
) -> np.ndarray:
    """Vectorised :func:`get_affine_transform` for ``N`` boxes: ``centers`` (N, 2), ``scales``
    (N, 2) or (N,), ``rot`` scalar or (N,) degrees -> (N, 2, 3) float64.

    The anchor points are built at once with the same float32 rounding as the scalar function.
    ``exact=True`` then solves each box with ``cv2.getAffineTransform`` (~6 us a box; bit-identical
    to :func:`get_affine_transform`); ``exact=False`` solves all boxes in one batched
    ``np.linalg.solve`` (agreement ~1e-14 relative, which can move a float32 result by one ulp).
    """
    c = _to_numpy(centers)
    s = _to_numpy(scales)
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"centers must have shape (N, 2), got {c.shape}")
    if s.ndim == 1:
        s = np.stack([s, s], axis=1)
    n = c.shape[0]
    shift_a = np.asarray(shift, dtype=np.float32)
    scale_px = s * 200.0
    src_w = scale_px[:, 0]
    dst_w = float(output_size[0])
    dst_h = float(output_size[1])
    rot_rad = np.pi * np.broadcast_to(np.asarray(rot, dtype=np.float64), (n,)) / 180
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    half = src_w * -0.5
    src_dir = np.stack([0 * cs - half * sn, 0 * sn + half * cs], axis=1)

    src = np.zeros((n, 3, 2), dtype=np.float32)
    src[:, 0] = c + scale_px * shift_a
    src[:, 1] = c + src_dir + scale_px * shift_a
    d = src[:, 0] - src[:, 1]
    src[:, 2] = src[:, 1] + np.stack([-d[:, 1], d[:, 0]], axis=1)

    dst1 = np.zeros((3, 2), dtype=np.float32)
    dst1[0] = [dst_w * 0.5, dst_h * 0.5]
    dst1[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([0, dst_w * -0.5], np.float32)
    dst1[2] = get_3rd_point(dst1[0], dst1[1])
    dst = np.broadcast_to(dst1, (n, 3, 2))
    if n == 0:
        return np.zeros((0, 2, 3), dtype=np.float64)
    a, b = (dst, src) if inv else (src, dst)
    if not exact:
        return _solve_affine(a, b)
    out = np.empty((n, 2, 3), dtype=np.float64)
    for i in range(n):
        out[i] = cv2.getAffineTransform(np.ascontiguousarray(a[i]), np.ascontiguousarray(b[i]))
    return out


def affine_transform(pt: Sequence[float] | np.ndarray, t: np.ndarray) -> np.ndarray:
    """Apply the 2x3 transform ``t`` to one point; returns a float64 array of shape (2,)."""
    new_pt = np.array([pt[0], pt[1], 1.0])
    return np.dot(t, new_pt)[:2]


def affine_transform_points(pts: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Apply 2x3 transform(s) to many points: ``pts`` (..., P, 2) with ``t`` (2, 3) or, batched,
    ``t`` (N, 2, 3) with ``pts`` (N, P, 2). Returns float64 (..., P, 2)."""
    p = np.asarray(_to_numpy(pts), dtype=np.float64)[..., :2]
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 2:
        return p[..., 0:1] * t[:, 0] + p[..., 1:2] * t[:, 1] + t[:, 2]
    return p[..., 0:1] * t[:, None, :, 0] + p[..., 1:2] * t[:, None, :, 1] + t[:, None, :, 2]


def transform_preds(
    coords: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: float | Sequence[float] | np.ndarray,
    output_size: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Map ``(K, >=2)`` heatmap coordinates of one box back to the image (official semantics:
    float64 result of ``coords``' shape, columns beyond x, y are zero)."""
    c = _to_numpy(coords)
    out = np.zeros(c.shape)
    trans = get_affine_transform(center, scale, 0, output_size, inv=True)
    out[..., 0:2] = affine_transform_points(c[..., 0:2], trans)
    return out


def transform_preds_batch(
    coords: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    output_size: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Vectorised :func:`transform_preds` for ``coords`` (N, K, >=2) and N boxes."""
    c = _to_numpy(coords)
    out = np.zeros(c.shape)
    if c.shape[0] == 0:
        return out
    trans = get_affine_transforms(centers, scales, output_size, inv=True)
    out[..., 0:2] = affine_transform_points(c[..., 0:2], trans)
    return out


def crop(
    img: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: float | Sequence[float] | np.ndarray,
    output_size: Sequence[int],
    rot: float = 0,
) -> np.ndarray:
    """Warp the region ``(center, scale)`` of ``img`` rotated by ``rot`` into an
    ``output_size`` = (width, height) image with bilinear interpolation."""
    trans = get_affine_transform(center, scale, rot, output_size)
    return cv2.warpAffine(img, trans, (int(output_size[0]), int(output_size[1])), flags=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------------------------
# Flipping
# ----------------------------------------------------------------------------------------------
def flip_permutation(num_joints: int, flip_pairs: Sequence[Sequence[int]]) -> np.ndarray:
    """Joint permutation that swaps every ``(left, right)`` pair (applied in order, as the
    official loops do): ``flipped[:, perm]`` equals swapping the pairs one after another."""
    perm = np.arange(num_joints)
    for a, b in flip_pairs:
        perm[a], perm[b] = perm[b], perm[a]
    return perm


def flip_back(output_flipped: Any, flip_pairs: Sequence[Sequence[int]]) -> Any:
    """Heatmaps predicted on a horizontally flipped input, ``(N, K, H, W)``, mirrored back and
    with left/right joints swapped. numpy in -> new numpy array (the input is not modified,
    unlike the official code); a torch tensor in -> torch tensor (same device)."""
    if output_flipped.ndim != 4:
        raise ValueError("output_flipped should be [batch_size, num_joints, height, width]")
    perm = flip_permutation(output_flipped.shape[1], flip_pairs)
    if hasattr(output_flipped, "detach"):
        import torch

        index = torch.as_tensor(perm, device=output_flipped.device)
        return output_flipped.flip(3).index_select(1, index)
    return np.ascontiguousarray(np.asarray(output_flipped)[:, perm, :, ::-1])


def fliplr_joints(
    joints: np.ndarray,
    joints_vis: np.ndarray,
    width: float,
    matched_parts: Sequence[Sequence[int]],
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror ``(K, 3)`` joints of an image ``width`` pixels wide (``x -> width - x - 1``), swap
    the left/right pairs and return ``(joints * joints_vis, joints_vis)`` as official. The inputs
    are not modified."""
    j = np.array(joints, copy=True)
    v = np.array(joints_vis, copy=True)
    j[:, 0] = width - j[:, 0] - 1
    perm = flip_permutation(j.shape[0], matched_parts)
    j = j[perm]
    v = v[perm]
    return j * v, v
