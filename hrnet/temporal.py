"""Along a track: temporal smoothing of predicted joints and keyframe interpolation.

- :func:`smooth_track` runs a One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) over each
  joint's x and y: strong smoothing when a joint is still (jitter goes), little when it moves fast
  (no lag). Joints a person placed by hand are never changed, and the filter restarts from them.
- :func:`interpolate_keyframes` fills the frames between two hand-corrected keyframes of a joint
  linearly, except frames where that joint was edited by hand too.

Both work on one track as a ``(T, K, 3)`` array (x, y, score or visibility per frame) with NaN
rows for frames where the person is absent. The defaults of :func:`smooth_track` were chosen with
``benchmarks/smoothing.py`` on noisy synthetic tracks at 30 fps (noise 1.5 % of the height): the
lowest error against the truth, 0.84x of the raw joints', with 0.64x their jitter.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["interpolate_keyframes", "smooth_track"]


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


def smooth_track(
    keypoints: np.ndarray,
    fps: float = 30.0,
    *,
    fixed: np.ndarray | None = None,
    min_cutoff: float = 1.0,
    beta: float = 0.2,
    d_cutoff: float = 1.0,
    min_score: float = 0.0,
) -> np.ndarray:
    """One-Euro-filtered copy of a track's joints.

    ``keypoints`` (T, K, 3): x, y, score per frame (rows of NaN, or score <= ``min_score``, where
    the joint is absent: the filter restarts after a gap). ``fixed`` (T, K) bool: joints edited by
    hand, returned unchanged and used as the filter's new state. ``min_cutoff`` (Hz) sets how much
    a still joint is smoothed, ``beta`` how fast the smoothing lets go when it moves (per px/s,
    scaled by the person's size so that the same values suit any resolution). Scores are kept."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] < 2:
        raise ValueError(f"keypoints must be (T, K, 3), not {kp.shape}")
    if fps <= 0:
        raise ValueError("fps must be positive")
    t_len, k = kp.shape[:2]
    out = kp.copy()
    fixed = np.zeros((t_len, k), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    if fixed.shape != (t_len, k):
        raise ValueError(f"fixed must be (T, K) = {(t_len, k)}, not {fixed.shape}")
    dt = 1.0 / fps
    present = np.isfinite(kp[:, :, :2]).all(axis=2)
    if kp.shape[-1] > 2:
        present &= ~(kp[:, :, 2] <= min_score)
    # the person's size (median box diagonal over the track) makes beta resolution-independent
    sizes = []
    for t in range(t_len):
        pts = kp[t, present[t], :2]
        if len(pts) >= 2:
            sizes.append(float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0)))))
    size = float(np.median(sizes)) if sizes else 1.0
    a_d = _alpha(d_cutoff, dt)
    for j in range(k):
        x_prev: np.ndarray | None = None
        dx_prev = np.zeros(2)
        for t in range(t_len):
            if not present[t, j]:
                x_prev = None  # a gap: start again
                continue
            x = kp[t, j, :2]
            if fixed[t, j] or x_prev is None:
                x_prev, dx_prev = x.copy(), np.zeros(2)
                continue
            dx = (x - x_prev) / dt
            dx_hat = a_d * dx + (1 - a_d) * dx_prev
            speed = float(np.hypot(*dx_hat)) / max(size, 1e-6)  # body sizes per second
            a = _alpha(min_cutoff + beta * speed * 100.0, dt)
            x_hat = a * x + (1 - a) * x_prev
            out[t, j, :2] = x_hat
            x_prev, dx_prev = x_hat, dx_hat
    return out


def interpolate_keyframes(keypoints: np.ndarray, edited: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill the frames between hand-edited keyframes of each joint.

    ``keypoints`` (T, K, 3): x, y, visibility (or score) of one track; ``edited`` (T, K) bool: the
    joints a person placed by hand. For each joint and each pair of consecutive frames a < b where
    it was edited, the frames strictly between them get positions on the straight line from a to b
    (visibility from the nearer keyframe), except frames where that joint was edited by hand too
    (those are keyframes themselves). Returns the new array and a (T, K) mask of what was filled."""
    kp = np.asarray(keypoints, dtype=np.float64)
    edited = np.asarray(edited, dtype=bool)
    if kp.ndim != 3 or edited.shape != kp.shape[:2]:
        raise ValueError(f"keypoints (T, K, 3) and edited (T, K) must agree: {kp.shape} vs {edited.shape}")
    out = kp.copy()
    filled = np.zeros(edited.shape, dtype=bool)
    for j in range(kp.shape[1]):
        keys = np.flatnonzero(edited[:, j] & np.isfinite(kp[:, j, :2]).all(axis=1))
        for a, b in zip(keys[:-1], keys[1:]):
            if b - a < 2:
                continue
            ts = np.arange(a + 1, b)
            w = ((ts - a) / (b - a))[:, None]
            out[ts, j, :2] = (1 - w) * kp[a, j, :2] + w * kp[b, j, :2]
            if kp.shape[-1] > 2:
                out[ts, j, 2] = np.where(w[:, 0] <= 0.5, kp[a, j, 2], kp[b, j, 2])
            filled[ts, j] = True
    return out, filled
