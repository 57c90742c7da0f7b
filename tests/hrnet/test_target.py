"""hrnet.dataset.target.generate_target: official golden maps, a per-joint loop reference and
hand-checked properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hrnet.dataset.target import gaussian_patch, generate_target

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"
IMAGE, HEATMAP = np.array([96, 128]), np.array([24, 32])


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


def loop_target(joints, vis, image_size, heatmap_size, sigma, joints_weight=None):
    """Straightforward per-joint formulation of the official algorithm."""
    k = joints.shape[0]
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    weight = np.ones((k, 1), np.float32)
    weight[:, 0] = vis[:, 0]
    target = np.zeros((k, h, w), np.float32)
    tmp = sigma * 3
    stride = np.asarray(image_size) / np.asarray(heatmap_size)
    g = gaussian_patch(sigma)
    for j in range(k):
        mx = int(joints[j][0] / stride[0] + 0.5)
        my = int(joints[j][1] / stride[1] + 0.5)
        ul = [int(mx - tmp), int(my - tmp)]
        br = [int(mx + tmp + 1), int(my + tmp + 1)]
        if ul[0] >= w or ul[1] >= h or br[0] < 0 or br[1] < 0:
            weight[j] = 0
            continue
        if weight[j] > 0.5:
            for y in range(max(0, ul[1]), min(br[1], h)):
                for x in range(max(0, ul[0]), min(br[0], w)):
                    target[j, y, x] = g[y - ul[1], x - ul[0]]
    if joints_weight is not None:
        weight = np.multiply(weight, joints_weight)
    return target, weight


def test_matches_official(golden):
    t, w = generate_target(golden["tgt_joints"], golden["tgt_vis"], IMAGE, HEATMAP, 2)
    np.testing.assert_array_equal(t, golden["tgt_s2"])
    np.testing.assert_array_equal(w, golden["tgt_w_s2"])
    assert t.dtype == np.float32 and w.dtype == np.float32
    t, w = generate_target(golden["tgt_joints"], golden["tgt_vis"], IMAGE, HEATMAP, 3, golden["tgt_jw"])
    np.testing.assert_array_equal(t, golden["tgt_s3_jw"])
    np.testing.assert_array_equal(w, golden["tgt_w_s3_jw"])


@pytest.mark.parametrize("sigma", [1, 2, 3, 1.5, 2.5])
def test_equals_loop_reference(sigma):
    rng = np.random.default_rng(int(sigma * 10))
    for _ in range(5):
        joints = np.zeros((17, 3))
        joints[:, :2] = rng.uniform(-40, 150, (17, 2))
        vis = np.zeros((17, 3))
        vis[:, :2] = rng.random((17, 1)) > 0.2
        jw = rng.uniform(0.5, 1.5, (17, 1))
        t, w = generate_target(joints, vis, IMAGE, HEATMAP, sigma, jw)
        rt, rw = loop_target(joints, vis, IMAGE, HEATMAP, sigma, jw)
        np.testing.assert_array_equal(t, rt)
        np.testing.assert_array_equal(w, rw)


def test_properties_by_hand():
    joints = np.array([[40.0, 60.0, 0], [-100.0, 50.0, 0], [50.0, 50.0, 0], [95.0, 127.0, 0]])
    vis = np.array([[1.0, 1.0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 0]])
    t, w = generate_target(joints, vis, IMAGE, HEATMAP, 2, joints_weight=[2.0, 1.0, 1.0, 0.5])
    # peak of 1 on the nearest heatmap pixel (40/4, 60/4) = (10, 15)
    assert t[0].max() == 1.0 and t[0, 15, 10] == 1.0
    np.testing.assert_allclose(t[0, 15, 11], np.exp(-1 / 8), rtol=1e-6)
    assert (t[0] > 0).sum() == 13 * 13  # 3-sigma window, fully inside
    # far outside: weight 0, empty map; invisible: weight 0, empty map
    assert w[1, 0] == 0 and not t[1].any()
    assert w[2, 0] == 0 and not t[2].any()
    # bottom-right corner: truncated window, weight kept and multiplied by the joint weight
    assert t[3, 31, 23] > 0.5 and w[3, 0] == 0.5
    assert w[0, 0] == 2.0
    assert w.shape == (4, 1)


def test_no_joints():
    t, w = generate_target(np.zeros((0, 3)), np.zeros((0, 3)), IMAGE, HEATMAP, 2)
    assert t.shape == (0, 32, 24) and w.shape == (0, 1)
