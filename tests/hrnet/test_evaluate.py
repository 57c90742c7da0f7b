"""hrnet.core.evaluate: official PCK accuracy (golden), loop references, MPII PCKh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hrnet.core import evaluate as E
from hrnet.core.inference import get_max_preds

GOLDEN = Path(__file__).parent / "data" / "golden_core.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as g:
        return {k: g[k] for k in g.files}


def loop_accuracy(output, target, thr=0.5):
    pred, _ = get_max_preds(output)
    tgt, _ = get_max_preds(target)
    n, k = pred.shape[:2]
    norm = np.array([output.shape[2], output.shape[3]]) / 10
    acc = np.zeros(k + 1)
    total, cnt = 0.0, 0
    for j in range(k):
        dists = []
        for i in range(n):
            if tgt[i, j, 0] > 1 and tgt[i, j, 1] > 1:
                dists.append(np.linalg.norm(pred[i, j] / norm - tgt[i, j] / norm))
        if dists:
            acc[j + 1] = np.mean(np.array(dists) < thr)
            total += acc[j + 1]
            cnt += 1
        else:
            acc[j + 1] = -1
    avg = total / cnt if cnt else 0
    if cnt:
        acc[0] = avg
    return acc, avg, cnt, pred


def test_matches_official(golden):
    acc, avg, cnt, pred = E.accuracy(golden["dec_heatmaps"], golden["acc_tgt"])
    np.testing.assert_array_equal(acc, golden["acc_acc"])
    assert avg == golden["acc_avg"] and cnt == golden["acc_cnt"]
    np.testing.assert_array_equal(pred, golden["dec_max_preds"])
    # torch tensors are accepted
    acc_t, *_ = E.accuracy(torch.from_numpy(golden["dec_heatmaps"]), torch.from_numpy(golden["acc_tgt"]))
    np.testing.assert_array_equal(acc_t, golden["acc_acc"])


@pytest.mark.parametrize("thr", [0.5, 0.3, 1.0])
def test_equals_loop_reference(thr):
    rng = np.random.default_rng(0)
    for _ in range(5):
        out = rng.standard_normal((4, 17, 16, 12)).astype(np.float32)
        tgt = out + rng.normal(0, 0.7, out.shape).astype(np.float32)
        tgt[:, rng.random(17) < 0.3] = 0
        acc, avg, cnt, pred = E.accuracy(out, tgt, thr=thr)
        r_acc, r_avg, r_cnt, r_pred = loop_accuracy(out, tgt, thr)
        np.testing.assert_allclose(acc, r_acc, rtol=1e-12)
        assert avg == pytest.approx(r_avg) and cnt == r_cnt


def test_by_hand():
    hm = np.zeros((2, 3, 20, 10), np.float32)
    hm[:, 0, 10, 5] = 1  # perfect
    hm[:, 1, 10, 5] = 1
    tgt = hm.copy()
    tgt[0, 1, 10, 5], tgt[0, 1, 10, 7] = 0, 1  # 2 px off in x: 2 / (20 / 10) = 1.0 >= 0.5
    tgt[:, 2] = 0  # no target for joint 2
    acc, avg, cnt, _ = E.accuracy(hm, tgt)
    np.testing.assert_allclose(acc, [0.75, 1.0, 0.5, -1])
    assert avg == 0.75 and cnt == 2
    acc, avg, cnt, _ = E.accuracy(hm, np.zeros_like(hm))
    assert cnt == 0 and avg == 0 and (acc[1:] == -1).all() and acc[0] == 0
    assert E.dist_acc(np.array([-1.0, -1.0])) == -1
    assert E.dist_acc(np.array([0.1, 0.7, -1.0])) == 0.5
    with pytest.raises(ValueError):
        E.accuracy(hm, tgt, hm_type="nope")


def test_calc_dists_matches_norm_loop():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 64, (5, 7, 2))
    t = rng.uniform(0, 64, (5, 7, 2))
    t[0, 0] = [0.5, 30]
    norm = np.ones((5, 2)) * np.array([64, 48]) / 10
    ref = np.zeros((7, 5))
    for n in range(5):
        for c in range(7):
            if t[n, c, 0] > 1 and t[n, c, 1] > 1:
                ref[c, n] = np.linalg.norm(p[n, c].astype(np.float32) / norm[n] - t[n, c].astype(np.float32) / norm[n])
            else:
                ref[c, n] = -1
    np.testing.assert_array_equal(E.calc_dists(p, t, norm), ref)


def _mpii_case(n=40, seed=2):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(50, 500, (16, 2, n))
    ul = rng.uniform(0, 400, (2, n))
    head = np.stack([ul, ul + rng.uniform(10, 60, (2, n))])
    missing = (rng.random((16, n)) < 0.2).astype(np.int64)
    return pos, head, missing


def test_pckh_perfect_and_reference():
    pos, head, missing = _mpii_case()
    perfect = np.transpose(pos, [2, 0, 1]) - 1.0  # 0-based predictions of the 1-based truth
    res = E.mpii_pckh(perfect, pos, head, missing)
    assert list(res) == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]
    assert all(v == pytest.approx(100.0) for v in res.values())

    rng = np.random.default_rng(3)
    preds = perfect + rng.normal(0, 8, perfect.shape)
    res = E.mpii_pckh(preds, pos, head, missing)
    # straightforward reference: per joint, fraction of visible joints within 0.5 * 0.6 * head diagonal
    headsize = np.linalg.norm(head[1] - head[0], axis=0) * 0.6
    pck = np.zeros(16)
    count = np.zeros(16)
    for j in range(16):
        for i in range(pos.shape[2]):
            if not missing[j, i]:
                err = np.linalg.norm(preds[i, j] + 1 - pos[j, :, i]) / headsize[i]
                pck[j] += err <= 0.5
                count[j] += 1
    pck = 100 * pck / count
    names = E.MPII_JOINT_NAMES
    assert res["Head"] == pytest.approx(pck[names.index("head")])
    assert res["Knee"] == pytest.approx(0.5 * (pck[names.index("lkne")] + pck[names.index("rkne")]))
    keep = [i for i, n in enumerate(names) if n not in ("pelv", "thor")]
    assert res["Mean"] == pytest.approx(np.sum(pck[keep] * count[keep]) / count[keep].sum())
    assert 0 < res["Mean@0.1"] < res["Mean"]
