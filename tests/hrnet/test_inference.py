"""hrnet.core.inference: official decoding (golden arrays), a per-joint loop reference, DARK,
and the torch decoder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hrnet.core import inference as I
from hrnet.utils.transforms import transform_preds

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


def loop_final_preds(hm, center, scale, post_process=True):
    """The straightforward per-joint formulation of the official decoding."""
    n, k, h, w = hm.shape
    coords = np.zeros((n, k, 2), np.float32)
    maxvals = np.zeros((n, k, 1), hm.dtype)
    for i in range(n):
        for j in range(k):
            flat = hm[i, j].reshape(-1)
            idx = int(np.argmax(flat))
            maxvals[i, j, 0] = flat[idx]
            if flat[idx] > 0:
                coords[i, j] = [idx % w, idx // w]
            if post_process:
                px = int(math.floor(coords[i, j, 0] + 0.5))
                py = int(math.floor(coords[i, j, 1] + 0.5))
                if 1 < px < w - 1 and 1 < py < h - 1:
                    diff = np.array(
                        [hm[i, j, py, px + 1] - hm[i, j, py, px - 1], hm[i, j, py + 1, px] - hm[i, j, py - 1, px]]
                    )
                    coords[i, j] += np.sign(diff) * 0.25
    preds = coords.copy()
    for i in range(n):
        preds[i] = transform_preds(coords[i], center[i], scale[i], [w, h])
    return preds, maxvals


def gaussian_maps(centers_xy, h=32, w=24, sigma=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    c = np.asarray(centers_xy, np.float64)
    return np.exp(-((xx - c[..., 0, None, None]) ** 2 + (yy - c[..., 1, None, None]) ** 2) / (2 * sigma**2)).astype(
        np.float32
    )


def test_get_max_preds_matches_official(golden):
    preds, maxvals = I.get_max_preds(golden["dec_heatmaps"])
    assert preds.dtype == np.float32
    np.testing.assert_array_equal(preds, golden["dec_max_preds"])
    np.testing.assert_array_equal(maxvals, golden["dec_maxvals"])


def test_get_final_preds_matches_official(golden):
    hm, c, s = golden["dec_heatmaps"], golden["dec_center"], golden["dec_scale"]
    preds, maxvals = I.get_final_preds(hm, c, s)
    assert preds.dtype == np.float32
    np.testing.assert_array_equal(preds, golden["dec_final_preds"])
    np.testing.assert_array_equal(maxvals, golden["dec_maxvals"])
    preds, _ = I.get_final_preds(hm, c, s, post_process=False)
    np.testing.assert_array_equal(preds, golden["dec_final_preds_nopost"])
    # torch tensors in, same numbers out
    preds, _ = I.get_final_preds(torch.from_numpy(hm), torch.from_numpy(c), torch.from_numpy(s))
    np.testing.assert_array_equal(preds, golden["dec_final_preds"])


def test_dark_matches_reference(golden):
    hm = np.clip(golden["dec_heatmaps"], 1e-3, None)
    hm[1, 4] = 0.2
    before = hm.copy()
    preds, _ = I.get_final_preds(hm, golden["dec_center"], golden["dec_scale"], decode="dark", blur_kernel=5)
    np.testing.assert_allclose(preds, golden["dark_final_preds_k5"], atol=2e-3)
    np.testing.assert_array_equal(hm, before)  # unlike the reference, the input is not modified


@pytest.mark.parametrize("post_process", [True, False])
def test_get_final_preds_equals_loop(post_process):
    rng = np.random.default_rng(0)
    hm = rng.standard_normal((5, 17, 16, 12)).astype(np.float32)
    hm[:, :4] = np.round(hm[:, :4] * 2) / 2  # ties, zero differences
    hm[0, 5] = -1.0
    hm[1, 6] = 0.0
    c = rng.uniform(0, 600, (5, 2)).astype(np.float32)
    s = rng.uniform(0.1, 3, (5, 2)).astype(np.float32)
    ref_p, ref_m = loop_final_preds(hm, c, s, post_process)
    preds, maxvals = I.get_final_preds(hm, c, s, post_process=post_process)
    np.testing.assert_array_equal(preds, ref_p)
    np.testing.assert_array_equal(maxvals, ref_m)


def test_quarter_offset_by_hand():
    hm = np.zeros((1, 3, 10, 10), np.float32)
    hm[0, 0, 5, 4] = 1.0
    hm[0, 0, 5, 5] = 0.5  # right neighbour higher than left -> +0.25 in x, no change in y
    hm[0, 1, 1, 1] = 1.0  # on the border band (px == 1): no shift (official 1 < px)
    hm[0, 2] = -1.0  # nothing positive: (0, 0)
    hm[0, 2, 3, 3] = -0.5
    coords, maxvals = I.get_max_preds(hm)
    np.testing.assert_array_equal(coords[0], [[4, 5], [1, 1], [0, 0]])
    np.testing.assert_array_equal(maxvals[0, :, 0], [1.0, 1.0, -0.5])
    refined = I.post_process_quarter_offset(coords, hm)
    np.testing.assert_array_equal(refined[0], [[4.25, 5], [1, 1], [0, 0]])
    # heatmap pixels -> image: a crop of 10x10 px centred at (100, 200): x_img = 100 + (x - 5)
    preds, _ = I.get_final_preds(hm, np.array([[100, 200]], np.float32), np.array([[0.05, 0.05]], np.float32))
    np.testing.assert_allclose(preds[0, 0], [99.25, 200], atol=1e-4)


def test_errors():
    with pytest.raises(ValueError):
        I.get_max_preds(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError):
        I.get_final_preds(np.zeros((1, 1, 4, 4)), np.zeros((1, 2)), np.ones((1, 2)), decode="nope")
    with pytest.raises(ValueError):
        I.get_final_preds(np.zeros((2, 1, 4, 4)), np.zeros((1, 2)), np.ones((1, 2)))


def test_dark_recovers_subpixel_centres():
    rng = np.random.default_rng(1)
    true = rng.uniform(4, [20, 28], (4, 17, 2))
    hm = gaussian_maps(true)
    c = np.tile(np.array([[12.0, 16.0]], np.float32), (4, 1))
    s = np.tile(np.array([[24 / 200, 32 / 200]], np.float32), (4, 1))  # heatmap px == image px
    argmax, _ = I.get_final_preds(hm, c, s, post_process=False)
    quarter, _ = I.get_final_preds(hm, c, s)
    dark, _ = I.get_final_preds(hm, c, s, decode="dark", sigma=2)
    err = {name: np.abs(p - true).mean() for name, p in [("argmax", argmax), ("quarter", quarter), ("dark", dark)]}
    assert err["dark"] < 0.05 < err["quarter"] < err["argmax"]


def test_dark_loop_reference():
    """DARK with a per-joint loop (blur, log, Newton step with the 2x2 Hessian inverse)."""
    import cv2

    rng = np.random.default_rng(2)
    hm = np.clip(gaussian_maps(rng.uniform(0, [24, 32], (2, 5, 2))) + rng.normal(0, 0.02, (2, 5, 32, 24)), 0, None)
    hm = hm.astype(np.float32)
    coords, _ = I.get_max_preds(hm)
    k = 11
    b = (k - 1) // 2
    ref = coords.copy()
    for i in range(2):
        for j in range(5):
            padded = np.zeros((32 + 2 * b, 24 + 2 * b))
            padded[b:-b, b:-b] = hm[i, j]
            blurred = cv2.GaussianBlur(padded, (k, k), 0)[b:-b, b:-b].astype(np.float32)
            blurred *= hm[i, j].max() / blurred.max()
            lm = np.log(np.maximum(blurred, 1e-10))
            px, py = int(coords[i, j, 0]), int(coords[i, j, 1])
            if 1 < px < 24 - 2 and 1 < py < 32 - 2:
                g = np.array([0.5 * (lm[py, px + 1] - lm[py, px - 1]), 0.5 * (lm[py + 1, px] - lm[py - 1, px])])
                dxx = 0.25 * (lm[py, px + 2] - 2 * lm[py, px] + lm[py, px - 2])
                dyy = 0.25 * (lm[py + 2, px] - 2 * lm[py, px] + lm[py - 2, px])
                dxy = 0.25 * (lm[py + 1, px + 1] - lm[py - 1, px + 1] - lm[py + 1, px - 1] + lm[py - 1, px - 1])
                hess = np.array([[dxx, dxy], [dxy, dyy]], np.float64)
                if np.linalg.det(hess) != 0:
                    ref[i, j] += -np.linalg.inv(hess) @ g
    got = I.post_process_dark(coords, hm, blur_kernel=k)
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_dark_blur_kernel():
    assert I.dark_blur_kernel(2) == 11
    assert I.dark_blur_kernel(3) == 17
    assert I.dark_blur_kernel(1) == 5
    with pytest.raises(ValueError):
        I.post_process_dark(np.zeros((1, 1, 2), np.float32), np.ones((1, 1, 8, 8), np.float32), blur_kernel=4)


def test_dark_survives_flat_and_zero_maps():
    hm = np.zeros((1, 2, 16, 12), np.float32)
    hm[0, 1] = 0.3
    preds, maxvals = I.get_final_preds(hm, np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32), decode="dark")
    assert np.isfinite(preds).all()


@pytest.mark.parametrize("decode", ["default", "dark"])
def test_torch_decoder_equals_numpy(decode):
    rng = np.random.default_rng(3)
    hm = np.clip(
        gaussian_maps(rng.uniform(-2, [26, 34], (6, 17, 2))) + rng.normal(0, 0.05, (6, 17, 32, 24)), -0.1, None
    )
    hm = hm.astype(np.float32)
    hm[0, 0] = 0
    hm[1, 1] = np.round(hm[1, 1] * 3) / 3
    c = rng.uniform(0, 600, (6, 2)).astype(np.float32)
    s = rng.uniform(0.1, 3, (6, 2)).astype(np.float32)
    ref_p, ref_m = I.get_final_preds(hm, c, s, decode=decode)
    got_p, got_m = I.decode_heatmaps_torch(torch.from_numpy(hm), c, s, decode=decode)
    np.testing.assert_array_equal(got_m, ref_m)
    if decode == "default":
        np.testing.assert_array_equal(got_p, ref_p)
    else:
        np.testing.assert_allclose(got_p, ref_p, atol=1e-3)
    # half precision heatmaps are decoded in float32
    p16, _ = I.decode_heatmaps_torch(torch.from_numpy(hm).half(), c, s, post_process=False)
    assert p16.dtype == np.float32


def test_no_people():
    hm = np.zeros((0, 17, 16, 12), np.float32)
    c = np.zeros((0, 2), np.float32)
    for decode in ("default", "dark"):
        preds, maxvals = I.get_final_preds(hm, c, c, decode=decode)
        assert preds.shape == (0, 17, 2) and maxvals.shape == (0, 17, 1)
        preds, maxvals = I.decode_heatmaps_torch(torch.from_numpy(hm), c, c, decode=decode)
        assert preds.shape == (0, 17, 2) and maxvals.shape == (0, 17, 1)
