"""Synthetic people, part 2: drawing them, and whole scenes, with exact labels.

:func:`render_person` draws one figure (anti-aliased, with a mask of its pixels);
:func:`render_scene` composes a random background, people back to front, occluders and camera
effects, then labels each joint visible / hidden / outside. Split from
:mod:`hrnet.dataset.synthetic`, which re-exports the public names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from hrnet.dataset.synthetic_figure import (
    Appearance,
    Pose,
    RenderStyle,
    _skeleton,
    _style,
    random_appearance,
    random_pose,
)

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


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
