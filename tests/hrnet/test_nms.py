"""hrnet.nms: OKS and (soft) OKS NMS against official golden results, loop references and
hand-checked cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hrnet import nms as N

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


def make_db(kpts, scores, areas):
    return [{"keypoints": k, "score": float(s), "area": float(a)} for k, s, a in zip(kpts, scores, areas)]


def loop_oks(g, d, a_g, a_d, sigmas=N.COCO_SIGMAS, in_vis_thre=None):
    """Per-detection, per-keypoint loop of the OKS."""
    var = (np.asarray(sigmas) * 2) ** 2
    k = len(var)
    out = np.zeros(len(d))
    for n in range(len(d)):
        total, count = 0.0, 0
        for j in range(k):
            if in_vis_thre is not None and not d[n][3 * j + 2] > in_vis_thre:
                continue
            dx = d[n][3 * j] - g[3 * j]
            dy = d[n][3 * j + 1] - g[3 * j + 1]
            e = (dx**2 + dy**2) / var[j] / ((a_g + a_d[n]) / 2 + np.spacing(1)) / 2
            total += np.exp(-e)
            count += 1
        out[n] = total / count if count else 0.0
    return out


def loop_oks_nms(db, thresh, in_vis_thre=None):
    scores = np.array([p["score"] for p in db])
    order = list(scores.argsort()[::-1])
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = []
        for j in order:
            o = loop_oks(
                db[i]["keypoints"].ravel(),
                [db[j]["keypoints"].ravel()],
                db[i]["area"],
                [db[j]["area"]],
                in_vis_thre=in_vis_thre,
            )[0]
            if o <= thresh:
                rest.append(j)
        order = rest
    return keep


def random_db(rng, n, clusters):
    ctr = rng.uniform(0, 400, (clusters, 2))
    base = rng.uniform(-40, 40, (clusters, 17, 2))
    kp = np.zeros((n, 17, 3), np.float32)
    which = rng.integers(clusters, size=n)
    kp[..., :2] = ctr[which, None] + base[which] + rng.normal(0, 1, (n, 17, 2)) * rng.choice([1, 5, 15], (n, 1, 1))
    kp[..., 2] = rng.random((n, 17))
    return make_db(kp, rng.random(n), rng.uniform(2000, 8000, n))


def test_matches_official(golden):
    kp, sc, ar = golden["nms_kpts"], golden["nms_scores"], golden["nms_areas"]
    db = make_db(kp, sc, ar)
    # float32 arithmetic as official: bit-identical on the CPU the golden file was made on; numpy's float32
    # exp differs by an ulp between SIMD paths (AVX-512 there, AVX2 here), hence a few-ulp tolerance
    np.testing.assert_allclose(N.oks_iou(kp[0].ravel(), kp.reshape(18, -1), ar[0], ar), golden["oks_row0"],
                               rtol=5e-7, atol=1e-30)
    np.testing.assert_allclose(
        N.oks_iou(kp[0].ravel(), kp.reshape(18, -1), ar[0], ar, in_vis_thre=0.2), golden["oks_row0_vis"], rtol=1e-14
    )
    assert N.oks_nms(db, 0.9) == golden["nms_keep_09"].tolist()
    assert N.oks_nms(db, 0.5) == golden["nms_keep_05"].tolist()
    assert N.oks_nms(db, 0.5, in_vis_thre=0.2) == golden["nms_keep_05_vis"].tolist()
    np.testing.assert_array_equal(N.soft_oks_nms(db, 0.9), golden["soft_keep_09"])
    np.testing.assert_array_equal(N.soft_oks_nms(db, 0.3), golden["soft_keep_03"])


@pytest.mark.parametrize("in_vis_thre", [None, 0.2, 0.9])
def test_oks_equals_loop(in_vis_thre):
    rng = np.random.default_rng(0)
    g = np.concatenate([rng.uniform(0, 200, (17, 2)), rng.random((17, 1))], 1).ravel()
    d = np.concatenate([rng.uniform(0, 200, (30, 17, 2)), rng.random((30, 17, 1))], 2).reshape(30, -1)
    d[0, 2::3] = 0.0  # nothing visible above any threshold
    a_d = rng.uniform(100, 5000, 30)
    np.testing.assert_allclose(
        N.oks_iou(g, d, 1234.5, a_d, in_vis_thre=in_vis_thre),
        loop_oks(g, d, 1234.5, a_d, in_vis_thre=in_vis_thre),
        rtol=1e-13,
        atol=1e-300,
    )
    m = N.oks_matrix(d.reshape(30, 17, 3), a_d, in_vis_thre=in_vis_thre)
    np.testing.assert_allclose(m[3], N.oks_iou(d[3], d, a_d[3], a_d, in_vis_thre=in_vis_thre))


@pytest.mark.parametrize("in_vis_thre", [None, 0.2])
def test_oks_nms_equals_loop(in_vis_thre):
    rng = np.random.default_rng(1)
    for thr in (0.9, 0.5):
        for _ in range(4):
            db = random_db(rng, int(rng.integers(1, 25)), int(rng.integers(1, 6)))
            assert N.oks_nms(db, thr, in_vis_thre=in_vis_thre) == loop_oks_nms(db, thr, in_vis_thre)


def test_by_hand():
    assert N.oks_nms([], 0.9) == []
    assert len(N.soft_oks_nms([], 0.9)) == 0
    pose = np.zeros((17, 3), np.float32)
    pose[:, 0] = np.arange(17) * 10
    pose[:, 2] = 1
    far = pose.copy()
    far[:, 0] += 1000
    db = make_db([pose, pose + 0.5, far], [0.5, 0.9, 0.7], [4000, 4000, 4000])
    # the near-duplicate of the best pose goes, the far pose stays; best first
    assert N.oks_nms(db, 0.9) == [1, 2]
    assert N.oks_iou(pose.ravel(), pose.ravel()[None], 4000, np.array([4000.0]))[0] == pytest.approx(1.0)
    # soft NMS keeps everyone (up to 20) but demotes the duplicate below the far pose
    assert N.soft_oks_nms(db, 0.9).tolist() == [1, 2, 0]
    many = make_db([pose] * 30, np.linspace(0, 1, 30), [4000] * 30)
    assert len(N.soft_oks_nms(many, 0.9)) == 20
    assert len(N.soft_oks_nms(many, 0.9, max_dets=30)) == 30
    with pytest.raises(ValueError):
        N.oks_iou(np.zeros(15), np.zeros((2, 15)), 1.0, np.ones(2))
    np.testing.assert_allclose(N.oks_iou(np.zeros(15), np.zeros((2, 15)), 1.0, np.ones(2), sigmas=[0.1] * 5), 1.0)


def test_rescore_by_keypoints_equals_loop():
    rng = np.random.default_rng(2)
    kp = rng.random((20, 17, 3)).astype(np.float32)
    kp[0, :, 2] = 0.1  # nothing above the threshold -> score 0
    box = rng.random(20)
    ref = []
    for i in range(20):
        total, count = 0, 0
        for j in range(17):
            if kp[i, j, 2] > 0.2:
                total = total + kp[i, j, 2]
                count += 1
        ref.append((total / count if count else 0) * box[i])
    np.testing.assert_array_equal(N.rescore_by_keypoints(kp, box, 0.2), np.array(ref))


def test_rescore_and_box_nms():
    ovr = np.array([0.0, 0.5, 0.95])
    s = np.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(N.rescore(ovr, s, 0.9), np.exp(-(ovr**2) / 0.9))
    np.testing.assert_allclose(N.rescore(ovr, s, 0.9, type="linear"), [1.0, 1.0, 0.05])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], float)
    assert N.box_nms(boxes, [0.9, 0.8, 0.7], 0.5).tolist() == [0, 2]


def test_matrix_and_incremental_paths_agree(monkeypatch):
    rng = np.random.default_rng(5)
    db = random_db(rng, 60, 8)
    for thr in (0.9, 0.5):
        for vis in (None, 0.2):
            fast = N.oks_nms(db, thr, in_vis_thre=vis)
            monkeypatch.setattr(N, "_MATRIX_MAX", 0)
            slow = N.oks_nms(db, thr, in_vis_thre=vis)
            monkeypatch.undo()
            assert fast == slow
