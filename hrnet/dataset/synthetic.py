"""Synthetic COCO keypoint data: rendered stick-figure people with exact keypoints.

Every person is a 2-D articulated figure with plausible human proportions (head, neck, torso,
two-segment arms and legs, hands and feet) and the 17 COCO keypoints: a head circle with eyes,
ears and nose placed on it by the head's yaw, shoulders and hips at the torso's corners, elbows,
wrists, knees and ankles at the limb joints. Poses vary (torso lean, yaw from frontal through
profile to back view, joint angles), as do scale, position and count per image. Backgrounds are
smooth colour fields with noise and clutter (lines, boxes, blobs); occluder shapes hide parts of
people. The person's left limbs are drawn in cool colours (blue/cyan) and slightly thinner, the
right ones in warm colours (red/orange), left/right ears and eyes are tinted the same way, so
left and right can be told apart (and horizontal flips are learnable).

Keypoint visibility follows COCO: 2 visible, 1 hidden (by a later-drawn person, an occluder, the
person's own body in profile view, or the back of the head), 0 outside the image (then x = y =
0). ``bbox`` is the box of the person's drawn pixels inside the image and ``area`` their count.

Everything is deterministic given the seed (image ``i`` of a split depends only on the seed,
the split name and ``i``), and fast: a few milliseconds per 320x240 image.

>>> ann_file = generate_dataset("data/synth", 200, seed=0, split_name="train")
>>> scene = render_scene(np.random.default_rng(0), image_size=(320, 240))
>>> video = write_video("walk.mp4", num_frames=48)
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hrnet.errors import DatasetError, MediaError
from hrnet.keypoints import COCO_KEYPOINTS, COCO_SKELETON
from hrnet.utils.io import write_json

__all__ = [
    "KEYPOINT_NAMES",
    "SKELETON",
    "Appearance",
    "Pose",
    "RenderStyle",
    "RenderedPerson",
    "STYLES",
    "Scene",
    "SyntheticVideo",
    "coco_category",
    "generate_dataset",
    "render_person",
    "render_scene",
    "random_appearance",
    "random_pose",
    "write_video",
]

log = logging.getLogger(__name__)

KEYPOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS
SKELETON: tuple[tuple[int, int], ...] = COCO_SKELETON  # 0-based

# Body proportions as fractions of the standing height.
_HEAD_R = 0.062
_NECK = 0.035
_TORSO = 0.30
_SHOULDER_HALF = 0.115
_HIP_HALF = 0.075
_UPPER_ARM = 0.165
_FOREARM = 0.15
_THIGH = 0.245
_SHIN = 0.235
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def coco_category() -> dict[str, Any]:
    """The COCO 'person' keypoint category (skeleton 1-based, as COCO files store it)."""
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(KEYPOINT_NAMES),
        "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
    }


# ---------------------------------------------------------------------------------------------
# Pose and appearance
# ---------------------------------------------------------------------------------------------
@dataclass
class Pose:
    """A person's placement and joint angles (degrees).

    ``x, y``: pelvis (mid-hip) in image pixels; ``height``: standing height in pixels;
    ``lean``: torso angle from upright (positive = clockwise on screen); ``yaw``: 0 faces the
    camera, +90 faces image right, 180 shows the back; ``head_tilt`` relative to the torso.
    Arm/leg ``*_raise`` angles turn the upper limb from hanging down (0) outwards to the
    person's side (90 = horizontal, 180 = straight up, negative = across the body); ``*_bend``
    turns the lower limb relative to the upper one.
    """

    x: float
    y: float
    height: float
    lean: float = 0.0
    yaw: float = 0.0
    head_tilt: float = 0.0
    left_arm_raise: float = 10.0
    left_elbow_bend: float = 0.0
    right_arm_raise: float = 10.0
    right_elbow_bend: float = 0.0
    left_leg_raise: float = 5.0
    left_knee_bend: float = 0.0
    right_leg_raise: float = 5.0
    right_knee_bend: float = 0.0


@dataclass
class Appearance:
    """Colours (BGR) and line thickness factors of one person."""

    left: tuple[int, int, int]
    right: tuple[int, int, int]
    torso: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    width: float = 1.0  # limb thickness factor
    build: float = 1.0  # shoulder/hip width factor


@dataclass
class RenderedPerson:
    """Ground truth of one drawn person."""

    keypoints: np.ndarray  # (17, 3) float64: x, y, visibility (0, 1, 2)
    bbox: np.ndarray  # (4,) float64 x, y, w, h of the drawn pixels inside the image
    area: float  # number of drawn pixels inside the image
    track_id: int = 0

    @property
    def num_keypoints(self) -> int:
        return int(np.count_nonzero(self.keypoints[:, 2] > 0))

    def to_annotation(self, image_id: int, annotation_id: int) -> dict[str, Any]:
        """A COCO keypoint annotation dict."""
        kp = self.keypoints.copy()
        kp[:, :2] = np.round(kp[:, :2], 2)
        return {
            "id": annotation_id,
            "image_id": image_id,
            "category_id": 1,
            "iscrowd": 0,
            "keypoints": [float(v) if i % 3 != 2 else int(v) for i, v in enumerate(kp.reshape(-1))],
            "num_keypoints": self.num_keypoints,
            "bbox": [float(v) for v in self.bbox],
            "area": float(self.area),
            "segmentation": [],
            "track_id": self.track_id,
        }


@dataclass
class Scene:
    """A rendered image (HxWx3 uint8 BGR) and its people."""

    image: np.ndarray
    people: list[RenderedPerson] = field(default_factory=list)

    def annotations(self, image_id: int, first_annotation_id: int = 1) -> list[dict[str, Any]]:
        return [p.to_annotation(image_id, first_annotation_id + i) for i, p in enumerate(self.people)]


def _hsv_color(h: float, s: float, v: float) -> tuple[int, int, int]:
    hsv = np.array([[[h % 180, s, v]]], dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


@dataclass(frozen=True)
class RenderStyle:
    """Options that change the look of the rendered people and scenes (another "domain"), e.g. to
    measure fine-tuning on data the demo model was not trained on. The default changes nothing.

    ``limb_width`` / ``build`` multiply the limb thickness and the shoulder / hip width;
    ``left_hue`` / ``right_hue`` (OpenCV hue ranges, 0-180) replace the clothes' colour families;
    ``background`` ``"plain"`` draws a flat, slightly noisy background without clutter.
    """

    limb_width: float = 1.0
    build: float = 1.0
    left_hue: tuple[float, float] | None = None
    right_hue: tuple[float, float] | None = None
    background: str = "default"


# Named styles: "default" (the demo model's domain) and "thin" (thin limbs, green / purple clothes,
# plain backgrounds: a domain where the demo model does poorly).
STYLES: dict[str, RenderStyle] = {
    "default": RenderStyle(),
    "thin": RenderStyle(limb_width=0.35, build=0.8, left_hue=(40, 70), right_hue=(135, 165), background="plain"),
}


def _style(style: RenderStyle | str | None) -> RenderStyle:
    if style is None:
        return STYLES["default"]
    if isinstance(style, str):
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}")
        return STYLES[style]
    return style


def _styled(rng: np.random.Generator, a: Appearance, style: RenderStyle) -> Appearance:
    if style == STYLES["default"]:
        return a
    left, right = a.left, a.right
    if style.left_hue is not None:
        left = _hsv_color(rng.uniform(*style.left_hue), rng.uniform(150, 255), rng.uniform(140, 255))
    if style.right_hue is not None:
        right = _hsv_color(rng.uniform(*style.right_hue), rng.uniform(150, 255), rng.uniform(140, 255))
    return replace(a, left=left, right=right, width=a.width * style.limb_width, build=a.build * style.build)


def random_appearance(rng: np.random.Generator, style: RenderStyle | str | None = None) -> Appearance:
    """Random clothes and skin; left limbs cool coloured, right limbs warm coloured (unless
    ``style`` says otherwise, see :class:`RenderStyle`)."""
    left = _hsv_color(rng.uniform(92, 128), rng.uniform(150, 255), rng.uniform(140, 255))
    right_h = rng.uniform(-8, 22)
    right = _hsv_color(right_h, rng.uniform(150, 255), rng.uniform(150, 255))
    torso = _hsv_color(rng.uniform(0, 180), rng.uniform(0, 200), rng.uniform(50, 240))
    skin = _hsv_color(rng.uniform(5, 20), rng.uniform(60, 160), rng.uniform(90, 250))
    hair = _hsv_color(rng.uniform(0, 30), rng.uniform(0, 200), rng.uniform(10, 120))
    a = Appearance(left=left, right=right, torso=torso, skin=skin, hair=hair,
                   width=float(rng.uniform(0.8, 1.25)), build=float(rng.uniform(0.85, 1.2)))
    return _styled(rng, a, _style(style))


def random_pose(rng: np.random.Generator, x: float, y: float, height: float) -> Pose:
    """A varied but plausible pose at pelvis ``(x, y)``."""
    if rng.random() < 0.1:  # acrobatics, lying down, falling
        lean = rng.uniform(-180, 180)
    else:
        lean = rng.normal(0, 10)
    yaw_kind = rng.random()
    if yaw_kind < 0.45:
        yaw = rng.normal(0, 20)  # frontal
    elif yaw_kind < 0.75:
        yaw = rng.choice([-1, 1]) * rng.uniform(50, 110)  # profile
    else:
        yaw = 180 + rng.normal(0, 25)  # back view

    def arm() -> tuple[float, float]:
        r = rng.random()
        if r < 0.35:
            return rng.uniform(-15, 35), rng.uniform(-40, 40)  # hanging
        if r < 0.75:
            return rng.uniform(20, 120), rng.uniform(-150, 150)  # working / gesturing
        return rng.uniform(110, 185), rng.uniform(-60, 60)  # raised

    def leg() -> tuple[float, float]:
        r = rng.random()
        if r < 0.6:
            return rng.uniform(-10, 25), rng.uniform(-20, 25)  # standing
        if r < 0.9:
            return rng.uniform(-40, 60), rng.uniform(-110, 110)  # walking, kneeling
        return rng.uniform(40, 110), rng.uniform(-90, 90)  # kicking, sitting

    la, le = arm()
    ra, re_ = arm()
    ll, lk = leg()
    rl, rk = leg()
    return Pose(x=x, y=y, height=height, lean=float(lean), yaw=float(yaw), head_tilt=float(rng.normal(0, 12)),
                left_arm_raise=float(la), left_elbow_bend=float(le), right_arm_raise=float(ra),
                right_elbow_bend=float(re_), left_leg_raise=float(ll), left_knee_bend=float(lk),
                right_leg_raise=float(rl), right_knee_bend=float(rk))


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass
class _Skeleton:
    joints: np.ndarray  # (17, 2)
    face_hidden: np.ndarray  # (17,) bool: face point on the far side of the head
    head_center: np.ndarray
    head_r: float
    head_up: np.ndarray
    head_side: np.ndarray
    neck: np.ndarray
    hands: tuple[np.ndarray, np.ndarray]  # left, right hand centres
    feet: tuple[np.ndarray, np.ndarray]  # left, right toe points
    left_is_far: bool
    profile: bool


def _skeleton(p: Pose, build: float = 1.0) -> _Skeleton:
    H = p.height
    up = _rot(np.array([0.0, -1.0]), p.lean)  # torso up direction
    side = _rot(np.array([1.0, 0.0]), p.lean)  # image-right when upright
    cyaw = math.cos(math.radians(p.yaw))
    syaw = math.sin(math.radians(p.yaw))
    width = math.copysign(max(abs(cyaw), 0.18), cyaw if cyaw != 0 else 1.0)
    left_dir = side * (1.0 if width > 0 else -1.0)  # where the person's left side points

    pelvis = np.array([p.x, p.y], dtype=np.float64)
    shoulder_c = pelvis + up * _TORSO * H
    l_sh = shoulder_c + side * _SHOULDER_HALF * H * width * build
    r_sh = shoulder_c - side * _SHOULDER_HALF * H * width * build
    l_hip = pelvis + side * _HIP_HALF * H * width * build
    r_hip = pelvis - side * _HIP_HALF * H * width * build
    down = -up

    def limb(start: np.ndarray, outward: np.ndarray, raise_deg: float, bend_deg: float,
             l1: float, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # rotate "down" towards "outward" by raise_deg; the sign of the rotation that does so
        sign = 1.0 if (down[0] * outward[1] - down[1] * outward[0]) > 0 else -1.0
        d1 = _rot(down, sign * raise_deg)
        mid = start + d1 * l1 * H
        d2 = _rot(d1, sign * bend_deg)
        end = mid + d2 * l2 * H
        return mid, end, d2

    l_el, l_wr, l_fd = limb(l_sh, left_dir, p.left_arm_raise, p.left_elbow_bend, _UPPER_ARM, _FOREARM)
    r_el, r_wr, r_fd = limb(r_sh, -left_dir, p.right_arm_raise, p.right_elbow_bend, _UPPER_ARM, _FOREARM)
    l_kn, l_an, l_sd = limb(l_hip, left_dir, p.left_leg_raise, -p.left_knee_bend, _THIGH, _SHIN)
    r_kn, r_an, r_sd = limb(r_hip, -left_dir, p.right_leg_raise, -p.right_knee_bend, _THIGH, _SHIN)

    head_up = _rot(up, p.head_tilt)
    head_side = _rot(side, p.head_tilt)
    r = _HEAD_R * H
    neck = shoulder_c + up * 0.01 * H
    head_c = shoulder_c + head_up * (_NECK * H + r)

    def face_point(azimuth: float, radius: float, drop: float) -> tuple[np.ndarray, bool]:
        a = math.radians(azimuth + p.yaw)
        pos = head_c + head_side * (radius * r * math.sin(a)) - head_up * (drop * r)
        return pos, math.cos(a) < -0.05

    face = [
        face_point(0, 1.0, 0.2),  # nose
        face_point(32, 0.8, -0.2),  # left eye
        face_point(-32, 0.8, -0.2),  # right eye
        face_point(90, 1.0, 0.0),  # left ear
        face_point(-90, 1.0, 0.0),  # right ear
    ]
    joints = np.array([f[0] for f in face] + [l_sh, r_sh, l_el, r_el, l_wr, r_wr, l_hip, r_hip, l_kn, r_kn,
                                              l_an, r_an])
    face_hidden = np.zeros(17, dtype=bool)
    face_hidden[:5] = [f[1] for f in face]

    toe = side * (1.0 if syaw >= 0 else -1.0)
    foot_len = 0.06 * H * min(1.0, abs(syaw) + 0.25)
    feet = (l_an + toe * foot_len + l_sd * 0.015 * H, r_an + toe * foot_len + r_sd * 0.015 * H)
    hands = (l_wr + l_fd * 0.03 * H, r_wr + r_fd * 0.03 * H)
    return _Skeleton(joints=joints, face_hidden=face_hidden, head_center=head_c, head_r=r, head_up=head_up,
                     head_side=head_side, neck=neck, hands=hands, feet=feet,
                     left_is_far=syaw > 0, profile=abs(syaw) > 0.5)


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------
def _pt(p: np.ndarray) -> tuple[int, int]:
    x, y = p.tolist()
    return math.floor(x * _ONE + 0.5), math.floor(y * _ONE + 0.5)


class _Canvas:
    """Draws every primitive into the colour image (anti-aliased) and into a person mask."""

    def __init__(self, image: np.ndarray, mask: np.ndarray) -> None:
        self.image = image
        self.mask = mask

    def line(self, a: np.ndarray, b: np.ndarray, color: tuple[int, int, int], thickness: float) -> None:
        t = max(1, int(round(thickness)))
        cv2.line(self.image, _pt(a), _pt(b), color, t, cv2.LINE_AA, _SHIFT)
        cv2.line(self.mask, _pt(a), _pt(b), 255, t, cv2.LINE_8, _SHIFT)

    def circle(self, c: np.ndarray, radius: float, color: tuple[int, int, int]) -> None:
        rr = max(1, int(round(radius * _ONE)))
        cv2.circle(self.image, _pt(c), rr, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(self.mask, _pt(c), rr, 255, -1, cv2.LINE_8, _SHIFT)

    def poly(self, pts: Sequence[np.ndarray], color: tuple[int, int, int]) -> None:
        arr = np.array([_pt(p) for p in pts], dtype=np.int32)
        cv2.fillConvexPoly(self.image, arr, color, cv2.LINE_AA, _SHIFT)
        cv2.fillConvexPoly(self.mask, arr, 255, cv2.LINE_8, _SHIFT)


def _shade(color: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * f))) for c in color)  # type: ignore[return-value]


def render_person(image: np.ndarray, pose: Pose, appearance: Appearance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one person into ``image`` (in place).

    Returns ``(joints (17, 2), hidden (17,) bool, mask)``: exact keypoints, joints the person's own
    body hides (back of the head; far-side limbs behind the body in profile), and the mask
    (uint8 0/255) of the drawn pixels.
    """
    h, w = image.shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    sk = _skeleton(pose, appearance.build)
    j = sk.joints
    H = pose.height
    a = appearance
    arm_t = 0.045 * H * a.width
    leg_t = 0.06 * H * a.width
    canvas = _Canvas(image, mask)

    def arm(side: str) -> None:
        sh, el, wr = (5, 7, 9) if side == "left" else (6, 8, 10)
        color = a.left if side == "left" else a.right
        t = arm_t * (1.0 if side == "left" else 1.18)
        canvas.line(j[sh], j[el], color, t)
        canvas.line(j[el], j[wr], _shade(color, 0.85), t * 0.9)
        canvas.circle(j[el], t * 0.5, _shade(color, 0.6))
        canvas.circle(sk.hands[0 if side == "left" else 1], t * 0.7, a.skin)

    def leg(side: str) -> None:
        hp, kn, an = (11, 13, 15) if side == "left" else (12, 14, 16)
        color = _shade(a.left if side == "left" else a.right, 0.8)
        t = leg_t * (1.0 if side == "left" else 1.15)
        canvas.line(j[hp], j[kn], color, t)
        canvas.line(j[kn], j[an], _shade(color, 0.9), t * 0.85)
        canvas.circle(j[kn], t * 0.5, _shade(color, 0.6))
        canvas.line(j[an], sk.feet[0 if side == "left" else 1], _shade(color, 0.45), t * 0.6)

    def torso() -> None:
        l_sh, r_sh, l_hp, r_hp = j[5], j[6], j[11], j[12]
        canvas.poly([l_sh, r_sh, r_hp, l_hp], a.torso)
        canvas.line(l_sh, r_sh, _shade(a.torso, 0.8), arm_t)
        canvas.line(l_hp, r_hp, _shade(a.torso, 0.6), leg_t * 0.8)
        canvas.line(sk.neck, sk.head_center, a.skin, 0.05 * H)

    def head() -> None:
        c, r = sk.head_center, sk.head_r
        back = math.cos(math.radians(pose.yaw)) < -0.3
        canvas.circle(c, r, a.hair if back else a.skin)
        if not back:  # hair cap on the top of the head
            cap = c + sk.head_up * (0.45 * r)
            canvas.circle(cap, r * 0.72, a.hair)
            canvas.circle(c - sk.head_up * 0.12 * r, r * 0.8, a.skin)
        ear_r, eye_r = max(1.2, 0.22 * r), max(1.0, 0.14 * r)
        for k, color in ((3, a.left), (4, a.right)):
            if not sk.face_hidden[k]:
                canvas.circle(j[k], ear_r, _shade(color, 0.9))
        for k, color in ((1, (120, 40, 20)), (2, (20, 40, 120))):
            if not sk.face_hidden[k]:
                canvas.circle(j[k], eye_r, color)
        if not sk.face_hidden[0]:
            canvas.circle(j[0], max(1.0, 0.16 * r), (60, 70, 170))

    front_mask = None
    if sk.profile:
        far, near = ("left", "right") if sk.left_is_far else ("right", "left")
        arm(far)
        leg(far)
        front_mask = np.zeros_like(mask)
        canvas.mask = front_mask
        torso()
        leg(near)
        arm(near)
        head()
        mask |= front_mask
    else:
        leg("left")
        leg("right")
        torso()
        arm("left")
        arm("right")
        head()

    hidden = sk.face_hidden.copy()
    if front_mask is not None:
        far_ids = (5, 7, 9, 11, 13, 15) if sk.left_is_far else (6, 8, 10, 12, 14, 16)
        for k in far_ids:
            x, y = int(round(j[k, 0])), int(round(j[k, 1]))
            if 0 <= x < w and 0 <= y < h and front_mask[y, x]:
                hidden[k] = True
    return j, hidden, mask


