"""Training targets: one unnormalised Gaussian heatmap per joint, and per-joint target weights.

Faithful to the official ``JointsDataset.generate_target`` (target type 'gaussian'): the peak
sits on the nearest heatmap pixel (``int(x / stride + 0.5)``, truncated as official), the
Gaussian is drawn inside a ``3*sigma`` window, a joint whose window lies entirely outside the
heatmap gets weight 0, invisible joints get an empty map, and per-joint weights (official
``use_different_joints_weight``) multiply the weights when given. Vectorised over joints: the
maps are gathered from the same float32 Gaussian patch the official code slices, so the values
are bit-identical.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["gaussian_patch", "generate_target"]


def gaussian_patch(sigma: float) -> np.ndarray:
    """The official unnormalised float32 Gaussian patch of side ``2 * 3 * sigma + 1`` (centre 1)."""
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, np.newaxis]
    x0 = y0 = size // 2
    return np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))


def generate_target(
    joints: np.ndarray,
    joints_vis: np.ndarray,
    image_size: Sequence[int] | np.ndarray,
    heatmap_size: Sequence[int] | np.ndarray,
    sigma: float,
    joints_weight: np.ndarray | Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps for ``joints`` (K, >=2) in input-image pixels.

    ``joints_vis`` (K, >=1): the first column is the visibility (> 0.5 draws the map, and it is
    the initial target weight). ``image_size`` and ``heatmap_size`` are (width, height).
    Returns ``target`` (K, H, W) float32 and ``target_weight`` (K, 1) float32 (times
    ``joints_weight`` (K,) or (K, 1) when given).
    """
    joints = np.asarray(joints)
    vis = np.asarray(joints_vis)
    num_joints = joints.shape[0]
    hm_w, hm_h = int(heatmap_size[0]), int(heatmap_size[1])

    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = vis[:, 0] if vis.ndim == 2 else vis.reshape(num_joints)
    target = np.zeros((num_joints, hm_h, hm_w), dtype=np.float32)

    if num_joints:
        tmp_size = sigma * 3
        feat_stride = np.asarray(image_size) / np.asarray(heatmap_size)
        # int() in the official code truncates towards zero
        mu_x = np.trunc(joints[:, 0] / feat_stride[0] + 0.5)
        mu_y = np.trunc(joints[:, 1] / feat_stride[1] + 0.5)
        ul_x = np.trunc(mu_x - tmp_size).astype(np.int64)
        ul_y = np.trunc(mu_y - tmp_size).astype(np.int64)
        br_x = np.trunc(mu_x + tmp_size + 1).astype(np.int64)
        br_y = np.trunc(mu_y + tmp_size + 1).astype(np.int64)
        outside = (ul_x >= hm_w) | (ul_y >= hm_h) | (br_x < 0) | (br_y < 0)
        target_weight[outside] = 0

        draw = (~outside) & (target_weight[:, 0] > 0.5)
        if draw.any():
            g = gaussian_patch(sigma)
            gs_y, gs_x = g.shape
            j = np.nonzero(draw)[0]
            # heatmap column/row -> patch column/row, valid where inside [ul, br) and the patch
            gx = np.arange(hm_w)[None, :] - ul_x[j, None]
            gy = np.arange(hm_h)[None, :] - ul_y[j, None]
            ok_x = (gx >= 0) & (gx < gs_x) & (np.arange(hm_w)[None, :] < br_x[j, None])
            ok_y = (gy >= 0) & (gy < gs_y) & (np.arange(hm_h)[None, :] < br_y[j, None])
            vals = g[np.clip(gy, 0, gs_y - 1)[:, :, None], np.clip(gx, 0, gs_x - 1)[:, None, :]]
            mask = ok_y[:, :, None] & ok_x[:, None, :]
            target[j] = np.where(mask, vals, np.float32(0))

    if joints_weight is not None:
        target_weight = np.multiply(target_weight, np.asarray(joints_weight).reshape(num_joints, 1))
    return target, target_weight
