"""Synthetic data for keypoint sets other than COCO-17 (tests and the new-set benchmark).

- ``"body12"``: the synthetic people of :mod:`hrnet.dataset.synthetic` labelled with COCO's 12
  body joints (no face): a COCO subset, every joint of which a COCO model knows by name.
- ``"quadruped"``: four-legged animals seen from the side (body, neck, head, tail, four two-segment
  legs), labelled with :data:`QUADRUPED_15`, the AP-10K joints without the eyes; of those, a COCO
  model knows nose, shoulders, elbows, hips and knees by name (9 of 15).

:func:`generate_set_dataset` writes either in the same layout as
:func:`hrnet.dataset.synthetic.generate_dataset`, with the set in the file's keypoint category
(skeleton 1-based; flip pairs and sigmas under ``"hrnet_annotator"``).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hrnet.dataset import synthetic as S
from hrnet.dataset import synthetic_render as R
from hrnet.keypoints import AP10K_17, COCO_17, KeypointSet

__all__ = ["BODY_12", "QUADRUPED_15", "SYNTHETIC_SETS", "generate_set_dataset", "render_quadruped_scene"]

log = logging.getLogger(__name__)

BODY_12 = KeypointSet.from_names(
    COCO_17.names[5:], skeleton=[(a - 5, b - 5) for a, b in COCO_17.skeleton if a >= 5 and b >= 5],
    sigmas=COCO_17.sigmas[5:], name="COCO body-12",
)
"""COCO's 12 body joints (shoulders to ankles), without the face."""

_Q_NAMES = tuple(n for n in AP10K_17.names if "eye" not in n)
QUADRUPED_15 = KeypointSet.from_names(
    _Q_NAMES,
    skeleton=[(_Q_NAMES.index(AP10K_17.names[a]), _Q_NAMES.index(AP10K_17.names[b])) for a, b in AP10K_17.skeleton
              if "eye" not in AP10K_17.names[a] and "eye" not in AP10K_17.names[b]],
    sigmas=[AP10K_17.sigmas[AP10K_17.index(n)] for n in _Q_NAMES], name="quadruped-15",
)
"""AP-10K's animal joints without the eyes (too small to draw at this scale)."""

SYNTHETIC_SETS: dict[str, KeypointSet] = {"body12": BODY_12, "quadruped": QUADRUPED_15}
_BODY12_COLUMNS = [COCO_17.index(n) for n in BODY_12.names]


