"""hrnet.dataset.synthetic: deterministic, valid COCO keypoint data of rendered people."""

from __future__ import annotations

import json
import math
import time

import cv2
import numpy as np
import pytest

from hrnet.dataset.synthetic import (
    KEYPOINT_NAMES,
    Appearance,
    Pose,
    generate_dataset,
    render_person,
    render_scene,
    write_video,
)


def test_generation_is_deterministic_and_splits_differ(tmp_path):
    a = generate_dataset(tmp_path / "a", 4, image_size=(96, 72), seed=7)
    b = generate_dataset(tmp_path / "b", 4, image_size=(96, 72), seed=7)
    c = generate_dataset(tmp_path / "c", 4, image_size=(96, 72), seed=8)
    v = generate_dataset(tmp_path / "a", 4, image_size=(96, 72), seed=7, split_name="val")
    assert a.read_text() == b.read_text() != c.read_text()
    for i in range(1, 5):
        name = f"images/train/{i:012d}.jpg"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    assert v == tmp_path / "a" / "annotations" / "person_keypoints_val.json"
    assert (tmp_path / "a/images/val/000000000001.jpg").read_bytes() != \
        (tmp_path / "a/images/train/000000000001.jpg").read_bytes()
    png = generate_dataset(tmp_path / "png", 1, image_size=(96, 72), seed=7, image_format="png")
    assert json.loads(png.read_text())["annotations"] == [
        x for x in json.loads(a.read_text())["annotations"] if x["image_id"] == 1]
    assert (tmp_path / "png/images/train/000000000001.png").is_file()
    # image i does not depend on how many images are generated
    d = generate_dataset(tmp_path / "d", 2, image_size=(96, 72), seed=7)
    assert json.loads(d.read_text())["annotations"] == [
        x for x in json.loads(a.read_text())["annotations"] if x["image_id"] <= 2]


def test_annotations_are_valid_coco(tmp_path):
    path = generate_dataset(tmp_path, 12, image_size=(160, 120), people=(1, 3), seed=0)
    doc = json.loads(path.read_text())
    assert doc["categories"][0]["keypoints"] == list(KEYPOINT_NAMES)
    assert len(doc["images"]) == 12 and all(img["width"] == 160 and img["height"] == 120 for img in doc["images"])
    per_image = np.bincount([a["image_id"] for a in doc["annotations"]], minlength=13)[1:]
    assert per_image.min() >= 1 and per_image.max() <= 3
    assert len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])
    vis_seen = set()
    for ann in doc["annotations"]:
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        vis_seen |= set(kp[:, 2].astype(int).tolist())
        lab = kp[kp[:, 2] > 0]
        assert np.all((lab[:, 0] >= 0) & (lab[:, 0] <= 159) & (lab[:, 1] >= 0) & (lab[:, 1] <= 119))
        assert np.all(kp[kp[:, 2] == 0, :2] == 0)
        assert ann["num_keypoints"] == len(lab)
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 160 and y + h <= 120 and 0 < ann["area"] <= w * h
        assert ann["iscrowd"] == 0 and ann["category_id"] == 1
    assert vis_seen == {0, 1, 2}  # visible, occluded, outside the image all occur

    # the project's annotation reader accepts it
    from hrnet.annotations import load_coco

    document = load_coco(path, image_root=tmp_path / "images" / "train")
    assert len(document.frames) == 12


def test_generation_is_fast(tmp_path):
    start = time.perf_counter()
    generate_dataset(tmp_path, 40, image_size=(320, 240), seed=1)
    assert time.perf_counter() - start < 10.0  # ~15 ms per image on one slow core


def test_left_and_right_limbs_look_different():
    image = np.full((240, 200, 3), 128, dtype=np.uint8)
    look = Appearance(left=(255, 60, 0), right=(0, 60, 255), torso=(90, 90, 90), skin=(150, 180, 220),
                      hair=(30, 30, 30))
    pose = Pose(x=100, y=130, height=200, left_arm_raise=60, right_arm_raise=60)
    joints, hidden, mask = render_person(image, pose, look)
    # frontal view: the person's left side is on the image's right
    assert joints[5, 0] > joints[6, 0] and joints[9, 0] > joints[10, 0]
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    for elbow, wrist, hue_range in ((7, 9, (90, 130)), (8, 10, (0, 20))):
        x, y = ((joints[elbow] + joints[wrist]) / 2).round().astype(int)
        assert hue_range[0] <= hsv[y, x, 0] <= hue_range[1] or (hue_range[0] == 0 and hsv[y, x, 0] >= 170)
    # the face is drawn on the visible side: nose between the eyes, eyes above the nose
    assert joints[2, 0] < joints[0, 0] < joints[1, 0] and joints[1, 1] < joints[0, 1]
    assert not hidden.any() and mask.max() == 255

    back = Pose(x=100, y=130, height=200, yaw=180)
    joints_b, hidden_b, _ = render_person(image.copy(), back, look)
    assert joints_b[5, 0] < joints_b[6, 0]  # seen from behind: left on the image's left
    assert hidden_b[:3].all() and not hidden_b[3:].any()  # nose and eyes hidden


def test_occluders_and_other_people_hide_joints():
    occluded = outside = 0
    for seed in range(30):
        scene = render_scene(seed, (160, 120), people=(2, 3), occlusion=1.0)
        for p in scene.people:
            occluded += int((p.keypoints[:, 2] == 1).sum())
            outside += int((p.keypoints[:, 2] == 0).sum())
            assert p.area > 0
    assert occluded > 20 and outside > 0


def test_render_scene_poses_vary():
    angles = []
    for seed in range(20):
        for p in render_scene(seed, (200, 150), people=1).people:
            kp = p.keypoints
            if kp[5, 2] and kp[9, 2] and kp[7, 2]:
                v1, v2 = kp[7, :2] - kp[5, :2], kp[9, :2] - kp[7, :2]
                angles.append(math.degrees(math.atan2(v1[0] * v2[1] - v1[1] * v2[0], v1 @ v2)))
    assert np.ptp(angles) > 90  # elbow bends of very different angles


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_write_video_with_per_frame_ground_truth(tmp_path, suffix):
    video = write_video(tmp_path / f"walk{suffix}", num_frames=12, fps=10, image_size=(160, 120), people=2, seed=1)
    assert video.num_frames == 12 and video.size == (160, 120)
    cap = cv2.VideoCapture(str(video.path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 12 and frames[0].shape == (120, 160, 3)
    assert frames[0].astype(int).sum() != frames[-1].astype(int).sum()  # people move
    assert all(1 <= len(people) <= 2 for people in video.frames)
    tracks = [p.track_id for p in video.frames[0]]
    assert tracks == sorted(set(tracks))
    first = {p.track_id: p for p in video.frames[0]}
    second = {p.track_id: p for p in video.frames[1]}
    moved = [np.abs(first[t].keypoints[:, :2] - second[t].keypoints[:, :2]).max() for t in first if t in second]
    assert moved and max(moved) > 0
    doc = video.to_coco()
    assert len(doc["images"]) == 12 and doc["images"][3]["frame_index"] == 3
