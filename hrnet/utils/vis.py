"""Drawing poses and training debug images with OpenCV (BGR images, no Qt).

- :func:`draw_poses`: skeletons and joints of many people onto a BGR image, limbs coloured by body
  side (COCO colours by default), joints below a confidence threshold hidden, optional scores.
  Used by ``hrnet-predict --render``.
- :func:`save_batch_image_with_joints`, :func:`save_batch_heatmaps`, :func:`save_debug_images`:
  the official training/validation debug images (a grid of input crops with joints; per-joint
  heatmap overlays), written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hrnet.keypoints import CENTRE, COCO_KEYPOINTS, COCO_SKELETON, side_of
from hrnet.utils.io import atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "CENTER_COLOR",
    "COCO_KEYPOINT_NAMES",
    "COCO_SKELETON",
    "LEFT_COLOR",
    "RIGHT_COLOR",
    "draw_poses",
    "joint_colors_for",
    "limb_colors_for",
    "save_batch_heatmaps",
    "save_batch_image_with_joints",
    "save_debug_images",
    "skeleton_from_coco",
]

COCO_KEYPOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS
# COCO_SKELETON (0-based) comes from hrnet.keypoints, the one place that defines it.

# BGR. The usual COCO colouring: left limbs green, right limbs orange, centre line blue.
LEFT_COLOR: tuple[int, int, int] = (0, 255, 0)
RIGHT_COLOR: tuple[int, int, int] = (0, 128, 255)
CENTER_COLOR: tuple[int, int, int] = (255, 153, 51)

_PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 153, 51), (0, 255, 0), (0, 128, 255), (255, 51, 255), (51, 255, 255),
    (255, 255, 0), (128, 0, 255), (0, 204, 102), (102, 102, 255), (255, 102, 178),
)  # fmt: skip

Color = tuple[int, int, int]


def skeleton_from_coco(skeleton: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """0-based limb pairs from a COCO category's 1-based ``skeleton``."""
    return [(int(a) - 1, int(b) - 1) for a, b in skeleton]


def _side(name: str) -> str:
    side = side_of(name)  # the one left/right rule
    return "center" if side == CENTRE else side


def joint_colors_for(num_joints: int, keypoint_names: Sequence[str] | None = None) -> list[Color]:
    """A colour per joint by body side (names with ``left``/``right``); COCO names by default for
    17 joints, otherwise a cycling palette."""
    if keypoint_names is None and num_joints == len(COCO_KEYPOINT_NAMES):
        keypoint_names = COCO_KEYPOINT_NAMES
    if keypoint_names is None or len(keypoint_names) != num_joints:
        return [_PALETTE[i % len(_PALETTE)] for i in range(num_joints)]
    by_side = {"left": LEFT_COLOR, "right": RIGHT_COLOR, "center": CENTER_COLOR}
    return [by_side[_side(n)] for n in keypoint_names]


def limb_colors_for(
    skeleton: Sequence[Sequence[int]], num_joints: int, keypoint_names: Sequence[str] | None = None
) -> list[Color]:
    """A colour per limb: the side's colour where both ends are on the same side, the centre
    colour otherwise (COCO names by default for 17 joints; a cycling palette without names)."""
    if keypoint_names is None and num_joints == len(COCO_KEYPOINT_NAMES):
        keypoint_names = COCO_KEYPOINT_NAMES
    if keypoint_names is None or len(keypoint_names) != num_joints:
        return [_PALETTE[i % len(_PALETTE)] for i in range(len(skeleton))]
    joint_colors = joint_colors_for(num_joints, keypoint_names)
    out = []
    for a, b in skeleton:
        out.append(joint_colors[a] if _side(keypoint_names[a]) == _side(keypoint_names[b]) else CENTER_COLOR)
    return out


def _as_bgr(image: np.ndarray, copy: bool) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected a BGR image (H, W, 3), got shape {img.shape}")
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if copy or not img.flags.c_contiguous or not img.flags.writeable:
        return np.array(img, copy=True, order="C")
    return img


def _point(x: float, y: float, limit: float) -> tuple[int, int] | None:
    if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > limit or abs(y) > limit:
        return None
    return int(round(x)), int(round(y))


