"""hrnet.utils.vis: pose drawing and debug images (pixels checked where it matters)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hrnet.utils import vis as V


def coco_person(cx=100.0, cy=100.0, conf=0.9):
    rng = np.random.default_rng(0)
    k = np.zeros((17, 3))
    k[:, 0] = cx + rng.uniform(-40, 40, 17)
    k[:, 1] = cy + np.linspace(-60, 60, 17)
    k[:, 2] = conf
    return k


def test_draws_limbs_and_joints_in_side_colours():
    img = np.zeros((200, 200, 3), np.uint8)
    k = np.zeros((17, 3))
    k[:, 2] = 0.0
    # left shoulder (5) -> left elbow (7): a left limb, drawn green
    k[5] = [40, 100, 1.0]
    k[7] = [160, 100, 1.0]
    out = V.draw_poses(img, [k], radius=3, thickness=1)
    assert not img.any()  # the input is untouched
    assert tuple(out[100, 100]) == V.LEFT_COLOR
    assert tuple(out[40, 40]) == (0, 0, 0)
    # joint dot: white rim, side colour inside
    assert tuple(out[100, 40]) == V.LEFT_COLOR
    # right side is orange
    k2 = np.zeros((17, 3))
    k2[6] = [40, 50, 1.0]
    k2[8] = [160, 50, 1.0]
    out = V.draw_poses(img, [k2], radius=3, thickness=1)
    assert tuple(out[50, 100]) == V.RIGHT_COLOR


def test_confidence_threshold_and_bad_points():
    img = np.zeros((200, 200, 3), np.uint8)
    k = coco_person(conf=0.1)
    assert not V.draw_poses(img, [k], kpt_thr=0.3).any()
    assert V.draw_poses(img, [k], kpt_thr=0.05).any()
    k[:, 0] = np.nan
    assert not V.draw_poses(img, [k], kpt_thr=0.0).any()
    k[:, 0] = 1e12  # far away, no overflow
    assert not V.draw_poses(img, [k], kpt_thr=0.0).any()


def test_joints_only_custom_skeleton_scores_boxes_and_inplace():
    img = np.zeros((240, 320, 3), np.uint8)
    people = np.stack([coco_person(80, 120), coco_person(220, 120, conf=0.5)])
    out = V.draw_poses(
        img,
        people,
        skeleton=None,
        show_scores=True,
        scores=[0.9, 0.4],
        boxes_xyxy=[[30, 40, 130, 200], [170, 40, 270, 200]],
    )
    assert out.shape == img.shape and out.any()
    # a 5-joint animal with a 1-based COCO skeleton and no names: palette colours
    k5 = np.array([[20, 20, 1], [60, 20, 1], [100, 20, 1], [140, 20, 1], [180, 20, 1]], float)
    sk = V.skeleton_from_coco([[1, 2], [2, 3], [3, 4], [4, 5]])
    assert sk == [(0, 1), (1, 2), (2, 3), (3, 4)]
    buf = img.copy()
    res = V.draw_poses(buf, [k5], sk, copy=False, radius=2, thickness=1)
    assert res is buf and buf[20, 40].any()
    # (K, 2) keypoints: all shown
    assert V.draw_poses(img, [k5[:, :2]], sk).any()
    # grayscale in -> BGR out
    assert V.draw_poses(np.zeros((50, 50), np.uint8), [k5 / 4], sk).shape == (50, 50, 3)
    with pytest.raises(ValueError):
        V.draw_poses(np.zeros((50, 50, 3), np.float32), [k5], sk)
    with pytest.raises(ValueError):
        V.draw_poses(img, [np.zeros(5)], sk)


def test_colours_from_names():
    names = ["head", "left_paw", "right_paw", "tail"]
    assert V.joint_colors_for(4, names) == [V.CENTER_COLOR, V.LEFT_COLOR, V.RIGHT_COLOR, V.CENTER_COLOR]
    assert V.limb_colors_for([(1, 1), (0, 1)], 4, names) == [V.LEFT_COLOR, V.CENTER_COLOR]
    assert len(V.limb_colors_for(V.COCO_SKELETON, 17)) == len(V.COCO_SKELETON)


def test_debug_images(tmp_path):
    torch.manual_seed(0)
    images = torch.randn(3, 3, 64, 48)
    joints = torch.rand(3, 17, 3) * 40
    vis = torch.ones(3, 17, 3)
    heatmaps = torch.rand(3, 17, 16, 12)
    grid = V.save_batch_image_with_joints(images, joints, vis, tmp_path / "gt.jpg", nrow=2)
    assert grid.shape == (2 * 66 + 2, 2 * 50 + 2, 3)
    assert cv2.imread(str(tmp_path / "gt.jpg")).shape == grid.shape
    hm = V.save_batch_heatmaps(images, heatmaps, tmp_path / "hm.png")
    assert hm.shape == (3 * 16, 18 * 12, 3)
    V.save_debug_images(tmp_path / "dbg", images, {"joints": joints, "joints_vis": vis}, heatmaps, joints, heatmaps)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dbg_gt.jpg",
        "dbg_hm_gt.jpg",
        "dbg_hm_pred.jpg",
        "dbg_pred.jpg",
        "gt.jpg",
        "hm.png",
    ]
