"""Synthetic hands for the tests of hand-21 projects: an outstretched hand (palm and five fingers,
four joints each) drawn on a noisy background, with its 21 joints in :data:`hrnet.keypoints.HAND_21`
order (wrist, then thumb1..4, forefinger1..4, middle_finger1..4, ring_finger1..4, pinky_finger1..4)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from hrnet.keypoints import HAND_21

# finger direction (degrees from "up", thumb to pinky), base offset from the wrist along the palm
# (fraction of the hand size) and segment lengths
_FINGERS = ((-62.0, 0.22, (0.16, 0.13, 0.10, 0.08)), (-20.0, 0.42, (0.17, 0.11, 0.08, 0.07)),
            (0.0, 0.44, (0.18, 0.12, 0.09, 0.07)), (18.0, 0.42, (0.17, 0.11, 0.08, 0.07)),
            (36.0, 0.38, (0.14, 0.09, 0.07, 0.06)))


def hand_joints(rng: np.random.Generator, image_size: tuple[int, int]) -> np.ndarray:
    """(21, 2) joints of one hand at a random place, size and rotation inside the image."""
    w, h = image_size
    size = rng.uniform(0.55, 0.75) * min(w, h)
    angle = math.radians(rng.uniform(-25, 25))
    wrist = np.array([w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + 0.42 * size])
    pts = [np.zeros(2)]
    for direction, base, segments in _FINGERS:
        a = math.radians(direction + rng.uniform(-5, 5))
        d = np.array([math.sin(a), -math.cos(a)])
        p = d * base * size * (0.55 if direction < -50 else 1.0)
        for seg in segments:
            pts.append(p.copy())
            p = p + d * seg * size
    local = np.array(pts[:21])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return local @ rot.T + wrist


def render_hand(rng: np.random.Generator, image_size: tuple[int, int] = (128, 128)) -> tuple[np.ndarray, np.ndarray]:
    """A BGR image of one hand and its (21, 3) keypoints (x, y, v=2)."""
    w, h = image_size
    image = rng.integers(40, 120, size=(h, w, 3), dtype=np.uint8)
    joints = hand_joints(rng, image_size)
    skin = tuple(int(c) for c in rng.integers(150, 230, size=3))
    wrist = joints[0]
    palm = np.array([wrist, joints[1], joints[5], joints[9], joints[13], joints[17]], np.int32)
    cv2.fillConvexPoly(image, cv2.convexHull(palm), skin)
    thick = max(2, int(min(w, h) * 0.04))
    for a, b in HAND_21.skeleton:
        cv2.line(image, tuple(int(v) for v in joints[a]), tuple(int(v) for v in joints[b]), skin, thick)
    kps = np.concatenate([joints, np.full((21, 1), 2.0)], axis=1)
    inside = (kps[:, 0] >= 0) & (kps[:, 0] < w) & (kps[:, 1] >= 0) & (kps[:, 1] < h)
    kps[~inside] = 0
    return image, kps


def write_hand_images(folder: Path, num_images: int, seed: int = 0,
                      image_size: tuple[int, int] = (128, 128)) -> list[np.ndarray]:
    """Write ``num_images`` hand pictures (``hand_000.png``...) into ``folder``; returns their keypoints."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(num_images):
        image, kps = render_hand(np.random.default_rng([seed, i]), image_size)
        cv2.imwrite(str(folder / f"hand_{i:03d}.png"), image)
        out.append(kps)
    return out


def write_hand_project(folder: Path, num_images: int, seed: int = 0, image_size: tuple[int, int] = (128, 128)) -> Path:
    """A hand-21 COCO keypoint file of rendered hands (one per image) next to its images."""
    kps = write_hand_images(folder, num_images, seed, image_size)
    images, anns = [], []
    for i, k in enumerate(kps):
        images.append({"id": i + 1, "file_name": f"hand_{i:03d}.png", "width": image_size[0], "height": image_size[1]})
        vis = k[k[:, 2] > 0]
        x0, y0 = vis[:, :2].min(0)
        x1, y1 = vis[:, :2].max(0)
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": [float(v) for v in k.reshape(-1)],
                     "num_keypoints": int(len(vis)), "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                     "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0})
    doc = {"images": images, "annotations": anns,
           "categories": [HAND_21.to_category({"id": 1, "name": "hand", "supercategory": "hand"})]}
    path = folder / "hands.json"
    path.write_text(json.dumps(doc))
    return path