def draw_poses(
    image: np.ndarray,
    keypoints_list: Sequence[np.ndarray] | np.ndarray,
    skeleton: Sequence[Sequence[int]] | None = COCO_SKELETON,
    *,
    kpt_thr: float = 0.3,
    keypoint_names: Sequence[str] | None = None,
    limb_colors: Sequence[Color] | None = None,
    joint_colors: Sequence[Color] | None = None,
    radius: int | None = None,
    thickness: int | None = None,
    show_scores: bool = False,
    scores: Sequence[float] | None = None,
    boxes_xyxy: np.ndarray | Sequence[Sequence[float]] | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Draw people onto a BGR uint8 image and return it (a copy unless ``copy=False``).

    ``keypoints_list``: per person a (K, 3) array of x, y, confidence (or (K, 2): all shown), or
    one (N, K, 3) array. A joint is drawn when its confidence is >= ``kpt_thr``, a limb
    ``(a, b)`` of the 0-based ``skeleton`` when both ends are (COCO skeleton by default; use
    :func:`skeleton_from_coco` for a category's 1-based one, ``None`` for joints only). Joint
    dots are outlined in white, filled in their side's colour and sized by confidence.
    ``show_scores`` writes each joint's confidence next to it; ``scores`` writes a per-person
    score at the top-left of its box (``boxes_xyxy``) or of its joints; ``boxes_xyxy`` are drawn.
    """
    img = _as_bgr(image, copy)
    h, w = img.shape[:2]
    size = max(h, w)
    r = radius if radius is not None else max(2, int(round(size / 200)))
    t = thickness if thickness is not None else max(1, int(round(size / 300)))
    limit = 16.0 * size + 1e4
    people = [np.asarray(k, dtype=np.float64) for k in keypoints_list]
    limbs = [] if skeleton is None else [(int(a), int(b)) for a, b in skeleton]
    font = cv2.FONT_HERSHEY_SIMPLEX
    font_scale = max(0.3, size / 1500)

    for n, kpts in enumerate(people):
        if kpts.ndim != 2 or kpts.shape[1] < 2:
            raise ValueError(f"person {n}: keypoints must have shape (K, 2) or (K, 3), got {kpts.shape}")
        k = kpts.shape[0]
        conf = kpts[:, 2] if kpts.shape[1] > 2 else np.ones(k)
        shown = np.isfinite(conf) & (conf >= kpt_thr)
        jc = list(joint_colors) if joint_colors is not None else joint_colors_for(k, keypoint_names)
        lc = list(limb_colors) if limb_colors is not None else limb_colors_for(limbs, k, keypoint_names)
        pts = [_point(kpts[i, 0], kpts[i, 1], limit) for i in range(k)]

        if boxes_xyxy is not None:
            x1, y1, x2, y2 = (float(v) for v in np.asarray(boxes_xyxy, dtype=np.float64)[n][:4])
            p1, p2 = _point(x1, y1, limit), _point(x2, y2, limit)
            if p1 and p2:
                cv2.rectangle(img, p1, p2, (255, 255, 255), t, cv2.LINE_AA)

        for li, (a, b) in enumerate(limbs):
            if not (0 <= a < k and 0 <= b < k) or not (shown[a] and shown[b]):
                continue
            pa, pb = pts[a], pts[b]
            if pa is None or pb is None:
                continue
            cv2.line(img, pa, pb, lc[li % len(lc)], t + 1, cv2.LINE_AA)

        for i in range(k):
            p = pts[i]
            if not shown[i] or p is None:
                continue
            c = float(np.clip(conf[i], 0.0, 1.0)) if kpts.shape[1] > 2 else 1.0
            rr = max(1, int(round(r * (0.6 + 0.4 * c))))
            cv2.circle(img, p, rr + 1, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(img, p, rr, jc[i % len(jc)], -1, cv2.LINE_AA)
            if show_scores and kpts.shape[1] > 2:
                cv2.putText(
                    img,
                    f"{conf[i]:.2f}",
                    (p[0] + rr + 2, p[1] - rr),
                    font,
                    font_scale * 0.8,
                    (255, 255, 255),
                    1,
                    cv2.LINE_AA,
                )

        if scores is not None and n < len(scores):
            if boxes_xyxy is not None:
                anchor = _point(float(np.asarray(boxes_xyxy)[n][0]), float(np.asarray(boxes_xyxy)[n][1]), limit)
            else:
                vis = [pts[i] for i in range(k) if shown[i] and pts[i] is not None]
                anchor = (min(p[0] for p in vis), min(p[1] for p in vis)) if vis else None
            if anchor is not None:
                cv2.putText(
                    img,
                    f"{float(scores[n]):.2f}",
                    (anchor[0], max(anchor[1] - 4, 10)),
                    font,
                    font_scale,
                    (255, 255, 255),
                    1,
                    cv2.LINE_AA,
                )
    return img


# ----------------------------------------------------------------------------------------------
# Training debug images (official save_debug_images family)
# ----------------------------------------------------------------------------------------------
def _imwrite_atomic(path: str | os.PathLike[str], image: np.ndarray) -> None:
    path = Path(path)
    ext = path.suffix or ".jpg"
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise OSError(f"cannot encode image as {ext!r} for {path}")
    atomic_write_bytes(path, buf.tobytes(), mkdir=True)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _images_to_uint8(batch_image: Any, rgb: bool) -> np.ndarray:
    """(N, 3, H, W) normalised float tensor/array -> (N, H, W, 3) BGR uint8, min-max scaled over
    the batch (as the official ``make_grid(normalize=True)``)."""
    x = _to_numpy(batch_image).astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / max(hi - lo, 1e-5)
    out = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    if rgb:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


def save_batch_image_with_joints(
    batch_image: Any,
    batch_joints: Any,
    batch_joints_vis: Any,
    file_name: str | os.PathLike[str],
    nrow: int = 8,
    padding: int = 2,
    rgb: bool = True,
) -> np.ndarray:
    """Grid of the input crops (``nrow`` per row) with the visible joints (in input pixels) as
    dots; written to ``file_name`` and returned (BGR). ``rgb``: the crops are RGB (official
    ``DATASET.COLOR_RGB``)."""
    imgs = _images_to_uint8(batch_image, rgb)
    joints = _to_numpy(batch_joints)
    vis = _to_numpy(batch_joints_vis)
    n, h, w = imgs.shape[:3]
    cols = max(1, min(nrow, n))
    rows = int(math.ceil(n / cols)) if n else 1
    grid = np.zeros((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), np.uint8)
    for i in range(n):
        y0 = (i // cols) * (h + padding) + padding
        x0 = (i % cols) * (w + padding) + padding
        grid[y0 : y0 + h, x0 : x0 + w] = imgs[i]
        for j in range(joints.shape[1]):
            if vis[i, j, 0] and np.isfinite(joints[i, j, :2]).all():
                cv2.circle(grid, (int(x0 + joints[i, j, 0]), int(y0 + joints[i, j, 1])), 2, (0, 0, 255), 2)
    _imwrite_atomic(file_name, grid)
    return grid


def save_batch_heatmaps(
    batch_image: Any,
    batch_heatmaps: Any,
    file_name: str | os.PathLike[str],
    normalize: bool = True,
    rgb: bool = True,
) -> np.ndarray:
    """One row per sample: the crop resized to the heatmap size, then each joint's heatmap
    (JET colours, 70 %) over the crop (30 %) with its arg-max marked; written and returned."""
    from hrnet.core.inference import get_max_preds

    hms = _to_numpy(batch_heatmaps).astype(np.float32)
    n, k, hh, hw = hms.shape
    if normalize:
        imgs = _images_to_uint8(batch_image, rgb)
    else:
        x = _to_numpy(batch_image).astype(np.float32)
        imgs = np.clip(x * 255, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        imgs = np.ascontiguousarray(imgs[..., ::-1] if rgb else imgs)
    preds, _ = get_max_preds(hms)
    maps = np.clip(hms * 255, 0, 255).astype(np.uint8)
    grid = np.zeros((n * hh, (k + 1) * hw, 3), np.uint8)
    for i in range(n):
        small = cv2.resize(imgs[i], (hw, hh))
        for j in range(k):
            colored = cv2.applyColorMap(maps[i, j], cv2.COLORMAP_JET)
            blended = (colored * 0.7 + small * 0.3).astype(np.uint8)
            cv2.circle(blended, (int(preds[i, j, 0]), int(preds[i, j, 1])), 1, (0, 0, 255), 1)
            grid[i * hh : (i + 1) * hh, (j + 1) * hw : (j + 2) * hw] = blended
        for j in range(k):
            cv2.circle(small, (int(preds[i, j, 0]), int(preds[i, j, 1])), 1, (0, 0, 255), 1)
        grid[i * hh : (i + 1) * hh, 0:hw] = small
    _imwrite_atomic(file_name, grid)
    return grid


def save_debug_images(
    prefix: str | os.PathLike[str],
    input: Any,
    meta: dict[str, Any],
    target: Any,
    joints_pred: Any,
    output: Any,
    *,
    gt: bool = True,
    pred: bool = True,
    heatmaps_gt: bool = True,
    heatmaps_pred: bool = True,
    rgb: bool = True,
) -> None:
    """The official debug set ``{prefix}_gt.jpg``, ``_pred.jpg``, ``_hm_gt.jpg``,
    ``_hm_pred.jpg`` (the flags are the config's ``DEBUG.SAVE_*``). ``joints_pred`` are in input
    pixels (heatmap arg-max times the stride), ``meta`` has ``joints`` and ``joints_vis``."""
    prefix = str(prefix)
    if gt:
        save_batch_image_with_joints(input, meta["joints"], meta["joints_vis"], f"{prefix}_gt.jpg", rgb=rgb)
    if pred:
        save_batch_image_with_joints(input, joints_pred, meta["joints_vis"], f"{prefix}_pred.jpg", rgb=rgb)
    if heatmaps_gt:
        save_batch_heatmaps(input, target, f"{prefix}_hm_gt.jpg", rgb=rgb)
    if heatmaps_pred:
        save_batch_heatmaps(input, output, f"{prefix}_hm_pred.jpg", rgb=rgb)
