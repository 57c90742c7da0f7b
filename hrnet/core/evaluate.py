"""Accuracy metrics.

- :func:`accuracy`: the official training-time PCK on heatmaps (arg-max of prediction and target
  heatmaps, distances normalised by a tenth of the heatmap size, threshold 0.5), vectorised.
- :func:`mpii_pckh`: MPII PCKh (head-normalised PCK) per joint group and mean, as the official
  ``MPIIDataset.evaluate`` computes it from the ``gt_*.mat`` arrays.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from hrnet.core.inference import get_max_preds

logger = logging.getLogger(__name__)

__all__ = ["MPII_JOINT_NAMES", "accuracy", "calc_dists", "dist_acc", "mpii_pckh"]


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def calc_dists(preds: np.ndarray, target: np.ndarray, normalize: np.ndarray) -> np.ndarray:
    """Normalised distances (K, N) between ``preds`` and ``target`` (N, K, 2); -1 where the
    target is not strictly beyond (1, 1) (official convention for "no target")."""
    p = np.asarray(preds).astype(np.float32)
    t = np.asarray(target).astype(np.float32)
    norm = np.asarray(normalize)[:, None, :]
    valid = (t[..., 0] > 1) & (t[..., 1] > 1)
    d = (p / norm - t / norm)[..., None]
    # row-wise dot through matmul: the same BLAS kernel as the official np.linalg.norm of a 2-vector
    dists = np.sqrt((np.swapaxes(d, -1, -2) @ d)[..., 0, 0])
    return np.where(valid, dists, -1.0).T.astype(np.float64)


def dist_acc(dists: np.ndarray, thr: float = 0.5) -> float:
    """Fraction of distances below ``thr``, ignoring -1 entries; -1 if there are none."""
    d = np.asarray(dists)
    valid = d != -1
    n = valid.sum()
    if n > 0:
        return np.less(d[valid], thr).sum() * 1.0 / n
    return -1


def accuracy(
    output: Any, target: Any, hm_type: str = "gaussian", thr: float = 0.5
) -> tuple[np.ndarray, float, int, np.ndarray]:
    """Official heatmap PCK: ``acc`` (K + 1,) with the average of the valid joints at index 0
    and each joint's accuracy (-1 when it has no valid target) after it; ``avg_acc``; ``cnt``, the
    number of joints with a valid target; ``pred`` (N, K, 2), the arg-max of ``output``.

    ``thr`` is honoured; the official function accepts it but always uses 0.5 (its ``dist_acc``
    call omits it), so results are identical at the default."""
    if hm_type != "gaussian":
        raise ValueError(f"only hm_type='gaussian' is supported, got {hm_type!r}")
    out = _to_numpy(output)
    tgt = _to_numpy(target)
    pred, _ = get_max_preds(out)
    target_xy, _ = get_max_preds(tgt)
    h, w = out.shape[2], out.shape[3]
    norm = np.ones((pred.shape[0], 2)) * np.array([h, w]) / 10
    dists = calc_dists(pred, target_xy, norm)  # (K, N)

    k = dists.shape[0]
    valid = dists != -1
    n_valid = valid.sum(axis=1)
    hits = ((dists < thr) & valid).sum(axis=1)
    per_joint = np.where(n_valid > 0, hits * 1.0 / np.maximum(n_valid, 1), -1.0)

    acc = np.zeros(k + 1)
    acc[1:] = per_joint
    avg_acc: float = 0
    cnt = 0
    for value in acc[1:]:  # sequential sum, as official (K is small)
        if value >= 0:
            avg_acc = avg_acc + value
            cnt += 1
    avg_acc = avg_acc / cnt if cnt != 0 else 0
    if cnt != 0:
        acc[0] = avg_acc
    return acc, avg_acc, cnt, pred


MPII_JOINT_NAMES: tuple[str, ...] = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri",
)  # fmt: skip
"""MPII joint order (the ``dataset_joints`` names of the official ``gt_valid.mat``)."""


def mpii_pckh(
    preds: np.ndarray,
    pos_gt_src: np.ndarray,
    headboxes_src: np.ndarray,
    jnt_missing: np.ndarray,
    joint_names: Sequence[str] = MPII_JOINT_NAMES,
    threshold: float = 0.5,
    sc_bias: float = 0.6,
) -> OrderedDict[str, float]:
    """Official MPII PCKh.

    ``preds`` (N, 16, >=2) 0-based image pixels (1 is added, as official, to compare with the
    1-based MATLAB ground truth); ``pos_gt_src`` (16, 2, N), ``headboxes_src`` (2, 2, N) and
    ``jnt_missing`` (16, N) as stored in ``annot/gt_valid.mat``; ``joint_names`` its
    ``dataset_joints``. Returns Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean (pelvis and
    thorax excluded, weighted by joint counts) and Mean@0.1, in percent.
    """
    p = np.asarray(preds)[:, :, 0:2] + 1.0
    names = [str(n) for n in joint_names]
    idx = {n: names.index(n) for n in names}
    pos_pred_src = np.transpose(p, [1, 2, 0])
    jnt_visible = 1 - np.asarray(jnt_missing)
    uv_err = np.linalg.norm(pos_pred_src - np.asarray(pos_gt_src), axis=1)
    headboxes = np.asarray(headboxes_src)
    headsizes = np.linalg.norm(headboxes[1, :, :] - headboxes[0, :, :], axis=0) * sc_bias
    scaled_uv_err = np.multiply(np.divide(uv_err, headsizes[None, :]), jnt_visible)
    jnt_count = np.sum(jnt_visible, axis=1)

    def pck_at(thr: float) -> np.ndarray:
        below = np.multiply(scaled_uv_err <= thr, jnt_visible)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.divide(100.0 * np.sum(below, axis=1), jnt_count)

    pckh = pck_at(threshold)
    pck_01 = pck_at(np.arange(0, 0.5 + 0.01, 0.01)[10 + 1])
    excluded = [idx[n] for n in ("pelv", "thor") if n in idx]
    keep = np.ones(len(names), dtype=bool)
    keep[excluded] = False
    counts = np.where(keep, jnt_count, 0).astype(np.float64)
    jnt_ratio = counts / np.sum(counts)

    def pair(a: str, b: str) -> float:
        return float(0.5 * (pckh[idx[a]] + pckh[idx[b]]))

    return OrderedDict(
        [
            ("Head", float(pckh[idx["head"]])),
            ("Shoulder", pair("lsho", "rsho")),
            ("Elbow", pair("lelb", "relb")),
            ("Wrist", pair("lwri", "rwri")),
            ("Hip", pair("lhip", "rhip")),
            ("Knee", pair("lkne", "rkne")),
            ("Ankle", pair("lank", "rank")),
            ("Mean", float(np.sum(np.where(keep, pckh, 0) * jnt_ratio))),
            ("Mean@0.1", float(np.sum(np.where(keep, pck_01, 0) * jnt_ratio))),
        ]
    )