def _quadruped(image: np.ndarray, rng: np.random.Generator, x: float, y: float, length: float,
               facing: int, colour: tuple[int, int, int], near: tuple[int, int, int],
               far: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one animal (body centre ``x, y``, body ``length`` px, ``facing`` +1 right / -1 left);
    returns the (15, 2) joints, the (15,) self-occlusion flags and the drawn mask."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    tilt = math.radians(rng.normal(0, 6))
    ax = np.array([math.cos(tilt), math.sin(tilt)]) * facing  # body axis, head side
    up = np.array([ax[1], -ax[0]]) if facing > 0 else np.array([-ax[1], ax[0]])
    c = np.array([x, y])
    half = length / 2
    depth = length * rng.uniform(0.28, 0.4)
    shoulder = c + ax * half * 0.75 + up * depth * 0.15
    hip = c - ax * half * 0.75 + up * depth * 0.15
    neck = shoulder + ax * length * 0.22 + up * length * rng.uniform(0.15, 0.35)
    nose = neck + ax * length * rng.uniform(0.22, 0.32) + up * length * rng.normal(-0.05, 0.06)
    tail_root = c - ax * half * 1.0 + up * depth * 0.3
    leg_len = length * rng.uniform(0.45, 0.65)
    sep = depth * 0.18  # near legs lower-front, far legs a little behind

    def leg(top: np.ndarray, front: bool, is_near: bool) -> tuple[np.ndarray, np.ndarray]:
        swing = math.radians(rng.normal(0, 18))
        bend = math.radians(rng.uniform(-35, 35)) * (1 if front else -1)
        down = -up
        d1 = down * math.cos(swing) + ax * math.sin(swing)
        knee = top + d1 * leg_len * 0.5
        d2 = down * math.cos(swing + bend) + ax * math.sin(swing + bend)
        paw = knee + d2 * leg_len * 0.5
        off = (ax * sep * 0.6) * (0 if is_near else -1)
        return knee + off, paw + off

    # joints: shoulders/hips sit on the body outline; left = near side when facing right
    left_near = facing > 0
    tops = {"shoulder": shoulder - up * depth * 0.1, "hip": hip - up * depth * 0.1}
    legs = {}
    for side in ("left", "right"):
        is_near = (side == "left") == left_near
        legs[side] = (leg(tops["shoulder"], True, is_near), leg(tops["hip"], False, is_near), is_near)

    thick = max(2, int(length * 0.09))
    shift = R._SHIFT

    def line(a: np.ndarray, b: np.ndarray, col: tuple[int, int, int], t: int) -> None:
        pa = tuple(int(round(v * R._ONE)) for v in a)
        pb = tuple(int(round(v * R._ONE)) for v in b)
        cv2.line(image, pa, pb, col, t, cv2.LINE_AA, shift)
        cv2.line(mask, pa, pb, 255, t, cv2.LINE_8, shift)

    def draw_legs(near_side: bool) -> None:
        for side in ("left", "right"):
            (fk, fp), (bk, bp), is_near = legs[side]
            if is_near != near_side:
                continue
            col = near if is_near else far
            for top, k, p in ((tops["shoulder"], fk, fp), (tops["hip"], bk, bp)):
                line(top, k, col, thick)
                line(k, p, col, max(2, int(thick * 0.8)))

    draw_legs(near_side=False)  # far legs behind the body
    centre = (int(round(c[0] * R._ONE)), int(round(c[1] * R._ONE)))
    axes = (int(half * R._ONE), int(depth / 2 * R._ONE))
    angle = math.degrees(math.atan2(ax[1], ax[0]))
    cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA, shift)
    cv2.ellipse(mask, centre, axes, angle, 0, 360, 255, -1, cv2.LINE_8, shift)
    line(shoulder, neck, colour, int(thick * 1.3))
    line(neck, nose, R._shade(colour, 0.85), int(thick * 1.1))
    tail_tip = tail_root - ax * length * 0.3 + up * length * rng.normal(0, 0.15)
    line(tail_root, tail_tip, R._shade(colour, 0.7), max(2, thick // 2))
    draw_legs(near_side=True)

    order = {"nose": nose, "neck": neck, "root_of_tail": tail_root}
    for side in ("left", "right"):
        (fk, fp), (bk, bp), _ = legs[side]
        order[f"{side}_shoulder"] = tops["shoulder"]
        order[f"{side}_elbow"] = fk
        order[f"{side}_front_paw"] = fp
        order[f"{side}_hip"] = tops["hip"]
        order[f"{side}_knee"] = bk
        order[f"{side}_back_paw"] = bp
    joints = np.array([order[n] for n in QUADRUPED_15.names], dtype=np.float64)
    hidden = np.zeros(len(joints), dtype=bool)
    far_side = "right" if left_near else "left"
    for i, n in enumerate(QUADRUPED_15.names):  # the far shoulder and hip are behind the body
        if n in (f"{far_side}_shoulder", f"{far_side}_hip"):
            hidden[i] = True
    return joints, hidden, mask


def render_quadruped_scene(rng: np.random.Generator | int | None = None, image_size: tuple[int, int] = (320, 240),
                           animals: int | tuple[int, int] = (1, 2)) -> S.Scene:
    """One image of four-legged animals on a random background, labelled with :data:`QUADRUPED_15`."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    w, h = int(image_size[0]), int(image_size[1])
    lo, hi = (animals, animals) if isinstance(animals, int) else animals
    count = int(rng.integers(lo, hi + 1))
    image = S._background(rng, w, h)
    drawn = []
    for _ in range(count):
        length = w * rng.uniform(0.25, 0.45) / (1 + 0.2 * (count - 1))
        x = rng.uniform(0.3 * w, 0.7 * w)
        y = rng.uniform(0.35 * h, 0.6 * h)
        look = S.random_appearance(rng)
        drawn.append(_quadruped(image, rng, x, y, length, int(rng.choice([-1, 1])), look.torso, look.left,
                                look.right))
    people = []
    covered = np.zeros((h, w), np.uint8)
    for joints, hidden, mask in reversed(drawn):
        kp = R._label(joints, hidden, covered)
        area = cv2.countNonZero(mask)
        bbox = np.array(cv2.boundingRect(mask), dtype=np.float64) if area else np.zeros(4)
        people.append(S.RenderedPerson(keypoints=kp, bbox=bbox, area=float(area)))
        covered |= mask
    people.reverse()
    return S.Scene(image=S._finish(rng, image), people=[p for p in people if p.area > 0])


def generate_set_dataset(out_dir: str | os.PathLike[str], num_images: int, keypoints: str,
                         image_size: tuple[int, int] = (320, 240), seed: int = 0, split_name: str = "train",
                         image_format: str = "jpg") -> Path:
    """Write a dataset of ``keypoints`` (``"body12"`` or ``"quadruped"``, see the module docstring)
    in the layout of :func:`hrnet.dataset.synthetic.generate_dataset`; returns the annotation JSON."""
    if keypoints not in SYNTHETIC_SETS:
        raise ValueError(f"keypoints must be one of {', '.join(SYNTHETIC_SETS)}, not {keypoints!r}")
    kset = SYNTHETIC_SETS[keypoints]
    out = Path(out_dir)
    image_dir = out / "images" / split_name
    image_dir.mkdir(parents=True, exist_ok=True)
    base = S._split_seed(seed, f"{keypoints}/{split_name}")
    ext = image_format.lower().lstrip(".")
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i in range(num_images):
        rng = np.random.default_rng([base, i])
        if keypoints == "quadruped":
            scene = render_quadruped_scene(rng, image_size)
        else:
            scene = S.render_scene(rng, image_size)
            for p in scene.people:
                p.keypoints = p.keypoints[_BODY12_COLUMNS]
            scene.people = [p for p in scene.people if p.num_keypoints > 0]
        file_name = f"{i + 1:012d}.{ext}"
        S._write_image(image_dir / file_name, scene.image)
        images.append({"id": i + 1, "file_name": file_name, "width": int(image_size[0]),
                       "height": int(image_size[1])})
        annotations.extend(scene.annotations(i + 1, len(annotations) + 1))
    category = kset.to_category({"id": 1, "name": keypoints, "supercategory": keypoints})
    document = {"info": {"description": f"hrnet synthetic {kset.name} ({split_name}, seed {seed})"}, "licenses": [],
                "images": images, "annotations": annotations, "categories": [category]}
    ann_file = out / "annotations" / f"{keypoints}_{split_name}.json"
    S._write_json_atomic(document, ann_file)
    log.info("=> wrote %d synthetic %s images with %d instances to %s", num_images, kset.name, len(annotations), out)
    return ann_file
