"""hrnet.utils.transforms: golden numbers from the official code, hand-computed cases,
straightforward loop references and invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrnet.utils import transforms as T

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


COCO_PAIRS = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]


# ---------------------------------------------------------------------------------- golden
def test_box_to_center_scale_matches_official(golden):
    for box, c, s in zip(golden["box_xywh"], golden["box_center"], golden["box_scale"]):
        center, scale = T.box_to_center_scale(box.tolist(), 192 / 256)
        assert center.dtype == np.float32 and scale.dtype == np.float32
        np.testing.assert_array_equal(center, c)
        np.testing.assert_array_equal(scale, s)
    centers, scales = T.boxes_to_center_scale(golden["box_xywh"], 192 / 256)
    np.testing.assert_array_equal(centers, golden["box_center"])
    np.testing.assert_array_equal(scales, golden["box_scale"])


def test_affine_transform_matches_official(golden):
    for i in range(len(golden["aff_center"])):
        args = (golden["aff_center"][i], golden["aff_scale"][i], golden["aff_rot"][i])
        fwd = T.get_affine_transform(*args, [192, 256], shift=golden["aff_shift"][i])
        inv = T.get_affine_transform(*args, [48, 64], shift=golden["aff_shift"][i], inv=True)
        np.testing.assert_array_equal(fwd, golden["aff_fwd"][i])
        np.testing.assert_array_equal(inv, golden["aff_inv"][i])


def test_batched_affine_transforms_match_official(golden):
    c, s = golden["aff_center"], golden["aff_scale"]
    for i in range(len(c)):
        got = T.get_affine_transforms(
            c[i : i + 1], s[i : i + 1], [192, 256], rot=golden["aff_rot"][i], shift=golden["aff_shift"][i]
        )
        np.testing.assert_array_equal(got[0], golden["aff_fwd"][i])
    # many boxes at once, rotation per box
    got = T.get_affine_transforms(c[:1].repeat(6, 0), s[:1].repeat(6, 0), [192, 256], rot=golden["aff_rot"])
    for i in range(6):
        np.testing.assert_array_equal(got[i], T.get_affine_transform(c[0], s[0], golden["aff_rot"][i], [192, 256]))
    fast = T.get_affine_transforms(c, s, [48, 64], shift=(0, 0), inv=True, exact=False)
    exact = T.get_affine_transforms(c, s, [48, 64], inv=True)
    np.testing.assert_allclose(fast, exact, rtol=1e-12, atol=1e-9)


def test_transform_preds_matches_official(golden):
    for i in range(len(golden["tp_coords"])):
        out = T.transform_preds(golden["tp_coords"][i], golden["aff_center"][i], golden["aff_scale"][i], [48, 64])
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, golden["tp_out"][i])
    out = T.transform_preds_batch(golden["tp_coords"], golden["aff_center"], golden["aff_scale"], [48, 64])
    np.testing.assert_array_equal(out, golden["tp_out"])


def test_flip_back_matches_official(golden):
    x = golden["flip_in"]
    before = x.copy()
    out = T.flip_back(x, golden["flip_pairs"].tolist())
    np.testing.assert_array_equal(out, golden["flip_out"])
    np.testing.assert_array_equal(x, before)  # the input is not modified
    out_t = T.flip_back(torch.from_numpy(x), golden["flip_pairs"].tolist())
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_array_equal(out_t.numpy(), golden["flip_out"])


def test_fliplr_joints_matches_official(golden):
    j, v = golden["fliplr_joints_in"], golden["fliplr_vis_in"]
    j0, v0 = j.copy(), v.copy()
    out_j, out_v = T.fliplr_joints(j, v, 120, COCO_PAIRS)
    np.testing.assert_array_equal(out_j, golden["fliplr_joints_out"])
    np.testing.assert_array_equal(out_v, golden["fliplr_vis_out"])
    np.testing.assert_array_equal(j, j0)
    np.testing.assert_array_equal(v, v0)


# ---------------------------------------------------------------------------------- by hand
def test_box_to_center_scale_by_hand():
    c, s = T.box_to_center_scale([10, 20, 30, 40], 0.75)
    np.testing.assert_allclose(c, [25, 40])
    np.testing.assert_allclose(s, [30 / 200 * 1.25, 40 / 200 * 1.25], rtol=1e-6)
    # wider than 3:4 -> the height grows to w / 0.75
    c, s = T.box_to_center_scale([0, 0, 100, 50], 0.75)
    np.testing.assert_allclose(c, [50, 25])
    np.testing.assert_allclose(s, [0.5 * 1.25, 100 / 0.75 / 200 * 1.25], rtol=1e-6)
    # taller -> the width grows to h * 0.75; padding is a parameter
    _, s = T.box_to_center_scale([0, 0, 10, 100], 0.75, padding=1.0)
    np.testing.assert_allclose(s, [0.375, 0.5], rtol=1e-6)
    # the official quirk: no padding when the centre x is exactly -1
    _, s = T.box_to_center_scale([-2, 0, 2, 100], 0.75)
    np.testing.assert_allclose(s, [0.375, 0.5], rtol=1e-6)
    with pytest.raises(ValueError):
        T.box_to_center_scale([1, 2, 3], 0.75)


def test_affine_identity_and_scaling():
    # a 48x64 box centred in a 48x64 output: identity
    t = T.get_affine_transform(np.array([24.0, 32.0], np.float32), np.array([0.24, 0.32], np.float32), 0, [48, 64])
    np.testing.assert_allclose(t, [[1, 0, 0], [0, 1, 0]], atol=1e-5)
    # a 200 px wide box into 50 px: zoom 1/4 about the centre
    t = T.get_affine_transform(np.array([100.0, 100.0]), 1.0, 0, [50, 50])
    np.testing.assert_allclose(T.affine_transform([100, 100], t), [25, 25], atol=1e-9)
    np.testing.assert_allclose(T.affine_transform([200, 100], t), [50, 25], atol=1e-9)
    # rotation by 90 degrees (counter-clockwise in image terms as official): a point right of the centre
    t = T.get_affine_transform(np.array([100.0, 100.0]), 1.0, 90, [200, 200])
    np.testing.assert_allclose(T.affine_transform([150, 100], t), [100, 50], atol=1e-4)


def test_forward_and_inverse_compose_to_identity():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.uniform(0, 500, 2).astype(np.float32)
        s = rng.uniform(0.2, 3, 2).astype(np.float32)
        rot = rng.uniform(-45, 45)
        fwd = np.vstack([T.get_affine_transform(c, s, rot, [48, 64]), [0, 0, 1]])
        inv = np.vstack([T.get_affine_transform(c, s, rot, [48, 64], inv=True), [0, 0, 1]])
        np.testing.assert_allclose(fwd @ inv, np.eye(3), atol=1e-5)


def test_get_dir_and_third_point():
    np.testing.assert_allclose(T.get_dir([0, -1], np.pi / 2), [1, 0], atol=1e-12)
    np.testing.assert_allclose(T.get_3rd_point(np.array([0, 0], np.float32), np.array([0, 1], np.float32)), [1, 1])


# ---------------------------------------------------------------------------------- loops
def test_transform_preds_equals_point_loop():
    rng = np.random.default_rng(1)
    coords = rng.uniform(0, 64, (17, 3)).astype(np.float32)
    c, s = np.array([321.5, 210.25], np.float32), np.array([1.3, 1.7], np.float32)
    t = T.get_affine_transform(c, s, 0, [48, 64], inv=True)
    ref = np.zeros(coords.shape)
    for p in range(coords.shape[0]):
        ref[p, 0:2] = T.affine_transform(coords[p, 0:2], t)
    np.testing.assert_array_equal(T.transform_preds(coords, c, s, [48, 64]), ref)


def test_flip_back_equals_swap_loop():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    pairs = [[0, 1], [1, 2], [4, 3]]  # overlapping pairs: swaps apply in order
    ref = x[:, :, :, ::-1].copy()
    for a, b in pairs:
        tmp = ref[:, a].copy()
        ref[:, a] = ref[:, b]
        ref[:, b] = tmp
    np.testing.assert_array_equal(T.flip_back(x, pairs), ref)
    np.testing.assert_array_equal(T.flip_back(T.flip_back(x, COCO_PAIRS[:2]), COCO_PAIRS[:2]), x)
    with pytest.raises(ValueError):
        T.flip_back(x[0], pairs)


def test_fliplr_joints_equals_loop():
    rng = np.random.default_rng(3)
    j = rng.uniform(0, 100, (17, 3))
    v = (rng.random((17, 3)) > 0.3).astype(float)
    ref_j, ref_v = j.copy(), v.copy()
    ref_j[:, 0] = 99 - ref_j[:, 0]
    for a, b in COCO_PAIRS:
        ref_j[[a, b]] = ref_j[[b, a]]
        ref_v[[a, b]] = ref_v[[b, a]]
    out_j, out_v = T.fliplr_joints(j, v, 100, COCO_PAIRS)
    np.testing.assert_array_equal(out_j, ref_j * ref_v)
    np.testing.assert_array_equal(out_v, ref_v)


def test_boxes_to_center_scale_equals_scalar_loop():
    rng = np.random.default_rng(4)
    boxes = np.column_stack([rng.uniform(-50, 500, (200, 2)), rng.uniform(0, 300, (200, 2))])
    boxes[::7, 2] = boxes[::7, 3] * 0.75
    centers, scales = T.boxes_to_center_scale(boxes, 0.75)
    for b, c, s in zip(boxes, centers, scales):
        c_ref, s_ref = T.box_to_center_scale(b.tolist(), 0.75)
        np.testing.assert_array_equal(c, c_ref)
        np.testing.assert_array_equal(s, s_ref)


def test_crop_identity_and_shape():
    img = np.arange(64 * 48 * 3, dtype=np.uint8).reshape(64, 48, 3)
    out = T.crop(img, np.array([24.0, 32.0], np.float32), np.array([0.24, 0.32], np.float32), [48, 64])
    assert out.shape == img.shape
    np.testing.assert_array_equal(out[2:-2, 2:-2], img[2:-2, 2:-2])
