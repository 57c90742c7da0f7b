"""Synthetic people, part 1: who stands where and how (no pixels).

A :class:`Pose` (placement and joint angles), an :class:`Appearance` (colours, thickness), the
named :class:`RenderStyle` domains and the skeleton geometry that turns a pose into the 17 COCO
joint positions plus the head, hands and feet the renderer draws. Split from
:mod:`hrnet.dataset.synthetic`, which re-exports the public names; the drawing lives in
:mod:`hrnet.dataset.synthetic_render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

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