# ---------------------------------------------------------------------------------------------
# Backgrounds, occluders, scenes
# ---------------------------------------------------------------------------------------------
def _background(rng: np.random.Generator, w: int, h: int, style: RenderStyle | None = None) -> np.ndarray:
    if style is not None and style.background == "plain":
        base = rng.uniform(20, 235, size=3).astype(np.float32)
        noise = rng.normal(0, 6, size=(h, w, 1)).astype(np.float32)
        return np.clip(base[None, None, :] + noise, 0, 255).astype(np.uint8)
    cells = (int(rng.integers(2, 7)), int(rng.integers(2, 6)))
    field_ = rng.uniform(0, 255, size=(cells[1], cells[0], 3)).astype(np.float32)
    image = cv2.resize(field_, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # fine texture
        tex = rng.normal(0, rng.uniform(5, 30), size=(max(2, h // 4), max(2, w // 4), 1)).astype(np.float32)
        image += cv2.resize(tex, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    if rng.random() < 0.3:  # stripes
        period = rng.uniform(6, 40)
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * (2 * math.pi / period))
        image += (stripes * rng.uniform(5, 30))[..., None]
    saturation = rng.uniform(0.2, 1.0)  # from nearly grey scenes to vivid ones
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * np.float32(saturation)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 12))):  # clutter
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.random()
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind < 0.4:
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(image, p1, p2, color, int(rng.integers(1, max(2, h // 30))), cv2.LINE_AA)
        elif kind < 0.7:
            p2 = (p1[0] + int(rng.integers(-w // 4, w // 4)), p1[1] + int(rng.integers(-h // 4, h // 4)))
            cv2.rectangle(image, p1, p2, color, -1 if rng.random() < 0.6 else 2)
        else:
            axes = (int(rng.integers(2, max(3, w // 10))), int(rng.integers(2, max(3, h // 10))))
            cv2.ellipse(image, p1, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    return image


def _occluder(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, center: np.ndarray, size: float) -> None:
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    c = (int(center[0]), int(center[1]))
    kind = rng.random()
    sx, sy = size * rng.uniform(0.4, 1.0), size * rng.uniform(0.4, 1.0)
    if kind < 0.45:
        angle = rng.uniform(0, 180)
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (float(2 * sx), float(2 * sy)), float(angle)))
        pts = np.round(box).astype(np.int32)
        for target, value in ((image, color), (mask, 255)):
            cv2.fillConvexPoly(target, pts, value)
    elif kind < 0.8:
        axes = (max(2, int(sx)), max(2, int(sy)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(image, c, axes, angle, 0, 360, color, -1, cv2.LINE_AA)
        cv2.ellipse(mask, c, axes, angle, 0, 360, 255, -1)
    else:
        n = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        radii = size * rng.uniform(0.5, 1.0, n)
        pts = np.stack([c[0] + radii * np.cos(angles), c[1] + radii * np.sin(angles)], axis=1).astype(np.int32)
        cv2.fillPoly(image, [pts], color, cv2.LINE_AA)
        cv2.fillPoly(mask, [pts], 255)


_NOISE_MARGIN = 64
_noise_cache: dict[tuple[int, ...], np.ndarray] = {}


def _noise_field(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed standard-normal field a little larger than ``shape`` (made once per shape, from a
    constant seed): sliced at a random offset it is per-image sensor noise at the cost of a copy."""
    key = (shape[0] + _NOISE_MARGIN, shape[1] + _NOISE_MARGIN, *shape[2:])
    field_ = _noise_cache.get(key)
    if field_ is None:
        if len(_noise_cache) > 8:
            _noise_cache.clear()
        field_ = np.random.default_rng(20240601).standard_normal(key, dtype=np.float32)
        _noise_cache[key] = field_
    return field_


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera effects: blur, contrast/brightness, sensor noise."""
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 1.0))
    gain, offset, sigma = rng.uniform(0.8, 1.2), rng.uniform(-25, 25), rng.uniform(0, 8)
    h, w = image.shape[:2]
    dy, dx = (int(v) for v in rng.integers(0, _NOISE_MARGIN, 2))
    out = _noise_field(image.shape)[dy:dy + h, dx:dx + w] * np.float32(sigma)
    out += image.astype(np.float32) * np.float32(gain) + np.float32(offset)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _label(joints: np.ndarray, hidden: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(17, 3) COCO keypoints from positions, self-occlusion and the mask of what covers them."""
    h, w = covered.shape
    kp = np.zeros((len(joints), 3), dtype=np.float64)
    for k, (x, y) in enumerate(joints):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            continue  # outside the image: not labelled
        xi, yi = int(round(x)), int(round(y))
        occluded = hidden[k] or covered[yi, xi] > 0
        kp[k] = (x, y, 1 if occluded else 2)
    return kp


def _place_people(rng: np.random.Generator, w: int, h: int, count: int) -> list[Pose]:
    poses = []
    for _ in range(count):
        height = h * rng.uniform(0.4, 0.95) / (1.0 + 0.15 * (count - 1))
        lo, hi = 0.5 * height, h - 0.45 * height
        y = rng.uniform(lo, hi) if hi > lo else h / 2
        y += rng.normal(0, 0.05 * height)
        x = rng.uniform(0.08 * w, 0.92 * w)
        poses.append(random_pose(rng, x, y, height))
    poses.sort(key=lambda p: p.y + 0.48 * p.height)  # feet lower in the image = nearer = drawn later
    return poses


def _compose(
    rng: np.random.Generator,
    background: np.ndarray,
    people: Sequence[tuple[Pose, Appearance]],
    occluders: Sequence[tuple[np.ndarray, float, int]] = (),
    track_ids: Sequence[int] | None = None,
    walls: Sequence[tuple[int, int, int, int, tuple[int, int, int]]] = (),
) -> Scene:
    """Draw ``people`` back to front on ``background``, then the ``occluders`` (blobs) and ``walls``
    (filled ``x0, y0, x1, y1, colour`` rectangles in front of everyone), and label what they hide."""
    image = background.copy()
    h, w = image.shape[:2]
    drawn = []
    for pose, appearance in people:
        joints, hidden, mask = render_person(image, pose, appearance)
        drawn.append((joints, hidden, mask))
    occ_mask = np.zeros((h, w), dtype=np.uint8)
    for center, size, occ_seed in occluders:
        _occluder(np.random.default_rng(occ_seed), image, occ_mask, center, size)
    for x0, y0, x1, y1, color in walls:
        cv2.rectangle(image, (x0, y0), (x1, y1), color, -1)
        cv2.rectangle(occ_mask, (x0, y0), (x1, y1), 255, -1)

    result = []
    covered = occ_mask.copy()
    for i in range(len(drawn) - 1, -1, -1):  # from the front-most person backwards
        joints, hidden, mask = drawn[i]
        kp = _label(joints, hidden, covered)
        area = cv2.countNonZero(mask)
        bbox = np.array(cv2.boundingRect(mask), dtype=np.float64) if area else np.zeros(4)
        tid = track_ids[i] if track_ids is not None else i
        result.append(RenderedPerson(keypoints=kp, bbox=bbox, area=float(area), track_id=int(tid)))
        covered |= mask
    result.reverse()
    return Scene(image=image, people=[p for p in result if p.area > 0])


def render_scene(
    rng: np.random.Generator | int | None = None,
    image_size: tuple[int, int] = (320, 240),
    people: int | tuple[int, int] = (1, 3),
    occlusion: float = 0.5,
    style: RenderStyle | str | None = None,
) -> Scene:
    """Render one image of ``people`` persons (a count or an inclusive ``(min, max)`` range) on a
    random background, with occluders with probability ``occlusion``. ``rng`` is a numpy
    Generator or a seed; ``style`` a :class:`RenderStyle` or a name in :data:`STYLES`. Returns a
    :class:`Scene` (BGR image + per-person ground truth)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    w, h = int(image_size[0]), int(image_size[1])
    if w < 16 or h < 16:
        raise ValueError(f"image_size must be at least 16x16, not {image_size}")
    lo, hi = (people, people) if isinstance(people, int) else people
    count = int(rng.integers(lo, hi + 1))
    look = _style(style)
    background = _background(rng, w, h, look)
    poses = _place_people(rng, w, h, count)
    persons = [(p, random_appearance(rng, look)) for p in poses]
    occluders = []
    if poses and rng.random() < occlusion:
        for _ in range(int(rng.integers(1, 3))):
            pose = poses[int(rng.integers(len(poses)))]
            target = _skeleton(pose).joints[int(rng.integers(17))]
            occluders.append((target + rng.normal(0, 0.05 * pose.height, 2), pose.height * rng.uniform(0.06, 0.18),
                              int(rng.integers(1 << 31))))
    scene = _compose(rng, background, persons, occluders)
    scene.image = _finish(rng, scene.image)
    return scene


# ---------------------------------------------------------------------------------------------
# Datasets on disk
# ---------------------------------------------------------------------------------------------
def _split_seed(seed: int, split_name: str) -> int:
    return zlib.crc32(split_name.encode("utf-8")) ^ (seed & 0xFFFFFFFF)


def _write_json_atomic(obj: Any, path: Path) -> None:
    write_json(path, obj, mkdir=True)


def _write_image(path: Path, image: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise DatasetError(f"Cannot encode image {path}")
    try:
        data.tofile(str(path))
    except OSError as e:
        raise DatasetError(f"Cannot write image {path}: {e.strerror or e}") from e


def generate_dataset(
    out_dir: str | os.PathLike[str],
    num_images: int,
    image_size: tuple[int, int] = (320, 240),
    people: int | tuple[int, int] = (1, 3),
    seed: int = 0,
    split_name: str = "train",
    image_format: str = "jpg",
    occlusion: float = 0.5,
    keypoints: str = "coco",
    style: RenderStyle | str | None = None,
) -> Path:
    """Write a COCO keypoint dataset of ``num_images`` rendered images and return the path of its
    annotation JSON. ``keypoints``: ``"coco"`` (the default, COCO-17 people) or another set of
    :mod:`hrnet.dataset.synthetic_sets` (``"body12"``: COCO's body without the face; ``"quadruped"``:
    four-legged animals).

    Layout (the official COCO one, so it also loads as ``DATASET.DATASET: coco`` when
    ``image_format='jpg'``, the default: JPEG (quality 95) decodes several times faster than PNG
    for these noisy images; the keypoints are exact either way)::

        out_dir/annotations/person_keypoints_<split_name>.json
        out_dir/images/<split_name>/<image id:012d>.<image_format>

    For ``coco_json``: ``DATASET.TRAIN_ANNOTATIONS`` = the returned path, ``DATASET.TRAIN_IMAGES``
    = ``out_dir/images/<split_name>``. Image ids start at 1. Deterministic given ``seed`` and
    ``split_name`` (different splits differ).
    """
    if num_images < 0:
        raise ValueError("num_images must be >= 0")
    if keypoints != "coco":
        if style is not None:
            raise ValueError("style= renders COCO people only; it cannot be combined with keypoints=" + repr(keypoints))
        from hrnet.dataset.synthetic_sets import generate_set_dataset

        return generate_set_dataset(out_dir, num_images, keypoints, image_size=image_size, seed=seed,
                                    split_name=split_name, image_format=image_format)
    ext = image_format.lower().lstrip(".")
    if ext not in ("png", "jpg", "jpeg", "bmp"):
        raise ValueError(f"image_format must be png, jpg or bmp, not {image_format!r}")
    out = Path(out_dir)
    image_dir = out / "images" / split_name
    image_dir.mkdir(parents=True, exist_ok=True)
    base = _split_seed(seed, split_name)
    images, annotations = [], []
    w, h = int(image_size[0]), int(image_size[1])
    for i in range(num_images):
        image_id = i + 1
        scene = render_scene(np.random.default_rng([base, i]), (w, h), people, style=style)
        file_name = f"{image_id:012d}.{ext}"
        _write_image(image_dir / file_name, scene.image)
        images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        annotations.extend(scene.annotations(image_id, len(annotations) + 1))
    document = {
        "info": {"description": f"hrnet synthetic stick-figure people ({split_name}, seed {seed})",
                 "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [coco_category()],
    }
    ann_file = out / "annotations" / f"person_keypoints_{split_name}.json"
    _write_json_atomic(document, ann_file)
    log.info("=> wrote %d synthetic images with %d people to %s", num_images, len(annotations), out)
    return ann_file


# ---------------------------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------------------------
@dataclass
class SyntheticVideo:
    """A rendered video file and its per-frame ground truth (``frames[i]`` = people of frame i,
    with stable ``track_id`` per person)."""

    path: Path
    fps: float
    size: tuple[int, int]
    frames: list[list[RenderedPerson]]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def to_coco(self) -> dict[str, Any]:
        """A COCO keypoint document with one image entry per frame (``file_name`` = the video's
        name, ``frame_index`` 0-based) and the people's annotations (``track_id`` kept)."""
        images, annotations = [], []
        for i, people in enumerate(self.frames):
            images.append({"id": i + 1, "file_name": self.path.name, "frame_index": i,
                           "width": self.size[0], "height": self.size[1]})
            for p in people:
                annotations.append(p.to_annotation(i + 1, len(annotations) + 1))
        return {"images": images, "annotations": annotations, "categories": [coco_category()]}


def _walk(pose: Pose, phase: float, amplitude: float) -> Pose:
    s = math.sin(phase)
    return replace(
        pose,
        left_leg_raise=amplitude * s, right_leg_raise=-amplitude * s,
        left_knee_bend=max(0.0, 35 * math.sin(phase + 1.2)),
        right_knee_bend=max(0.0, 35 * math.sin(phase + 1.2 + math.pi)),
        left_arm_raise=pose.left_arm_raise - 0.6 * amplitude * s,
        right_arm_raise=pose.right_arm_raise + 0.6 * amplitude * s,
    )


_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def write_video(
    path: str | os.PathLike[str],
    num_frames: int = 48,
    fps: float = 12.0,
    image_size: tuple[int, int] = (320, 240),
    people: int = 2,
    seed: int = 0,
    codec: str | None = None,
    scenario: str | Sequence[str] = "walk",
    pan: float = 0.0,
) -> SyntheticVideo:
    """Render a short video of ``people`` persons walking / waving across a static background and
    return its per-frame ground truth. The codec defaults to ``mp4v`` for .mp4/.mov and ``MJPG``
    for .avi/.mkv (both are in opencv-python-headless). Raises :class:`MediaError` when the
    video cannot be written.

    ``scenario`` (one name or several) scripts what tracking finds hard, with true identities in
    ``track_id``: ``"walk"`` (the default: people walk across and wrap around), ``"crossing"``
    (pairs of people at the same depth walk into and past each other), ``"occlusion"`` (a pillar
    hides each person completely for about 0.8 s), ``"enter_exit"`` (people walk in from outside
    the frame and out again, each entry a new identity). ``pan`` moves the camera by that many
    pixels per frame (``"pan"`` alone means 30). See :mod:`hrnet.dataset.video_scenarios`."""
    path = Path(path)
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    fourcc_name = codec or _CODECS.get(path.suffix.lower())
    if fourcc_name is None or len(fourcc_name) != 4:
        raise MediaError(f"No video codec for {path.name}; use .mp4 or .avi, or pass codec='mp4v' / 'MJPG'")
    if scenario != "walk" or pan:
        from hrnet.dataset.video_scenarios import write_scenario_video

        return write_scenario_video(path, fourcc_name, num_frames=num_frames, fps=fps, image_size=image_size,
                                    people=people, seed=seed, scenario=scenario, pan=pan)
    rng = np.random.default_rng(_split_seed(seed, "video"))
    w, h = int(image_size[0]), int(image_size[1])
    background = _background(rng, w, h)
    actors = []
    for k, pose in enumerate(_place_people(rng, w, h, people)):
        pose.lean = float(rng.normal(0, 4))
        speed = rng.uniform(0.6, 1.8) * w / num_frames * rng.choice([-1, 1])
        pose.yaw = 90.0 if speed > 0 else -90.0
        if rng.random() < 0.3:
            pose.yaw = float(rng.normal(0, 15))  # walking towards the camera, drifting sideways
        actors.append({"pose": pose, "look": random_appearance(rng), "speed": speed, "track": k,
                       "phase": rng.uniform(0, 2 * math.pi), "rate": rng.uniform(0.35, 0.6),
                       "amp": rng.uniform(20, 35)})
    occluders = []
    if rng.random() < 0.6:
        occluders.append((np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.5, 0.9) * h]), h * 0.12,
                          int(rng.integers(1 << 31))))

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc_name), float(fps), (w, h))
    if not writer.isOpened():
        raise MediaError(f"Cannot write video {path} with codec {fourcc_name!r}")
    frames: list[list[RenderedPerson]] = []
    try:
        for t in range(num_frames):
            posed = []
            for a in actors:
                p = replace(a["pose"])
                p.x = (a["pose"].x + a["speed"] * t) % (w + 0.4 * p.height) - 0.2 * p.height
                posed.append((_walk(p, a["phase"] + a["rate"] * t, a["amp"]), a["look"], a["track"]))
            posed.sort(key=lambda item: item[0].y + 0.48 * item[0].height)
            scene = _compose(rng, background, [(p, look) for p, look, _ in posed], occluders,
                             track_ids=[tid for _, _, tid in posed])
            image = _finish(np.random.default_rng([seed, t]), scene.image)
            writer.write(image)
            frames.append(sorted(scene.people, key=lambda person: person.track_id))
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"Writing video {path} with codec {fourcc_name!r} produced no file")
    return SyntheticVideo(path=path, fps=float(fps), size=(w, h), frames=frames)
