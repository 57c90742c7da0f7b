"""hrnet.temporal: One-Euro smoothing (hand-edited joints untouched) and keyframe interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from hrnet.temporal import interpolate_keyframes, smooth_track


def _track(t_len=60, k=3, noise=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(t_len)
    truth = np.zeros((t_len, k, 3))
    truth[:, :, 0] = 100 + 2.0 * t[:, None] + 20 * np.arange(k)  # walking right, 2 px/frame
    truth[:, :, 1] = 200 + 30 * np.arange(k)
    truth[:, :, 2] = 0.9
    noisy = truth.copy()
    noisy[:, :, :2] += rng.normal(0, noise, (t_len, k, 2))
    return truth, noisy


def test_smoothing_reduces_jitter_and_error():
    truth, noisy = _track()
    out = smooth_track(noisy, fps=30)
    def err(a):
        return np.sqrt(((a[:, :, :2] - truth[:, :, :2]) ** 2).sum(axis=2).mean())
    def jitter(a):
        return np.abs(a[2:, :, :2] - 2 * a[1:-1, :, :2] + a[:-2, :, :2]).mean()
    assert jitter(out) < 0.8 * jitter(noisy)
    assert err(out) < err(noisy)
    np.testing.assert_array_equal(out[:, :, 2], noisy[:, :, 2])


def test_hand_edited_joints_are_never_changed_and_anchor_the_filter():
    _, noisy = _track()
    fixed = np.zeros(noisy.shape[:2], dtype=bool)
    fixed[10:20, 1] = True
    fixed[30, :] = True
    out = smooth_track(noisy, fps=30, fixed=fixed)
    np.testing.assert_array_equal(out[fixed], noisy[fixed])
    assert not np.allclose(out[~fixed][:, :2], noisy[~fixed][:, :2])


def test_gaps_restart_the_filter():
    _, noisy = _track()
    noisy[20:25] = np.nan
    out = smooth_track(noisy, fps=30)
    assert np.isnan(out[20:25]).all()
    np.testing.assert_array_equal(out[25], noisy[25])  # first frame after a gap is taken as is


def test_smooth_track_rejects_bad_input():
    with pytest.raises(ValueError):
        smooth_track(np.zeros((5, 3)), fps=30)
    with pytest.raises(ValueError):
        smooth_track(np.zeros((5, 2, 3)), fps=0)
    with pytest.raises(ValueError, match="fixed"):
        smooth_track(np.zeros((5, 2, 3)), fps=30, fixed=np.zeros((4, 2), dtype=bool))


def test_interpolation_between_keyframes():
    kp = np.zeros((10, 2, 3))
    kp[:, :, 2] = 2
    edited = np.zeros((10, 2), dtype=bool)
    kp[2, 0, :2], kp[8, 0, :2] = (10, 20), (70, 80)
    edited[2, 0] = edited[8, 0] = True
    kp[5, 0, :2] = (999, 999)
    edited[5, 0] = True  # a hand-edited frame in between is a keyframe itself
    kp[4, 1, :2] = (5, 5)
    edited[4, 1] = True  # joint 1 has one keyframe only: nothing to fill
    out, filled = interpolate_keyframes(kp, edited)
    assert filled[:, 0].tolist() == [False, False, False, True, True, False, True, True, False, False]
    assert not filled[:, 1].any()
    np.testing.assert_allclose(out[3, 0, :2], kp[2, 0, :2] + (kp[5, 0, :2] - kp[2, 0, :2]) / 3)
    np.testing.assert_allclose(out[7, 0, :2], kp[5, 0, :2] + 2 * (kp[8, 0, :2] - kp[5, 0, :2]) / 3)
    np.testing.assert_array_equal(out[edited], kp[edited])
    with pytest.raises(ValueError):
        interpolate_keyframes(kp, edited[:5])
